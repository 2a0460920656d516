"""Transit search, jointly with the instrument and stellar models (``docs/search.md``).

>>> result = search(lc, design, fit)        # doctest: +SKIP
>>> result.candidates[0].period, result.plot()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import sys
import types
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..design import DesignMatrix
from ..exceptions import ConfigurationError
from ..likelihood import MarginalLikelihood
from ..model import SystematicsModel, detrend, transit_window_mask
from ..results import DetrendResult
from ..timeseries import LightCurve
from .periodic import (candidate_at_ephemeris, candidate_at_peak, null_reference, period_grid, periodogram,
                       refine_peak, strongest_event)
from .refine import fit_transit_shape, shape_checks, transit_template
from .results import Candidate, Periodogram, SearchConfig, SearchResult, SingleEventGrid
from .single import epoch_grid, estimate_memory_gb, fitted_likelihood, mask_transits, single_event_grid

__all__ = ["search", "SearchConfig", "SearchResult", "SingleEventGrid", "Periodogram", "Candidate",
           "fitted_likelihood", "mask_width"]

log = logging.getLogger(__name__)

GUARDED_MAX_TRANSITS = 3
"""Peaks of at most this many transits must pass ``min_snr_without_strongest``: a periodogram
peak that one strong event makes pairs it with one or two noise boxes (with more, the noise
boxes dilute it below the threshold)."""

MAX_MASKED_FRACTION = 0.5
"""Most of the cadences the found candidates' windows may cover for the masked refit."""


def _config(config: SearchConfig | None, settings: dict[str, Any]) -> SearchConfig:
    base = config or SearchConfig()
    if not settings:
        return base
    unknown = set(settings) - set(SearchConfig.__dataclass_fields__)
    if unknown:
        raise ConfigurationError(f"unknown search settings {sorted(unknown)}; "
                                 f"valid: {sorted(SearchConfig.__dataclass_fields__)}")
    return SearchConfig(**{**base.__dict__, **settings})


def search(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel | None = None, *,
           config: SearchConfig | None = None, **settings: Any) -> SearchResult:
    """Single-event and periodic box search with the fitted nuisance model marginalised.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        The target and its regressors (as given to :func:`halfsib.model.detrend`).
    fit : DetrendResult or SystematicsModel, optional
        A fit of the model; ``None``: fitted here with defaults. Only its hyper-parameters
        and clipped outliers are used: a transit mask given to the fit is not applied.
    config : SearchConfig, optional
        Settings; keyword ``settings`` override its fields (``durations=(2, 4)``...).

    Returns
    -------
    SearchResult
        The single-event grid, one periodogram per iteration and the candidates
        (strongest first, each found with the previous ones' transits masked).

    Raises
    ------
    ConfigurationError
        For settings the data cannot support (periods, durations, memory), naming the setting.
    DataValidationError
        For too few valid cadences or a fit of another light curve.
    """
    cfg = _config(config, settings)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: threads only contend (docs/detrend.md)
        return _search(lc, design, fit, cfg)


def _search(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel | None,
            cfg: SearchConfig) -> SearchResult:
    fit = detrend(lc, design) if fit is None else fit
    result = fit.result if isinstance(fit, SystematicsModel) else fit
    time = result.time
    durations = cfg.resolved_durations(lc.meta.mission)
    baseline = float(time[-1] - time[0])
    periods = period_grid(baseline, min(durations), cfg)
    epochs, _ = epoch_grid(time, np.asarray(durations), cfg.epoch_step)
    need = estimate_memory_gb(time.size, design.n_columns, epochs.size, len(durations), periods.size)
    if need > cfg.memory_limit_gb:
        raise ConfigurationError(f"the search needs about {need:.2f} GiB ({epochs.size} epochs × {len(durations)} "
                                 f"durations, {periods.size} periods) > memory_limit_gb={cfg.memory_limit_gb}; "
                                 "raise `memory_limit_gb` or `epoch_step`, or use fewer `durations`")
    ml, excluded = fitted_likelihood(lc, design, fit)
    state = _Pass.start(ml, time, excluded, cfg, durations)
    for _ in range(cfg.max_planets):
        if not _next_candidate(state, cfg, periods, excluded, durations):
            break
        refit = _masked_refit(lc, design, result, state.found) if cfg.refit_masked else None
        if refit is not None:
            result = refit
            ml, excluded = fitted_likelihood(lc, design, result)
            state = _Pass.restart(state, ml, excluded, cfg, durations)
    return SearchResult(single_events=state.grid, periodograms=tuple(state.periodograms),
                        candidates=tuple(state.found), config=cfg, time=time, flux=1.0 + result.residual,
                        nuisance_fit=result, masked_events=tuple(state.masked_events),
                        single_candidates=single_event_candidates(state, cfg))


