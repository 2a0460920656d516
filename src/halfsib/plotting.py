"""All figures: functions that take result objects (matplotlib is imported only here)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_detrend"]


def plot_detrend(result: Any, *, fig: Any = None, binned: float | None = 6.5 / 24.0) -> Any:
    """Six stacked panels of a :class:`~halfsib.results.DetrendResult`, sharing the time axis.

    Raw normalised flux with the model (systematics + stellar), the systematics by group,
    the stellar signal, the corrected flux, the residuals (ppm) and the leakage curves.
    ``binned`` [d] overlays bins on the corrected flux (``None``: no bins).
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(11, 12), constrained_layout=True)
    axes = fig.subplots(6, 1, sharex=True)
    t = result.time
    raw = result.raw_flux / result.normalisation
    excluded = result.masked | result.clipped
    dot = dict(s=2, lw=0, color="0.3", rasterized=True)
    axes[0].scatter(t, raw, **dot)
    axes[0].plot(t, 1 + result.systematics + result.stellar, color="C3", lw=0.8, label="systematics + stellar")
    if excluded.any():
        axes[0].scatter(t[excluded], raw[excluded], s=6, color="C1", lw=0, label="masked / clipped")
    axes[0].set_ylabel("raw / median")
    axes[0].legend(loc="best", fontsize=8)
    for i, (name, values) in enumerate(result.groups.items()):
        axes[1].plot(t, 1e6 * values, lw=0.7, color=f"C{i}", label=f"{name} ({result.design_columns[name]})")
    axes[1].plot(t, 1e6 * result.systematics, lw=0.8, color="k", label="total")
    axes[1].set_ylabel("systematics [ppm]")
    axes[1].legend(loc="best", fontsize=8, ncol=3)
    axes[2].plot(t, 1e6 * result.stellar, color="C2", lw=0.8)
    axes[2].set_ylabel(f"stellar ({result.config.kernel}) [ppm]")
    axes[3].scatter(t, result.flux, **dot)
    if binned:
        centres, means = _bin(t, result.flux, binned)
        axes[3].plot(centres, means, color="C0", lw=1.0, label=f"{binned * 24:.1f} h bins")
        axes[3].legend(loc="best", fontsize=8)
    axes[3].set_ylabel("corrected flux")
    axes[4].scatter(t, 1e6 * result.residual, **dot)
    axes[4].set_ylabel("residual [ppm]")
    axes[4].set_title(f"robust RMS {result.corrected_rms_ppm:.0f} ppm per cadence", fontsize=9, loc="right")
    axes[5].plot(t, result.leakage_systematics, lw=0.8, label="systematics")
    axes[5].plot(t, result.leakage_total, lw=0.8, label="systematics + stellar GP")
    axes[5].set_ylim(-0.02, 1.02)
    axes[5].set_ylabel(f"absorbed fraction\nof a {result.config.leakage_duration:g} h box")
    axes[5].legend(loc="best", fontsize=8)
    axes[5].set_xlabel(f"time [{result.time_format.upper()}]")
    fig.suptitle(f"{result.meta.target_id or ''}  {result.meta.mission} {result.meta.season} — halfsib detrend")
    return fig


def _bin(t: np.ndarray, y: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(t.min(), t.max() + width, width)
    idx = np.digitize(t, edges)
    counts = np.bincount(idx, minlength=edges.size + 1)
    sums = np.bincount(idx, weights=y, minlength=edges.size + 1)
    tsum = np.bincount(idx, weights=t, minlength=edges.size + 1)
    ok = counts > 0
    return tsum[ok] / counts[ok], sums[ok] / counts[ok]
