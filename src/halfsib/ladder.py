"""The flexibility ladder: is a candidate still demanded by the data as the instrument model grows?

A candidate is evaluated under nuisance models of growing flexibility (``docs/ladder.md``):

====== ===================================================================
rung   regressor groups (each rung adds to the previous one)
====== ===================================================================
none   constant only (+ white noise + stellar GP)
smooth + smooth time terms (``spline``)
few    + CBVs and the first 10 eigen light curves
tens   + ELCs up to the 40th
elcs   + all ELCs (K2/Kepler default 150) and ELC × motion products
motion + the target's own motion terms
pixels + CPM pixels of other stars and the target's PLD (when pixel data exist),
       and any other group of the design: the full model
wide   the full model with every prior scale × 10 (prior variance × 100)
====== ===================================================================

Each rung refits the hyper-parameters (prior variance per group, GP, jitter) with the
candidate's in-transit cadences masked; a group's prior variance is then raised to the
largest value it had on a lower rung, so every rung's nuisance covariance contains the
previous one's (the models are nested: flexibility only grows). Then it fits the depth of the transit template — a box,
or a limb-darkened :class:`~halfsib.transit.TransitParams` profile — on all cadences with
the regression weights and the GP integrated out: δ̂ = −bᵀC⁻¹r / bᵀC⁻¹b,
σ = (bᵀC⁻¹b)^(-1/2), Δln L = ½ δ̂²/σ². The candidate is *claimed* when δ̂/σ stays at or above
``threshold_snr`` (default 7) at the top rung, and when at least one less flexible rung
sees at least half of the top rung's depth: the *tension*
min_k (f δ̂_top − δ̂_k) / √((f σ_top)² + σ_k²), f = ``TENSION_FRACTION`` = 0.5, over the
rungs with fewer columns must not exceed ``tension_sigma`` (default 1.5). A transit dims
the star whatever the instrument model (a less flexible rung's GP may absorb part of it,
measured up to 45 %, never all); a dip that every simpler model sees at less than half its
depth is made by the flexible model's regressors (e.g. motion terms at thruster firings),
not by the star. A rung whose groups are missing (no
pixels, no CBVs), or that would repeat the previous one, is skipped with the reason recorded.
"""

from __future__ import annotations

import logging
import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .design import DesignMatrix, RegressorGroup
from .exceptions import ConfigurationError, DataValidationError, NotPositiveDefiniteError
from .model import DetrendConfig, detrend
from .regressors import group_source
from .timeseries import LightCurve
from .vet.ephemeris import Ephemeris, box_template, transit_template
from .results import DetrendResult
from ._blas import blas_threads
from .vet.fitted import (OFFSET_GROUP, FittedModel, exposure_of, fit_candidate_model, fit_templates, fitted_model,
                         with_offset)

__all__ = ["flexibility_ladder", "LadderResult", "LadderRung", "plan_rungs", "RungPlan", "RungFits", "fit_rungs",
           "fit_rung", "DEFAULT_THRESHOLD_SNR",
           "DEFAULT_TENSION_SIGMA", "TENSION_FRACTION"]

log = logging.getLogger(__name__)

#: a candidate is claimed when its depth S/N at the top rung is at least this
DEFAULT_THRESHOLD_SNR = 7.0
#: ... and when at least one less flexible rung sees TENSION_FRACTION of its depth, within this many sigma
DEFAULT_TENSION_SIGMA = 1.5
#: the share of the top depth a less flexible rung must see (its GP may take part of a transit)
TENSION_FRACTION = 0.5
#: ELC counts of the "few" and "tens" rungs
FEW_ELCS, TENS_ELCS = 10, 40


@dataclass(frozen=True, eq=False)
class RungPlan:
    """One rung before it is evaluated: its design, or why it is skipped."""

    name: str
    description: str
    design: DesignMatrix | None
    skipped: str = ""
    prior_factor: float = 1.0


