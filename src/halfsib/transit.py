"""The transit light-curve model shared by simulation, search, fitting and injection.

One parameter container, :class:`TransitParams`, and one model function,
:func:`transit_flux`, built on ``batman`` (Kreidberg 2015) with quadratic limb darkening
in the Kipping (2013) ``(q1, q2)`` parametrisation. Times are in days in whatever system
the light curve uses (BKJD, BTJD, BJD); ``t0`` must be in the same system.

Examples
--------
>>> import numpy as np
>>> from halfsib.transit import TransitParams, transit_flux, transit_duration
>>> p = TransitParams(period=3.0, t0=0.0, rp_over_rs=0.1, a_over_rs=10.0, b=0.0, q1=0.0, q2=0.0)
>>> bool(abs(transit_flux(np.array([0.0]), p)[0] - (1 - 0.1**2)) < 1e-6)
True
>>> round(transit_duration(p) * 24, 2)  # hours
2.53
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from astropy import constants as _constants
from numpy.typing import ArrayLike, NDArray

from .exceptions import ConfigurationError

#: Newton's constant [cm³ g⁻¹ s⁻²] (astropy.constants, CODATA), for stellar densities
G_CGS: float = float(_constants.G.cgs.value)

__all__ = [
    "TransitParams",
    "transit_flux",
    "transit_duration",
    "quadratic_from_kipping",
    "kipping_from_quadratic",
]

#: batman's sub-exposure spacing when ``supersample`` is not given: 2 minutes, in days.
_SUPERSAMPLE_STEP_D = 2.0 / 1440.0


def quadratic_from_kipping(q1: float, q2: float) -> tuple[float, float]:
    """Quadratic limb-darkening coefficients ``(u1, u2)`` from Kipping's ``(q1, q2)``.

    ``u1 = 2 sqrt(q1) q2`` and ``u2 = sqrt(q1) (1 - 2 q2)``; every ``(q1, q2)`` in the unit
    square gives a physical (positive, monotonically decreasing) intensity profile.
    """
    s = math.sqrt(q1)
    return 2.0 * s * q2, s * (1.0 - 2.0 * q2)


def kipping_from_quadratic(u1: float, u2: float) -> tuple[float, float]:
    """Inverse of :func:`quadratic_from_kipping`: ``(q1, q2)`` from ``(u1, u2)``."""
    total = u1 + u2
    if total <= 0:
        return 0.0, 0.0
    return total**2, u1 / (2.0 * total)


@dataclass(frozen=True)
class TransitParams:
    """Parameters of one transiting body (planet or eclipsing companion).

    Parameters
    ----------
    period : float
        Orbital period [d]; > 0.
    t0 : float
        Time of a mid-transit [d], in the time system of the light curve.
    rp_over_rs : float
        Radius ratio Rp/R★; 0 < k < 1.
    a_over_rs : float
        Semi-major axis in stellar radii; > 1.
    b : float
        Impact parameter [stellar radii]; 0 <= b < a_over_rs (no transit if b >= 1 + k).
    q1, q2 : float
        Kipping (2013) limb-darkening parameters in [0, 1] (``q1 = 0``: uniform disk).
    ecc : float
        Eccentricity, 0 <= ecc < 1.
    omega : float
        Argument of periastron [deg].

    Raises
    ------
    ConfigurationError
        If a parameter is not finite or out of range; the message names it.
    """

    period: float
    t0: float
    rp_over_rs: float
    a_over_rs: float
    b: float = 0.0
    q1: float = 0.36
    q2: float = 0.3
    ecc: float = 0.0
    omega: float = 90.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
                raise ConfigurationError(f"TransitParams.{f.name} must be a finite number, got {value!r}")
            object.__setattr__(self, f.name, float(value))
        checks = [
            ("period", self.period > 0, "> 0 days"),
            ("rp_over_rs", 0 < self.rp_over_rs < 1, "in (0, 1)"),
            ("a_over_rs", self.a_over_rs > 1, "> 1"),
            ("b", 0 <= self.b < self.a_over_rs, "in [0, a_over_rs)"),
            ("q1", 0 <= self.q1 <= 1, "in [0, 1]"),
            ("q2", 0 <= self.q2 <= 1, "in [0, 1]"),
            ("ecc", 0 <= self.ecc < 1, "in [0, 1)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigurationError(f"TransitParams.{name} must be {allowed}, got {getattr(self, name)!r}")
        if self.ecc > 0 and self.a_over_rs * (1 - self.ecc) <= 1 + self.rp_over_rs:
            raise ConfigurationError(
                f"TransitParams.ecc={self.ecc} with a_over_rs={self.a_over_rs} puts periastron inside the star"
            )

    @property
    def u(self) -> tuple[float, float]:
        """Quadratic limb-darkening coefficients ``(u1, u2)``."""
        return quadratic_from_kipping(self.q1, self.q2)

    @property
    def _ecc_factor(self) -> float:
        """``(1 - e²) / (1 + e sin ω)``: separation at conjunction in units of a."""
        return (1.0 - self.ecc**2) / (1.0 + self.ecc * math.sin(math.radians(self.omega)))

    @property
    def inclination(self) -> float:
        """Orbital inclination [deg] implied by ``b``, ``a_over_rs``, ``ecc`` and ``omega``."""
        cos_i = self.b / (self.a_over_rs * self._ecc_factor)
        if cos_i >= 1:
            raise ConfigurationError(f"TransitParams.b={self.b} is too large for a_over_rs={self.a_over_rs}")
        return math.degrees(math.acos(cos_i))

    @property
    def depth(self) -> float:
        """Approximate central depth, ``k²`` times the limb-darkening boost at ``b`` (fraction)."""
        u1, u2 = self.u
        mu = math.sqrt(max(0.0, 1.0 - min(self.b, 1.0) ** 2))
        intensity = 1.0 - u1 * (1 - mu) - u2 * (1 - mu) ** 2
        mean_intensity = 1.0 - u1 / 3.0 - u2 / 6.0
        return self.rp_over_rs**2 * intensity / mean_intensity

    def replace(self, **changes: float) -> TransitParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def transit_duration(params: TransitParams) -> float:
    """Approximate total transit duration T14 (first to fourth contact) [d].

    Winn (2010), eq. 14 with the eccentricity factor of eq. 16. Returns 0 for a
    non-transiting geometry (``b >= 1 + k``).

    Parameters
    ----------
    params : TransitParams
        The transit.

    Returns
    -------
    float
        T14 in days.
    """
    k, b, a = params.rp_over_rs, params.b, params.a_over_rs
    if b >= 1 + k:
        return 0.0
    sin_i = math.sin(math.radians(params.inclination))
    arg = math.sqrt((1 + k) ** 2 - b**2) / (a * sin_i)
    ecc_term = math.sqrt(1 - params.ecc**2) / (1 + params.ecc * math.sin(math.radians(params.omega)))
    return params.period / math.pi * math.asin(min(arg, 1.0)) * ecc_term


def auto_supersample(exposure_time: float | None) -> int:
    if exposure_time is None or exposure_time <= 0:
        return 1
    return max(1, int(math.ceil(exposure_time / _SUPERSAMPLE_STEP_D)))


def _near_transit(time: NDArray[np.float64], params: TransitParams, half_width: float) -> NDArray[np.bool_]:
    """Cadences within ``half_width`` days of a mid-transit (a cheap pre-selection)."""
    phase = np.mod(time - params.t0 + 0.5 * params.period, params.period) - 0.5 * params.period
    return np.abs(phase) <= half_width


def transit_flux(
    time: ArrayLike,
    params: TransitParams,
    exposure_time: float | None = None,
    supersample: int | None = None,
) -> NDArray[np.float64]:
    """Relative flux of a star with a transiting body (1 out of transit).

    Parameters
    ----------
    time : array_like
        Mid-exposure times [d] in the same system as ``params.t0``. NaN times give NaN.
    params : TransitParams
        The transit.
    exposure_time : float, optional
        Exposure length [d] to integrate over (long cadence, FFIs). ``None``: the model
        is evaluated at the instants ``time``.
    supersample : int, optional
        Sub-exposures per exposure when ``exposure_time`` is given (mid-point rule);
        default one per 2 minutes of exposure (15 for Kepler/K2 long cadence).

    Returns
    -------
    numpy.ndarray
        Relative flux, same shape as ``time``.

    Raises
    ------
    ConfigurationError
        If ``exposure_time`` is negative or ``supersample`` < 1.
    """
    import batman

    t = np.asarray(time, dtype=np.float64)
    if exposure_time is not None and not (math.isfinite(exposure_time) and exposure_time >= 0):
        raise ConfigurationError(f"exposure_time must be >= 0 days, got {exposure_time!r}")
    n_sub = auto_supersample(exposure_time) if supersample is None else int(supersample)
    if n_sub < 1:
        raise ConfigurationError(f"supersample must be >= 1, got {supersample!r}")
    flat = t.ravel()
    out = np.ones_like(flat)
    out[~np.isfinite(flat)] = np.nan
    half_width = 0.5 * transit_duration(params) + 0.5 * (exposure_time or 0.0) + 1e-3
    if half_width >= 0.5 * params.period:
        sel = np.isfinite(flat)
    else:
        sel = np.isfinite(flat) & _near_transit(np.nan_to_num(flat), params, half_width)
    if params.b >= 1 + params.rp_over_rs or not np.any(sel):
        return out.reshape(t.shape)
    bp = batman.TransitParams()
    bp.t0, bp.per, bp.rp, bp.a = params.t0, params.period, params.rp_over_rs, params.a_over_rs
    bp.inc, bp.ecc, bp.w = params.inclination, params.ecc, params.omega
    bp.limb_dark, bp.u = "quadratic", list(params.u)
    times = flat[sel]
    if exposure_time and n_sub > 1:
        # mid-point rule over the exposure (batman's own supersampling includes the end points)
        offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * exposure_time
        sub = (times[:, None] + offsets[None, :]).ravel()
        out[sel] = batman.TransitModel(bp, sub).light_curve(bp).reshape(times.size, n_sub).mean(axis=1)
    else:
        out[sel] = batman.TransitModel(bp, times).light_curve(bp)
    return out.reshape(t.shape)