@dataclass
class _Pass:
    """One model's search state: its grid, the grid with found transits masked, the candidates."""

    ml: MarginalLikelihood
    time: np.ndarray
    grid: SingleEventGrid
    working: SingleEventGrid
    cadence: float
    models: np.ndarray
    found: list[Candidate] = field(default_factory=list)
    periodograms: list[Periodogram] = field(default_factory=list)
    masked_events: list[tuple[float, float]] = field(default_factory=list)

    def mask_event(self, time: float, duration_h: float) -> None:
        """Take one lone event (mid-time [d], box duration [h]) out of the working grid and record it."""
        self.working = mask_transits(self.working, [time], mask_width(duration_h, self.cadence))
        self.masked_events.append((time, duration_h))

    @classmethod
    def start(cls, ml: MarginalLikelihood, time: np.ndarray, excluded: np.ndarray, cfg: SearchConfig,
              durations: tuple[float, ...]) -> _Pass:
        grid = single_event_grid(ml, time, excluded, cfg, durations)
        return cls(ml, time, grid, grid, float(np.median(np.diff(time))), np.zeros(time.size))

    @classmethod
    def restart(cls, old: _Pass, ml: MarginalLikelihood, excluded: np.ndarray, cfg: SearchConfig,
                durations: tuple[float, ...]) -> _Pass:
        """A pass on a refitted model holding the old pass's candidates (same ephemerides, SNRs)."""
        new = cls.start(ml, old.time, excluded, cfg, durations)
        for cand in old.found:  # statistics and shapes on the refitted model
            _add(new, candidate_at_ephemeris(new.working, cand), cfg, excluded, durations)
        new.periodograms = old.periodograms
        for time, duration_h in old.masked_events:
            new.mask_event(time, duration_h)
        return new


def _next_candidate(state: _Pass, cfg: SearchConfig, periods: np.ndarray, excluded: np.ndarray,
                    durations: tuple[float, ...]) -> bool:
    """Periodogram → best peak → candidate; keep it (True) if significant, else False.

    The peak is measured against the same periodogram with its own transits masked
    (:func:`~halfsib.search.periodic.null_reference`): a deep planet folds into every trial
    period that catches one of its transits and would otherwise raise the median and MAD it
    is compared with. A peak of 2–3 transits must also stay significant without its
    strongest event; when that alone fails, the event is masked as a lone one and the
    periodogram recomputed (up to ``cfg.max_masked_events`` times per search).
    """
    while True:
        cand = _best_peak(state, cfg, periods)
        if cand is None or cand.snr < cfg.min_snr or cand.depth <= 0:
            return False
        if cand.n_transits > GUARDED_MAX_TRANSITS or cand.snr_without_strongest >= cfg.min_snr_without_strongest:
            break
        if len(state.masked_events) >= cfg.max_masked_events:
            return False
        event = strongest_event(state.working, cand)
        state.mask_event(event, cand.box_duration)
        log.info("masked the lone event at %.4f (%.1f h): the peak at P=%.5f d stands on it alone",
                 event, cand.box_duration, cand.period)
    _add(state, cand, cfg, excluded, durations)
    log.info("candidate %d: P=%.5f d, depth %.0f ppm", len(state.found), state.found[-1].period,
             state.found[-1].depth)
    return True


