"""Safe, stable output names derived from file headers.

A header's OBJECT card is data, not a path: ``"../../etc/passwd"``, ``"EPIC 1/2"`` or a name
with control characters must never leave the output folder or clobber another target's
outputs. :func:`sanitise_name` keeps letters, digits, ``.``, ``_`` and ``-`` and replaces
every other run of characters by ``_``; :func:`unique_names` makes the names of a batch
distinct (case-insensitively, for macOS/Windows file systems) by appending a hash of the
input path to every member of a colliding set, so a name never depends on the order in
which files were found.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

__all__ = ["sanitise_name", "unique_names", "stable_seed", "MAX_NAME_LENGTH"]

#: longest name produced (file systems allow 255 bytes; leave room for suffixes)
MAX_NAME_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_RUNS = re.compile(r"_+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def sanitise_name(text: str | None, fallback: str = "target") -> str:
    """A file-name-safe version of ``text``.

    Parameters
    ----------
    text : str or None
        E.g. a header's target id (``"EPIC 211436265"``).
    fallback : str
        Used when nothing safe is left (already safe itself).

    Returns
    -------
    str
        Only ``[A-Za-z0-9._-]``, no ``..``, no leading or trailing ``.``, ``_`` or ``-`` (no
        hidden files, no option-like names), at most :data:`MAX_NAME_LENGTH` characters, never a Windows
        device name; e.g. ``"EPIC_211436265"``.
    """
    name = _DOTS.sub("_", _UNSAFE.sub("_", str(text or "")))
    name = _RUNS.sub("_", name).strip("_.-")
    name = name[:MAX_NAME_LENGTH].rstrip("_.-")
    if not name:
        return fallback
    if name.split(".")[0].lower() in _RESERVED:
        name = f"_{name}"
    return name


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def unique_names(names: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Make ``names`` distinct: members of a colliding set get ``-<hash of key>`` appended.

    Parameters
    ----------
    names : sequence of str
        Sanitised names, one per item.
    keys : sequence of str
        A distinct, stable key per item (e.g. the resolved input path).

    Returns
    -------
    list of str
        Same order as ``names``; names are compared case-insensitively.
    """
    if len(names) != len(keys):
        raise ValueError(f"{len(names)} names for {len(keys)} keys")
    counts: dict[str, int] = {}
    for n in names:
        counts[n.casefold()] = counts.get(n.casefold(), 0) + 1
    out = [f"{n[:MAX_NAME_LENGTH - 9]}-{_short_hash(k)}" if counts[n.casefold()] > 1 else n
           for n, k in zip(names, keys)]
    if len({o.casefold() for o in out}) != len(out):  # identical keys (the same file given twice)
        raise ValueError("two items share a key; give each input file once")
    return out


def stable_seed(base_seed: int, key: str) -> int:
    """A 63-bit seed from ``base_seed`` and a target key, the same in every process and run."""
    digest = hashlib.sha256(f"{int(base_seed)}|{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1
