"""Running one task safely, and knowing whether a target is complete.

:func:`run_target` runs on a worker: it empties the target's folder (a partial result of
a killed run is redone from scratch), captures the target's log messages in
``target.log``, runs the task, and — only if the task succeeded and every output it named
exists — writes the completion marker ``done.json`` *last*, atomically. A target is
complete exactly when its marker is readable, was written with the same settings
fingerprint, and lists outputs that all exist (:func:`read_marker`). Any exception becomes
a ``failed`` :class:`TargetOutcome` (message, type and traceback in the log), never a crash
of the batch; a full disk (``ENOSPC``) says so and what to do (:func:`error_text`).

While the task runs, ``.running`` in the folder names the attempt (a token from the
runner) and the worker's PID; it is removed when the task ends. A worker that dies leaves
it behind, which is how the runner tells the targets that were running when a local pool
broke from those still waiting (:mod:`halfsib.batch.workers`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .tasks import TargetSpec, TaskContext, TaskFunction

__all__ = ["TargetOutcome", "run_target", "read_marker", "error_text", "MARKER_NAME", "LOG_NAME", "RUNNING_NAME",
           "STATUSES"]

log = logging.getLogger(__name__)

MARKER_NAME = "done.json"
LOG_NAME = "target.log"
#: present while a task runs (removed when it ends; left behind by a worker that died)
RUNNING_NAME = ".running"
#: errno values of a full disk or an exhausted quota
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
MARKER_VERSION = 1
#: "done": processed in this run; "complete": done in an earlier run (skipped); "failed"
STATUSES = ("done", "complete", "failed")


@dataclass(frozen=True)
class TargetOutcome:
    """The result of one target, as the runner collects it (and as the marker stores it).

    Attributes
    ----------
    name, path, target_id, group : str
        As in :class:`~halfsib.batch.tasks.TargetSpec`.
    status : {"done", "complete", "failed"}
    rows : tuple of dict
        Candidate rows (see :class:`~halfsib.batch.tasks.TaskProducts`).
    units : dict
    outputs : tuple of str
    info : dict
    columns : tuple of str
        The task's candidate columns (also when there are no rows).
    seconds : float
        Wall time of the task [s].
    peak_rss_mb : float
        Peak resident memory of the worker process so far [MiB].
    pid : int
        Worker process id.
    error, error_type : str
        For ``failed``: the message and the exception class name.
    settings_hash : str
    """

    name: str
    path: str
    target_id: str
    group: str
    status: str
    rows: tuple[dict[str, Any], ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    pid: int = 0
    error: str = ""
    error_type: str = ""
    settings_hash: str = ""


class _ThreadFilter(logging.Filter):
    """Keep only records of one thread (tasks may share a process as threads under Dask)."""

    def __init__(self, thread: int):
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if os.uname().sysname == "Darwin" else rss / 1024.0


def _empty_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _attach_log(folder: Path) -> tuple[logging.Handler, int]:
    handler = logging.FileHandler(folder / LOG_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThreadFilter(threading.get_ident()))
    logger = logging.getLogger("halfsib")
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler, previous


def _detach_log(handler: logging.Handler, previous: int) -> None:
    logger = logging.getLogger("halfsib")
    logger.removeHandler(handler)
    logger.setLevel(previous)
    handler.close()


@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[None]:
    """BLAS/OpenMP and numba limited to ``n`` threads while a task runs.

    The batch parallelises over targets; fixing the thread count also fixes the order of
    floating-point reductions, so a target's numbers are bit-identical on a local pool and
    on Dask workers (whose thread settings halfsib does not start).
    """
    from threadpoolctl import threadpool_limits

    previous = None
    try:
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    except (ImportError, ValueError) as err:  # pragma: no cover - numba is a dependency
        log.debug("numba threads not set: %s", err)
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        if previous is not None:
            import numba

            numba.set_num_threads(previous)


def write_marker(folder: Path, outcome: TargetOutcome) -> None:
    """Write ``done.json`` atomically (temporary file + rename)."""
    from .._atomic import atomic_path

    record = {"marker_version": MARKER_VERSION, **asdict(outcome)}
    with atomic_path(folder / MARKER_NAME) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str))


def read_marker(folder: Path, settings_hash: str) -> TargetOutcome | None:
    """The stored outcome if the target in ``folder`` is complete (see the module docstring), else None."""
    try:
        record = json.loads((folder / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("marker_version") != MARKER_VERSION:
        return None
    if record.get("settings_hash") != settings_hash or record.get("status") != "done":
        return None
    outputs = tuple(record.get("outputs", ()))
    if not all((folder / name).is_file() for name in outputs):
        return None
    record.pop("marker_version")
    record.update(status="complete", rows=tuple(record.get("rows", ())), outputs=outputs,
                  columns=tuple(record.get("columns", ())))
    try:
        return TargetOutcome(**record)
    except TypeError:
        return None


def _final_name(path: str) -> str:
    """The file a temporary ``.<name>.<random>.tmp<suffixes>`` of :func:`atomic_path` stands for."""
    name = Path(path).name
    match = re.match(r"^\.(.+?)\.\w+\.tmp", name)
    return match.group(1) if match else name


def error_text(err: BaseException) -> str:
    """A failed target's message: the exception's, or for a full disk what happened and what to do."""
    if isinstance(err, OSError) and err.errno in DISK_FULL:
        where = f" writing {_final_name(str(err.filename))}" if err.filename else ""
        return (f"No space left on device{where} ({errno.errorcode.get(err.errno, err.errno)}: "
                f"{err.strerror or err}): free disk space and rerun the same "
                "command; it redoes this target and skips the complete ones")
    return str(err) or repr(err)


def _mark_running(folder: Path, attempt: str) -> None:
    (folder / RUNNING_NAME).write_text(json.dumps({"attempt": attempt, "pid": os.getpid()}))


def run_target(task: TaskFunction, target: TargetSpec, context: TaskContext, folder: str, *,
               attempt: str = "") -> TargetOutcome:
    """Run ``task`` on one target in ``folder``; never raises for a failing target.

    Parameters
    ----------
    task : callable
        ``task(target, context, folder) -> TaskProducts`` (:mod:`halfsib.batch.tasks`).
    target : TargetSpec
    context : TaskContext
    folder : str
        The target's own output folder (emptied first).
    attempt : str
        The runner's token for this attempt, written into ``.running`` while the task runs.

    Returns
    -------
    TargetOutcome
        ``done`` (marker written) or ``failed``.
    """
    out = Path(folder)
    base = dict(name=target.name, path=target.path, target_id=target.target_id, group=target.group,
                settings_hash=context.settings_hash, pid=os.getpid())
    try:
        _empty_folder(out)
        handler, previous = _attach_log(out)
    except OSError as err:  # the folder cannot even be prepared (full disk, permissions)
        log.error("target %s failed before it started: %s", target.name, err)
        return TargetOutcome(**base, status="failed", error=error_text(err), error_type=type(err).__name__)
    start = time.perf_counter()
    try:
        _mark_running(out, attempt)
        log.info("target %s (%s), group %s, seed %d", target.name, target.path, target.group, target.seed)
        with fixed_threads(context.numba_threads):
            products = task(target, context, out)
        missing = [name for name in products.outputs if not (out / name).is_file()]
        if missing:
            raise RuntimeError(f"the task reported outputs it did not write: {missing}")
        outcome = TargetOutcome(**base, status="done", rows=tuple(dict(r) for r in products.rows),
                                units=dict(products.units), outputs=tuple(products.outputs),
                                columns=tuple(products.columns),
                                info=dict(products.info), seconds=time.perf_counter() - start,
                                peak_rss_mb=_peak_rss_mb())
        write_marker(out, outcome)
        log.info("target %s done in %.2f s: %d candidate(s)", target.name, outcome.seconds, len(outcome.rows))
        return outcome
    except Exception as err:  # noqa: BLE001 - failure isolation is the point
        log.error("target %s failed: %s: %s\n%s", target.name, type(err).__name__, err, traceback.format_exc())
        return TargetOutcome(**base, status="failed", seconds=time.perf_counter() - start,
                             peak_rss_mb=_peak_rss_mb(), error=error_text(err), error_type=type(err).__name__)
    finally:
        with contextlib.suppress(OSError):
            (out / RUNNING_NAME).unlink()
        _detach_log(handler, previous)
