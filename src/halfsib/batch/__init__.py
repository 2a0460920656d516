"""Whole campaigns and sectors: many targets on a local process pool or Dask (``docs/batch.md``).

>>> from halfsib.batch import BatchConfig, run_batch
>>> summary = run_batch(["c13/"], "out/", BatchConfig(workers=4))   # doctest: +SKIP
>>> summary.n_done, summary.n_failed, summary.exit_status             # doctest: +SKIP

- :func:`run_batch`, :class:`BatchConfig`, :class:`BatchSummary` — the run;
- :class:`TargetSpec`, :class:`TaskContext`, :class:`TaskProducts`,
  :func:`detrend_search_task` — the per-target task interface and the default task;
- :class:`TargetOutcome`, :func:`run_target`, :func:`read_marker` — one target, safely;
- :class:`OutdirLock`, :class:`OutdirLockedError` — one run per output folder;
- :class:`SchedulerLostError`, :class:`WorkerDiedError` — a Dask scheduler or worker
  processes lost (``halfsib.batch.workers``);
- :func:`sanitise_name` — safe output names from headers.
"""

from __future__ import annotations

from .execute import TargetOutcome, read_marker, run_target
from .lock import OutdirLock, OutdirLockedError
from .names import sanitise_name, stable_seed
from .runner import BatchConfig, BatchSummary, run_batch
from .tasks import TargetSpec, TaskContext, TaskProducts, detrend_search_task
from .workers import SchedulerLostError, WorkerDiedError

__all__ = ["run_batch", "BatchConfig", "BatchSummary", "TargetSpec", "TaskContext", "TaskProducts",
           "detrend_search_task", "TargetOutcome", "run_target", "read_marker", "OutdirLock", "OutdirLockedError",
           "SchedulerLostError", "WorkerDiedError", "sanitise_name", "stable_seed"]
