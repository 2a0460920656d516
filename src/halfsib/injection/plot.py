"""Completeness figures: a map over period × Rp/R★ and a curve against expected S/N."""

from __future__ import annotations

from typing import Any

import numpy as np

from .binning import Completeness, completeness, log_edges

__all__ = ["plot_completeness", "DEFAULT_SNR_EDGES"]

#: expected-S/N bins of the completeness curve
DEFAULT_SNR_EDGES = (1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 200.0, 500.0, 1000.0)


def _map(ax: Any, c: Completeness) -> Any:
    frac = c.fraction
    mesh = ax.pcolormesh(c.x_edges, c.y_edges, frac.T, cmap="viridis", vmin=0, vmax=1, shading="flat")
    xs = np.sqrt(c.x_edges[1:] * c.x_edges[:-1])
    ys = np.sqrt(c.y_edges[1:] * c.y_edges[:-1])
    for i, xc in enumerate(xs):
        for j, yc in enumerate(ys):
            if c.n_injected[i, j]:
                ax.text(xc, yc, f"{c.n_recovered[i, j]}/{c.n_injected[i, j]}", ha="center", va="center",
                        fontsize=6, color="w" if frac[i, j] < 0.6 else "k")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("injected period [d]")
    ax.set_ylabel("injected Rp/R★")
    ax.set_title("recovered / injected per cell")
    return mesh


def _curve(ax: Any, c: Completeness) -> None:
    frac = c.fraction
    lo, hi = c.interval
    centres = np.sqrt(c.x_edges[1:] * c.x_edges[:-1])
    good = ~np.ma.getmaskarray(frac)
    below = np.clip(np.ma.filled(frac - lo, 0.0), 0, None)[good]
    above = np.clip(np.ma.filled(hi - frac, 0.0), 0, None)[good]
    ax.errorbar(centres[good], frac[good], yerr=[below, above], fmt="o", capsize=2,
                color="C0", label="recovered fraction (Wilson 68 %)")
    ax.step(c.x_edges, np.r_[frac.filled(np.nan), np.nan], where="post", color="C0", alpha=0.4)
    for x, n in zip(centres[good], c.n_injected[good]):
        ax.annotate(f"{n}", (x, 1.06), ha="center", fontsize=7, color="0.4")
    ax.set_ylim(-0.03, 1.12)
    ax.set_xscale("log")
    ax.set_xlabel("expected S/N (white noise; the end bins include values beyond them)")
    ax.set_ylabel("completeness")
    ax.set_title("completeness vs expected S/N (top: injections per bin)")
    ax.legend(loc="lower right", fontsize=7)


def plot_completeness(table: Any, *, period_edges: Any = None, radius_edges: Any = None,
                      snr_edges: Any = DEFAULT_SNR_EDGES, fig: Any = None) -> Any:
    """Two panels: completeness over period × Rp/R★ (colour, k/n per cell) and vs expected S/N.

    Parameters
    ----------
    table : astropy.table.Table
        An injection table.
    period_edges, radius_edges : sequence, optional
        Log bins (default: 6 over the injected range of each).
    snr_edges : sequence
        Expected-S/N bins (positive, drawn on a log axis); values outside are counted in the
        first or last bin.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig = fig or plt.figure(figsize=(11, 4.2))
    ax_map, ax_snr = fig.subplots(1, 2)
    period = np.asarray(table["period"], float)
    radius = np.asarray(table["rp_over_rs"], float)
    pe = log_edges(period.min() * 0.999, period.max() * 1.001, 6) if period_edges is None else period_edges
    re = log_edges(radius.min() * 0.999, radius.max() * 1.001, 6) if radius_edges is None else radius_edges
    mesh = _map(ax_map, completeness(table, "period", pe, y="rp_over_rs", y_edges=re))
    fig.colorbar(mesh, ax=ax_map, label="completeness")
    edges = np.asarray(snr_edges, float)
    clipped = table.copy()
    clipped["expected_snr"] = np.clip(np.asarray(table["expected_snr"], float), edges[0], edges[-1])
    _curve(ax_snr, completeness(clipped, "expected_snr", edges))
    fig.tight_layout()
    return fig
