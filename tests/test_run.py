"""``halfsib run``: detrend → search → fit → ladder → vet on a simulated K2 patch; outputs; claims."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import Table

from halfsib.cli import main
from halfsib.exceptions import ConfigurationError
from halfsib.fit import FitConfig
from halfsib.report import VET_TESTS, candidate_table
from halfsib.run import (LONE_EVENT_INFLATION, MAX_SHARED_MASK_FRACTION, CandidateOutcome, RunConfig, run_target,
                         shared_ladder_mask, without_lone_events, without_other_candidates)
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

QUICK_FIT = FitConfig(sample=False, n_starts=2)


@pytest.fixture(scope="module")
def patch(tmp_path_factory):
    """Eight bright K2 stars, 1,200 cadences; star 901100007 has one 5,750-ppm planet at 2.485 d."""
    out = tmp_path_factory.mktemp("runpatch")
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=8, n_cadences=1200, seed=11, planet_fraction=0.5,
                                              eb_fraction=0.0, mag_range=(11.5, 13.5), planet_rp_range=(0.06, 0.1),
                                              planet_period_range=(1.0, 4.0)))
    write_campaign(camp, out, progress=False)
    truth = Table.read(out / "truth.ecsv")
    planets = Table.read(out / "planets.ecsv")
    return out, truth, planets


def _files(out, truth, star_id):
    row = truth[truth["star_id"] == star_id][0]
    return out / row["tpf_file"], out / "lc"


@pytest.fixture(scope="module")
def planet_run(patch):
    out, truth, planets = patch
    tpf, others = _files(out, truth, 901100007)
    return run_target(tpf, others=[others], config=RunConfig(fit=QUICK_FIT, max_candidates=2)), planets


def _no_nan(table):
    for name in table.colnames:
        col = table[name]
        if col.dtype.kind == "f":
            data = np.ma.getdata(col)[~np.ma.getmaskarray(col)]
            assert np.all(np.isfinite(data)), name


# --------------------------------------------------------------------------- fast: the claim rule
def _outcome(fit=True, ladder_claimed=True, vet_failed=(), tension=None):
    consistent = tension is None or tension[0] <= 1.5
    significant = ladder_claimed or tension is not None
    ladder = SimpleNamespace(claimed=significant and consistent, significant=significant, consistent=consistent,
                             tension=tension, tension_sigma=1.5, threshold_snr=7.0,
                             top=SimpleNamespace(snr=9.0 if significant else 3.0))
    vetting = SimpleNamespace(passed=not vet_failed, failed=tuple(vet_failed))
    return CandidateOutcome(index=1, candidate=None, fit=object() if fit else None, ladder=ladder, vetting=vetting,
                            errors={} if fit else {"fit": "InsufficientTransitDataError: 2 cadences"})


def test_claim_needs_a_fit_a_significant_top_rung_and_passed_vetting():
    assert _outcome().claimed and _outcome().claim_blockers == ()
    no_fit = _outcome(fit=False)
    assert not no_fit.claimed and "InsufficientTransitDataError" in no_fit.claim_blockers[0]
    weak = _outcome(ladder_claimed=False)
    assert not weak.claimed and "3.0 < 7" in weak.claim_blockers[0]
    eb = _outcome(vet_failed=("odd_even", "secondary"))
    assert not eb.claimed and "odd_even, secondary" in eb.claim_blockers[0]
    made = _outcome(tension=(1.7, "few"))
    assert not made.claimed and "1.7 sigma" in made.claim_blockers[0] and "'few'" in made.claim_blockers[0]
    assert _outcome(tension=(-3.0, "few")).claimed


def test_each_candidate_is_followed_up_with_the_others_divided_out():
    from halfsib.search import Candidate
    from halfsib.search.refine import candidate_dip, transit_template
    from halfsib.timeseries import LightCurve, TargetInfo

    cadence = 0.0204335
    time = 2000.0 + cadence * np.arange(1500)
    time[700] = np.nan  # a bad cadence: no dip, no NaN
    common = dict(period_err=1e-4, t0_err=1e-3, depth_err=50.0, delta_loglike=100.0, snr=10.0, n_transits=5,
                  dominant_event_fraction=0.2, odd_even_sigma=0.0, variable_depth_delta_loglike=1.0)
    shaped = Candidate(period=5.1, t0=2002.3, duration=3.0, depth=2000.0, impact=0.3, rp_over_rs=0.045,
                       box_duration=3.0, box_depth=1500.0, **common)
    box = Candidate(period=7.7, t0=2004.1, duration=2.0, depth=900.0, box_duration=2.0, box_depth=900.0, **common)
    dip = candidate_dip(time, shaped, cadence)
    finite = np.isfinite(time)
    np.testing.assert_allclose(dip[finite], 2e-3 * transit_template(time[finite], 5.1, 2002.3, 3.0 / 24, 0.3, 0.045,
                                                                     cadence), rtol=1e-12)
    assert dip[700] == 0 and dip.max() == pytest.approx(2e-3, rel=0.05)
    phase = np.abs(np.mod(time - 2004.1 + 3.85, 7.7) - 3.85)
    np.testing.assert_array_equal(candidate_dip(time, box, cadence)[finite], np.where(phase < 1 / 24, 9e-4, 0)[finite])
    flux = 1e4 * (1 - dip) * (1 - candidate_dip(time, box, cadence))
    lc = LightCurve(time=time, quality=np.zeros(time.size, np.int64), good=finite, cadenceno=np.arange(time.size),
                    time_format="bkjd", meta=TargetInfo(mission="K2", target_id="EPIC 1"), flux=flux,
                    flux_err=np.full(time.size, 3.0))
    alone = without_other_candidates(lc, [shaped, box], 0)  # the box divided out, the shaped transit kept
    np.testing.assert_allclose(alone.flux[finite], 1e4 * (1 - dip[finite]), rtol=1e-12)
    assert np.all(alone.flux_err[finite] >= 3.0)
    assert without_other_candidates(lc, [shaped], 0) is lc
    lone = without_lone_events(lc, [(2010.0, 4.0), (2020.0, 2.0)])  # half a mask width: 3 h + ½ cadence, 1.5 h + ½
    near = (np.abs(time - 2010.0) < (1.5 * 4.0 + 24 * cadence) / 48) | (np.abs(time - 2020.0) < (1.5 * 2.0 + 24 * cadence) / 48)
    assert near.sum() == 21  # 13 around the 4-h event, 8 around the 2-h one
    np.testing.assert_array_equal(lone.flux_err, np.where(near, 3.0 * LONE_EVENT_INFLATION, 3.0))
    np.testing.assert_array_equal(lone.flux, lc.flux)
    assert without_lone_events(lc, []) is lc


def test_the_shared_ladder_mask_covers_every_candidate_or_is_not_used():
    from halfsib.timeseries import LightCurve, TargetInfo
    from halfsib.vet.ephemeris import Ephemeris
    from halfsib.vet.fitted import MASK_FACTOR

    n = 2000
    time = 2000.0 + 0.0204335 * np.arange(n)
    lc = LightCurve(time=time, quality=np.zeros(n, np.int64), good=np.ones(n, bool), cadenceno=np.arange(n),
                    time_format="bkjd", meta=TargetInfo(mission="K2", target_id="EPIC 7"), flux=np.ones(n),
                    flux_err=np.full(n, 1e-4))
    a, b = Ephemeris(3.1, 2001.0, 3.0), Ephemeris(7.7, 2002.5, 5.0)
    mask = shared_ladder_mask(lc, [a, b])
    assert np.array_equal(mask, a.in_transit(time, MASK_FACTOR) | b.in_transit(time, MASK_FACTOR))
    wide = Ephemeris(0.5, 2000.1, 0.5 * 24 * MAX_SHARED_MASK_FRACTION * 1.2 / MASK_FACTOR * 2)
    assert wide.in_transit(time, MASK_FACTOR).mean() > MAX_SHARED_MASK_FRACTION
    assert shared_ladder_mask(lc, [a, wide]) is None
    bad = SimpleNamespace(period=3.1, t0=2002.0, duration=0.2, box_duration=1.5)  # Ephemeris.of refuses it
    assert np.array_equal(shared_ladder_mask(lc, [a, bad]), a.in_transit(time, MASK_FACTOR))


@pytest.mark.parametrize("field, value", [("max_candidates", -1), ("claim_snr", 0.0), ("claim_snr", float("nan")),
                                          ("ladder_widen", -2.0), ("ladder_tension_sigma", 0.0)])
def test_bad_run_settings_name_the_setting(field, value):
    with pytest.raises(ConfigurationError, match=field):
        RunConfig(**{field: value})


# --------------------------------------------------------------------------- slow: the pipeline
@pytest.mark.slow
def test_run_claims_the_injected_planet_with_its_period_and_depth(planet_run):
    run, planets = planet_run
    truth = planets[planets["star_id"] == 901100007][0]
    assert len(run.claimed) >= 1
    best = run.claimed[0]
    assert abs(best.candidate.period - truth["period"]) < 1e-3 * truth["period"]
    fit = best.fit.maximum_likelihood
    err = best.fit.fisher_errors
    assert abs(fit["period"] - truth["period"]) < 5 * err["period"] + 1e-4
    assert abs(fit["rp_over_rs"] - truth["rp_over_rs"]) < 0.15 * truth["rp_over_rs"]
    assert best.ladder.claimed and best.vetting.passed
    # the pixel test ran: the target was a pixel file
    assert "pixel_centroid" not in best.vetting.not_run


@pytest.mark.slow
def test_follow_ups_on_an_executor_equal_the_serial_run(patch):
    """With an executor each candidate's ML fit, sampling and ladder-and-vetting are separate tasks;
    the results are the same as one after the other (the sampling continues the fit's random stream)."""
    from concurrent.futures import ThreadPoolExecutor

    out, truth, planets = patch
    tpf, others = _files(out, truth, 901100007)
    config = RunConfig(fit=FitConfig(n_starts=2, n_steps=40, check_every=20), max_candidates=2,
                       sample_rejected=True)
    serial = run_target(tpf, others=[others], config=config)
    with ThreadPoolExecutor(2) as pool:
        pooled = run_target(tpf, others=[others], config=config, executor=pool)
    assert len(serial.outcomes) == len(pooled.outcomes) >= 1
    for a, b in zip(serial.outcomes, pooled.outcomes):
        assert a.fit is not None and a.fit.chain is not None
        np.testing.assert_array_equal(a.fit.theta, b.fit.theta)
        np.testing.assert_array_equal(a.fit.chain, b.fit.chain)
        # the shared rung fits run beside the transit fits, and threads share one BLAS thread
        # setting (threadpoolctl is process-wide): sums may round differently (process pools do not)
        assert [r.depth for r in a.ladder.rungs] == pytest.approx([r.depth for r in b.ladder.rungs], rel=1e-4,
                                                                  abs=0.01)
        assert a.vetting.failed == b.vetting.failed and a.claimed == b.claimed
        assert list(a.seconds) == list(b.seconds) == ["fit", "ladder", "vet", "sampling"]


@pytest.mark.slow
def test_candidate_table_has_every_stage_and_no_nan(planet_run):
    run, _ = planet_run
    table = candidate_table(run)
    assert len(table) == len(run.search.candidates)
    for name in ("period", "depth", "fit_rp_over_rs", "fit_rp_over_rs_err", "fit_status", "ladder_top_snr",
                 "vet_passed", "claimed", "claim_reason", *(f"vet_{t}" for t in VET_TESTS)):
        assert name in table.colnames, name
    assert table["depth"].unit == "ppm" and table["fit_period"].unit == "d"
    assert list(table["claimed"]) == [o.claimed for o in run.outcomes] + [False] * (len(table) - len(run.outcomes))
    _no_nan(table)
    # no sampling was asked for: the posterior columns are masked, never NaN
    assert np.all(np.ma.getmaskarray(table["post_period"]))


@pytest.mark.slow
def test_vetting_names_are_known_to_the_report(planet_run):
    run, _ = planet_run
    for outcome in run.outcomes:
        assert {t.name for t in outcome.vetting.tests} <= set(VET_TESTS)


@pytest.mark.slow
def test_written_outputs_round_trip_and_are_not_overwritten(planet_run, tmp_path):
    run, _ = planet_run
    paths = run.write(tmp_path / "out")
    assert all(p.exists() for p in paths)
    names = {p.name for p in paths}
    assert {"candidates.ecsv", "lightcurve.fits", "summary.json", "report.png", "report.pdf", "fit_1.ecsv",
            "ladder_1.ecsv", "vet_1.ecsv"} <= names
    table = Table.read(tmp_path / "out" / "candidates.ecsv")
    assert table.meta["claim_rule"].startswith("fit ok")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_claimed"] == len(run.claimed) and summary["versions"]["halfsib"]
    lone = [{"time": round(t, 5), "duration_h": d} for t, d in run.search.masked_events]
    assert summary["masked_lone_events"] == lone and table.meta["masked_lone_events"] == lone
    # other stars were given: the summary says whether the chosen design kept them
    scope = summary["systematics_model"]
    kept = any(name.startswith("elc") for name in run.detrend.design_columns)
    assert scope["shared"] == kept and scope["statement"].startswith("systematics shared" if kept else "other stars were given")
    assert len(run.design_choices) >= 1 and sum(c.chosen for c in run.design_choices) == 1
    with pytest.raises(ConfigurationError, match="exists"):
        run.write(tmp_path / "out")
    run.write(tmp_path / "out", overwrite=True, figure=False)


@pytest.mark.slow
def test_a_failed_fit_is_recorded_and_the_run_goes_on(patch, tmp_path):
    out, truth, _ = patch
    tpf, others = _files(out, truth, 901100007)
    config = RunConfig(fit=FitConfig(sample=False, n_starts=1, min_in_transit=100_000), max_candidates=1)
    run = run_target(tpf, others=[others], config=config)
    outcome = run.outcomes[0]
    assert outcome.fit is None and "InsufficientTransitData" in outcome.errors["fit"]
    assert outcome.ladder is not None and outcome.vetting is not None  # the other stages still ran
    assert not outcome.claimed
    table = candidate_table(run)
    assert table["fit_status"][0].startswith("InsufficientTransitData")
    assert np.ma.getmaskarray(table["fit_rp_over_rs"])[0]
    run.write(tmp_path / "failed", figure=True)


@pytest.mark.slow
def test_only_candidates_the_claim_rule_keeps_are_sampled(patch):
    """emcee runs after the ladder and vetting, and only where the posterior can matter (a
    claim or a single-event candidate); ``sample_rejected`` samples every fitted candidate."""
    out, truth, planets = patch
    tpf, others = _files(out, truth, 901100007)
    sampling = FitConfig(n_starts=1, n_steps=20, check_every=10)
    claims = run_target(tpf, others=[others], config=RunConfig(fit=sampling, max_candidates=1))
    refused = run_target(tpf, others=[others], config=RunConfig(fit=sampling, max_candidates=1, claim_snr=1e4))
    everything = run_target(tpf, others=[others], config=RunConfig(fit=sampling, max_candidates=1, claim_snr=1e4,
                                                                   sample_rejected=True))
    first = [run.outcomes[0] for run in (claims, refused, everything)]
    assert all(o.fit is not None for o in first)
    assert first[0].claimed and first[0].fit.sampler is not None
    assert not first[1].claimed and first[1].fit.sampler is None and "sampling" not in first[1].seconds
    assert first[2].fit.sampler is not None and list(first[2].seconds)[-1] == "sampling"
    np.testing.assert_array_equal(first[0].fit.chain, first[2].fit.chain)  # the same random stream


@pytest.mark.slow
def test_a_quiet_star_has_no_claim_and_a_full_table(patch, tmp_path):
    out, truth, planets = patch
    quiet = [s for s in truth["star_id"] if s not in set(planets["star_id"])][0]
    tpf, others = _files(out, truth, quiet)
    run = run_target(tpf, others=[others], config=RunConfig(fit=QUICK_FIT))
    assert run.claimed == ()
    table = candidate_table(run)
    assert "claimed" in table.colnames and "vet_odd_even" in table.colnames
    run.write(tmp_path / "quiet")


@pytest.mark.slow
def test_cli_run_end_to_end(patch, tmp_path, capsys):
    out, truth, _ = patch
    tpf, others = _files(out, truth, 901100007)
    status = main(["run", str(tpf), "--others", str(others), "-o", str(tmp_path / "cli"), "--no-sample",
                   "--max-candidates", "1", "--no-figure"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "CLAIMED" in printed and "wrote" in printed
    table = Table.read(tmp_path / "cli" / "candidates.ecsv")
    assert bool(table["claimed"][0])


@pytest.mark.slow
def test_a_dip_made_by_the_motion_terms_on_a_planet_free_star_is_not_claimed(tmp_path):
    """The false claim that made the ladder's tension condition (docs/injection.md): on this
    planet-free simulated star, motion terms centred per time window made two 1.6 %, 1.3-h
    dips at thruster firings (ladder S/N ≤ 0.3 below the 'motion' rung, 9.9 at the top), and
    every less flexible rung saw less than half the top depth. Anchored motion terms no longer
    make that dip (the search finds no candidate with the study's design); whatever the
    search finds on this star must not be claimed, and if the 17.66-d dip comes back the
    ladder must be what refuses it (the condition itself: tests/test_ladder.py)."""
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=16, n_cadences=1500, seed=21,
                                              planet_fraction=0.0, eb_fraction=0.0))
    write_campaign(camp, tmp_path, pixels=False, progress=False)
    target = tmp_path / "lc" / "ktwo902100011-c99_llc.fits"
    from halfsib.search import SearchConfig

    # the search's single-event guard (snr_without_strongest) may or may not stop it (3.1-4.7 sigma,
    # depending on the basis); switched off here: the ladder on its own must refuse it
    unguarded = SearchConfig(min_snr_without_strongest=-100.0)
    # the motion design of the study (8 B-splines x 40 time windows; with the default design this dip
    # is no longer the first peak): the ladder must refuse the dip those terms make
    from halfsib.regressors import RegressorConfig

    study = RegressorConfig(motion_modulation="windows", motion_windows=40, motion_splines=8)
    run = run_target(target, others=[tmp_path / "lc"], regressors=study,
                     config=RunConfig(fit=QUICK_FIT, max_candidates=1, search=unguarded))
    assert run.claimed == ()
    for outcome in run.outcomes:
        if abs(outcome.candidate.period - 17.659) < 0.01:  # the study's dip
            assert outcome.ladder.significant and not outcome.ladder.consistent
            assert any("made by the instrument model" in reason for reason in outcome.claim_blockers)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("star, planets", [
    ("k2-c13/k2sff/hlsp_k2sff_k2_lightcurve_247589423-c13_kepler_v1_llc.fits",
     {"K2-136 b": 7.975, "K2-136 c": 17.307, "K2-136 d": 25.575}),
    ("k2-c1/hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits", {"K2-3 b": 10.054, "K2-3 c": 24.644}),
])
def test_real_k2_planets_are_claimed_from_raw_flux(shared_data, star, planets):
    """K2-136 b, c and d from C13 FRAW with the other 131 stars; K2-3 b and c from C1 FRAW with the
    EVEREST C1 basis (MANIFEST.md periods). K2-136 b (≈ 180 ppm) needs the fitted white noise and
    the K2 motion design: see docs/run.md and docs/detrend.md."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    target = shared_data / star
    if "c13" in star:
        run = run_target(target, others=[target.parent], config=RunConfig(fit=QUICK_FIT))
    else:  # the candidates' follow-ups on a process pool, as `halfsib run --workers 2`
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            run = run_target(target, cbv=target.parent / "everest_c01_cbv_basis.txt", config=RunConfig(fit=QUICK_FIT),
                             executor=pool)
        assert len(run.outcomes) >= 2 and all(o.fit is not None for o in run.outcomes)
    # the fitted period (what the claim reports), not the search grid's: K2-136 d's grid period
    # can sit 0.011 d from the published one while the fit lands within 0.005 d
    claimed = [o.fit.maximum_likelihood["period"] for o in run.claimed]
    for name, period in planets.items():
        assert any(abs(p - period) < 0.01 for p in claimed), (name, claimed, [o.claim_blockers for o in run.outcomes])


def test_report_rows_are_the_strongest_and_every_other_claim():
    from types import SimpleNamespace

    from halfsib.report import MAX_REPORT_ROWS, report_rows

    outcome = lambda i, claimed, single=False: SimpleNamespace(  # noqa: E731
        index=i, claimed=claimed, single_event_candidate=single)
    assert report_rows(SimpleNamespace(outcomes=())) == [None]
    run = SimpleNamespace(outcomes=[outcome(1, False), outcome(2, True), outcome(3, False), outcome(4, True),
                                    outcome(5, False, single=True)])
    assert [o.index for o in report_rows(run)] == [1, 2, 4, 5]
    many = SimpleNamespace(outcomes=[outcome(i, True) for i in range(1, 8)])
    assert [o.index for o in report_rows(many)] == list(range(1, MAX_REPORT_ROWS + 1))


def test_candidates_at_one_period_and_two_phases_are_a_binary_and_not_claimed():
    from halfsib.run import same_period, shared_period_notes
    from halfsib.search import Candidate

    common = dict(period_err=1e-4, t0_err=1e-3, depth_err=50.0, delta_loglike=100.0, snr=10.0, n_transits=15,
                  dominant_event_fraction=0.1, odd_even_sigma=0.0, variable_depth_delta_loglike=1.0)
    primary = Candidate(period=4.94337, t0=3035.0875, duration=4.5, depth=5190.0, **common)
    secondary = Candidate(period=4.94356, t0=3032.6125, duration=2.8, depth=1286.0, **common)
    planet = Candidate(period=7.97546, t0=3016.6574, duration=2.4, depth=240.0, **common)
    drifting = Candidate(period=4.9600, t0=3033.0, duration=2.8, depth=900.0, **common)  # 0.27 d over 80 d
    assert same_period(primary, secondary, 80.0) and not same_period(primary, planet, 80.0)
    assert not same_period(secondary, drifting, 80.0)  # 0.0166 d x 16 cycles > 2.8 h
    notes = shared_period_notes([primary, secondary, planet], 80.0)
    assert notes[2] == () and len(notes[0]) == len(notes[1]) == 1
    assert "candidate #2 at phase 0.50" in notes[0][0] and "candidate #1 at phase 0.50" in notes[1][0]
    outcome = CandidateOutcome(index=2, candidate=secondary, shared_period=notes[1])
    assert not outcome.claimed and notes[1][0] in outcome.claim_blockers


def test_a_single_transit_is_followed_up_and_reported_never_claimed(tmp_path, caplog):
    """One 4,000-ppm, 4-h transit in 30 days of K2-like data: a single-event candidate with
    a single-transit fit (period bounded by the data), ladder and vetting; not claimed."""
    from halfsib.timeseries import LightCurve, TargetInfo

    rng = np.random.default_rng(5)
    time = 2000.0 + 0.0204335 * np.arange(1500)
    dip = np.where(np.abs(time - 2017.3) < 2.0 / 24, -4e-3, 0.0)
    rel = 1e-3 * np.sin(2 * np.pi * (time - 2000) / 9.0) + dip + 3e-4 * rng.standard_normal(time.size)
    lc = LightCurve(time=time, quality=np.zeros(time.size, np.int64), good=np.ones(time.size, bool),
                    cadenceno=np.arange(time.size), time_format="bkjd", meta=TargetInfo(mission="K2", target_id="EPIC 5"),
                    flux=1e5 * (1 + rel), flux_err=np.full(time.size, 30.0))
    run = run_target(lc, config=RunConfig(fit=QUICK_FIT))
    assert run.search.candidates == () and len(run.search.single_candidates) >= 1
    single = next(o for o in run.outcomes if o.single_event)
    assert abs(single.candidate.t0 - 2017.3) < 0.05 and not single.claimed and run.claimed == ()
    assert single.single_event_candidate, single.claim_blockers
    assert single.claim_blockers[0].startswith("single event: one transit")
    fit = single.fit
    assert fit.single_transit and fit.maximum_likelihood["period"] > 0.8 * (time[-1] - 2017.3)
    assert abs(fit.maximum_likelihood["depth"] - 4000) < 800
    # its fit held the noise of a refit with its own transit masked, never the search's unmasked one
    assert "nuisance_refit" in single.seconds and "nuisance_refit" not in single.errors
    assert "absorbed part of them" not in caplog.text
    skipped = set(single.vetting.not_run)
    assert {"odd_even", "secondary"} <= skipped
    table = candidate_table(run)
    row = table[table["single_event"]][0]
    assert row["single_event_candidate"] and not row["claimed"] and np.ma.is_masked(row["period"])
    _no_nan(table)
    paths = run.write(tmp_path / "out", figure=True)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_single_event_candidates"] >= 1 and summary["n_claimed"] == 0 and paths


def test_the_report_says_what_to_check_before_believing_a_fit():
    """Convergence, parameters at bounds and one stellar density for all planets of a star."""
    from types import SimpleNamespace

    from halfsib.report import fit_health

    def fit(rho, rho_err, converged=True, flags=()):
        post = {"rp_over_rs": SimpleNamespace(median=0.04, minus=0.001, plus=0.001),
                "b": SimpleNamespace(median=0.3, minus=0.1, plus=0.1),
                "rho_star": SimpleNamespace(median=rho, minus=rho_err, plus=rho_err)}
        sampler = SimpleNamespace(converged=converged, n_steps=3000, autocorr_time={"t0": 60.0})
        return SimpleNamespace(posterior=post, sampler=sampler, flags=flags, maximum_likelihood={}, fisher_errors={})

    planet_c = SimpleNamespace(fit=fit(3.6, 0.3), claimed=True, single_event=False)
    planet_b = SimpleNamespace(fit=fit(0.15, 0.05, converged=False, flags=("q2_at_lower_bound", "grazing")),
                               claimed=True, single_event=False)
    lines = fit_health(planet_b, [planet_b, planet_c])
    assert "NOT CONVERGED" in lines[1] and lines[2] == "at bounds: q2 at lower"
    assert "other planets 3.60 ± 0.30" in lines[3] and "(11.3 sigma)" in lines[3]
    assert fit_health(planet_c, [planet_c])[1].startswith("emcee: converged")
