"""Benchmark the campaign simulator: generation and write times, peak memory.

Run: ``python benchmarks/bench_simulate.py [--quick] [--keep DIR]``

Cases: a full K2 campaign patch (200 stars × 3,500 long cadences), written with and without
pixel files, and a TESS 2-min sector (20 stars × 18,000 cadences). Each case runs in its
own child process, so its peak memory (maximum resident set size, includes the Python
interpreter and imported libraries, ~150 MB) is its own. Generation
(``simulate_campaign``) and writing (``write_campaign``, which re-renders every pixel
stamp from its stored noise seed) are timed separately, on one core. Files go to a
temporary folder that is deleted afterwards unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*tpfmodel.*")

CASES = [
    ("K2 200 stars x 3500, with pixels", dict(mission="k2", n_stars=200, seed=1), True),
    ("K2 200 stars x 3500, LC only", dict(mission="k2", n_stars=200, seed=1), False),
    ("TESS 2-min 20 stars x 18000", dict(mission="tess", n_stars=20, seed=1), True),
]


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss / 1e3


def run_case(index: int, outdir: Path, scale: int) -> dict:
    """Run one case in this process and return its numbers."""
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    name, settings, pixels = CASES[index]
    settings = dict(settings, n_stars=max(2, settings["n_stars"] // scale))
    t0 = time.perf_counter()
    camp = simulate_campaign(SimulationConfig(**settings))
    t1 = time.perf_counter()
    files = write_campaign(camp, outdir, pixels=pixels, overwrite=True, progress=False)
    t2 = time.perf_counter()
    size = sum(p.stat().st_size for p in files) / 1e6
    return {"case": name, "stars": settings["n_stars"], "generate_s": t1 - t0, "write_s": t2 - t1,
            "peak_mb": _peak_rss_mb(), "files": len(files), "size_mb": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the stars (smoke test)")
    parser.add_argument("--keep", type=Path, default=None, help="write into this folder and keep the files")
    parser.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.out, scale)))
        return 0
    root = args.keep or Path(tempfile.mkdtemp(prefix="halfsib-bench-"))
    rows = []
    try:
        for k in range(len(CASES)):
            out = root / f"case{k}"
            cmd = [sys.executable, __file__, "--case", str(k), "--out", str(out)] + (["--quick"] if args.quick else [])
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if args.keep is None:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{'case':<36}{'stars':>6}{'generate [s]':>14}{'write [s]':>11}{'peak RSS [MB]':>15}{'files':>7}"
          f"{'size [MB]':>11}")
    for r in rows:
        print(f"{r['case']:<36}{r['stars']:>6}{r['generate_s']:>14.1f}{r['write_s']:>11.1f}{r['peak_mb']:>15.0f}"
              f"{r['files']:>7d}{r['size_mb']:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
