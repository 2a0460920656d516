"""``halfsib simulate``: write a simulated K2 campaign or TESS sector with its truth."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "simulate a K2 campaign or TESS sector (mission-format files + truth)"

DESCRIPTION = """\
Simulate many stars on one detector patch observed by one instrument, and write
mission-format target pixel files and light-curve files (lightkurve and halfsib read
them) together with the truth, so that a systematics correction can be scored as
"corrected - truth".

What is simulated:
  K2    29.4-min cadence (~3,500 per campaign); roll about the boresight (6-h sawtooth
        reset by thruster firings, flagged in QUALITY, larger far from the boresight),
        drift, velocity aberration, focus changes, desaturations.
  TESS  2-min (~18,000 per sector) or FFI cadences (30 min, 10 min, 200 s); two orbits
        with a gap, jitter, momentum dumps with pointing jumps, scattered light near
        the orbit edges, 21" pixels and crowding.
  both  a PRF varying over the field, intra- and inter-pixel response, saturation
        with bleeding, photon/read/background noise, cosmic rays, gaps; stellar
        variability from celerite2 GPs, eclipsing binaries (some leaking into a
        neighbour's pixels) and limb-darkened transiting planets.

Output (in --out):
  tpf/            target pixel files (ktwo*_lpd-targ.fits, tess*_tp.fits)
  lc/             light-curve files (ktwo*_llc.fits, tess*_lc.fits); PDCSAP = SAP
  truth.ecsv      one row per star: position, magnitude, variability, EB, planets,
                  contamination of its aperture
  planets.ecsv    one row per injected planet or eclipsing companion
  truth_flux.fits noiseless astrophysical flux and aperture flux of every star,
                  true image motion and pointing per cadence

examples:
  halfsib simulate --mission k2 --stars 50 -o sim/
  halfsib simulate --mission tess --stars 20 --cadence 2min -o sim_tess/
  halfsib simulate --mission tess --cadence 30min --stars 200 --no-pixels -o ffi/
  halfsib simulate --mission k2 --stars 10 --cadences 500 --seed 7 --planet-fraction 1 -o quick/

The same --seed gives the same files; see docs/simulator.md for the instrument model.
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``simulate`` on the ``halfsib`` command line."""
    p = subparsers.add_parser(
        "simulate", parents=[common], help=HELP, description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mission", choices=("k2", "tess"), default="k2", help="instrument to mimic (default: k2)")
    p.add_argument("--stars", type=int, default=50, metavar="N", help="number of target stars (default: 50)")
    p.add_argument("--cadences", type=int, default=None, metavar="N",
                   help="cadences per file (default: a full campaign/sector)")
    p.add_argument("--cadence", choices=("30min", "2min", "10min", "200s"), default=None,
                   help="TESS cadence (default: 2min); K2 is always 30min long cadence")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--planet-fraction", type=_fraction, default=0.2, metavar="F",
                   help="fraction of stars with transiting planets (default: 0.2)")
    p.add_argument("--eb-fraction", type=_fraction, default=0.05, metavar="F",
                   help="fraction of stars that are eclipsing binaries (default: 0.05)")
    p.add_argument("--no-pixels", action="store_true", help="write light curves and truth only, no pixel files")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="DIR", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in the output folder")
    return p


def _size(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000.0
    return f"{nbytes:.1f} GB"  # pragma: no cover


def _listing(campaign: Any, written: list[Path], out: Path) -> str:
    by_folder: dict[str, int] = {}
    for path in written:
        folder = path.parent.name if path.parent != out else "."
        by_folder[folder] = by_folder.get(folder, 0) + 1
    total = sum(p.stat().st_size for p in written)
    kinds = [b.kind for b in campaign.astro.bodies]
    hosts = len({b.star for b in campaign.astro.bodies if b.kind == "planet"})
    lines = [f"wrote {len(written)} files ({_size(total)}) to {out}/"]
    for folder in ("tpf", "lc"):
        if folder in by_folder:
            lines.append(f"  {folder + '/':<17}{by_folder[folder]} files")
    for name in ("truth.ecsv", "planets.ecsv", "truth_flux.fits"):
        lines.append(f"  {name:<17}{_size((out / name).stat().st_size)}")
    config = campaign.config
    season = f"campaign {config.campaign}" if config.mission == "k2" else f"sector {config.sector}"
    lines.append(
        f"{config.mission.upper()} {season}, {config.cadence} cadence, {campaign.n_stars} stars x "
        f"{config.n_cadences} cadences, seed {config.seed}: {kinds.count('planet')} planets on {hosts} stars, "
        f"{kinds.count('eb')} eclipsing binaries"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Simulate and write; print what was written."""
    from .._atomic import check_output_folder
    from ..exceptions import ConfigurationError
    from ..simulate import SimulationConfig, simulate_campaign, write_campaign

    out = check_output_folder(args.out)
    if not args.overwrite and ((out / "truth.ecsv").exists() or any(out.glob("lc/*.fits"))):
        raise ConfigurationError(f"{out} already holds a simulation; pass --overwrite or choose another --out")
    config = SimulationConfig(
        mission=args.mission, n_stars=args.stars, n_cadences=args.cadences, cadence=args.cadence, seed=args.seed,
        planet_fraction=args.planet_fraction, eb_fraction=args.eb_fraction,
    )
    show = not args.quiet
    campaign = simulate_campaign(config, progress=show)
    written = write_campaign(campaign, out, pixels=not args.no_pixels, overwrite=args.overwrite, progress=show)
    print(_listing(campaign, written, out))
    return 0
