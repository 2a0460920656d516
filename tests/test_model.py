"""The systematics model: hyper-parameter fit, exclusions, hold-out, leakage — against dense twins and truth."""

from __future__ import annotations

import numpy as np
import pytest

import halfsib
from halfsib.design import DesignMatrix, RegressorGroup
from halfsib.gp import StellarKernel
from halfsib.model import DetrendConfig, SystematicsModel, detrend, transit_window_mask
from halfsib.timeseries import LightCurve, TargetInfo

from reference import dense_covariance, dense_gp_covariance, dense_log_likelihood

CADENCE = 0.0204335  # K2 long cadence [d]


def _light_curve(rng, n=400, n_reg=6, depth=0.0, transit=None, noise=3e-4, amp=1e-3):
    time = 2000.0 + CADENCE * np.arange(n)
    regressors = rng.standard_normal((n, n_reg)).cumsum(axis=0)
    regressors = (regressors - regressors.mean(0)) / regressors.std(0)
    systematics = regressors @ (amp * rng.standard_normal(n_reg) / np.sqrt(n_reg))
    stellar = 5e-4 * np.sin(2 * np.pi * (time - time[0]) / 3.0)
    box = np.zeros(n)
    if transit is not None:
        box[transit] = -depth
    rel = systematics + stellar + box + noise * rng.standard_normal(n)
    lc = LightCurve(time=time, quality=np.zeros(n, np.int64), good=np.ones(n, bool), cadenceno=np.arange(n),
                    time_format="bkjd", meta=TargetInfo(mission="K2", target_id="EPIC 1"),
                    flux=1e5 * (1 + rel), flux_err=np.full(n, 1e5 * noise))
    design = DesignMatrix.from_groups([RegressorGroup("elc", regressors[:, :3], 1.0),
                                       RegressorGroup("motion", regressors[:, 3:], 1.0)])
    return lc, design, dict(systematics=systematics, stellar=stellar, box=box)


def _dense_from_result(result, lc, design, exclude):
    """Dense C on the fitted cadences, with the result's hyper-parameters."""
    kernel = StellarKernel(result.config.kernel, fit_jitter=result.config.fit_jitter)
    params = kernel.pack(**result.hyperparameters)
    keep = ~exclude
    t = result.time
    y = result.raw_flux / result.normalisation - 1
    var = (result.raw_flux_err / result.normalisation) ** 2 + kernel.jitter(params) ** 2
    lam = np.concatenate([np.full(sl.stop - sl.start, result.prior_variances[name])
                          for name, sl in design.groups.items()])
    return kernel.term(params), t, y, var, design.matrix, lam, keep


def test_log_likelihood_and_masked_predictions_match_dense_conditioning(rng):
    lc, design, _ = _light_curve(rng)
    mask = transit_window_mask(lc.time, np.inf, lc.time[200], duration=3.0)
    result = detrend(lc, design, transit_mask=mask, clip_sigma=0)
    term, t, y, var, a, lam, keep = _dense_from_result(result, lc, design, mask)
    cov = dense_covariance(t[keep], var[keep], term, a[keep], lam)
    assert result.log_likelihood == pytest.approx(dense_log_likelihood(y[keep], cov), rel=1e-8)
    alpha = np.linalg.solve(cov, y[keep])
    weights = (a[keep] * lam).T @ alpha
    np.testing.assert_allclose(result.systematics, a @ weights, rtol=0, atol=1e-8)
    k_cross = term.get_value(t[:, None] - t[keep][None, :])
    np.testing.assert_allclose(result.stellar, k_cross @ alpha, rtol=0, atol=1e-8)
    assert result.masked.sum() == mask.sum()


