"""The joint transit search: dense exactness, the periodic kernel's twin, truth on simulations, errors."""

from __future__ import annotations

import math
import time as _time

import numpy as np
import pytest

from halfsib.design import DesignMatrix, RegressorGroup
from halfsib.exceptions import ConfigurationError, DataValidationError
from halfsib.gp import StellarKernel
from halfsib.model import DetrendConfig, SystematicsModel, detrend
from halfsib.search import SearchConfig, fitted_likelihood, search
from halfsib.search.periodic import fold, null_reference, period_grid, periodogram, refine_peak, z_without_strongest
from halfsib.search.single import mask_transits
from halfsib.search.results import SingleEventGrid
from halfsib.search.single import box_windows, single_event_grid
from halfsib.timeseries import LightCurve, TargetInfo
from halfsib.transit import TransitParams, transit_duration, transit_flux

from reference import box_templates, dense_covariance, dense_template_stats

CADENCE = 0.0204335  # K2 long cadence [d]
NOISE = 3e-4


def _simulate(rng, n, signal=None, good=None, noise=NOISE, n_reg=6, white=True):
    """K2-like light curve: random-walk regressors, a 3-d sinusoid, white noise, plus ``signal`` (relative)."""
    time = 2000.0 + CADENCE * np.arange(n)
    reg = rng.standard_normal((n, n_reg)).cumsum(axis=0)
    reg = (reg - reg.mean(0)) / reg.std(0)
    rel = reg @ (1e-3 * rng.standard_normal(n_reg) / np.sqrt(n_reg)) + 5e-4 * np.sin(2 * np.pi * (time - time[0]) / 3.0)
    rel = rel + white * noise * rng.standard_normal(n) + (0.0 if signal is None else signal(time))
    good = np.ones(n, bool) if good is None else good
    lc = LightCurve(time=time, quality=np.zeros(n, np.int64), good=good, cadenceno=np.arange(n), time_format="bkjd",
                    meta=TargetInfo(mission="K2", target_id="EPIC 1"), flux=1e5 * (1 + rel),
                    flux_err=np.full(n, 1e5 * noise))
    design = DesignMatrix.from_groups([RegressorGroup("elc", reg[:, :3], 1.0),
                                       RegressorGroup("motion", reg[:, 3:], 1.0)])
    return lc, design


def _box(period, t0, duration_h, depth):
    def signal(t):
        phase = np.mod(t - t0 + 0.5 * period, period) - 0.5 * period
        return np.where(np.abs(phase) < 0.5 * duration_h / 24.0, -depth, 0.0)
    return signal


def _all_finite(obj):
    for name, value in vars(obj).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), name
        elif isinstance(value, float):
            assert math.isfinite(value), name


# --- exactness -------------------------------------------------------------------------------------------

def test_single_event_grid_equals_dense_formula(rng):
    good = np.ones(300, bool)
    good[140:160] = False  # a gap
    lc, design = _simulate(rng, 300, _box(2.0, 2001.0, 2.0, 1e-3), good=good)
    fit = detrend(lc, design, clip_sigma=0)
    ml, excluded = fitted_likelihood(lc, design, fit)
    cfg = SearchConfig(durations=(1.5, 3.0), epoch_step=0.5)
    grid = single_event_grid(ml, fit.time, excluded, cfg, cfg.durations)
    kernel = StellarKernel(fit.config.kernel, fit_jitter=fit.config.fit_jitter)
    params = kernel.pack(**fit.hyperparameters)
    y = fit.raw_flux / fit.normalisation - 1
    var = (fit.raw_flux_err / fit.normalisation) ** 2 + kernel.jitter(params) ** 2
    lam = np.concatenate([np.full(sl.stop - sl.start, fit.prior_variances[g]) for g, sl in design.groups.items()])
    cov = dense_covariance(fit.time, var, kernel.term(params), design.rows(np.flatnonzero(good)), lam)
    for k, d in enumerate(grid.durations):
        starts, stops = box_windows(fit.time, grid.epochs, d)
        ok = grid.valid[k]
        assert ok.sum() > 10 and not ok.all()  # the gap leaves windows without data
        num, info = dense_template_stats(cov, y, box_templates(y.size, starts[ok], stops[ok]))
        np.testing.assert_allclose(grid.numerator[k, ok], -num, rtol=1e-8, atol=1e-8 * np.abs(num).max())
        np.testing.assert_allclose(grid.information[k, ok], info, rtol=1e-8)
        np.testing.assert_allclose(grid.depth[k, ok], -num / info, rtol=1e-8, atol=1e-8 * np.abs(num / info).max())
        np.testing.assert_allclose(grid.delta_loglike[k, ok], 0.5 * num**2 / info, rtol=1e-8, atol=1e-10)
    assert np.all(grid.depth_err[~grid.valid] == 0) and np.all(grid.delta_loglike[~grid.valid] == 0)
    _all_finite(grid)


