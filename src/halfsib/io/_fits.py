"""Opening FITS files safely: every failure becomes a :class:`FileFormatError` naming the file."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path
from typing import Any

from ..exceptions import FileFormatError

FITS_BLOCK = 2880
TABLE_SUFFIXES = (".csv", ".ecsv", ".txt", ".dat", ".tbl", ".tsv")


GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """True if the file starts with the gzip magic bytes (``.fits.gz`` as archives ship them)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def looks_like_fits(path: Path) -> bool:
    """True if the file, or its gzip-decompressed content, starts with the FITS ``SIMPLE`` card."""
    if is_gzip(path):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(9) == b"SIMPLE  ="
        except (OSError, EOFError):
            return False
    with open(path, "rb") as handle:
        return handle.read(9) == b"SIMPLE  ="


def check_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path` after checking it is a readable, non-empty file."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError("no such file; check the path (globs must be quoted for halfsib to expand them)", str(p))
    if p.is_dir():
        raise FileFormatError("is a directory; pass the files in it (or use read_many / a glob)", str(p))
    if p.stat().st_size == 0:
        raise FileFormatError("file is empty (0 bytes); the download or copy was interrupted, fetch it again", str(p))
    return p


def open_fits(path: Path) -> Any:
    """Open a FITS file, read every header and check that no HDU is cut short.

    Raises
    ------
    FileFormatError
        Not a FITS file, a header that cannot be parsed, or a file shorter than its
        headers say (truncated download).
    """
    from astropy.io import fits

    if not looks_like_fits(path):
        raise FileFormatError(
            "not a FITS file (it does not start with the FITS 'SIMPLE' card). halfsib reads "
            "Kepler/K2/TESS FITS products and plain tables (" + ", ".join(TABLE_SUFFIXES) + ")", str(path)
        )
    if is_gzip(path):
        return _open_gzip_fits(path)
    size = path.stat().st_size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=True, lazy_load_hdus=False)
    except Exception as err:  # astropy raises OSError, VerifyError, ValueError, ... on broken headers
        raise FileFormatError(
            f"corrupted FITS file: its headers cannot be parsed ({type(err).__name__}: {err}). "
            "Fetch the file again", str(path)
        ) from err
    known = (fits.PrimaryHDU, fits.ImageHDU, fits.BinTableHDU, fits.TableHDU, fits.CompImageHDU, fits.GroupsHDU)
    for index in range(len(hdul)):
        if not isinstance(hdul[index], known):
            hdul.close()
            raise FileFormatError(
                f"corrupted FITS file: HDU {index} has an unreadable header (not a valid image or table "
                "extension). Fetch the file again", str(path))
        info = hdul.fileinfo(index)
        needed = info["datLoc"] + info["datSpan"]
        if needed > size:
            hdul.close()
            raise FileFormatError(
                f"truncated file: HDU {index} ({hdul[index].name}) needs {needed} bytes but the file has "
                f"{size}. The download or copy was interrupted; fetch the file again", str(path)
            )
    if size % FITS_BLOCK:
        hdul.close()
        raise FileFormatError(
            f"truncated or corrupted file: {size} bytes is not a whole number of 2880-byte FITS "
            "blocks (every FITS file is). The download or copy was interrupted; fetch the file again", str(path)
        )
    return hdul


def _open_gzip_fits(path: Path) -> Any:
    """A gzip-compressed FITS file, decompressed once into memory and opened from there.

    The whole stream is decompressed first (astropy alone reads a cut archive's first HDUs
    without complaint), so that a truncated or corrupted archive fails here, naming the file.
    """
    import io
    import zlib

    from astropy.io import fits

    try:
        with gzip.open(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError, zlib.error) as err:
        raise FileFormatError(
            f"truncated or corrupted gzip-compressed FITS file ({type(err).__name__}: {err}). The download "
            "or copy was interrupted; fetch the file again", str(path)) from err
    if len(content) % FITS_BLOCK:
        raise FileFormatError(
            f"truncated or corrupted file: it decompresses to {len(content)} bytes, not a whole number of "
            "2880-byte FITS blocks (every FITS file is). Fetch the file again", str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fits.open(io.BytesIO(content), lazy_load_hdus=False)
    except Exception as err:  # astropy raises OSError, VerifyError, ValueError, ... on broken headers
        raise FileFormatError(
            f"corrupted gzip-compressed FITS file: its headers cannot be parsed ({type(err).__name__}: {err}). "
            "Fetch the file again", str(path)) from err


def header_value(header: Any, *keys: str, default: Any = None) -> Any:
    """First non-empty value among ``keys`` in ``header`` (astropy Undefined counts as empty)."""
    from astropy.io.fits.card import Undefined

    for key in keys:
        value = header.get(key)
        if value is None or isinstance(value, Undefined) or (isinstance(value, str) and not value.strip()):
            continue
        return value
    return default