def test_estimated_errors_leave_the_white_noise_to_the_fit(rng, monkeypatch):
    """Errors estimated from the scatter (K2SFF has none) enter at ESTIMATED_ERROR_FLOOR and the
    jitter fits the rest: a 2.5x overestimate no longer inflates the white noise; with real
    errors the jitter can only add to them. The likelihood is still the dense one, with
    variance (floor·σ)² + s²."""
    from halfsib.model import ESTIMATED_ERROR_FLOOR, white_variance

    lc, design, _ = _light_curve(rng, n=500, noise=3e-4)
    index = np.flatnonzero(lc.good)
    over = lc.replace(flux_err=2.5 * lc.flux_err)
    estimated = over.replace(flux_err_estimated=True)
    np.testing.assert_allclose(white_variance(estimated, index, 1e5, True), (ESTIMATED_ERROR_FLOOR * 7.5e-4) ** 2)
    np.testing.assert_allclose(white_variance(estimated, index, 1e5, False), 7.5e-4**2)  # no jitter: as given
    np.testing.assert_allclose(white_variance(over, index, 1e5, True), 7.5e-4**2)
    fitted = detrend(estimated, design, clip_sigma=0)
    assert np.median(fitted.flux_err) == pytest.approx(3e-4, rel=0.1)
    given = detrend(over, design, clip_sigma=0)
    assert np.all(given.flux_err >= 7.5e-4)
    kernel = StellarKernel(fitted.config.kernel, fit_jitter=True)
    params = kernel.pack(**fitted.hyperparameters)
    var = (ESTIMATED_ERROR_FLOOR * fitted.raw_flux_err / fitted.normalisation) ** 2 + kernel.jitter(params) ** 2
    np.testing.assert_allclose(fitted.flux_err**2, var, rtol=1e-12)
    lam = np.concatenate([np.full(sl.stop - sl.start, fitted.prior_variances[name])
                          for name, sl in design.groups.items()])
    y = fitted.raw_flux / fitted.normalisation - 1
    cov = dense_covariance(fitted.time, var, kernel.term(params), design.matrix, lam)
    assert fitted.log_likelihood == pytest.approx(dense_log_likelihood(y, cov), rel=1e-8)
    # the floor only adds freedom, and the jitter starts at the estimate: never below the fixed-estimate fit
    monkeypatch.setattr(halfsib.model, "ESTIMATED_ERROR_FLOOR", 1.0)
    fixed = detrend(estimated, design, clip_sigma=0)
    assert np.all(fixed.flux_err >= 7.5e-4) and fitted.log_likelihood > fixed.log_likelihood


def test_fitted_model_is_a_maximum_of_the_marginal_likelihood(rng):
    lc, design, _ = _light_curve(rng, n=300)
    result = detrend(lc, design, clip_sigma=0)
    term, t, y, var, a, lam, keep = _dense_from_result(result, lc, design, np.zeros(300, bool))
    best = dense_log_likelihood(y, dense_covariance(t, var, term, a, lam))
    assert result.log_likelihood == pytest.approx(best, rel=1e-8)
    for factor in (0.5, 2.0):  # scaling one group's prior variance can only lower ln L
        lam2 = lam.copy()
        lam2[:3] *= factor
        assert dense_log_likelihood(y, dense_covariance(t, var, term, a, lam2)) < best + 1e-6


