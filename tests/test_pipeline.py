"""End to end on a simulated K2 campaign: files → regressors → model → corrected flux vs truth; the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import halfsib
from halfsib.cli import main
from halfsib.model import DetrendConfig, transit_window_mask
from halfsib.pipeline import detrend_target
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign")
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=10, n_cadences=900, seed=4,
                                              planet_fraction=0.3, eb_fraction=0.0,
                                              mag_range=(13.0, 15.5)))
    write_campaign(camp, out, progress=False)
    truth = Table.read(out / "truth.ecsv")
    with fits.open(out / "truth_flux.fits") as hdul:
        astro = np.array(hdul["ASTRO_FLUX"].data)
        cadences = np.array(hdul["CADENCES"].data["CADENCENO"])
    return out, truth, astro, cadences


def _error_vs_truth(result, astro_row, cadences):
    """Std of the corrected and the raw flux minus the truth, both high-passed (a 1-d running
    median removed), and the median white noise σ. High-passed: the roll lives on hours; how
    a slow trend is split between the systematics and the stellar GP is degenerate (docs/detrend.md)."""
    from scipy.ndimage import median_filter

    idx = np.searchsorted(cadences, result.cadenceno)
    true_rel = astro_row[idx] / np.median(astro_row[idx])
    diff = result.flux / np.median(result.flux) - true_rel
    raw = result.raw_flux / result.normalisation - true_rel
    diff, raw = diff - median_filter(diff, 49), raw - median_filter(raw, 49)
    return np.std(diff), np.std(raw), float(np.median(result.raw_flux_err / result.normalisation))


def test_corrected_flux_approaches_the_noise_floor(campaign):
    out, truth, astro, cadences = campaign
    ratios, gains = [], []
    for i in range(3):
        result = detrend_target(out / truth["lc_file"][i], others=[out / "lc"])
        assert "motion" in result.design_columns  # the other stars' ELCs only where they help (fit_target)
        err, raw_err, floor = _error_vs_truth(result, astro[i], cadences)
        ratios.append(err / floor)
        gains.append(raw_err / err)
    # the raw SAP is dominated by the roll (10-100x the noise). On these short (900-cadence) runs
    # with 9 half-siblings the correction removes most of it; how close to the photon floor a full
    # campaign gets is measured in benchmarks/bench_detrend.py (docs/detrend_benchmark.md)
    assert np.median(gains) > 5, gains
    assert min(ratios) < 2.5 and np.median(ratios) < 4, ratios


def test_pixels_give_pld_terms_and_the_target_is_never_its_own_regressor(campaign):
    out, truth, astro, cadences = campaign
    tpf = out / truth["tpf_file"][0]
    result = detrend_target(tpf, others=[out / "lc"], config=DetrendConfig(clip_sigma=0))
    assert any(name.startswith("pld") for name in result.design_columns)
    assert result.meta.target_id == truth["object"][0]
    # the target's own light curve is among --others: it must have been dropped
    n_elc = sum(n for name, n in result.design_columns.items() if name.startswith("elc"))
    assert n_elc <= len(truth) - 1


def test_a_pixel_target_chooses_with_and_without_its_pixels_and_others(campaign):
    """A pixel file with other stars: four candidates (own terms; + PLD; + ELCs; + both); the
    smallest is fitted in full and the others with its GP held. A light curve gets two."""
    from halfsib.pipeline import fit_target

    out, truth, astro, cadences = campaign
    _, _, _, choices = fit_target(out / truth["tpf_file"][0], others=[out / "lc"],
                                  config=DetrendConfig(clip_sigma=0))
    def design(choice):  # its settings without the pointing breaks (found on the smallest, given to all)
        return {k: v for k, v in choice.settings.items() if k != "motion_breaks"}

    assert sorted(map(str, map(design, choices))) == sorted(map(str, [{}, {"n_elc": 0}, {"pld_order": 0},
                                                                      {"n_elc": 0, "pld_order": 0}]))
    smallest = next(c for c in choices if design(c) == {"n_elc": 0, "pld_order": 0})
    assert not smallest.gp_held and not any(name.startswith(("pld", "elc")) for name in smallest.groups)
    assert all(c.gp_held for c in choices if c is not smallest and not c.chosen)
    assert sum(c.chosen for c in choices) == 1
    _, _, _, choices = fit_target(out / truth["lc_file"][0], others=[out / "lc"], config=DetrendConfig(clip_sigma=0))
    assert [design(c) for c in choices] == [{}, {"n_elc": 0}]


def test_masked_transit_survives_in_the_corrected_flux(campaign):
    out, truth, astro, cadences = campaign
    bodies = Table.read(out / "planets.ecsv")
    planets = bodies[(bodies["kind"] == "planet") & (bodies["n_events"] >= 1)]
    row = planets[np.argmax(planets["depth"])]
    star = int(np.flatnonzero(truth["star_id"] == row["star_id"])[0])
    lc = halfsib.read(out / truth["lc_file"][star])
    assert str(bodies["duration"].unit) == "h"
    duration = float(row["duration"])
    mask = transit_window_mask(lc.time, float(row["period"]), float(row["t0"]), duration, factor=2.5)
    result = detrend_target(lc, others=[out / "lc"], transit_mask=mask)
    idx = np.searchsorted(cadences, result.cadenceno)
    true_rel = astro[star][idx] / np.median(astro[star][idx])
    period, t0 = float(row["period"]), float(row["t0"])
    core = transit_window_mask(result.time, period, t0, duration, factor=0.5)
    wings = transit_window_mask(result.time, period, t0, duration, factor=2.0) & ~transit_window_mask(
        result.time, period, t0, duration, factor=1.1)
    assert core.sum() >= 2 and wings.sum() >= 4 and result.masked[core].all()

    def depth(flux):  # local depth: wings just outside the transit against its core
        return np.mean(flux[wings]) - np.mean(flux[core])

    noise = np.median(result.flux_err) * np.sqrt(1 / core.sum() + 1 / wings.sum())
    assert depth(result.flux) == pytest.approx(depth(true_rel), abs=5 * noise + 0.15 * depth(true_rel))


def test_cli_detrend_writes_a_light_curve_and_a_figure(campaign, tmp_path, capsys):
    out, truth, _, _ = campaign
    target = out / truth["lc_file"][1]
    fits_out, png = tmp_path / "det.fits", tmp_path / "det.png"
    status = main(["detrend", str(target), "--others", str(out / "lc"), "-o", str(fits_out), "--plot", str(png),
                   "--mask", "3.0,3001.0,2.5", "-q"])
    assert status == 0 and fits_out.exists() and png.stat().st_size > 20_000
    from halfsib.io.pixels import import_lightkurve

    lc = import_lightkurve().read(fits_out)
    assert {"flux", "flux_err", "systematics", "stellar", "raw_flux"} <= set(lc.colnames)
    assert abs(np.median(lc.flux.value) - 1) < 0.01
    header = fits.getheader(fits_out)
    assert str(target) in header["HSINPUTS"] and header["HSNMASK"] > 0
    assert main(["detrend", str(target), "-o", str(fits_out)]) == 1  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["detrend", str(target), "--mask", "3.0,3001.0", "-o", str(tmp_path / "x.fits")]) == 1
    assert "PERIOD,T0,DURATION" in capsys.readouterr().err


def test_lightkurve_objects_in_and_out(campaign):
    out, truth, _, _ = campaign
    from halfsib.io.pixels import import_lightkurve

    lk = import_lightkurve()
    target = lk.read(out / truth["lc_file"][2], flux_column="sap_flux")
    others = [halfsib.read(p) for p in sorted((out / "lc").glob("*.fits"))]
    result = detrend_target(target, others=others)
    corrected = result.to_lightkurve()
    assert isinstance(corrected, lk.LightCurve) and len(corrected) == result.time.size
    assert np.all(np.isfinite(corrected.flux.value))


def test_lightkurve_collections_and_default_pdcsap_objects(campaign, caplog):
    """others= a LightCurveCollection (or a mixed list of paths and lightkurve objects); a target
    that lightkurve read as PDCSAP is modelled from its SAP flux, with a warning."""
    out, truth, _, _ = campaign
    from halfsib.io.pixels import import_lightkurve

    lk = import_lightkurve()
    files = sorted((out / "lc").glob("*.fits"))
    target = lk.read(out / truth["lc_file"][2])  # lightkurve's default: PDCSAP
    collection = lk.LightCurveCollection([lk.read(p) for p in files])
    with caplog.at_level("WARNING"):
        from_collection = detrend_target(target, others=collection)
    assert "halfsib models the raw SAP_FLUX instead" in caplog.text
    assert from_collection.meta.flux_column == "sap_flux"
    from_files = detrend_target(out / truth["lc_file"][2], others=[files[0], *map(lk.read, files[1:])])
    np.testing.assert_allclose(from_collection.raw_flux, from_files.raw_flux)
    assert from_collection.design_columns == from_files.design_columns
    # the search entry point takes the same objects (run_target reads its target the same way)
    from halfsib import search_target
    from halfsib.search import SearchConfig

    quick = SearchConfig(max_planets=1, max_single_events=0)
    fit, found = search_target(target, others=collection, search_config=quick)
    assert fit.meta.flux_column == "sap_flux" and fit.design_columns == from_files.design_columns
    assert found.periodograms and np.isfinite(found.periodograms[0].power).any()


def test_the_lightkurve_corrector_shape(campaign):
    """HalfSiblingCorrector(lc).correct(others=..., cadence_mask=...) as lightkurve's correctors:
    True in the mask = used by the model; the masked cadences are excluded from the fit."""
    out, truth, _, _ = campaign
    from halfsib.io.pixels import import_lightkurve

    lk = import_lightkurve()
    files = sorted((out / "lc").glob("*.fits"))
    target = lk.read(out / truth["lc_file"][3], flux_column="sap_flux")
    corrector = halfsib.HalfSiblingCorrector(target)
    from lightkurve.correctors.corrector import Corrector

    assert isinstance(corrector, Corrector)
    with pytest.raises(halfsib.ConfigurationError, match="before diagnose"):
        corrector.diagnose()
    mask = np.ones(len(target), bool)
    mask[400:430] = False
    corrected = corrector.correct(others=lk.LightCurveCollection([lk.read(f) for f in files]), cadence_mask=mask)
    assert corrected is corrector.corrected_lc and isinstance(corrected, lk.KeplerLightCurve)
    assert np.all(np.isfinite(corrected.flux.value)) and abs(np.nanmedian(corrected.flux.value) - 1) < 0.01
    masked = corrector.result.masked
    cadences = np.asarray(target["cadenceno"])[~mask]
    assert set(corrector.result.cadenceno[masked]) == set(cadences) & set(corrector.result.cadenceno)
    assert corrector.diagnose() is not None


def test_cli_search_writes_candidates_with_units(campaign, tmp_path, capsys):
    out, truth, _, _ = campaign
    target = out / truth["lc_file"][0]
    cands, pgram = tmp_path / "c.ecsv", tmp_path / "p.fits"
    status = main(["search", str(target), "--others", str(out / "lc"), "-o", str(cands), "--periodogram",
                   str(pgram), "--max-planets", "1", "--min-snr", "0",
                   "--min-snr-without-strongest=-100", "-q"])
    assert status == 0
    table = Table.read(cands)
    assert str(table["period"].unit) == "d" and str(table["depth"].unit) == "ppm"
    assert str(table["duration"].unit) == "h" and "BKJD" in table.meta["time_system"]
    assert len(table) == 1 and np.all(np.isfinite(np.asarray(table["snr"])))
    with fits.open(pgram) as hdul:
        assert hdul[1].data["PERIOD"].size > 100 and np.all(np.isfinite(hdul[1].data["POWER"]))
        header = hdul[0].header  # whose periodogram, from what, in which time system, with which software
        assert header["OBJECT"] == table.meta["target"] and str(target) in header["HSINPUTS"]
        assert header["TIMEOFFS"] == 2454833.0 and "celerite2" in header["HSPKGS"]
    assert main(["search", str(target), "-o", str(cands)]) == 1  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err


def _table_copy(lc_path, out, *, scale=1.0, digits=7):
    """The light curve written as a plain CSV (time, flux; no id, no coordinates), as a user exports it."""
    lc = halfsib.read(lc_path)
    good = lc.good
    with open(out, "w") as fh:
        fh.write("time,flux\n")
        for t, f in zip(lc.time[good], lc.flux[good] * scale):
            fh.write(f"{t:.8f},{f:.{digits}g}\n")
    return out


def test_a_table_target_is_recognised_among_the_others_by_its_data(campaign, tmp_path, caplog):
    out, truth, astro, cadences = campaign
    lc_path = out / truth["lc_file"][0]
    table = _table_copy(lc_path, tmp_path / "target.csv", scale=1 / 1234.5)
    with caplog.at_level("WARNING", logger="halfsib.pipeline"):
        result = detrend_target(table, others=[out / "lc"], config=DetrendConfig(clip_sigma=0))
    assert any("own photometry" in r.getMessage() and lc_path.name in r.getMessage() for r in caplog.records)
    n_elc = sum(n for name, n in result.design_columns.items() if name.startswith("elc"))
    assert n_elc <= len(truth) - 1
    # regressed on its own copy the residual would collapse far below the photon noise: it must
    # look like the same star's residual read from its mission file
    from_file = detrend_target(lc_path, others=[out / "lc"], config=DetrendConfig(clip_sigma=0))

    def scatter(r):  # of the corrected flux: the star's variability and noise, systematics removed
        keep = np.isfinite(r.flux) & ~r.clipped
        return np.std(r.flux[keep] / np.median(r.flux[keep]))

    assert scatter(result) > 0.3 * scatter(from_file)  # (a copy among the regressors: ~1e-3)


def test_a_prebuilt_basis_leaves_out_the_table_targets_own_star(campaign, tmp_path, caplog):
    from halfsib.regressors import ElcBasis

    out, truth, astro, cadences = campaign
    stars = [halfsib.read(p) for p in sorted((out / "lc").glob("*.fits"))]
    basis = ElcBasis.build(stars, n_components=4, n_folds=3)
    lc_path = out / truth["lc_file"][1]
    target = halfsib.read(_table_copy(lc_path, tmp_path / "target.csv", digits=6))
    own = [i for i, s in enumerate(basis.stars.sources) if s is not None and s.endswith(lc_path.name)]
    assert len(own) == 1
    copies = basis.same_photometry_rows(target)
    assert np.flatnonzero(copies).tolist() == own
    with caplog.at_level("WARNING", logger="halfsib.regressors.elc"):
        assert basis.excluded(target, exclusion_radius=0.0)[own[0]]
    assert any("own photometry" in r.getMessage() for r in caplog.records)


def _half_siblings(rng, n=1500, n_others=12):
    """A TESS-like target whose fast systematics (sawtooths of 5-9 h) its half-siblings share."""
    from halfsib.timeseries import LightCurve, TargetInfo

    time = 1325.0 + np.arange(n) / 48.0
    instrument = np.column_stack([((time / p) % 1.0) - 0.5 for p in (0.21, 0.29, 0.37)])

    def star(i, coefficients, noise=2e-4):
        rel = instrument @ coefficients + noise * rng.standard_normal(n)
        rel += 1e-3 * np.sin(2 * np.pi * time / (3 + i))  # the star's own slow variability
        meta = TargetInfo(mission="TESS", target_id=f"TIC {100 + i}", sector=1, camera=1, ccd=1,
                          ra=10.0 + i, dec=-30.0)
        return LightCurve(time=time, quality=np.zeros(n, np.int64), good=np.ones(n, bool),
                          cadenceno=np.arange(n), time_format="btjd", meta=meta, flux=1e4 * (1 + rel),
                          flux_err=np.full(n, 1e4 * noise))

    target = star(0, np.array([2e-3, -1e-3, 1.5e-3]))
    others = [star(i, 1e-3 * rng.standard_normal(3)) for i in range(1, n_others + 1)]
    return target, others


def test_choose_design_keeps_the_smallest_design_that_predicts_as_well():
    from halfsib.pipeline import choose_design

    assert choose_design([100.0, 90.0, 95.0], [300, 400, 200]) == 1
    assert choose_design([100.0, 90.0, 91.0], [300, 400, 200]) == 2  # within 2 % of the best, fewer columns
    assert choose_design([100.0, 90.0, 91.0], [300, 400, 200], tolerance=0.0) == 1
    assert choose_design([90.0, 90.0], [200, 200]) == 0  # ties: the first
    assert choose_design([float("inf"), 120.0], [10, 400]) == 1  # a design that could not be fitted
    assert choose_design([float("nan")], [10]) == 0
    assert choose_design([float("inf"), float("inf")], [400, 10]) == 1  # none scored: the smallest


def test_a_light_curve_too_short_to_score_still_gets_a_design(rng):
    from halfsib.pipeline import fit_target

    target, others = _half_siblings(rng, n=100)  # 2 days: fewer than ten 6.5-h blocks
    lc, design, fit, choices = fit_target(target, others=others)
    assert all(c.heldout is None and c.heldout_ppm == float("inf") for c in choices)
    assert sum(c.chosen for c in choices) == 1 and np.isfinite(fit.log_likelihood)


def test_the_other_stars_are_used_where_they_predict_the_target(rng):
    from halfsib.model import heldout_precision
    from halfsib.pipeline import fit_target

    target, others = _half_siblings(rng)
    lc, design, fit, choices = fit_target(target, others=others)
    assert [bool(c.settings) for c in choices] == [False, True]  # the TESS defaults, then without ELCs
    with_elcs, without = choices
    assert with_elcs.chosen and not without.chosen
    assert any(name.startswith("elc") for name in with_elcs.groups)
    assert not any(name.startswith("elc") for name in without.groups)
    # the others carry the target's sawtooth: without them both held-out statistics are worse
    assert without.heldout.cdpp > 1.5 * with_elcs.heldout.cdpp
    assert without.heldout.scatter > 3 * with_elcs.heldout.scatter
    assert dict(fit.design_columns) == with_elcs.groups
    assert heldout_precision(lc, design, fit) == with_elcs.heldout
    # the design without ELCs has its GP take the sawtooth: held for the ELC design, that GP
    # predicts the held-out blocks worse than the ELC design's own, so its full fit is kept
    assert not with_elcs.gp_held and not fit.gp_held


def test_other_stars_of_another_season_are_left_out_by_name(campaign, tmp_path, caplog):
    import shutil

    from halfsib.io import read
    from halfsib.pipeline import load_others

    out, truth, astro, cadences = campaign
    files = sorted((out / "lc").glob("*.fits"))
    odd = tmp_path / "odd_campaign.fits"
    shutil.copy(files[1], odd)
    with fits.open(odd, mode="update") as hdul:
        hdul[0].header["CAMPAIGN"] = 5
    with caplog.at_level("WARNING", logger="halfsib.pipeline"):
        curves, stamps, failures = load_others([*files[2:5], odd], read(files[0]))
    assert len(curves) == 3 and not failures and odd.name not in {c.meta.source for c in curves}
    message = next(r.getMessage() for r in caplog.records if "odd_campaign.fits" in r.getMessage())
    assert "from K2 C5, the target from K2 C" in message and "remove it from --others" in message


def test_a_transit_mask_reaches_every_candidate_design_and_the_choice(rng):
    """fit_target(transit_mask=...) masks the cadences in each candidate's fit and leaves them
    out of the held-out statistic (fewer blocks than without the mask)."""
    from halfsib.pipeline import fit_target

    target, others = _half_siblings(rng)
    mask = np.zeros(target.n_cadences, bool)
    mask[300:360] = True
    _, _, plain, plain_choices = fit_target(target, others=others)
    _, _, fit, choices = fit_target(target, others=others, transit_mask=mask)
    assert np.array_equal(fit.masked, mask[target.good]) and not plain.masked.any()
    for masked, unmasked in zip(choices, plain_choices):
        assert masked.heldout.n_blocks < unmasked.heldout.n_blocks


@pytest.mark.shared_data
def test_k2_136_keeps_the_other_stars_with_the_gp_of_its_own_terms(shared_data):
    """K2-136 (C13 ``FRAW``, the other 131 stars' ELCs, the campaign's two pointing breaks,
    its planets masked): the ELC design wins the held-out test with the own-terms design's
    GP held, that held fit is kept (its own full fit predicts no better), and its CDPP is
    within 8 % of K2SFF's ``FCOR`` (42.2 ppm on these cadences)."""
    import halfsib
    from halfsib.model import transit_window_mask
    from halfsib.pipeline import fit_target
    from halfsib.precision import cdpp
    from halfsib.regressors import ElcBasis

    files = sorted((shared_data / "k2-c13" / "k2sff").glob("*.fits"))
    stars = [halfsib.read(f) for f in files]
    target = next(s for s in stars if "247589423" in str(s.meta.target_id))
    basis = ElcBasis.build(stars)
    t = np.asarray(target.time, float)
    mask = np.any([transit_window_mask(t, p, t0, 48 * half_width, factor=1.0) for p, t0, half_width in
                   ((7.975, 2989.071, 0.1), (17.307, 2997.026, 0.15), (25.575, 2998.946, 0.15))], axis=0)
    lc, design, fit, choices = fit_target(target, basis=basis, transit_mask=mask,
                                          pointing_breaks=(2997.327, 3032.756))
    chosen = next(c for c in choices if c.chosen)
    assert any(name.startswith("elc") for name in chosen.groups) and chosen.gp_held and fit.gp_held
    own = next(c for c in choices if not c.chosen)
    assert not own.gp_held and chosen.heldout_ppm < own.heldout_ppm / 1.02
    assert cdpp(fit.time, fit.flux, mask=fit.masked) < 1.08 * 42.2


