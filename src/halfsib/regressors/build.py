"""One call from a target (and what the user has) to its design matrix.

:func:`build_design` assembles the groups in a fixed order — ELCs (in tiers), ELC × motion
products, CPM pixels, PLD orders, motion terms, user CBVs, smooth splines — each
standardised to unit RMS over the target's good cadences, without a constant column (the
model fits the mean separately). :class:`RegressorConfig` holds the settings; a setting
left at ``None`` takes the default of the target's mission (:data:`MISSION_DEFAULTS`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import DesignMatrix, RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ..io.text import BasisTable
from ..timeseries import LightCurve, PixelSeries
from . import _sky
from ._grid import coverage, grid_of, locate
from ._util import initial_prior_scale, make_group
from .cbv import cbv_regressors
from .elc import WEIGHTINGS, ElcBasis
from .motion import (
    MODULATIONS, MOTION_BASES, MOTION_VARIABLES, check_breaks, elc_motion_products, motion_regressors,
    motion_response_terms, motion_variables, step_regressors,
)
from .pixels import CPM_SELECTIONS, cpm_regressors, pld_regressors
from .smooth import settling_regressors, spline_regressors

log = logging.getLogger(__name__)

__all__ = ["RegressorConfig", "build_design", "motion_response", "split_tiers", "MISSION_DEFAULTS",
           "CENTROID_MOTION_DEFAULTS", "DESIGN_CANDIDATES"]

#: per-mission defaults for the settings a RegressorConfig leaves at None (see docs/regressors.md)
MISSION_DEFAULTS: dict[str, dict[str, Any]] = {
    "K2": dict(n_elc=150, elc_tiers=(10, 40), exclusion_radius=60.0, n_elc_motion=0, n_cpm=100, pld_order=2,
               pld_components=16, motion_modulation="splines", motion_basis="spline", motion_windows=40,
               motion_degree=3, motion_splines=12, spline_spacing=3.0, gap_days=0.5,
               settling_timescales=(), find_breaks=True),
    "Kepler": dict(n_elc=150, elc_tiers=(10, 40), exclusion_radius=60.0, n_elc_motion=0, n_cpm=100, pld_order=2,
                   pld_components=16, motion_modulation="splines", motion_basis="poly", motion_windows=6,
                   motion_degree=2, motion_splines=8, spline_spacing=5.0, gap_days=1.0,
                   settling_timescales=(), find_breaks=False),
    "TESS": dict(n_elc=50, elc_tiers=(10,), exclusion_radius=210.0, n_elc_motion=0, n_cpm=100, pld_order=2,
                 pld_components=8, motion_modulation="splines", motion_basis="poly", motion_windows=4,
                 motion_degree=2, motion_splines=8, spline_spacing=1.5, gap_days=0.5,
                 settling_timescales=(), find_breaks=False),
}
MISSION_DEFAULTS["unknown"] = MISSION_DEFAULTS["Kepler"]
#: per mission, the designs among which :func:`halfsib.pipeline.prepare_target` chooses for each
#: target by held-out precision on transit time scales when the user gives no RegressorConfig
#: (settings over the mission defaults; the variants with other stars' ELCs only when other
#: stars are given, those with PLD only for a pixel file): the mission's design with and
#: without the other stars' ELCs, each with and without the target's own pixels. The one
#: with the fewest columns is fitted in full, the others with its stellar GP held
#: (:func:`halfsib.pipeline.fit_target`). Measured in docs/detrend.md.
DESIGN_CANDIDATES: dict[str, tuple[dict[str, Any], ...]] = {
    mission: ({}, dict(n_elc=0), dict(pld_order=0), dict(n_elc=0, pld_order=0))
    for mission in ("K2", "Kepler", "TESS", "unknown")
}
#: motion settings that replace the mission's defaults (those the user left at None) when the
#: motion variables are the 2-D centroids (``motion_variables="centroids"``): for K2 one smooth
#: response to the position over the campaign (cubic monomials of x, y times 4 B-splines in time,
#: 36 columns) follows the slow drift as well as the roll. See docs/detrend_benchmark.md.
CENTROID_MOTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "K2": dict(motion_modulation="splines", motion_basis="poly", motion_windows=4, motion_degree=3),
}


def _positive_int(name: str, value: Any, minimum: int = 0) -> None:
    if value is not None and not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                                  and value >= minimum):
        raise ConfigurationError(f"RegressorConfig.{name} must be an integer >= {minimum}, got {value!r}")


def _positive_float(name: str, value: Any, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"RegressorConfig.{name} must be a finite number {'>=' if allow_zero else '>'} 0, "
                                 f"got {value!r}")


def _choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ConfigurationError(f"RegressorConfig.{name} must be one of {tuple(allowed)}, got {value!r}")


@dataclass(frozen=True)
class RegressorConfig:
    """Settings of the regressor groups; ``None`` means "the target's mission default".

    Attributes
    ----------
    n_elc : int
        Eigen light curves per target (0: no ELC group).
    elc_tiers : tuple of int
        Column counts where the ELC group is split into groups with their own prior scale
        (``(10, 40)``: ELCs 1-10, 11-40, 41-n): leading ELCs carry much more variance.
    exclusion_radius : float
        Arcsec: stars this close to the target never enter its ELC basis (nor whole CPM stamps).
    elc_weighting : {"none", "noise", "unit"}
        Star weights in the PCA (see :meth:`ElcBasis.build`).
    n_elc_motion : int
        Leading ELCs multiplied by the target's motion variables (0: none).
    n_cpm : int
        CPM predictor pixels (used when other stars' pixels are given; 0: none).
    cpm_exclusion_pixels : int
        Side of the CPM exclusion square, detector pixels.
    cpm_select : {"brightest", "similar"}
    pld_order, pld_components : int
        PLD orders (0: none; used when the target's pixels are given) and components per order.
    motion : bool
        Include the target's motion terms when it has motion data.
    motion_variables : {"auto", "arclength", "centroids"}
        ``"auto"``: arclength for K2, centroids otherwise. With centroids on K2 the motion
        settings left at ``None`` take :data:`CENTROID_MOTION_DEFAULTS` (36 smooth x, y terms).
    motion_modulation : {"windows", "splines", "none"}
    motion_basis : {"poly", "spline"}
        Monomials of the motion variables, or B-splines of each variable.
    motion_windows, motion_degree, motion_splines : int
        Time windows (or spline functions in time), polynomial degree, and B-splines per
        variable (>= 4) of the motion terms.
    spline_spacing : float
        Knot spacing of the smooth time terms, days (0: none).
    gap_days : float
        Gaps longer than this split the smooth time terms and start a settling ramp, days.
    settling_timescales : tuple of float
        Decay times [d] of the settling ramps at the start of every stretch of data (``()``,
        the default of every mission: none; see :func:`~halfsib.regressors.settling_regressors`).
    motion_breaks : tuple of float
        Times [d, the light curve's time system] of pointing breaks: the motion response
        restarts there and the flux may step (``motion_regressors(..., breaks=)``,
        ``step_regressors``). Default none.
    find_breaks : bool
        Let :func:`halfsib.pipeline.fit_target` find pointing breaks from the fitted model
        when ``motion_breaks`` is empty (:func:`halfsib.breaks.find_motion_breaks`); the
        K2 default (the roll pattern and K2SFF's arclength change abruptly within campaigns).
    """

    n_elc: int | None = None
    elc_tiers: tuple[int, ...] | None = None
    exclusion_radius: float | None = None
    elc_weighting: str = "none"
    n_elc_motion: int | None = None
    n_cpm: int | None = None
    cpm_exclusion_pixels: int = 11
    cpm_select: str = "brightest"
    pld_order: int | None = None
    pld_components: int | None = None
    motion: bool = True
    motion_variables: str = "auto"
    motion_modulation: str | None = None
    motion_basis: str | None = None
    motion_windows: int | None = None
    motion_degree: int | None = None
    motion_splines: int | None = None
    spline_spacing: float | None = None
    gap_days: float | None = None
    settling_timescales: tuple[float, ...] | None = None
    motion_breaks: tuple[float, ...] = ()
    find_breaks: bool | None = None

    def __post_init__(self) -> None:
        for name in ("n_elc", "n_elc_motion", "n_cpm", "cpm_exclusion_pixels", "pld_order", "pld_components"):
            _positive_int(name, getattr(self, name))
        for name in ("motion_windows", "motion_degree"):
            _positive_int(name, getattr(self, name), 1)
        _positive_int("motion_splines", self.motion_splines, 4)
        _choice("motion_basis", self.motion_basis, MOTION_BASES)
        _positive_float("exclusion_radius", self.exclusion_radius, allow_zero=True)
        _positive_float("spline_spacing", self.spline_spacing, allow_zero=True)
        _positive_float("gap_days", self.gap_days)
        _choice("elc_weighting", self.elc_weighting, WEIGHTINGS)
        _choice("cpm_select", self.cpm_select, CPM_SELECTIONS)
        _choice("motion_variables", self.motion_variables, MOTION_VARIABLES)
        _choice("motion_modulation", self.motion_modulation, MODULATIONS)
        if self.pld_order is not None and self.pld_order > 3:
            raise ConfigurationError(f"RegressorConfig.pld_order must be 0-3, got {self.pld_order}")
        if self.motion_degree is not None and self.motion_degree > 6:
            raise ConfigurationError(f"RegressorConfig.motion_degree must be 1-6, got {self.motion_degree}")
        if self.elc_tiers is not None:
            tiers = tuple(self.elc_tiers)
            if not all(isinstance(t, (int, np.integer)) and t > 0 for t in tiers) or list(tiers) != sorted(set(tiers)):
                raise ConfigurationError(f"RegressorConfig.elc_tiers must be increasing positive integers, got {tiers}")
            object.__setattr__(self, "elc_tiers", tiers)
        if self.settling_timescales is not None:
            taus = tuple(float(x) for x in np.atleast_1d(self.settling_timescales))
            if not all(np.isfinite(x) and x > 0 for x in taus):
                raise ConfigurationError(f"RegressorConfig.settling_timescales must be finite and > 0 [d], "
                                         f"got {self.settling_timescales}")
            object.__setattr__(self, "settling_timescales", taus)
        if not isinstance(self.motion, bool):
            raise ConfigurationError(f"RegressorConfig.motion must be True or False, got {self.motion!r}")
        if self.find_breaks is not None and not isinstance(self.find_breaks, bool):
            raise ConfigurationError(f"RegressorConfig.find_breaks must be True, False or None, "
                                     f"got {self.find_breaks!r}")
        try:
            object.__setattr__(self, "motion_breaks", check_breaks(self.motion_breaks))
        except (ConfigurationError, TypeError, ValueError):
            raise ConfigurationError(f"RegressorConfig.motion_breaks must be finite times [d], "
                                     f"got {self.motion_breaks!r}") from None

    @classmethod
    def for_mission(cls, mission: str, **overrides: Any) -> RegressorConfig:
        """A fully specified config with ``mission``'s defaults ("K2", "Kepler", "TESS")."""
        if mission not in MISSION_DEFAULTS:
            raise ConfigurationError(f"mission must be one of {sorted(MISSION_DEFAULTS)}, got {mission!r}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigurationError(f"unknown RegressorConfig settings {sorted(unknown)}")
        return cls(**{**MISSION_DEFAULTS[mission], **overrides})

    def resolved(self, mission: str) -> RegressorConfig:
        """This config with every ``None`` replaced by ``mission``'s default."""
        defaults = MISSION_DEFAULTS.get(mission, MISSION_DEFAULTS["unknown"])
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def searches_breaks(self, mission: str) -> bool:
        """Whether pointing breaks are searched for (or taken from a campaign's) for ``mission``:
        motion terms on, ``find_breaks`` (the mission's default when None) and no breaks named."""
        cfg = self.resolved(mission)
        return bool(cfg.motion and cfg.find_breaks and not cfg.motion_breaks)


def split_tiers(group: RegressorGroup, tiers: Sequence[int], flux: np.ndarray,
                good: np.ndarray) -> list[RegressorGroup]:
    """Split a group's columns at the ``tiers`` counts into groups ``<name><first>_<last>``.

    Each part gets its own initial prior scale; without tiers the group is returned as is.
    """
    edges = [0, *[t for t in tiers if t < group.n_columns], group.n_columns]
    if len(edges) == 2:
        return [group]
    parts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        parts.append(RegressorGroup(
            name=f"{group.name}{lo + 1}_{hi}", columns=group.columns[:, lo:hi],
            prior_scale=initial_prior_scale(flux, good, hi - lo), column_names=group.column_names[lo:hi],
            description=f"columns {lo + 1}-{hi} of: {group.description}"))
    return parts


def build_design(
    target: LightCurve | PixelSeries,
    *,
    others: Sequence[LightCurve | PixelSeries] | None = None,
    basis: ElcBasis | None = None,
    cbv: BasisTable | str | os.PathLike[str] | None = None,
    pixels: Sequence[PixelSeries] | None = None,
    target_pixels: PixelSeries | None = None,
    config: RegressorConfig = RegressorConfig(),
) -> DesignMatrix:
    """The design matrix of one target from whatever regressors are at hand.

    Parameters
    ----------
    target : LightCurve or PixelSeries
        The star to model (a pixel series is summed over its aperture, and gives PLD terms).
    others : sequence of LightCurve, optional
        Other stars of the same campaign/sector; an ELC basis is built from those that are
        neither the target nor within ``exclusion_radius`` of it. Ignored when ``basis`` is given.
    basis : ElcBasis, optional
        A prebuilt basis (the batch path: built once per campaign).
    cbv : BasisTable or path, optional
        CBV-style vectors.
    pixels : sequence of PixelSeries, optional
        Other stars' stamps, for CPM predictors.
    target_pixels : PixelSeries, optional
        The target's own stamp, for PLD (default: ``target`` when it is a pixel series).
    config : RegressorConfig

    Returns
    -------
    DesignMatrix
        Shape (N, M) on the target's cadences, every column finite and of unit RMS over
        the good cadences, no constant column.
    """
    cfg = config.resolved(target.meta.mission)
    lc = target if isinstance(target, LightCurve) else target.to_lightcurve()
    # the target's good cadences are those of its light curve (for a stamp: no NaN aperture pixel)
    own = target.replace(good=lc.good) if isinstance(target, PixelSeries) else target
    stamp = own if isinstance(own, PixelSeries) else target_pixels
    groups: list[RegressorGroup] = []
    elc = _elc_group(target, others, basis, cfg)
    if elc is not None:
        groups += split_tiers(elc, cfg.elc_tiers or (), lc.flux, lc.good)
        if cfg.n_elc_motion and _has_motion(own, cfg):
            groups.append(elc_motion_products(elc, own, n_products=cfg.n_elc_motion,
                                              variables=cfg.motion_variables, flux=lc.flux))
    if pixels and cfg.n_cpm:
        groups.append(cpm_regressors(target, pixels, n_pixels=cfg.n_cpm, exclusion_pixels=cfg.cpm_exclusion_pixels,
                                     exclusion_radius=cfg.exclusion_radius, select=cfg.cpm_select))
    if stamp is not None and cfg.pld_order:
        pld = pld_regressors(stamp, order=cfg.pld_order, n_components=cfg.pld_components)
        groups += [_on_target(g, stamp, lc) for g in pld]
    groups += _motion_groups(own, stamp, lc, cfg, config)
    if cbv is not None:
        if not isinstance(cbv, BasisTable):
            from ..io import read_basis

            cbv = read_basis(cbv, time_format=lc.time_format)
        groups.append(cbv_regressors(lc, cbv))
    if cfg.spline_spacing:
        groups.append(spline_regressors(lc.time, lc.good, lc.flux, knot_spacing=cfg.spline_spacing,
                                        gap_days=cfg.gap_days))
    if cfg.settling_timescales:
        groups.append(settling_regressors(lc.time, lc.good, lc.flux, timescales=cfg.settling_timescales,
                                          gap_days=cfg.gap_days))
    design = DesignMatrix.from_groups(groups, n_cadences=lc.n_cadences)
    log.info("design for %s: %s", lc.meta.target_id or lc.meta.source,
             ", ".join(f"{n} ({s.stop - s.start})" for n, s in design.groups.items()) or "no columns")
    return design


def _on_target(group: RegressorGroup, series: LightCurve | PixelSeries, lc: LightCurve) -> RegressorGroup:
    """A group built on ``series``'s cadences, put on the target's (by cadence number, else time)
    and standardised over the target's good cadences."""
    same = series.n_cadences == lc.n_cadences and np.array_equal(series.cadenceno, lc.cadenceno)
    cols = group.columns
    if not same:
        grid, order = grid_of(series)
        if coverage(grid, lc.time, lc.good) < 0.5:
            raise DataValidationError(f"the target's pixels cover under half of its good cadences "
                                      f"(group {group.name!r})", series.meta.source)
        cols = locate(grid, lc.cadenceno, lc.time).apply(cols[order])
    return make_group(group.name, cols, group.column_names, lc.good, lc.flux, description=group.description,
                      source=lc.meta.source)


def _motion_groups(own: LightCurve | PixelSeries, stamp: PixelSeries | None, lc: LightCurve,
                   cfg: RegressorConfig, given: RegressorConfig) -> list[RegressorGroup]:
    """The motion group from the target's own data, else from its stamp (centroids of its pixels).

    ``cfg`` is the resolved config, ``given`` the user's (its ``None`` fields take
    :data:`CENTROID_MOTION_DEFAULTS` when the variables are centroids).
    """
    if not cfg.motion:
        return []
    source, cfg = _motion_source(own, stamp, cfg, given, lc.meta.mission)
    if source is None:
        return []
    group = motion_regressors(source, degree=cfg.motion_degree, n_windows=cfg.motion_windows,
                              modulation=cfg.motion_modulation, basis=cfg.motion_basis,
                              n_splines=cfg.motion_splines, variables=cfg.motion_variables, breaks=cfg.motion_breaks)
    groups = [_on_target(group, source, lc)]
    if cfg.motion_breaks:
        groups.append(step_regressors(lc.time, lc.good, lc.flux, cfg.motion_breaks))
    return groups


def _motion_source(own: LightCurve | PixelSeries, stamp: PixelSeries | None, cfg: RegressorConfig,
                   given: RegressorConfig, mission: str) -> tuple[LightCurve | PixelSeries | None, RegressorConfig]:
    """The series whose motion enters the design (own data, else the stamp) and the settings
    with the centroid overrides applied."""
    source = own if _has_motion(own, cfg) else (stamp if stamp is not None and _has_motion(stamp, cfg) else None)
    if source is not None and "arclength" not in motion_variables(source, cfg.motion_variables):
        overrides = CENTROID_MOTION_DEFAULTS.get(mission, {})
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if getattr(given, k) is None})
    return source, cfg


def motion_response(target: LightCurve | PixelSeries, config: RegressorConfig = RegressorConfig(), *,
                    target_pixels: PixelSeries | None = None) -> np.ndarray | None:
    """The target's motion terms without time modulation, on its light curve's cadences.

    Shape (N, n_terms), each column of unit RMS over the good cadences, zero at the reference
    position; None when the design has no motion terms. These are the columns whose change
    at a candidate break :func:`halfsib.breaks.find_motion_breaks` scores.
    """
    cfg = config.resolved(target.meta.mission)
    if not cfg.motion:
        return None
    lc = target if isinstance(target, LightCurve) else target.to_lightcurve()
    own = target.replace(good=lc.good) if isinstance(target, PixelSeries) else target
    stamp = own if isinstance(own, PixelSeries) else target_pixels
    source, cfg = _motion_source(own, stamp, cfg, config, lc.meta.mission)
    if source is None:
        return None
    terms = motion_response_terms(source, degree=cfg.motion_degree, basis=cfg.motion_basis,
                                  n_splines=cfg.motion_splines, variables=cfg.motion_variables)
    group = make_group("motion", terms, [f"m{j}" for j in range(terms.shape[1])], source.good,
                       source.flux if isinstance(source, LightCurve) else source.to_lightcurve().flux)
    return _on_target(group, source, lc).columns


def _elc_group(target: LightCurve | PixelSeries, others: Sequence[Any] | None, basis: ElcBasis | None,
               cfg: RegressorConfig) -> RegressorGroup | None:
    if not cfg.n_elc or (basis is None and not others):
        return None
    if basis is None:
        assert others is not None
        metas = [o.meta for o in others]
        near = _sky.neighbours_of(target.meta, [_sky.normalised_id(m) for m in metas],
                                  [_sky.normalised_source(m) for m in metas],
                                  np.array([m.ra if m.ra is not None else np.nan for m in metas], float),
                                  np.array([m.dec if m.dec is not None else np.nan for m in metas], float),
                                  cfg.exclusion_radius)
        kept = [o for o, n in zip(others, near) if not n]
        log.debug("ELCs from %d of %d other stars (%d excluded)", len(kept), len(others), int(near.sum()))
        basis = ElcBasis.build(kept, n_components=cfg.n_elc, n_folds=1, exclusion_radius=cfg.exclusion_radius,
                               weighting=cfg.elc_weighting, precompute=False)
        group = basis.for_target(target, exclusion_radius=cfg.exclusion_radius, n_components=cfg.n_elc)
        desc = (f"{group.n_columns} eigen light curves of {basis.stars.n_stars} other stars ({basis.mission} "
                f"{basis.season}); {int(near.sum())} given star(s) left out before the PCA: the target itself "
                f"(same id or file) or within {cfg.exclusion_radius:g} arcsec")
        return dataclasses.replace(group, description=desc)
    return basis.for_target(target, exclusion_radius=cfg.exclusion_radius, n_components=cfg.n_elc)


def _has_motion(target: LightCurve | PixelSeries, cfg: RegressorConfig) -> bool:
    try:
        motion_variables(target, cfg.motion_variables)
    except DataValidationError as err:
        log.info("no motion terms for %s: %s", target.meta.target_id or target.meta.source, err)
        return False
    return True
