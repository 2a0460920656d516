"""halfsib batch under faults: a worker process killed mid-target (local pool and Dask), a full
disk (ENOSPC) while a target or the catalog is written, a Dask scheduler that goes away.

Each test compares the catalog after the fault (and the rerun, where one is needed) with
the catalog of an uninterrupted run. The tasks below kill their own worker process with
SIGKILL (what the kernel's out-of-memory killer does), once or every time, on one target;
a marker file beside the inputs says whether the kill already happened.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from astropy.table import Table

import halfsib
from halfsib.batch import BatchConfig, SchedulerLostError, WorkerDiedError, run_batch
from halfsib.batch.execute import MARKER_NAME, RUNNING_NAME, run_target
from halfsib.batch.lock import LOCK_NAME
from halfsib.batch.tasks import detrend_search_task
from halfsib.batch.workers import DIED_TWICE, Workers, run_targets, worker_error

from test_batch import NO_BREAKS, N_STARS, _light, _rows, campaign, light_task, reference_run  # noqa: F401 - fixtures

VICTIM = "03"  # the target whose worker dies: target id ending in 03


# ---------------------------------------------------------------- tasks used by the tests
def _kills_marker(target) -> Path:
    """``<inputs>/../kills/<name>``: written just before the first kill of ``target``."""
    return Path(target.path).parents[1] / "kills" / target.name


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_once_task(target, context, outdir):
    """light_task, except that the victim's worker process is killed the first time it runs it."""
    if target.target_id.endswith(VICTIM) and not _kills_marker(target).exists():
        _kills_marker(target).parent.mkdir(exist_ok=True)
        _kills_marker(target).write_text(str(os.getpid()))
        _kill_self()
    return light_task(target, context, outdir)


def kill_always_task(target, context, outdir):
    """light_task, except that the victim's worker process is killed every time (a deterministic OOM)."""
    if target.target_id.endswith(VICTIM):
        _kill_self()
    return light_task(target, context, outdir)


def kill_once_search_task(target, context, outdir):
    """The default detrend + search task, except that the victim's worker is killed the first time."""
    if target.target_id.endswith(VICTIM) and not _kills_marker(target).exists():
        _kills_marker(target).parent.mkdir(exist_ok=True)
        _kills_marker(target).write_text(str(os.getpid()))
        _kill_self()
    return detrend_search_task(target, context, outdir)


def sleepy_task(target, context, outdir):
    """light_task after a second's sleep (time to pull the scheduler away mid-run)."""
    time.sleep(1.0)
    return light_task(target, context, outdir)


# ---------------------------------------------------------------- helpers
@pytest.fixture()
def inputs(campaign, tmp_path):
    """A copy of the campaign's light curves in ``tmp_path/in`` (the kill markers go to ``tmp_path/kills``)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted((campaign / "lc").iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


@pytest.fixture(scope="module")
def light_reference(campaign, tmp_path_factory):
    """light_task on threads, nothing going wrong: the catalog every fault test must reproduce."""
    out = tmp_path_factory.mktemp("light_reference")
    _light(out, [campaign / "lc"], workers=2)
    return _rows(out / "catalog.ecsv")


def _leftovers(out: Path) -> list[str]:
    """Temporary files of interrupted writes and start records of tasks that never ended."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if ".tmp" in p.name or p.name == RUNNING_NAME)


def _markers(out: Path) -> list[Path]:
    return sorted(out.glob(f"targets/*/{MARKER_NAME}"))


def _failures(out: Path) -> Table:
    return Table.read(out / "failures.ecsv")


# ---------------------------------------------------------------- a worker killed: local pool
def test_a_worker_killed_mid_target_is_retried_on_a_fresh_pool(inputs, tmp_path, light_reference):
    summary = run_batch([inputs], tmp_path / "out", BatchConfig(regressors=NO_BREAKS, workers=2, task=kill_once_task, progress=False))
    assert list((tmp_path / "kills").iterdir()), "the victim's worker was never killed"
    assert (summary.n_done, summary.n_failed, summary.exit_status, summary.worker_restarts) == (N_STARS, 0, 0, 1)
    assert _rows(tmp_path / "out" / "catalog.ecsv") == light_reference
    assert len(_failures(tmp_path / "out")) == 0 and len(_markers(tmp_path / "out")) == N_STARS
    assert _leftovers(tmp_path / "out") == []


