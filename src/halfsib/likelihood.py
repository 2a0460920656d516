"""Exact marginal likelihood of the half-sibling model.

Model for N cadences (see ``docs/likelihood.md`` for the derivation)::

    y = mean + A w + g + ε,   w ~ N(0, diag(λ)),   g ~ GP(0, K_GP),
    ε ~ N(0, diag(σ² + s²)),  K = K_GP + diag(σ² + s²),  C = K + A Λ Aᵀ.

The weights w are integrated out with the Woodbury identity, using celerite2
O(N) solves with K and small M × M Cholesky factorisations; no N × N matrix is
ever formed. Columns are rescaled by sqrt(λ) (``B = A diag(c)``) so that the
small matrix ``S' = D + Bᵀ K⁻¹ B`` is bounded below by the identity for finite
priors, and it is Jacobi-equilibrated before its Cholesky factorisation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg as sla
from scipy.linalg import lapack

from halfsib._kernels import linalg as _kl
from halfsib.exceptions import ConfigurationError, DataValidationError, NotPositiveDefiniteError
from halfsib.gp import CovarianceFactor, StellarKernel, factorize

__all__ = [
    "MarginalLikelihood",
    "PosteriorWeights",
    "Components",
    "TemplateProjection",
    "log_likelihood_or_neg_inf",
]

logger = logging.getLogger(__name__)

#: name of the single group used when ``groups`` is not given
DEFAULT_GROUP = "design"
_LOG_2PI = math.log(2.0 * math.pi)
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PosteriorWeights:
    """Gaussian posterior of the weights w (hyper-parameters fixed).

    ``mean`` (M,) is ŵ = S⁻¹ Aᵀ K⁻¹ r [flux per unit column], ``std`` (M,) the
    posterior standard deviations (both 0 for λ = 0 columns), ``covariance``
    (M, M) the posterior covariance S⁻¹ when requested, else None.
    """

    mean: FloatArray
    std: FloatArray
    covariance: FloatArray | None = None


@dataclass(frozen=True)
class Components:
    """Posterior-mean decomposition of y (all (N,) [flux]); the fields add up to y.

    ``mean``: the fixed mean model subtracted (e.g. a transit); ``systematics``:
    posterior mean of A w, split by column group in ``groups`` (name -> array,
    summing to ``systematics``); ``stellar``: posterior mean of the GP, K_GP C⁻¹ r
    (zeros without a GP); ``residual``: y − mean − systematics − stellar, which
    equals diag(σ² + s²) C⁻¹ r.
    """

    mean: FloatArray
    systematics: FloatArray
    groups: Mapping[str, FloatArray]
    stellar: FloatArray
    residual: FloatArray


@dataclass(frozen=True)
class TemplateProjection:
    """Linear-template statistics with nuisances and GP marginalised.

    ``numerator`` = bᵀC⁻¹r and ``information`` = bᵀC⁻¹b, shape (k,) or (), for
    templates b and the model r = δ b + noise: δ̂ = bᵀC⁻¹r / bᵀC⁻¹b,
    σ_δ² = 1 / bᵀC⁻¹b, Δln L = ½ δ̂² / σ_δ².
    """

    numerator: FloatArray
    information: FloatArray

    @property
    def depth(self) -> FloatArray:
        """Maximum-likelihood amplitude δ̂ (template units)."""
        return self.numerator / self.information

    @property
    def depth_error(self) -> FloatArray:
        """Standard error σ_δ = (bᵀC⁻¹b)^(-1/2)."""
        return 1.0 / np.sqrt(self.information)

    @property
    def delta_log_likelihood(self) -> FloatArray:
        """Δln L = ½ (bᵀC⁻¹r)² / bᵀC⁻¹b, the gain from fitting δ."""
        return 0.5 * self.numerator**2 / self.information


@dataclass(frozen=True)
class _Solves:
    """Quantities that depend on K and A only (not on λ or the mean)."""

    factor: CovarianceFactor
    design: FloatArray  # (N, M)
    kinv_design: FloatArray  # (N, M)  K⁻¹ A
    gram: FloatArray  # (M, M)  Aᵀ K⁻¹ A


@dataclass(frozen=True)
class _Data:
    """Quantities that depend on r = y − mean."""

    y: FloatArray
    mean: FloatArray
    kinv_resid: FloatArray  # K⁻¹ r
    proj: FloatArray  # Aᵀ K⁻¹ r, (M,)
    quad: float  # rᵀ K⁻¹ r


@dataclass(frozen=True)
class _Prior:
    """The scaled small system S' = D + c G c = E L Lᵀ E for the active columns."""

    variance: FloatArray  # (M,) λ
    active: NDArray[np.int64]  # columns with λ > 0
    scale: FloatArray  # c: sqrt(λ), or 1 for flat columns
    flat: NDArray[np.bool_]  # λ = inf
    equil: FloatArray  # E
    chol: FloatArray  # L, lower
    log_det: float  # ln|S'|

    def solve(self, x: FloatArray) -> FloatArray:
        """S'⁻¹ x for x of shape (M',) or (M', k)."""
        if self.active.size == 0:
            return np.zeros_like(x)
        e = self.equil if x.ndim == 1 else self.equil[:, None]
        return sla.cho_solve((self.chol, True), x / e, check_finite=False) / e

    def whiten(self, x: FloatArray) -> FloatArray:
        """L⁻¹ E⁻¹ x, so that ‖whiten(x)‖² = xᵀ S'⁻¹ x."""
        if self.active.size == 0:
            return np.zeros((0,) + x.shape[1:])
        e = self.equil if x.ndim == 1 else self.equil[:, None]
        return sla.solve_triangular(self.chol, x / e, lower=True, check_finite=False)

    def inverse_diagonal(self) -> FloatArray:
        """diag(S'⁻¹), shape (M',): column sums of squares of L⁻¹ over E²; O(M'³/3), a third of a
        Cholesky solve with M' right-hand sides."""
        if self.active.size == 0:
            return np.zeros(0)
        inverse, info = lapack.dtrtri(self.chol, lower=1)
        if info != 0:
            raise NotPositiveDefiniteError(f"the Cholesky factor of S' is singular (LAPACK dtrtri info {info})")
        return np.einsum("ij,ij->j", inverse, inverse) / self.equil**2


