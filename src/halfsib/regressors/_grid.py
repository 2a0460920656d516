"""Cadence grids: putting many series on one grid and mapping a target's cadences onto it.

Matching is by mission cadence number when every series' cadence numbers agree with its
times (the same cadence number means the same time, to a quarter of a cadence), and by
nearest time otherwise (plain tables number their rows 0..N-1, which says nothing about
the spacecraft clock). Target cadences without a grid match are filled by linear
interpolation in time, so a regressor is finite at every cadence.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError, DataValidationError
from ._util import FloatArray, time_for_interpolation

log = logging.getLogger(__name__)

MATCH_MODES = ("auto", "cadenceno", "time")


@dataclass(frozen=True, eq=False)
class Grid:
    """A common cadence grid.

    Attributes
    ----------
    cadenceno : ndarray of int64, shape (G,)
        Cadence numbers (mission numbers when ``on == "cadenceno"``, else 0..G-1).
    time : ndarray, shape (G,)
        Days in the series' time system, increasing, finite.
    on : str
        ``"cadenceno"`` or ``"time"``: how series were (and targets will be) matched.
    """

    cadenceno: NDArray[np.int64]
    time: FloatArray
    on: str

    @property
    def size(self) -> int:
        """Number of grid cadences G."""
        return int(self.time.size)

    @property
    def spacing(self) -> float:
        """Median cadence spacing, days."""
        return float(np.median(np.diff(self.time))) if self.time.size > 1 else 1.0


def check_match(on: str) -> None:
    """Raise :class:`ConfigurationError` unless ``on`` is a known matching mode."""
    if on not in MATCH_MODES:
        raise ConfigurationError(f"match must be one of {MATCH_MODES}, got {on!r}")


def build_grid(series: Sequence[Any], on: str = "auto") -> Grid:
    """The union grid of many series (LightCurve or PixelSeries).

    Parameters
    ----------
    series : sequence of LightCurve or PixelSeries
    on : {"auto", "cadenceno", "time"}
        ``"auto"`` uses cadence numbers when they are consistent with the times.
    """
    check_match(on)
    if on in ("auto", "cadenceno"):
        grid = _cadence_grid(series)
        consistent = all(_consistent(s.cadenceno, s.time, grid) for s in series)
        if consistent:
            return grid
        if on == "cadenceno":
            raise DataValidationError("match='cadenceno' was asked for, but the same cadence number has "
                                      "different times in different series; use match='time'")
        log.info("cadence numbers are not consistent with times across series; matching by time")
    return _time_grid(series)


def _cadence_grid(series: Sequence[Any]) -> Grid:
    cad = np.unique(np.concatenate([np.asarray(s.cadenceno, np.int64) for s in series]))
    times = np.full((len(series), cad.size), np.nan)
    for i, s in enumerate(series):
        times[i, np.searchsorted(cad, s.cadenceno)] = s.time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cadences no star time-stamped: NaN, filled below
        t = np.nanmedian(times, axis=0)
    finite = np.isfinite(t)
    if finite.sum() < 2:
        raise DataValidationError("fewer than two cadences with a finite time in the whole set")
    if not finite.all():
        t[~finite] = np.interp(cad[~finite], cad[finite], t[finite])
    if np.any(np.diff(t) <= 0):
        # the same cadence number means different times in different series
        return Grid(cadenceno=cad, time=t, on="inconsistent")
    return Grid(cadenceno=cad, time=t, on="cadenceno")


def _consistent(cadenceno: NDArray[np.int64], time: FloatArray, grid: Grid) -> bool:
    """True when the cadences found on the grid have the grid's times (to a quarter cadence)."""
    if grid.on != "cadenceno":
        return False
    idx = np.clip(np.searchsorted(grid.cadenceno, cadenceno), 0, grid.size - 1)
    found = (grid.cadenceno[idx] == cadenceno) & np.isfinite(time)
    if not found.any():
        return False
    return bool(np.all(np.abs(grid.time[idx[found]] - time[found]) <= 0.25 * grid.spacing))


def _time_grid(series: Sequence[Any]) -> Grid:
    """Cluster all finite times: consecutive times closer than half a cadence are one grid cadence."""
    all_t = np.sort(np.concatenate([s.time[np.isfinite(s.time)] for s in series]))
    if all_t.size < 2:
        raise DataValidationError("fewer than two finite times in the whole set")
    spacing = float(np.median([np.median(np.diff(s.time[np.isfinite(s.time)])) for s in series]))
    starts = np.concatenate([[0], np.flatnonzero(np.diff(all_t) > 0.5 * spacing) + 1])
    t = np.add.reduceat(all_t, starts) / np.diff(np.append(starts, all_t.size))
    return Grid(cadenceno=np.arange(t.size, dtype=np.int64), time=t, on="time")


