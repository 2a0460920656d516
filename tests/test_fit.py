"""The joint transit fit: dense exactness, recovery and coverage on simulations, failures, outputs, CLI."""

from __future__ import annotations

import math
import time as _time

import numpy as np
import pytest
from astropy.table import Table

from halfsib.design import DesignMatrix, RegressorGroup
from halfsib.fit import (FitConfig, FitFailure, InsufficientTransitDataError, TransitFit, TransitGuess,
                         fit_candidates, fit_transit, nuisance_from_fit)
from halfsib.fit.core import _objective
from halfsib.fit.parameters import build_space, initial_vectors, stellar_density
from halfsib.model import detrend
from halfsib.timeseries import LightCurve, TargetInfo
from halfsib.transit import TransitParams, transit_duration, transit_flux

from reference import dense_covariance, dense_log_likelihood, finite_difference_gradient

CADENCE = 0.0204335  # K2 long cadence [d]
NOISE = 3e-4
TRUTH = TransitParams(period=3.1, t0=2010.05, rp_over_rs=0.04, a_over_rs=10.0, b=0.3, q1=0.4, q2=0.3)


def _light_curve(rng, n, params=TRUTH, noise=NOISE, n_reg=4, good=None, stellar=5e-4):
    """K2-like: random-walk regressors, a 3-d sinusoid, white noise and an exposure-integrated transit."""
    time = 2000.0 + CADENCE * np.arange(n)
    reg = rng.standard_normal((n, n_reg)).cumsum(axis=0)
    reg = (reg - reg.mean(0)) / reg.std(0)
    transit = transit_flux(time, params, exposure_time=CADENCE) - 1.0 if params is not None else 0.0
    rel = reg @ (1e-3 * rng.standard_normal(n_reg) / np.sqrt(n_reg)) + stellar * np.sin(2 * np.pi * (time - 2000) / 3)
    rel = rel + noise * rng.standard_normal(n) + transit
    good = np.ones(n, bool) if good is None else good
    lc = LightCurve(time=time, quality=np.zeros(n, np.int64), good=good, cadenceno=np.arange(n), time_format="bkjd",
                    meta=TargetInfo(mission="K2", target_id="EPIC 7"), flux=1e5 * (1 + rel),
                    flux_err=np.full(n, 1e5 * noise))
    half = n_reg // 2
    design = DesignMatrix.from_groups([RegressorGroup("elc", reg[:, :half], 1.0),
                                       RegressorGroup("motion", reg[:, half:], 1.0)])
    return lc, design


def _guess(params=TRUTH, **changes):
    values = dict(period=params.period, t0=params.t0, duration=24 * transit_duration(params),
                  depth=1e6 * params.rp_over_rs**2)
    values.update(changes)
    return TransitGuess(**values)


def _objective_for(lc, design, fit, guess, config=None, half_width=None):
    config = config or FitConfig(fit_noise=True)  # the joint objective with the noise parameters in it
    nuisance = nuisance_from_fit(lc, design, fit)
    space = build_space(guess, nuisance.time, config, nuisance.kernel.parameter_names, nuisance.noise,
                        nuisance.noise_bounds, bool(guess.single))
    start = initial_vectors(space, guess, 1, np.random.default_rng(0))[0]
    objective = _objective(nuisance, space, guess, start, CADENCE, None)
    if half_width is not None:
        from halfsib.fit.objective import JointObjective
        objective = JointObjective(nuisance, space, CADENCE, None, half_width, start)
    return objective, space, start


def _dense_log_likelihood(fit, design, objective, theta):
    """ln L from the N × N covariance: C = K_GP + diag(σ² + s²) + A Λ Aᵀ, r = y − (F − 1)."""
    nuisance, space = objective.nuisance, objective.space
    kernel = nuisance.kernel
    noise = space.noise(theta)
    var = (fit.raw_flux_err / fit.normalisation) ** 2 + kernel.jitter(noise) ** 2
    lam = np.concatenate([np.full(sl.stop - sl.start, fit.prior_variances[g]) for g, sl in design.groups.items()])
    cov = dense_covariance(nuisance.time, var, kernel.term(noise), design.matrix, lam)
    model = transit_flux(nuisance.time, space.transit_params(theta), exposure_time=CADENCE) - 1.0
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # the dense eigh is ~100x slower on a busy shared machine
        return dense_log_likelihood(nuisance.y - model, cov)


# --- exactness ---------------------------------------------------------------------------------------------

@pytest.fixture
def small_problem(rng):
    lc, design = _light_curve(rng, 220, TransitParams(period=1.3, t0=2001.3, rp_over_rs=0.05, a_over_rs=6.0, b=0.2))
    fit = detrend(lc, design, clip_sigma=0)
    guess = _guess(TransitParams(period=1.3, t0=2001.3, rp_over_rs=0.05, a_over_rs=6.0, b=0.2))
    return lc, design, fit, guess


