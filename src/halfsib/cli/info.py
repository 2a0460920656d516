"""``halfsib info``: what halfsib reads from each file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "print what halfsib reads from each file (mission, target, cadences, time system, columns)"
DESCRIPTION = """\
Read each file with the same reader the pipeline uses and print, per file: the format,
mission, target, campaign/sector/quarter, channel or camera/CCD, good/total cadences,
time range and time system, and the columns or pixel-stamp shape.

A file halfsib cannot read gets a one-line error that names the file and the problem;
the exit status is then 1 (after all other files were shown).

examples:
  halfsib info ktwo211436265-c05_llc.fits
  halfsib info data/k2-c13/k2sff/*.fits
  halfsib info everest_c01_cbv_basis.txt       (CBV-style basis tables too)
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib info``."""
    p = subparsers.add_parser("info", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or quoted glob patterns")
    p.add_argument("--flux-column", default=None, help="flux column to read (default: the raw flux)")
    p.add_argument("--quality-bitmask", default="default",
                   help="'default', 'hard', 'none' or an integer (which flags make a cadence bad)")


def _describe_series(series: Any) -> list[str]:
    m = series.meta
    t0, t1 = series.time_range
    lines = [
        f"  format     {m.file_format}",
        f"  mission    {m.mission}  target {m.target_id or '?'}  season {m.season}  detector {m.detector}",
        f"  position   RA {m.ra if m.ra is not None else '?'}  Dec {m.dec if m.dec is not None else '?'}  "
        f"{m.magnitude_band or 'mag'} {m.magnitude if m.magnitude is not None else '?'}",
        f"  cadences   {series.n_good} good / {series.n_cadences} total",
        f"  time       {t0:.5f} .. {t1:.5f} {series.time_format.upper()} (TDB, +{series.time_offset:.0f} d = BJD)",
    ]
    from ..io.quality import describe_flags

    flags = describe_flags(series.quality, m.mission)
    if flags:
        top = sorted(flags.items(), key=lambda kv: -kv[1])[:4]
        lines.append("  flags      " + ", ".join(f"{name}: {count}" for name, count in top))
    if hasattr(series, "aperture"):
        lines.append(f"  stamp      {series.shape[0]} rows x {series.shape[1]} cols, aperture "
                     f"{int(series.aperture.sum())} px, corner (col, row) = {series.corner}")
    else:
        err = " (estimated from scatter)" if series.flux_err_estimated else ""
        lines.append(f"  flux       {m.flux_column} [{series.flux_unit or 'relative'}]{err}")
        if series.columns:
            lines.append(f"  columns    {', '.join(sorted(series.columns))}")
    return lines


def _describe_basis(basis: Any) -> list[str]:
    return [
        "  format     basis table (CBV-style regressors)",
        f"  vectors    {basis.n_vectors}: {', '.join(basis.names[:10])}{' ...' if basis.n_vectors > 10 else ''}",
        f"  cadences   {basis.time.size}",
        f"  time       {basis.time[0]:.5f} .. {basis.time[-1]:.5f} ({basis.time_format})",
    ]


def run(args: argparse.Namespace) -> int:
    """Print a block per file; return 1 if any file could not be read."""
    from ..exceptions import HalfsibError
    from ..io import expand_paths, read, read_basis
    from ..io.identify import identify
    from ..io.quality import parse_bitmask

    bitmask = parse_bitmask(args.quality_bitmask)
    failures = 0
    try:
        paths = expand_paths(args.paths)
    except HalfsibError as err:
        print(f"halfsib info: error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        try:
            kind = identify(path)
            if kind == "basis":
                lines = _describe_basis(read_basis(path))
            else:
                lines = _describe_series(read(path, flux_column=args.flux_column, quality_bitmask=bitmask))
        except HalfsibError as err:
            failures += 1
            print(f"halfsib info: error: {err}", file=sys.stderr)
            continue
        print(str(path))
        print("\n".join(lines))
    if failures:
        print(f"halfsib info: {failures} of {len(paths)} file(s) could not be read", file=sys.stderr)
    return 1 if failures else 0
