"""Every real mission file in ../shared/data is read correctly (skipped where the folder is absent)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import halfsib
import pytest

from halfsib.cli import main
from halfsib.io import align, read, read_basis, read_many
from halfsib.io.pixels import import_lightkurve
from halfsib.io.quality import default_bitmask

pytestmark = pytest.mark.shared_data

# folder glob -> (count, format, mission, season, cadence range, time format)
SETS = {
    "k2-c13/k2sff/*.fits": (132, "k2sff", "K2", "C13", (3427, 3607), "bkjd"),
    "k2-c13/k2sc/*.fits": (132, "k2sc", "K2", "C13", (3896, 3896), "bkjd"),
    "k2-c1/*.fits": (1, "k2sff", "K2", "C1", (3632, 3632), "bkjd"),
    "k2-c5/ktwo*.fits": (9, "kepler-lc", "K2", "C5", (3663, 3663), "bkjd"),
    "k2-c5/EPIC_*.fits": (1, "k2sc", "K2", "C5", (3612, 3612), "bkjd"),
    "kepler-q12-ch4/*.fits": (10, "kepler-tpf", "Kepler", "Q12", (500, 500), "bkjd"),
    "k2-c5/everest/*.fits": (7, "everest", "K2", "C5", (3663, 3663), "bkjd"),
    "tess-s1-cam4-ccd1/*.fits": (3, "tess-lc", "TESS", "S1", (20076, 20076), "btjd"),
    "tess-s1-cam2-ccd4/*.fits": (2, "tess-lc", "TESS", "S1", (20076, 20076), "btjd"),
    "kepler-q4-ch31/*_llc.fits": (1, "kepler-lc", "Kepler", "Q4", (4397, 4397), "bkjd"),
    "kepler-q4-ch31/*_lpd-targ.fits": (1, "kepler-tpf", "Kepler", "Q4", (4397, 4397), "bkjd"),
}


@pytest.mark.parametrize("pattern", sorted(SETS))
def test_every_real_file_is_read_with_the_right_metadata(shared_data, pattern):
    count, fmt, mission, season, (lo, hi), tformat = SETS[pattern]
    series, failures = read_many(str(shared_data / pattern), on_error="skip", show_progress=False)
    assert failures == []
    assert len(series) == count
    for s in series:
        assert s.meta.file_format == fmt and s.meta.mission == mission and s.meta.season == season
        assert lo <= s.n_cadences <= hi and s.time_format == tformat
        assert 0.8 * s.n_cadences < s.n_good <= s.n_cadences
        digits = re.findall(r"\d{8,16}", s.meta.source.split("/")[-1])
        if digits:  # the id in the file name is the id in the header (TESS names also hold a date)
            assert int(s.meta.target_id.split()[-1]) in {int(d) for d in digits}
        assert s.meta.ra is not None and s.meta.magnitude is not None


def test_time_and_flux_agree_with_lightkurve(shared_data):
    lk = import_lightkurve()
    cases = [
        ("k2-c5/ktwo211436265-c05_llc.fits", "sap_flux"),
        ("tess-s1-cam4-ccd1/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits", "sap_flux"),
    ]
    for rel, column in cases:
        ours = read(shared_data / rel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = lk.read(shared_data / rel, flux_column=column)  # lightkurve's default bitmask
        keep = np.isin(theirs.cadenceno.value, ours.cadenceno[ours.good])
        assert keep.sum() == ours.n_good  # same usable cadences: bitmask + finite values
        idx = np.searchsorted(ours.cadenceno, theirs.cadenceno.value[keep])
        np.testing.assert_allclose(ours.time[idx], theirs.time.value[keep], rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.flux[idx], theirs.flux.value[keep], rtol=1e-6)
        assert ours.quality[idx].max() & default_bitmask(ours.meta.mission) == 0


def test_real_pixels_match_lightkurve(shared_data):
    lk = import_lightkurve()
    path = shared_data / "kepler-q12-ch4/tpf_test_00.fits"
    ours = read(path)
    tpf = lk.read(path, quality_bitmask="none")
    np.testing.assert_allclose(ours.flux, tpf.flux.value, equal_nan=True)
    np.testing.assert_array_equal(ours.aperture, tpf.pipeline_mask)
    assert ours.corner == (tpf.column, tpf.row) and ours.meta.channel == 4 and ours.meta.quarter == 12


def test_k2_136_campaign_aligns_on_cadence_numbers(shared_data):
    series, _ = read_many(str(shared_data / "k2-c13/k2sff/*.fits"), show_progress=False, extra_columns=False)
    target = next(s for s in series if s.meta.target_id == "EPIC 247589423")  # K2-136
    aligned = align(series, reference=target)
    assert aligned.flux.shape == (132, target.n_cadences)
    assert aligned.good.mean() > 0.9
    row = aligned.ids.index("EPIC 247589423")
    np.testing.assert_array_equal(aligned.flux[row][target.good], target.flux[target.good])


def test_everest_basis(shared_data):
    basis = read_basis(shared_data / "k2-c1/everest_c01_cbv_basis.txt", time_format="bkjd")
    assert basis.vectors.shape == (4022, 6)
    np.testing.assert_array_equal(basis.vectors[:, 0], 1.0)
    k2_3 = read(shared_data / "k2-c1/hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits")
    assert basis.time[0] <= k2_3.time_range[0] and basis.time[-1] >= k2_3.time_range[1] - 0.1


def test_halfsib_info_reads_every_real_file(shared_data, capsys):
    files = sorted(str(p) for p in shared_data.rglob("*") if p.suffix in (".fits", ".txt"))
    assert len(files) > 280  # 286 FITS files and one basis table when this test was written
    assert main(["info", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("format ") == len(files)
    assert "TIC 55652896" in out and "BTJD" in out and "EPIC 247589423" in out


def test_everest_products_are_read_as_their_raw_pixels_never_their_corrected_flux(shared_data):
    from astropy.io import fits

    path = sorted((shared_data / "k2-c5" / "everest").glob("*.fits"))[0]
    series = read(path)
    assert isinstance(series, halfsib.PixelSeries) and series.meta.file_format == "everest"
    with fits.open(path) as hdul:
        raw = np.asarray(hdul["ARRAYS"].data["FRAW"], float)
        corrected = np.asarray(hdul["ARRAYS"].data["FLUX"], float)
        n_pixels = hdul["PIXELS"].data["FPIX"].shape[1]
    assert int(series.aperture.sum()) == n_pixels
    lc = series.to_lightcurve()
    good = lc.good
    np.testing.assert_allclose(lc.flux[good], raw[good], rtol=1e-12)
    assert not np.allclose(lc.flux[good], corrected[good], rtol=1e-3)
    np.testing.assert_array_equal(series.columns["everest_flux"], corrected)
    # the per-pixel errors add up to FRAW_ERR in quadrature
    np.testing.assert_allclose(lc.flux_err[good], series.columns["fraw_err"][good], rtol=1e-9)


@pytest.mark.parametrize("rel", ["k2-c13/k2sff/hlsp_k2sff_k2_lightcurve_247589423-c13_kepler_v1_llc.fits",
                                 "k2-c5/everest/hlsp_everest_k2_llc_211492412-c05_kepler_v2.0_lc.fits"])
def test_lightkurve_objects_of_peer_products_give_the_raw_flux_never_the_peers_answer(shared_data, rel, caplog):
    """lightkurve puts K2SFF's FCOR and EVEREST's FLUX (corrected) in ``flux``; halfsib takes FRAW, says so."""
    lk = import_lightkurve()
    path = shared_data / rel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = lk.read(path)
    ours = read(obj)
    assert "FRAW instead" in caplog.text
    good = ours.good
    np.testing.assert_allclose(ours.flux[good], np.asarray(obj["fraw"].value, float)[good], rtol=1e-12)
    assert not np.allclose(ours.flux[good], np.asarray(obj.flux.value, float)[good], rtol=1e-3)
    if "arclength" in obj.colnames:  # K2SFF: the same light curve as the file reader's, arclength included
        direct = read(path)
        np.testing.assert_array_equal(ours.flux, direct.flux)
        np.testing.assert_array_equal(ours.columns["arclength"], direct.columns["arclength"])
    kept = read(obj, flux_column="flux")  # asked for explicitly: the peer's corrected flux
    np.testing.assert_allclose(kept.flux[kept.good], np.asarray(obj.flux.value, float)[kept.good], rtol=1e-12)