def test_a_target_whose_worker_always_dies_is_failed_and_the_rest_done(inputs, tmp_path, light_reference):
    out = tmp_path / "out"
    summary = run_batch([inputs], out, BatchConfig(regressors=NO_BREAKS, workers=2, task=kill_always_task, progress=False))
    assert (summary.n_done, summary.n_failed, summary.exit_status, summary.worker_restarts) == (N_STARS - 1, 1, 1, 2)
    failures = _failures(out)
    assert list(failures["stage"]) == ["task"] and failures["target_id"][0].endswith(VICTIM)
    assert failures["error"][0] == DIED_TWICE and failures["error_type"][0] == "WorkerDied"
    assert "twice" in DIED_TWICE and "out of memory" in DIED_TWICE
    assert not (out / "targets" / failures["name"][0] / MARKER_NAME).exists()
    assert len(_markers(out)) == N_STARS - 1 and _leftovers(out) == []
    victim = [row for row in light_reference if row[1].endswith(VICTIM)]
    assert _rows(out / "catalog.ecsv") == [row for row in light_reference if row not in victim]


@pytest.mark.slow
def test_a_worker_killed_mid_target_with_the_default_task_gives_the_reference_catalog(inputs, tmp_path,
                                                                                      reference_run):
    reference, _ = reference_run
    summary = run_batch([inputs], tmp_path / "out", BatchConfig(workers=2, task=kill_once_search_task, progress=False))
    assert list((tmp_path / "kills").iterdir())
    assert (summary.n_done, summary.n_failed, summary.exit_status, summary.worker_restarts) == (N_STARS, 0, 0, 1)
    assert _rows(tmp_path / "out" / "catalog.ecsv") == _rows(reference / "catalog.ecsv")


class _BreakingExecutor(Executor):
    """Runs tasks in this thread; the victim's future fails as if its pool process had died."""

    def submit(self, fn, /, *args, **kwargs):
        from concurrent.futures.process import BrokenProcessPool

        future: Future = Future()
        if fn is run_target and args[1].target_id.endswith(VICTIM):
            future.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_a_broken_pool_passed_in_cannot_be_replaced_so_its_targets_fail_clearly(campaign, tmp_path):
    summary = run_batch([campaign / "lc"], tmp_path, BatchConfig(regressors=NO_BREAKS, workers=1, task=light_task, progress=False),
                        executor=_BreakingExecutor())
    assert (summary.n_done, summary.n_failed, summary.worker_restarts) == (N_STARS - 1, 1, 0)
    error = _failures(tmp_path)["error"][0]
    assert "died (killed or out of memory)" in error and "cannot be replaced" in error and "rerun" in error


class _MapPool(Executor):
    """``map`` runs here, or fails as a broken process pool does."""

    def __init__(self, broken: bool):
        self.broken = broken

    def map(self, fn, *iterables, chunksize=1):
        from concurrent.futures.process import BrokenProcessPool

        if self.broken:
            raise BrokenProcessPool("A child process terminated abruptly, the process pool is not usable anymore")
        return map(fn, *iterables)


def test_a_worker_death_while_reading_inputs_is_retried_once_on_a_fresh_pool():
    fresh = iter([_MapPool(broken=False)])
    workers = Workers(_MapPool(broken=True), "fake pool", 1, factory=lambda: next(fresh))
    assert workers.map(str, [1, 2], what="reading the input headers") == ["1", "2"] and workers.restarts == 1
    workers = Workers(_MapPool(broken=True), "fake pool", 1, factory=lambda: _MapPool(broken=True))
    with pytest.raises(WorkerDiedError, match="died .* while reading the input headers, twice; .* fewer --workers"):
        workers.map(str, [1], what="reading the input headers")
    assert workers.restarts == 1


# ---------------------------------------------------------------- a worker killed: Dask
def test_killed_worker_becomes_a_recorded_failure_naming_the_cause():
    from distributed.scheduler import KilledWorker

    err = KilledWorker(task="run_target-1", last_worker=SimpleNamespace(address="tcp://127.0.0.1:4000"),
                       allowed_failures=3)
    text = worker_error(err)
    assert "died (killed or out of memory) each of the 4 times Dask ran this target" in text
    assert "allowed-failures" in text and "tcp://127.0.0.1:4000" in text
    # through the runner: a future that raises KilledWorker is that target's failure, the others are done
    spec = SimpleNamespace(name="t03", path="t03.fits", target_id="EPIC 03", group="g")
    context = SimpleNamespace(settings_hash="h")

    class _Dask(Executor):
        def submit(self, fn, /, *args, **kwargs):
            future: Future = Future()
            future.set_exception(err)
            return future

    outcomes = run_targets([(spec, context, "unused")], Workers(_Dask(), "fake Dask", 1), light_task,
                           show_progress=False)
    assert [(o.status, o.error_type, o.error) for o in outcomes] == [("failed", "KilledWorker", text)]