@dataclass(frozen=True)
class LadderRung:
    """The candidate under one nuisance model.

    Attributes
    ----------
    name, description : str
    groups : tuple of str
        Regressor groups of the rung's design (``offset`` is the constant).
    n_columns : int
        Design columns M.
    depth, depth_err : float or None
        Fitted depth and its error [ppm of the median flux] (None when skipped).
    delta_loglike : float or None
        Δln L of the depth (template vs none), weights and GP marginalised.
    snr : float or None
        δ̂ / σ (signed: negative for a brightening).
    log_likelihood : float or None
        ln L of the masked hyper-parameter fit.
    prior_factor : float
        Multiplier of the prior variances (1; the "wide" rung: 100).
    raised : tuple of str
        Groups whose fitted prior variance was raised to its largest value on a lower rung.
    seconds : float
        Wall time of the rung [s].
    skipped : str
        Empty, or why the rung was not evaluated.
    """

    name: str
    description: str
    groups: tuple[str, ...] = ()
    n_columns: int = 0
    depth: float | None = None
    depth_err: float | None = None
    delta_loglike: float | None = None
    snr: float | None = None
    log_likelihood: float | None = None
    prior_factor: float = 1.0
    raised: tuple[str, ...] = ()
    seconds: float = 0.0
    skipped: str = ""

    @property
    def evaluated(self) -> bool:
        """True when the rung has numbers."""
        return not self.skipped