def test_objective_equals_dense_reference(small_problem, rng):
    lc, design, fit, guess = small_problem
    objective, space, start = _objective_for(lc, design, fit, guess)
    assert space.fits_noise and len(space.noise_names) == 3  # SHO (sigma, rho) + jitter, fitted jointly
    for k in range(4):
        theta = start.copy()
        theta[: space.n_transit] += 0.3 * space.scales[: space.n_transit] * rng.standard_normal(space.n_transit)
        theta[space.n_transit:] += 0.3 * k * rng.standard_normal(len(space.noise_names))
        theta = space.clip_inside(theta, 1e-3)
        dense = _dense_log_likelihood(fit, design, objective, theta)
        full = objective.log_likelihood(theta, use_fixed=False)
        objective.fixed_noise(space.noise(theta))
        fixed = objective.log_likelihood(theta)
        assert abs(full - dense) <= 1e-8 * abs(dense), (full, dense)
        assert abs(fixed - dense) <= 1e-8 * abs(dense), (fixed, dense)


@pytest.mark.parametrize("exposure", [None, CADENCE, 2.0 / 1440.0])
def test_fast_model_equals_the_shared_transit_model(rng, exposure):
    from halfsib.fit._model import model_flux

    time = 2000.0 + CADENCE * np.arange(2000)
    for _ in range(6):
        ecc = rng.choice([0.0, rng.uniform(0, 0.4)])
        params = TransitParams(period=rng.uniform(0.8, 20), t0=2000 + rng.uniform(0, 10),
                               rp_over_rs=rng.uniform(0.01, 0.2), a_over_rs=rng.uniform(4, 30),
                               b=rng.uniform(0, 1.1), q1=rng.uniform(0, 1), q2=rng.uniform(0, 1), ecc=ecc,
                               omega=rng.uniform(0, 360))
        for n_sub in (None, 3):
            ref = transit_flux(time, params, exposure, n_sub)
            np.testing.assert_allclose(model_flux(time, params, exposure, n_sub), ref, rtol=1e-13, atol=1e-15)
            assert np.any(ref < 1) or params.b > 1


def test_fixed_noise_without_a_window_block_is_exact_and_never_rebuilds(small_problem, rng, monkeypatch):
    """A window too large for its dense block (a long TESS light curve with many transits)
    still evaluates at fixed noise from one factorisation: the full path, not a rebuild."""
    from halfsib.fit import objective as objective_module

    lc, design, fit, guess = small_problem
    monkeypatch.setattr(objective_module, "MAX_WINDOW", 10)
    objective, space, start = _objective_for(lc, design, fit, guess)
    assert objective.window.size > 10
    fixed = objective.fixed_noise(space.noise(start))
    assert fixed is not None and not fixed.windowed
    builds = []
    original = objective.nuisance.objective.build
    monkeypatch.setattr(objective.nuisance.objective, "build", lambda theta: builds.append(1) or original(theta))
    for _ in range(4):
        theta = start.copy()
        theta[: space.n_transit] += 0.3 * space.scales[: space.n_transit] * rng.standard_normal(space.n_transit)
        theta = space.clip_inside(theta, 1e-3)
        dense = _dense_log_likelihood(fit, design, objective, theta)
        assert abs(objective.log_likelihood(theta) - dense) <= 1e-8 * abs(dense)
        many = objective.log_probability_many(theta[None, :])[0]
        assert many == pytest.approx(objective.log_probability(theta), rel=1e-12)
    assert not builds


def test_fixed_noise_path_falls_back_outside_its_window(small_problem, rng):
    lc, design, fit, guess = small_problem
    objective, space, start = _objective_for(lc, design, fit, guess, half_width=0.01)  # W narrower than the transit
    objective.fixed_noise(space.noise(start))
    theta = start.copy()
    assert not objective._fits_window(space.transit_params(theta))
    assert objective.log_likelihood(theta) == pytest.approx(objective.log_likelihood(theta, use_fixed=False),
                                                            rel=1e-12)
    wide, _, _ = _objective_for(lc, design, fit, guess)
    wide.fixed_noise(space.noise(start))
    for _ in range(5):
        t = space.clip_inside(start + 0.5 * space.scales * rng.standard_normal(start.size) * (np.arange(start.size)
                                                                                             < space.n_transit))
        assert wide.log_likelihood(t) == pytest.approx(wide.log_likelihood(t, use_fixed=False), rel=1e-11)


def test_gradient_matches_finite_differences(small_problem):
    lc, design, fit, guess = small_problem
    objective, space, start = _objective_for(lc, design, fit, guess)
    theta = space.clip_inside(start, 1e-2)
    value, grad = objective.log_likelihood_and_gradient(theta)
    assert value == pytest.approx(objective.log_likelihood(theta, use_fixed=False), rel=1e-12)
    numeric = finite_difference_gradient(lambda t: objective.log_likelihood(t, use_fixed=False), theta,
                                         step=1e-6)
    # steps in units of each parameter's scale so that every entry is resolved
    scaled = finite_difference_gradient(
        lambda z: objective.log_likelihood(theta + z * space.scales, use_fixed=False), np.zeros_like(theta),
        step=1e-3) / space.scales
    np.testing.assert_allclose(grad, scaled, rtol=2e-3, atol=1e-3 * np.abs(scaled).max())
    assert np.all(np.isfinite(numeric))


