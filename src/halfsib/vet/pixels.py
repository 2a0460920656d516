"""The per-pixel depth image: is the dip on the target's PSF, or on a neighbour's?

Every pixel p of the target's stamp is modelled like the target itself — the target's
design matrix without the groups built from its own pixels (PLD, centroid motion: they
would follow a neighbour's dip), the target's stellar GP and jitter in units of the pixel's
flux level s_p, and one prior variance per regressor group refitted for the pixel with
the candidate's transits masked — and the transit template's depth is fitted with the
weights and the GP integrated out: δ_p [e-/s] ± σ_p, σ_p inflated by √max(1, rᵀC⁻¹r / n)
when the pixel's residuals exceed the borrowed noise model.

The dip's centroid is the depth-weighted mean position c = Σ x_p δ_p / Σ δ_p, with
Cov(c) = Σ (x_p − c)(x_p − c)ᵀ σ_p² / (Σ δ_p)² (pixels taken as independent); the target's
centre is the flux-weighted centroid of the median image over the mission aperture. A
transit on the target puts its dip where the target's light is, so the two agree; an
eclipsing neighbour puts it where the neighbour is.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from ..design import DesignMatrix
from ..exceptions import NotPositiveDefiniteError
from ..likelihood import MarginalLikelihood
from ..model import EXCLUDE_INFLATION
from ..regressors import group_source
from ..timeseries import LightCurve, PixelSeries
from .ephemeris import Ephemeris
from .fitted import FittedModel, fit_templates
from .results import PixelDepthImage, VetConfig, VetTest

__all__ = ["pixel_depth_image", "pixel_centroid_test", "dip_centroid", "pixel_design", "OWN_PIXEL_GROUPS"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: a pixel is fitted when it has data at this fraction of the model grid's cadences
MIN_PIXEL_COVERAGE = 0.9
#: sources (:func:`halfsib.regressors.group_source`) left out of the per-pixel model: pixel columns
#: share light with the stamp's pixels and move with any dip that is off the target's PSF
OWN_PIXEL_GROUPS = ("own_pixels", "other_pixels")


def _align(lc: LightCurve, pixels: PixelSeries, model: FittedModel) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(positions on the model grid, cadence indices in the stamp) of the shared cadences."""
    wanted = lc.cadenceno[model.index]
    order = np.argsort(pixels.cadenceno, kind="stable")
    pos = np.searchsorted(pixels.cadenceno[order], wanted)
    pos = np.clip(pos, 0, order.size - 1)
    found = pixels.cadenceno[order][pos] == wanted
    return np.flatnonzero(found), order[pos[found]]


def pixel_design(design: DesignMatrix) -> DesignMatrix:
    """The target's design without its pixel groups (its own pixels' PLD, other stamps' pixels).

    Those columns move with any dip that is not on the target's PSF (a neighbour's eclipse
    shifts the light between pixels and the centroid), so they would absorb the very signal
    this test locates.
    """
    return design.subset([g for g in design.group_names if group_source(g) not in OWN_PIXEL_GROUPS])


def _pixel_likelihood(model: FittedModel, design: DesignMatrix, rows: NDArray[np.int64], y: FloatArray,
                      variance: FloatArray, excluded: NDArray[np.bool_], prior: dict[str, float]
                      ) -> MarginalLikelihood:
    big = EXCLUDE_INFLATION * (float(np.var(y[~excluded])) + float(np.median(variance)))
    groups = dict(design.groups)
    return MarginalLikelihood.from_stellar_kernel(
        model.kernel, model.gp_parameters, model.time[rows], y, np.where(excluded, variance + big, variance),
        design=design.rows(model.index[rows]), prior_variance=prior or None, groups=groups or None)


