"""Vetting tests on the target's own light curve, each a linear fit with the nuisance model marginalised.

Every depth here is :func:`~halfsib.vet.fitted.fit_templates` of dimming templates with the
candidate's fitted model (weights and GP integrated out); see ``docs/vet.md`` for the math.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from ..exceptions import DataValidationError
from .ephemeris import DipShape, Ephemeris
from .fitted import FittedModel, fit_templates
from .results import FoldedLightCurve, VetConfig, VetTest

__all__ = ["odd_even_test", "secondary_test", "secondary_scan_test", "phase_scan", "PhaseScan", "phase_curve_test", "dominance_tests",
           "shape_test", "duration_test", "dip_without_strongest_event", "consistency_chi2", "event_noise_scale", "NULL_Z_CAP", "transit_depth", "refine_box_duration", "best_dip_shape", "folded_light_curve", "event_templates", "max_central_duration",
           "SOLAR_DENSITY"]

FloatArray = NDArray[np.float64]

#: mean solar density [g cm⁻³]
SOLAR_DENSITY = 1.408
from ..transit import G_CGS as _G_CGS  # noqa: E402
#: box durations scanned by the shape and duration tests, relative to the candidate's
DURATION_FACTORS = 2.0 ** np.arange(-1.0, 1.01, 0.25)


def _usable(model: FittedModel) -> NDArray[np.bool_]:
    return ~model.excluded


def event_templates(model: FittedModel, ephemeris: Ephemeris, phase: float = 0.0,
                    template: FloatArray | None = None) -> tuple[FloatArray, NDArray[np.int64]]:
    """One dip template per event with data: (N, k) and the events' epoch numbers.

    ``template``: the periodic profile to split into events (default: the candidate's dip at ``phase``).
    """
    box = model.dip(ephemeris, phase=phase) if template is None else template
    epoch = ephemeris.epoch(model.time - phase * (0.0 if ephemeris.single else ephemeris.period))
    has = (box > 0) & _usable(model)
    epochs = np.unique(epoch[has])
    return np.stack([box * (epoch == e) for e in epochs], axis=1) if epochs.size else np.zeros((box.size, 0)), epochs


def transit_depth(model: FittedModel, ephemeris: Ephemeris) -> float:
    """The candidate's depth (dip amplitude, relative flux) with the model."""
    return float(fit_templates(model.ml, model.dip(ephemeris)).amplitude[0])


def floor_variance(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> float:
    """(``model_floor`` × transit depth)², added to the variance of depth comparisons."""
    return (config.model_floor * max(transit_depth(model, ephemeris), 0.0)) ** 2


def odd_even_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> VetTest:
    """Odd and even transits' depths fitted jointly; |δ_odd − δ_even| / σ of the difference (floor included)."""
    name = "odd_even"
    if ephemeris.single:
        return VetTest.not_run(name, "single event (no period)", threshold=config.odd_even_sigma, unit="sigma")
    events, epochs = event_templates(model, ephemeris)
    odd = events[:, epochs % 2 == 1].sum(axis=1)
    even = events[:, epochs % 2 == 0].sum(axis=1)
    if not odd.any() or not even.any():
        return VetTest.not_run(name, f"only {'even' if even.any() else 'odd'} transits have data",
                               threshold=config.odd_even_sigma, unit="sigma")
    fit = fit_templates(model.ml, np.stack([odd, even], axis=1))
    diff = fit.amplitude[0] - fit.amplitude[1]
    var = fit.covariance[0, 0] + fit.covariance[1, 1] - 2 * fit.covariance[0, 1]
    sigma = abs(diff) / math.sqrt(var + floor_variance(model, ephemeris, config))
    extras = {"depth_odd": 1e6 * fit.amplitude[0], "depth_odd_err": 1e6 * fit.error[0],
              "depth_even": 1e6 * fit.amplitude[1], "depth_even_err": 1e6 * fit.error[1]}
    return VetTest.judge(name, sigma, config.odd_even_sigma,
                         f"odd {extras['depth_odd']:.0f} ± {extras['depth_odd_err']:.0f} ppm, even "
                         f"{extras['depth_even']:.0f} ± {extras['depth_even_err']:.0f} ppm", unit="sigma", extras=extras)


def secondary_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> VetTest:
    """Depth S/N of the dip profile at phase 0.5, fitted jointly with the transit (floor included)."""
    name = "secondary"
    if ephemeris.single:
        return VetTest.not_run(name, "single event (no period)", threshold=config.secondary_sigma, unit="sigma")
    primary = model.dip(ephemeris)
    second = model.dip(ephemeris, phase=0.5)
    if not np.any((second > 0) & _usable(model)):
        return VetTest.not_run(name, "no data at phase 0.5", threshold=config.secondary_sigma, unit="sigma")
    fit = fit_templates(model.ml, np.stack([primary, second], axis=1))
    floor = (config.model_floor * max(fit.amplitude[0], 0.0)) ** 2
    snr = fit.amplitude[1] / math.sqrt(fit.covariance[1, 1] + floor)
    extras = {"depth_secondary": 1e6 * fit.amplitude[1], "depth_secondary_err": 1e6 * fit.error[1]}
    return VetTest.judge(name, snr, config.secondary_sigma,
                         f"depth at phase 0.5: {extras['depth_secondary']:.0f} ± {extras['depth_secondary_err']:.0f} "
                         "ppm", unit="sigma", extras=extras)


@dataclass(frozen=True)
class PhaseScan:
    """Boxes of the candidate's box width at every phase away from the transit (:func:`phase_scan`).

    ``phase`` (0 = transit), ``depth`` and ``error`` [relative flux] of each box fitted jointly
    with the transit's dip (negative depth: a brightening), ``transit_depth`` (the dip's
    amplitude alone), ``n_independent`` phases (the scanned range over the T14 width).
    """

    phase: FloatArray
    depth: FloatArray
    error: FloatArray
    transit_depth: float
    n_independent: float

    @property
    def snr(self) -> FloatArray:
        """depth / error of every box (signed)."""
        return self.depth / self.error

    @property
    def red_noise_factor(self) -> float:
        """max(1, 1.4826 × MAD of :attr:`snr`): how much the boxes scatter beyond their errors.

        Under a correct noise model the scan's S/N values are N(0, 1) (correlated between
        neighbouring phases, which does not bias the MAD); an eclipse occupies a few phases
        and leaves it alone. Fewer than 8 phases: 1.
        """
        s = self.snr
        if s.size < 8:
            return 1.0
        from astropy.stats import mad_std

        return max(1.0, float(mad_std(s)))


def phase_scan(model: FittedModel, ephemeris: Ephemeris, max_phases: int = 400) -> PhaseScan | None:
    """Fit a box every quarter T14 in phase, each entirely outside the masked window, jointly with the dip.

    Returns None for a single event or when no box has data. Each fit is linear with the
    nuisance model marginalised: for the dip t and a box s, the 2 × 2 normal equations
    [[I_tt, I_ts], [I_ts, I_ss]] (δ_t, δ_s) = (n_t, n_s), I_ab = aᵀC⁻¹b, n_a = −aᵀC⁻¹r.
    """
    if ephemeris.single:
        return None
    width = ephemeris.duration / 24.0 / ephemeris.period  # T14 in phase
    # box centres keep the whole box off the masked window (1.5 T14 / 2 about the transit)
    edge = (0.75 * ephemeris.duration + 0.5 * ephemeris.template_duration) / 24.0 / ephemeris.period
    step = max(0.25 * width, 1.0 / max_phases)
    phases = np.arange(edge, 1.0 - edge + 1e-12, step)
    if phases.size == 0:
        return None
    dip = model.dip(ephemeris)
    cinv_dip = model.ml.apply_inverse(dip)
    n_t, i_tt = -float(dip @ model.ml.residual_inverse()), float(dip @ cinv_dip)
    kept, depths, errors = [], [], []
    for chunk in np.array_split(phases, max(1, phases.size // 100)):
        templates = np.stack([model.box(ephemeris, phase=p) for p in chunk], axis=1)
        has = np.any((templates > 0) & _usable(model)[:, None], axis=0)
        if not has.any():
            continue
        proj = model.ml.project(templates[:, has])
        n_s, i_ss, i_ts = -proj.numerator, proj.information, templates[:, has].T @ cinv_dip
        det = i_tt * i_ss - i_ts**2
        kept.append(chunk[has])
        depths.append((i_tt * n_s - i_ts * n_t) / det)
        errors.append(np.sqrt(i_tt / det))
    if not kept:
        return None
    return PhaseScan(phase=np.concatenate(kept), depth=np.concatenate(depths), error=np.concatenate(errors),
                     transit_depth=n_t / i_tt, n_independent=max(1.0, (1.0 - 2 * edge) / width))


def secondary_scan_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig,
                        max_phases: int = 400, scan: PhaseScan | None = None) -> VetTest:
    """The most significant eclipse-like dip at any phase away from the transit.

    Boxes of the box width every quarter T14 in phase (:func:`phase_scan`); the threshold is
    the Gaussian S/N whose one-sided tail probability is ``secondary_scan_fap`` / (number of
    independent phases). The scan's :attr:`~PhaseScan.red_noise_factor` (the robust scatter
    of all the boxes' S/N) is reported in the extras, not applied.
    """
    name = "secondary_best_phase"
    if ephemeris.single:
        return VetTest.not_run(name, "single event (no period)", unit="sigma")
    scan = scan or phase_scan(model, ephemeris, max_phases)
    if scan is None:
        return VetTest.not_run(name, "no data away from the transits (or duration too long for a phase scan)",
                               unit="sigma")
    floor = (config.model_floor * max(scan.transit_depth, 0.0)) ** 2
    red = scan.red_noise_factor
    snr = scan.depth / np.sqrt(scan.error**2 + floor)
    k = int(np.argmax(snr))
    threshold = float(stats.norm.isf(config.secondary_scan_fap / scan.n_independent))
    extras = {"phase": float(scan.phase[k]), "depth": 1e6 * float(scan.depth[k]),
              "depth_err": 1e6 * float(scan.error[k]), "n_independent": scan.n_independent,
              "red_noise_factor": red}
    detail = (f"deepest dip at phase {scan.phase[k]:.3f}: {1e6 * scan.depth[k]:.0f} ± {1e6 * scan.error[k]:.0f} ppm "
              f"({scan.n_independent:.0f} independent phases; the boxes' S/N scatter × {red:.2f})")
    if snr[k] <= threshold:
        return VetTest.judge(name, float(snr[k]), threshold, detail, unit="sigma", extras=extras)
    rest, strongest = dip_without_strongest_event(model, ephemeris, float(scan.phase[k]))
    extras["snr_without_strongest"] = rest
    if rest < config.secondary_sigma:  # one event makes it: an eclipse recurs every orbit
        detail += (f"; it rests on one event (epoch {strongest}): the others alone {rest:.1f} sigma < "
                   f"{config.secondary_sigma:g}, not a recurring eclipse")
        return VetTest(name, float(snr[k]), threshold, True, detail, "sigma", True, extras)
    return VetTest.judge(name, float(snr[k]), threshold, detail + f"; without its strongest event {rest:.1f} sigma",
                         unit="sigma", extras=extras)


def dip_without_strongest_event(model: FittedModel, ephemeris: Ephemeris, phase: float) -> tuple[float, int]:
    """z = Σn/√ΣI of the box dip at orbital ``phase`` over its events without the strongest one
    (largest n/√I; 0 with fewer than two events), and the strongest event's epoch number.

    One box per event at that phase, each projected alone (the boxes lie outside the masked
    transit window, as in :func:`phase_scan`).
    """
    from ..search.periodic import z_without_strongest

    events, epochs = event_templates(model, ephemeris, phase, template=model.box(ephemeris, phase=phase))
    if epochs.size == 0:
        return 0.0, 0
    proj = model.ml.project(events)
    n, info = -np.asarray(proj.numerator, float), np.asarray(proj.information, float)
    ok = info > 0
    if not ok.any():
        return 0.0, int(epochs[0])
    strongest = int(epochs[ok][np.argmax(n[ok] / np.sqrt(info[ok]))])
    return z_without_strongest(n[ok], info[ok]), strongest


def phase_curve_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> VetTest:
    """Harmonics at the orbital period (reflection cos φ, sin φ; ellipsoidal cos 2φ).

    Fitted jointly with boxes at the transit and at phase 0.5; the statistic is the χ² of
    the three amplitudes with their covariance, as a Gaussian-equivalent significance.
    """
    name = "phase_curve"
    if ephemeris.single:
        return VetTest.not_run(name, "single event (no period)", threshold=config.phase_curve_sigma, unit="sigma")
    span = float(model.time[-1] - model.time[0])
    if span < 2 * ephemeris.period:
        return VetTest.not_run(name, f"baseline {span:.1f} d covers fewer than two periods",
                               threshold=config.phase_curve_sigma, unit="sigma")
    phi = 2 * np.pi * (model.time - ephemeris.t0) / ephemeris.period
    templates = np.stack([np.cos(phi), np.sin(phi), np.cos(2 * phi), model.dip(ephemeris),
                          model.dip(ephemeris, phase=0.5)], axis=1)
    fit = fit_templates(model.ml, templates)
    amp, cov = fit.amplitude[:3], fit.covariance[:3, :3]
    chi2 = float(amp @ np.linalg.solve(cov, amp))
    sigma = float(stats.norm.isf(max(stats.chi2.sf(chi2, 3), 1e-300)))
    extras = {"reflection_amplitude": 1e6 * float(math.hypot(amp[0], amp[1])),
              "ellipsoidal_amplitude": 1e6 * float(abs(amp[2])), "ellipsoidal_err": 1e6 * float(fit.error[2]),
              "chi2": chi2}
    return VetTest.judge(name, max(sigma, 0.0), config.phase_curve_sigma,
                         f"cos/sin φ amplitude {extras['reflection_amplitude']:.0f} ppm, cos 2φ "
                         f"{extras['ellipsoidal_amplitude']:.0f} ± {extras['ellipsoidal_err']:.0f} ppm (χ²₃ = {chi2:.1f})",
                         unit="sigma", extras=extras)


def dominance_tests(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> list[VetTest]:
    """Single-event dominance and per-event depth consistency.

    Per event i: n_i = −b_iᵀC⁻¹r, I_i = b_iᵀC⁻¹b_i. Dominance: max n_i / Σ max(n_i, 0).
    Consistency: the k per-event depths fitted jointly (F = BᵀC⁻¹B), χ² of the depths about
    their common GLS depth with covariance F⁻¹ + (depth_floor × depth)² I, χ²_{k−1} under a
    constant depth (without the floor: nᵀF⁻¹n − (Σn)²/1ᵀF1, free depths versus one).
    """
    events, epochs = event_templates(model, ephemeris)
    k = events.shape[1]
    if k < 2:
        reason = f"{k} event with data" if not ephemeris.single else "single event (no period)"
        return [VetTest.not_run("single_event_dominance", reason, threshold=config.dominance_fraction),
                VetTest.not_run("depth_consistency", reason, threshold=config.depth_consistency_p, unit="p-value")]
    proj = model.ml.project(events)
    n = -proj.numerator
    scale, n_null = event_noise_scale(model, ephemeris)
    dom = _dominance_test(n, np.asarray(proj.information, float), epochs, scale, config)
    try:
        fit = fit_templates(model.ml, events)
    except DataValidationError as err:
        return [dom, VetTest.not_run("depth_consistency", str(err), threshold=config.depth_consistency_p,
                                     unit="p-value")]
    raw_chi2 = consistency_chi2(fit.amplitude, fit.covariance, config.depth_floor)
    chi2 = raw_chi2 / scale**2
    p = float(stats.chi2.sf(chi2, k - 1))
    detail = f"χ² = {chi2:.1f} for {k - 1} degrees of freedom"
    if scale > 1.0:
        detail += f" (per-event errors × {scale:.2f} from {n_null} null events; uncalibrated χ² = {raw_chi2:.1f})"
    needed = floor_needed(fit.amplitude, fit.covariance * scale**2)
    detail += f"; depth floor {config.depth_floor:.0%} (these events need {needed:.1%})"
    cons = VetTest.judge("depth_consistency", p, config.depth_consistency_p, detail, unit="p-value",
                         fails_above=False, extras={"chi2": chi2, "dof": k - 1, "chi2_uncalibrated": raw_chi2,
                                                    "error_scale": scale, "n_null_events": n_null,
                                                    "depth_floor": config.depth_floor, "floor_needed": needed})
    return [dom, cons]


def _dominance_test(n: NDArray[np.float64], information: NDArray[np.float64], epochs: NDArray[np.int64],
                    scale: float, config: VetConfig) -> VetTest:
    """Fails when one event carries more than ``dominance_fraction`` of the signal *and* the
    other events alone are below ``dominance_rest_sigma`` (per-event errors × ``scale``).

    A fixed fraction alone rejects real low-S/N planets: with three transits at S/N ≈ 5
    each, the largest carries over half of Σn in about one case in ten (K2-136 d: 54 %, its
    other two transits 5σ on their own).
    """
    from ..search.periodic import z_without_strongest

    k = n.size
    positive = float(np.sum(np.maximum(n, 0.0)))
    threshold = config.dominance_fraction if k >= 3 else max(config.dominance_fraction, 0.8)
    if not positive > 0:
        return VetTest.not_run("single_event_dominance", "no event dims the star", threshold=threshold)
    fraction = float(np.max(n) / positive)
    rest = z_without_strongest(n, information) / scale
    passed = fraction <= threshold or rest >= config.dominance_rest_sigma
    detail = (f"largest of {k} events carries {fraction:.0%} of the signal (epoch {int(epochs[np.argmax(n)])}); "
              f"the others alone: {rest:.1f} sigma")
    if fraction > threshold and passed:
        detail += f" >= {config.dominance_rest_sigma:g}: the signal does not rest on one event"
    return VetTest("single_event_dominance", fraction, threshold, passed, detail, "", True,
                   {"n_events": k, "snr_without_strongest": rest})


#: orbital phases of the null events of :func:`event_noise_scale` (those clear of the transit and secondary)
NULL_PHASES = (0.15, 0.2, 0.25, 0.3, 0.35, 0.65, 0.7, 0.75, 0.8, 0.85)
#: fewest null events for an error scale (fewer: no calibration, scale 1)
MIN_NULL_EVENTS = 8
#: a null event's |δ/σ| enters the error scale capped at this (one glitch must not switch the tests off)
NULL_Z_CAP = 5.0


def event_noise_scale(model: FittedModel, ephemeris: Ephemeris) -> tuple[float, int]:
    """How much larger single-event depth errors really are: (scale ≥ 1, null events used).

    The candidate's dip is fitted, one template per event, at orbital phases away from the
    transit (and from the secondary, at 0.5) where nothing should dim the star
    (:data:`NULL_PHASES`, each jointly with the transit's dip so that its wings do not
    leak in). Under a correct noise model the null depths over their errors are N(0, 1);
    the scale is their root mean square about zero (each |δ/σ| capped at
    :data:`NULL_Z_CAP`), floored at 1. The root mean square, not a robust width: the χ² it
    calibrates is a sum of squares, so it follows the null depths' variance, heavy tails
    included (on K2-136 the 99 null events of b have a robust width ≤ 1 and an r.m.s. of 1.20).
    With many events (a short period), residual red noise at the transit timescale that
    the GP does not describe makes a constant-depth planet fail a χ² with 30–50 degrees
    of freedom; the scale calibrates it on the star's own data. A single event or fewer
    than :data:`MIN_NULL_EVENTS` null events: scale 1.
    """
    if ephemeris.single:
        return 1.0, 0
    half = (0.75 * ephemeris.duration + 0.5 * ephemeris.template_duration) / 24.0 / ephemeris.period
    width = ephemeris.template_duration / 24.0 / ephemeris.period
    dip = model.dip(ephemeris)
    z: list[FloatArray] = []
    for phase in NULL_PHASES:
        if min(phase, 1.0 - phase) <= 2 * half or abs(phase - 0.5) <= 1.5 * width:
            continue
        events, _ = event_templates(model, ephemeris, phase)
        if events.shape[1] == 0:
            continue
        try:
            fit = fit_templates(model.ml, np.column_stack([events, dip]))
        except DataValidationError:
            continue
        k = events.shape[1]
        z.append(fit.amplitude[:k] / fit.error[:k])
    if not z:
        return 1.0, 0
    values = np.concatenate(z)
    if values.size < MIN_NULL_EVENTS:
        return 1.0, int(values.size)
    capped = np.minimum(np.abs(values), NULL_Z_CAP)
    return max(1.0, float(np.sqrt(np.mean(capped**2)))), int(values.size)


def floor_needed(depths: FloatArray, covariance: FloatArray, largest: float = 1.0) -> float:
    """The smallest fractional floor f that brings :func:`consistency_chi2` down to its
    expectation k − 1 (0 when the per-event errors alone do; ``largest`` when even it does not).

    Per planet, this is the event-to-event depth scatter beyond the errors, as a fraction of
    the depth: what ``VetConfig.depth_floor`` has to cover (``docs/vet.md``).
    """
    dof = depths.size - 1
    if dof < 1 or consistency_chi2(depths, covariance) <= dof:
        return 0.0
    if consistency_chi2(depths, covariance, largest) > dof:
        return float(largest)
    lo, hi = 0.0, float(largest)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if consistency_chi2(depths, covariance, mid) > dof else (lo, mid)
    return hi


def consistency_chi2(depths: FloatArray, covariance: FloatArray, floor: float = 0.0) -> float:
    """χ² of per-event depths about their common (GLS) depth, Σ = covariance + (floor × depth)² I.

    With ``floor = 0`` this is nᵀF⁻¹n − (Σn)²/(1ᵀF1) for n = F δ: free depths versus one.
    """
    ones = np.ones(depths.size)
    sigma = covariance.copy()
    if floor > 0:
        first = float(ones @ np.linalg.solve(covariance, depths) / (ones @ np.linalg.solve(covariance, ones)))
        sigma[np.diag_indices_from(sigma)] += (floor * max(first, 0.0)) ** 2
    inv_d, inv_1 = np.linalg.solve(sigma, depths), np.linalg.solve(sigma, ones)
    common = float(ones @ inv_d / (ones @ inv_1))
    resid = depths - common
    return max(float(resid @ np.linalg.solve(sigma, resid)), 0.0)


def _best_duration(model: FittedModel, ephemeris: Ephemeris, shape: str | float) -> tuple[float, float]:
    """Largest Δln L (dimming only) over the scanned durations and its duration [h].

    ``shape``: ``"box"``, ``"triangle"`` or a trapezoid's ramp fraction (0 … 0.5 of the width
    each; 0 is the box, 0.5 the triangle).
    """
    fraction = {"box": 0.0, "triangle": 0.5}.get(shape, shape) if isinstance(shape, str) else float(shape)
    best = (-np.inf, ephemeris.template_duration)
    for f in DURATION_FACTORS:
        d = ephemeris.template_duration * f
        if not ephemeris.single and d / 24.0 >= 0.5 * ephemeris.period:
            continue
        b = model.box(ephemeris, d) if fraction == 0.0 else model.trapezoid(ephemeris, d, fraction)
        if not np.any((b > 0) & _usable(model)):
            continue
        proj = model.ml.project(b)
        dll = float(proj.delta_log_likelihood) if proj.numerator < 0 else 0.0
        if dll > best[0]:
            best = (dll, d)
    return best


def refine_box_duration(model: FittedModel, ephemeris: Ephemeris) -> Ephemeris:
    """The ephemeris with the box width of largest Δln L among template width × 2^(−1 ... 1)."""
    dll, duration = _best_duration(model, ephemeris, "box")
    return ephemeris.with_box(duration) if np.isfinite(dll) and dll > 0 else ephemeris


#: ramp fractions of the trapezoids tried by :func:`best_dip_shape` (0: the box)
INGRESS_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.5)


def best_dip_shape(model: FittedModel, ephemeris: Ephemeris) -> DipShape:
    """The trapezoid (or box) of largest Δln L over widths × 2^(−1 ... 1) and ramp fractions.

    At high S/N a box leaves the ingress and egress in the residuals, and events sampled at
    different phases of the cadence then get different box depths; the best trapezoid
    follows a limb-darkened transit closely enough for the per-event tests.
    """
    best = (-np.inf, DipShape())
    for fraction in INGRESS_FRACTIONS:
        for f in DURATION_FACTORS:
            width = ephemeris.template_duration * f
            if not ephemeris.single and width / 24.0 >= 0.5 * ephemeris.period:
                continue
            shape = DipShape(width, fraction)
            b = model.modulate(shape.template(model.time, ephemeris, model.exposure))
            if not np.any((b > 0) & _usable(model)):
                continue
            proj = model.ml.project(b)
            dll = float(proj.delta_log_likelihood) if proj.numerator < 0 else 0.0
            if dll > best[0]:
                best = (dll, shape)
    return best[1]


#: ramp fractions of the flat-bottomed (U) shapes of :func:`shape_test`: the box and trapezoids whose
#: ingress and egress each take at most a fifth of the width (a limb-darkened planet transit)
U_INGRESS_FRACTIONS = (0.0, 0.1, 0.2)


def shape_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig) -> VetTest:
    """V versus U: best triangle Δln L minus the best flat-bottomed shape's over durations D/2 ... 2D.

    U is the best of the box and the trapezoids with ramps of 10 % and 20 % of the width: at
    high S/N a limb-darkened central transit is fitted better by a triangle than by a pure box
    (an injected 8.77-d planet, b = 0.13, lost by 6.8 to the triangle against the box), but not
    better than by a trapezoid with short ramps.
    """
    name = "shape_v_vs_u"
    scans = [(fraction, *_best_duration(model, ephemeris, fraction)) for fraction in U_INGRESS_FRACTIONS]
    fraction_u, u, du = max(scans, key=lambda scan: scan[1])
    v, dv = _best_duration(model, ephemeris, "triangle")
    if not (np.isfinite(u) and np.isfinite(v)):
        return VetTest.not_run(name, "no in-transit data", threshold=config.shape_delta_loglike)
    threshold = config.shape_delta_loglike + config.shape_floor * max(u, 0.0)
    return VetTest.judge(name, v - u, threshold,
                         f"U (ramps {fraction_u:.0%} of the width) Δln L {u:.1f} ({du:.2f} h), triangle {v:.1f} "
                         f"({dv:.2f} h); threshold {config.shape_delta_loglike:g} + {config.shape_floor:g} × U",
                         extras={"u_delta_loglike": u, "u_duration": du, "u_ingress_fraction": fraction_u,
                                 "triangle_delta_loglike": v, "triangle_duration": dv,
                                 "shape_floor": config.shape_floor})


def max_central_duration(period: float, density: float, radius_ratio: float) -> float:
    """T14 [h] of a central (b = 0) circular transit around a star of ``density`` [solar].

    a/R★ = (G ρ P² / 3π)^(1/3),  T14 = P/π · asin((1 + k) / (a/R★)).
    """
    rho = density * SOLAR_DENSITY
    a = (_G_CGS * rho * (period * 86400.0) ** 2 / (3 * np.pi)) ** (1.0 / 3.0)
    return 24.0 * period / np.pi * math.asin(min(1.0, (1.0 + radius_ratio) / a))


def duration_test(model: FittedModel, ephemeris: Ephemeris, config: VetConfig,
                  stellar_density: float | None = None) -> VetTest:
    """Best box duration against the longest central-transit T14 the star's density allows."""
    name = "duration_density"
    if ephemeris.single:
        return VetTest.not_run(name, "single event (no period)", threshold=config.duration_ratio, unit="h/h")
    dll, duration = _best_duration(model, ephemeris, "box")
    if not np.isfinite(dll) or dll <= 0:
        return VetTest.not_run(name, "no dimming in transit", threshold=config.duration_ratio, unit="h/h")
    depth = float(fit_templates(model.ml, model.box(ephemeris, duration)).amplitude[0])
    k = min(math.sqrt(max(depth, 0.0)), 0.5)
    density = config.density_range[0] if stellar_density is None else float(stellar_density)
    if not density > 0:
        raise DataValidationError(f"stellar_density={stellar_density} must be > 0 [solar units]")
    longest = max_central_duration(ephemeris.period, density, k)
    ratio = duration / longest
    source = "given" if stellar_density is not None else "lowest main-sequence"
    return VetTest.judge(name, ratio, config.duration_ratio,
                         f"best box {duration:.2f} h; a central transit lasts at most {longest:.2f} h around a "
                         f"star of {density:g} solar densities ({source})", unit="h/h",
                         extras={"best_duration": duration, "max_duration": longest, "density": density})


def folded_light_curve(model: FittedModel, ephemeris: Ephemeris, odd_even: VetTest) -> FoldedLightCurve:
    """Systematics and stellar signal (posterior means, transit box in the mean) removed, folded."""
    box = model.dip(ephemeris)
    fit = fit_templates(model.ml, box)
    parts = model.ml.with_mean(-fit.amplitude[0] * box).predict()
    flat = model.y - parts.systematics - parts.stellar
    keep = ~model.excluded
    x = odd_even.extras
    return FoldedLightCurve(hours=24.0 * ephemeris.offset(model.time)[keep], flux=1e6 * flat[keep],
                            epoch=ephemeris.epoch(model.time)[keep], duration=ephemeris.template_duration,
                            depth_odd=x.get("depth_odd"), depth_odd_err=x.get("depth_odd_err"),
                            depth_even=x.get("depth_even"), depth_even_err=x.get("depth_even_err"))
