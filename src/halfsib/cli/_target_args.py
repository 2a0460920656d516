"""Arguments shared by the commands that model one target (``detrend``, ``search``)."""

from __future__ import annotations

import argparse


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """TARGET, the regressor sources, the flux column and the stellar kernel."""
    p.add_argument("target", metavar="TARGET", help="the star: any file halfsib reads (TPF, light curve, table)")
    p.add_argument("--others", nargs="+", default=[], metavar="PATH",
                   help="other stars of the same campaign/sector: files, directories or quoted globs")
    p.add_argument("--basis", metavar="FILE", help="a prebuilt eigen-light-curve basis (halfsib basis)")
    p.add_argument("--cbv", metavar="FILE", help="CBV-style basis table (time + vectors)")
    p.add_argument("--flux-column", default=None, help="flux column to read (default: the raw flux)")
    p.add_argument("--kernel", default="sho", choices=("sho", "rotation", "matern32", "none"),
                   help="stellar-variability GP (default: sho)")
