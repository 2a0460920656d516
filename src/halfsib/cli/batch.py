"""``halfsib batch``: whole campaigns and sectors on a local process pool or Dask."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "process many targets (a campaign, a sector) in parallel: local pool or Dask"
DESCRIPTION = """\
Run the per-target pipeline on every file of INPUT (files, directories, quoted globs):
read each header, group the targets by mission and campaign/sector (TESS also by
camera/CCD; see --group-by), build each group's eigen-light-curve basis once
(OUTDIR/basis/), then fit the half-sibling nuisance model and search for transits on
every target in parallel. The per-target task is detrend + search by default (fast);
--task run runs the full `halfsib run` instead (fit, flexibility ladder, vetting and the
claim), which fills the catalog's claimed column.

OUTDIR/
  catalog.ecsv       one row per candidate across all targets (target id, channel, the
                     task's columns with units, claimed - masked unless --task run)
  failures.ecsv      unreadable inputs and failed targets, with the error
  summary.json       counts, times, throughput, versions and every setting
  targets/<name>/    per target: the task's files, target.log, done.json
  basis/<group>.fits the shared ELC basis of each group

Safe to interrupt: each target is complete once its done.json is written (last, after all
its outputs); rerunning the same command skips complete targets and redoes partial or
failed ones (also after kill -9). A second run on the same OUTDIR is refused while the
first is alive. Output names come from the headers, sanitised (no path traversal).

Exit status: 0 when every target succeeded; otherwise the number of failed targets plus
unreadable inputs, capped at 100 (see failures.ecsv); 101 when the run could not start
(OUTDIR locked by a live run, bad settings, no readable input).

Parallelism: --workers N local processes (default: all cores). --dask starts a local
Dask cluster bound to 127.0.0.1 instead; --scheduler tcp://host:8786 sends the same tasks
to a running Dask cluster (OUTDIR and the inputs must be visible to its workers at the
same paths: a shared file system).

examples:
  halfsib batch data/k2-c13/lc/ -o c13_out/
  halfsib batch 'sector1/*.fits' -o s1_out/ --workers 8 --plots candidates
  halfsib batch c13/ -o c13_out/ --scheduler tcp://10.0.0.5:8786
  halfsib batch c13/ -o c13_out/ --dask --workers 4
"""

#: exit status when the batch could not run at all
EXIT_NOT_RUN = 101


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib batch``."""
    p = subparsers.add_parser("batch", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="target files, directories or quoted globs")
    p.add_argument("-o", "--out", "--outdir", dest="outdir", required=True, metavar="OUTDIR", help="output folder (created)")
    run = p.add_argument_group("where the work runs")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="worker processes (default: number of cores)")
    run.add_argument("--dask", action="store_true", help="start a local Dask cluster (127.0.0.1) of --workers processes")
    run.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--break-lock", action="store_true",
                     help="take OUTDIR even if its lock names a run that may be alive (another host)")
    model = p.add_argument_group("model and search")
    model.add_argument("--group-by", choices=("auto", "season", "detector"), default="auto",
                       help="basis groups: auto = K2/Kepler per campaign/quarter, TESS per sector and camera/CCD")
    model.add_argument("--folds", type=int, default=8, metavar="F", help="folds of each group basis (default 8)")
    model.add_argument("--others", nargs="+", default=[], metavar="PATH",
                       help="regressor-only stars (files, directories, quoted globs): in the bases, not processed")
    model.add_argument("--cbv", metavar="FILE", help="CBV-style basis table for every target")
    model.add_argument("--cpm", action="store_true",
                       help="other stars' pixels as CPM predictors (pixel-file inputs; more memory per worker)")
    model.add_argument("--flux-column", default=None, help="flux column to read (default: the raw flux)")
    model.add_argument("--kernel", default="sho", choices=("sho", "rotation", "matern32", "none"),
                       help="stellar-variability GP (default: sho)")
    model.add_argument("--min-period", type=float, default=0.5, metavar="DAYS", help="shortest trial period [d]")
    model.add_argument("--max-period", type=float, default=None, metavar="DAYS", help="longest trial period [d]")
    model.add_argument("--max-planets", type=int, default=3, help="signals searched for per target (default 3)")
    model.add_argument("--min-snr", type=float, default=6.5, help="stop below this periodogram SNR (default 6.5)")
    model.add_argument("--seed", type=int, default=0, help="batch seed; per-target seeds derive from it and the id")
    p.add_argument("--task", choices=("search", "run"), default="search",
                   help="per target: 'search' = detrend + search (default, fast); 'run' = halfsib run "
                        "(+ fit, ladder, vetting and the claim; fills the catalog's claimed column)")
    p.add_argument("--no-sample", action="store_true", help="with --task run: maximum likelihood fit only, no emcee")
    p.add_argument("--plots", choices=("none", "candidates", "all"), default="none",
                   help="figures for no, candidate-bearing, or all targets (search.png, or run's report page)")


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~halfsib.batch.BatchConfig` of the command line."""
    from ..batch import BatchConfig
    from ..model import DetrendConfig
    from ..search import SearchConfig

    search = SearchConfig(period_range=(args.min_period, args.max_period), max_planets=args.max_planets,
                          min_snr=args.min_snr)
    detrend = DetrendConfig(kernel=args.kernel)
    task: dict[str, Any] = {}
    if args.task == "run":
        from ..batch.tasks import run_task
        from ..fit import FitConfig
        from ..run import RunConfig

        fit = FitConfig(sample=False) if args.no_sample else None
        task = {"task": run_task, "run": RunConfig(detrend=detrend, search=search, fit=fit)}
    return BatchConfig(workers=args.workers, scheduler=args.scheduler, dask=args.dask, group_by=args.group_by,
                       flux_column=args.flux_column, cbv=args.cbv, others=tuple(args.others), cpm=args.cpm,
                       detrend=detrend, search=search, n_folds=args.folds, seed=args.seed, plots=args.plots,
                       progress=not args.quiet, break_lock=args.break_lock, **task)


def print_summary(summary: Any, stream: Any = sys.stdout) -> None:
    """A few lines on what the run did."""
    rate = 3600.0 * summary.n_done / summary.wall_seconds if summary.wall_seconds else 0.0
    print(f"{summary.n_targets} targets ({summary.n_unreadable} unreadable inputs): {summary.n_done} done now, "
          f"{summary.n_complete_before} already complete, {summary.n_failed} failed; {summary.n_candidates} "
          f"candidate(s)", file=stream)
    print(f"{summary.wall_seconds:.0f} s on {summary.executor}: {rate:.0f} targets/hour, "
          f"peak worker memory {summary.peak_rss_mb:.0f} MiB", file=stream)
    print(f"wrote {summary.outdir}/catalog.ecsv, targets.ecsv, failures.ecsv, summary.json", file=stream)


def run(args: argparse.Namespace) -> int:
    """Run the batch; the exit status counts the failures (see the description)."""
    from ..batch import run_batch
    from ..exceptions import HalfsibError

    if args.scheduler and args.dask:
        print("halfsib batch: error: give --scheduler (a running cluster) or --dask (start one), not both",
              file=sys.stderr)
        return EXIT_NOT_RUN
    try:
        summary = run_batch(args.inputs, args.outdir, config_from_args(args))
    except HalfsibError as err:
        if args.traceback:
            raise
        print(f"halfsib batch: error: {err}", file=sys.stderr)
        return EXIT_NOT_RUN
    except OSError as err:  # the tables could not be written (a full disk): the old ones are intact
        if args.traceback:
            raise
        print(f"halfsib batch: error: {err}", file=sys.stderr)
        return EXIT_NOT_RUN
    if not args.quiet:
        print_summary(summary)
    return summary.exit_status
