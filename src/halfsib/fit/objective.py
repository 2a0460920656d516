"""The joint objective: ln L(transit, GP, jitter) with the regression weights marginalised exactly.

For relative flux y = flux/median − 1 on the fitted cadences and a transit model
m(θ) = F(t; θ) − 1 (batman, quadratic limb darkening, integrated over the exposure)::

    r = y − m(θ),   C(φ) = K_GP(φ) + diag(σ² + s²) + A Λ Aᵀ,
    ln L = −½ [rᵀ C⁻¹ r + ln|C| + N ln 2π]

with Λ (one prior variance per regressor group) fixed at the nuisance fit's values and the
GP parameters and jitter φ free. Clipped outliers stay excluded by the nuisance model's
variance inflation, and their normalisation is removed as in :mod:`halfsib.model`.

Two exact evaluation paths:

* **full** (any φ): one :class:`~halfsib.likelihood.MarginalLikelihood` build, O(N M (J² + M));
* **fixed noise** (φ held, only the transit moves): with α₀ = C⁻¹y and ln L₀ = ln L(m = 0),
  ln L(m) = ln L₀ + mᵀα₀ − ½ m_Wᵀ (C⁻¹)_WW m_W, where W holds every cadence the transit can
  touch. (C⁻¹)_WW is formed once (|W| solves); each evaluation is then O(|W|²) plus batman.
  A transit reaching outside W falls back to the full path, so both are the same function.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..design import DesignMatrix
from ..exceptions import DataValidationError, NotPositiveDefiniteError
from ..gp import StellarKernel
from ..likelihood import MarginalLikelihood
from ..model import SystematicsModel, fitted_objective
from ..results import DetrendResult
from ..timeseries import LightCurve
from ..transit import TransitParams, transit_duration
from ._model import model_flux, model_flux_rows, near_transits
from .parameters import ParameterSpace, TransitArrays

__all__ = ["Nuisance", "nuisance_from_fit", "JointObjective", "transit_windows"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: largest transit window (cadences) for which (C⁻¹)_WW is formed; beyond it each call solves once
MAX_WINDOW = 4000
#: the fixed-noise evaluator's cached cadence set starts again when a call needs less than this fraction of it
ACTIVE_SHRINK = 0.5
#: relative step of the transit-model central differences in the gradient (× the parameter scale)
MODEL_STEP = 1e-3


@dataclass(frozen=True, eq=False)
class Nuisance:
    """The fitted nuisance model on the fitted cadences.

    Attributes
    ----------
    time, y : ndarray
        Model-grid times [d] and relative flux y = flux/median − 1 (all good cadences).
    fitted : ndarray of bool
        Cadences that inform the fit (not clipped).
    objective : halfsib.model._Objective
        Builds the marginal likelihood for (GP log-parameters, ln λ per group).
    kernel : StellarKernel
    noise : ndarray
        The nuisance fit's GP log-parameters (with ln jitter).
    log_prior_variances : ndarray
        ln λ per regressor group, held fixed.
    noise_bounds : ndarray, shape (n_noise, 2)
    prior_variances : dict
        λ per group (for the outputs).
    normalisation : float
        Median raw flux.
    source : str
    target_fraction : float
        The share of the aperture's flux that is the target's (the file's ``CROWDSAP``, else
        1): a transit of the star dims the data by this fraction of its own depth.
    """

    time: FloatArray
    y: FloatArray
    fitted: NDArray[np.bool_]
    objective: Any
    kernel: StellarKernel
    noise: FloatArray
    log_prior_variances: FloatArray
    noise_bounds: FloatArray
    prior_variances: dict[str, float]
    normalisation: float
    source: str
    target_fraction: float = 1.0

    def build(self, noise: FloatArray) -> MarginalLikelihood:
        """The marginal likelihood (mean 0) at GP log-parameters ``noise``."""
        return self.objective.build(np.concatenate([noise, self.log_prior_variances]))

    @property
    def offset(self) -> float:
        """Normalisation of the excluded cadences, removed from ln L (as in the nuisance fit)."""
        return float(self.objective.offset)


def nuisance_from_fit(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel) -> Nuisance:
    """The nuisance model of a :func:`halfsib.model.detrend` fit, ready for the joint fit.

    Uses the fit's GP parameters, jitter, prior variance per group and clipped outliers; a
    transit mask given to the nuisance fit is *not* applied (the transit is modelled here).
    """
    result = fit.result if isinstance(fit, SystematicsModel) else fit
    objective, noise, lnlam = fitted_objective(lc, design, result)
    problem, kernel = objective.problem, objective.kernel
    use = ~problem.excluded
    bounds = kernel.bounds(problem.time[use], problem.y[use], problem.variance[use]) if kernel.n_parameters \
        else np.zeros((0, 2))
    noise = np.clip(noise, bounds[:, 0], bounds[:, 1]) if noise.size else noise
    return Nuisance(time=problem.time, y=problem.y, fitted=~problem.excluded, objective=objective, kernel=kernel,
                    noise=noise, log_prior_variances=np.asarray(lnlam, float), noise_bounds=bounds,
                    prior_variances=dict(result.prior_variances), normalisation=problem.normalisation,
                    source=lc.meta.source or "", target_fraction=lc.meta.target_fraction)


def transit_windows(time: FloatArray, params: TransitParams, half_width: float) -> NDArray[np.bool_]:
    """Cadences within ``half_width`` [d] of a mid-transit of ``params`` (any period; see
    :func:`~halfsib.fit._model.near_transits`)."""
    mask = np.zeros(time.size, bool)
    mask[near_transits(time, params.period, params.t0, half_width)] = True
    return mask


class _FixedNoise:
    """Exact ln L(m) at fixed noise parameters: ln L₀ + mᵀα₀ − ½ m_Wᵀ (C⁻¹)_WW m_W.

    The columns of (C⁻¹)_WW are computed when a model first reaches their cadence
    (:meth:`_active`), never for all of W at once: a sampler's transits cover a fraction
    of W, and each column costs a GP solve over all N cadences.
    With ``window`` None (W too large for the dense block (C⁻¹)_WW) only :meth:`full` is
    available: the factorisation and the design solves are still built once, so each call
    costs one GP solve and O(N M) instead of a rebuild.
    """

    def __init__(self, ml: MarginalLikelihood, offset: float, window: NDArray[np.int64] | None):
        self.ml = ml
        self.offset = offset
        self.window = window
        if window is None:
            return
        self.log_like0 = ml.log_likelihood() + offset
        self.alpha0 = ml.residual_inverse()
        self._column_of = np.full(window.size, -1, dtype=np.int64)  # W index -> column of _columns
        self._columns = np.zeros((window.size, 0))                   # (C⁻¹)_{W, j} for the computed j
        self._active_mask = np.zeros(window.size, bool)
        self._active_set: NDArray[np.int64] | None = None
        self._active_block = np.zeros((0, 0))

    @property
    def windowed(self) -> bool:
        """True when the dense window block exists (the O(|W|²) paths are available)."""
        return self.window is not None

    def __call__(self, m_window: FloatArray) -> float:
        return float(self.many(m_window[None, :])[0])

    def block(self, indices: NDArray[np.int64]) -> FloatArray:
        """(C⁻¹) between the window cadences ``indices`` (positions in W), symmetrised."""
        missing = indices[self._column_of[indices] < 0]
        if missing.size:
            assert self.window is not None
            new = self.ml.inverse_block(self.window, self.window[missing])
            self._column_of[missing] = self._columns.shape[1] + np.arange(missing.size)
            self._columns = np.hstack([self._columns, new])
        b = self._columns[indices][:, self._column_of[indices]]
        return 0.5 * (b + b.T)

    def _active(self, used: NDArray[np.int64]) -> tuple[NDArray[np.int64], FloatArray]:
        """A cached set of window cadences holding ``used``, and (C⁻¹) restricted to it.

        Successive calls (a sampler's steps, an optimiser's) put their transits on nearly
        the same cadences: the set grows to their union and the gathered block is reused
        until some call reaches outside it. When a call needs less than
        :data:`ACTIVE_SHRINK` of the set (an optimiser that tried long durations earlier),
        the set starts again from that call's cadences: each product costs O(|set|²).
        """
        if self._active_set is None or not self._active_mask[used].all():
            self._active_mask[used] = True
        elif used.size < ACTIVE_SHRINK * self._active_set.size:
            self._active_mask[:] = False
            self._active_mask[used] = True
        else:
            return self._active_set, self._active_block
        self._active_set = np.flatnonzero(self._active_mask)
        self._active_block = self.block(self._active_set)
        return self._active_set, self._active_block

    def many(self, m_window: FloatArray) -> FloatArray:
        """:meth:`__call__` for each row of ``m_window`` (shape (n, |W|)) with one matrix product.

        Only the cadences where some row's transit is non-zero enter (a sampler's walkers
        share their in-transit cadences, a fraction of W on a long light curve); see
        :meth:`_active`.
        """
        active, block = self._active(np.flatnonzero(np.any(m_window != 0.0, axis=0)))
        m = m_window[:, active]
        quad = np.einsum("ij,ij->i", m @ block, m)
        return self.log_like0 + m @ self.alpha0[self.window[active]] - 0.5 * quad

    def full(self, m: FloatArray) -> float:
        return self.ml.with_mean(m).log_likelihood() + self.offset


class JointObjective:
    """ln L and ln posterior of the joint model over a :class:`ParameterSpace` vector.

    Parameters
    ----------
    nuisance : Nuisance
    space : ParameterSpace
    exposure_time : float
        Exposure to integrate the transit over [d] (0: instantaneous).
    supersample : int or None
        Sub-exposures per exposure (``None``: one per 2 minutes).
    window_half_width : float
        Half-width [d] around the guessed transit times of the fixed-noise window W; narrowed
        (not below the reference transit's own half-width) until W holds at most
        :data:`MAX_WINDOW` cadences. Parameters whose transits leave W take the full path.
    reference : ndarray
        A vector whose transit defines the centre of W.
    """

    def __init__(self, nuisance: Nuisance, space: ParameterSpace, exposure_time: float, supersample: int | None,
                 window_half_width: float, reference: FloatArray):
        self.nuisance, self.space = nuisance, space
        self.exposure_time, self.supersample = float(exposure_time), supersample
        params = space.transit_params(reference)
        if params is None:
            raise DataValidationError(f"reference vector {reference.tolist()} is outside the parameter support")
        mask = transit_windows(nuisance.time, params, window_half_width)
        floor = 0.5 * transit_duration(params) + 0.5 * self.exposure_time + 2e-3
        while mask.sum() > MAX_WINDOW and window_half_width > floor:  # narrower W: the rest takes the full path
            window_half_width = max(floor, window_half_width * 0.8 * MAX_WINDOW / mask.sum())
            mask = transit_windows(nuisance.time, params, window_half_width)
        self.window = np.flatnonzero(mask).astype(np.int64)
        self._reference = params
        self._window_half_width = float(window_half_width)
        self._fixed: _FixedNoise | None = None
        self._fixed_noise: FloatArray | None = None
        self.n_evaluations = 0

    # ------------------------------------------------------------------ model
    def model(self, params: TransitParams, time: FloatArray | None = None) -> FloatArray:
        """Relative transit model on ``time`` (default: the fitted grid) as the data see it:
        f·(F − 1), with F the star's own transit and f the target's share of the aperture flux."""
        t = self.nuisance.time if time is None else time
        return self.nuisance.target_fraction * (model_flux(t, params, self.exposure_time or None, self.supersample) - 1.0)

    def _half_width(self, params: TransitParams) -> float:
        return 0.5 * transit_duration(params) + 0.5 * self.exposure_time + 2e-3

    def _fits_window(self, params: TransitParams) -> bool:
        """True if every transit of ``params`` within the data stays inside W (O(1) check).

        W holds the cadences within ``window_half_width`` of the reference transits
        t0_ref + n P_ref; transit n of ``params`` reaches at most |Δt0 + n ΔP| + half its duration
        from the reference centre, a linear function of n, so the extreme n decide.
        """
        reach = self._half_width(params)
        t_first, t_last = float(self.nuisance.time[0]), float(self.nuisance.time[-1])
        n_lo = math.ceil((t_first - reach - params.t0) / params.period)
        n_hi = math.floor((t_last + reach - params.t0) / params.period)
        if n_hi < n_lo:
            return True
        ref = self._reference
        shift = max(abs(params.t0 - ref.t0 + n * (params.period - ref.period)) for n in (n_lo, n_hi))
        return shift + reach <= self._window_half_width

    # ------------------------------------------------------------ likelihood
    def fixed_noise(self, noise: FloatArray) -> _FixedNoise | None:
        """The fixed-noise evaluator at ``noise`` (cached for the last one; None if K fails).

        When W holds more than :data:`MAX_WINDOW` cadences the evaluator has no window block
        and every call takes its full path (one GP solve, no rebuild).
        """
        if self._fixed_noise is not None and np.array_equal(noise, self._fixed_noise):
            return self._fixed
        try:
            window = self.window if self.window.size <= MAX_WINDOW else None
            fixed = _FixedNoise(self.nuisance.build(noise), self.nuisance.offset, window)
        except NotPositiveDefiniteError:
            return None
        self._fixed, self._fixed_noise = fixed, np.array(noise, copy=True)
        return fixed

    def log_likelihood(self, theta: FloatArray, *, use_fixed: bool = True, params: TransitParams | None = None
                       ) -> float:
        """ln L(θ); −inf outside the support or where the covariance is not positive definite.

        ``params``: θ's :class:`TransitParams` when the caller has them already.
        """
        params = self.space.transit_params(theta) if params is None else params
        if params is None:
            return -math.inf
        self.n_evaluations += 1
        noise = self.space.noise(theta)
        fixed = self._fixed if (self._fixed_noise is not None and np.array_equal(noise, self._fixed_noise)) else None
        try:
            if use_fixed and fixed is not None:
                if fixed.windowed and self._fits_window(params):
                    return _finite_or_neg_inf(fixed(self.model(params, self.nuisance.time[fixed.window])))
                return _finite_or_neg_inf(fixed.full(self.model(params)))
            ml = self.nuisance.build(noise).with_mean(self.model(params))
            return _finite_or_neg_inf(ml.log_likelihood() + self.nuisance.offset)
        except NotPositiveDefiniteError:
            return -math.inf

    def log_probability(self, theta: FloatArray) -> float:
        """ln p(θ) + ln L(θ) (up to a constant); −inf outside the support, never NaN."""
        params = self.space.transit_params(theta)
        if params is None:
            return -math.inf
        return self.space.log_prior_of(params) + self.log_likelihood(theta, params=params)

    def log_probability_many(self, thetas: FloatArray) -> FloatArray:
        """:meth:`log_probability` of every row of ``thetas`` (shape (n, n_parameters)).

        Rows at the cached fixed noise whose transits stay inside W share one vectorised
        parameter transform and one matrix product (emcee's ``vectorize=True``); any other
        row takes the scalar path, so the values equal :meth:`log_probability` row by row.
        """
        thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
        out = np.full(thetas.shape[0], -math.inf)
        arrays = self.space.transit_arrays(thetas)
        fast = self._fast_rows(thetas, arrays)
        if fast.size:
            fixed = self._fixed
            models = self.nuisance.target_fraction * (model_flux_rows(
                self.nuisance.time[fixed.window], arrays, fast, self.exposure_time or None, self.supersample) - 1.0)
            values = fixed.many(models)
            out[fast] = np.where(np.isfinite(values), values, -math.inf) + self.space.log_prior_arrays(arrays)[fast]
            self.n_evaluations += int(fast.size)
        slow = arrays.valid.copy()
        slow[fast] = False
        for i in np.flatnonzero(slow):
            out[i] = self.log_probability(thetas[i])
        return out

    def _fast_rows(self, thetas: FloatArray, arrays: TransitArrays) -> NDArray[np.int64]:
        """Valid rows at the cached fixed noise whose every transit stays inside W (:meth:`_fits_window`)."""
        if self._fixed is None or self._fixed_noise is None or not self._fixed.windowed:
            return np.zeros(0, np.int64)
        ok = arrays.valid.copy()
        if self.space.fits_noise:
            ok &= np.all(thetas[:, self.space.n_transit:] == self._fixed_noise, axis=1)
        rows = np.flatnonzero(ok)
        if rows.size == 0:
            return rows
        period, t0 = arrays.period[rows], arrays.t0[rows]
        reach = 0.5 * arrays.duration[rows] + 0.5 * self.exposure_time + 2e-3
        t_first, t_last = float(self.nuisance.time[0]), float(self.nuisance.time[-1])
        n_lo = np.ceil((t_first - reach - t0) / period)
        n_hi = np.floor((t_last + reach - t0) / period)
        ref = self._reference
        shift = np.maximum(np.abs(t0 - ref.t0 + n_lo * (period - ref.period)),
                           np.abs(t0 - ref.t0 + n_hi * (period - ref.period)))
        inside = (n_hi < n_lo) | (shift + reach <= self._window_half_width)
        return rows[inside]

    def log_likelihood_and_gradient(self, theta: FloatArray, *, transit: bool = True) -> tuple[float, FloatArray]:
        """ln L and ∂ln L/∂θ by the full path (for the joint optimiser).

        Transit entries: (∂m/∂θ)ᵀ C⁻¹ r with ∂m/∂θ from central differences of the model
        (one-sided at the box bounds). Noise entries: the nuisance model's analytic GP
        gradient (:meth:`MarginalLikelihood.gradient_kernel`). ``transit=False`` leaves the transit
        entries 0 (for noise-only steps). ``(-inf, 0)`` outside the support.
        """
        grad = np.zeros(self.space.n_parameters)
        params = self.space.transit_params(theta)
        if params is None:
            return -math.inf, grad
        noise = self.space.noise(theta)
        try:
            ml = self.nuisance.build(noise).with_mean(self.model(params))
            value = ml.log_likelihood() + self.nuisance.offset
            alpha = ml.residual_inverse()
            if transit:
                grad[: self.space.n_transit] = self._transit_gradient(theta, alpha)
            if self.space.fits_noise:
                derivs = self.nuisance.objective.kernel_derivatives(noise, ml)
                grad[self.space.n_transit:] = ml.gradient_kernel(derivs)
        except NotPositiveDefiniteError:
            return -math.inf, np.zeros_like(grad)
        self.n_evaluations += 1
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            return -math.inf, np.zeros_like(grad)
        return value, grad

    def _transit_gradient(self, theta: FloatArray, alpha: FloatArray) -> FloatArray:
        space = self.space
        centre = space.transit_params(theta)
        out = np.zeros(space.n_transit)
        for i in range(space.n_transit):
            h = MODEL_STEP * space.scales[i]
            up, down = theta.copy(), theta.copy()
            up[i] = min(theta[i] + h, space.upper[i])
            down[i] = max(theta[i] - h, space.lower[i])
            p_up, p_down = space.transit_params(up), space.transit_params(down)
            if p_up is None:  # one-sided next to a constraint (b = 1 + k, e = 0.9)
                up, p_up = theta, centre
            if p_down is None:
                down, p_down = theta, centre
            if up[i] == down[i]:
                continue
            dm = (self.model(p_up) - self.model(p_down)) / (up[i] - down[i])
            out[i] = float(dm @ alpha)
        return out

    def components(self, theta: FloatArray) -> dict[str, FloatArray]:
        """Posterior means at θ on the fitted grid: transit, systematics, stellar, residual (relative)."""
        params = self.space.transit_params(theta)
        if params is None:
            raise DataValidationError("components() needs a vector inside the parameter support")
        ml = self.nuisance.build(self.space.noise(theta)).with_mean(self.model(params))
        parts = ml.predict()
        return {"transit": parts.mean, "systematics": parts.systematics, "stellar": parts.stellar,
                "residual": parts.residual}

    def prior_variance_gradient(self, theta: FloatArray) -> dict[str, float]:
        """∂ln L/∂ln λ_g at θ: how far the held prior variances are from their joint optimum."""
        params = self.space.transit_params(theta)
        if params is None:
            return {}
        ml = self.nuisance.build(self.space.noise(theta)).with_mean(self.model(params))
        try:
            return ml.gradient_log_prior_variances() if ml.n_columns else {}
        except Exception:  # flat groups have no gradient; the diagnostic is then not available
            return {}


def _finite_or_neg_inf(value: float) -> float:
    return value if math.isfinite(value) else -math.inf