def test_leakage_curve_matches_dense_box_absorption(rng):
    lc, design, _ = _light_curve(rng, n=250)
    result = detrend(lc, design, clip_sigma=0, leakage_duration=3.0)
    term, t, y, var, a, lam, keep = _dense_from_result(result, lc, design, np.zeros(250, bool))
    cov = dense_covariance(t, var, term, a, lam)
    width = int(round(3.0 / 24 / CADENCE))
    for centre in (0, 40, 125, 249):
        start = int(np.clip(centre - width // 2, 0, 250 - width))
        box = np.zeros(250)
        box[start:start + width] = 1.0
        absorbed_sys = box @ ((a * lam) @ (a.T @ np.linalg.solve(cov, box))) / width
        absorbed_all = 1 - box @ (var * np.linalg.solve(cov, box)) / width
        assert result.leakage_systematics[centre] == pytest.approx(absorbed_sys, abs=1e-9)
        assert result.leakage_total[centre] == pytest.approx(absorbed_all, abs=2e-3)  # window-mean white noise


def test_holdout_prediction_never_sees_its_chunk(rng):
    lc, design, _ = _light_curve(rng, n=300)
    result = detrend(lc, design, clip_sigma=0, holdout_chunks=3)
    term, t, y, var, a, lam, _ = _dense_from_result(result, lc, design, np.zeros(300, bool))
    chunk = np.arange(100, 200)
    keep = np.ones(300, bool)
    keep[chunk] = False
    cov = dense_covariance(t[keep], var[keep], term, a[keep], lam)
    alpha = np.linalg.solve(cov, y[keep])
    expected = a[chunk] @ ((a[keep] * lam).T @ alpha)
    np.testing.assert_allclose(result.systematics[chunk], expected, rtol=0, atol=1e-8)


def test_holdout_hours_predict_each_block_from_every_other_cadence(rng):
    """``holdout_hours``: every block of fitted cadences is corrected by the model conditioned on
    all the others (dense twin), with the same hyper-parameters as the plain fit."""
    from halfsib.model import heldout_blocks

    lc, design, _ = _light_curve(rng, n=300)
    plain = detrend(lc, design, clip_sigma=0)
    result = detrend(lc, design, clip_sigma=0, holdout_hours=6.5)
    assert result.hyperparameters == plain.hyperparameters and result.prior_variances == plain.prior_variances
    term, t, y, var, a, lam, _ = _dense_from_result(result, lc, design, np.zeros(300, bool))
    blocks = heldout_blocks(t, np.ones(t.size, bool), 6.5, min_fill=0.0)
    assert len(blocks) > 10
    for block in blocks[::4]:
        keep = np.ones(t.size, bool)
        keep[block] = False
        cov = dense_covariance(t[keep], var[keep], term, a[keep], lam)
        alpha = np.linalg.solve(cov, y[keep])
        np.testing.assert_allclose(result.systematics[block], a[block] @ ((a[keep] * lam).T @ alpha),
                                   rtol=0, atol=1e-8)
    assert np.allclose(sum(result.groups.values()), result.systematics, atol=1e-12)
    with pytest.raises(halfsib.ConfigurationError, match="holdout_hours"):
        DetrendConfig(holdout_hours=-1.0)


def test_masked_transit_keeps_its_depth_in_the_corrected_flux(rng):
    transit = slice(300, 306)  # 3 h at K2 cadence
    lc, design, truth = _light_curve(rng, n=700, depth=2e-3, transit=transit, noise=2e-4)
    mask = np.zeros(lc.n_cadences, bool)
    mask[295:311] = True
    result = detrend(lc, design, transit_mask=mask)
    depth = -np.mean(result.flux[transit] - 1 - result.stellar[transit])
    assert depth == pytest.approx(2e-3, abs=4 * 2e-4 / np.sqrt(6) + 2e-4)
    rms = np.std(result.systematics - truth["systematics"] - np.mean(result.systematics - truth["systematics"]))
    assert rms < 1.5e-4


def test_outliers_are_clipped_but_transits_are_not(rng):
    transit = slice(200, 206)
    lc, design, _ = _light_curve(rng, n=500, depth=3e-3, transit=transit, noise=2e-4)
    flux = lc.flux.copy()
    spikes = np.array([50, 120, 400])
    flux[spikes] += 1e5 * 5e-3  # cosmic rays: positive single-cadence outliers
    result = detrend(lc.replace(flux=flux), design)
    assert set(np.flatnonzero(result.clipped)) >= set(spikes)
    assert not result.clipped[transit].any()


def test_result_outputs_round_trip(rng, tmp_path):
    lc, design, _ = _light_curve(rng, n=300)
    result = detrend(lc, design)
    out = result.write(tmp_path / "detrended.fits", inputs=["target.fits"])
    from halfsib.io.pixels import import_lightkurve

    lk_lc = import_lightkurve().read(out)
    np.testing.assert_allclose(lk_lc.flux.value, result.flux)
    np.testing.assert_allclose(lk_lc["raw_flux"].value, result.raw_flux)
    np.testing.assert_allclose(lk_lc["systematics"].value + lk_lc["stellar"].value + lk_lc["residual"].value,
                               result.raw_flux / result.normalisation - 1, atol=1e-12)
    from astropy.io import fits

    header = fits.getheader(out)
    assert header["HSKERNEL"] == "sho" and header["HSNORM"] == pytest.approx(result.normalisation)
    assert header["HSGPHELD"] is False
    assert np.all(np.isfinite(result.leakage_total)) and np.all((result.leakage_total >= 0) & (result.leakage_total <= 1))
    back = result.to_lightkurve()
    assert len(back) == result.time.size
    fig = result.plot()
    assert len(fig.axes) == 6


def test_warm_start_reaches_the_same_maximum_and_keeps_the_clipped(rng):
    """``start=``: the search's masked refits start from the unmasked fit; same optimum as a cold fit."""
    lc, design, _ = _light_curve(rng, n=400)
    flux = lc.flux.copy()
    flux[[40, 250]] *= 1.01  # two high outliers: clipped by the first fit
    lc = lc.replace(flux=flux)
    first = detrend(lc, design)
    assert first.clipped.sum() >= 2
    mask = transit_window_mask(lc.time, 3.3, float(lc.time[100]), 4.0)
    cold = detrend(lc, design, transit_mask=mask)
    warm = detrend(lc, design, transit_mask=mask, start=first)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, abs=0.05)
    assert warm.masked.sum() == mask.sum() and np.all(warm.clipped[first.clipped])  # clipped again, by its own fit
    with pytest.raises(halfsib.ConfigurationError, match="start: a fit with kernel 'sho'"):
        detrend(lc, design, start=first, kernel="matern32")
    # from a fit of fewer groups (the ladder's rung below): shared groups start at its values
    smaller = detrend(lc, design.subset(["elc"]), transit_mask=mask)
    grown = detrend(lc, design, transit_mask=mask, start=smaller)
    assert grown.log_likelihood == pytest.approx(cold.log_likelihood, abs=0.05)
    with pytest.raises(halfsib.DataValidationError, match="other cadences"):
        detrend(lc.replace(good=np.arange(lc.n_cadences) > 5), design, start=first)


def test_hold_gp_keeps_the_start_gp_and_fits_only_the_prior_variances(rng):
    """``hold_gp=True`` (the design choice's larger candidates): the GP and jitter are the
    start's, the prior variances are this design's maximum at that GP, and from a full fit of
    the same design nothing moves."""
    lc, design, _ = _light_curve(rng, n=400)
    full = detrend(lc, design)
    smaller = detrend(lc, design.subset(["elc"]))
    held = detrend(lc, design, start=smaller, hold_gp=True)
    assert held.hyperparameters == smaller.hyperparameters
    assert set(held.prior_variances) == set(design.groups) and held.iterations == 0
    assert held.log_likelihood <= full.log_likelihood + 0.05  # a constrained maximum
    # the prior variances maximise ln L at the held GP: a nudge of either one lowers it
    from halfsib.model import fitted_objective

    objective, gp, lnlam = fitted_objective(lc, design, held)
    best = -objective.value(np.concatenate([gp, lnlam]))
    assert best == pytest.approx(held.log_likelihood, abs=1e-6)
    for k in range(lnlam.size):
        for step in (-0.3, 0.3):
            nudged = lnlam.copy()
            nudged[k] += step
            assert -objective.value(np.concatenate([gp, nudged])) <= best + 1e-3
    again = detrend(lc, design, start=full, hold_gp=True)
    assert again.hyperparameters == full.hyperparameters
    assert again.log_likelihood == pytest.approx(full.log_likelihood, abs=0.05)
    assert held.gp_held and again.gp_held and not full.gp_held and not smaller.gp_held
    # a refit started from a held fit (the search's masked refit) fits the GP again, unless told
    mask = transit_window_mask(lc.time, 3.3, float(lc.time[100]), 4.0)
    freed = detrend(lc, design, transit_mask=mask, start=held)
    assert not freed.gp_held and freed.hyperparameters != held.hyperparameters
    kept = detrend(lc, design, transit_mask=mask, start=held, hold_gp=True)
    assert kept.gp_held and kept.hyperparameters == held.hyperparameters
    with pytest.raises(halfsib.ConfigurationError, match="hold_gp=True needs start"):
        detrend(lc, design, hold_gp=True)


def test_errors_and_settings(rng):
    lc, design, _ = _light_curve(rng, n=300)
    with pytest.raises(halfsib.ConfigurationError, match="kernel"):
        DetrendConfig(kernel="wavelet")
    with pytest.raises(halfsib.ConfigurationError, match="holdout_chunks"):
        DetrendConfig(holdout_chunks=1)
    with pytest.raises(halfsib.ConfigurationError, match="unknown detrend settings"):
        detrend(lc, design, clipsigma=3)
    with pytest.raises(halfsib.NotFittedError):
        SystematicsModel().result
    short = DesignMatrix.from_groups([RegressorGroup("x", np.ones((10, 1)), 1.0)])
    with pytest.raises(halfsib.DataValidationError, match="design has 10 rows"):
        detrend(lc, short)
    with pytest.raises(halfsib.DataValidationError, match="transit mask leaves"):
        detrend(lc, design, transit_mask=np.ones(300, bool))


def test_no_regressors_is_a_gp_only_fit(rng):
    lc, _, _ = _light_curve(rng, n=300)
    result = detrend(lc, DesignMatrix.from_groups([], n_cadences=300), kernel="sho")
    assert result.design_columns == {} and np.all(result.systematics == 0)
    assert np.all(np.isfinite(result.stellar))


@pytest.mark.parametrize("kind", ["sho", "matern32", "rotation"])
def test_kernel_gradient_matches_finite_differences_of_the_log_likelihood(rng, kind):
    from halfsib.model import _Objective, _prepare

    lc, design, _ = _light_curve(rng, n=250)
    problem = _prepare(lc, design, None, True)
    kernel = StellarKernel(kind)
    objective = _Objective(problem, kernel, problem.variance)
    gp = kernel.initial_parameters(problem.time, problem.y, problem.variance)
    theta = np.concatenate([gp, np.log([1e-7, 3e-7])])
    f0, grad = objective(theta)
    for i in range(theta.size):
        h = 1e-5
        step = np.zeros_like(theta)
        step[i] = h
        numeric = (objective.value(theta + step) - objective.value(theta - step)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-3), (kind, i)


def test_gp_bounds_settings_are_validated_and_respected(rng):
    with pytest.raises(halfsib.ConfigurationError, match="gp_timescale_range"):
        DetrendConfig(gp_timescale_range=(2.0, 1.0))
    with pytest.raises(halfsib.ConfigurationError, match="gp_amplitude_max"):
        DetrendConfig(gp_amplitude_max=0.0)
    lc, design, truth = _light_curve(rng, n=400)
    result = detrend(lc, design, gp_timescale_range=(0.5, 0.8), gp_amplitude_max=0.5, clip_sigma=0)
    assert 0.5 - 1e-6 <= result.hyperparameters["rho"] <= 0.8 + 1e-6
    y = lc.flux / np.median(lc.flux) - 1
    robust_sd = 1.4826 * np.median(np.abs(y - np.median(y)))
    assert result.hyperparameters["sigma"] <= 0.5 * robust_sd * (1 + 1e-6)
    free = detrend(lc, design, clip_sigma=0)
    assert free.log_likelihood >= result.log_likelihood - 1e-6  # bounds can only cost likelihood


def test_clipping_before_the_full_fit_matches_the_truth(rng):
    """Outliers found with the cheap prior-variance fit; the full fit then recovers the systematics."""
    lc, design, truth = _light_curve(rng, n=500, noise=2e-4)
    flux = lc.flux.copy()
    spikes = rng.choice(500, 8, replace=False)
    flux[spikes] += 1e5 * 4e-3
    result = detrend(lc.replace(flux=flux), design)
    assert set(np.flatnonzero(result.clipped)) >= set(spikes)
    keep = ~result.clipped
    err = result.systematics[keep] - truth["systematics"][keep]
    err -= err.mean()
    assert np.std(err) < 0.2 * np.std(truth["systematics"])


def test_regression_only_fit_without_gp_or_jitter_matches_dense(rng):
    """kernel="none", fit_jitter=False: only the prior variances are fitted (no GP parameter at all)."""
    lc, design, _ = _light_curve(rng, n=250)
    result = detrend(lc, design, kernel="none", fit_jitter=False, clip_sigma=0)
    assert result.hyperparameters == {} or all(np.isfinite(v) for v in result.hyperparameters.values())
    y = result.raw_flux / result.normalisation - 1
    var = (result.raw_flux_err / result.normalisation) ** 2
    lam = np.concatenate([np.full(sl.stop - sl.start, result.prior_variances[name])
                          for name, sl in design.groups.items()])
    cov = np.diag(var) + (design.matrix * lam) @ design.matrix.T
    assert result.log_likelihood == pytest.approx(dense_log_likelihood(y, cov), rel=1e-8)


def test_wild_cadences_are_isolated_far_points_not_transits(rng):
    from halfsib.model import wild_cadences

    y = 1.0 + 1e-4 * rng.standard_normal(500)
    y[100] = 1e30                       # a fill value
    y[200] *= 0.88                      # one cadence 12 % low (issue: raw K2 read-out glitch)
    y[0] += 0.05                        # a wild first cadence
    y[300:302] -= 0.01                  # a 2-cadence, 1 %-deep dip: a short transit, kept
    y[400:406] -= 0.02                  # a 6-cadence eclipse, kept
    y[450] += 0.002                     # a 20-sigma high point: left to the fit's 5-sigma clip
    assert np.flatnonzero(wild_cadences(y)).tolist() == [0, 100, 200]
    assert not wild_cadences(np.ones(100)).any() and not wild_cadences(y[:4]).any()


def test_a_fill_value_in_one_cadence_is_clipped_not_fatal(rng):
    lc, design, truth = _light_curve(rng, n=400)
    flux = lc.flux.copy()
    flux[150] = 1e30
    flux[250] *= 0.88
    bad = LightCurve(time=lc.time, quality=lc.quality, good=lc.good, cadenceno=lc.cadenceno, time_format="bkjd",
                     meta=lc.meta, flux=flux, flux_err=lc.flux_err)
    result = detrend(bad, design)
    keep = np.ones(400, bool)
    keep[[150, 250]] = False
    clean = detrend(lc, design, transit_mask=~keep)  # the clean data without those two cadences
    assert result.clipped[150] and result.clipped[250]
    assert np.all(np.isfinite(result.flux)) and np.all(np.isfinite(result.systematics))
    np.testing.assert_allclose(result.systematics[keep], clean.systematics[keep], atol=3e-5)


def test_cdpp_is_reported_next_to_the_raw_flux_and_written_to_the_header(rng, tmp_path):
    """lightkurve's 6.5-h CDPP of the corrected and the raw flux, masked cadences left out."""
    import lightkurve as lk
    from astropy.io import fits

    from halfsib.precision import cdpp

    lc, design, _ = _light_curve(rng, n=600, depth=5e-3, transit=slice(300, 306))
    mask = np.zeros(600, bool)
    mask[296:310] = True
    result = detrend(lc, design, transit_mask=mask)
    excluded = result.masked | result.clipped
    assert excluded.any()
    assert result.cdpp_ppm == pytest.approx(cdpp(result.time, result.flux, mask=excluded), rel=1e-12)
    unmasked = detrend(lc, design)
    expected = lk.LightCurve(time=unmasked.time, flux=unmasked.flux / np.median(unmasked.flux))
    if not unmasked.clipped.any():  # nothing left out: exactly lightkurve's estimate_cdpp
        assert unmasked.cdpp_ppm == pytest.approx(
            expected.estimate_cdpp(transit_duration=13, savgol_window=101).value, rel=1e-9)
    assert result.raw_cdpp_ppm > result.cdpp_ppm > 0  # the systematics were removed
    result.write(tmp_path / "out.fits")
    header = fits.getheader(tmp_path / "out.fits")
    assert header["HSCDPP"] == pytest.approx(result.cdpp_ppm, abs=0.01)
    assert header["HSRCDPP"] == pytest.approx(result.raw_cdpp_ppm, abs=0.01)