def test_eccentric_orbits_equal_the_dense_reference_and_fit(small_problem, rng):
    lc, design, fit, guess = small_problem
    objective, space, start = _objective_for(lc, design, fit, guess, FitConfig(fit_eccentricity=True))
    assert space.names[7:9] == ("secosw", "sesinw")
    theta = start.copy()
    theta[7:9] = [0.3, -0.2]
    params = space.transit_params(theta)
    assert params.ecc == pytest.approx(0.13) and params.omega == pytest.approx(math.degrees(math.atan2(-0.2, 0.3)))
    dense = _dense_log_likelihood(fit, design, objective, theta)
    assert abs(objective.log_likelihood(theta, use_fixed=False) - dense) <= 1e-8 * abs(dense)
    result = fit_transit(lc, design, fit, guess, fit_eccentricity=True, sample=False, n_starts=2, rng=rng)
    assert {"ecc", "omega"} <= set(result.maximum_likelihood) and "ecc" in result.to_table().colnames


def test_sampling_later_equals_sampling_in_the_fit(small_problem):
    """fit_transit(sample=True) is fit_transit(sample=False) followed by sample_transit with the same generator."""
    from halfsib.exceptions import ConfigurationError
    from halfsib.fit import sample_transit

    lc, design, fit, guess = small_problem
    settings = dict(n_steps=40, check_every=20, n_starts=2)
    together = fit_transit(lc, design, fit, guess, rng=np.random.default_rng(5), **settings)
    rng = np.random.default_rng(5)
    first = fit_transit(lc, design, fit, guess, rng=rng, sample=False, **settings)
    assert first.posterior is None and first.chain is None and "sampling" not in first.timings
    later = sample_transit(first, lc, design, fit, rng=rng, sample=True)
    np.testing.assert_array_equal(later.chain, together.chain)
    assert later.posterior["rp_over_rs"] == together.posterior["rp_over_rs"] and later.flags == together.flags
    assert later.maximum_likelihood == first.maximum_likelihood and later.timings["sampling"] > 0
    with pytest.raises(ConfigurationError, match="do not belong"):
        sample_transit(first, lc, design, fit, fit_eccentricity=True)


@pytest.mark.parametrize("fit_noise", [False, True])
def test_sampling_with_the_noise_held_never_rebuilds_the_nuisance_model(small_problem, monkeypatch, fit_noise):
    """With the noise held (the default) every walker takes the fixed-noise evaluator: the
    nuisance model is built once for the whole chain, whether or not the ML fit fitted the noise."""
    from halfsib.fit import sample_transit
    from halfsib.fit.objective import Nuisance

    lc, design, fit, guess = small_problem
    first = fit_transit(lc, design, fit, guess, rng=1, sample=False, n_starts=1, fit_noise=fit_noise)
    builds = []
    original = Nuisance.build
    monkeypatch.setattr(Nuisance, "build", lambda self, noise: builds.append(1) or original(self, noise))
    later = sample_transit(first, lc, design, fit, rng=2, n_steps=30, check_every=10)
    assert later.chain is not None and later.chain.shape[0] == 30
    assert len(builds) <= 1


def test_sampling_the_noise_parameters_too(small_problem):
    lc, design, fit, guess = small_problem
    result = fit_transit(lc, design, fit, guess, sample_noise=True, n_steps=20, check_every=10, n_starts=1,
                         n_walkers=22, rng=2)
    assert result.sampler.sampled[-3:] == ("ln_sigma", "ln_rho", "ln_jitter")
    assert {"sigma", "rho", "jitter"} <= set(result.posterior)
    plain = fit_transit(lc, design, fit, guess, n_steps=20, check_every=10, n_starts=1, rng=2)
    assert "sigma" not in plain.posterior and len(plain.sampler.sampled) == 7


def test_outside_the_support_is_minus_infinity_never_nan(small_problem):
    lc, design, fit, guess = small_problem
    objective, space, start = _objective_for(lc, design, fit, guess)
    from halfsib.fit.parameters import radius_ratio_from_depth

    names, bad = list(space.names), []
    k_edge = radius_ratio_from_depth(math.exp(start[names.index("ln_depth")]), 1.0, 0.36, 0.3)  # k for any b >= 1
    for name, value in (("b", 1.0 + k_edge + 0.01), ("q1", 1.2), ("q2", -0.1), ("ln_depth", math.log(0.9)),
                        ("b", 2.5), ("t0", np.nan)):
        t = start.copy()
        t[names.index(name)] = value
        bad.append(t)
    bad.append(np.full(start.size, np.inf))
    for t in bad:
        assert objective.log_probability(t) == -math.inf
        assert objective.log_likelihood(t) == -math.inf
        value, grad = objective.log_likelihood_and_gradient(t)
        assert value == -math.inf and np.all(grad == 0)
    assert math.isfinite(objective.log_probability(start))