def _combine_reference(num, info, valid, steps, min_transits, allowed=None):
    """Brute-force twin of ``combine_periods`` (plain loops, (n_durations, n_epochs) arrays).

    ``allowed[p][d]``: whether duration d may be folded at period p (the duty-cycle cap)."""
    n_dur, n_ep = num.shape
    out = []
    for p, step in enumerate(steps):
        best = (-np.inf, 0, 0, 0)
        for d in range(n_dur):
            if allowed is not None and not allowed[p][d]:
                continue
            for j0 in range(min(math.ceil(step), n_ep)):
                idx = [j0 + math.floor(k * step + 0.5) for k in range(n_ep + 1)]
                idx = [i for i in idx if i < n_ep and valid[d, i]]
                s_n, s_i = sum(num[d, i] for i in idx), sum(info[d, i] for i in idx)
                if len(idx) >= min_transits and s_i > 0 and s_n / math.sqrt(s_i) > best[0]:
                    best = (s_n / math.sqrt(s_i), j0, d, len(idx))
        out.append(best if np.isfinite(best[0]) else (0.0, 0, 0, 0))
    return np.array(out)


@pytest.mark.parametrize("min_transits", [1, 2, 3])
def test_periodic_combination_matches_brute_force(rng, min_transits):
    n_dur, n_ep = 3, 80
    valid = rng.random((n_dur, n_ep)) > 0.2
    info = np.where(valid, rng.uniform(0.5, 2.0, (n_dur, n_ep)), 0.0)
    num = np.where(valid, rng.standard_normal((n_dur, n_ep)) * np.sqrt(info), 0.0)
    step = 0.1
    grid = SingleEventGrid(epochs=10 + step * np.arange(n_ep), durations=np.array([1.0, 2.0, 3.0]), depth=num,
                           depth_err=info, delta_loglike=info, valid=valid, numerator=num, information=info,
                           epoch_step_days=step)
    periods = np.sort(rng.uniform(0.35, 5.0, 25))
    pg = periodogram(grid, periods, min_transits, coarsen=False)
    from halfsib.search.periodic import MAX_DUTY_CYCLE

    allowed = [[dur / 24.0 <= MAX_DUTY_CYCLE * period for dur in grid.durations] for period in periods]
    assert not all(all(a) for a in allowed)  # the cap is exercised: 3 h at P < 0.625 d
    ref = _combine_reference(num, info, valid, periods / step, min_transits, allowed)
    np.testing.assert_allclose(pg.power, ref[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(pg.n_transits, ref[:, 3].astype(int))
    has = pg.n_transits > 0
    np.testing.assert_allclose(pg.t0[has], 10 + step * ref[has, 1], atol=1e-12)
    np.testing.assert_allclose(pg.duration[has], grid.durations[ref[has, 2].astype(int)])
    np.testing.assert_allclose(pg.delta_loglike, 0.5 * pg.power**2, rtol=1e-12)
    np.testing.assert_allclose(pg.depth[has] / pg.depth_err[has], pg.power[has], rtol=1e-12)


def test_null_reference_and_z_without_strongest_match_plain_formulas(rng):
    n_ep = 50
    info = rng.uniform(0.5, 2.0, (1, n_ep))
    num = rng.standard_normal((1, n_ep)) * np.sqrt(info)
    valid = np.ones((1, n_ep), bool)
    grid = SingleEventGrid(epochs=0.1 * np.arange(n_ep), durations=np.array([2.0]), depth=num, depth_err=info,
                           delta_loglike=info, valid=valid, numerator=num, information=info, epoch_step_days=0.1)
    pg = periodogram(grid, np.linspace(0.5, 2.0, 40), 2, coarsen=False)
    z = pg.power[pg.n_transits > 0]
    centre, scale = null_reference(pg)
    assert centre == pytest.approx(np.median(z), rel=1e-12)
    assert scale == pytest.approx(1.482602218505602 * np.median(np.abs(z - np.median(z))), rel=1e-12)
    n, i = num[0, :6], info[0, :6]
    k = int(np.argmax(n / np.sqrt(i)))
    rest = [j for j in range(6) if j != k]
    assert z_without_strongest(n, i) == pytest.approx(n[rest].sum() / np.sqrt(i[rest].sum()), rel=1e-12)
    assert z_without_strongest(n[:1], i[:1]) == 0.0


def test_candidate_snr_is_measured_against_the_periodogram_without_its_transits(rng):
    """A deep planet lifts every period that folds one of its transits; its SNR's reference excludes them."""
    signal = _box(9.3, 2003.1, 3.0, 1.5e-3)
    lc, design = _simulate(rng, 2000, signal)
    result = search(lc, design, detrend(lc, design, clip_sigma=0), durations=(3.0,), period_range=(1.0, 20.0),
                    max_planets=1, fit_shape=False, refit_masked=False)
    cand = result.candidates[0]
    assert abs(cand.period - 9.3) < 0.05 and cand.n_transits >= 4
    grid, pg = result.single_events, result.periodograms[0]
    k = np.arange(-10, 10)  # t0 is the middle transit
    masked = mask_transits(grid, cand.t0 + cand.period * k, 1.5 * cand.box_duration + 24 * CADENCE)
    null = periodogram(masked, pg.periods, 2)
    null = null.power[null.n_transits > 0]
    centre, scale = np.median(null), 1.482602218505602 * np.median(np.abs(null - np.median(null)))
    assert cand.snr == pytest.approx((pg.power.max() - centre) / scale, rel=1e-9)
    compressed = (pg.power.max() - np.median(pg.power)) / (1.482602218505602 * np.median(np.abs(pg.power - np.median(pg.power))))
    assert cand.snr > 1.5 * compressed  # the old statistic, against its own signal


# --- truth on simulations --------------------------------------------------------------------------------

def test_single_event_depth_is_unbiased_with_correct_errors(rng):
    n, d_h, depth = 400, 3.0, 5e-4
    lc0, design = _simulate(np.random.default_rng(1), n)
    fit = detrend(lc0, design, clip_sigma=0)  # hyper-parameters from one realisation
    cfg = SearchConfig(durations=(d_h,))
    epoch = 2000.0 + 0.25 * d_h / 24 * 180
    pulls = []
    for seed in range(40):
        lc, _ = _simulate(np.random.default_rng(1), n, white=False)  # same systematics, no noise ...
        noise = NOISE * rng.standard_normal(n)          # ... new white noise and an injected box
        s, e = box_windows(lc.time, np.array([epoch]), d_h)
        box = np.zeros(n)
        box[s[0]:e[0]] = -depth
        lc = lc.replace(flux=lc.flux + 1e5 * (noise + box))
        ml, excluded = fitted_likelihood(lc, design, fit)
        grid = single_event_grid(ml, lc.time, excluded, cfg, cfg.durations)
        j = int(np.argmin(np.abs(grid.epochs - epoch)))
        norm = np.median(lc.flux) / 1e5
        pulls.append((grid.depth[0, j] * norm - depth) / (grid.depth_err[0, j] * norm))
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 3 / np.sqrt(pulls.size)
    assert 0.7 < pulls.std() < 1.3


def test_two_planets_found_in_order_with_truth_inside_errors(rng):
    pb = TransitParams(period=6.13, t0=2003.21, rp_over_rs=0.04, a_over_rs=14.0, b=0.2)
    pc = (3.71, 2001.05, 2.0, 8e-4)  # period, t0, duration [h], depth: a box
    model_b = lambda t: transit_flux(t, pb, exposure_time=CADENCE) - 1  # noqa: E731
    lc, design = _simulate(rng, 2000, lambda t: model_b(t) + _box(*pc)(t))
    fit = detrend(lc, design, clip_sigma=0)
    start = _time.perf_counter()
    result = search(lc, design, fit, period_range=(1.0, 15.0), max_planets=3)
    assert _time.perf_counter() - start < 120  # a sanity bound only
    assert len(result.candidates) >= 2
    b, c = result.candidates[:2]
    for cand, (period, t0) in ((b, (pb.period, pb.t0)), (c, pc[:2])):
        assert abs(cand.period - period) < 3 * cand.period_err + 1e-3
        phase = (cand.t0 - t0 + 0.5 * period) % period - 0.5 * period
        assert abs(phase) < 3 * cand.t0_err + result.single_events.epoch_step_days
        assert cand.n_transits >= 5 and cand.dominant_event_fraction < 0.4
        assert cand.odd_even_sigma < 3.5 and cand.snr > 7
    ml, _ = fitted_likelihood(lc, design, result.nuisance_fit)  # refitted with the candidates masked
    assert result.nuisance_fit is not fit and result.nuisance_fit.masked.sum() > 0
    grid = result.single_events
    norm = np.median(lc.flux) / 1e5
    for cand, signal in ((b, model_b), (c, _box(*pc))):  # box depth: the noiseless signal's own box depth
        idx = np.argmin(np.abs(grid.epochs[None, :] - np.array(cand.transit_times)[:, None]), axis=1)
        starts, stops = box_windows(result.time, grid.epochs[idx], cand.box_duration)
        templates = box_templates(result.time.size, starts, stops)
        cinv_s = ml.apply_inverse(signal(result.time))
        info = ml.project(templates).information
        expected = -1e6 * float(np.sum(templates.T @ cinv_s) / np.sum(info)) * norm
        assert abs(cand.box_depth - expected) < 3 * cand.box_depth_err
    central = 1e6 * (1 - transit_flux(np.array([pb.t0]), pb)[0]) * norm  # the template fit: the true central depth
    assert abs(b.depth - central) < 3 * b.depth_err and b.depth > b.box_depth
    assert abs(b.duration / 24 - transit_duration(pb)) < 0.1 * transit_duration(pb)
    _all_finite(result.single_events)
    for pg in result.periodograms:
        _all_finite(pg)
    for cand in result.candidates:
        _all_finite(cand)
    import matplotlib.pyplot as plt
    plt.close(result.plot())


def test_single_dominant_event_is_flagged(rng):
    lc, design = _simulate(rng, 1200, _box(1e9, 2012.0, 3.0, 3e-3))
    model = SystematicsModel(DetrendConfig(clip_sigma=0)).fit(lc, design)  # a fitted model works as well
    result = search(lc, design, model, durations=(3.0,), period_range=(1.0, 8.0), max_planets=1, min_snr=0,
                    min_snr_without_strongest=-100)
    cand = result.candidates[0]
    assert cand.snr > 10 and cand.snr_without_strongest < cand.snr / 3
    assert cand.dominant_event_fraction > 0.6  # a planet with n transits gives ~1/n
    assert cand.variable_depth_delta_loglike > 10


def test_lone_event_is_masked_and_the_search_goes_on(rng):
    """A lone deep event makes the top peak at long periods (2-3 transits) but fails the
    single-event guard: the search masks it and finds the periodic planet behind it."""
    lone, planet = _box(1e9, 2012.0, 3.0, 3e-3), _box(5.5, 2003.1, 3.0, 8e-4)
    lc, design = _simulate(rng, 1200, lambda t: lone(t) + planet(t))
    fit = detrend(lc, design)
    settings = dict(durations=(3.0,), period_range=(5.0, 12.0), max_planets=1)
    stopped = search(lc, design, fit, max_masked_events=0, **settings)
    assert stopped.candidates == () and stopped.masked_events == ()
    result = search(lc, design, fit, **settings)
    assert len(result.masked_events) == 1 and abs(result.masked_events[0][0] - 2012.0) < 0.1
    assert result.masked_events[0][1] == 3.0
    cand = result.candidates[0]
    assert abs(cand.period - 5.5) < 0.05 and cand.snr_without_strongest >= result.config.min_snr_without_strongest
    assert min(abs(np.asarray(cand.transit_times) - 2012.0)) > 0.5  # the lone event is not one of its transits
    assert len(result.periodograms) == 2  # the peak on the lone event, then the planet's
    from halfsib.report import search_candidate_table
    meta = search_candidate_table(fit, result).meta["masked_lone_events"]
    assert meta == [{"time": round(result.masked_events[0][0], 5), "duration_h": 3.0}]


def test_a_lone_event_becomes_a_single_event_candidate_beside_the_planet(rng):
    """The lone event masked from the periodic search is reported as a single event (period
    unknown, bounded by the data), strongest first; pure noise gives none at the default S/N."""
    lone, planet = _box(1e9, 2012.0, 3.0, 3e-3), _box(5.5, 2003.1, 3.0, 8e-4)
    lc, design = _simulate(rng, 1200, lambda t: lone(t) + planet(t))
    fit = detrend(lc, design)
    result = search(lc, design, fit, durations=(3.0,), period_range=(5.0, 12.0), max_planets=1)
    assert len(result.candidates) == 1 and not result.candidates[0].single
    singles = result.single_candidates
    assert len(singles) == 1, [(c.t0, c.snr) for c in singles]
    event = singles[0]
    assert event.single and event.n_transits == 1 and math.isinf(event.period) and event.transit_times == (event.t0,)
    assert abs(event.t0 - 2012.0) < 0.05 and event.snr >= result.config.single_min_snr
    assert abs(event.depth - 3000) < 5 * event.depth_err
    assert event.period_min == pytest.approx(max(lc.time[-1] - event.t0, event.t0 - lc.time[0]) + 1.5 / 24)
    assert result.all_candidates == result.candidates + singles
    from halfsib.report import search_candidate_table
    table = search_candidate_table(fit, result)
    assert list(table["single_event"]) == [False, True] and table["period"].mask.tolist() == [False, True]
    assert table["period_min"].mask.tolist() == [True, False]
    assert search(lc, design, fit, durations=(3.0,), period_range=(5.0, 12.0), max_planets=1,
                  max_single_events=0).single_candidates == ()
    quiet, quiet_design = _simulate(rng, 1200)
    assert search(quiet, quiet_design, detrend(quiet, quiet_design), durations=(3.0,),
                  period_range=(5.0, 12.0)).single_candidates == ()


def test_strongest_event_is_the_transit_with_the_largest_single_event_z(rng):
    lc, design = _simulate(rng, 800, _box(4.0, 2002.0, 3.0, 5e-4))
    flux = lc.flux.copy()
    flux[np.abs(lc.time - 2010.0) < 1.5 / 24] *= 1 - 3e-3  # the third transit much deeper
    lc = lc.replace(flux=flux)
    result = search(lc, design, detrend(lc, design), durations=(3.0,), period_range=(3.0, 6.0), max_planets=1,
                    min_snr=0, min_snr_without_strongest=-100)
    from halfsib.search.periodic import strongest_event
    assert abs(strongest_event(result.single_events, result.candidates[0]) - 2010.0) < 0.05


def test_halfsib_search_is_callable_whatever_was_imported_first(rng, monkeypatch):
    """``from halfsib.search import SearchConfig`` binds the subpackage on ``halfsib``: still a function."""
    import sys

    import halfsib

    monkeypatch.setattr(halfsib, "search", sys.modules["halfsib.search"])  # what importing the subpackage does
    lc, design = _simulate(rng, 600)
    result = halfsib.search(lc, design, detrend(lc, design), durations=(3.0,), period_range=(1.0, 4.0), max_planets=1)
    assert isinstance(result, halfsib.SearchResult)
    assert halfsib.search.SearchConfig is SearchConfig  # the subpackage's names stay reachable


def test_no_signal_gives_finite_outputs_with_gaps_and_outliers(rng):
    good = np.ones(1000, bool)
    good[300:420] = False
    lc, design = _simulate(rng, 1000, good=good)
    flux = lc.flux.copy()
    flux[[50, 600, 700]] *= 1.02  # outliers, clipped by the fit
    lc = lc.replace(flux=flux)
    fit = detrend(lc, design)
    assert fit.clipped.any()
    result = search(lc, design, fit, durations=(2.0, 4.0), period_range=(1.0, 8.0))
    _all_finite(result.single_events)
    for pg in result.periodograms:
        _all_finite(pg)
    assert all(c.snr >= result.config.min_snr for c in result.candidates)


def test_masked_refit_skipped_when_the_windows_cover_most_cadences(rng, caplog):
    """Long boxes at short periods: after a few candidates their windows would mask most of the
    light curve; no refit then, a warning, no error."""
    lc, design = _simulate(rng, 600)
    fit = detrend(lc, design)
    with caplog.at_level("WARNING", logger="halfsib.search"):
        result = search(lc, design, fit, durations=(4.5,), period_range=(0.95, 1.2), max_planets=3, min_snr=0,
                        min_snr_without_strongest=-100)
    assert len(result.candidates) >= 2
    assert "not refitting the nuisance model" in caplog.text
    _all_finite(result.single_events)


# --- configuration and bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("settings, word", [
    (dict(durations=(-1.0,)), "durations"), (dict(epoch_step=0.0), "epoch_step"),
    (dict(period_range=(2.0, 1.0)), "period_range"), (dict(oversampling=0.5), "oversampling"),
    (dict(min_transits=0), "min_transits"), (dict(min_coverage=0), "min_coverage"),
    (dict(memory_limit_gb=0), "memory_limit_gb"), (dict(min_snr=float("nan")), "min_snr"),
    (dict(max_masked_events=-1), "max_masked_events"),
])
def test_config_validation_names_the_setting(settings, word):
    with pytest.raises(ConfigurationError, match=word):
        SearchConfig(**settings)


