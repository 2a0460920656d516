"""Composition of the joint fit: nuisance model → parameters → maximum likelihood → Fisher → emcee → result."""

from __future__ import annotations

import dataclasses
import logging
import math
import time as _time
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._blas import blas_threads
from ..design import DesignMatrix
from ..exceptions import ConfigurationError, HalfsibError
from ..model import SystematicsModel, detrend
from ..results import DetrendResult
from ..timeseries import LightCurve
from .config import FitConfig, InsufficientTransitDataError, TransitGuess
from .objective import JointObjective, Nuisance, nuisance_from_fit
from .optimize import FisherInformation, natural_names, fisher_information, maximize_likelihood, propagate_errors
from .parameters import ParameterSpace, build_space, initial_vectors
from .results import FitFailure, PosteriorSummary, SamplerInfo, TransitFit
from .sampling import SamplerRun, run_sampler, summarise

__all__ = ["fit_transit", "sample_transit", "fit_candidates", "count_in_transit", "masked_nuisance_fit", "NUISANCE_MASK_FACTOR"]

#: the nuisance fit made for a transit fit masks cadences within this × T14 / 2 of each guessed transit
NUISANCE_MASK_FACTOR = 2.0
#: the sampler's fixed-noise window reaches this many Fisher errors of t0 and P from the maximum
WINDOW_SIGMAS = 10.0

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: Fisher error of q1 or q2 above which the Gaussian approximation ignores their [0, 1] box
LD_UNCONSTRAINED = 0.5
#: posterior draws used for the derived-quantity summaries (thinned further if needed)
MAX_SUMMARY_DRAWS = 4000


def _config(config: FitConfig | None, settings: dict[str, Any]) -> FitConfig:
    base = config or FitConfig()
    return base.replace(**settings) if settings else base


def _guess(guess: Any) -> TransitGuess:
    if isinstance(guess, TransitGuess):
        return guess
    if guess is None:
        raise ConfigurationError("fit_transit needs a guess: a search Candidate or a TransitGuess(period, t0, "
                                 "duration [h], depth [ppm])")
    return TransitGuess.from_candidate(guess)


def count_in_transit(time: FloatArray, fitted: NDArray[np.bool_], guess: TransitGuess, single: bool
                     ) -> tuple[int, int]:
    """Fitted cadences within half a guessed duration of a guessed mid-transit, and transits with any.

    Single-transit mode counts only the event at ``guess.t0``.
    """
    half = 0.5 * guess.duration / 24.0
    t = time[fitted]
    if single or not math.isfinite(guess.period):
        n = int(np.count_nonzero(np.abs(t - guess.t0) < half))
        return n, int(n > 0)
    epoch = np.round((t - guess.t0) / guess.period)
    inside = np.abs(t - guess.t0 - epoch * guess.period) < half
    return int(inside.sum()), int(np.unique(epoch[inside]).size)


def _resolve_single(cfg: FitConfig, guess: TransitGuess, time: FloatArray, fitted: NDArray[np.bool_]) -> bool:
    if cfg.single is not None:
        return cfg.single
    if guess.single is not None:
        return guess.single
    return count_in_transit(time, fitted, guess, single=False)[1] == 1


def masked_nuisance_fit(lc: LightCurve, design: DesignMatrix, guess: TransitGuess | Any,
                        config: Any = None, start: DetrendResult | None = None) -> DetrendResult:
    """The nuisance model fitted with the guessed transits masked (the fit's default nuisance).

    Unmasked, a deep transit inflates the GP and distorts the regressor prior variances,
    which the joint fit holds; the fit then prefers a wrong transit shape (measured on a
    1.2 %-deep injection: b 0.79 and a/R★ 5.1 against the true 0.2 and 8.9; masked: 0.0 and
    9.1). Cadences within ``NUISANCE_MASK_FACTOR`` × T14 / 2 of each transit are masked
    (only the one at t0 in single-transit mode). ``start``: a fit of the same cadences whose
    hyper-parameters start the optimiser (:meth:`halfsib.model.SystematicsModel.fit`).
    """
    from ..model import transit_window_mask

    guess = _guess(guess)
    period = math.inf if guess.single else guess.period
    mask = transit_window_mask(lc.time, period, guess.t0, guess.duration, NUISANCE_MASK_FACTOR)
    return detrend(lc, design, config=config, transit_mask=mask, start=start)


