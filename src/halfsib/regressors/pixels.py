"""Pixel-level regressors: causal-pixel-model (CPM) predictors and pixel-level decorrelation (PLD).

- **CPM** (Wang et al. 2016): individual pixel light curves of *other* stars' stamps. On
  the target's detector (same channel, or camera and CCD) every pixel within an exclusion
  square of ``exclusion_pixels`` on a side around the target is left out, so no target
  light (and no transit) reaches the predictors; stamps of the target itself (same id or
  file) are always left out. The ``n_pixels`` brightest (or most correlated) remaining
  pixels are kept.
- **PLD** (Deming et al. 2015; Luger et al. 2016): the target's own pixel *fractions*
  p_i / Σ p. An astrophysical change of brightness scales every pixel alike and divides
  out; pointing motion moves light between pixels and stays. Order 1 is the principal
  components of the fractions; orders 2 and 3 are the principal components of products
  of the (standardised) order-1 components — the same span as products of fractions,
  without forming thousands of products for large apertures.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..design import RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ..timeseries import LightCurve, PixelSeries
from . import _sky
from ._grid import grid_of, locate
from ._util import BoolArray, FloatArray, fill_gaps, make_group, pca_scores
from .motion import centroid_track

log = logging.getLogger(__name__)

__all__ = ["cpm_regressors", "pld_regressors", "CPM_SELECTIONS"]

CPM_SELECTIONS = ("brightest", "similar")
#: order-1 components used to build the higher orders (bounds the number of products)
PLD_BASIS = (0, 20, 12, 6)


def _target_position(target: LightCurve | PixelSeries) -> tuple[float, float] | None:
    """Median detector (column, row) of the target, or None (POS_CORR offsets are not positions)."""
    if isinstance(target, PixelSeries):
        track = centroid_track(target)
    elif "centroid_col" in target.columns and "centroid_row" in target.columns:
        track = (target.columns["centroid_col"], target.columns["centroid_row"])
    else:
        return None
    if track is None:
        return None
    x, y = (np.asarray(v, float)[target.good] for v in track)
    ok = np.isfinite(x) & np.isfinite(y)
    return (float(np.median(x[ok])), float(np.median(y[ok]))) if ok.any() else None


def _same_detector(a: PixelSeries | LightCurve, b: PixelSeries) -> bool:
    """True when both are on one channel (or camera/CCD), or when either detector is unknown."""
    ma, mb = a.meta, b.meta
    if ma.channel is not None and mb.channel is not None:
        return ma.channel == mb.channel
    if None not in (ma.camera, ma.ccd, mb.camera, mb.ccd):
        return (ma.camera, ma.ccd) == (mb.camera, mb.ccd)
    return True


def _on_target(stamp: PixelSeries, target: LightCurve) -> tuple[FloatArray, BoolArray]:
    """Stamp pixels (N_target, n_pix) at the target's cadences and where they are valid."""
    grid, order = grid_of(stamp)
    m = locate(grid, target.cadenceno, target.time)
    flux = stamp.flux.reshape(stamp.n_cadences, -1)[order]
    valid = stamp.pixel_good.reshape(stamp.n_cadences, -1)[order]
    values = m.apply(np.where(valid, flux, 0.0))
    between = (m.weight > 0) & (m.weight < 1)  # unmatched but inside the stamp's span: interpolated
    ok = valid[m.lower] & valid[m.upper] & (m.matched | between)[:, None]
    return values, ok


