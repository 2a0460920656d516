"""The flexibility ladder: rung plans, every number against the dense O(N³) formula, truth on simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from halfsib.design import DesignMatrix, RegressorGroup
from halfsib.exceptions import ConfigurationError
from halfsib.ladder import (DEFAULT_TENSION_SIGMA, TENSION_FRACTION, LadderResult, fit_rungs, flexibility_ladder,
                            plan_rungs)
from halfsib.model import DetrendConfig
from halfsib.timeseries import LightCurve, TargetInfo
from halfsib.transit import TransitParams
from halfsib.vet.ephemeris import Ephemeris, box_template, trapezoid_template, transit_template
from halfsib.vet.fitted import exposure_of, fit_candidate_model, fit_templates

from reference import dense_covariance

CADENCE = 0.0204335  # K2 long cadence [d]
NOISE = 3e-4
GROUPS = (("elc1_10", 4), ("elc11_40", 3), ("cbv", 2), ("motion", 2), ("pld1", 2), ("spline", 2))


def _light_curve(rng, n=300, depth=1e-3, ephemeris=Ephemeris(2.0, 2000.7, 3.0), groups=GROUPS):
    """Random-walk regressor groups, a slow sinusoid, white noise and an exposure-integrated box."""
    time = 2000.0 + CADENCE * np.arange(n)
    parts, signal = [], np.zeros(n)
    for name, m in groups:
        cols = rng.standard_normal((n, m)).cumsum(axis=0)
        cols = (cols - cols.mean(0)) / cols.std(0)
        parts.append(RegressorGroup(name, cols, 1.0))
        signal += cols @ (5e-4 * rng.standard_normal(m))
    signal += 3e-4 * np.sin(2 * np.pi * (time - time[0]) / 3.0)
    signal -= depth * box_template(time, ephemeris, exposure=CADENCE)
    flux = 1e5 * (1 + signal + NOISE * rng.standard_normal(n))
    lc = LightCurve(time=time, quality=np.zeros(n, np.int64), good=np.ones(n, bool), cadenceno=np.arange(n),
                    time_format="bkjd", meta=TargetInfo(mission="K2", target_id="EPIC 7"), flux=flux,
                    flux_err=np.full(n, 1e5 * NOISE))
    return lc, DesignMatrix.from_groups(parts)


def dense_depth(model, template, prior=None):
    """δ̂, σ, Δln L of one template by forming C explicitly (clipping off: nothing excluded)."""
    kernel, gp = model.kernel, model.gp_parameters
    prior = model.prior_variances if prior is None else prior
    lam = np.zeros(model.design.n_columns)
    for name, sl in model.design.groups.items():
        lam[sl] = prior[name]
    a = model.design.rows(model.index)
    cov = dense_covariance(model.time, model.variance + kernel.jitter(gp) ** 2, kernel.term(gp), a, lam)
    cinv_b = np.linalg.solve(cov, template)
    info = template @ cinv_b
    depth = -(cinv_b @ model.y) / info
    return depth, 1 / math.sqrt(info), 0.5 * depth**2 * info


# --- the rungs ------------------------------------------------------------------------------------------

def _design(groups, n=50, rng=None):
    rng = rng or np.random.default_rng(0)
    return DesignMatrix.from_groups([RegressorGroup(g, rng.standard_normal((n, m)), 1.0) for g, m in groups])


def test_rungs_add_groups_in_order_and_cut_the_elcs():
    design = _design([("elc1_10", 10), ("elc11_40", 30), ("elc41_150", 110), ("elc_motion", 4), ("cpm", 8),
                      ("pld1", 5), ("pld2", 5), ("motion", 12), ("cbv", 3), ("spline", 6)])
    plans = {p.name: p for p in plan_rungs(design)}
    assert list(plans) == ["none", "smooth", "few", "tens", "elcs", "motion", "pixels", "wide"]
    cols = {n: (p.design.n_columns if p.design is not None else None) for n, p in plans.items()}
    assert cols == {"none": 0, "smooth": 6, "few": 6 + 3 + 10, "tens": 6 + 3 + 40, "elcs": 6 + 3 + 150 + 4,
                    "motion": 6 + 3 + 154 + 12, "pixels": design.n_columns, "wide": None}
    assert plans["tens"].design.group_names == ("spline", "cbv", "elc1_10", "elc11_40")
    np.testing.assert_array_equal(plans["few"].design.matrix[:, -10:], design.matrix[:, design.groups["elc1_10"]])
    assert plans["wide"].prior_factor == 100.0 and not any(p.skipped for p in plans.values())


def test_missing_groups_are_skipped_with_a_reason():
    plans = {p.name: p for p in plan_rungs(_design([("elc1_10", 10), ("elc11_14", 4), ("spline", 3)]), widen=1.0)}
    assert "wide" not in plans
    assert plans["tens"].design is not None and plans["tens"].design.n_columns == 3 + 14
    assert "nothing beyond" in plans["elcs"].skipped
    assert "motion" in plans["motion"].skipped and "no pixel data" in plans["pixels"].skipped
    bare = {p.name: p for p in plan_rungs(_design([("motion", 4)]))}
    assert "no smooth" in bare["smooth"].skipped and "no CBV or ELC" in bare["few"].skipped
    assert bare["motion"].design.n_columns == 4


def test_every_rung_equals_the_dense_formula(rng):
    eph = Ephemeris(2.0, 2000.7, 3.0)
    lc, design = _light_curve(rng)
    config = DetrendConfig(clip_sigma=0)
    result = flexibility_ladder(lc, design, eph, config=config)
    rungs = {r.name: r for r in result.rungs}
    assert [r.name for r in result.evaluated] == ["none", "smooth", "few", "motion", "pixels", "wide"]
    carried = {}
    for plan in plan_rungs(design):
        if plan.design is None:
            continue
        model = fit_candidate_model(lc, plan.design, eph, config=config)
        prior = {g: max(v, carried.get(g, 0.0)) for g, v in model.prior_variances.items()}
        carried.update(prior)
        depth, err, dll = dense_depth(model, model.box(eph), prior)  # box × (1 + systematics + stellar)
        rung = rungs[plan.name]
        assert rung.n_columns == plan.design.n_columns + 1  # + the constant
        assert rung.depth == pytest.approx(1e6 * depth, rel=1e-7)
        assert rung.depth_err == pytest.approx(1e6 * err, rel=1e-7)
        assert rung.delta_loglike == pytest.approx(dll, rel=1e-7)
        assert rung.snr == pytest.approx(depth / err, rel=1e-7)
    wide = {g: 100 * v for g, v in carried.items()}
    depth, err, dll = dense_depth(model, model.box(eph), wide)
    assert rungs["wide"].depth == pytest.approx(1e6 * depth, rel=1e-7)
    assert rungs["wide"].delta_loglike == pytest.approx(dll, rel=1e-7)
    # the truth is recovered on the most flexible rung and the candidate is claimed
    assert abs(result.top.depth - 1000.0) < 3 * result.top.depth_err and result.claimed


def _rung_numbers(result):
    return [(r.name, r.skipped, r.depth, r.depth_err, r.delta_loglike, r.log_likelihood) for r in result.rungs]


def test_shared_rung_fits_with_one_candidate_equal_its_own_ladder(rng):
    """The shortcut pinned against the exact counterpart: with one candidate, the shared fits are
    the fits its own ladder makes, so every number is the same."""
    eph = Ephemeris(2.0, 2000.7, 3.0)
    lc, design = _light_curve(rng)
    config = DetrendConfig(clip_sigma=0)
    own = flexibility_ladder(lc, design, eph, config=config)
    shared = fit_rungs(lc, design, eph.in_transit(lc.time, 1.5), config=config)
    assert set(shared.fits) == {p.name for p in plan_rungs(design)}
    assert isinstance(shared.fits["tens"], str) and "nothing beyond" in shared.fits["tens"]
    via = flexibility_ladder(lc, design, eph, config=config, rung_fits=shared)
    assert _rung_numbers(via) == pytest.approx(_rung_numbers(own), rel=1e-10)
    assert via.claimed == own.claimed


def test_shared_rung_fits_masking_another_candidate_keep_the_depths(rng):
    """Rungs fitted with a second (empty) candidate masked too: each depth moves by a small
    fraction of its error (the hyper-parameters see 6 % fewer cadences)."""
    eph, other = Ephemeris(2.0, 2000.7, 3.0), Ephemeris(1.3, 2000.2, 2.0)
    lc, design = _light_curve(rng)
    config = DetrendConfig(clip_sigma=0)
    own = flexibility_ladder(lc, design, eph, config=config)
    mask = eph.in_transit(lc.time, 1.5) | other.in_transit(lc.time, 1.5)
    via = flexibility_ladder(lc, design, eph, config=config, rung_fits=fit_rungs(lc, design, mask, config=config))
    for a, b in zip(own.evaluated, via.evaluated):
        assert a.name == b.name
        assert abs(a.depth - b.depth) < 0.3 * a.depth_err
    assert via.claimed and own.claimed


def test_shared_rung_fits_that_miss_the_candidate_are_not_used(rng, caplog):
    eph = Ephemeris(2.0, 2000.7, 3.0)
    lc, design = _light_curve(rng)
    config = DetrendConfig(clip_sigma=0)
    unmasked = fit_rungs(lc, design, np.zeros(lc.n_cadences, bool), config=config)
    with caplog.at_level("WARNING", logger="halfsib.ladder"):
        via = flexibility_ladder(lc, design, eph, config=config, rung_fits=unmasked)
    assert "do not mask this candidate" in caplog.text
    assert _rung_numbers(via) == pytest.approx(_rung_numbers(flexibility_ladder(lc, design, eph, config=config)),
                                               rel=1e-10)


def test_nested_rungs_never_lose_prior_variance(rng):
    lc, design = _light_curve(rng, depth=0.0)
    result = flexibility_ladder(lc, design, (2.0, 2000.7, 3.0), config=DetrendConfig(clip_sigma=0), widen=1.0)
    assert not result.claimed and abs(result.top.snr) < 4
    top = result.top_model
    for plan in plan_rungs(design, widen=1.0):
        if plan.design is None:
            continue
        lower = fit_candidate_model(lc, plan.design, Ephemeris(2.0, 2000.7, 3.0), config=DetrendConfig(clip_sigma=0))
        for group, value in lower.prior_variances.items():
            assert top.prior_variances[group] >= value * (1 - 1e-12)


def test_transit_template_gives_the_central_depth(rng):
    params = TransitParams(period=2.0, t0=2000.7, rp_over_rs=0.04, a_over_rs=8.0, b=0.3)
    lc, design = _light_curve(rng, depth=0.0)
    signal = transit_template(lc.time, params, exposure_of(lc.time)) * params.depth
    lc = lc.replace(flux=lc.flux * (1 - signal))
    result = flexibility_ladder(lc, design, params, template=params, config=DetrendConfig(clip_sigma=0))
    assert result.template == "transit"
    central = 1e6 * (1 - float(np.interp(params.t0, *_model_curve(params))))
    assert abs(result.top.depth - central) < 3 * result.top.depth_err


def _model_curve(params):
    from halfsib.transit import transit_flux

    t = np.linspace(params.t0 - 0.01, params.t0 + 0.01, 11)
    return t, transit_flux(t, params)


def test_table_has_units_and_no_nan_and_the_plot_draws(rng):
    lc, design = _light_curve(rng, groups=(("elc1_10", 3), ("spline", 2)))
    result = flexibility_ladder(lc, design, (2.0, 2000.7, 3.0))
    table = result.to_table()
    assert str(table["depth"].unit) == "ppm" and table["depth"].mask.sum() == sum(not r.evaluated for r in result.rungs)
    for name in ("depth", "depth_err", "delta_loglike", "snr"):
        assert np.all(np.isfinite(table[name].data[~table[name].mask]))
    assert table.meta["claimed"] == result.claimed and isinstance(result, LadderResult)
    import matplotlib.pyplot as plt

    plt.close(result.plot())


def _ladder_of(*rungs):
    """A LadderResult from (name, n_columns, depth, depth_err) tuples."""
    from halfsib.ladder import LadderRung

    made = tuple(LadderRung(name=n, description=n, n_columns=m, depth=d, depth_err=e, snr=d / e)
                 for n, m, d, e in rungs)
    return LadderResult(rungs=made, ephemeris=Ephemeris(10.0, 0.0, 3.0), template="box", threshold_snr=7.0)


def test_tension_is_the_closest_less_flexible_rung():
    # the dip only appears with the top model: every lower rung sees less than half of it (EPIC 902100011)
    made = _ladder_of(("none", 1, -2100.0, 3590.0), ("smooth", 14, -2160.0, 3600.0), ("few", 24, 1000.0, 3550.0),
                      ("tens", 29, 460.0, 3400.0), ("motion", 309, 14630.0, 1480.0), ("wide", 309, 14730.0, 1490.0))
    z, rung = made.tension
    assert TENSION_FRACTION == 0.5
    assert rung == "few" and z == pytest.approx((0.5 * 14730.0 - 1000.0) / math.hypot(0.5 * 1490.0, 3550.0))
    assert z > DEFAULT_TENSION_SIGMA and made.significant and not made.consistent and not made.claimed
    assert made.to_table().meta["tension_rung"] == "few"
    # a real transit: lower rungs see it, noisier and shallower (their GP takes part of it: K2-136 c's box)
    real = _ladder_of(("none", 1, 1269.0, 101.0), ("tens", 74, 1336.0, 84.0), ("elcs", 165, 1522.0, 72.0),
                      ("motion", 445, 1804.0, 32.0), ("wide", 445, 1809.0, 32.0))
    assert real.tension[0] < -8 and real.claimed
    # near the threshold: a lower rung at 2 sigma sees the transit at 0.6 of its depth
    weak = _ladder_of(("tens", 29, 4200.0, 2100.0), ("motion", 309, 7000.0, 1000.0))
    assert weak.tension[0] < 0 and weak.claimed
    # a top depth shallower than a lower rung's is systematics removed, not made
    shallower = _ladder_of(("none", 1, 30000.0, 500.0), ("motion", 309, 9000.0, 500.0))
    assert shallower.tension[0] < 0 and shallower.claimed
    # nothing less flexible, or the condition switched off: only the S/N counts
    alone = _ladder_of(("motion", 309, 9000.0, 1000.0), ("wide", 309, 9100.0, 1000.0))
    assert alone.tension is None and alone.claimed
    import dataclasses

    assert dataclasses.replace(made, tension_sigma=math.inf).claimed


def test_bad_settings_are_configuration_errors(rng):
    lc, design = _light_curve(rng, n=120, groups=(("spline", 2),))
    with pytest.raises(ConfigurationError, match="widen"):
        flexibility_ladder(lc, design, (2.0, 2000.7, 3.0), widen=-1)
    with pytest.raises(ConfigurationError, match="tension_sigma"):
        flexibility_ladder(lc, design, (2.0, 2000.7, 3.0), tension_sigma=0.0)
    with pytest.raises(ConfigurationError, match="period, t0 and duration"):
        flexibility_ladder(lc, design, object())
    with pytest.raises(ConfigurationError, match="duration"):
        flexibility_ladder(lc, design, (0.1, 2000.7, 3.0))


# --- templates and the joint linear fit -------------------------------------------------------------------

def test_exposure_integrated_templates_equal_brute_force_averages():
    eph = Ephemeris(1.7, 10.0, 2.2)
    time = np.linspace(9.0, 12.0, 501)
    fine = (np.arange(2000) + 0.5) / 2000 - 0.5
    for exposure in (CADENCE, 0.2):
        brute_box = box_template(time[:, None] + exposure * fine, eph).mean(axis=1)
        np.testing.assert_allclose(box_template(time, eph, exposure=exposure), brute_box, atol=1e-3)
        brute_tri = trapezoid_template(time[:, None] + exposure * fine, eph, ingress_fraction=0.3).mean(axis=1)
        np.testing.assert_allclose(trapezoid_template(time, eph, ingress_fraction=0.3, exposure=exposure),
                                   brute_tri, atol=5e-3)
    params = TransitParams(period=1.7, t0=10.0, rp_over_rs=0.05, a_over_rs=6.0)
    assert transit_template(np.array([10.0]), params)[0] == pytest.approx(1.0)


def test_joint_template_fit_equals_dense(rng):
    lc, design = _light_curve(rng, n=200, groups=(("elc1_10", 3), ("spline", 2)))
    model = fit_candidate_model(lc, design, Ephemeris(2.0, 2000.7, 3.0), config=DetrendConfig(clip_sigma=0))
    templates = np.stack([box_template(model.time, Ephemeris(2.0, 2000.7, 3.0)),
                          np.sin(model.time), np.cos(2 * model.time)], axis=1)
    fit = fit_templates(model.ml, templates)
    kernel, gp = model.kernel, model.gp_parameters
    lam = np.concatenate([np.full(sl.stop - sl.start, model.prior_variances[g]) for g, sl in model.design.groups.items()])
    cov = dense_covariance(model.time, model.variance + kernel.jitter(gp) ** 2, kernel.term(gp),
                           model.design.rows(model.index), lam)
    f = templates.T @ np.linalg.solve(cov, templates)
    num = -templates.T @ np.linalg.solve(cov, model.y)
    np.testing.assert_allclose(fit.information, f, rtol=1e-8)
    np.testing.assert_allclose(fit.amplitude, np.linalg.solve(f, num), rtol=1e-7)
    np.testing.assert_allclose(fit.covariance, np.linalg.inv(f), rtol=1e-7)
    assert fit.delta_loglike == pytest.approx(0.5 * num @ np.linalg.solve(f, num), rel=1e-8)


def test_excluding_cadences_equals_dropping_them(rng):
    lc, design = _light_curve(rng, n=200, groups=(("elc1_10", 3),))
    eph = Ephemeris(2.0, 2000.7, 3.0)
    model = fit_candidate_model(lc, design, eph, config=DetrendConfig(clip_sigma=0))
    drop = np.zeros(model.time.size, bool)
    drop[::7] = True
    box = box_template(model.time, eph)
    fit = fit_templates(model.likelihood(exclude=drop), box)
    kernel, gp = model.kernel, model.gp_parameters
    keep = ~drop
    lam = np.concatenate([np.full(sl.stop - sl.start, model.prior_variances[g]) for g, sl in model.design.groups.items()])
    cov = dense_covariance(model.time[keep], model.variance[keep] + kernel.jitter(gp) ** 2, kernel.term(gp),
                           model.design.rows(model.index)[keep], lam)
    cinv_b = np.linalg.solve(cov, box[keep])
    info = box[keep] @ cinv_b
    assert fit.amplitude[0] == pytest.approx(-(cinv_b @ model.y[keep]) / info, rel=1e-6)
    assert fit.covariance[0, 0] == pytest.approx(1 / info, rel=1e-6)


# --- simulations ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_simulated_planet_survives_the_ladder():
    from helpers import vet_campaign as vc

    _, lc, design = vc.prepared(vc.PLANET_HOST)
    cand = vc.searched(vc.PLANET_HOST)
    truth = vc.body(vc.PLANET_HOST)
    assert abs(cand.period - float(truth["period"])) < 1e-3 * cand.period
    result = flexibility_ladder(lc, design, cand)
    assert result.claimed and result.top.name == "wide"
    assert [r.name for r in result.evaluated][-3:] == ["motion", "pixels", "wide"]
    # the exposure-integrated box depth of a limb-darkened transit sits below its central depth
    assert 0.8 * float(truth["depth"]) < result.top.depth < 1.02 * float(truth["depth"])
    assert result.top.snr > 3 * result.evaluated[0].snr  # the raw roll hides it; the instrument model reveals it


@pytest.mark.slow
def test_instrumental_dip_in_every_star_loses_significance_up_the_ladder():
    from halfsib.pipeline import prepare_target

    from helpers.vet_campaign import instrumental_dip_set

    target, others, cand = instrumental_dip_set(depth=2e-3, n_stars=30, mission="tess")
    lc, design = prepare_target(target, others=others)
    result = flexibility_ladder(lc, design, cand)
    rungs = {r.name: r for r in result.evaluated}
    assert rungs["none"].snr > 10  # a strong dip in the raw light curve ...
    assert not result.claimed and result.top.snr < 0.5 * result.threshold_snr  # ... explained by the others' light
    assert rungs["tens"].snr < 0.3 * rungs["none"].snr


@pytest.mark.slow
def test_leaking_neighbour_eclipse_is_not_claimed():
    from helpers import vet_campaign as vc

    target, eb = vc.LEAK_TARGETS[0]
    _, lc, design = vc.prepared(target)
    truth = vc.body(eb)
    result = flexibility_ladder(lc, design, (float(truth["period"]), float(truth["t0"]), float(truth["duration"])))
    assert max(r.snr for r in result.evaluated) > 5  # visible with other stars' light curves only ...
    assert not result.claimed and abs(result.top.snr) < 3  # ... gone once the target's PLD and CPM pixels enter


def test_single_event_and_no_data_in_transit(rng):
    lc, design = _light_curve(rng, n=300, groups=(("elc1_10", 3), ("spline", 2)))
    single = flexibility_ladder(lc, design, (math.inf, 2002.7, 3.0), config=DetrendConfig(clip_sigma=0))
    assert single.ephemeris.single and single.top is not None and abs(single.top.snr) < 5
    good = lc.good.copy()
    good[np.abs(lc.time - 2002.7) < 0.2] = False  # the transit fell in a gap
    from halfsib.exceptions import DataValidationError

    with pytest.raises(DataValidationError, match="no rung"):
        flexibility_ladder(lc.replace(good=good), design, (math.inf, 2002.7, 3.0))
