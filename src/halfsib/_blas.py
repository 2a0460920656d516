"""Limiting BLAS threads around the hot linear algebra (one per process when a pool runs targets)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["blas_threads"]


@contextlib.contextmanager
def blas_threads(threads: int | None = 1) -> Iterator[None]:
    """Limit BLAS to ``threads`` threads inside the block (``None``: leave the library's setting)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