@dataclass(frozen=True, eq=False)
class LadderResult:
    """The flexibility ladder of one candidate (:func:`flexibility_ladder`).

    Attributes
    ----------
    rungs : tuple of LadderRung
        In order of growing flexibility, skipped ones included.
    ephemeris : Ephemeris
    template : str
        ``"box"`` or ``"transit"`` (limb-darkened TransitParams).
    threshold_snr : float
    top_model : FittedModel or None
        The full model's fit (last rung before widening), for reuse by vetting.
    tension_sigma : float
        Largest allowed :attr:`tension` for ``claimed`` (inf: no such condition).
    """

    rungs: tuple[LadderRung, ...]
    ephemeris: Ephemeris
    template: str
    threshold_snr: float
    top_model: FittedModel | None = field(default=None, repr=False)
    tension_sigma: float = DEFAULT_TENSION_SIGMA

    @property
    def evaluated(self) -> tuple[LadderRung, ...]:
        """The rungs that have numbers."""
        return tuple(r for r in self.rungs if r.evaluated)

    @property
    def top(self) -> LadderRung | None:
        """The most flexible evaluated rung."""
        done = self.evaluated
        return done[-1] if done else None

    @property
    def significant(self) -> bool:
        """True when the top rung's S/N is at least ``threshold_snr`` (a dimming)."""
        top = self.top
        return bool(top is not None and top.snr is not None and top.snr >= self.threshold_snr)

    @property
    def tension(self) -> tuple[float, str] | None:
        """How far below half the top depth the closest less flexible rung's is: (min z [sigma], that rung).

        z_k = (f δ̂_top − δ̂_k) / √((f σ_top)² + σ_k²), f = :data:`TENSION_FRACTION`, over the
        evaluated rungs with fewer columns than the top one (signed: negative when the rung
        sees more than half the top depth); None when there is no such rung.
        """
        top = self.top
        if top is None or top.depth is None or top.depth_err is None:
            return None
        lower = [r for r in self.evaluated if r.n_columns < top.n_columns and r.depth is not None
                 and r.depth_err is not None]
        if not lower:
            return None
        f = TENSION_FRACTION
        z = [((f * top.depth - r.depth) / math.hypot(f * top.depth_err, r.depth_err), r.name) for r in lower]
        return min(z)

    @property
    def consistent(self) -> bool:
        """True unless every lower rung sees less than half the top depth by more than ``tension_sigma``."""
        tension = self.tension
        return tension is None or tension[0] <= self.tension_sigma

    @property
    def claimed(self) -> bool:
        """True when the top rung is significant (:attr:`significant`) and :attr:`consistent`."""
        return self.significant and self.consistent

    @property
    def min_snr(self) -> float | None:
        """Lowest S/N over the evaluated rungs."""
        values = [r.snr for r in self.evaluated if r.snr is not None]
        return min(values) if values else None

    def to_table(self) -> Any:
        """An astropy Table, one row per rung, with units; missing values masked (never NaN)."""
        from astropy.table import MaskedColumn, Table

        tension = self.tension
        t = Table(meta={"period": self.ephemeris.period, "t0": self.ephemeris.t0,
                        "duration_h": self.ephemeris.duration, "template": self.template,
                        "threshold_snr": self.threshold_snr, "tension_sigma": self.tension_sigma,
                        "tension": None if tension is None else tension[0],
                        "tension_rung": None if tension is None else tension[1], "claimed": self.claimed})
        t["rung"] = [r.name for r in self.rungs]
        t["description"] = [r.description for r in self.rungs]
        t["n_columns"] = [r.n_columns for r in self.rungs]
        for name, unit in (("depth", "ppm"), ("depth_err", "ppm"), ("delta_loglike", ""), ("snr", ""),
                           ("log_likelihood", ""), ("seconds", "s")):
            values = [getattr(r, name) for r in self.rungs]
            missing = [v is None for v in values]
            t[name] = MaskedColumn([0.0 if v is None else float(v) for v in values], mask=missing,
                                   unit=unit or None)
        t["prior_factor"] = [r.prior_factor for r in self.rungs]
        t["raised"] = [",".join(r.raised) for r in self.rungs]
        t["skipped"] = [r.skipped for r in self.rungs]
        return t

    def _verdict(self) -> str:
        if self.claimed:
            return "claimed"
        tension = self.tension
        if self.significant and tension is not None:
            return f"not claimed (every lower rung sees < half the depth; closest '{tension[1]}', {tension[0]:.1f}σ)"
        return "not claimed"

    def plot(self, *, ax: Any = None) -> Any:
        """Depth ± 1σ [ppm] per rung, with each rung's S/N written above it and the claim's
        consistency line (:data:`TENSION_FRACTION` of the top rung's depth); returns the Figure.

        Depths, not S/N, are drawn: the S/N jumps when flexible terms enter (larger errors),
        while what the claim rule asks is whether the less flexible rungs see the same dip.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
        else:
            fig = ax.figure
        done = [r for r in self.evaluated if r.depth is not None]
        x = np.arange(len(done))
        depth = np.array([r.depth for r in done], float)
        err = np.array([r.depth_err if r.depth_err is not None else np.nan for r in done], float)
        ax.errorbar(x, depth, yerr=err, fmt="o-", color="k", ms=4, lw=1, capsize=2)
        for xi, r, d, e in zip(x, done, depth, err):
            snr = f"S/N {r.snr:.1f}" if r.snr is not None and np.isfinite(r.snr) else ""
            ax.annotate(snr, (xi, d + (e if np.isfinite(e) else 0.0)), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=7)
        top = self.top
        if top is not None and top.depth is not None:
            ax.axhline(TENSION_FRACTION * top.depth, color="C3", ls="--", lw=0.8,
                       label=f"{TENSION_FRACTION:g} × top-rung depth")
            ax.legend(fontsize=8)
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.set_xticks(x, [f"{r.name}\n{r.n_columns}" for r in done], fontsize=8)
        ax.set(ylabel="depth [ppm]", xlabel="rung (columns)",
               title=f"flexibility ladder (S/N threshold {self.threshold_snr:g}): {self._verdict()}")
        return fig


# --------------------------------------------------------------------------- the rungs
def _groups(design: DesignMatrix, keep: Callable[[str], bool]) -> list[str]:
    return [name for name in design.group_names if keep(name)]


def _is_elc(name: str) -> bool:
    return group_source(name) == "other_stars"


def _first_columns(design: DesignMatrix, names: list[str], n: int) -> list[RegressorGroup]:
    """The first ``n`` columns of groups ``names`` (in order), each kept under its own name."""
    out, left = [], n
    for name in names:
        if left <= 0:
            break
        sl = design.groups[name]
        take = min(left, sl.stop - sl.start)
        cols = slice(sl.start, sl.start + take)
        out.append(RegressorGroup(name, design.matrix[:, cols], design.prior_scales[name], design.column_names[cols],
                                  design.descriptions.get(name, "")))
        left -= take
    return out


def _whole(design: DesignMatrix, names: list[str]) -> list[RegressorGroup]:
    return [RegressorGroup(n, design.matrix[:, design.groups[n]], design.prior_scales[n],
                           design.column_names[design.groups[n]], design.descriptions.get(n, "")) for n in names]


def plan_rungs(design: DesignMatrix, *, widen: float = 10.0) -> list[RungPlan]:
    """The ladder's rungs for a design: cumulative group selections, skipped ones with a reason.

    Parameters
    ----------
    design : DesignMatrix
        The full design (all groups the target has).
    widen : float
        Prior-scale factor of the last rung (prior variances × widen²); 0 or 1: no such rung.
    """
    n = design.matrix.shape[0]
    elc = _groups(design, _is_elc)
    n_elc = sum(design.groups[g].stop - design.groups[g].start for g in elc)
    def of(*sources: str) -> list[str]:
        return _groups(design, lambda g: group_source(g) in sources)

    smooth, cbv, elc_motion, motion = of("smooth", "settling"), of("cbv"), of("other_stars_motion"), of("own_motion")
    pixel = of("other_pixels", "own_pixels")
    base = [*smooth]
    plans = [RungPlan("none", "constant + white noise + stellar GP", DesignMatrix.from_groups([], n_cadences=n))]

    def add(name: str, description: str, groups: list[RegressorGroup], reason: str) -> None:
        if reason:
            plans.append(RungPlan(name, description, None, reason))
            return
        plans.append(RungPlan(name, description, DesignMatrix.from_groups(groups, n_cadences=n)))

    add("smooth", "+ smooth time terms", _whole(design, smooth), "" if smooth else "no smooth time-term group")
    few = _whole(design, smooth + cbv) + _first_columns(design, elc, FEW_ELCS)
    add("few", f"+ CBVs and the first {FEW_ELCS} ELCs", few, "" if (cbv or elc) else "no CBV or ELC groups")
    tens = _whole(design, smooth + cbv) + _first_columns(design, elc, TENS_ELCS)
    add("tens", f"+ ELCs up to the {TENS_ELCS}th", tens,
        "" if n_elc > FEW_ELCS else f"{n_elc} ELCs: nothing beyond the previous rung")
    all_elc = _whole(design, smooth + cbv + elc + elc_motion)
    add("elcs", f"+ all {n_elc} ELCs" + (" and ELC × motion" if elc_motion else ""), all_elc,
        "" if (n_elc > TENS_ELCS or elc_motion) else f"{n_elc} ELCs: nothing beyond the previous rung")
    base = smooth + cbv + elc + elc_motion
    add("motion", "+ the target's own motion terms", _whole(design, base + motion),
        "" if motion else "no motion terms (no centroids/arclength)")
    rest = [g for g in design.group_names if g not in base + motion]
    add("pixels", "+ CPM pixels and PLD (the full model)", _whole(design, design.group_names),
        "" if pixel else ("no pixel data (no CPM or PLD groups)" if not rest else ""))
    if widen and widen != 1.0:
        plans.append(RungPlan("wide", f"full model, prior scales × {widen:g}", None, prior_factor=float(widen) ** 2))
    return plans


# --------------------------------------------------------------------------- evaluation
def _template(model: FittedModel, ephemeris: Ephemeris, params: Any) -> np.ndarray:
    """The exposure-integrated box (or limb-darkened transit), modulated by the rung's fitted
    systematics and stellar signal (:attr:`FittedModel.modulation`)."""
    time = model.time
    if params is None:
        return model.modulate(box_template(time, ephemeris, exposure=exposure_of(time)))
    return model.modulate(transit_template(time, params, exposure_time=exposure_of(time)))


def _measure(name: str, description: str, model: FittedModel, ml: Any, template: np.ndarray,
             prior_factor: float, started: float, raised: tuple[str, ...] = ()) -> LadderRung:
    fit = fit_templates(ml, template)
    depth, err = float(fit.amplitude[0]), float(fit.error[0])
    return LadderRung(name=name, description=description, groups=model.design.group_names,
                      n_columns=model.design.n_columns, depth=1e6 * depth, depth_err=1e6 * err,
                      delta_loglike=fit.delta_loglike, snr=depth / err, log_likelihood=model.fit.log_likelihood,
                      prior_factor=prior_factor, raised=raised, seconds=_time.perf_counter() - started)


def _skip(plan: RungPlan, reason: str, design: DesignMatrix | None = None) -> LadderRung:
    d = design if design is not None else plan.design
    return LadderRung(name=plan.name, description=plan.description,
                      groups=d.group_names if d is not None else (), n_columns=d.n_columns if d is not None else 0,
                      prior_factor=plan.prior_factor, skipped=reason)


@dataclass(frozen=True, eq=False)
class RungFits:
    """Every rung's masked hyper-parameter fit, made once for a target and shared by its candidates.

    A ladder's rungs differ between candidates only by the cadences masked in their fits. With
    every candidate's transits masked at once, one fit per rung serves them all
    (:func:`flexibility_ladder` with ``rung_fits``): on K2-136 (4 candidates) the ladders then
    cost one set of rung fits instead of four.

    Attributes
    ----------
    time : ndarray
        The light curve's times [d] (all cadences) the fits were made on.
    mask : ndarray of bool
        Cadences masked in every fit (shape of ``time``).
    fits : dict
        Rung name → its :class:`~halfsib.results.DetrendResult` (design with the offset
        column), or the reason it was not fitted (skipped plan, failed fit).
    seconds : dict
        Rung name → wall time of its fit [s].
    """

    time: np.ndarray
    mask: np.ndarray
    fits: dict[str, DetrendResult | str]
    seconds: dict[str, float] = field(default_factory=dict)

    def covers(self, time: np.ndarray, mask: np.ndarray) -> bool:
        """True when these fits were made on ``time`` with at least the cadences of ``mask`` masked."""
        return (time.shape == self.time.shape and bool(np.array_equal(time, self.time, equal_nan=True))
                and not bool(np.any(mask & ~self.mask)))


def fit_rung(lc: LightCurve, plan: RungPlan, mask: np.ndarray, *, config: DetrendConfig | None = None,
             start: DetrendResult | None = None) -> DetrendResult | str:
    """One rung's hyper-parameter fit with ``mask`` masked, or why it has none.

    ``plan``: from :func:`plan_rungs`; ``start``: as in :func:`flexibility_ladder` (used by the
    rung with the full design only).
    """
    if plan.design is None:
        return plan.skipped or "nothing to fit (a widened rung)"
    design = with_offset(plan.design)
    try:
        return detrend(lc, design, config=config or DetrendConfig(), transit_mask=mask,
                       start=_rung_start(design, start))
    except (NotPositiveDefiniteError, DataValidationError) as err:
        return f"{type(err).__name__}: {err}"


def fit_rungs(lc: LightCurve, design: DesignMatrix, mask: np.ndarray, *, config: DetrendConfig | None = None,
              widen: float = 10.0, start: DetrendResult | None = None) -> RungFits:
    """:func:`fit_rung` for every rung of :func:`plan_rungs` (``halfsib run`` sends them to its
    pool as separate tasks instead)."""
    fits: dict[str, DetrendResult | str] = {}
    seconds: dict[str, float] = {}
    with blas_threads((config or DetrendConfig()).blas_threads):
        for plan in plan_rungs(design, widen=widen):
            started = _time.perf_counter()
            fits[plan.name] = fit_rung(lc, plan, mask, config=config, start=start)
            seconds[plan.name] = _time.perf_counter() - started
    return RungFits(time=lc.time.copy(), mask=np.asarray(mask, bool).copy(), fits=fits, seconds=seconds)


def flexibility_ladder(lc: LightCurve, design: DesignMatrix, candidate: Any, *,
                       template: Any = None, config: DetrendConfig | None = None, widen: float = 10.0,
                       threshold_snr: float = DEFAULT_THRESHOLD_SNR, mask_factor: float = 1.5,
                       tension_sigma: float = DEFAULT_TENSION_SIGMA, start: DetrendResult | None = None,
                       rung_fits: RungFits | None = None) -> LadderResult:
    """Evaluate a candidate's depth and Δln L under nuisance models of growing flexibility.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        The target and its full design (as for :func:`halfsib.model.detrend`).
    candidate : Candidate, TransitParams, Ephemeris or (period [d], t0 [d], duration [h])
        Where the transits are.
    template : TransitParams, optional
        A limb-darkened transit profile to fit instead of the box (its amplitude is the
        central depth).
    config : DetrendConfig, optional
        Settings of each rung's hyper-parameter fit.
    widen : float
        Prior-scale factor of the last rung ("wide"); 1 or 0: no such rung.
    threshold_snr : float
        δ̂/σ needed at the top rung for ``claimed``.
    tension_sigma : float
        Largest allowed :attr:`LadderResult.tension` for ``claimed`` (``math.inf``: off).
    mask_factor : float
        Cadences within ``mask_factor`` × duration / 2 of a transit are masked in the fits.
    start : DetrendResult, optional
        A nuisance fit of ``lc`` with ``design`` (the search's, candidates masked): the warm start
        of the rung with the full design (its fit then takes 1.6 s instead of 2.4 on K2-136).
        The other rungs start cold: warm-starting each from the rung below halved the ladder's
        time but moved their optima by −80 to +15 in ln L (the hyper-parameter surface of a
        partial design has several maxima), and the ladder compares rungs.
    rung_fits : RungFits, optional
        Each rung's fit with this and the target's other candidates masked
        (:func:`fit_rungs`): the rungs keep those hyper-parameters and only rebuild the
        likelihood on ``lc`` (no refit). Ignored (each rung fitted here) unless made on
        ``lc``'s cadences with at least this candidate's ``mask_factor`` window masked.

    Returns
    -------
    LadderResult

    Raises
    ------
    ConfigurationError
        Bad ``widen``/``threshold_snr`` or candidate.
    DataValidationError
        When no rung can be evaluated (e.g. no cadence in transit).
    """
    if not (math.isfinite(widen) and widen >= 0) or not math.isfinite(threshold_snr):
        raise ConfigurationError(f"widen={widen} must be >= 0 and threshold_snr={threshold_snr} finite")
    if not tension_sigma > 0:
        raise ConfigurationError(f"tension_sigma={tension_sigma} must be > 0 (math.inf: no tension condition)")
    ephemeris = Ephemeris.of(candidate)
    if rung_fits is not None and not rung_fits.covers(lc.time, ephemeris.in_transit(lc.time, mask_factor)):
        log.warning("%s: the shared rung fits do not mask this candidate's transits (P=%.4f d); each rung is "
                    "fitted again", lc.meta.target_id or lc.meta.source, ephemeris.period)
        rung_fits = None
    with blas_threads((config or DetrendConfig()).blas_threads):
        rungs, top = _climb(lc, design, ephemeris, template, config, widen, mask_factor, start, rung_fits)
    if not any(r.evaluated for r in rungs):
        raise DataValidationError(f"no rung of the ladder could be evaluated: {[r.skipped for r in rungs]}",
                                  lc.meta.source)
    return LadderResult(rungs=tuple(rungs), ephemeris=ephemeris, template="box" if template is None else "transit",
                        threshold_snr=float(threshold_snr), top_model=top, tension_sigma=float(tension_sigma))


def _rung_start(design: DesignMatrix, start: DetrendResult | None) -> DetrendResult | None:
    """``start`` for the rung with its groups (the full design), None (a cold start) for the others."""
    if start is not None and set(design.groups) - {OFFSET_GROUP} == set(start.prior_variances) - {OFFSET_GROUP}:
        return start
    return None


def _climb(lc: LightCurve, design: DesignMatrix, ephemeris: Ephemeris, template: Any, config: DetrendConfig | None,
           widen: float, mask_factor: float, start: DetrendResult | None = None,
           rung_fits: RungFits | None = None) -> tuple[list[LadderRung], FittedModel | None]:
    rungs: list[LadderRung] = []
    top: FittedModel | None = None
    carried: dict[str, float] = {}
    for plan in plan_rungs(design, widen=widen):
        started = _time.perf_counter()
        if plan.name == "wide":
            rungs.append(_widened(plan, top, ephemeris, template, started))
            continue
        if plan.design is None:
            rungs.append(_skip(plan, plan.skipped))
            continue
        shared = rung_fits.fits.get(plan.name, "not in the shared rung fits") if rung_fits is not None else None
        if isinstance(shared, str):
            rungs.append(_skip(plan, shared))
            continue
        try:
            model = _rung_model(lc, plan, ephemeris, config, mask_factor, start, rung_fits)
            model, raised = _carry_priors(model, carried)
            rung = _measure(plan.name, plan.description, model, model.ml, _template(model, ephemeris, template),
                            1.0, started, raised)
        except (NotPositiveDefiniteError, DataValidationError) as err:
            rungs.append(_skip(plan, f"{type(err).__name__}: {err}"))
            continue
        top = model
        carried.update(model.prior_variances)
        rungs.append(rung)
        log.info("ladder %s (%d columns): depth %.0f ± %.0f ppm, S/N %.1f", rung.name, rung.n_columns, rung.depth,
                 rung.depth_err, rung.snr)
    return rungs, top


def _rung_model(lc: LightCurve, plan: RungPlan, ephemeris: Ephemeris, config: DetrendConfig | None,
                mask_factor: float, start: DetrendResult | None, rung_fits: RungFits | None) -> FittedModel:
    """The rung's nuisance model on ``lc``: from its shared fit when there is one, else fitted here."""
    shared = rung_fits.fits.get(plan.name) if rung_fits is not None else None
    if not isinstance(shared, DetrendResult):
        return fit_candidate_model(lc, plan.design, ephemeris, config=config, mask_factor=mask_factor,
                                   start=_rung_start(plan.design, start))
    return fitted_model(lc, with_offset(plan.design), shared)


def _carry_priors(model: FittedModel, carried: dict[str, float]) -> tuple[FittedModel, tuple[str, ...]]:
    """Raise each group's prior variance to the largest it had on a lower rung (nested models)."""
    fitted = model.prior_variances
    raised = tuple(g for g, v in fitted.items() if carried.get(g, 0.0) > v)
    if not raised:
        return model, ()
    return model.with_prior({g: max(v, carried.get(g, 0.0)) for g, v in fitted.items()}), raised


def _widened(plan: RungPlan, top: FittedModel | None, ephemeris: Ephemeris, template: Any,
             started: float) -> LadderRung:
    if top is None:
        return _skip(plan, "no evaluated rung to widen")
    prior = {name: plan.prior_factor * value for name, value in top.prior_variances.items()}
    try:
        wide = top.with_prior(prior)
        return _measure(plan.name, plan.description, wide, wide.ml, _template(top, ephemeris, template),
                        plan.prior_factor, started)
    except (NotPositiveDefiniteError, DataValidationError) as err:
        return _skip(plan, f"{type(err).__name__}: {err}", top.design)
