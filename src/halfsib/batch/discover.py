"""Finding the targets of a batch and grouping them by what shares an instrument model.

Each input file is read once (:func:`scan_target`, run on the workers) for its header
metadata; a file that cannot be read becomes a :class:`ScanFailure`, not an exception.
Targets are grouped by mission and campaign/sector and, where the regressors need it
(``group_by``), by detector (K2/Kepler channel, TESS camera/CCD); each group gets one ELC
basis.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigurationError
from .names import sanitise_name, unique_names

__all__ = ["TargetRecord", "ScanFailure", "scan_target", "group_key", "assign_names", "GROUP_BY"]

#: how targets are grouped: "auto" (K2/Kepler by season, TESS by season and camera/CCD),
#: "season", or "detector" (season and channel/camera-CCD)
GROUP_BY = ("auto", "season", "detector")


@dataclass(frozen=True)
class TargetRecord:
    """What the batch knows about one input file before processing it.

    Attributes
    ----------
    path : str
        The input file (absolute).
    target_id : str
        Catalogue id from the header (``"EPIC 211436265"``), or ``""`` when unknown.
    mission, season, detector : str
        ``"K2"``, ``"C13"``, ``"ch45"`` (``"?"`` when unknown).
    kind : str
        ``"lightcurve"`` or ``"pixels"``.
    n_cadences : int
        Cadences in the file.
    name : str
        Sanitised, unique output name (set by :func:`assign_names`; ``""`` before).
    """

    path: str
    target_id: str
    mission: str
    season: str
    detector: str
    kind: str
    n_cadences: int
    name: str = ""

    @property
    def key(self) -> str:
        """Stable identity of the target within a batch (seeds, sorting): id and season, else the path."""
        return f"{self.target_id}|{self.season}" if self.target_id else f"file:{self.path}"


@dataclass(frozen=True)
class ScanFailure:
    """An input that could not be read: path, message and exception class name."""

    path: str
    error: str
    error_type: str


def scan_target(path: str, flux_column: str | None = None) -> TargetRecord | ScanFailure:
    """Read one input's metadata (the whole file is validated, as the task will read it).

    Never raises for a bad file: returns a :class:`ScanFailure` naming the problem.
    """
    from ..exceptions import HalfsibError
    from ..io import read
    from ..timeseries import PixelSeries

    try:
        series = read(path, flux_column=flux_column, extra_columns=False)
    except (HalfsibError, OSError, ValueError) as err:
        return ScanFailure(path=str(path), error=str(err), error_type=type(err).__name__)
    meta = series.meta
    return TargetRecord(path=str(path), target_id=str(meta.target_id or ""), mission=meta.mission,
                        season=meta.season, detector=meta.detector,
                        kind="pixels" if isinstance(series, PixelSeries) else "lightcurve",
                        n_cadences=int(series.n_cadences))


def group_key(record: TargetRecord, group_by: str = "auto") -> str:
    """The group a target belongs to, as a safe name: ``"K2-C13"``, ``"TESS-S1-cam4-ccd1"``."""
    if group_by not in GROUP_BY:
        raise ConfigurationError(f"group_by must be one of {GROUP_BY}, got {group_by!r}")
    per_detector = group_by == "detector" or (group_by == "auto" and record.mission == "TESS")
    parts = [record.mission, record.season] + ([record.detector] if per_detector else [])
    return sanitise_name("-".join(p.replace("?", "unknown") for p in parts), fallback="unknown")


def assign_names(records: Iterable[TargetRecord]) -> list[TargetRecord]:
    """Give every record a sanitised unique output name; returned sorted by (name, path)."""
    from dataclasses import replace

    items = sorted(records, key=lambda r: (r.target_id, r.season, r.path))
    base = [sanitise_name(r.target_id or Path(r.path).name.split(".")[0], fallback="target") for r in items]
    names = unique_names(base, [os.path.realpath(r.path) for r in items])
    named = [replace(r, name=n) for r, n in zip(items, names)]
    return sorted(named, key=lambda r: (r.name, r.path))


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files, directories and globs → absolute file paths, sorted, no duplicates.

    Raises
    ------
    DataValidationError
        A pattern or directory matched nothing, or a named file does not exist.
    """
    from ..io import expand_paths

    paths = {os.path.abspath(p): None for p in expand_paths(list(inputs))}
    return sorted(paths)