def test_a_cancelled_task_after_the_scheduler_left_raises_scheduler_lost():
    from concurrent.futures import CancelledError

    spec = SimpleNamespace(name="t01", path="t01.fits", target_id="EPIC 01", group="g")

    class _Cancelled(Executor):
        def submit(self, fn, /, *args, **kwargs):
            future: Future = Future()
            future.set_exception(CancelledError())
            return future

    workers = Workers(_Cancelled(), "fake Dask", 1, scheduler_lost=lambda: "tcp://10.0.0.5:8786")
    with pytest.raises(SchedulerLostError, match="tcp://10.0.0.5:8786 went away") as info:
        run_targets([(spec, SimpleNamespace(settings_hash="h"), "unused")], workers, light_task, show_progress=False)
    assert "rerun the same command" in str(info.value) and "done.json" in str(info.value)


@pytest.mark.slow
def test_a_dask_worker_killed_mid_target_is_rerun_by_the_scheduler(inputs, tmp_path, light_reference):
    summary = run_batch([inputs], tmp_path / "out", BatchConfig(regressors=NO_BREAKS, workers=2, dask=True, task=kill_once_task,
                                                                progress=False))
    assert list((tmp_path / "kills").iterdir()), "the victim's worker was never killed"
    assert (summary.n_done, summary.n_failed, summary.exit_status) == (N_STARS, 0, 0)
    assert _rows(tmp_path / "out" / "catalog.ecsv") == light_reference


@pytest.mark.slow
def test_a_target_that_kills_every_dask_worker_is_a_killed_worker_failure(inputs, tmp_path):
    import dask

    # one task per worker at a time (the death is charged to its target only); give up after the second death
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        summary = run_batch([inputs], tmp_path / "out", BatchConfig(regressors=NO_BREAKS, workers=2, dask=True, task=kill_always_task,
                                                                    progress=False))
    assert (summary.n_done, summary.n_failed, summary.exit_status) == (N_STARS - 1, 1, 1)
    failures = _failures(tmp_path / "out")
    assert failures["target_id"][0].endswith(VICTIM) and failures["error_type"][0] == "KilledWorker"
    assert "died (killed or out of memory) each of the 2 times Dask ran this target" in failures["error"][0]


# ---------------------------------------------------------------- the disk fills up
def _fill_disk(monkeypatch: pytest.MonkeyPatch, full: Callable[[Path], bool]) -> None:
    """Writes to a path for which ``full(path)`` is true write half their bytes, then fail with ENOSPC.

    Covers astropy table writes (``Table.write``: the task's ``candidates.ecsv`` and the
    run's tables) and ``Path.write_text`` (``done.json``, ``summary.json``): what a disk that
    fills in the middle of a write does.
    """
    table_write = Table.__dict__["write"]
    write_text = Path.write_text

    def disk_full(path: Path) -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def fake_table_write(self, path, *args, **kwargs):
        if full(Path(path)):
            write_text(Path(path), "# %ECSV 1.0\n# ---\n# datatype:\n")
            raise disk_full(Path(path))
        return table_write.__get__(self, type(self))(path, *args, **kwargs)

    def fake_write_text(self, data, *args, **kwargs):
        if full(self):
            write_text(self, data[: len(data) // 2])
            raise disk_full(self)
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Table, "write", fake_table_write)
    monkeypatch.setattr(Path, "write_text", fake_write_text)


def test_a_full_disk_fails_the_targets_it_hits_cleanly_and_a_rerun_completes(campaign, tmp_path, monkeypatch,
                                                                             light_reference):
    def full(path: Path) -> bool:  # the victim's candidate table, and target 05's completion marker
        folder = path.parent.name
        return ((folder.endswith(VICTIM) and path.name.startswith(".candidates.ecsv."))
                or (folder.endswith("05") and path.name.startswith(f".{MARKER_NAME}.")))

    _fill_disk(monkeypatch, full)
    summary = _light(tmp_path, [campaign / "lc"], workers=2)
    assert (summary.n_done, summary.n_failed, summary.exit_status) == (N_STARS - 2, 2, 2)
    failures = _failures(tmp_path)
    assert sorted(n[-2:] for n in failures["name"]) == [VICTIM, "05"]
    assert [e.split(" (")[0] for e in failures["error"]] == ["No space left on device writing candidates.ecsv",
                                                             f"No space left on device writing {MARKER_NAME}"]
    for name, error, error_type in zip(failures["name"], failures["error"], failures["error_type"]):
        assert "free disk space and rerun the same command" in error and error_type == "OSError"
        assert not (tmp_path / "targets" / name / MARKER_NAME).exists()
    assert len(_markers(tmp_path)) == N_STARS - 2 and _leftovers(tmp_path) == []
    monkeypatch.undo()  # space freed
    again = _light(tmp_path, [campaign / "lc"], workers=2)
    assert (again.n_complete_before, again.n_done, again.n_failed, again.exit_status) == (N_STARS - 2, 2, 0, 0)
    assert _rows(tmp_path / "catalog.ecsv") == light_reference and _leftovers(tmp_path) == []


def test_a_full_disk_while_writing_the_catalog_keeps_the_old_tables_and_a_rerun_writes_them(
        campaign, tmp_path, monkeypatch, light_reference):
    out = tmp_path / "out"
    _fill_disk(monkeypatch, lambda path: ".catalog.ecsv." in path.name)
    with pytest.raises(OSError) as info:  # a first run: every target completes, the catalog cannot be written
        _light(out, [campaign / "lc"], workers=2)
    err = info.value
    assert err.errno == errno.ENOSPC and err.filename == str(out / "catalog.ecsv")
    assert "No space left on device" in err.strerror and "rerun the same command" in err.strerror
    assert not any((out / name).exists() for name in ("catalog.ecsv", "failures.ecsv", "summary.json"))
    assert len(_markers(out)) == N_STARS and _leftovers(out) == [] and not (out / LOCK_NAME).exists()
    monkeypatch.undo()
    again = _light(out, [campaign / "lc"], workers=2)
    assert (again.n_complete_before, again.n_done, again.exit_status) == (N_STARS, 0, 0)
    assert _rows(out / "catalog.ecsv") == light_reference
    # the old tables stay whole and consistent: the new catalog is not renamed into place when the
    # failures table (written after it) cannot be written
    before = {name: (out / name).read_bytes() for name in ("catalog.ecsv", "failures.ecsv", "summary.json")}
    _fill_disk(monkeypatch, lambda path: ".failures.ecsv." in path.name)
    with pytest.raises(OSError, match="No space left on device") as info:
        _light(out, [campaign / "lc"], workers=2, seed=7)  # other settings: a different catalog
    assert info.value.filename == str(out / "failures.ecsv")
    assert {name: (out / name).read_bytes() for name in before} == before and _leftovers(out) == []


def test_a_full_disk_when_taking_the_lock_leaves_no_lock_behind(campaign, tmp_path, monkeypatch):
    import halfsib.batch.lock as lock_module

    def full_dump(record, f):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lock_module.json, "dump", full_dump)
    with pytest.raises(OSError, match="No space left"):
        _light(tmp_path, [campaign / "lc"])
    assert not (tmp_path / LOCK_NAME).exists()
    monkeypatch.undo()
    assert _light(tmp_path, [campaign / "lc"]).n_done == N_STARS