def test_mission_defaults():
    assert SearchConfig().resolved_durations("TESS")[0] == 0.5
    assert SearchConfig().resolved_durations("K2")[0] == 1.0
    assert SearchConfig(durations=(3, 1)).durations == (1.0, 3.0)


def test_bad_input_errors_name_the_setting(rng):
    good = np.ones(600, bool)
    good[np.arange(600) % 100 >= 30] = False  # 0.6-d segments, 1.4-d gaps
    lc, design = _simulate(rng, 600, good=good)
    fit = detrend(lc, design, clip_sigma=0)
    with pytest.raises(ConfigurationError, match="period_range"):
        search(lc, design, fit, period_range=(50.0, None))
    with pytest.raises(ConfigurationError, match="period_range"):
        search(lc, design, fit, period_range=(1.0, 100.0))
    with pytest.raises(ConfigurationError, match="durations"):
        search(lc, design, fit, durations=(30.0,), period_range=(1.0, 5.0))
    with pytest.raises(ConfigurationError, match="memory_limit_gb"):
        search(lc, design, fit, memory_limit_gb=1e-6)
    with pytest.raises(ConfigurationError, match="unknown search settings"):
        search(lc, design, fit, durration=(1.0,))
    few = lc.replace(good=np.arange(600) < 30)
    with pytest.raises(DataValidationError, match="good cadences"):
        search(few, design, fit)
    other, design2 = _simulate(rng, 500)
    with pytest.raises(DataValidationError):
        search(other, design2, fit)


