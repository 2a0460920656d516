"""The one entry point: :func:`read` takes a path or a lightkurve object and returns a
validated :class:`~halfsib.timeseries.LightCurve` or :class:`~halfsib.timeseries.PixelSeries`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import FileFormatError, HalfsibError
from ..timeseries import LightCurve, PixelSeries, TargetInfo
from ._fits import TABLE_SUFFIXES, check_path, looks_like_fits, open_fits
from .formats import FORMATS, detect_format, time_format_of
from .everest import read_everest
from .lightcurves import read_fits_lightcurve
from .pixels import import_lightkurve, read_tpf
from .quality import THRUSTER_FIRING, check_bitmask, resolve_bitmask
from .text import BasisTable, read_basis_table, read_table_lightcurve
from .validate import MIN_CADENCES, as_float64, check_times, check_usable, flux_uncertainties, good_mask

__all__ = ["read", "read_basis", "FORMATS"]

PathLike = str | os.PathLike[str]

log = logging.getLogger(__name__)


def read(
    source: PathLike | Any,
    *,
    flux_column: str | None = None,
    flux_err_column: str | None = "auto",
    quality_bitmask: str | int = "default",
    time_format: str | None = None,
    min_cadences: int = MIN_CADENCES,
    extra_columns: bool = True,
) -> LightCurve | PixelSeries:
    """Read any supported file (or lightkurve object) into a validated series.

    Parameters
    ----------
    source : path-like or lightkurve object
        A Kepler/K2/TESS target pixel file or light-curve file, a K2SFF or K2SC product,
        a FITS table with TIME/FLUX columns, a plain table (CSV, ECSV, whitespace), or a
        ``lightkurve.LightCurve`` / ``TargetPixelFile``.
    flux_column : str, optional
        Column to use as flux. Default: the *raw* flux, because halfsib models the
        systematics itself (``SAP_FLUX`` for mission light curves, ``FRAW`` for K2SFF,
        ``flux`` for K2SC and tables). ``"PDCSAP_FLUX"`` or ``"FCOR"`` read a peer's answer.
    flux_err_column : str or None
        ``"auto"`` finds the uncertainty column matching ``flux_column``; ``None`` ignores
        it. When there is none (K2SFF), the white noise is estimated from the
        point-to-point scatter and ``flux_err_estimated`` is set.
    quality_bitmask : {"default", "hard", "none"} or int
        Quality flags that make a cadence not ``good`` (same meaning as in lightkurve).
    time_format : str, optional
        Override the time system (``"bkjd"``, ``"btjd"``, ``"bjd"``); needed for plain
        tables whose time system is not in their metadata.
    min_cadences : int
        Fewest good cadences accepted.
    extra_columns : bool
        Keep centroids, position corrections, arclength etc. (``False`` is faster).

    Returns
    -------
    LightCurve or PixelSeries

    Raises
    ------
    FileFormatError
        The file is missing, not FITS/table, truncated, corrupted, of unknown format or
        mission, or lacks the flux column.
    DataValidationError
        All cadences flagged/NaN, non-positive uncertainties, duplicated or unsorted
        times, fewer than ``min_cadences`` good cadences.
    ConfigurationError
        ``quality_bitmask`` is not a name or a non-negative integer.
    """
    check_bitmask(quality_bitmask)
    options = dict(quality_bitmask=quality_bitmask, time_format=time_format, min_cadences=min_cadences)
    if not isinstance(source, (str, os.PathLike)):
        return _read_object(source, flux_column=flux_column, **options)
    path = check_path(source)
    if not looks_like_fits(path) and path.suffix.lower() in TABLE_SUFFIXES:
        return read_table_lightcurve(path, flux_column=flux_column, flux_err_column=flux_err_column,
                                     time_format=time_format, min_cadences=min_cadences)
    hdul = open_fits(path)
    try:
        file_format = detect_format(hdul, str(path))
        if file_format.endswith("-tpf"):
            return read_tpf(hdul, file_format, str(path), **options)
        if file_format == "everest":
            return read_everest(hdul, str(path), **options)
        return read_fits_lightcurve(hdul, file_format, str(path), flux_column=flux_column,
                                    flux_err_column=flux_err_column, extra_columns=extra_columns, **options)
    except HalfsibError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise FileFormatError(f"corrupted or malformed product ({type(err).__name__}: {err})", str(path)) from err
    finally:
        hdul.close()


def _read_object(obj: Any, *, flux_column: str | None, quality_bitmask: str | int, time_format: str | None,
                 min_cadences: int) -> LightCurve | PixelSeries:
    """Convert a lightkurve object (LightCurve or TargetPixelFile)."""
    lk = import_lightkurve()
    if isinstance(obj, lk.targetpixelfile.TargetPixelFile):
        fmt = "tess-tpf" if isinstance(obj, lk.TessTargetPixelFile) else "kepler-tpf"
        return read_tpf(obj, fmt, _describe(obj), quality_bitmask=quality_bitmask, time_format=time_format,
                        min_cadences=min_cadences)
    if isinstance(obj, lk.LightCurve):
        return _from_lightkurve_lc(obj, flux_column=flux_column, quality_bitmask=quality_bitmask,
                                   time_format=time_format, min_cadences=min_cadences)
    raise TypeError(
        f"read() takes a path or a lightkurve LightCurve/TargetPixelFile, not {type(obj).__name__}"
    )


def _describe(obj: Any) -> str:
    label = obj.meta.get("OBJECT") or obj.meta.get("LABEL") or obj.meta.get("TARGETID") or "?"
    return f"<lightkurve {type(obj).__name__} {label}>"


def _from_lightkurve_lc(lc: Any, *, flux_column: str | None, quality_bitmask: str | int, time_format: str | None,
                        min_cadences: int) -> LightCurve:
    from astropy.io import fits

    source = _describe(lc)
    header = fits.Header()
    for key, value in lc.meta.items():
        if isinstance(value, (str, int, float, bool)) and len(str(key)) <= 8:
            header[str(key)] = value
    from .formats import target_info

    if flux_column is None and str(lc.meta.get("FLUX_ORIGIN", "")).lower() == "pdcsap_flux" and "sap_flux" in lc.colnames:
        log.warning("%s: lightkurve chose PDCSAP_FLUX, which the mission pipeline has already corrected; halfsib "
                    "models the raw SAP_FLUX instead (pass flux_column='pdcsap_flux' to keep PDCSAP)", source)
        flux_column = "sap_flux"
    origin = str(lc.meta.get("FLUX_ORIGIN", "")).lower()
    if flux_column is None and "fraw" in lc.colnames and origin != "fraw":
        log.warning("%s: lightkurve's flux is the peer's corrected %s; halfsib models the raw FRAW instead "
                    "(pass flux_column='flux' to keep the corrected flux)", source, origin.upper() or "FLUX")
        flux_column = "fraw"
    raw_aperture_flux = (flux_column or "").lower() == "sap_flux" or str(lc.meta.get("FLUX_ORIGIN", "")) == "sap_flux"
    meta = target_info(header, source=source, file_format="lightkurve", flux_column=flux_column or "flux",
                       extension=header if raw_aperture_flux else None)
    if lc.time.format in ("bkjd", "btjd"):
        tformat, time = lc.time.format, as_float64(lc.time.value)
    else:
        tformat = time_format or time_format_of(header, meta.mission, source)
        offset = {"bkjd": 2454833.0, "btjd": 2457000.0}.get(tformat, 0.0)
        time = as_float64(lc.time.tdb.jd) - offset
    flux_col = lc[flux_column] if flux_column else lc.flux
    flux = as_float64(getattr(flux_col, "value", flux_col))
    err_name = f"{flux_column}_err" if flux_column and f"{flux_column}_err" in lc.colnames else "flux_err"
    err_col = lc[err_name]
    n = time.size
    quality = np.asarray(lc["quality"], np.int64) if "quality" in lc.colnames else np.zeros(n, np.int64)
    if "moving" in lc.colnames:  # K2SFF's thruster-firing flag, as the file reader treats it
        quality = quality | np.where(np.asarray(lc["moving"]) != 0, THRUSTER_FIRING, 0)
    cad = np.asarray(lc["cadenceno"], np.int64) if "cadenceno" in lc.colnames else np.arange(n, dtype=np.int64)
    check_times(time, source)
    bitmask = resolve_bitmask(quality_bitmask, meta.mission)
    flux_err, estimated = flux_uncertainties(time, flux, as_float64(getattr(err_col, "value", err_col)), quality,
                                             mission=meta.mission, bitmask=bitmask, min_cadences=min_cadences,
                                             source=source, flux_name=flux_column or "flux", err_name=err_name)
    good = good_mask(time, flux, flux_err, quality, bitmask)
    check_usable(good, flux_err, quality, mission=meta.mission, bitmask=bitmask, min_cadences=min_cadences,
                 source=source)
    columns = {}
    for ours, theirs in (("centroid_col", "centroid_col"), ("centroid_row", "centroid_row"), ("arclength", "arclength"),
                         ("centroid_col", "x"), ("centroid_row", "y")):
        if theirs in lc.colnames and ours not in columns:
            columns[ours] = as_float64(getattr(lc[theirs], "value", lc[theirs]))
    unit = str(getattr(lc.flux, "unit", ""))
    return LightCurve(time=time, quality=quality, good=good, cadenceno=cad, time_format=tformat, meta=meta,
                      columns=columns, flux=flux, flux_err=flux_err, flux_unit=unit, flux_err_estimated=estimated)


def read_basis(source: PathLike, *, time_format: str | None = None, extension: int | str = 1) -> BasisTable:
    """Read a CBV-style basis table (time + regressor vectors).

    Plain tables: the ``time`` (or first) column is time, a ``cadenceno`` column is kept,
    every other numeric column is a vector. FITS tables: ``TIME``, ``CADENCENO`` and the
    ``VECTOR_*`` columns of ``extension`` (official CBV files keep one channel per extension).
    """
    path = check_path(source)
    if not looks_like_fits(path):
        return read_basis_table(path, time_format=time_format)
    hdul = open_fits(path)
    try:
        try:
            ext = hdul[extension]
        except (KeyError, IndexError) as err:
            raise FileFormatError(f"no extension {extension!r}; extensions are {[h.name for h in hdul]}",
                                  str(path)) from err
        names = list(getattr(ext, "columns", None).names if hasattr(ext, "columns") else [])
        vectors = [n for n in names if n.upper().startswith("VECTOR_")]
        if "TIME" not in [n.upper() for n in names] or not vectors:
            raise FileFormatError(f"a FITS basis needs TIME and VECTOR_* columns; extension {extension!r} has "
                                  f"{names}", str(path))
        data = ext.data
        time = as_float64(data.field("TIME"))
        matrix = np.column_stack([as_float64(data.field(v)) for v in vectors])
        keep = np.isfinite(time) & np.all(np.isfinite(matrix), axis=1)
        cad = np.asarray(data.field("CADENCENO"), np.int64)[keep] if "CADENCENO" in [n.upper() for n in names] else None
        tf = time_format or time_format_of(ext.header, TargetInfo().mission, str(path))
        check_times(time[keep], str(path))
        return BasisTable(time=time[keep], vectors=matrix[keep], names=tuple(vectors), time_format=tf,
                          cadenceno=cad, source=str(path))
    finally:
        hdul.close()
