"""Benchmark ``halfsib batch``: throughput per core, scaling with workers, memory per worker.

Run: ``python benchmarks/bench_batch.py [--workers 1,2] [--stars 24] [--missions k2,tess]
[--targets-per-worker 3] [--out table.md]``

For each mission a campaign patch is simulated once (light-curve files only): K2 long
cadence (3,500 cadences, ~72 d) and TESS (default 2-min cadence, 18,000 cadences, one
sector; ``--tess-cadences`` shortens it). Every simulated star is in the group's ELC basis;
for ``w`` workers the batch processes the first ``targets-per-worker × w`` stars (the rest
are regressor-only ``others``), so each run keeps every worker busy for about the same
time and the whole 1 → 16 series fits in a few minutes. Before timing, one target runs in
this process so that numba's on-disk cache is warm for the workers.

Reported per run: wall time of ``run_batch`` (worker start, header scan, basis, tasks,
catalog), targets per hour, targets per hour per core (wall), the mean task time and the
throughput per core it implies (3600 / mean task s: what a long run approaches once the
start-up is amortised), speed-up against the first worker count, and the largest peak
resident memory of a worker (includes the interpreter and libraries). The task is the
batch default, detrend + search. Timing numbers depend on the machine and its load:
compare rows of one run only.
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

warnings.filterwarnings("ignore", message=".*tpfmodel.*")

TESS_CADENCES = {"2min": 18000, "10min": 3600, "30min": 1200, "200s": 10800}


def simulate(mission: str, n_stars: int, outdir: Path, tess_cadence: str, tess_cadences: int | None) -> list[str]:
    """Write a campaign patch's light curves; return their paths (sorted)."""
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    if mission == "k2":
        config = SimulationConfig(mission="k2", n_stars=n_stars, seed=11)
    else:
        config = SimulationConfig(mission="tess", n_stars=n_stars, seed=12, cadence=tess_cadence,
                                  n_cadences=tess_cadences or TESS_CADENCES[tess_cadence])
    write_campaign(simulate_campaign(config), outdir, pixels=False, progress=False)
    return sorted(str(p) for p in (outdir / "lc").glob("*.fits"))


