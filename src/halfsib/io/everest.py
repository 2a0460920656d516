"""EVEREST 2.0 high-level science products (Luger et al. 2016, 2018), read as raw pixels.

An EVEREST file holds the peer's *answer* and the raw data it started from. halfsib takes
the raw data: the aperture's pixel time series (``PIXELS`` HDU, column ``FPIX``, one column
per aperture pixel), which sum to the raw aperture flux ``FRAW``. EVEREST's corrected
``FLUX`` is never taken as raw: it travels along as the column ``everest_flux`` (and
``FRAW``/``FRAW_ERR`` as ``fraw``/``fraw_err``) so that a comparison with the peer needs
no second read.

The file gives no per-pixel errors; each pixel gets ``FRAW_ERR × sqrt(FPIX / FRAW)`` (the
photon-noise share, so that the pixel errors add in quadrature to ``FRAW_ERR``). Pixels
outside the aperture are not in the file and are NaN in the stamp. EVEREST's own flags
(bits 23 and up of ``QUALITY``: its outliers and masks) are not in halfsib's default
bitmask: its outliers are EVEREST's judgement on EVEREST's model, and halfsib clips its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import FileFormatError
from ..timeseries import PixelSeries
from .formats import target_info, time_format_of
from .quality import resolve_bitmask
from .validate import MIN_CADENCES, as_float64, check_times, check_usable

__all__ = ["read_everest"]


def read_everest(hdul: Any, source: str, *, quality_bitmask: str | int = "default", time_format: str | None = None,
                 min_cadences: int = MIN_CADENCES) -> PixelSeries:
    """Read an open EVEREST 2.0 file as the aperture's raw pixel series (see the module docstring).

    Raises
    ------
    FileFormatError
        No aperture mask, or an aperture whose pixel count differs from ``FPIX``'s columns.
    DataValidationError
        As for any pixel file: too few good cadences, non-positive errors.
    """
    arrays = hdul["ARRAYS"]
    data = arrays.data
    meta = target_info(hdul[0].header, source=source, file_format="everest", flux_column="FPIX")
    tformat = time_format_of(arrays.header, meta.mission, source, time_format)
    time = as_float64(data.field("TIME"))
    raw = as_float64(data.field("FRAW"))
    raw_err = as_float64(data.field("FRAW_ERR"))
    quality = np.asarray(data.field("QUALITY"), dtype=np.int64)
    cadenceno = np.asarray(np.round(as_float64(data.field("CADN"))), dtype=np.int64)
    check_times(time, source, cadenceno)
    fpix = as_float64(hdul["PIXELS"].data.field("FPIX"))
    aperture = _aperture(hdul, fpix.shape[1], source)
    flux = np.full((time.size,) + aperture.shape, np.nan)
    flux[:, aperture] = fpix
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(fpix / raw[:, None], 0.0, None)
    flux_err = np.full_like(flux, np.nan)
    flux_err[:, aperture] = raw_err[:, None] * np.sqrt(share)
    flux_err[:, aperture] = np.where(flux_err[:, aperture] > 0, flux_err[:, aperture], np.nanmax(raw_err))
    bitmask = resolve_bitmask(quality_bitmask, meta.mission)
    finite = np.isfinite(fpix).all(axis=1) & np.isfinite(raw) & np.isfinite(raw_err) & (raw_err > 0)
    good = np.isfinite(time) & finite & ((quality & bitmask) == 0)
    check_usable(good, np.where(finite, raw_err, 1.0), quality, mission=meta.mission, bitmask=bitmask,
                 min_cadences=min_cadences, source=source, what="FPIX")
    header = hdul["APERTURE MASK"].header
    corner = (int(header.get("CRVAL1P", 0)), int(header.get("CRVAL2P", 0)))
    columns = {"everest_flux": as_float64(data.field("FLUX")), "fraw": raw, "fraw_err": raw_err}
    return PixelSeries(time=time, quality=quality, good=good, cadenceno=cadenceno, time_format=tformat, meta=meta,
                       columns=columns, flux=flux, flux_err=flux_err, flux_bkg=None, aperture=aperture, corner=corner)


def _aperture(hdul: Any, n_pixels: int, source: str) -> np.ndarray:
    if "APERTURE MASK" not in [str(h.name).upper() for h in hdul]:
        raise FileFormatError("EVEREST file without its APERTURE MASK extension: the pixels cannot be placed", source)
    aperture = np.asarray(hdul["APERTURE MASK"].data) > 0
    if int(aperture.sum()) != n_pixels:
        raise FileFormatError(f"EVEREST aperture has {int(aperture.sum())} pixels but FPIX has {n_pixels} columns",
                              source)
    return aperture
