"""Instrument numbers for the simulated missions, with their sources.

Everything mission-specific that is not a user setting lives here, as frozen data, so the
other modules read ``mission.read_noise`` instead of hard-coding numbers. Sources:
Kepler Instrument Handbook (KSCI-19033), K2 data release notes and the headers of real
K2 (C5) and TESS (S1) files in ``shared/data``; TESS Science Data Products Description
(EXP-TESS-ARC-ICD-0014) and the TESS Instrument Handbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CadenceSpec", "MissionSpec", "MISSIONS", "K2", "TESS"]


@dataclass(frozen=True)
class CadenceSpec:
    """One cadence type of a mission.

    Attributes
    ----------
    name : str
        ``"30min"`` (K2 long cadence), ``"2min"``, ``"10min"``, ``"200s"``...
    timedel : float
        Cadence spacing [d].
    n_frames : int
        Frames co-added per cadence (after on-board cosmic-ray mitigation for TESS); each
        frame contributes one read.
    frame_time : float
        Photon integration time of one frame [s].
    default_n_cadences : int
        Cadences per campaign/sector when the user does not say.
    """

    name: str
    timedel: float
    n_frames: int
    frame_time: float
    default_n_cadences: int

    @property
    def exposure(self) -> float:
        """Effective exposure per cadence [s] (frames × frame integration time)."""
        return self.n_frames * self.frame_time


@dataclass(frozen=True)
class MissionSpec:
    """Instrument and survey numbers of one mission (see the module docstring for sources).

    Attributes
    ----------
    name : str
        ``"k2"`` or ``"tess"``.
    telescope, instrument : str
        FITS ``TELESCOP`` / ``INSTRUME`` values.
    bjdref : int
        ``BJDREFI``: BKJD = BJD − 2454833, BTJD = BJD − 2457000.
    pixel_scale : float
        [arcsec / pixel].
    zero_point_mag, zero_point_flux : float
        A star of this magnitude gives this total flux [e-/s] on the detector.
    read_noise : float
        [e-] per read (per frame).
    gain : float
        [e-/ADU], for RAW_CNTS.
    black_level : float
        [ADU] per frame, for RAW_CNTS.
    full_well : float
        [e-] per pixel per frame; excess charge bleeds along the column.
    sky : float
        Zodiacal + unresolved background [e-/s/pixel] at the patch centre.
    prf_core_sigma, prf_halo_sigma : float
        Gaussian widths [pixel] of the two PRF components at the boresight.
    prf_halo_fraction : float
        Fraction of the light in the halo component.
    prf_sigma_growth : float
        Fractional increase of the PRF width per 1,000 pixels² of squared focal-plane
        distance from the boresight (PRF broadens towards the field edge).
    intrapixel_amplitude : float
        Amplitude of the cosine intra-pixel response (sensitivity 1 ± a across a pixel).
    flat_rms : float
        RMS of the residual pixel-to-pixel (inter-pixel) response after flat-fielding.
    target_mag_range : tuple of float
        Magnitudes of the simulated targets.
    field_density : float
        Background (non-target) stars per pixel², down to ``field_mag_limit``.
    field_mag_limit : float
        Faintest background star [mag].
    patch_offset : tuple of float
        Focal-plane position [pixel] of the patch centre relative to the boresight (roll axis).
    ccd_origin : tuple of int
        CCD (column, row) of the patch's lower-left pixel.
    cosmic_ray_rate : float
        Cosmic-ray hits per pixel per second (after on-board mitigation).
    cosmic_ray_mean : float
        Mean deposited charge of a hit [e-].
    cadences : dict
        Cadence name -> :class:`CadenceSpec`; the first is the default.
    """

    name: str
    telescope: str
    instrument: str
    bjdref: int
    time_label: str
    pixel_scale: float
    zero_point_mag: float
    zero_point_flux: float
    read_noise: float
    gain: float
    black_level: float
    full_well: float
    sky: float
    prf_core_sigma: float
    prf_halo_sigma: float
    prf_halo_fraction: float
    prf_sigma_growth: float
    intrapixel_amplitude: float
    flat_rms: float
    target_mag_range: tuple[float, float]
    field_density: float
    field_mag_limit: float
    patch_offset: tuple[float, float]
    ccd_origin: tuple[int, int]
    cosmic_ray_rate: float
    cosmic_ray_mean: float
    default_t_start: float
    default_patch_size: int
    cadences: dict[str, CadenceSpec] = field(default_factory=dict)

    @property
    def default_cadence(self) -> str:
        """Name of the mission's default cadence."""
        return next(iter(self.cadences))

    def flux_of(self, mag: float) -> float:
        """Total detected flux [e-/s] of a star of magnitude ``mag``."""
        return self.zero_point_flux * 10.0 ** (-0.4 * (mag - self.zero_point_mag))


