"""Many files: discovery, error capture, alignment on a common cadence grid."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from astropy.io import fits

import halfsib
from halfsib.io import align, expand_paths, read, read_many


def _copies(zoo, tmp_path, n=4, shift=None):
    paths = []
    for i in range(n):
        p = tmp_path / f"star{i}.fits"
        shutil.copy(zoo["kepler-lc"], p)
        with fits.open(p, mode="update") as hdul:
            hdul[1].data["SAP_FLUX"] *= 1 + i
            if shift is not None and i == n - 1:
                hdul[1].data["TIME"] += shift
        paths.append(p)
    return paths


def test_expand_directories_globs_and_files(zoo, tmp_path):
    paths = _copies(zoo, tmp_path)
    assert expand_paths(tmp_path) == paths
    assert expand_paths(str(tmp_path / "star[12].fits")) == paths[1:3]
    assert expand_paths([paths[0], paths[0]]) == [paths[0]]
    with pytest.raises(halfsib.DataValidationError, match="matched no file"):
        expand_paths(str(tmp_path / "*.nothing"))


def test_read_many_skips_and_reports_bad_files(zoo, tmp_path):
    paths = _copies(zoo, tmp_path)
    (tmp_path / "star9.fits").write_text("not fits")
    series, failures = read_many(tmp_path, on_error="skip", show_progress=False, extra_columns=False)
    assert len(series) == 4 and len(failures) == 1
    assert failures[0].path.endswith("star9.fits") and "not a FITS file" in failures[0].error
    assert series[0].columns == {}
    with pytest.raises(halfsib.FileFormatError, match="star9"):
        read_many(tmp_path, show_progress=False)
    with ThreadPoolExecutor(2) as pool:
        threaded, _ = read_many(paths, executor=pool, show_progress=False)
    np.testing.assert_array_equal(threaded[2].flux, series[2].flux)


def test_align_by_cadence_and_by_time(zoo, tmp_path):
    series, _ = read_many(_copies(zoo, tmp_path), show_progress=False)
    shorter = series[1].replace(
        time=series[1].time[50:], flux=series[1].flux[50:], flux_err=series[1].flux_err[50:],
        quality=series[1].quality[50:], good=series[1].good[50:], cadenceno=series[1].cadenceno[50:],
    )
    for on in ("cadenceno", "time"):
        aligned = align([series[0], shorter, series[2]], on=on)
        assert aligned.flux.shape == (3, 300) and aligned.n_series == 3
        assert not aligned.good[1, :50].any()
        np.testing.assert_allclose(aligned.flux[1, 50:][aligned.good[1, 50:]], shorter.flux[shorter.good])
        np.testing.assert_array_equal(aligned.good[0], series[0].good)
        assert np.isnan(aligned.flux[~aligned.good]).all()


def test_align_refuses_light_curves_that_do_not_overlap(zoo, tmp_path):
    paths = _copies(zoo, tmp_path, shift=1000.0)
    series = [read(p) for p in paths]
    with pytest.raises(halfsib.DataValidationError, match="does not overlap") as err:
        align(series)
    assert str(paths[-1]) in str(err.value)


def test_align_refuses_mixed_time_systems(zoo):
    with pytest.raises(halfsib.DataValidationError, match="time system"):
        align([read(zoo["kepler-lc"]), read(zoo["tess-lc"])])
