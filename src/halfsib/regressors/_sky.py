"""Who is whom: star identity, angular distances and neighbour groups (private)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..timeseries import TargetInfo
from ._util import FloatArray


def normalised_id(meta: TargetInfo) -> str | None:
    """Catalogue id without spaces, upper case (``"EPIC247589423"``), or None."""
    if not meta.target_id:
        return None
    return "".join(str(meta.target_id).split()).upper()


def normalised_source(meta: TargetInfo) -> str | None:
    """Resolved file path of the series, or None for in-memory objects."""
    if not meta.source or meta.source.startswith("<"):
        return None
    return os.path.realpath(meta.source)


def detector_label(meta: TargetInfo) -> str:
    """``"ch68"``, ``"cam4-ccd1"`` or ``"?"``."""
    return meta.detector


def separation_arcsec(ra0: float, dec0: float, ra: FloatArray, dec: FloatArray) -> FloatArray:
    """Angular distance (arcsec) from (ra0, dec0) to each (ra, dec), degrees in; NaN where unknown.

    The haversine formula, accurate at small separations.
    """
    r0, d0 = np.radians(ra0), np.radians(dec0)
    r, d = np.radians(ra), np.radians(dec)
    h = np.sin((d - d0) / 2) ** 2 + np.cos(d0) * np.cos(d) * np.sin((r - r0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))) * 3600.0


def neighbours_of(
    meta: TargetInfo,
    ids: Sequence[str | None],
    sources: Sequence[str | None],
    ra: FloatArray,
    dec: FloatArray,
    radius_arcsec: float,
) -> NDArray[np.bool_]:
    """Stars that are the target (same file or catalogue id) or lie within ``radius_arcsec`` of it.

    Parameters
    ----------
    meta : TargetInfo
        The target's metadata.
    ids, sources : sequences of str or None, length n
        Normalised ids and sources of the stars (see :func:`normalised_id`).
    ra, dec : ndarray, shape (n,)
        Star coordinates in degrees, NaN when unknown.
    radius_arcsec : float
        Exclusion radius; 0 excludes only the target itself.
    """
    tid, tsrc = normalised_id(meta), normalised_source(meta)
    same = np.array([(tid is not None and i == tid) or (tsrc is not None and s == tsrc)
                     for i, s in zip(ids, sources)], dtype=bool)
    if meta.ra is None or meta.dec is None or len(ids) == 0:
        return same
    with np.errstate(invalid="ignore"):
        near = separation_arcsec(meta.ra, meta.dec, np.asarray(ra, float), np.asarray(dec, float)) <= radius_arcsec
    return same | near


def neighbour_groups(
    ids: Sequence[str | None], ra: FloatArray, dec: FloatArray, radius_arcsec: float
) -> NDArray[np.int64]:
    """Friends-of-friends groups: stars closer than ``radius_arcsec`` (or sharing an id) share a group.

    Returns
    -------
    ndarray of int64, shape (n,)
        Group label of each star, 0..n_groups-1 in order of first appearance.
    """
    n = len(ids)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    ra = np.asarray(ra, float)
    dec = np.asarray(dec, float)
    by_id: dict[str, list[int]] = {}
    for i, key in enumerate(ids):
        if key is not None:
            by_id.setdefault(key, []).append(i)
    for i in range(n):
        link = np.zeros(n, bool)
        if np.isfinite(ra[i]) and np.isfinite(dec[i]):
            with np.errstate(invalid="ignore"):
                link |= separation_arcsec(ra[i], dec[i], ra, dec) <= radius_arcsec
        if ids[i] is not None:
            link[by_id[ids[i]]] = True
        for j in np.flatnonzero(link[i + 1:]) + i + 1:
            a, b = root(i), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = np.array([root(i) for i in range(n)])
    order: dict[int, int] = {}
    for r in roots:
        order.setdefault(int(r), len(order))
    return np.array([order[int(r)] for r in roots], dtype=np.int64)


def assign_folds(groups: NDArray[np.int64], detectors: Sequence[str], ra: FloatArray,
                 n_folds: int) -> NDArray[np.int64]:
    """Deal neighbour groups into ``n_folds`` folds of nearly equal size, deterministically.

    Groups are visited in order of (detector, smallest RA, first index) and each goes to the
    fold with the fewest stars so far (lowest fold number on ties). A target's neighbours
    thus share its fold (leaving that fold out excludes them all), and every detector's
    stars are spread over the folds (every fold basis still sees every detector).
    """
    n_groups = int(groups.max()) + 1 if groups.size else 0
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    ra = np.asarray(ra, float)

    def key(g: int) -> tuple[str, float, int]:
        idx = members[g]
        finite = ra[idx][np.isfinite(ra[idx])]
        return (detectors[idx[0]], float(finite.min()) if finite.size else np.inf, int(idx[0]))

    folds = np.zeros(groups.size, dtype=np.int64)
    sizes = np.zeros(n_folds, dtype=np.int64)
    for g in sorted(range(n_groups), key=key):
        f = int(np.argmin(sizes))
        folds[members[g]] = f
        sizes[f] += members[g].size
    return folds
