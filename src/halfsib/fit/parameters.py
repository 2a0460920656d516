"""The fit's parameter vector: names, physical bounds, priors, starting points, derived quantities.

Fit space (what the optimiser and the sampler move), in order::

    period [d]  (single-transit mode: ln_period)
    t0 [d], ln_depth, b, ln_duration [ln d], q1, q2
    secosw, sesinw            (only with fit_eccentricity: √e cos ω, √e sin ω)
    ln_sigma, ln_rho, ...     (the stellar GP's log-parameters, only with fit_noise or sample_noise)
    ln_jitter                 (relative flux, only with fit_noise or sample_noise and a fitted jitter)

The transit is described by what the data measure best: its central depth and its total
duration T14, rather than Rp/R★ and a/R★. Rp/R★ follows from the depth, b and the limb
darkening (the inverse of :attr:`TransitParams.depth`), a/R★ from T14, P, k, b, e, ω, both in
closed form. This removes the b–k and b–a/R★ bananas that slow the sampler (measured: the
autocorrelation time halves). Priors are uniform in fit space inside the bounds — so
log-uniform in depth (≈ log-uniform in Rp/R★ at fixed b), in T14 (≈ log-uniform in a/R★), in
single-transit periods and in the GP parameters — with the physical constraints
1e-3 ≤ Rp/R★ ≤ 0.9, b < 1 + k, 1.5 ≤ a/R★ ≤ 3000, e < 0.9 and the planet's periastron outside
the star; optionally a Gaussian prior on the stellar density.
Outside the support the log-prior is −inf, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError
from ..transit import TransitParams, quadratic_from_kipping, transit_duration, transit_flux
from .config import FitConfig, TransitGuess

__all__ = ["ParameterSpace", "TransitArrays", "build_space", "initial_vectors", "stellar_density", "a_over_rs_from_duration",
           "radius_ratio_from_depth",
           "NATURAL_UNITS"]

FloatArray = NDArray[np.float64]

#: gravitational constant [cm³ g⁻¹ s⁻²]
from ..transit import G_CGS  # noqa: E402  (one home for the constant)
DAY_S = 86400.0
MAX_ECC = 0.9
#: Rp/R★ allowed (a constraint: the depth is what is fitted)
K_RANGE = (1e-3, 0.9)
#: a/R★ allowed (a constraint: T14 is what is fitted)
A_RANGE = (1.5, 3000.0)
#: starting impact parameters of the multi-start search (cycled)
START_IMPACTS = (0.3, 0.7, 0.1, 0.5, 0.85, 0.2)

#: units of the natural (reported) quantities
NATURAL_UNITS: Mapping[str, str] = {
    "period": "d", "t0": "d", "rp_over_rs": "", "b": "", "a_over_rs": "", "q1": "", "q2": "",
    "ecc": "", "omega": "deg", "depth": "ppm", "duration": "h", "rho_star": "g / cm3", "inclination": "deg",
    "u1": "", "u2": "", "sigma": "ppm", "rho": "d", "period_gp": "d", "jitter": "ppm", "Q": "", "Q0": "",
    "dQ": "", "f": "",
}


def stellar_density(a_over_rs: float | FloatArray, period: float | FloatArray) -> float | FloatArray:
    """Mean stellar density [g cm⁻³] from Kepler's third law, 3π (a/R★)³ / (G P²) (Mp ≪ M★)."""
    return 3.0 * math.pi * np.asarray(a_over_rs) ** 3 / (G_CGS * (np.asarray(period) * DAY_S) ** 2)


@dataclass(frozen=True, eq=False)
class TransitArrays:
    """The physical transit parameters of many fit vectors at once (:meth:`ParameterSpace.transit_arrays`).

    Every array has one entry per vector; entries where ``valid`` is False (outside the
    support) are meaningless. ``inclination`` and ``omega`` are in radians, ``duration`` is
    T14 [d] as :func:`halfsib.transit.transit_duration` computes it, ``u1``/``u2`` the
    quadratic limb-darkening coefficients.
    """

    valid: NDArray[np.bool_]
    period: FloatArray
    t0: FloatArray
    rp_over_rs: FloatArray
    a_over_rs: FloatArray
    b: FloatArray
    ecc: FloatArray
    omega: FloatArray
    inclination: FloatArray
    u1: FloatArray
    u2: FloatArray
    duration: FloatArray