#: Kepler/K2 long cadence: 270 co-adds of 6.02-s frames (1625 s effective per 29.4 min);
#: Kp = 12 gives 1.74e5 e-/s (Kepler Instrument Handbook); read noise ~100 e- per read
#: (real channels 85-120 e-, READNOIS keyword); gain ~110 e-/ADU; background ~180 e-/s/pixel
#: (K2 looks along the ecliptic: SAP_BKG of C5 targets ≈ 8,000 e-/s over ~45 pixels).
#: Full well chosen so that saturation starts near Kp ≈ 11.3 with this PRF.
K2 = MissionSpec(
    name="k2",
    telescope="Kepler",
    instrument="Kepler Photometer",
    bjdref=2454833,
    time_label="BJD - 2454833",
    pixel_scale=3.98,
    zero_point_mag=12.0,
    zero_point_flux=1.74e5,
    read_noise=100.0,
    gain=110.0,
    black_level=720.0,
    full_well=6.0e5,
    sky=180.0,
    prf_core_sigma=0.65,
    prf_halo_sigma=1.8,
    prf_halo_fraction=0.15,
    prf_sigma_growth=0.02,
    intrapixel_amplitude=0.01,
    flat_rms=0.005,
    target_mag_range=(9.0, 16.0),
    field_density=3.0e-3,
    field_mag_limit=20.0,
    patch_offset=(2700.0, 600.0),
    ccd_origin=(40, 20),
    cosmic_ray_rate=3.6e-5,
    cosmic_ray_mean=2500.0,
    default_t_start=3000.0,
    default_patch_size=1024,
    cadences={"30min": CadenceSpec("30min", 0.02043359821692, 270, 6.019802903270, 3500)},
)

#: TESS: 2-s frames, 1.98 s integration; the on-board cosmic-ray mitigation keeps 8 of every
#: 10 frames (DEADC 0.8 × 0.99 = 0.792: 95 s effective per 2 min). T = 10 gives 1.5e4 e-/s
#: (TESS Instrument Handbook); read noise ~10 e- per frame (READNOIA-D in S1 headers 7.5-10);
#: gain 5.2 e-/ADU; 21"/pixel; background ~60 e-/s/pixel away from scattered light.
#: Full well chosen so that saturation starts near T ≈ 6.8.
TESS = MissionSpec(
    name="tess",
    telescope="TESS",
    instrument="TESS Photometer",
    bjdref=2457000,
    time_label="BJD - 2457000, days",
    pixel_scale=21.0,
    zero_point_mag=10.0,
    zero_point_flux=1.5e4,
    read_noise=10.0,
    gain=5.2,
    black_level=6500.0,
    full_well=1.3e5,
    sky=60.0,
    prf_core_sigma=0.65,
    prf_halo_sigma=1.7,
    prf_halo_fraction=0.2,
    prf_sigma_growth=0.03,
    intrapixel_amplitude=0.01,
    flat_rms=0.003,
    target_mag_range=(6.0, 13.0),
    field_density=0.06,
    field_mag_limit=17.0,
    patch_offset=(900.0, 1100.0),
    ccd_origin=(300, 300),
    cosmic_ray_rate=1.0e-6,
    cosmic_ray_mean=1500.0,
    default_t_start=3000.0,
    default_patch_size=512,
    cadences={
        "2min": CadenceSpec("2min", 120.0 / 86400.0, 48, 1.98, 18000),
        "30min": CadenceSpec("30min", 1800.0 / 86400.0, 720, 1.98, 1200),
        "10min": CadenceSpec("10min", 600.0 / 86400.0, 240, 1.98, 3600),
        "200s": CadenceSpec("200s", 200.0 / 86400.0, 80, 1.98, 10800),
    },
)

#: Mission name -> specification.
MISSIONS: dict[str, MissionSpec] = {"k2": K2, "tess": TESS}
