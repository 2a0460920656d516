"""Where the batch's work runs, and what happens when a worker process or the Dask scheduler dies.

:func:`open_workers` gives the run's :class:`Workers`: a local spawn-context process pool
(the default), a Dask client's executor, or an executor the caller passed in.
:func:`run_targets` runs one task per target on them and survives the loss of a worker:

- **Local pool.** A worker process that dies (``kill -9``, the kernel's out-of-memory
  killer) breaks a :class:`~concurrent.futures.ProcessPoolExecutor`: every target still in
  it fails with ``BrokenProcessPool``. The pool is then replaced by a fresh one. The
  targets that had not started go back in the queue. The targets that had started (each
  task first writes ``.running`` with its attempt's token into its folder, so the runner
  knows) are *suspects*: the pool does not say whose worker died, so each suspect runs
  again **alone** on the fresh pool (the machine's memory to itself). A suspect that
  finishes is done; one whose worker dies again is recorded as failed
  (:data:`DIED_TWICE`). Then the rest runs in parallel again.
- **Dask.** The scheduler itself reruns a task whose worker died, up to
  ``distributed.scheduler.allowed-failures`` times (default 3), then fails it with
  ``KilledWorker``; that becomes the target's recorded failure (:func:`worker_error`). A
  scheduler that goes away cancels every task: :class:`SchedulerLostError`.
- **An executor passed in** cannot be replaced: the targets of a broken pool are recorded
  as failed (a rerun retries them).

The header scan and the basis reading (:meth:`Workers.map`) are retried once on a fresh
pool; a second death there is a :class:`WorkerDiedError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import HalfsibError
from .execute import RUNNING_NAME, TargetOutcome, run_target
from .tasks import TargetSpec, TaskContext, TaskFunction

__all__ = ["Workers", "open_workers", "run_targets", "worker_error", "WorkerDiedError", "SchedulerLostError",
           "DIED_TWICE", "MAX_FRUITLESS_RESTARTS"]

log = logging.getLogger(__name__)

#: the error recorded for a target whose worker process died on it twice (local pool)
DIED_TWICE = ("the worker process died (killed or out of memory) twice on this target, the second time running "
              "alone on a fresh worker; if it is memory, give it more (fewer --workers) and rerun")
#: a pool that breaks this many times in a row without finishing or starting a target is given up
MAX_FRUITLESS_RESTARTS = 3

#: one pending target: its spec, its group's context, its output folder
Pending = tuple[TargetSpec, TaskContext, str]


class WorkerDiedError(HalfsibError):
    """Worker processes kept dying where the batch cannot do without them (reading the inputs)."""


class SchedulerLostError(HalfsibError):
    """The Dask scheduler went away during the run; complete targets are kept, a rerun resumes.

    Parameters
    ----------
    address : str
        The scheduler's address.
    n_kept : int, optional
        Complete targets in the output folder (kept; a rerun skips them).
    outdir : str, optional
    """

    def __init__(self, address: str, n_kept: int | None = None, outdir: str | os.PathLike[str] | None = None):
        self.address = address
        self.n_kept = n_kept
        self.outdir = outdir
        where = f"{Path(outdir) / 'targets'}" if outdir is not None else "OUTDIR/targets"
        kept = (f"{n_kept} complete target(s) are kept in {where} (each with its done.json)" if n_kept is not None
                else f"the complete targets are kept in {where} (each with its done.json)")
        super().__init__(f"the Dask scheduler {address} went away during the run; {kept}. Start the scheduler and "
                         "its workers again (or drop --scheduler to use the local pool) and rerun the same command: "
                         "it skips the complete targets and does the rest")


@dataclass
class Workers:
    """The run's executor, and how to replace it or notice that its cluster is gone.

    Attributes
    ----------
    executor : Executor
        Where tasks go now (replaced by :meth:`renew`).
    description : str
        For the summary (``"local process pool (2 workers)"``).
    n_workers : int
    factory : callable or None
        Makes a fresh local pool; None when the executor cannot be replaced (Dask, or one
        passed in by the caller).
    scheduler_lost : callable or None
        Returns the scheduler's address once a Dask client has lost it, else None.
    restarts : int
        Pools replaced so far.
    """

    executor: Executor
    description: str
    n_workers: int
    factory: Callable[[], Executor] | None = None
    scheduler_lost: Callable[[], str | None] | None = None
    restarts: int = field(default=0)

    def renew(self) -> bool:
        """Replace a broken local pool by a fresh one; False when this executor cannot be replaced."""
        if self.factory is None:
            return False
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self.factory()
        self.restarts += 1
        return True

    def check(self) -> None:
        """Raise :class:`SchedulerLostError` if the Dask scheduler is gone (nothing otherwise)."""
        address = self.scheduler_lost() if self.scheduler_lost is not None else None
        if address is not None:
            raise SchedulerLostError(address)

    def map(self, fn: Callable[..., Any], *iterables: Sequence[Any], chunksize: int = 1,
            what: str = "reading the inputs") -> list[Any]:
        """``list(executor.map(...))``, once more on a fresh pool if a worker died.

        Raises
        ------
        WorkerDiedError
            A worker died twice (local pool), or Dask gave up on a task (``KilledWorker``).
        SchedulerLostError
            The Dask scheduler went away.
        """
        for attempt in (1, 2):
            try:
                return self._map(fn, iterables, chunksize)
            except BrokenProcessPool as err:
                if attempt == 2 or not self.renew():
                    raise WorkerDiedError(f"a worker process died (killed or out of memory) while {what}"
                                          f"{', twice' if attempt == 2 else ''}; check the machine's free memory, "
                                          "run with fewer --workers and rerun") from err
                log.warning("a worker process died while %s; retrying on a fresh pool", what)
            except Exception as err:
                self.check()
                if type(err).__name__ == "KilledWorker":
                    raise WorkerDiedError(f"Dask workers kept dying while {what}: {err}") from err
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _map(self, fn: Callable[..., Any], iterables: tuple[Sequence[Any], ...], chunksize: int) -> list[Any]:
        try:
            return list(self.executor.map(fn, *iterables, chunksize=chunksize))
        except TypeError as err:  # executors without chunksize
            if "chunksize" not in str(err):
                raise
            return list(self.executor.map(fn, *iterables))


def _init_worker(threads: int) -> None:
    """Process-pool initializer: one thread per library (the batch parallelises over targets)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)


