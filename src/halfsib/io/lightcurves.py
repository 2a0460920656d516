"""Readers for light-curve tables in FITS: official Kepler/K2/TESS, K2SFF, K2SC, generic.

Only the columns needed are read from the (memory-mapped) table, so reading a whole
campaign of files is dominated by opening them, not by data volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import FileFormatError
from ..timeseries import LightCurve
from .formats import target_info, time_format_of
from .quality import THRUSTER_FIRING, resolve_bitmask
from .validate import MIN_CADENCES, as_float64, check_times, check_usable, flux_uncertainties, good_mask


@dataclass(frozen=True)
class Layout:
    """Where a product keeps its columns (names as written in the file)."""

    time: str
    flux: str
    errors: dict[str, str] = field(default_factory=dict)
    quality: tuple[str, ...] = ()
    cadenceno: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    motion_flag: str | None = None


_OFFICIAL_EXTRAS = {
    "MOM_CENTR1": "centroid_col", "MOM_CENTR2": "centroid_row", "POS_CORR1": "pos_corr1",
    "POS_CORR2": "pos_corr2", "SAP_BKG": "sap_bkg", "SAP_FLUX": "sap_flux", "PDCSAP_FLUX": "pdcsap_flux",
}
_OFFICIAL = Layout(
    time="TIME", flux="SAP_FLUX",
    errors={"SAP_FLUX": "SAP_FLUX_ERR", "PDCSAP_FLUX": "PDCSAP_FLUX_ERR", "SAP_BKG": "SAP_BKG_ERR"},
    quality=("SAP_QUALITY", "QUALITY"), cadenceno="CADENCENO", extras=_OFFICIAL_EXTRAS,
)
LAYOUTS: dict[str, Layout] = {
    "kepler-lc": _OFFICIAL,
    "tess-lc": _OFFICIAL,
    "k2sff": Layout(
        time="T", flux="FRAW", cadenceno="CADENCENO", motion_flag="MOVING",
        extras={"ARCLENGTH": "arclength", "FCOR": "fcor", "FRAW": "fraw", "MOVING": "moving"},
    ),
    "k2sc": Layout(
        time="time", flux="flux", errors={"flux": "error"}, quality=("quality",), cadenceno="cadence",
        extras={"x": "centroid_col", "y": "centroid_row", "trtime": "trtime", "trposi": "trposi",
                "mflags": "mflags"},
    ),
    "fits-table": Layout(
        time="TIME", flux="FLUX", errors={"FLUX": "FLUX_ERR"}, quality=("QUALITY", "SAP_QUALITY"),
        cadenceno="CADENCENO",
    ),
}


def _find(names: list[str], wanted: str | None) -> str | None:
    if wanted is None:
        return None
    lookup = {n.upper(): n for n in names}
    return lookup.get(wanted.upper())


def _unit(ext: Any, column: str) -> str:
    idx = [n.upper() for n in ext.columns.names].index(column.upper()) + 1
    raw = str(ext.header.get(f"TUNIT{idx}", "") or "").strip()
    return {"e-/s": "electron / s", "electrons/s": "electron / s", "e/s": "electron / s"}.get(raw, raw)


def read_fits_lightcurve(
    hdul: Any,
    file_format: str,
    source: str,
    *,
    flux_column: str | None = None,
    flux_err_column: str | None = "auto",
    quality_bitmask: str | int = "default",
    time_format: str | None = None,
    min_cadences: int = MIN_CADENCES,
    extra_columns: bool = True,
) -> LightCurve:
    """Read a light-curve table (extension 1) of a known ``file_format`` into a :class:`LightCurve`."""
    layout = LAYOUTS[file_format]
    ext = hdul[1]
    names = list(ext.columns.names)
    data = ext.data
    flux_name = _find(names, flux_column or layout.flux)
    if flux_name is None:
        raise FileFormatError(
            f"no flux column {flux_column or layout.flux!r} in extension 1; columns are {names}. "
            "Choose one with flux_column= (CLI: --flux-column)", source
        )
    time_name = _find(names, layout.time)
    if time_name is None:
        raise FileFormatError(f"no time column {layout.time!r} in extension 1; columns are {names}", source)
    raw_aperture_flux = flux_name.upper() == "SAP_FLUX"
    meta = target_info(hdul[0].header, source=source, file_format=file_format, flux_column=flux_name,
                       extension=ext.header if raw_aperture_flux else None)
    tformat = time_format_of(ext.header, meta.mission, source, time_format)

    time = as_float64(data.field(time_name))
    flux = as_float64(data.field(flux_name))
    n = time.size
    quality = np.zeros(n, np.int64)
    qname = next((q for q in (_find(names, c) for c in layout.quality) if q), None)
    if qname is not None:
        quality = np.asarray(data.field(qname), dtype=np.int64)
    motion = _find(names, layout.motion_flag)
    if motion is not None:
        quality = quality | np.where(np.asarray(data.field(motion)) != 0, THRUSTER_FIRING, 0)
    cname = _find(names, layout.cadenceno)
    cadenceno = np.asarray(data.field(cname), dtype=np.int64) if cname else np.arange(n, dtype=np.int64)
    check_times(time, source, cadenceno if cname else None)

    bitmask = resolve_bitmask(quality_bitmask, meta.mission)
    err_name = None
    if flux_err_column == "auto":
        err_name = _find(names, layout.errors.get(flux_name, f"{flux_name}_ERR"))
    elif flux_err_column is not None:
        err_name = _find(names, flux_err_column)
        if err_name is None:
            raise FileFormatError(f"no flux uncertainty column {flux_err_column!r}; columns are {names}", source)
    flux_err, estimated = flux_uncertainties(
        time, flux, None if err_name is None else as_float64(data.field(err_name)), quality, mission=meta.mission,
        bitmask=bitmask, min_cadences=min_cadences, source=source, flux_name=flux_name, err_name=err_name)
    good = good_mask(time, flux, flux_err, quality, bitmask)
    check_usable(good, flux_err, quality, mission=meta.mission, bitmask=bitmask, min_cadences=min_cadences,
                 source=source, what=flux_name)
    extras = {}
    if extra_columns:
        extras = _extras(data, names, layout, flux_name, file_format)
    return LightCurve(
        time=time, quality=quality, good=good, cadenceno=cadenceno, time_format=tformat, meta=meta,
        columns=extras, flux=flux, flux_err=flux_err, flux_unit=_unit(ext, flux_name),
        flux_err_estimated=estimated,
    )


def _extras(data: Any, names: list[str], layout: Layout, flux_name: str, file_format: str) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if file_format == "fits-table":
        used = {layout.time, layout.flux, *layout.errors.values(), *layout.quality, layout.cadenceno, flux_name}
        used_upper = {u.upper() for u in used if u}
        for name in names:
            column = data.field(name)
            if name.upper() in used_upper or column.ndim != 1 or column.dtype.kind not in "fiub":
                continue
            extras[name.lower()] = as_float64(column)
        return extras
    for file_name, ours in layout.extras.items():
        found = _find(names, file_name)
        if found is not None and found.upper() != flux_name.upper():
            extras[ours] = as_float64(data.field(found))
    return extras
