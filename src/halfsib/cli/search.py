"""``halfsib search``: the transit search, jointly with the nuisance model."""

from __future__ import annotations

import argparse
from typing import Any

from ._target_args import add_target_arguments, target_argument

HELP = "search one target for transits jointly with the half-sibling nuisance model"
DESCRIPTION = """\
Fit the half-sibling nuisance model to TARGET (as halfsib detrend does, without masking),
then search for transits with that model marginalised: for every epoch and duration the
maximum-likelihood box depth, its error and the log-likelihood gain (the single-event
grid), then those events combined along trial periods, the best signal masked and the
search repeated. The light curve is never detrended first.

Writes CANDIDATES.ecsv: one row per candidate with period [d], t0 [d, in the file's time
system, named in the table metadata], duration (T14) [h], depth (central) and depth_err
[ppm] of a limb-darkened template fitted around the box peak, delta_loglike, snr (the
peak against the periodogram with its own transits masked), snr_without_strongest (the
same for the events left when the strongest is removed), n_transits, the vetting statistics (dominant_event_fraction, odd_even_sigma,
variable_depth_delta_loglike, secondary_snr), impact, rp_over_rs and the best box
(box_duration [h], box_depth, box_depth_err [ppm]).

examples:
  halfsib search ktwo247589423-c13_llc.fits --others k2-c13/ -o k2-136_candidates.ecsv --plot k2-136.png
  halfsib search target.fits --others 'c13/*.fits' --periodogram pgram.fits --max-planets 4 -o cands.ecsv
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib search``."""
    p = subparsers.add_parser("search", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_arguments(p)
    p.add_argument("-o", "--out", required=True, metavar="CANDIDATES.ecsv", help="candidate table (ECSV)")
    p.add_argument("--periodogram", metavar="OUT.fits", help="also write the periodogram(s) as FITS tables")
    p.add_argument("--plot", metavar="OUT.png", help="also save the search figure")
    p.add_argument("--min-period", type=float, default=None, metavar="DAYS", help="shortest trial period [d]")
    p.add_argument("--max-period", type=float, default=None, metavar="DAYS",
                   help="longest trial period [d] (default: what the baseline allows for --min-transits)")
    p.add_argument("--min-transits", type=int, default=2, help="fewest transits with data (default 2)")
    p.add_argument("--max-planets", type=int, default=3, help="signals to search for in turn (default 3)")
    p.add_argument("--min-snr", type=float, default=6.5,
                   help="stop below this S/N of the peak against the periodogram without its transits (default 6.5)")
    p.add_argument("--min-snr-without-strongest", type=float, default=4.0, metavar="S",
                   help="... or when the peak's other events alone fall below this S/N: one strong event is not a "
                        "periodic signal (default 4)")
    p.add_argument("--max-masked-events", type=int, default=3, metavar="N",
                   help="a peak that fails only the test above has its strongest event masked as a lone event "
                        "and the search goes on, at most N times (default 3; 0: stop there)")
    p.add_argument("--max-single-events", type=int, default=2, metavar="N",
                   help="after the periodic search, report up to N single events (one transit, period unknown; "
                        "default 2; 0: none)")
    p.add_argument("--single-min-snr", type=float, default=10.0, metavar="S",
                   help="S/N a single event needs (default 10)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _search_config(args: argparse.Namespace) -> Any:
    from ..search import SearchConfig

    low = args.min_period if args.min_period is not None else 0.5
    return SearchConfig(period_range=(low, args.max_period), min_transits=args.min_transits,
                        max_planets=args.max_planets, min_snr=args.min_snr,
                        min_snr_without_strongest=args.min_snr_without_strongest,
                        max_masked_events=args.max_masked_events, max_single_events=args.max_single_events,
                        single_min_snr=args.single_min_snr)


def candidate_table(fit: Any, result: Any) -> Any:
    """The candidates as an astropy Table with units (see :func:`halfsib.report.search_candidate_table`)."""
    from ..report import search_candidate_table

    return search_candidate_table(fit, result)


def run(args: argparse.Namespace) -> int:
    """Fit, search, write the candidate table (and periodogram / figure)."""
    from ..io import provenance, write_table
    from ..model import DetrendConfig
    from ..pipeline import search_target
    from .._atomic import check_figure_path, check_output_file, save_figure

    outputs = [check_output_file(args.out, "-o", overwrite=args.overwrite, suffix=".ecsv")]
    if args.periodogram:
        outputs.append(check_output_file(args.periodogram, "--periodogram", overwrite=args.overwrite))
    if args.plot:
        outputs.append(check_figure_path(args.plot, overwrite=args.overwrite))
    fit, result = search_target(target_argument(args), others=args.others, basis=args.basis, cbv=args.cbv,
                                config=DetrendConfig(kernel=args.kernel), search_config=_search_config(args),
                                flux_column=args.flux_column, show_progress=not args.quiet)
    inputs = [args.target, *args.others] + [p for p in (args.basis, args.cbv) if p]
    record = provenance(inputs, {"kernel": args.kernel, "search": repr(result.config)})
    write_table(candidate_table(fit, result), args.out, record=record)
    if args.periodogram:
        _write_periodograms(fit, result, args.periodogram, record)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        save_figure(result.plot(), args.plot, dpi=100)
    if not args.quiet:
        print(f"{fit.meta.target_id or args.target}: {len(result.candidates)} candidate(s), "
              f"{len(result.single_candidates)} single event(s)")
        for c in result.candidates:
            print(f"  P = {c.period:.5f} d  t0 = {c.t0:.4f}  dur = {c.duration:.1f} h  depth = {c.depth:.0f} "
                  f"± {c.depth_err:.0f} ppm  SNR {c.snr:.1f}  n = {c.n_transits}")
        for c in result.single_candidates:
            print(f"  single event at t0 = {c.t0:.4f} (P > {c.period_min:.1f} d)  dur = {c.duration:.1f} h  depth = "
                  f"{c.depth:.0f} ± {c.depth_err:.0f} ppm  S/N {c.snr:.1f}")
        print(f"wrote {', '.join(str(p) for p in outputs)}")
    return 0


def _write_periodograms(fit: Any, result: Any, path: str, record: Any) -> None:
    from astropy.io import fits

    from .._atomic import atomic_path
    from ..io import provenance_cards
    from ..timeseries import TIME_FORMATS

    hdus = [fits.PrimaryHDU()]
    header = hdus[0].header
    for key, value in fit.meta.to_header_cards().items():
        header[key] = value
    offset = TIME_FORMATS[fit.time_format][0] if fit.time_format in TIME_FORMATS else 0.0
    header["TIMESYS"] = ("TDB", "T0 columns: BJD_TDB minus TIMEOFFS")
    header["TIMEOFFS"] = (offset, f"[d] {fit.time_format.upper()} = BJD_TDB - this")
    for key, value, comment in provenance_cards(record):
        header[key] = (value, comment)
    for k, pg in enumerate(result.periodograms):
        cols = [fits.Column("PERIOD", "D", unit="d", array=pg.periods),
                fits.Column("POWER", "D", array=pg.power),
                fits.Column("DEPTH", "D", array=pg.depth), fits.Column("DEPTH_ERR", "D", array=pg.depth_err),
                fits.Column("DELTA_LOGLIKE", "D", array=pg.delta_loglike),
                fits.Column("T0", "D", unit="d", array=pg.t0), fits.Column("DURATION", "D", unit="h", array=pg.duration),
                fits.Column("N_TRANSITS", "J", array=pg.n_transits)]
        hdus.append(fits.BinTableHDU.from_columns(cols, name=f"PERIODOGRAM{k + 1}"))
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)
