"""The batch's tables: one catalog row per candidate across all targets, and the failures.

Both are built from :class:`~halfsib.batch.execute.TargetOutcome` objects (this run's and
the stored markers of targets completed earlier), sorted by target name and candidate
rank, so the same inputs and settings give the same rows whatever the worker count or the
order in which targets finished. See ``docs/batch.md`` for every column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..report import SEARCH_COLUMNS as _REPORT_SEARCH_COLUMNS
from .discover import ScanFailure, TargetRecord
from .execute import TargetOutcome

__all__ = ["catalog_table", "failures_table", "targets_table", "FRONT_COLUMNS", "SEARCH_COLUMNS", "TARGET_COLUMNS"]

#: columns every catalog starts with (before the task's candidate columns)
FRONT_COLUMNS = ("name", "target_id", "group", "mission", "season", "channel", "candidate")
#: the candidate columns of the default task (the ``halfsib search`` table), used for an empty catalog
SEARCH_COLUMNS = tuple(_REPORT_SEARCH_COLUMNS)
_SEARCH_UNITS = {name: unit for name, unit in _REPORT_SEARCH_COLUMNS.items() if unit}
_DESCRIPTIONS = {
    "name": "output folder of the target: OUTDIR/targets/<name>",
    "target_id": "target id from the file header",
    "group": "campaign/sector (and detector) group whose ELC basis the target used",
    "channel": "detector: K2/Kepler channel (chNN) or TESS camera/CCD (camX-ccdY); ? if unknown",
    "candidate": "rank of the candidate within its target (1 = strongest, found first)",
    "claimed": "claimed planet after the flexibility ladder and vetting (masked: not evaluated; "
               "the detrend+search task does not claim)",
}
#: candidate-table columns already covered by the front columns
_DUPLICATES = {"target"}


def _kind(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None and not (isinstance(v, float) and not math.isfinite(v))]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    if not present and values and any(isinstance(v, float) for v in values):
        return "float"
    return "str" if present else "float"


def _column(name: str, values: Sequence[Any]) -> Any:
    from astropy.table import MaskedColumn

    kind = _kind(values)
    missing = [v is None or (isinstance(v, float) and not math.isfinite(v)) for v in values]
    if kind == "str":
        data: Any = np.array(["" if m else str(v) for v, m in zip(values, missing)], dtype=str)
        return MaskedColumn(data, name=name, mask=np.array(missing, bool)) if any(missing) else data
    fill = {"bool": False, "int": 0, "float": 0.0}[kind]
    dtype = {"bool": bool, "int": np.int64, "float": np.float64}[kind]
    data = np.array([fill if m else v for v, m in zip(values, missing)], dtype=dtype)
    return MaskedColumn(data, name=name, mask=np.array(missing, bool))


def _ordered_columns(outcomes: Sequence[TargetOutcome]) -> list[str]:
    names: dict[str, None] = {}
    for outcome in outcomes:
        for row in (*outcome.rows, dict.fromkeys(outcome.columns)):
            names.update((k, None) for k in row if k not in _DUPLICATES and k not in FRONT_COLUMNS)
    if not names:
        names.update((k, None) for k in SEARCH_COLUMNS)
    names.pop("claimed", None)
    return list(names)


def _finished(outcomes: Sequence[TargetOutcome]) -> list[TargetOutcome]:
    """The done and complete targets, sorted by (name, path)."""
    return sorted((o for o in outcomes if o.status in ("done", "complete")), key=lambda o: (o.name, o.path))


def _where(outcome: TargetOutcome, records: Mapping[str, TargetRecord]) -> dict[str, str]:
    """The target's front columns except ``candidate``: name, id, group, mission, season, channel."""
    rec = records.get(outcome.name)
    return {"name": outcome.name, "target_id": outcome.target_id, "group": outcome.group,
            "mission": rec.mission if rec else "", "season": rec.season if rec else "",
            "channel": rec.detector if rec else "?"}


