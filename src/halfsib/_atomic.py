"""Atomic file output: write to a temporary file in the same folder, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` only if the block succeeds.

    The temporary file lives in the destination folder (so ``os.replace`` is an atomic
    rename on POSIX and Windows), keeps the destination's suffix (so writers that look
    at the extension still work), and is removed if the block raises. A reader never
    sees a half-written file, and a run killed at any moment leaves the old file intact.

    Parameters
    ----------
    path : path-like
        Final destination.
    overwrite : bool
        If ``False`` and ``path`` exists, raise :class:`FileExistsError` before writing.
    """
    final = Path(path)
    if not overwrite and final.exists():
        raise FileExistsError(f"{final}: already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{''.join(final.suffixes)}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as astropy refuse to overwrite an existing file
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{final}: the writer did not create its output")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