# ---------------------------------------------------------------- the Dask scheduler goes away
@contextlib.contextmanager
def _dask_processes(folder: Path, n_workers: int = 2) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Dask scheduler and ``n_workers`` single-threaded workers as processes of their own (killed on exit)."""
    import distributed

    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, str(Path(halfsib.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    file = folder / "scheduler.json"
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(file)], **quiet)]
    try:
        deadline = time.time() + 60
        while not file.exists() and time.time() < deadline:
            time.sleep(0.05)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--nworkers", str(n_workers), "--host", "127.0.0.1", "--no-dashboard"],
                                      **quiet))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(n_workers, timeout=60)
        yield address, procs[0]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_a_scheduler_that_goes_away_mid_run_keeps_complete_targets_and_a_rerun_resumes(campaign, tmp_path,
                                                                                       light_reference):
    out = tmp_path / "out"
    with _dask_processes(tmp_path) as (address, scheduler):
        def kill_the_scheduler_after_the_first_target() -> None:
            deadline = time.time() + 60
            while not _markers(out) and time.time() < deadline:
                time.sleep(0.05)
            scheduler.kill()

        killer = threading.Thread(target=kill_the_scheduler_after_the_first_target, daemon=True)
        killer.start()
        start = time.time()
        with pytest.raises(SchedulerLostError) as info:
            run_batch([campaign / "lc"], out, BatchConfig(regressors=NO_BREAKS, scheduler=address, task=sleepy_task, progress=False))
        killer.join()
        seconds = time.time() - start
    err = info.value
    assert err.address == address and f"the Dask scheduler {address} went away" in str(err)
    assert "rerun the same command" in str(err) and str(out / "targets") in str(err)
    assert 1 <= err.n_kept < N_STARS and err.n_kept <= len(_markers(out))  # a worker may finish its target
    assert seconds < 30, f"the lost scheduler was noticed after {seconds:.0f} s"
    assert not (out / "catalog.ecsv").exists() and not (out / LOCK_NAME).exists()
    with ThreadPoolExecutor(2) as ex:  # the rerun (here on threads) skips the kept targets
        again = run_batch([campaign / "lc"], out, BatchConfig(regressors=NO_BREAKS, workers=2, task=sleepy_task, progress=False),
                          executor=ex)
    assert again.n_complete_before >= err.n_kept and again.n_complete_before + again.n_done == N_STARS
    assert again.n_done >= 1 and again.exit_status == 0
    assert _rows(out / "catalog.ecsv") == light_reference