def _objective(nuisance: Nuisance, space: ParameterSpace, guess: TransitGuess, start: FloatArray,
               exposure: float, supersample: int | None, errors: FloatArray | None = None) -> JointObjective:
    """The joint objective, its fixed-noise window W reaching as far as t0 and P may move.

    Without ``errors`` that is the whole support of t0 and P (the maximisation); with the
    Fisher errors of a maximum, ``WINDOW_SIGMAS`` of them (the sampler: W stays small enough
    for its dense block on long light curves with many transits; a walker that leaves W takes
    the exact full path).
    """
    duration = guess.duration / 24.0
    half_range = 0.5 * (space.upper[:2] - space.lower[:2])
    if errors is not None:
        spread = WINDOW_SIGMAS * np.asarray(errors[:2], float)
        half_range = np.where(np.isfinite(spread) & (spread > 0), np.minimum(spread, half_range), half_range)
    d_period, dt0 = float(half_range[0]), float(half_range[1])
    if space.single:
        reach = dt0
    else:
        far = max(float(nuisance.time[-1]) - guess.t0, guess.t0 - float(nuisance.time[0]))
        reach = dt0 + far / guess.period * d_period
    return JointObjective(nuisance, space, exposure, supersample, duration + reach + exposure, start)


def fit_transit(lc: LightCurve, design: DesignMatrix, nuisance_fit: DetrendResult | SystematicsModel | None = None,
                guess: TransitGuess | Any = None, *, config: FitConfig | None = None,
                rng: np.random.Generator | int | None = None, show_progress: bool = False,
                **settings: Any) -> TransitFit:
    """Fit a limb-darkened transit jointly with the half-sibling nuisance model.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        The target and its regressors, as given to :func:`halfsib.model.detrend`.
    nuisance_fit : DetrendResult or SystematicsModel, optional
        The nuisance fit whose prior variances (held), GP parameters and jitter (starting
        values) and clipped outliers are used; ``None``: fitted here with defaults and the
        guessed transits masked (:func:`masked_nuisance_fit`). Pass a fit made with the
        transits masked: an unmasked one biases the transit's shape.
    guess : TransitGuess or search Candidate
        Period [d], t0 [d], duration [h], depth [ppm] to start from.
    config : FitConfig, optional
        Keyword ``settings`` override its fields (``n_steps=2000``, ``sample=False``...).
    rng : numpy.random.Generator or int, optional
        Randomness of the starts and the sampler (a seed or a generator).
    show_progress : bool
        emcee's progress bar.

    Returns
    -------
    TransitFit

    Raises
    ------
    InsufficientTransitDataError
        Fewer than ``min_in_transit`` fitted cadences inside the guessed transits.
    ConfigurationError
        Invalid settings or guess.
    """
    cfg = _config(config, settings)
    with blas_threads(cfg.blas_threads):
        return _fit(lc, design, nuisance_fit, _guess(guess), cfg, np.random.default_rng(rng), show_progress)


def sample_transit(fit: TransitFit, lc: LightCurve, design: DesignMatrix,
                   nuisance_fit: DetrendResult | SystematicsModel, *, config: FitConfig | None = None,
                   rng: np.random.Generator | int | None = None, show_progress: bool = False,
                   **settings: Any) -> TransitFit:
    """Sample the posterior of a maximum-likelihood fit made with ``fit_transit(..., sample=False)``.

    ``fit_transit(..., sample=True)`` is this function applied to its own maximum-likelihood
    fit with the same random generator, so the two routes give the same draws; splitting
    them lets the maximum likelihood, which the ladder and the vetting need, finish before
    the sampling (``halfsib run`` runs the sampling beside the ladder).

    Parameters
    ----------
    fit : TransitFit
        A fit without posterior, from these ``lc``, ``design`` and ``nuisance_fit``.
    lc, design, nuisance_fit
        As given to :func:`fit_transit` (``nuisance_fit`` is required: pass the one it used,
        or :func:`masked_nuisance_fit`'s result if it was ``None``).
    config : FitConfig, optional
        Sampler settings (default: the fit's own); keyword ``settings`` override fields.
    rng : numpy.random.Generator or int, optional
    show_progress : bool

    Returns
    -------
    TransitFit
        ``fit`` with ``posterior``, ``posterior_draws``, ``sampler`` and the chains filled in.

    Raises
    ------
    ConfigurationError
        When the fit's parameter vector does not belong to this light curve and configuration.
    """
    cfg = _config(config or fit.config, settings)
    with blas_threads(cfg.blas_threads):
        nuisance = nuisance_from_fit(lc, design, nuisance_fit)
        space = build_space(fit.guess, nuisance.time, cfg, nuisance.kernel.parameter_names, nuisance.noise,
                            nuisance.noise_bounds, fit.single_transit)
        if space.names != fit.parameter_names or not np.allclose(space.lower, fit.lower_bounds, rtol=0, atol=1e-12):
            raise ConfigurationError(f"sample_transit: the fit's parameters {fit.parameter_names} and bounds do not "
                                     "belong to this light curve, nuisance fit and configuration")
        return _with_posterior(fit, nuisance, space, cfg, np.random.default_rng(rng), show_progress)


