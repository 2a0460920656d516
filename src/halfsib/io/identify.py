"""What kind of thing a file is, without reading its data: used by ``halfsib info``."""

from __future__ import annotations

import os
from pathlib import Path

from ._fits import TABLE_SUFFIXES, check_path, looks_like_fits, open_fits
from .formats import detect_format


def identify(path: str | os.PathLike[str]) -> str:
    """Return ``"pixels"``, ``"lightcurve"`` or ``"basis"`` for a readable file.

    Raises
    ------
    FileFormatError
        For files that are not FITS or tables, or are of unknown format.
    """
    p = check_path(path)
    if looks_like_fits(p):
        hdul = open_fits(p)
        try:
            names = [c.upper() for c in getattr(hdul[1], "columns", None).names] if len(hdul) > 1 and hasattr(
                hdul[1], "columns") else []
            if any(n.startswith("VECTOR_") for n in names) and "FLUX" not in names:
                return "basis"
            fmt = detect_format(hdul, str(p))
            return "pixels" if fmt.endswith("-tpf") or fmt == "everest" else "lightcurve"
        finally:
            hdul.close()
    if p.suffix.lower() in TABLE_SUFFIXES:
        from .text import read_table

        table = read_table(Path(p))
        names = list(table.colnames)
        unnamed = all(n.startswith("col") for n in names)
        numeric = [n for n in names if table[n].dtype.kind in "fiu"]
        return "basis" if unnamed and len(numeric) > 3 else "lightcurve"
    from ..exceptions import FileFormatError

    raise FileFormatError(
        "not a FITS file and not a table (" + ", ".join(TABLE_SUFFIXES) + "); halfsib cannot read it", str(p))