def grid_of(series: Any) -> tuple[Grid, NDArray[np.intp]]:
    """One series' own cadences as a grid, and the order that sorts its rows onto it.

    Rows are sorted by cadence number; times missing there are interpolated over the
    cadence index. When those times do not increase, the grid is ordered by time instead
    and matched by time only.
    """
    order = np.argsort(series.cadenceno, kind="stable")
    time = time_for_interpolation(np.asarray(series.time, float)[order])
    if time.size > 1 and np.all(np.diff(time) > 0) and np.all(np.diff(series.cadenceno[order]) > 0):
        return Grid(cadenceno=np.asarray(series.cadenceno, np.int64)[order], time=time, on="cadenceno"), order
    t = np.asarray(series.time, float)
    finite = np.flatnonzero(np.isfinite(t))
    order = finite[np.argsort(t[finite], kind="stable")]
    return Grid(cadenceno=np.arange(order.size, dtype=np.int64), time=t[order], on="time"), order


@dataclass(frozen=True, eq=False)
class CadenceMap:
    """Where each target cadence sits on a grid: ``lower``/``upper`` indices and the weight of ``upper``."""

    lower: NDArray[np.int64]
    upper: NDArray[np.int64]
    weight: FloatArray
    matched: NDArray[np.bool_]

    def apply(self, values: FloatArray) -> FloatArray:
        """Values on the grid (G, ...) -> values at the target cadences (N, ...)."""
        if not self.weight.any():
            return values[self.lower]
        w = self.weight.reshape((-1,) + (1,) * (values.ndim - 1))
        return values[self.lower] * (1.0 - w) + values[self.upper] * w


def locate(grid: Grid, cadenceno: NDArray[np.int64], time: FloatArray, on: str = "auto",
           tolerance: float | None = None) -> CadenceMap:
    """Map target cadences onto ``grid``: exact grid cadences where they match, else interpolation.

    Parameters
    ----------
    grid : Grid
    cadenceno, time : ndarray, shape (N,)
        The target's cadence numbers and times (days, same system as the grid; NaN allowed).
    on : {"auto", "cadenceno", "time"}
        ``"auto"`` follows how the grid was built, falling back to time when the target's
        cadence numbers do not agree with its times.
    tolerance : float, optional
        Largest time difference (days) for a time match; default half the grid spacing.
    """
    check_match(on)
    tol = 0.5 * grid.spacing if tolerance is None else tolerance
    t = time_for_interpolation(time)
    use_cad = on == "cadenceno" or (on == "auto" and _consistent(cadenceno, time, grid))
    if use_cad:
        idx = np.clip(np.searchsorted(grid.cadenceno, cadenceno), 0, grid.size - 1)
        matched = grid.cadenceno[idx] == cadenceno
    else:
        pos = np.clip(np.searchsorted(grid.time, t), 1, max(grid.size - 1, 1))
        left, right = grid.time[pos - 1], grid.time[np.minimum(pos, grid.size - 1)]
        idx = np.where(np.abs(t - left) <= np.abs(right - t), pos - 1, np.minimum(pos, grid.size - 1))
        matched = np.abs(grid.time[idx] - t) <= tol
    lower = idx.copy()
    upper = idx.copy()
    weight = np.zeros(t.size)
    miss = ~matched
    if miss.any():
        hi = np.clip(np.searchsorted(grid.time, t[miss]), 1, max(grid.size - 1, 1))
        lo = hi - 1
        span = grid.time[hi] - grid.time[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip((t[miss] - grid.time[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
        lower[miss], upper[miss], weight[miss] = lo, hi, w
    return CadenceMap(lower=lower, upper=upper, weight=weight, matched=matched)


def coverage(grid: Grid, time: FloatArray, good: NDArray[np.bool_]) -> float:
    """Fraction of the good cadences whose time lies within the grid's span (± half a cadence)."""
    t = time[good]
    if t.size == 0:
        return 0.0
    half = 0.5 * grid.spacing
    return float(np.mean((t >= grid.time[0] - half) & (t <= grid.time[-1] + half)))