def warm_up(paths: list[str], outdir: Path) -> float:
    """One target in this process (compiles numba kernels into the on-disk cache); its seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from halfsib.batch import BatchConfig, run_batch

    start = time.perf_counter()
    with ThreadPoolExecutor(1) as ex:
        run_batch(paths[:1], outdir, BatchConfig(workers=1, progress=False, others=tuple(paths[1:])), executor=ex)
    return time.perf_counter() - start


def one_run(paths: list[str], n_workers: int, per_worker: int, outdir: Path) -> dict:
    """Batch the first ``per_worker × n_workers`` stars on ``n_workers`` local processes."""
    from halfsib.batch import BatchConfig, run_batch

    n = min(len(paths), per_worker * n_workers)
    targets, others = paths[:n], paths[n:]
    summary = run_batch(targets, outdir, BatchConfig(workers=n_workers, progress=False, others=tuple(others)))
    mean_task = summary.task_seconds / max(summary.n_done, 1)
    return {"workers": n_workers, "targets": summary.n_done, "failed": summary.n_failed,
            "basis_stars": summary.groups[0]["basis_stars"], "wall_s": summary.wall_seconds,
            "per_hour": 3600.0 * summary.n_done / summary.wall_seconds,
            "per_hour_core": 3600.0 * summary.n_done / summary.wall_seconds / n_workers,
            "task_s": mean_task, "per_hour_core_task": 3600.0 / mean_task if mean_task > 0 else 0.0,
            "peak_mb": summary.peak_rss_mb}


def table(rows: list[dict]) -> str:
    """Markdown table of the runs, with speed-up against the first row of each mission."""
    head = ("| mission | workers | targets | wall [s] | targets/h | targets/h/core (wall) | mean task [s] | "
            "targets/h/core (task) | speed-up | peak MiB/worker |")
    lines = [head, "|" + "---|" * 10]
    first: dict[str, float] = {}
    for r in rows:
        first.setdefault(r["mission"], r["per_hour"])
        lines.append(f"| {r['mission']} | {r['workers']} | {r['targets']} | {r['wall_s']:.1f} | {r['per_hour']:.0f} | "
                     f"{r['per_hour_core']:.0f} | {r['task_s']:.2f} | {r['per_hour_core_task']:.0f} | "
                     f"{r['per_hour'] / first[r['mission']] if first[r['mission']] else 0:.2f} | {r['peak_mb']:.0f} |")
    return "\n".join(lines)


def _header(args: argparse.Namespace) -> str:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (f"halfsib batch benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}; "
            f"stars {args.stars} (K2 3,500 cadences; TESS {args.tess_cadence} "
            f"{args.tess_cadences or TESS_CADENCES[args.tess_cadence]} cadences), "
            f"{args.targets_per_worker} targets per worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--stars", type=int, default=24, help="simulated stars per mission (basis size; default 24)")
    parser.add_argument("--missions", default="k2,tess", help="k2, tess or both (default k2,tess)")
    parser.add_argument("--targets-per-worker", type=int, default=3, help="targets per worker per run (default 3)")
    parser.add_argument("--tess-stars", type=int, default=None, help="TESS stars (default: --stars)")
    parser.add_argument("--tess-targets-per-worker", type=int, default=None,
                        help="TESS targets per worker per run (default: --targets-per-worker)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="start no new run after S seconds (the table so far is still written)")
    parser.add_argument("--tess-cadence", default="2min", choices=sorted(TESS_CADENCES))
    parser.add_argument("--tess-cadences", type=int, default=None, help="TESS cadences (default: a full sector)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (markdown) and a .json beside it")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    missions = [m.strip().lower() for m in args.missions.split(",") if m.strip()]
    if not workers or min(workers) < 1 or not set(missions) <= {"k2", "tess"}:
        parser.error("--workers must list integers >= 1 and --missions only k2/tess")
    work = args.keep or Path(tempfile.mkdtemp(prefix="halfsib_bench_batch_"))
    rows: list[dict] = []
    start = time.perf_counter()
    try:
        for mission in missions:
            if args.time_limit and time.perf_counter() - start > args.time_limit:
                print(f"time limit reached: {mission} skipped", file=sys.stderr)
                continue
            n_stars = args.tess_stars or args.stars if mission == "tess" else args.stars
            n_stars = max(n_stars, 2)
            t0 = time.perf_counter()
            paths = simulate(mission, n_stars, work / mission / "sim", args.tess_cadence, args.tess_cadences)
            warm = warm_up(paths, work / mission / "warm")
            print(f"{mission}: simulated {len(paths)} stars in {time.perf_counter() - t0 - warm:.0f} s; warm-up "
                  f"target {warm:.1f} s", file=sys.stderr)
            per_worker = (args.tess_targets_per_worker or args.targets_per_worker if mission == "tess"
                          else args.targets_per_worker)
            for w in workers:
                if args.time_limit and time.perf_counter() - start > args.time_limit:
                    print(f"time limit reached: {mission} with {w} workers skipped", file=sys.stderr)
                    break
                row = {"mission": mission.upper() if mission == "tess" else "K2",
                       **one_run(paths, w, per_worker, work / mission / f"w{w}")}
                rows.append(row)
                print(f"  {w} workers: {row['targets']} targets in {row['wall_s']:.1f} s "
                      f"({row['per_hour_core']:.0f} /h/core wall, {row['per_hour_core_task']:.0f} /h/core task)",
                      file=sys.stderr)
                shutil.rmtree(work / mission / f"w{w}", ignore_errors=True)
                _write(args, rows)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(_write(args, rows))
    return 0


def _write(args: argparse.Namespace, rows: list[dict]) -> str:
    """The header and table; also into ``--out`` (and its .json) when given."""
    text = _header(args) + "\n\n" + table(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps({"header": _header(args), "rows": rows}, indent=1))
    return text


if __name__ == "__main__":
    sys.exit(main())
