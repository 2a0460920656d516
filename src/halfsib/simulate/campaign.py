"""``simulate_campaign``: draw a whole campaign and keep its light curves and truth in memory."""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from .._progress import progress as _progress
from ..exceptions import ConfigurationError
from .astrophysics import Astrophysics, make_astrophysics
from .config import SimulationConfig
from .instrument import Pointing, Timeline, background_rate, make_pointing, make_timeline
from .render import StampPixels, optimal_aperture, photometry, render_stamp
from .scene import Scene, make_scene

__all__ = ["Campaign", "simulate_campaign", "FIELD_CENTRE"]

log = logging.getLogger(__name__)

#: Sky position [deg] of the boresight: a K2-like ecliptic field and a TESS field near the
#: southern ecliptic pole. Coordinates use a small-field (flat-sky) approximation.
FIELD_CENTRE: dict[str, tuple[float, float]] = {"k2": (180.0, 0.0), "tess": (90.0, -66.5)}

_PHOTOMETRY_KEYS = ("sap_flux", "sap_flux_err", "sap_bkg", "sap_bkg_err", "mom_centr1", "mom_centr2", "stars_flux")


@dataclass
class Campaign:
    """A simulated campaign (K2) or sector (TESS), in memory.

    Per-star arrays have shape ``(n_stars, N)``; stars are in the order of
    ``scene.ids``. Pixel stamps are not kept (a 200-star K2 campaign has ~10⁸ pixel
    values); :meth:`pixels` renders one again, bit-identical, from its stored noise seed.

    Attributes
    ----------
    config : SimulationConfig
    timeline : Timeline
        Cadence times, cadence numbers, gaps and quality flags.
    pointing : Pointing
        The instrument's pointing/focus history (truth of the systematics drivers).
    scene : Scene
        Star positions, magnitudes, stamps and pixel response.
    astro : Astrophysics
        Noiseless astrophysical relative flux (``astro.flux``) and its ingredients.
    noise_seeds : ndarray of int
        Seed of each stamp's noise generator.
    apertures : list of ndarray of bool
        Each target's optimal aperture, shape ``(ny, nx)``.
    sap_flux, sap_flux_err, sap_bkg, sap_bkg_err : ndarray
        Aperture photometry [e-/s], NaN where no data.
    mom_centr1, mom_centr2 : ndarray
        Flux-weighted centroid column/row [CCD pixel].
    pos_corr1, pos_corr2 : ndarray
        Pipeline-like estimate of the local image motion [pixel].
    aperture_flux : ndarray
        Noiseless flux of all stars in the aperture (target + contaminants, with every
        instrumental effect but no noise or background) [e-/s].
    contamination : ndarray, shape (n_stars,)
        Fraction of the aperture's mean star light that is not from the target.
    flux_fraction : ndarray, shape (n_stars,)
        Fraction of the target's light that falls in its aperture.
    saturated : ndarray of bool, shape (n_stars,)
        Whether any pixel of the stamp reached the full well.
    version : str
        halfsib version that made it.
    """

    config: SimulationConfig
    timeline: Timeline
    pointing: Pointing
    scene: Scene
    astro: Astrophysics
    noise_seeds: NDArray[np.int64]
    apertures: list[NDArray[np.bool_]]
    sap_flux: NDArray[np.float64]
    sap_flux_err: NDArray[np.float64]
    sap_bkg: NDArray[np.float64]
    sap_bkg_err: NDArray[np.float64]
    mom_centr1: NDArray[np.float64]
    mom_centr2: NDArray[np.float64]
    pos_corr1: NDArray[np.float64]
    pos_corr2: NDArray[np.float64]
    aperture_flux: NDArray[np.float64]
    contamination: NDArray[np.float64]
    flux_fraction: NDArray[np.float64]
    saturated: NDArray[np.bool_]
    version: str = __version__

    @property
    def n_stars(self) -> int:
        """Number of targets."""
        return self.scene.n

    @property
    def time(self) -> NDArray[np.float64]:
        """Mid-cadence times [d] (BKJD/BTJD), finite everywhere (files have NaN at gaps)."""
        return self.timeline.time

    @property
    def ids(self) -> NDArray[np.int64]:
        """EPIC or TIC numbers of the targets."""
        return self.scene.ids

    def object_name(self, i: int) -> str:
        """``"EPIC nnn"`` or ``"TIC nnn"``."""
        return f"{'EPIC' if self.config.mission == 'k2' else 'TIC'} {int(self.ids[i])}"

    def sky(self, i: int) -> NDArray[np.float64]:
        """True background at target ``i`` [e-/s/pixel], per cadence."""
        fx, fy = self.scene.focal(self.scene.col[i], self.scene.row[i])
        return background_rate(self.timeline, self.config, float(fx), float(fy), self.scene.sky_gradient)

    def motion(self, i: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """True image motion of target ``i`` per cadence (column, row) [pixel]."""
        fx, fy = self.scene.focal(self.scene.col[i : i + 1], self.scene.row[i : i + 1])
        dcol, drow = self.pointing.offsets(fx, fy)
        return self.pointing.cadence_mean(dcol)[0], self.pointing.cadence_mean(drow)[0]

    def pixels(self, i: int, *, noise: bool = True, saturation: bool | None = None) -> StampPixels:
        """Render target ``i``'s pixel stamp (identical on every call).

        Parameters
        ----------
        noise : bool
            ``False``: noiseless pixels with exact background subtraction.
        saturation : bool, optional
            Override the config's saturation switch (``False`` for the unbled image).
        """
        rng = np.random.default_rng(int(self.noise_seeds[i])) if noise else None
        return render_stamp(
            self.scene, self.pointing, self.timeline, self.astro.flux, self.sky(i), i, rng, saturation=saturation
        )

    def radec(self, col: NDArray[np.float64], row: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Sky coordinates [deg] of CCD positions (flat-sky approximation; RA grows to −column)."""
        ra0, dec0 = FIELD_CENTRE[self.config.mission]
        scale = self.config.spec.pixel_scale / 3600.0
        fx, fy = self.scene.focal(col, row)
        return ra0 - fx * scale / np.cos(np.radians(dec0)), dec0 + fy * scale

    def file_names(self, i: int) -> tuple[str, str]:
        """Mission-style (TPF, LC) file names of target ``i``."""
        ident = int(self.ids[i])
        if self.config.mission == "k2":
            stem = f"ktwo{ident:09d}-c{self.config.campaign:02d}"
            return f"{stem}_lpd-targ.fits", f"{stem}_llc.fits"
        stamp = _tess_timestamp(float(self.time[0]))
        stem = f"tess{stamp}-s{self.config.sector:04d}-{ident:016d}-0120-s"
        return f"{stem}_tp.fits", f"{stem}_lc.fits"

    def provenance(self) -> dict[str, Any]:
        """What made this campaign: software, version, seed and every setting."""
        return {"software": "halfsib.simulate", "halfsib_version": self.version, "seed": self.config.seed,
                "config": self.config.to_dict()}

    def truth_table(self):  # -> astropy.table.Table
        """One row per target: position, magnitude, variability, EB and planet truth."""
        from .truth import truth_table

        return truth_table(self)

    def bodies_table(self):  # -> astropy.table.Table
        """One row per injected planet or eclipsing companion."""
        from .truth import bodies_table

        return bodies_table(self)


def _tess_timestamp(btjd: float) -> str:
    """SPOC-style ``YYYYDDDHHMMSS`` of a BTJD (UTC ≈ TDB is close enough for a file name)."""
    when = _dt.datetime(2000, 1, 1, 12, tzinfo=_dt.timezone.utc) + _dt.timedelta(days=btjd + 2457000.0 - 2451545.0)
    return when.strftime("%Y%j%H%M%S")


def _check_inputs(config: SimulationConfig | None, rng: np.random.Generator | None) -> tuple:
    if config is None:
        config = SimulationConfig()
    if not isinstance(config, SimulationConfig):
        raise ConfigurationError(f"config must be a SimulationConfig, got {type(config).__name__}")
    if rng is None:
        rng = np.random.default_rng(config.seed)
    elif not isinstance(rng, np.random.Generator):
        raise ConfigurationError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return config, rng


def simulate_campaign(
    config: SimulationConfig | None = None, rng: np.random.Generator | None = None, *, progress: bool = False
) -> Campaign:
    """Simulate a campaign patch: stars, instrument, pixels, photometry and truth.

    Parameters
    ----------
    config : SimulationConfig, optional
        What to simulate; default ``SimulationConfig()`` (50 K2 stars, full campaign).
    rng : numpy.random.Generator, optional
        Source of all randomness; default ``numpy.random.default_rng(config.seed)``. The
        same generator state always gives the same campaign.
    progress : bool
        Show a progress bar over the stars.

    Returns
    -------
    Campaign

    Raises
    ------
    ConfigurationError
        If ``config`` or ``rng`` has the wrong type.

    Examples
    --------
    >>> from halfsib.simulate import SimulationConfig, simulate_campaign
    >>> camp = simulate_campaign(SimulationConfig(n_stars=3, n_cadences=100, seed=1))
    >>> camp.sap_flux.shape
    (3, 100)
    """
    config, rng = _check_inputs(config, rng)
    pointing = make_pointing(config, rng)
    timeline = make_timeline(config, {"firing": pointing.firing, "dump": pointing.dump}, rng)
    scene = make_scene(config, rng)
    astro = make_astrophysics(config, timeline.time, timeline.timedel, scene, rng)
    seeds = rng.integers(0, 2**62, size=scene.n, dtype=np.int64)
    shape = (scene.n, timeline.n)
    out = {key: np.empty(shape) for key in (*_PHOTOMETRY_KEYS, "pos_corr1", "pos_corr2")}
    apertures: list[NDArray[np.bool_]] = []
    contamination = np.empty(scene.n)
    fraction = np.empty(scene.n)
    saturated = np.zeros(scene.n, dtype=bool)
    camp = Campaign(config, timeline, pointing, scene, astro, seeds, apertures, *(out[k] for k in (
        "sap_flux", "sap_flux_err", "sap_bkg", "sap_bkg_err", "mom_centr1", "mom_centr2", "pos_corr1", "pos_corr2",
        "stars_flux")), contamination, fraction, saturated)
    read_var = timeline.n_reads * config.spec.read_noise**2
    well_rate = 0.999 * config.spec.full_well / timeline.frame_time
    for i in _progress(range(scene.n), enabled=progress, desc="simulate", unit="star"):
        pix = camp.pixels(i)
        ap = optimal_aperture(pix.target_mean, pix.stars_mean, pix.sky_mean, timeline.exposure, read_var)
        apertures.append(ap)
        phot = photometry(pix, ap, int(scene.stamp_col0[i]), int(scene.stamp_row0[i]))
        for key in _PHOTOMETRY_KEYS:
            out[key][i] = phot[key]
        contamination[i] = 1.0 - pix.target_mean[ap].sum() / pix.stars_mean[ap].sum()
        fraction[i] = pix.target_mean[ap].sum() / (scene.flux[i] * astro.flux[i].mean())
        saturated[i] = bool(np.nanmax(pix.stars) + pix.sky_mean >= well_rate)
        dcol, drow = camp.motion(i)
        jitter = np.random.default_rng(int(seeds[i]) + 1).normal(0.0, 0.002, size=(2, timeline.n))
        out["pos_corr1"][i] = dcol - np.median(dcol) + jitter[0]
        out["pos_corr2"][i] = drow - np.median(drow) + jitter[1]
    log.info("simulated %d %s stars x %d cadences", scene.n, config.mission, timeline.n)
    return camp
