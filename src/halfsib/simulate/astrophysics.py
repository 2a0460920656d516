"""What the stars do: GP variability (celerite2), eclipsing binaries and transiting planets.

Variability is a draw from a celerite2 Gaussian process, made as ``L z`` with ``L`` the
Cholesky factor of the kernel matrix (``GaussianProcess.dot_tril``) and ``z`` standard
normals from the injected generator, so the result depends only on the generator. Every
star has granulation-like noise (an SHO term with Q = 1/√2); a fraction also has spot
modulation (celerite2 ``RotationTerm``). Transits and eclipses use :mod:`halfsib.transit`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..exceptions import NotPositiveDefiniteError
from ..transit import TransitParams, transit_flux
from .config import SimulationConfig
from .scene import Scene, draw_count

__all__ = ["Body", "Variability", "Astrophysics", "make_astrophysics", "sample_gp", "variability_kernel", "eb_flux"]

log = logging.getLogger(__name__)

_SOLAR_A_OVER_RS = 4.2066  # a/R★ for P = 1 d around a star of solar density


@dataclass(frozen=True)
class Variability:
    """Per-star variability parameters (NaN where a term is absent).

    Attributes
    ----------
    kind : ndarray of str
        ``"rotation"`` (spots + granulation) or ``"granulation"``.
    gran_sigma : ndarray
        Standard deviation of the granulation-like SHO term (relative flux).
    gran_rho : ndarray
        Its undamped period [d].
    rot_sigma, rot_period, rot_q0, rot_dq, rot_f : ndarray
        celerite2 ``RotationTerm`` parameters: standard deviation (relative flux), period
        [d], quality factors and the amplitude ratio of the half-period mode.
    """

    kind: NDArray[np.str_]
    gran_sigma: NDArray[np.float64]
    gran_rho: NDArray[np.float64]
    rot_sigma: NDArray[np.float64]
    rot_period: NDArray[np.float64]
    rot_q0: NDArray[np.float64]
    rot_dq: NDArray[np.float64]
    rot_f: NDArray[np.float64]

    def total_sigma(self) -> NDArray[np.float64]:
        """Standard deviation of the whole process per star (relative flux)."""
        return np.sqrt(self.gran_sigma**2 + np.nan_to_num(self.rot_sigma) ** 2)


@dataclass(frozen=True)
class Body:
    """A transiting planet or the companion of an eclipsing binary.

    Attributes
    ----------
    star : int
        Index of the target.
    kind : str
        ``"planet"`` or ``"eb"``.
    params : TransitParams
        For an EB: the companion (radius ratio k = R2/R1) crossing the primary.
    sb_ratio : float
        EB surface-brightness ratio of companion to primary (NaN for planets).
    depth : float
        Depth of the (primary) event at mid-time without exposure smearing (fraction).
    depth_secondary : float
        EB secondary eclipse depth (fraction; 0 for planets).
    """

    star: int
    kind: str
    params: TransitParams
    sb_ratio: float
    depth: float
    depth_secondary: float


@dataclass(frozen=True)
class Astrophysics:
    """Noiseless astrophysical relative flux of every target, with what made it."""

    flux: NDArray[np.float64]  # (n_stars, N)
    variability: Variability
    bodies: tuple[Body, ...]

    def n_planets(self, n_stars: int) -> NDArray[np.int64]:
        """Number of planets per star."""
        out = np.zeros(n_stars, dtype=np.int64)
        for body in self.bodies:
            out[body.star] += body.kind == "planet"
        return out


def _loguniform(rng: np.random.Generator, lo: float, hi: float, size: int | None = None) -> NDArray | float:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def variability_kernel(var: Variability, i: int):  # -> celerite2.terms.Term
    """The celerite2 kernel of star ``i``."""
    from celerite2 import terms

    kernel = terms.SHOTerm(sigma=var.gran_sigma[i], rho=var.gran_rho[i], Q=1.0 / np.sqrt(2.0))
    if var.kind[i] == "rotation":
        kernel = kernel + terms.RotationTerm(
            sigma=var.rot_sigma[i], period=var.rot_period[i], Q0=var.rot_q0[i], dQ=var.rot_dq[i], f=var.rot_f[i]
        )
    return kernel


def sample_gp(
    time: NDArray[np.float64], kernel, rng: np.random.Generator, size: int | None = None
) -> NDArray[np.float64]:
    """One (or ``size``) draws of a zero-mean celerite2 GP at sorted ``time``.

    Computed as ``L z`` (``GaussianProcess.dot_tril``) with ``z`` standard normals from
    ``rng``. A diagonal of 1e-8 of the kernel variance keeps the factorisation stable.

    Raises
    ------
    NotPositiveDefiniteError
        If celerite2 cannot factorise the kernel matrix.
    """
    import celerite2

    variance = float(kernel.get_value(np.zeros(1))[0])
    gp = celerite2.GaussianProcess(kernel, mean=0.0)
    try:
        gp.compute(time, diag=1e-8 * variance + 1e-30, check_sorted=False)
    except Exception as err:  # celerite2 raises its own LinAlgError subclass
        raise NotPositiveDefiniteError(f"celerite2 could not factorise the variability kernel: {err}") from err
    z = rng.standard_normal(time.size if size is None else (time.size, size))
    return gp.dot_tril(z)


def _draw_variability(config: SimulationConfig, n: int, rng: np.random.Generator) -> Variability:
    rot = rng.random(n) < config.rotation_fraction
    nan = np.full(n, np.nan)

    def where_rot(values: NDArray) -> NDArray:
        return np.where(rot, values, nan)

    return Variability(
        kind=np.where(rot, "rotation", "granulation"),
        gran_sigma=_loguniform(rng, 2e-5, 3e-4, n),
        gran_rho=_loguniform(rng, 0.05, 1.0, n),
        rot_sigma=where_rot(_loguniform(rng, 2e-4, 1e-2, n)),
        rot_period=where_rot(_loguniform(rng, 0.5, 30.0, n)),
        rot_q0=where_rot(_loguniform(rng, 0.5, 5.0, n)),
        rot_dq=where_rot(_loguniform(rng, 0.1, 5.0, n)),
        rot_f=where_rot(rng.uniform(0.05, 1.0, n)),
    )


def _limb_darkening(rng: np.random.Generator) -> tuple[float, float]:
    """Kipping q1, q2 around Sun-like values in the Kepler/TESS bands."""
    return float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.2, 0.45))


def _draw_planet(star: int, config: SimulationConfig, t_start: float, rng: np.random.Generator) -> TransitParams:
    period = float(_loguniform(rng, *config.planet_period_range))
    k = float(_loguniform(rng, *config.planet_rp_range))
    density = float(_loguniform(rng, 0.3, 3.0))
    a = max(_SOLAR_A_OVER_RS * period ** (2 / 3) * density ** (1 / 3), 1.5 + k)
    q1, q2 = _limb_darkening(rng)
    b = float(rng.uniform(0.0, 0.9))
    return TransitParams(period, t_start + float(rng.uniform(0, period)), k, a, b, q1, q2)


def _draw_eb(
    config: SimulationConfig, t_start: float, span: float, rng: np.random.Generator
) -> tuple[TransitParams, float]:
    period = float(_loguniform(rng, 0.5, max(0.6, min(15.0, span / 2.2))))
    k = float(rng.uniform(0.3, 0.8))
    a = max(4.1 * period ** (2 / 3), 1.6 + k)
    q1, q2 = _limb_darkening(rng)
    params = TransitParams(period, t_start + float(rng.uniform(0, period)), k, a, float(rng.uniform(0, 0.7)), q1, q2)
    return params, float(rng.uniform(0.05, 0.8))


def eb_flux(
    time: NDArray[np.float64], params: TransitParams, sb_ratio: float, exposure_time: float | None = None
) -> NDArray[np.float64]:
    """Relative flux of an eclipsing binary (circular orbit), normalised to 1 out of eclipse.

    The companion (radius ratio k) eclipses the limb-darkened primary at ``t0``; at
    ``t0 + P/2`` the primary occults the (uniform) companion, whose share of the light is
    ``L2 / (L1 + L2)`` with ``L2/L1 = sb_ratio · k²``. The occulted fraction of the
    companion is the overlap area, computed from a uniform-disk transit of the same
    geometry.
    """
    k = params.rp_over_rs
    l2 = sb_ratio * k**2 / (1.0 + sb_ratio * k**2)
    primary = transit_flux(time, params, exposure_time)
    uniform = params.replace(t0=params.t0 + 0.5 * params.period, q1=0.0, q2=0.0)
    covered = (1.0 - transit_flux(time, uniform, exposure_time)) / k**2
    return (1.0 - l2) * primary + l2 * (1.0 - covered)


def make_astrophysics(
    config: SimulationConfig, time: NDArray[np.float64], exposure_time: float, scene: Scene, rng: np.random.Generator
) -> Astrophysics:
    """Draw variability, eclipsing binaries and planets for every target.

    Parameters
    ----------
    config : SimulationConfig
    time : ndarray, shape (N,)
        Mid-cadence times [d], sorted and finite.
    exposure_time : float
        Cadence length [d] for the exposure smearing of transits and eclipses.
    scene : Scene
        Which targets are EBs.
    rng : numpy.random.Generator
    """
    n = scene.n
    var = _draw_variability(config, n, rng)
    flux = np.empty((n, time.size))
    for i in range(n):
        flux[i] = 1.0 + sample_gp(time, variability_kernel(var, i), rng)
    np.maximum(flux, 0.05, out=flux)
    bodies: list[Body] = []
    t0, span = float(time[0]), float(time[-1] - time[0])
    exp = exposure_time if exposure_time > 3.0 / 1440.0 else None
    for i in np.flatnonzero(scene.is_eb):
        params, sb = _draw_eb(config, t0, span, rng)
        model = eb_flux(time, params, sb, exp)
        flux[i] *= model
        mid = eb_flux(np.array([params.t0, params.t0 + 0.5 * params.period]), params, sb)
        bodies.append(Body(int(i), "eb", params, sb, float(1 - mid[0]), float(1 - mid[1])))
    candidates = np.flatnonzero(~scene.is_eb)
    hosts = rng.permutation(candidates)[: draw_count(config.planet_fraction, candidates.size, rng)]
    for i in np.sort(hosts):
        for _ in range(1 + int(rng.random() < 0.2)):
            params = _draw_planet(int(i), config, t0, rng)
            flux[i] *= transit_flux(time, params, exp)
            depth = 1.0 - float(transit_flux(np.array([params.t0]), params)[0])
            bodies.append(Body(int(i), "planet", params, float("nan"), depth, 0.0))
    log.debug("astrophysics: %d EBs, %d planets", int(scene.is_eb.sum()), sum(b.kind == "planet" for b in bodies))
    return Astrophysics(flux=flux, variability=var, bodies=tuple(bodies))