def _keep_mask(target: LightCurve | PixelSeries, stamp: PixelSeries, position: tuple[float, float] | None,
               half: int, radius: float) -> NDArray[np.bool_]:
    """Pixels of ``stamp`` that may be predictors of ``target`` (flattened stamp order)."""
    meta = stamp.meta
    same = _sky.neighbours_of(target.meta, [_sky.normalised_id(meta)], [_sky.normalised_source(meta)],
                              np.array([np.nan]), np.array([np.nan]), 0.0)[0]
    n_pix = stamp.shape[0] * stamp.shape[1]
    if same:
        return np.zeros(n_pix, bool)
    if position is not None and _same_detector(target, stamp):
        rows, cols = np.indices(stamp.shape)
        near = (np.abs(cols + stamp.corner[0] - position[0]) <= half + 0.5) & \
               (np.abs(rows + stamp.corner[1] - position[1]) <= half + 0.5)
        return ~near.ravel()
    if None not in (target.meta.ra, target.meta.dec, meta.ra, meta.dec):
        sep = _sky.separation_arcsec(target.meta.ra, target.meta.dec, np.array([meta.ra]), np.array([meta.dec]))[0]
        if sep <= radius:
            return np.zeros(n_pix, bool)
    return np.ones(n_pix, bool)