def _warn_if_unmasked(lc: LightCurve, nuisance_fit: Any, guess: TransitGuess, single: bool) -> None:
    """Warn when the nuisance fit whose noise the transit fit holds saw the guessed transits."""
    from ..model import transit_window_mask

    result = nuisance_fit.result if isinstance(nuisance_fit, SystematicsModel) else nuisance_fit
    period = math.inf if single else guess.period
    window = transit_window_mask(result.time, period, guess.t0, guess.duration, 1.0)
    if window.any() and not np.asarray(result.masked, bool)[window].any():
        log.warning("%s: the nuisance fit was made with these transits unmasked; its GP and jitter, which the "
                    "transit fit holds (fit_noise=False), absorbed part of them. Pass masked_nuisance_fit(...) "
                    "(or None) as the nuisance fit, or set fit_noise=True", lc.meta.target_id or lc.meta.source)


def _fit(lc: LightCurve, design: DesignMatrix, nuisance_fit: Any, guess: TransitGuess, cfg: FitConfig,
         rng: np.random.Generator, show_progress: bool) -> TransitFit:
    clock = {"start": _time.perf_counter()}
    fit = masked_nuisance_fit(lc, design, guess) if nuisance_fit is None else nuisance_fit
    nuisance = nuisance_from_fit(lc, design, fit)
    single = _resolve_single(cfg, guess, nuisance.time, nuisance.fitted)
    if nuisance_fit is not None and not (cfg.fit_noise or cfg.sample_noise):
        _warn_if_unmasked(lc, fit, guess, single)
    n_in, n_transits = count_in_transit(nuisance.time, nuisance.fitted, guess, single)
    if n_in < cfg.min_in_transit:
        raise InsufficientTransitDataError(
            f"only {n_in} fitted cadence(s) inside the guessed transit(s) (P={guess.period} d, t0={guess.t0}, "
            f"duration {guess.duration} h); the fit needs at least min_in_transit={cfg.min_in_transit}",
            lc.meta.source, n_in_transit=n_in, required=cfg.min_in_transit)
    exposure = cfg.exposure_time if cfg.exposure_time is not None else float(np.median(np.diff(nuisance.time)))
    space = build_space(guess, nuisance.time, cfg, nuisance.kernel.parameter_names, nuisance.noise,
                        nuisance.noise_bounds, single)
    # the guess's depth is what the aperture shows; the vector holds the star's own depth
    starts = initial_vectors(space, dataclasses.replace(guess, depth=guess.depth / nuisance.target_fraction),
                             cfg.n_starts, rng)
    objective = _objective(nuisance, space, guess, starts[0], exposure, cfg.supersample)
    clock["setup"] = _time.perf_counter()
    ml = maximize_likelihood(objective, starts)
    clock["ml"] = _time.perf_counter()
    fisher = fisher_information(objective, ml.theta)
    errors = propagate_errors(space, ml.theta, fisher)
    clock["fisher"] = _time.perf_counter()
    result = _assemble(lc, nuisance, objective, guess, cfg, ml.theta, ml.log_likelihood, fisher, errors,
                       n_transits, exposure, _timings(clock))
    return _with_posterior(result, nuisance, space, cfg, rng, show_progress) if cfg.sample else result


def _timings(clock: dict[str, float]) -> dict[str, float]:
    keys = list(clock)
    return {k: round(clock[k] - clock[p], 3) for p, k in zip(keys, keys[1:])}


