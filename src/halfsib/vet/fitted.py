"""The nuisance model a candidate is judged with: hyper-parameters fitted with its transits masked.

:func:`fit_candidate_model` fits the systematics model (:func:`halfsib.model.detrend`) with
the candidate's in-transit cadences masked, so the hyper-parameters are not pulled by the
signal, and then rebuilds the exact marginal likelihood on *all* the light curve's good
cadences with those hyper-parameters (clipped outliers stay excluded). Every depth in the
ladder and the vetting tests is a linear fit of a template with this model
(:func:`fit_templates`): weights of the regressors and the stellar GP integrated out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..design import DesignMatrix, RegressorGroup
from ..exceptions import DataValidationError, NotPositiveDefiniteError
from ..gp import StellarKernel
from ..likelihood import MarginalLikelihood
from ..model import EXCLUDE_INFLATION, DetrendConfig, detrend, white_variance
from ..results import DetrendResult
from ..timeseries import LightCurve
from .ephemeris import DipShape, Ephemeris, box_template, trapezoid_template

__all__ = ["FittedModel", "TemplateFit", "fit_candidate_model", "fitted_model", "fit_templates", "with_offset",
           "OFFSET_GROUP", "MASK_FACTOR"]

FloatArray = NDArray[np.float64]

#: name of the constant column every judged model carries (the star's mean flux)
OFFSET_GROUP = "offset"
#: in-transit cadences masked in the hyper-parameter fit: within MASK_FACTOR × duration / 2 of a centre
MASK_FACTOR = 1.5


def with_offset(design: DesignMatrix) -> DesignMatrix:
    """The design with a constant column (group ``"offset"``) appended, if it has none.

    The model's other groups are centred (no constant), and y = flux / median − 1 need not
    have zero mean: without this column a box depth would absorb the offset.
    """
    if OFFSET_GROUP in design.groups:
        return design
    n = design.matrix.shape[0]
    parts = [RegressorGroup(name, design.matrix[:, sl], design.prior_scales[name], design.column_names[sl],
                            design.descriptions.get(name, "")) for name, sl in design.groups.items()]
    parts.append(RegressorGroup(OFFSET_GROUP, np.ones((n, 1)), 1e-3, ("offset",), "constant (the star's mean)"))
    return DesignMatrix.from_groups(parts, n_cadences=n)


@dataclass(frozen=True, eq=False)
class TemplateFit:
    """Joint linear fit of k templates (dimming positive) with the nuisance model marginalised.

    Attributes
    ----------
    amplitude : ndarray, shape (k,)
        δ̂ = −F⁻¹ Bᵀ C⁻¹ r [relative flux per unit template], F = Bᵀ C⁻¹ B.
    covariance : ndarray, shape (k, k)
        F⁻¹.
    delta_loglike : float
        ½ (Bᵀ C⁻¹ r)ᵀ F⁻¹ (Bᵀ C⁻¹ r): gain in ln L from fitting the k amplitudes.
    numerator, information : ndarray
        −Bᵀ C⁻¹ r (k,) and F (k, k).
    """

    amplitude: FloatArray
    covariance: FloatArray
    delta_loglike: float
    numerator: FloatArray
    information: FloatArray

    @property
    def error(self) -> FloatArray:
        """Standard errors of the amplitudes (√diag F⁻¹)."""
        return np.sqrt(np.diag(self.covariance))


def fit_templates(ml: MarginalLikelihood, templates: FloatArray) -> TemplateFit:
    """Fit the columns of ``templates`` (N,) or (N, k) jointly, nuisances and GP marginalised.

    Raises
    ------
    DataValidationError
        If the templates have no information (all zero where there are data) or are collinear.
    """
    b = np.asarray(templates, dtype=np.float64)
    b = b[:, None] if b.ndim == 1 else b
    cinv_b = ml.apply_inverse(b)
    num = -(b.T @ ml.residual_inverse())
    info = 0.5 * (b.T @ cinv_b + (b.T @ cinv_b).T)
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise DataValidationError("the templates carry no information (no data in transit, or collinear "
                                  "templates)") from None
    if np.min(np.diag(chol)) <= 1e-8 * np.max(np.diag(chol)):
        raise DataValidationError("the templates are (nearly) collinear or have no data in transit")
    cov = np.linalg.inv(info)
    amp = cov @ num
    return TemplateFit(amplitude=amp, covariance=0.5 * (cov + cov.T), delta_loglike=0.5 * float(num @ amp),
                       numerator=num, information=info)


@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted nuisance model on the model grid (the light curve's good cadences).

    Attributes
    ----------
    fit : DetrendResult
        The fit (with the candidate masked).
    design : DesignMatrix
        The design it was fitted with (on the light curve's cadences).
    time, y, variance : ndarray, shape (N,)
        Model-grid times [d], relative flux flux/median − 1 and error variances (relative²).
    index : ndarray of int
        The model grid's cadences in the light curve.
    excluded : ndarray of bool
        Clipped outliers (excluded by variance inflation).
    ml : MarginalLikelihood
        The exact marginal likelihood with the fitted hyper-parameters, no transit mask.
    prior : mapping or None
        Prior variance per group when not the fit's own (the ladder raises them).
    shape : DipShape or None
        The dip profile of :meth:`dip` (None: the ephemeris' box).
    """

    fit: DetrendResult
    design: DesignMatrix
    time: FloatArray
    y: FloatArray
    variance: FloatArray
    index: NDArray[np.int64]
    excluded: NDArray[np.bool_]
    ml: MarginalLikelihood
    prior: Mapping[str, float] | None = None
    shape: DipShape | None = None

    def with_shape(self, shape: DipShape) -> FittedModel:
        """The same model with another dip profile for :meth:`dip`."""
        return dataclasses.replace(self, shape=shape)

    def dip(self, ephemeris: Ephemeris, phase: float = 0.0) -> FloatArray:
        """The candidate's dip profile (``shape``, else its box), exposure-integrated and modulated."""
        return self.modulate((self.shape or DipShape()).template(self.time, ephemeris, self.exposure, phase))

    def with_prior(self, prior: Mapping[str, float]) -> FittedModel:
        """The same model with other prior variances (one O(M³) update of the likelihood)."""
        return dataclasses.replace(self, ml=self.ml.with_prior_variance(dict(prior)), prior=dict(prior))

    @property
    def exposure(self) -> float | None:
        """Exposure [d] the templates are integrated over (the cadence, when longer than 3 min)."""
        return exposure_of(self.time)

    @property
    def modulation(self) -> FloatArray:
        """1 + systematics + stellar signal (posterior means of the fit, relative): what a dip multiplies.

        The star's light is modulated by the instrument (a K2 roll changes the flux by 1-3 %),
        and a transit dims that modulated light: y ≈ s − δ b (1 + s). Templates are multiplied
        by this factor, so a deep transit's depth does not depend on where the roll was.
        """
        return 1.0 + self.fit.systematics + self.fit.stellar

    def modulate(self, template: FloatArray) -> FloatArray:
        """``template`` × :attr:`modulation`."""
        return template * self.modulation

    def box(self, ephemeris: Ephemeris, duration: float | None = None, phase: float = 0.0) -> FloatArray:
        """Exposure-integrated box template on the model grid (see :func:`box_template`), modulated."""
        return self.modulate(box_template(self.time, ephemeris, duration, phase, exposure=self.exposure))

    def trapezoid(self, ephemeris: Ephemeris, duration: float | None = None, ingress_fraction: float = 0.5
                  ) -> FloatArray:
        """Exposure-integrated trapezoid (default a triangle) on the model grid, modulated."""
        return self.modulate(trapezoid_template(self.time, ephemeris, duration, ingress_fraction,
                                                exposure=self.exposure))

    @property
    def kernel(self) -> StellarKernel:
        """The fitted GP's kernel family."""
        return StellarKernel(self.fit.config.kernel, fit_jitter=self.fit.config.fit_jitter)

    @property
    def gp_parameters(self) -> FloatArray:
        """The fitted GP log-parameters (jitter last when fitted)."""
        return self.kernel.pack(**self.fit.hyperparameters)

    @property
    def prior_variances(self) -> dict[str, float]:
        """Prior variance per regressor group [relative flux² per unit column]: the fit's, unless replaced."""
        return dict(self.fit.prior_variances if self.prior is None else self.prior)

    def likelihood(self, *, exclude: NDArray[np.bool_] | None = None,
                   prior_variances: Mapping[str, float] | None = None) -> MarginalLikelihood:
        """The model again with more cadences excluded and/or other prior variances.

        Exclusion is the model's own: noise variance inflated by ``EXCLUDE_INFLATION``.
        """
        excluded = self.excluded if exclude is None else (self.excluded | exclude)
        if np.count_nonzero(~excluded) < 10:
            raise DataValidationError("fewer than 10 cadences left after the exclusions", self.fit.meta.source)
        big = EXCLUDE_INFLATION * (float(np.var(self.y[~excluded])) + float(np.median(self.variance)))
        variance = np.where(excluded, self.variance + big, self.variance)
        prior = dict(self.prior_variances if prior_variances is None else prior_variances)
        groups = dict(self.design.groups)
        return MarginalLikelihood.from_stellar_kernel(
            self.kernel, self.gp_parameters, self.time, self.y, variance, design=self.design.rows(self.index),
            prior_variance=prior if prior else None, groups=groups if groups else None)


