"""Maximum likelihood (multi-start) and Fisher errors from the numerical Hessian of ln L.

Every start is first optimised over the transit parameters at fixed noise parameters
(L-BFGS-B on the exact fixed-noise path, cheap); the best ones are then refined by
alternating the two blocks — the GP parameters and jitter by L-BFGS-B with the analytic
gradient (a full model build per step), then the transit again at the new noise — until a
round gains less than 10⁻³ in ln L (coordinate ascent on the joint likelihood; the blocks
are weakly coupled, so two or three rounds suffice). Optimisation runs in scaled coordinates
z = (θ − θ₀) / scale so that periods (10⁻⁵ d) and log-amplitudes (10⁻¹) move alike.

The Fisher matrix is −∂²ln L/∂θ² at the maximum (likelihood only, no prior), by central
differences with steps chosen so that each one changes ln L by about 0.1; parameters at a
bound are held fixed (their errors are undefined and flagged). The rows of the noise
parameters are central differences of the gradient (two full builds per row instead of four
per mixed entry).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg as sla
from scipy import optimize

from .objective import JointObjective
from .parameters import ParameterSpace

__all__ = ["MaximumLikelihood", "FisherInformation", "maximize_likelihood", "fisher_information",
           "propagate_errors"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: value returned to the minimisers outside the support (a finite wall, never +inf or NaN)
WALL = 1e30
#: ln L change aimed at by each Hessian step
HESSIAN_TARGET = 0.1
#: a stage-1 solution this far below the best is not refined further
POLISH_WINDOW = 2.0
#: a polishing round must gain at least this much ln L to be repeated
ROUND_TOLERANCE = 1e-3
#: the noise-only L-BFGS-B stops when a step gains less than this in ln L (a tenth of ROUND_TOLERANCE)
NOISE_TOLERANCE = 1e-4
#: two stage-1 solutions closer than this × every parameter's scale are one (polished once)
SAME_POINT = 1e-3


@dataclass(frozen=True)
class MaximumLikelihood:
    """The best point found: ``theta`` (fit space), its ln L, and ln L of every start after stage 1."""

    theta: FloatArray
    log_likelihood: float
    start_log_likelihoods: tuple[float, ...]
    n_evaluations: int


@dataclass(frozen=True)
class FisherInformation:
    """Fisher matrix at the maximum, in fit space.

    ``covariance`` is (n, n) with NaN rows/columns for parameters that are not ``free`` (at a
    bound, or with no curvature); ``ok`` is False (and covariance all NaN) when −H of the free
    parameters is not positive definite. ``notes`` say why.
    """

    hessian: FloatArray
    covariance: FloatArray
    free: NDArray[np.bool_]
    ok: bool
    notes: tuple[str, ...]

    @property
    def errors(self) -> FloatArray:
        """Square roots of the covariance diagonal (NaN where undefined)."""
        return np.sqrt(np.diag(self.covariance))


def _scaled(fun: Callable[[FloatArray], float], base: FloatArray, scale: FloatArray, index: NDArray[np.int64]
            ) -> Callable[[FloatArray], float]:
    def wrapped(z: FloatArray) -> float:
        theta = base.copy()
        theta[index] = base[index] + z * scale
        value = fun(theta)
        return -value if math.isfinite(value) else WALL
    return wrapped


def _transit_only(objective: JointObjective, theta0: FloatArray) -> tuple[FloatArray, float]:
    """L-BFGS-B (finite-difference gradient) over the transit entries at θ₀'s noise parameters.

    Runs on the exact fixed-noise path (cheap); a Nelder–Mead pass follows when L-BFGS-B stops
    on the wall of the support (grazing edge), where gradients are useless, or stalls at the
    start with a steep gradient (measured: a K2 planet whose fit stayed at its start, b = 0.7,
    ln L 1,000 below b = 0.85).
    """
    space = objective.space
    objective.fixed_noise(space.noise(theta0))
    index = np.arange(space.n_transit)
    scale = space.scales[index]
    lo, hi = (space.lower[index] - theta0[index]) / scale, (space.upper[index] - theta0[index]) / scale
    fun = _scaled(objective.log_likelihood, theta0, scale, index)
    f_start = fun(np.zeros(index.size))
    res = optimize.minimize(fun, np.zeros(index.size), method="L-BFGS-B", bounds=list(zip(lo, hi)),
                            options={"maxiter": 200, "eps": 1e-5, "ftol": 1e-12, "gtol": 1e-6})
    z = np.clip(res.x, lo, hi)
    # L-BFGS-B can stop at the start with a steep gradient (its first line search meets the
    # support's wall or the finite-difference noise): then the simplex takes over as well
    stalled = f_start - res.fun < ROUND_TOLERANCE and float(np.max(np.abs(res.jac))) > 1.0
    if not res.fun < WALL or stalled:
        simplex = np.vstack([z, z + np.diag(_simplex_steps(z, lo, hi))])
        res = optimize.minimize(fun, z, method="Nelder-Mead", bounds=list(zip(lo, hi)),
                                options={"initial_simplex": simplex, "maxfev": 300 * index.size,
                                         "xatol": 1e-3, "fatol": 1e-5, "adaptive": True})
        z = np.clip(res.x, lo, hi)
    theta = theta0.copy()
    theta[index] = theta0[index] + z * scale
    return theta, objective.log_likelihood(theta)


def _simplex_steps(z: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """One scale unit per axis, towards whichever side has room (half the room if neither has 1)."""
    up, down = hi - z, z - lo
    return np.where(up >= 1.0, 1.0, np.where(down >= 1.0, -1.0, np.where(up >= down, 0.5 * up, -0.5 * down)))


def _noise_only(objective: JointObjective, theta0: FloatArray) -> tuple[FloatArray, float]:
    """L-BFGS-B over the GP parameters and jitter with the analytic gradient (transit held)."""
    space = objective.space
    index = np.arange(space.n_transit, space.n_parameters)
    scale = space.scales[index]
    lo, hi = (space.lower[index] - theta0[index]) / scale, (space.upper[index] - theta0[index]) / scale

    def fun(z: FloatArray) -> tuple[float, FloatArray]:
        theta = theta0.copy()
        theta[index] = theta0[index] + z * scale
        value, grad = objective.log_likelihood_and_gradient(theta, transit=False)
        if not math.isfinite(value):
            return WALL, np.zeros_like(z)
        return -value, -grad[index] * scale

    f0 = fun(np.zeros(index.size))[0]
    res = optimize.minimize(fun, np.zeros(index.size), jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi)),
                            options={"maxiter": 100, "ftol": NOISE_TOLERANCE / max(abs(f0), 1.0), "gtol": 1e-5})
    theta = theta0.copy()
    theta[index] = theta0[index] + np.clip(res.x, lo, hi) * scale
    value = objective.log_likelihood(theta, use_fixed=False)
    if not value >= -f0:  # a failed line search must never lose ground
        return theta0, -f0
    return theta, value


def _alternate(objective: JointObjective, theta: FloatArray, value: float, max_rounds: int = 5
               ) -> tuple[FloatArray, float]:
    """Noise block, then transit block, until a round gains less than ROUND_TOLERANCE."""
    if not objective.space.fits_noise:
        return theta, value
    for _ in range(max_rounds):
        new_theta, new_value = _noise_only(objective, theta)
        new_theta, new_value = _transit_only(objective, new_theta)
        gain = new_value - value
        if new_value > value:
            theta, value = new_theta, new_value
        if not gain > ROUND_TOLERANCE:
            break
    return theta, value


def maximize_likelihood(objective: JointObjective, starts: Sequence[FloatArray], n_polish: int = 2
                        ) -> MaximumLikelihood:
    """Multi-start maximum of ln L (see the module docstring).

    Parameters
    ----------
    objective : JointObjective
    starts : sequence of ndarray
        Starting vectors inside the support (:func:`halfsib.fit.parameters.initial_vectors`).
    n_polish : int
        How many of the best stage-1 solutions are refined jointly with the noise parameters
        (only those within ``POLISH_WINDOW`` of the best).
    """
    stage1 = [_transit_only(objective, np.asarray(s, float)) for s in starts]
    order = np.argsort([-v for _, v in stage1])
    best_theta, best_value = stage1[int(order[0])]
    polished: list[FloatArray] = []
    best_polished: FloatArray | None = None
    for i in order[:n_polish]:
        theta, value = stage1[int(i)]
        if not (math.isfinite(value) and value > best_value - POLISH_WINDOW):
            continue
        if any(_same_point(objective.space, theta, other) for other in polished):
            continue  # the polish is a deterministic function of its start: the same start, the same result
        polished.append(theta)
        if best_polished is not None:  # the noise barely depends on the transit: start from the polished one's
            theta = objective.space.with_noise(theta, objective.space.noise(best_polished))
            value = objective.log_likelihood(theta, use_fixed=False)
        theta, value = _alternate(objective, theta, value)
        best_polished = theta if best_polished is None or value > best_value else best_polished
        if value > best_value:
            best_theta, best_value = theta, value
    log.debug("maximum likelihood %.3f after %d evaluations", best_value, objective.n_evaluations)
    return MaximumLikelihood(theta=best_theta, log_likelihood=float(best_value),
                             start_log_likelihoods=tuple(float(v) for _, v in stage1),
                             n_evaluations=objective.n_evaluations)


def _same_point(space: ParameterSpace, a: FloatArray, b: FloatArray) -> bool:
    """Whether two vectors agree to within ``SAME_POINT`` of every parameter's scale."""
    return bool(np.all(np.abs(a - b) <= SAME_POINT * space.scales))


