"""The half-sibling systematics model: hyper-parameters fitted by maximum marginal likelihood.

:class:`SystematicsModel` takes a light curve and a :class:`~halfsib.design.DesignMatrix`
and fits, by maximising the exact marginal likelihood (:mod:`halfsib.likelihood`), one
prior variance per regressor group, the stellar-variability GP and a white-noise jitter.
The result (:class:`~halfsib.results.DetrendResult`) holds the posterior mean of each
component, the corrected flux, and the leakage curve: the fraction of a unit box at each
cadence that the fitted model would absorb.

Cadences that must not inform the fit (given transit windows, clipped outliers, the
held-out chunk) stay in the model with their noise variance inflated by a factor
``EXCLUDE_INFLATION``: the fit ignores them (to ~1e-9 relative) while the posterior means
at those cadences are the exact predictions from the other cadences.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.stats import mad_std
from numpy.typing import NDArray
from scipy import optimize

from ._blas import blas_threads
from .design import DesignMatrix
from .exceptions import ConfigurationError, DataValidationError, NotFittedError, NotPositiveDefiniteError
from .gp import KERNEL_KINDS, StellarKernel, factorize
from .likelihood import MarginalLikelihood
from .results import DetrendResult, leakage_curves
from .timeseries import LightCurve

__all__ = ["DetrendConfig", "SystematicsModel", "detrend", "transit_window_mask", "white_variance",
           "heldout_precision", "HeldoutPrecision", "heldout_scatter", "heldout_cdpp", "EXCLUDE_INFLATION", "ESTIMATED_ERROR_FLOOR", "HELDOUT_DURATION"]

log = logging.getLogger(__name__)

#: excluded cadences get their noise variance multiplied up to this many times the data variance
EXCLUDE_INFLATION = 1e10
#: step in the GP log-parameters for the central differences of the kernel (not of ln L)
KERNEL_STEP = 1e-4
#: forward step in the GP log-parameters for ∂K/∂θ v (shares K_GP(θ) v between parameters)
FORWARD_STEP = 1e-6
#: the optimiser stops when an iteration improves ln L by less than this
LNL_TOLERANCE = 0.1
#: iterations allowed when refitting after clipping (the start is already close)
REFIT_MAXITER = 15
#: fewest cadences the model accepts
MIN_MODEL_CADENCES = 50
#: When the file had no uncertainties (``LightCurve.flux_err_estimated``, e.g. K2SFF) the
#: estimated σ only enters at this fraction and the fitted jitter supplies the rest, so the
#: white noise is fitted, not fixed: the scatter estimate of raw K2 flux is 1.1–1.6× the
#: white noise and a fixed floor there inflates every depth error by as much (K2-136 b).
ESTIMATED_ERROR_FLOOR = 0.25
#: A cadence this many robust sigmas (of the point-to-point scatter) away from its two
#: neighbours, which agree with each other, is a wild cadence (a cosmic ray, a read-out
#: glitch, a 1e30 fill value): it is clipped before the fit and its value is never used.
#: A transit or eclipse spans several cadences and is never isolated like this.
WILD_CADENCE_SIGMA = 30.0
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class DetrendConfig:
    """Settings of the systematics fit.

    Attributes
    ----------
    kernel : {"sho", "rotation", "matern32", "none"}
        Stellar-variability GP (celerite2); ``"none"`` fits white noise only.
    fit_jitter : bool
        Fit an extra white-noise term added in quadrature to the errors.
    clip_sigma : float
        Outlier threshold on normalised residuals (robust sigma); 0 disables clipping.
        Only high outliers (cosmic rays, flares' peaks) are clipped: a dip is what the
        search looks for, so low points are never removed here.
    clip_iterations : int
        Maximum number of fit → clip → refit rounds.
    holdout_chunks : int
        0: the systematics at every cadence come from one fit to all of them.
        k > 1: the fitted cadences are split into k contiguous chunks and each chunk's
        systematics and stellar signal are predicted exactly from the other chunks, the
        hyper-parameters held (the causal pixel model's hold-out), so the model never sees
        the data it corrects.
    holdout_hours : float
        0: off. > 0: the fitted cadences are cut into consecutive blocks of this many hours
        and each block's systematics and stellar signal are predicted exactly from every
        *other* cadence, the hyper-parameters held (:meth:`MarginalLikelihood.heldout_weights`):
        a transit shorter than a block is not absorbed by the correction of its own data.
        With short blocks, unlike a few long chunks, the rest of each motion window still
        trains its terms.
    leakage_duration : float
        Box duration [hours] of the leakage curve.
    maxiter : int
        Maximum optimiser iterations per fit.
    prior_variance_range : tuple of float
        Bounds of each group's prior variance, relative to the variance of the data.
    gp_timescale_range : tuple of float or None
        Bounds [days] on the GP time scale ρ (``"sho"``, ``"matern32"``) or the rotation
        period (``"rotation"``), intersected with the data-driven bounds; ``None``: those alone
        (2 cadences to 10 baselines).
    gp_amplitude_max : float or None
        Upper bound on the GP amplitude σ relative to the robust standard deviation of the
        data (``None``: 100, the data-driven bound).
    blas_threads : int or None
        BLAS threads during the fit (``None``: leave the library's setting). Default 1: the
        matrices are small, halfsib parallelises over targets, and multi-threaded OpenBLAS
        on a busy machine was measured 17-60x slower (one K2 target: 2 s vs 34-122 s).
    """

    kernel: str = "sho"
    fit_jitter: bool = True
    clip_sigma: float = 5.0
    clip_iterations: int = 3
    holdout_chunks: int = 0
    holdout_hours: float = 0.0
    leakage_duration: float = 3.0
    maxiter: int = 200
    prior_variance_range: tuple[float, float] = (1e-10, 1e2)
    gp_timescale_range: tuple[float, float] | None = None
    gp_amplitude_max: float | None = None
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.kernel not in KERNEL_KINDS:
            raise ConfigurationError(f"kernel={self.kernel!r}: choose one of {KERNEL_KINDS}")
        if not (self.clip_sigma == 0 or self.clip_sigma >= 2):
            raise ConfigurationError(f"clip_sigma={self.clip_sigma}: use 0 (off) or a value >= 2")
        if self.clip_iterations < 0 or self.maxiter < 1:
            raise ConfigurationError("clip_iterations must be >= 0 and maxiter >= 1")
        if self.holdout_chunks == 1 or self.holdout_chunks < 0:
            raise ConfigurationError(f"holdout_chunks={self.holdout_chunks}: use 0 (off) or at least 2")
        if not (math.isfinite(self.holdout_hours) and self.holdout_hours >= 0):
            raise ConfigurationError(f"holdout_hours={self.holdout_hours}: use 0 (off) or a block length > 0 hours")
        if self.holdout_hours and self.holdout_chunks:
            raise ConfigurationError("holdout_hours and holdout_chunks are two hold-out schemes; set one of them")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise ConfigurationError(f"blas_threads={self.blas_threads}: use None or an integer >= 1")
        if not self.leakage_duration > 0:
            raise ConfigurationError(f"leakage_duration={self.leakage_duration} h must be > 0")
        if self.gp_timescale_range is not None:
            a, b = self.gp_timescale_range
            if not (math.isfinite(a) and math.isfinite(b) and 0 < a < b):
                raise ConfigurationError(f"gp_timescale_range={self.gp_timescale_range} days must satisfy 0 < low < high")
        if self.gp_amplitude_max is not None and not (math.isfinite(self.gp_amplitude_max)
                                                      and self.gp_amplitude_max > 0):
            raise ConfigurationError(f"gp_amplitude_max={self.gp_amplitude_max} must be a finite number > 0")
        lo, hi = self.prior_variance_range
        if not 0 < lo < hi:
            raise ConfigurationError(f"prior_variance_range={self.prior_variance_range} must satisfy 0 < low < high")


def transit_window_mask(time: NDArray[np.float64], period: float, t0: float, duration: float,
                        factor: float = 1.5) -> NDArray[np.bool_]:
    """True on cadences within ``factor`` × ``duration`` [hours] of a transit centre.

    ``period`` and ``t0`` in days (same time system as ``time``); ``period <= 0`` or
    ``inf`` masks a single event at ``t0``.
    """
    half = 0.5 * factor * duration / 24.0
    if not np.isfinite(period) or period <= 0:
        return np.abs(time - t0) < half
    phase = np.mod(time - t0 + 0.5 * period, period) - 0.5 * period
    return np.abs(phase) < half


@dataclass
class _Problem:
    """The fit's arrays on the model grid (the light curve's good cadences)."""

    index: NDArray[np.int64]
    time: NDArray[np.float64]
    y: NDArray[np.float64]
    variance: NDArray[np.float64]
    design: DesignMatrix
    matrix: NDArray[np.float64]
    normalisation: float
    masked: NDArray[np.bool_]
    clipped: NDArray[np.bool_] = field(default=None)  # type: ignore[assignment]
    #: where the fitted jitter starts [relative flux] (None: the kernel's default, 10 % of the errors)
    jitter_start: float | None = None

    def __post_init__(self) -> None:
        if self.clipped is None:
            self.clipped = np.zeros(self.y.size, bool)

    @property
    def excluded(self) -> NDArray[np.bool_]:
        return self.masked | self.clipped

    def effective_variance(self) -> NDArray[np.float64]:
        excluded = self.excluded
        big = EXCLUDE_INFLATION * (float(np.var(self.y[~excluded])) + float(np.median(self.variance)))
        return np.where(excluded, self.variance + big, self.variance)


def white_variance(lc: LightCurve, index: NDArray[np.int64], normalisation: float, fit_jitter: bool
                   ) -> NDArray[np.float64]:
    """The fixed white-noise variance [relative flux²] at ``index``, to which the fitted jitter² is added.

    The file's errors², or — when they were estimated from the scatter and a jitter is fitted —
    ``(ESTIMATED_ERROR_FLOOR · σ)²``, which leaves the white-noise level to the fit.
    """
    err = lc.flux_err[index] / normalisation
    if lc.flux_err_estimated and fit_jitter:
        err = ESTIMATED_ERROR_FLOOR * err
    return err**2


def wild_cadences(flux: NDArray[np.float64], sigma: float = WILD_CADENCE_SIGMA) -> NDArray[np.bool_]:
    """Isolated single cadences far from both neighbours (see :data:`WILD_CADENCE_SIGMA`).

    Parameters
    ----------
    flux : ndarray, shape (n,)
        Fluxes of consecutive good cadences (any units, finite).
    sigma : float
        Threshold in robust sigmas of ``flux[i] - (flux[i-1] + flux[i+1]) / 2``.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where cadence ``i`` is more than ``sigma`` robust sigmas from the mean of its
        neighbours while the two neighbours differ by less than a quarter of that step
        (the end cadences compare with the next two). Both high and low outliers count.
    """
    y = np.asarray(flux, float)
    wild = np.zeros(y.size, bool)
    if y.size < 5:
        return wild
    step = y[1:-1] - 0.5 * (y[:-2] + y[2:])
    scale = float(mad_std(step))
    if not scale > 0:
        return wild
    limit = sigma * scale
    wild[1:-1] = (np.abs(step) > limit) & (np.abs(y[2:] - y[:-2]) < 0.25 * np.abs(step))
    for end, near, far in ((0, 1, 2), (-1, -2, -3)):
        jump = abs(y[end] - y[near])
        wild[end] = jump > limit and abs(y[near] - y[far]) < 0.25 * jump
    return wild


def _prepare(lc: LightCurve, design: DesignMatrix, transit_mask: NDArray[np.bool_] | None,
             fit_jitter: bool) -> _Problem:
    source = lc.meta.source
    if design.matrix.shape[0] != lc.n_cadences:
        raise DataValidationError(f"design has {design.matrix.shape[0]} rows but the light curve has "
                                  f"{lc.n_cadences} cadences; build it on the target's cadences", source)
    index = np.flatnonzero(lc.good)
    if index.size < MIN_MODEL_CADENCES:
        raise DataValidationError(f"only {index.size} good cadences; the model needs at least "
                                  f"{MIN_MODEL_CADENCES}", source)
    flux = lc.flux[index].copy()
    wild = wild_cadences(flux)
    if wild.any():  # never used: the value is replaced by its neighbours' mean, the cadence clipped
        log.info("%s: %d wild cadence(s) clipped before the fit (at t = %s)", source, int(wild.sum()),
                 ", ".join(f"{t:.4f}" for t in lc.time[index][wild][:5]))
        flux[wild] = np.interp(np.flatnonzero(wild), np.flatnonzero(~wild), flux[~wild])
    norm = float(np.median(flux))
    if not norm > 0:
        raise DataValidationError(f"median flux is {norm}; halfsib normalises by it, so it must be positive "
                                  "(a background-subtracted flux near zero cannot be modelled in relative units)",
                                  source)
    masked = np.zeros(index.size, bool)
    if transit_mask is not None:
        tm = np.asarray(transit_mask, bool)
        if tm.shape != (lc.n_cadences,):
            raise DataValidationError(f"transit_mask has shape {tm.shape}, expected ({lc.n_cadences},)", source)
        masked = tm[index]
    if np.count_nonzero(~masked) < MIN_MODEL_CADENCES:
        raise DataValidationError("the transit mask leaves fewer than "
                                  f"{MIN_MODEL_CADENCES} cadences to fit; shorten the masked windows", source)
    variance = white_variance(lc, index, norm, fit_jitter)
    jitter_start = None
    if lc.flux_err_estimated and fit_jitter:  # start where the estimate puts the white noise: σ² = floor² + s²
        floor = ESTIMATED_ERROR_FLOOR
        jitter_start = math.sqrt((1.0 - floor**2) * float(np.median(variance))) / floor
    return _Problem(index=index, time=lc.time[index], y=flux / norm - 1.0, variance=variance,
                    jitter_start=jitter_start,
                    design=design, matrix=design.rows(index), normalisation=norm, masked=masked, clipped=wild)


class _Objective:
    """−ln L and its gradient over (GP log-parameters, ln λ per group)."""

    def __init__(self, problem: _Problem, kernel: StellarKernel, variance: NDArray[np.float64]):
        self.problem, self.kernel, self.variance = problem, kernel, variance
        self.groups = {name: sl for name, sl in problem.design.groups.items()}
        self.n_gp = kernel.n_parameters
        excluded = problem.excluded
        # the excluded cadences' own normalisation, removed so ln L refers to the fitted cadences
        self.offset = 0.5 * float(np.sum(_LOG_2PI + np.log(variance[excluded])))
        self._last: tuple[bytes, MarginalLikelihood] | None = None

    def build(self, theta: NDArray[np.float64]) -> MarginalLikelihood:
        """The likelihood at ``theta``; the last one built is kept (the optimiser's final point
        is built again by its caller)."""
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        ml = self._build(theta)
        self._last = (key, ml)
        return ml

    def _build(self, theta: NDArray[np.float64]) -> MarginalLikelihood:
        gp, lnlam = theta[: self.n_gp], theta[self.n_gp:]
        prior = {name: float(np.exp(v)) for name, v in zip(self.groups, lnlam)}
        p = self.problem
        return MarginalLikelihood.from_stellar_kernel(
            self.kernel, gp, p.time, p.y, self.variance, design=p.matrix,
            prior_variance=prior if prior else None, groups=self.groups if self.groups else None)

    def value(self, theta: NDArray[np.float64]) -> float:
        try:
            return -(self.build(theta).log_likelihood() + self.offset)
        except NotPositiveDefiniteError:
            return math.inf

    def __call__(self, theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        grad = np.zeros_like(theta)
        try:
            ml = self.build(theta)
            f0 = -(ml.log_likelihood() + self.offset)
            if self.groups:
                g = ml.gradient_log_prior_variances()
                grad[self.n_gp:] = [-g[name] for name in self.groups]
            grad[: self.n_gp] = -ml.gradient_kernel(self.kernel_derivatives(theta[: self.n_gp], ml))
        except NotPositiveDefiniteError:
            return 1e30, grad
        return f0, grad

    def kernel_derivatives(self, gp: NDArray[np.float64], ml: MarginalLikelihood) -> list[tuple[Any, float]]:
        """(v ↦ ∂K/∂θ v, ∂ ln|K|/∂θ) per GP log-parameter.

        K_GP scales as σ², so ∂K/∂ln σ = 2 K_GP exactly; the jitter's is 2 s² I; the other
        parameters use a forward difference of the kernel (step ``FORWARD_STEP``) that shares
        the product K_GP(θ) v with ln σ (cached for the last ``v``). ∂ ln|K| comes from central
        differences of the O(N J²) factorisation. The design is never touched: O(N M J) per
        parameter.
        """
        eps = KERNEL_STEP
        time = self.problem.time
        jitter = self.kernel.jitter(gp)
        variance = self.variance + jitter**2
        base = _CachedProduct(ml.covariance_factor)
        out = []
        for i, name in enumerate(self.kernel.parameter_names):
            if name == "ln_jitter":  # K = K_GP + diag(v + s²): ∂K/∂ln s = 2 s² I
                up = factorize(time, self.variance + (jitter * math.exp(eps)) ** 2, self.kernel.term(gp))
                down = factorize(time, self.variance + (jitter * math.exp(-eps)) ** 2, self.kernel.term(gp))
                out.append((lambda v, s2=jitter**2: 2.0 * s2 * v, (up.log_det - down.log_det) / (2 * eps)))
                continue
            step = np.zeros_like(gp)
            step[i] = eps
            up = factorize(time, variance, self.kernel.term(gp + step))
            down = factorize(time, variance, self.kernel.term(gp - step))
            dlogdet = (up.log_det - down.log_det) / (2 * eps)
            if name == "ln_sigma":
                out.append((lambda v: 2.0 * base(v), dlogdet))
                continue
            step[i] = FORWARD_STEP
            ahead = factorize(time, variance, self.kernel.term(gp + step))
            out.append((lambda v, ahead=ahead: (ahead.dot_gp(v) - base(v)) / FORWARD_STEP, dlogdet))
        return out


class _CachedProduct:
    """v ↦ K_GP v, remembering the last input array (the gradient passes one array to every parameter)."""

    def __init__(self, factor: Any):
        self.factor = factor
        self._last: tuple[Any, NDArray[np.float64]] | None = None

    def __call__(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        if self._last is None or self._last[0] is not v:
            self._last = (v, self.factor.dot_gp(v))
        return self._last[1]


def _bounds_and_start(problem: _Problem, config: DetrendConfig, kernel: StellarKernel,
                      start: NDArray[np.float64] | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    use = ~problem.excluded
    t, y, v = problem.time[use], problem.y[use], problem.variance[use]
    var_y = max(float(np.var(y)), float(np.median(v)))
    lo, hi = config.prior_variance_range
    n_groups = len(problem.design.groups)
    gp_bounds = np.asarray(_gp_bounds(kernel, config, t, y, v), dtype=float).reshape(-1, 2)  # (0, 2): no GP parameter
    bounds = np.vstack([gp_bounds, np.tile([math.log(lo * var_y), math.log(hi * var_y)], (n_groups, 1))])
    if start is None:
        sizes = [sl.stop - sl.start for sl in problem.design.groups.values()]
        lam0 = [math.log(0.3 * var_y / max(m, 1)) for m in sizes]
        gp0 = kernel.initial_parameters(t, y, v)
        if problem.jitter_start and "ln_jitter" in kernel.parameter_names:
            gp0[kernel.parameter_names.index("ln_jitter")] = math.log(problem.jitter_start)
        start = np.concatenate([gp0, lam0])
    return bounds, np.clip(start, bounds[:, 0] + 1e-9, bounds[:, 1] - 1e-9)


def _gp_bounds(kernel: StellarKernel, config: DetrendConfig, t: NDArray[np.float64], y: NDArray[np.float64],
               v: NDArray[np.float64]) -> NDArray[np.float64]:
    """The kernel's data-driven log bounds, narrowed by ``gp_timescale_range`` and ``gp_amplitude_max``."""
    bounds = kernel.bounds(t, y, v)
    names = kernel.parameter_names
    if config.gp_timescale_range is not None:
        for name in ("ln_rho", "ln_period"):
            if name in names:
                k = names.index(name)
                lo, hi = np.log(config.gp_timescale_range)
                bounds[k] = [min(max(bounds[k, 0], lo), hi - 1e-3), max(min(bounds[k, 1], hi), lo + 1e-3)]
    if config.gp_amplitude_max is not None and "ln_sigma" in names:
        k = names.index("ln_sigma")
        sd = max(float(mad_std(y)), 1e-150)
        bounds[k, 1] = max(min(bounds[k, 1], math.log(config.gp_amplitude_max * sd)), bounds[k, 0] + 1e-3)
    return bounds


def _fit_hyperparameters(problem: _Problem, config: DetrendConfig, start: NDArray[np.float64] | None,
                         maxiter: int | None = None, hold_gp: bool = False
                         ) -> tuple[NDArray[np.float64], MarginalLikelihood, StellarKernel, int]:
    """Maximise ln L over the GP parameters and the λ_g, or over the λ_g alone with ``hold_gp``
    (see :func:`_fit_all`)."""
    kernel = StellarKernel(config.kernel, fit_jitter=config.fit_jitter)
    return _fit_all(problem, config, kernel, start, maxiter, hold_gp)


def _fit_all(problem: _Problem, config: DetrendConfig, kernel: StellarKernel, start: NDArray[np.float64] | None,
             maxiter: int | None, hold_gp: bool = False
             ) -> tuple[NDArray[np.float64], MarginalLikelihood, StellarKernel, int]:
    bounds, start = _bounds_and_start(problem, config, kernel, start)
    objective = _Objective(problem, kernel, problem.effective_variance())
    if problem.design.groups:  # stage 1: prior variances alone, reusing one set of GP solves (cheap)
        start = _fit_prior_variances(objective, start, bounds)
    if hold_gp:  # the GP and jitter stay where they started: stage 1 was the whole fit
        return start, objective.build(start), kernel, 0
    # stage 2: everything; stop when an iteration gains less than LNL_TOLERANCE in ln L
    scale = max(abs(objective.value(start)), 1.0)
    solution = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                 options={"maxiter": maxiter or config.maxiter, "ftol": LNL_TOLERANCE / scale})
    if not np.isfinite(solution.fun) or solution.fun >= 1e29:
        raise NotPositiveDefiniteError(
            f"{problem.design.group_names}: no hyper-parameters gave a positive-definite model; "
            "check the regressors for duplicated or constant columns")
    log.debug("hyper-parameter fit: %s after %d iterations (%s)", solution.fun, solution.nit, solution.message)
    return solution.x, objective.build(solution.x), kernel, int(solution.nit)


def _fit_prior_variances(objective: _Objective, theta: NDArray[np.float64], bounds: NDArray[np.float64]
                         ) -> NDArray[np.float64]:
    """Maximise ln L over the ln λ_g with the GP fixed: O(M³) per step, analytic gradient."""
    n_gp = objective.n_gp
    try:
        base = objective.build(theta)
    except NotPositiveDefiniteError:
        return theta
    names = list(objective.groups)

    def negative(lnlam: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        try:
            ml = base.with_prior_variance({n: float(np.exp(v)) for n, v in zip(names, lnlam)})
            g = ml.gradient_log_prior_variances()
            return -(ml.log_likelihood() + objective.offset), -np.array([g[n] for n in names])
        except NotPositiveDefiniteError:
            return 1e30, np.zeros_like(lnlam)

    scale = max(abs(negative(theta[n_gp:])[0]), 1.0)
    solution = optimize.minimize(negative, theta[n_gp:], jac=True, method="L-BFGS-B", bounds=bounds[n_gp:],
                                 options={"maxiter": 200, "ftol": 1e-4 / scale})
    return np.concatenate([theta[:n_gp], solution.x]) if np.isfinite(solution.fun) and solution.fun < 1e29 else theta


def _new_outliers(problem: _Problem, ml: MarginalLikelihood, jitter: float, clip_sigma: float) -> NDArray[np.bool_]:
    """Fitted cadences whose normalised residual exceeds +clip_sigma robust sigma (high side only)."""
    residual = ml.predict().residual
    z = residual / np.sqrt(problem.variance + jitter**2)
    fitted = ~problem.excluded
    scale = float(mad_std(z[fitted]))
    return (z / max(scale, 1e-12) > clip_sigma) & fitted


def _preclip(problem: _Problem, config: DetrendConfig, start: NDArray[np.float64] | None = None
             ) -> NDArray[np.float64] | None:
    """Clip outliers with the cheap prior-variance fit (GP at its start), before the full fit.

    Each round costs one set of GP solves and O(M³) steps, against a full hyper-parameter
    refit; the full fit then starts from these prior variances. ``start``: the GP and prior
    variances to begin from (a warm start; default the data-driven start). Returns the start
    vector (``start`` unchanged when the model has no regressor groups: the full fit then
    clips as before).
    """
    if not problem.design.groups:
        return start
    kernel = StellarKernel(config.kernel, fit_jitter=config.fit_jitter)
    bounds, theta = _bounds_and_start(problem, config, kernel, start)
    for _ in range(config.clip_iterations):
        objective = _Objective(problem, kernel, problem.effective_variance())
        theta = _fit_prior_variances(objective, theta, bounds)
        try:
            ml = objective.build(theta)
        except NotPositiveDefiniteError:
            return None
        new = _new_outliers(problem, ml, kernel.jitter(theta[: kernel.n_parameters]), config.clip_sigma)
        if not new.any():
            break
        problem.clipped |= new
    return theta


def heldout_components(blocks: list[NDArray[np.int64]], matrix: NDArray[np.float64], groups: Mapping[str, slice],
                       ml: MarginalLikelihood,
                       in_sample: tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]]
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Systematics, stellar signal and each group's part, every block of model-grid cadences
    predicted exactly from all the other cadences, the hyper-parameters held
    (``DetrendConfig.holdout_hours`` and ``holdout_chunks``). ``matrix``: the design's rows on
    the model grid, ``groups``: its column slices.

    With e_s the block's held-out residual and w' the weights' posterior mean without it
    (:meth:`MarginalLikelihood.heldout_weights`): systematics A_s w', group g A_{s,g} w'_g,
    stellar r_s − A_s w' − e_s (the held-out prediction of r_s is their sum). Cadences in no
    block keep ``in_sample``'s values.
    """
    systematics, stellar = in_sample[0].copy(), in_sample[1].copy()
    parts = {name: values.copy() for name, values in in_sample[2].items()}
    r = ml.predict()
    resid = r.systematics + r.stellar + r.residual  # y − mean
    for block, (e, w) in zip(blocks, ml.heldout_weights(blocks)):
        rows = matrix[block]
        systematics[block] = rows @ w
        stellar[block] = resid[block] - systematics[block] - e
        for name, cols in groups.items():
            parts[name][block] = rows[:, cols] @ w[cols]
    return systematics, stellar, parts


def fitted_objective(lc: LightCurve, design: DesignMatrix, fit: Any, *, keep_mask: bool = False
                     ) -> tuple[_Objective, NDArray[np.float64], NDArray[np.float64]]:
    """Rebuild a fit's objective on its cadences, by default without its transit mask (for the
    search and the joint fit, which model the transits themselves).

    Returns the objective (its ``problem`` has the fit's clipped outliers excluded, and its
    masked cadences too with ``keep_mask``), the fitted GP/jitter parameters (empty without
    any) and the fitted ln prior variances.

    Raises
    ------
    DataValidationError
        When ``fit`` was made on other cadences or another design than ``lc``/``design``.
    """
    result = fit.result if isinstance(fit, SystematicsModel) else fit
    problem = _prepare(lc, design, None, result.config.fit_jitter)
    if problem.time.shape != result.time.shape or not np.array_equal(problem.time, result.time):
        raise DataValidationError("the fit was made on other cadences than this light curve's good ones; "
                                  "pass the light curve and design that were fitted", lc.meta.source)
    if set(design.groups) != set(result.prior_variances):
        raise DataValidationError(f"design groups {sorted(design.groups)} differ from the fit's "
                                  f"{sorted(result.prior_variances)}", lc.meta.source)
    problem.clipped = np.asarray(result.clipped, bool).copy()
    if keep_mask:
        problem.masked = np.asarray(result.masked, bool).copy()
    kernel = StellarKernel(result.config.kernel, fit_jitter=result.config.fit_jitter)
    gp = kernel.pack(**result.hyperparameters) if kernel.n_parameters else np.zeros(0)
    lnlam = np.log([result.prior_variances[name] for name in design.groups])
    return _Objective(problem, kernel, problem.effective_variance()), np.asarray(gp, float), np.asarray(lnlam, float)


def _warm_start(problem: _Problem, config: DetrendConfig, previous: DetrendResult) -> NDArray[np.float64]:
    """The start vector from a previous fit of the same cadences: its GP parameters and jitter,
    and its prior variance for every group the two designs share (groups new to this design
    start where a cold fit would). Its clipped outliers are not carried over."""
    if (previous.config.kernel, previous.config.fit_jitter) != (config.kernel, config.fit_jitter):
        raise ConfigurationError(f"start: a fit with kernel {previous.config.kernel!r} (fit_jitter="
                                 f"{previous.config.fit_jitter}), not {config.kernel!r} ({config.fit_jitter})")
    if previous.time.shape != problem.time.shape or not np.array_equal(previous.time, problem.time):
        raise DataValidationError("start: the fit was made on other cadences than this light curve's good ones")
    kernel = StellarKernel(config.kernel, fit_jitter=config.fit_jitter)
    _, cold = _bounds_and_start(problem, config, kernel, None)
    gp = kernel.pack(**previous.hyperparameters) if kernel.n_parameters else np.zeros(0)
    lnlam = [math.log(previous.prior_variances[name]) if previous.prior_variances.get(name, 0.0) > 0
             else cold[kernel.n_parameters + i] for i, name in enumerate(problem.design.groups)]
    return np.concatenate([np.asarray(gp, float), np.asarray(lnlam, float)])


class SystematicsModel:
    """Fit the half-sibling model to one light curve.

    Parameters
    ----------
    config : DetrendConfig
        Settings (kernel, clipping, hold-out, leakage duration).

    Examples
    --------
    >>> model = SystematicsModel(DetrendConfig(kernel="sho"))    # doctest: +SKIP
    >>> result = model.fit(lc, design).result_                   # doctest: +SKIP
    >>> result.plot()                                             # doctest: +SKIP
    """

    def __init__(self, config: DetrendConfig | None = None):
        self.config = config or DetrendConfig()

    def fit(self, lc: LightCurve, design: DesignMatrix, *, transit_mask: NDArray[np.bool_] | None = None,
            start: DetrendResult | None = None, hold_gp: bool = False) -> SystematicsModel:
        """Fit hyper-parameters and components; the result is in :attr:`result_`.

        ``start``: a fit of the same light curve and kernel (e.g. without the ``transit_mask``)
        whose hyper-parameters start the optimiser (a warm start: the masked refits of the
        search, the ladder's full-design rung); groups of this design that it lacks start where
        a cold fit would. Its clipped outliers are not carried over: a fit through a deep
        transit bends its model into the dip and clips the high residuals beside it (19
        cadences around a 1 %-deep injected transit), which would be lost to the transit fit.

        ``hold_gp``: keep ``start``'s stellar-GP parameters and jitter and fit only the prior
        variances (O(M³) steps on one set of GP solves: a few likelihood builds instead of
        tens); the result says so (``gp_held``). For a design that adds columns to
        ``start``'s design on the same cadences: the other stars' ELCs or the target's pixels
        beside its own terms (:func:`halfsib.pipeline.fit_target`; ``docs/detrend.md``). A
        refit from a held fit without ``hold_gp`` (the search's refits with its candidates
        masked) fits the GP again: the held GP comes from a fit that bent into the transits.
        """
        if hold_gp and start is None:
            raise ConfigurationError("hold_gp=True needs start: the fit whose GP parameters are held")
        with blas_threads(self.config.blas_threads):
            return self._fit(lc, design, transit_mask, start, hold_gp)

    def _fit(self, lc: LightCurve, design: DesignMatrix, transit_mask: NDArray[np.bool_] | None,
             previous: DetrendResult | None, hold_gp: bool = False) -> SystematicsModel:
        config = self.config
        problem = _prepare(lc, design, transit_mask, config.fit_jitter)
        start = _warm_start(problem, config, previous) if previous is not None else None
        if config.clip_sigma and config.clip_iterations:
            start = _preclip(problem, config, start)
        theta, ml, kernel, iterations = _fit_hyperparameters(problem, config, start, hold_gp=hold_gp)
        for _ in range(config.clip_iterations if config.clip_sigma else 0):
            jitter = kernel.jitter(theta[: kernel.n_parameters])
            new = _new_outliers(problem, ml, jitter, config.clip_sigma)
            if not new.any():
                break
            problem.clipped |= new
            log.info("%s: clipped %d outliers", lc.meta.target_id, int(new.sum()))
            theta, ml, kernel, more = _fit_hyperparameters(problem, config, theta, maxiter=REFIT_MAXITER,
                                                           hold_gp=hold_gp)
            iterations += more
        self.result_ = self._result(lc, problem, theta, ml, kernel, iterations, hold_gp)
        return self

    def _result(self, lc: LightCurve, problem: _Problem, theta: NDArray[np.float64], ml: MarginalLikelihood,
                kernel: StellarKernel, iterations: int, gp_held: bool = False) -> DetrendResult:
        config = self.config
        parts = ml.predict()
        systematics, stellar, groups = parts.systematics, parts.stellar, dict(parts.groups)
        if config.holdout_chunks or config.holdout_hours:
            fitted = ~problem.excluded  # masked and clipped cadences: the fit never used them
            blocks = (np.array_split(np.flatnonzero(fitted), config.holdout_chunks) if config.holdout_chunks
                      else heldout_blocks(problem.time, fitted, config.holdout_hours, min_fill=0.0))
            systematics, stellar, groups = heldout_components(blocks, problem.matrix, problem.design.groups, ml,
                                                              (systematics, stellar, groups))
        gp = theta[: kernel.n_parameters]
        jitter = kernel.jitter(gp)
        offset = _Objective(problem, kernel, problem.effective_variance()).offset
        cadence = float(np.median(np.diff(problem.time)))
        width = max(1, int(round(config.leakage_duration / 24.0 / cadence)))
        leak_sys, leak_total = leakage_curves(ml, problem.matrix, problem.variance + jitter**2, width)
        hyper = {name: float(v) for name, v in kernel.unpack(gp).items()}
        prior = {name: float(np.exp(v)) for name, v in zip(problem.design.groups, theta[kernel.n_parameters:])}
        return DetrendResult.assemble(
            lc=lc, index=problem.index, normalisation=problem.normalisation, y=problem.y,
            variance=problem.variance + jitter**2, systematics=systematics, stellar=stellar, groups=groups,
            masked=problem.masked, clipped=problem.clipped, leakage_systematics=leak_sys, leakage_total=leak_total,
            hyperparameters=hyper, prior_variances=prior, log_likelihood=ml.log_likelihood() + offset,
            iterations=iterations, config=config, design=problem.design, gp_held=gp_held,
        )

    @property
    def result(self) -> DetrendResult:
        """The fit's result; raises :class:`NotFittedError` before :meth:`fit`."""
        try:
            return self.result_
        except AttributeError:
            raise NotFittedError("SystematicsModel.fit() has not been called yet") from None


def detrend(lc: LightCurve, design: DesignMatrix, *, config: DetrendConfig | None = None,
            transit_mask: NDArray[np.bool_] | None = None, start: DetrendResult | None = None,
            hold_gp: bool = False, **settings: Any) -> DetrendResult:
    """Fit the systematics model and return the :class:`DetrendResult` (see :class:`DetrendConfig`).

    Keyword ``settings`` override fields of ``config`` (``kernel="none"``, ``holdout_chunks=10``...);
    ``start`` warm-starts from a previous fit, and with ``hold_gp`` its GP parameters and
    jitter are kept and only the prior variances fitted (:meth:`SystematicsModel.fit`).
    """
    base = config or DetrendConfig()
    if settings:
        unknown = set(settings) - set(DetrendConfig.__dataclass_fields__)
        if unknown:
            raise ConfigurationError(f"unknown detrend settings {sorted(unknown)}; "
                                     f"valid: {sorted(DetrendConfig.__dataclass_fields__)}")
        base = DetrendConfig(**{**base.__dict__, **settings})
    return SystematicsModel(base).fit(lc, design, transit_mask=transit_mask, start=start,
                                      hold_gp=hold_gp).result_


#: hours: the length of the held-out blocks of :func:`heldout_scatter` (the CDPP's 6.5 h)
HELDOUT_DURATION = 6.5
#: a held-out block counts when it holds at least this fraction of its expected cadences
HELDOUT_MIN_FILL = 0.6


def heldout_blocks(time: NDArray[np.float64], fitted: NDArray[np.bool_], duration: float = HELDOUT_DURATION,
                   min_fill: float = HELDOUT_MIN_FILL) -> list[NDArray[np.int64]]:
    """Consecutive blocks of ``duration`` hours of fitted cadences (indices), each at least
    ``min_fill`` full (0: every block, so that they tile the fitted cadences); blocks start
    at the first fitted cadence."""
    idx = np.flatnonzero(fitted)
    if idx.size < 2:
        return []
    t = time[idx]
    cadence = float(np.median(np.diff(t)))
    width = duration / 24.0
    label = np.floor((t - t[0]) / width).astype(np.int64)
    bounds = np.flatnonzero(np.diff(label)) + 1
    expected = width / cadence
    return [block for block in np.split(idx, bounds) if block.size >= min_fill * expected and block.size]


@dataclass(frozen=True)
class HeldoutPrecision:
    """How well a fitted model predicts data it has not seen (:func:`heldout_precision`).

    Attributes
    ----------
    scatter : float
        Robust standard deviation of the blocks' mean held-out residual [ppm]: the noise a
        transit of the block duration meets when the model (systematics and stellar GP)
        predicts its cadences from the rest, as the joint search does.
    cdpp : float
        The 6.5-h CDPP [ppm] (:func:`halfsib.precision.cdpp`) of the flux corrected by
        systematics predicted from the other blocks, the star's variability kept.
    n_blocks : int
    """

    scatter: float
    cdpp: float
    n_blocks: int


def heldout_precision(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel, *,
                      duration: float = HELDOUT_DURATION) -> HeldoutPrecision:
    """The fitted model's precision on data it was not fitted to, on a transit's time scale.

    The fitted cadences (the fit's masked transits and clipped outliers left out) are cut into
    consecutive blocks of ``duration`` hours; each block is predicted by the fitted model from
    all the *other* fitted cadences, exactly, the weights
    integrated out and the hyper-parameters held (:meth:`MarginalLikelihood.heldout_residuals`).
    Two statistics follow (:class:`HeldoutPrecision`): the scatter of the blocks' held-out
    residuals (systematics and stellar GP predicted) and the CDPP of the flux corrected by
    held-out systematics alone (the star's variability kept) — the figure of merit
    astronomers compare, made honest: a design flexible enough to fit the noise of the data
    it corrects gains nothing here. :func:`halfsib.pipeline.fit_target` chooses among
    candidate designs by :data:`SELECTION_STATISTIC` of the two.

    Raises
    ------
    DataValidationError
        Fewer than 10 blocks at least :data:`HELDOUT_MIN_FILL` full, or a fit of other
        cadences or another design.
    """
    from .precision import cdpp

    objective, gp, lnlam = fitted_objective(lc, design, fit, keep_mask=True)
    ml = objective.build(np.concatenate([gp, lnlam]))
    problem = objective.problem
    blocks = heldout_blocks(problem.time, ~problem.excluded, duration, min_fill=0.0)
    expected = duration / 24.0 / float(np.median(np.diff(problem.time)))
    full = [i for i, b in enumerate(blocks) if b.size >= HELDOUT_MIN_FILL * expected]
    if len(full) < 10:
        raise DataValidationError(f"only {len(full)} blocks of {duration:g} h to predict; the held-out "
                                  "precision needs at least 10", lc.meta.source)
    residuals, predicted = ml.heldout_residuals(blocks, systematics=True)
    means = np.array([float(np.mean(residuals[i])) for i in full])
    scatter = 1e6 * float(mad_std(means))
    corrected = np.ones(problem.y.size)  # excluded cadences: left out of the statistic (filled there)
    for block, systematics in zip(blocks, predicted):
        corrected[block] = 1.0 + problem.y[block] - systematics
    return HeldoutPrecision(scatter=scatter, cdpp=cdpp(problem.time, corrected, mask=problem.excluded),
                            n_blocks=len(full))


def heldout_scatter(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel, *,
                    duration: float = HELDOUT_DURATION) -> float:
    """:attr:`HeldoutPrecision.scatter` of :func:`heldout_precision` [ppm]."""
    return heldout_precision(lc, design, fit, duration=duration).scatter


def heldout_cdpp(lc: LightCurve, design: DesignMatrix, fit: DetrendResult | SystematicsModel, *,
                 duration: float = HELDOUT_DURATION) -> float:
    """:attr:`HeldoutPrecision.cdpp` of :func:`heldout_precision` [ppm]."""
    return heldout_precision(lc, design, fit, duration=duration).cdpp
