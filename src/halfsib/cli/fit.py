"""``halfsib fit``: joint physical transit fit with the half-sibling nuisance model marginalised."""

from __future__ import annotations

import argparse
from typing import Any

from ._target_args import add_target_arguments, target_argument

HELP = "fit a limb-darkened transit jointly with the half-sibling nuisance model (ML, Fisher errors, emcee)"
DESCRIPTION = """\
Fit the nuisance model to TARGET (as halfsib detrend does, with the guessed transits masked
so that they cannot distort it), then fit a
limb-darkened transit (batman, quadratic limb darkening in Kipping's q1, q2, integrated over
the exposure: 29.4 min for K2 long cadence) jointly with it. The regression weights are
integrated out exactly; the stellar GP parameters and the jitter are fitted with the transit;
the regressor prior variances stay at the nuisance fit's values.

Steps: a multi-start maximum-likelihood fit from the guess, Fisher errors from the Hessian of
ln L (likelihood outputs, reported apart from the posterior), then emcee (medians and 68 %
intervals; convergence from the autocorrelation time; a run that does not converge is
flagged, not hidden).

The guess comes from a search candidate table (halfsib search -o CANDIDATES.ecsv, row
--which N, 1-based) or from --period/--t0/--duration/--depth. A single transit
(--single, or a candidate with n_transits = 1) is fitted with the period bounded below by
the data.

Writes FIT.ecsv: one row with, per quantity q (period, t0 [d], rp_over_rs, b, a_over_rs,
q1, q2, depth [ppm], duration [h], rho_star [g/cm3], inclination [deg], u1, u2, GP
parameters), q (maximum likelihood), q_err (Fisher), q_median, q_lower, q_upper
(16th/84th percentiles), plus convergence columns and flags. See docs/fit.md.

examples:
  halfsib fit ktwo247589423-c13_llc.fits --others k2-c13/ --candidates k2-136.ecsv --which 2 \\
      -o k2-136c_fit.ecsv --chains k2-136c_chains.npz --plot k2-136c_fit.png
  halfsib fit target.fits --others 'c13/*.fits' --period 7.975 --t0 2990.25 --duration 2.5 \\
      --depth 900 -o fit.ecsv --no-sample
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib fit``."""
    p = subparsers.add_parser("fit", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_arguments(p)
    guess = p.add_argument_group("the guess (a candidate table, or all four numbers)")
    guess.add_argument("--candidates", metavar="CANDIDATES.ecsv", help="candidate table from halfsib search")
    guess.add_argument("--which", type=int, default=1, metavar="N", help="candidate row to fit, 1-based (default 1)")
    guess.add_argument("--period", type=float, metavar="DAYS", help="period [d]")
    guess.add_argument("--t0", type=float, metavar="T0", help="a mid-transit time [d, the file's time system]")
    guess.add_argument("--duration", type=float, metavar="HOURS", help="transit duration [h]")
    guess.add_argument("--depth", type=float, metavar="PPM", help="transit depth [ppm]")
    guess.add_argument("--single", action="store_true", help="fit a single transit (period bounded by the data)")
    p.add_argument("-o", "--out", required=True, metavar="FIT.ecsv", help="fit table (ECSV)")
    p.add_argument("--chains", metavar="OUT.npz", help="also write the emcee chain (.npz)")
    p.add_argument("--plot", metavar="OUT.png", help="also save the figure (folded data, model, residuals)")
    p.add_argument("--steps", type=int, default=4000, metavar="N", help="most emcee steps per walker (default 4000)")
    p.add_argument("--walkers", type=int, default=None, metavar="N", help="emcee walkers (default 4 x parameters)")
    p.add_argument("--no-sample", action="store_true", help="maximum likelihood and Fisher errors only")
    p.add_argument("--starts", type=int, default=6, metavar="N", help="maximum-likelihood starts (default 6)")
    p.add_argument("--stellar-density", type=float, nargs=2, default=None, metavar=("RHO", "SIGMA"),
                   help="the star's mean density and its 1-sigma error [g/cm3]: a Gaussian prior in the "
                        "posterior (ties a/R* and so b to the duration; default: none)")
    p.add_argument("--seed", type=int, default=None, help="random seed (starts and sampler)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _guess(args: argparse.Namespace) -> Any:
    from ..exceptions import ConfigurationError
    from ..fit import TransitGuess

    numbers = (args.period, args.t0, args.duration, args.depth)
    if args.candidates:
        if any(v is not None for v in numbers):
            raise ConfigurationError("give either --candidates or --period/--t0/--duration/--depth, not both")
        return _from_table(args.candidates, args.which, args.single)
    if any(v is None for v in (args.t0, args.duration, args.depth)) or (args.period is None and not args.single):
        raise ConfigurationError("no guess: give --candidates CANDIDATES.ecsv, or --period, --t0, --duration [h] "
                                 "and --depth [ppm] (--period may be left out with --single)")
    return TransitGuess(period=args.period if args.period is not None else float("inf"), t0=args.t0,
                        duration=args.duration, depth=args.depth, single=True if args.single else None)


def _from_table(path: str, which: int, single: bool) -> Any:
    from astropy.table import Table

    from ..exceptions import ConfigurationError, FileFormatError
    from ..fit import TransitGuess

    try:
        table = Table.read(path, format="ascii.ecsv")
    except (OSError, ValueError) as err:
        raise FileFormatError(f"cannot read the candidate table: {err}", path) from err
    missing = [c for c in ("period", "t0", "duration", "depth") if c not in table.colnames]
    if missing:
        raise FileFormatError(f"candidate table lacks columns {missing} (write it with halfsib search)", path)
    if not 1 <= which <= len(table):
        raise ConfigurationError(f"--which {which}: the table {path} has {len(table)} candidate(s) (rows 1..{len(table)})")
    row = table[which - 1]
    return TransitGuess.from_candidate({name: row[name] for name in table.colnames if name != "target"},
                                       single=True if single else None)


def run(args: argparse.Namespace) -> int:
    """Fit the nuisance model, then the transit; write the table (and chain / figure)."""
    from ..exceptions import ConfigurationError
    from ..fit import FitConfig, fit_transit, masked_nuisance_fit
    from ..model import DetrendConfig
    from ..pipeline import prepare_target
    from .._atomic import check_figure_path, check_output_file, save_figure

    outputs = [check_output_file(args.out, "-o", overwrite=args.overwrite, suffix=".ecsv")]
    if args.chains:
        outputs.append(check_output_file(args.chains, "--chains", overwrite=args.overwrite, suffix=".npz"))
    if args.plot:
        outputs.append(check_figure_path(args.plot, overwrite=args.overwrite))
    if args.chains and args.no_sample:
        raise ConfigurationError("--chains needs sampling; drop --no-sample")
    guess = _guess(args)
    from .run import stellar_density_arguments

    config = FitConfig(sample=not args.no_sample, n_steps=args.steps, n_walkers=args.walkers, n_starts=args.starts,
                       single=True if args.single else None,
                       stellar_density=stellar_density_arguments(args.stellar_density))
    detrend_config = DetrendConfig(kernel=args.kernel)  # the design is chosen with the kernel that is fitted
    lc, design = prepare_target(target_argument(args), others=args.others, basis=args.basis, cbv=args.cbv,
                                flux_column=args.flux_column, show_progress=not args.quiet, config=detrend_config)
    nuisance = masked_nuisance_fit(lc, design, guess, config=detrend_config)
    fit = fit_transit(lc, design, nuisance, guess, config=config, rng=args.seed, show_progress=not args.quiet)
    inputs = [args.target, *args.others] + [p for p in (args.basis, args.cbv, args.candidates) if p]
    fit.write(args.out, inputs=inputs, settings={"kernel": args.kernel, "seed": args.seed})
    if args.chains:
        fit.write_chains(args.chains)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        save_figure(fit.plot(corner=fit.sampler is not None), args.plot, dpi=100)
    if not args.quiet:
        _report(fit)
        print(f"wrote {', '.join(str(p) for p in outputs)}")
    return 0


def _report(fit: Any) -> None:
    ml, err, post = fit.maximum_likelihood, fit.fisher_errors, fit.posterior or {}
    print(f"{fit.target or fit.source}: ln L = {fit.log_likelihood:.2f}, delta ln L = {fit.delta_loglike:.1f}, "
          f"{fit.n_transits} transit(s), {fit.n_in_transit} in-transit cadences")
    for q in ("period", "t0", "rp_over_rs", "b", "a_over_rs", "depth", "duration", "rho_star"):
        line = f"  {q:11s} ML {ml[q]:.6g} ± {err[q]:.3g}"
        if q in post:
            line += f"   posterior {post[q].median:.6g} -{post[q].minus:.3g} +{post[q].plus:.3g}"
        print(line)
    if fit.sampler is not None:
        print(f"  sampler: {fit.sampler.message}")
    if fit.flags:
        print(f"  flags: {', '.join(fit.flags)}")
