"""Figure of a joint transit fit: folded data with the model, residuals, optional posterior panels."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_fit"]

#: posterior panels of the corner-style figure
CORNER_QUANTITIES = ("rp_over_rs", "b", "a_over_rs", "t0", "depth", "duration")


def _binned(phase_h: np.ndarray, values: np.ndarray, width_h: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(phase_h.min(), phase_h.max() + width_h, width_h)
    idx = np.digitize(phase_h, edges)
    centres, means = [], []
    for k in np.unique(idx):
        sel = idx == k
        if sel.sum() >= 3:
            centres.append(phase_h[sel].mean())
            means.append(np.median(values[sel]))
    return np.array(centres), np.array(means)


def plot_fit(fit: Any, *, fig: Any = None, corner: bool = False) -> Any:
    """Folded, nuisance-corrected flux with the maximum-likelihood model, and residuals.

    The data are y − (systematics + stellar) at the maximum, divided by the target's share of
    the aperture flux (``target_fraction``); the model curve is the exposure-integrated
    transit on a fine phase grid. ``corner=True`` adds pairwise
    scatter plots of posterior draws (when sampled).
    """
    import matplotlib.pyplot as plt

    from ..transit import TransitParams, transit_flux

    ml = fit.maximum_likelihood
    params = TransitParams(period=ml["period"], t0=ml["t0"], rp_over_rs=ml["rp_over_rs"], a_over_rs=ml["a_over_rs"],
                           b=ml["b"], q1=ml["q1"], q2=ml["q2"], ecc=ml.get("ecc", 0.0), omega=ml.get("omega", 90.0))
    duration = max(ml["duration"], 0.5)
    phase = (np.mod(fit.time - params.t0 + 0.5 * params.period, params.period) - 0.5 * params.period) * 24.0
    near = (np.abs(phase) < 2.0 * duration) & fit.fitted
    # divided by the target's share of the aperture flux: the star's own dimming, as the model
    share = fit.target_fraction
    corrected = (fit.flux - fit.nuisance_model) / share
    residual = corrected - fit.transit_model / share
    show_corner = corner and bool(fit.posterior_draws)
    if fig is None:
        fig = plt.figure(figsize=(9, 9 if show_corner else 6), constrained_layout=True)
    grid = fig.add_gridspec(3 + (3 if show_corner else 0), 1)
    ax_top = fig.add_subplot(grid[0:2, 0])
    ax_res = fig.add_subplot(grid[2, 0], sharex=ax_top)
    label = "data − nuisance" + (f" (÷ CROWDSAP {share:.3f})" if share < 1.0 else "")
    ax_top.scatter(phase[near], 1e6 * corrected[near], s=3, color="0.55", lw=0, rasterized=True, label=label)
    cx, cy = _binned(phase[near], corrected[near], max(duration / 8.0, 0.25))
    ax_top.plot(cx, 1e6 * cy, "o", ms=3, color="k", label="binned")
    fine_h = np.linspace(-2.0 * duration, 2.0 * duration, 600)
    model = transit_flux(params.t0 + fine_h / 24.0, params, fit.exposure_time or None, fit.supersample) - 1.0
    ax_top.plot(fine_h, 1e6 * model, color="C3", lw=1.5, label="maximum likelihood")
    k_err = fit.fisher_errors.get("rp_over_rs", np.nan)
    k_text = f" ± {k_err:.4f}" if np.isfinite(k_err) else ""
    title = (f"{fit.target}: P = {ml['period']:.5f} d, Rp/R★ = {ml['rp_over_rs']:.4f}{k_text}\n"
             f"depth {ml['depth']:.0f} ppm, b = {ml['b']:.2f} (maximum likelihood)")
    if fit.sampler is not None:
        title += "  [sampler converged]" if fit.sampler.converged else "  [SAMPLER NOT CONVERGED]"
    ax_top.set(ylabel="relative flux [ppm]", title=title)
    ax_top.legend(fontsize=8, loc="lower left")
    ax_res.scatter(phase[near], 1e6 * residual[near], s=3, color="0.55", lw=0, rasterized=True)
    ax_res.axhline(0.0, color="C3", lw=1)
    ax_res.set(xlabel="hours from mid-transit", ylabel="residual [ppm]")
    if show_corner:
        _corner(fig, grid[3:, 0], fit)
    return fig


def _corner(fig: Any, cell: Any, fit: Any) -> None:
    """Pairwise scatter of posterior draws for a few quantities (a light corner plot)."""
    names = [q for q in CORNER_QUANTITIES if fit.posterior_draws and q in fit.posterior_draws]
    n = len(names)
    if n < 2:
        return
    draws = np.column_stack([fit.posterior_draws[q] for q in names])
    labels = list(names)
    if "t0" in names:  # hours from the median: the absolute epoch hides the spread
        k = names.index("t0")
        draws[:, k] = 24.0 * (draws[:, k] - np.median(draws[:, k]))
        labels[k] = "t0 − median [h]"
    sub = cell.subgridspec(1, n - 1)
    for k in range(n - 1):
        ax = fig.add_subplot(sub[0, k])
        ax.scatter(draws[:, k + 1], draws[:, 0], s=1, color="k", alpha=0.3, lw=0, rasterized=True)
        ax.set(xlabel=labels[k + 1], ylabel=labels[0] if k == 0 else None)
        ax.tick_params(labelsize=7)
