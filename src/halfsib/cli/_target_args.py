"""Arguments shared by the commands that model one target (``detrend``, ``search``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """TARGET, the regressor sources, the flux column and the stellar kernel."""
    p.add_argument("target", metavar="TARGET", help="the star: any file halfsib reads (TPF, light curve, table)")
    p.add_argument("--others", nargs="+", default=[], metavar="PATH",
                   help="other stars of the same campaign/sector: files, directories or quoted globs")
    p.add_argument("--basis", metavar="FILE", help="a prebuilt eigen-light-curve basis (halfsib basis)")
    p.add_argument("--cbv", metavar="FILE", help="CBV-style basis table (time + vectors)")
    p.add_argument("--flux-column", default=None, help="flux column to read (default: the raw flux)")
    p.add_argument("--flux-err-column", default=None, metavar="NAME",
                   help="uncertainty column to read (default: the flux column's own); 'none' ignores the file's "
                        "errors and estimates the white noise from the scatter (a column that is NaN or 0 "
                        "everywhere is ignored anyway, with a warning)")
    p.add_argument("--kernel", default="sho", choices=("sho", "rotation", "matern32", "none"),
                   help="stellar-variability GP (default: sho)")


def target_argument(args: argparse.Namespace) -> Any:
    """TARGET as the pipeline takes it: the path, or the series read with ``--flux-err-column``."""
    if args.flux_err_column is None:
        return args.target
    from ..pipeline import load_target

    column = None if args.flux_err_column.lower() == "none" else args.flux_err_column
    return load_target(args.target, flux_column=args.flux_column, flux_err_column=column)
