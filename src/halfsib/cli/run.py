"""``halfsib run``: one target from raw data to claimed planets."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ._target_args import add_target_arguments, target_argument

HELP = "detrend, search, fit, ladder and vet one target; write candidates, fits and a report page"
DESCRIPTION = """\
The whole per-target pipeline: fit the half-sibling nuisance model to TARGET (other stars'
light and pixels, the target's own motion and pixel terms, a GP for the star), search for
transits jointly with it, and take the strongest candidates through

  fit     a limb-darkened transit (batman) fitted jointly with the nuisance model:
          maximum likelihood with Fisher errors, then emcee posteriors for the claims and
          single-event candidates (--no-sample: none; --sample-rejected: every candidate);
  ladder  the depth S/N under nuisance models of growing flexibility, up to the most
          flexible one with its prior scales widened 10x;
  vet     odd/even, secondary eclipse, phase curve, single-event dominance, quality-flag
          coincidence, V/U shape, duration vs stellar density, per-pixel depth image
          (pixel files only).

A candidate is CLAIMED when its fit succeeded, its S/N at the top of the ladder is at least
--claim-snr and a less flexible rung sees at least half that depth (within --ladder-tension
sigma), no vetting test failed (tests that could not run are listed, not failed), and no
other candidate of the target has its period (two eclipses per orbit: a binary). A single
event (one transit in the data) goes through the same stages but is never claimed: when
nothing else stops it, it is reported as a SINGLE-EVENT CANDIDATE.

Writes into OUTDIR: candidates.ecsv (search + fit + ladder + vetting columns, claimed,
claim_reason), lightcurve.fits (as from halfsib detrend), fit_<n>.ecsv, chains_<n>.npz,
ladder_<n>.ecsv, vet_<n>.ecsv, summary.json and the report page report.png / report.pdf.

examples:
  halfsib run ktwo247589423-c13_llc.fits --others k2-c13/ -o k2-136/
  halfsib run target_tpf.fits --others 'c13/*.fits' --basis c13_basis.fits -o out/ --no-sample
  halfsib run target.fits --others sector/ -o out/ --max-candidates 5 --steps 2000 --seed 1
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib run``."""
    p = subparsers.add_parser("run", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_arguments(p)
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder (created if needed)")
    p.add_argument("--max-candidates", type=int, default=3, metavar="N",
                   help="candidates taken through fit, ladder and vetting (default 3)")
    p.add_argument("--claim-snr", type=float, default=7.0, metavar="S",
                   help="depth S/N needed at the top rung of the ladder (default 7)")
    p.add_argument("--ladder-tension", type=float, default=1.5, metavar="Z",
                   help="a claim needs a less flexible rung of the ladder that sees at least half the top "
                        "rung's depth, within Z sigma (default 1.5; inf: off): a dip only the most flexible "
                        "model makes is not claimed")
    p.add_argument("--min-snr", type=float, default=None, metavar="S",
                   help="search: S/N for a periodogram peak to become a candidate (default: search's, 6.5)")
    p.add_argument("--min-snr-without-strongest", type=float, default=None, metavar="S",
                   help="search: S/N the peak's other events must keep without the strongest one (default: "
                        "search's, 4)")
    p.add_argument("--max-masked-events", type=int, default=None, metavar="N",
                   help="search: lone events masked when a peak stands on one alone, at most N (default: "
                        "search's, 3)")
    p.add_argument("--max-single-events", type=int, default=None, metavar="N",
                   help="search: single events (one transit) reported after the periodic search, at most N "
                        "(default: search's, 2); each is fitted, laddered and vetted but never claimed")
    p.add_argument("--single-min-snr", type=float, default=None, metavar="S",
                   help="search: S/N a single event needs (default: search's, 10)")
    p.add_argument("--no-sample", action="store_true", help="fit: maximum likelihood + Fisher errors only, no emcee")
    p.add_argument("--sample-rejected", action="store_true",
                   help="also run emcee for candidates the ladder or vetting rejected (default: only claims and "
                        "single-event candidates are sampled; the claim rule never reads the posterior)")
    p.add_argument("--steps", type=int, default=None, metavar="N", help="fit: most emcee steps per walker")
    p.add_argument("--walkers", type=int, default=None, metavar="N", help="fit: emcee walkers")
    p.add_argument("--stellar-density", type=float, nargs=2, default=None, metavar=("RHO", "SIGMA"),
                   help="the star's mean density and its 1-sigma error [g/cm3]: a Gaussian prior in the "
                        "posterior (ties a/R* and so b to the duration) and, at RHO - 2 SIGMA, the density "
                        "of the duration vetting test (default: no prior; the vetting's lowest main-sequence "
                        "density)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fit's starts and sampler (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes for the candidates' follow-ups: each candidate's fit, then its sampling "
                        "and its ladder and vetting, as separate tasks (default 1; the results do not depend "
                        "on it)")
    p.add_argument("--no-figure", action="store_true", help="skip report.png/report.pdf")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs in OUTDIR")


def _config(args: argparse.Namespace) -> Any:
    from ..fit import FitConfig
    from ..model import DetrendConfig
    from ..run import RunConfig
    from ..search import SearchConfig

    fit_settings: dict[str, Any] = {"sample": not args.no_sample}
    density = stellar_density_arguments(args.stellar_density)
    if density is not None:
        fit_settings["stellar_density"] = density
    if args.steps is not None:
        fit_settings["n_steps"] = args.steps
    if args.walkers is not None:
        fit_settings["n_walkers"] = args.walkers
    search_settings = {name: value for name, value in (("min_snr", args.min_snr), ("min_snr_without_strongest",
                                                                                  args.min_snr_without_strongest),
                                                       ("max_masked_events", args.max_masked_events),
                                                       ("max_single_events", args.max_single_events),
                                                       ("single_min_snr", args.single_min_snr))
                       if value is not None}
    search = SearchConfig(**search_settings) if search_settings else None
    return RunConfig(detrend=DetrendConfig(kernel=args.kernel), search=search, fit=FitConfig(**fit_settings),
                     max_candidates=args.max_candidates, claim_snr=args.claim_snr,
                     ladder_tension_sigma=args.ladder_tension, seed=args.seed,
                     stellar_density=vetting_density(density), sample_rejected=args.sample_rejected)


def stellar_density_arguments(values: Sequence[float] | None) -> tuple[float, float] | None:
    """``--stellar-density RHO SIGMA`` [g/cm3] checked: both finite and > 0."""
    from ..exceptions import ConfigurationError

    if values is None:
        return None
    rho, sigma = (float(v) for v in values)
    if not (math.isfinite(rho) and math.isfinite(sigma) and rho > 0 and sigma > 0):
        raise ConfigurationError(f"--stellar-density {rho} {sigma}: give the mean density and its error in "
                                 "g/cm3, both > 0 (the Sun: 1.41 0.01)")
    return rho, sigma


def vetting_density(density: tuple[float, float] | None) -> float | None:
    """The duration test's density [solar] for a ``(ρ, σ)`` [g/cm3]: ρ − 2σ (its longest plausible
    transit), at least a tenth of ρ; None without a density."""
    from ..vet.photometric import SOLAR_DENSITY

    if density is None:
        return None
    rho, sigma = density
    return max(rho - 2.0 * sigma, 0.1 * rho) / SOLAR_DENSITY


def run(args: argparse.Namespace) -> int:
    """Run the pipeline on one target and write its outputs; print a summary."""
    from ..run import run_target

    from ..exceptions import ConfigurationError
    from .._atomic import check_output_folder
    from ..report import OUTPUT_NAMES

    if args.workers < 1:
        raise ConfigurationError(f"--workers {args.workers}: use 1 or more processes")
    outdir = check_output_folder(args.out)
    planned = [OUTPUT_NAMES[k] for k in ("candidates", "lightcurve", "summary")]
    existing = [outdir / name for name in planned if (outdir / name).exists()]
    if existing and not args.overwrite:
        raise ConfigurationError(f"-o {outdir}: already holds {existing[0].name}; pass --overwrite to replace "
                                 "the outputs, or choose another folder")
    with _pool(args.workers) as executor:
        result = run_target(target_argument(args), others=args.others, basis=args.basis, cbv=args.cbv, config=_config(args),
                            flux_column=args.flux_column, show_progress=not args.quiet, executor=executor)
    paths = result.write(args.out, overwrite=args.overwrite, figure=not args.no_figure)
    if not args.quiet:
        _summary(result, args.out, len(paths))
    return 0


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[Any]:
    """A spawn-context process pool for ``workers`` > 1 (as the batch runner's), else None."""
    if workers == 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ..run import warm_up

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in range(workers):  # the workers start and import while this process reads and searches
            pool.submit(warm_up)
        yield pool


def _summary(result: Any, outdir: str, n_files: int) -> None:
    from ..report import period_alias_factor

    d = result.detrend
    print(f"{d.meta.target_id or d.meta.source}: {d.time.size} cadences, {len(result.search.candidates)} "
          f"candidate(s), {len(result.claimed)} claimed ({result.seconds['total']:.1f} s)", file=sys.stdout)
    corrected = result.corrected
    print(f"  6.5-h CDPP: raw {corrected.raw_cdpp_ppm:.1f} ppm -> corrected {corrected.cdpp_ppm:.1f} ppm "
          "(candidate transits left out)", file=sys.stdout)
    print(f"  model: {result.systematics_scope['statement']}", file=sys.stdout)
    for o in result.outcomes:
        c = o.candidate
        if o.single_event:
            verdict = ("SINGLE-EVENT CANDIDATE (passes fit, ladder and vetting; one transit, never claimed)"
                       if o.single_event_candidate else "single event, not a candidate: " + "; ".join(o.claim_blockers[1:]))
            print(f"  #{o.index} single event at t0={c.t0:.4f}  P > {c.period_min:.1f} d  depth {c.depth:.0f}±"
                  f"{c.depth_err:.0f} ppm  S/N {c.snr:.1f}  {verdict}", file=sys.stdout)
            continue
        verdict = "CLAIMED" if o.claimed else "not claimed: " + "; ".join(o.claim_blockers)
        alias = period_alias_factor(c, d.time)
        if alias >= 2:
            verdict += f"  (or P×{alias} = {alias * c.period:.3f} d: the transits between fall in gaps)"
        print(f"  #{o.index} P={c.period:.5f} d  depth {c.depth:.0f}±{c.depth_err:.0f} ppm  S/N {c.snr:.1f}  "
              f"{verdict}", file=sys.stdout)
    print(f"wrote {n_files} files to {outdir}", file=sys.stdout)
