"""Does the dip live on cadences next to thruster firings, momentum dumps or other flagged events?

The light curve's quality bits mark the events (K2 thruster firings, reaction-wheel
desaturations, attitude tweaks; TESS momentum dumps), and so do short runs (at most three)
of missing cadence numbers: products such as K2SFF drop the thruster-firing cadences. Flagged cadences are usually not
good (not fitted), but the cadences around them are, and that is where an event's
systematics sit. The test compares the depth fitted with all cadences, δ̂_all, with the
depth fitted with the cadences within ``pad`` cadences of a flagged one excluded, δ̂_sub
(same hyper-parameters). Both are efficient linear estimates from nested data, so
Var(δ̂_all − δ̂_sub) = σ_sub² − σ_all² exactly, and z = |δ̂_all − δ̂_sub| / √(σ_sub² − σ_all²)
is a standard normal for a signal that does not care about the flags. ``model_floor`` ×
depth is added in quadrature (see :class:`~halfsib.vet.results.VetConfig`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..io.quality import MOMENTUM_DUMP, THRUSTER_FIRING
from ..timeseries import LightCurve
from .ephemeris import Ephemeris
from .fitted import FittedModel, fit_templates, safe_likelihood
from .results import VetConfig, VetTest

__all__ = ["event_bits", "event_cadences", "flagged_neighbours", "flag_coincidence_test", "MAX_EVENT_GAP"]

#: Kepler/K2 events: attitude tweak, coarse point, desaturation, no fine point, (possible) thruster firing
_KEPLER_EVENTS = 1 | 4 | MOMENTUM_DUMP | 32768 | 524288 | THRUSTER_FIRING
#: TESS events: attitude tweak, coarse point, momentum dump (desaturation), impulsive outlier
_TESS_EVENTS = 1 | 4 | MOMENTUM_DUMP | 512


def event_bits(mission: str) -> int:
    """The quality bits counted as spacecraft events for ``mission``."""
    return _TESS_EVENTS if str(mission).upper() == "TESS" else _KEPLER_EVENTS


#: a run of at most this many missing cadence numbers is a removed event (K2SFF drops its
#: thruster-firing cadences); longer gaps are downlinks or safe modes
MAX_EVENT_GAP = 3


def event_cadences(lc: LightCurve, bits: int) -> NDArray[np.bool_]:
    """Cadences carrying an event bit, or next to a short run of missing cadence numbers."""
    flagged = (np.asarray(lc.quality, np.int64) & bits) != 0
    step = np.diff(np.asarray(lc.cadenceno, np.int64))
    removed = (step > 1) & (step <= MAX_EVENT_GAP + 1)
    flagged[:-1] |= removed
    flagged[1:] |= removed
    return flagged


def flagged_neighbours(lc: LightCurve, index: NDArray[np.int64], bits: int, pad: int = 1) -> NDArray[np.bool_]:
    """For the model-grid cadences ``index``: True within ``pad`` cadences of an event cadence."""
    flagged = event_cadences(lc, bits)
    if pad > 0 and flagged.any():
        kernel = np.ones(2 * pad + 1)
        flagged = np.convolve(flagged.astype(float), kernel, mode="same") > 0
    return flagged[index]


def flag_coincidence_test(lc: LightCurve, model: FittedModel, ephemeris: Ephemeris, config: VetConfig,
                          pad: int = 1) -> VetTest:
    """Depth with and without the in-transit cadences next to flagged events (see module doc)."""
    name = "flag_coincidence"
    bits = config.flag_bits if config.flag_bits is not None else event_bits(lc.meta.mission)
    if not event_cadences(lc, bits).any():
        return VetTest.not_run(name, f"the light curve has no event flags (quality bits {bits}) and no removed "
                               "cadences", threshold=config.flag_sigma, unit="sigma")
    near = flagged_neighbours(lc, model.index, bits, pad) & ~model.excluded
    box = model.dip(ephemeris)
    in_transit = (box > 0) & ~model.excluded
    n_in, n_near = int(in_transit.sum()), int((in_transit & near).sum())
    extras = {"n_in_transit": n_in, "n_near_flags": n_near}
    if n_in == 0:
        return VetTest.not_run(name, "no in-transit cadence", threshold=config.flag_sigma, unit="sigma")
    if n_near == 0:
        return VetTest.judge(name, 0.0, config.flag_sigma, f"none of the {n_in} in-transit cadences is within {pad} "
                             "cadence(s) of a flagged event", unit="sigma", extras=extras)
    if n_near == n_in:
        return VetTest.not_run(name, f"all {n_in} in-transit cadences are next to flagged events: no clean "
                               "cadences to compare with", threshold=config.flag_sigma, unit="sigma")
    ml_sub, reason = safe_likelihood(model, exclude=near)
    if ml_sub is None:
        return VetTest.not_run(name, reason, threshold=config.flag_sigma, unit="sigma")
    full, sub = fit_templates(model.ml, box), fit_templates(ml_sub, box)
    var = float(sub.covariance[0, 0] - full.covariance[0, 0])
    diff = float(full.amplitude[0] - sub.amplitude[0])
    total = var + (config.model_floor * max(float(full.amplitude[0]), 0.0)) ** 2
    z = abs(diff) / math.sqrt(total) if total > 0 else 0.0
    extras.update(depth_all=1e6 * full.amplitude[0], depth_without_flags=1e6 * sub.amplitude[0],
                  difference_err=1e6 * math.sqrt(max(var, 0.0)))
    return VetTest.judge(name, z, config.flag_sigma,
                         f"{n_near} of {n_in} in-transit cadences within {pad} of a flagged event; depth "
                         f"{extras['depth_all']:.0f} ppm with them, {extras['depth_without_flags']:.0f} ppm without",
                         unit="sigma", extras=extras)
