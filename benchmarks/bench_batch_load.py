"""Load test of ``halfsib batch``: a whole simulated campaign on the local pool and on Dask.

Run: ``python benchmarks/bench_batch_load.py [--stars 2000] [--workers 2] [--executors local,dask]
[--cadences N] [--out table.md] [--keep DIR]``

Simulates one K2 campaign patch of ``--stars`` stars (light-curve files only; the
simulator's full K2 campaign, 3,500 long cadences, unless ``--cadences`` shortens it),
warms numba's on-disk cache with one target in this process, then runs the default
detrend + search batch on every star, once per executor: the local process pool and a
local Dask cluster, each with ``--workers`` single-threaded worker processes.

Reported per executor: targets, done, failed, *missing* (targets that are neither complete
— a valid ``done.json`` whose outputs all exist — nor a row of ``failures.ecsv``; must be
0), targets in the catalog (those with at least one candidate), wall time of
``run_batch`` (worker start, header scan, basis, tasks, tables), targets per hour, the mean
task time, and the largest peak resident memory of a worker (MiB, interpreter and
libraries included). Times depend on the machine and its load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message=".*tpfmodel.*")

EXECUTORS = ("local", "dask")


def simulate(n_stars: int, n_cadences: int | None, seed: int, outdir: Path) -> list[str]:
    """Write a K2 campaign patch's light curves; return their paths (sorted)."""
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    config = SimulationConfig(mission="k2", n_stars=n_stars, n_cadences=n_cadences, seed=seed)
    write_campaign(simulate_campaign(config, progress=True), outdir, pixels=False, progress=False)
    return sorted(str(p) for p in (outdir / "lc").glob("*.fits"))


def warm_up(paths: list[str], outdir: Path) -> float:
    """One target in this process (fills numba's on-disk cache for the workers); its seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from halfsib.batch import BatchConfig, run_batch

    start = time.perf_counter()
    with ThreadPoolExecutor(1) as ex:
        run_batch(paths[:2], outdir, BatchConfig(workers=1, progress=False), executor=ex)
    return time.perf_counter() - start


def account(outdir: Path, paths: list[str]) -> dict[str, int]:
    """Every input is complete (valid marker) or in failures.ecsv; count those that are neither."""
    from astropy.table import Table

    from halfsib.batch import read_marker
    from halfsib.batch.execute import MARKER_NAME

    complete = set()
    for marker in outdir.glob(f"targets/*/{MARKER_NAME}"):
        settings_hash = json.loads(marker.read_text()).get("settings_hash", "")
        outcome = read_marker(marker.parent, settings_hash)
        if outcome is not None:
            complete.add(str(Path(outcome.path).resolve()))
    failures = Table.read(outdir / "failures.ecsv")
    failed = {str(Path(p).resolve()) for p, stage in zip(failures["path"], failures["stage"])
              if stage in ("read", "task")}
    catalog = Table.read(outdir / "catalog.ecsv")
    inputs = {str(Path(p).resolve()) for p in paths}
    return {"complete": len(inputs & complete), "failed_rows": len(inputs & failed),
            "missing": len(inputs - complete - failed), "both": len(complete & failed),
            "in_catalog": len(set(catalog["name"]))}


def one_run(executor: str, paths: list[str], n_workers: int, outdir: Path) -> dict[str, Any]:
    """The default batch on every star with ``n_workers`` workers of ``executor``."""
    from halfsib.batch import BatchConfig, run_batch

    config = BatchConfig(workers=n_workers, dask=executor == "dask", progress=True)
    summary = run_batch(paths, outdir, config)
    counts = account(outdir, paths)
    return {"executor": summary.executor, "targets": summary.n_targets, "done": summary.n_done,
            "failed": summary.n_failed, **counts, "wall_s": summary.wall_seconds,
            "per_hour": 3600.0 * summary.n_done / summary.wall_seconds if summary.wall_seconds else 0.0,
            "task_s": summary.task_seconds / max(summary.n_done, 1), "peak_mb": summary.peak_rss_mb,
            "restarts": summary.worker_restarts}


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the runs."""
    lines = ["| executor | targets | done | failed | missing | in catalog | wall [s] | targets/h | mean task [s] | "
             "peak worker RSS [MiB] |", "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['executor']} | {r['targets']} | {r['done']} | {r['failed']} | {r['missing']} | "
                     f"{r['in_catalog']} | {r['wall_s']:.0f} | {r['per_hour']:.0f} | {r['task_s']:.2f} | "
                     f"{r['peak_mb']:.0f} |")
    return "\n".join(lines)


def _header(args: argparse.Namespace, n_cadences: int) -> str:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (f"halfsib batch load test: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average at the end {load}; K2, {args.stars} stars x {n_cadences} cadences, "
            f"{args.workers} workers, detrend + search")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stars", type=int, default=2000, help="simulated stars, all of them targets (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per executor (default 2)")
    parser.add_argument("--executors", default="local,dask", help="local, dask or both (default local,dask)")
    parser.add_argument("--cadences", type=int, default=None, help="cadences per star (default: a full K2 campaign)")
    parser.add_argument("--seed", type=int, default=21, help="simulation seed (default 21)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (markdown) and a .json beside it")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    executors = [e.strip().lower() for e in args.executors.split(",") if e.strip()]
    if not executors or not set(executors) <= set(EXECUTORS) or args.stars < 2 or args.workers < 1:
        parser.error("--executors must list local and/or dask, --stars be >= 2 and --workers >= 1")
    work = args.keep or Path(tempfile.mkdtemp(prefix="halfsib_bench_load_"))
    rows: list[dict[str, Any]] = []
    n_cadences = 0
    try:
        t0 = time.perf_counter()
        paths = simulate(args.stars, args.cadences, args.seed, work / "sim")
        from halfsib import read

        n_cadences = read(paths[0]).n_cadences
        print(f"simulated {len(paths)} stars x {n_cadences} cadences in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        print(f"warm-up (2 targets in this process): {warm_up(paths, work / 'warm'):.1f} s", file=sys.stderr)
        for executor in executors:
            row = one_run(executor, paths, args.workers, work / executor)
            rows.append(row)
            print(f"{row['executor']}: {row['done']} done, {row['failed']} failed, {row['missing']} missing in "
                  f"{row['wall_s']:.0f} s", file=sys.stderr)
            _write(args, rows, n_cadences)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(_write(args, rows, n_cadences))
    return 1 if any(r["missing"] or r["both"] for r in rows) else 0


def _write(args: argparse.Namespace, rows: list[dict[str, Any]], n_cadences: int) -> str:
    """The header and table; also into ``--out`` (and its .json) when given."""
    text = _header(args, n_cadences) + "\n\n" + table(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps({"header": _header(args, n_cadences), "rows": rows},
                                                            indent=1))
    return text


if __name__ == "__main__":
    sys.exit(main())
