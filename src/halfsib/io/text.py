"""Plain-text tables: light curves (time, flux[, flux_err]) and CBV-style basis tables."""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import FileFormatError
from ..timeseries import TIME_FORMATS, LightCurve, TargetInfo
from .validate import MIN_CADENCES, as_float64, check_times, check_usable, flux_uncertainties, good_mask

log = logging.getLogger(__name__)

_TIME_NAMES = ("time", "t", "bjd", "btjd", "bkjd", "jd", "bjd_tdb")
_FLUX_NAMES = ("flux", "f", "sap_flux", "pdcsap_flux", "fraw", "flux_raw", "rel_flux")
_ERR_NAMES = ("flux_err", "err", "error", "sigma", "e_flux", "fluxerr", "dflux", "flux_error", "uncertainty")


@dataclass(frozen=True, eq=False)
class BasisTable:
    """Regressor vectors on a time grid (CBVs, an EVEREST/DFM-style basis, user regressors).

    Attributes
    ----------
    time : ndarray, shape (N,)
        Days, in ``time_format``.
    vectors : ndarray, shape (N, K)
        One column per regressor (a constant column, if the file has one, is kept).
    names : tuple of str
        Column names (``v1`` ... when the file gives none).
    cadenceno : ndarray or None
        Cadence numbers when the file has them.
    comments : tuple of str
        Header comment lines, verbatim (e.g. EVEREST's segment break indices).
    """

    time: NDArray[np.float64]
    vectors: NDArray[np.float64]
    names: tuple[str, ...]
    time_format: str = "unknown"
    cadenceno: NDArray[np.int64] | None = None
    source: str | None = None
    comments: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_vectors(self) -> int:
        """Number of regressor columns K."""
        return int(self.vectors.shape[1])

    def __repr__(self) -> str:
        return f"<halfsib.BasisTable {self.n_vectors} vectors x {self.time.size} cadences from {self.source}>"


