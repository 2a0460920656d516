"""Settings and result objects of the transit search (frozen dataclasses)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError

__all__ = ["SearchConfig", "SingleEventGrid", "Periodogram", "Candidate", "SearchResult", "MISSION_DURATIONS"]

FloatArray = NDArray[np.float64]

#: default box durations [h] per mission (shortest first); K2 long cadence cannot resolve < 1 h
MISSION_DURATIONS: dict[str, tuple[float, ...]] = {
    "K2": (1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 9.0, 12.0),
    "Kepler": (1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 9.0, 12.0),
    "TESS": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 9.0, 12.0),
}


@dataclass(frozen=True)
class SearchConfig:
    """Settings of the joint single-event and periodic search.

    Attributes
    ----------
    durations : tuple of float or None
        Box durations [h]; ``None``: the mission default (:data:`MISSION_DURATIONS`, 1–12 h
        for K2/Kepler, 0.5–12 h for TESS).
    epoch_step : float
        Spacing of the epoch grid as a fraction of the shortest duration.
    period_range : tuple of (float or None)
        (minimum, maximum) trial period [d]; ``None`` maximum: baseline / (min_transits − 1).
    oversampling : float
        Frequency-grid oversampling: the last transit of the baseline moves by at most
        shortest duration / oversampling between neighbouring trial periods.
    min_transits : int
        Fewest transits with data for a periodic signal (default 2).
    max_planets : int
        Most candidates reported (search → mask → search again).
    min_snr : float
        Stop the iterative search when the peak's SNR (:attr:`Candidate.snr`) falls below this.
    min_snr_without_strongest : float
        ... and, for a peak of 2–3 transits, when its SNR without the strongest event
        (:attr:`Candidate.snr_without_strongest`) falls below this: a peak one event makes is
        not a periodic signal (with 4 or more transits the noise boxes dilute such a peak).
    max_masked_events : int
        A peak that fails only that test does not end the search: its strongest event is
        masked as a lone event (a settling ramp, a cosmic-ray hit, a single eclipse...) and the
        periodogram recomputed, at most this many times per search (0: the search stops there,
        as before). The masked events are in :attr:`SearchResult.masked_events`.
    min_coverage : float
        A box window needs at least this fraction of its expected cadences (else 'no data').
    memory_limit_gb : float
        Refuse a search whose estimated working memory exceeds this [GiB].
    fit_shape : bool
        Refine each box peak with a limb-darkened template (unbiased depth, T14, b).
    refit_masked : bool
        After each candidate, refit the nuisance hyper-parameters with every candidate found
        so far masked and search on (so the GP and the regressors fitted without the transits
        cannot have absorbed them, nor a deep planet's transits inflate the noise model the
        next, shallower one is searched in). Needs the light curve and design, as always.
    max_single_events : int
        After the periodic search, the strongest single boxes left (the periodic candidates'
        transits masked) become single-event candidates, at most this many (0: none).
    single_min_snr : float
        ... when their single-event S/N δ̂/σ is at least this. Higher than ``min_snr``: one
        box has no other transit to confirm it, and the search looks at every epoch.
    """

    durations: tuple[float, ...] | None = None
    epoch_step: float = 0.25
    period_range: tuple[float, float | None] = (0.5, None)
    oversampling: float = 3.0
    min_transits: int = 2
    max_planets: int = 3
    min_snr: float = 6.5
    min_snr_without_strongest: float = 4.0
    max_masked_events: int = 3
    min_coverage: float = 0.5
    memory_limit_gb: float = 2.0
    fit_shape: bool = True
    refit_masked: bool = True
    max_single_events: int = 2
    single_min_snr: float = 10.0

    def __post_init__(self) -> None:
        if self.durations is not None:
            d = tuple(float(x) for x in np.atleast_1d(self.durations))
            if not d or not all(math.isfinite(x) and x > 0 for x in d):
                raise ConfigurationError(f"durations={self.durations}: give one or more finite durations > 0 [h]")
            object.__setattr__(self, "durations", tuple(sorted(set(d))))
        if not 0 < self.epoch_step <= 1:
            raise ConfigurationError(f"epoch_step={self.epoch_step}: use a fraction of the shortest duration in (0, 1]")
        lo, hi = self.period_range
        if not (math.isfinite(lo) and lo > 0) or (hi is not None and not (math.isfinite(hi) and hi > lo)):
            raise ConfigurationError(f"period_range={self.period_range}: need 0 < minimum < maximum [d] "
                                     "(maximum None = from the baseline)")
        if not self.oversampling >= 1:
            raise ConfigurationError(f"oversampling={self.oversampling}: use a value >= 1")
        if self.min_transits < 1 or self.max_planets < 1:
            raise ConfigurationError(f"min_transits={self.min_transits} and max_planets={self.max_planets} "
                                     "must be >= 1")
        if not (math.isfinite(self.min_snr) and self.min_snr >= 0):
            raise ConfigurationError(f"min_snr={self.min_snr}: use a finite value >= 0")
        if not math.isfinite(self.min_snr_without_strongest):
            raise ConfigurationError(f"min_snr_without_strongest={self.min_snr_without_strongest}: use a finite "
                                     "value (-inf is not allowed; a large negative value switches it off)")
        if self.max_masked_events < 0:
            raise ConfigurationError(f"max_masked_events={self.max_masked_events}: use a count >= 0")
        if self.max_single_events < 0 or not (math.isfinite(self.single_min_snr) and self.single_min_snr > 0):
            raise ConfigurationError(f"max_single_events={self.max_single_events} and single_min_snr="
                                     f"{self.single_min_snr}: use a count >= 0 and an S/N > 0")
        if not 0 < self.min_coverage <= 1:
            raise ConfigurationError(f"min_coverage={self.min_coverage}: use a fraction in (0, 1]")
        if not self.memory_limit_gb > 0:
            raise ConfigurationError(f"memory_limit_gb={self.memory_limit_gb}: use a value > 0")

    def resolved_durations(self, mission: str | None) -> tuple[float, ...]:
        """The durations [h]: the configured ones, else the mission's default (K2's if unknown)."""
        if self.durations is not None:
            return self.durations
        return MISSION_DURATIONS.get(str(mission or ""), MISSION_DURATIONS["K2"])


@dataclass(frozen=True, eq=False)
class SingleEventGrid:
    """Box-template statistics for every (duration, epoch), nuisances and GP marginalised.

    Depth is positive for a dimming, in relative flux. Windows with too little data have
    ``valid`` False and depth = depth_err = delta_loglike = 0 (never NaN or inf).

    Attributes
    ----------
    epochs : ndarray, shape (n_epochs,)
        Box centres [d], uniform with step ``epoch_step_days``.
    durations : ndarray, shape (n_durations,)
        Box durations [h].
    depth, depth_err, delta_loglike : ndarray, shape (n_durations, n_epochs)
        δ̂ = −bᵀC⁻¹r / bᵀC⁻¹b, σ = (bᵀC⁻¹b)^(-1/2) [relative flux], Δln L = ½ δ̂²/σ².
    valid : ndarray of bool, shape (n_durations, n_epochs)
    numerator, information : ndarray, shape (n_durations, n_epochs)
        −bᵀC⁻¹r and bᵀC⁻¹b (0 where not valid): what the periodic search sums.
    """

    epochs: FloatArray
    durations: FloatArray
    depth: FloatArray
    depth_err: FloatArray
    delta_loglike: FloatArray
    valid: NDArray[np.bool_]
    numerator: FloatArray
    information: FloatArray
    epoch_step_days: float

    @property
    def snr(self) -> FloatArray:
        """Signed single-event significance δ̂/σ (0 where not valid)."""
        return self.numerator / np.sqrt(np.where(self.valid, self.information, 1.0))


@dataclass(frozen=True, eq=False)
class Periodogram:
    """Best combination over phase and duration at each trial period.

    Attributes
    ----------
    periods : ndarray, shape (n_periods,)  [d]
    power : ndarray
        Signed significance z = Σ n_i / √Σ I_i of the best phase and duration (0 where fewer
        than ``min_transits`` transits have data).
    depth, depth_err : ndarray  [relative flux]
    delta_loglike : ndarray
        ½ z² of that best combination.
    t0 : ndarray  [d]   epoch of the first predicted transit of the best phase
    duration : ndarray  [h]
    n_transits : ndarray of int
    """

    periods: FloatArray
    power: FloatArray
    depth: FloatArray
    depth_err: FloatArray
    delta_loglike: FloatArray
    t0: FloatArray
    duration: FloatArray
    n_transits: NDArray[np.int64]


@dataclass(frozen=True)
class Candidate:
    """One periodic signal, or one single event.

    Units: ``period``, ``t0`` and their errors in **days** (``t0`` in the light curve's time
    system); ``duration`` and ``box_duration`` in **hours**; depths in **ppm** of the median
    flux. :meth:`SearchResult.to_table` gives the same numbers as Quantities.

    A **single event** (``single`` True, ``n_transits`` 1) has ``period`` = inf and
    ``period_min`` the shortest period that puts no other transit inside the data; its
    numbers are the best box's (δ̂/σ as ``snr``), and the per-event statistics are trivial.

    Period, t0, duration (T14), depth, impact and Rp/R★ are those of the limb-darkened
    template fitted around the box peak (``docs/search.md``: the box depth seen through the
    red-noise model is biased low); ``box_duration``, ``box_depth`` and ``box_depth_err``
    keep the best box. Without a template fit (``SearchConfig.fit_shape`` False, or none
    fits a dip) those fields repeat the box values and impact = rp_over_rs = 0.
    ``t0`` is the transit nearest the middle of the observed ones (least correlated with P).
    ``snr``: the box peak's z = Σn/√ΣI against the noise of the periodogram it was found in,
    recomputed with the candidate's own transits masked — (z − median) / (1.4826 MAD) — so a
    deep signal does not lift the reference it is measured against.
    ``snr_without_strongest``: the same for the events left when the strongest one is
    removed (a periodic signal stays significant; a peak made by one event does not).
    ``dominant_event_fraction``: the largest single transit's share of Σ n_i (1/n for equal
    events, → 1 when one event carries the signal). ``odd_even_sigma``: |δ_odd − δ_even| in
    units of its error. ``variable_depth_delta_loglike``: Δln L of one free depth per transit
    over one common depth (≈ χ²_{n−1}/2 for a planet). ``secondary_snr``: signed δ/σ of the
    best box at phase ½ (an eclipsing binary's secondary eclipse; ~N(0, 1) for a planet).
    """

    period: float
    period_err: float
    t0: float
    t0_err: float
    duration: float
    depth: float
    depth_err: float
    delta_loglike: float
    snr: float
    n_transits: int
    dominant_event_fraction: float
    odd_even_sigma: float
    variable_depth_delta_loglike: float
    transit_times: tuple[float, ...] = field(default=(), repr=False)
    box_duration: float = 0.0
    box_depth: float = 0.0
    box_depth_err: float = 0.0
    impact: float = 0.0
    rp_over_rs: float = 0.0
    secondary_snr: float = 0.0
    snr_without_strongest: float = 0.0
    single: bool = False
    period_min: float = 0.0


#: :class:`Candidate` fields in :meth:`SearchResult.to_table`, with their units
CANDIDATE_UNITS: dict[str, str] = {
    "period": "d", "period_err": "d", "period_min": "d", "t0": "d", "t0_err": "d", "duration": "h",
    "box_duration": "h", "depth": "ppm", "depth_err": "ppm", "box_depth": "ppm", "box_depth_err": "ppm",
    "snr": "", "snr_without_strongest": "", "delta_loglike": "", "impact": "", "rp_over_rs": "",
    "dominant_event_fraction": "", "odd_even_sigma": "", "variable_depth_delta_loglike": "", "secondary_snr": "",
}


@dataclass(frozen=True, eq=False)
class SearchResult:
    """What :func:`halfsib.search.search` returns.

    Attributes
    ----------
    single_events : SingleEventGrid
    periodograms : tuple of Periodogram
        Every periodogram computed, in order: one per iteration (with the candidates found
        before it masked) and one more after each masked lone event.
    candidates : tuple of Candidate
    config : SearchConfig
    time, flux : ndarray
        Model-grid times [d] and the flattened flux 1 + residual (systematics and stellar
        signal removed; for the plots only, never searched).
    nuisance_fit : DetrendResult or None
        The nuisance-model fit the final grid was computed with: the refit with the
        candidates' transits masked (``SearchConfig.refit_masked``), else the given fit.
    masked_events : tuple of (float, float)
        (mid-time [d], box duration [h]) of the lone events masked because a peak stood on
        them alone (``SearchConfig.max_masked_events``), in the order they were masked.
    single_candidates : tuple of Candidate
        Single events (``Candidate.single``), strongest first, found after the periodic
        search (``SearchConfig.max_single_events``).
    """

    single_events: SingleEventGrid
    periodograms: tuple[Periodogram, ...]
    candidates: tuple[Candidate, ...]
    config: SearchConfig
    time: FloatArray
    flux: FloatArray
    nuisance_fit: Any = None
    masked_events: tuple[tuple[float, float], ...] = ()
    single_candidates: tuple[Candidate, ...] = ()

    @property
    def all_candidates(self) -> tuple[Candidate, ...]:
        """The periodic candidates, then the single events (the rank order of the outputs)."""
        return self.candidates + self.single_candidates

    def to_table(self) -> Any:
        """:attr:`all_candidates` as an :class:`astropy.table.QTable` whose columns carry units.

        ``period``, ``period_err``, ``t0``, ``t0_err``, ``period_min`` in days (``t0`` in the
        light curve's time system), ``duration`` and ``box_duration`` in hours, depths in ppm
        (``astropy.units.cds.ppm``); unknown values (a single event's period) are masked.
        Pass ``table["duration"].to("d")`` where days are expected (lightkurve's
        ``create_transit_mask``).
        """
        from astropy import units as u
        from astropy.table import QTable
        from astropy.units import cds
        from astropy.utils.masked import Masked

        rows = self.all_candidates
        table = QTable()
        table["rank"] = np.arange(1, len(rows) + 1)
        for name in CANDIDATE_UNITS:
            values = np.array([float(getattr(c, name)) for c in rows], dtype=float)
            unit = {"d": u.day, "h": u.hour, "ppm": cds.ppm}.get(CANDIDATE_UNITS[name])
            finite = np.isfinite(values)
            data = np.where(finite, values, 0.0)
            column = data * unit if unit is not None else data
            table[name] = Masked(column, mask=~finite) if not finite.all() else column
        table["n_transits"] = np.array([c.n_transits for c in rows], dtype=int)
        table["single"] = np.array([c.single for c in rows], dtype=bool)
        return table

    @property
    def periodogram(self) -> Periodogram:
        """The first (unmasked) periodogram."""
        return self.periodograms[0]

    def __repr__(self) -> str:
        found = ", ".join(f"P={c.period:.4f} d SNR={c.snr:.1f}" for c in self.candidates) or "none"
        return f"<halfsib.SearchResult: {len(self.candidates)} candidate(s): {found}>"

    def plot(self, *, fig: Any = None) -> Any:
        """Single-event Δln L, the periodograms and the phase-folded flux per candidate."""
        import matplotlib.pyplot as plt

        n = len(self.candidates)
        if fig is None:
            fig = plt.figure(figsize=(11, 6 + 2.5 * n), constrained_layout=True)
        axes = fig.subplots(2 + n, 1, squeeze=False)[:, 0]
        se = self.single_events
        best = np.argmax(np.where(se.valid, se.snr, -np.inf), axis=0)
        axes[0].plot(se.epochs, se.snr[best, np.arange(se.epochs.size)], lw=0.6, color="k")
        axes[0].set(xlabel="epoch [d]", ylabel="single-event δ/σ (best duration)")
        for i, pg in enumerate(self.periodograms):
            axes[1].plot(pg.periods, pg.power, lw=0.6, color=f"C{i}", label=f"iteration {i + 1}")
        axes[1].set(xscale="log", xlabel="period [d]", ylabel="z = δ/σ")
        axes[1].legend(fontsize=8)
        for ax, c in zip(axes[2:], self.candidates):
            phase = (np.mod(self.time - c.t0 + 0.5 * c.period, c.period) - 0.5 * c.period) * 24.0
            near = np.abs(phase) < 3 * c.duration
            ax.scatter(phase[near], 1e6 * (self.flux[near] - 1), s=2, color="0.3", lw=0, rasterized=True)
            ax.axhline(-c.depth, color="C3", lw=0.8)
            ax.set(xlabel="hours from mid-transit", ylabel="flux [ppm]",
                   title=f"P = {c.period:.5f} d, depth {c.depth:.0f} ± {c.depth_err:.0f} ppm, SNR {c.snr:.1f}")
        return fig
