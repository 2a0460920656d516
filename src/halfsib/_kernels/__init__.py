"""Numba kernels (private).

Every function here takes only C-contiguous float64/int64 arrays and scalars,
never raises for a user mistake, and returns an integer status code (``0`` = ok)
that the calling Python layer turns into a typed halfsib exception. Nothing is
compiled at import time: the kernels are lazily compiled on first call and cached
on disk (``cache=True``). Each kernel has a NumPy twin in ``tests/reference.py``.
"""

from __future__ import annotations

__all__: list[str] = []