def test_period_grid_spacing_keeps_transits():
    cfg = SearchConfig(period_range=(1.0, 20.0), oversampling=3.0)
    periods = period_grid(80.0, 1.0, cfg)
    shift = 80.0 * periods[:-1] * np.diff(1 / periods[::-1])[::-1]
    assert periods[0] == pytest.approx(1.0) and periods[-1] == pytest.approx(20.0)
    assert np.all(np.abs(shift) <= 1.0 / 24 / 3 * (1 + 1e-9))


# --- coarsened fold, template refinement -------------------------------------------------------------------

def test_coarsened_periodogram_keeps_an_injected_signal(rng):
    """Strided epochs/periods per duration lose little of a periodic signal's z (the no-miss guarantee)."""
    step, n_ep = 0.25 / 24, 6000
    durations = np.array([1.0, 2.0, 4.5, 9.0])
    info = np.ones((durations.size, n_ep))
    num = rng.standard_normal(info.shape)
    period, j0 = 7.31, 123
    for k in range(30):
        c = j0 + k * period / step
        for d, dur in enumerate(durations):  # a 4.5-h box-shaped signal seen by every box width
            overlap = np.clip(np.minimum(np.arange(n_ep) + 0.5 * dur / 0.25, c + 9) -
                              np.maximum(np.arange(n_ep) - 0.5 * dur / 0.25, c - 9), 0, None)
            num[d] += 6.0 * overlap / np.sqrt(dur / 0.25 * 18)
    valid = np.ones(info.shape, bool)
    grid = SingleEventGrid(epochs=step * np.arange(n_ep), durations=durations, depth=num, depth_err=info,
                           delta_loglike=info, valid=valid, numerator=num, information=info, epoch_step_days=step)
    periods = period_grid(n_ep * step, 1.0, SearchConfig(period_range=(2.0, 20.0)))
    fine = periodogram(grid, periods, 2, coarsen=False)
    coarse = periodogram(grid, periods, 2)
    assert coarse.power.max() <= fine.power.max() + 1e-9  # folded periods and phases are a subset
    i = int(np.argmin(np.abs(periods - period)))
    near = slice(i - 3, i + 4)
    assert coarse.power[near].max() > 0.75 * fine.power[near].max()  # worst case: ⅛ D off in phase, D/2q in period
    best = int(np.argmax(coarse.power))
    assert abs(periods[best] - period) < 0.01
    index, phase, d = refine_peak(grid, coarse, best, 2)  # the full-resolution fold near the coarse peak
    z, ph, _, _, _ = fold(grid, d, periods[index:index + 1], 2)
    assert z[0] == pytest.approx(fine.power[near].max(), rel=1e-12) and ph[0] == phase


