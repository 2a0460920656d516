"""``halfsib demo``: a simulated K2 patch through the batch pipeline, compared with the truth."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "simulate a small K2 campaign patch, run the batch on it, compare with the truth"
DESCRIPTION = """\
The whole pipeline on data with known answers, with no download: simulate a K2-like
campaign patch (dozens of stars sharing the roll, drift and noise of one detector; a few
transiting planets and eclipsing binaries), run `halfsib batch` on its light curves with
all cores (per target `halfsib run`: nuisance model, joint search, maximum-likelihood
transit fit, flexibility ladder, vetting and the claim), and compare the catalog and the
claims with the injected truth.

OUTDIR/
  sim/               the simulated files (lc/*.fits, truth.ecsv, planets.ecsv)
  batch/             the batch outputs (catalog.ecsv, failures.ecsv, summary.json, targets/)
  truth_match.ecsv   each injected planet/EB: found (exact period or alias) or missed,
                     then every candidate that matches nothing
  recovery.png       injected and found signals, period vs depth

About 5 minutes on 2 cores, 10 on one (36 stars x 3,500 cadences; about 16 s per star and core,
most of it fitting the two candidate nuisance designs of each star, with and without the other
stars).
Rerunning resumes: finished stars are skipped.

examples:
  halfsib demo -o demo/
  halfsib demo -o demo/ --stars 12 --workers 2
  halfsib demo -o demo_fast/ --search-only
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib demo``."""
    p = subparsers.add_parser("demo", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", "--outdir", dest="outdir", required=True, metavar="OUTDIR", help="output folder (created)")
    p.add_argument("--stars", type=int, default=36, help="simulated target stars (default 36)")
    p.add_argument("--cadences", type=int, default=None,
                   help="cadences per star (default: a full K2 campaign, 3,500)")
    p.add_argument("--seed", type=int, default=1, help="simulation and batch seed (default 1)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--search-only", action="store_true",
                   help="detrend + search only (faster; no fit, ladder, vetting or claims)")
    p.add_argument("--sample", action="store_true", help="sample each candidate's posterior with emcee (slower)")


def run(args: argparse.Namespace) -> int:
    """Simulate, run, compare; exit status as ``halfsib batch``'s (failed targets, capped)."""
    from ..batch.demo import DemoConfig, run_demo, summary_lines

    config = DemoConfig(n_stars=args.stars, n_cadences=args.cadences, seed=args.seed, workers=args.workers,
                        task="search" if args.search_only else "run", sample=args.sample, progress=not args.quiet)
    if not args.quiet:
        print(f"halfsib demo: simulating {args.stars} K2 stars into {args.outdir}/sim, then the batch "
              f"(about 5-20 s per star and core)", file=sys.stderr)
    result = run_demo(args.outdir, config)
    if not args.quiet:
        print("\n".join(summary_lines(result)))
    return result.batch.exit_status
