"""Completeness in bins, with binomial errors, from an injection table.

``completeness(table, "expected_snr", edges)`` counts injections and recoveries per bin
(1-D), or per cell of two columns (2-D, e.g. period × Rp/R★). The recovered fraction
``k/n`` comes with the binomial standard error ``√(p(1−p)/n)`` and the Wilson score
interval (68.3 %), which stays inside [0, 1] and is not zero-width at p = 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError, DataValidationError

__all__ = ["Completeness", "completeness", "wilson_interval"]

#: one standard deviation of a normal distribution: the interval's coverage (68.27 %)
_Z = 1.0


def wilson_interval(k: NDArray[np.int64], n: NDArray[np.int64], z: float = _Z) -> tuple[NDArray, NDArray]:
    """Wilson score interval of ``k`` successes in ``n`` trials at ``z`` sigma (NaN where n = 0),
    from :func:`astropy.stats.binom_conf_interval`."""
    from astropy.stats import binom_conf_interval
    from scipy.special import erf

    k = np.atleast_1d(np.asarray(k, np.int64))
    n = np.atleast_1d(np.asarray(n, np.int64))
    lower, upper = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    has = n > 0
    if has.any():
        lower[has], upper[has] = binom_conf_interval(k[has], n[has], confidence_level=float(erf(z / np.sqrt(2.0))),
                                                     interval="wilson")
    return lower, upper


@dataclass(frozen=True)
class Completeness:
    """Recovered fraction per bin.

    Attributes
    ----------
    x : str
        Column binned along the first axis.
    x_edges : ndarray, shape (nx + 1,)
    y : str or None
        Second column (2-D map), or None.
    y_edges : ndarray or None, shape (ny + 1,)
    n_injected, n_recovered : ndarray of int, shape (nx,) or (nx, ny)
        Injections and recoveries per bin (injections outside the edges are not counted).
    """

    x: str
    x_edges: NDArray[np.float64]
    y: str | None
    y_edges: NDArray[np.float64] | None
    n_injected: NDArray[np.int64]
    n_recovered: NDArray[np.int64]

    @property
    def fraction(self) -> np.ma.MaskedArray:
        """k / n, masked where a bin is empty."""
        n = self.n_injected
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.ma.masked_where(n == 0, self.n_recovered / np.where(n == 0, 1, n))

    @property
    def error(self) -> np.ma.MaskedArray:
        """Binomial standard error √(p(1−p)/n), masked where a bin is empty."""
        p = self.fraction
        return np.ma.sqrt(p * (1 - p) / np.ma.masked_equal(self.n_injected, 0))

    @property
    def interval(self) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
        """Wilson 68.3 % interval (lower, upper), masked where a bin is empty."""
        lo, hi = wilson_interval(self.n_recovered, self.n_injected)
        empty = self.n_injected == 0
        return np.ma.masked_where(empty, np.nan_to_num(lo)), np.ma.masked_where(empty, np.nan_to_num(hi))

    @property
    def x_centres(self) -> NDArray[np.float64]:
        """Arithmetic bin centres along x."""
        return 0.5 * (self.x_edges[1:] + self.x_edges[:-1])

    def as_table(self) -> Any:
        """A 1-D result as an astropy table: bin edges, n, k, fraction, error, Wilson interval."""
        from astropy.table import Table

        if self.y is not None:
            raise ConfigurationError("as_table is for 1-D completeness; index the 2-D arrays instead")
        lo, hi = self.interval
        return Table({f"{self.x}_min": self.x_edges[:-1], f"{self.x}_max": self.x_edges[1:],
                      "n_injected": self.n_injected, "n_recovered": self.n_recovered, "completeness": self.fraction,
                      "error": self.error, "lower": lo, "upper": hi})


def _values(table: Any, name: str) -> NDArray[np.float64]:
    if name not in table.colnames:
        raise DataValidationError(f"the injection table has no column {name!r}; columns are {table.colnames}")
    return np.asarray(np.ma.filled(np.ma.asarray(table[name]).astype(float), np.nan), float)


def _edges(name: str, edges: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.asarray(edges, float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ConfigurationError(f"bins for {name!r} must be >= 2 finite increasing edges, got {edges!r}")
    return e


def completeness(table: Any, x: str, x_edges: Sequence[float], *, y: str | None = None,
                 y_edges: Sequence[float] | None = None, recovered: str = "recovered") -> Completeness:
    """Count injections and recoveries in bins of one or two columns.

    Parameters
    ----------
    table : astropy.table.Table
        An injection table (``injections.ecsv``).
    x : str
        Column to bin (e.g. ``"expected_snr"``, ``"period"``).
    x_edges : sequence of float
        Increasing bin edges; bins are [e_i, e_{i+1}) except the last, which includes its
        right edge (``numpy.histogram``).
    y, y_edges : str and sequence, optional
        Second column and its edges for a 2-D map.
    recovered : str
        Boolean column that says recovered (default ``recovered``).

    Returns
    -------
    Completeness
    """
    xe = _edges(x, x_edges)
    xv = _values(table, x)
    ok = np.asarray(np.ma.filled(np.ma.asarray(table[recovered]), False), bool) if recovered in table.colnames \
        else None
    if ok is None:
        raise DataValidationError(f"the injection table has no column {recovered!r}")
    if y is None:
        keep = np.isfinite(xv)
        n, _ = np.histogram(xv[keep], xe)
        k, _ = np.histogram(xv[keep & ok], xe)
        return Completeness(x, xe, None, None, n.astype(np.int64), k.astype(np.int64))
    if y_edges is None:
        raise ConfigurationError("y_edges are needed with y")
    ye = _edges(y, y_edges)
    yv = _values(table, y)
    keep = np.isfinite(xv) & np.isfinite(yv)
    n, _, _ = np.histogram2d(xv[keep], yv[keep], [xe, ye])
    k, _, _ = np.histogram2d(xv[keep & ok], yv[keep & ok], [xe, ye])
    return Completeness(x, xe, y, ye, n.astype(np.int64), k.astype(np.int64))


def log_edges(lo: float, hi: float, n: int) -> NDArray[np.float64]:
    """``n`` log-spaced bins from ``lo`` to ``hi`` (n + 1 edges)."""
    if not (lo > 0 and hi > lo and n >= 1):
        raise ConfigurationError(f"log bins need 0 < lo < hi and n >= 1, got {lo}, {hi}, {n}")
    return np.exp(np.linspace(math.log(lo), math.log(hi), n + 1))
