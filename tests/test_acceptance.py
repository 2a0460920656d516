"""The real-planet acceptance set (benchmarks/bench_acceptance.py), maximum likelihood only, and
the false-claim set on inverted real light curves.

K2-136 b, c, d and K2-3 b, c are claimed in tests/test_run.py; here the TESS and Kepler
targets: WASP-126 b, WASP-46 b (neighbour light divided out) and Kepler-8 b (from its pixel
file) are claimed with Rp/R★ near the values their depths imply, and TOI-216 c, one transit
in sector 1, is a single-event candidate, never a claim.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_acceptance.py"


@pytest.fixture(scope="module")
def acceptance():
    spec = importlib.util.spec_from_file_location("bench_acceptance_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["wasp-126", "wasp-46", "kepler-8", "toi-216"])
def test_known_planets_are_claimed_or_reported_as_single_events(acceptance, shared_data, name):
    run = acceptance.run_acceptance_target(name, sample=False)
    for planet, period, depth, expected in acceptance.ACCEPTANCE[name]["planets"]:
        status, outcome = acceptance.outcome_of(run, period, depth, expected)
        assert status == expected, (planet, status, [o.claim_blockers for o in run.outcomes])
        fit = outcome.fit.maximum_likelihood
        if expected == "claimed":
            assert abs(fit["period"] / period - 1) < 1e-3, (planet, fit["period"])
            # the star's own size (CROWDSAP divided out): (Rp/R*)^2 within 30 % of MANIFEST's rough depth
            assert abs(fit["rp_over_rs"] ** 2 * 1e6 / depth - 1) < 0.3, (planet, fit["rp_over_rs"], depth)
        else:
            assert outcome.single_event and not outcome.claimed and outcome.fit.single_transit
    assert all(o.single_event is False for o in run.claimed)
    assert math.isfinite(run.seconds["total"])


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("index", [16, 64, 112])
def test_inverted_real_light_curves_are_never_claimed(shared_data, index):
    """The false-claim set on real data: a C13 star's raw FRAW turned upside down (2·median −
    flux: no transit survives as a dip, flares and systematics bumps become dips), run with
    every default but the sampling, with the other C13 stars as regressors: nothing is claimed."""
    import halfsib
    from halfsib.fit import FitConfig
    from halfsib.injection.inject import invert_flux
    from halfsib.run import RunConfig, run_target

    files = sorted((shared_data / "k2-c13" / "k2sff").glob("*.fits"))
    target = [f for f in files if "247589423" not in f.name][index]
    lc = halfsib.read(target)
    inverted = lc.replace(flux=invert_flux(lc.flux))
    run = run_target(inverted, others=[f for f in files if f != target], config=RunConfig(fit=FitConfig(sample=False)))
    assert run.claimed == (), [(o.candidate.period, o.candidate.depth, o.claim_blockers) for o in run.claimed]
