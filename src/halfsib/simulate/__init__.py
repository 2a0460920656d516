"""Seeded synthetic K2/TESS campaigns with truth, for tests, demos and injection-recovery.

Many stars on one detector patch share one instrument: K2's roll sawtooth reset by
thruster firings, drift, focus and velocity aberration, or TESS's jitter, momentum dumps,
orbit gap and scattered light; a two-component PRF that varies over the field, intra- and
inter-pixel response, saturation with charge bleeding, photon, read and background noise,
cosmic rays. Stars vary (celerite2 GPs); some are eclipsing binaries (some next to a
neighbour, so eclipses leak), some host transiting planets (:mod:`halfsib.transit`).
Output files are in the missions' formats, readable by lightkurve and :mod:`halfsib.io`.

Examples
--------
>>> from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign
>>> camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=50, seed=1))  # doctest: +SKIP
>>> write_campaign(camp, "sim/")  # doctest: +SKIP
"""

from __future__ import annotations

from .campaign import Campaign, simulate_campaign
from .config import SimulationConfig
from .writers import write_campaign

__all__ = ["SimulationConfig", "Campaign", "simulate_campaign", "write_campaign"]
