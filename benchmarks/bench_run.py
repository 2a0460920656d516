"""`halfsib run` end to end on real K2 and TESS targets: the wall-time breakdown, serial against a pool.

    python benchmarks/bench_run.py                 # K2-136, K2-3, WASP-46 and WASP-126
    python benchmarks/bench_run.py --targets k2-136 wasp-46 --workers 2

K2-136 (C13, 131 other stars), K2-3 (C1, EVEREST CBV basis), WASP-46 and WASP-126 (TESS
sector 1 SPOC 2-min light curves, ~18,000 good cadences each, no other stars: the common
case of a TESS 2-min user with one star).

Runs the CLI's own path (``run_target`` with a spawn process pool of ``--workers`` and, for the
ratio, one after the other in this process), then writes the outputs and the report figure,
as ``halfsib run`` does. Prints one table per target: read / detrend / search / candidates /
write / total, and per candidate the fit, sampling, ladder and vetting times, and the ratio
serial / pool. Needs ``../shared/data`` (the real files); exits with a message without it.
The numbers are quoted in docs/run.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TARGETS = {
    "k2-136": dict(target="k2-c13/k2sff/hlsp_k2sff_k2_lightcurve_247589423-c13_kepler_v1_llc.fits",
                   others=["k2-c13/k2sff"], cbv=None),
    "k2-3": dict(target="k2-c1/hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits", others=[],
                 cbv="k2-c1/everest_c01_cbv_basis.txt"),
    "wasp-46": dict(target="tess-s1-cam2-ccd4/tess2018206045859-s0001-0000000231663901-0120-s_lc.fits", others=[],
                    cbv=None),
    "wasp-126": dict(target="tess-s1-cam4-ccd1/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits",
                     others=[], cbv=None),
}


def _run(name: str, workers: int) -> tuple[Any, float, float]:
    from halfsib.cli.run import _pool
    from halfsib.run import run_target

    spec = TARGETS[name]
    started = time.perf_counter()
    with _pool(workers) as executor:
        result = run_target(DATA / spec["target"], others=[DATA / p for p in spec["others"]],
                            cbv=DATA / spec["cbv"] if spec["cbv"] else None, executor=executor)
    with tempfile.TemporaryDirectory() as out:
        write_started = time.perf_counter()
        result.write(out, overwrite=True)
        write_seconds = time.perf_counter() - write_started
    return result, write_seconds, time.perf_counter() - started


def _table(name: str, workers: int, runs: dict[int, tuple]) -> None:
    print(f"\n{name}: {len(runs[workers][0].outcomes)} candidate(s), load {os.getloadavg()[0]:.2f}")
    print(f"| stage [s] | {' | '.join(f'{w} worker(s)' for w in runs)} |")
    print(f"|---|{'---:|' * len(runs)}")
    for stage in ("read", "detrend", "search", "candidates"):
        print(f"| {stage} | {' | '.join(f'{r.seconds[stage]:.1f}' for r, _, _ in runs.values())} |")
    print(f"| write outputs + report | {' | '.join(f'{w:.1f}' for _, w, _ in runs.values())} |")
    print(f"| **total** | {' | '.join(f'**{t:.1f}**' for _, _, t in runs.values())} |")
    if len(runs) > 1:
        serial, pooled = runs[min(runs)][2], runs[max(runs)][2]
        print(f"ratio {min(runs)} / {max(runs)} worker(s): {serial / pooled:.2f}×")
    result = runs[workers][0]
    for o in result.outcomes:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in o.seconds.items())
        conv = o.fit.sampler.converged if o.fit is not None and o.fit.sampler is not None else None
        print(f"  #{o.index} P={o.candidate.period:.5f} d: {stages} s; sampler converged: {conv}; "
              f"claimed: {o.claimed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-serial", action="store_true", help="skip the one-after-the-other run")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"bench_run: {DATA} is absent (the real K2 and TESS files); nothing to measure")
        return 0
    for name in args.targets:
        runs = {}
        if not args.no_serial:
            runs[1] = _run(name, 1)
        runs[args.workers] = _run(name, args.workers)
        _table(name, args.workers, runs)
    return 0


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
