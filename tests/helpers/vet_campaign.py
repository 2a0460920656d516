"""A small simulated K2 campaign shared by the ladder and vetting tests (built once per session).

Seed 11, 24 stars × 1,200 cadences: star 901100015 hosts a planet (P 2.09 d, 3,900 ppm),
901100007 is an eclipsing binary on its own (23 % primary, 4.4 % secondary), and the
EBs 901100011 and 901100001 sit 2-4 pixels from 901100002 and 901100010 and leak into them.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

CONFIG = dict(mission="k2", n_stars=24, n_cadences=1200, seed=11, planet_fraction=0.4, eb_fraction=0.25,
              eb_leak_fraction=0.5, mag_range=(11.5, 14.5), planet_rp_range=(0.03, 0.1))
PLANET_HOST, EB, LEAK_TARGETS = 901100015, 901100007, ((901100002, 901100011), (901100010, 901100001))


@functools.lru_cache(maxsize=1)
def campaign() -> tuple[Path, object, object]:
    """(folder, truth table, bodies table) of the written campaign."""
    from astropy.table import Table

    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    out = Path(tempfile.mkdtemp(prefix="halfsib_vet_"))
    write_campaign(simulate_campaign(SimulationConfig(**CONFIG)), out, progress=False)
    return out, Table.read(out / "truth.ecsv"), Table.read(out / "planets.ecsv")


def row(star_id: int):
    """The truth-table row of a star."""
    _, truth, _ = campaign()
    return truth[truth["star_id"] == star_id][0]


def body(star_id: int):
    """The bodies-table row of a star's (first) planet or EB."""
    _, _, bodies = campaign()
    return bodies[bodies["star_id"] == star_id][0]


@functools.lru_cache(maxsize=8)
def prepared(star_id: int):
    """(stamp, light curve, design) of a star, regressors from every stamp (ELCs, CPM, PLD, motion)."""
    import halfsib
    from halfsib.pipeline import prepare_target
    from halfsib.regressors import RegressorConfig

    out, _, _ = campaign()
    stamp = halfsib.read(out / row(star_id)["tpf_file"])
    lc, design = prepare_target(stamp, others=[out / "tpf"], regressors=RegressorConfig(motion_windows=10))
    return stamp, lc, design


@functools.lru_cache(maxsize=4)
def searched(star_id: int):
    """The strongest search candidate of a star (nuisance model fitted without a mask).

    When the search finds nothing at the true period (or half or twice it), the truth's
    ephemeris with a box half as wide as T14 stands in: these tests judge the ladder and the
    vetting, not the search.
    """
    from halfsib.model import detrend
    from halfsib.search import search
    from halfsib.vet import Ephemeris

    _, lc, design = prepared(star_id)
    truth = body(star_id)
    period, t0, duration = float(truth["period"]), float(truth["t0"]), float(truth["duration"])
    for cand in search(lc, design, detrend(lc, design), max_planets=1).candidates:
        if min(abs(cand.period / period - r) for r in (0.5, 1.0, 2.0)) < 1e-3:
            return cand
    return Ephemeris(period, t0, duration, 0.5 * duration)


def instrumental_dip_set(period: float = 3.1, t0_offset: float = 1.3, duration_h: float = 3.0,
                         depth: float = 2e-3, seed: int = 5, n_stars: int = 16, mission: str = "k2"):
    """Light curves of a planet- and EB-free campaign with the same dip in every star (an instrument).

    Returns (target light curve, the other stars' light curves, (period, t0, duration)).
    """
    import halfsib
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    out = Path(tempfile.mkdtemp(prefix="halfsib_dip_"))
    config = SimulationConfig(mission=mission, n_stars=n_stars, n_cadences=1200, seed=seed, planet_fraction=0.0,
                              eb_fraction=0.0, cadence="30min" if mission == "tess" else None)
    write_campaign(simulate_campaign(config), out, pixels=False, progress=False)
    curves = [halfsib.read(p) for p in sorted((out / "lc").glob("*.fits"))]
    rng = np.random.default_rng(seed)
    t0 = float(np.nanmin(curves[0].time)) + t0_offset
    dipped = []
    for lc in curves:
        phase = np.mod(lc.time - t0 + 0.5 * period, period) - 0.5 * period
        with np.errstate(invalid="ignore"):
            box = np.abs(phase) < 0.5 * duration_h / 24.0
        dipped.append(lc.replace(flux=lc.flux * (1.0 - depth * rng.uniform(0.5, 1.5) * box)))
    return dipped[0], dipped[1:], (period, t0, duration_h)
