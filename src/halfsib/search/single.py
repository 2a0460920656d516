"""Single-event search: every box (epoch × duration) with the fitted nuisance model marginalised.

The fitted model's :class:`~halfsib.likelihood.MarginalLikelihood` is rebuilt on the model
grid (the light curve's good cadences) with the fit's hyper-parameters and no transit mask;
clipped outliers stay excluded by the model's variance inflation. Every box is then a
cadence window and :meth:`MarginalLikelihood.window_projection` gives its exact statistics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..design import DesignMatrix
from ..exceptions import ConfigurationError
from ..likelihood import MarginalLikelihood
from ..model import SystematicsModel, fitted_objective
from ..results import DetrendResult
from ..timeseries import LightCurve
from .results import SearchConfig, SingleEventGrid

__all__ = ["fitted_likelihood", "box_windows", "single_event_grid"]

#: bytes per epoch and duration held by the single-event grid and the window work arrays
_BYTES_PER_WINDOW = 8 * 12


def fitted_likelihood(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel
                      ) -> tuple[MarginalLikelihood, NDArray[np.bool_]]:
    """The fitted model's marginal likelihood on the model grid, without any transit mask.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        What the model was fitted to.
    fit : DetrendResult or SystematicsModel
        The fit whose hyper-parameters (GP, jitter, prior variance per group) are used.

    Returns
    -------
    ml : MarginalLikelihood
        Relative flux y = flux/median − 1 on the good cadences; clipped outliers excluded.
    excluded : ndarray of bool
        Cadences excluded (clipped) on the model grid.
    """
    objective, gp, lnlam = fitted_objective(lc, design, fit)
    return objective.build(np.concatenate([gp, lnlam])), objective.problem.excluded.copy()


def epoch_grid(time: NDArray[np.float64], durations_h: NDArray[np.float64], epoch_step: float
               ) -> tuple[NDArray[np.float64], float]:
    """Uniform box centres [d] covering the data, step ``epoch_step`` × shortest duration."""
    step = epoch_step * float(durations_h.min()) / 24.0
    n = int(math.floor((time[-1] - time[0]) / step)) + 1
    return time[0] + step * np.arange(n), step


def box_windows(time: NDArray[np.float64], epochs: NDArray[np.float64], duration_h: float
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Half-open cadence windows [start, stop) of boxes |t − epoch| < duration/2 (sorted ``time``)."""
    half = 0.5 * duration_h / 24.0
    starts = np.searchsorted(time, epochs - half, side="left").astype(np.int64)
    stops = np.searchsorted(time, epochs + half, side="left").astype(np.int64)
    return starts, stops


def estimate_memory_gb(n_cadences: int, n_columns: int, n_epochs: int, n_durations: int, n_periods: int) -> float:
    """Working memory [GiB] of a search: window prefix sums, tail matrices, grids, periodogram."""
    model = 8.0 * (n_cadences + 1) * (n_columns + 1 + 16)
    grid = float(_BYTES_PER_WINDOW) * n_epochs * n_durations
    return (model + grid + 8.0 * 10 * n_periods) / 2**30


def single_event_grid(ml: MarginalLikelihood, time: NDArray[np.float64], excluded: NDArray[np.bool_],
                      config: SearchConfig, durations_h: tuple[float, ...]) -> SingleEventGrid:
    """Depth, error and Δln L of every (duration, epoch) box; one window projection per duration.

    A window is valid when it holds at least ``min_coverage`` of its expected number of
    fitted (non-excluded) cadences, at least one, and a positive information bᵀC⁻¹b.

    Raises
    ------
    ConfigurationError
        If no duration has a single valid window (``durations`` longer than the data allow).
    """
    dur = np.asarray(durations_h, dtype=np.float64)
    epochs, step = epoch_grid(time, dur, config.epoch_step)
    cadence = float(np.median(np.diff(time)))
    used = np.concatenate([[0], np.cumsum(~excluded)])
    shape = (dur.size, epochs.size)
    num, info = np.zeros(shape), np.zeros(shape)
    valid = np.zeros(shape, bool)
    for k, d in enumerate(dur):
        starts, stops = box_windows(time, epochs, d)
        need = max(1.0, config.min_coverage * (d / 24.0) / cadence)
        ok = (used[stops] - used[starts]) >= need - 1e-9
        if not ok.any():
            continue
        proj = ml.window_projection(starts[ok], stops[ok])
        good = np.isfinite(proj.numerator) & np.isfinite(proj.information) & (proj.information > 0)
        idx = np.flatnonzero(ok)[good]
        num[k, idx] = -proj.numerator[good]
        info[k, idx] = proj.information[good]
        valid[k, idx] = True
    if not valid.any(axis=1).all():
        bad = [float(d) for d, v in zip(dur, valid.any(axis=1)) if not v]
        raise ConfigurationError(f"durations {bad} h have no window with {config.min_coverage:.0%} of its "
                                 "cadences (longer than the data segments allow); shorten `durations` "
                                 "or lower `min_coverage`")
    return _grid_from_sums(epochs, dur, num, info, valid, step)


def _grid_from_sums(epochs: NDArray[np.float64], dur: NDArray[np.float64], num: NDArray[np.float64],
                    info: NDArray[np.float64], valid: NDArray[np.bool_], step: float) -> SingleEventGrid:
    safe = np.where(valid, info, 1.0)
    depth = np.where(valid, num / safe, 0.0)
    err = np.where(valid, 1.0 / np.sqrt(safe), 0.0)
    dll = np.where(valid, 0.5 * num**2 / safe, 0.0)
    return SingleEventGrid(epochs=epochs, durations=dur, depth=depth, depth_err=err, delta_loglike=dll,
                           valid=valid, numerator=np.where(valid, num, 0.0), information=np.where(valid, info, 0.0),
                           epoch_step_days=step)


def mask_transits(grid: SingleEventGrid, times: Any, duration_h: float) -> SingleEventGrid:
    """The grid with every box overlapping a transit (centres ``times`` [d]) marked not valid."""
    times = np.asarray(times, dtype=np.float64)
    valid = grid.valid.copy()
    if times.size:
        near = np.abs(grid.epochs[None, :] - times[:, None])  # (n_times, n_epochs)
        dist = near.min(axis=0)
        reach = 0.5 * (grid.durations[:, None] + duration_h) / 24.0
        valid &= ~(dist[None, :] < reach)
    return _grid_from_sums(grid.epochs, grid.durations, grid.numerator, grid.information, valid,
                           grid.epoch_step_days)
