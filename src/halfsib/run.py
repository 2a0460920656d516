"""One target from raw data to claims: detrend → search → fit → ladder → vet.

:func:`run_target` only orchestrates library calls; each stage lives in its own module
(:mod:`halfsib.model`, :mod:`halfsib.search`, :mod:`halfsib.fit`, :mod:`halfsib.ladder`,
:mod:`halfsib.vet`). The outputs and the report figure are made by :mod:`halfsib.report`.

A candidate is **claimed** when all of these hold (``docs/run.md``):

1. the joint physical fit succeeded (a limb-darkened transit was fitted with the
   nuisance model marginalised);
2. on the flexibility ladder, with that limb-darkened template, the depth S/N stays at or
   above ``claim_snr`` at the most flexible rung, and at least one less flexible rung sees
   half that depth within ``ladder_tension_sigma`` (``LadderResult.claimed``: a dip that
   only the most flexible instrument model makes is not the star's);
3. no vetting test that ran failed (``VetReport.passed``; tests that could not run, e.g.
   the pixel test without a pixel file, do not fail a candidate, and are listed);
4. no other candidate of the target has the same period at another phase
   (:func:`shared_period_notes`: a binary's primary and secondary eclipse).

A **single event** (one transit in the data; :attr:`SearchResult.single_candidates`) goes
through the same fit (single-transit mode: the period bounded by the data), ladder and
vetting (the tests that need a second transit do not run), but is never claimed as a
periodic planet: when nothing else blocks it, it is reported as a single-event candidate
(:attr:`CandidateOutcome.single_event_candidate`).

A stage that fails for a candidate (too few in-transit cadences, a numerical failure)
is recorded with its reason and the run goes on with the next stage and candidate.
"""

from __future__ import annotations

import logging
import os
import time as _time
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .exceptions import ConfigurationError, HalfsibError
from .timeseries import LightCurve, PixelSeries

