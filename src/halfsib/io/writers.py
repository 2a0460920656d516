"""Writing results: FITS light curves (readable by ``lightkurve.read`` and astropy) and ECSV
tables, always atomically (temporary file + rename) and with provenance in the header."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from .._atomic import atomic_path
from ..exceptions import DataValidationError
from ..timeseries import TIME_FORMATS, LightCurve

__all__ = ["provenance", "write_lightcurve", "write_table"]


#: the packages whose versions every provenance record carries (distribution names)
PROVENANCE_PACKAGES = ("numpy", "scipy", "astropy", "lightkurve", "celerite2", "numba", "batman-package", "emcee")


def package_versions() -> dict[str, str]:
    """Python's and each of :data:`PROVENANCE_PACKAGES`' installed version ("not installed" if absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "halfsib": __version__}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(inputs: Sequence[str | os.PathLike[str]] = (), settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A provenance record: halfsib version, UTC date, the versions of Python and the numerical
    packages (:func:`package_versions`), inputs and settings."""
    versions = package_versions()
    return {
        "halfsib_version": __version__,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        **{name: value for name, value in versions.items() if name != "halfsib"},
        "inputs": [os.fspath(p) for p in inputs],
        "settings": dict(settings or {}),
    }


def provenance_cards(record: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """FITS primary-header cards (keyword, value, comment) of a :func:`provenance` record."""
    return [
        ("CREATOR", f"halfsib {record.get('halfsib_version', __version__)}", "software that wrote this file"),
        ("HSVERSN", str(record.get("halfsib_version", __version__)), "halfsib version"),
        ("DATE", str(record.get("date_utc", "")), "file creation date (UTC)"),
        ("HSINPUTS", json.dumps(record.get("inputs", [])), "input files (JSON list)"),
        ("HSCONFIG", json.dumps(record.get("settings", {}), default=str, sort_keys=True), "settings (JSON)"),
        ("HSPKGS", json.dumps({k: record[k] for k in ("python", *PROVENANCE_PACKAGES) if k in record}),
         "Python and package versions (JSON)"),
    ]


def write_lightcurve(
    lc: LightCurve,
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, tuple[NDArray[Any], str]] | None = None,
    record: Mapping[str, Any] | None = None,
    good_only: bool = True,
    overwrite: bool = True,
    cards: Mapping[str, tuple[Any, str]] | None = None,
) -> Path:
    """Write a light curve as a FITS file (primary header + ``LIGHTCURVE`` table).

    The table has ``TIME`` (days, in the light curve's time system, with BJDREFI/BJDREFF),
    ``FLUX``, ``FLUX_ERR``, ``QUALITY``, ``CADENCENO`` and any extra ``columns``
    (name -> (values, unit)). ``lightkurve.read`` opens it with its generic reader and
    ``flux_column`` picks an extra column.

    Parameters
    ----------
    lc : LightCurve
    path : path-like
        Destination (replaced atomically).
    columns : mapping, optional
        Extra per-cadence columns, each ``(array of length lc.n_cadences, unit string)``.
    record : mapping, optional
        Provenance from :func:`provenance` (default: a fresh one without inputs).
    good_only : bool
        Write only good cadences (default), so no NaN reaches the file.
    overwrite : bool
        Replace an existing file.
    cards : mapping, optional
        Extra primary-header keywords, ``{KEY: (value, comment)}`` (e.g. fitted hyper-parameters).
    """
    from astropy.io import fits

    rows = lc.good if good_only else np.ones(lc.n_cadences, bool)
    table_columns = [
        fits.Column("TIME", "D", unit="d", array=lc.time[rows]),
        fits.Column("FLUX", "D", unit=lc.flux_unit or None, array=lc.flux[rows]),
        fits.Column("FLUX_ERR", "D", unit=lc.flux_unit or None, array=lc.flux_err[rows]),
        fits.Column("QUALITY", "J", array=lc.quality[rows].astype(np.int32)),
        fits.Column("CADENCENO", "J", array=lc.cadenceno[rows].astype(np.int32)),
    ]
    for name, (values, unit) in (columns or {}).items():
        arr = np.asarray(values)
        if arr.shape != (lc.n_cadences,):
            raise DataValidationError(f"column {name!r} has shape {arr.shape}, expected ({lc.n_cadences},)", str(path))
        if arr.dtype == bool:
            table_columns.append(fits.Column(name.upper(), "L", array=arr[rows]))
        elif arr.dtype.kind in "iu":
            table_columns.append(fits.Column(name.upper(), "K", unit=unit or None, array=arr[rows].astype(np.int64)))
        else:
            table_columns.append(fits.Column(name.upper(), "D", unit=unit or None, array=arr[rows].astype(np.float64)))
    if good_only:
        for col in table_columns:
            if col.array.dtype.kind == "f" and not np.all(np.isfinite(col.array)):
                raise DataValidationError(f"column {col.name} has non-finite values on good cadences; "
                                          "refusing to write NaN into an output", str(path))
    primary = fits.PrimaryHDU()
    for key, value in lc.meta.to_header_cards().items():
        primary.header[key] = value
    for key, value, comment in provenance_cards(record or provenance()):
        # long values continue over CONTINUE cards; a comment would then be truncated
        primary.header[key] = value if len(str(value)) > 40 else (value, comment)
    for key, (value, comment) in (cards or {}).items():
        primary.header[key] = (value, comment)
    table = fits.BinTableHDU.from_columns(table_columns, name="LIGHTCURVE")
    _time_cards(table.header, lc.time_format)
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList([primary, table]).writeto(tmp, checksum=True)
    return Path(path)


def _time_cards(header: Any, time_format: str) -> None:
    offset = TIME_FORMATS[time_format][0]
    header["TIMESYS"] = ("TDB", "time system is barycentric dynamical time")
    header["TIMEREF"] = ("SOLARSYSTEM", "barycentric correction applied to times")
    header["BJDREFI"] = (int(offset), "integer part of BJD reference date")
    header["BJDREFF"] = (offset - int(offset), "fraction of the day in BJD reference date")
    header["TIMEUNIT"] = ("d", "time unit for TIME")
    header["HSTIMEFM"] = (time_format, "halfsib time format name")


def write_table(
    table: Any,
    path: str | os.PathLike[str],
    *,
    record: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write an astropy :class:`~astropy.table.Table` as ECSV (or FITS by extension), atomically.

    Units travel with the columns; the provenance record goes into ``table.meta``.
    Refuses tables with NaN or infinite values in float columns (mask them instead).
    """
    out = Path(path)
    t = table.copy(copy_data=False)
    for name in t.colnames:
        col = t[name]
        if col.dtype.kind != "f":
            continue
        values = np.ma.getdata(col)[~np.ma.getmaskarray(col)]
        if values.size and not np.all(np.isfinite(values)):
            raise DataValidationError(
                f"column {name!r} has NaN or infinite values; mask them (astropy MaskedColumn) "
                "so that readers see them as missing", str(out))
    fmt = "fits" if out.suffix.lower() in (".fits", ".fit") else "ascii.ecsv"
    rec = dict(record or provenance())
    if fmt == "fits":
        t.meta["HSPROV"] = json.dumps(rec, default=str, sort_keys=True)
    else:
        t.meta["provenance"] = rec
    with atomic_path(out, overwrite=overwrite) as tmp:
        t.write(tmp, format=fmt)
    return out
