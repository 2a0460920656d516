"""One batch run per output folder: an exclusive lock file with stale-lock detection.

``OUTDIR/.halfsib-batch.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local and
NFSv3+ file systems) and holds the owner's host name, PID and process start time. A second
run finds it and is refused with :class:`OutdirLockedError`, unless the lock is *stale*:
written on this host by a process that no longer exists (or whose PID now belongs to a
process started at another time: PID reuse). A stale lock, as left by ``kill -9``, is
replaced with a warning. A lock from another host cannot be checked and is never broken
automatically (``break_lock=True`` / ``--break-lock`` does it).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..exceptions import HalfsibError

__all__ = ["OutdirLock", "OutdirLockedError", "LOCK_NAME"]

log = logging.getLogger(__name__)

LOCK_NAME = ".halfsib-batch.lock"


class OutdirLockedError(HalfsibError):
    """Another batch run holds the output folder's lock."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ")"
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    now = _start_time(pid)
    return start is None or now is None or now == start


class OutdirLock:
    """Context manager holding ``OUTDIR``'s batch lock.

    Parameters
    ----------
    outdir : path-like
        The output folder (created if missing).
    break_lock : bool
        Remove an existing lock even when its owner may be alive (another host).

    Raises
    ------
    OutdirLockedError
        On entry, when a live run (or one on another host) holds the lock.
    """

    def __init__(self, outdir: str | os.PathLike[str], *, break_lock: bool = False):
        self.path = Path(outdir) / LOCK_NAME
        self.break_lock = break_lock
        self._held = False

    def _record(self) -> dict[str, Any]:
        pid = os.getpid()
        return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid),
                "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self._record(), f)
        except OSError:  # e.g. a full disk: leave no empty lock behind
            self.path.unlink(missing_ok=True)
            raise
        return True

    def owner(self) -> dict[str, Any] | None:
        """The current lock's record (None when there is no lock; ``{}`` when unreadable)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
            return record if isinstance(record, dict) else {}
        except ValueError:
            return {}

    def _is_stale(self, owner: dict[str, Any]) -> bool:
        if not owner:  # empty or half-written: its writer died between create and write
            age = time.time() - self.path.stat().st_mtime if self.path.exists() else 0.0
            return age > 5.0
        if owner.get("host") != socket.gethostname():
            return False
        return not _alive(int(owner.get("pid", -1)), owner.get("start"))

    def acquire(self) -> OutdirLock:
        """Take the lock (see the class docstring); returns self."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._try_create():
                self._held = True
                return self
            owner = self.owner()
            if owner is None:
                continue  # released meanwhile
            if self.break_lock or self._is_stale(owner):
                log.warning("%s: removing a %s lock of PID %s on %s (started %s)", self.path.parent,
                            "broken" if self.break_lock else "stale", owner.get("pid", "?"),
                            owner.get("host", "?"), owner.get("started_utc", "?"))
                self.path.unlink(missing_ok=True)
                continue
            raise OutdirLockedError(
                f"{self.path.parent}: another halfsib batch (PID {owner.get('pid', '?')} on "
                f"{owner.get('host', '?')}, started {owner.get('started_utc', '?')}) is using this output "
                f"folder; wait for it, or if it is dead on another machine remove {self.path} "
                "(or pass --break-lock)")
        raise OutdirLockedError(f"{self.path.parent}: could not take the lock {self.path} (it keeps reappearing)")

    def release(self) -> None:
        """Remove the lock if this object holds it."""
        if self._held:
            owner = self.owner() or {}
            if owner.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> OutdirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
