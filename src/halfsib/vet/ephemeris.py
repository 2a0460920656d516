"""A candidate's ephemeris and the unit-depth templates every vetting test and ladder rung fits.

Templates are *dimming* profiles: positive where the star gets fainter, 1 at the bottom of
a box, so a fitted amplitude is a depth in relative flux (positive = dimming). Times are
days in the light curve's own system; durations are hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError

__all__ = ["Ephemeris", "DipShape", "box_template", "trapezoid_template", "transit_template"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Ephemeris:
    """Where a candidate's transits are.

    Attributes
    ----------
    period : float
        Orbital period [d]; ``math.inf`` for a single event.
    t0 : float
        A mid-transit time [d], in the light curve's time system.
    duration : float
        Total duration T14 [h]: what is masked in the hyper-parameter fits.
    box_duration : float or None
        Width [h] of the box template (the search's best box); None: ``duration``.
    """

    period: float
    t0: float
    duration: float
    box_duration: float | None = None

    def __post_init__(self) -> None:
        if self.box_duration is not None:
            if not (isinstance(self.box_duration, (int, float, np.integer, np.floating))
                    and 0 < self.box_duration <= self.duration * 4):
                raise ConfigurationError(f"Ephemeris.box_duration={self.box_duration!r} must be > 0 [h] and not "
                                         "much longer than the duration")
            object.__setattr__(self, "box_duration", float(self.box_duration))
        for name in ("period", "t0", "duration"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.integer, np.floating)) or math.isnan(value):
                raise ConfigurationError(f"Ephemeris.{name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not (self.period > 0) or not math.isfinite(self.t0) or not (0 < self.duration < math.inf):
            raise ConfigurationError(f"Ephemeris needs period > 0 (inf: single event), finite t0 and "
                                     f"0 < duration < inf [h]; got {self}")
        if math.isfinite(self.period) and self.duration / 24.0 >= 0.5 * self.period:
            raise ConfigurationError(f"Ephemeris.duration={self.duration} h is not shorter than half the "
                                     f"period ({self.period} d)")

    @classmethod
    def of(cls, candidate: Any) -> Ephemeris:
        """From a :class:`~halfsib.search.Candidate`, a :class:`~halfsib.transit.TransitParams`,
        an :class:`Ephemeris` or a ``(period, t0, duration_h)`` tuple."""
        if isinstance(candidate, Ephemeris):
            return candidate
        if isinstance(candidate, tuple) and len(candidate) == 3:
            return cls(*candidate)
        from ..transit import TransitParams, transit_duration

        if isinstance(candidate, TransitParams):
            return cls(candidate.period, candidate.t0, 24.0 * transit_duration(candidate))
        try:
            box = getattr(candidate, "box_duration", None)
            return cls(candidate.period, candidate.t0, candidate.duration, float(box) if box else None)
        except AttributeError:
            raise ConfigurationError(f"cannot read period, t0 and duration from {type(candidate).__name__}; "
                                     "pass a search Candidate, TransitParams, Ephemeris or "
                                     "(period [d], t0 [d], duration [h])") from None

    @property
    def template_duration(self) -> float:
        """Width [h] of the box template: ``box_duration``, else ``duration``."""
        return self.duration if self.box_duration is None else self.box_duration

    def with_box(self, box_duration: float) -> Ephemeris:
        """A copy with another box width [h]."""
        return Ephemeris(self.period, self.t0, self.duration, box_duration)

    @property
    def single(self) -> bool:
        """True for a single event (no period)."""
        return not math.isfinite(self.period)

    def offset(self, time: FloatArray, phase: float = 0.0) -> FloatArray:
        """Time [d] from the nearest event centre at orbital ``phase`` (0: transit, 0.5: secondary)."""
        centre = self.t0 + phase * (0.0 if self.single else self.period)
        if self.single:
            return time - centre
        return np.mod(time - centre + 0.5 * self.period, self.period) - 0.5 * self.period

    def epoch(self, time: FloatArray) -> NDArray[np.int64]:
        """Index of the nearest transit (0 at ``t0``)."""
        if self.single:
            return np.zeros(np.shape(time), np.int64)
        return np.round((time - self.t0) / self.period).astype(np.int64)

    def in_transit(self, time: FloatArray, factor: float = 1.0, phase: float = 0.0) -> NDArray[np.bool_]:
        """Cadences within ``factor`` × duration / 2 of an event centre (NaN times: False)."""
        with np.errstate(invalid="ignore"):
            return np.abs(self.offset(time, phase)) < 0.5 * factor * self.duration / 24.0

    def observed_epochs(self, time: FloatArray, min_fraction: float = 0.5) -> NDArray[np.int64]:
        """Epoch numbers (0 at ``t0``) of the transits with data: at least ``min_fraction`` of
        the cadences a transit of ``duration`` spans (at the median cadence of ``time``) are in ``time``."""
        t = np.asarray(time, float)
        t = t[np.isfinite(t)]
        inside = self.in_transit(t)
        if t.size < 2 or not inside.any():
            return np.zeros(0, np.int64)
        expected = max(1.0, self.duration / 24.0 / float(np.median(np.diff(np.sort(t)))))
        epochs, counts = np.unique(self.epoch(t[inside]), return_counts=True)
        return epochs[counts >= min_fraction * expected]

    def alias_factor(self, time: FloatArray, min_fraction: float = 0.5) -> int:
        """The largest m for which every transit with data (:meth:`observed_epochs`) also fits a
        period m·P: the greatest common divisor of their epoch differences.

        1: the period is the only one the data allow; m ≥ 2: the transits between those observed
        fall in gaps, so P·m (and any P·k with k dividing m) fits as well; 0: fewer than two
        transits have data (a single event; the period is not constrained by repetition).
        """
        epochs = self.observed_epochs(time, min_fraction)
        if self.single or epochs.size < 2:
            return 0
        return int(np.gcd.reduce(np.diff(epochs)))


def box_template(time: FloatArray, ephemeris: Ephemeris, duration: float | None = None,
                 phase: float = 0.0, exposure: float | None = None) -> FloatArray:
    """A box of width ``duration`` [h] (default the ephemeris' box width) at orbital ``phase``, unit depth.

    Without ``exposure``: 1 on |t − centre| < duration/2, else 0. With ``exposure`` [d]: the
    fraction of each exposure [t − exposure/2, t + exposure/2] that overlaps the box (exact
    integration of the box over the exposure), so the amplitude is the depth of the unsmeared box.
    """
    d = (ephemeris.template_duration if duration is None else duration) / 24.0
    x = ephemeris.offset(time, phase)
    if not exposure:
        return (np.abs(x) < 0.5 * d).astype(np.float64)
    overlap = np.minimum(x + 0.5 * exposure, 0.5 * d) - np.maximum(x - 0.5 * exposure, -0.5 * d)
    return np.clip(overlap, 0.0, None) / exposure


def trapezoid_template(time: FloatArray, ephemeris: Ephemeris, duration: float | None = None,
                       ingress_fraction: float = 0.5, exposure: float | None = None,
                       supersample: int = 15, phase: float = 0.0) -> FloatArray:
    """Symmetric trapezoid of total width ``duration`` [h], ramps of ``ingress_fraction`` × duration.

    ``ingress_fraction`` in (0, 0.5]; 0.5 is a triangle (V shape), → 0 tends to the box.
    With ``exposure`` [d] the profile is averaged over ``supersample`` points of each exposure
    (mid-point rule).
    """
    if not 0 < ingress_fraction <= 0.5:
        raise ConfigurationError(f"ingress_fraction={ingress_fraction} must be in (0, 0.5]")
    d = (ephemeris.template_duration if duration is None else duration) / 24.0

    def profile(t: FloatArray) -> FloatArray:
        return np.clip((0.5 * d - np.abs(ephemeris.offset(t, phase))) / (ingress_fraction * d), 0.0, 1.0)

    if not exposure:
        return profile(np.asarray(time, dtype=np.float64))
    offsets = ((np.arange(supersample) + 0.5) / supersample - 0.5) * exposure
    return profile(np.asarray(time, dtype=np.float64)[:, None] + offsets[None, :]).mean(axis=1)


def transit_template(time: FloatArray, params: Any, exposure_time: float | None = None) -> FloatArray:
    """Limb-darkened dimming profile of :class:`~halfsib.transit.TransitParams`, 1 at mid-transit.

    ``(1 − transit_flux(t)) / (1 − transit_flux(t0))`` with the central value taken without
    exposure smearing, so a fitted amplitude is the central depth (relative flux).
    """
    from ..transit import transit_flux

    central = 1.0 - float(transit_flux(np.array([params.t0]), params)[0])
    if not central > 0:
        raise ConfigurationError(f"TransitParams {params} give no transit (b >= 1 + Rp/R*)")
    return (1.0 - transit_flux(time, params, exposure_time=exposure_time)) / central


@dataclass(frozen=True)
class DipShape:
    """The dimming profile the vetting tests fit: a box, a trapezoid or a limb-darkened transit.

    Attributes
    ----------
    width : float or None
        Total width [h] of the box or trapezoid (None: the ephemeris' box width).
    ingress_fraction : float
        0 for a box; else each ramp lasts this fraction of the width (0.5: a triangle).
    params : TransitParams or None
        A limb-darkened transit (overrides width and ingress; its own period and t0 are used).
    """

    width: float | None = None
    ingress_fraction: float = 0.0
    params: Any = None

    def template(self, time: FloatArray, ephemeris: Ephemeris, exposure: float | None = None,
                 phase: float = 0.0) -> FloatArray:
        """Unit-depth dimming profile at orbital ``phase`` (0: transit, 0.5: secondary)."""
        if self.params is not None:
            shifted = self.params.replace(t0=self.params.t0 + phase * self.params.period)
            return transit_template(time, shifted, exposure_time=exposure)
        if self.ingress_fraction <= 0:
            return box_template(time, ephemeris, self.width, phase, exposure=exposure)
        return trapezoid_template(time, ephemeris, self.width, self.ingress_fraction, exposure=exposure, phase=phase)

    def describe(self, ephemeris: Ephemeris) -> str:
        """A short label: ``"box 2.40 h"``, ``"trapezoid 3.00 h, ramps 20 %"``, ``"limb-darkened transit"``."""
        if self.params is not None:
            return "limb-darkened transit"
        width = ephemeris.template_duration if self.width is None else self.width
        if self.ingress_fraction <= 0:
            return f"box {width:.2f} h"
        return f"trapezoid {width:.2f} h, ramps {self.ingress_fraction:.0%}"
