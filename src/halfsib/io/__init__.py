"""Reading and writing mission data.

- :func:`read` — one entry point for every supported file or lightkurve object;
- :func:`read_many` — a directory, glob or list of files, with per-file error capture;
- :func:`read_basis` — CBV-style regressor tables;
- :func:`align` — many light curves on one cadence grid;
- :func:`write_lightcurve`, :func:`write_table` — atomic FITS/ECSV output with provenance.
"""

from .formats import FORMATS, detect_format
from .many import AlignedSet, ReadFailure, align, expand_paths, read_many
from .read import read, read_basis
from .text import BasisTable
from .writers import package_versions, provenance, provenance_cards, write_lightcurve, write_table

__all__ = [
    "FORMATS", "detect_format", "read", "read_basis", "read_many", "expand_paths", "align", "AlignedSet",
    "ReadFailure", "BasisTable", "write_lightcurve", "write_table", "provenance", "provenance_cards", "package_versions",
]
