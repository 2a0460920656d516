"""Periodic search: single events combined along trial periods, candidate statistics, masking."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from astropy.stats import mad_std
from numpy.typing import NDArray

from .._kernels import search as _ks
from ..exceptions import ConfigurationError
from .results import Candidate, Periodogram, SearchConfig, SingleEventGrid

__all__ = ["period_grid", "periodogram", "fold", "refine_peak", "candidate_at_peak", "candidate_at_ephemeris",
           "null_reference", "z_without_strongest", "strongest_event", "transit_indices"]


MAX_DUTY_CYCLE = 0.2
"""Longest box duration as a fraction of the period: a circular transit lasts
asin(R★/a)/π of it, 0.17 at a/R★ = 2 (a star's Roche limit for a planet)."""


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


def periodogram(grid: SingleEventGrid, periods: NDArray[np.float64], min_transits: int, *,
                coarsen: bool = True) -> Periodogram:
    """Best phase and duration per period (numba fold per duration); all outputs finite.

    A duration longer than :data:`MAX_DUTY_CYCLE` of a period is not folded at that period.

    With ``coarsen`` (and a geometric ``periods`` grid, as :func:`period_grid` makes), a
    duration D is folded on every s-th epoch (s = ⌊D / D_min⌋, so the epoch step stays
    ≤ ``epoch_step`` × D) and on every m-th trial period (the last transit then moves by at
    most D / oversampling between folded periods): the same no-miss guarantee per duration
    as the finest grid gives the shortest one, for ~Σ (D_min/D)² instead of n_durations
    times the work. Each period reports the nearest folded period of every duration.
    """
    n = periods.size
    best = dict(power=np.full(n, -np.inf), s_n=np.zeros(n), s_i=np.zeros(n), phase=np.zeros(n, np.int64),
                dur=np.zeros(n, np.int64), ntr=np.zeros(n, np.int64))
    d_min = float(grid.durations.min())
    for d, duration in enumerate(grid.durations):
        stride, every = (_epoch_stride(duration, d_min), _period_stride(periods, duration, d_min)) if coarsen \
            else (1, 1)
        folded = np.arange(0, n, every)
        power, phase, s_n, s_i, ntr = fold(grid, d, periods[folded], min_transits, stride)
        too_long = duration / 24.0 > MAX_DUTY_CYCLE * periods[folded]  # no transit lasts that long
        power[too_long], ntr[too_long] = -np.inf, 0
        nearest = np.minimum(np.rint(np.arange(n) / every).astype(np.int64), folded.size - 1)
        power, has = power[nearest], ntr[nearest] > 0
        better = has & (power > best["power"])
        for key, value in (("power", power), ("s_n", s_n[nearest]), ("s_i", s_i[nearest]),
                           ("phase", stride * phase[nearest]), ("ntr", ntr[nearest])):
            best[key][better] = value[better]
        best["dur"][better] = d
    found = np.isfinite(best["power"])
    power = np.where(found, best["power"], 0.0)
    s_n, s_i = best["s_n"], best["s_i"]
    safe = np.where(s_i > 0, s_i, 1.0)
    has = s_i > 0
    return Periodogram(periods=periods, power=power, depth=np.where(has, s_n / safe, 0.0),
                       depth_err=np.where(has, 1.0 / np.sqrt(safe), 0.0),
                       delta_loglike=np.where(has, 0.5 * s_n**2 / safe, 0.0),
                       t0=grid.epochs[0] + grid.epoch_step_days * best["phase"],
                       duration=grid.durations[best["dur"]], n_transits=best["ntr"])


def fold(grid: SingleEventGrid, d: int, periods: NDArray[np.float64], min_transits: int, stride: int = 1
         ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64],
                    NDArray[np.int64]]:
    """Fold duration index ``d`` of the grid (every ``stride``-th epoch) at each period.

    Returns z, best phase (in units of the strided epoch step), Σn, ΣI and the number of
    valid transits per period (z = Σn = ΣI = 0 where fewer than ``min_transits``).
    """
    n = periods.size
    power, s_n, s_i = np.zeros(n), np.zeros(n), np.zeros(n)
    phase, ntr = np.zeros(n, np.int64), np.zeros(n, np.int64)
    valid = grid.valid[d, ::stride]
    num = np.ascontiguousarray(np.where(valid, grid.numerator[d, ::stride], 0.0))
    info = np.ascontiguousarray(np.where(valid, grid.information[d, ::stride], 0.0))
    steps = np.ascontiguousarray(periods / (stride * grid.epoch_step_days), dtype=np.float64)
    status = _ks.fold_periods(num, info, valid.astype(np.float64), steps, int(min_transits), power, phase,
                              s_n, s_i, ntr)
    if status:
        raise RuntimeError(f"fold_periods failed with status {status}")
    return power, phase, s_n, s_i, ntr


