"""A box peak refined with a limb-darkened transit template, nuisances still marginalised.

The box grid finds signals; its depth is the box-weighted mean depth *as seen through* C⁻¹.
With red noise (the stellar GP, the regressors) C⁻¹ is a high-pass filter, so a box's
depth estimate is dominated by the flux step at its two edges, where a real transit is in
ingress/egress: on simulated K2 stars the box depth came out at 30-80 % of the injected
central depth, whatever the noise. A template with the transit's own shape removes that
bias: for a unit-central-depth template τ(θ) (batman, quadratic limb darkening, exposure
smearing) the depth is linear,

    δ̂(θ) = −τᵀC⁻¹r / τᵀC⁻¹τ,   σ_δ = (τᵀC⁻¹τ)^(-1/2),   Δln L(θ) = ½ (τᵀC⁻¹r)² / τᵀC⁻¹τ,

and the shape θ = (t0, P, T14, b) maximises the profile Δln L (Nelder-Mead; Rp/R★ follows the
depth). Each evaluation is one :meth:`MarginalLikelihood.project` (one GP solve, O(N M)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from ..likelihood import MarginalLikelihood
from ..transit import TransitParams, transit_flux

__all__ = ["TransitShape", "fit_transit_shape", "transit_template", "shape_checks", "LIMB_DARKENING"]

#: Kipping (q1, q2) of the template: Sun-like, the simulator's mid-range (the depth is that
#: of a star with this limb darkening; the shape is fitted, so the dependence is weak)
LIMB_DARKENING = (0.36, 0.3)
#: exposures shorter than this [d] are not smeared (TESS 2-min, 20-s)
_SMEAR_MIN = 3.0 / 1440.0
#: sub-exposure length [d] of the template's smearing (5 min: depth errors < 0.5 % at 30 min)
_SUBEXPOSURE = 5.0 / 1440.0
#: Nelder-Mead evaluations of the first and of each later round
_MAXFEV = (240, 120)


@dataclass(frozen=True)
class TransitShape:
    """Best limb-darkened template around a box peak.

    Attributes
    ----------
    period, t0 : float  [d]
    t14 : float  [d]  first to fourth contact
    impact, rp_over_rs : float
    depth, depth_err : float  [relative flux]  central depth (no smearing) and its error at fixed shape
    delta_loglike : float
    period_err, t0_err : float  [d]  from the curvature of the profile Δln L (NaN: not available)
    """

    period: float
    t0: float
    t14: float
    impact: float
    rp_over_rs: float
    depth: float
    depth_err: float
    delta_loglike: float
    period_err: float
    t0_err: float


def _geometry(period: float, t14: float, impact: float, k: float) -> float | None:
    """a/R★ of a circular orbit with this T14, b and k (None if impossible)."""
    chord2 = (1.0 + k) ** 2 - impact**2
    angle = math.pi * t14 / period
    if chord2 <= 0 or not 0 < angle < 0.5 * math.pi:
        return None
    a_sin_i = math.sqrt(chord2) / math.sin(angle)
    a = math.hypot(a_sin_i, impact)
    return a if a > 1.0 + k else None


def transit_template(time: NDArray[np.float64], period: float, t0: float, t14: float, impact: float, k: float,
                     exposure: float | None) -> NDArray[np.float64] | None:
    """Dip (1 − flux) normalised to unit central depth, or None for an impossible geometry.

    Parameters
    ----------
    time : ndarray  [d]
    period, t0, t14 : float  [d]
    impact, k : float  impact parameter and Rp/R★
    exposure : float or None  [d]  exposure to integrate over (None: instantaneous)
    """
    a = _geometry(period, t14, impact, k)
    if a is None:
        return None
    params = TransitParams(period, t0, k, a, impact, *LIMB_DARKENING)
    central = 1.0 - float(transit_flux(np.array([t0]), params)[0])
    if not central > 0:
        return None
    sub = None if exposure is None else max(1, int(math.ceil(exposure / _SUBEXPOSURE)))
    return (1.0 - transit_flux(time, params, exposure_time=exposure, supersample=sub)) / central


def candidate_dip(time: NDArray[np.float64], candidate: Any, cadence: float) -> NDArray[np.float64]:
    """A search candidate's fitted transit as a relative dip (≥ 0) at ``time`` [d].

    The limb-darkened template of its period, t0, T14, impact and Rp/R★ scaled to its
    central ``depth`` [ppm]; a box of ``box_depth`` over ``box_duration`` where it has no
    template (or the geometry is impossible). Non-finite times give 0. ``cadence`` [d]: the
    exposure integrated over (none below 3 min).
    """
    t = np.asarray(time, dtype=float)
    finite = np.isfinite(t)
    out = np.zeros(t.size)
    tau = None
    if candidate.rp_over_rs > 0:
        tau = transit_template(t[finite], candidate.period, candidate.t0, candidate.duration / 24.0,
                               candidate.impact, candidate.rp_over_rs, cadence if cadence > 3.0 / 1440.0 else None)
    if tau is not None:
        out[finite] = 1e-6 * candidate.depth * tau
        return out
    phase = np.mod(t[finite] - candidate.t0 + 0.5 * candidate.period, candidate.period) - 0.5 * candidate.period
    out[finite] = np.where(np.abs(phase) < candidate.box_duration / 48.0, 1e-6 * candidate.box_depth, 0.0)
    return out


class _Profile:
    """Profile Δln L of the template over (t0, P, T14, b) at fixed k, with its statistics."""

    def __init__(self, ml: MarginalLikelihood, time: NDArray[np.float64], exposure: float | None,
                 period: float, t0: float, t14: float, periodic: bool):
        self.ml, self.time, self.exposure = ml, time, exposure
        self.ref = (period, t0, t14)
        self.periodic = periodic
        self.k = 0.05
        self.span = period

    def unpack(self, x: NDArray[np.float64]) -> tuple[float, float, float, float]:
        period0, t00, t140 = self.ref
        period = period0 * (1.0 + x[1] * 1e-3) if self.periodic else period0
        t14 = t140 * math.exp(x[2])
        impact = (1.0 + self.k) * 0.5 * (1.0 + math.tanh(x[3]))
        return period, t00 + x[0] * t140, t14, impact

    def stats(self, x: NDArray[np.float64]) -> tuple[float, float] | None:
        """(n, I) = (−τᵀC⁻¹r, τᵀC⁻¹τ), or None."""
        period, t0, t14, impact = self.unpack(x)
        tau = transit_template(self.time, period, t0, t14, impact, self.k, self.exposure)
        if tau is None:
            return None
        proj = self.ml.project(tau)
        info = float(proj.information)
        if not info > 0:
            return None
        return -float(proj.numerator), info

    def __call__(self, x: NDArray[np.float64]) -> float:
        s = self.stats(x)
        if s is None:
            return 1e30
        n, info = s
        return -0.5 * n * abs(n) / info


def fit_transit_shape(ml: MarginalLikelihood, time: NDArray[np.float64], *, period: float, t0: float,
                      duration_h: float, depth: float, n_transits: int, cadence: float,
                      k_rounds: int = 2) -> TransitShape | None:
    """Refine a box peak with the limb-darkened template; None if no template fits a dip.

    Parameters
    ----------
    ml : MarginalLikelihood
        The model (with any earlier candidates' transit models as its mean).
    time : ndarray  [d]
        Model-grid times.
    period, t0, duration_h, depth : float
        The box peak: [d], [d], [h], relative flux.
    n_transits : int
        Transits with data; with one, the period is held fixed.
    cadence : float  [d]
        Exposure smearing for cadences longer than 3 minutes.
    k_rounds : int
        Rounds of (shape fit, Rp/R★ from the depth).
    """
    exposure = cadence if cadence > _SMEAR_MIN else None
    profile = _Profile(ml, time, exposure, period, t0, max(duration_h / 24.0, 1.5 * cadence),
                       periodic=n_transits >= 2 and math.isfinite(period))
    profile.k = float(np.clip(math.sqrt(max(depth, 1e-6) * 1.3), 5e-3, 0.5))
    x = np.array([0.0, 0.0, 0.0, -0.3])
    span = max(n_transits - 1, 1) * period
    profile.span = span
    scale = np.array([0.15, 0.15 * profile.ref[2] / span / 1e-3 if profile.periodic else 1.0, 0.3, 0.8])
    for round_ in range(max(k_rounds, 1)):
        simplex = np.vstack([x, x + np.diag(scale if round_ == 0 else 0.3 * scale)])
        res = optimize.minimize(profile, x, method="Nelder-Mead",
                                options=dict(initial_simplex=simplex, xatol=1e-3, fatol=1e-2,
                                             maxfev=_MAXFEV[min(round_, 1)]))
        x = res.x
        s = profile.stats(x)
        if s is None or s[0] <= 0:
            return None
        profile.k = float(np.clip(profile.k * math.sqrt((s[0] / s[1]) / _central_depth(profile, x)), 1e-3, 0.9))
    s = profile.stats(x)
    if s is None or s[0] <= 0:
        return None
    n, info = s
    p, tc, t14, impact = profile.unpack(x)
    p_err, t_err = _curvature_errors(profile, x)
    return TransitShape(period=p, t0=tc, t14=t14, impact=impact, rp_over_rs=profile.k, depth=n / info,
                        depth_err=1.0 / math.sqrt(info), delta_loglike=0.5 * n * n / info, period_err=p_err,
                        t0_err=t_err)


def _central_depth(profile: _Profile, x: NDArray[np.float64]) -> float:
    """Central depth of the physical model at the current k (what a template of depth 1 means)."""
    period, t0, t14, impact = profile.unpack(x)
    a = _geometry(period, t14, impact, profile.k)
    if a is None:
        return profile.k**2
    params = TransitParams(period, t0, profile.k, a, min(impact, a - 1e-6), *LIMB_DARKENING)
    return max(1.0 - float(transit_flux(np.array([t0]), params)[0]), 1e-12)


def _curvature_errors(profile: _Profile, x: NDArray[np.float64]) -> tuple[float, float]:
    """(σ_P, σ_t0) [d] from the 2×2 Hessian of the profile −Δln L in (t0, P); NaN if not convex."""
    h = np.array([0.02, 0.02 * profile.ref[2] / profile.span / 1e-3])
    idx = (0, 1) if profile.periodic else (0,)
    f0 = profile(x)
    hess = np.zeros((len(idx), len(idx)))
    for a, i in enumerate(idx):
        for b, j in enumerate(idx):
            if b < a:
                continue
            e_i, e_j = np.eye(4)[i] * h[i], np.eye(4)[j] * h[j]
            if i == j:
                hess[a, a] = (profile(x + e_i) - 2 * f0 + profile(x - e_i)) / h[i] ** 2
            else:
                hess[a, b] = hess[b, a] = (profile(x + e_i + e_j) - profile(x + e_i - e_j) - profile(x - e_i + e_j)
                                           + profile(x - e_i - e_j)) / (4 * h[i] * h[j])
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    if not np.all(np.diag(cov) > 0) or not np.all(np.isfinite(cov)):
        return math.nan, math.nan
    t14 = profile.ref[2]
    t_err = math.sqrt(cov[0, 0]) * t14
    p_err = math.sqrt(cov[1, 1]) * profile.ref[0] * 1e-3 if profile.periodic else math.nan
    return p_err, t_err


def shape_checks(ml: MarginalLikelihood, time: NDArray[np.float64], shape: TransitShape, cadence: float
                 ) -> tuple[float, float]:
    """(odd/even depth difference in σ, signed secondary δ/σ at phase ½) with the fitted template.

    The template's depth fitted separately to odd and even transits, and the same template
    shifted by half a period (an eclipsing binary's secondary eclipse); 0 where a part has no data.
    """
    exposure = cadence if cadence > _SMEAR_MIN else None
    tau = transit_template(time, shape.period, shape.t0, shape.t14, shape.impact, shape.rp_over_rs, exposure)
    if tau is None:
        return 0.0, 0.0
    parity = np.rint((time - shape.t0) / shape.period).astype(np.int64) % 2 == 1
    depths = []
    for part in (np.where(parity, tau, 0.0), np.where(parity, 0.0, tau)):
        proj = ml.project(part)
        if not proj.information > 0 or not np.any(part > 0):
            return 0.0, _secondary(ml, time, shape, exposure)
        depths.append((-float(proj.numerator) / float(proj.information), 1.0 / float(proj.information)))
    (d_o, v_o), (d_e, v_e) = depths
    return abs(d_o - d_e) / math.sqrt(v_o + v_e), _secondary(ml, time, shape, exposure)


def _secondary(ml: MarginalLikelihood, time: NDArray[np.float64], shape: TransitShape, exposure: float | None
               ) -> float:
    tau = transit_template(time, shape.period, shape.t0 + 0.5 * shape.period, shape.t14, shape.impact,
                           shape.rp_over_rs, exposure)
    if tau is None or not np.any(tau > 0):
        return 0.0
    proj = ml.project(tau)
    return -float(proj.numerator) / math.sqrt(float(proj.information)) if proj.information > 0 else 0.0
