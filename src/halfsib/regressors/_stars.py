"""The stars of an ELC basis: normalisation, stacking on a grid, folds (private to :mod:`.elc`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from ..exceptions import ConfigurationError, DataValidationError
from ..timeseries import LightCurve, PixelSeries
from . import _sky
from ._grid import Grid, locate
from ._util import FloatArray, fill_gaps, point_to_point_noise, robust_std

log = logging.getLogger(__name__)

#: running-median width (cadences) used to find outliers
CLIP_WINDOW = 9


@dataclass(frozen=True, eq=False)
class StarCatalogue:
    """The stars of a basis, one entry per row of the normalised matrix.

    Attributes
    ----------
    labels : tuple of str
        Target id, or the file name when the id is unknown.
    keys, sources : tuple of (str or None)
        Normalised catalogue ids and resolved file paths (for identity matching).
    ra, dec : ndarray, shape (n,)
        Degrees; NaN when unknown.
    detectors : tuple of str
        ``"ch68"``, ``"cam4-ccd1"`` or ``"?"``.
    folds : ndarray of int64, shape (n,)
    weights : ndarray, shape (n,)
        Factor applied to the normalised light curve before the PCA.
    noise : ndarray, shape (n,)
        Point-to-point white-noise estimate of the normalised light curve (relative flux).
    medians : ndarray, shape (n,)
        Median flux used for normalisation (the star's flux units).
    coverage : ndarray, shape (n,)
        Fraction of grid cadences with a good, unclipped value.
    """

    labels: tuple[str, ...]
    keys: tuple[str | None, ...]
    sources: tuple[str | None, ...]
    ra: FloatArray
    dec: FloatArray
    detectors: tuple[str, ...]
    folds: NDArray[np.int64]
    weights: FloatArray
    noise: FloatArray
    medians: FloatArray
    coverage: FloatArray

    @property
    def n_stars(self) -> int:
        """Number of stars."""
        return len(self.labels)


def normalise_star(flux: FloatArray, ok: NDArray[np.bool_], time: FloatArray, clip_sigma: float
                   ) -> tuple[FloatArray, NDArray[np.bool_], float]:
    """Median-normalise, clip outliers and fill gaps of one light curve on a grid.

    Parameters
    ----------
    flux : ndarray, shape (G,)
        Flux on the grid (any values where ``ok`` is False).
    ok : ndarray of bool, shape (G,)
        Good cadences.
    time : ndarray, shape (G,)
        Grid times, days.
    clip_sigma : float
        Points farther than ``clip_sigma`` robust standard deviations from a running median
        (``CLIP_WINDOW`` good cadences) are treated as missing.

    Returns
    -------
    series : ndarray, shape (G,)
        ``flux / median - 1``, linearly interpolated in time over missing and clipped cadences.
    used : ndarray of bool, shape (G,)
        Cadences that kept their own value.
    median : float
        The median flux (NaN when not positive: the star is unusable).
    """
    used = ok & np.isfinite(flux)
    if used.sum() < 3:
        return np.zeros_like(time), used, float("nan")
    median = float(np.median(flux[used]))
    if not median > 0:
        return np.zeros_like(time), used, float("nan")
    rel = flux / median - 1.0
    if np.isfinite(clip_sigma):
        idx = np.flatnonzero(used)
        dev = rel[idx] - median_filter(rel[idx], size=CLIP_WINDOW, mode="nearest")
        scale = robust_std(dev)
        if scale > 0:
            used = used.copy()
            used[idx[np.abs(dev) > clip_sigma * scale]] = False
    return fill_gaps(time, rel, used), used, median


def as_lightcurve(series: Any) -> LightCurve:
    """A light curve as is, a pixel series summed over its aperture; anything else is refused."""
    if isinstance(series, PixelSeries):
        return series.to_lightcurve()
    if not isinstance(series, LightCurve):
        raise DataValidationError(f"ELC stars must be LightCurve or PixelSeries objects, got {type(series).__name__}")
    return series


def check_set(stars: Sequence[LightCurve], min_stars: int) -> None:
    """Refuse sets of fewer than ``min_stars`` stars, or mixing time systems or seasons."""
    if len(stars) < min_stars:
        raise DataValidationError(f"this ELC basis needs at least {min_stars} star(s), got {len(stars)}")
    for what, key in (("time systems", lambda s: s.time_format),
                      ("seasons", lambda s: f"{s.meta.mission} {s.meta.season}" if s.meta.season != "?" else None)):
        sets: dict[str, list[str]] = {}
        for s in stars:
            if key(s) is not None:
                sets.setdefault(str(key(s)), []).append(s.meta.source or s.meta.target_id)
        if len(sets) > 1:
            raise DataValidationError(f"the stars are in different {what}: {describe_odd_ones(sets)}; a basis "
                                      "needs one campaign/sector/quarter: remove the odd file(s) from the inputs")


def describe_odd_ones(sets: dict[str, list[str]]) -> str:
    """``"K2 C5 (12 stars) and TESS S1 (1: b.fits)"``: each set's size, the files of all but the largest."""
    largest = max(sets, key=lambda k: len(sets[k]))
    parts = []
    for key, names in sorted(sets.items(), key=lambda kv: -len(kv[1])):
        listed = "" if key == largest else ": " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        parts.append(f"{key} ({len(names)}{' stars' if not listed else ''}{listed})")
    return " and ".join(parts)


def stack(stars: Sequence[LightCurve], grid: Grid, clip_sigma: float, min_coverage: float, min_stars: int
          ) -> tuple[list[int], FloatArray, FloatArray, FloatArray, FloatArray, list[tuple[str, str]]]:
    """Normalised rows of the usable stars and why the others were rejected."""
    kept, rows, noise, medians, cover, rejected = [], [], [], [], [], []
    for i, lc in enumerate(stars):
        m = locate(grid, lc.cadenceno, lc.time, on=grid.on if grid.on in ("cadenceno", "time") else "time")
        flux = np.full(grid.size, np.nan)
        ok = np.zeros(grid.size, bool)
        flux[m.lower[m.matched]] = lc.flux[m.matched]
        ok[m.lower[m.matched]] = lc.good[m.matched]
        series, used, median = normalise_star(flux, ok, grid.time, clip_sigma)
        label = _label(lc, i)
        if not np.isfinite(median):
            rejected.append((label, "median flux not positive or too few good cadences"))
            continue
        if used.mean() < min_coverage:
            rejected.append((label, f"covers {used.mean():.0%} of the grid (min_coverage {min_coverage:.0%})"))
            continue
        kept.append(i)
        rows.append(series)
        noise.append(point_to_point_noise(series[used]))
        medians.append(median)
        cover.append(float(used.mean()))
    for label, why in rejected:
        log.warning("ELC basis: star %s left out: %s", label, why)
    if len(kept) < min_stars:
        raise DataValidationError(f"fewer than {min_stars} usable star(s) for an ELC basis "
                                  f"({len(rejected)} rejected)")
    return kept, np.vstack(rows), np.array(noise), np.array(medians), np.array(cover), rejected


def _label(lc: LightCurve, i: int) -> str:
    if lc.meta.target_id:
        return str(lc.meta.target_id)
    return os.path.basename(lc.meta.source) if lc.meta.source else f"star{i}"


def star_weights(rows: FloatArray, noise: FloatArray, weighting: str) -> FloatArray:
    """Row weights (median 1) for ``weighting`` in ("none", "noise", "unit")."""
    if weighting == "none":
        return np.ones(rows.shape[0])
    scale = noise if weighting == "noise" else np.array([robust_std(r) for r in rows])
    scale = np.where(scale > 0, scale, np.median(scale[scale > 0]) if np.any(scale > 0) else 1.0)
    w = 1.0 / scale
    return w / np.median(w)


def catalogue(used: Sequence[LightCurve], kept: Sequence[int], n_folds: int, radius: float, weights: FloatArray,
              noise: FloatArray, medians: FloatArray, cover: FloatArray) -> StarCatalogue:
    """The catalogue of the usable stars, with neighbours grouped and dealt into folds."""
    metas = [lc.meta for lc in used]
    keys = tuple(_sky.normalised_id(m) for m in metas)
    ra = np.array([m.ra if m.ra is not None else np.nan for m in metas], float)
    dec = np.array([m.dec if m.dec is not None else np.nan for m in metas], float)
    detectors = tuple(m.detector for m in metas)
    groups = _sky.neighbour_groups(keys, ra, dec, radius)
    if n_folds > int(groups.max()) + 1:
        raise ConfigurationError(f"n_folds={n_folds} is more than the {int(groups.max()) + 1} groups of "
                                 f"neighbouring stars; use at most that many folds")
    folds = _sky.assign_folds(groups, detectors, ra, n_folds)
    return StarCatalogue(labels=tuple(_label(lc, i) for lc, i in zip(used, kept)), keys=keys,
                         sources=tuple(_sky.normalised_source(m) for m in metas), ra=ra, dec=dec,
                         detectors=detectors, folds=folds, weights=weights, noise=noise, medians=medians,
                         coverage=cover)