@dataclass(frozen=True, eq=False)
class ParameterSpace:
    """Names, bounds and typical scales of the fit vector, and its physical meaning.

    Attributes
    ----------
    names : tuple of str
        Fit-space names (see the module docstring).
    lower, upper : ndarray
        Box bounds (part of the prior).
    scales : ndarray
        Typical uncertainties: optimiser scaling and first Hessian steps.
    n_transit : int
        The first ``n_transit`` entries describe the transit; the rest are noise parameters.
    noise_names : tuple of str
        The stellar kernel's log-parameter names (``ln_sigma``...), fitted or not.
    fixed_noise : ndarray
        Noise log-parameters used when they are not in the vector (the nuisance fit's).
    single : bool
        Single-transit mode (``ln_period`` instead of ``period``).
    density_prior : tuple of float or None
        (mean, sigma) [g cm⁻³].
    """

    names: tuple[str, ...]
    lower: FloatArray
    upper: FloatArray
    scales: FloatArray
    n_transit: int
    noise_names: tuple[str, ...]
    fixed_noise: FloatArray
    single: bool
    density_prior: tuple[float, float] | None = None

    @property
    def n_parameters(self) -> int:
        """Length of the fit vector."""
        return len(self.names)

    @property
    def fits_noise(self) -> bool:
        """Whether the noise parameters are part of the vector."""
        return self.n_parameters > self.n_transit

    def noise(self, theta: FloatArray) -> FloatArray:
        """The noise log-parameters (from the vector, or the fixed ones)."""
        return np.asarray(theta[self.n_transit:], dtype=np.float64) if self.fits_noise else self.fixed_noise

    def with_noise(self, theta_transit: FloatArray, noise: FloatArray) -> FloatArray:
        """A full vector from transit entries and noise log-parameters."""
        return np.concatenate([theta_transit[: self.n_transit], noise if self.fits_noise else []])

    def transit_params(self, theta: FloatArray) -> TransitParams | None:
        """The :class:`TransitParams` of a vector, or ``None`` outside the physical support."""
        if not self.in_bounds(theta):
            return None
        v = dict(zip(self.names[: self.n_transit], (float(x) for x in theta[: self.n_transit])))
        b = v["b"]
        k = radius_ratio_from_depth(math.exp(v["ln_depth"]), b, v["q1"], v["q2"])
        if not K_RANGE[0] <= k <= K_RANGE[1] or b >= 1.0 + k:
            return None
        ecc, omega = _eccentricity(v)
        if ecc >= MAX_ECC:
            return None
        period = math.exp(v["ln_period"]) if self.single else v["period"]
        a = a_over_rs_from_duration(math.exp(v["ln_duration"]), period, k, b, ecc, omega)
        if not A_RANGE[0] <= a <= A_RANGE[1]:
            return None
        try:
            return TransitParams(period=period, t0=v["t0"], rp_over_rs=k, a_over_rs=a, b=b, q1=v["q1"], q2=v["q2"],
                                 ecc=ecc, omega=omega)
        except ConfigurationError:
            return None

    def transit_arrays(self, thetas: FloatArray) -> TransitArrays:
        """:meth:`transit_params` for the rows of ``thetas`` (shape (n, n_parameters)) in one pass.

        Row i is ``valid`` exactly when ``transit_params(thetas[i])`` is not None, and then the
        arrays hold its parameters (tested against the scalar path). The emcee sampler moves
        a whole half-ensemble at once; this removes the per-walker Python work.
        """
        t = np.asarray(thetas, dtype=np.float64)
        if t.ndim != 2 or t.shape[1] != self.n_parameters:
            raise ConfigurationError(f"transit_arrays needs shape (n, {self.n_parameters}), got {t.shape}")
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            valid = np.all(np.isfinite(t), axis=1) & np.all(t >= self.lower, axis=1) & np.all(t <= self.upper, axis=1)
            column = {name: t[:, i] for i, name in enumerate(self.names[: self.n_transit])}
            b, q1, q2 = column["b"], column["q1"], column["q2"]
            sqrt_q1 = np.sqrt(np.clip(q1, 0.0, None))
            u1, u2 = 2.0 * sqrt_q1 * q2, sqrt_q1 * (1.0 - 2.0 * q2)
            mu = np.sqrt(np.maximum(0.0, 1.0 - np.minimum(b, 1.0) ** 2))
            intensity = np.maximum(1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2, 1e-6)
            k = np.sqrt(np.exp(column["ln_depth"]) * (1.0 - u1 / 3.0 - u2 / 6.0) / intensity)
            valid &= (k >= K_RANGE[0]) & (k <= K_RANGE[1]) & (b < 1.0 + k)
            if "secosw" in column:
                c, s = column["secosw"], column["sesinw"]
                ecc = c * c + s * s
                omega = np.where(ecc > 0, np.arctan2(s, c), 0.5 * math.pi)
            else:
                ecc, omega = np.zeros(t.shape[0]), np.full(t.shape[0], 0.5 * math.pi)
            valid &= ecc < MAX_ECC
            period = np.exp(column["ln_period"]) if self.single else column["period"]
            sin_w = np.sin(omega)
            f = (1.0 - ecc**2) / (1.0 + ecc * sin_w)
            g = np.sqrt(1.0 - ecc**2) / (1.0 + ecc * sin_w)
            angle = math.pi * np.exp(column["ln_duration"]) / (period * g)
            chord = (1.0 + k) ** 2 - b * b
            a = np.sqrt((b / f) ** 2 + chord / np.sin(angle) ** 2)
            valid &= (angle > 0) & (angle < 0.5 * math.pi) & (chord > 0) & (a >= A_RANGE[0]) & (a <= A_RANGE[1])
            valid &= (period > 0) & (b >= 0) & (b < a) & ((ecc == 0) | (a * (1.0 - ecc) > 1.0 + k))
            valid &= np.isfinite(column["t0"])
            inclination = np.arccos(b / (a * f))
            arg = np.sqrt(np.maximum(chord, 0.0)) / (a * np.sin(inclination))
            duration = period / math.pi * np.arcsin(np.minimum(arg, 1.0)) * g
        return TransitArrays(valid=valid, period=period, t0=column["t0"], rp_over_rs=k, a_over_rs=a, b=b, ecc=ecc,
                             omega=omega, inclination=inclination, u1=u1, u2=u2, duration=duration)

    def log_prior_arrays(self, arrays: TransitArrays) -> FloatArray:
        """:meth:`log_prior_of` for every row of :meth:`transit_arrays` (0 without a density prior)."""
        if self.density_prior is None:
            return np.zeros(arrays.valid.size)
        mean, sigma = self.density_prior
        rho = stellar_density(arrays.a_over_rs, arrays.period)
        return -0.5 * ((rho - mean) / sigma) ** 2

    def in_bounds(self, theta: FloatArray) -> bool:
        """Finite and inside the box bounds."""
        t = np.asarray(theta, dtype=np.float64)
        return bool(t.shape == (self.n_parameters,) and np.all(np.isfinite(t))
                    and np.all(t >= self.lower) and np.all(t <= self.upper))

    def log_prior(self, theta: FloatArray) -> float:
        """ln p(θ) up to a constant: 0 inside the support (plus the density term), −inf outside."""
        params = self.transit_params(theta)
        return -math.inf if params is None else self.log_prior_of(params)

    def log_prior_of(self, params: TransitParams) -> float:
        """The prior's density term for parameters already inside the support (0 without a density prior)."""
        if self.density_prior is None:
            return 0.0
        mean, sigma = self.density_prior
        rho = float(stellar_density(params.a_over_rs, params.period))
        return -0.5 * ((rho - mean) / sigma) ** 2

    def natural(self, theta: FloatArray) -> dict[str, float]:
        """Reported parameters in natural units (see :data:`NATURAL_UNITS`); needs a valid vector."""
        params = self.transit_params(theta)
        if params is None:
            raise ConfigurationError(f"parameter vector {np.asarray(theta).tolist()} is outside the support")
        out = {"period": params.period, "t0": params.t0, "rp_over_rs": params.rp_over_rs, "b": params.b,
               "a_over_rs": params.a_over_rs, "q1": params.q1, "q2": params.q2}
        if "secosw" in self.names:
            out["ecc"], out["omega"] = params.ecc, params.omega
        for name, value in zip(self.noise_names, self.noise(theta)):
            out.update(_noise_natural(name, float(value)))
        return out

    def derived(self, theta: FloatArray) -> dict[str, float]:
        """Depth [ppm] (1 − flux at mid-transit, instantaneous), T14 [h], ρ★ [g cm⁻³], i [deg], u1, u2."""
        params = self.transit_params(theta)
        if params is None:
            raise ConfigurationError(f"parameter vector {np.asarray(theta).tolist()} is outside the support")
        depth = 1.0 - float(transit_flux(np.array([params.t0]), params)[0])
        u1, u2 = params.u
        return {"depth": 1e6 * depth, "duration": 24.0 * transit_duration(params),
                "rho_star": float(stellar_density(params.a_over_rs, params.period)),
                "inclination": params.inclination, "u1": u1, "u2": u2}

    def quantities(self, theta: FloatArray) -> dict[str, float]:
        """:meth:`natural` and :meth:`derived` together (the reported set)."""
        return {**self.natural(theta), **self.derived(theta)}

    def at_bounds(self, theta: FloatArray, tolerance: float = 1e-3) -> dict[str, str]:
        """Parameters within ``tolerance`` × (upper − lower) of a bound: name → 'lower'/'upper'."""
        width = self.upper - self.lower
        out = {}
        for i, name in enumerate(self.names):
            if theta[i] - self.lower[i] <= tolerance * width[i]:
                out[name] = "lower"
            elif self.upper[i] - theta[i] <= tolerance * width[i]:
                out[name] = "upper"
        return out

    def clip_inside(self, theta: FloatArray, margin: float = 1e-6) -> FloatArray:
        """θ moved strictly inside the box (by ``margin`` × width)."""
        width = self.upper - self.lower
        return np.clip(theta, self.lower + margin * width, self.upper - margin * width)


