"""halfsib.regressors: ELC bases, pixels (CPM/PLD), motion, CBVs, splines, build_design.

Every check is against an obviously-correct reference computed here: a direct SVD, a
known injected signal, a known pixel motion, np.interp.
"""

from __future__ import annotations

import dataclasses
import time as _time

import numpy as np
import pytest

from halfsib.design import DesignMatrix
from halfsib.exceptions import ConfigurationError, DataValidationError, FileFormatError
from halfsib.io.text import BasisTable
from halfsib.regressors import (
    ElcBasis, RegressorConfig, arclength_from_centroids, build_design, cbv_regressors, centroid_track, cpm_regressors,
    motion_regressors, pld_regressors, spline_regressors,
)
from halfsib.timeseries import LightCurve, PixelSeries, TargetInfo

DT = 0.0204335  # K2 long cadence, days
CAD0 = 100_000


# ----------------------------------------------------------------------------- synthetic data
def make_lc(flux, *, tid, ra=None, dec=None, good=None, cadenceno=None, time=None, channel=10, campaign=13,
            columns=None, source=None):
    n = flux.size
    cad = CAD0 + np.arange(n) if cadenceno is None else cadenceno
    t = 2000.0 + (cad - CAD0) * DT if time is None else time
    good = np.isfinite(flux) if good is None else good & np.isfinite(flux)
    meta = TargetInfo(mission="K2", target_id=tid, campaign=campaign, channel=channel, ra=ra, dec=dec,
                      source=source or f"<memory {tid}>")
    return LightCurve(time=t, quality=np.zeros(n, np.int64), good=good, cadenceno=cad, time_format="bkjd",
                      meta=meta, columns=columns or {}, flux=flux, flux_err=np.full(n, 1.0))


def common_modes(n):
    t = np.arange(n) * DT
    roll = ((t / 0.245) % 1.0) - 0.5  # 6-h sawtooth
    return np.vstack([roll, np.sin(2 * np.pi * t / 3.0), (t / t[-1]) ** 2, np.cos(2 * np.pi * t / 1.3)])


def make_set(rng, n_stars=40, n=800, noise=1e-3, **kw):
    """n_stars light curves sharing 4 common modes; star 1 sits 20 arcsec from star 0."""
    modes = common_modes(n)
    ra = 180.0 + rng.uniform(-0.5, 0.5, n_stars)
    dec = rng.uniform(-0.5, 0.5, n_stars)
    ra[1], dec[1] = ra[0] + 20 / 3600, dec[0]
    stars = []
    for i in range(n_stars):
        rel = rng.normal(0, 3e-3, 4) @ modes + rng.normal(0, noise, n)
        stars.append(make_lc(1e4 * (1 + rel), tid=f"EPIC {200000 + i}", ra=ra[i], dec=dec[i], **kw))
    return stars


def box(n, start, width):
    b = np.zeros(n)
    b[start:start + width] = 1.0
    return b


def r_squared(y, cols):
    y = y - y.mean()
    c = cols - cols.mean(axis=0)
    coef, *_ = np.linalg.lstsq(c, y, rcond=None)
    return 1.0 - np.sum((y - c @ coef) ** 2) / np.sum(y**2)


def assert_unit_rms(group, good):
    cols = group.columns[good]
    assert np.all(np.isfinite(group.columns))
    np.testing.assert_allclose(np.sqrt(np.mean(cols**2, axis=0)), 1.0, rtol=1e-10)
    np.testing.assert_allclose(cols.mean(axis=0), 0.0, atol=1e-10)


@pytest.fixture
def stars(rng):
    return make_set(rng)


# ----------------------------------------------------------------------------- ELC basis
def test_fold_basis_equals_direct_svd_without_the_fold(stars):
    basis = ElcBasis.build(stars, n_components=10, n_folds=4, clip_sigma=np.inf)
    fold = int(basis.stars.folds[7])
    elcs, sv = basis.components(frozenset({fold}))
    rows = np.vstack([s.flux / np.median(s.flux) - 1 for s, f in zip(stars, basis.stars.folds) if f != fold])
    _, s_ref, vt = np.linalg.svd(rows, full_matrices=False)
    np.testing.assert_allclose(sv[:4], s_ref[:4], rtol=1e-9)
    for j in range(4):  # the four common modes: well-separated singular values
        assert abs(elcs[:, j] @ vt[j]) == pytest.approx(1.0, abs=1e-8)


def test_target_in_set_gets_basis_without_itself_and_neighbours(stars):
    basis = ElcBasis.build(stars, n_components=10, n_folds=5)
    assert basis.stars.folds[0] == basis.stars.folds[1]  # 20 arcsec apart: one fold
    excluded = basis.excluded(stars[0])
    assert excluded[0] and excluded[1] and excluded.sum() == 2
    group = basis.for_target(stars[0])
    assert group.name == "elc" and group.n_columns == 10
    assert f"left out folds [{basis.stars.folds[0]}]" in group.description
    assert_unit_rms(group, stars[0].good)


