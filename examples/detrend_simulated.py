"""Detrend a simulated K2 planet host with its half-siblings, and compare with the truth.

Run:  python examples/detrend_simulated.py [OUTDIR]

Simulates a small K2 campaign patch, fits the half-sibling model to the star with the
deepest injected transit (its transits masked, so the fit never sees them), writes the
corrected light curve (FITS, opens with lightkurve.read) and the diagnostic figure, and
prints how far the corrected flux is from the true astrophysical flux.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.table import Table  # noqa: E402

import halfsib  # noqa: E402
from halfsib.model import transit_window_mask  # noqa: E402
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign  # noqa: E402


def main(outdir: Path, n_cadences: int = 1500) -> dict[str, float]:
    campaign = simulate_campaign(SimulationConfig(mission="k2", n_stars=12, n_cadences=n_cadences, seed=8,
                                                  planet_fraction=0.4, eb_fraction=0.0, mag_range=(12.0, 14.5)))
    write_campaign(campaign, outdir, overwrite=True, progress=False)
    truth = Table.read(outdir / "truth.ecsv")
    bodies = Table.read(outdir / "planets.ecsv")
    planets = bodies[(bodies["kind"] == "planet") & (bodies["n_events"] >= 2)]
    planet = planets[np.argmax(planets["depth"])]
    star = int(np.flatnonzero(truth["star_id"] == planet["star_id"])[0])

    target = halfsib.read(outdir / truth["lc_file"][star])
    mask = transit_window_mask(target.time, float(planet["period"]), float(planet["t0"]),
                               float(planet["duration"]), factor=2.0)
    result = halfsib.detrend_target(target, others=[outdir / "lc"], transit_mask=mask)
    print(result)
    result.write(outdir / "detrended.fits", inputs=[str(outdir / truth["lc_file"][star])])
    result.plot().savefig(outdir / "detrended.png", dpi=80)

    with fits.open(outdir / "truth_flux.fits") as hdul:
        astro = hdul["ASTRO_FLUX"].data[star]
        cadences = hdul["CADENCES"].data["CADENCENO"]
    true_rel = astro[np.searchsorted(cadences, result.cadenceno)]
    true_rel = true_rel / np.median(true_rel)
    raw = result.raw_flux / result.normalisation
    numbers = {
        "raw_minus_truth_ppm": 1e6 * float(np.std(raw - true_rel)),
        "corrected_minus_truth_ppm": 1e6 * float(np.std(result.flux - true_rel)),
        "photon_floor_ppm": 1e6 * float(np.median(result.flux_err)),
        "injected_depth_ppm": float(planet["depth"]),
    }
    for key, value in numbers.items():
        print(f"{key:28s} {value:10.1f}")
    print(f"wrote {outdir / 'detrended.fits'} and {outdir / 'detrended.png'}")
    return numbers


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="halfsib-detrend-")))