def _with_posterior(fit: TransitFit, nuisance: Nuisance, space: ParameterSpace, cfg: FitConfig,
                    rng: np.random.Generator, show_progress: bool) -> TransitFit:
    """``fit`` with the emcee posterior around its maximum (the fixed-noise window centred there)."""
    started = _time.perf_counter()
    errors = np.sqrt(np.diag(fit.fisher_covariance))
    objective = _objective(nuisance, space, fit.guess, fit.theta, fit.exposure_time, cfg.supersample, errors)
    run = _sample(objective, fit.theta, errors, cfg, rng, show_progress)
    posterior, draws = _posterior(space, run, fit.theta)
    flags = fit.flags + (() if run.converged else ("sampler_not_converged",))
    timings = {**fit.timings, "sampling": round(_time.perf_counter() - started, 3)}
    return dataclasses.replace(fit, posterior=posterior, posterior_draws=draws, sampler=_sampler_info(run),
                               chain=run.chain, chain_log_prob=run.log_prob, flags=flags, timings=timings, config=cfg)


def _sample(objective: JointObjective, theta: FloatArray, fisher_errors: FloatArray, cfg: FitConfig,
            rng: np.random.Generator, show_progress: bool) -> SamplerRun:
    space = objective.space
    sample_noise = bool(cfg.sample_noise and space.fits_noise)
    n_dim = space.n_parameters if sample_noise else space.n_transit
    errors = np.where(np.isfinite(fisher_errors), fisher_errors, space.scales)
    spread = 0.1 * np.minimum(errors, space.scales * 10.0)[:n_dim]
    if sample_noise:
        log_prob = objective.log_probability_many
    else:  # the noise held: every walker takes the fixed-noise evaluator's fast path
        objective.fixed_noise(space.noise(theta))
        rest = theta[n_dim:]

        def log_prob(x: FloatArray) -> FloatArray:
            return objective.log_probability_many(np.hstack([x, np.broadcast_to(rest, (x.shape[0], rest.size))]))
    n_walkers = cfg.n_walkers or max(24, 4 * n_dim)
    n_walkers += n_walkers % 2
    return run_sampler(log_prob, space.names[:n_dim], theta[:n_dim].copy(), spread, n_walkers=n_walkers,
                       n_steps=cfg.n_steps, check_every=cfg.check_every, autocorr_multiple=cfg.autocorr_multiple,
                       autocorr_tolerance=cfg.autocorr_tolerance, rng=rng, show_progress=show_progress)


def _posterior(space: ParameterSpace, run: SamplerRun, theta: FloatArray
               ) -> tuple[dict[str, PosteriorSummary], dict[str, FloatArray]]:
    draws = run.samples()
    if draws.shape[0] > MAX_SUMMARY_DRAWS:
        draws = draws[np.linspace(0, draws.shape[0] - 1, MAX_SUMMARY_DRAWS).astype(int)]
    rows = []
    for d in draws:
        full = np.concatenate([d, theta[d.size:]])
        if space.transit_params(full) is not None:
            rows.append(space.quantities(full))
    fixed = {n for n in _noise_quantities(space) if n not in _sampled_quantities(space, run)}
    draws_by_name = {name: np.array([r[name] for r in rows]) for name in (rows[0] if rows else ())
                     if name not in fixed}
    summary = {}
    for name, values in draws_by_name.items():
        lower, median, upper = summarise(values)
        summary[name] = PosteriorSummary(median=median, lower=lower, upper=upper)
    return summary, draws_by_name


def _noise_quantities(space: ParameterSpace) -> set[str]:
    return {n for name in space.noise_names for n in natural_names(name)}


def _sampled_quantities(space: ParameterSpace, run: SamplerRun) -> set[str]:
    return {n for name in run.names for n in natural_names(name)}


def _flags(space: ParameterSpace, theta: FloatArray, fisher: FisherInformation, quantities: dict[str, float]
           ) -> tuple[str, ...]:
    flags = [f"{name}_at_{side}_bound" for name, side in space.at_bounds(theta).items()]
    if not fisher.ok:
        flags.append("fisher_not_positive_definite")
    flags += [f"fisher_fixed_{space.names[i]}" for i in np.flatnonzero(~fisher.free)
              if space.names[i] not in space.at_bounds(theta)]
    if fisher.ok and not np.all(fisher.free):
        flags.append("fisher_conditional_on_fixed_parameters")
    errors = dict(zip(space.names, fisher.errors))
    if any(errors.get(q, 0.0) > LD_UNCONSTRAINED for q in ("q1", "q2")):
        flags.append("fisher_limb_darkening_unconstrained")
    if quantities["b"] > 1.0 - quantities["rp_over_rs"]:
        flags.append("grazing")
    if space.single:
        flags.append("single_transit")
    return tuple(flags)


