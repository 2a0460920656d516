"""The simulator against real K2 data: the roll systematics have the real amplitude and the noise the real level."""

from __future__ import annotations

import numpy as np
import pytest

from halfsib.io import read, read_many
from halfsib.io.quality import THRUSTER_FIRING
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

pytestmark = pytest.mark.shared_data


def sawtooth_amplitude(lc) -> float:
    """Median over roll cycles of the 5-95 % range of the normalised flux between firings."""
    flux = lc.flux / np.median(lc.flux[lc.good])
    fires = np.flatnonzero(lc.quality & THRUSTER_FIRING)
    ranges = []
    for a, b in zip(fires[:-1], fires[1:]):
        seg = slice(a + 1, b)
        x = flux[seg][lc.good[seg]]
        if x.size > 5:
            ranges.append(np.percentile(x, 95) - np.percentile(x, 5))
    return float(np.median(ranges))


def test_roll_sawtooth_amplitude_matches_real_k2(shared_data, tmp_path):
    real, _ = read_many(str(shared_data / "k2-c5/ktwo*.fits"), show_progress=False)
    real_amp = np.median([sawtooth_amplitude(lc) for lc in real])
    campaign = simulate_campaign(SimulationConfig(mission="k2", n_stars=16, n_cadences=800, seed=5))
    write_campaign(campaign, tmp_path, pixels=False, progress=False)
    sim, _ = read_many(tmp_path / "lc", show_progress=False)
    sim_amp = np.median([sawtooth_amplitude(lc) for lc in sim])
    assert 0.5 < sim_amp / real_amp < 2.0, (sim_amp, real_amp)
    # the firing cadence rate is the real one (every ~6 h)
    real_rate = np.mean([np.count_nonzero(lc.quality & THRUSTER_FIRING) / lc.n_cadences for lc in real])
    sim_rate = np.mean([np.count_nonzero(lc.quality & THRUSTER_FIRING) / lc.n_cadences for lc in sim])
    assert sim_rate == pytest.approx(real_rate, rel=0.35)


def slow_trend_range(lc, days: float = 2.0) -> float:
    """Range of the 2-day medians of the normalised flux: drift, focus and aberration losses."""
    flux = lc.flux / np.median(lc.flux[lc.good])
    t, f = lc.time[lc.good], flux[lc.good]
    bins = np.digitize(t, np.arange(t.min(), t.max() + days, days))
    medians = [np.median(f[bins == k]) for k in np.unique(bins) if np.count_nonzero(bins == k) > 20]
    return float(np.ptp(medians))


def test_slow_trends_match_real_k2(shared_data, tmp_path):
    real, _ = read_many(str(shared_data / "k2-c5/ktwo*.fits"), show_progress=False)
    real_range = np.median([slow_trend_range(lc) for lc in real])
    campaign = simulate_campaign(SimulationConfig(mission="k2", n_stars=12, seed=6))  # a full campaign
    write_campaign(campaign, tmp_path, pixels=False, progress=False)
    sim, _ = read_many(tmp_path / "lc", show_progress=False)
    sim_range = np.median([slow_trend_range(lc) for lc in sim])
    assert 0.4 < sim_range / real_range < 2.5, (sim_range, real_range)


def test_tess_noise_level_matches_the_real_sector(shared_data, tmp_path):
    real = read(shared_data / "tess-s1-cam4-ccd1/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits")
    campaign = simulate_campaign(SimulationConfig(mission="tess", n_stars=6, n_cadences=3000, seed=2,
                                                  mag_range=(real.meta.magnitude, real.meta.magnitude + 0.01)))
    write_campaign(campaign, tmp_path, pixels=False, progress=False)
    sim, _ = read_many(tmp_path / "lc", show_progress=False)
    real_rel = np.median(real.flux_err[real.good] / real.flux[real.good])
    sim_rel = np.median([np.median(lc.flux_err[lc.good] / lc.flux[lc.good]) for lc in sim])
    assert 0.5 < sim_rel / real_rel < 2.0, (sim_rel, real_rel)
