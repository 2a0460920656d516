"""The vetting's self-consistency floors, measured: real planets and simulated planets against simulated EBs.

    python benchmarks/bench_vet_floors.py                      # real acceptance set + simulation
    python benchmarks/bench_vet_floors.py --no-real --stars 40 # the simulation only
    python benchmarks/bench_vet_floors.py --no-sim             # the real planets only

Two vetting tests compare a signal with itself, and at high S/N no instrument model makes a
real transit perfectly self-consistent:

- ``depth_consistency``: the per-event depths' χ² about their common depth. For every
  candidate the table gives ``floor_needed``, the fractional depth floor that brings the
  χ² (errors calibrated on null events) down to its expectation, i.e. the event-to-event
  scatter beyond the errors, as a fraction of the depth (``VetConfig.depth_floor`` is what
  the test adds);
- ``shape_v_vs_u``: Δln L of the best triangle (V) minus the best flat-bottomed shape (U).
  The table gives (V − U) / U, the triangle's fractional gain, which does not grow with S/N
  for a given shape (``VetConfig.shape_floor`` × U is added to the test's threshold).

Rows: the real acceptance set (``bench_acceptance.py``'s targets, claimed or found
planets; needs ``../shared/data``) and a simulated K2 campaign with planets and eclipsing
binaries (``halfsib run`` on every star with a body, each candidate matched to the truth
by period). ``halfsib run`` with defaults, no emcee. The numbers are quoted in docs/vet.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def statistics(outcome: Any) -> dict[str, float]:
    """S/N, floor_needed, χ²/dof and (V − U)/U of one candidate's vetting (NaN where not run)."""
    out = {"snr": math.nan, "floor": math.nan, "chi2_dof": math.nan, "v_minus_u": math.nan, "u": math.nan}
    ladder, report = outcome.ladder, outcome.vetting
    if ladder is not None and ladder.top is not None and ladder.top.snr is not None:
        out["snr"] = float(ladder.top.snr)
    if report is None:
        return out
    tests = {t.name: t for t in report.tests}
    extras = (tests.get("depth_consistency").extras or {}) if "depth_consistency" in tests else {}
    if "floor_needed" in extras:
        out["floor"] = float(extras["floor_needed"])
        out["chi2_dof"] = float(extras["chi2"]) / max(float(extras["dof"]), 1.0)
    shape = (tests.get("shape_v_vs_u").extras or {}) if "shape_v_vs_u" in tests else {}
    if "u_delta_loglike" in shape and shape["u_delta_loglike"] > 0:
        out["u"] = float(shape["u_delta_loglike"])
        out["v_minus_u"] = (float(shape["triangle_delta_loglike"]) - out["u"]) / out["u"]
    return out


def _row(label: str, kind: str, outcome: Any) -> tuple:
    s = statistics(outcome)
    failed = ",".join(outcome.vetting.failed) if outcome.vetting is not None else "–"
    print(f"| {label} | {kind} | {s['snr']:.0f} | {s['chi2_dof']:.2f} | {100 * s['floor']:.1f} % | "
          f"{100 * s['v_minus_u']:+.2f} % | {'yes' if outcome.claimed else 'no'} | {failed or '–'} |", flush=True)
    return kind, s


def real_rows(targets: list[str] | None = None) -> list[tuple]:
    from bench_acceptance import ACCEPTANCE, DATA, outcome_of, run_acceptance_target

    rows = []
    if not DATA.is_dir():
        print(f"({DATA} is absent: no real rows)")
        return rows
    for name, spec in ACCEPTANCE.items():
        if targets and name not in targets:
            continue
        run = run_acceptance_target(name, sample=False)
        for planet, period, depth, expected in spec["planets"]:
            status, outcome = outcome_of(run, period, depth, expected)
            if outcome is not None and not outcome.single_event:
                rows.append(_row(planet, "real planet", outcome))
    return rows


def simulated_rows(n_stars: int, seed: int) -> list[tuple]:
    from astropy.table import Table

    from halfsib.fit import FitConfig
    from halfsib.run import RunConfig, run_target
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    config = SimulationConfig(mission="k2", n_stars=n_stars, seed=seed, planet_fraction=0.4, eb_fraction=0.3,
                              eb_leak_fraction=0.0, mag_range=(10.5, 13.5))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_campaign(simulate_campaign(config), out, pixels=False, progress=False)
        truth, bodies = Table.read(out / "truth.ecsv"), Table.read(out / "planets.ecsv")
        bodies = bodies[bodies["n_events"] >= 2]
        for star in sorted(set(bodies["star_id"])):
            row = truth[truth["star_id"] == star][0]
            run = run_target(out / row["lc_file"], others=[out / "lc"], config=RunConfig(fit=FitConfig(sample=False)))
            for body in bodies[bodies["star_id"] == star]:
                for outcome in run.outcomes:
                    c = outcome.candidate
                    if not outcome.single_event and any(abs(c.period / (body["period"] * f) - 1) < 0.003
                                                        for f in (1.0, 0.5)):
                        rows.append(_row(f"sim {star} P={body['period']:.3f}", f"sim {body['kind']}", outcome))
                        break
    return rows


def _summary(rows: list[tuple]) -> None:
    print("\n| kind | n | floor needed: median, max | (V − U)/U: median, max |")
    print("|---|---:|---|---|")
    for kind in sorted({k for k, _ in rows}):
        stats = [s for k, s in rows if k == kind]
        floors = np.array([s["floor"] for s in stats if np.isfinite(s["floor"])])
        shapes = np.array([s["v_minus_u"] for s in stats if np.isfinite(s["v_minus_u"])])

        def pair(x: np.ndarray, scale: float = 100.0) -> str:
            return f"{scale * np.median(x):.1f} %, {scale * np.max(x):.1f} %" if x.size else "–"
        print(f"| {kind} | {len(stats)} | {pair(floors)} | {pair(shapes)} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-real", action="store_true", help="skip the real acceptance set")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulated campaign")
    parser.add_argument("--targets", nargs="+", default=None, help="real targets (default: the acceptance set)")
    parser.add_argument("--stars", type=int, default=30, help="stars of the simulated campaign")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print("| candidate | kind | ladder S/N | depths χ²/dof | floor needed | (V − U)/U | claimed | vetting failed |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    rows = [] if args.no_real else real_rows(args.targets)
    rows += [] if args.no_sim else simulated_rows(args.stars, args.seed)
    _summary(rows)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
