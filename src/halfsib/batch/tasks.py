"""The per-target task of a batch, and its small interface.

A *task* is any picklable, module-level function with the signature

    task(target: TargetSpec, context: TaskContext, outdir: pathlib.Path) -> TaskProducts

It reads ``target.path``, does the work, writes its files into ``outdir`` (a folder of its
own, created and emptied by the runner) *atomically* (:func:`halfsib._atomic.atomic_path`,
:func:`halfsib.io.write_table`, ``DetrendResult.write``), and returns the candidate rows
and the names of the files it wrote. It raises on failure (any exception; the runner
records it and goes on). It must be deterministic given ``target.seed`` (use
``numpy.random.default_rng(target.seed)`` for anything random). The runner times it,
captures its log in ``outdir/target.log`` and writes the completion marker last
(:mod:`halfsib.batch.execute`).

:func:`detrend_search_task` (the default) fits the half-sibling nuisance model with the
group's shared ELC basis and runs the joint transit search; ``halfsib run`` will replace it
by passing another function with the same signature (``BatchConfig.task``).

Shared data are loaded once per worker process, not per target: the group basis
(:func:`load_basis`, cached by path and modification time) and, when CPM predictors are
asked for, the other stars' pixel files (:func:`load_stamps`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TargetSpec", "TaskContext", "TaskProducts", "TaskFunction", "detrend_search_task", "run_task",
           "load_basis", "load_stamps", "candidate_rows", "PLOT_CHOICES"]

log = logging.getLogger(__name__)

#: which targets get a search figure: none, those with a candidate, all
PLOT_CHOICES = ("none", "candidates", "all")


@dataclass(frozen=True)
class TargetSpec:
    """One target as a task sees it.

    Attributes
    ----------
    path : str
        Input file.
    name : str
        Sanitised unique output name (the folder ``OUTDIR/targets/<name>``).
    target_id : str
        Header target id (``""`` when unknown).
    group : str
        The group (``"K2-C13"``) whose basis the target uses.
    seed : int
        Per-target seed derived from the batch seed and the target id (the same whatever
        the worker count or order).
    """

    path: str
    name: str
    target_id: str
    group: str
    seed: int


@dataclass(frozen=True)
class TaskContext:
    """What every target of a group shares (small: large data travel as file paths).

    Attributes
    ----------
    group : str
    basis_path : str or None
        The group's ELC basis file (``OUTDIR/basis/<group>.fits``); None: no ELCs.
    cbv_path : str or None
        A CBV-style basis table given by the user.
    stamp_paths : tuple of str
        Other stars' pixel files for CPM predictors (empty: no CPM).
    flux_column : str or None
    detrend : DetrendConfig
    search : SearchConfig
    regressors : RegressorConfig or None
    plots : {"none", "candidates", "all"}
        Which targets get a figure (``search.png``; the report page for :func:`run_task`).
    run : RunConfig or None
        Settings of :func:`run_task` (None: ``RunConfig(detrend=detrend, search=search)``).
    numba_threads : int
        BLAS/OpenMP and numba threads per task (1: the batch parallelises over targets;
        the runner sets them around every task).
    settings_hash : str
        Fingerprint of every setting that changes a target's outputs (in the marker).
    """

    group: str
    basis_path: str | None = None
    cbv_path: str | None = None
    stamp_paths: tuple[str, ...] = ()
    flux_column: str | None = None
    detrend: Any = None
    search: Any = None
    regressors: Any = None
    plots: str = "none"
    run: Any = None
    numba_threads: int = 1
    settings_hash: str = ""


@dataclass(frozen=True)
class TaskProducts:
    """What a task returns.

    Attributes
    ----------
    rows : tuple of dict
        One mapping per candidate, column name → Python scalar (str, int, float, bool),
        in the task's order (strongest first). Non-finite floats are allowed (masked in
        the catalog).
    units : dict
        Column name → unit string, for the columns that have one.
    outputs : tuple of str
        File names written into the target's folder (all must exist for completeness).
    info : dict
        Extra scalars for the per-target record (e.g. ``n_cadences``, ``rms_ppm``).
    columns : tuple of str
        The candidate columns, in order, even when there are no rows (the catalog's schema
        must not depend on whether anything was found).
    """

    rows: tuple[Mapping[str, Any], ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()


TaskFunction = Callable[[TargetSpec, TaskContext, Path], TaskProducts]


def _file_key(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return os.path.realpath(path), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=4)
def _load_basis_cached(path: str, mtime_ns: int, size: int) -> Any:
    from ..regressors import ElcBasis

    log.debug("loading ELC basis %s in process %d", path, os.getpid())
    return ElcBasis.load(path)


def load_basis(path: str) -> Any:
    """The ELC basis at ``path``, read once per process (re-read if the file changes)."""
    return _load_basis_cached(*_file_key(path))


@functools.lru_cache(maxsize=1)
def _load_stamps_cached(paths: tuple[str, ...], flux_column: str | None) -> tuple[Any, ...]:
    from ..io import read_many

    series, failures = read_many(list(paths), on_error="skip", show_progress=False, flux_column=flux_column)
    for failure in failures:
        log.warning("CPM star skipped: %s", failure.error)
    return tuple(series)


def load_stamps(paths: tuple[str, ...], flux_column: str | None = None) -> tuple[Any, ...]:
    """Other stars' pixel series for CPM, read once per process for the current group."""
    return _load_stamps_cached(tuple(paths), flux_column)