class MarginalLikelihood:
    """Marginal likelihood of y with regression weights and stellar GP integrated out.

    Parameters
    ----------
    time : array_like, shape (N,)
        Sorted cadence times [d].
    y : array_like, shape (N,)
        Data [flux]. Must be finite (mask cadences before building the model).
    diag_variance : array_like, shape (N,) or scalar
        Per-cadence error variances σ² [flux²], > 0.
    design : array_like, shape (N, M), optional
        Design matrix A (columns: ELCs, CPM pixels, PLD, CBVs, splines ...).
    prior_variance : array_like, shape (M,) or scalar, or Mapping[str, float]
        Prior variances λ of the weights [flux² per unit column²]; a mapping gives
        one value per group. ``0`` drops a column; ``numpy.inf`` is a flat prior
        (improper limit, see ``docs/likelihood.md``).
    kernel : celerite2 term, optional
        Stellar GP kernel (e.g. from :meth:`halfsib.gp.StellarKernel.term`);
        ``None`` means white noise only.
    groups : Mapping[str, indices | slice | bool mask] or Sequence[str], optional
        Named column groups (each column in exactly one); a sequence gives one
        label per column. Default: one group ``"design"``.
    mean : array_like, shape (N,) or scalar
        Fixed mean model subtracted from y (e.g. a transit model) [flux].
    jitter : float
        Extra white noise *s* [flux] added in quadrature to ``diag_variance``.
    rcond_min : float
        Smallest accepted reciprocal condition number of the equilibrated S'.

    Raises
    ------
    DataValidationError
        Non-finite inputs, wrong shapes, non-positive variances, unsorted time.
    NotPositiveDefiniteError
        K cannot be factorised, or S' is numerically singular.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 10, 200); A = np.vander(t / 10, 3)
    >>> y = A @ [0.1, -0.2, 1.0] + 0.01 * np.sin(7 * t)
    >>> ml = MarginalLikelihood(t, y, 1e-4, A, prior_variance=1.0)
    >>> bool(np.isfinite(ml.log_likelihood()))
    True
    """

    def __init__(self, time: ArrayLike, y: ArrayLike, diag_variance: ArrayLike,
                 design: ArrayLike | None = None,
                 prior_variance: ArrayLike | Mapping[str, float] | None = None,
                 kernel: Any = None, *, groups: Mapping[str, Any] | Sequence[str] | None = None,
                 mean: ArrayLike = 0.0, jitter: float = 0.0, rcond_min: float = 1e-13) -> None:
        t = _as_array("time", time, None)
        n = t.size
        yy = _as_array("y", y, n)
        var = _as_array("diag_variance", diag_variance, n, scalar_ok=True)
        if np.any(var <= 0):
            raise DataValidationError(f"diag_variance must be > 0; {int(np.sum(var <= 0))} values are not "
                                      "(give every cadence a positive error, or mask it)")
        if not (math.isfinite(jitter) and jitter >= 0):
            raise DataValidationError(f"jitter must be finite and >= 0, got {jitter!r}")
        a = np.zeros((n, 0)) if design is None else _as_array("design", design, n, (2,))
        self._groups = _normalise_groups(groups, a.shape[1])
        self._rcond_min = float(rcond_min)
        factor = factorize(t, var + jitter**2, kernel)
        kinv_a, gram = factor.solve_and_gram(a)
        self._solves = _Solves(factor, a, kinv_a, gram)
        self._data = _make_data(self._solves, yy, _as_array("mean", mean, n, scalar_ok=True))
        self._prior = self._make_prior(prior_variance)
        logger.debug("MarginalLikelihood: N=%d, M=%d (%d active), GP=%s", n, a.shape[1],
                     self._prior.active.size, factor.has_gp)

    @classmethod
    def from_stellar_kernel(cls, stellar: StellarKernel, params: ArrayLike, time: ArrayLike,
                            y: ArrayLike, diag_variance: ArrayLike, design: ArrayLike | None = None,
                            prior_variance: ArrayLike | Mapping[str, float] | None = None,
                            **kwargs: Any) -> MarginalLikelihood:
        """Build from a :class:`~halfsib.gp.StellarKernel` and its log-parameter vector.

        The jitter encoded in ``params`` is added to ``diag_variance``; other
        keyword arguments go to the constructor.
        """
        return cls(time, y, diag_variance, design, prior_variance, stellar.term(params),
                   jitter=stellar.jitter(params), **kwargs)

    def _replace(self, **parts: Any) -> MarginalLikelihood:
        new = object.__new__(type(self))
        keep = ("_groups", "_rcond_min", "_solves", "_data", "_prior", "_tail_matrices")  # K-only caches
        new.__dict__.update({k: self.__dict__[k] for k in keep if k in self.__dict__})
        new.__dict__.update(parts)
        return new

    def with_prior_variance(self, prior_variance: ArrayLike | Mapping[str, float]) -> MarginalLikelihood:
        """A copy with new prior variances, reusing the GP solves: O(M³), not O(N M J²)."""
        return self._replace(_prior=self._make_prior(prior_variance))

    def with_mean(self, mean: ArrayLike) -> MarginalLikelihood:
        """A copy with a new fixed mean model; costs one GP solve and O(N M)."""
        m = _as_array("mean", mean, self.n_cadences, scalar_ok=True)
        return self._replace(_data=_make_data(self._solves, self._data.y, m))

    def _make_prior(self, prior_variance: Any) -> _Prior:
        lam = _expand_prior(prior_variance, self._groups, self.n_columns)
        return _build_prior(self._solves.gram, lam, self._rcond_min)

    @property
    def n_cadences(self) -> int:
        """Number of cadences N."""
        return self._solves.factor.n

    @property
    def n_columns(self) -> int:
        """Number of design columns M (including dropped λ = 0 columns)."""
        return self._solves.design.shape[1]

    @property
    def group_names(self) -> tuple[str, ...]:
        """Names of the column groups, in order."""
        return tuple(self._groups)

    @property
    def prior_variance(self) -> FloatArray:
        """The per-column prior variances λ, shape (M,)."""
        return self._prior.variance.copy()

    @cached_property
    def _kinv_active(self) -> FloatArray:
        p, s = self._prior, self._solves
        return s.kinv_design if p.active.size == self.n_columns else s.kinv_design[:, p.active]

    @cached_property
    def _proj_scaled(self) -> FloatArray:
        """u_B = c ∘ Aᵀ K⁻¹ r over the active columns."""
        return self._prior.scale * self._data.proj[self._prior.active]

    @cached_property
    def _beta(self) -> FloatArray:
        """β = S'⁻¹ u_B; the posterior mean is ŵ = c ∘ β."""
        return self._prior.solve(self._proj_scaled)

    @cached_property
    def _alpha(self) -> FloatArray:
        """α = C⁻¹ r."""
        return self._data.kinv_resid - self._kinv_active @ (self._prior.scale * self._beta)

    def log_likelihood(self) -> float:
        """ln L = −½ [rᵀC⁻¹r + ln|C| + N ln 2π] (flat columns: improper-prior limit)."""
        quad = self._data.quad - float(self._proj_scaled @ self._beta)
        log_det = self._solves.factor.log_det + self._prior.log_det
        return -0.5 * (quad + log_det + self.n_cadences * _LOG_2PI)

    def apply_inverse(self, v: ArrayLike) -> FloatArray:
        """C⁻¹ v for v of shape (N,) or (N, k)."""
        vv = _as_array("v", v, self.n_cadences, (1, 2))
        p = self._prior
        scaled = self._kinv_active.T @ vv * (p.scale if vv.ndim == 1 else p.scale[:, None])
        corr = p.solve(scaled) * (p.scale if vv.ndim == 1 else p.scale[:, None])
        return self._solves.factor.solve(vv) - self._kinv_active @ corr

    def inverse_block(self, rows: ArrayLike, columns: ArrayLike, chunk: int = 256) -> FloatArray:
        """(C⁻¹)[rows][:, columns], shape (len(rows), len(columns)), without forming C⁻¹.

        The columns are C⁻¹ e_j for the unit vectors of ``columns``: one celerite2 solve each
        (in chunks of ``chunk`` columns, so memory stays O(N · chunk)) and, for the Woodbury
        term, the rows of K⁻¹A at ``rows`` and ``columns`` (no O(N M) product per column).
        """
        rows = np.asarray(rows, dtype=np.int64)
        columns = np.asarray(columns, dtype=np.int64)
        out = np.empty((rows.size, columns.size))
        p = self._prior
        for start in range(0, columns.size, chunk):
            cols = columns[start:start + chunk]
            unit = np.zeros((self.n_cadences, cols.size))
            unit[cols, np.arange(cols.size)] = 1.0
            block = self._solves.factor.solve(unit)[rows]
            if self._kinv_active.shape[1]:
                corr = p.solve(self._kinv_active[cols].T * p.scale[:, None]) * p.scale[:, None]
                block -= self._kinv_active[rows] @ corr
            out[:, start:start + cols.size] = block
        return out

    def residual_inverse(self) -> FloatArray:
        """α = C⁻¹ r, shape (N,) (read-only copy)."""
        return self._alpha.copy()

    @property
    def covariance_factor(self) -> CovarianceFactor:
        """The celerite2 factorisation of K = K_GP + diag(variance + jitter²)."""
        return self._solves.factor

    def gradient_kernel(self, derivatives: Sequence[tuple[Any, float]]) -> FloatArray:
        """∂ ln L / ∂θ_k for parameters of K (design and prior fixed), one per entry.

        Each entry is ``(apply_dk, dlogdet_k)``: a function v (N,) or (N, m) ↦ (∂K/∂θ) v, and
        ∂ ln|K| / ∂θ. With α = C⁻¹r, Z = K⁻¹A and S = Λ⁻¹ + AᵀK⁻¹A::

            ∂ ln L = ½ αᵀ ∂K α − ½ [∂ ln|K| − tr(S⁻¹ Zᵀ ∂K Z)]

        evaluated as Σ V ∘ (∂K V) with V = Z c E⁻¹ L⁻ᵀ (S' = E L Lᵀ E, so V Vᵀ = Z c S'⁻¹ c Zᵀ):
        one O(N M²) triangular solve shared by all parameters, then one product with ∂K of
        the N × (M + 1) block [V, α] per parameter (the same array object each time, so an
        ``apply_dk`` may cache work shared between parameters), O(N M J).
        """
        alpha = self._alpha
        p = self._prior
        if p.active.size:
            v = p.whiten((self._kinv_active * p.scale).T).T
            stack = np.ascontiguousarray(np.column_stack([v, alpha]))
        else:
            stack = np.ascontiguousarray(alpha[:, None])
        out = np.empty(len(derivatives))
        for k, (apply_dk, dlogdet_k) in enumerate(derivatives):
            dk = apply_dk(stack)
            trace_low_rank = float(np.sum(stack[:, :-1] * dk[:, :-1]))
            out[k] = 0.5 * float(alpha @ dk[:, -1]) - 0.5 * (dlogdet_k - trace_low_rank)
        return out

    def posterior_weights(self, covariance: bool = False) -> PosteriorWeights:
        """Posterior mean and standard deviation (and optionally covariance) of w."""
        p, m = self._prior, self.n_columns
        mean, std, cov = np.zeros(m), np.zeros(m), (np.zeros((m, m)) if covariance else None)
        mean[p.active] = p.scale * self._beta
        linv = p.whiten(np.diag(p.scale))  # L⁻¹ E⁻¹ diag(c), so S⁻¹ = linvᵀ linv
        std[p.active] = np.sqrt(np.sum(linv**2, axis=0))
        if cov is not None:
            cov[np.ix_(p.active, p.active)] = linv.T @ linv
        return PosteriorWeights(mean=mean, std=std, covariance=cov)

    def predict(self) -> Components:
        """Posterior means of each component; mean + systematics + stellar + residual = y."""
        w = self.posterior_weights().mean
        a = self._solves.design
        groups = {name: a[:, idx] @ w[idx] for name, idx in self._groups.items()}
        systematics = a @ w
        stellar = self._solves.factor.dot_gp(self._alpha)
        residual = self._data.y - self._data.mean - systematics - stellar
        return Components(mean=self._data.mean.copy(), systematics=systematics, groups=MappingProxyType(groups),
                          stellar=stellar, residual=residual)

    def heldout_residuals(self, blocks: Sequence[ArrayLike], systematics: bool = False) -> Any:
        """Each block of cadences predicted from all the others: ``r_s − E[r_s | r_{−s}]``.

        Exact for the Gaussian model (systematics weights and GP integrated out, the
        hyper-parameters held): ``e_s = [(C⁻¹)_ss]⁻¹ (C⁻¹ r)_s``, the block form of the
        leave-one-out identity for Gaussian processes (Rasmussen & Williams 2006, §5.4.2).
        ``(C⁻¹)_ss = (K⁻¹)_ss − Z_s S⁻¹ Z_sᵀ`` with ``Z = K⁻¹A``; ``(K⁻¹)_{:,s}`` from a
        celerite2 solve against the block's unit vectors. Cost O(N J² b) per block of b
        cadences (O(N² J²) for blocks covering every cadence), plus O(b M²) for the design.

        With ``systematics=True`` also the systematics alone predicted at the block from the
        other cadences, ``E[(Aw)_s | r_{−s}] = A_s Λ Aᵀ α'`` with ``α' = C_{−s,−s}⁻¹ r_{−s}``
        (zero on the block): ``α' = α − (C⁻¹)_{:,s} e_s``, so ``Aᵀα' = Aᵀα − Z_sᵀ e_s +
        G c S'⁻¹ c Z_sᵀ e_s`` (``G = AᵀK⁻¹A``), O(M²) per block once ``Aᵀα`` is known.

        Parameters
        ----------
        blocks : sequence of integer arrays
            Cadence indices of each held-out block (no index twice within a block).
        systematics : bool
            Also return the held-out systematics prediction of each block.

        Returns
        -------
        list of ndarray, or (list, list) with ``systematics``
            The held-out residual of each block (and its held-out systematics), units of y.

        Raises
        ------
        ConfigurationError
            ``systematics=True`` with a flat-prior column (its prediction needs finite λ).
        """
        if not systematics:
            return [e for e, _ in self._heldout(blocks, weights=False)]
        pairs = self.heldout_weights(blocks)
        design = self._solves.design
        return [e for e, _ in pairs], [design[np.asarray(b, dtype=np.int64)] @ w for b, (_, w) in zip(blocks, pairs)]

    def heldout_weights(self, blocks: Sequence[ArrayLike]) -> list[tuple[FloatArray, FloatArray]]:
        """Each block's held-out residual (as :meth:`heldout_residuals`) and the posterior mean
        of the regression weights given every *other* cadence, ``w' = Λ Aᵀ α'`` (shape (M,),
        zero for columns with λ = 0): ``A_s w'`` is the held-out systematics of the block, and
        ``A_{s,g} w'_g`` that of group g.

        Raises
        ------
        ConfigurationError
            A flat-prior column (its held-out weight needs finite λ).
        """
        if self._prior.flat.any():
            raise ConfigurationError("held-out systematics need finite prior variances (a column has a flat prior)")
        return self._heldout(blocks, weights=True)

    def _heldout(self, blocks: Sequence[ArrayLike], weights: bool) -> list[tuple[FloatArray, FloatArray | None]]:
        alpha = self._alpha
        p = self._prior
        gram = self._solves.gram[np.ix_(p.active, p.active)]
        proj_alpha = self._solves.design[:, p.active].T @ alpha if weights else None
        out: list[tuple[FloatArray, FloatArray | None]] = []
        for block in blocks:
            idx = np.asarray(block, dtype=np.int64)
            unit = np.zeros((self.n_cadences, idx.size))
            unit[idx, np.arange(idx.size)] = 1.0
            inverse_block = self._solves.factor.solve(unit)[idx]
            z = self._kinv_active[idx] * p.scale if p.active.size else np.zeros((idx.size, 0))
            if p.active.size:
                inverse_block = inverse_block - z @ p.solve(z.T)
            e = sla.solve(inverse_block, alpha[idx], assume_a="pos", check_finite=False)
            if not weights:
                out.append((e, None))
                continue
            w = np.zeros(self.n_columns)
            if p.active.size:
                ze = self._kinv_active[idx].T @ e  # Z_sᵀ e
                proj = proj_alpha - ze + gram @ (p.scale * p.solve(p.scale * ze))
                w[p.active] = p.scale**2 * proj
            out.append((e, w))
        return out

    def systematics_variance(self) -> FloatArray:
        """Posterior variance of (A w)_i per cadence, diag(A S⁻¹ Aᵀ), shape (N,); O(N M²)."""
        p = self._prior
        z = p.whiten((self._solves.design[:, p.active] * p.scale).T)
        return np.sum(z**2, axis=0)

    def gradient_log_prior_variances(self, groups: Mapping[str, Any] | Sequence[str] | None = None
                                     ) -> dict[str, float]:
        """∂ ln L / ∂ ln λ_g for groups of columns sharing one prior variance.

        Per column ∂lnL/∂λ_j = ½ (a_jᵀC⁻¹r)² − ½ a_jᵀC⁻¹a_j, so
        ∂lnL/∂ln λ_j = ½ β_j² − ½ (S'⁻¹ c G c)_jj, summed over each group's columns
        (λ_j = 0 columns contribute 0). Cost O(M³).

        ``groups`` is given as in the constructor (default: the constructor's).
        Raises :class:`ConfigurationError` for a group with a flat-prior column.
        """
        grp = self._groups if groups is None else _normalise_groups(groups, self.n_columns)
        col = self._column_gradient()
        out = {}
        for name, idx in grp.items():
            if np.any(np.isinf(self._prior.variance[idx])):
                raise ConfigurationError(f"group {name!r} has a flat prior (inf); its gradient is undefined")
            out[name] = float(np.sum(col[idx]))
        return out

    def _column_gradient(self) -> FloatArray:
        # diag(S'⁻¹ c G c) = diag(I − S'⁻¹ D) with D = 1 on prior columns, 0 on flat ones
        p, out = self._prior, np.zeros(self.n_columns)
        t_diag = 1.0 - p.inverse_diagonal() * np.where(p.flat, 0.0, 1.0)
        grad = 0.5 * self._beta**2 - 0.5 * t_diag
        out[p.active] = np.where(p.flat, np.nan, grad)
        return out

    def project(self, templates: ArrayLike) -> TemplateProjection:
        """bᵀC⁻¹r and bᵀC⁻¹b for templates b of shape (N,) or (N, k); one GP solve each."""
        b = _as_array("templates", templates, self.n_cadences, (1, 2))
        p = self._prior
        num = b.T @ self._alpha
        kinv_b = self._solves.factor.solve(b)
        scale = p.scale if b.ndim == 1 else p.scale[:, None]
        z = p.whiten(self._kinv_active.T @ b * scale)
        info = np.sum(b * kinv_b, axis=0) - np.sum(z**2, axis=0)
        return TemplateProjection(numerator=np.asarray(num), information=np.asarray(info))

    def window_projection(self, starts: ArrayLike, stops: ArrayLike) -> TemplateProjection:
        """Box templates (1 on cadences [start, stop), else 0) for many windows at once.

        Exact: O(N M²) once, then O(M + (stop − start) J) per window.

        Parameters
        ----------
        starts, stops : array_like of int, shape (W,)
            Half-open cadence-index windows with 0 <= start < stop <= N.
        """
        s = np.ascontiguousarray(starts, dtype=np.int64)
        e = np.ascontiguousarray(stops, dtype=np.int64)
        if s.ndim != 1 or s.shape != e.shape:
            raise DataValidationError(f"starts {s.shape} and stops {e.shape} must be 1-D of equal length")
        if s.size and (s.min() < 0 or e.max() > self.n_cadences or np.any(e <= s)):
            raise DataValidationError(f"windows need 0 <= start < stop <= N={self.n_cadences}")
        num, low = np.empty(s.size), np.empty(s.size)
        _check_status(_kl.window_low_rank(self._window_prefix[0], self._window_prefix[1], s, e, num, low),
                      "window_low_rank")
        kinv = np.empty(s.size)
        t, c, u, w, d = self._solves.factor.semiseparable()
        _check_status(_kl.celerite_window_quadratic(t, c, u, w, d, self._tail_matrices, s, e, kinv),
                      "celerite_window_quadratic")
        return TemplateProjection(numerator=num, information=kinv - low)

    @cached_property
    def _window_prefix(self) -> tuple[FloatArray, FloatArray]:
        p = self._prior
        f = p.whiten((self._kinv_active * p.scale).T).T  # (N, M') rows K⁻¹B E⁻¹ L⁻ᵀ
        pf = np.zeros((self.n_cadences + 1, f.shape[1]))
        np.cumsum(f, axis=0, out=pf[1:])
        pa = np.concatenate([[0.0], np.cumsum(self._alpha)])
        return np.ascontiguousarray(pa), np.ascontiguousarray(pf)

    @cached_property
    def _tail_matrices(self) -> FloatArray:
        t, c, u, w, d = self._solves.factor.semiseparable()
        q = np.empty((t.size + 1, c.size, c.size))
        _check_status(_kl.celerite_tail_matrices(t, c, u, w, d, q), "celerite_tail_matrices")
        return q


