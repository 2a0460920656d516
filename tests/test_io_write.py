"""Outputs: FITS light curves lightkurve can read, ECSV tables with units, atomic and with provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import halfsib
from halfsib._atomic import atomic_path
from halfsib.io import provenance, read, write_lightcurve, write_table


def test_fits_round_trip_through_lightkurve_and_halfsib(zoo, tmp_path):
    from halfsib.io.pixels import import_lightkurve

    lc = read(zoo["kepler-lc"])
    out = tmp_path / "out.fits"
    record = provenance([zoo["kepler-lc"]], {"flux_column": "SAP_FLUX"})
    write_lightcurve(lc, out, columns={"corrected": (lc.flux / 2, "electron / s")}, record=record)
    lk_lc = import_lightkurve().read(out)
    np.testing.assert_allclose(lk_lc.time.value, lc.time[lc.good])
    assert lk_lc.time.format == "bkjd" and lk_lc.time.scale == "tdb"
    np.testing.assert_allclose(lk_lc.flux.value, lc.flux[lc.good])
    np.testing.assert_allclose(lk_lc["corrected"].value, lc.flux[lc.good] / 2)
    again = read(out)
    assert again.meta.mission == "K2" and again.meta.target_id == lc.meta.target_id
    np.testing.assert_allclose(again.flux, lc.flux[lc.good])
    header = fits.getheader(out, 0)
    assert header["CREATOR"] == f"halfsib {halfsib.__version__}"
    assert json.loads(header["HSINPUTS"]) == [str(zoo["kepler-lc"])]
    assert json.loads(header["HSCONFIG"]) == {"flux_column": "SAP_FLUX"}
    assert fits.getheader(out, 1)["BJDREFI"] == 2454833


def test_no_nan_reaches_a_fits_output(zoo, tmp_path):
    lc = read(zoo["tess-lc"])
    bad = lc.flux.copy()
    bad[lc.good.nonzero()[0][3]] = np.nan
    with pytest.raises(halfsib.DataValidationError, match="non-finite"):
        write_lightcurve(lc, tmp_path / "x.fits", columns={"model": (bad, "")})
    assert not (tmp_path / "x.fits").exists()
    with pytest.raises(halfsib.DataValidationError, match="shape"):
        write_lightcurve(lc, tmp_path / "y.fits", columns={"model": (bad[:5], "")})


def test_ecsv_table_with_units_and_provenance(tmp_path):
    table = Table({"period": [1.5, 2.5], "depth": [100.0, 200.0]})
    table["period"].unit = "d"
    table["depth"].unit = "ppm"
    out = write_table(table, tmp_path / "cands.ecsv", record=provenance(["a.fits"], {"snr_min": 7}))
    back = Table.read(out)
    assert str(back["period"].unit) == "d" and str(back["depth"].unit) == "ppm"
    assert back.meta["provenance"]["settings"] == {"snr_min": 7}
    assert back.meta["provenance"]["halfsib_version"] == halfsib.__version__
    fits_out = write_table(table, tmp_path / "cands.fits")
    assert "halfsib_version" in json.loads(Table.read(fits_out).meta["HSPROV"])


def test_ecsv_refuses_unmasked_nan(tmp_path):
    table = Table({"depth": [1.0, np.nan]})
    with pytest.raises(halfsib.DataValidationError, match="mask them"):
        write_table(table, tmp_path / "bad.ecsv")
    masked = Table({"depth": np.ma.masked_invalid([1.0, np.nan])})
    back = Table.read(write_table(masked, tmp_path / "ok.ecsv"))
    assert back["depth"].mask[1]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]  # no temporary left behind
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".txt" and tmp.parent == tmp_path
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(FileExistsError, match="overwrite"):
        with atomic_path(target, overwrite=False):
            pass