def _fit_prior(ml: MarginalLikelihood, start: dict[str, float], var_y: float) -> dict[str, float]:
    """Maximise ln L over ln λ_g with the GP fixed (O(M³) per step, analytic gradient)."""
    names = list(start)
    if not names:
        return {}
    lo, hi = math.log(1e-10 * var_y), math.log(1e2 * var_y)

    def negative(lnlam: FloatArray) -> tuple[float, FloatArray]:
        try:
            m = ml.with_prior_variance({n: float(np.exp(v)) for n, v in zip(names, lnlam)})
            g = m.gradient_log_prior_variances()
            return -m.log_likelihood(), -np.array([g[n] for n in names])
        except NotPositiveDefiniteError:
            return 1e30, np.zeros(len(names))

    x0 = np.clip(np.log([max(start[n], 1e-300) for n in names]), lo + 1e-9, hi - 1e-9)
    sol = optimize.minimize(negative, x0, jac=True, method="L-BFGS-B", bounds=[(lo, hi)] * len(names),
                            options={"maxiter": 100, "ftol": 1e-6})
    return {n: float(np.exp(v)) for n, v in zip(names, sol.x)}


def pixel_depth_image(lc: LightCurve, pixels: PixelSeries, model: FittedModel, ephemeris: Ephemeris,
                      template: FloatArray, mask_factor: float = 1.5, min_flux_fraction: float = 0.02
                      ) -> PixelDepthImage | str:
    """Fit the transit depth in every pixel (see module doc); a reason string when impossible.

    ``template`` is the dimming template on the model grid (unit depth). Pixels whose median
    flux is below ``min_flux_fraction`` of the brightest pixel's (sky) are not fitted: they
    carry no star light to locate, only noise, and cost as much as the others.
    """
    rows, cadences = _align(lc, pixels, model)
    if rows.size < 0.5 * model.index.size:
        return (f"the stamp shares only {rows.size} of the light curve's {model.index.size} fitted cadences "
                "(another campaign, or cadence numbers that do not match)")
    flux = pixels.flux[cadences]
    err = pixels.flux_err[cadences]
    ok_all = pixels.pixel_good[cadences] & (err > 0)
    ny, nx = pixels.shape
    collected = ok_all.any(axis=0)  # a never-collected pixel has no median: 0 (and no all-NaN warning)
    median = np.zeros(collected.shape)
    median[collected] = np.nanmedian(np.where(ok_all, flux, np.nan)[:, collected], axis=0)
    brightest = max(float(np.max(median)), 1e-30)
    floor = 0.01 * brightest
    mask = ephemeris.in_transit(model.time[rows], mask_factor)
    base_excluded = model.excluded[rows]
    design = pixel_design(model.design)
    start = {g: model.prior_variances[g] for g in design.group_names}
    depth, depth_err = np.zeros((ny, nx)), np.zeros((ny, nx))
    fitted = np.zeros((ny, nx), bool)
    for r in range(ny):
        for c in range(nx):
            ok = ok_all[:, r, c]
            if median[r, c] < min_flux_fraction * brightest or ok.mean() < MIN_PIXEL_COVERAGE or not np.any(ok & (template[rows] > 0)):
                continue
            scale = max(abs(float(median[r, c])), floor)
            y = np.where(ok, (flux[:, r, c] - median[r, c]) / scale, 0.0)
            var = np.where(ok, (err[:, r, c] / scale) ** 2, 1.0)
            excluded = base_excluded | ~ok
            try:
                masked = _pixel_likelihood(model, design, rows, y, var, excluded | mask, start)
                prior = _fit_prior(masked, start, float(np.var(y[~(excluded | mask)])))
                ml = _pixel_likelihood(model, design, rows, y, var, excluded, prior)
                fit = fit_templates(ml, template[rows])
            except (NotPositiveDefiniteError, ValueError) as err_:
                log.debug("pixel (%d, %d) not fitted: %s", r, c, err_)
                continue
            misfit = _misfit(ml, y, excluded)
            depth[r, c], depth_err[r, c] = scale * fit.amplitude[0], scale * fit.error[0] * misfit
            fitted[r, c] = True
    if not fitted.any():
        return "no pixel of the stamp could be fitted"
    target = _flux_centroid(median, pixels.aperture)
    centre, centre_err = dip_centroid(depth, depth_err, fitted)
    return PixelDepthImage(depth=depth, depth_err=depth_err, fitted=fitted, mean_image=median,
                           aperture=np.asarray(pixels.aperture, bool).copy(), target_centre=target,
                           dip_centre=None if centre is None else (float(centre[0]), float(centre[1])),
                           dip_centre_err=None if centre_err is None else float(np.sqrt(np.trace(centre_err) / 2)))


