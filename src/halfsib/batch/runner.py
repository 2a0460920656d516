"""``run_batch``: many targets, one output folder, a local process pool or Dask.

Order of work (``docs/batch.md``): take the folder's lock → find the inputs → read each
one's header on the workers → name and group the targets → build (or reuse) each group's
ELC basis → skip the targets already complete → run the task on the others in parallel,
each writing into ``OUTDIR/targets/<name>/`` with its completion marker last → write
``catalog.ecsv``, ``failures.ecsv`` and ``summary.json`` → release the lock.

Faults (:mod:`halfsib.batch.workers`): a worker process that dies is replaced and its
targets retried; a Dask scheduler that goes away ends the run with
:class:`~halfsib.batch.workers.SchedulerLostError` (complete targets kept); the three
tables are written together or not at all, so a full disk leaves the previous ones intact
and raises an ``OSError`` that says what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._atomic import check_output_folder
from ..exceptions import ConfigurationError, DataValidationError
from .discover import GROUP_BY, ScanFailure, TargetRecord, assign_names, expand_inputs, group_key, scan_target
from .execute import DISK_FULL, TargetOutcome, read_marker
from .groupbasis import GroupBasis, basis_settings, ensure_group_basis
from .lock import OutdirLock
from .names import stable_seed
from .tasks import PLOT_CHOICES, TargetSpec, TaskContext, TaskFunction, detrend_search_task
from .workers import SchedulerLostError, Workers, open_workers, run_targets

__all__ = ["BatchConfig", "BatchSummary", "run_batch", "MAX_EXIT_STATUS"]

log = logging.getLogger(__name__)

#: the exit status of ``halfsib batch`` is the number of failed targets, capped here
MAX_EXIT_STATUS = 100


@dataclass(frozen=True)
class BatchConfig:
    """Settings of a batch run.

    Attributes
    ----------
    workers : int or None
        Worker processes (local pool or local Dask cluster); None: ``os.cpu_count()``.
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``); the tasks go there.
    dask : bool
        Start a local Dask cluster (``workers`` processes, bound to 127.0.0.1) instead of
        the process pool.
    group_by : {"auto", "season", "detector"}
        Basis groups (``discover.GROUP_BY``).
    flux_column : str or None
    cbv : str or None
        CBV-style basis table for every target.
    others : tuple of str
        Regressor-only stars (files, directories, globs): they join their group's ELC
        basis but are not processed as targets (e.g. the rest of a campaign).
    cpm : bool
        Give every target the other stars' pixels of its group as CPM predictors (needs
        pixel files; each worker then holds the group's stamps in memory).
    regressors, detrend, search : RegressorConfig, DetrendConfig, SearchConfig or None
        Stage settings (None: defaults).
    n_folds : int
        Folds of each group basis.
    seed : int
        Batch seed; each target's seed derives from it and the target id.
    plots : {"none", "candidates", "all"}
    run : RunConfig or None
        Settings of the ``run`` task (:func:`halfsib.batch.tasks.run_task`).
    task : callable
        The per-target task (:mod:`halfsib.batch.tasks`); default detrend + search.
    progress : bool
        Show the progress bar.
    break_lock : bool
        Remove an existing lock even if its owner may be alive.
    """

    workers: int | None = None
    scheduler: str | None = None
    dask: bool = False
    group_by: str = "auto"
    flux_column: str | None = None
    cbv: str | None = None
    others: tuple[str, ...] = ()
    cpm: bool = False
    regressors: Any = None
    detrend: Any = None
    search: Any = None
    n_folds: int = 8
    seed: int = 0
    plots: str = "none"
    run: Any = None
    task: TaskFunction = detrend_search_task
    progress: bool = True
    break_lock: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise ConfigurationError(f"workers must be an integer >= 1, got {self.workers!r}")
        if self.group_by not in GROUP_BY:
            raise ConfigurationError(f"group_by must be one of {GROUP_BY}, got {self.group_by!r}")
        if self.plots not in PLOT_CHOICES:
            raise ConfigurationError(f"plots must be one of {PLOT_CHOICES}, got {self.plots!r}")
        if self.n_folds < 1:
            raise ConfigurationError(f"n_folds must be >= 1, got {self.n_folds}")
        if self.scheduler is not None and not str(self.scheduler).strip():
            raise ConfigurationError("scheduler must be an address such as tcp://host:8786")
        if not callable(self.task):
            raise ConfigurationError(f"task must be a function task(target, context, outdir), got {self.task!r}")

    @property
    def n_workers(self) -> int:
        """Workers to start (when halfsib starts them)."""
        return self.workers or os.cpu_count() or 1

    def describe(self) -> dict[str, Any]:
        """Every setting as JSON-friendly values (for summary.json and the fingerprint)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "task":
                value = f"{value.__module__}.{value.__qualname__}"
            elif dataclasses.is_dataclass(value):
                value = repr(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did (also written as ``summary.json``).

    Attributes
    ----------
    outdir : str
    n_inputs, n_unreadable, n_targets : int
        Input files, files that could not be read, readable targets.
    n_complete_before, n_done, n_failed : int
        Skipped as complete, processed now, failed now.
    n_candidates : int
        Catalog rows.
    wall_seconds : float
    task_seconds : float
        Sum of this run's task times.
    executor : str
    n_workers : int
    groups : tuple of dict
    peak_rss_mb : float
        Largest peak resident memory reported by a worker [MiB].
    worker_restarts : int
        Local pools replaced after a worker process died.
    """

    outdir: str
    n_inputs: int
    n_unreadable: int
    n_targets: int
    n_complete_before: int
    n_done: int
    n_failed: int
    n_candidates: int
    wall_seconds: float
    task_seconds: float
    executor: str
    n_workers: int
    groups: tuple[dict[str, Any], ...] = field(default=())
    peak_rss_mb: float = 0.0
    worker_restarts: int = 0

    @property
    def exit_status(self) -> int:
        """Failed targets plus unreadable inputs, capped at :data:`MAX_EXIT_STATUS` (0: all fine)."""
        return min(self.n_failed + self.n_unreadable, MAX_EXIT_STATUS)


def _scan(paths: Sequence[str], workers: Workers, config: BatchConfig
          ) -> tuple[list[TargetRecord], list[ScanFailure]]:
    """Read every header on the workers; records named and sorted, failures in input order."""
    if not paths:
        return [], []
    chunk = max(1, min(32, len(paths) // (4 * config.n_workers) or 1))
    results = workers.map(scan_target, paths, [config.flux_column] * len(paths), chunksize=chunk,
                          what="reading the input headers")
    records = [r for r in results if isinstance(r, TargetRecord)]
    failures = [r for r in results if isinstance(r, ScanFailure)]
    for f in failures:
        log.warning("unreadable input %s: %s", f.path, f.error)
    return assign_names(records), failures


def _settings_hash(config: BatchConfig, basis: GroupBasis) -> str:
    keep = {k: v for k, v in config.describe().items()
            if k not in ("workers", "scheduler", "dask", "progress", "break_lock")}
    text = json.dumps({"config": keep, "basis": basis.fingerprint}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _contexts(groups: dict[str, list[TargetRecord]], bases: dict[str, GroupBasis],
              config: BatchConfig) -> dict[str, TaskContext]:
    contexts = {}
    for name, members in groups.items():
        stamps = tuple(r.path for r in members if r.kind == "pixels") if config.cpm else ()
        contexts[name] = TaskContext(group=name, basis_path=bases[name].path, cbv_path=config.cbv, stamp_paths=stamps,
                                     flux_column=config.flux_column, detrend=config.detrend, search=config.search,
                                     regressors=config.regressors, plots=config.plots, run=config.run,
                                     settings_hash=_settings_hash(config, bases[name]))
    return contexts


def _with_others(groups: dict[str, list[TargetRecord]], paths: Sequence[str], workers: Workers,
                 config: BatchConfig) -> dict[str, list[TargetRecord]]:
    """The basis members of each group: its targets plus the regressor-only stars of ``config.others``."""
    if not config.others:
        return groups
    targets = set(paths)
    extra, failures = _scan([p for p in expand_inputs(list(config.others)) if p not in targets], workers, config)
    for f in failures:
        log.warning("regressor-only star skipped: %s", f.error)
    members = {g: list(m) for g, m in groups.items()}
    for r in extra:
        key = group_key(r, config.group_by)
        if key in members:
            members[key].append(r)
    return members


def _bases(groups: dict[str, list[TargetRecord]], outdir: Path, workers: Workers, config: BatchConfig
           ) -> dict[str, GroupBasis]:
    from .._progress import progress

    out = {}
    bar = progress(groups.items(), enabled=config.progress and len(groups) > 1, total=len(groups), desc="bases",
                   unit="group")
    for name, members in bar:
        settings = basis_settings(members[0].mission, config.regressors, config.n_folds)
        out[name] = ensure_group_basis(name, [r.path for r in members], outdir / "basis", settings,
                                       flux_column=config.flux_column,
                                       mapper=functools.partial(workers.map, what=f"reading the stars of group {name}"))
        log.info("group %s: %d targets, basis %s (%d stars%s)", name, len(members), out[name].path,
                 out[name].n_stars, ", reused" if out[name].reused else "")
    return out


def _plan(records: list[TargetRecord], config: BatchConfig, contexts: dict[str, TaskContext], outdir: Path,
          ) -> tuple[list[tuple[TargetSpec, TaskContext, str]], list[TargetOutcome]]:
    pending, complete = [], []
    for r in records:
        group = group_key(r, config.group_by)
        context = contexts[group]
        folder = outdir / "targets" / r.name
        done = read_marker(folder, context.settings_hash)
        if done is not None:
            complete.append(done)
            continue
        spec = TargetSpec(path=r.path, name=r.name, target_id=r.target_id, group=group,
                          seed=stable_seed(config.seed, r.key))
        pending.append((spec, context, str(folder)))
    return pending, complete


def run_batch(inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str],
              config: BatchConfig | None = None, *, executor: Executor | None = None) -> BatchSummary:
    """Process every target of ``inputs`` into ``outdir`` (see the module docstring).

    Parameters
    ----------
    inputs : sequence of path-like
        Files, directories and (quoted) glob patterns.
    outdir : path-like
        Output folder (created); see ``docs/batch.md`` for its layout.
    config : BatchConfig, optional
    executor : concurrent.futures.Executor, optional
        Run the work here instead (tests; a caller's own pool). Not shut down.

    Returns
    -------
    BatchSummary

    Raises
    ------
    OutdirLockedError
        Another run holds ``outdir``.
    DataValidationError
        An input pattern matched nothing, or no input could be read.
    SchedulerLostError
        The Dask scheduler went away; the complete targets are kept and a rerun resumes.
    WorkerDiedError
        Worker processes kept dying while the inputs were read.
    OSError
        The tables could not be written (full disk); the previous ones are left intact.
    """
    config = config or BatchConfig()
    out = check_output_folder(outdir, "output folder")
    start = time.time()
    with OutdirLock(out, break_lock=config.break_lock):
        paths = expand_inputs(inputs)
        with open_workers(config.n_workers, scheduler=config.scheduler, dask=config.dask,
                          executor=executor) as workers:
            records, scan_failures = _scan(paths, workers, config)
            if not records:
                catalog, failures = _tables([], {}, scan_failures, [])
                _write_results(out, {"catalog.ecsv": catalog, "failures.ecsv": failures})
                raise DataValidationError(f"none of the {len(paths)} input file(s) could be read; see "
                                          f"{out / 'failures.ecsv'}", str(inputs[0]) if inputs else None)
            groups: dict[str, list[TargetRecord]] = {}
            for r in records:
                groups.setdefault(group_key(r, config.group_by), []).append(r)
            bases = _bases(_with_others(groups, paths, workers, config), out, workers, config)
            contexts = _contexts(groups, bases, config)
            pending, complete = _plan(records, config, contexts, out)
            log.info("%d targets: %d complete from an earlier run, %d to do", len(records), len(complete), len(pending))
            try:
                outcomes = run_targets(pending, workers, config.task, show_progress=config.progress)
            except SchedulerLostError as err:
                kept = _plan(records, config, contexts, out)[1]
                raise SchedulerLostError(err.address, len(kept), out) from err
        _warn_disk_full(outcomes)
        by_name = {r.name: r for r in records}
        basis_failures = [(g, *b.error.split(": ", 1)) for g, b in bases.items() if b.error]
        catalog, failures = _tables(complete + outcomes, by_name, scan_failures, basis_failures)
        summary = _summary(out, paths, records, scan_failures, complete, outcomes, len(catalog), start,
                           workers, groups, bases)
        from .catalog import targets_table

        _write_results(out, {"catalog.ecsv": catalog, "targets.ecsv": targets_table(complete + outcomes, by_name),
                             "failures.ecsv": failures, "summary.json": _summary_record(summary, config)})
    return summary


def _warn_disk_full(outcomes: list[TargetOutcome]) -> None:
    full = [o.name for o in outcomes if o.status == "failed" and o.error.startswith("No space left on device")]
    if full:
        log.error("%d target(s) failed because the disk is full (%s%s): free disk space and rerun the same "
                  "command; it skips the complete targets", len(full), ", ".join(full[:3]),
                  ", ..." if len(full) > 3 else "")


def _tables(outcomes: list[TargetOutcome], records: dict[str, TargetRecord],
            scan_failures: list[ScanFailure], basis_failures: list[Any]) -> tuple[Any, Any]:
    """The catalog and failures tables of ``outcomes``."""
    from .catalog import catalog_table, failures_table

    return catalog_table(outcomes, records), failures_table(outcomes, scan_failures, basis_failures)


def _write_results(out: Path, files: dict[str, Any]) -> None:
    """Write the run's tables (astropy tables) and summary (a dict) together: all of them or none.

    Each goes to a temporary file first; only when every one is written are they renamed
    into place, so a full disk (or any write error) leaves the previous run's files intact.

    Raises
    ------
    OSError
        A file could not be written; the message names it and says what to do.
    """
    from .._atomic import atomic_path
    from ..io import provenance, write_table

    record = provenance([], {"description": "halfsib batch catalog"})
    name = ""
    try:
        with contextlib.ExitStack() as stack:
            for name, content in files.items():
                tmp = stack.enter_context(atomic_path(out / name))
                if isinstance(content, dict):
                    tmp.write_text(json.dumps(content, indent=1, default=str))
                else:
                    write_table(content, tmp, record=record)
            name = ""  # every file written: the renames follow
    except OSError as err:
        full = err.errno in DISK_FULL
        why = "No space left on device" if full else (err.strerror or str(err))
        raise OSError(err.errno, f"{why} (the targets' results are kept in {out / 'targets'}; "
                                 f"{'free disk space and ' if full else ''}rerun the same command: it skips the "
                                 f"complete targets and writes {', '.join(files)})",
                      str(out / (name or next(iter(files))))) from err


def _summary(out: Path, paths: Sequence[str], records: list[TargetRecord], scan_failures: list[ScanFailure],
             complete: list[TargetOutcome], outcomes: list[TargetOutcome], n_candidates: int, start: float,
             workers: Workers, groups: dict[str, list[TargetRecord]], bases: dict[str, GroupBasis]) -> BatchSummary:
    group_rows = tuple({"group": g, "n_targets": len(m), "basis": bases[g].path, "basis_stars": bases[g].n_stars,
                        "basis_reused": bases[g].reused, "basis_error": bases[g].error} for g, m in groups.items())
    return BatchSummary(
        outdir=str(out), n_inputs=len(paths), n_unreadable=len(scan_failures), n_targets=len(records),
        n_complete_before=len(complete), n_done=sum(o.status == "done" for o in outcomes),
        n_failed=sum(o.status == "failed" for o in outcomes), n_candidates=n_candidates,
        wall_seconds=time.time() - start, task_seconds=sum(o.seconds for o in outcomes),
        executor=workers.description, n_workers=workers.n_workers, groups=group_rows,
        peak_rss_mb=max((o.peak_rss_mb for o in outcomes), default=0.0), worker_restarts=workers.restarts)


def _versions() -> dict[str, str]:
    import importlib.metadata as md
    import platform

    from .. import __version__

    versions = {"halfsib": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "astropy", "numba", "celerite2", "lightkurve", "distributed"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions


def _summary_record(summary: BatchSummary, config: BatchConfig) -> dict[str, Any]:
    """What ``summary.json`` holds: the summary, the exit status, throughput, versions, settings."""
    return {**dataclasses.asdict(summary), "exit_status": summary.exit_status,
            "targets_per_hour": 3600.0 * summary.n_done / summary.wall_seconds if summary.wall_seconds else 0.0,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": _versions(), "settings": config.describe()}
