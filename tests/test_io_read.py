"""The one entry point reads every supported format, with the right metadata and masks."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

import halfsib
from halfsib.io import read, read_basis
from halfsib.timeseries import LightCurve, PixelSeries

LC_FORMATS = ["kepler-lc", "tess-lc", "k2sff", "k2sc", "csv", "txt", "ecsv"]


@pytest.mark.parametrize("fmt", LC_FORMATS)
def test_light_curve_formats_read_as_light_curves(zoo, fmt):
    lc = read(zoo[fmt])
    assert isinstance(lc, LightCurve)
    assert lc.n_cadences == 300
    assert lc.time.dtype == np.float64 and lc.flux.dtype == np.float64
    assert np.all(np.isfinite(lc.flux[lc.good])) and np.all(lc.flux_err[lc.good] > 0)
    assert lc.meta.source == str(zoo[fmt])


@pytest.mark.parametrize("fmt,mission,target,season,detector,time_format", [
    ("kepler-lc", "K2", "EPIC 200000001", "C5", "ch12", "bkjd"),
    ("tess-lc", "TESS", "TIC 900000001", "S7", "cam2-ccd3", "btjd"),
    ("k2sff", "K2", "EPIC 200000002", "C5", "ch13", "bkjd"),
    ("k2sc", "K2", "EPIC 200000003", "C5", "ch14", "bkjd"),
    ("kepler-tpf", "K2", "EPIC 200000004", "C5", "ch12", "bkjd"),
    ("tess-tpf", "TESS", "TIC 900000002", "S7", "cam2-ccd3", "btjd"),
])
def test_metadata_and_time_system(zoo, fmt, mission, target, season, detector, time_format):
    series = read(zoo[fmt])
    assert series.meta.file_format == fmt
    assert (series.meta.mission, series.meta.target_id) == (mission, target)
    assert (series.meta.season, series.meta.detector) == (season, detector)
    assert series.time_format == time_format
    with fits.open(zoo[fmt]) as hdul:
        time_col = hdul[1].columns.names[0]
        np.testing.assert_array_equal(series.time, hdul[1].data[time_col])
    offset = 2454833.0 if time_format == "bkjd" else 2457000.0
    np.testing.assert_allclose(series.astropy_time.jd, series.time + offset, rtol=0, atol=1e-9)
    assert series.astropy_time.scale == "tdb"


def test_official_light_curve_defaults_to_raw_sap_flux_and_keeps_pdcsap(zoo):
    lc = read(zoo["kepler-lc"])
    with fits.open(zoo["kepler-lc"]) as hdul:
        np.testing.assert_allclose(lc.flux, hdul[1].data["SAP_FLUX"])
        np.testing.assert_allclose(lc.columns["pdcsap_flux"], hdul[1].data["PDCSAP_FLUX"])
    assert lc.meta.flux_column == "SAP_FLUX" and lc.flux_unit == "electron / s"
    assert {"centroid_col", "centroid_row", "pos_corr1", "pos_corr2"} <= set(lc.columns)
    pdc = read(zoo["kepler-lc"], flux_column="pdcsap_flux")
    np.testing.assert_allclose(pdc.flux, lc.columns["pdcsap_flux"])


def test_quality_flags_build_the_good_mask(zoo):
    lc = read(zoo["kepler-lc"])  # cadence 10 carries the K2 thruster-firing flag
    assert not lc.good[10] and lc.n_good == 299
    assert read(zoo["kepler-lc"], quality_bitmask="none").n_good == 300
    tess = read(zoo["tess-lc"])  # cadence 10 is a momentum dump
    assert not tess.good[10]


def test_estimated_white_noise_ignores_the_k2_roll_sawtooth(rng):
    """Second differences cancel a drift that is linear between thruster firings (first
    differences do not): the estimate is close to the white noise, not the roll (and the
    model fits the white noise anyway: test_model.py::test_estimated_errors_leave_...)."""
    from halfsib.io.validate import estimate_white_noise

    n = 3000
    sawtooth = 2e-3 * (np.arange(n) % 12) / 12.0  # ~6-h roll ramps of 2000 ppm, reset by the thrusters
    flux = 1.0 + sawtooth + 1e-4 * rng.standard_normal(n)
    good = np.ones(n, bool)
    estimate = estimate_white_noise(flux, good, "test")
    assert estimate == pytest.approx(1e-4, rel=0.3)  # the resets (2 of 12 differences) still widen the MAD
    first = 1.4826 * np.median(np.abs(np.diff(flux))) / np.sqrt(2)
    assert first > 1.5 * estimate  # what the first-difference estimate used to give
    with pytest.raises(halfsib.DataValidationError, match="does not scatter"):
        estimate_white_noise(np.ones(100), np.ones(100, bool), "test")


def test_k2sff_moving_flag_and_estimated_errors(zoo):
    lc = read(zoo["k2sff"])
    assert lc.flux_err_estimated
    assert np.all(lc.quality[::50] & 1048576) and not lc.good[::50].any()
    rel = lc.flux[lc.good]
    assert lc.flux_err[0] == pytest.approx(np.std(rel), rel=0.2)  # white noise of 1e-3
    assert "fcor" in lc.columns and "arclength" in lc.columns


def test_nan_flux_becomes_mask_not_error(tmp_path, zoo):
    path = tmp_path / "some_nan.fits"
    import shutil

    shutil.copy(zoo["tess-lc"], path)
    with fits.open(path, mode="update") as hdul:
        hdul[1].data["SAP_FLUX"][20:30] = np.nan
        hdul[1].data["TIME"][40] = np.nan
    lc = read(path)
    assert not lc.good[20:30].any() and not lc.good[40]
    assert lc.n_good == 300 - 10 - 1 - 1


def test_pixel_files(zoo):
    for fmt in ("kepler-tpf", "tess-tpf"):
        px = read(zoo[fmt])
        assert isinstance(px, PixelSeries)
        assert px.flux.shape == (300, 5, 6) and px.shape == (5, 6)
        assert px.aperture.sum() == 12 and px.corner == (300, 400)
        sap = px.to_lightcurve()
        np.testing.assert_allclose(sap.flux, px.flux[:, px.aperture].sum(axis=1))
        assert sap.n_good == 300


def test_tables_find_columns_by_name_or_position(zoo):
    csv = read(zoo["csv"])
    assert not csv.flux_err_estimated and csv.time_format == "unknown"
    txt = read(zoo["txt"], time_format="bkjd")
    assert txt.flux_err_estimated and txt.time_format == "bkjd"
    ecsv = read(zoo["ecsv"])
    assert ecsv.time_format == "btjd" and ecsv.flux_unit == "electron / s"
    assert ecsv.meta.target_id == "TIC 900000003"
    with pytest.raises(ValueError, match="time system"):
        csv.astropy_time


def test_basis_table(zoo):
    basis = read_basis(zoo["basis"], time_format="bkjd")
    assert basis.vectors.shape == (300, 5) and basis.names[0] == "v1"
    np.testing.assert_array_equal(basis.vectors[:, 0], 1.0)
    assert basis.comments and "120,299" in basis.comments[0]
    with pytest.raises(halfsib.FileFormatError, match="basis table"):
        read(zoo["basis"])


def test_lightkurve_objects_round_trip(zoo):
    from halfsib.io.pixels import import_lightkurve

    lk = import_lightkurve()
    lk_lc = lk.read(zoo["kepler-lc"], quality_bitmask="none", flux_column="sap_flux")
    lc = read(lk_lc)
    ours = read(zoo["kepler-lc"])
    assert lc.time_format == "bkjd" and lc.meta.mission == "K2"
    np.testing.assert_allclose(lc.time, ours.time)
    np.testing.assert_allclose(lc.flux, ours.flux)
    np.testing.assert_array_equal(lc.good, ours.good)
    back = ours.to_lightkurve()
    assert len(back) == ours.n_good
    assert isinstance(back, lk.KeplerLightCurve) and back.meta["MISSION"] == "K2"
    assert back.meta["LABEL"] == ours.meta.target_id and back.meta["TARGETID"] == int(ours.meta.target_id.split()[-1])
    np.testing.assert_allclose(back.flux.value, ours.flux[ours.good])
    np.testing.assert_allclose(back.time.value, ours.time[ours.good])
    tpf = lk.read(zoo["kepler-tpf"])
    px = read(tpf)
    np.testing.assert_allclose(px.flux, read(zoo["kepler-tpf"]).flux)


def test_read_rejects_other_objects():
    with pytest.raises(TypeError, match="path or a lightkurve"):
        read(42)


def test_lazy_public_api():
    assert halfsib.read is read
    assert "read" in dir(halfsib)
    with pytest.raises(AttributeError):
        halfsib.does_not_exist


def test_same_photometry_tells_a_copy_from_a_star_with_the_same_systematics(rng):
    from halfsib.timeseries import photometry_matches

    t = np.arange(3000) * 0.0204
    systematics = 0.01 * np.sin(t / 0.25) + 0.02 * np.sin(t / 7.0)  # shared, 100x the noise
    star = 1 + systematics + 1e-4 * rng.standard_normal(t.size)
    neighbour = 1 + 1.1 * systematics + 1e-4 * rng.standard_normal(t.size)
    copy = np.round(star * 5321.7 + 12.0, 2)  # rescaled, offset, rounded (a table export)
    assert photometry_matches(t, star, t, copy)
    assert photometry_matches(t[::2], star[::2], t + 1e-6, copy)  # a subset, times written with rounding
    assert not photometry_matches(t, star, t, neighbour)
    assert not photometry_matches(t, star, t + 0.5, copy)  # other cadences: nothing pairs
    assert not photometry_matches(t[:10], star[:10], t[:10], copy[:10])  # too few to decide


def _everest_file(path, rng, n=300):
    mask = np.zeros((4, 5), int)
    mask[1:3, 1:4] = 1
    pixels = 100 + rng.random((n, 6)) * 10
    raw = pixels.sum(axis=1)
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="Kepler", MISSION="k2", OBJECT="EPIC 200000001", KEPLERID=200000001,
                          CAMPAIGN=5, CHANNEL=74, RA_OBJ=124.0, DEC_OBJ=13.0, KEPMAG=12.0)
    arrays = fits.BinTableHDU.from_columns([
        fits.Column("CADN", "D", array=np.arange(n) + 1000.0),
        fits.Column("FLUX", "D", array=np.full(n, raw.mean())),  # the peer's answer: flat
        fits.Column("FRAW", "D", array=raw), fits.Column("FRAW_ERR", "D", array=np.sqrt(raw)),
        fits.Column("QUALITY", "J", array=np.zeros(n, np.int32)),
        fits.Column("TIME", "D", array=2300 + 0.0204 * np.arange(n), unit="BJD - 2454833"),
    ], name="ARRAYS")
    pix = fits.BinTableHDU.from_columns([fits.Column("FPIX", "6D", array=pixels)], name="PIXELS")
    ap = fits.ImageHDU(mask, name="APERTURE MASK")
    ap.header.update(CRVAL1P=231, CRVAL2P=531)
    fits.HDUList([primary, arrays, pix, ap]).writeto(path)
    return pixels, raw


def test_everest_files_give_their_raw_pixels(tmp_path, rng):
    pixels, raw = _everest_file(tmp_path / "hlsp_everest_k2_llc_200000001-c05_kepler_v2.0_lc.fits", rng)
    series = read(tmp_path / "hlsp_everest_k2_llc_200000001-c05_kepler_v2.0_lc.fits")
    assert isinstance(series, PixelSeries) and series.meta.file_format == "everest"
    assert series.meta.target_id == "EPIC 200000001" and series.time_format == "bkjd"
    assert series.corner == (231, 531) and series.aperture.sum() == 6
    np.testing.assert_allclose(series.flux[:, series.aperture], pixels)  # row-major aperture order
    assert np.isnan(series.flux[:, ~series.aperture]).all()
    lc = series.to_lightcurve()
    np.testing.assert_allclose(lc.flux, raw)
    np.testing.assert_allclose(lc.flux_err, np.sqrt(raw))
    assert np.ptp(series.columns["everest_flux"]) == 0  # kept, never used as the flux
    from halfsib.io.identify import identify

    assert identify(tmp_path / "hlsp_everest_k2_llc_200000001-c05_kepler_v2.0_lc.fits") == "pixels"


@pytest.mark.parametrize("fmt", ["tess-lc", "k2sff", "kepler-tpf"])
def test_gzip_compressed_fits_reads_like_the_file_and_a_cut_archive_is_refused(zoo, tmp_path, fmt):
    """``.fits.gz`` as archives ship them: the same series as the plain file; a cut archive
    is refused as truncated, naming the file (astropy alone reads its first HDUs silently)."""
    import gzip
    import shutil

    from halfsib.exceptions import FileFormatError

    packed = tmp_path / (zoo[fmt].name + ".gz")
    with open(zoo[fmt], "rb") as plain, gzip.open(packed, "wb") as archive:
        shutil.copyfileobj(plain, archive)
    original, unpacked = read(zoo[fmt]), read(packed)
    assert type(unpacked) is type(original) and unpacked.meta.target_id == original.meta.target_id
    np.testing.assert_array_equal(unpacked.flux, original.flux)
    np.testing.assert_array_equal(unpacked.good, original.good)
    cut = tmp_path / ("cut_" + packed.name)
    cut.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(FileFormatError, match="truncated") as err:
        read(cut)
    assert str(cut) in str(err.value)


def test_text_in_a_numeric_table_column(tmp_path):
    """``n/a`` (or another missing-value marker) in a table's flux is a missing cadence; any
    other text is refused naming the column, the data row and the entry (was a traceback)."""
    from halfsib.exceptions import FileFormatError

    def write(name: str, odd: str) -> str:
        path = tmp_path / name
        rows = [f"{0.02 * i:.2f},{odd if i == 7 else 1.0 + 1e-3 * np.sin(i)},0.001" for i in range(60)]
        path.write_text("time,flux,flux_err\n" + "\n".join(rows) + "\n")
        return str(path)

    lc = read(write("missing.csv", "n/a"))
    assert np.isnan(lc.flux[7]) and not lc.good[7] and lc.good.sum() == 59
    with pytest.raises(FileFormatError, match=r"column 'flux', data row 8: 'abc' is not a number") as err:
        read(write("text.csv", "abc"))
    assert "text.csv" in str(err.value)


def test_zero_errors_message_prints_plain_numbers(tmp_path):
    from halfsib.exceptions import DataValidationError

    path = tmp_path / "zero.csv"
    path.write_text("time,flux,flux_err\n" + "\n".join(f"{0.02 * i:.2f},1.0,{i % 2}" for i in range(60)) + "\n")
    with pytest.raises(DataValidationError, match=r"\(e\.g\. 0\)") as err:
        read(path)
    assert "np.float64" not in str(err.value) and "--flux-err-column none" in str(err.value)


def test_a_lightkurve_k2sff_object_reads_with_estimated_errors(zoo, caplog):
    """lightkurve gives K2SFF a flux_err of NaN everywhere: that is no error column, not NaN flux."""
    import lightkurve as lk

    lc = read(lk.read(zoo["k2sff"]))
    assert lc.flux_err_estimated and lc.good.sum() > 100 and np.all(lc.flux_err[lc.good] > 0)
    assert "flux_err is NaN on every cadence" in caplog.text


def test_unknown_quality_bitmask_is_named_before_the_file_is_opened(tmp_path):
    from halfsib.exceptions import ConfigurationError

    for bad in ("bogus", -5, True):
        with pytest.raises(ConfigurationError, match="--quality-bitmask"):
            read(tmp_path / "not_even_there.fits", quality_bitmask=bad)


@pytest.mark.parametrize("style", ["csv", "whitespace", "commented_header"])
def test_user_tables_without_a_plain_header(tmp_path, style):
    """Headerless time, flux[, error] (TLS, allesfitter, many papers) and a commented header
    ('# Time, flux, Xc, Yc', a raw K2 light curve with centroids) are light curves."""
    rng = np.random.default_rng(2)
    t = 2000.0 + 0.0204 * np.arange(300)
    f = 1.0 + 2e-4 * rng.standard_normal(t.size)
    rows = [(a, b, 2e-4, 500 + 0.1 * np.sin(a), 300.0) for a, b in zip(t, f)]
    if style == "csv":
        text, name = "\n".join(f"{a:.6f},{b:.7f},{e}" for a, b, e, _, _ in rows), "lc.csv"
    elif style == "whitespace":
        text, name = "\n".join(f"{a:.6f} {b:.7f} {e}" for a, b, e, _, _ in rows), "lc.dat"
    else:
        text = "# Time, flux, Xc, Yc\n" + "\n".join(f"{a:.6f}, {b:.7f}, {x:.4f}, {y:.4f}" for a, b, _, x, y in rows)
        name = "lc.csv"
    (tmp_path / name).write_text(text + "\n")
    lc = read(tmp_path / name)
    assert lc.n_cadences == 300 and lc.good.all()
    np.testing.assert_allclose(lc.time, t, atol=1e-6)
    np.testing.assert_allclose(lc.flux, f, atol=1e-7)
    if style != "commented_header":
        assert not lc.flux_err_estimated and np.allclose(lc.flux_err, 2e-4)
