"""Posterior sampling with emcee, convergence from the integrated autocorrelation time.

Walkers start in a small Gaussian ball around the maximum (a tenth of the Fisher errors, or
of the parameter scales where those are undefined), redrawn until every walker is inside
the support. Moves: differential evolution (80 %) and its snooker variant (20 %), which
follow the strong correlations of transit posteriors (b–a/R★–k) better than the stretch
move. Every ``check_every`` steps the autocorrelation time τ of each parameter is
estimated; the run is *converged* once it is longer than ``autocorr_multiple`` × τ for every
parameter and τ changed by less than ``autocorr_tolerance`` since the last check. A run
that reaches ``n_steps`` first is reported as not converged (never hidden). Burn-in: 2 τ_max
(half the chain when not converged); thinning: τ_min / 2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SamplerRun", "run_sampler", "summarise"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: draws of the initial ball per walker before giving up on the support
MAX_INITIAL_TRIES = 200


@dataclass(frozen=True, eq=False)
class SamplerRun:
    """An emcee run.

    Attributes
    ----------
    names : tuple of str
        Sampled fit-space parameters.
    chain : ndarray, shape (n_steps, n_walkers, n_dim)
    log_prob : ndarray, shape (n_steps, n_walkers)
    autocorr_time : ndarray, shape (n_dim,)
        Integrated autocorrelation time [steps] at the end (emcee estimate, ``tol=0``).
    converged : bool
    acceptance_fraction : float
        Mean over walkers.
    discard, thin : int
        Burn-in steps dropped and thinning used by :meth:`samples`.
    message : str
        How the run ended.
    """

    names: tuple[str, ...]
    chain: FloatArray
    log_prob: FloatArray
    autocorr_time: FloatArray
    converged: bool
    acceptance_fraction: float
    discard: int
    thin: int
    message: str

    @property
    def n_steps(self) -> int:
        """Steps per walker run."""
        return int(self.chain.shape[0])

    @property
    def n_walkers(self) -> int:
        """Number of walkers."""
        return int(self.chain.shape[1])

    def samples(self) -> FloatArray:
        """Posterior draws after burn-in and thinning, shape (n, n_dim)."""
        kept = self.chain[self.discard:: self.thin]
        return kept.reshape(-1, kept.shape[-1])

    @property
    def n_effective(self) -> float:
        """Effective number of independent draws, n_walkers × (steps after burn-in) / τ_max."""
        tau = float(np.max(self.autocorr_time)) if self.autocorr_time.size else math.inf
        return self.n_walkers * max(self.n_steps - self.discard, 0) / max(tau, 1.0)


def initial_walkers(log_prob: Callable[[FloatArray], FloatArray], centre: FloatArray, spread: FloatArray,
                    n_walkers: int, rng: np.random.Generator) -> FloatArray:
    """``n_walkers`` points around ``centre`` (Gaussian, σ = ``spread``) with finite ln p.

    ``log_prob`` maps an (n, n_dim) array of points to their n values.
    """
    out = np.empty((n_walkers, centre.size))
    for w in range(n_walkers):
        scale = spread.copy()
        for attempt in range(MAX_INITIAL_TRIES):
            trial = centre + scale * rng.standard_normal(centre.size)
            if math.isfinite(float(log_prob(trial[None, :])[0])):
                break
            if attempt % 20 == 19:
                scale = scale * 0.5
        else:
            trial = centre
        out[w] = trial
    return out


def run_sampler(log_prob: Callable[[FloatArray], FloatArray], names: tuple[str, ...], centre: FloatArray,
                spread: FloatArray, *, n_walkers: int, n_steps: int, check_every: int, autocorr_multiple: float,
                autocorr_tolerance: float, rng: np.random.Generator, show_progress: bool = False) -> SamplerRun:
    """Run emcee from a ball around ``centre`` until converged or ``n_steps`` (see module docstring).

    ``log_prob`` is vectorised: it maps an (n, n_dim) array of walker positions to their n
    log-probabilities (emcee's ``vectorize=True``), so a half-ensemble is one call.
    """
    import emcee

    p0 = initial_walkers(log_prob, centre, spread, n_walkers, rng)
    moves = [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]
    sampler = emcee.EnsembleSampler(n_walkers, centre.size, log_prob, moves=moves, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
    previous = np.full(centre.size, np.inf)
    converged, message = False, f"reached n_steps={n_steps} before convergence"
    for _ in sampler.sample(p0, iterations=n_steps, progress=show_progress, skip_initial_state_check=True):
        step = sampler.iteration
        if step % check_every:
            continue
        tau = sampler.get_autocorr_time(tol=0)
        if np.all(np.isfinite(tau)) and np.all(autocorr_multiple * tau < step) and \
                np.all(np.abs(previous - tau) < autocorr_tolerance * tau):
            converged = True
            message = f"converged after {step} steps (max tau {np.max(tau):.1f})"
            break
        previous = tau
    tau = np.asarray(sampler.get_autocorr_time(tol=0), float)
    chain = sampler.get_chain()
    n = chain.shape[0]
    finite_tau = np.where(np.isfinite(tau) & (tau > 0), tau, float(n))
    discard = int(min(2.0 * np.max(finite_tau), n // 2)) if converged else n // 2
    thin = max(1, int(0.5 * np.min(finite_tau)))
    log.info("emcee: %s", message)
    return SamplerRun(names=names, chain=chain, log_prob=sampler.get_log_prob(), autocorr_time=tau,
                      converged=converged, acceptance_fraction=float(np.mean(sampler.acceptance_fraction)),
                      discard=discard, thin=thin, message=message)


def summarise(values: FloatArray) -> tuple[float, float, float]:
    """(16th, 50th, 84th) percentiles: the median and the 68 % central interval."""
    q = np.percentile(values, [15.865525393145708, 50.0, 84.13447460685429])
    return float(q[0]), float(q[1]), float(q[2])
