"""The bad-input corpus: every damaged file gives a halfsib error naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

import halfsib
from halfsib.cli import main
from halfsib.io import read

from helpers.corrupt import CASES, FITS_FORMATS, HANDLED, write_text_cases

CASE_IDS = sorted(CASES)


def _make(case, fmt, zoo, tmp_path):
    maker, error, words = CASES[case]
    out = maker(zoo[fmt], fmt, tmp_path / f"{case}_{fmt}.fits")
    if out is None:
        pytest.skip(f"{case} does not apply to {fmt}")
    return out, error, words


def _check(err, path, error, words):
    message = str(err.value)
    assert type(err.value).__name__ == error, message
    assert str(path) in message
    assert any(w.lower() in message.lower() for w in words), message


@pytest.mark.parametrize("fmt", FITS_FORMATS)
@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_fits_files(case, fmt, zoo, tmp_path):
    path, error, words = _make(case, fmt, zoo, tmp_path)
    with pytest.raises(halfsib.HalfsibError) as err:
        read(path)
    _check(err, path, error, words)


@pytest.mark.parametrize("fmt", FITS_FORMATS)
@pytest.mark.parametrize("case", sorted(HANDLED))
def test_error_columns_without_errors_are_ignored_with_a_warning(case, fmt, zoo, tmp_path, caplog):
    maker, _ = HANDLED[case]
    path = maker(zoo[fmt], fmt, tmp_path / f"{case}_{fmt}.fits")
    if path is None:
        pytest.skip(f"{case} does not apply to {fmt}")
    if fmt.endswith("tpf"):  # pixel errors cannot be estimated pixel by pixel: refused, naming the column
        with pytest.raises(halfsib.DataValidationError, match="the FLUX_ERR column is (NaN|zero or negative) for "
                                                              "every pixel") as err:
            read(path)
        assert str(path) in str(err.value)
        return
    lc = read(path)
    assert lc.flux_err_estimated and lc.good.sum() > 100 and np.all(lc.flux_err[lc.good] > 0)
    assert "estimating the white noise from the scatter" in caplog.text


def test_bad_text_tables(zoo, tmp_path):
    for case, (path, error, words) in write_text_cases(zoo["csv"], tmp_path).items():
        with pytest.raises(halfsib.HalfsibError) as err:
            read(path)
        _check(err, path, error, words)


def test_missing_and_directory(tmp_path):
    with pytest.raises(halfsib.FileFormatError, match="no such file"):
        read(tmp_path / "nope.fits")
    with pytest.raises(halfsib.FileFormatError, match="directory"):
        read(tmp_path)


def test_min_cadences_is_a_setting(zoo):
    with pytest.raises(halfsib.DataValidationError, match="at least 1000"):
        read(zoo["kepler-lc"], min_cadences=1000)


def test_info_reports_each_bad_file_and_exits_nonzero(zoo, tmp_path, capsys):
    bad = [CASES[c][0](zoo["kepler-lc"], "kepler-lc", tmp_path / f"{c}.fits") for c in ("truncated_data", "not_fits")]
    status = main(["info", str(zoo["kepler-lc"]), *map(str, bad)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "EPIC 200000001" in out and "299 good / 300 total" in out
    for path in bad:
        assert str(path) in err
    assert "Traceback" not in err and "2 of 3 file(s) could not be read" in err


@pytest.mark.parametrize("fmt", ["kepler-tpf", "tess-tpf"])
def test_an_empty_aperture_sums_the_pixels_that_hold_data(fmt, zoo, tmp_path, caplog):
    from helpers.corrupt import empty_aperture

    path = empty_aperture(zoo[fmt], fmt, tmp_path / f"empty_aperture_{fmt}.fits")
    series = read(path)
    assert not series.aperture[0].any() and series.aperture[1:].all()
    lc = series.to_lightcurve()
    assert lc.good.sum() > 0.9 * series.good.sum() and np.all(np.isfinite(lc.flux[lc.good]))
    assert "aperture is empty; summing the" in caplog.text


def test_a_fill_value_in_one_cadence_is_clipped_by_detrend(zoo, tmp_path, capsys):
    from astropy.io import fits
    from helpers.corrupt import wild_cadence

    path = wild_cadence(zoo["kepler-lc"], "kepler-lc", tmp_path / "wild.fits")
    out = tmp_path / "out.fits"
    assert main(["detrend", str(path), "-o", str(out), "--kernel", "none", "-q"]) == 0, capsys.readouterr().err
    with fits.open(out) as hdul:
        assert hdul[0].header["HSNCLIP"] >= 1 and np.all(np.isfinite(hdul[1].data["FLUX"]))
