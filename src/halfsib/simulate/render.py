"""Pixel stamps: PRF integration, saturation, noise, background estimate, photometry.

The PRF is two Gaussians (core + halo), each separable, integrated over pixels with a
separable intra-pixel response (sub-pixel sampling), so one source in one cadence is an
outer product ``p_row ⊗ p_col``; all sources of a stamp are summed with one batched
matrix product per stamp, vectorised over cadences. Every source within reach of a
stamp (other targets, background stars, eclipsing binaries next door) is rendered into
it, so contamination and EB leakage arise by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from .instrument import Pointing, Timeline
from .scene import Scene

__all__ = ["StampPixels", "render_stamp", "bleed_columns", "optimal_aperture", "photometry"]

_TARGET_SUBSAMPLE = 4  # sub-pixels per pixel and axis for the intra-pixel response
_BKG_PIXELS = 200  # pixels the pipeline's background estimate is (effectively) averaged over
_MIN_FLUX = 0.02  # [e-/s] sources putting less light than this into a stamp are not rendered


@dataclass(frozen=True)
class StampPixels:
    """One target's pixel time series, in the units of a calibrated TPF.

    Attributes
    ----------
    flux, flux_err, flux_bkg, flux_bkg_err : ndarray, shape (N, ny, nx), float32
        Background-subtracted flux, its error, the subtracted background estimate and its
        error [e-/s]; NaN at cadences without data.
    raw_cnts : ndarray of int32, shape (N, ny, nx)
        Raw counts [ADU] (−1 where no data).
    cosmic_rays : ndarray, shape (N, ny, nx), float32
        Flux of the cosmic rays left in ``flux`` [e-/s]; NaN where none.
    stars : ndarray, shape (N, ny, nx), float32
        Noiseless light of all stars (after saturation/bleeding), no background [e-/s].
    target_mean, stars_mean : ndarray, shape (ny, nx)
        Time-averaged noiseless light of the target alone and of all stars [e-/s].
    sky_mean : float
        Mean true background [e-/s/pixel].
    """

    flux: NDArray[np.float32]
    flux_err: NDArray[np.float32]
    flux_bkg: NDArray[np.float32]
    flux_bkg_err: NDArray[np.float32]
    raw_cnts: NDArray[np.int32]
    cosmic_rays: NDArray[np.float32]
    stars: NDArray[np.float32]
    target_mean: NDArray[np.float64]
    stars_mean: NDArray[np.float64]
    sky_mean: float


def axis_response(
    centre: NDArray[np.float64], sigma: NDArray[np.float64], start: int, n: int, sub: int, amplitude: float
) -> NDArray[np.float64]:
    """Fraction of a 1-D Gaussian falling in each of ``n`` pixels, with intra-pixel response.

    Parameters
    ----------
    centre, sigma : ndarray, shape (..., M)
        Centre and width [pixel] per source and sample.
    start : int
        Coordinate of the first pixel's centre.
    n : int
        Number of pixels.
    sub : int
        Sub-pixels per pixel; the response within a pixel is ``1 + a cos(2π u)`` (u from
        −½ to ½ across the pixel, normalised to mean 1), applied per sub-pixel.
    amplitude : float
        ``a`` above.

    Returns
    -------
    ndarray, shape (..., M, n)
    """
    edges = start - 0.5 + np.arange(n * sub + 1) / sub
    part = np.diff(ndtr((edges - centre[..., None]) / sigma[..., None]), axis=-1)
    if sub > 1 and amplitude:
        u = (np.arange(sub) + 0.5) / sub - 0.5
        w = 1.0 + amplitude * np.cos(2 * np.pi * u)
        part *= np.tile(w / w.mean(), n)
    return part.reshape(*centre.shape, n, sub).sum(axis=-1)


def _sources_image(
    scene: Scene,
    pointing: Pointing,
    cols: NDArray,
    rows: NDArray,
    amps: NDArray,
    i: int,
    sub: int,
) -> NDArray[np.float64]:
    """Light of sources at ``cols, rows`` with per-sample amplitudes ``amps`` (S, M) [e-/s]
    in stamp ``i``; returns (N, ny, nx) per cadence."""
    spec = scene.config.spec
    c0, r0 = int(scene.stamp_col0[i]), int(scene.stamp_row0[i])
    nx, ny = int(scene.stamp_nx[i]), int(scene.stamp_ny[i])
    fx, fy = scene.focal(cols, rows)
    dcol, drow = pointing.offsets(fx, fy)
    sx, sy, sh = (w[:, None] for w in scene.prf_sigma(cols, rows))
    grow = 1.0 + pointing.focus
    halo = spec.prf_halo_fraction
    ax, ay = scene.intrapixel if sub > 1 else (0.0, 0.0)
    m_total = grow.size
    img = np.empty((m_total, ny, nx))
    chunk = max(64, int(4.0e6 // (cols.size * (max(nx, ny) * sub + 1))))
    for a in range(0, m_total, chunk):
        sl = slice(a, min(a + chunk, m_total))
        cc, rr, g = cols[:, None] + dcol[:, sl], rows[:, None] + drow[:, sl], grow[sl]
        weight = amps[:, sl, None]
        py = np.concatenate([axis_response(rr, sy * g, r0, ny, sub, ay) * ((1.0 - halo) * weight),
                             axis_response(rr, sh * g, r0, ny, sub, ay) * (halo * weight)])  # (2S, m, ny)
        px = np.concatenate([axis_response(cc, sx * g, c0, nx, sub, ax),
                             axis_response(cc, sh * g, c0, nx, sub, ax)])  # (2S, m, nx)
        # (m, ny, 2S) @ (m, 2S, nx): all sources and both PRF components at once
        np.matmul(py.transpose(1, 2, 0), px.transpose(1, 0, 2), out=img[sl])
    n = pointing.firing.size
    out = img[:n]
    if img.shape[0] > n:
        np.add.at(out, pointing.sample_cadence[n:], img[n:])
    return out


def _in_stamp(scene: Scene, i: int, cols: NDArray, rows: NDArray, flux: NDArray) -> NDArray[np.float64]:
    """Upper bound on each source's flux falling in stamp ``i`` [e-/s] (halo-width PRF, 1-pixel margin
    for the motion), to skip sources whose light cannot matter."""
    _, _, sigma = scene.prf_sigma(cols, rows)
    sigma = sigma * 1.1
    lo_c, lo_r = scene.stamp_col0[i] - 1.5, scene.stamp_row0[i] - 1.5
    hi_c, hi_r = lo_c + scene.stamp_nx[i] + 2.0, lo_r + scene.stamp_ny[i] + 2.0
    fc = ndtr((hi_c - cols) / sigma) - ndtr((lo_c - cols) / sigma)
    fr = ndtr((hi_r - rows) / sigma) - ndtr((lo_r - rows) / sigma)
    return flux * fc * fr


def bleed_columns(charge: NDArray[np.float64], well: float) -> NDArray[np.float64]:
    """Spill charge above ``well`` along columns, conserving it (CCD blooming).

    In each column whose peak exceeds the well, the smallest run of ``2L+1`` pixels around
    the peak that can hold the charge is filled to the well and the remainder is split
    between the two pixels just outside; charge pushed past the stamp edge is lost.

    Parameters
    ----------
    charge : ndarray, shape (N, ny, nx)
        Charge per frame [e-].
    well : float
        Full-well capacity [e-].
    """
    peak = charge.max(axis=1)
    t, c = np.nonzero(peak > well)
    if t.size == 0:
        return charge
    out = charge.copy()
    ny = charge.shape[1]
    col = charge[t, :, c]  # (K, ny)
    p = col.argmax(axis=1)
    csum = np.concatenate([np.zeros((t.size, 1)), np.cumsum(col, axis=1)], axis=1)
    half = np.arange(ny)
    lo = np.clip(p[:, None] - half, 0, ny)
    hi = np.clip(p[:, None] + half + 1, 0, ny)
    held = np.take_along_axis(csum, hi, 1) - np.take_along_axis(csum, lo, 1)
    fits = held <= (2 * half + 1) * well
    fits[:, -1] = True
    length = fits.argmax(axis=1)  # L* >= 1 because the peak exceeds the well
    rem = np.take_along_axis(held, length[:, None], 1)[:, 0] - (2 * length - 1) * well
    dist = np.abs(np.arange(ny)[None, :] - p[:, None])
    new = np.where(dist < length[:, None], well, np.where(dist == length[:, None], 0.5 * rem[:, None], col))
    out[t, :, c] = new
    return out


def render_stamp(
    scene: Scene,
    pointing: Pointing,
    timeline: Timeline,
    astro_flux: NDArray[np.float64],
    sky: NDArray[np.float64],
    i: int,
    rng: np.random.Generator | None,
    *,
    saturation: bool | None = None,
) -> StampPixels:
    """Render target ``i``'s stamp for every cadence.

    Parameters
    ----------
    astro_flux : ndarray, shape (n_stars, N)
        Relative astrophysical flux of every target.
    sky : ndarray, shape (N,)
        True background at the stamp [e-/s/pixel].
    rng : numpy.random.Generator or None
        Noise source; ``None`` gives noiseless pixels (no noise, no cosmic rays, exact
        background subtraction).
    saturation : bool, optional
        Override the config's saturation switch (for tests).
    """
    config = scene.config
    spec = config.spec
    cad = pointing.sample_cadence
    w = pointing.sample_weight
    amp_t = (scene.flux[i] * astro_flux[i][cad] * w)[None, :]
    target = _sources_image(scene, pointing, scene.col[i : i + 1], scene.row[i : i + 1], amp_t, i, _TARGET_SUBSAMPLE)
    near, field = scene.sources_near(i)
    near = near[_in_stamp(scene, i, scene.col[near], scene.row[near], scene.flux[near]) > _MIN_FLUX]
    bright = _in_stamp(scene, i, scene.field_col[field], scene.field_row[field], scene.field_flux[field]) > _MIN_FLUX
    field = field[bright]
    cols = np.concatenate([scene.col[near], scene.field_col[field]])
    rows = np.concatenate([scene.row[near], scene.field_row[field]])
    amps = np.concatenate(
        [scene.flux[near, None] * astro_flux[near][:, cad] * w, scene.field_flux[field, None] * w[None, :]]
    )
    others = _sources_image(scene, pointing, cols, rows, amps, i, 1) if cols.size else None
    flat = scene.flat_stamp(i).astype(np.float64)
    total = target  # built in place: stamps of bright TESS stars are hundreds of MB per copy
    total *= flat
    others_mean = np.zeros(flat.shape)
    if others is not None:
        others *= flat
        total += others
        others_mean = others.mean(axis=0)
        del others
    sky_img = sky[:, None, None] * flat
    total += sky_img
    if config.saturation if saturation is None else saturation:
        frame = timeline.frame_time
        if total.max() * frame > spec.full_well:
            total = bleed_columns(total * frame, spec.full_well) / frame
    stars = total - sky_img
    del sky_img
    stars_mean = stars.mean(axis=0)
    stars32 = stars.astype(np.float32)
    del stars
    return _observe(total, stars32, stars_mean, stars_mean - others_mean, sky, timeline, scene, rng)


def _observe(
    total: NDArray, stars: NDArray[np.float32], stars_mean: NDArray, target_mean: NDArray, sky: NDArray,
    timeline: Timeline, scene: Scene, rng: np.random.Generator | None,
) -> StampPixels:
    """Add photon/read noise and cosmic rays, subtract the estimated background.

    ``total`` (all light + sky [e-/s]) is overwritten.
    """
    spec, config = scene.config.spec, scene.config
    exposure, reads = timeline.exposure, timeline.n_reads
    read_var = reads * spec.read_noise**2
    observed = total
    observed *= exposure  # expected electrons; noise is added in place below
    cosmic = np.full(total.shape, np.nan, dtype=np.float32)
    bkg_err = np.sqrt(np.mean(sky) * exposure + read_var) / exposure / np.sqrt(_BKG_PIXELS)
    if rng is None:
        bkg = sky
    else:
        noise = observed + read_var
        np.sqrt(noise, out=noise)
        noise *= rng.standard_normal(total.shape, dtype=np.float32)
        observed += noise
        del noise
        bkg = sky + bkg_err * rng.standard_normal(sky.size)
        if config.cosmic_rays:
            lam = spec.cosmic_ray_rate * exposure * total.size
            hits = rng.choice(total.size, size=int(rng.poisson(lam)), replace=True)
            energy = rng.exponential(spec.cosmic_ray_mean, size=hits.size)
            np.add.at(observed.reshape(-1), hits, energy)
            flat_cr = cosmic.reshape(-1)
            flat_cr[hits] = np.nan_to_num(flat_cr[hits]) + energy / exposure
    work = observed / exposure
    work -= bkg[:, None, None]
    flux = work.astype(np.float32)
    np.maximum(observed, 0.0, out=work)
    work += read_var
    np.sqrt(work, out=work)
    work /= exposure
    flux_err = work.astype(np.float32)
    np.divide(observed, spec.gain, out=work)
    work += spec.black_level * reads
    raw = np.rint(work, out=work).astype(np.int32)
    del work, observed
    flux_bkg = np.broadcast_to(bkg[:, None, None], total.shape).astype(np.float32)
    flux_bkg_err = np.full(total.shape, bkg_err, dtype=np.float32)
    gap = timeline.no_data
    for arr in (flux, flux_err, flux_bkg, flux_bkg_err):
        arr[gap] = np.nan
    raw[gap] = -1
    return StampPixels(
        flux=flux,
        flux_err=flux_err,
        flux_bkg=flux_bkg,
        flux_bkg_err=flux_bkg_err,
        raw_cnts=raw,
        cosmic_rays=cosmic,
        stars=stars,
        target_mean=target_mean,
        stars_mean=stars_mean,
        sky_mean=float(np.mean(sky)),
    )


def optimal_aperture(
    target: NDArray[np.float64], stars: NDArray[np.float64], sky: float, exposure: float, read_var: float
) -> NDArray[np.bool_]:
    """Pixels maximising the S/N of the target's summed flux (as the Kepler/TESS pipelines).

    Pixels are added in order of decreasing per-pixel S/N of the target; the prefix with
    the highest S/N of the sum is kept. Variance per pixel: (all stars + sky) × exposure
    + read noise², in e-.
    """
    signal = np.clip(target, 0.0, None).ravel() * exposure
    var = np.clip(stars + sky, 0.0, None).ravel() * exposure + read_var
    order = np.argsort(-signal / np.sqrt(var), kind="stable")
    snr = np.cumsum(signal[order]) / np.sqrt(np.cumsum(var[order]))
    mask = np.zeros(signal.size, dtype=bool)
    mask[order[: int(np.argmax(snr)) + 1]] = True
    return mask.reshape(target.shape)


def photometry(pix: StampPixels, aperture: NDArray[np.bool_], col0: int, row0: int) -> dict[str, NDArray]:
    """Simple aperture photometry and flux-weighted centroids, as in a mission LC file.

    Returns
    -------
    dict
        ``sap_flux``, ``sap_flux_err``, ``sap_bkg``, ``sap_bkg_err`` [e-/s], ``mom_centr1``,
        ``mom_centr2`` (CCD column/row [pixel]) and ``stars_flux`` (noiseless aperture flux
        of all stars [e-/s]), each of shape (N,).
    """
    ap = aperture
    flux = pix.flux[:, ap].astype(np.float64)
    ny, nx = ap.shape
    rr, cc = np.mgrid[row0 : row0 + ny, col0 : col0 + nx]
    total = flux.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centr1 = (flux * cc[ap]).sum(axis=1) / total
        centr2 = (flux * rr[ap]).sum(axis=1) / total
    return {
        "sap_flux": total,
        "sap_flux_err": np.sqrt((pix.flux_err[:, ap].astype(np.float64) ** 2).sum(axis=1)),
        "sap_bkg": pix.flux_bkg[:, ap].astype(np.float64).sum(axis=1),
        "sap_bkg_err": np.sqrt((pix.flux_bkg_err[:, ap].astype(np.float64) ** 2).sum(axis=1)),
        "mom_centr1": centr1,
        "mom_centr2": centr2,
        "stars_flux": pix.stars[:, ap].astype(np.float64).sum(axis=1),
    }