def _diagonal_steps(f: Callable[[FloatArray], float], theta: FloatArray, f0: float, space: ParameterSpace,
                    free: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Per-parameter steps giving Δln L ≈ HESSIAN_TARGET, and the second derivatives there."""
    h = space.scales.copy()
    room = np.minimum(theta - space.lower, space.upper - theta)
    d2 = np.zeros(theta.size)
    curved = np.zeros(theta.size, bool)
    for i in np.flatnonzero(free):
        for _ in range(6):
            h[i] = min(h[i], 0.9 * room[i])
            up, down = theta.copy(), theta.copy()
            up[i] += h[i]
            down[i] -= h[i]
            fp, fm = f(up), f(down)
            if not (math.isfinite(fp) and math.isfinite(fm)):
                h[i] *= 0.25
                continue
            d2[i] = (fp - 2.0 * f0 + fm) / h[i] ** 2
            if d2[i] >= 0:
                if h[i] >= 0.9 * room[i]:
                    break
                h[i] *= 4.0
                continue
            wanted = math.sqrt(2.0 * HESSIAN_TARGET / -d2[i])
            if 0.5 < wanted / h[i] < 2.0 or (wanted > h[i] and h[i] >= 0.9 * room[i]):
                curved[i] = True
                break
            h[i] = wanted
        else:
            curved[i] = d2[i] < 0
    return h, d2, curved


def fisher_information(objective: JointObjective, theta: FloatArray) -> FisherInformation:
    """The Fisher matrix −∂²ln L/∂θ² at ``theta`` by central differences (see the module docstring)."""
    space = objective.space
    objective.fixed_noise(space.noise(theta))
    f = objective.log_likelihood
    f0 = f(theta)
    notes: list[str] = []
    bounded = space.at_bounds(theta)
    free = np.array([name not in bounded for name in space.names])
    if space.single:  # one transit: the period is not measured (only a/R★ over P is)
        free[space.names.index("ln_period")] = False
        notes.append("single transit: the period is held fixed (unconstrained by one event)")
    h, d2, curved = _diagonal_steps(f, theta, f0, space, free)
    for i in np.flatnonzero(free & ~curved):
        notes.append(f"no curvature of ln L in {space.names[i]}")
    free &= curved
    n = theta.size
    hess = np.zeros((n, n))
    idx = np.flatnonzero(free)
    rows = _noise_rows(objective, theta, h, [i for i in idx if i >= space.n_transit])
    for a, i in enumerate(idx):
        hess[i, i] = d2[i]
        for j in idx[a + 1:]:
            from_rows = [rows[r][c] for r, c in ((i, j), (j, i)) if r in rows]
            hess[i, j] = hess[j, i] = float(np.mean(from_rows)) if from_rows else _mixed(f, theta, i, j, h[i], h[j])
    cov = np.full((n, n), np.nan)
    while idx.size:
        inv = _inverse_negative(hess[np.ix_(idx, idx)])
        if inv is not None:
            cov[np.ix_(idx, idx)] = inv
            break
        drop = idx[_most_degenerate(hess[np.ix_(idx, idx)])]
        notes.append(f"{space.names[drop]} lies along a flat or upward direction of ln L: held fixed")
        free[drop] = False
        idx = idx[idx != drop]
    ok = idx.size > 0
    if not ok:
        notes.append("the Hessian of ln L is not negative definite: no Fisher errors")
    return FisherInformation(hessian=hess, covariance=cov, free=free, ok=ok, notes=tuple(notes))


def _noise_rows(objective: JointObjective, theta: FloatArray, h: FloatArray, noise: Sequence[int]
                ) -> dict[int, FloatArray]:
    """Hessian rows of the noise parameters: central differences of the gradient ∂ln L/∂θ.

    A mixed second derivative with a noise parameter costs four full model builds by
    :func:`_mixed`, one for each corner; differencing the gradient (analytic in the GP
    parameters and jitter, model differences for the transit) costs two builds per noise
    parameter for its whole row. A row whose gradient is not finite is left out (the
    four-point formula is used for it).
    """
    rows: dict[int, FloatArray] = {}
    for j in noise:
        up, down = theta.copy(), theta.copy()
        up[j] += h[j]
        down[j] -= h[j]
        f_up, g_up = objective.log_likelihood_and_gradient(up)
        f_down, g_down = objective.log_likelihood_and_gradient(down)
        if math.isfinite(f_up) and math.isfinite(f_down):
            rows[int(j)] = (g_up - g_down) / (2.0 * h[j])
    return rows


def _inverse_negative(hess: FloatArray) -> FloatArray | None:
    """(−H)⁻¹ by Cholesky, or None when −H is not positive definite."""
    try:
        chol = sla.cholesky(-hess, lower=True)
    except (np.linalg.LinAlgError, ValueError):
        return None
    inv = sla.cho_solve((chol, True), np.eye(hess.shape[0]))
    return 0.5 * (inv + inv.T)


def _most_degenerate(hess: FloatArray) -> int:
    """Index with the largest weight in the least-curved direction of −H (scaled to unit diagonal)."""
    d = np.sqrt(np.abs(np.diag(hess)))
    d[d == 0] = 1.0
    values, vectors = np.linalg.eigh(-hess / np.outer(d, d))
    return int(np.argmax(np.abs(vectors[:, 0])))


def _mixed(f: Callable[[FloatArray], float], theta: FloatArray, i: int, j: int, hi: float, hj: float) -> float:
    """∂²f/∂θi∂θj by the four-point formula (halving the steps once if a corner leaves the support)."""
    for shrink in (1.0, 0.5):
        values = []
        for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            t = theta.copy()
            t[i] += si * shrink * hi
            t[j] += sj * shrink * hj
            values.append(f(t))
        if all(math.isfinite(v) for v in values):
            return (values[0] - values[1] - values[2] + values[3]) / (4.0 * shrink**2 * hi * hj)
    return 0.0


def propagate_errors(space: ParameterSpace, theta: FloatArray, fisher: FisherInformation) -> dict[str, float]:
    """1-sigma errors of the reported quantities (natural and derived) by the delta method.

    NaN for a quantity that depends on a parameter whose error is undefined (at a bound)
    only through that parameter, and everywhere when the Fisher matrix is not usable.
    """
    names = list(space.quantities(theta))
    if not fisher.ok:
        return {name: math.nan for name in names}
    idx = np.flatnonzero(fisher.free)
    cov = fisher.covariance[np.ix_(idx, idx)]
    sigma = np.sqrt(np.diag(cov))
    jac = np.zeros((len(names), idx.size))
    for a, i in enumerate(idx):
        step = 1e-3 * sigma[a]
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        if space.transit_params(up) is None:
            up = theta
        if space.transit_params(down) is None:
            down = theta
        if up[i] == down[i]:
            continue
        q_up, q_down = space.quantities(up), space.quantities(down)
        jac[:, a] = [(q_up[n] - q_down[n]) / (up[i] - down[i]) for n in names]
    var = np.einsum("qa,ab,qb->q", jac, cov, jac)
    out = {name: float(math.sqrt(max(v, 0.0))) for name, v in zip(names, var)}
    for i in np.flatnonzero(~fisher.free):  # the parameter itself has no Fisher error
        for natural in natural_names(space.names[i]):
            out[natural] = math.nan
    return out


def natural_names(fit_name: str) -> tuple[str, ...]:
    """The physical parameters a fitted parameter stands for (``ln_period`` → ``period``,
    ``secosw``/``sesinw`` → ``ecc`` and ``omega``; others: itself)."""
    if fit_name in ("secosw", "sesinw"):
        return ("ecc", "omega")
    if fit_name in ("ln_period",):
        return ("period",)
    if fit_name == "ln_duration":
        return ("duration",)
    if fit_name.startswith("ln_"):
        base = fit_name[3:]
        return ("period_gp" if base == "period" else base,)
    return (fit_name,)
