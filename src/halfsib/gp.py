"""Stellar-variability Gaussian processes: the celerite2 adapter.

This is the only halfsib module that imports :mod:`celerite2`. It offers

* :class:`StellarKernel`, a small frozen description of a kernel family
  (``"none"``, ``"sho"``, ``"rotation"``, ``"matern32"``) with a log-parameter
  vector interface (names, data-driven initial values and bounds, pack/unpack);
* :func:`factorize`, which builds the O(N) factorisation of
  ``K = K_GP + diag(variance)`` and returns a :class:`CovarianceFactor` exposing
  solves, the log-determinant, products with ``K_GP`` and the semiseparable
  Cholesky factors used by the window kernels in :mod:`halfsib._kernels.linalg`.

celerite2 raises its own ``celerite2.driver.LinAlgError`` (not a NumPy
``LinAlgError``) when a factorisation fails, and ``compute(quiet=True)`` leaves a
stale factor behind; we never use ``quiet=True`` and convert failures into
:class:`~halfsib.exceptions.NotPositiveDefiniteError` here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import celerite2
import celerite2.driver
import numpy as np
from astropy.stats import mad_std
from celerite2 import terms
from celerite2.driver import LinAlgError as _CeleriteLinAlgError
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import blas

from halfsib.exceptions import ConfigurationError, DataValidationError, NotPositiveDefiniteError

__all__ = ["KERNEL_KINDS", "StellarKernel", "CovarianceFactor", "factorize"]

logger = logging.getLogger(__name__)

#: kernel families understood by :class:`StellarKernel`
KERNEL_KINDS = ("none", "sho", "rotation", "matern32")

_BASE_NAMES = {
    "none": (),
    "sho": ("ln_sigma", "ln_rho"),
    "rotation": ("ln_sigma", "ln_period", "ln_Q0", "ln_dQ", "ln_f"),
    "matern32": ("ln_sigma", "ln_rho"),
}


@dataclass(frozen=True)
class StellarKernel:
    """A stellar-variability kernel family with a log-parameter vector.

    Parameters
    ----------
    kind : {"none", "sho", "rotation", "matern32"}
        ``"sho"``: :class:`celerite2.terms.SHOTerm` (granulation-like for
        ``Q = 1/sqrt(2)``), parameters ``ln_sigma`` [ln flux], ``ln_rho`` [ln time];
        ``"rotation"``: :class:`celerite2.terms.RotationTerm`, parameters
        ``ln_sigma``, ``ln_period`` [ln time], ``ln_Q0``, ``ln_dQ``, ``ln_f``;
        ``"matern32"``: :class:`celerite2.terms.Matern32Term` (``ln_sigma``,
        ``ln_rho``); ``"none"``: white noise only.
    fit_jitter : bool
        Append ``ln_jitter`` (ln of the extra white-noise standard deviation *s*,
        flux units) as the last parameter. Otherwise the jitter is zero.
    quality : float
        SHO quality factor Q used when ``fit_quality`` is false.
    fit_quality : bool
        For ``kind="sho"``, fit ``ln_Q`` as a third parameter.

    Examples
    --------
    >>> k = StellarKernel("sho")
    >>> k.parameter_names
    ('ln_sigma', 'ln_rho', 'ln_jitter')
    """

    kind: str = "sho"
    fit_jitter: bool = True
    quality: float = 1.0 / math.sqrt(2.0)
    fit_quality: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KERNEL_KINDS:
            raise ConfigurationError(f"kind={self.kind!r} is not one of {KERNEL_KINDS}")
        if not (math.isfinite(self.quality) and self.quality > 0):
            raise ConfigurationError(f"quality={self.quality!r} must be finite and > 0")
        if self.fit_quality and self.kind != "sho":
            raise ConfigurationError(f"fit_quality=True only applies to kind='sho', not {self.kind!r}")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the entries of the parameter vector, in order."""
        names = _BASE_NAMES[self.kind]
        if self.fit_quality:
            names = (*names, "ln_Q")
        if self.fit_jitter:
            names = (*names, "ln_jitter")
        return names

    @property
    def n_parameters(self) -> int:
        """Length of the parameter vector."""
        return len(self.parameter_names)

    def unpack(self, params: ArrayLike) -> dict[str, float]:
        """Map a parameter vector to natural-unit values (``ln_x`` -> ``x``).

        Parameters
        ----------
        params : array_like, shape (n_parameters,)

        Returns
        -------
        dict
            e.g. ``{"sigma": ..., "rho": ..., "jitter": ...}``.
        """
        p = np.asarray(params, dtype=np.float64)
        if p.shape != (self.n_parameters,):
            raise DataValidationError(
                f"params has shape {p.shape}; {self.kind!r} kernel expects ({self.n_parameters},) "
                f"for {self.parameter_names}")
        with np.errstate(over="ignore"):
            return {name[3:]: float(np.exp(v)) for name, v in zip(self.parameter_names, p)}

    def pack(self, **values: float) -> NDArray[np.float64]:
        """Inverse of :meth:`unpack`: natural-unit values -> log-parameter vector."""
        wanted = [name[3:] for name in self.parameter_names]
        if set(values) != set(wanted):
            raise ConfigurationError(f"pack() needs exactly {wanted}, got {sorted(values)}")
        out = np.array([values[w] for w in wanted], dtype=np.float64)
        if not np.all(np.isfinite(out) & (out > 0)):
            raise ConfigurationError(f"pack() values must be finite and > 0, got {values}")
        return np.log(out)

    def initial_parameters(self, time: ArrayLike, y: ArrayLike, diag_variance: ArrayLike) -> NDArray[np.float64]:
        """Sensible starting values from the data.

        The GP amplitude takes the excess of the robust variance of ``y`` over the
        mean noise variance (at least 10 % of the robust variance); timescales are
        fractions of the baseline; the jitter starts at 10 % of the median error.

        Parameters
        ----------
        time, y, diag_variance : array_like, shape (N,)
            Cadence times [d], data [flux] and noise variances [flux²].
        """
        scale = _data_scales(time, y, diag_variance)
        sigma = math.sqrt(max(scale["var_y"] - scale["mean_diag"], 0.1 * scale["var_y"]))
        base = scale["baseline"]
        values = {"sigma": sigma, "rho": base / 10.0, "period": base / 5.0,
                  "Q0": 1.0, "dQ": 1.0, "f": 0.5, "Q": self.quality,
                  "jitter": 0.1 * math.sqrt(scale["median_diag"])}
        return np.log([values[n[3:]] for n in self.parameter_names])

    def bounds(self, time: ArrayLike, y: ArrayLike, diag_variance: ArrayLike) -> NDArray[np.float64]:
        """Box bounds of the parameter vector, shape (n_parameters, 2), in log units."""
        scale = _data_scales(time, y, diag_variance)
        sd, dt, base = math.sqrt(scale["var_y"]), scale["dt"], scale["baseline"]
        err = math.sqrt(scale["median_diag"])
        table = {"sigma": (1e-4 * sd, 1e2 * sd), "rho": (2.0 * dt, 10.0 * base),
                 "period": (2.0 * dt, base), "Q0": (1e-2, 1e3), "dQ": (1e-2, 1e3),
                 "f": (1e-3, 1.0), "Q": (1e-2, 1e3), "jitter": (1e-4 * err, 1e2 * max(sd, err))}
        return np.log([table[n[3:]] for n in self.parameter_names])

    def jitter(self, params: ArrayLike) -> float:
        """The jitter *s* [flux] encoded in ``params`` (0 when not fitted)."""
        return self.unpack(params).get("jitter", 0.0)

    def term(self, params: ArrayLike) -> Any:
        """The celerite2 term for ``params`` (``None`` for ``kind="none"``)."""
        v = self.unpack(params)
        if self.kind == "none":
            return None
        if self.kind == "sho":
            return terms.SHOTerm(sigma=v["sigma"], rho=v["rho"], Q=v.get("Q", self.quality))
        if self.kind == "rotation":
            return terms.RotationTerm(sigma=v["sigma"], period=v["period"], Q0=v["Q0"], dQ=v["dQ"], f=v["f"])
        return terms.Matern32Term(sigma=v["sigma"], rho=v["rho"])