def test_found_transits_are_masked_and_keep_their_depth(rng):
    """``mask_found_transits``: the search finds an injected 3,000-ppm transit in the fitted
    model, its windows are masked and the model refitted, and the corrected flux keeps the
    depth."""
    from halfsib.pipeline import fit_target, mask_found_transits
    from halfsib.search import SearchConfig
    from halfsib.transit import TransitParams, transit_flux

    target, others = _half_siblings(rng, n=1500)
    params = TransitParams(period=4.1, t0=1326.3, rp_over_rs=0.055, a_over_rs=11.0, b=0.2, q1=0.4, q2=0.3)
    shape = transit_flux(target.time, params, 1 / 48, 5)
    target = target.replace(flux=target.flux * shape)
    lc, design, fit, _ = fit_target(target, others=others)
    masked, found = mask_found_transits(lc, design, fit)
    assert any(abs(c.period - 4.1) < 0.02 for c in found), found
    in_transit = shape[lc.good] < 1 - 1e-4
    assert masked.masked[in_transit].all() and not fit.masked.any()

    def depth(result):  # least-squares depth of the known shape in the corrected flux, near the transits
        near = np.abs((result.time - params.t0 + 2.05) % 4.1 - 2.05) < 0.4
        model = shape[lc.good][near] - 1.0
        y = result.flux[near] / np.median(result.flux) - 1.0
        return float(model @ (y - y.mean()) / (model @ (model - model.mean())))

    assert depth(masked) == pytest.approx(1.0, abs=0.03)  # the C13 depth gain: docs/detrend.md
    none, nothing = mask_found_transits(lc, design, fit, config=SearchConfig(min_snr=1e6))
    assert nothing == () and none is fit  # nothing found: the fit itself