@pytest.mark.parametrize("eccentric,density", [(False, None), (True, (3.0, 1.0))])
def test_vectorised_log_probability_equals_the_scalar_path(small_problem, rng, eccentric, density):
    """emcee's vectorised ln p (one call per half-ensemble) equals the scalar path row by row,
    inside and outside the support, inside and outside the fixed-noise window, and at other noise."""
    lc, design, fit, guess = small_problem
    config = FitConfig(fit_eccentricity=eccentric, stellar_density=density)
    objective, space, start = _objective_for(lc, design, fit, guess, config)
    objective.fixed_noise(space.noise(start))
    transit = np.arange(start.size) < space.n_transit
    spread = (space.upper - space.lower) * 0.08 * transit
    thetas = start + spread * rng.standard_normal((300, start.size))
    thetas[::7, space.n_transit:] += 0.05  # a different noise: the scalar full path
    thetas[5] = np.nan
    thetas[9, 3] = 1.5  # b beyond 1 + k
    arrays = space.transit_arrays(thetas)
    for theta, valid, k, a, dur, inc in zip(thetas, arrays.valid, arrays.rp_over_rs, arrays.a_over_rs,
                                            arrays.duration, arrays.inclination):
        params = space.transit_params(theta)
        assert valid == (params is not None)
        if params is not None:
            assert (k, a) == pytest.approx((params.rp_over_rs, params.a_over_rs), rel=1e-12)
            assert dur == pytest.approx(transit_duration(params), rel=1e-10)
            assert inc == pytest.approx(math.radians(params.inclination), rel=1e-12)
    assert 50 < arrays.valid.sum() < 300
    assert objective._fast_rows(thetas, arrays).size > 30  # the vectorised path is exercised
    many = objective.log_probability_many(thetas)
    scalar = np.array([objective.log_probability(t) for t in thetas])
    assert np.array_equal(np.isfinite(many), np.isfinite(scalar)) and not np.any(np.isnan(many))
    finite = np.isfinite(scalar)
    np.testing.assert_allclose(many[finite], scalar[finite], rtol=1e-12, atol=1e-9)
    narrow, _, _ = _objective_for(lc, design, fit, guess, config, half_width=0.01)  # every row falls back
    narrow.fixed_noise(space.noise(start))
    fallback = narrow.log_probability_many(thetas[:20])
    np.testing.assert_allclose(fallback[np.isfinite(fallback)], scalar[:20][np.isfinite(scalar[:20])], rtol=1e-12)


def test_fisher_rows_from_the_gradient_equal_the_four_point_formula(small_problem, monkeypatch):
    """The noise rows of the Fisher matrix by differencing the gradient equal the four-point ln L formula."""
    from halfsib.fit import optimize

    lc, design, fit, guess = small_problem
    result = fit_transit(lc, design, fit, guess, sample=False, fit_noise=True, n_starts=2, rng=3)
    objective, space, _ = _objective_for(lc, design, fit, guess)
    fast = optimize.fisher_information(objective, result.theta)
    monkeypatch.setattr(optimize, "_noise_rows", lambda *args: {})
    reference = optimize.fisher_information(objective, result.theta)
    assert fast.ok and reference.ok and np.array_equal(fast.free, reference.free)
    free = np.flatnonzero(fast.free)
    assert np.any(free >= space.n_transit)  # noise rows are part of the comparison
    scale = np.sqrt(np.abs(np.outer(np.diag(reference.hessian), np.diag(reference.hessian))))[np.ix_(free, free)]
    np.testing.assert_allclose(fast.hessian[np.ix_(free, free)] / scale,
                               reference.hessian[np.ix_(free, free)] / scale, atol=5e-3)
    np.testing.assert_allclose(fast.errors[free], reference.errors[free], rtol=1e-2)


def test_duration_parameterisation_inverts_the_transit_duration(rng):
    from halfsib.fit.parameters import a_over_rs_from_duration

    for _ in range(50):
        ecc = rng.choice([0.0, rng.uniform(0, 0.5)])
        p = TransitParams(period=rng.uniform(0.5, 50), t0=0.0, rp_over_rs=rng.uniform(0.005, 0.3),
                          a_over_rs=rng.uniform(3, 60), b=rng.uniform(0, 1.2), ecc=ecc, omega=rng.uniform(0, 360))
        if p.b >= 1 + p.rp_over_rs or p.a_over_rs * (1 - ecc) < 2:
            continue
        a = a_over_rs_from_duration(transit_duration(p), p.period, p.rp_over_rs, p.b, p.ecc, p.omega)
        assert a == pytest.approx(p.a_over_rs, rel=1e-9)
    assert math.isnan(a_over_rs_from_duration(10.0, 3.0, 0.1, 0.2))  # longer than half the period


def test_depth_parameterisation_inverts_the_central_depth(rng):
    from halfsib.fit.parameters import radius_ratio_from_depth

    for _ in range(50):
        p = TransitParams(period=3.0, t0=0.0, rp_over_rs=rng.uniform(0.005, 0.3), a_over_rs=10.0,
                          b=rng.uniform(0, 1.2), q1=rng.uniform(0, 0.99), q2=rng.uniform(0, 1))
        assert radius_ratio_from_depth(p.depth, p.b, p.q1, p.q2) == pytest.approx(p.rp_over_rs, rel=1e-9)
        if p.b < 0.7 and p.rp_over_rs < 0.1:  # close to batman's central depth for a small, central planet
            model = 1 - transit_flux(np.array([0.0]), p)[0]
            assert p.depth == pytest.approx(model, rel=0.05)


def test_stellar_density_prior_enters_the_posterior_only(small_problem):
    lc, design, fit, guess = small_problem
    free, space, start = _objective_for(lc, design, fit, guess)
    rho = float(stellar_density(space.transit_params(start).a_over_rs, guess.period))
    informed, space2, _ = _objective_for(lc, design, fit, guess, FitConfig(stellar_density=(rho + 2.0, 1.0), fit_noise=True))
    assert informed.log_likelihood(start) == pytest.approx(free.log_likelihood(start), rel=1e-12)
    assert informed.log_probability(start) == pytest.approx(free.log_probability(start) - 2.0, abs=1e-9)
    # the density of the Sun from a/R★ = 215 at 365.25 d
    assert stellar_density(215.03, 365.256) == pytest.approx(1.41, rel=0.01)


