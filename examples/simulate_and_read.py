"""Simulate a small K2 campaign patch, read it back with halfsib, align it and look at it.

Run:  python examples/simulate_and_read.py [OUTDIR]

Writes real-format K2 files (as `halfsib simulate` does), reads every light curve with
the one entry point, puts them on one cadence grid, and saves a figure: a pixel stamp,
the raw light curves of a few stars (the shared roll sawtooth is the instrument, the
half-siblings' common signal) and, for a planet host, raw flux against the true
astrophysical flux.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.table import Table  # noqa: E402

import halfsib  # noqa: E402
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign  # noqa: E402


def main(outdir: Path) -> Path:
    campaign = simulate_campaign(SimulationConfig(mission="k2", n_stars=12, n_cadences=1200, seed=3,
                                                  planet_fraction=0.3))
    write_campaign(campaign, outdir, overwrite=True, progress=False)

    series, failures = halfsib.read_many(outdir / "lc", show_progress=False)
    print(f"read {len(series)} light curves ({len(failures)} failures), e.g. {series[0]}")
    aligned = halfsib.align(series)  # (n_stars, n_cadences) on cadence numbers
    pixels = halfsib.read(sorted((outdir / "tpf").glob("*.fits"))[0])
    print(pixels)

    truth = Table.read(outdir / "truth.ecsv")
    with fits.open(outdir / "truth_flux.fits") as hdul:
        astro = hdul["ASTRO_FLUX"].data
    host = int(np.argmax(truth["n_planets"]))

    fig, axes = plt.subplots(3, 1, figsize=(10, 10), constrained_layout=True)
    image = np.nanmedian(pixels.flux[pixels.good], axis=0)
    axes[0].imshow(np.log10(np.clip(image, 1, None)), origin="lower", cmap="viridis")
    axes[0].contour(pixels.aperture, levels=[0.5], colors="w", linewidths=1)
    axes[0].set_title(f"{pixels.meta.target_id}: median stamp (log e-/s) and aperture")
    for i in range(min(5, aligned.n_series)):
        flux = aligned.flux[i] / np.nanmedian(aligned.flux[i])
        axes[1].plot(aligned.time, flux + 0.02 * i, lw=0.5, label=aligned.ids[i])
    axes[1].set_title("raw SAP flux of five stars (offset): the roll systematics they share")
    axes[1].legend(fontsize=7, ncol=5)
    raw = aligned.flux[host] / np.nanmedian(aligned.flux[host])
    axes[2].plot(aligned.time, raw, ".", ms=2, color="0.5", label="raw SAP")
    axes[2].plot(aligned.time, astro[host] / np.median(astro[host]), color="C3", lw=1, label="true astrophysical")
    axes[2].set_title(f"{aligned.ids[host]}: {int(truth['n_planets'][host])} injected planet(s)")
    axes[2].set_xlabel(f"time [{aligned.time_format.upper()}]")
    axes[2].legend(fontsize=8)
    path = outdir / "simulate_and_read.png"
    fig.savefig(path, dpi=80)
    print(f"figure: {path}")
    return path


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="halfsib-example-")))