def _epoch_stride(duration: float, d_min: float) -> int:
    """Epochs kept for a duration: every ⌊D/D_min⌋-th (the step stays ≤ epoch_step × D)."""
    return max(1, int(math.floor(duration / d_min + 1e-9)))


def _period_stride(periods: NDArray[np.float64], duration: float, d_min: float) -> int:
    """Trial periods kept for a duration on a geometric grid: every m-th, m = ⌊D/D_min⌋.

    m steps of ratio 1 + x move the last transit by (1 + x)^m − 1 = m·x (1 + O(m x)) of the
    baseline, i.e. D/q to within a relative m·x (< 1e-3 for any mission grid).
    """
    if periods.size < 3:
        return 1
    ratios = periods[1:] / periods[:-1]
    if not np.allclose(ratios, ratios[0], rtol=1e-6, atol=0):
        return 1  # not a grid from period_grid: fold every period
    return max(1, int(math.floor(duration / d_min + 1e-9)))


def refine_peak(grid: SingleEventGrid, pg: Periodogram, index: int, min_transits: int) -> tuple[int, int, int]:
    """(period index, epoch index, duration index) of the best full-resolution fold near a peak.

    The peak's duration was folded on strided epochs and periods; this folds it on every
    epoch at the periods within one period stride of ``index``.
    """
    d = int(np.searchsorted(grid.durations, pg.duration[index]))
    width = _period_stride(pg.periods, float(grid.durations[d]), float(grid.durations.min()))
    lo, hi = max(index - width, 0), min(index + width + 1, pg.periods.size)
    power, phase, _, _, ntr = fold(grid, d, pg.periods[lo:hi], min_transits)
    if not np.any(ntr > 0):
        return index, int(round((pg.t0[index] - grid.epochs[0]) / grid.epoch_step_days)), d
    k = int(np.argmax(np.where(ntr > 0, power, -np.inf)))
    return lo + k, int(phase[k]), d


def null_reference(pg: Periodogram) -> tuple[float, float]:
    """(median, 1.4826 MAD) of a periodogram's z over periods with data (std if MAD is 0).

    Computed on the periodogram with a candidate's own transits masked, this is the noise
    the candidate's peak is measured against (``docs/search.md``).
    """
    p = pg.power[pg.n_transits > 0]
    if p.size < 3:
        return 0.0, 1.0
    centre = float(np.median(p))
    scale = float(mad_std(p))
    if not scale > 0:
        scale = float(np.std(p)) or 1.0
    return centre, scale


def z_without_strongest(numerator: NDArray[np.float64], information: NDArray[np.float64]) -> float:
    """Σn/√ΣI of the events left when the one with the largest n/√I is removed (0 for < 2 events)."""
    if numerator.size < 2:
        return 0.0
    k = int(np.argmax(numerator / np.sqrt(information)))
    rest_n, rest_i = numerator.sum() - numerator[k], information.sum() - information[k]
    return float(rest_n / math.sqrt(rest_i)) if rest_i > 0 else 0.0


def strongest_event(grid: SingleEventGrid, cand: Candidate) -> float:
    """Mid-time [d] of the candidate's transit with the largest single-event z = n/√I on ``grid``.

    Evaluated at the box duration nearest ``cand.box_duration`` and the epoch nearest each
    of ``cand.transit_times``; transits without a valid box are skipped.
    """
    d = int(np.argmin(np.abs(grid.durations - cand.box_duration)))
    times = np.asarray(cand.transit_times, float)
    idx = np.clip(np.round((times - grid.epochs[0]) / grid.epoch_step_days).astype(np.int64), 0, grid.epochs.size - 1)
    ok = grid.valid[d, idx]
    if not ok.any():
        raise ValueError("the candidate has no valid transit box on this grid")
    z = np.where(ok, grid.numerator[d, idx] / np.sqrt(np.where(ok, grid.information[d, idx], 1.0)), -np.inf)
    return float(times[int(np.argmax(z))])


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


