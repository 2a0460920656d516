"""The real-planet acceptance set: `halfsib run` with defaults on known planets, claimed or not.

    python benchmarks/bench_acceptance.py                  # every target, defaults (emcee on)
    python benchmarks/bench_acceptance.py --targets wasp-46 kepler-8 --no-sample

Each target is run as ``halfsib run`` runs it (``run_target`` with the default ``RunConfig``,
one process). For every known planet the table gives what halfsib made of it: **claimed**,
**single event** (one transit in the data: a single-event candidate, never claimed),
**found, not claimed** (with the first reason), or **missed**; the fitted period and
Rp/R★ (posterior median when sampled, else maximum likelihood, with its 1σ), (Rp/R★)²
against the approximate depth in ``../shared/data/MANIFEST.md`` (a rough check: limb
darkening makes the central depth 10–30 % deeper than (Rp/R★)²), the per-event depths'
χ² about their common depth (errors calibrated on null events, the vetting's model floor
included) and the fractional floor they need to bring it to its expectation
(``floor_needed``: the event-to-event scatter a real planet shows beyond its errors), and
the wall time.
Needs ``../shared/data``; exits with a message without it. The table is quoted in
docs/run.md; ``tests/test_acceptance.py`` runs the same set (maximum likelihood only).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: target -> files, and its known planets: (name, period [d], approximate depth [ppm] from
#: MANIFEST.md, expected outcome in one sector/campaign: "claimed" or "single event")
ACCEPTANCE: dict[str, dict[str, Any]] = {
    "k2-136": dict(target="k2-c13/k2sff/hlsp_k2sff_k2_lightcurve_247589423-c13_kepler_v1_llc.fits",
                   others=["k2-c13/k2sff"], cbv=None,
                   planets=[("K2-136 b", 7.975, 180, "claimed"), ("K2-136 c", 17.307, 1500, "claimed"),
                            ("K2-136 d", 25.575, 390, "claimed")]),
    "k2-3": dict(target="k2-c1/hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits", others=[],
                 cbv="k2-c1/everest_c01_cbv_basis.txt",
                 planets=[("K2-3 b", 10.054, 1200, "claimed"), ("K2-3 c", 24.644, 880, "claimed")]),
    "wasp-126": dict(target="tess-s1-cam4-ccd1/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits",
                     others=[], cbv=None, planets=[("WASP-126 b", 3.289, 6000, "claimed")]),
    "toi-216": dict(target="tess-s1-cam4-ccd1/hlsp_tess-data-alerts_tess_phot_00055652896-s01_tess_v1_lc.fits",
                    others=[], cbv=None,
                    planets=[("TOI-216 c", 34.56, None, "single event")]),
    "wasp-46": dict(target="tess-s1-cam2-ccd4/tess2018206045859-s0001-0000000231663901-0120-s_lc.fits",
                    others=[], cbv=None, planets=[("WASP-46 b", 1.4304, 20000, "claimed")]),
    "kepler-8": dict(target="kepler-q4-ch31/kplr006922244-2010078095331_lpd-targ.fits", others=[], cbv=None,
                     planets=[("Kepler-8 b", 3.5225, 9000, "claimed")]),
}

#: a planet expected as a single event is matched by any single event of the run whose depth
#: is within this factor of the planet's (any single event when the depth is not given):
#: without a period there is no ephemeris to match, and one sector has few such events
SINGLE_DEPTH_FACTOR = 3.0


def run_acceptance_target(name: str, sample: bool = True) -> Any:
    """``run_target`` on one acceptance target with the default settings (``sample=False``: no emcee)."""
    from halfsib.fit import FitConfig
    from halfsib.run import RunConfig, run_target

    spec = ACCEPTANCE[name]
    config = RunConfig() if sample else RunConfig(fit=FitConfig(sample=False))
    return run_target(DATA / spec["target"], others=[DATA / p for p in spec["others"]],
                      cbv=DATA / spec["cbv"] if spec["cbv"] else None, config=config)


def outcome_of(run: Any, period: float, depth: float | None, expected: str) -> tuple[str, Any]:
    """What the run made of a known planet: (status, the matching outcome or None)."""
    for o in run.outcomes:
        c = o.candidate
        if not o.single_event and abs(c.period / period - 1.0) < 0.003:
            return ("claimed" if o.claimed else "found, not claimed"), o
    if expected == "single event":
        for o in run.outcomes:
            if o.single_event and (depth is None or 1 / SINGLE_DEPTH_FACTOR < o.candidate.depth / depth
                                   < SINGLE_DEPTH_FACTOR):
                return ("single event" if o.single_event_candidate else "single event, not a candidate"), o
    return "missed", None


def _radius(o: Any) -> str:
    if o is None or o.fit is None:
        return "–"
    post = (o.fit.posterior or {}).get("rp_over_rs")
    if post is not None:
        return f"{post.median:.4f} −{post.minus:.4f} +{post.plus:.4f}"
    return f"{o.fit.maximum_likelihood['rp_over_rs']:.4f} ± {o.fit.fisher_errors.get('rp_over_rs', math.nan):.4f}"


def _scatter(o: Any) -> str:
    """The depth-consistency test's χ²/dof and the fractional floor its per-event depths need."""
    if o is None or o.vetting is None:
        return "–"
    try:
        test = o.vetting["depth_consistency"]
    except KeyError:
        return "–"
    extras = test.extras or {}
    if "floor_needed" not in extras:
        return "–"
    return f"{extras['chi2']:.1f}/{extras['dof']} · {100 * extras['floor_needed']:.1f} %"


def _row(planet: tuple, run: Any, seconds: float) -> str:
    name, period, depth, expected = planet
    status, o = outcome_of(run, period, depth, expected)
    found_p = "–" if o is None or o.fit is None else f"{o.fit.maximum_likelihood['period']:.4f}"
    k = None if o is None or o.fit is None else o.fit.maximum_likelihood["rp_over_rs"]
    depth_text = "–" if k is None or depth is None else f"{1e6 * k * k:.0f} / {depth} = {1e6 * k * k / depth:.2f}"
    reason = "" if status in ("claimed", "single event") or o is None else o.claim_blockers[0][:70]
    ok = "yes" if status == expected else "**no**"
    return (f"| {name} | {period} | {expected} | {status}{' (' + reason + ')' if reason else ''} | {ok} | {found_p} | "
            f"{_radius(o)} | {depth_text} | {_scatter(o)} | {seconds:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(ACCEPTANCE), choices=list(ACCEPTANCE))
    parser.add_argument("--no-sample", action="store_true", help="maximum likelihood only (no emcee)")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"bench_acceptance: {DATA} is absent (the real K2, Kepler and TESS files); nothing to measure")
        return 0
    print("| planet | P [d] | expected | halfsib run | as expected | fitted P [d] | Rp/R★ | (Rp/R★)² / MANIFEST "
          "depth [ppm] | depths χ²/dof · floor needed | run [s] |")
    print("|---|---:|---|---|---|---:|---|---|---|---:|")
    for name in args.targets:
        started = time.perf_counter()
        run = run_acceptance_target(name, sample=not args.no_sample)
        seconds = time.perf_counter() - started
        for planet in ACCEPTANCE[name]["planets"]:
            print(_row(planet, run, seconds), flush=True)
        others = [o for o in run.outcomes if o.claimed and not any(
            outcome_of(run, p, d, e)[1] is o for _, p, d, e in ACCEPTANCE[name]["planets"])]
        for o in others:
            print(f"| ({name}: another claim) | {o.candidate.period:.4f} | – | claimed | **no** | – | {_radius(o)} | – | "
                  f"{_scatter(o)} | {seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
