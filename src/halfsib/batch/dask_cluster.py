"""Dask distributed as the batch's executor (imported only when Dask is asked for).

The runner needs nothing but a :class:`concurrent.futures.Executor`; a Dask client gives
one (``Client.get_executor``), so the tasks, their arguments and their outcomes are
exactly those of the local pool. Large data never travel with a task: the group basis is
a file under ``OUTDIR/basis`` that every worker reads once, so the workers must see
``OUTDIR`` and the input files at the same paths (a shared file system).

Faults: Dask reruns a task whose worker died (``distributed.scheduler.allowed-failures``
times, default 3) and then fails it with ``KilledWorker``, which the runner records as that
target's failure. When the scheduler goes away, the client cancels every task; the
:class:`~halfsib.batch.workers.Workers` this module yields then raise
:class:`~halfsib.batch.workers.SchedulerLostError` naming the scheduler.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..exceptions import ConfigurationError
from .workers import Workers

__all__ = ["dask_executor"]

log = logging.getLogger(__name__)


def _import_distributed():  # type: ignore[no-untyped-def]
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - a dependency
        raise ConfigurationError("Dask distributed is not installed: pip install 'dask[distributed]'") from err
    return distributed


@contextlib.contextmanager
def dask_executor(scheduler: str | None, n_workers: int) -> Iterator[Workers]:
    """An executor on a Dask cluster: the one at ``scheduler``, else a local one.

    Parameters
    ----------
    scheduler : str or None
        ``tcp://host:port`` of a running scheduler; None starts a ``LocalCluster`` of
        ``n_workers`` single-threaded worker processes bound to 127.0.0.1 (no dashboard).
    n_workers : int

    Yields
    ------
    Workers
        The client's executor; its ``check()`` raises ``SchedulerLostError`` once the
        client has lost the scheduler.
    """
    distributed = _import_distributed()
    cluster = None
    try:
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as err:
                raise ConfigurationError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there "
                                         f"({type(err).__name__}: {err})") from err
            text = f"Dask scheduler {scheduler}"
        else:
            cluster = _local_cluster(distributed, n_workers)
            client = distributed.Client(cluster)
            text = f"Dask LocalCluster ({n_workers} workers, 127.0.0.1)"
        n = len(client.scheduler_info().get("workers", {})) or n_workers
        log.info("%s: %d workers", text, n)
        try:
            yield Workers(client.get_executor(pure=False), text, n,
                          scheduler_lost=_lost(client, scheduler or cluster.scheduler_address))
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _local_cluster(distributed: Any, n_workers: int) -> Any:
    """A LocalCluster of ``n_workers`` single-threaded worker processes on 127.0.0.1, no dashboard.

    Dask's nannies start their workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (config
    ``distributed.nanny.pre-spawn-environ``), which makes glibc return freed memory to the
    system eagerly; the detrend + search task allocates and frees large arrays all the
    time, and with that setting it took twice as long (4.8 s instead of 2.4 s per 300-cadence
    K2 target in one process), so halfsib's own cluster leaves it unset.
    """
    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.ERROR)


def _lost(client: Any, address: str) -> Callable[[], str | None]:
    """``address`` once ``client`` is no longer connected to its scheduler (reconnecting or closed), else None."""

    def lost() -> str | None:
        return None if client.status == "running" else address

    return lost