__all__ = ["RunConfig", "CandidateOutcome", "TargetRun", "run_target", "transit_params_of"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: errors a stage may raise on data it cannot handle (the run records them and goes on)
STAGE_ERRORS: tuple[type[BaseException], ...] = (HalfsibError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class RunConfig:
    """Settings of :func:`run_target` (each stage's own config, plus the claim rule).

    Attributes
    ----------
    detrend : DetrendConfig or None
        The nuisance-model fit (default settings when None).
    search : SearchConfig or None
    fit : FitConfig or None
        The joint physical fit; ``FitConfig(sample=False)`` skips emcee (maximum likelihood
        and Fisher errors only).
    vet : VetConfig or None
        Vetting thresholds.
    max_candidates : int
        Candidates (strongest first) taken through fit, ladder and vetting.
    ladder_widen : float
        Prior-scale factor of the ladder's last rung.
    claim_snr : float
        Depth S/N (δ̂/σ) needed at the ladder's top rung.
    ladder_tension_sigma : float
        Largest allowed tension [sigma]: how far below half the top rung's depth the closest
        less flexible rung's is (:attr:`~halfsib.ladder.LadderResult.tension`; ``inf``: off).
    seed : int
        Seed of the fit's multi-start and sampler.
    stellar_density : float or None
        Stellar density [solar units] for the duration test (None: the vetting default).
    sample_rejected : bool
        Also sample the candidates that the ladder, the vetting or the shared-period rule
        already stopped. Default False: the claim rule reads the maximum-likelihood fit, the
        ladder and the vetting, never the posterior, so emcee (most of a run's time) runs
        only for the claims and the single-event candidates; the others keep their
        maximum-likelihood fit with Fisher errors.
    """

    detrend: Any = None
    search: Any = None
    fit: Any = None
    vet: Any = None
    max_candidates: int = 3
    ladder_widen: float = 10.0
    claim_snr: float = 7.0
    ladder_tension_sigma: float = 1.5
    seed: int = 0
    stellar_density: float | None = None
    sample_rejected: bool = False

    def __post_init__(self) -> None:
        if self.max_candidates < 0:
            raise ConfigurationError(f"RunConfig.max_candidates must be >= 0, got {self.max_candidates}")
        if not (np.isfinite(self.claim_snr) and self.claim_snr > 0):
            raise ConfigurationError(f"RunConfig.claim_snr must be a positive number, got {self.claim_snr}")
        if not (np.isfinite(self.ladder_widen) and self.ladder_widen >= 0):
            raise ConfigurationError(f"RunConfig.ladder_widen must be >= 0, got {self.ladder_widen}")
        if not self.ladder_tension_sigma > 0:
            raise ConfigurationError(f"RunConfig.ladder_tension_sigma must be > 0 (inf: off), "
                                     f"got {self.ladder_tension_sigma}")


@dataclass(frozen=True, eq=False)
class CandidateOutcome:
    """Everything the run learnt about one search candidate.

    Attributes
    ----------
    index : int
        1-based rank in the search (1 = strongest).
    candidate : Candidate
        The search's candidate.
    fit : TransitFit or None
    ladder : LadderResult or None
    vetting : VetReport or None
    errors : dict
        Stage name (``"fit"``, ``"sampling"``, ``"ladder"``, ``"vet"``) → why it did not produce a result.
    seconds : dict
        Wall time per stage [s].
    shared_period : tuple of str
        The other candidates of the target with the same period at another phase
        (:func:`shared_period_notes`): a claim blocker.
    """

    index: int
    candidate: Any
    fit: Any = None
    ladder: Any = None
    vetting: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    shared_period: tuple[str, ...] = ()

    @property
    def claimed(self) -> bool:
        """True when the fit succeeded, the ladder's top rung is significant and vetting passed
        (never for a single event)."""
        return not self.claim_blockers

    @property
    def single_event(self) -> bool:
        """Whether the candidate is a single event (one transit in the data)."""
        return bool(getattr(self.candidate, "single", False))

    @property
    def single_event_candidate(self) -> bool:
        """A single event that passes everything a claim needs but the second transit."""
        return self.single_event and self.claim_blockers == (self._single_reason(),)

    def _single_reason(self) -> str:
        bound = float(getattr(self.candidate, "period_min", 0.0))
        return (f"single event: one transit in the data, the period only bounded (> {bound:.1f} d); "
                "a single-event candidate is never claimed as a periodic planet")

    @property
    def claim_blockers(self) -> tuple[str, ...]:
        """Why the candidate is not claimed (empty when it is)."""
        reasons = [self._single_reason()] if self.single_event else []
        if self.fit is None:
            reasons.append(f"fit: {self.errors.get('fit', 'not run')}")
        if self.ladder is None:
            reasons.append(f"ladder: {self.errors.get('ladder', 'not run')}")
        elif not self.ladder.claimed and not self.ladder.significant:
            top = self.ladder.top
            snr = f"{top.snr:.1f}" if top is not None and top.snr is not None else "none"
            reasons.append(f"ladder: top-rung S/N {snr} < {self.ladder.threshold_snr:g}")
        elif not self.ladder.claimed:
            z, rung = self.ladder.tension
            reasons.append(f"ladder: every less flexible rung sees less than half the top-rung depth (closest "
                           f"'{rung}', {z:.1f} sigma > {self.ladder.tension_sigma:g}): the dip is made by the "
                           "instrument model")
        if self.vetting is None:
            reasons.append(f"vet: {self.errors.get('vet', 'not run')}")
        elif not self.vetting.passed:
            reasons.append("vet: failed " + ", ".join(self.vetting.failed))
        reasons.extend(self.shared_period)
        return tuple(reasons)


@dataclass(frozen=True, eq=False)
class TargetRun:
    """What :func:`run_target` returns.

    Attributes
    ----------
    lc : LightCurve
        The target's light curve (the aperture sum of a pixel file).
    pixels : PixelSeries or None
        The target's stamp, when it was read from a pixel file.
    detrend : DetrendResult
        The nuisance-model fit without any transit mask (the search's model).
    search : SearchResult
        Its ``nuisance_fit`` is the refit with the candidates' transits masked
        (:attr:`corrected`).
    outcomes : tuple of CandidateOutcome
        The first ``max_candidates`` candidates taken through fit, ladder and vetting.
    config : RunConfig
    inputs : tuple of str
        Files that went in (provenance).
    seconds : dict
        Wall time per stage [s] (``read``, ``detrend``, ``search``, ``candidates``, ``total``).
    design_choices : tuple of DesignChoice
        Every design the nuisance fit tried, with its held-out precision (one when a design
        was given).
    """

    lc: LightCurve
    pixels: PixelSeries | None
    detrend: Any
    search: Any
    outcomes: tuple[CandidateOutcome, ...]
    config: RunConfig
    inputs: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    design_choices: tuple[Any, ...] = ()

    @property
    def systematics_scope(self) -> dict[str, Any]:
        """What the fitted design models and what it cannot (:func:`halfsib.regressors.systematics_scope`)."""
        from .regressors import systematics_scope

        offered = [name for choice in self.design_choices for name in choice.groups]
        return systematics_scope(self.detrend.design_columns, offered)

    @property
    def pointing_breaks(self) -> tuple[float, ...]:
        """Times [d] where the chosen design restarts the motion response (``motion_breaks``;
        found by :func:`halfsib.breaks.find_motion_breaks` for K2); () when none."""
        chosen = [c for c in self.design_choices if c.chosen]
        return tuple(chosen[0].settings.get("motion_breaks", ())) if chosen else ()

    @property
    def corrected(self) -> Any:
        """The nuisance fit with the candidates' transits masked (the search's refit), else :attr:`detrend`.

        What ``lightcurve.fits`` and the report show: fitted through a transit, the GP and the
        regressors take part of it and the whole fit suffers (K2-136's corrected flux: 6.5-h
        CDPP 94.8 ppm fitted through its transits, 79.7 ppm with its three planets masked).
        """
        refit = getattr(self.search, "nuisance_fit", None)
        return refit if refit is not None else self.detrend

    @property
    def claimed(self) -> tuple[CandidateOutcome, ...]:
        """The claimed candidates."""
        return tuple(o for o in self.outcomes if o.claimed)

    def candidate_table(self) -> Any:
        """One row per search candidate: search, fit, ladder and vetting columns, ``claimed``."""
        from .report import candidate_table

        return candidate_table(self)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (target, counts, hyper-parameters, candidates, timings, versions)."""
        from .report import run_summary

        return run_summary(self)

    def write(self, outdir: PathLike, *, overwrite: bool = False, figure: bool = True) -> list[Path]:
        """Write every output into ``outdir`` (see :func:`halfsib.report.write_run`)."""
        from .report import write_run

        return write_run(self, outdir, overwrite=overwrite, figure=figure)

    def plot(self, *, fig: Any = None) -> Any:
        """The report page (see :func:`halfsib.report.report_figure`)."""
        from .report import report_figure

        return report_figure(self, fig=fig)


def transit_params_of(fit: Any) -> Any:
    """The maximum-likelihood :class:`~halfsib.transit.TransitParams` of a ``TransitFit``."""
    from .transit import TransitParams

    ml = fit.maximum_likelihood
    extra = {k: float(ml[k]) for k in ("ecc", "omega") if k in ml and np.isfinite(ml[k])}
    return TransitParams(period=float(ml["period"]), t0=float(ml["t0"]), rp_over_rs=float(ml["rp_over_rs"]),
                         a_over_rs=float(ml["a_over_rs"]), b=float(ml["b"]), q1=float(ml["q1"]),
                         q2=float(ml["q2"]), **extra)


def _stage(name: str, outcome: dict[str, Any], func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one stage for one candidate; record its time, and its error instead of raising."""
    started = _time.perf_counter()
    try:
        return func(*args, **kwargs)
    except STAGE_ERRORS as err:
        log.warning("candidate %d: %s failed: %s", outcome["index"], name, err)
        outcome["errors"][name] = f"{type(err).__name__}: {err}"
        return None
    finally:
        outcome["seconds"][name] = _time.perf_counter() - started


def _fit_stage(lc: LightCurve, design: Any, nuisance: Any, candidate: Any, index: int, cfg: RunConfig,
               rng: np.random.Generator) -> tuple[Any, dict[str, Any], np.random.Generator, Any]:
    """The maximum-likelihood fit of one candidate (no sampling).

    The fit holds the noise parameters of ``nuisance``, the search's refit with the periodic
    candidates masked. A single event is found after that refit and is not masked in it, so
    its fit holds those of a refit with its own transit masked too, warm-started from
    ``nuisance`` (``fit.masked_nuisance_fit``).

    Returns
    -------
    (fit, state, rng, own_nuisance)
        ``own_nuisance``: that single event's refit (its sampling holds it too), else None.
    """
    from .fit import fit_transit, masked_nuisance_fit

    state: dict[str, Any] = {"index": index, "errors": {}, "seconds": {}}
    own = None
    if getattr(candidate, "single", False):
        own = _stage("nuisance_refit", state, masked_nuisance_fit, lc, design, candidate, config=nuisance.config,
                     start=nuisance)
    fitted = _stage("fit", state, fit_transit, lc, design, own if own is not None else nuisance, candidate,
                    config=cfg.fit, rng=rng, sample=False)
    return fitted, state, rng, own


def _sample_stage(fitted: Any, lc: LightCurve, design: Any, nuisance: Any, index: int, cfg: RunConfig,
                  rng: np.random.Generator) -> tuple[Any, dict[str, Any]]:
    """The emcee posterior of a maximum-likelihood fit (``fit_transit`` would sample the same draws)."""
    from .fit import sample_transit

    state: dict[str, Any] = {"index": index, "errors": {}, "seconds": {}}
    sampled = _stage("sampling", state, sample_transit, fitted, lc, design, nuisance, config=fitted.config, rng=rng)
    return sampled, state


def _rung_stage(lc: LightCurve, plan: Any, mask: NDArray[np.bool_], cfg: RunConfig, nuisance: Any
                ) -> tuple[Any, float]:
    """One rung's hyper-parameter fit with every candidate masked (shared by their ladders)."""
    from .ladder import fit_rung

    started = _time.perf_counter()
    return fit_rung(lc, plan, mask, config=cfg.detrend, start=nuisance), _time.perf_counter() - started


def _check_stage(lc: LightCurve, design: Any, candidate: Any, index: int, pixels: PixelSeries | None,
                 cfg: RunConfig, template: Any, nuisance: Any, rung_fits: Any = None
                 ) -> tuple[Any, Any, dict[str, Any]]:
    """The flexibility ladder (on the shared rung fits, else fitted here, warm-started from the
    search's nuisance fit) and the vetting of one candidate, with the fitted transit as template."""
    from .ladder import flexibility_ladder
    from .vet import vet

    state: dict[str, Any] = {"index": index, "errors": {}, "seconds": {}}
    ladder = _stage("ladder", state, flexibility_ladder, lc, design, candidate, template=template,
                    config=cfg.detrend, widen=cfg.ladder_widen, threshold_snr=cfg.claim_snr,
                    tension_sigma=cfg.ladder_tension_sigma, start=nuisance, rung_fits=rung_fits)
    model = ladder.top_model if ladder is not None else None
    vetting = _stage("vet", state, vet, lc, design, candidate, pixels=pixels, config=cfg.vet,
                     detrend_config=cfg.detrend, stellar_density=cfg.stellar_density, template=template,
                     model=model)
    return ladder, vetting, state


@dataclass
class _FollowUp:
    """One candidate's follow-up as its stages finish: the inputs, then fit, sampling, ladder, vetting."""

    index: int
    candidate: Any
    lc: LightCurve
    rng: np.random.Generator
    fit: Any = None
    own_nuisance: Any = None
    ladder: Any = None
    vetting: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    shared_period: tuple[str, ...] = ()

    def merge(self, state: dict[str, Any]) -> None:
        self.errors.update(state["errors"])
        self.seconds.update(state["seconds"])

    def template(self) -> Any:
        """The fitted transit for the ladder and the vetting (None without a fit, or when its
        maximum likelihood is not a valid transit: recorded as the ``template`` error, and the
        ladder and vetting use the box)."""
        if self.fit is None:
            return None
        try:
            return transit_params_of(self.fit)
        except STAGE_ERRORS as err:
            self.errors["template"] = f"{type(err).__name__}: {err}"
            return None

    def outcome(self) -> CandidateOutcome:
        order = ["nuisance_refit", "fit", "ladder", "vet", "sampling"]
        seconds = {k: self.seconds[k] for k in order if k in self.seconds}
        return CandidateOutcome(index=self.index, candidate=self.candidate, fit=self.fit, ladder=self.ladder,
                                vetting=self.vetting, errors=self.errors, seconds=seconds,
                                shared_period=self.shared_period)

    def worth_sampling(self, cfg: RunConfig) -> bool:
        """Whether the posterior can matter: the fit succeeded and the candidate is, after the
        ladder and vetting, a claim or a single-event candidate (or ``cfg.sample_rejected``)."""
        if self.fit is None or not _sampling(cfg):
            return False
        outcome = self.outcome()
        return cfg.sample_rejected or outcome.claimed or outcome.single_event_candidate


def _sampling(cfg: RunConfig) -> bool:
    from .fit import FitConfig

    return bool((cfg.fit or FitConfig()).sample)


class _InlineExecutor(Executor):
    """Runs each submitted call at once, here (``run_target`` without an executor): the same task
    graph as on a pool, one task after the other."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # re-raised by future.result(), as a pool would
            future.set_exception(err)
        return future


#: the ladder's rungs are fitted once per target with every candidate masked, unless that masks
#: more than this fraction of the cadences (then each candidate's ladder fits its own rungs)
MAX_SHARED_MASK_FRACTION = 0.3


def shared_ladder_mask(lc: LightCurve, candidates: Sequence[Any]) -> NDArray[np.bool_] | None:
    """Every candidate's ladder mask (:data:`halfsib.vet.fitted.MASK_FACTOR` × duration / 2 around
    each transit) on ``lc``'s cadences, or None when it covers more than
    :data:`MAX_SHARED_MASK_FRACTION` of the good ones. A candidate without a valid ephemeris
    is left out (its ladder records the error, as without the shared fits)."""
    from .vet.ephemeris import Ephemeris
    from .vet.fitted import MASK_FACTOR

    mask = np.zeros(lc.n_cadences, bool)
    for cand in candidates:
        try:
            mask |= Ephemeris.of(cand).in_transit(lc.time, MASK_FACTOR)
        except HalfsibError as err:  # its own ladder fails the same way and records it
            log.info("no ladder mask for a candidate at P=%s d: %s", getattr(cand, "period", "?"), err)
    good = np.asarray(lc.good, bool)
    return mask if np.count_nonzero(mask & good) <= MAX_SHARED_MASK_FRACTION * np.count_nonzero(good) else None


def _follow_up(works: Sequence[_FollowUp], design: Any, nuisance: Any, pixels: PixelSeries | None,
               cfg: RunConfig, executor: Executor, shared_lc: LightCurve | None = None) -> Any:
    """Every candidate's stages as separate tasks: the maximum-likelihood fits and the ladder's
    rung fits (once for all candidates, on ``shared_lc`` with every candidate masked:
    :func:`shared_ladder_mask`) first; then, as each fit finishes and once the rungs are fitted,
    its ladder-and-vetting task, and after that its sampling task when the posterior can matter
    (:meth:`_FollowUp.worth_sampling`), so no worker idles while one candidate samples alone and
    no sampler runs for a candidate already rejected. Returns the shared
    :class:`~halfsib.ladder.RungFits` (None when each ladder fitted its own)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from .ladder import RungFits, plan_rungs

    by_index = {w.index: w for w in works}
    pending = {executor.submit(_fit_stage, w.lc, design, nuisance, w.candidate, w.index, cfg, w.rng):
               ("fit", w.index) for w in works}
    mask = shared_ladder_mask(shared_lc, [w.candidate for w in works]) if shared_lc is not None else None
    plans = {p.name: p for p in plan_rungs(design, widen=cfg.ladder_widen)} if mask is not None else {}
    for name, plan in plans.items():
        pending[executor.submit(_rung_stage, shared_lc, plan, mask, cfg, nuisance)] = ("rung", name)
    fits: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    rung_fits: RungFits | None = None
    waiting: list[int] = []

    def check(index: int) -> None:
        work = by_index[index]
        pending[executor.submit(_check_stage, work.lc, design, work.candidate, index, pixels, cfg,
                                work.template(), nuisance, rung_fits)] = ("check", index)

    while pending:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in done:
            kind, key = pending.pop(future)
            if kind == "rung":
                fits[key], seconds[key] = future.result()
                if len(fits) == len(plans):
                    rung_fits = RungFits(time=shared_lc.time, mask=mask, fits=fits, seconds=seconds)
                    for index in waiting:
                        check(index)
                    waiting.clear()
                continue
            index = key
            work, result = by_index[index], future.result()
            if kind == "fit":
                work.fit, state, work.rng, work.own_nuisance = result
                if len(fits) == len(plans):
                    check(index)
                else:
                    waiting.append(index)
            elif kind == "check":
                work.ladder, work.vetting, state = result
                work.merge(state)
                if work.worth_sampling(cfg):
                    own = work.own_nuisance if work.own_nuisance is not None else nuisance
                    pending[executor.submit(_sample_stage, work.fit, work.lc, design, own, index, cfg,
                                            work.rng)] = ("sampling", index)
                continue
            else:
                sampled, state = result
                work.fit = sampled if sampled is not None else work.fit
            work.merge(state)
    return rung_fits


def warm_up() -> int:
    """Import what the follow-up stages use (fit, emcee, batman, ladder, vetting); returns the pid.

    ``halfsib run --workers N`` sends this to every pool worker when the pool starts, so the
    workers import while the main process reads, detrends and searches, instead of when the
    first candidate arrives.
    """
    import emcee  # noqa: F401

    from . import fit, ladder, vet  # noqa: F401  (fit imports batman's compiled model)

    return os.getpid()


def same_period(a: Any, b: Any, baseline: float) -> bool:
    """Whether two candidates' events keep a fixed phase offset over ``baseline`` [d]: the period
    difference moves one against the other by less than the shorter duration over the baseline."""
    drift = abs(a.period - b.period) * baseline / min(a.period, b.period)
    return drift < min(a.duration, b.duration) / 24.0


def shared_period_notes(candidates: Sequence[Any], baseline: float) -> list[tuple[str, ...]]:
    """Per candidate, a claim blocker for every other candidate at the same period (:func:`same_period`).

    Each candidate is followed up with the others divided out (:func:`without_other_candidates`),
    so a binary's secondary eclipse, found as a candidate of its own, passes the secondary-eclipse
    test with the primary removed. Two eclipses at one period and different phases are one
    binary's primary and secondary (two transiting bodies do not share an orbit), so neither is
    claimed (the Kepler Robovetter's period-epoch match on one star).
    """
    notes: list[tuple[str, ...]] = []
    for i, a in enumerate(candidates):
        found = []
        for j, b in enumerate(candidates):
            if j != i and same_period(a, b, baseline):
                offset = ((b.t0 - a.t0) / a.period) % 1.0
                found.append(f"same period as candidate #{j + 1} at phase {offset:.2f}: two eclipses per orbit, "
                             "a binary's primary and secondary")
        notes.append(tuple(found))
    return notes


def without_other_candidates(lc: LightCurve, candidates: Sequence[Any], index: int) -> LightCurve:
    """The light curve with every candidate's fitted transit but the ``index``-th divided out.

    Each candidate is fitted, laddered and vetted alone: another planet's transits would
    otherwise be noise to its fit and dips at some orbital phase of its period (a failed
    secondary-eclipse scan for K2-3 c, from K2-3 b's and d's transits).
    """
    from .search.refine import candidate_dip

    others = [c for j, c in enumerate(candidates) if j != index]
    if not others:
        return lc
    cadence = float(np.nanmedian(np.diff(lc.time)))
    dip = np.sum([candidate_dip(lc.time, c, cadence) for c in others], axis=0)
    keep = 1.0 / np.clip(1.0 - dip, 1e-3, None)
    return lc.replace(flux=lc.flux * keep, flux_err=lc.flux_err * keep)


#: flux errors at the search's masked lone events are multiplied by this in the follow-ups: the
#: model then ignores those cadences (exclusion by variance inflation, as in halfsib.model)
LONE_EVENT_INFLATION = 1e5


def without_lone_events(lc: LightCurve, events: Sequence[tuple[float, float]]) -> LightCurve:
    """The light curve with the search's masked lone events excluded from the follow-ups.

    ``events``: (mid-time [d], box duration [h]) as in :attr:`SearchResult.masked_events`.
    The cadences within half the search's mask width (:func:`halfsib.search.mask_width`) of
    each get their errors multiplied by :data:`LONE_EVENT_INFLATION`, so they carry no weight
    in the fit, the ladder or the vetting: a lone event (a single transit of another body, a
    systematic) is not noise to the candidates, nor a dip at one of their orbital phases
    (K2-3 c failed ``secondary_best_phase`` on K2-3 d's transit, masked as a lone event).
    """
    from .search import mask_width

    if not events:
        return lc
    cadence = float(np.nanmedian(np.diff(lc.time)))
    near = np.zeros(lc.n_cadences, bool)
    for time, duration_h in events:
        with np.errstate(invalid="ignore"):
            near |= np.abs(lc.time - time) < 0.5 * mask_width(duration_h, cadence) / 24.0
    return lc.replace(flux_err=np.where(near, lc.flux_err * LONE_EVENT_INFLATION, lc.flux_err))


def single_event_light_curve(lc: LightCurve, found: Any, index: int) -> LightCurve:
    """The light curve the ``index``-th single event is followed up on: every periodic candidate
    divided out, and the search's other lone and single events excluded (not its own)."""
    from .search import mask_width

    cand = found.single_candidates[index]
    cadence = float(np.nanmedian(np.diff(lc.time)))
    events = list(found.masked_events) + [(c.t0, c.duration) for j, c in enumerate(found.single_candidates)
                                          if j != index]
    others = [(t, d) for t, d in events
              if abs(t - cand.t0) > 0.5 * mask_width(max(d, cand.duration), cadence) / 24.0]
    return without_other_candidates(without_lone_events(lc, others), found.candidates, -1)


def _read(target: Any, flux_column: str | None) -> tuple[LightCurve | PixelSeries, PixelSeries | None]:
    from .pipeline import load_target

    star = target if isinstance(target, (LightCurve, PixelSeries)) else load_target(target, flux_column=flux_column)
    return star, (star if isinstance(star, PixelSeries) else None)


def _inputs(target: Any, others: Sequence[Any], basis: Any, cbv: Any) -> tuple[str, ...]:
    paths = [target, *others, basis, cbv]
    return tuple(str(p) for p in paths if isinstance(p, (str, os.PathLike)))


def run_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: RunConfig | None = None,
    flux_column: str | None = None,
    show_progress: bool = False,
    executor: Executor | None = None,
) -> TargetRun:
    """Detrend, search, fit, ladder and vet one target.

    Parameters
    ----------
    target : path, halfsib series or lightkurve object
        The star; a pixel file also enables CPM/PLD regressors and the per-pixel depth test.
    others : paths or series
        Other stars of the same campaign/sector.
    basis : path or ElcBasis, optional
        A prebuilt eigen-light-curve basis.
    cbv : path or BasisTable, optional
    regressors : RegressorConfig, optional
    config : RunConfig, optional
    flux_column : str, optional
    show_progress : bool
    executor : concurrent.futures.Executor, optional
        Where the candidates' follow-ups run (``halfsib run --workers N`` passes a process
        pool): each candidate's maximum-likelihood fit is a task, its ladder-and-vetting a
        second, and its sampling a third, only where the posterior can matter
        (``RunConfig.sample_rejected``). ``None``: one after the other here.
        The results do not depend on it: each candidate has its own random stream
        (``SeedSequence(config.seed).spawn``), which its sampling continues.

    Returns
    -------
    TargetRun

    Raises
    ------
    HalfsibError
        When the target itself cannot be read, modelled or searched (candidate-level
        failures are recorded in the outcomes instead).
    """
    from ._progress import stage
    from .pipeline import fit_target
    from .search import search

    cfg = config or RunConfig()
    clock = {"start": _time.perf_counter()}
    star, pixels = _read(target, flux_column)
    clock["read"] = _time.perf_counter()
    lc, design, nuisance, choices = fit_target(star, others=others, basis=basis, cbv=cbv, regressors=regressors,
                                               config=cfg.detrend, flux_column=flux_column,
                                               show_progress=show_progress)
    clock["detrend"] = _time.perf_counter()
    with stage("searching (periodic, then single events)", enabled=show_progress):
        found = search(lc, design, nuisance, config=cfg.search)
    clock["search"] = _time.perf_counter()
    # the physical fit holds the nuisance prior variances: take them from the fit with the candidates masked
    masked = found.nuisance_fit if found.nuisance_fit is not None else nuisance
    chosen = found.candidates[:cfg.max_candidates]
    streams = np.random.SeedSequence(cfg.seed).spawn(len(chosen) + len(found.single_candidates))
    followed = without_lone_events(lc, found.masked_events)
    works = [_FollowUp(index=i + 1, candidate=cand, lc=without_other_candidates(followed, found.candidates, i),
                       rng=np.random.default_rng(streams[i])) for i, cand in enumerate(chosen)]
    first = len(found.candidates)
    works += [_FollowUp(index=first + j + 1, candidate=cand, lc=single_event_light_curve(lc, found, j),
                        rng=np.random.default_rng(streams[len(chosen) + j]))
              for j, cand in enumerate(found.single_candidates)]
    notes = shared_period_notes(found.candidates, float(np.nanmax(lc.time) - np.nanmin(lc.time)))
    for work in works:
        if work.index <= first:
            work.shared_period = notes[work.index - 1]
    rung_fits = None
    if works:
        message = (f"fit, ladder and vetting of {len(works)} candidate(s)"
                   f"{' with emcee' if _sampling(cfg) else ''}")
        with stage(message, enabled=show_progress):
            rung_fits = _follow_up(works, design, masked, pixels, cfg,
                                   executor if executor is not None else _InlineExecutor(), shared_lc=followed)
    outcomes = tuple(work.outcome() for work in works)
    clock["candidates"] = _time.perf_counter()
    seconds = _durations(clock)
    if rung_fits is not None:
        seconds["ladder_rung_fits"] = float(sum(rung_fits.seconds.values()))
    log.info("%s: %d candidates, %d claimed, %.1f s", lc.meta.target_id, len(found.candidates),
             sum(o.claimed for o in outcomes), seconds["total"])
    return TargetRun(lc=lc, pixels=pixels, detrend=nuisance, search=found, outcomes=outcomes, config=cfg,
                     inputs=_inputs(target, others, basis, cbv), seconds=seconds,
                     design_choices=tuple(choices))


def _durations(clock: dict[str, float]) -> dict[str, float]:
    order = ["start", "read", "detrend", "search", "candidates"]
    out = {name: clock[name] - clock[prev] for prev, name in zip(order, order[1:])}
    out["total"] = clock["candidates"] - clock["start"]
    return out