def catalog_table(outcomes: Sequence[TargetOutcome], records: Mapping[str, TargetRecord]) -> Any:
    """One row per candidate of the done/complete targets, sorted by (name, candidate rank).

    Parameters
    ----------
    outcomes : sequence of TargetOutcome
        Failed ones are ignored.
    records : mapping name -> TargetRecord
        For mission, season and channel.

    Returns
    -------
    astropy.table.Table
        Columns :data:`FRONT_COLUMNS`, the task's candidate columns (with units), ``claimed``
        (masked where the task did not decide). Non-finite values are masked, never NaN.
    """
    from astropy.table import Table

    good = _finished(outcomes)
    columns = _ordered_columns(good)
    units: dict[str, str] = dict(_SEARCH_UNITS)
    rows: list[dict[str, Any]] = []
    for outcome in good:
        units.update(outcome.units)
        front = _where(outcome, records)
        for rank, row in enumerate(outcome.rows, start=1):
            rows.append({**front, "candidate": rank, **row})
    table = Table()
    for name in (*FRONT_COLUMNS, *columns):
        values = [r.get(name) for r in rows]
        table[name] = _column(name, values) if rows else np.zeros(0, dtype=str if name in FRONT_COLUMNS[:6]
                                                                  else (np.int64 if name == "candidate" else float))
        if name in units and units[name] not in ("", "None"):
            table[name].unit = units[name]
    claimed = [r.get("claimed") for r in rows]
    table["claimed"] = _column("claimed", [c if isinstance(c, bool) else None for c in claimed]) if rows else \
        np.zeros(0, bool)
    for name, text in _DESCRIPTIONS.items():
        table[name].description = text
    return table


#: per-target columns of ``targets.ecsv`` taken from the task's ``info`` (name -> unit, description)
TARGET_COLUMNS: dict[str, tuple[str, str]] = {
    "n_cadences": ("", "cadences of the target's light curve"),
    "cdpp_raw_ppm": ("ppm", "6.5-h CDPP of the raw flux (lightkurve's definition; candidate transits left out)"),
    "cdpp_ppm": ("ppm", "6.5-h CDPP of the corrected flux (systematics removed, stellar variability kept)"),
    "n_candidates": ("", "periodic candidates found"),
    "n_single_events": ("", "single events reported"),
    "n_claimed": ("", "claimed planets (masked: the detrend + search task does not claim)"),
}


def targets_table(outcomes: Sequence[TargetOutcome], records: Mapping[str, TargetRecord]) -> Any:
    """One row per done/complete target, sorted by name: where it is, its precision (raw and
    corrected 6.5-h CDPP) and its candidate counts (:data:`TARGET_COLUMNS`; missing values masked)."""
    from astropy.table import MaskedColumn, Table

    good = _finished(outcomes)
    fronts = [_where(o, records) for o in good]
    table = Table()
    for name in FRONT_COLUMNS[:6]:
        table[name] = np.array([f[name] for f in fronts], dtype=str)
    for name, (unit, text) in TARGET_COLUMNS.items():
        values = [o.info.get(name) for o in good]
        missing = [v is None or (isinstance(v, float) and not math.isfinite(v)) for v in values]
        table[name] = MaskedColumn([0.0 if m else float(v) for v, m in zip(values, missing)], mask=missing,
                                   unit=unit or None, description=text)
    table["seconds"] = MaskedColumn([float(o.seconds) for o in good], unit="s", description="task wall time")
    return table


def failures_table(outcomes: Sequence[TargetOutcome], scan_failures: Sequence[ScanFailure],
                   basis_failures: Sequence[tuple[str, str, str]] = ()) -> Any:
    """One row per failure: unreadable inputs (stage ``read``), groups whose basis could not be
    built (stage ``basis``; their targets then run without ELCs), failed tasks (stage ``task``).

    Columns: ``stage``, ``name``, ``target_id``, ``group``, ``path``, ``error_type``, ``error``.
    """
    from astropy.table import Table

    rows = [("read", "", "", "", f.path, f.error_type, f.error) for f in sorted(scan_failures, key=lambda f: f.path)]
    rows += [("basis", "", "", group, "", etype, msg) for group, etype, msg in sorted(basis_failures)]
    rows += [("task", o.name, o.target_id, o.group, o.path, o.error_type, o.error)
             for o in sorted(outcomes, key=lambda o: (o.name, o.path)) if o.status == "failed"]
    names = ("stage", "name", "target_id", "group", "path", "error_type", "error")
    table = Table(rows=rows or None, names=names, dtype=[str] * len(names))
    table["stage"].description = "read: input unreadable; basis: group basis not built; task: target failed"
    table["error"].description = "the error message (the target's log has the traceback)"
    return table
