"""Transit search, jointly with the instrument and stellar models (``docs/search.md``).

>>> result = search(lc, design, fit)        # doctest: +SKIP
>>> result.candidates[0].period, result.plot()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..design import DesignMatrix
from ..exceptions import ConfigurationError
from ..model import SystematicsModel, detrend
from ..results import DetrendResult
from ..timeseries import LightCurve
from .periodic import candidate_at_peak, period_grid, periodogram
from .results import Candidate, Periodogram, SearchConfig, SearchResult, SingleEventGrid
from .single import epoch_grid, estimate_memory_gb, fitted_likelihood, mask_transits, single_event_grid

__all__ = ["search", "SearchConfig", "SearchResult", "SingleEventGrid", "Periodogram", "Candidate",
           "fitted_likelihood"]

log = logging.getLogger(__name__)


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
    fit = detrend(lc, design) if fit is None else fit
    ml, excluded = fitted_likelihood(lc, design, fit)
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
    grid = single_event_grid(ml, time, excluded, cfg, durations)
    working, pgs, found = grid, [], []
    for _ in range(cfg.max_planets):
        pg = periodogram(working, periods, cfg.min_transits)
        pgs.append(pg)
        if not np.any(pg.n_transits > 0):
            break
        best = int(np.argmax(np.where(pg.n_transits > 0, pg.power, -np.inf)))
        cand = candidate_at_peak(working, pg, best)
        if cand.snr < cfg.min_snr or cand.depth <= 0:
            break
        found.append(cand)
        log.info("candidate %d: P=%.5f d, depth %.0f ppm, SNR %.1f", len(found), cand.period, cand.depth, cand.snr)
        working = mask_transits(working, _all_transit_times(cand, epochs), cand.duration)
    return SearchResult(single_events=grid, periodograms=tuple(pgs), candidates=tuple(found), config=cfg,
                        time=time, flux=1.0 + result.residual)


def _all_transit_times(cand: Candidate, epochs: np.ndarray) -> np.ndarray:
    """Every predicted transit time inside the epoch grid (with data or not)."""
    k = np.arange(np.floor((epochs[0] - cand.t0) / cand.period) - 1, np.ceil((epochs[-1] - cand.t0) / cand.period) + 2)
    return cand.t0 + cand.period * k
