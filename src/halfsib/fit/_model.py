"""The transit model of :func:`halfsib.transit.transit_flux`, without batman's per-call Python overhead.

The fit evaluates the model 10⁴–10⁵ times; building a ``batman.TransitModel`` each time costs more
than the light curve itself. This calls the same compiled batman functions (``_rsky`` for the
sky-projected separations, ``_quadratic_ld`` for the flux) on the same sub-exposure times, so
the result equals ``transit_flux`` (tested to 1e-13); if batman's private layout ever changes
the import fails and ``transit_flux`` is used instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..transit import TransitParams, auto_supersample, transit_duration, transit_flux
from .parameters import TransitArrays

__all__ = ["model_flux", "model_flux_rows"]

try:  # pragma: no cover - exercised whenever batman is the version the tests pin
    from batman import _quadratic_ld, _rsky
except ImportError:  # pragma: no cover
    _rsky = _quadratic_ld = None


def model_flux(time: NDArray[np.float64], params: TransitParams, exposure_time: float | None,
               supersample: int | None) -> NDArray[np.float64]:
    """Relative flux F(t) (1 out of transit) exactly as :func:`halfsib.transit.transit_flux` computes it.

    Parameters
    ----------
    time : ndarray, shape (N,)
        Finite mid-exposure times [d].
    params : TransitParams
    exposure_time : float or None
        Exposure [d] averaged over with the mid-point rule.
    supersample : int or None
        Sub-exposures (``None``: one per 2 minutes).
    """
    if _rsky is None:
        return transit_flux(time, params, exposure_time, supersample)
    if params.b >= 1 + params.rp_over_rs:
        return np.ones(time.size)
    u1, u2 = params.u
    half_width = 0.5 * transit_duration(params) + 0.5 * (exposure_time or 0.0) + 1e-3
    return _flux(time, _offsets(exposure_time, supersample), params.period, params.t0, params.rp_over_rs,
                 params.a_over_rs, math.radians(params.inclination), params.ecc, math.radians(params.omega), u1, u2,
                 half_width)


def model_flux_rows(time: NDArray[np.float64], arrays: TransitArrays, rows: NDArray[np.int64],
                    exposure_time: float | None, supersample: int | None) -> NDArray[np.float64]:
    """:func:`model_flux` for the ``rows`` of :class:`~halfsib.fit.parameters.TransitArrays`, shape (rows, N).

    The rows must be valid (inside the support); each equals ``model_flux`` of that row's
    :class:`TransitParams` to rounding.
    """
    if _rsky is None:  # pragma: no cover
        raise ImportError("model_flux_rows needs batman's compiled _rsky and _quadratic_ld")
    offsets = _offsets(exposure_time, supersample)
    n_sub = 1 if offsets is None else offsets.size
    out = np.ones((rows.size, time.size))
    if rows.size == 0 or time.size == 0:
        return out
    a = arrays
    period, t0 = a.period[rows], a.t0[rows]
    half_widths = 0.5 * a.duration[rows] + 0.5 * (exposure_time or 0.0) + 1e-3
    # every row's cadences near a transit at once: (rows, N) phases; the same cadences as near_transits
    phase = np.mod(time[None, :] - t0[:, None] + 0.5 * period[:, None], period[:, None]) - 0.5 * period[:, None]
    near = (np.abs(phase) <= half_widths[:, None]) | (half_widths >= 0.5 * period)[:, None]
    sub_times = time[:, None] + offsets[None, :] if offsets is not None else time[:, None]
    for j, i in enumerate(rows):
        sel = np.flatnonzero(near[j])
        if sel.size == 0:
            continue
        out[j, sel] = _batman(sub_times[sel].ravel(), n_sub, float(period[j]), float(t0[j]), float(a.rp_over_rs[i]),
                              float(a.a_over_rs[i]), float(a.inclination[i]), float(a.ecc[i]), float(a.omega[i]),
                              float(a.u1[i]), float(a.u2[i]))
    return out


def _offsets(exposure_time: float | None, supersample: int | None) -> NDArray[np.float64] | None:
    """Sub-exposure offsets from mid-exposure [d] (mid-point rule), or None for one point per cadence."""
    n_sub = auto_supersample(exposure_time) if supersample is None else int(supersample)
    if not (exposure_time and n_sub > 1):
        return None
    return ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * exposure_time


def near_transits(time: NDArray[np.float64], period: float, t0: float, half_width: float) -> NDArray[np.int64]:
    """Indices of the cadences within ``half_width`` [d] of a mid-transit ``t0 + n · period``.

    For ``time`` sorted ascending (the model grid always is) each transit's cadences come
    from two binary searches: O(n_transits log N) instead of a phase for every cadence.
    Unsorted times take the phase of every cadence. Either way the cadences out of transit
    that one includes and the other does not have a model flux of exactly 1.
    """
    if half_width >= 0.5 * period:
        return np.arange(time.size)
    if time.size > 1 and not np.all(time[1:] >= time[:-1]):
        phase = np.mod(time - t0 + 0.5 * period, period) - 0.5 * period
        return np.flatnonzero(np.abs(phase) <= half_width)
    if time.size == 0:
        return np.zeros(0, np.int64)
    first = math.ceil((time[0] - t0 - half_width) / period)
    last = math.floor((time[-1] - t0 + half_width) / period)
    centres = t0 + period * np.arange(first, last + 1)
    lo = np.searchsorted(time, centres - half_width, side="left")
    hi = np.searchsorted(time, centres + half_width, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        return np.zeros(0, np.int64)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return starts + np.arange(counts.sum())


def _flux(time: NDArray[np.float64], offsets: NDArray[np.float64] | None, period: float, t0: float, k: float,
          a_over_rs: float, inclination: float, ecc: float, omega: float, u1: float, u2: float,
          half_width: float) -> NDArray[np.float64]:
    """The batman model on the cadences within ``half_width`` [d] of a mid-transit (angles in radians)."""
    out = np.ones(time.size)
    sel = near_transits(time, period, t0, half_width)
    if sel.size == 0:
        return out
    times = time[sel]
    sub = (times[:, None] + offsets[None, :]).ravel() if offsets is not None else np.ascontiguousarray(times)
    out[sel] = _batman(sub, 1 if offsets is None else offsets.size, period, t0, k, a_over_rs, inclination, ecc,
                       omega, u1, u2)
    return out


def _batman(sub_times: NDArray[np.float64], n_sub: int, period: float, t0: float, k: float, a_over_rs: float,
            inclination: float, ecc: float, omega: float, u1: float, u2: float) -> NDArray[np.float64]:
    """batman's compiled model at the sub-exposure times (``n_sub`` per cadence, consecutive),
    averaged per cadence (angles in radians)."""
    ds = _rsky._rsky(sub_times, t0, period, a_over_rs, inclination, ecc, omega, 1, 1)
    flux = _quadratic_ld._quadratic_ld(ds, k, u1, u2, 1)
    return flux.reshape(-1, n_sub).mean(axis=1) if n_sub > 1 else flux
