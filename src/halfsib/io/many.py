"""Many files at once: discovery, reading with per-file error capture, and alignment."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._progress import progress
from ..exceptions import DataValidationError, HalfsibError
from ..timeseries import LightCurve
from ._fits import TABLE_SUFFIXES
from .read import read

log = logging.getLogger(__name__)

_DATA_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fz") + TABLE_SUFFIXES


def expand_paths(inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files, directories (their data files, not recursive) and glob patterns, sorted, no duplicates.

    Raises
    ------
    DataValidationError
        A pattern or directory matched nothing, or a named file does not exist.
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    found: dict[Path, None] = {}
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise DataValidationError("the pattern matched no file", text)
            found.update((Path(m), None) for m in matches if Path(m).is_file())
        elif Path(text).is_dir():
            matches = sorted(p for p in Path(text).iterdir() if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES))
            if not matches:
                raise DataValidationError(f"the directory holds no data files ({', '.join(_DATA_SUFFIXES)})", text)
            found.update((m, None) for m in matches)
        else:
            if not Path(text).exists():
                raise DataValidationError("no such file", text)
            found[Path(text)] = None
    return list(found)


@dataclass(frozen=True)
class ReadFailure:
    """A file that could not be read, and why (the error's message names the problem)."""

    path: str
    error: str
    error_type: str


def read_many(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    on_error: str = "raise",
    show_progress: bool = True,
    executor: Any = None,
    **read_options: Any,
) -> tuple[list[Any], list[ReadFailure]]:
    """Read every file of a directory, glob or list.

    Parameters
    ----------
    inputs : path, glob pattern, directory, or a sequence of them
    on_error : {"raise", "skip"}
        ``"raise"`` stops at the first unreadable file; ``"skip"`` records it in the
        returned failures and goes on (a campaign always has a few bad files).
    show_progress : bool
        Show a progress bar.
    executor : object with a ``map`` method, optional
        E.g. a ``concurrent.futures.ThreadPoolExecutor``; default reads serially.
    **read_options
        Passed to :func:`halfsib.io.read` (``flux_column``, ``quality_bitmask``,
        ``extra_columns=False`` to read only time/flux/error/quality/cadence...).

    Returns
    -------
    series : list of LightCurve or PixelSeries
        In the (sorted) order of the files read successfully.
    failures : list of ReadFailure
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    paths = expand_paths(inputs)
    reader: Callable[[Path], Any] = _Reader(read_options, on_error == "skip")
    mapper = executor.map if executor is not None else map
    results = list(progress(mapper(reader, paths), enabled=show_progress, total=len(paths),
                            desc="reading", unit="file"))
    series = [r for r in results if not isinstance(r, ReadFailure)]
    failures = [r for r in results if isinstance(r, ReadFailure)]
    for failure in failures:
        log.warning("skipped %s", failure.error)
    return series, failures


class _Reader:
    """Picklable callable reading one path (so process pools work too)."""

    def __init__(self, options: dict[str, Any], capture: bool):
        self.options = options
        self.capture = capture

    def __call__(self, path: Path) -> Any:
        try:
            return read(path, **self.options)
        except HalfsibError as err:
            if not self.capture:
                raise
            return ReadFailure(str(path), str(err), type(err).__name__)


@dataclass(frozen=True, eq=False)
class AlignedSet:
    """Many light curves on one cadence grid.

    Attributes
    ----------
    cadenceno : ndarray of int64, shape (M,)
        The grid's cadence numbers.
    time : ndarray, shape (M,)
        Grid times (days, ``time_format``): the reference's, or the median over stars.
    flux, flux_err : ndarray, shape (n_series, M)
        Values on the grid; NaN where ``good`` is False (no cadence or a bad one).
    good : ndarray of bool, shape (n_series, M)
    ids : tuple of str
        Target id (or file name) of each row.
    """

    cadenceno: NDArray[np.int64]
    time: NDArray[np.float64]
    flux: NDArray[np.float64]
    flux_err: NDArray[np.float64]
    good: NDArray[np.bool_]
    ids: tuple[str, ...]
    time_format: str

    @property
    def n_series(self) -> int:
        """Number of light curves."""
        return int(self.flux.shape[0])


def _label(lc: LightCurve) -> str:
    return lc.meta.target_id or lc.meta.source or "?"


def _check_overlap(series: Sequence[LightCurve], reference: LightCurve) -> None:
    t0, t1 = reference.time_range
    for lc in series:
        a, b = lc.time_range
        if b < t0 or a > t1:
            raise DataValidationError(
                f"does not overlap in time with the reference {reference.meta.source or _label(reference)} "
                f"(its good cadences span {a:.3f}-{b:.3f}, the reference's {t0:.3f}-{t1:.3f} "
                f"{reference.time_format.upper()}). Regressors must come from the same campaign/sector",
                lc.meta.source or _label(lc),
            )


def align(
    series: Sequence[LightCurve],
    *,
    on: str = "cadenceno",
    reference: LightCurve | None = None,
    tolerance: float | None = None,
) -> AlignedSet:
    """Put light curves on one grid: the reference's cadences (default: the first series).

    Parameters
    ----------
    series : sequence of LightCurve
    on : {"cadenceno", "time"}
        Match by mission cadence number (exact) or by nearest time within ``tolerance``.
    reference : LightCurve, optional
        Whose cadences define the grid; default ``series[0]``.
    tolerance : float, optional
        Largest time difference (days) accepted by ``on="time"``; default half the
        reference's median cadence spacing.

    Raises
    ------
    DataValidationError
        A light curve does not overlap the reference in time, or time systems differ.
    """
    if on not in ("cadenceno", "time"):
        raise ValueError(f"on must be 'cadenceno' or 'time', got {on!r}")
    if not series:
        raise ValueError("align() needs at least one light curve")
    ref = series[0] if reference is None else reference
    for lc in series:
        if lc.time_format != ref.time_format:
            raise DataValidationError(
                f"time system {lc.time_format} differs from the reference's {ref.time_format}", lc.meta.source)
    _check_overlap(series, ref)
    n, m = len(series), ref.n_cadences
    flux = np.full((n, m), np.nan)
    flux_err = np.full((n, m), np.nan)
    good = np.zeros((n, m), bool)
    for i, lc in enumerate(series):
        idx, ok = _match(lc, ref, on, tolerance)
        flux[i, idx[ok]] = lc.flux[ok]
        flux_err[i, idx[ok]] = lc.flux_err[ok]
        good[i, idx[ok]] = lc.good[ok]
    flux[~good] = np.nan
    flux_err[~good] = np.nan
    return AlignedSet(cadenceno=ref.cadenceno.copy(), time=ref.time.copy(), flux=flux, flux_err=flux_err, good=good,
                      ids=tuple(_label(lc) for lc in series), time_format=ref.time_format)


def _match(lc: LightCurve, ref: LightCurve, on: str, tolerance: float | None) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Grid index of each cadence of ``lc`` and whether it has a match."""
    if on == "cadenceno":
        order = np.argsort(ref.cadenceno, kind="stable")
        pos = np.clip(np.searchsorted(ref.cadenceno[order], lc.cadenceno), 0, ref.n_cadences - 1)
        idx = order[pos]
        return idx, ref.cadenceno[idx] == lc.cadenceno
    finite_ref = np.flatnonzero(np.isfinite(ref.time))
    rt = ref.time[finite_ref]
    tol = tolerance if tolerance is not None else 0.5 * float(np.median(np.diff(rt)))
    pos = np.clip(np.searchsorted(rt, lc.time), 1, rt.size - 1)
    left, right = rt[pos - 1], rt[pos]
    nearest = np.where(np.abs(lc.time - left) <= np.abs(right - lc.time), pos - 1, pos)
    with np.errstate(invalid="ignore"):
        ok = np.abs(rt[nearest] - lc.time) <= tol
    return finite_ref[nearest], ok
