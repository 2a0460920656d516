"""The tables of an injection run: every injection (``injections.ecsv``) and the false
alarms per star (``false_alarms.ecsv``). Missing values are masked, never NaN."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["INJECTION_COLUMNS", "INJECTION_UNITS", "FALSE_ALARM_COLUMNS", "rows_table", "injection_table",
           "write_injection_table", "false_alarm_table"]

#: name -> (unit, description), in table order (the target columns come first in the run's table)
INJECTION_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("", "output folder of the target: OUTDIR/targets/<name>"),
    "target_id": ("", "target id from the file header"),
    "group": ("", "campaign/sector (and detector) group whose ELC basis was used"),
    "injection": ("", "injection number within the target (folder injNN)"),
    "file": ("", "the injected copy of the input, relative to the target's folder"),
    "period": ("d", "injected period"),
    "t0": ("d", "injected mid-transit time (the file's time system, BKJD/BTJD)"),
    "rp_over_rs": ("", "injected radius ratio Rp/Rstar"),
    "b": ("", "injected impact parameter"),
    "q1": ("", "injected Kipping limb-darkening q1"),
    "q2": ("", "injected Kipping limb-darkening q2"),
    "a_over_rs": ("", "a/Rstar from Kepler's law and the stellar density"),
    "phase": ("", "t0 = first good time + phase * period (drawn uniform 0-1)"),
    "duration": ("h", "injected T14"),
    "depth": ("ppm", "central depth of the star's transit (batman at mid-transit, before dilution)"),
    "target_fraction": ("", "share of the modified flux that is the target's (1, or CROWDSAP)"),
    "noise": ("ppm", "median relative flux uncertainty of the file per cadence (photon + read noise)"),
    "noise_measured": ("ppm", "point-to-point scatter of the raw flux (1.4826 MAD of second differences / sqrt 6)"),
    "expected_snr": ("", "target_fraction * sqrt(sum over good cadences of (1 - model)^2) / noise"),
    "n_transits": ("", "injected transits with good data"),
    "recovered": ("", "a candidate passing the automated cuts matches the period and t0"),
    "match": ("", "exact, alias or none: the best-matching candidate, whether it passes the cuts or not"),
    "alias": ("", "the matched candidate is at an integer or half-integer period alias"),
    "ratio": ("", "P_found:P_injected of the match (1:1 exact, 2:1 twice the period; masked: none)"),
    "found_rank": ("", "rank of the matched candidate (1 = strongest); masked: none matched"),
    "found_period": ("d", "period of the matched candidate"),
    "found_t0": ("d", "t0 of the matched candidate"),
    "found_depth": ("ppm", "depth of the matched candidate (search, nuisance marginalised)"),
    "found_snr": ("", "search S/N of the matched candidate"),
    "found_claimed": ("", "claimed by the full run (masked: fast mode or no match)"),
    "epoch_offset": ("h", "t0 difference of the match wrapped to the nearest common transit"),
    "n_candidates": ("", "candidates of this run of the pipeline"),
    "n_passing": ("", "of them passing the automated cuts"),
}
INJECTION_UNITS = {k: u for k, (u, _) in INJECTION_COLUMNS.items() if u}

FALSE_ALARM_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("", "output folder of the target"),
    "target_id": ("", "target id from the file header"),
    "group": ("", "basis group"),
    "inverted": ("", "the pipeline ran on the inverted light curve"),
    "n_candidates": ("", "search candidates above the search S/N threshold"),
    "n_passing": ("", "candidates passing the automated cuts (claimed; fast: the search S/N cut)"),
    "n_claimed": ("", "claimed candidates (masked: fast mode)"),
    "max_snr": ("", "largest candidate S/N (masked: no candidate)"),
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


#: column kinds that do not depend on the values present (an all-masked column keeps its type)
KINDS = {**dict.fromkeys(("name", "target_id", "group", "file", "match", "ratio"), "str"),
         **dict.fromkeys(("recovered", "alias", "found_claimed", "inverted"), "bool"),
         **dict.fromkeys(("injection", "n_transits", "found_rank", "n_candidates", "n_passing", "n_claimed"), "int")}


def _kind(values: Sequence[Any]) -> str:
    present = [v for v in values if not _missing(v)]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        return "int"
    if all(isinstance(v, (int, float, np.number)) for v in present):
        return "float"
    return "str"


def _column(name: str, values: Sequence[Any]) -> Any:
    from astropy.table import MaskedColumn

    missing = np.array([_missing(v) for v in values], bool)
    kind = KINDS.get(name) or _kind(values)
    if kind == "str":
        data: Any = np.array(["" if m else str(v) for v, m in zip(values, missing)], str)
    else:
        dtype, fill = {"bool": (bool, False), "int": (np.int64, 0), "float": (np.float64, 0.0)}[kind]
        data = np.array([fill if m else v for v, m in zip(values, missing)], dtype)
    return MaskedColumn(data, name=name, mask=missing)


def rows_table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, tuple[str, str]]) -> Any:
    """An astropy table of ``rows`` with ``columns`` (name → (unit, description)), masked where missing."""
    from astropy.table import Table

    table = Table()
    for name, (unit, text) in columns.items():
        if rows and not any(name in r for r in rows):
            continue
        table[name] = _column(name, [r.get(name) for r in rows])
        table[name].unit = unit or None
        table[name].description = text
    return table


def injection_table(rows: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any] | None = None) -> Any:
    """The injection table (columns :data:`INJECTION_COLUMNS`, those present in the rows)."""
    table = rows_table(rows, INJECTION_COLUMNS)
    table.meta.update(meta or {})
    return table


def write_injection_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, target: str = "",
                          settings: Mapping[str, Any] | None = None) -> None:
    """Write one target's injections as ECSV, atomically (:func:`halfsib.io.write_table`)."""
    from ..io import provenance, write_table

    table = injection_table(rows, meta={"target": target, "distributions": dict(settings or {})})
    write_table(table, path, record=provenance([], {"distributions": dict(settings or {})}))


def false_alarm_table(records: Sequence[Mapping[str, Any]]) -> Any:
    """One row per star of a false-alarm run (columns :data:`FALSE_ALARM_COLUMNS`)."""
    return rows_table(records, FALSE_ALARM_COLUMNS)
