"""``inject_and_recover``: an injection–recovery (or false-alarm) run through the batch.

The batch machinery (:func:`halfsib.batch.run_batch`) does the work with
:class:`~halfsib.injection.task.InjectionTask` as its per-target task: shared bases, local
pool or Dask, resume after an interruption, one run per folder. Afterwards the per-target
results (stored in each target's completion marker) are gathered into
``injections.ecsv`` and ``completeness.png`` — or, for a false-alarm run (no injections,
optionally inverted light curves), into ``false_alarms.ecsv`` — plus
``injection_summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .config import InjectionConfig

__all__ = ["InjectionSummary", "inject_and_recover", "collect_records"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InjectionSummary:
    """What an injection (or false-alarm) run produced.

    Attributes
    ----------
    outdir : str
    n_targets, n_failed : int
        Targets with results, targets that failed (see ``failures.ecsv``).
    n_injections, n_recovered : int
        Injections over all targets, and those recovered (0 for a false-alarm run).
    n_candidates, n_passing : int
        Candidates of a false-alarm run, and those passing the automated cuts.
    n_claimed : int or None
        Claimed candidates of a false-alarm run (None: fast mode does not claim).
    mode : str
        ``run`` or ``fast``.
    inverted : bool
    outputs : tuple of str
        Tables and figures written into ``outdir``.
    batch : dict
        The batch summary (:class:`halfsib.batch.BatchSummary` as a dict).
    """

    outdir: str
    n_targets: int
    n_failed: int
    n_injections: int
    n_recovered: int
    n_candidates: int
    n_passing: int
    n_claimed: int | None
    mode: str
    inverted: bool
    outputs: tuple[str, ...]
    batch: dict[str, Any]

    @property
    def passing_per_star(self) -> float:
        """False alarms per star: candidates passing the automated cuts / targets."""
        return self.n_passing / self.n_targets if self.n_targets else 0.0

    @property
    def candidates_per_star(self) -> float:
        """Candidates per star (above the search threshold, before any further cut)."""
        return self.n_candidates / self.n_targets if self.n_targets else 0.0

    @property
    def completeness(self) -> float:
        """Recovered / injected over the whole run (0 when nothing was injected)."""
        return self.n_recovered / self.n_injections if self.n_injections else 0.0


def collect_records(outdir: str | os.PathLike[str], paths: Sequence[str]) -> list[dict[str, Any]]:
    """The completion markers (``targets/*/done.json``) of the targets whose input is in ``paths``."""
    keep = {os.path.realpath(p) for p in paths}
    records = []
    for marker in sorted(Path(outdir, "targets").glob("*/done.json")):
        try:
            record = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") == "done" and os.path.realpath(record.get("path", "")) in keep:
            records.append(record)
    return records


def _injection_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        for row in r.get("rows", ()):
            rows.append({"name": r["name"], "target_id": r["target_id"], "group": r["group"], **row})
    return rows


def _false_alarm_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": r["name"], "target_id": r["target_id"], "group": r["group"], **r.get("info", {})}
            for r in records]


def _write_injections(out: Path, rows: list[dict[str, Any]], config: InjectionConfig) -> list[str]:
    # a pyplot-free Figure: no backend to switch (matplotlib.use("Agg") here would turn off a
    # notebook's inline figures for the rest of its session)
    from matplotlib.figure import Figure

    from .._atomic import atomic_path
    from ..io import provenance, write_table
    from .plot import plot_completeness
    from .tables import injection_table

    meta = {"mode": config.mode, "distributions": config.distributions(),
            "match": asdict(config.match), "dilution": config.dilution}
    table = injection_table(rows, meta=meta)
    write_table(table, out / "injections.ecsv", record=provenance([], meta))
    written = ["injections.ecsv"]
    if len(table):
        fig = plot_completeness(table, fig=Figure(figsize=(11, 4.2)))
        with atomic_path(out / "completeness.png") as tmp:
            fig.savefig(tmp, dpi=110)
        written.append("completeness.png")
    return written


def _write_false_alarms(out: Path, rows: list[dict[str, Any]], config: InjectionConfig) -> list[str]:
    from ..io import provenance, write_table
    from .tables import false_alarm_table

    table = false_alarm_table(rows)
    write_table(table, out / "false_alarms.ecsv",
                record=provenance([], {"mode": config.mode, "inverted": config.invert}))
    return ["false_alarms.ecsv"]


def _summary(out: Path, config: InjectionConfig, records: list[dict[str, Any]], batch: Any,
             outputs: list[str]) -> InjectionSummary:
    inj = _injection_rows(records) if config.injects else []
    info = [r.get("info", {}) for r in records] if not config.injects else []
    claimed = [i.get("n_claimed") for i in info]
    return InjectionSummary(
        outdir=str(out), n_targets=len(records), n_failed=batch.n_failed, n_injections=len(inj),
        n_recovered=sum(bool(r.get("recovered")) for r in inj),
        n_candidates=sum(int(i.get("n_candidates") or 0) for i in info),
        n_passing=sum(int(i.get("n_passing") or 0) for i in info),
        n_claimed=None if config.mode == "fast" or not info else sum(int(c or 0) for c in claimed),
        mode=config.mode, inverted=config.invert, outputs=tuple(outputs),
        batch={**asdict(batch), "exit_status": batch.exit_status})


def inject_and_recover(inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str],
                       config: InjectionConfig | None = None, batch: Any = None, *,
                       executor: Executor | None = None) -> InjectionSummary:
    """Inject transits into every target of ``inputs``, rerun the pipeline, measure completeness.

    Parameters
    ----------
    inputs : sequence of path-like
        Target files, directories, quoted globs (as ``halfsib batch``).
    outdir : path-like
        Output folder: the batch layout (``targets/<name>/injNN/`` per injection) plus
        ``injections.ecsv`` and ``completeness.png`` (or ``false_alarms.ecsv``) and
        ``injection_summary.json``.
    config : InjectionConfig, optional
    batch : BatchConfig, optional
        Workers, scheduler, seed, stage settings…; its ``task`` is replaced by the
        injection task.
    executor : concurrent.futures.Executor, optional
        Run the tasks here (tests; a pool of your own).

    Returns
    -------
    InjectionSummary
    """
    from .._atomic import atomic_path
    from ..batch import BatchConfig, run_batch
    from ..batch.discover import expand_inputs
    from .task import InjectionTask

    config = config or InjectionConfig()
    batch_config = replace(batch or BatchConfig(), task=InjectionTask(config))
    out = Path(outdir)
    result = run_batch(inputs, out, batch_config, executor=executor)
    records = collect_records(out, expand_inputs(inputs))
    if config.injects:
        outputs = _write_injections(out, _injection_rows(records), config)
    else:
        outputs = _write_false_alarms(out, _false_alarm_rows(records), config)
    summary = _summary(out, config, records, result, outputs)
    with atomic_path(out / "injection_summary.json") as tmp:
        tmp.write_text(json.dumps({**asdict(summary), "completeness": summary.completeness,
                                   "candidates_per_star": summary.candidates_per_star,
                                   "passing_per_star": summary.passing_per_star,
                                   "settings": repr(config)}, indent=1, default=str))
    log.info("%d targets, %d injections, %d recovered", summary.n_targets, summary.n_injections,
             summary.n_recovered)
    return summary
