"""Drawing injections from the configured distributions with an injected generator.

Every draw uses the ``numpy.random.Generator`` it is given; the batch task seeds it from
the target's seed (derived from the batch seed and the target id), so a target gets the
same injections whatever the worker count or order.
"""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import DataValidationError
from .config import SOLAR_DENSITY_CGS, Injection, InjectionConfig

__all__ = ["a_over_rs_from_density", "draw_injections"]

from ..transit import G_CGS as _G_CGS  # noqa: E402
_DAY_S = 86400.0


def a_over_rs_from_density(period: float, stellar_density: float) -> float:
    """a/R★ from Kepler's third law, ``(G ρ★ P² / 3π)^(1/3)`` (planet mass neglected).

    Parameters
    ----------
    period : float
        Orbital period [d].
    stellar_density : float
        Mean stellar density [solar units, ρ☉ = 1.408 g cm⁻³].

    Returns
    -------
    float
        Semi-major axis in stellar radii.
    """
    rho = stellar_density * SOLAR_DENSITY_CGS
    return float((_G_CGS * rho * (period * _DAY_S) ** 2 / (3.0 * math.pi)) ** (1.0 / 3.0))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n)) if hi > lo else np.full(n, lo)


def _uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n) if hi > lo else np.full(n, lo)


def draw_injections(config: InjectionConfig, t_start: float, rng: np.random.Generator,
                    n: int | None = None) -> tuple[Injection, ...]:
    """Draw ``n`` injections (default ``config.n_per_target``).

    P and Rp/R★ log-uniform, b, q1, q2 and the phase uniform, in the configured ranges;
    ``t0 = t_start + phase · P`` (so the first transit falls anywhere in the first period);
    a/R★ from the period and ``config.stellar_density``. The parameters are drawn
    column by column in a fixed order (P, Rp/R★, b, q1, q2, phase), so widening one range
    changes only that column's values.

    Parameters
    ----------
    config : InjectionConfig
    t_start : float
        First good time of the light curve [d, its time system].
    rng : numpy.random.Generator
    n : int, optional

    Returns
    -------
    tuple of Injection
    """
    if not math.isfinite(t_start):
        raise DataValidationError(f"t_start must be a finite time, got {t_start!r}")
    n = config.n_per_target if n is None else int(n)
    period = _log_uniform(rng, *config.period_range, n)
    k = _log_uniform(rng, *config.rp_over_rs_range, n)
    b = _uniform(rng, *config.b_range, n)
    q1 = _uniform(rng, *config.q1_range, n)
    q2 = _uniform(rng, *config.q2_range, n)
    phase = rng.uniform(0.0, 1.0, n)
    out = []
    for i in range(n):
        a = a_over_rs_from_density(float(period[i]), config.stellar_density)
        out.append(Injection(period=float(period[i]), t0=float(t_start + phase[i] * period[i]),
                             rp_over_rs=float(k[i]), b=float(min(b[i], 0.999 * a)), q1=float(q1[i]),
                             q2=float(q2[i]), a_over_rs=a, phase=float(phase[i])))
    return tuple(out)