def _best_peak(state: _Pass, cfg: SearchConfig, periods: np.ndarray) -> Candidate | None:
    """The working periodogram's highest peak as a box candidate, its SNRs against the null reference."""
    pg = periodogram(state.working, periods, cfg.min_transits)
    state.periodograms.append(pg)
    if not np.any(pg.n_transits > 0):
        return None
    best = int(np.argmax(np.where(pg.n_transits > 0, pg.power, -np.inf)))
    index, phase, d = refine_peak(state.working, pg, best, cfg.min_transits)
    grid = state.working
    t0, period, duration = grid.epochs[0] + grid.epoch_step_days * phase, float(pg.periods[index]), grid.durations[d]
    masked = mask_transits(grid, _all_transit_times(t0, period, grid.epochs), mask_width(duration, state.cadence))
    reference = null_reference(periodogram(masked, periods, cfg.min_transits))
    cand = candidate_at_peak(state.working, pg, index, phase=phase, duration_index=d, reference=reference)
    cand = replace(cand, snr=float((pg.power[best] - reference[0]) / reference[1]))
    log.info("peak: P=%.5f d, box depth %.0f ppm, SNR %.1f (%.1f without the strongest event); z %.2f (%.2f), "
             "noise median %.2f, scale %.2f", cand.period, cand.box_depth, cand.snr, cand.snr_without_strongest,
             pg.power[best], reference[0] + reference[1] * cand.snr_without_strongest, *reference)
    return cand


def _add(state: _Pass, cand: Candidate, cfg: SearchConfig, excluded: np.ndarray, durations: tuple[float, ...]
         ) -> None:
    """Fit the candidate's shape (earlier candidates' models as the mean), keep it, mask its transits.

    With shapes, the next grid is computed with every found transit model subtracted: through
    the correlated model a deep transit leaks into boxes hours away, which masking alone leaves.
    """
    working = state.working
    if cfg.fit_shape:
        ml = state.ml.with_mean(state.models) if state.found else state.ml
        cand, model = _with_shape(cand, ml, state.time, state.cadence)
        state.models = state.models - model
        working = single_event_grid(state.ml.with_mean(state.models), state.time, excluded, cfg, durations)
        for old in state.found:
            working = mask_transits(working, _all_transit_times(old.t0, old.period, state.grid.epochs), _candidate_width(old, state.cadence))
        for time, duration_h in state.masked_events:
            working = mask_transits(working, [time], mask_width(duration_h, state.cadence))
    state.found.append(cand)
    state.working = mask_transits(working, _all_transit_times(cand.t0, cand.period, state.grid.epochs), _candidate_width(cand, state.cadence))


def _with_shape(cand: Candidate, ml: MarginalLikelihood, time: np.ndarray, cadence: float
                ) -> tuple[Candidate, np.ndarray]:
    """The candidate with the limb-darkened template's numbers, and that model (relative dip ≥ 0)."""
    shape = fit_transit_shape(ml, time, period=cand.period, t0=cand.t0, duration_h=cand.box_duration,
                              depth=cand.box_depth * 1e-6, n_transits=cand.n_transits, cadence=cadence)
    if shape is None:
        return cand, np.zeros(time.size)
    model = shape.depth * transit_template(time, shape.period, shape.t0, shape.t14, shape.impact, shape.rp_over_rs,
                                           cadence if cadence > 3.0 / 1440.0 else None)
    period_err = shape.period_err if math.isfinite(shape.period_err) else cand.period_err
    t0_err = shape.t0_err if math.isfinite(shape.t0_err) else cand.t0_err
    times = tuple(float(shape.t0 + shape.period * round((t - cand.t0) / cand.period)) for t in cand.transit_times)
    odd_even, secondary = shape_checks(ml, time, shape, cadence)
    return replace(cand, period=shape.period, period_err=period_err, t0=shape.t0, t0_err=t0_err,
                   duration=24.0 * shape.t14, depth=1e6 * shape.depth, depth_err=1e6 * shape.depth_err,
                   impact=shape.impact, rp_over_rs=shape.rp_over_rs, transit_times=times, odd_even_sigma=odd_even,
                   secondary_snr=secondary), model