def fit_candidate_model(lc: LightCurve, design: DesignMatrix, ephemeris: Ephemeris, *,
                        config: DetrendConfig | None = None, mask_factor: float = MASK_FACTOR,
                        add_offset: bool = True, start: DetrendResult | None = None) -> FittedModel:
    """Fit the nuisance model with the candidate's transits masked; return it unmasked.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        The target and its regressors (design rows = the light curve's cadences).
    ephemeris : Ephemeris
        The candidate; cadences within ``mask_factor`` × duration / 2 of a transit centre
        do not inform the hyper-parameters.
    config : DetrendConfig, optional
        Settings of the fit (kernel, clipping...).
    add_offset : bool
        Append a constant column (see :func:`with_offset`).
    start : DetrendResult, optional
        A fit of the same light curve whose hyper-parameters start the optimiser (the ladder
        starts each rung from the one below; :meth:`halfsib.model.SystematicsModel.fit`).

    Raises
    ------
    DataValidationError
        Too few cadences, or the mask leaves too few to fit.
    NotPositiveDefiniteError
        No hyper-parameters give a positive-definite model.
    """
    design = with_offset(design) if add_offset else design
    mask = ephemeris.in_transit(lc.time, mask_factor)
    fit = detrend(lc, design, config=config or DetrendConfig(), transit_mask=mask, start=start)
    return fitted_model(lc, design, fit)