def local_pool(n_workers: int) -> Executor:
    """A spawn-context process pool of ``n_workers`` processes, one library thread each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(1,))


@contextlib.contextmanager
def open_workers(n_workers: int, *, scheduler: str | None = None, dask: bool = False,
                 executor: Executor | None = None) -> Iterator[Workers]:
    """The run's :class:`Workers`: the injected executor, a Dask client's, or a local process pool.

    Parameters
    ----------
    n_workers : int
        Processes to start (local pool or local Dask cluster).
    scheduler : str, optional
        A running Dask scheduler's address.
    dask : bool
        Start a local Dask cluster.
    executor : Executor, optional
        Use this one (not shut down, never replaced).

    Yields
    ------
    Workers
        Shut down on exit (what this function started).
    """
    if executor is not None:
        yield Workers(executor, type(executor).__name__, n_workers)
        return
    if scheduler or dask:
        from .dask_cluster import dask_executor

        with dask_executor(scheduler, n_workers) as workers:
            yield workers
        return
    workers = Workers(local_pool(n_workers), f"local process pool ({n_workers} workers)", n_workers,
                      factory=lambda: local_pool(n_workers))
    try:
        yield workers
    finally:
        workers.executor.shutdown(wait=True, cancel_futures=True)


def worker_error(err: BaseException) -> str:
    """The failure message of a target whose worker raised ``err`` outside the task (died, lost)."""
    if type(err).__name__ == "KilledWorker":
        tries = getattr(err, "allowed_failures", None)
        times = f"each of the {tries + 1} times" if isinstance(tries, int) else "every time"
        return (f"the worker process died (killed or out of memory) {times} Dask ran this target "
                f"(distributed.scheduler.allowed-failures); see the Dask worker logs; if it is memory, give the "
                f"workers more and rerun ({err})")
    if isinstance(err, BrokenProcessPool):
        return ("the worker process died (killed or out of memory) and the process pool passed to run_batch "
                "cannot be replaced; rerun to retry this target")
    return f"worker failed: {type(err).__name__}: {err}" if str(err) else f"worker failed: {type(err).__name__}"


def _failure(item: Pending, error: str, error_type: str) -> TargetOutcome:
    spec = item[0]
    log.error("target %s: %s", spec.name, error)
    return TargetOutcome(name=spec.name, path=spec.path, target_id=spec.target_id, group=spec.group,
                         status="failed", error=error, error_type=error_type,
                         settings_hash=item[1].settings_hash)


def _started(item: Pending, attempt: str) -> bool:
    """Whether the target's task began under ``attempt`` (its ``.running`` names it) and never finished."""
    try:
        record = json.loads((Path(item[2]) / RUNNING_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("attempt") == attempt


def _forget_running(item: Pending) -> None:
    with contextlib.suppress(OSError):
        (Path(item[2]) / RUNNING_NAME).unlink()


class _Tally:
    """Outcomes so far, and the progress bar that shows them."""

    def __init__(self, bar: Any):
        self.bar = bar
        self.outcomes: list[TargetOutcome] = []
        self.failed = 0
        self.retried = 0

    def add(self, outcome: TargetOutcome) -> None:
        self.outcomes.append(outcome)
        self.failed += outcome.status == "failed"
        retried = f" retried={self.retried}" if self.retried else ""
        self.bar.set_postfix_str(f"failed={self.failed}{retried}", refresh=False)  # drawn by the update
        self.bar.update(1)


def _collect(future: Future[TargetOutcome], item: Pending, workers: Workers) -> TargetOutcome | None:
    """The outcome; None when the local pool broke under it (retried); a failure for any other worker error."""
    try:
        return future.result()
    except BrokenProcessPool:
        if workers.factory is None:
            return _failure(item, worker_error(BrokenProcessPool()), "BrokenProcessPool")
        return None
    except Exception as err:  # noqa: BLE001 - a dead worker must not stop the batch
        workers.check()
        return _failure(item, worker_error(err), type(err).__name__)


def _round(queue: list[Pending], workers: Workers, task: TaskFunction, tally: _Tally, attempt: str
           ) -> list[Pending]:
    """Run ``queue`` in parallel; returns the targets whose pool broke under them."""
    futures: dict[Future[TargetOutcome], Pending] = {}
    unsent: list[Pending] = []
    for i, item in enumerate(queue):
        try:
            futures[workers.executor.submit(run_target, task, *item, attempt=attempt)] = item
        except BrokenProcessPool:  # broke while we were still submitting
            unsent = queue[i:]
            break
    broken: list[Pending] = []
    for future in as_completed(futures):
        outcome = _collect(future, futures[future], workers)
        if outcome is None:
            broken.append(futures[future])
        else:
            tally.add(outcome)
    return broken + unsent


def _alone(item: Pending, workers: Workers, task: TaskFunction) -> TargetOutcome:
    """Run one suspect target with nothing else on the pool; a second death fails it."""
    log.warning("target %s: its worker process died (killed or out of memory, or its pool broke); running it "
                "again alone on a fresh worker", item[0].name)
    try:
        outcome = _collect(workers.executor.submit(run_target, task, *item, attempt=uuid.uuid4().hex), item, workers)
    except BrokenProcessPool:
        outcome = None
    if outcome is None:
        workers.renew()
        _forget_running(item)
        return _failure(item, DIED_TWICE, "WorkerDied")
    return outcome


def run_targets(pending: Sequence[Pending], workers: Workers, task: TaskFunction, *, show_progress: bool = True
                ) -> list[TargetOutcome]:
    """Run ``task`` on every pending target; returns one outcome per target (see the module docstring).

    Parameters
    ----------
    pending : sequence of (TargetSpec, TaskContext, folder)
    workers : Workers
    task : callable
    show_progress : bool

    Raises
    ------
    SchedulerLostError
        The Dask scheduler went away (the targets finished so far keep their markers).
    """
    from .._progress import progress

    queue = list(pending)
    fruitless = 0
    with progress(total=len(queue), enabled=show_progress, desc="targets", unit="target", leave=True) as bar:
        tally = _Tally(bar)
        while queue:
            attempt = uuid.uuid4().hex
            n_before = len(tally.outcomes)
            broken = _round(queue, workers, task, tally, attempt)
            if not broken:
                break
            suspects = [item for item in broken if _started(item, attempt)]
            queue = [item for item in broken if all(item is not s for s in suspects)]
            fruitless = 0 if suspects or len(tally.outcomes) > n_before else fruitless + 1
            log.warning("a worker process died (killed or out of memory); %d target(s) were running, %d waiting: "
                        "starting a fresh pool", len(suspects), len(queue))
            if fruitless >= MAX_FRUITLESS_RESTARTS:
                error = (f"the worker processes died {fruitless} times in a row before they could start a target; "
                         "check the machine's memory and process limits and rerun")
            elif not workers.renew():  # an executor passed in: it cannot be replaced
                error = worker_error(BrokenProcessPool())
            else:
                error = ""
            if error:
                for item in broken:
                    tally.add(_failure(item, error, "WorkerDied"))
                break
            tally.retried += len(suspects)
            for item in suspects:
                tally.add(_alone(item, workers, task))
    return tally.outcomes

