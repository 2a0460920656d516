"""Periodic search: single events combined along trial periods, candidate statistics, masking."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .._kernels import search as _ks
from ..exceptions import ConfigurationError
from .results import Candidate, Periodogram, SearchConfig, SingleEventGrid

__all__ = ["period_grid", "periodogram", "candidate_at_peak", "robust_snr", "transit_indices"]

_MAD_TO_SIGMA = 1.4826


def period_grid(baseline: float, shortest_duration_h: float, config: SearchConfig) -> NDArray[np.float64]:
    """Trial periods [d], ascending, spaced so that no transit is missed.

    Between neighbouring frequencies the last transit of the baseline B moves by
    B·P·Δf; keeping that below D_min/oversampling gives Δf = f·D_min/(q·B): a geometric
    frequency grid (uniform in ln f), the coarsest grid with that guarantee.

    Raises
    ------
    ConfigurationError
        If the baseline is too short for ``period_range`` and ``min_transits``.
    """
    longest = baseline / max(config.min_transits - 1, 1)
    lo, hi = config.period_range
    if hi is None:
        hi = longest
    if lo >= longest or hi > longest * (1 + 1e-12):
        raise ConfigurationError(f"period_range=({lo}, {hi}) d: a {baseline:.2f} d baseline shows "
                                 f"{config.min_transits} transits only for periods <= {longest:.3f} d; "
                                 "lower `period_range` or `min_transits`")
    if hi <= lo:
        raise ConfigurationError(f"period_range=({lo}, {hi}) d is empty for this baseline; lower its minimum")
    ratio = 1.0 + (shortest_duration_h / 24.0) / (config.oversampling * baseline)
    n = int(math.ceil(math.log(hi / lo) / math.log(ratio))) + 1
    return np.sort(1.0 / np.geomspace(1.0 / lo, 1.0 / hi, n))


def periodogram(grid: SingleEventGrid, periods: NDArray[np.float64], min_transits: int) -> Periodogram:
    """Best phase and duration per period (numba kernel); all outputs finite."""
    n = periods.size
    power, s_n, s_i = np.zeros(n), np.zeros(n), np.zeros(n)
    phase, dur, ntr = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    steps = np.ascontiguousarray(periods / grid.epoch_step_days)
    status = _ks.combine_periods(np.ascontiguousarray(grid.numerator.T), np.ascontiguousarray(grid.information.T),
                                 np.ascontiguousarray(grid.valid.T), steps, int(min_transits), power, phase, dur,
                                 s_n, s_i, ntr)
    if status:
        raise RuntimeError(f"combine_periods failed with status {status}")
    safe = np.where(s_i > 0, s_i, 1.0)
    has = s_i > 0
    return Periodogram(periods=periods, power=power, depth=np.where(has, s_n / safe, 0.0),
                       depth_err=np.where(has, 1.0 / np.sqrt(safe), 0.0),
                       delta_loglike=np.where(has, 0.5 * s_n**2 / safe, 0.0),
                       t0=grid.epochs[0] + grid.epoch_step_days * phase, duration=grid.durations[dur],
                       n_transits=ntr)


def robust_snr(pg: Periodogram, index: int) -> float:
    """(power − median) / (1.4826 MAD) of the periodogram at ``index`` (std if MAD is 0; finite)."""
    p = pg.power[pg.n_transits > 0]
    if p.size < 3:
        return 0.0
    centre = float(np.median(p))
    scale = _MAD_TO_SIGMA * float(np.median(np.abs(p - centre)))
    if not scale > 0:
        scale = float(np.std(p)) or 1.0
    return float((pg.power[index] - centre) / scale)


def transit_indices(n_epochs: int, phase: int, step: float) -> NDArray[np.int64]:
    """Epoch-grid indices j0 + round(k·step) of every predicted transit inside the grid."""
    k = np.arange(int(math.floor((n_epochs - 1 - phase) / step)) + 2)
    idx = phase + np.floor(k * step + 0.5).astype(np.int64)
    return idx[idx < n_epochs]


def _profile_halfwidth(values: NDArray[np.float64], best: int) -> tuple[int, int]:
    """Indices of the contiguous run around ``best`` with values ≥ values[best] − ½."""
    keep = values >= values[best] - 0.5
    left = best
    while left > 0 and keep[left - 1]:
        left -= 1
    right = best
    while right < values.size - 1 and keep[right + 1]:
        right += 1
    return left, right


def _phase_profile(grid: SingleEventGrid, d: int, step: float) -> NDArray[np.float64]:
    """Δln L (signed by depth) over every phase j0 of one period and duration."""
    n_ep = grid.epochs.size
    n_phase = min(int(math.ceil(step)), n_ep)
    out = np.zeros(n_phase)
    for j0 in range(n_phase):
        idx = transit_indices(n_ep, j0, step)
        ok = grid.valid[d, idx]
        s_n, s_i = grid.numerator[d, idx[ok]].sum(), grid.information[d, idx[ok]].sum()
        out[j0] = 0.5 * s_n * abs(s_n) / s_i if s_i > 0 else 0.0
    return out


def candidate_at_peak(grid: SingleEventGrid, pg: Periodogram, index: int) -> Candidate:
    """The candidate at periodogram entry ``index``: depth, errors and the vetting statistics."""
    period = float(pg.periods[index])
    step = period / grid.epoch_step_days
    d = int(np.searchsorted(grid.durations, pg.duration[index]))
    j0 = int(round((pg.t0[index] - grid.epochs[0]) / grid.epoch_step_days))
    idx = transit_indices(grid.epochs.size, j0, step)
    k = np.arange(idx.size)
    ok = grid.valid[d, idx]
    idx, k = idx[ok], k[ok]
    n_i, i_i = grid.numerator[d, idx], grid.information[d, idx]
    s_n, s_i = float(n_i.sum()), float(i_i.sum())
    depth, dll = s_n / s_i, 0.5 * s_n**2 / s_i
    positive = np.maximum(n_i, 0.0).sum()
    dominant = float(np.max(n_i) / positive) if positive > 0 else 0.0
    times = grid.epochs[0] + grid.epoch_step_days * j0 + period * k
    mid = int(np.argmin(np.abs(k - k.mean())))
    t0 = float(times[mid])
    phase = _phase_profile(grid, d, step)
    left, right = _profile_halfwidth(phase, j0)
    t0_err = math.hypot(0.5 * (right - left + 1) * grid.epoch_step_days, grid.epoch_step_days / math.sqrt(12))
    dll_p = np.where(pg.power > 0, pg.delta_loglike, 0.0)
    lo_p, hi_p = _profile_halfwidth(dll_p, index)
    lo_p, hi_p = max(lo_p - 1, 0), min(hi_p + 1, pg.periods.size - 1)
    period_err = 0.5 * float(pg.periods[hi_p] - pg.periods[lo_p])
    return Candidate(period=period, period_err=period_err, t0=t0, t0_err=t0_err,
                     duration=float(grid.durations[d]), depth=1e6 * depth, depth_err=1e6 / math.sqrt(s_i),
                     delta_loglike=dll, snr=robust_snr(pg, index), n_transits=int(idx.size),
                     dominant_event_fraction=dominant, odd_even_sigma=_odd_even(n_i, i_i, k),
                     variable_depth_delta_loglike=float(max(np.sum(0.5 * n_i**2 / i_i) - dll, 0.0)),
                     transit_times=tuple(float(t) for t in times))


def _odd_even(n_i: NDArray[np.float64], i_i: NDArray[np.float64], k: NDArray[np.int64]) -> float:
    """|δ_odd − δ_even| / √(σ_odd² + σ_even²); 0 when either parity has no transit."""
    odd = (k % 2).astype(bool)
    if not odd.any() or odd.all():
        return 0.0
    d_o, d_e = n_i[odd].sum() / i_i[odd].sum(), n_i[~odd].sum() / i_i[~odd].sum()
    return float(abs(d_o - d_e) / math.sqrt(1.0 / i_i[odd].sum() + 1.0 / i_i[~odd].sum()))
