"""Pointing breaks: the restarted motion response, the steps, and the likelihood search."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from halfsib.breaks import BreakSearch, break_columns, break_gain, candidate_breaks, find_motion_breaks, shared_breaks
from halfsib.exceptions import ConfigurationError
from halfsib.gp import StellarKernel
from halfsib.likelihood import MarginalLikelihood
from halfsib.model import detrend
from halfsib.pipeline import find_campaign_breaks, fit_target
from halfsib.regressors import (
    RegressorConfig, break_segments, build_design, motion_regressors, motion_response, step_regressors,
)
from halfsib.timeseries import LightCurve, TargetInfo

DT = 0.0204  # days, K2 long cadence
SMALL = dict(n_elc=0, motion_windows=8, motion_splines=6, spline_spacing=0.0)


def k2_star(rng, *, break_at: float | None, n: int = 2000) -> tuple[LightCurve, np.ndarray]:
    """A K2-like star: a 6-h roll sawtooth (the cadence at each thruster firing missing), a
    response to it that changes abruptly at ``break_at`` (with a 0.5 % drop at the reference
    position), a slow stellar signal and white noise. Returns the light curve and the truth
    (the star, relative)."""
    t = 2000.0 + np.arange(n) * DT
    phase = ((t - t[0]) / 0.245) % 1.0
    s = phase + 0.05 * np.sin(2 * np.pi * (t - t[0]) / 9.0)
    good = np.r_[True, np.diff(phase) > 0]  # the firing cadence of each cycle is lost
    response = -0.01 * (s - 0.5) ** 2
    if break_at is not None:
        after = t > break_at
        response[after] = -0.02 * (s[after] - 0.2) ** 2 - 0.005
    star = 0.003 * np.sin(2 * np.pi * (t - t[0]) / 7.0)
    flux = 1e4 * (1 + star) * (1 + response) + rng.normal(0, 1.0, n)
    meta = TargetInfo(mission="K2", target_id="EPIC 1", campaign=13, source="<memory EPIC 1>")
    lc = LightCurve(time=t, quality=np.zeros(n, np.int64), good=good, cadenceno=np.arange(n), time_format="bkjd",
                    meta=meta, columns={"arclength": s}, flux=flux, flux_err=np.full(n, 1.0))
    return lc, star


def test_break_gain_is_the_difference_of_two_likelihoods(rng):
    """The rank-k update equals ln L with the columns added (prior λ) minus ln L without."""
    n = 300
    t = np.sort(rng.uniform(0, 10, n))
    design = rng.normal(size=(n, 4))
    y = design @ rng.normal(0, 0.3, 4) + np.sin(t) + rng.normal(0, 0.2, n)
    variance = np.full(n, 0.04)
    kernel = StellarKernel("sho", fit_jitter=False)
    gp = kernel.pack(sigma=0.5, rho=3.0)
    groups = {"a": slice(0, 2), "b": slice(2, 4)}
    prior = {"a": 0.5, "b": 0.1}
    base = MarginalLikelihood.from_stellar_kernel(kernel, gp, t, y, variance, design=design, prior_variance=prior,
                                                  groups=groups)
    extra = break_columns(t, rng.normal(size=(n, 2)), 5.0)
    for lam in (1e-3, 0.2, 5.0):
        full = MarginalLikelihood.from_stellar_kernel(
            kernel, gp, t, y, variance, design=np.hstack([design, extra]), prior_variance={**prior, "c": lam},
            groups={**groups, "c": slice(4, 7)})
        gain, chosen = break_gain(base, extra, [lam])
        assert chosen == lam
        assert gain == pytest.approx(full.log_likelihood() - base.log_likelihood(), abs=1e-8)
    best, lam = break_gain(base, extra, [1e-3, 0.2, 5.0])
    assert best == max(break_gain(base, extra, [x])[0] for x in (1e-3, 0.2, 5.0))


def test_break_columns_are_a_step_and_the_terms_after_it():
    t = np.arange(10.0)
    terms = np.column_stack([t, t**2])
    cols = break_columns(t, terms, 4.5)
    assert cols.shape == (10, 3)
    assert np.all(cols[:5] == 0) and np.all(cols[5:, 0] > 0)
    np.testing.assert_allclose(np.sqrt(np.mean(cols**2, axis=0)), 1.0)
    np.testing.assert_allclose(cols[5:, 1] / cols[5:, 0], t[5:] * cols[5, 1] / (cols[5, 0] * t[5]))


def test_candidates_are_the_gaps_away_from_the_ends():
    t = np.concatenate([np.arange(0, 3, 0.02), np.arange(3.1, 6, 0.02), np.arange(6.05, 9, 0.02)])
    cands = candidate_breaks(t, min_separation=1.0)
    np.testing.assert_allclose(cands, [0.5 * (t[149] + t[150]), 0.5 * (t[294] + t[295])], atol=1e-9)
    assert candidate_breaks(t, min_separation=3.5).size == 0
    assert candidate_breaks(np.arange(2.0)).size == 0


def test_motion_response_restarts_at_breaks(rng):
    lc, _ = k2_star(rng, break_at=None)
    plain = motion_regressors(lc, basis="spline", n_splines=6, n_windows=8, modulation="splines")
    same = motion_regressors(lc, basis="spline", n_splines=6, n_windows=8, modulation="splines", breaks=())
    np.testing.assert_array_equal(plain.columns, same.columns)
    at = 2015.01
    split = motion_regressors(lc, basis="spline", n_splines=6, n_windows=8, modulation="splines", breaks=(at,))
    before, after = lc.time < at, lc.time > at

    def varies(cols, rows):  # columns are centred (the model fits the mean): a zero part is a constant one
        return np.ptp(cols[rows & lc.good], axis=0) > 1e-12

    used_before, used_after = varies(split.columns, before), varies(split.columns, after)
    assert used_before.any() and used_after.any() and not np.any(used_before & used_after)
    assert "restarted at 1 break" in split.description
    windows = motion_regressors(lc, basis="spline", n_splines=6, n_windows=4, modulation="windows", breaks=(at,))
    assert not np.any(varies(windows.columns, before) & varies(windows.columns, after))
    none = motion_regressors(lc, basis="spline", n_splines=6, modulation="none", breaks=(at,))
    assert none.n_columns == 2 * 5
    assert break_segments(lc.time, lc.good, (at, 1e9)) == [
        (float(lc.time[lc.good][0]), float(lc.time[lc.good & before][-1])),
        (float(lc.time[lc.good & after][0]), float(lc.time[lc.good][-1]))]


def test_steps_and_the_design_with_breaks(rng):
    lc, _ = k2_star(rng, break_at=None)
    steps = step_regressors(lc.time, lc.good, lc.flux, (2010.0, 2020.0))
    assert steps.n_columns == 2 and steps.column_names == ("motion_steps_2010.000", "motion_steps_2020.000")
    with pytest.raises(ConfigurationError, match="no break inside"):
        step_regressors(lc.time, lc.good, lc.flux, (1000.0,))
    design = build_design(lc, config=RegressorConfig(**SMALL, motion_breaks=(2020.0, 2010.0)))
    assert set(design.groups) == {"motion", "motion_steps"}
    assert motion_response(lc, RegressorConfig(**SMALL)).shape == (lc.n_cadences, 5)
    with pytest.raises(ConfigurationError, match="motion_breaks"):
        RegressorConfig(motion_breaks=(np.nan,))
    with pytest.raises(ConfigurationError, match="find_breaks"):
        RegressorConfig(find_breaks="yes")
    assert RegressorConfig(motion_breaks=[3.0, 1.0]).motion_breaks == (1.0, 3.0)
    assert RegressorConfig().resolved("K2").find_breaks and not RegressorConfig().resolved("TESS").find_breaks


def test_the_search_finds_a_break_and_nothing_without_one(rng):
    at = 2021.3
    lc, _ = k2_star(rng, break_at=at)
    config = RegressorConfig(**SMALL, find_breaks=False)
    design = build_design(lc, config=config)
    found = find_motion_breaks(lc, design, detrend(lc, design), motion_response(lc, config))
    assert len(found.times) >= 1 and min(abs(b - at) for b in found.times) < 0.25, found
    assert found.n_candidates > 100 and all(g >= 25 for g in found.gains)
    calm, _ = k2_star(np.random.default_rng(7), break_at=None)
    design = build_design(calm, config=config)
    assert find_motion_breaks(calm, design, detrend(calm, design), motion_response(calm, config)).times == ()


def test_fit_target_restarts_the_response_at_found_breaks(rng):
    lc, star = k2_star(rng, break_at=2021.3)
    _, _, without, _ = fit_target(lc, regressors=RegressorConfig(**SMALL, find_breaks=False))
    _, design, fit, choices = fit_target(lc, regressors=RegressorConfig(**SMALL))
    breaks = choices[0].settings["motion_breaks"]
    assert any(abs(b - 2021.3) < 0.25 for b in breaks) and "motion_steps" in design.groups
    assert choices[0].breaks_from == "searched"
    assert fit.log_likelihood > without.log_likelihood + 25

    def error(result):  # corrected flux against the star, a constant level removed
        diff = result.flux / np.median(result.flux) - 1 - star[result.cadenceno]
        return float(np.std(diff - np.median(diff)))

    assert error(fit) < 0.5 * error(without)


def test_one_rule_says_whether_breaks_are_searched():
    """K2 searches (or takes a campaign's), TESS and Kepler do not; a config that names its own
    breaks, switches the search off or has no motion terms does not."""
    assert RegressorConfig().searches_breaks("K2")
    assert not RegressorConfig().searches_breaks("TESS") and not RegressorConfig().searches_breaks("Kepler")
    assert RegressorConfig(find_breaks=True).searches_breaks("TESS")
    for off in (dict(find_breaks=False), dict(motion_breaks=(5.0,)), dict(motion=False)):
        assert not RegressorConfig(**off).searches_breaks("K2"), off


def test_shared_breaks_are_those_most_stars_found():
    """Times within the tolerance are one event, each star counted once, at the median of its
    times; a star's lone break is not shared."""
    searches = [BreakSearch((2997.33, 3032.76), (40.0, 90.0), 200), BreakSearch((2997.33,), (30.0,), 200),
                BreakSearch((2997.28, 3032.76), (26.0, 50.0), 200), BreakSearch((), (), 200),
                BreakSearch((2990.03,), (27.0,), 200)]
    assert shared_breaks(searches) == (2997.33, 3032.76)  # 3 and 2 of 5 stars (median); 2990.03 only 1
    assert shared_breaks(searches, min_fraction=0.5) == (2997.33,)
    assert shared_breaks(searches, tolerance=0.01, min_fraction=0.5) == ()  # 2997.28 is its own event
    assert shared_breaks([BreakSearch((5.0, 5.2), (30.0, 30.0), 9)], min_fraction=1.0) == (5.1,)  # one star once
    assert shared_breaks([]) == ()
    for bad in (dict(min_fraction=0.0), dict(min_fraction=1.5), dict(tolerance=0.0)):
        with pytest.raises(ConfigurationError):
            shared_breaks(searches, **bad)


def test_campaign_breaks_are_found_once_and_replace_the_per_target_search(rng, monkeypatch, tmp_path):
    """Three stars with the same pointing break: the campaign's break is found from them; a
    target given it (or a basis carrying it) is built with it and searches nothing; ``()``
    switches both off."""
    import halfsib.breaks
    from halfsib.regressors import ElcBasis

    at = 2021.3
    stars = [k2_star(np.random.default_rng(seed), break_at=at)[0] for seed in (1, 2, 3)]
    found = find_campaign_breaks(stars, n_stars=3)
    assert len(found.searches) == 3 and found.skipped == ()
    assert len(found.times) == 1 and abs(found.times[0] - at) < 0.25, found

    def no_search(*args, **kwargs):
        raise AssertionError("a target searched its own breaks although the campaign's were given")

    monkeypatch.setattr(halfsib.breaks, "find_motion_breaks", no_search)
    _, design, _, choices = fit_target(stars[0], regressors=RegressorConfig(**SMALL), pointing_breaks=found.times)
    assert choices[0].settings["motion_breaks"] == found.times and "motion_steps" in design.groups
    assert choices[0].breaks_from == "given"
    _, design, _, choices = fit_target(stars[0], regressors=RegressorConfig(**SMALL), pointing_breaks=())
    assert "motion_steps" not in design.groups and choices[0].settings == {}
    others = [k2_star(np.random.default_rng(seed), break_at=at)[0] for seed in (4, 5)]
    others = [o.replace(meta=dataclasses.replace(o.meta, target_id=f"EPIC {i}", source=f"<memory EPIC {i}>"))
              for i, o in zip((4, 5), others)]
    basis = ElcBasis.build(others, n_components=1, n_folds=1)
    assert basis.pointing_breaks is None
    basis.pointing_breaks = found.times
    basis.save(tmp_path / "basis.fits")
    loaded = ElcBasis.load(tmp_path / "basis.fits")
    assert loaded.pointing_breaks == found.times
    _, _, _, choices = fit_target(stars[0], basis=loaded, regressors=RegressorConfig(**{**SMALL, "n_elc": 1}))
    assert choices[0].settings["motion_breaks"] == found.times and choices[0].breaks_from == "basis"
    off = RegressorConfig(**{**SMALL, "n_elc": 1}, find_breaks=False)  # switched off: none from the basis either
    assert fit_target(stars[0], basis=loaded, regressors=off)[3][0].settings == {}


def test_campaign_breaks_name_the_stars_that_could_not_be_searched(rng, tmp_path):
    """An unreadable file is skipped with its reason; with no star searched the error says so."""
    from halfsib.exceptions import DataValidationError

    star, _ = k2_star(rng, break_at=None, n=600)
    found = find_campaign_breaks([tmp_path / "missing.fits", star], n_stars=2)
    assert len(found.searches) == 1 and len(found.skipped) == 1 and "missing.fits" in found.skipped[0]
    with pytest.raises(DataValidationError, match="no star could be searched"):
        find_campaign_breaks([tmp_path / "missing.fits"])
    with pytest.raises(ConfigurationError, match="n_stars"):
        find_campaign_breaks([star], n_stars=0)


@pytest.mark.shared_data
def test_real_k2_star_gets_the_c13_break_and_the_console_says_so(shared_data, tmp_path, capsys):
    """EPIC 210491860 (C13 K2SFF): the roll pattern changes at 2997.3 BKJD; found, and
    `halfsib detrend` prints it and writes it into the provenance."""
    from astropy.io import fits

    from halfsib.cli import main

    path = next((shared_data / "k2-c13" / "k2sff").glob("*210491860*.fits"))
    out = tmp_path / "d.fits"
    assert main(["detrend", str(path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if "pointing breaks" in x)
    assert "found on this star" in line
    times = [float(v) for v in line.split(":")[1].replace("d", "").split(",")]
    assert any(abs(v - 2997.33) < 0.05 for v in times), line
    import json

    written = json.loads(fits.getheader(out, 0)["HSCONFIG"])["pointing_breaks"]
    assert any(abs(float(v) - 2997.33) < 0.05 for v in written.split(",")), written