def test_injected_transit_leaks_only_into_other_stars_bases(rng):
    n = 1000
    stars = make_set(rng, n_stars=40, n=n)
    signal = box(n, 400, 60)
    stars[5] = dataclasses.replace(stars[5], flux=stars[5].flux * (1 - 0.02 * signal))
    basis = ElcBasis.build(stars, n_components=10, n_folds=4)
    own = basis.for_target(stars[5]).columns
    other_index = next(i for i in range(40) if basis.stars.folds[i] != basis.stars.folds[5])
    other = basis.for_target(stars[other_index]).columns
    assert r_squared(signal, own) < 0.05  # orthogonal-ish: no leak into its own regressors
    assert r_squared(signal, other) > 0.9  # the transit is in the basis of a star of another fold


def flat_distance(a, ra, dec):
    """Arcsec, flat-sky: plenty accurate at these separations."""
    return 3600 * np.hypot((a.meta.ra - ra) * np.cos(np.radians(dec)), a.meta.dec - dec)


def between_two_folds(basis, stars, tid="EPIC 1"):
    """A new target halfway between two stars of different folds, a radius reaching both, and the folds
    of every star within that radius (brute force)."""
    i = 2
    others = [k for k in range(len(stars)) if basis.stars.folds[k] != basis.stars.folds[i]]
    j = min(others, key=lambda k: flat_distance(stars[k], stars[i].meta.ra, stars[i].meta.dec))
    ra = 0.5 * (stars[i].meta.ra + stars[j].meta.ra)
    dec = 0.5 * (stars[i].meta.dec + stars[j].meta.dec)
    radius = 1.01 * max(flat_distance(stars[k], ra, dec) for k in (i, j))
    folds = {int(f) for s, f in zip(stars, basis.stars.folds) if flat_distance(s, ra, dec) <= radius}
    return make_lc(stars[4].flux.copy(), tid=tid, ra=ra, dec=dec), radius, folds


def test_target_outside_set_combines_folds_and_caches(stars):
    basis = ElcBasis.build(stars, n_components=8, n_folds=4)
    target, radius, folds = between_two_folds(basis, stars)
    assert len(folds) >= 2
    n_cached = len(basis.cached)
    group = basis.for_target(target, exclusion_radius=radius)
    assert frozenset(folds) in basis.cached and len(basis.cached) == n_cached + 1
    basis.for_target(target, exclusion_radius=radius)
    assert len(basis.cached) == n_cached + 1  # reused
    assert f"left out folds {sorted(folds)}" in group.description
    far = make_lc(stars[4].flux.copy(), tid="EPIC 2", ra=10.0, dec=80.0)
    assert "left out folds []" in basis.for_target(far).description


def test_identity_by_catalogue_id_and_by_file(stars):
    basis = ElcBasis.build(stars, n_components=5, n_folds=4)
    same_id = make_lc(stars[9].flux, tid="EPIC200009", source="/elsewhere/k2sc_product.fits")  # no coords
    assert np.flatnonzero(basis.excluded(same_id)).tolist() == [9]
    files = [dataclasses.replace(s, meta=dataclasses.replace(s.meta, target_id=None, ra=None, dec=None,
                                                             source=f"/data/star{i}.fits"))
             for i, s in enumerate(stars)]
    by_file = ElcBasis.build(files, n_components=5, n_folds=4)
    assert np.flatnonzero(by_file.excluded(files[12])).tolist() == [12]


def test_gaps_flags_and_nan_never_leak(rng):
    n = 800
    stars = make_set(rng, n_stars=20, n=n)
    for i, s in enumerate(stars):  # NaN flux stretches and flagged cadences in different places
        flux = s.flux.copy()
        flux[100 + 10 * i:140 + 10 * i] = np.nan
        good = np.isfinite(flux) & (rng.random(n) > 0.05)
        stars[i] = dataclasses.replace(s, flux=flux, good=good)
    t = stars[0].time.copy()
    t[500:520] = np.nan  # cadences the spacecraft did not time-stamp
    target = dataclasses.replace(stars[0], time=t, good=stars[0].good & np.isfinite(t))
    basis = ElcBasis.build(stars[1:], n_components=8, n_folds=3)
    assert_unit_rms(basis.for_target(target), target.good)
    design = build_design(target, basis=basis, config=RegressorConfig(n_elc=8, motion=False))
    assert np.all(np.isfinite(design.matrix))


def test_outlier_clipping_keeps_a_spike_out_of_the_basis(stars):
    spiky = stars[3].flux.copy()
    spiky[300] *= 1.5  # a 50% single-cadence flare
    stars = [*stars[:3], dataclasses.replace(stars[3], flux=spiky), *stars[4:]]
    elcs, _ = ElcBasis.build(stars, n_components=10, n_folds=2).components()
    assert np.max(np.abs(elcs[300])) < 5 * np.median(np.abs(elcs))


def test_matching_by_time_when_cadence_numbers_are_row_numbers(stars):
    basis = ElcBasis.build(stars, n_components=6, n_folds=4)
    target = make_lc(stars[20].flux, tid="EPIC 3", ra=10.0, dec=80.0)
    rows = make_lc(stars[20].flux[50:], tid="EPIC 3", ra=10.0, dec=80.0, cadenceno=np.arange(750),
                   time=target.time[50:])  # a plain table: cadence numbers 0..N-1
    a = basis.for_target(target).columns[50:]  # same cadences; standardised over a different span
    b = basis.for_target(rows).columns
    assert all(np.corrcoef(a[:, j], b[:, j])[0, 1] > 1 - 1e-12 for j in range(6))