def test_transit_template_shape_and_refined_depth(rng):
    from halfsib.search.refine import LIMB_DARKENING, fit_transit_shape, transit_template

    p = TransitParams(period=3.3, t0=2002.1, rp_over_rs=0.05, a_over_rs=11.0, b=0.3, q1=LIMB_DARKENING[0],
                      q2=LIMB_DARKENING[1])
    t14 = transit_duration(p)
    tau = transit_template(np.array([p.t0, p.t0 + 0.5 * t14 + 1e-3]), p.period, p.t0, t14, p.b, p.rp_over_rs, None)
    assert tau[0] == pytest.approx(1.0) and tau[1] == 0.0
    assert transit_template(np.zeros(3), 3.3, 0.0, 2.0, 0.3, 0.05, None) is None  # T14 > P/2: impossible
    lc, design = _simulate(rng, 1500, lambda t: transit_flux(t, p, exposure_time=CADENCE) - 1)
    fit = detrend(lc, design, clip_sigma=0)
    ml, _ = fitted_likelihood(lc, design, fit)
    shape = fit_transit_shape(ml, fit.time, period=3.31, t0=p.t0 + 0.01, duration_h=2.0, depth=1.5e-3,
                              n_transits=9, cadence=CADENCE)
    central = (1 - transit_flux(np.array([p.t0]), p)[0]) * np.median(lc.flux) / 1e5
    assert abs(shape.depth - central) < 3 * shape.depth_err + 0.03 * central
    assert abs(shape.period - p.period) < 3 * shape.period_err and abs(shape.t0 - p.t0) < 3 * shape.t0_err
    assert abs(shape.t14 - t14) < 0.35 * t14  # T14 trades with b at 30-min cadence; the depth does not
    # the statistics are those of the dense formula for the fitted template
    tau = transit_template(fit.time, shape.period, shape.t0, shape.t14, shape.impact, shape.rp_over_rs, CADENCE)
    kernel = StellarKernel(fit.config.kernel, fit_jitter=fit.config.fit_jitter)
    params = kernel.pack(**fit.hyperparameters)
    var = (fit.raw_flux_err / fit.normalisation) ** 2 + kernel.jitter(params) ** 2
    lam = np.concatenate([np.full(sl.stop - sl.start, fit.prior_variances[g]) for g, sl in design.groups.items()])
    cov = dense_covariance(fit.time, var, kernel.term(params), design.rows(np.arange(fit.time.size)), lam)
    num, info = dense_template_stats(cov, fit.raw_flux / fit.normalisation - 1, tau[:, None])
    assert shape.depth == pytest.approx(-num[0] / info[0], rel=1e-8)
    assert shape.delta_loglike == pytest.approx(0.5 * num[0] ** 2 / info[0], rel=1e-8)


