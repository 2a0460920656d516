"""Ladder curves and vetting outcomes on the simulated cases of tests/helpers/vet_campaign.py, with timings.

    python benchmarks/bench_ladder_vet.py

Prints one ladder table (S/N per rung) per case and the vetting summary, and the time per
candidate (ladder; vetting reusing the ladder's top model). Numbers are quoted in docs/ladder.md
and docs/vet.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import vet_campaign as vc  # noqa: E402

from halfsib.ladder import flexibility_ladder  # noqa: E402
from halfsib.pipeline import prepare_target  # noqa: E402
from halfsib.vet import Ephemeris, vet  # noqa: E402


def _cases():
    yield "planet (K2, 901100015)", vc.PLANET_HOST, lambda: vc.searched(vc.PLANET_HOST)
    yield "EB on target (K2, 901100007)", vc.EB, lambda: vc.searched(vc.EB)
    for target, eb in vc.LEAK_TARGETS:
        b = vc.body(eb)
        yield (f"neighbour EB {eb} leaking into {target}", target,
               lambda b=b: Ephemeris(float(b["period"]), float(b["t0"]), float(b["duration"])))


def main() -> None:
    print(f"load: {os.getloadavg()}")
    rows = []
    for label, star, candidate in _cases():
        stamp, lc, design = vc.prepared(star)
        cand = candidate()
        t0 = time.perf_counter()
        ladder = flexibility_ladder(lc, design, cand)
        t1 = time.perf_counter()
        report = vet(lc, design, cand, pixels=stamp, model=ladder.top_model)
        t2 = time.perf_counter()
        rows.append((label, ladder, report, t1 - t0, t2 - t1, lc.n_good, design.n_columns))
    target, others, cand = vc.instrumental_dip_set(depth=2e-3, n_stars=30, mission="tess")
    lc, design = prepare_target(target, others=others)
    t0 = time.perf_counter()
    ladder = flexibility_ladder(lc, design, cand)
    t1 = time.perf_counter()
    report = vet(lc, design, cand, model=ladder.top_model)
    rows.append(("instrumental dip in 30 TESS stars", ladder, report, t1 - t0, time.perf_counter() - t1, lc.n_good,
                 design.n_columns))
    for label, ladder, report, t_ladder, t_vet, n, m in rows:
        curve = ", ".join(f"{r.name} {r.snr:.1f}" for r in ladder.evaluated)
        print(f"\n{label}: N={n}, M={m}; ladder {t_ladder:.1f} s, vet {t_vet:.1f} s; claimed={ladder.claimed}")
        print(f"  S/N: {curve}")
        print(f"  vetting {'passed' if report.passed else 'failed: ' + ', '.join(report.failed)}; "
              f"not run: {', '.join(report.not_run) or '-'}")
        for t in report.tests:
            value = "-" if t.value is None else f"{t.value:.3g}"
            print(f"    {t.name:24s} {value:>10s} {t.unit:8s} {t.passed}")
    print(f"\nload: {os.getloadavg()}")


if __name__ == "__main__":
    main()
