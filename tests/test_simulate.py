"""The campaign simulator against its own truth and against the missions' file conventions."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from halfsib.exceptions import ConfigurationError
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign
from halfsib.simulate.astrophysics import eb_flux, sample_gp
from halfsib.simulate.render import bleed_columns, photometry
from halfsib.transit import transit_duration, transit_flux

K2_FIRING, K2_NO_DATA, TESS_DUMP, TESS_STRAY = 1048576, 65536, 32, 2048


def _lk():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve

    return lightkurve


# ---------------------------------------------------------------- fixtures (module scope: built once)


@pytest.fixture(scope="module")
def k2():
    config = SimulationConfig(mission="k2", n_stars=12, n_cadences=720, seed=11, planet_fraction=0.5,
                              eb_fraction=0.2, eb_leak_fraction=1.0)
    return simulate_campaign(config, rng=np.random.default_rng(11))


@pytest.fixture(scope="module")
def k2_dir(k2, tmp_path_factory):
    out = tmp_path_factory.mktemp("k2sim")
    write_campaign(k2, out, progress=False)
    return out


@pytest.fixture(scope="module")
def tess():
    config = SimulationConfig(mission="tess", n_stars=4, n_cadences=2000, seed=3, planet_fraction=0.5)
    return simulate_campaign(config)


@pytest.fixture(scope="module")
def tess_dir(tess, tmp_path_factory):
    out = tmp_path_factory.mktemp("tesssim")
    write_campaign(tess, out, progress=False)
    return out


@pytest.fixture(scope="module")
def quiet_hosts():
    """Isolated, quiet, bright K2 stars, each with a deep planet."""
    config = SimulationConfig(mission="k2", n_stars=5, n_cadences=1200, seed=2, planet_fraction=1.0, eb_fraction=0.0,
                              rotation_fraction=0.0, mag_range=(11.8, 12.2), planet_rp_range=(0.08, 0.1),
                              field_density=0.0, cosmic_rays=False)
    return simulate_campaign(config)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("bad, name", [
    (dict(n_stars=-1), "n_stars"), (dict(n_stars=0), "n_stars"), (dict(mission="kepler"), "mission"),
    (dict(mission="k2", cadence="2min"), "cadence"), (dict(planet_fraction=1.5), "planet_fraction"),
    (dict(eb_fraction=-0.1), "eb_fraction"), (dict(n_cadences=5), "n_cadences"), (dict(seed=-3), "seed"),
    (dict(patch_size=10), "patch_size"), (dict(mag_range=(14, 10)), "mag_range"),
    (dict(planet_rp_range=(0.1, 1.5)), "planet_rp_range"),
])
def test_bad_config_names_the_setting(bad, name):
    with pytest.raises(ConfigurationError, match=name):
        SimulationConfig(**bad)


def test_config_defaults_follow_the_mission():
    k2 = SimulationConfig()
    assert (k2.mission, k2.cadence, k2.n_cadences) == ("k2", "30min", 3500)
    tess = k2.replace(mission="tess")
    assert (tess.cadence, tess.n_cadences, tess.mag_range) == ("2min", 18000, (6.0, 13.0))
    assert tess.replace(cadence="30min").n_cadences == 1200
    assert SimulationConfig(mission="TESS", cadence="200s").n_cadences == 10800
    with pytest.raises(ConfigurationError, match="unknown"):
        k2.replace(n_star=3)
    with pytest.raises(ConfigurationError, match="rng"):
        simulate_campaign(k2, rng=np.random.RandomState(1))


# ---------------------------------------------------------------- determinism


def test_same_seed_same_campaign_other_seed_differs():
    config = SimulationConfig(n_stars=3, n_cadences=120, seed=5)
    a = simulate_campaign(config)
    b = simulate_campaign(config, rng=np.random.default_rng(5))
    c = simulate_campaign(config.replace(seed=6))
    np.testing.assert_array_equal(a.sap_flux, b.sap_flux)
    np.testing.assert_array_equal(a.astro.flux, b.astro.flux)
    np.testing.assert_array_equal(a.pixels(1).flux, b.pixels(1).flux)
    assert not np.allclose(a.astro.flux, c.astro.flux)
    assert not np.allclose(a.scene.col, c.scene.col)


def test_rendered_pixels_reproduce_the_light_curve(k2):
    for i in (0, 5):
        pix = k2.pixels(i)
        phot = photometry(pix, k2.apertures[i], int(k2.scene.stamp_col0[i]), int(k2.scene.stamp_row0[i]))
        np.testing.assert_array_equal(phot["sap_flux"], k2.sap_flux[i])


# ---------------------------------------------------------------- files: lightkurve and mission conventions


def test_lightkurve_reads_k2_files(k2, k2_dir):
    lk = _lk()
    truth = Table.read(k2_dir / "truth.ecsv")
    tpf_path, lc_path = k2_dir / truth["tpf_file"][0], k2_dir / truth["lc_file"][0]
    tpf = lk.read(tpf_path, quality_bitmask="none")
    assert type(tpf).__name__ == "KeplerTargetPixelFile"
    assert (tpf.mission, tpf.campaign) == ("K2", 99)
    assert len(tpf.time) == k2.timeline.n
    assert (tpf.column, tpf.row) == (truth["stamp_col0"][0], truth["stamp_row0"][0])
    good = tpf.time.value > 0
    assert tpf.time.format == "bkjd"
    assert np.median(np.diff(tpf.time.value[good])) * 1440 == pytest.approx(29.4244, abs=1e-3)
    assert len(lk.read(tpf_path).to_lightcurve()) > 0.9 * k2.timeline.n
    lc = lk.read(lc_path, quality_bitmask="none")
    assert type(lc).__name__ == "KeplerLightCurve"
    assert lc.meta["CAMPAIGN"] == 99 and lc.meta["MISSION"] == "K2"
    assert len(lc) == k2.timeline.n - int(k2.timeline.nan_time.sum())  # rows with NaN TIME are dropped


def test_lightkurve_reads_tess_files(tess, tess_dir):
    lk = _lk()
    tpf_path = next((tess_dir / "tpf").glob("*.fits"))
    tpf = lk.read(tpf_path, quality_bitmask="none")
    assert type(tpf).__name__ == "TessTargetPixelFile"
    assert tpf.sector == 999 and tpf.mission == "TESS" and tpf.time.format == "btjd"
    assert len(tpf.time) == tess.timeline.n
    good = tpf.time.value > 0
    assert np.median(np.diff(tpf.time.value[good])) * 86400 == pytest.approx(120.0, abs=1e-3)
    assert len(lk.read(tpf_path).to_lightcurve()) > 0
    lc = lk.read(next((tess_dir / "lc").glob("*.fits")))
    assert type(lc).__name__ == "TessLightCurve" and lc.meta["SECTOR"] == 999


def test_k2_headers_follow_the_archive(k2, k2_dir):
    names = sorted(p.name for p in (k2_dir / "tpf").iterdir())
    assert all(re.fullmatch(r"ktwo9\d{8}-c99_lpd-targ\.fits", n) for n in names)
    assert all(re.fullmatch(r"ktwo9\d{8}-c99_llc\.fits", p.name) for p in (k2_dir / "lc").iterdir())
    with fits.open(k2_dir / "tpf" / names[0]) as hdul:
        h0, h1, ap = hdul[0].header, hdul[1].header, hdul[2]
        assert h0["SIMDATA"] is True and h0["TELESCOP"] == "Kepler" and h0["MISSION"] == "K2"
        assert "TargetPixelExporterPipelineModule" in h0["CREATOR"]
        assert h0["OBJECT"] == f"EPIC {h0['KEPLERID']}" and h0["CAMPAIGN"] == 99
        assert {"CHANNEL", "MODULE", "OUTPUT", "RA_OBJ", "DEC_OBJ", "KEPMAG", "ORIGIN", "INSTRUME"} <= set(h0)
        assert h1["EXTNAME"] == "TARGETTABLES" and h1["TTYPE5"] == "FLUX" and h1["TTYPE4"] == "RAW_CNTS"
        assert (h1["TIMESYS"], h1["BJDREFI"], h1["BJDREFF"], h1["TIMEUNIT"]) == ("TDB", 2454833, 0.0, "d")
        assert h1["TIMEREF"] == "SOLARSYSTEM" and h1["TELAPSE"] > 0
        for col in ("TIMECORR", "CADENCENO", "FLUX_ERR", "FLUX_BKG", "FLUX_BKG_ERR", "QUALITY", "POS_CORR1",
                    "POS_CORR2", "COSMIC_RAYS"):
            assert col in hdul[1].columns.names
        assert set(np.unique(ap.data)) <= {1, 3} and ap.header["NPIXSAP"] == int((ap.data & 2).astype(bool).sum())
        assert hdul[1].data["FLUX"].shape[1:] == ap.data.shape
    with fits.open(next((k2_dir / "lc").iterdir())) as hdul:
        assert "FluxExporter2PipelineModule" in hdul[0].header["CREATOR"]
        assert hdul[1].header["EXTNAME"] == "LIGHTCURVE"
        data = hdul[1].data
        np.testing.assert_array_equal(data["PDCSAP_FLUX"], data["SAP_FLUX"])
        assert "no PDC" in str(hdul[1].header["COMMENT"])
        for col in ("SAP_QUALITY", "SAP_BKG_ERR", "MOM_CENTR1", "MOM_CENTR2", "POS_CORR1", "PDCSAP_FLUX_ERR"):
            assert col in data.columns.names


def test_tess_headers_and_names(tess, tess_dir):
    names = [p.name for p in (tess_dir / "tpf").iterdir()]
    assert all(re.fullmatch(r"tess\d{13}-s0999-0000009\d{9}-0120-s_tp\.fits", n) for n in names)
    with fits.open(tess_dir / "tpf" / names[0]) as hdul:
        h0, h1 = hdul[0].header, hdul[1].header
        assert h0["TELESCOP"] == "TESS" and h0["SECTOR"] == 999 and h0["SIMDATA"] is True
        assert {"CAMERA", "CCD", "TICID", "TESSMAG"} <= set(h0) and h0["OBJECT"] == f"TIC {h0['TICID']}"
        assert h1["EXTNAME"] == "PIXELS" and h1["BJDREFI"] == 2457000 and "1CRV5P" in h1
    with fits.open(next((tess_dir / "lc").iterdir())) as hdul:
        assert "LightCurveExporterPipelineModule" in hdul[0].header["CREATOR"]
        assert "QUALITY" in hdul[1].columns.names


def test_truth_files(k2, k2_dir):
    truth = Table.read(k2_dir / "truth.ecsv")
    assert len(truth) == k2.n_stars and truth.meta["seed"] == 11 and "halfsib_version" in truth.meta
    assert str(truth["column"].unit) == "pix" and str(truth["flux"].unit) == "electron / s"
    assert list(truth["n_planets"]) == list(k2.astro.n_planets(k2.n_stars))
    bodies = Table.read(k2_dir / "planets.ecsv")
    assert len(bodies) == len(k2.astro.bodies) and str(bodies["period"].unit) == "d"
    assert set(bodies["kind"]) <= {"planet", "eb"} and np.all(bodies["n_events"] >= 0)
    for table in (truth, bodies):  # "not applicable" is a masked value, never a NaN
        for name in table.colnames:
            if table[name].dtype.kind == "f":
                values = np.ma.getdata(table[name])[~np.ma.getmaskarray(table[name])]
                assert np.all(np.isfinite(values)), name
    assert np.ma.getmaskarray(bodies["sb_ratio"])[bodies["kind"] == "planet"].all()
    with fits.open(k2_dir / "truth_flux.fits") as hdul:
        np.testing.assert_array_equal(hdul["ASTRO_FLUX"].data, k2.astro.flux)
        assert hdul["APER_FLUX"].data.shape == (k2.n_stars, k2.timeline.n)
        assert list(hdul["STARS"].data["STAR_ID"]) == list(k2.ids)
        assert hdul["CADENCES"].data["FIRING"].sum() == k2.pointing.firing.sum()
    assert not [p for p in k2_dir.rglob(".*")]  # no temporary files left behind


def test_existing_files_are_not_overwritten(k2, k2_dir):
    with pytest.raises(ConfigurationError, match="overwrite"):
        write_campaign(k2, k2_dir, progress=False)


# ---------------------------------------------------------------- instrument


def test_k2_thruster_firings_every_six_hours(k2):
    q = k2.timeline.quality
    fired = np.flatnonzero(q & K2_FIRING)
    assert fired.size >= k2.timeline.n / 24 - 2
    gaps = np.diff(fired)
    assert np.all(gaps % 12 == 0)  # attitude checks every 12 long cadences
    assert np.median(gaps) * k2.timeline.timedel * 24 == pytest.approx(5.885, abs=0.01)
    roll = k2.pointing.roll
    after = roll[k2.timeline.n:]  # second exposure samples: roll after each firing
    assert np.all(after < roll[fired])  # the roll is reset at each firing


def test_roll_motion_grows_with_distance_and_turns_across_the_field(k2):
    """Centroids and POS_CORR follow the roll with a slope ⟂ the radius vector and ∝ its length."""
    sc, tl = k2.scene, k2.timeline
    roll = k2.pointing.cadence_mean(k2.pointing.roll)
    tau = (tl.time - tl.time[0]) / np.ptp(tl.time)
    good = (tl.quality == 0) & ~tl.no_data
    design = np.column_stack([np.ones_like(tau), tau, tau**2, roll])[good]

    def roll_slope(series: np.ndarray) -> float:
        return float(np.linalg.lstsq(design, series[good], rcond=None)[0][3])

    fx, fy = sc.focal(sc.col, sc.row)
    r = np.hypot(fx, fy)
    direction = np.column_stack([-fy, fx]) / r[:, None]
    centroid = np.array([(roll_slope(k2.mom_centr1[i]), roll_slope(k2.mom_centr2[i])) for i in range(k2.n_stars)])
    poscorr = np.array([(roll_slope(k2.pos_corr1[i]), roll_slope(k2.pos_corr2[i])) for i in range(k2.n_stars)])
    clean = k2.contamination < 0.01
    cosang = np.sum(centroid * direction, axis=1) / np.hypot(*centroid.T)
    assert np.all(cosang[clean] > np.cos(np.radians(10)))  # centroids move perpendicular to the radius
    assert np.all((np.hypot(*centroid.T) / r)[clean] > 0.3)  # diluted by the aperture, but there
    np.testing.assert_allclose(np.hypot(*poscorr.T), r, rtol=0.02)  # motion amplitude ∝ distance
    assert np.ptp(np.degrees(np.arctan2(direction[:, 1], direction[:, 0]))) > 10  # direction varies
    # the roll sawtooth itself: ~0.35-0.7 pixel per cycle at the patch centre
    sweep = np.ptp(roll[: 12 * (tl.n // 12)].reshape(-1, 12), axis=1) * np.hypot(*k2.config.spec.patch_offset)
    assert 0.25 < np.median(sweep) < 1.0


def test_k2_gaps_and_nan_times(k2, k2_dir):
    tl = k2.timeline
    assert 1 <= tl.nan_time.sum() <= tl.no_data.sum() <= 10
    assert np.all(tl.quality[tl.no_data] & K2_NO_DATA)
    with fits.open(next((k2_dir / "lc").iterdir())) as hdul:
        data = hdul[1].data
        assert np.array_equal(np.isnan(data["TIME"]), tl.nan_time)
        assert np.all(np.isnan(data["SAP_FLUX"][tl.no_data]))
        assert np.all(np.isfinite(data["SAP_FLUX"][~tl.no_data]))


def test_tess_orbits_dumps_and_scattered_light(tess):
    tl, pt = tess.timeline, tess.pointing
    gap = tl.nan_time
    assert gap.sum() > 0 and np.all(tl.quality[gap] == 136)  # Earth point + manual exclude, as SPOC
    first, last = np.flatnonzero(gap)[[0, -1]]
    assert first > 0.3 * tl.n and last < 0.7 * tl.n  # one gap between two orbits
    dumps = np.flatnonzero(tl.quality & TESS_DUMP)
    starts = dumps[np.concatenate([[True], np.diff(dumps) > 1])]
    assert starts.size >= 2
    dx, dy = pt.cadence_mean(pt.dx), pt.cadence_mean(pt.dy)
    ends = dumps[np.concatenate([np.diff(dumps) > 1, [True]])]
    jumps = [np.hypot(np.median(dx[e + 1 : e + 31]) - np.median(dx[s - 30 : s]),
                      np.median(dy[e + 1 : e + 31]) - np.median(dy[s - 30 : s]))
             for s, e in zip(starts, ends) if s > 30 and e + 30 < tl.n and not gap[s - 30 : e + 31].any()]
    jitter = np.std(np.diff(dx[~gap])) / np.sqrt(2)  # per-cadence pointing jitter [pixel]
    noise = 1.2533 * jitter * np.sqrt(2 / 30)  # of a difference of two 30-cadence medians
    assert jumps and np.median(jumps) > 5 * noise  # the pointing jumps at momentum dumps
    stray = (tl.quality & TESS_STRAY) > 0
    assert stray[: tl.n // 40].all() and stray[first - 5 : first].all()  # near the orbit edges ...
    assert not stray[first // 3 : 2 * first // 3].any()  # ... not mid-orbit
    bkg = tess.sap_bkg[0]
    assert np.nanmedian(bkg[:20]) > 2 * np.nanmedian(bkg[first // 3 : 2 * first // 3])


# ---------------------------------------------------------------- astrophysics and pixels


def test_transit_is_in_the_pixels_and_the_sap_flux(quiet_hosts):
    camp = quiet_hosts
    tl = camp.timeline
    good = ~tl.no_data
    checked = 0
    for body in camp.astro.bodies:
        i, p = body.star, body.params
        model = transit_flux(tl.time, p, tl.timedel)
        phase = np.mod(tl.time - p.t0 + 0.5 * p.period, p.period) - 0.5 * p.period
        intr = good & (np.abs(phase) < 0.3 * transit_duration(p))
        near = good & (np.abs(phase) > transit_duration(p)) & (np.abs(phase) < 4 * transit_duration(p))
        if intr.sum() < 4 or len([b for b in camp.astro.bodies if b.star == i]) > 1:
            continue
        # truth: the astrophysical flux carries the batman transit at the truth epochs
        dip = 1 - camp.astro.flux[i][intr].mean() / camp.astro.flux[i][near].mean()
        assert dip == pytest.approx(1 - model[intr].mean(), abs=5e-4)
        # pixels: the transit multiplies the star's light (instrument response divides out)
        flat = dataclasses.replace(camp.astro, flux=camp.astro.flux / np.where(np.arange(camp.n_stars)[:, None] == i,
                                                                              model, 1.0))
        no_transit = dataclasses.replace(camp, astro=flat).pixels(i, noise=False).stars[:, camp.apertures[i]]
        ratio = camp.aperture_flux[i] / no_transit.sum(axis=1, dtype=np.float64)
        np.testing.assert_allclose(ratio[good], model[good], atol=2e-6)
        # data: noisy SAP follows the noiseless aperture flux through the transit, within its errors
        # (up to a constant offset: the background estimate ignores the flat-field residual)
        pull = (camp.sap_flux[i] - camp.aperture_flux[i]) / camp.sap_flux_err[i]
        assert abs(pull[intr].mean() - pull[near].mean()) < 4 * np.sqrt(1 / intr.sum() + 1 / near.sum())
        assert np.std(pull[good]) == pytest.approx(1.0, abs=0.1)
        checked += 1
    assert checked >= 2


def test_noise_of_a_bright_star_matches_photon_plus_read_noise(quiet_hosts):
    camp, spec, tl = quiet_hosts, quiet_hosts.config.spec, quiet_hosts.timeline
    i = 0
    good = ~tl.no_data
    n_ap = camp.apertures[i].sum()
    resid = (camp.sap_flux[i] - camp.aperture_flux[i])[good]
    err = camp.sap_flux_err[i][good]
    robust = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    assert robust / np.median(err) == pytest.approx(1.0, abs=0.08)
    sky = np.median(camp.sap_bkg[i][good]) / n_ap
    electrons = (np.median(camp.aperture_flux[i]) + n_ap * sky) * tl.exposure
    expected = np.sqrt(electrons + n_ap * tl.n_reads * spec.read_noise**2) / tl.exposure
    assert np.median(err) == pytest.approx(expected, rel=0.03)
    assert 30e-6 < np.median(err) / np.nanmedian(camp.sap_flux[i]) < 120e-6  # Kepler: ~60-80 ppm at Kp 12


def test_eb_light_leaks_into_the_neighbour(k2):
    leakers = [b for b in k2.astro.bodies if b.kind == "eb" and k2.scene.eb_neighbour[b.star] >= 0]
    assert leakers
    body = leakers[0]
    eb, host = body.star, int(k2.scene.eb_neighbour[body.star])
    assert 2.0 <= np.hypot(k2.scene.col[eb] - k2.scene.col[host], k2.scene.row[eb] - k2.scene.row[host]) <= 4.0
    eclipses = eb_flux(k2.time, body.params, body.sb_ratio, k2.timeline.timedel)
    assert eclipses.min() < 0.99
    in_eclipse = eclipses < 1 - 0.5 * (1 - eclipses.min())
    host_astro = k2.astro.flux[host]
    assert abs(host_astro[in_eclipse].mean() / host_astro[~in_eclipse].mean() - 1) < 2e-3  # host itself is quiet
    # the neighbour's aperture light changes exactly with the EB's eclipses
    flat = dataclasses.replace(k2.astro, flux=np.where(np.arange(k2.n_stars)[:, None] == eb,
                                                       k2.astro.flux / eclipses, k2.astro.flux))
    no_eclipse = dataclasses.replace(k2, astro=flat).pixels(host, noise=False).stars[:, k2.apertures[host]].sum(1)
    leak = k2.aperture_flux[host] - no_eclipse
    good = ~k2.timeline.no_data
    assert np.all(np.abs(leak[good & (eclipses == 1.0)]) < 1e-3 * np.median(no_eclipse))  # nothing outside eclipses
    assert np.all(leak[good & (eclipses < 0.995)] < 0)  # a dip in every eclipse
    assert leak.min() < -5 * np.nanmedian(k2.sap_flux_err[host])  # visible above the noise
    # and it shows in the noisy pixels closest to the EB
    pix = k2.pixels(host).flux
    c = int(round(k2.scene.col[eb])) - int(k2.scene.stamp_col0[host])
    r = int(round(k2.scene.row[eb])) - int(k2.scene.stamp_row0[host])
    series = pix[:, r, c].astype(float)
    assert np.nanmean(series[in_eclipse & good]) < np.nanmean(series[~in_eclipse & good])


def test_saturated_stars_bleed_along_columns_and_conserve_flux():
    config = SimulationConfig(mission="k2", n_stars=2, n_cadences=40, seed=4, mag_range=(8.5, 9.0), field_density=0.0,
                              planet_fraction=0.0, eb_fraction=0.0)
    camp = simulate_campaign(config)
    assert camp.saturated.all()
    well = config.spec.full_well / config.cadence_spec.frame_time
    for i in range(2):
        bled = camp.pixels(i, noise=False).stars.astype(float)
        raw = camp.pixels(i, noise=False, saturation=False).stars.astype(float)
        np.testing.assert_allclose(bled.sum(axis=(1, 2)), raw.sum(axis=(1, 2)), rtol=1e-5)
        sky = camp.sky(i)[:, None, None] * camp.scene.flat_stamp(i)
        assert np.all(bled + sky <= well * (1 + 1e-5))
        full = (bled + sky)[0] >= 0.999 * well
        rows, cols = np.nonzero(full)
        assert np.ptp(rows) > 2 * np.ptp(cols)  # bled along the columns
        assert raw.max() > 2 * bled.max()


def test_bleed_columns_is_exact_on_a_toy_column():
    charge = np.zeros((1, 9, 2))
    charge[0, 4, 0] = 3.5  # 3.5 wells of charge in one pixel; the other column is below the well
    charge[0, 4, 1] = 0.5
    out = bleed_columns(charge, 1.0)
    np.testing.assert_allclose(out[0, :, 0], [0, 0, 0.25, 1, 1, 1, 0.25, 0, 0])
    np.testing.assert_array_equal(out[0, :, 1], charge[0, :, 1])


def test_gp_variability_has_the_kernel_amplitude(rng):
    from celerite2 import terms

    time = np.arange(3000) * 0.02
    kernel = terms.SHOTerm(sigma=1e-3, rho=0.3, Q=1 / np.sqrt(2))
    draws = sample_gp(time, kernel, rng, size=200)
    assert draws.var(axis=0).mean() == pytest.approx(1e-6, rel=0.05)
    lag = int(0.3 / 0.02)
    corr = np.mean(draws[:-lag] * draws[lag:]) / np.mean(draws**2)
    assert corr == pytest.approx(kernel.get_value(np.array([0.3]))[0] / 1e-6, abs=0.05)
    rot = terms.RotationTerm(sigma=2e-3, period=1.0, Q0=2.0, dQ=1.0, f=0.5)
    assert sample_gp(time, rot, rng, size=100).var(axis=0).mean() == pytest.approx(4e-6, rel=0.1)


def test_campaign_variability_matches_truth_statistically(k2):
    var = k2.astro.variability
    quiet = [i for i in range(k2.n_stars) if var.kind[i] == "granulation" and not any(
        b.star == i for b in k2.astro.bodies)]
    assert quiet
    ratio = [np.std(k2.astro.flux[i]) / var.gran_sigma[i] for i in quiet]
    assert 0.6 < np.median(ratio) < 1.3


# ---------------------------------------------------------------- command line


def test_cli_writes_a_campaign(tmp_path, capsys):
    from halfsib.cli import main

    out = tmp_path / "sim"
    args = ["simulate", "--mission", "k2", "--stars", "3", "--cadences", "60", "--seed", "2", "-o", str(out), "-q"]
    assert main(args) == 0
    assert len(list((out / "tpf").glob("ktwo*_lpd-targ.fits"))) == 3
    assert len(list((out / "lc").glob("ktwo*_llc.fits"))) == 3
    assert (out / "truth.ecsv").exists() and (out / "planets.ecsv").exists() and (out / "truth_flux.fits").exists()
    text = capsys.readouterr().out
    assert "wrote 9 files" in text and "planets" in text and "eclipsing binaries" in text
    assert main(args) == 1  # refuses to overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    tess = tmp_path / "tess"
    assert main(["simulate", "--mission", "tess", "--cadence", "30min", "--stars", "2", "--cadences", "50",
                 "--no-pixels", "--out", str(tess), "-q"]) == 0
    assert not (tess / "tpf").exists() and len(list((tess / "lc").glob("tess*_lc.fits"))) == 2


def test_cli_errors_and_help(tmp_path, capsys):
    from halfsib.cli import main

    assert main(["simulate", "--stars", "0", "-o", str(tmp_path / "x"), "-q"]) == 1
    assert "n_stars" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    assert "examples:" in capsys.readouterr().out
