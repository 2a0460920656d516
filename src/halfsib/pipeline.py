"""Composition of the stages for one target (used by the CLI and, later, by batch).

io → regressors → model; no argument parsing, no printing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .breaks import SHARED_FRACTION
from .exceptions import ConfigurationError, DataValidationError, HalfsibError
from .model import DetrendConfig, detrend
from .results import DetrendResult
from .timeseries import LightCurve, PixelSeries, same_photometry

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

__all__ = ["load_target", "load_others", "prepare_target", "fit_target", "choose_design", "DesignChoice", "detrend_target",
           "mask_found_transits", "search_target", "find_campaign_breaks", "CampaignBreaks", "CAMPAIGN_BREAK_STARS"]


def load_target(source: PathLike | Any, *, flux_column: str | None = None,
                flux_err_column: str | None = "auto") -> LightCurve | PixelSeries:
    """Read the target (a path or a lightkurve object) with :func:`halfsib.io.read`."""
    from .io import read

    if not isinstance(source, (str, os.PathLike)):
        return read(source, flux_column=flux_column)
    return read(source, flux_column=flux_column, flux_err_column=flux_err_column)


def _same_star(a: LightCurve | PixelSeries, b: LightCurve | PixelSeries) -> bool:
    if a.meta.source and b.meta.source and Path(a.meta.source).resolve() == Path(b.meta.source).resolve():
        return True
    return bool(a.meta.target_id) and a.meta.target_id == b.meta.target_id


def load_others(paths: Sequence[PathLike], target: LightCurve | PixelSeries, *, flux_column: str | None = None,
                show_progress: bool = False) -> tuple[list[LightCurve], list[PixelSeries], list[Any]]:
    """Read the regressor stars: light curves (for ELCs) and pixel files (for CPM).

    Unreadable files are skipped and returned as failures; the target itself (same file or
    same id) is dropped. A pixel file contributes its pixels to CPM and its aperture sum to
    the ELCs.
    """
    from .io import read_many

    series, failures = read_many(list(paths), on_error="skip", show_progress=show_progress,
                                 flux_column=flux_column)
    curves, stamps = _split(series, target)
    return curves, stamps, failures


def _split(series: Sequence[LightCurve | PixelSeries], target: LightCurve | PixelSeries
           ) -> tuple[list[LightCurve], list[PixelSeries]]:
    """Drop the target; light curves for ELCs, stamps for CPM (and their aperture sums for ELCs).

    The target is recognised by its file or catalogue id and, for inputs that carry neither
    (a table), by its data: a regressor with the target's own photometry would predict the
    target perfectly, its transits included.
    """
    curves: list[LightCurve] = []
    stamps: list[PixelSeries] = []
    target_lc = target.to_lightcurve() if isinstance(target, PixelSeries) else target
    for s in series:
        if _same_star(s, target) or not _same_season(s, target):
            continue
        lc = s.to_lightcurve() if isinstance(s, PixelSeries) else s
        if same_photometry(lc, target_lc):
            log.warning("%s among the other stars holds the target's own photometry (%s): dropped from the "
                        "regressors", s.meta.source or s.meta.target_id, target.meta.source or target.meta.target_id)
            continue
        if isinstance(s, PixelSeries):
            stamps.append(s)
        curves.append(lc)
    return curves, stamps


def _same_season(other: LightCurve | PixelSeries, target: LightCurve | PixelSeries) -> bool:
    """False (with a warning naming the file) for another star in a different time system,
    mission or season than the target's: it cannot share the target's instrument state."""
    ours, theirs = target.meta, other.meta
    reason = ""
    if "unknown" not in (other.time_format, target.time_format) and other.time_format != target.time_format:
        reason = f"its times are {other.time_format}, the target's {target.time_format}"
    elif "unknown" not in (ours.mission, theirs.mission) and ours.mission != theirs.mission:
        reason = f"it is a {theirs.mission} star, the target a {ours.mission} one"
    elif "?" not in (ours.season, theirs.season) and ours.season != theirs.season:
        reason = f"it is from {theirs.mission} {theirs.season}, the target from {ours.mission} {ours.season}"
    if reason:
        log.warning("%s among the other stars: %s; left out of the regressors (remove it from --others)",
                    theirs.source or theirs.target_id, reason)
    return not reason


#: which :class:`~halfsib.model.HeldoutPrecision` statistic chooses the design: ``"cdpp"`` (the
#: 6.5-h CDPP of the flux corrected by held-out systematics) or ``"scatter"`` (held-out residual
#: scatter, stellar GP included); measured in docs/detrend.md
SELECTION_STATISTIC = "cdpp"
#: a design is kept only if no design with fewer columns predicts held-out 6.5-h blocks within
#: this fraction of it: a regressor source must earn its place by more than the noise of the test
SELECTION_TOLERANCE = 0.02


@dataclass(frozen=True)
class DesignChoice:
    """One candidate design tried by :func:`fit_target`, and how well it predicted held-out data.

    Attributes
    ----------
    settings : dict
        The :class:`~halfsib.regressors.RegressorConfig` settings over the mission defaults.
    groups : dict of str to int
        Its regressor groups and their columns.
    heldout_ppm : float
        Its selection statistic [ppm] (:data:`SELECTION_STATISTIC` of
        :func:`halfsib.model.heldout_precision`); inf when it could not be fitted.
    heldout : HeldoutPrecision or None
        Both held-out statistics (None when not fitted or not scored).
    log_likelihood : float
        The fit's marginal ln L (NaN when it could not be fitted).
    chosen : bool
    breaks_from : str
        Where the ``motion_breaks`` in ``settings`` came from: ``"searched"`` (this target's
        own search), ``"basis"`` (the campaign's, carried by the ELC basis), ``"given"``
        (``pointing_breaks=`` or the config itself); ``""`` when there are none.
    gp_held : bool
        The fit kept for this design holds the smallest design's stellar GP (its prior
        variances fitted alone); False when its own GP was fitted.
    """

    settings: dict[str, Any]
    groups: dict[str, int]
    heldout_ppm: float
    log_likelihood: float
    chosen: bool = False
    heldout: Any = None
    breaks_from: str = ""
    gp_held: bool = False


def choose_design(heldout_ppm: Sequence[float], n_columns: Sequence[int],
                  tolerance: float = SELECTION_TOLERANCE) -> int:
    """Index of the design to keep: the fewest columns among those whose held-out statistic is
    within ``tolerance`` (a fraction) of the lowest; the first such on ties. A NaN score (a
    single candidate, not scored) counts as the lowest; when none could be scored (inf) the
    fewest columns win."""
    scores = np.nan_to_num(np.asarray(heldout_ppm, float), nan=0.0, posinf=np.inf)
    lowest = scores.min()
    near = np.flatnonzero(scores <= (1 + tolerance) * lowest) if np.isfinite(lowest) else np.arange(scores.size)
    return int(min(near, key=lambda i: (n_columns[i], i)))


def _iterable(obj: Any) -> bool:
    try:
        iter(obj)
    except TypeError:
        return False
    return True


def _others_in_hand(others: Any, flux_column: str | None) -> tuple[list[LightCurve | PixelSeries], list[Any]]:
    """Split ``others`` into series (halfsib's, or lightkurve objects and collections, read
    here) and paths (read by :func:`load_others`). One path or one lightkurve collection
    may be given instead of a list."""
    from .io import read

    one = isinstance(others, (str, os.PathLike, LightCurve, PixelSeries)) or (
        hasattr(others, "time") and hasattr(others, "flux")) or not _iterable(others)
    if one:
        others = [others]
    series: list[LightCurve | PixelSeries] = []
    paths: list[Any] = []
    for item in others:
        if isinstance(item, (LightCurve, PixelSeries)):
            series.append(item)
        elif isinstance(item, (str, os.PathLike)):
            paths.append(item)
        elif hasattr(item, "time") and hasattr(item, "flux"):  # a lightkurve LightCurve / TargetPixelFile
            series.append(read(item, flux_column=flux_column))
        elif _iterable(item):  # a LightCurveCollection or another nested list
            inner_series, inner_paths = _others_in_hand(list(item), flux_column)
            series += inner_series
            paths += inner_paths
        else:
            raise ConfigurationError(f"others: cannot use a {type(item).__name__}; give paths, halfsib series, "
                                     "lightkurve light curves or pixel files, or a LightCurveCollection")
    return series, paths


def _read_inputs(target: Any, others: Any, basis: Any, cbv: Any, flux_column: str | None, show_progress: bool
                 ) -> tuple[LightCurve | PixelSeries, list[LightCurve], list[PixelSeries], Any, Any]:
    from .io import read_basis
    from .regressors import ElcBasis

    star = target if isinstance(target, (LightCurve, PixelSeries)) else load_target(target, flux_column=flux_column)
    curves: list[LightCurve] = []
    stamps: list[PixelSeries] = []
    if others:
        series, paths = _others_in_hand(others, flux_column)
        curves, stamps = _split(series, star)
        if paths:
            more_curves, more_stamps, failures = load_others(paths, star, flux_column=flux_column,
                                                             show_progress=show_progress)
            curves, stamps = curves + more_curves, stamps + more_stamps
            for failure in failures:
                log.warning("regressor star skipped: %s", failure.error)
    if isinstance(basis, (str, os.PathLike)):
        basis = ElcBasis.load(basis)
    if isinstance(cbv, (str, os.PathLike)):
        cbv = read_basis(cbv, time_format=star.time_format)
    if not curves and basis is None and cbv is None and not isinstance(star, PixelSeries):
        log.warning("%s: no other stars, basis or CBVs given: only the target's own motion and smooth "
                    "terms model the systematics", star.meta.source)
    return star, curves, stamps, basis, cbv


def _candidate_settings(star: LightCurve | PixelSeries, has_elcs: bool) -> list[dict[str, Any]]:
    from .regressors import DESIGN_CANDIDATES

    variants = DESIGN_CANDIDATES.get(star.meta.mission, DESIGN_CANDIDATES["unknown"])
    chosen: list[dict[str, Any]] = []
    has_pixels = isinstance(star, PixelSeries)
    for v in variants:
        settings = {k: val for k, val in v.items() if (has_elcs or k != "n_elc") and (has_pixels or k != "pld_order")}
        if settings not in chosen:
            chosen.append(settings)
    return chosen


def fit_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: DetrendConfig | None = None,
    flux_column: str | None = None,
    show_progress: bool = False,
    transit_mask: NDArray[np.bool_] | None = None,
    pointing_breaks: Sequence[float] | None = None,
) -> tuple[LightCurve, Any, DetrendResult, tuple[DesignChoice, ...]]:
    """Read the target and its regressor stars, choose its design and fit the nuisance model.

    With ``regressors=None`` (the default) every design of
    :data:`halfsib.regressors.DESIGN_CANDIDATES` for the target's mission is built and fitted
    by maximum marginal likelihood, and the one that best predicts held-out 6.5-h blocks
    (:func:`halfsib.model.heldout_scatter`) is kept — the one with the fewest columns among
    those within :data:`SELECTION_TOLERANCE` of the best: a regressor source enters a
    target's model only where it makes the model predict unseen data at transit time
    scales better.
    The marginal likelihood alone would not do: it rewards whatever explains the data at all
    time scales, and on real K2 stars it takes the other stars' light for slow trends at the
    cost of the 6.5-h precision (``docs/detrend.md``). So the design with the fewest
    columns (the target's own terms) is fitted in full, GP and prior variances, and each
    larger one adds its columns with that fit's stellar GP and jitter held, fitting only its
    prior variances (``hold_gp``; the result's ``gp_held``): the GP describes the star as
    seen through the target's own instrument terms, and the other stars' light cannot pull
    it into slow trends. It is also a few likelihood builds instead of tens. When a larger
    design wins, it is fitted in full as well, and that fit replaces the held one only if it
    predicts the held-out blocks better (by more than :data:`SELECTION_TOLERANCE`: the
    smallest design's GP had taken a systematic that only the added columns describe). With
    a ``RegressorConfig`` given, that design is fitted as is (GP included).

    Pointing breaks: where the config asks for them (``find_breaks``, the K2 default) and
    names none itself, :func:`halfsib.breaks.find_motion_breaks` searches the fit of the
    design with the fewest columns; when it finds breaks, that design is refitted with its
    motion response restarted there (``motion_breaks``, warm start) and every other
    candidate is built with the same breaks. The breaks are in each choice's ``settings``.
    A campaign's breaks, found once (:func:`find_campaign_breaks`) and given as
    ``pointing_breaks`` or carried by ``basis`` (``ElcBasis.pointing_breaks``, written by
    ``halfsib basis`` and ``halfsib batch``), replace the per-target search: every candidate
    whose config names no breaks itself gets them, and nothing is searched (``()``: none). A
    ``regressors`` config with ``find_breaks=False`` takes no breaks from the basis.

    ``transit_mask`` (one flag per cadence of the target's light curve, True for cadences
    to keep out of the fit: known transits) applies to every candidate's fit and to the
    held-out statistic that chooses between them.

    Returns
    -------
    lc : LightCurve
        The target's light curve (the aperture sum for a pixel file).
    design : DesignMatrix
        The chosen design.
    fit : DetrendResult
        Its fit (with ``transit_mask``, when given).
    choices : tuple of DesignChoice
        Every design tried, with its held-out scatter (one entry, not scored, when
        ``regressors`` was given).
    """
    from .model import heldout_precision
    from .regressors import RegressorConfig, build_design

    star, curves, stamps, basis, cbv = _read_inputs(target, others, basis, cbv, flux_column, show_progress)
    lc = star if isinstance(star, LightCurve) else star.to_lightcurve()
    given = pointing_breaks if pointing_breaks is not None else getattr(basis, "pointing_breaks", None)
    if pointing_breaks is None and regressors is not None and not regressors.searches_breaks(star.meta.mission):
        given = None  # a config that switches the break search off (or names its own) takes none from the basis
    given = None if given is None else tuple(float(b) for b in given)
    origin = "searched" if given is None else ("given" if pointing_breaks is not None else "basis")

    def build(cfg: RegressorConfig) -> Any:
        return build_design(star, others=curves or None, basis=basis, cbv=cbv, pixels=stamps or None, config=cfg)

    def with_breaks(cfg: RegressorConfig, design: Any, fit: DetrendResult
                    ) -> tuple[tuple[float, ...], Any, DetrendResult]:
        """The breaks found from ``fit``, and the design refitted with them (warm start)."""
        found = _pointing_breaks(star, lc, design, fit, cfg)
        if not found:
            return found, design, fit
        design = build(dataclasses.replace(cfg, motion_breaks=found))
        return found, design, detrend(lc, design, config=config, transit_mask=transit_mask, start=fit)

    if regressors is not None:
        if regressors.motion_breaks:  # the config's own breaks win
            origin = "given"
        elif given is not None:
            regressors = dataclasses.replace(regressors, motion_breaks=given)
        design = build(regressors)
        fit = detrend(lc, design, config=config, transit_mask=transit_mask)
        if given is None:
            breaks, design, fit = with_breaks(regressors, design, fit)
        else:
            breaks = regressors.motion_breaks if "motion" in design.groups else ()
        only = DesignChoice(settings={"motion_breaks": breaks} if breaks else {}, groups=_columns(design),
                            heldout_ppm=float("nan"), log_likelihood=fit.log_likelihood, chosen=True,
                            breaks_from=origin if breaks else "")
        return lc, design, fit, (only,)
    errors: list[HalfsibError] = []
    variants = _candidate_settings(star, bool(curves) or basis is not None)
    from ._progress import progress

    built: list[tuple[dict[str, Any], Any]] = []
    for settings in variants:
        if given and not settings.get("motion_breaks"):  # the campaign's breaks: built with them at once
            settings = {**settings, "motion_breaks": given}
        design = build(RegressorConfig(**settings))
        if not any(_columns(d) == _columns(design) and np.array_equal(d.matrix, design.matrix) for _, d in built):
            built.append((settings, design))  # skipped: e.g. two motion settings for a target without motion
    # the pointing breaks are found once, from the smallest design (the instrument's breaks do not
    # depend on the design; other stars' light can take part of their signal), and given to all
    order = sorted(range(len(built)), key=lambda i: built[i][1].n_columns)
    results: dict[int, tuple[DesignChoice, Any, DetrendResult | None]] = {}
    breaks: tuple[float, ...] | None = given  # None: searched on the first (smallest) design
    smallest: DetrendResult | None = None  # the first design's fit: its GP is held for the others
    for i in progress(order, enabled=show_progress and len(built) > 1, total=len(built),
                      desc="nuisance model: fitting and scoring the candidate designs", unit="design"):
        settings, design = built[i]
        if breaks and not settings.get("motion_breaks"):
            settings = {**settings, "motion_breaks": breaks}
            design = build(RegressorConfig(**settings))
        try:  # the larger designs keep the smallest one's stellar GP and fit their prior variances
            # (docs/detrend.md, *Choosing the design per target*)
            fit = detrend(lc, design, config=config, transit_mask=transit_mask, start=smallest,
                          hold_gp=smallest is not None)
            if breaks is None:  # the first (smallest) design: search, and refit it with its breaks
                breaks, design, fit = with_breaks(RegressorConfig(**settings), design, fit)
                if breaks:
                    settings = {**settings, "motion_breaks": breaks}
            if smallest is None:
                smallest = fit
        except HalfsibError as err:
            if len(built) == 1:
                raise
            errors.append(err)
            log.info("%s: design %s not usable (%s)", star.meta.target_id or star.meta.source, settings, err)
            results[i] = (DesignChoice(settings, _columns(design), math.inf, math.nan), design, None)
            continue
        precision, score = None, math.nan
        if len(built) > 1:
            try:
                precision = heldout_precision(lc, design, fit)
                score = getattr(precision, SELECTION_STATISTIC)
            except HalfsibError as err:  # e.g. under 10 blocks of 6.5 h: not scored
                log.info("%s: design %s not scored (%s)", star.meta.target_id or star.meta.source, settings, err)
                score = math.inf
        results[i] = (DesignChoice(settings, _columns(design), score, fit.log_likelihood, heldout=precision,
                                   breaks_from=origin if settings.get("motion_breaks") else "", gp_held=fit.gp_held),
                      design, fit)
    tried = [results[i] for i in range(len(built))]
    usable = [i for i, (_, _, fit) in enumerate(tried) if fit is not None]
    if len(usable) > 1 and not all(math.isfinite(tried[i][0].heldout_ppm) for i in usable):
        # a light curve too short for the CDPP's 2-d flattening: the held-out scatter decides
        tried = [(dataclasses.replace(c, heldout_ppm=c.heldout.scatter) if c.heldout is not None else c, d, f)
                 for c, d, f in tried]
    if not usable:
        raise errors[0]
    best = usable[choose_design([tried[i][0].heldout_ppm for i in usable], [tried[i][1].n_columns for i in usable])]
    if tried[best][2] is not None and tried[best][2].gp_held:
        tried[best] = _with_own_gp(lc, tried[best], config, transit_mask)
    choices = tuple(dataclasses.replace(c, chosen=i == best) for i, (c, _, _) in enumerate(tried))
    for c in choices:
        score = (f"held-out {SELECTION_STATISTIC} {c.heldout_ppm:.1f} ppm" if len(tried) > 1
                 else "the only candidate (not scored)")
        log.info("%s: design %s %s, ln L %.1f%s", star.meta.target_id or star.meta.source,
                 c.settings or "mission defaults", score, c.log_likelihood, "  <- chosen" if c.chosen else "")
    _, design, fit = tried[best]
    assert fit is not None
    return lc, design, fit, choices


def _with_own_gp(lc: LightCurve, candidate: tuple[DesignChoice, Any, DetrendResult | None],
                 config: DetrendConfig | None, transit_mask: NDArray[np.bool_] | None
                 ) -> tuple[DesignChoice, Any, DetrendResult | None]:
    """A chosen candidate scored with the smallest design's GP held, against its own full fit
    (cold start, GP and prior variances): the full fit is kept when it predicts the held-out
    blocks better by more than :data:`SELECTION_TOLERANCE` (the smallest design's GP had taken
    a systematic that only the added columns describe), else the held fit."""
    from .model import heldout_precision

    choice, design, _ = candidate
    try:
        fit = detrend(lc, design, config=config, transit_mask=transit_mask)
        precision = heldout_precision(lc, design, fit)
    except HalfsibError as err:
        log.info("%s: the full fit of %s not usable (%s); the held fit kept", lc.meta.target_id, choice.settings, err)
        return candidate
    score = getattr(precision, SELECTION_STATISTIC)
    if not score < choice.heldout_ppm / (1 + SELECTION_TOLERANCE):
        return candidate
    log.info("%s: design %s with its own GP: held-out %s %.1f ppm against %.1f with the GP held", lc.meta.target_id,
             choice.settings or "mission defaults", SELECTION_STATISTIC, score, choice.heldout_ppm)
    return dataclasses.replace(choice, heldout_ppm=score, log_likelihood=fit.log_likelihood, heldout=precision,
                               gp_held=False), design, fit


def _pointing_breaks(star: LightCurve | PixelSeries, lc: LightCurve, design: Any, fit: DetrendResult,
                     regressors: Any) -> tuple[float, ...]:
    """The pointing breaks :func:`halfsib.breaks.find_motion_breaks` finds from ``fit``, when the
    config asks for them (``find_breaks``, the K2 default) and gives none itself; () otherwise."""
    from .breaks import find_motion_breaks
    from .regressors import motion_response

    if not regressors.searches_breaks(star.meta.mission) or "motion" not in design.groups:
        return ()
    terms = motion_response(star, regressors)
    if terms is None:
        return ()
    try:
        return find_motion_breaks(lc, design, fit, terms).times
    except HalfsibError as err:  # a model that cannot be rebuilt: no breaks rather than no fit
        log.warning("%s: no pointing-break search (%s)", star.meta.target_id or star.meta.source, err)
        return ()


#: stars whose own break searches vote for a campaign's pointing breaks (:func:`find_campaign_breaks`)
CAMPAIGN_BREAK_STARS = 12


@dataclass(frozen=True)
class CampaignBreaks:
    """A campaign's pointing breaks, voted by the break searches of a sample of its stars.

    Attributes
    ----------
    times : tuple of float
        The shared breaks [d] (:func:`halfsib.breaks.shared_breaks`), in time order.
    searches : tuple of BreakSearch
        Each searched star's own breaks.
    stars : tuple of str
        The searched stars (target id or file), in the order of ``searches``.
    skipped : tuple of str
        Sampled stars that could not be searched, with the reason.
    """

    times: tuple[float, ...]
    searches: tuple[Any, ...]
    stars: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def _star_breaks(source: Any, flux_column: str | None = None) -> tuple[str, Any]:
    """(name, BreakSearch) of one star with its own motion only, or (name, reason) when it
    cannot be searched (module level: a process pool's ``map`` takes it)."""
    from .breaks import find_motion_breaks
    from .regressors import RegressorConfig, build_design, motion_response

    name = str(source)
    try:
        star = source if isinstance(source, (LightCurve, PixelSeries)) else load_target(source, flux_column=flux_column)
        name = star.meta.target_id or star.meta.source or name
        cfg = RegressorConfig(n_elc=0, find_breaks=True)
        terms = motion_response(star, cfg)
        if terms is None:
            return name, "no motion terms (no centroids or pixels)"
        lc = star if isinstance(star, LightCurve) else star.to_lightcurve()
        design = build_design(star, config=cfg)
        return name, find_motion_breaks(lc, design, detrend(lc, design), terms)
    except (HalfsibError, OSError, ValueError, np.linalg.LinAlgError) as err:  # one bad star never stops the vote
        return name, f"{type(err).__name__}: {err}"


def find_campaign_breaks(stars: Sequence[PathLike | LightCurve | PixelSeries], *,
                         n_stars: int = CAMPAIGN_BREAK_STARS, min_fraction: float = SHARED_FRACTION,
                         flux_column: str | None = None, mapper: Any = map) -> CampaignBreaks:
    """The pointing breaks of a campaign, found once for all its stars.

    ``n_stars`` stars evenly spaced through ``stars`` (as given) are each fitted with their
    own motion terms and searched for breaks (:func:`halfsib.breaks.find_motion_breaks`); the
    breaks found on at least ``min_fraction`` of them are the campaign's
    (:func:`halfsib.breaks.shared_breaks`). Given to :func:`fit_target` (``pointing_breaks=``,
    or carried by the ELC basis) they replace each target's own search: on 17 C13 stars the
    CDPP was the same star by star (median ratio 1.000) and ``fit_target`` a third cheaper
    (``docs/detrend.md``, *Pointing breaks*).

    Parameters
    ----------
    stars : sequence of paths or series
        The campaign's stars (one season; series need their centroids or pixels: read them
        with their extra columns).
    n_stars : int
        Stars searched (all when fewer are given).
    min_fraction : float
        In (0, 1] (:data:`halfsib.breaks.SHARED_FRACTION`).
    flux_column : str, optional
        Flux column when reading paths.
    mapper : callable
        ``map``-like, e.g. a process pool's ``map`` (one star per call).

    Raises
    ------
    ConfigurationError
        ``n_stars`` < 1.
    DataValidationError
        No sampled star could be searched.
    """
    from .breaks import BreakSearch, shared_breaks

    if n_stars < 1:
        raise ConfigurationError(f"n_stars must be >= 1, got {n_stars!r}")
    items = list(stars)
    picks = sorted(set(np.linspace(0, len(items) - 1, min(n_stars, len(items))).round().astype(int).tolist()))
    sample = [items[i] for i in picks]
    outcomes = list(mapper(_star_breaks, sample, [flux_column] * len(sample)))
    searched = [(name, out) for name, out in outcomes if isinstance(out, BreakSearch)]
    skipped = tuple(f"{name}: {out}" for name, out in outcomes if not isinstance(out, BreakSearch))
    if not searched:
        raise DataValidationError(f"no star could be searched for pointing breaks ({len(sample)} tried): "
                                  + "; ".join(skipped[:3]))
    times = shared_breaks([out for _, out in searched], min_fraction=min_fraction)
    log.info("campaign pointing breaks from %d stars: %s", len(searched),
             ", ".join(f"{t:.3f}" for t in times) or "none")
    return CampaignBreaks(times=times, searches=tuple(out for _, out in searched),
                          stars=tuple(name for name, _ in searched), skipped=skipped)


def prepare_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    flux_column: str | None = None,
    show_progress: bool = False,
    config: DetrendConfig | None = None,
) -> tuple[LightCurve, Any]:
    """Read the target and the regressor stars and build its design matrix.

    Returns the target's light curve (the aperture sum for a pixel file) and its
    :class:`~halfsib.design.DesignMatrix`; with ``regressors=None`` the design is the one
    :func:`fit_target` chooses (which fits each candidate: use :func:`fit_target` to keep
    that fit). Arguments as in :func:`detrend_target`.
    """
    if regressors is None:
        lc, design, _, _ = fit_target(target, others=others, basis=basis, cbv=cbv, config=config,
                                      flux_column=flux_column, show_progress=show_progress)
        return lc, design
    from .regressors import build_design

    star, curves, stamps, basis, cbv = _read_inputs(target, others, basis, cbv, flux_column, show_progress)
    design = build_design(star, others=curves or None, basis=basis, cbv=cbv, pixels=stamps or None,
                          config=regressors)
    return (star if isinstance(star, LightCurve) else star.to_lightcurve()), design


def _columns(design: Any) -> dict[str, int]:
    return {name: sl.stop - sl.start for name, sl in design.groups.items()}


def mask_found_transits(lc: LightCurve, design: Any, fit: DetrendResult, *, config: Any = None
                        ) -> tuple[DetrendResult, tuple[Any, ...]]:
    """The nuisance model refitted with the transits that the joint search finds kept out.

    A fit that does not know a transit bends into it (its stellar GP follows part of the dip
    and the cadences beside it are clipped), so the corrected flux loses part of the depth.
    This runs :func:`halfsib.search.search` on ``fit`` (periodic candidates; each found
    candidate's transit windows are masked and the model refitted, warm-started) and returns
    the last refit: at the masked cadences the systematics are predicted from the rest of the
    light curve, as for a known planet's ``transit_mask``. On 26 K2 C13 stars with an
    injected 2,700-ppm transit the search found it on the quiet ones and the depth kept in
    the corrected flux went from a median 0.93 to 1.02 (``docs/detrend.md``).

    Parameters
    ----------
    lc, design, fit
        The target's light curve, its design and the unmasked fit (as :func:`fit_target`
        returns them).
    config : SearchConfig, optional
        The search's settings (default: :class:`halfsib.search.SearchConfig`).

    Returns
    -------
    fit : DetrendResult
        The refit with the candidates' transits masked (``fit.masked``), or ``fit`` itself
        when nothing was found.
    candidates : tuple of Candidate
        What was found and masked.
    """
    from .search import search

    result = search(lc, design, fit, config=config)
    return result.nuisance_fit, tuple(result.candidates)


def detrend_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: DetrendConfig | None = None,
    transit_mask: NDArray[np.bool_] | None = None,
    flux_column: str | None = None,
    show_progress: bool = False,
    find_transits: bool = False,
) -> DetrendResult:
    """Read, build the design matrix and fit the systematics model of one target.

    Parameters
    ----------
    target : path, halfsib series or lightkurve object
    others : paths or series
        Other stars of the same campaign/sector (light curves and/or pixel files).
    basis : path or ElcBasis, optional
        A prebuilt eigen-light-curve basis (``halfsib basis``); replaces ELCs from ``others``.
    cbv : path or BasisTable, optional
        CBV-style vectors.
    regressors : RegressorConfig, optional
    config : DetrendConfig, optional
    transit_mask : bool array over the target's cadences, optional
        Cadences kept out of the fit (predicted from the others).
    flux_column : str, optional
        Flux column of the target and the others (default: the raw flux).
    find_transits : bool
        Without ``transit_mask``: search the fitted model for transits and refit with the ones
        found masked (:func:`mask_found_transits`; ``halfsib detrend`` does this by default),
        so that they keep their depth in the corrected flux.
    """
    lc, design, fit, _ = fit_target(target, others=others, basis=basis, cbv=cbv, regressors=regressors,
                                    config=config, flux_column=flux_column, show_progress=show_progress)
    if transit_mask is None:
        return mask_found_transits(lc, design, fit)[0] if find_transits else fit
    if np.asarray(transit_mask).shape != (lc.n_cadences,):
        raise DataValidationError(f"transit_mask has shape {np.shape(transit_mask)}; the target has "
                                  f"{lc.n_cadences} cadences", lc.meta.source)
    return detrend(lc, design, config=config, transit_mask=transit_mask)


def search_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: DetrendConfig | None = None,
    search_config: Any = None,
    flux_column: str | None = None,
    show_progress: bool = False,
) -> tuple[DetrendResult, Any]:
    """Fit the nuisance model (no transit mask) and run the joint transit search on it.

    Returns the :class:`DetrendResult` and the :class:`~halfsib.search.SearchResult`.
    """
    from .search import search

    lc, design, fit, _ = fit_target(target, others=others, basis=basis, cbv=cbv, regressors=regressors,
                                    config=config, flux_column=flux_column, show_progress=show_progress)
    from ._progress import stage

    with stage("searching (periodic, then single events)", enabled=show_progress):
        return fit, search(lc, design, fit, config=search_config)
