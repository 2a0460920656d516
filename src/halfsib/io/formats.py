"""Recognising Kepler/K2/TESS products and reading their metadata.

Products are recognised by structure and keywords, as the missions and HLSP teams write
them: the official target pixel files and light-curve files, the K2SFF and K2SC
and EVEREST high-level science products, and any FITS binary table with TIME and FLUX columns
(halfsib's own outputs and lightkurve's ``to_fits`` among them).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import FileFormatError
from ..timeseries import TIME_FORMATS, TargetInfo
from ._fits import header_value

#: format name -> what it is (used in messages and by ``halfsib info``)
FORMATS: dict[str, str] = {
    "kepler-tpf": "Kepler/K2 target pixel file",
    "tess-tpf": "TESS target pixel file",
    "kepler-lc": "Kepler/K2 light-curve file (SAP/PDCSAP)",
    "tess-lc": "TESS light-curve file (SAP/PDCSAP)",
    "k2sff": "K2SFF high-level science product",
    "k2sc": "K2SC high-level science product",
    "everest": "EVEREST 2.0 high-level science product (read as its raw aperture pixels FPIX)",
    "fits-table": "FITS table with TIME and FLUX columns",
    "table": "plain-text table (CSV/ECSV/whitespace)",
}

_SUPPORTED = "; ".join(FORMATS.values())


def _colnames(hdu: Any) -> list[str]:
    try:
        return [c.upper() for c in hdu.columns.names]
    except AttributeError:
        return []


def detect_format(hdul: Any, source: str) -> str:
    """Name the product in ``hdul`` (a key of :data:`FORMATS`) or raise :class:`FileFormatError`."""
    primary = hdul[0].header
    if len(hdul) < 2:
        raise FileFormatError(
            f"unknown format: the file has only a primary HDU (no data table). Supported: {_SUPPORTED}", source
        )
    ext = hdul[1]
    names = _colnames(ext)
    extname = str(ext.header.get("EXTNAME", "")).upper()
    telescope = str(header_value(primary, "TELESCOP", "MISSION", default="")).strip().upper()
    if extname == "BESTAPER" or {"T", "FRAW"} <= set(names):
        return "k2sff"
    if extname == "ARRAYS" and "FRAW" in names and "PIXELS" in [str(h.name).upper() for h in hdul]:
        return "everest"
    if extname == "K2SC" or "K2SC" in str(primary.get("PROGRAM", "")).upper() or {"TRTIME", "TRPOSI"} <= set(names):
        return "k2sc"
    if ("FLUX" in names and bool(ext.columns["FLUX"].dim)) or extname in ("TARGETTABLES", "PIXELS"):
        _check_mission(telescope, source)
        return "tess-tpf" if telescope == "TESS" else "kepler-tpf"
    if "SAP_FLUX" in names or "PDCSAP_FLUX" in names:
        _check_mission(telescope, source)
        return "tess-lc" if telescope == "TESS" else "kepler-lc"
    if "TIME" in names and ("FLUX" in names or len(names) >= 2):
        return "fits-table"
    if not names:
        raise FileFormatError(
            f"unknown format: extension 1 ({extname or 'unnamed'}) is not a table. Supported: {_SUPPORTED}", source
        )
    raise FileFormatError(
        f"unknown format: extension 1 ({extname or 'unnamed'}) has columns {names[:8]} but no time/flux "
        f"columns halfsib knows. Supported: {_SUPPORTED}", source
    )


def _check_mission(telescope: str, source: str) -> None:
    if telescope not in ("KEPLER", "K2", "TESS"):
        raise FileFormatError(
            f"unknown mission TELESCOP={telescope or '(missing)'!r}: halfsib reads Kepler, K2 and TESS "
            "products. For other data write a plain table (time, flux, flux_err) and read that", source
        )


def mission_of(primary: Any) -> str:
    """``"Kepler"``, ``"K2"``, ``"TESS"`` or ``"unknown"`` from a primary header."""
    telescope = str(header_value(primary, "TELESCOP", default="")).strip().upper()
    mission = str(header_value(primary, "MISSION", default="")).strip().upper()
    if telescope == "TESS" or mission == "TESS" or header_value(primary, "TICID", "SECTOR") is not None:
        return "TESS"
    if telescope in ("KEPLER", "K2") or mission in ("KEPLER", "K2"):
        is_k2 = mission == "K2" or header_value(primary, "CAMPAIGN") is not None or str(
            header_value(primary, "OBJECT", default="")).upper().startswith("EPIC")
        return "K2" if is_k2 else "Kepler"
    return "unknown"


def time_format_of(header: Any, mission: str, source: str, override: str | None = None) -> str:
    """The time system of a table from BJDREFI/BJDREFF, else the mission's convention."""
    if override is not None:
        if override not in TIME_FORMATS:
            raise ValueError(f"time_format must be one of {sorted(TIME_FORMATS)}, got {override!r}")
        return override
    ref_int = header_value(header, "BJDREFI")
    if ref_int is None:
        return {"Kepler": "bkjd", "K2": "bkjd", "TESS": "btjd"}.get(mission, "unknown")
    ref = float(ref_int) + float(header_value(header, "BJDREFF", default=0.0))
    for name, (offset, _) in TIME_FORMATS.items():
        if name != "unknown" and abs(ref - offset) < 1e-9:
            return name
    raise FileFormatError(
        f"unsupported time reference BJDREFI+BJDREFF = {ref}; halfsib knows BKJD (2454833), "
        "BTJD (2457000) and BJD (0). Pass time_format= to override", source
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def target_info(primary: Any, *, source: str, file_format: str, flux_column: str | None,
                extension: Any = None) -> TargetInfo:
    """Collect :class:`TargetInfo` from a primary header, and ``crowding`` from ``CROWDSAP`` in
    ``extension`` (the data extension's header, where the missions write it). Pass
    ``extension`` only for raw aperture flux (``SAP_FLUX``, a pixel file's aperture sum):
    ``PDCSAP_FLUX`` and high-level products have the neighbours' light removed already."""
    mission = mission_of(primary)
    crowding = header_value(extension, "CROWDSAP") if extension is not None else None
    target_id = header_value(primary, "OBJECT")
    if target_id is None:
        kid = header_value(primary, "KEPLERID", "EPIC")
        tic = header_value(primary, "TICID")
        if tic is not None:
            target_id = f"TIC {tic}"
        elif kid is not None:
            target_id = f"{'EPIC' if mission == 'K2' else 'KIC'} {kid}"
    tmag = header_value(primary, "TESSMAG")
    kmag = header_value(primary, "KEPMAG")
    return TargetInfo(
        mission=mission,
        target_id=str(target_id).strip() if target_id is not None else None,
        campaign=_as_int(header_value(primary, "CAMPAIGN")),
        sector=_as_int(header_value(primary, "SECTOR")),
        quarter=_as_int(header_value(primary, "QUARTER")),
        channel=_as_int(header_value(primary, "CHANNEL")),
        module=_as_int(header_value(primary, "MODULE")),
        output=_as_int(header_value(primary, "OUTPUT")),
        camera=_as_int(header_value(primary, "CAMERA")),
        ccd=_as_int(header_value(primary, "CCD")),
        ra=_as_float(header_value(primary, "RA_OBJ")),
        dec=_as_float(header_value(primary, "DEC_OBJ")),
        magnitude=_as_float(tmag if tmag is not None else kmag),
        magnitude_band="Tmag" if tmag is not None else ("Kp" if kmag is not None else None),
        source=source,
        file_format=file_format,
        flux_column=flux_column,
        crowding=_as_float(crowding),
    )
