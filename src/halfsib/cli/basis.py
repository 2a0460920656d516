"""``halfsib basis``: build an eigen-light-curve basis from many stars, once per campaign/sector."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "build an eigen-light-curve (ELC) basis from many stars of one campaign/sector"
DESCRIPTION = """\
Read every light curve given, normalise each star (divide by its median, subtract 1,
clip outliers, interpolate gaps), deal the stars into folds (stars closer than the
exclusion radius share a fold) and compute the principal components of all stars and of
each fold left out. The file lets `detrend`/`batch` give every target ELCs that never
contain the target or its neighbours, with no PCA per target.

Stars that cannot be read or have too little good data are reported and left out.

K2 (where targets search their own pointing breaks by default): 12 stars evenly spaced
through the set are each fitted with their own motion terms and searched for pointing
breaks, and the breaks found on at least 40 % of them are the campaign's. They are saved
in the basis file; `detrend`, `search`, `run` and `batch` with this --basis give them to
every target and skip the per-target search (about 1 minute here, saved on every target).
--no-breaks skips this; --break-stars sets how many stars vote.
With --same-channel, one basis per detector (K2/Kepler channel, TESS camera/CCD) is
written, named after -o with the detector appended: basis.fits -> basis_ch68.fits.

examples:
  halfsib basis data/k2-c13/k2sff/ -o c13_basis.fits
  halfsib basis 'sector1/*.fits' -o s1_basis.fits --components 50 --folds 10
  halfsib basis data/k2-c13/k2sff/ -o c13.fits --same-channel --folds 2
  halfsib basis lcs/ -o basis.fits --flux-column PDCSAP_FLUX --weighting unit
