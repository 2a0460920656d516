"""Result objects of the systematics fit, and the leakage (over-fitting) curve."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.stats import mad_std
from numpy.typing import NDArray

from .design import DesignMatrix
from .timeseries import LightCurve, TargetInfo

__all__ = ["DetrendResult", "leakage_curves"]

FloatArray = NDArray[np.float64]


def _window_sums(values: NDArray[np.float64], starts: NDArray[np.int64], stops: NDArray[np.int64]) -> NDArray[np.float64]:
    prefix = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    return prefix[stops] - prefix[starts]


def leakage_curves(ml: Any, matrix: FloatArray, white_variance: FloatArray, width: int
                   ) -> tuple[FloatArray, FloatArray]:
    """Fraction of a unit box of ``width`` cadences, centred on each cadence, that the model absorbs.

    For a box b (1 on the window), the posterior-mean systematics would take up
    bᵀ A Λ Aᵀ C⁻¹ b / bᵀb of it (exact, from prefix sums of A and C⁻¹A), and the
    systematics and the stellar GP together 1 − bᵀ W C⁻¹ b / bᵀb with W the white-noise
    variance (taken constant across the window: its window mean). 0 means the box is
    untouched, 1 that the model would remove it completely.

    Returns
    -------
    systematics, total : ndarray, shape (N,)
    """
    n = ml.n_cadences
    width = int(min(max(width, 1), n))
    starts = np.clip(np.arange(n) - width // 2, 0, n - width).astype(np.int64)
    stops = starts + width
    if matrix.shape[1]:
        summed_a = _window_sums(matrix, starts, stops)
        summed_cinv_a = _window_sums(ml.apply_inverse(matrix), starts, stops)
        systematics = (summed_a * summed_cinv_a) @ ml.prior_variance / width
    else:
        systematics = np.zeros(n)
    information = ml.window_projection(starts, stops).information
    mean_white = _window_sums(white_variance, starts, stops) / width
    total = 1.0 - mean_white * information / width
    return np.clip(systematics, 0.0, 1.0), np.clip(total, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class DetrendResult:
    """What :func:`halfsib.model.detrend` returns; arrays are on the good cadences.

    Relative quantities are fractions of the median flux (``normalisation``, e-/s).

    Attributes
    ----------
    time, cadenceno, quality : ndarray
        Days in ``time_format``; mission cadence numbers and flags.
    raw_flux, raw_flux_err : ndarray
        The input flux and errors [input units].
    flux, flux_err : ndarray
        Corrected flux normalised to 1: systematics removed, stellar variability kept; its
        white-noise σ (the file's errors and the fitted jitter in quadrature).
    systematics, stellar, residual : ndarray
        Posterior means (relative): raw/normalisation − 1 = systematics + stellar + residual.
        With hold-out, systematics and stellar come from fits that did not see the cadence.
    groups : dict of str to ndarray
        The systematics split by regressor group.
    masked, clipped : ndarray of bool
        Excluded from the fit: the given transit windows; outliers.
    leakage_systematics, leakage_total : ndarray
        Leakage curves (see :func:`leakage_curves`), for ``config.leakage_duration``.
    hyperparameters : dict
        Fitted GP parameters (``sigma``, ``rho``, ``jitter``...; relative flux and days).
    prior_variances : dict
        Fitted prior variance per regressor group (relative flux² per unit column).
    log_likelihood : float
        Maximum marginal log-likelihood over the fitted cadences.
    gp_held : bool
        The GP parameters and jitter were held at another fit's values and only the prior
        variances fitted (the design choice's larger candidates,
        :meth:`halfsib.model.SystematicsModel.fit`).
    """

    meta: TargetInfo
    time: FloatArray
    cadenceno: NDArray[np.int64]
    quality: NDArray[np.int64]
    time_format: str
    normalisation: float
    raw_flux: FloatArray
    raw_flux_err: FloatArray
    flux: FloatArray
    flux_err: FloatArray
    systematics: FloatArray
    stellar: FloatArray
    residual: FloatArray
    groups: Mapping[str, FloatArray]
    masked: NDArray[np.bool_]
    clipped: NDArray[np.bool_]
    leakage_systematics: FloatArray
    leakage_total: FloatArray
    hyperparameters: Mapping[str, float]
    prior_variances: Mapping[str, float]
    log_likelihood: float
    iterations: int
    config: Any
    design_columns: Mapping[str, int]
    raw_flux_unit: str = "electron / s"
    gp_held: bool = False

    @classmethod
    def assemble(cls, *, lc: LightCurve, index: NDArray[np.int64], normalisation: float, y: FloatArray,
                 variance: FloatArray, systematics: FloatArray, stellar: FloatArray,
                 groups: Mapping[str, FloatArray], design: DesignMatrix, **fields: Any) -> DetrendResult:
        """Build from the model-grid arrays (used by the model)."""
        return cls(
            meta=lc.meta, time=lc.time[index], cadenceno=lc.cadenceno[index], quality=lc.quality[index],
            time_format=lc.time_format, normalisation=normalisation, raw_flux=lc.flux[index],
            raw_flux_err=lc.flux_err[index], flux=1.0 + y - systematics, flux_err=np.sqrt(variance),
            systematics=systematics, stellar=stellar, residual=y - systematics - stellar, groups=dict(groups),
            design_columns={name: sl.stop - sl.start for name, sl in design.groups.items()},
            raw_flux_unit=lc.flux_unit, **fields,
        )

    def __repr__(self) -> str:
        return (f"<halfsib.DetrendResult {self.meta.target_id or '?'}: {self.time.size} cadences, "
                f"groups {dict(self.design_columns)}, ln L = {self.log_likelihood:.1f}, "
                f"{int(self.clipped.sum())} clipped, {int(self.masked.sum())} masked>")

    @property
    def corrected_rms_ppm(self) -> float:
        """Robust RMS of the corrected flux around its stellar signal, ppm (1.4826 MAD)."""
        r = self.residual[~(self.masked | self.clipped)]
        return float(1e6 * mad_std(r))

    @functools.cached_property
    def cdpp_ppm(self) -> float:
        """6.5-h CDPP [ppm] of the corrected flux (:func:`halfsib.precision.cdpp`, lightkurve's
        definition), masked transits and clipped outliers left out of the statistic (not cut
        out of the light curve: see :func:`halfsib.precision.cdpp`). NaN for less than about
        6 days of data. Computed once (the header, the console, the summary and the batch
        tables all read it)."""
        from .precision import cdpp

        return cdpp(self.time, self.flux, mask=self.masked | self.clipped)

    @functools.cached_property
    def raw_cdpp_ppm(self) -> float:
        """6.5-h CDPP [ppm] of the raw flux on the same cadences as :attr:`cdpp_ppm`."""
        from .precision import cdpp

        return cdpp(self.time, self.raw_flux, mask=self.masked | self.clipped)

    def to_lightcurve(self) -> LightCurve:
        """The corrected flux as a halfsib :class:`LightCurve` (relative units) with the components as columns."""
        n = self.time.size
        columns = {"systematics": self.systematics, "stellar": self.stellar, "residual": self.residual,
                   "raw_flux": self.raw_flux, "leakage_systematics": self.leakage_systematics}
        meta = dataclasses.replace(self.meta, file_format="halfsib-detrend", flux_column="FLUX (corrected)")
        return LightCurve(time=self.time, quality=self.quality, good=np.ones(n, bool), cadenceno=self.cadenceno,
                          time_format=self.time_format, meta=meta, columns=columns, flux=self.flux,
                          flux_err=self.flux_err, flux_unit="")

    def to_lightkurve(self) -> Any:
        """The corrected flux as a :class:`lightkurve.LightCurve` (normalised to 1)."""
        return self.to_lightcurve().to_lightkurve()

    def header_cards(self) -> dict[str, tuple[Any, str]]:
        """Primary-header keywords with the fitted hyper-parameters."""
        cards: dict[str, tuple[Any, str]] = {
            "HSNORM": (self.normalisation, "median raw flux (the normalisation)"),
            "HSLOGL": (self.log_likelihood, "maximum marginal log-likelihood"),
            "HSKERNEL": (str(self.config.kernel), "stellar GP kernel"),
            "HSGPHELD": (bool(self.gp_held), "GP parameters held at another design's fit"),
            "HSNCLIP": (int(self.clipped.sum()), "cadences clipped as outliers"),
            "HSNMASK": (int(self.masked.sum()), "cadences masked (given transit windows)"),
            "HSHOLDOU": (int(self.config.holdout_chunks), "hold-out chunks (0 = off)"),
            "HSRMSPPM": (self.corrected_rms_ppm, "robust RMS of residuals [ppm]"),
        }
        for key, value, what in (("HSCDPP", self.cdpp_ppm, "FLUX"), ("HSRCDPP", self.raw_cdpp_ppm, "RAW_FLUX")):
            if math.isfinite(value):  # lightkurve's 6.5-h CDPP; absent for too short a light curve
                cards[key] = (round(value, 2), f"6.5-h CDPP of {what} [ppm], transits masked")
        for i, (name, value) in enumerate(self.hyperparameters.items()):
            cards[f"HSGP{i}"] = (value, f"GP {name}")
        for i, (name, value) in enumerate(self.prior_variances.items()):
            cards[f"HSPV{i}"] = (value, f"prior variance {name[:24]}")
        return cards

    def write(self, path: str | os.PathLike[str], *, inputs: Sequence[str | os.PathLike[str]] = (),
              settings: Mapping[str, Any] | None = None, overwrite: bool = True) -> Path:
        """Write the FITS light curve ``lightkurve.read`` opens (see ``docs/detrend.md``)."""
        from .io.writers import provenance, write_lightcurve

        columns = {
            "SYSTEMATICS": (self.systematics, ""), "STELLAR": (self.stellar, ""), "RESIDUAL": (self.residual, ""),
            "RAW_FLUX": (self.raw_flux, self.raw_flux_unit), "RAW_FLUX_ERR": (self.raw_flux_err, self.raw_flux_unit),
            "LEAKAGE_SYS": (self.leakage_systematics, ""), "LEAKAGE_TOTAL": (self.leakage_total, ""),
            "MASKED": (self.masked, ""), "CLIPPED": (self.clipped, ""),
        }
        all_settings = {**dataclasses.asdict(self.config), **dict(settings or {})}
        return write_lightcurve(self.to_lightcurve(), path, columns=columns,
                                record=provenance(inputs, all_settings), cards=self.header_cards(),
                                overwrite=overwrite)

    def plot(self, **kwargs: Any) -> Any:
        """Raw flux with the model, systematics, stellar signal, corrected flux, residuals, leakage."""
        from .plotting import plot_detrend

        return plot_detrend(self, **kwargs)