def _scores(values: FloatArray, ok: BoolArray, rel_target: FloatArray, good: BoolArray, select: str) -> FloatArray:
    """Brightness (median flux) or |correlation| with the target, per pixel; NaN if unusable."""
    v = np.where(ok & good[:, None], values, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: median NaN, dropped below
        med = np.nanmedian(v, axis=0)
    if select == "brightest":
        return med
    rel = v / med - 1.0
    mask = np.isfinite(rel)
    y = np.where(mask, rel_target[:, None], 0.0)
    x = np.where(mask, rel, 0.0)
    n = mask.sum(axis=0)
    with np.errstate(all="ignore"):
        xm, ym = x.sum(0) / n, y.sum(0) / n
        cov = (x * y).sum(0) / n - xm * ym
        corr = cov / np.sqrt(((x * x).sum(0) / n - xm**2) * ((y * y).sum(0) / n - ym**2))
    return np.where(med > 0, np.abs(corr), np.nan)


def cpm_regressors(
    target: LightCurve | PixelSeries,
    others: Sequence[PixelSeries],
    *,
    n_pixels: int = 100,
    exclusion_pixels: int = 11,
    exclusion_radius: float = 60.0,
    select: str = "brightest",
    min_coverage: float = 0.9,
    prior_scale: float | None = None,
    name: str = "cpm",
) -> RegressorGroup:
    """Causal-pixel-model predictors: single pixels of other stars' stamps.

    Parameters
    ----------
    target : LightCurve or PixelSeries
        Its detector position comes from its pixels or its ``centroid_col/row`` columns.
    others : sequence of PixelSeries
        Other stars' stamps from the same campaign/sector.
    n_pixels : int
        Number of predictor pixels L.
    exclusion_pixels : int
        Side of the exclusion square around the target, detector pixels (odd; 11 as in
        the CPM papers), applied to stamps on the target's detector.
    exclusion_radius : float
        Arcsec. Used when the target's pixel position is unknown or the stamp is on
        another detector: a stamp whose star is this close is left out entirely.
    select : {"brightest", "similar"}
        Keep the brightest pixels (median flux), or those whose relative flux correlates
        best with the target's.
    min_coverage : float
        A pixel must be valid at this fraction of the target's good cadences.

    Returns
    -------
    RegressorGroup
        Relative pixel fluxes (p / median − 1, gaps interpolated), unit RMS; named
        ``cpm_<star>_r<row>c<col>`` with detector row/column.
    """
    if select not in CPM_SELECTIONS:
        raise ConfigurationError(f"CPM select must be one of {CPM_SELECTIONS}, got {select!r}")
    if n_pixels < 1 or exclusion_pixels < 0:
        raise ConfigurationError(f"n_pixels must be >= 1 and exclusion_pixels >= 0, got {n_pixels}, "
                                 f"{exclusion_pixels}")
    lc = target if isinstance(target, LightCurve) else target.to_lightcurve()
    position = _target_position(target)
    rel_target = lc.flux / np.median(lc.flux[lc.good]) - 1.0
    best_cols, best_scores, best_names = np.zeros((lc.n_cadences, 0)), np.zeros(0), []
    seen: set[tuple[str, int, int]] = set()  # detector pixels already offered (neighbouring stamps overlap)
    for stamp in others:
        if not isinstance(stamp, PixelSeries):
            raise DataValidationError(f"CPM predictors need PixelSeries, got {type(stamp).__name__}")
        keep = _keep_mask(target, stamp, position, exclusion_pixels // 2, exclusion_radius)
        if not keep.any():
            continue
        found = _stamp_candidates(stamp, lc, keep, rel_target, select, min_coverage, seen, name)
        if found is not None:
            best_cols, best_scores, best_names = _merge(best_cols, best_scores, best_names, *found, n_pixels)
    if best_cols.shape[1] == 0:
        raise DataValidationError("no usable CPM predictor pixel outside the exclusion region", lc.meta.source)
    desc = (f"{best_cols.shape[1]} {select} pixels of {len(others)} other stamps, {exclusion_pixels}-pixel "
            f"exclusion square around the target")
    return make_group(name, best_cols, best_names, lc.good, lc.flux, prior_scale=prior_scale, description=desc,
                      source=lc.meta.source)


def _stamp_candidates(stamp: PixelSeries, lc: LightCurve, keep: NDArray[np.bool_], rel_target: FloatArray,
                      select: str, min_coverage: float, seen: set[tuple[str, int, int]], name: str
                      ) -> tuple[FloatArray, FloatArray, list[str]] | None:
    """Usable pixels of one stamp: relative fluxes on the target's cadences (gap-filled), scores, names."""
    values, ok = _on_target(stamp, lc)
    cover = (ok & lc.good[:, None]).sum(axis=0) / max(lc.n_good, 1)
    scores = _scores(values, ok, rel_target, lc.good, select)
    cand = np.flatnonzero(keep & (cover >= min_coverage) & np.isfinite(scores) & (scores > 0))
    cand = _new_pixels(cand, stamp, seen)
    if cand.size == 0:
        return None
    med = np.array([np.median(values[ok[:, j] & lc.good, j]) for j in cand])
    rel = fill_gaps(lc.time, values[:, cand] / med - 1.0, ok[:, cand])
    label = (stamp.meta.target_id or "star").replace(" ", "")
    rows, cols = np.unravel_index(cand, stamp.shape)
    names = [f"{name}_{label}_r{r + stamp.corner[1]}c{c + stamp.corner[0]}" for r, c in zip(rows, cols)]
    return rel, scores[cand], names


def _new_pixels(cand: NDArray[np.intp], stamp: PixelSeries, seen: set[tuple[str, int, int]]) -> NDArray[np.intp]:
    """Drop candidate pixels whose detector pixel an earlier stamp already offered; record the rest."""
    rows, cols = np.unravel_index(cand, stamp.shape)
    keys = [(stamp.meta.detector, int(r) + stamp.corner[1], int(c) + stamp.corner[0]) for r, c in zip(rows, cols)]
    fresh = np.array([k not in seen for k in keys], bool)
    seen.update(keys)
    return cand[fresh] if cand.size else cand


def _merge(cols: FloatArray, scores: FloatArray, names: list[str], new_cols: FloatArray, new_scores: FloatArray,
           new_names: list[str], n: int) -> tuple[FloatArray, FloatArray, list[str]]:
    """Keep the n best-scoring columns (stable order on ties)."""
    all_scores = np.concatenate([scores, new_scores])
    order = np.argsort(-all_scores, kind="stable")[:n]
    all_cols = np.hstack([cols, new_cols])
    all_names = names + new_names
    return all_cols[:, order], all_scores[order], [all_names[i] for i in order]


def _fractions(pixels: PixelSeries, aperture: NDArray[np.bool_]) -> tuple[FloatArray, BoolArray]:
    """Pixel fractions (N, p) over the aperture, gap-filled, and the cadences where they are valid."""
    flux = pixels.flux[:, aperture]
    valid = pixels.pixel_good[:, aperture]
    usable = valid[pixels.good].mean(axis=0) >= 0.5 if pixels.n_good else np.zeros(flux.shape[1], bool)
    if not usable.any():
        raise DataValidationError("no aperture pixel is valid at half of the good cadences", pixels.meta.source)
    flux, valid = flux[:, usable], valid[:, usable]
    flux = fill_gaps(pixels.time, np.where(valid, flux, 0.0), valid & pixels.good[:, None])
    total = flux.sum(axis=1)
    ok = pixels.good & (total > 0)
    if ok.sum() < 3:
        raise DataValidationError("the aperture flux is not positive at the good cadences", pixels.meta.source)
    frac = fill_gaps(pixels.time, flux / np.where(total > 0, total, 1.0)[:, None], ok)
    return frac, ok


def pld_regressors(
    pixels: PixelSeries,
    *,
    order: int = 2,
    n_components: int = 16,
    aperture: NDArray[np.bool_] | None = None,
    flux: FloatArray | None = None,
    prior_scale: float | None = None,
    name: str = "pld",
) -> list[RegressorGroup]:
    """Pixel-level decorrelation terms from the target's own pixels, one group per order.

    Parameters
    ----------
    pixels : PixelSeries
        The target's stamp.
    order : int
        Highest order, 1-3.
    n_components : int
        Principal components kept per order.
    aperture : ndarray of bool, shape (n_rows, n_cols), optional
        Pixels used; default the mission's aperture.
    flux : ndarray, shape (N,), optional
        The target's flux (sets the initial prior scales); default the aperture sum.

    Returns
    -------
    list of RegressorGroup
        ``pld1``, ``pld2``, ``pld3`` (named ``<name><order>``), each up to ``n_components``
        columns, unit RMS over the good cadences; empty when the fractions never change
        (a one-pixel aperture).
    """
    if order not in (1, 2, 3):
        raise ConfigurationError(f"PLD order must be 1, 2 or 3, got {order}")
    if n_components < 1:
        raise ConfigurationError(f"PLD n_components must be >= 1, got {n_components}")
    ap = pixels.aperture if aperture is None else np.asarray(aperture, bool)
    if ap.shape != pixels.shape or not ap.any():
        raise ConfigurationError(f"PLD aperture must be a non-empty boolean mask of shape {pixels.shape}")
    frac, ok = _fractions(pixels, ap)
    good = pixels.good
    total = flux if flux is not None else pixels.to_lightcurve(ap).flux
    total = np.where(np.isfinite(total), total, 0.0)
    basis = pca_scores(frac, ok, max(PLD_BASIS[1], n_components))
    if basis.shape[1] == 0:  # e.g. a one-pixel aperture: its fraction is always 1
        log.info("PLD: the pixel fractions of %s do not vary; no PLD terms", pixels.meta.target_id)
        return []
    basis = basis / basis[ok, 0].std()  # one scale for all: products keep the components' relative sizes
    groups = []
    for k in range(1, order + 1):
        q = basis.shape[1] if k == 1 else min(basis.shape[1], PLD_BASIS[k])
        if k == 1:
            terms = basis[:, :q]
        else:
            terms = np.column_stack([np.prod(basis[:, list(c)], axis=1)
                                     for c in itertools.combinations_with_replacement(range(q), k)])
        cols = pca_scores(terms, ok, n_components)
        names = [f"{name}{k}_{j + 1}" for j in range(cols.shape[1])]
        desc = (f"order-{k} pixel-level decorrelation: {cols.shape[1]} principal components of "
                + ("pixel fractions" if k == 1 else f"{k}-fold products of {q} order-1 components")
                + f" ({int(ap.sum())} aperture pixels)")
        groups.append(make_group(f"{name}{k}", cols, names, good & ok, total, prior_scale=prior_scale,
                                 description=desc, source=pixels.meta.source))
    return groups