# --- recovery on simulations ---------------------------------------------------------------------------------

def _within(fit, name, truth, n_sigma=3.0):
    value, err = fit.maximum_likelihood[name], fit.fisher_errors[name]
    assert math.isfinite(err) and err > 0, (name, err)
    assert abs(value - truth) < n_sigma * err, (name, value, truth, err)


def test_maximum_likelihood_recovers_an_injected_transit(rng):
    lc, design = _light_curve(rng, 1300)
    fit = detrend(lc, design)
    guess = _guess(period=3.1008, t0=2010.06, duration=2.0, depth=1400.0)  # a search-like, rough guess
    start = _time.perf_counter()
    result = fit_transit(lc, design, fit, guess, sample=False, rng=rng)
    elapsed = _time.perf_counter() - start
    truth_depth = 1e6 * (1 - transit_flux(np.array([TRUTH.t0]), TRUTH)[0])
    for name, truth in (("period", TRUTH.period), ("t0", TRUTH.t0), ("rp_over_rs", TRUTH.rp_over_rs),
                        ("depth", truth_depth), ("duration", 24 * transit_duration(TRUTH))):
        _within(result, name, truth)
    expected = int(np.floor((lc.time[-1] - TRUTH.t0) / TRUTH.period) - np.ceil((lc.time[0] - TRUTH.t0) / TRUTH.period)) + 1
    assert result.delta_loglike > 100 and result.n_transits == expected == 9 and result.n_in_transit > 30
    assert result.posterior is None and result.sampler is None
    assert set(result.maximum_likelihood) >= {"sigma", "rho", "jitter"}  # noise parameters fitted jointly
    assert all(abs(g) < 5 for g in result.prior_variance_gradient.values())  # held λ stay near their optimum
    assert elapsed < 60


def test_neighbour_light_in_the_aperture_is_divided_out_of_the_radius(rng):
    """CROWDSAP = 0.7: the data dim by 0.7 of the star's transit; the fit reports the star's own
    Rp/R*, and without the keyword it would report sqrt(0.7) of it."""
    import dataclasses

    share = 0.7
    lc, design = _light_curve(rng, 1300, params=None)
    transit = transit_flux(lc.time, TRUTH, exposure_time=CADENCE) - 1.0
    diluted = lc.replace(flux=lc.flux + 1e5 * share * transit,
                         meta=dataclasses.replace(lc.meta, crowding=share))
    guess = _guess(depth=1e6 * share * TRUTH.rp_over_rs**2)  # what a search sees
    result = fit_transit(diluted, design, detrend(diluted, design), guess, sample=False, rng=rng)
    assert result.target_fraction == share and result.to_table()["target_fraction"][0] == share
    _within(result, "rp_over_rs", TRUTH.rp_over_rs)
    unaware = diluted.replace(meta=dataclasses.replace(lc.meta, crowding=None))
    naive = fit_transit(unaware, design, detrend(unaware, design), guess, sample=False, rng=rng)
    assert naive.target_fraction == 1.0
    _within(naive, "rp_over_rs", TRUTH.rp_over_rs * math.sqrt(share))
    ratio = naive.maximum_likelihood["rp_over_rs"] / result.maximum_likelihood["rp_over_rs"]
    assert abs(ratio - math.sqrt(share)) < 0.02  # the same data: only the dilution differs


@pytest.mark.slow
def test_emcee_posterior_covers_the_truth_and_chains_are_written(rng, tmp_path):
    lc, design = _light_curve(rng, 1300)
    fit = detrend(lc, design)
    result = fit_transit(lc, design, fit, _guess(), rng=rng, n_steps=1500, n_walkers=24)
    post = result.posterior
    for name, truth in (("period", TRUTH.period), ("t0", TRUTH.t0), ("rp_over_rs", TRUTH.rp_over_rs),
                        ("duration", 24 * transit_duration(TRUTH))):
        width = post[name].upper - post[name].lower
        assert post[name].lower - 1.5 * width < truth < post[name].upper + 1.5 * width, (name, post[name], truth)
        assert post[name].lower <= post[name].median <= post[name].upper
    info = result.sampler
    assert info.n_walkers == 24 and info.n_steps <= 1500 and set(info.autocorr_time) == set(result.parameter_names[:7])
    assert ("sampler_not_converged" in result.flags) == (not info.converged)
    result.write_chains(tmp_path / "chains.npz")
    with np.load(tmp_path / "chains.npz") as saved:
        assert saved["chain"].shape == (info.n_steps, 24, 7) and list(saved["names"]) == list(info.sampled)


def test_a_short_run_is_reported_as_not_converged(small_problem, tmp_path):
    lc, design, fit, guess = small_problem
    result = fit_transit(lc, design, fit, guess, rng=3, n_steps=40, check_every=20, n_starts=2)
    assert result.sampler is not None and not result.sampler.converged
    assert "sampler_not_converged" in result.flags and result.converged is False
    table = result.to_table()
    assert table["converged"][0] == False  # noqa: E712 - numpy bool
    assert "sampler_not_converged" in table["flags"][0]