def read_table(path: Path) -> Any:
    """An astropy ``Table`` from an ECSV, CSV or TSV file (by suffix; others: astropy's guess),
    warnings silenced; raises :class:`~halfsib.exceptions.DataValidationError` naming the
    file when it cannot be read as a table."""
    from astropy.table import Table

    suffix = path.suffix.lower()
    fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".tsv": "ascii.tab"}.get(suffix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt is not None:
                table = Table.read(path, format=fmt)
            else:
                table = Table.read(path, format="ascii", guess=True)
            if fmt != "ascii.ecsv" and table.colnames and all(_is_number(n) for n in table.colnames):
                # no header line (as TLS, allesfitter and many papers ship light curves): the
                # "names" are the first data row; read again with positional names col1, col2...
                table = Table.read(path, format="ascii.no_header", delimiter="," if suffix == ".csv" else None)
    except Exception as err:
        raise FileFormatError(
            f"cannot parse as a table ({type(err).__name__}: {str(err).splitlines()[0][:200]}). Expected "
            "columns time, flux[, flux_err] as CSV, ECSV or whitespace-separated text", str(path)
        ) from err
    return table


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pick(names: list[str], candidates: tuple[str, ...], position: int | None, generic: bool) -> str | None:
    lower = {n.lower(): n for n in names}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    if generic and position is not None and position < len(names):
        return names[position]
    return None


def _comments(table: Any) -> tuple[str, ...]:
    return tuple(str(c) for c in table.meta.get("comments", ()))


#: text entries of a numeric column read as a missing value (compared lower-case, stripped)
MISSING_MARKERS = frozenset({"", "n/a", "na", "nan", "null", "none", "--", "-", "?"})


def numeric_column(table: Any, name: str, source: str) -> NDArray[np.float64]:
    """Column ``name`` of a plain table as float64.

    A column that the table reader left as text (one entry such as ``n/a`` is enough) is
    converted entry by entry: the usual missing-value markers (:data:`MISSING_MARKERS`)
    become NaN, and those cadences are then not good; any other text is refused.

    Raises
    ------
    FileFormatError
        An entry that is neither a number nor a missing-value marker (naming the column,
        the data row and the entry).
    """
    column = table[name]
    if np.asarray(column).dtype.kind in "biuf":
        return as_float64(column)
    values = np.full(len(column), np.nan)
    missing = 0
    for row, entry in enumerate(np.ma.filled(np.ma.asarray(column).astype(str), "")):
        text = str(entry).strip()
        if text.lower() in MISSING_MARKERS:
            missing += 1
            continue
        try:
            values[row] = float(text)
        except ValueError:
            raise FileFormatError(
                f"column {name!r}, data row {row + 1}: {text!r} is not a number. Fix or delete that entry "
                f"(missing values may be written as one of {sorted(m for m in MISSING_MARKERS if m)} or left empty)",
                source) from None
    if missing:
        log.info("%s: %d entries of column %r are missing-value markers; those cadences are not used",
                 source, missing, name)
    return values


def read_table_lightcurve(
    path: Path,
    *,
    flux_column: str | None = None,
    flux_err_column: str | None = "auto",
    time_format: str | None = None,
    min_cadences: int = MIN_CADENCES,
) -> LightCurve:
    """Read a plain table: columns found by name, else by position (time, flux, flux_err)."""
    source = str(path)
    table = read_table(path)
    names = list(table.colnames)
    generic = all(re.fullmatch(r"col\d+", n) for n in names)
    numeric = [n for n in names if table[n].dtype.kind in "fiu"]
    if len(numeric) < 2:
        raise FileFormatError(f"a light-curve table needs numeric time and flux columns; found {names}", source)
    if generic and len(numeric) > 3:
        raise FileFormatError(
            f"has {len(numeric)} unnamed numeric columns, which looks like a CBV/basis table, not a light curve "
            "(time, flux[, flux_err]). Read it with halfsib.io.read_basis (CLI: --cbv)", source)
    time_name = _pick(names, _TIME_NAMES, 0, generic) or numeric[0]
    flux_name = flux_column if flux_column in names else _pick(names, _FLUX_NAMES, 1, generic)
    if flux_column is not None and flux_column not in names:
        raise FileFormatError(f"no flux column {flux_column!r}; columns are {names}", source)
    if flux_name is None:
        raise FileFormatError(f"no flux column found (looked for {list(_FLUX_NAMES)}); columns are {names}", source)
    if flux_err_column == "auto":
        err_name = _pick(names, _ERR_NAMES, 2, generic)
    else:
        err_name = flux_err_column
        if err_name is not None and err_name not in names:
            raise FileFormatError(f"no flux uncertainty column {err_name!r}; columns are {names}", source)
    time = numeric_column(table, time_name, source)
    flux = numeric_column(table, flux_name, source)
    quality = np.zeros(time.size, np.int64)
    check_times(time, source)
    if time_format is None:
        meta_format = str(table.meta.get("time_format", "")).lower()
        time_format = meta_format if meta_format in TIME_FORMATS else (
            time_name.lower() if time_name.lower() in TIME_FORMATS else "unknown")
    elif time_format not in TIME_FORMATS:
        raise ValueError(f"time_format must be one of {sorted(TIME_FORMATS)}, got {time_format!r}")
    flux_err, estimated = flux_uncertainties(
        time, flux, None if err_name is None else numeric_column(table, err_name, source), quality,
        mission="unknown", bitmask=0, min_cadences=min_cadences, source=source, flux_name=flux_name,
        err_name=err_name)
    good = good_mask(time, flux, flux_err, quality, 0)
    check_usable(good, flux_err, quality, mission="unknown", bitmask=0, min_cadences=min_cadences,
                 source=source, what=flux_name)
    mission = str(table.meta.get("mission", "unknown"))
    meta = TargetInfo(mission=mission, target_id=table.meta.get("target_id") or path.stem, source=source,
                      file_format="table", flux_column=flux_name)
    unit = str(table[flux_name].unit) if table[flux_name].unit is not None else ""
    return LightCurve(time=time, quality=quality, good=good, cadenceno=np.arange(time.size, dtype=np.int64),
                      time_format=time_format, meta=meta, flux=flux, flux_err=flux_err, flux_unit=unit,
                      flux_err_estimated=estimated)


def read_basis_table(path: Path, *, time_format: str | None = None) -> BasisTable:
    """Read a CBV-style basis: first (or ``time``) column is time, the others are vectors."""
    source = str(path)
    table = read_table(path)
    names = [n for n in table.colnames if table[n].dtype.kind in "fiu"]
    if len(names) < 2:
        raise FileFormatError(f"a basis table needs a time column and at least one vector; found {table.colnames}",
                              source)
    time_name = _pick(names, _TIME_NAMES, 0, True) or names[0]
    cad_name = _pick(names, ("cadenceno", "cadence", "cadence_number"), None, False)
    vector_names = [n for n in names if n not in (time_name, cad_name)]
    time = as_float64(table[time_name])
    vectors = np.column_stack([as_float64(table[n]) for n in vector_names])
    if not np.all(np.isfinite(time)):
        raise FileFormatError("the basis table has non-finite times", source)
    if not np.all(np.isfinite(vectors)):
        raise FileFormatError("the basis table has NaN or infinite values; interpolate or drop those rows", source)
    check_times(time, source)
    generic = all(re.fullmatch(r"col\d+", n) for n in vector_names)
    labels = tuple(f"v{i + 1}" for i in range(len(vector_names))) if generic else tuple(vector_names)
    tf = time_format or str(table.meta.get("time_format", "unknown")).lower()
    if tf not in TIME_FORMATS:
        raise ValueError(f"time_format must be one of {sorted(TIME_FORMATS)}, got {tf!r}")
    cad = np.asarray(table[cad_name], np.int64) if cad_name else None
    return BasisTable(time=time, vectors=vectors, names=labels, time_format=tf, cadenceno=cad, source=source,
                      comments=_comments(table))