def radius_ratio_from_depth(depth: float, b: float, q1: float, q2: float) -> float:
    """Rp/R★ whose central depth is ``depth`` (the inverse of :attr:`TransitParams.depth`).

    depth = k² I(μ)/⟨I⟩ with the quadratic law, μ = √(1 − min(b, 1)²), ⟨I⟩ = 1 − u1/3 − u2/6.
    """
    u1, u2 = quadratic_from_kipping(q1, q2)
    mu = math.sqrt(max(0.0, 1.0 - min(b, 1.0) ** 2))
    intensity = max(1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2, 1e-6)
    return math.sqrt(depth * (1.0 - u1 / 3.0 - u2 / 6.0) / intensity)


def a_over_rs_from_duration(duration: float, period: float, k: float, b: float, ecc: float = 0.0,
                             omega: float = 90.0) -> float:
    """a/R★ giving total duration ``duration`` [d] (the inverse of :func:`halfsib.transit.transit_duration`).

    With f = (1 − e²)/(1 + e sin ω), g = √(1 − e²)/(1 + e sin ω) and s = sin(π T14 / (P g)):
    (a/R★)² = (b/f)² + ((1 + k)² − b²) / s². Returns ``nan`` when no orbit gives that duration.
    """
    sin_w = math.sin(math.radians(omega))
    f = (1.0 - ecc**2) / (1.0 + ecc * sin_w)
    g = math.sqrt(1.0 - ecc**2) / (1.0 + ecc * sin_w)
    angle = math.pi * duration / (period * g)
    chord = (1.0 + k) ** 2 - b * b
    if not (0.0 < angle < 0.5 * math.pi and chord > 0):
        return math.nan
    return math.sqrt((b / f) ** 2 + chord / math.sin(angle) ** 2)