"""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``halfsib basis``."""
    p = subparsers.add_parser("basis", parents=[common], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("others", nargs="+", metavar="OTHERS", help="light-curve files, directories or quoted globs")
    p.add_argument("-o", "--out", "--output", dest="output", required=True, metavar="BASIS.fits", help="basis file to write")
    p.add_argument("--components", type=int, default=150, metavar="N",
                   help="default number of ELCs per target (default 150; fewer if fewer stars)")
    p.add_argument("--folds", type=int, default=8, metavar="F", help="number of folds (default 8)")
    p.add_argument("--flux-column", default=None, help="flux column to read (default: the raw flux)")
    p.add_argument("--same-channel", action="store_true", help="one basis per channel (or camera/CCD)")
    p.add_argument("--exclusion-radius", type=float, default=60.0, metavar="ARCSEC",
                   help="stars closer than this share a fold and never regress each other (default 60)")
    p.add_argument("--weighting", choices=("none", "noise", "unit"), default="none",
                   help="star weights in the PCA: none (default), inverse white noise, or equal scatter")
    p.add_argument("--quality-bitmask", default="default",
                   help="'default', 'hard', 'none' or an integer (which flags make a cadence bad)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--no-breaks", action="store_true",
                   help="do not search the campaign's pointing breaks (K2; each target then searches its own)")
    p.add_argument("--break-stars", type=int, default=12, metavar="N",
                   help="stars searched for the campaign's pointing breaks (default 12)")


def _output_path(output: str, detector: str | None) -> Path:
    path = Path(output)
    if detector is None:
        return path
    suffix = "".join(path.suffixes) or ".fits"
    stem = path.name[: len(path.name) - len("".join(path.suffixes))] if path.suffixes else path.name
    return path.with_name(f"{stem}_{detector}{suffix}")


def _sets(series: list[Any], same_channel: bool) -> dict[str, list[Any]]:
    if not same_channel:
        return {"": series}
    sets: dict[str, list[Any]] = {}
    for s in series:
        sets.setdefault(s.meta.detector, []).append(s)
    return dict(sorted(sets.items()))


def _build_one(args: argparse.Namespace, detector: str, members: list[Any]) -> bool:
    """Build and write one basis; False (after a message) when it could not be made."""
    from ..exceptions import HalfsibError
    from ..regressors import ElcBasis

    out = _output_path(args.output, detector or None)
    what = detector or "the set"
    if len(members) < 2:
        print(f"halfsib basis: {what} has {len(members)} star(s); a basis needs 2 - skipped", file=sys.stderr)
        return False
    try:
        basis = ElcBasis.build(members, n_components=args.components, n_folds=min(args.folds, len(members)),
                               exclusion_radius=args.exclusion_radius, weighting=args.weighting)
        basis.pointing_breaks = _campaign_breaks(args, members, what)
        basis.save(out, overwrite=args.overwrite, inputs=[s.meta.source for s in members if s.meta.source])
    except (HalfsibError, FileExistsError) as err:
        print(f"halfsib basis: error: {what}: {err}", file=sys.stderr)
        return False
    breaks = ("" if basis.pointing_breaks is None else
              f"; pointing breaks at {', '.join(f'{b:.3f}' for b in basis.pointing_breaks) or 'none'} d")
    print(f"{out}: {basis.stars.n_stars} stars ({len(basis.rejected)} left out) x {basis.grid.size} cadences, "
          f"{basis.n_folds} folds, {basis.mission} {basis.season}{breaks}")
    return True


def _campaign_breaks(args: argparse.Namespace, members: list[Any], what: str) -> tuple[float, ...] | None:
    """The set's pointing breaks where its mission searches them (K2) and --no-breaks is not given."""
    from .._progress import progress
    from ..exceptions import HalfsibError
    from ..pipeline import find_campaign_breaks
    from ..regressors import RegressorConfig

    mission = members[0].meta.mission
    sources = [s.meta.source for s in members if s.meta.source]
    if args.no_breaks or not RegressorConfig().searches_breaks(mission) or not sources:
        return None

    def mapper(func: Any, *iterables: Any) -> Any:
        return progress(map(func, *iterables), enabled=not args.quiet, total=min(args.break_stars, len(sources)),
                        desc=f"{what}: pointing breaks", unit="star")

    try:
        found = find_campaign_breaks(sources, n_stars=args.break_stars, flux_column=args.flux_column, mapper=mapper)
    except HalfsibError as err:
        print(f"halfsib basis: {what}: no pointing breaks searched ({err}); each target will search its own",
              file=sys.stderr)
        return None
    for line in found.skipped:
        print(f"halfsib basis: pointing breaks: skipped {line}", file=sys.stderr)
    return found.times


def run(args: argparse.Namespace) -> int:
    """Build and write the basis (or one per detector); 1 if a basis could not be written."""
    from .._atomic import check_output_file
    from .._progress import progress
    from ..exceptions import ConfigurationError
    from ..io import expand_paths, read_many
    from ..io.quality import parse_bitmask

    if args.components < 1 or args.folds < 1:
        raise ConfigurationError(f"--components and --folds must be >= 1, got {args.components} and {args.folds}")
    if args.break_stars < 1:
        raise ConfigurationError(f"--break-stars must be >= 1, got {args.break_stars}")
    check_output_file(args.output, "-o", overwrite=args.overwrite or args.same_channel)  # per-set names: checked at save
    bitmask = parse_bitmask(args.quality_bitmask)
    series, failures = read_many(expand_paths(args.others), on_error="skip", show_progress=not args.quiet,
                                 flux_column=args.flux_column, quality_bitmask=bitmask, extra_columns=False)
    for failure in failures:
        print(f"halfsib basis: skipped {failure.error}", file=sys.stderr)
    sets = _sets(series, args.same_channel)
    written = [_build_one(args, detector, members)
               for detector, members in progress(sets.items(), enabled=not args.quiet and len(sets) > 1,
                                                 total=len(sets), desc="bases", unit="set")]
    too_small = [len(m) < 2 for m in sets.values()]
    if not any(written):
        print("halfsib basis: no basis was written", file=sys.stderr)
        return 1
    return 0 if all(w or small for w, small in zip(written, too_small)) else 1