def fitted_model(lc: LightCurve, design: DesignMatrix, fit: DetrendResult) -> FittedModel:
    """The :class:`FittedModel` of ``fit``'s hyper-parameters on ``lc``, no transit mask.

    ``fit`` was made on the same good cadences and ``design`` (offset column included), with
    some transit mask; ``lc``'s flux may differ from what it saw (another candidate's transits
    divided out, errors inflated at lone events): the hyper-parameters are kept, the
    likelihood is rebuilt on ``lc``. The flexibility ladder uses it to share one masked fit
    per rung among a target's candidates (:func:`halfsib.ladder.fit_rungs`).

    Raises
    ------
    DataValidationError
        When ``fit`` was made on other cadences or another design.
    """
    from ..search import fitted_likelihood

    ml, excluded = fitted_likelihood(lc, design, fit)
    index = np.flatnonzero(lc.good)
    y = lc.flux[index] / fit.normalisation - 1.0
    variance = white_variance(lc, index, fit.normalisation, fit.config.fit_jitter)
    return FittedModel(fit=fit, design=design, time=lc.time[index], y=y, variance=variance, index=index,
                       excluded=excluded, ml=ml)


def safe_likelihood(model: FittedModel, **changes: object) -> tuple[MarginalLikelihood | None, str]:
    """:meth:`FittedModel.likelihood` or ``(None, reason)`` when the model is not positive definite."""
    try:
        return model.likelihood(**changes), ""  # type: ignore[arg-type]
    except NotPositiveDefiniteError as err:
        return None, f"model not positive definite: {err}"


def exposure_of(time: FloatArray) -> float | None:
    """Exposure time [d] for transit integration: the median cadence when longer than 3 min."""
    steps = np.diff(time)
    cadence = float(np.median(steps[steps > 0])) if steps.size else 0.0
    return cadence if cadence > 3.0 / 1440.0 and math.isfinite(cadence) else None