def log_likelihood_or_neg_inf(stellar: StellarKernel, params: ArrayLike, *args: Any, **kwargs: Any) -> float:
    """:meth:`MarginalLikelihood.from_stellar_kernel(...).log_likelihood` or −inf.

    For optimisers: a kernel that cannot be factorised (or a singular S') gives
    −inf instead of an exception; other errors (bad data) still raise.
    """
    try:
        return MarginalLikelihood.from_stellar_kernel(stellar, params, *args, **kwargs).log_likelihood()
    except NotPositiveDefiniteError as exc:
        logger.debug("log-likelihood is -inf at %s: %s", np.asarray(params), exc)
        return -math.inf


# -------------------------------------------------------------------- helpers
def _check_status(status: int, where: str) -> None:
    if status == _kl.STATUS_OK:
        return
    if status == _kl.STATUS_NOT_FINITE:
        raise NotPositiveDefiniteError(f"{where}: non-finite window statistic (ill-conditioned K)")
    raise DataValidationError(f"{where}: invalid input (status {status})")


def _make_data(solves: _Solves, y: FloatArray, mean: FloatArray) -> _Data:
    r = y - mean
    kinv_r = solves.factor.solve(r)
    return _Data(y=y, mean=mean, kinv_resid=kinv_r, proj=solves.kinv_design.T @ r,
                 quad=float(r @ kinv_r))