def _eccentricity(v: Mapping[str, float]) -> tuple[float, float]:
    if "secosw" not in v:
        return 0.0, 90.0
    c, s = v["secosw"], v["sesinw"]
    ecc = c * c + s * s
    return ecc, (math.degrees(math.atan2(s, c)) if ecc > 0 else 90.0)


def _noise_natural(name: str, value: float) -> dict[str, float]:
    """GP log-parameter → natural unit; amplitudes and jitter in ppm."""
    base = name[3:]
    x = math.exp(value)
    if base in ("sigma", "jitter"):
        return {base: 1e6 * x}
    return {"period_gp" if base == "period" else base: x}


def build_space(guess: TransitGuess, time: FloatArray, config: FitConfig, noise_names: tuple[str, ...],
                noise_start: FloatArray, noise_bounds: FloatArray, single: bool) -> ParameterSpace:
    """Bounds and scales around the guess, on the fitted cadences ``time`` [d].

    t0: guess ± max(0.75 T, 5 σ_t0, 2 cadences). Period: guess ± max(T / n, 5 σ_P), with n the
    number of periods from t0 to the farthest cadence (so the farthest transit can move by
    about one duration); single-transit mode: ln P from the data (no other transit inside
    the observed span) to ``max_single_period``. Central depth in [1e-6, 0.81] with
    1e-3 ≤ Rp/R★ ≤ 0.9, b in [0, 1.9] with b < 1 + k, T14 in [max(T/5, one cadence), 5 T] with 1.5 ≤ a/R★ ≤ 3000, q1, q2 in [0, 1], √e cos ω and √e sin ω in [−1, 1] (e < 0.9),
    GP parameters as in the nuisance fit.
    """
    duration = guess.duration / 24.0
    cadence = float(np.median(np.diff(time))) if time.size > 1 else duration
    dt0 = max(0.75 * duration, 5.0 * guess.t0_err, 2.0 * cadence)
    far = max(float(time[-1]) - guess.t0, guess.t0 - float(time[0]), duration)
    names = ["ln_period" if single else "period", "t0", "ln_depth", "b", "ln_duration", "q1", "q2"]
    if single:
        p_min = far + duration
        p_max = config.max_single_period or 20.0 * max(float(time[-1] - time[0]), duration)
        if p_max <= 1.01 * p_min:
            raise ConfigurationError(f"max_single_period={p_max} d must exceed the shortest period the data "
                                     f"allow for a single transit ({p_min:.2f} d)")
        period_box, period_scale = (math.log(p_min), math.log(p_max)), 0.1
    else:
        cycles = max(far / guess.period, 1.0)
        dp = max(duration / cycles, 5.0 * guess.period_err)
        period_box, period_scale = (max(guess.period - dp, 0.5 * guess.period), guess.period + dp), dp / 10.0
    duration_box = (math.log(max(0.2 * duration, cadence)), math.log(5.0 * duration))
    lower = [period_box[0], guess.t0 - dt0, math.log(1e-6), 0.0, duration_box[0], 0.0, 0.0]
    upper = [period_box[1], guess.t0 + dt0, math.log(0.81), 1.9, duration_box[1], 1.0, 1.0]
    scales = [period_scale, duration / 20.0, 0.05, 0.1, 0.05, 0.1, 0.1]
    if config.fit_eccentricity:
        names += ["secosw", "sesinw"]
        lower += [-1.0, -1.0]
        upper += [1.0, 1.0]
        scales += [0.05, 0.05]
    n_transit = len(names)
    if config.fit_noise or config.sample_noise:
        names += list(noise_names)
        lower += list(noise_bounds[:, 0])
        upper += list(noise_bounds[:, 1])
        scales += [0.1] * len(noise_names)
    return ParameterSpace(names=tuple(names), lower=np.array(lower, float), upper=np.array(upper, float),
                          scales=np.array(scales, float), n_transit=n_transit, noise_names=tuple(noise_names),
                          fixed_noise=np.asarray(noise_start, float).copy(), single=single,
                          density_prior=config.stellar_density)


