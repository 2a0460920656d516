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

from ..transit import TransitParams, _auto_supersample, transit_duration, transit_flux

__all__ = ["model_flux"]

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
    n_sub = _auto_supersample(exposure_time) if supersample is None else int(supersample)
    out = np.ones(time.size)
    if params.b >= 1 + params.rp_over_rs:
        return out
    half_width = 0.5 * transit_duration(params) + 0.5 * (exposure_time or 0.0) + 1e-3
    if half_width >= 0.5 * params.period:
        sel = np.ones(time.size, bool)
    else:
        phase = np.mod(time - params.t0 + 0.5 * params.period, params.period) - 0.5 * params.period
        sel = np.abs(phase) <= half_width
    if not np.any(sel):
        return out
    times = time[sel]
    if exposure_time and n_sub > 1:
        offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * exposure_time
        sub = np.ascontiguousarray((times[:, None] + offsets[None, :]).ravel())
    else:
        sub = np.ascontiguousarray(times)
    u1, u2 = params.u
    ds = _rsky._rsky(sub, params.t0, params.period, params.a_over_rs, math.radians(params.inclination),
                     params.ecc, math.radians(params.omega), 1, 1)
    flux = _quadratic_ld._quadratic_ld(ds, params.rp_over_rs, u1, u2, 1)
    out[sel] = flux.reshape(times.size, n_sub).mean(axis=1) if (exposure_time and n_sub > 1) else flux
    return out