def _sampler_info(run: SamplerRun) -> SamplerInfo:
    return SamplerInfo(n_walkers=run.n_walkers, n_steps=run.n_steps, discard=run.discard, thin=run.thin,
                       n_samples=int(run.samples().shape[0]),
                       autocorr_time={n: float(t) for n, t in zip(run.names, run.autocorr_time)},
                       acceptance_fraction=run.acceptance_fraction, converged=run.converged,
                       n_effective=float(run.n_effective), message=run.message, sampled=run.names)


def _assemble(lc: LightCurve, nuisance: Nuisance, objective: JointObjective, guess: TransitGuess, cfg: FitConfig,
              theta: FloatArray, log_like: float, fisher: FisherInformation, errors: dict[str, float],
              n_transits: int, exposure: float, timings: dict[str, float]) -> TransitFit:
    """The maximum-likelihood :class:`TransitFit` (no posterior: :func:`_with_posterior` adds it)."""
    space = objective.space
    quantities = space.quantities(theta)
    parts = objective.components(theta)
    null = nuisance.build(space.noise(theta)).log_likelihood() + nuisance.offset
    params = space.transit_params(theta)
    in_transit = (parts["transit"] != 0) & nuisance.fitted
    supersample = cfg.supersample or max(1, math.ceil(exposure / (2.0 / 1440.0))) if exposure > 0 else 1
    return TransitFit(
        target=lc.meta.target_id or "", mission=lc.meta.mission or "", time_format=lc.time_format,
        source=nuisance.source, single_transit=space.single, parameter_names=space.names, theta=theta.copy(),
        lower_bounds=space.lower.copy(), upper_bounds=space.upper.copy(), maximum_likelihood=quantities,
        fisher_errors=errors, fisher_covariance=fisher.covariance,
        posterior=None, posterior_draws=None, sampler=None, log_likelihood=float(log_like),
        delta_loglike=float(log_like - null), n_transits=_transits_with_data(nuisance, params, in_transit),
        n_in_transit=int(in_transit.sum()), flags=_flags(space, theta, fisher, quantities),
        prior_variances=nuisance.prior_variances, prior_variance_gradient=objective.prior_variance_gradient(theta),
        kernel=nuisance.kernel.kind, exposure_time=exposure, supersample=int(supersample), config=cfg, guess=guess,
        time=nuisance.time, flux=nuisance.y, transit_model=parts["transit"],
        nuisance_model=parts["systematics"] + parts["stellar"], fitted=nuisance.fitted,
        chain=None, chain_log_prob=None, timings=timings, target_fraction=nuisance.target_fraction)


def _transits_with_data(nuisance: Nuisance, params: Any, in_transit: NDArray[np.bool_]) -> int:
    if not np.any(in_transit):
        return 0
    epoch = np.round((nuisance.time[in_transit] - params.t0) / params.period)
    return int(np.unique(epoch).size)


def fit_candidates(lc: LightCurve, design: DesignMatrix, nuisance_fit: DetrendResult | SystematicsModel | None,
                   candidates: Iterable[Any], *, config: FitConfig | None = None,
                   rng: np.random.Generator | int | None = None, show_progress: bool = False
                   ) -> tuple[TransitFit | FitFailure, ...]:
    """Fit every candidate; one that cannot be fitted becomes a :class:`FitFailure` (the others go on).

    ``nuisance_fit=None``: each candidate gets a nuisance fit with its own transits masked
    (:func:`masked_nuisance_fit`); better, pass one made with every candidate masked (the
    search's ``SearchResult.nuisance_fit``).

    Only halfsib's own errors (bad data, too few in-transit cadences, numerical failure) are
    caught; programming errors still raise.
    """
    rng = np.random.default_rng(rng)
    out: list[TransitFit | FitFailure] = []
    for candidate in candidates:
        guess = _guess(candidate)
        try:
            out.append(fit_transit(lc, design, nuisance_fit, guess, config=config, rng=rng, show_progress=show_progress))
        except HalfsibError as err:
            log.warning("%s: fit of P=%.5f d failed: %s", lc.meta.target_id, guess.period, err)
            out.append(FitFailure(target=lc.meta.target_id or "", guess=guess, error_type=type(err).__name__,
                                  message=str(err), n_in_transit=getattr(err, "n_in_transit", 0)))
    return tuple(out)