def _data_scales(time: ArrayLike, y: ArrayLike, diag_variance: ArrayLike) -> dict[str, float]:
    t = np.asarray(time, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    dv = np.broadcast_to(np.asarray(diag_variance, dtype=np.float64), yy.shape)
    ok = np.isfinite(t) & np.isfinite(yy) & np.isfinite(dv)
    if t.shape != yy.shape or ok.sum() < 3:
        raise DataValidationError("time/y need the same shape and at least 3 finite cadences")
    t, yy, dv = t[ok], yy[ok], dv[ok]
    mad = float(mad_std(yy))
    var_y = max(mad**2, float(np.var(yy)) * 1e-6, 1e-300)
    steps = np.diff(t)
    steps = steps[steps > 0]
    baseline = float(t[-1] - t[0])
    return {"var_y": var_y, "mean_diag": float(np.mean(dv)), "median_diag": float(np.median(dv)),
            "dt": float(np.median(steps)) if steps.size else 1.0, "baseline": max(baseline, 1e-12)}


class CovarianceFactor:
    """Factorisation of ``K = K_GP + diag(variance)`` (N × N, never formed).

    Built by :func:`factorize`. With no GP term, K is diagonal and every
    operation is elementwise.

    Attributes
    ----------
    n : int
        Number of cadences N.
    log_det : float
        ln |K|.
    has_gp : bool
        Whether a GP term is present.
    """

    def __init__(self, time: NDArray[np.float64], variance: NDArray[np.float64], term: Any,
                 gp: Any | None) -> None:
        self._t = time
        self._variance = variance
        self._term = term
        self._gp = gp
        self.n = int(time.size)
        self.has_gp = gp is not None
        if gp is None:
            self.log_det = float(np.sum(np.log(variance)))
        else:
            self.log_det = float(np.sum(np.log(gp._d)))

    def solve(self, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        """``K⁻¹ rhs`` for rhs of shape (N,) or (N, k); O(N k J²)."""
        rhs = np.asarray(rhs, dtype=np.float64)
        if rhs.ndim == 1:
            return rhs / self._variance if self._gp is None else self._gp.apply_inverse(rhs)
        if rhs.shape[1] == 0:
            return np.zeros_like(rhs)
        if self._gp is None:
            return rhs / self._variance[:, None]
        return self._gp.apply_inverse(rhs)

    def solve_and_gram(self, a: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(K⁻¹ A, Aᵀ K⁻¹ A)`` for A of shape (N, M).

        With ``K = L diag(d) Lᵀ``, ``W = diag(d)^-½ L⁻¹ A`` gives the Gram matrix as ``Wᵀ W``
        by one BLAS ``syrk`` (half the flops of the product ``Aᵀ (K⁻¹ A)``, which dominates
        building a 400-column model), and ``K⁻¹ A = L⁻ᵀ diag(d)⁻¹ L⁻¹ A`` reuses the lower
        solve. Exactly symmetric; equal to the product to rounding (tested against it).
        """
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != self.n:
            raise DataValidationError(f"A must have shape ({self.n}, M), got {a.shape}")
        if a.shape[1] == 0:
            return np.zeros_like(a), np.zeros((0, 0))
        if self._gp is None:
            w = a / np.sqrt(self._variance)[:, None]
            kinv_a = a / self._variance[:, None]
        else:
            gp = self._gp
            z = celerite2.driver.solve_lower(gp._t, gp._c, gp._U, gp._W, a, np.empty_like(a))
            w = z / np.sqrt(gp._d)[:, None]
            z /= gp._d[:, None]
            kinv_a = celerite2.driver.solve_upper(gp._t, gp._c, gp._U, gp._W, z, z)
        upper = blas.dsyrk(1.0, np.ascontiguousarray(w).T, trans=0, lower=0)  # (M, M): Wᵀ W, upper triangle
        gram = np.triu(upper) + np.triu(upper, 1).T
        return kinv_a, gram

    def dot_gp(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        """``K_GP v`` (without the diagonal) for v of shape (N,) or (N, m); zeros without a GP."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        if self._gp is None:
            return np.zeros_like(v)
        return self._term.dot(self._t, np.zeros(self.n), v)

    def dot_tril(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``L z`` with ``K = L Lᵀ``: turns standard normals z (N,) or (N, k) into draws from N(0, K)."""
        z = np.asarray(z, dtype=np.float64)
        if self._gp is None:
            scale = np.sqrt(self._variance)
            return z * (scale if z.ndim == 1 else scale[:, None])
        return self._gp.dot_tril(z)

    def semiseparable(self) -> tuple[NDArray[np.float64], ...]:
        """Factors ``(t, c, U, W, d)`` of ``K = L diag(d) Lᵀ``.

        ``L = I + tril(U Wᵀ ∘ exp(-c (t_n - t_m)))`` strictly below the diagonal
        (celerite2's preconditioned form). Shapes: t (N,), c (J,), U and W
        (N, J), d (N,). Without a GP, J = 0 and d is the variance. Relies on the
        factor layout of celerite2 0.3.x (``_c``, ``_U``, ``_W``, ``_d``), checked
        against the dense matrix in the tests; ``pyproject.toml`` bounds celerite2 below
        0.4 for that reason.
        """
        if self._gp is None:
            empty = np.zeros((self.n, 0))
            return self._t, np.zeros(0), empty, empty.copy(), self._variance
        gp = self._gp
        return (self._t, np.ascontiguousarray(gp._c, dtype=np.float64),
                np.ascontiguousarray(gp._U, dtype=np.float64),
                np.ascontiguousarray(gp._W, dtype=np.float64),
                np.ascontiguousarray(gp._d, dtype=np.float64))


def factorize(time: ArrayLike, variance: ArrayLike, term: Any = None) -> CovarianceFactor:
    """Factorise ``K = K_GP(term) + diag(variance)`` in O(N J²).

    Parameters
    ----------
    time : array_like, shape (N,)
        Sorted cadence times [d].
    variance : array_like, shape (N,)
        Positive white-noise variances [flux²] (errors² + jitter²).
    term : celerite2 term or None
        The GP kernel; ``None`` for white noise only.

    Returns
    -------
    CovarianceFactor

    Raises
    ------
    DataValidationError
        Non-finite or unsorted ``time``, non-positive ``variance``.
    NotPositiveDefiniteError
        celerite2 could not factorise K (kernel not positive definite for these
        parameters, or too ill-conditioned against the white noise).
    """
    t = np.ascontiguousarray(time, dtype=np.float64)
    var = np.ascontiguousarray(variance, dtype=np.float64)
    if t.ndim != 1 or var.shape != t.shape:
        raise DataValidationError(f"time {t.shape} and variance {var.shape} must be 1-D of equal length")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(var))):
        raise DataValidationError("time and variance must be finite")
    if np.any(var <= 0):
        raise DataValidationError("variance must be > 0 everywhere (give every cadence a positive error)")
    if t.size > 1 and np.any(np.diff(t) < 0):
        raise DataValidationError("time must be sorted in increasing order")
    if term is None:
        return CovarianceFactor(t, var, None, None)
    if not hasattr(term, "get_celerite_matrices"):
        raise ConfigurationError(f"term must be a celerite2 term or None, got {type(term).__name__}")
    gp = celerite2.GaussianProcess(term)
    try:
        gp.compute(t, diag=var, check_sorted=False)
    except _CeleriteLinAlgError as exc:
        raise NotPositiveDefiniteError(
            f"celerite2 could not factorise K_GP + diag(variance) ({exc}); the kernel "
            f"parameters give a covariance that is not numerically positive definite: "
            f"bound the parameters or add jitter") from exc
    d = gp._d
    if not (np.all(np.isfinite(d)) and np.all(d > 0)):
        raise NotPositiveDefiniteError(
            "celerite2 returned a non-positive or non-finite pivot; the kernel parameters "
            "are extreme for this sampling: bound the parameters or add jitter")
    return CovarianceFactor(t, var, term, gp)