def _build_prior(gram: FloatArray, lam: FloatArray, rcond_min: float) -> _Prior:
    """Factorise S' = D + c G c (active columns), equilibrated: S' = E (L Lᵀ) E."""
    active = np.flatnonzero(lam > 0).astype(np.int64)
    flat = np.isinf(lam[active])
    scale = np.sqrt(np.where(flat, 1.0, lam[active]))
    if active.size == 0:
        empty = np.zeros(0)
        return _Prior(lam, active, empty, flat, empty, np.zeros((0, 0)), 0.0)
    s = scale[:, None] * gram[np.ix_(active, active)] * scale[None, :]
    s[np.diag_indices_from(s)] += np.where(flat, 0.0, 1.0)
    equil = np.sqrt(np.diag(s))
    if not np.all(np.isfinite(s)) or np.any(equil == 0):
        bad = active[~(equil > 0)] if np.any(equil == 0) else active
        raise NotPositiveDefiniteError(
            f"S = Λ⁻¹ + AᵀK⁻¹A is singular or non-finite (flat-prior columns {bad.tolist()[:10]} carry no "
            "information): give them a finite prior variance or drop them")
    s /= equil[:, None] * equil[None, :]
    try:
        chol = sla.cholesky(s, lower=True, check_finite=False)
        rcond, _ = lapack.dpocon(chol, float(np.max(np.sum(np.abs(s), axis=0))), uplo="L")
    except np.linalg.LinAlgError:
        rcond = 0.0
    if not rcond >= rcond_min:
        raise NotPositiveDefiniteError(
            f"S = Λ⁻¹ + AᵀK⁻¹A is numerically singular (reciprocal condition {rcond:.2e} < {rcond_min:.0e}): "
            "the design matrix has (nearly) linearly dependent columns whose prior variances are too large "
            "(or flat); orthogonalise or drop columns (e.g. PCA) or reduce their prior variance")
    log_det = 2.0 * float(np.sum(np.log(np.diag(chol))) + np.sum(np.log(equil)))
    return _Prior(lam, active, scale, flat, equil, chol, log_det)