def single_event_candidates(state: _Pass, cfg: SearchConfig) -> tuple[Candidate, ...]:
    """The strongest single boxes with the periodic candidates' transits masked (see
    :attr:`SearchConfig.max_single_events`): each a :class:`Candidate` with ``single`` True,
    then masked before the next is taken."""
    working = state.grid
    for cand in state.found:
        working = mask_transits(working, _all_transit_times(cand.t0, cand.period, working.epochs),
                                _candidate_width(cand, state.cadence))
    time = state.time
    found: list[Candidate] = []
    for _ in range(cfg.max_single_events):
        snr = np.where(working.valid, working.snr, -np.inf)
        d, e = np.unravel_index(int(np.argmax(snr)), snr.shape)
        if not snr[d, e] >= cfg.single_min_snr:
            break
        t0, duration = float(working.epochs[e]), float(working.durations[d])
        depth, error = 1e6 * float(working.depth[d, e]), 1e6 * float(working.depth_err[d, e])
        reach = max(float(time[-1]) - t0, t0 - float(time[0]))
        found.append(Candidate(period=math.inf, period_err=0.0, t0=t0, t0_err=working.epoch_step_days,
                               duration=duration, depth=depth, depth_err=error,
                               delta_loglike=float(working.delta_loglike[d, e]), snr=float(snr[d, e]), n_transits=1,
                               dominant_event_fraction=1.0, odd_even_sigma=0.0, variable_depth_delta_loglike=0.0,
                               transit_times=(t0,), box_duration=duration, box_depth=depth, box_depth_err=error,
                               snr_without_strongest=0.0, single=True, period_min=reach + 0.5 * duration / 24.0))
        log.info("single event %d at t = %.4f: %.1f h, depth %.0f ppm, S/N %.1f", len(found), t0, duration, depth,
                 float(snr[d, e]))
        working = mask_transits(working, [t0], mask_width(duration, state.cadence))
    return tuple(found)


def mask_width(duration: float, cadence: float) -> float:
    """Width [h] masked around each transit of a ``duration`` [h] one: 1.5 × it plus one cadence [d]."""
    return 1.5 * duration + 24.0 * cadence


def _candidate_width(cand: Candidate, cadence: float) -> float:
    """:func:`mask_width` of a candidate's longer duration (template T14 or best box)."""
    return mask_width(max(cand.duration, cand.box_duration), cadence)


def _masked_refit(lc: LightCurve, design: DesignMatrix, result: DetrendResult, found: list[Candidate]
                  ) -> DetrendResult | None:
    """The nuisance model refitted with every found candidate's transits masked.

    ``None`` (the search goes on with the model it has, and says so) when the windows would
    mask more than :data:`MAX_MASKED_FRACTION` of the cadences: a short-period or long-duration
    "candidate" covering most of the light curve leaves nothing to fit the instrument on.
    """
    mask = _candidate_mask(lc, result, found)
    if mask.mean() > MAX_MASKED_FRACTION:
        log.warning("not refitting the nuisance model: the candidates' transit windows cover %.0f%% of the "
                    "cadences (> %.0f%%)", 100 * mask.mean(), 100 * MAX_MASKED_FRACTION)
        return None
    refit = detrend(lc, design, config=result.config, transit_mask=mask, start=result)
    log.info("refitted the nuisance model with the transits of %d candidate(s) masked (%d cadences)", len(found),
             int(mask.sum()))
    return refit


def _candidate_mask(lc: LightCurve, result: DetrendResult, found: list[Candidate]) -> np.ndarray:
    """Cadences of the light curve inside any candidate's transit windows (for the masked refit)."""
    mask = np.zeros(lc.n_cadences, bool)
    cadence = float(np.median(np.diff(result.time)))
    for cand in found:
        mask |= transit_window_mask(lc.time, cand.period, cand.t0, _candidate_width(cand, cadence), factor=1.0)
    return mask


def _all_transit_times(t0: float, period: float, epochs: np.ndarray) -> np.ndarray:
    """Every predicted transit time [d] inside the epoch grid (with data or not)."""
    k = np.arange(np.floor((epochs[0] - t0) / period) - 1, np.ceil((epochs[-1] - t0) / period) + 2)
    return t0 + period * k


class _CallableModule(types.ModuleType):
    """``halfsib.search`` names both this subpackage and its main function.

    Once the subpackage is imported (``from halfsib.search import SearchConfig``),
    ``halfsib.search`` is the module (Python binds submodules on their parent); calling it
    calls :func:`search`, so ``halfsib.search(lc, design, fit)`` works whatever was imported
    first (as for :mod:`halfsib.vet`).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
