"""Output files: written atomically (a temporary file in the same folder, then a rename), and
their paths checked before the work starts.

A command that fits for minutes and then cannot write its result wastes those minutes, so
every output path is checked first: it is not a folder where a file is wanted (or a file
where a folder is wanted), nothing above it is a file, its nearest existing folder accepts a
new file, and a figure's extension is a format matplotlib writes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .exceptions import ConfigurationError


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


def _nearest_existing_folder(path: Path, option: str) -> Path:
    """The closest ancestor of ``path`` that exists; it must be a folder we may write into."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigurationError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise ConfigurationError(f"{option} {path}: cannot write into {parent} ({err.strerror or err}); "
                                 "choose a folder you can write to") from None
    return parent


def check_output_file(path: str | os.PathLike[str], option: str, *, overwrite: bool, suffix: str = ".fits") -> Path:
    """Check that ``path`` can receive a new file (missing folders are created when it is written).

    Parameters
    ----------
    path : path-like
        The file the command will write.
    option : str
        The command-line option that named it (``-o``, ``--plot``), for the message.
    overwrite : bool
        Whether an existing file may be replaced (``--overwrite``).
    suffix : str
        The file type's extension, for the example name when ``path`` is a folder.

    Raises
    ------
    ConfigurationError
        ``path`` is a folder, exists without ``overwrite``, sits under a file, or its
        folder does not accept new files.
    """
    out = Path(path)
    if out.is_dir():
        raise ConfigurationError(f"{option} {out}: is a folder; give a file name inside it, such as "
                                 f"{out / ('out' + suffix)}")
    if out.exists() and not overwrite:
        raise ConfigurationError(f"{option} {out}: already exists; pass --overwrite to replace it")
    _nearest_existing_folder(out, option)
    return out


def check_output_folder(path: str | os.PathLike[str], option: str = "-o") -> Path:
    """Check that ``path`` is (or can be created as) a folder we may write into."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{option} {out}: is a file; give a folder (it is created if needed)")
    if out.is_dir():
        _nearest_existing_folder(out / "probe", option)
    else:
        _nearest_existing_folder(out, option)
    return out


def check_figure_path(path: str | os.PathLike[str], option: str = "--plot", *, overwrite: bool = True) -> Path:
    """:func:`check_output_file` plus: the extension names a format matplotlib can write."""
    from matplotlib.backend_bases import FigureCanvasBase

    out = check_output_file(path, option, overwrite=overwrite, suffix=".png")
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in formats:
        what = f".{suffix} is not a figure format" if suffix else "the name has no extension"
        raise ConfigurationError(f"{option} {out}: {what}; end the name in .png or .pdf (matplotlib also writes "
                                 f"{', '.join(sorted(set(formats) - {'png', 'pdf'}))})")
    return out


def save_figure(figure: Any, path: str | os.PathLike[str], *, dpi: float) -> None:
    """Save a matplotlib figure atomically (missing folders are created)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format=Path(path).suffix.lower().lstrip("."))