def test_single_transit_mode(rng):
    params = TransitParams(period=40.0, t0=2012.0, rp_over_rs=0.05, a_over_rs=40.0, b=0.2, q1=0.4, q2=0.3)
    lc, design = _light_curve(rng, 1000, params)  # 20 days: one transit
    fit = detrend(lc, design)
    guess = TransitGuess(period=math.inf, t0=2012.01, duration=24 * transit_duration(params), depth=2500.0,
                         single=True)
    result = fit_transit(lc, design, fit, guess, sample=False, rng=rng)
    assert result.single_transit and "single_transit" in result.flags and result.n_transits == 1
    assert result.parameter_names[0] == "ln_period"
    baseline_limit = max(lc.time[-1] - guess.t0, guess.t0 - lc.time[0])
    assert result.maximum_likelihood["period"] > baseline_limit  # bounded below by the data
    _within(result, "t0", params.t0)
    _within(result, "rp_over_rs", params.rp_over_rs)
    _within(result, "duration", 24 * transit_duration(params))


def test_too_few_in_transit_cadences_is_a_typed_reportable_failure(rng):
    good = np.ones(900, bool)
    good[300:420] = False  # the only transit falls in a gap
    params = TransitParams(period=30.0, t0=2000.0 + 360 * CADENCE, rp_over_rs=0.05, a_over_rs=30.0, b=0.1)
    lc, design = _light_curve(rng, 900, params, good=good)
    fit = detrend(lc, design)
    lost = TransitGuess(period=math.inf, t0=params.t0, duration=3.0, depth=2500.0, single=True)
    with pytest.raises(InsufficientTransitDataError, match="min_in_transit") as info:
        fit_transit(lc, design, fit, lost, sample=False)
    assert info.value.n_in_transit == 0 and info.value.required == 5
    visible = TransitGuess(period=math.inf, t0=2003.0, duration=3.0, depth=300.0, single=True)
    results = fit_candidates(lc, design, fit, [lost, visible], config=FitConfig(sample=False, n_starts=2), rng=1)
    assert isinstance(results[0], FitFailure) and isinstance(results[1], TransitFit)
    assert results[0].error_type == "InsufficientTransitDataError" and "fit_failed" in results[0].flags
    row = results[0].to_table()
    assert bool(row["fit_failed"][0]) and row["guess_duration"].unit == "h"


def test_parameters_at_their_bounds_are_flagged(rng):
    lc, design = _light_curve(rng, 1300)
    fit = detrend(lc, design)
    # the guessed period is off by more than its bounds allow: the fit ends on the bound and says so
    guess = _guess(period=TRUTH.period + 0.025)
    result = fit_transit(lc, design, fit, guess, sample=False, n_starts=2, rng=rng)
    assert "period_at_lower_bound" in result.flags
    assert math.isnan(result.fisher_errors["period"])
    table = result.to_table()
    assert table["period_err"].mask[0] and not table["t0_err"].mask[0]
    assert "fisher_conditional_on_fixed_parameters" in result.flags


def test_invalid_guesses_and_settings_raise_named_errors():
    from halfsib.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="duration"):
        TransitGuess(period=3.0, t0=1.0, duration=0.0, depth=100.0)
    with pytest.raises(ConfigurationError, match="period"):
        TransitGuess(period=-1.0, t0=1.0, duration=2.0, depth=100.0)
    with pytest.raises(ConfigurationError, match="n_walkres"):
        FitConfig().replace(n_walkres=10)
    with pytest.raises(ConfigurationError, match="stellar_density"):
        FitConfig(stellar_density=(1.0, -1.0))


# --- outputs ----------------------------------------------------------------------------------------------------

def test_table_file_and_figure(small_problem, tmp_path):
    lc, design, fit, guess = small_problem
    result = fit_transit(lc, design, fit, guess, rng=4, n_steps=60, check_every=20, n_starts=1)
    table = result.to_table()
    assert len(table) == 1
    assert table["period"].unit == "d" and table["duration"].unit == "h" and table["depth"].unit == "ppm"
    assert table["rho_star"].unit == "g / cm3" and table["sigma"].unit == "ppm"
    for q in ("period", "rp_over_rs", "b", "depth"):
        assert {f"{q}_err", f"{q}_median", f"{q}_lower", f"{q}_upper", f"{q}_minus", f"{q}_plus"} <= set(table.colnames)
        if not table[f"{q}_median"].mask[0]:
            assert table[f"{q}_minus"][0] == pytest.approx(table[f"{q}_median"][0] - table[f"{q}_lower"][0])
            assert table[f"{q}_plus"][0] == pytest.approx(table[f"{q}_upper"][0] - table[f"{q}_median"][0])
    path = result.write(tmp_path / "fit.ecsv", inputs=["target.fits"])
    back = Table.read(path)
    assert back["period"][0] == pytest.approx(result.maximum_likelihood["period"], rel=1e-12)
    assert back.meta["provenance"]["inputs"] == ["target.fits"] and back.meta["time_system"].startswith("BKJD")
    assert back.meta["fit_parameters"][0] == "period"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left behind
    fig = result.plot(corner=True)
    assert len(fig.axes) >= 3
    nosample = fit_transit(lc, design, fit, guess, rng=4, sample=False, n_starts=1)
    from halfsib.exceptions import ConfigurationError
    with pytest.raises(ConfigurationError, match="not sampled"):
        nosample.write_chains(tmp_path / "c.npz")
    t = nosample.to_table()
    assert t["period_median"].mask[0] and not t["sampled"][0]


