"""The ``halfsib`` command line.

Argument parsing only: each subcommand lives in its own module with two functions,
``add_parser(subparsers)`` and ``run(args) -> int``; the work itself is done by library
calls. Heavy imports (astropy, lightkurve, numba) happen inside ``run`` so that
``halfsib --help`` answers in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__

#: Subcommand name -> module under ``halfsib.cli`` (order = order in ``--help``).
SUBCOMMANDS: dict[str, str] = {
    "info": "info",
    "simulate": "simulate",
    "basis": "basis",
    "detrend": "detrend",
    "search": "search",
    "fit": "fit",
    "run": "run",
    "batch": "batch",
    "inject": "inject",
    "demo": "demo",
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

DESCRIPTION = """\
halfsib removes instrument systematics from Kepler, K2 and TESS photometry by
half-sibling regression (other stars share the instrument, not the star) and searches
for transits jointly with that model.

examples:
  halfsib info ktwo247589423-c13_llc.fits          what halfsib reads from a file
  halfsib simulate --mission k2 --stars 50 -o sim/  a simulated campaign with truth
  halfsib basis sim/lc/ -o basis.fits                eigen light curves of a campaign
  halfsib detrend sim/lc/ktwo900000001-c99_llc.fits --others sim/lc/ -o out.fits --plot out.png
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by ``main`` and by the docs)."""
    parser = argparse.ArgumentParser(
        prog="halfsib", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"halfsib {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output control")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log messages (-vv for debug)")
    group.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    group.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        importlib.import_module(f"{__name__}.{module}").add_parser(sub, common)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``halfsib`` command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _configure_logging(args.verbose, args.quiet)
    module = importlib.import_module(f"{__name__}.{SUBCOMMANDS[args.command]}")
    from ..exceptions import HalfsibError

    try:
        return int(module.run(args))
    except HalfsibError as err:
        if args.traceback:
            raise
        print(f"halfsib {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as err:  # the disk, the file system or the operating system refused
        if args.traceback:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"halfsib {args.command}: error: {where}{err.strerror or err}; check the path, its permissions and "
              "the free disk space, then run again (outputs are written whole or not at all; --traceback for "
              "details)", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"halfsib {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
