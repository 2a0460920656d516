"""Eigen light curves (ELCs): principal components of many other stars' light curves.

An :class:`ElcBasis` is built once per set of stars (a campaign, sector, or one channel
of it). Each star is normalised (divided by its median, minus 1), robustly clipped,
gap-filled by linear interpolation in time and optionally weighted; the stars are dealt
into folds, with stars closer than the exclusion radius always in the same fold.

The principal components of any subset of stars come from one Gram matrix
``X Xᵀ`` (n_stars × n_stars), computed once: the subset's block is diagonalised
(O(n³), milliseconds for a few hundred stars) and its ELCs are ``X_subᵀ U / s``. The
basis for a target leaves out the fold(s) holding the target and its neighbours, so the
target's own light (and its transits) never enter its regressors. Fold bases are cached;
a basis leaving out two or more folds (a target outside the set whose neighbours sit in
different folds) is computed on first use and cached too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import linalg as sla

from ..design import RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ..timeseries import TIME_FORMATS, LightCurve, PixelSeries, photometry_matches
from . import _sky
from ._grid import Grid, build_grid, coverage, locate
from ._stars import StarCatalogue, as_lightcurve, catalogue, check_set, normalise_star, stack, star_weights
from ._util import FloatArray, make_group, sign_convention

log = logging.getLogger(__name__)

_TIME_OFFSETS = {name: offset for name, (offset, _) in TIME_FORMATS.items()}

__all__ = ["ElcBasis", "StarCatalogue", "normalise_star", "WEIGHTINGS"]

#: star weighting schemes before the PCA
WEIGHTINGS = ("none", "noise", "unit")
#: eigenvalues below this fraction of the largest are numerically zero (singular values 1e-7)
EIGEN_FLOOR = 1e-14
#: a target whose good cadences the basis covers less than this fraction of is refused
MIN_TARGET_COVERAGE = 0.5


def _check_settings(n_components: int, n_folds: int, exclusion_radius: float, weighting: str,
                    clip_sigma: float, min_coverage: float) -> None:
    if int(n_components) < 1:
        raise ConfigurationError(f"n_components must be >= 1, got {n_components}")
    if int(n_folds) < 1:
        raise ConfigurationError(f"n_folds must be >= 1, got {n_folds}")
    if not (np.isfinite(exclusion_radius) and exclusion_radius >= 0):
        raise ConfigurationError(f"exclusion_radius must be >= 0 arcsec, got {exclusion_radius}")
    if weighting not in WEIGHTINGS:
        raise ConfigurationError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if not clip_sigma > 0:
        raise ConfigurationError(f"clip_sigma must be > 0 (use numpy.inf for no clipping), got {clip_sigma}")
    if not 0 < min_coverage <= 1:
        raise ConfigurationError(f"min_coverage must be in (0, 1], got {min_coverage}")


class ElcBasis:
    """Eigen light curves of a set of stars, with cheap per-target exclusion.

    Build with :meth:`build` (or :meth:`load` a saved one); get a target's regressors with
    :meth:`for_target`. See the module docstring and ``docs/regressors.md``.

    Attributes
    ----------
    matrix : ndarray, shape (n_stars, G)
        Weighted normalised light curves on the grid (relative flux × weight).
    grid : Grid
        Cadence numbers and times of the columns.
    stars : StarCatalogue
    n_components : int
        Default number of ELCs returned per target.
    exclusion_radius : float
        Default exclusion radius, arcsec (also used to group neighbours into folds).
    settings : dict
        How the basis was built (recorded in saved files).
    pointing_breaks : tuple of float or None
        The campaign's pointing breaks [d] (:func:`halfsib.pipeline.find_campaign_breaks`),
        saved with the basis; :func:`halfsib.pipeline.fit_target` gives them to every target
        instead of searching each one. None: not searched (each target searches its own).
    """

    def __init__(self, matrix: FloatArray, grid: Grid, stars: StarCatalogue, *, n_components: int,
                 exclusion_radius: float, time_format: str, mission: str = "unknown", season: str = "?",
                 settings: dict[str, Any] | None = None, rejected: Sequence[tuple[str, str]] = (),
                 pointing_breaks: Sequence[float] | None = None):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        self.grid = grid
        self.stars = stars
        self.n_components = int(n_components)
        self.exclusion_radius = float(exclusion_radius)
        self.time_format = time_format
        self.mission = mission
        self.season = season
        self.settings = dict(settings or {})
        self.rejected = tuple(rejected)
        self.pointing_breaks = None if pointing_breaks is None else tuple(float(b) for b in pointing_breaks)
        self._gram: FloatArray | None = None
        self._cache: dict[frozenset[int], tuple[FloatArray, FloatArray]] = {}

    def __repr__(self) -> str:
        return (f"<halfsib.ElcBasis {self.stars.n_stars} stars x {self.grid.size} cadences, {self.n_folds} folds, "
                f"{self.n_components} components, {self.mission} {self.season}>")

    @property
    def n_folds(self) -> int:
        """Number of folds."""
        return int(self.stars.folds.max()) + 1 if self.stars.n_stars else 0

    @classmethod
    def build(cls, stars: Sequence[LightCurve | PixelSeries], *, n_components: int = 150, n_folds: int = 8,
              exclusion_radius: float = 60.0, weighting: str = "none", clip_sigma: float = 5.0,
              min_coverage: float = 0.5, match: str = "auto", precompute: bool = True) -> ElcBasis:
        """Normalise the stars, deal them into folds and (optionally) compute every fold basis.

        Parameters
        ----------
        stars : sequence of LightCurve (or PixelSeries, summed over their apertures)
            One campaign/sector (optionally one channel/CCD); any target may be among them.
        n_components : int
            Default number of ELCs per target (fewer when the set has fewer stars).
        n_folds : int
            Number of folds (>= 1; at most the number of neighbour groups).
        exclusion_radius : float
            Arcsec. Stars closer than this share a fold, and are excluded from each other's basis.
        weighting : {"none", "noise", "unit"}
            Row weights before the PCA: none (the default, as in DFM2015: relative flux),
            inverse white noise (bright, quiet stars dominate), or inverse robust scatter
            (every star counts equally).
        clip_sigma : float
            Outlier threshold against a running median (robust sigmas).
        min_coverage : float
            Stars with good values at fewer than this fraction of grid cadences are left out.
        match : {"auto", "cadenceno", "time"}
            How series are put on a common grid.
        precompute : bool
            Compute the all-star basis and every fold basis now (else on first use).

        Raises
        ------
        ConfigurationError
            A setting out of range.
        DataValidationError
            Fewer than 2 usable stars (1 with ``n_folds=1``); stars from different seasons
            or time systems.
        """
        _check_settings(n_components, n_folds, exclusion_radius, weighting, clip_sigma, min_coverage)
        series = [as_lightcurve(s) for s in stars]
        min_stars = 1 if n_folds == 1 else 2  # one fold: the caller has excluded the target already
        check_set(series, min_stars)
        grid = build_grid(series, on=match)
        kept, rows, noise, medians, cover, rejected = stack(series, grid, clip_sigma, min_coverage, min_stars)
        used = [series[i] for i in kept]
        weights = star_weights(rows, noise, weighting)
        table = catalogue(used, kept, n_folds, exclusion_radius, weights, noise, medians, cover)
        settings = dict(n_components=int(n_components), n_folds=int(n_folds), exclusion_radius=float(exclusion_radius),
                        weighting=weighting, clip_sigma=float(clip_sigma), min_coverage=float(min_coverage),
                        match=grid.on)
        first = used[0].meta
        basis = cls(rows * weights[:, None], grid, table, n_components=n_components,
                    exclusion_radius=exclusion_radius, time_format=used[0].time_format, mission=first.mission,
                    season=first.season, settings=settings, rejected=rejected)
        log.info("ELC basis: %d stars (%d rejected) x %d cadences, %d folds", table.n_stars, len(rejected),
                 grid.size, basis.n_folds)
        if precompute:
            basis.precompute()
        return basis

    def precompute(self) -> ElcBasis:
        """Compute (and cache) the all-star basis and each single-fold-left-out basis; returns self."""
        self.components(frozenset())
        if self.n_folds > 1:
            for f in range(self.n_folds):
                self.components(frozenset({f}))
        return self

    @property
    def cached(self) -> tuple[frozenset[int], ...]:
        """The sets of left-out folds whose components are computed (``frozenset()``: all stars)."""
        return tuple(sorted(self._cache, key=lambda k: (len(k), sorted(k))))

    @property
    def gram(self) -> FloatArray:
        """``matrix @ matrix.T``, shape (n_stars, n_stars), computed once."""
        if self._gram is None:
            self._gram = self.matrix @ self.matrix.T
        return self._gram

    def restore_components(self, exclude_folds: frozenset[int], elcs: FloatArray, singular_values: FloatArray
                           ) -> None:
        """Cache components computed earlier (:meth:`load` reads them from the file) so that
        :meth:`components` returns them instead of computing them again.

        ``elcs``: shape (G, k) on this basis's grid; ``singular_values``: shape (k,).
        """
        elcs = np.ascontiguousarray(elcs, dtype=np.float64)
        if elcs.ndim != 2 or elcs.shape[0] != self.grid.size or elcs.shape[1] != np.size(singular_values):
            raise DataValidationError(f"components of shape {elcs.shape} and {np.size(singular_values)} singular "
                                      f"values do not fit a grid of {self.grid.size} cadences")
        self._cache[frozenset(int(f) for f in exclude_folds)] = (elcs, np.asarray(singular_values, dtype=np.float64))

    def components(self, exclude_folds: frozenset[int] = frozenset()) -> tuple[FloatArray, FloatArray]:
        """ELCs of the stars outside ``exclude_folds`` (cached).

        Returns
        -------
        elcs : ndarray, shape (G, k)
            Unit-norm eigen light curves on the grid, by decreasing singular value,
            each with its largest-magnitude value positive.
        singular_values : ndarray, shape (k,)
        """
        key = frozenset(int(f) for f in exclude_folds)
        if key not in self._cache:
            keep = ~np.isin(self.stars.folds, list(key))
            if not keep.any():
                raise DataValidationError(f"excluding folds {sorted(key)} leaves no star in the basis")
            self._cache[key] = _principal_components(self.matrix[keep], self.gram[np.ix_(keep, keep)],
                                                     self.n_components)
            log.debug("ELC basis: components leaving out folds %s (%d stars)", sorted(key), int(keep.sum()))
        return self._cache[key]

    def excluded(self, target: LightCurve | PixelSeries, exclusion_radius: float | None = None) -> NDArray[np.bool_]:
        """Stars of the basis that are the target or lie within ``exclusion_radius`` arcsec of it."""
        radius = self.exclusion_radius if exclusion_radius is None else float(exclusion_radius)
        if not (np.isfinite(radius) and radius >= 0):
            raise ConfigurationError(f"exclusion_radius must be >= 0 arcsec, got {exclusion_radius}")
        s = self.stars
        near = _sky.neighbours_of(target.meta, s.keys, s.sources, s.ra, s.dec, radius)
        if target.meta.ra is None or target.meta.dec is None:
            copies = self.same_photometry_rows(target) & ~near
            for i in np.flatnonzero(copies):
                log.warning("basis star %s holds the target's own photometry (%s): left out of its ELCs",
                            s.labels[i], target.meta.source or target.meta.target_id)
            near = near | copies
        return near

    def same_photometry_rows(self, target: LightCurve | PixelSeries) -> NDArray[np.bool_]:
        """Stars of the basis whose light curve is the target's own photometry, by the data alone.

        A target without coordinates (a plain table) can only be recognised among the basis
        stars by its data (:func:`halfsib.timeseries.photometry_matches`). A target of
        unknown time system is tried both in the basis's system and in BJD.
        """
        lc = as_lightcurve(target)
        flagged = np.zeros(self.stars.n_stars, dtype=bool)
        if self.stars.n_stars == 0:
            return flagged
        shift = lc.time_offset - _TIME_OFFSETS.get(self.time_format, 0.0)
        shifts = {shift, 0.0, -_TIME_OFFSETS.get(self.time_format, 0.0)} if lc.time_format == "unknown" else {shift}
        for dt in sorted(shifts):
            flagged |= photometry_matches(lc.time[lc.good] + dt, lc.flux[lc.good], self.grid.time, self.matrix)
        return flagged

    def for_target(self, target: LightCurve | PixelSeries, *, exclusion_radius: float | None = None,
                   n_components: int | None = None, prior_scale: float | None = None,
                   name: str = "elc") -> RegressorGroup:
        """The ELC regressor group of one target, on the target's own cadences.

        The basis leaves out every fold that holds the target or a star within
        ``exclusion_radius`` of it (by RA/Dec; by catalogue id or file path otherwise).
        Columns are matched by cadence number (else by time, interpolating linearly),
        centred and scaled to unit RMS over the target's good cadences.

        Parameters
        ----------
        target : LightCurve or PixelSeries
        exclusion_radius : float, optional
            Arcsec; default the basis's.
        n_components : int, optional
            Number of ELCs; default the basis's (fewer if fewer stars remain).
        prior_scale : float, optional
            Initial prior standard deviation (flux units); default from the target's scatter.
        name : str
            Group name.

        Raises
        ------
        DataValidationError
            Different time system or season, or the basis covers under half of the
            target's good cadences.
        """
        lc = as_lightcurve(target)
        self._check_target(lc)
        excl = self.excluded(target, exclusion_radius)
        folds = frozenset(int(f) for f in self.stars.folds[excl])
        elcs, _ = self.components(folds)
        wanted = self.n_components if n_components is None else int(n_components)
        if wanted < 1:
            raise ConfigurationError(f"n_components must be >= 1, got {n_components}")
        k = min(wanted, elcs.shape[1])
        if k < wanted:
            log.debug("ELC basis: %d components asked for, %d available", wanted, k)
        cols = locate(self.grid, lc.cadenceno, lc.time).apply(elcs[:, :k])
        n_used = int(np.count_nonzero(~np.isin(self.stars.folds, list(folds))))
        desc = (f"{k} eigen light curves of {n_used}/{self.stars.n_stars} stars ({self.mission} {self.season}); "
                f"left out folds {sorted(folds)} holding the {int(excl.sum())} star(s) that are the target (same id "
                f"or file) or within {self.exclusion_radius if exclusion_radius is None else exclusion_radius:g} "
                "arcsec of it")
        names = [f"{name}{j + 1}" for j in range(k)]
        return make_group(name, cols, names, lc.good, lc.flux, prior_scale=prior_scale, description=desc,
                          source=lc.meta.source)

    def _check_target(self, lc: LightCurve) -> None:
        if "unknown" not in (lc.time_format, self.time_format) and lc.time_format != self.time_format:
            raise DataValidationError(f"target times are {lc.time_format.upper()}, the basis's "
                                      f"{self.time_format.upper()}", lc.meta.source)
        if "?" not in (lc.meta.season, self.season) and lc.meta.season != self.season:
            raise DataValidationError(f"the target is from {lc.meta.season}, the basis from {self.season}",
                                      lc.meta.source)
        detectors = set(self.stars.detectors) - {"?"}
        if len(detectors) == 1 and lc.meta.detector != "?" and lc.meta.detector not in detectors:
            log.warning("the basis holds stars of %s only; the target %s is on %s", detectors.pop(),
                        lc.meta.target_id or lc.meta.source, lc.meta.detector)
        frac = coverage(self.grid, lc.time, lc.good)
        if frac < MIN_TARGET_COVERAGE:
            raise DataValidationError(f"the basis covers only {frac:.0%} of the target's good cadences "
                                      f"(grid {self.grid.time[0]:.3f}-{self.grid.time[-1]:.3f})", lc.meta.source)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True,
             inputs: Sequence[str | os.PathLike[str]] = ()) -> Path:
        """Write the basis (normalised stars, folds, cached components, provenance) as FITS, atomically."""
        from ._basis_io import write_basis

        return write_basis(self, path, overwrite=overwrite, inputs=inputs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ElcBasis:
        """Read a basis written by :meth:`save`."""
        from ._basis_io import read_basis_file

        return read_basis_file(cls, path)


def _principal_components(rows: FloatArray, gram: FloatArray, n_components: int) -> tuple[FloatArray, FloatArray]:
    """Leading right singular vectors of ``rows`` (n, G) from its Gram matrix (n, n)."""
    n = gram.shape[0]
    k = min(int(n_components), n)
    values, vectors = sla.eigh(gram, subset_by_index=[n - k, n - 1], check_finite=False)
    values, vectors = values[::-1], vectors[:, ::-1]
    if values[0] <= 0:
        raise DataValidationError("the stars' normalised light curves are all zero; nothing to decompose")
    keep = values > values[0] * EIGEN_FLOOR
    s = np.sqrt(values[keep])
    elcs = (rows.T @ vectors[:, keep]) / s
    return np.ascontiguousarray(sign_convention(elcs)), s