def initial_vectors(space: ParameterSpace, guess: TransitGuess, n: int, rng: np.random.Generator
                    ) -> list[FloatArray]:
    """``n`` starting vectors: the guess with impact parameters from :data:`START_IMPACTS`.

    T14 and the depth are the guessed ones; starts after the first get random offsets in t0
    (σ = T/8), depth (20 %) and T14 (10 %). q1 = 0.36, q2 = 0.3 (a Sun-like star in the Kepler band). A start
    whose geometry is impossible (a/R★ out of range) moves to smaller b.
    """
    duration = guess.duration / 24.0
    out = []
    for i in range(n):
        jitter = (lambda sigma: rng.normal(0.0, sigma)) if i else (lambda sigma: 0.0)
        t0 = guess.t0 + jitter(duration / 8.0)
        depth = min(max(guess.depth * 1e-6 * (1.0 + jitter(0.2)), 2e-6), 0.5)
        first = 0.5 * (space.lower[0] + space.upper[0]) if space.single else guess.period
        vector = [first, t0, math.log(depth), 0.0, math.log(duration) + jitter(0.1), 0.36, 0.3]
        if "secosw" in space.names:
            vector += [0.0, 0.0]
        theta = space.clip_inside(space.with_noise(np.array(vector, float), space.fixed_noise), 1e-4)
        for b in (START_IMPACTS[i % len(START_IMPACTS)], 0.5, 0.2, 0.0):
            theta[3] = b
            if space.transit_params(theta) is not None:
                break
        out.append(theta)
    return out
