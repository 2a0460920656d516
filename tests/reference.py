"""Slow, obviously-correct dense twins of the fast code (O(N³), small N only).

Every function builds the N × N matrices explicitly and uses textbook formulas
(``scipy.stats.multivariate_normal``, dense Cholesky, explicit block formulas),
so that the Woodbury / celerite / window-prefix fast paths in
``halfsib.likelihood`` and ``halfsib._kernels.linalg`` can be checked against them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import linalg as sla
from scipy import stats


def dense_gp_covariance(time: np.ndarray, term) -> np.ndarray:
    """K_GP (N × N) from the kernel's own ``get_value``; zeros for ``term=None``."""
    if term is None:
        return np.zeros((time.size, time.size))
    return term.get_value(time[:, None] - time[None, :])


def dense_covariance(time, diag, term, design, prior_variance) -> np.ndarray:
    """C = K_GP + diag + A Λ Aᵀ with finite λ."""
    k = dense_gp_covariance(time, term) + np.diag(diag)
    return k + (design * prior_variance) @ design.T


def dense_log_likelihood(r: np.ndarray, cov: np.ndarray) -> float:
    """ln N(r | 0, C) via scipy.stats.multivariate_normal."""
    return float(stats.multivariate_normal(mean=np.zeros(r.size), cov=cov).logpdf(r))


def dense_flat_log_likelihood(r, cov_finite, flat_design) -> float:
    """Improper flat-prior limit (REML form) for columns X with λ → ∞.

    −½ [rᵀ P r + ln|C_f| + ln|Xᵀ C_f⁻¹ X| + N ln 2π] with
    P = C_f⁻¹ − C_f⁻¹ X (Xᵀ C_f⁻¹ X)⁻¹ Xᵀ C_f⁻¹; equals lim (ln L + ½ Σ ln λ_j).
    """
    cf = sla.cho_factor(cov_finite, lower=True)
    ci_r = sla.cho_solve(cf, r)
    ci_x = sla.cho_solve(cf, flat_design)
    xcx = flat_design.T @ ci_x
    quad = r @ ci_r - (flat_design.T @ ci_r) @ np.linalg.solve(xcx, flat_design.T @ ci_r)
    logdet = 2 * np.sum(np.log(np.diag(cf[0]))) + np.linalg.slogdet(xcx)[1]
    return float(-0.5 * (quad + logdet + r.size * np.log(2 * np.pi)))


def dense_posterior(time, y, diag, term, design, prior_variance, mean=0.0) -> dict:
    """Posterior means / covariances from the dense joint Gaussian (finite λ)."""
    r = y - mean
    kgp = dense_gp_covariance(time, term)
    cov = dense_covariance(time, diag, term, design, prior_variance)
    ci_r = np.linalg.solve(cov, r)
    lam_at = (design * prior_variance).T  # Λ Aᵀ
    w_cov = np.diag(prior_variance) - lam_at @ np.linalg.solve(cov, lam_at.T)
    return {
        "alpha": ci_r,
        "w_mean": lam_at @ ci_r,
        "w_cov": w_cov,
        "systematics": design @ (lam_at @ ci_r),
        "systematics_var": np.einsum("ij,jk,ik->i", design, w_cov, design),
        "stellar": kgp @ ci_r,
        "residual": diag * ci_r,
    }


def dense_template_stats(cov, r, templates) -> tuple[np.ndarray, np.ndarray]:
    """bᵀC⁻¹r and bᵀC⁻¹b for template columns b (N, k) by dense solves."""
    ci_b = np.linalg.solve(cov, templates)
    return templates.T @ np.linalg.solve(cov, r), np.sum(templates * ci_b, axis=0)


def box_templates(n: int, starts, stops) -> np.ndarray:
    """The (N, W) matrix of box templates, 1 on [start, stop)."""
    b = np.zeros((n, len(starts)))
    for w, (s, e) in enumerate(zip(starts, stops)):
        b[s:e, w] = 1.0
    return b


def dense_window_kinv(kmat, starts, stops) -> np.ndarray:
    """Window sums of K⁻¹ (twin of the celerite window kernel)."""
    kinv = np.linalg.inv(kmat)
    return np.array([kinv[s:e, s:e].sum() for s, e in zip(starts, stops)])


def finite_difference_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray,
                               step: float = 1e-5) -> np.ndarray:
    """Central finite differences of a scalar function."""
    x = np.asarray(x, dtype=float)
    grad = np.empty_like(x)
    for i in range(x.size):
        dx = np.zeros_like(x)
        dx[i] = step
        grad[i] = (fun(x + dx) - fun(x - dx)) / (2 * step)
    return grad


def dense_heldout_residuals(r: np.ndarray, cov: np.ndarray, blocks) -> list[np.ndarray]:
    """r_s minus its Gaussian conditional mean given every other cadence, C_{s,-s} C_{-s,-s}⁻¹ r_{-s}."""
    out = []
    for block in blocks:
        held = np.zeros(r.size, bool)
        held[np.asarray(block)] = True
        cond = cov[np.ix_(held, ~held)] @ np.linalg.solve(cov[np.ix_(~held, ~held)], r[~held])
        out.append(r[held] - cond)
    return out


def dense_heldout_systematics(r, cov, design, prior_variance, blocks) -> list[np.ndarray]:
    """E[(A w)_s | r_{-s}] = (A Λ Aᵀ)_{s,-s} C_{-s,-s}⁻¹ r_{-s}."""
    sys_cov = (design * prior_variance) @ design.T
    out = []
    for block in blocks:
        held = np.zeros(r.size, bool)
        held[np.asarray(block)] = True
        out.append(sys_cov[np.ix_(held, ~held)] @ np.linalg.solve(cov[np.ix_(~held, ~held)], r[~held]))
    return out