def test_basis_refuses_other_seasons_and_uncovered_targets(stars):
    basis = ElcBasis.build(stars, n_components=5, n_folds=2)
    with pytest.raises(DataValidationError, match="C5"):
        basis.for_target(make_lc(stars[0].flux, tid="x", campaign=5))
    late = make_lc(stars[0].flux, tid="y", time=stars[0].time + 100.0, cadenceno=CAD0 + 10_000 + np.arange(800))
    with pytest.raises(DataValidationError, match="covers only"):
        basis.for_target(late)
    with pytest.raises(DataValidationError, match="seasons"):
        ElcBasis.build([*stars[:5], make_lc(stars[0].flux, tid="z", campaign=5)])
    with pytest.raises(ConfigurationError, match="weighting"):
        ElcBasis.build(stars, weighting="loud")
    with pytest.raises(ConfigurationError, match="n_folds"):
        ElcBasis.build(stars[:3], n_folds=5)


def test_save_load_round_trip(stars, tmp_path):
    basis = ElcBasis.build(stars, n_components=7, n_folds=4)
    target, radius, _ = between_two_folds(basis, stars)
    basis.for_target(target, exclusion_radius=radius)  # caches a two-fold basis too
    path = basis.save(tmp_path / "basis.fits", inputs=["a.fits"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basis.fits"]  # no temporary left behind
    loaded = ElcBasis.load(path)
    assert loaded.stars.labels == basis.stars.labels and loaded.grid.on == basis.grid.on
    assert loaded.cached == basis.cached and len(basis.cached) == 6  # all, 4 folds, one pair
    for s in (stars[0], stars[11]):
        np.testing.assert_array_equal(loaded.for_target(s).columns, basis.for_target(s).columns)
    from astropy.io import fits

    header = fits.getheader(path)
    assert header["HSKIND"] == "ELCBASIS" and "a.fits" in header["HSINPUTS"] and header["NCOMP"] == 7
    with pytest.raises(FileExistsError):
        basis.save(path, overwrite=False)
    fits.PrimaryHDU(np.zeros(3)).writeto(tmp_path / "other.fits")
    with pytest.raises(FileFormatError, match="not a halfsib ELC basis"):
        ElcBasis.load(tmp_path / "other.fits")


def test_weightings_give_orthonormal_elcs(stars):
    for weighting in ("none", "noise", "unit"):
        elcs, sv = ElcBasis.build(stars, n_components=6, n_folds=2, weighting=weighting).components()
        np.testing.assert_allclose(elcs.T @ elcs, np.eye(elcs.shape[1]), atol=1e-8)
        assert np.all(np.diff(sv) <= 0)


@pytest.mark.slow
def test_basis_timing_500_stars(rng):
    stars = make_set(rng, n_stars=500, n=3600)
    t0 = _time.perf_counter()
    basis = ElcBasis.build(stars, n_components=150, n_folds=8)
    build_s = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    for s in stars[:20]:
        basis.for_target(s)
    per_target = (_time.perf_counter() - t0) / 20
    assert build_s < 30 and per_target < 0.2, (build_s, per_target)


# ----------------------------------------------------------------------------- pixels
def prf_stamp(dx, dy, *, shape=(9, 9), centre=(4.0, 4.0), sigma=1.1, total=1e5, scale=None):
    rows, cols = np.indices(shape)
    img = np.exp(-0.5 * (((cols[None] - centre[1] - dx[:, None, None]) / sigma) ** 2
                         + ((rows[None] - centre[0] - dy[:, None, None]) / sigma) ** 2))
    img = img / (2 * np.pi * sigma**2) * total
    return img * (1.0 if scale is None else scale[:, None, None])


def make_pixels(flux, *, tid="KIC 1", corner=(100, 200), channel=4, aperture=None, time=None):
    n = flux.shape[0]
    ap = np.zeros(flux.shape[1:], bool)
    ap[3:6, 3:6] = True
    meta = TargetInfo(mission="Kepler", target_id=tid, quarter=12, channel=channel, source=f"<memory {tid}>")
    return PixelSeries(time=2000 + np.arange(n) * DT if time is None else time, quality=np.zeros(n, np.int64),
                       good=np.ones(n, bool), cadenceno=CAD0 + np.arange(n), time_format="bkjd", meta=meta,
                       flux=flux, flux_err=np.ones_like(flux), aperture=ap if aperture is None else aperture,
                       corner=corner)


def test_pld_reproduces_known_pixel_motion(rng):
    n = 600
    t = np.arange(n) * DT
    dx = 0.3 * (((t / 0.245) % 1.0) - 0.5) + 0.05 * np.sin(t)
    dy = 0.15 * np.cos(2 * np.pi * t / 0.7)
    transit = 1 - 0.01 * box(n, 300, 40)
    pixels = make_pixels(prf_stamp(dx, dy, scale=transit))
    pld1, pld2 = pld_regressors(pixels, order=2, n_components=8)
    assert (pld1.name, pld2.name) == ("pld1", "pld2")
    assert_unit_rms(pld1, pixels.good)
    assert r_squared(dx, pld1.columns) > 0.999 and r_squared(dy, pld1.columns) > 0.999
    flux_loss = pixels.flux[:, pixels.aperture].sum(axis=1) / transit  # aperture losses from motion alone
    both = np.hstack([pld1.columns, pld2.columns])
    assert r_squared(flux_loss, both) > 0.999
    without = pld_regressors(make_pixels(prf_stamp(dx, dy)), order=2, n_components=8)
    for with_transit, no_transit in zip((pld1, pld2), without):  # the astrophysical signal divides out
        np.testing.assert_allclose(with_transit.columns, no_transit.columns, atol=1e-9)


def test_pld_validation():
    pixels = make_pixels(prf_stamp(np.zeros(50), np.zeros(50)))
    with pytest.raises(ConfigurationError, match="order"):
        pld_regressors(pixels, order=4)
    with pytest.raises(ConfigurationError, match="aperture"):
        pld_regressors(pixels, aperture=np.zeros((9, 9), bool))
    one = np.zeros((9, 9), bool)
    one[4, 4] = True
    assert pld_regressors(pixels, aperture=one) == []  # lightkurve-style crash on one-pixel apertures: none here
    design = build_design(pixels.replace(aperture=one), config=RegressorConfig(spline_spacing=2.0))
    assert "pld1" not in design.group_names and np.all(np.isfinite(design.matrix))


def test_cpm_excludes_target_region_and_picks_brightest(rng):
    n = 300
    still = np.zeros(n)
    target = make_pixels(prf_stamp(still, still) * (1 - 0.01 * box(n, 100, 30))[:, None, None], corner=(100, 200))
    # a neighbour stamp overlapping the target's pixels (it sees the target's light and transit)
    overlap = make_pixels(target.flux.copy() + rng.normal(0, 1, (n, 9, 9)), tid="KIC 2", corner=(103, 202))
    far = [make_pixels(prf_stamp(still, still, total=f) * (1 + rng.normal(0, 1e-3, n))[:, None, None],
                       tid=f"KIC {10 + k}", corner=(300 + 20 * k, 500)) for k, f in enumerate((1e5, 3e5, 2e5))]
    same_star = make_pixels(target.flux.copy(), tid="KIC 1", corner=(100, 200), channel=4)
    group = cpm_regressors(target, [overlap, *far, same_star], n_pixels=12, exclusion_pixels=11)
    for label in group.column_names:
        r, c = (int(v) for v in label.split("_r")[1].split("c"))
        assert max(abs(r - 204), abs(c - 104)) > 5, label
    assert not any("KIC1_" in n for n in group.column_names)
    # brute-force reference: the 12 brightest pixels of the far stamps (overlap's allowed pixels are fainter)
    meds = [(np.median(s.flux[:, r, c]), f"cpm_{s.meta.target_id.replace(' ', '')}_r{r + 500}c{c + s.corner[0]}")
            for s in far for r in range(9) for c in range(9)]
    expected = [name for _, name in sorted(meds, key=lambda m: -m[0])[:12]]
    assert sorted(group.column_names) == sorted(expected)
    assert r_squared(box(n, 100, 30), group.columns) < 0.1
    assert_unit_rms(group, target.good)


def test_cpm_similar_selection_prefers_correlated_pixels(rng):
    n = 400
    common = np.sin(np.arange(n) / 20.0)
    target = make_pixels(prf_stamp(np.zeros(n), np.zeros(n), scale=1 + 0.01 * common))
    shared = make_pixels(prf_stamp(np.zeros(n), np.zeros(n), total=1e4, scale=1 + 0.01 * common),
                         tid="KIC 3", corner=(400, 400))
    noisy = (1 + rng.normal(0, 0.01, n))[:, None, None]
    unrelated = make_pixels(prf_stamp(np.zeros(n), np.zeros(n), total=1e6) * noisy, tid="KIC 4", corner=(600, 400))
    similar = cpm_regressors(target, [shared, unrelated], n_pixels=5, select="similar")
    brightest = cpm_regressors(target, [shared, unrelated], n_pixels=5, select="brightest")
    assert all("KIC3" in n for n in similar.column_names)
    assert all("KIC4" in n for n in brightest.column_names)


# ----------------------------------------------------------------------------- motion, splines, CBVs
def test_arclength_is_the_main_axis_of_the_track(rng):
    s = np.linspace(-1, 1, 500) ** 3
    theta = 0.6
    x = 50 + s * np.cos(theta) + rng.normal(0, 0.01, 500)
    y = 80 + s * np.sin(theta) + rng.normal(0, 0.01, 500)
    x[10] = np.nan
    arc = arclength_from_centroids(x, y, np.ones(500, bool))
    assert np.all(np.isfinite(arc))
    assert abs(np.corrcoef(np.delete(arc, 10), np.delete(s, 10))[0, 1]) > 0.999


def test_windowed_motion_terms_fit_a_changing_roll_response(rng):
    n = 2000
    t = np.arange(n) * DT
    s = ((t / 0.245) % 1.0) - 0.5 + rng.normal(0, 0.02, n)
    strength = 1 + 0.5 * np.sin(2 * np.pi * t / t[-1])  # the response drifts over the campaign
    flux = 1e4 * (1 + 0.01 * strength * (s + 0.5 * s**2))
    target = make_lc(flux, tid="EPIC 7", columns={"arclength": s})
    group = motion_regressors(target, degree=2, n_windows=10)
    assert group.n_columns == 20 and group.column_names[0] == "motion_w00_arclength"
    assert_unit_rms(group, target.good)
    slow = spline_regressors(t, target.good, flux, knot_spacing=4.0).columns  # window means drift smoothly
    assert r_squared(flux, np.hstack([group.columns, slow])) > 0.995
    static = motion_regressors(target, degree=2, modulation="none")
    assert r_squared(flux, np.hstack([static.columns, slow])) < 0.99
    splines = motion_regressors(target, degree=2, n_windows=8, modulation="splines")
    assert r_squared(flux, np.hstack([splines.columns, slow])) > 0.995
    local = motion_regressors(target, basis="spline", n_splines=6, n_windows=10)
    assert local.n_columns == 50 and r_squared(flux, np.hstack([local.columns, slow])) > 0.995
    first = group.columns[:, 0]
    assert np.ptp(first[n // 10 + 5:]) < 1e-12  # window 0's column is constant outside window 0
    with pytest.raises(DataValidationError, match="no motion"):
        motion_regressors(make_lc(flux, tid="EPIC 8"))


@pytest.mark.parametrize("modulation", ["windows", "splines"])
def test_motion_response_is_anchored_so_the_star_stays_continuous(rng, modulation):
    """A constant star whose roll excursions grow: the flux lost to the roll grows window by
    window. Terms centred per window would leave each window's mean loss in the star (a
    step at every window edge); anchored terms remove the loss relative to one position."""
    n = 2000
    t = np.arange(n) * DT
    amplitude = 1.0 + 2.0 * t / t[-1]
    s = amplitude * ((t / 0.245) % 1.0)
    flux = 1e4 * (1 - 0.01 * s**2) + rng.normal(0, 0.5, n)
    target = make_lc(flux, tid="EPIC 7", columns={"arclength": s})
    group = motion_regressors(target, basis="spline", n_splines=8, n_windows=5, modulation=modulation)
    design = np.column_stack([np.ones(n), group.columns])
    weights, *_ = np.linalg.lstsq(design, flux, rcond=None)
    star = flux - group.columns @ weights[1:]
    means = [star[k * n // 5:(k + 1) * n // 5].mean() for k in range(5)]
    assert np.ptp(means) < 0.5, means  # centred per window: steps of ~50 (0.5 %) at each edge


def test_splines_split_at_gaps_and_carry_no_constant(rng):
    t = np.concatenate([np.arange(0, 10, DT), np.arange(12, 20, DT)])
    good = np.ones(t.size, bool)
    trend = np.where(t < 11, np.sin(t / 3), 5 + np.cos(t / 2))  # a jump across the gap
    group = spline_regressors(t, good, 1 + trend, knot_spacing=2.0, gap_days=0.5)
    assert group.n_columns == (5 + 3) + (4 + 3) - 1
    assert_unit_rms(group, good)
    assert r_squared(trend, group.columns) > 0.9999
    assert r_squared(np.ones(t.size) + 1e-9 * t, group.columns) < 1.0  # no exact constant column in the span
    with pytest.raises(ConfigurationError, match="knot_spacing"):
        spline_regressors(t, good, trend, knot_spacing=0.0)


def test_settling_ramps_start_with_every_stretch():
    from halfsib.regressors import settling_regressors

    t = np.concatenate([np.arange(0, 10, DT), np.arange(12, 20, DT)])
    good = np.ones(t.size, bool)
    group = settling_regressors(t, good, np.ones(t.size), timescales=(0.3, 1.0), gap_days=0.5)
    assert group.n_columns == 4 and group.column_names[0] == "settling0_0.3d"
    assert_unit_rms(group, good)
    # each column is one decaying exponential of one stretch (up to the centring and scaling)
    ramp = np.where(t >= 12, np.exp(-(t - 12) / 1.0), 0.0)
    assert r_squared(ramp, group.columns[:, [3]]) > 0.999999
    assert r_squared(np.where(t < 12, np.exp(-t / 0.3), 0.0), group.columns[:, [0]]) > 0.999999
    with pytest.raises(ConfigurationError, match="timescales"):
        settling_regressors(t, good, np.ones(t.size), timescales=(0.0,))


def test_a_settling_ramp_goes_to_the_systematics_not_the_star(rng):
    """A 2 % thermal ramp (τ = 0.5 d) after each of two gaps, on a quiet star: with the settling
    group the corrected flux keeps none of it; without it the stellar GP takes it as the star's."""
    from halfsib.model import detrend

    t = np.concatenate([np.arange(0, 12, DT), np.arange(14, 26, DT)])
    start = np.where(t < 13, 0.0, 14.0)
    ramp = -0.02 * np.exp(-(t - start) / 0.5)
    flux = 1e4 * (1 + ramp + 2e-4 * rng.standard_normal(t.size))
    lc = make_lc(flux, tid="EPIC 7", time=t)
    early = (t - start) < 1.0
    leftover = {}
    for taus in [(0.3, 1.0), ()]:
        design = build_design(lc, config=RegressorConfig(motion=False, settling_timescales=taus))
        fit = detrend(lc, design)
        near_start = (fit.time - np.where(fit.time < 13, 0.0, 14.0)) < 1.0
        leftover[taus] = float(np.ptp(fit.flux[near_start]))
    assert leftover[(0.3, 1.0)] < 0.003 < leftover[()]


def test_cbv_interpolation_by_cadence_and_time(rng):
    n = 500
    table_time = 2000 + np.arange(n) * DT
    vectors = np.column_stack([np.ones(n), np.sin(table_time), (table_time - 2000) ** 2])
    table = BasisTable(time=table_time, vectors=vectors, names=("const", "sin", "sq"), time_format="bkjd",
                       cadenceno=CAD0 + np.arange(n))
    target = make_lc(1e4 + rng.normal(0, 1, 300), tid="EPIC 9", cadenceno=CAD0 + 100 + np.arange(300))
    group = cbv_regressors(target, table)
    assert group.column_names == ("cbv_sin", "cbv_sq")  # the constant is dropped
    ref = vectors[100:400, 1:]
    ref = (ref - ref.mean(0)) / ref.std(0)
    np.testing.assert_allclose(group.columns, ref, atol=1e-10)
    near = make_lc(target.flux, tid="EPIC 9", time=target.time + 0.3 * DT, cadenceno=np.arange(300))
    plain = BasisTable(time=table_time, vectors=vectors, names=table.names)  # no cadence numbers: by time
    np.testing.assert_allclose(cbv_regressors(near, plain).columns, group.columns, atol=1e-10)  # same cadences
    keep = np.r_[0:200, 260:n]  # a table with a gap: the target's cadences in it are interpolated
    gapped = BasisTable(time=table_time[keep], vectors=vectors[keep], names=table.names)
    ref = np.interp(target.time, table_time[keep], vectors[keep, 1])
    np.testing.assert_allclose(cbv_regressors(target, gapped).columns[:, 0], (ref - ref.mean()) / ref.std(),
                               atol=1e-10)
    outside = make_lc(1e4 + np.zeros(300), tid="x", cadenceno=CAD0 + 400 + np.arange(300))
    with pytest.raises(DataValidationError, match="outside"):
        cbv_regressors(outside, table)
    with pytest.raises(ConfigurationError, match="unknown basis vectors"):
        cbv_regressors(target, table, vectors=["nope"])


# ----------------------------------------------------------------------------- config and build_design
@pytest.mark.parametrize("setting, value", [
    ("n_elc", -1), ("n_elc", 2.5), ("exclusion_radius", -3.0), ("exclusion_radius", np.nan), ("n_cpm", True),
    ("pld_order", 4), ("motion_windows", 0), ("motion_degree", 9), ("spline_spacing", -1.0), ("gap_days", 0.0),
    ("elc_tiers", (40, 10)), ("elc_weighting", "loud"), ("cpm_select", "random"), ("motion_modulation", "wavelets"),
    ("motion_variables", "speed"), ("motion", "yes"), ("motion_basis", "fourier"), ("motion_splines", 3),
])
def test_config_validation_names_the_setting(setting, value):
    with pytest.raises(ConfigurationError, match=setting):
        RegressorConfig(**{setting: value})


def test_config_mission_defaults():
    k2, tess = RegressorConfig.for_mission("K2"), RegressorConfig.for_mission("TESS", n_elc=20)
    assert k2.n_elc == 150 and k2.motion_modulation == "splines" and k2.motion_windows == 40 and k2.motion_splines == 12 and k2.spline_spacing == 3.0
    assert tess.n_elc == 20 and tess.exclusion_radius > 60
    assert RegressorConfig(n_elc=5).resolved("K2").n_elc == 5
    assert RegressorConfig().resolved("K2") == k2
    with pytest.raises(ConfigurationError, match="mission"):
        RegressorConfig.for_mission("Hubble")
    with pytest.raises(ConfigurationError, match="n_ecl"):
        RegressorConfig.for_mission("K2", n_ecl=3)


def test_build_design_stacks_groups_deterministically(rng):
    n = 800
    stars = make_set(rng, n_stars=30, n=n)
    s = ((np.arange(n) * DT / 0.245) % 1.0) - 0.5
    target = dataclasses.replace(stars[0], columns={"arclength": s})
    cfg = RegressorConfig(n_elc=12, elc_tiers=(4,), motion_windows=4, motion_degree=2, spline_spacing=5.0,
                          n_elc_motion=3)
    design = build_design(target, others=stars, config=cfg)
    assert isinstance(design, DesignMatrix)
    assert design.group_names == ("elc1_4", "elc5_12", "elc_motion", "motion", "spline")
    assert design.column_names[design.groups["elc_motion"]] == ("elc1*arclength", "elc2*arclength",
                                                                "elc3*arclength")
    assert "2 given star(s) left out" in design.descriptions["elc1_4"]  # itself and star 1, 20 arcsec away
    cols = design.matrix[target.good]
    np.testing.assert_allclose(np.sqrt((cols**2).mean(0)), 1.0, rtol=1e-10)
    assert np.all(np.ptp(cols, axis=0) > 0)  # no constant column
    again = build_design(target, others=stars, config=cfg)
    np.testing.assert_array_equal(design.matrix, again.matrix)
    assert design.column_names == again.column_names
    assert all(v > 0 for v in design.prior_scales.values())
    stamp = make_pixels(prf_stamp(s * 0.2, 0 * s))
    with_pixels = build_design(stamp, config=RegressorConfig(pld_order=1))
    assert with_pixels.group_names[0] == "pld1" and "motion" in with_pixels.group_names
    # a light curve of fewer cadences plus the full stamp: PLD and motion land on the light curve's cadences
    lc = stamp.to_lightcurve()
    lc = lc.replace(**{k: getattr(lc, k)[100:] for k in ("time", "flux", "flux_err", "quality", "good", "cadenceno")},
                    meta=dataclasses.replace(lc.meta, mission="Kepler"))
    mixed = build_design(lc, target_pixels=stamp, config=RegressorConfig(pld_order=1))
    assert mixed.matrix.shape[0] == n - 100 and {"pld1", "motion"} <= set(mixed.group_names)
    np.testing.assert_allclose(mixed.matrix[:, mixed.groups["pld1"]][:, 0] * with_pixels.matrix[100:, 0].std(),
                               with_pixels.matrix[100:, 0] - with_pixels.matrix[100:, 0].mean(), atol=1e-8)


# ----------------------------------------------------------------------------- real K2 C13 data
@pytest.fixture(scope="module")
def c13(shared_data):
    from halfsib.io import read_many

    series, failures = read_many(shared_data / "k2-c13" / "k2sff", show_progress=False)
    assert not failures
    return series


@pytest.mark.shared_data
def test_real_c13_basis_excludes_k2_136_and_fits_its_roll(c13):
    t0 = _time.perf_counter()
    basis = ElcBasis.build(c13, n_components=150, n_folds=8)
    assert _time.perf_counter() - t0 < 20
    target = next(s for s in c13 if s.meta.target_id == "EPIC 247589423")  # K2-136
    index = basis.stars.labels.index("EPIC 247589423")
    assert basis.excluded(target)[index]
    design = build_design(target, basis=basis, config=RegressorConfig(n_elc=30, spline_spacing=3.0))
    assert {"elc1_10", "elc11_30", "motion", "spline"} <= set(design.group_names)
    assert np.all(np.isfinite(design.matrix))
    from scipy.ndimage import median_filter, uniform_filter1d

    def cdpp(r):  # 6.5-h (13-cadence) binned robust scatter after a 2-day running median, ppm
        r = r - median_filter(r, 97, mode="nearest")
        b = r[: r.size // 13 * 13].reshape(-1, 13).mean(axis=1)
        return 1.4826e6 * np.median(np.abs(b - np.median(b)))

    good = target.good
    y = target.flux[good] / np.median(target.flux[good]) - 1
    a = design.matrix[good]
    high_pass = lambda v: v - uniform_filter1d(v, 97, axis=0, mode="nearest")  # noqa: E731
    resid = y - a @ np.linalg.lstsq(high_pass(a), high_pass(y), rcond=None)[0]
    assert cdpp(resid) < 0.3 * cdpp(y)  # the roll sawtooth is mostly modelled (measured: 32 vs 261 ppm)


def test_pixels_with_nan_and_flagged_cadences_stay_finite(rng):
    n = 300
    t = np.arange(n) * DT
    flux = prf_stamp(0.2 * np.sin(t * 5), 0.1 * np.cos(t * 3)) + rng.normal(0, 5, (n, 9, 9))
    flux[50:60, 4, 4] = np.nan  # a pixel missing for a while
    flux[100:105] = np.nan  # whole cadences missing
    target = make_pixels(flux)
    target = target.replace(good=target.good & np.any(np.isfinite(flux), axis=(1, 2)) & (rng.random(n) > 0.05))
    other = make_pixels(prf_stamp(0 * t, 0 * t, total=3e5) * (1 + 0.01 * np.sin(t))[:, None, None], tid="KIC 5",
                        corner=(500, 500))
    other.flux[200:210, 2, 2] = np.nan
    design = build_design(target, pixels=[other], config=RegressorConfig(n_cpm=20, pld_order=3, pld_components=5))
    assert set(design.group_names) >= {"cpm", "pld1", "pld2", "pld3", "motion", "spline"}
    assert np.all(np.isfinite(design.matrix))
    good = target.to_lightcurve().good  # the aperture light curve's good cadences (no NaN aperture pixel)
    assert good.sum() < target.good.sum()
    cols = design.matrix[good]
    np.testing.assert_allclose(np.sqrt((cols**2).mean(0)), 1.0, rtol=1e-10)


@pytest.mark.shared_data
def test_real_kepler_pixels_cpm_exclusion_and_pld(shared_data):
    from halfsib.io import read

    stamps = [read(shared_data / "kepler-q12-ch4" / f"tpf_test_{i:02d}.fits") for i in range(10)]
    target = stamps[0]
    design = build_design(target, pixels=stamps[1:], config=RegressorConfig(n_cpm=50, spline_spacing=0.0))
    x, y = (np.nanmedian(v[target.good]) for v in centroid_track(target))
    for label in design.column_names[design.groups["cpm"]]:
        r, c = (int(v) for v in label.split("_r")[-1].split("c"))
        assert max(abs(r - y), abs(c - x)) > 5.5, label  # outside the 11-pixel square on channel 4
    assert not any("KIC12644769" in n for n in design.column_names)
    assert np.all(np.isfinite(design.matrix))


# ----------------------------------------------------------------------------- simulated campaign
def test_simulated_k2_systematics_are_explained():
    simulate = pytest.importorskip("halfsib.simulate")
    camp = simulate.simulate_campaign(simulate.SimulationConfig(mission="k2", n_stars=30, n_cadences=1200, seed=3))
    ra, dec = camp.radec(camp.scene.col, camp.scene.row)
    stars = []
    for i in range(camp.n_stars):
        flux = camp.sap_flux[i]
        good = np.isfinite(flux) & np.isfinite(camp.sap_flux_err[i]) & (camp.timeline.quality == 0)
        meta = TargetInfo(mission="K2", target_id=camp.object_name(i), campaign=camp.config.campaign,
                          ra=float(ra[i]), dec=float(dec[i]), source=f"<simulated {i}>")
        stars.append(LightCurve(time=camp.time, quality=camp.timeline.quality.astype(np.int64), good=good,
                                cadenceno=camp.timeline.cadenceno.astype(np.int64), time_format="bkjd", meta=meta,
                                columns={"centroid_col": camp.mom_centr1[i], "centroid_row": camp.mom_centr2[i]},
                                flux=flux, flux_err=camp.sap_flux_err[i]))
    basis = ElcBasis.build(stars, n_components=30, n_folds=5)
    clean = [i for i in range(camp.n_stars) if camp.contamination[i] < 0.01 and not camp.saturated[i]][:6]
    assert len(clean) >= 4
    for i in clean:
        good = stars[i].good
        rel = stars[i].flux[good] / np.median(stars[i].flux[good]) - 1
        astro = camp.astro.flux[i][good] / np.median(camp.astro.flux[i][good]) - 1
        systematics = rel - astro  # the truth: everything the instrument did
        design = build_design(stars[i], basis=basis, config=RegressorConfig(n_elc=30))
        assert r_squared(systematics, design.matrix[good]) > 0.98, i
        elc_only = design.subset([n for n in design.group_names if n.startswith("elc")]).matrix[good]
        assert r_squared(systematics, elc_only) > 0.9, i  # rel - astro includes the photon noise


def test_k2_centroid_motion_gets_smooth_defaults_and_fits_drift(rng):
    """motion_variables="centroids": 36 smooth x, y terms; auto (K2): per-window arclength terms."""
    n = 2000
    t = np.arange(n) * DT
    roll = ((t / 0.245) % 1.0) - 0.5
    x = 0.3 * roll + 0.25 * (t / t[-1]) ** 2 + rng.normal(0, 0.01, n)  # roll plus a slow drift across the pixel
    y = 0.1 * roll - 0.15 * (t / t[-1]) + rng.normal(0, 0.01, n)
    loss = 0.02 * (x - 0.1) ** 2 + 0.015 * y**2 + 0.01 * x * y  # aperture loss as a function of position
    flux = 1e4 * (1 - loss)
    cols = {"centroid_col": 500 + x, "centroid_row": 300 + y}
    target = make_lc(flux, tid="EPIC 8", columns=cols)
    design = build_design(target, config=RegressorConfig(motion_variables="centroids", spline_spacing=0))
    assert design.group_names == ("motion",)
    names = design.column_names[design.groups["motion"]]
    assert len(names) == 9 * 4 and all("arclength" not in c for c in names)  # cubic x, y monomials x 4 time splines
    assert r_squared(flux, design.matrix) > 0.999  # the drift's slow loss too, from the position alone
    own = build_design(target, config=RegressorConfig(motion_variables="centroids", motion_windows=6,
                                                      spline_spacing=0))
    assert own.groups["motion"].stop - own.groups["motion"].start == 9 * 6  # the user's setting is kept
    windows = build_design(target, config=RegressorConfig(spline_spacing=0))  # K2 auto: arclength from centroids
    arc = windows.column_names[windows.groups["motion"]]
    # 11 arclength B-splines x 40 time B-splines (columns constant on this short series dropped)
    assert 9 * 4 < len(arc) <= 40 * 11 and all("(arclength)" in c for c in arc)
    assert r_squared(flux, windows.matrix) < r_squared(flux, design.matrix)


# --------------------------------------------------------------------------- group sources
def test_every_builder_group_name_has_its_source():
    from halfsib.regressors import SOURCES, group_source

    expected = {"elc": "other_stars", "elc11_40": "other_stars", "elc_motion": "other_stars_motion",
                "cpm": "other_pixels", "pld1": "own_pixels", "pld3": "own_pixels", "motion": "own_motion",
                "cbv": "cbv", "spline": "smooth", "offset": "other", "my_regressors": "other"}
    assert {name: group_source(name) for name in expected} == expected
    assert set(expected.values()) <= set(SOURCES)


def test_systematics_scope_says_what_a_design_can_model():
    from halfsib.regressors import systematics_scope

    shared = systematics_scope({"elc1_10": 10, "elc11_40": 30, "motion": 440})
    assert shared["shared"] and shared["sources"] == {"other_stars": 40, "own_motion": 440}
    alone = systematics_scope({"motion": 440, "spline": 12})
    assert not alone["shared"] and alone["statement"].startswith("one star alone")
    assert "no other-stars rung" in alone["statement"]
    dropped = systematics_scope({"motion": 440}, offered=["elc1_10", "motion"])
    assert not dropped["shared"] and dropped["statement"].startswith("other stars were given")
    assert systematics_scope({})["statement"].startswith("no regressors")
