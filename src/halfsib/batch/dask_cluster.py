"""Dask distributed as the batch's executor (imported only when Dask is asked for).

The runner needs nothing but a :class:`concurrent.futures.Executor`; a Dask client gives
one (``Client.get_executor``), so the tasks, their arguments and their outcomes are
exactly those of the local pool. Large data never travel with a task: the group basis is
a file under ``OUTDIR/basis`` that every worker reads once, so the workers must see
``OUTDIR`` and the input files at the same paths (a shared file system).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import Executor

from ..exceptions import ConfigurationError

__all__ = ["dask_executor"]

log = logging.getLogger(__name__)


def _import_distributed():  # type: ignore[no-untyped-def]
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - a dependency
        raise ConfigurationError("Dask distributed is not installed: pip install 'dask[distributed]'") from err
    return distributed


@contextlib.contextmanager
def dask_executor(scheduler: str | None, n_workers: int) -> Iterator[tuple[Executor, str, int]]:
    """An executor on a Dask cluster: the one at ``scheduler``, else a local one.

    Parameters
    ----------
    scheduler : str or None
        ``tcp://host:port`` of a running scheduler; None starts a ``LocalCluster`` of
        ``n_workers`` single-threaded worker processes bound to 127.0.0.1 (no dashboard).
    n_workers : int

    Yields
    ------
    (executor, description, number of workers)
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
            cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
            text = f"Dask LocalCluster ({n_workers} workers, 127.0.0.1)"
        n = len(client.scheduler_info().get("workers", {})) or n_workers
        log.info("%s: %d workers", text, n)
        try:
            yield client.get_executor(pure=False), text, n
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