# --- the simulator: several planets, shallow and long-period ones, an eclipsing binary ----------------------

@pytest.fixture(scope="module")
def quiet_campaign(tmp_path_factory):
    """A simulated K2 patch without planets or EBs (signals are injected per test), read back from files."""
    import halfsib
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    out = tmp_path_factory.mktemp("k2sim")
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=8, seed=5, planet_fraction=0.0, eb_fraction=0.0,
                                              rotation_fraction=0.5, mag_range=(11.0, 12.5)))
    write_campaign(camp, out, pixels=False, progress=False)
    from astropy.table import Table

    truth = Table.read(out / "truth.ecsv")
    return [halfsib.read(out / f) for f in truth["lc_file"]], truth


def _inject(lc, model):
    """Multiply the raw flux by a relative model (the star's light dims; the instrument stays)."""
    return lc.replace(flux=lc.flux * model(lc.time))


def _ephemeris_ok(cand, period, t0, step):
    phase = (cand.t0 - t0 + 0.5 * period) % period - 0.5 * period
    return abs(cand.period - period) < 3 * cand.period_err + 2e-4 and abs(phase) < 3 * cand.t0_err + step


@pytest.mark.slow
def test_simulated_three_planets_shallow_and_long_period(quiet_campaign):
    from halfsib.pipeline import prepare_target

    lcs, truth = quiet_campaign
    t_start = float(lcs[5].time[np.isfinite(lcs[5].time)][0])
    planets = [TransitParams(4.37, t_start + 1.3, 0.045, 12.0, 0.2),     # deep (~2,400 ppm, 17 transits)
               TransitParams(13.1, t_start + 5.2, 0.04, 25.0, 0.4),      # shallower: robust SNR ≈ 6 here
               TransitParams(31.7, t_start + 17.0, 0.06, 45.0, 0.1)]     # long period: 2 transits
    target = _inject(lcs[5], lambda t: np.prod([np.where(np.isfinite(t), transit_flux(
        np.nan_to_num(t), p, exposure_time=CADENCE), 1.0) for p in planets], axis=0))
    lc, design = prepare_target(target, others=lcs)
    fit = detrend(lc, design)
    # the long-period planet's weaker transit is 2.7 without its stronger one: below the default
    # guard of 4 against single-event peaks (docs/transit_search.md), which costs such two-transit planets
    result = search(lc, design, fit, max_planets=5, min_snr=5.0, min_snr_without_strongest=2.0)
    dilution = 1 - float(truth["contamination"][5])
    step = result.single_events.epoch_step_days
    for p in planets:
        match = [c for c in result.candidates if _ephemeris_ok(c, p.period, p.t0, step)]
        assert match, f"P={p.period} d not found: {result}"
        cand = match[0]
        central = 1e6 * (1 - transit_flux(np.array([p.t0]), p)[0]) * dilution
        assert abs(cand.depth - central) < 3 * cand.depth_err + 0.05 * central, (p.period, cand.depth, central)
        assert cand.dominant_event_fraction < 0.75 and cand.odd_even_sigma < 3.5
    for cand in result.candidates:
        _all_finite(cand)