def candidate_at_peak(grid: SingleEventGrid, pg: Periodogram, index: int, *, phase: int | None = None,
                      duration_index: int | None = None, reference: tuple[float, float] | None = None
                      ) -> Candidate:
    """The box candidate at periodogram entry ``index``: depth, errors and the vetting statistics.

    ``phase`` (epoch index of the first transit) and ``duration_index`` override the
    periodogram's (from :func:`refine_peak`). ``reference``: the (median, robust std) of z
    the SNRs are measured against (:func:`null_reference` of the periodogram with the
    candidate's transits masked); ``None``: ``pg``'s own.
    """
    period = float(pg.periods[index])
    step = period / grid.epoch_step_days
    d = int(np.searchsorted(grid.durations, pg.duration[index])) if duration_index is None else int(duration_index)
    j0 = int(round((pg.t0[index] - grid.epochs[0]) / grid.epoch_step_days)) if phase is None else int(phase)
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
    centre, scale = null_reference(pg) if reference is None else reference
    return Candidate(period=period, period_err=period_err, t0=t0, t0_err=t0_err,
                     duration=float(grid.durations[d]), depth=1e6 * depth, depth_err=1e6 / math.sqrt(s_i),
                     delta_loglike=dll, snr=float((pg.power[index] - centre) / scale), n_transits=int(idx.size),
                     snr_without_strongest=float((z_without_strongest(n_i, i_i) - centre) / scale),
                     dominant_event_fraction=dominant, odd_even_sigma=_odd_even(n_i, i_i, k),
                     variable_depth_delta_loglike=float(max(np.sum(0.5 * n_i**2 / i_i) - dll, 0.0)),
                     transit_times=tuple(float(t) for t in times), box_duration=float(grid.durations[d]),
                     box_depth=1e6 * depth, box_depth_err=1e6 / math.sqrt(s_i),
                     secondary_snr=_secondary_snr(grid, d, j0, step))


def candidate_at_ephemeris(grid: SingleEventGrid, cand: Candidate) -> Candidate:
    """The box statistics of a known candidate (period, t0, box duration) on another grid.

    Its SNR, period and t0 errors are kept (they came from the periodogram it was found in).
    """
    d = int(np.argmin(np.abs(grid.durations - cand.box_duration)))
    step = cand.period / grid.epoch_step_days
    j0 = int(round(((cand.t0 - grid.epochs[0]) % cand.period) / grid.epoch_step_days))
    if j0 >= min(int(math.ceil(step)), grid.epochs.size):
        j0 = 0
    idx = transit_indices(grid.epochs.size, j0, step)
    k = np.arange(idx.size)
    ok = grid.valid[d, idx]
    idx, k = idx[ok], k[ok]
    if idx.size == 0:
        return cand
    n_i, i_i = grid.numerator[d, idx], grid.information[d, idx]
    s_n, s_i = float(n_i.sum()), float(i_i.sum())
    depth, dll = s_n / s_i, 0.5 * s_n**2 / s_i
    positive = np.maximum(n_i, 0.0).sum()
    times = grid.epochs[0] + grid.epoch_step_days * j0 + cand.period * k
    return replace(cand, t0=float(times[int(np.argmin(np.abs(k - k.mean())))]), duration=cand.box_duration,
                   depth=1e6 * depth, depth_err=1e6 / math.sqrt(s_i), delta_loglike=dll, n_transits=int(idx.size),
                   dominant_event_fraction=float(np.max(n_i) / positive) if positive > 0 else 0.0,
                   odd_even_sigma=_odd_even(n_i, i_i, k),
                   variable_depth_delta_loglike=float(max(np.sum(0.5 * n_i**2 / i_i) - dll, 0.0)),
                   transit_times=tuple(float(t) for t in times), box_depth=1e6 * depth,
                   box_depth_err=1e6 / math.sqrt(s_i), secondary_snr=_secondary_snr(grid, d, j0, step))


def _secondary_snr(grid: SingleEventGrid, d: int, j0: int, step: float) -> float:
    """Signed δ/σ of the same box combined at phase ½ (an EB's secondary eclipse); 0 without data."""
    half = j0 + 0.5 * step
    j_sec = max(int(round(half - step if half >= step else half)), 0)
    idx = transit_indices(grid.epochs.size, j_sec, step)
    idx = idx[grid.valid[d, idx]]
    s_i = float(grid.information[d, idx].sum())
    return float(grid.numerator[d, idx].sum() / math.sqrt(s_i)) if s_i > 0 else 0.0


def _odd_even(n_i: NDArray[np.float64], i_i: NDArray[np.float64], k: NDArray[np.int64]) -> float:
    """|δ_odd − δ_even| / √(σ_odd² + σ_even²); 0 when either parity has no transit."""
    odd = (k % 2).astype(bool)
    if not odd.any() or odd.all():
        return 0.0
    d_o, d_e = n_i[odd].sum() / i_i[odd].sum(), n_i[~odd].sum() / i_i[~odd].sum()
    return float(abs(d_o - d_e) / math.sqrt(1.0 / i_i[odd].sum() + 1.0 / i_i[~odd].sum()))
