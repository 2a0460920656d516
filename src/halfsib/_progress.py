"""Progress bars: tqdm when installed, a silent stand-in with the same interface otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class _NoProgress:
    """A do-nothing object with the subset of the tqdm interface halfsib uses."""

    def __init__(self, iterable: Iterable[Any] | None = None, **kwargs: Any):
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(iterable: Iterable[T] | None = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """Wrap ``iterable`` in a progress bar (tqdm) or a no-op object.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; ``None`` for a manually updated bar.
    enabled : bool
        ``False`` returns the silent stand-in (for tests, ``--quiet`` and workers).
    **kwargs
        Passed to ``tqdm`` (``total``, ``desc``, ``unit``...).
    """
    if not enabled:
        return _NoProgress(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with lightkurve
        log.debug("tqdm is not installed; progress bars are disabled")
        return _NoProgress(iterable)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


class stage:  # noqa: N801 - used as a context manager, like a function
    """Announce a long stage on stderr and its duration when it ends (nothing when not ``enabled``).

    >>> with stage("searching", enabled=False):
    ...     pass
    """

    def __init__(self, message: str, *, enabled: bool = True):
        self.message, self.enabled = message, enabled

    def __enter__(self) -> stage:
        import time

        self._start = time.perf_counter()
        if self.enabled:
            _write(f"{self.message} ...")
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        import time

        if self.enabled and kind is None:
            _write(f"{self.message}: done in {time.perf_counter() - self._start:.1f} s")


def _write(text: str) -> None:
    import sys

    try:
        from tqdm.auto import tqdm

        tqdm.write(text, file=sys.stderr)
    except ImportError:  # pragma: no cover
        print(text, file=sys.stderr)