def candidate_rows(table: Any) -> tuple[tuple[dict[str, Any], ...], dict[str, str]]:
    """An astropy table's rows as plain dicts, and its column units (its columns: ``table.colnames``)."""
    units = {name: str(table[name].unit) for name in table.colnames if table[name].unit is not None}
    rows = []
    for row in table:
        rows.append({name: _scalar(row[name]) for name in table.colnames})
    return tuple(rows), units


def _scalar(value: Any) -> Any:
    import numpy as np

    if value is np.ma.masked:
        return None
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, bytes):
        return item.decode("utf-8", "replace")
    return item


def detrend_search_task(target: TargetSpec, context: TaskContext, outdir: Path) -> TaskProducts:
    """Fit the nuisance model with the group's basis, search for transits, write the outputs.

    Writes ``lightcurve.fits`` (:meth:`DetrendResult.write`: corrected flux, systematics,
    stellar signal, leakage), ``candidates.ecsv`` (the ``halfsib search`` table) and, per
    ``context.plots``, ``search.png``.
    """
    from ..report import search_candidate_table as candidate_table
    from ..io import provenance, write_table
    from ..pipeline import fit_target
    from ..search import search

    basis = load_basis(context.basis_path) if context.basis_path else None
    others = load_stamps(context.stamp_paths, context.flux_column) if context.stamp_paths else ()
    lc, design, fit, _ = fit_target(target.path, others=others, basis=basis, cbv=context.cbv_path,
                                    regressors=context.regressors, config=context.detrend,
                                    flux_column=context.flux_column)
    result = search(lc, design, fit, config=context.search)
    inputs = [target.path] + [p for p in (context.basis_path, context.cbv_path) if p]
    settings = {"search": repr(result.config), "group": context.group, "settings_hash": context.settings_hash}
    fit.write(outdir / "lightcurve.fits", inputs=inputs, settings=settings)
    table = candidate_table(fit, result)
    write_table(table, outdir / "candidates.ecsv", record=provenance(inputs, settings))
    outputs = ["lightcurve.fits", "candidates.ecsv"]
    if context.plots == "all" or (context.plots == "candidates" and result.candidates):
        _save_figure(result, outdir / "search.png", title=f"{target.target_id or target.name} ({context.group})")
        outputs.append("search.png")
    rows, units = candidate_rows(table)
    rms = fit.corrected_rms_ppm
    info = {"n_cadences": int(lc.n_cadences), "n_columns": int(design.n_columns),
            "rms_ppm": float(rms) if math.isfinite(rms) else None,
            "n_candidates": len(result.candidates), "n_single_events": len(result.single_candidates),
            **precision_info(result.nuisance_fit if result.nuisance_fit is not None else fit)}
    return TaskProducts(rows=rows, units=units, outputs=tuple(outputs), info=info, columns=tuple(table.colnames))


def precision_info(fit: Any) -> dict[str, float | None]:
    """The 6.5-h CDPP of a fit's raw and corrected flux [ppm] (None when it cannot be measured)."""
    values = {"cdpp_raw_ppm": fit.raw_cdpp_ppm, "cdpp_ppm": fit.cdpp_ppm}
    return {k: float(v) if math.isfinite(v) else None for k, v in values.items()}


def run_task(target: TargetSpec, context: TaskContext, outdir: Path) -> TaskProducts:
    """``halfsib run`` on one target: detrend, search, fit, ladder, vet and the claim.

    Writes what :meth:`halfsib.run.TargetRun.write` writes (candidate table with every
    stage's columns and ``claimed``, summary, per-candidate tables; the report page per
    ``context.plots``). The fit's seed is the target's seed.
    """
    from ..run import RunConfig, run_target

    basis = load_basis(context.basis_path) if context.basis_path else None
    others = load_stamps(context.stamp_paths, context.flux_column) if context.stamp_paths else ()
    base = context.run if context.run is not None else RunConfig(detrend=context.detrend, search=context.search)
    config = dataclasses.replace(base, seed=int(target.seed))
    result = run_target(target.path, others=others, basis=basis, cbv=context.cbv_path, regressors=context.regressors,
                        config=config, flux_column=context.flux_column)
    figure = context.plots == "all" or (context.plots == "candidates" and bool(result.outcomes))
    files = result.write(outdir, overwrite=True, figure=figure)
    table = result.candidate_table()
    rows, units = candidate_rows(table)
    info = {"n_cadences": int(result.lc.n_cadences), "n_claimed": len(result.claimed),
            "n_candidates": len(result.search.candidates), "n_single_events": len(result.search.single_candidates),
            "n_single_event_candidates": sum(o.single_event_candidate for o in result.outcomes),
            **precision_info(result.corrected),
            "seconds": {k: float(v) for k, v in result.seconds.items()}}
    return TaskProducts(rows=rows, units=units, columns=tuple(table.colnames),
                        outputs=tuple(str(Path(f).relative_to(outdir)) for f in files),
                        info=info)


def _save_figure(result: Any, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._atomic import atomic_path

    fig = result.plot()
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def replace_context(context: TaskContext, **changes: Any) -> TaskContext:
    """A copy of ``context`` with fields changed (dataclasses.replace, re-exported for callers)."""
    return dataclasses.replace(context, **changes)
