"""``halfsib inject``: injection–recovery and false alarms through the batch pipeline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "measure completeness (inject transits, rerun, match) and false alarms (inverted or planet-free data)"
DESCRIPTION = """\
How many planets would halfsib find, and how many signals would it invent?

Injection-recovery (default): for every target of INPUT (files, directories, quoted
globs), draw --per-target transits (P log-uniform 0.5-70 d, Rp/R* log-uniform 0.01-0.2,
b, q1, q2 and the phase uniform; a/R* from Kepler's law for a Sun-like density), write a
copy of the file with each one multiplied into the RAW flux (SAP_FLUX of a light curve;
every pixel of a target pixel file), rerun the pipeline on each copy through the batch
machinery (shared bases, --workers / --scheduler, resume, lock) and match the candidates:

  recovered = a candidate that passes the same automated cuts as a real one
              (claimed by `halfsib run`; with --fast, the search's S/N threshold)
              with |dP|/P < 1 % and |dt0| < 6 h modulo the period (DFM2015).
              Integer and half-integer period aliases are flagged (column alias),
              not counted as recovered.

The draws come from a generator seeded with --seed and the target id: the same
injections whatever the number of workers.

False alarms: --invert runs the pipeline once per target on the inverted light curve
(flux -> 2 median - flux: no real transit survives as a dip), and --per-target 0 runs it
on the data as they are (use on planet-free simulations: `halfsib simulate
--planet-fraction 0 --eb-fraction 0`). Every candidate is then a false alarm.

OUTDIR/
  injections.ecsv        one row per injection: target, injected parameters (units),
                         depth [ppm], expected S/N, recovered, match/alias, the matched
                         candidate's rank, period, t0, depth, S/N (see docs/injection.md)
  completeness.png       completeness over period x Rp/R* and vs expected S/N
  false_alarms.ecsv      (false-alarm runs) one row per star: candidates, claims
  injection_summary.json counts, completeness, candidates and claims per star
  catalog.ecsv, failures.ecsv, summary.json, basis/   as `halfsib batch`
  targets/<name>/injNN/  the injected copy and the pipeline's outputs on it

examples:
  halfsib inject sim/lc/ -o inj/ --fast --per-target 5 --workers 2
  halfsib inject data/k2-c13/lc/ -o c13_inj/ --per-target 3
  halfsib inject sim/lc/ -o fa_inverted/ --fast --invert
  halfsib inject planet_free/lc/ -o fa_clean/ --fast --per-target 0
"""

#: exit status when the run could not start (as ``halfsib batch``)
EXIT_NOT_RUN = 101


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib inject``."""
    p = subparsers.add_parser("inject", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="target files, directories or quoted globs")
    p.add_argument("-o", "--out", "--outdir", dest="outdir", required=True, metavar="OUTDIR", help="output folder (created)")
    what = p.add_argument_group("what to inject")
    what.add_argument("--per-target", type=int, default=None, metavar="N",
                      help="injections per target (default 5; 0: none, a false-alarm run)")
    what.add_argument("--periods", nargs=2, type=float, default=(0.5, 70.0), metavar=("MIN", "MAX"),
                      help="log-uniform period range [d] (default 0.5 70)")
    what.add_argument("--radii", nargs=2, type=float, default=(0.01, 0.2), metavar=("MIN", "MAX"),
                      help="log-uniform Rp/R* range (default 0.01 0.2)")
    what.add_argument("--density", type=float, default=1.0, help="stellar density for a/R* [solar] (default 1)")
    what.add_argument("--dilution", choices=("none", "crowdsap"), default="none",
                      help="none: all the aperture's light dims; crowdsap: only the header's CROWDSAP share")
    what.add_argument("--invert", action="store_true",
                      help="no injections: run on inverted light curves (flux -> 2 median - flux), count false alarms")
    what.add_argument("--seed", type=int, default=0, help="seed; each target's draws derive from it and the id")
    what.add_argument("--no-keep", action="store_true", help="delete each injected file after its run")
    pipe = p.add_argument_group("pipeline and matching")
    pipe.add_argument("--fast", action="store_true",
                      help="detrend + search only; recovered = a search candidate above --min-snr (default: the "
                           "full `halfsib run`, recovered = claimed)")
    pipe.add_argument("--min-snr", type=float, default=6.5, help="search S/N threshold (default 6.5)")
    pipe.add_argument("--claim-snr", type=float, default=7.0, help="S/N at the ladder's top rung to claim (default 7)")
    pipe.add_argument("--others", nargs="+", default=[], metavar="PATH",
                      help="regressor-only stars (in the bases, not injected)")
    pipe.add_argument("--flux-column", default=None, help="flux column to read and inject into (default: raw)")
    pipe.add_argument("--period-tolerance", type=float, default=0.01, help="|dP|/P for a match (default 0.01)")
    pipe.add_argument("--t0-tolerance", type=float, default=6.0, metavar="HOURS",
                      help="|dt0| modulo the period for a match [h] (default 6)")
    where = p.add_argument_group("where the work runs")
    where.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: all cores)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--break-lock", action="store_true", help="take OUTDIR even if its lock may be alive")


def configs_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """The :class:`InjectionConfig` and :class:`~halfsib.batch.BatchConfig` of the command line."""
    from ..batch import BatchConfig
    from ..exceptions import ConfigurationError
    from ..fit import FitConfig
    from ..injection import InjectionConfig, MatchConfig
    from ..run import RunConfig
    from ..search import SearchConfig

    if args.invert and args.per_target:
        raise ConfigurationError("--invert counts false alarms without injections: leave out --per-target")
    per_target = 0 if args.invert else (5 if args.per_target is None else args.per_target)
    search = SearchConfig(min_snr=args.min_snr)
    config = InjectionConfig(
        n_per_target=per_target, period_range=tuple(args.periods), rp_over_rs_range=tuple(args.radii),
        stellar_density=args.density, dilution=args.dilution, mode="fast" if args.fast else "run",
        invert=args.invert, keep_files=not args.no_keep,
        match=MatchConfig(period_tolerance=args.period_tolerance, t0_tolerance_hours=args.t0_tolerance),
        run=RunConfig(search=search, fit=FitConfig(sample=False), claim_snr=args.claim_snr))
    batch = BatchConfig(workers=args.workers, scheduler=args.scheduler, others=tuple(args.others),
                        flux_column=args.flux_column, search=search, seed=args.seed, progress=not args.quiet,
                        break_lock=args.break_lock)
    return config, batch


def print_summary(summary: Any, stream: Any = sys.stdout) -> None:
    """What the run found, in a few lines."""
    print(f"{summary.n_targets} targets ({summary.n_failed} failed), mode {summary.mode}", file=stream)
    if summary.n_injections:
        print(f"recovered {summary.n_recovered} of {summary.n_injections} injections "
              f"({100 * summary.completeness:.0f} %)", file=stream)
    else:
        kind = "inverted" if summary.inverted else "as given"
        claims = "" if summary.n_claimed is None else f", {summary.n_claimed} claimed"
        print(f"false alarms ({kind}): {summary.n_candidates} candidate(s){claims}; "
              f"{summary.candidates_per_star:.3f} candidates and {summary.passing_per_star:.3f} passing the cuts "
              f"per star", file=stream)
    print(f"wrote {summary.outdir}/" + ", ".join(summary.outputs) + ", injection_summary.json", file=stream)


def run(args: argparse.Namespace) -> int:
    """Inject, rerun, match (or count false alarms); exit status as ``halfsib batch``'s."""
    from ..exceptions import HalfsibError
    from ..injection import inject_and_recover

    try:
        config, batch = configs_from_args(args)
        summary = inject_and_recover(args.inputs, args.outdir, config, batch)
    except (HalfsibError, OSError) as err:  # OSError: a full disk; the old tables are intact
        if args.traceback:
            raise
        print(f"halfsib inject: error: {err}", file=sys.stderr)
        return EXIT_NOT_RUN
    if not args.quiet:
        print_summary(summary)
    return min(summary.n_failed + summary.batch.get("n_unreadable", 0), 100)