# --- coverage ---------------------------------------------------------------------------------------------------

def _coverage_trial(rng, n=700, noise=4e-4):
    """One injection on white noise + regressors (no GP: a cheap fixed-noise setting); returns z-scores."""
    params = TransitParams(period=rng.uniform(2.5, 4.0), t0=2004.0 + rng.uniform(0, 1.0),
                           rp_over_rs=rng.uniform(0.035, 0.06), a_over_rs=rng.uniform(8, 14), b=rng.uniform(0, 0.6),
                           q1=0.4, q2=0.3)
    lc, design = _light_curve(rng, n, params, noise=noise, stellar=0.0)
    fit = detrend(lc, design, kernel="none", clip_sigma=0)
    result = fit_transit(lc, design, fit, _guess(params, t0=params.t0 + 0.01), sample=False, fit_noise=False,
                         n_starts=3, rng=rng)
    truth = {"period": params.period, "t0": params.t0, "duration": 24 * transit_duration(params),
             "depth": 1e6 * (1 - transit_flux(np.array([params.t0]), params)[0])}
    return {k: (result.maximum_likelihood[k] - v) / result.fisher_errors[k] for k, v in truth.items()}


@pytest.mark.slow
def test_fisher_intervals_cover_the_truth_about_68_percent_of_the_time():
    rng = np.random.default_rng(11)
    start = _time.perf_counter()
    z = [_coverage_trial(rng) for _ in range(30)]
    elapsed = _time.perf_counter() - start
    names = list(z[0])
    values = np.array([[trial[k] for k in names] for trial in z])
    finite = np.isfinite(values)
    assert finite.mean() > 0.95
    covered = np.abs(values[finite]) < 1.0
    print(f"Fisher coverage {covered.mean():.3f} over {covered.size} intervals "
          f"({dict(zip(names, np.mean(np.abs(values) < 1, axis=0).round(2)))}), {elapsed / len(z):.2f} s per fit")
    assert 0.58 < covered.mean() < 0.80


@pytest.mark.slow
def test_emcee_intervals_cover_the_truth():
    """A smaller posterior check: t0, duration and period inside the 68 % interval about 68 % of the time."""
    rng = np.random.default_rng(12)
    hits, start = [], _time.perf_counter()
    for _ in range(8):
        params = TransitParams(period=rng.uniform(2.5, 4.0), t0=2004.0 + rng.uniform(0, 1.0),
                               rp_over_rs=rng.uniform(0.04, 0.06), a_over_rs=rng.uniform(8, 14),
                               b=rng.uniform(0, 0.6), q1=0.4, q2=0.3)
        lc, design = _light_curve(rng, 600, params, noise=4e-4, stellar=0.0)
        fit = detrend(lc, design, kernel="none", clip_sigma=0)
        result = fit_transit(lc, design, fit, _guess(params), fit_noise=False, n_starts=2, n_steps=800,
                             n_walkers=16, check_every=200, rng=rng)
        truth = {"t0": params.t0, "duration": 24 * transit_duration(params), "period": params.period}
        hits += [result.posterior[k].lower < v < result.posterior[k].upper for k, v in truth.items()]
    rate = float(np.mean(hits))
    print(f"emcee coverage {rate:.2f} over {len(hits)} intervals, {(_time.perf_counter() - start) / 8:.1f} s per fit")
    assert 0.45 < rate < 0.92


# --- real data ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.shared_data
def test_k2_3_b_from_raw_k2sff_flux(shared_data):
    """K2-3 b (C1) from FRAW with the EVEREST C1 basis: period and Rp/R★ near the published values."""
    from halfsib.fit import masked_nuisance_fit
    from halfsib.pipeline import prepare_target

    folder = shared_data / "k2-c1"
    lc, design = prepare_target(folder / "hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits",
                                cbv=folder / "everest_c01_cbv_basis.txt")
    guess = TransitGuess(period=10.0542, t0=2010.581, duration=2.6, depth=1450.0)  # from halfsib search
    nuisance = masked_nuisance_fit(lc, design, guess)  # the noise the fit holds: fitted with the transits masked
    result = fit_transit(lc, design, nuisance, guess, sample=False, rng=1)
    # published (Crossfield et al. 2015): P = 10.054 d, Rp/R★ ≈ 0.035; MANIFEST depth ≈ 1,200 ppm
    assert abs(result.maximum_likelihood["period"] - 10.054) < 3e-3
    assert 0.030 < result.maximum_likelihood["rp_over_rs"] < 0.040
    assert result.delta_loglike > 300 and result.n_transits >= 6


# --- command line -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    out = tmp_path_factory.mktemp("fit_campaign")
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=8, n_cadences=900, seed=21, planet_fraction=0.6,
                                              eb_fraction=0.0, mag_range=(11.0, 13.0),
                                              planet_period_range=(2.0, 5.0), planet_rp_range=(0.06, 0.1)))
    write_campaign(camp, out, progress=False)
    truth = Table.read(out / "truth.ecsv")
    bodies = Table.read(out / "planets.ecsv")
    planets = bodies[(bodies["kind"] == "planet") & (bodies["n_events"] >= 2)]
    row = planets[np.argmax(planets["depth"])]
    star = int(np.flatnonzero(truth["star_id"] == row["star_id"])[0])
    return out, out / truth["lc_file"][star], row


