"""Cotrending-basis-vector-style regressors a user brings (mission CBVs, an EVEREST basis...).

A :class:`~halfsib.io.BasisTable` is put on the target's cadences: by cadence number
when both have them and they agree with the times, else by linear interpolation in time.
The table must cover the target's good cadences; a constant column (many tables carry
one) is dropped, because the model fits the mean separately.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from ..design import RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ..io.text import BasisTable
from ..timeseries import LightCurve, PixelSeries
from ._grid import Grid, check_match, locate
from ._util import FloatArray, make_group

log = logging.getLogger(__name__)

__all__ = ["cbv_regressors"]


def _select(table: BasisTable, vectors: Sequence[str] | int | None) -> tuple[FloatArray, list[str]]:
    if vectors is None:
        return table.vectors, list(table.names)
    if isinstance(vectors, (int, np.integer)):
        if not 1 <= vectors <= table.n_vectors:
            raise ConfigurationError(f"vectors must be 1-{table.n_vectors} for this table, got {vectors}")
        return table.vectors[:, :vectors], list(table.names[:vectors])
    unknown = [v for v in vectors if v not in table.names]
    if unknown:
        raise ConfigurationError(f"unknown basis vectors {unknown}; the table has {list(table.names)}")
    idx = [table.names.index(v) for v in vectors]
    return table.vectors[:, idx], [table.names[i] for i in idx]


def cbv_regressors(
    target: LightCurve | PixelSeries,
    table: BasisTable,
    *,
    vectors: Sequence[str] | int | None = None,
    match: str = "auto",
    prior_scale: float | None = None,
    name: str = "cbv",
) -> RegressorGroup:
    """User-supplied basis vectors on the target's cadences.

    Parameters
    ----------
    target : LightCurve or PixelSeries
    table : BasisTable
        From :func:`halfsib.io.read_basis`; time in the target's time system (a table of
        unknown time system is assumed to be in the target's).
    vectors : int or sequence of str, optional
        The first ``n`` vectors, or vectors by name; default all.
    match : {"auto", "cadenceno", "time"}
        ``"auto"``: by cadence number when the table has cadence numbers that agree with
        its times and the target's, else by time.
    prior_scale : float, optional
    name : str

    Raises
    ------
    DataValidationError
        The table does not cover the target's good cadences (more than half a cadence
        beyond its first or last time), or the time systems differ.
    """
    lc = target if isinstance(target, LightCurve) else target.to_lightcurve()
    if "unknown" not in (table.time_format, lc.time_format) and table.time_format != lc.time_format:
        raise DataValidationError(f"basis times are {table.time_format.upper()}, the target's "
                                  f"{lc.time_format.upper()}", table.source)
    if table.time_format == "unknown":
        log.info("basis table %s has no time system; assuming the target's (%s)", table.source, lc.time_format)
    check_match(match)
    if match == "cadenceno" and table.cadenceno is None:
        raise ConfigurationError(f"match='cadenceno' but the basis table {table.source} has no cadence numbers; "
                                 "use match='time'")
    values, names = _select(table, vectors)
    order = np.argsort(table.time, kind="stable")
    cad = table.cadenceno[order] if table.cadenceno is not None else np.arange(table.time.size, dtype=np.int64)
    grid = Grid(cadenceno=cad, time=table.time[order],
                on="cadenceno" if table.cadenceno is not None and np.all(np.diff(cad) > 0) else "time")
    _check_cover(grid, lc)
    use = match if match != "auto" or grid.on == "cadenceno" else "time"
    cols = locate(grid, lc.cadenceno, lc.time, on=use).apply(values[order])
    group = make_group(name, cols, [f"{name}_{n}" for n in names], lc.good, lc.flux, prior_scale=prior_scale,
                       source=lc.meta.source)
    dropped = len(names) - group.n_columns
    desc = (f"{group.n_columns} basis vectors from {table.source or 'a basis table'}"
            + (f" ({dropped} constant on the target's good cadences dropped)" if dropped else ""))
    return dataclasses.replace(group, description=desc)


def _check_cover(grid: Grid, lc: LightCurve) -> None:
    t = lc.time[lc.good]
    half = 0.5 * grid.spacing
    outside = (t < grid.time[0] - half) | (t > grid.time[-1] + half)
    if outside.any():
        raise DataValidationError(
            f"the basis table spans {grid.time[0]:.4f}-{grid.time[-1]:.4f} but {int(outside.sum())} good cadences "
            f"of the target lie outside it ({t.min():.4f}-{t.max():.4f}); use a basis of the same "
            "campaign/sector or trim the light curve", lc.meta.source)