def _as_array(name: str, x: ArrayLike, n: int | None, ndims: tuple[int, ...] = (1,),
              scalar_ok: bool = False) -> FloatArray:
    """Float64 C-contiguous copy of x with shape[0] == n, one of ``ndims``, all finite."""
    arr = np.asarray(x, dtype=np.float64)
    if scalar_ok and arr.ndim == 0 and n is not None:
        arr = np.full(n, float(arr))
    if arr.ndim not in ndims or (n is not None and arr.shape[0] != n):
        want = " or ".join({1: f"({n if n is not None else 'N'},)", 2: f"({n}, k)"}[d] for d in ndims)
        raise DataValidationError(f"{name} has shape {arr.shape}; expected {want}")
    bad = ~np.isfinite(arr)
    if np.any(bad):
        raise DataValidationError(f"{name} has {int(bad.sum())} non-finite values (first at flat index "
                                  f"{int(np.argmax(bad))}); mask those cadences before building the model")
    return np.ascontiguousarray(arr)


def _normalise_groups(groups: Mapping[str, Any] | Sequence[str] | None, m: int) -> dict[str, NDArray[np.int64]]:
    """Map group name -> column indices; every column in exactly one group."""
    if groups is None:
        return {DEFAULT_GROUP: np.arange(m, dtype=np.int64)}
    if isinstance(groups, Mapping):
        out = {}
        for name, sel in groups.items():
            idx = np.arange(m)[sel] if isinstance(sel, slice) or np.asarray(sel).dtype == bool \
                else np.asarray(sel, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= m):
                raise ConfigurationError(f"groups[{name!r}] has column indices outside [0, {m})")
            out[str(name)] = idx.astype(np.int64)
    else:
        labels = np.asarray(list(groups), dtype=object)
        if labels.shape != (m,):
            raise ConfigurationError(f"groups has {labels.size} labels for {m} design columns")
        out = {str(name): np.flatnonzero(labels == name).astype(np.int64) for name in dict.fromkeys(labels)}
    counts = np.bincount(np.concatenate([np.zeros(0, np.int64), *out.values()]), minlength=m)
    if np.any(counts != 1):
        raise ConfigurationError(f"groups must put every design column in exactly one group; columns "
                                 f"{np.flatnonzero(counts != 1).tolist()[:10]} are in {counts[counts != 1][:10]}")
    return out