@pytest.mark.slow
def test_cli_fit_end_to_end(campaign, tmp_path, capsys):
    from halfsib.cli import main

    out, target, row = campaign
    numbers = ["--period", f"{row['period'] + 2e-3:.6f}", "--t0", f"{row['t0'] + 0.01:.6f}",
               "--duration", f"{row['duration']:.3f}", "--depth", f"{row['depth']:.1f}"]
    paths = {k: tmp_path / f"fit.{k}" for k in ("ecsv", "npz", "png")}
    status = main(["fit", str(target), "--others", str(out / "lc"), *numbers, "-o", str(paths["ecsv"]),
                   "--chains", str(paths["npz"]), "--plot", str(paths["png"]), "--steps", "120", "--walkers", "24",
                   "--starts", "3", "--seed", "5", "-q"])
    assert status == 0 and all(p.exists() for p in paths.values())
    table = Table.read(paths["ecsv"])
    assert table["period"].unit == "d" and abs(table["period"][0] - row["period"]) < 5e-3
    assert abs(table["rp_over_rs"][0] - row["rp_over_rs"]) < 0.3 * row["rp_over_rs"]
    assert table.meta["provenance"]["settings"]["seed"] == 5
    assert not table["converged"][0] and "sampler_not_converged" in table["flags"][0]  # 120 steps: honest
    with np.load(paths["npz"]) as chains:
        assert chains["chain"].shape[1] == 24
    # the same from a candidate table, without sampling
    cands = Table({"target": ["x"], "period": [row["period"]], "t0": [row["t0"]], "duration": [row["duration"]],
                   "depth": [row["depth"]], "n_transits": [int(row["n_events"])]})
    cands.write(tmp_path / "cands.ecsv")
    status = main(["fit", str(target), "--others", str(out / "lc"), "--candidates", str(tmp_path / "cands.ecsv"),
                   "-o", str(tmp_path / "fit2.ecsv"), "--no-sample", "--starts", "2"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "rp_over_rs" in printed and "wrote" in printed
    assert Table.read(tmp_path / "fit2.ecsv")["n_walkers"][0] == 0


def test_cli_fit_refuses_a_missing_or_double_guess(tmp_path, capsys):
    from halfsib.cli import main

    status = main(["fit", str(tmp_path / "x.fits"), "-o", str(tmp_path / "f.ecsv")])
    assert status == 1 and "no guess" in capsys.readouterr().err
    (tmp_path / "c.ecsv").write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: period, datatype: float64}\n"
                                     "period\n1.0\n")
    status = main(["fit", str(tmp_path / "x.fits"), "--candidates", str(tmp_path / "c.ecsv"), "--period", "2",
                   "-o", str(tmp_path / "f.ecsv")])
    assert status == 1 and "not both" in capsys.readouterr().err
    status = main(["fit", str(tmp_path / "x.fits"), "--candidates", str(tmp_path / "c.ecsv"),
                   "-o", str(tmp_path / "f.ecsv")])
    assert status == 1 and "lacks columns" in capsys.readouterr().err


def test_cli_help_teaches():
    import subprocess
    import sys

    text = subprocess.run([sys.executable, "-m", "halfsib", "fit", "--help"], capture_output=True, text=True,
                          check=True).stdout
    for word in ("--candidates", "--which", "--no-sample", "Fisher", "examples:", "q_err"):
        assert word in text


def test_near_transits_equals_the_phase_of_every_cadence(rng):
    """The binary-search selection of in-transit cadences equals the phase-fold one (its dense twin)
    up to cadences exactly at the window edge, sorted or not."""
    from halfsib.fit._model import near_transits

    for _ in range(500):
        n = int(rng.integers(0, 400))
        time = rng.uniform(0.0, 30.0, n)
        if rng.random() < 0.8:
            time = np.sort(time)
        period, t0 = rng.uniform(0.3, 40.0), rng.uniform(-50.0, 50.0)
        half_width = rng.uniform(1e-3, 0.6 * period)
        phase = np.mod(time - t0 + 0.5 * period, period) - 0.5 * period
        expected = np.arange(n) if half_width >= 0.5 * period else np.flatnonzero(np.abs(phase) <= half_width)
        got = near_transits(time, period, t0, half_width)
        differ = np.setxor1d(expected, got)
        assert np.all(np.abs(np.abs(phase[differ]) - half_width) < 1e-9)
        assert np.unique(got).size == got.size


def test_a_nuisance_fit_that_saw_the_transits_is_named_when_its_noise_is_held(small_problem, caplog):
    """The fit holds the nuisance fit's GP and jitter: one made through the transits gets a warning
    saying what to pass instead; the masked one (or fitting the noise too) does not."""
    from halfsib.fit import masked_nuisance_fit

    lc, design, unmasked, guess = small_problem
    with caplog.at_level("WARNING", logger="halfsib.fit.core"):
        fit_transit(lc, design, unmasked, guess, sample=False, n_starts=1, rng=0)
    assert "masked_nuisance_fit" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="halfsib.fit.core"):
        fit_transit(lc, design, masked_nuisance_fit(lc, design, guess), guess, sample=False, n_starts=1, rng=0)
        fit_transit(lc, design, unmasked, guess, sample=False, n_starts=1, rng=0, fit_noise=True)
    assert "masked_nuisance_fit" not in caplog.text
