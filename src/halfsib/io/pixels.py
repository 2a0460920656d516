"""Reader for Kepler/K2/TESS target pixel files (parsed by lightkurve)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataValidationError, FileFormatError
from ..timeseries import PixelSeries
from .formats import target_info, time_format_of
from .quality import resolve_bitmask
from .validate import MIN_CADENCES, as_float64, check_times, check_usable

log = logging.getLogger(__name__)

#: without an aperture in the file, a pixel enters the summed light curve when it holds data
#: on at least this fraction of the good cadences
COLLECTED_FRACTION = 0.9


def read_tpf(
    hdul_or_tpf: Any,
    file_format: str,
    source: str,
    *,
    quality_bitmask: str | int = "default",
    time_format: str | None = None,
    min_cadences: int = MIN_CADENCES,
) -> PixelSeries:
    """Read a target pixel file (an open HDUList or a lightkurve TargetPixelFile)."""
    lk = import_lightkurve()
    if isinstance(hdul_or_tpf, lk.targetpixelfile.TargetPixelFile):
        tpf = hdul_or_tpf
    else:
        cls = lk.TessTargetPixelFile if file_format == "tess-tpf" else lk.KeplerTargetPixelFile
        try:
            tpf = cls(hdul_or_tpf, quality_bitmask="none")
        except Exception as err:  # lightkurve raises many types on malformed files
            raise FileFormatError(f"lightkurve cannot parse this target pixel file ({err})", source) from err
    hdul = tpf.hdu
    ext = hdul[1]
    names = [n.upper() for n in ext.columns.names]
    for needed in ("TIME", "FLUX", "FLUX_ERR", "QUALITY"):
        if needed not in names:
            raise FileFormatError(f"target pixel file without a {needed} column; columns are {names}", source)
    meta = target_info(hdul[0].header, source=source, file_format=file_format, flux_column="FLUX",
                       extension=ext.header)
    tformat = time_format_of(ext.header, meta.mission, source, time_format)
    data = ext.data
    time = as_float64(data.field("TIME"))
    flux = as_float64(data.field("FLUX"))
    flux_err = as_float64(data.field("FLUX_ERR"))
    if flux.ndim != 3:
        raise FileFormatError(f"FLUX column has shape {flux.shape}; a pixel file needs (cadence, row, column)", source)
    quality = np.asarray(data.field("QUALITY"), dtype=np.int64)
    cadenceno = (np.asarray(data.field("CADENCENO"), dtype=np.int64) if "CADENCENO" in names
                 else np.arange(time.size, dtype=np.int64))
    check_times(time, source, cadenceno if "CADENCENO" in names else None)
    bitmask = resolve_bitmask(quality_bitmask, meta.mission)
    _check_pixel_errors(flux, flux_err, source)
    finite_pixels = np.isfinite(flux) & np.isfinite(flux_err)
    any_pixel = finite_pixels.reshape(time.size, -1).any(axis=1)
    good = np.isfinite(time) & any_pixel & ((quality & bitmask) == 0)
    nonpositive = finite_pixels & good[:, None, None] & ~(flux_err > 0)
    err_for_check = np.where(nonpositive.reshape(time.size, -1).any(axis=1), 0.0, 1.0)
    check_usable(good, err_for_check, quality, mission=meta.mission, bitmask=bitmask,
                 min_cadences=min_cadences, source=source, what="FLUX")
    aperture = _aperture(tpf, flux, good, source)
    columns = {}
    for name in ("POS_CORR1", "POS_CORR2"):
        if name in names:
            columns[name.lower()] = as_float64(data.field(name))
    bkg = as_float64(data.field("FLUX_BKG")) if "FLUX_BKG" in names else None
    return PixelSeries(
        time=time, quality=quality, good=good, cadenceno=cadenceno, time_format=tformat, meta=meta,
        columns=columns, flux=flux, flux_err=flux_err, flux_bkg=bkg, aperture=aperture,
        corner=(int(tpf.column), int(tpf.row)),
    )


def _check_pixel_errors(flux: NDArray[np.float64], flux_err: NDArray[np.float64], source: str) -> None:
    """Refuse a FLUX_ERR that is NaN, zero or negative on every pixel that has a flux: the
    pixel-level model needs each pixel's errors, and none can be estimated per pixel."""
    has_flux = np.isfinite(flux)
    if not has_flux.any():
        return
    err = flux_err[has_flux]
    if not np.any(np.isfinite(err) & (err > 0)):
        what = "NaN" if not np.isfinite(err).any() else "zero or negative"
        raise DataValidationError(f"the FLUX_ERR column is {what} for every pixel that has a flux; a pixel file "
                                  "needs its pixel errors. Download the file again, or give the target's light "
                                  "curve instead", source)


def import_lightkurve() -> Any:
    """Import lightkurve without its import-time warning about optional PRF dependencies."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tpfmodel submodule.*")
        import lightkurve

    return lightkurve


def _aperture(tpf: Any, flux: NDArray[np.float64], good: NDArray[np.bool_], source: str) -> NDArray[np.bool_]:
    """The pipeline's aperture; without one (no APERTURE image, or an empty one) the pixels
    that hold data on at least :data:`COLLECTED_FRACTION` of the good cadences (a stamp's
    never-collected pixels are NaN throughout)."""
    shape = flux.shape[1:]
    try:
        mask = np.asarray(tpf.pipeline_mask, dtype=bool)
    except Exception:  # no APERTURE extension
        mask = np.zeros(shape, bool)
    if mask.shape != tuple(shape):
        raise DataValidationError(f"APERTURE image {mask.shape} does not match the pixel stamp {shape}", source)
    if mask.any():
        return mask
    collected = np.isfinite(flux[good]).mean(axis=0) >= COLLECTED_FRACTION
    if not collected.any():
        raise DataValidationError("no pixel holds data on most good cadences, and the file has no aperture; "
                                  "this pixel file cannot give a light curve", source)
    log.warning("%s: the file's aperture is empty; summing the %d of %d pixels that hold data", source,
                int(collected.sum()), collected.size)
    return collected
