"""Where the stars are: target and background-star positions and magnitudes, eclipsing
binaries placed next to neighbours, the PRF across the field, the pixel response (flat
field and intra-pixel sensitivity) and each target's pixel stamp.

Coordinates: ``col``/``row`` are CCD pixel coordinates with pixel centres on integers
(pixel ``c`` spans ``c - 0.5 .. c + 0.5``), as in Kepler/TESS target pixel files.
``fx``/``fy`` are focal-plane coordinates [pixel] relative to the boresight (the roll
axis), aligned with columns and rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .config import SimulationConfig

__all__ = ["Scene", "make_scene", "ID_BASE"]

#: Fake catalogue numbers that cannot collide with real ones (EPIC ids are < 3e8 and TIC ids
#: < 3e9): EPIC 9xxxxxxxx and TIC 9xxxxxxxxx.
ID_BASE: dict[str, int] = {"k2": 900_000_000, "tess": 9_000_000_000}

_FLAT_PAD = 40  # pixels of flat field beyond the patch edges, for stamps near an edge
_REACH_SIGMAS = 4.0  # a source contributes to a stamp if within this many halo sigmas of it


@dataclass(frozen=True)
class Scene:
    """Stars, their stamps and the detector response of one patch.

    Target arrays have shape ``(n_stars,)``; ``field_*`` arrays describe non-target
    background stars (constant flux; rendered into any stamp they overlap).

    Attributes
    ----------
    ids : ndarray of int
        EPIC (K2) or TIC (TESS) numbers of the targets.
    col, row : ndarray
        CCD position of each target at zero pointing offset [pixel].
    mag, flux : ndarray
        Magnitude (Kp or T) and total detected flux [e-/s].
    is_eb : ndarray of bool
    eb_neighbour : ndarray of int
        Index of the target an EB was placed next to (−1 if none).
    stamp_col0, stamp_row0, stamp_nx, stamp_ny : ndarray of int
        Lower-left CCD pixel and size of each target's stamp.
    field_col, field_row, field_mag, field_flux : ndarray
        Background stars.
    flat : ndarray, shape (H, W)
        Residual pixel response (1 ± ``flat_rms``) over the patch plus padding.
    intrapixel : ndarray, shape (2,)
        Amplitudes of the cosine intra-pixel response along columns and rows.
    sky_gradient : ndarray, shape (4,)
        Background gradients, see :func:`~halfsib.simulate.instrument.background_rate`.
    """

    config: SimulationConfig
    ids: NDArray[np.int64]
    col: NDArray[np.float64]
    row: NDArray[np.float64]
    mag: NDArray[np.float64]
    flux: NDArray[np.float64]
    is_eb: NDArray[np.bool_]
    eb_neighbour: NDArray[np.int64]
    stamp_col0: NDArray[np.int64]
    stamp_row0: NDArray[np.int64]
    stamp_nx: NDArray[np.int64]
    stamp_ny: NDArray[np.int64]
    field_col: NDArray[np.float64]
    field_row: NDArray[np.float64]
    field_mag: NDArray[np.float64]
    field_flux: NDArray[np.float64]
    flat: NDArray[np.float32]
    intrapixel: NDArray[np.float64]
    sky_gradient: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of targets."""
        return int(self.ids.size)

    def focal(self, col: NDArray[np.float64], row: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Focal-plane coordinates [pixel from the boresight] of CCD positions."""
        spec, half = self.config.spec, 0.5 * self.config.patch_size
        return (
            np.asarray(col) - spec.ccd_origin[0] - half + spec.patch_offset[0],
            np.asarray(row) - spec.ccd_origin[1] - half + spec.patch_offset[1],
        )

    def prf_sigma(self, col: NDArray[np.float64], row: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
        """PRF core widths along columns and rows, and halo width [pixel], at CCD positions.

        The PRF broadens with squared distance from the boresight and becomes slightly
        elongated (radially) towards the field edge.
        """
        spec = self.config.spec
        fx, fy = self.focal(col, row)
        r2 = (fx**2 + fy**2) / 1.0e6
        grow = 1.0 + spec.prf_sigma_growth * r2
        cos2 = (fx**2 - fy**2) / np.maximum(fx**2 + fy**2, 1.0)
        ell = 0.04 * np.sqrt(r2) / 3.0 * cos2
        core = spec.prf_core_sigma * grow
        return core * (1.0 + ell), core * (1.0 - ell), spec.prf_halo_sigma * grow

    def flat_stamp(self, i: int) -> NDArray[np.float32]:
        """Pixel response of target ``i``'s stamp, shape ``(ny, nx)``."""
        spec = self.config.spec
        c0 = int(self.stamp_col0[i]) - spec.ccd_origin[0] + _FLAT_PAD
        r0 = int(self.stamp_row0[i]) - spec.ccd_origin[1] + _FLAT_PAD
        rows = np.clip(np.arange(r0, r0 + int(self.stamp_ny[i])), 0, self.flat.shape[0] - 1)
        cols = np.clip(np.arange(c0, c0 + int(self.stamp_nx[i])), 0, self.flat.shape[1] - 1)
        return self.flat[np.ix_(rows, cols)]

    def sources_near(self, i: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Other targets and field stars whose light reaches target ``i``'s stamp."""
        reach = _REACH_SIGMAS * self.config.spec.prf_halo_sigma * 1.3 + 1.5
        lo_c, lo_r = self.stamp_col0[i] - reach, self.stamp_row0[i] - reach
        hi_c = self.stamp_col0[i] + self.stamp_nx[i] - 1 + reach
        hi_r = self.stamp_row0[i] + self.stamp_ny[i] - 1 + reach

        def inside(c: NDArray, r: NDArray) -> NDArray[np.bool_]:
            return (c >= lo_c) & (c <= hi_c) & (r >= lo_r) & (r <= hi_r)

        targets = np.flatnonzero(inside(self.col, self.row))
        return targets[targets != i], np.flatnonzero(inside(self.field_col, self.field_row))


def _draw_mags(rng: np.random.Generator, n: int, lo: float, hi: float, slope: float) -> NDArray[np.float64]:
    """Magnitudes in [lo, hi] with density ∝ 10^(slope·m) (more faint than bright stars)."""
    if hi <= lo:
        return np.full(n, lo)
    a, b = 10.0 ** (slope * lo), 10.0 ** (slope * hi)
    return np.log10(a + rng.random(n) * (b - a)) / slope


def draw_count(fraction: float, n: int, rng: np.random.Generator) -> int:
    """``fraction × n`` rounded, with a random extra one for the remainder (never > n)."""
    whole = int(np.floor(fraction * n))
    return min(n, whole + int(rng.random() < fraction * n - whole))


def _place_ebs(
    rng: np.random.Generator, config: SimulationConfig, col: NDArray, row: NDArray, mag: NDArray
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Pick EBs; move some 2-4 pixels from another target so their eclipses leak."""
    n = col.size
    is_eb = np.zeros(n, dtype=bool)
    neighbour = np.full(n, -1, dtype=np.int64)
    n_eb = draw_count(config.eb_fraction, n, rng)
    if n_eb == 0:
        return is_eb, neighbour
    ebs = rng.choice(n, size=n_eb, replace=False)
    is_eb[ebs] = True
    n_leak = min(draw_count(config.eb_leak_fraction, n_eb, rng), n - n_eb)
    hosts = rng.permutation(np.flatnonzero(~is_eb))[:n_leak]
    margin = 25.0
    for eb, host in zip(ebs[:n_leak], hosts):
        dist, angle = rng.uniform(2.0, 4.0), rng.uniform(0, 2 * np.pi)
        col[eb] = col[host] + dist * np.cos(angle)
        row[eb] = row[host] + dist * np.sin(angle)
        lo = config.spec.ccd_origin
        col[eb] = np.clip(col[eb], lo[0] + margin, lo[0] + config.patch_size - margin)
        row[eb] = np.clip(row[eb], lo[1] + margin, lo[1] + config.patch_size - margin)
        mag[eb] = mag[host] + rng.uniform(-1.0, 1.0)
        neighbour[eb] = host
    return is_eb, neighbour


def _stamp_sizes(config: SimulationConfig, mag: NDArray, flux: NDArray, rng: np.random.Generator) -> tuple:
    """Stamp half-sizes: bigger for brighter stars, extended along columns for bleeding."""
    spec = config.spec
    ref = spec.target_mag_range[1] - 1.0
    half = 3 + np.clip(np.ceil(0.7 * (ref - mag)), 0, 7).astype(np.int64)
    if config.mission == "k2":
        half += 1  # room for the roll motion
    col_charge = 0.5 * flux * config.cadence_spec.frame_time  # peak column, e- per frame
    n_sat = col_charge / spec.full_well if config.saturation else np.zeros_like(flux)
    bleed = np.where(n_sat > 0.5, np.minimum(np.ceil(0.6 * n_sat) + 2, 200), 0).astype(np.int64)
    hx = half + rng.integers(-1, 1, size=mag.size, endpoint=True).clip(0, None) * (half > 3)
    hy = half + bleed
    return hx, hy


def make_scene(config: SimulationConfig, rng: np.random.Generator) -> Scene:
    """Draw the targets, background stars, stamps and pixel response of a campaign patch.

    Parameters
    ----------
    config : SimulationConfig
    rng : numpy.random.Generator

    Returns
    -------
    Scene
    """
    spec, n, size = config.spec, config.n_stars, config.patch_size
    ox, oy = spec.ccd_origin
    margin = 25.0
    col = ox + rng.uniform(margin, size - margin, n)
    row = oy + rng.uniform(margin, size - margin, n)
    mag = _draw_mags(rng, n, *config.mag_range, slope=0.2)
    is_eb, neighbour = _place_ebs(rng, config, col, row, mag)
    flux = spec.flux_of(mag)
    hx, hy = _stamp_sizes(config, mag, flux, rng)
    n_field = int(rng.poisson(config.field_density * size * size))
    fcol = ox + rng.uniform(-10.0, size + 10.0, n_field)
    frow = oy + rng.uniform(-10.0, size + 10.0, n_field)
    faint = spec.field_mag_limit
    fmag = _draw_mags(rng, n_field, min(config.mag_range[0] + 3.0, faint - 1.0), faint, slope=0.3)
    pad = size + 2 * _FLAT_PAD
    flat = (1.0 + spec.flat_rms * rng.standard_normal((pad, pad))).astype(np.float32)
    intra = spec.intrapixel_amplitude * rng.uniform(0.7, 1.3, size=2)
    gradient = np.concatenate([rng.normal(0.0, 0.05, 2), rng.normal(0.0, 0.4, 2)])
    ids = ID_BASE[config.mission] + (config.seed % 1000) * 100_000 + np.arange(1, n + 1, dtype=np.int64)
    return Scene(
        config=config,
        ids=ids,
        col=col,
        row=row,
        mag=mag,
        flux=flux,
        is_eb=is_eb,
        eb_neighbour=neighbour,
        stamp_col0=np.round(col).astype(np.int64) - hx,
        stamp_row0=np.round(row).astype(np.int64) - hy,
        stamp_nx=2 * hx + 1,
        stamp_ny=2 * hy + 1,
        field_col=fcol,
        field_row=frow,
        field_mag=fmag,
        field_flux=spec.flux_of(fmag),
        flat=flat,
        intrapixel=intra,
        sky_gradient=gradient,
    )