@pytest.mark.slow
def test_simulated_eclipsing_binary_is_flagged(quiet_campaign):
    from halfsib.pipeline import prepare_target
    from halfsib.simulate.astrophysics import eb_flux

    lcs, _ = quiet_campaign
    t_start = float(lcs[2].time[np.isfinite(lcs[2].time)][0])
    eb = TransitParams(3.9, t_start + 0.7, 0.3, 9.0, 0.3)
    target = _inject(lcs[2], lambda t: np.where(np.isfinite(t), eb_flux(np.nan_to_num(t), eb, 0.4, CADENCE), 1.0))
    lc, design = prepare_target(target, others=lcs)
    result = search(lc, design, detrend(lc, design), max_planets=1)
    cand = result.candidates[0]
    alias = [r for r in (0.5, 1.0, 2.0) if abs(cand.period / (r * eb.period) - 1) < 0.01]
    assert alias, result.candidates
    # at P/2 primaries and secondaries alternate (odd/even); at P (or 2P) phase ½ holds the secondary (primary)
    assert cand.odd_even_sigma > 5 if alias[0] == 0.5 else cand.secondary_snr > 5


@pytest.mark.slow
def test_real_k2_3_planets_b_and_c_from_raw_flux(shared_data):
    """K2-3 (EPIC 201367065, C1 FRAW, the EVEREST C1 basis as regressors): b and c, depths near the literature."""
    from halfsib.pipeline import prepare_target

    folder = shared_data / "k2-c1"
    lc, design = prepare_target(folder / "hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits",
                                cbv=folder / "everest_c01_cbv_basis.txt")
    result = search(lc, design, detrend(lc, design), max_planets=3, min_snr=5.0)
    for period, depth in ((10.054, 1200.0), (24.647, 880.0)):  # MANIFEST.md: b ≈ 1,200 ppm, c ≈ 880 ppm
        match = [c for c in result.candidates if abs(c.period - period) < 0.01]
        assert match, (period, result)
        assert 0.6 * depth < match[0].depth < 1.6 * depth
        assert match[0].odd_even_sigma < 4 and abs(match[0].secondary_snr) < 4


def test_the_candidate_table_carries_units(rng):
    """Durations are hours, periods days, depths ppm: a QTable says so (lightkurve wants days)."""
    import astropy.units as u

    lc, design = _simulate(rng, 1200, _box(5.5, 2003.1, 3.0, 1.5e-3))
    result = search(lc, design, detrend(lc, design), durations=(3.0,), period_range=(4.0, 8.0), max_planets=1)
    table = result.to_table()
    cand = result.candidates[0]
    assert table["duration"].unit == u.hour and table["period"].unit == u.day
    assert table["duration"][0].to_value(u.day) == pytest.approx(cand.duration / 24.0)
    assert table["depth"][0].to_value(u.dimensionless_unscaled) == pytest.approx(cand.depth * 1e-6)
    assert list(table["rank"]) == list(range(1, len(result.all_candidates) + 1))