def _expand_prior(prior_variance: Any, groups: dict[str, NDArray[np.int64]], m: int) -> FloatArray:
    if prior_variance is None:
        if m:
            raise ConfigurationError("prior_variance is required when the design matrix has columns")
        return np.zeros(0)
    if isinstance(prior_variance, Mapping):
        if set(prior_variance) != set(groups):
            raise ConfigurationError(f"prior_variance keys {sorted(prior_variance)} must be the groups "
                                     f"{sorted(groups)}")
        lam = np.empty(m)
        for name, idx in groups.items():
            lam[idx] = float(prior_variance[name])
    else:
        lam = np.asarray(prior_variance, dtype=np.float64)
        lam = np.full(m, float(lam)) if lam.ndim == 0 else lam
    if lam.shape != (m,):
        raise DataValidationError(f"prior_variance has shape {lam.shape}; expected ({m},) or a scalar")
    if np.any(np.isnan(lam)) or np.any(lam < 0):
        raise DataValidationError("prior_variance must be >= 0 (0 drops a column, inf is a flat prior), "
                                  f"got min {np.nanmin(lam) if np.any(~np.isnan(lam)) else 'nan'} and "
                                  f"{int(np.isnan(lam).sum())} NaN")
    return np.ascontiguousarray(lam)