def _misfit(ml: MarginalLikelihood, y: FloatArray, excluded: NDArray[np.bool_]) -> float:
    """√max(1, rᵀC⁻¹r / n): error inflation when the pixel's residuals exceed the model's noise.

    E[rᵀC⁻¹r] = n for a correct model; the target's GP and jitter, borrowed by the pixel,
    can under-state a pixel's own residual systematics (motion at the stamp's edges).
    """
    n = int(np.count_nonzero(~excluded))
    return math.sqrt(max(1.0, float(y @ ml.residual_inverse()) / max(n, 1)))


def _flux_centroid(image: FloatArray, aperture: NDArray[np.bool_]) -> tuple[float, float]:
    w = np.where(aperture, np.clip(image, 0.0, None), 0.0)
    if not w.sum() > 0:
        w = np.clip(image, 0.0, None)
    rows, cols = np.indices(image.shape)
    return float(np.sum(w * cols) / w.sum()), float(np.sum(w * rows) / w.sum())


def dip_centroid(depth: FloatArray, depth_err: FloatArray, fitted: NDArray[np.bool_]
                 ) -> tuple[FloatArray | None, FloatArray | None]:
    """Depth-weighted centroid (column, row) [pixel] and its 2 × 2 covariance.

    None when the summed depth is not significant (Σδ < 3 √Σσ²).
    """
    d, s = depth[fitted], depth_err[fitted]
    total = float(d.sum())
    if not total > 3.0 * math.sqrt(float(np.sum(s**2))):
        return None, None
    rows, cols = np.indices(depth.shape)
    x = np.stack([cols[fitted], rows[fitted]], axis=1).astype(float)
    centre = (x * d[:, None]).sum(axis=0) / total
    dx = x - centre
    cov = (dx * s[:, None] ** 2).T @ dx / total**2
    return centre, cov


def pixel_centroid_test(image: PixelDepthImage | str | None, config: VetConfig) -> VetTest:
    """Offset of the dip's centroid from the target's, against max(min offset, n σ)."""
    name = "pixel_centroid"
    if image is None:
        return VetTest.not_run(name, "no pixel stamp given", unit="pixel")
    if isinstance(image, str):
        return VetTest.not_run(name, image, unit="pixel")
    if image.dip_centre is None:
        return VetTest.not_run(name, "the summed pixel depth is not significant (< 3 sigma)", unit="pixel")
    d, s = image.depth[image.fitted], image.depth_err[image.fitted]
    centre, cov = dip_centroid(image.depth, image.depth_err, image.fitted)
    assert centre is not None and cov is not None
    offset = centre - np.asarray(image.target_centre)
    distance = float(np.hypot(*offset))
    unit = offset / distance if distance > 0 else np.array([1.0, 0.0])
    sigma = float(math.sqrt(max(unit @ cov @ unit, 0.0)))
    threshold = max(config.pixel_offset_min, config.pixel_offset_sigma * sigma)
    extras = {"offset_col": float(offset[0]), "offset_row": float(offset[1]), "offset_err": sigma,
              "dip_col": float(centre[0]), "dip_row": float(centre[1]),
              "target_col": image.target_centre[0], "target_row": image.target_centre[1],
              "summed_depth": float(d.sum()), "summed_depth_err": float(math.sqrt(np.sum(s**2))),
              "aperture_depth_fraction": float(image.depth[image.aperture & image.fitted].sum() / d.sum())}
    return VetTest.judge(name, distance, threshold,
                         f"dip centroid {distance:.2f} ± {sigma:.2f} pixel from the target's "
                         f"(Δcol {offset[0]:+.2f}, Δrow {offset[1]:+.2f})", unit="pixel", extras=extras)
