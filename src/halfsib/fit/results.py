"""What the joint fit returns: :class:`TransitFit` (and :class:`FitFailure`), tables, files, figures."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import FitConfig, TransitGuess
from .parameters import NATURAL_UNITS

__all__ = ["PosteriorSummary", "SamplerInfo", "TransitFit", "FitFailure", "REPORTED"]

FloatArray = NDArray[np.float64]

#: the physical quantities reported first, in this order (GP parameters follow)
REPORTED = ("period", "t0", "rp_over_rs", "b", "a_over_rs", "q1", "q2", "ecc", "omega", "depth", "duration",
            "rho_star", "inclination", "u1", "u2")


@dataclass(frozen=True)
class PosteriorSummary:
    """Median and 68 % central interval of one quantity (``lower`` = 16th, ``upper`` = 84th percentile)."""

    median: float
    lower: float
    upper: float

    @property
    def minus(self) -> float:
        """median − lower (≥ 0)."""
        return self.median - self.lower

    @property
    def plus(self) -> float:
        """upper − median (≥ 0)."""
        return self.upper - self.median


@dataclass(frozen=True)
class SamplerInfo:
    """How the emcee run went: walkers, steps, autocorrelation time per parameter, convergence."""

    n_walkers: int
    n_steps: int
    discard: int
    thin: int
    n_samples: int
    autocorr_time: Mapping[str, float]
    acceptance_fraction: float
    converged: bool
    n_effective: float
    message: str
    sampled: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class TransitFit:
    """A joint physical transit fit.

    Attributes
    ----------
    target, mission, time_format, source : str
    single_transit : bool
        Fitted in single-transit mode (period bounded below by the data).
    parameter_names : tuple of str
        Fit-space names (``docs/fit.md``).
    theta : ndarray
        Maximum-likelihood vector in fit space.
    maximum_likelihood : dict
        Maximum-likelihood value of every reported quantity in natural units
        (``NATURAL_UNITS``: period, t0 [d], rp_over_rs, b, a_over_rs, q1, q2, [ecc, omega],
        depth [ppm], duration [h], rho_star [g cm⁻³], inclination [deg], u1, u2, GP
        parameters with sigma and jitter in ppm).
    fisher_errors : dict
        1-sigma Fisher errors of the same quantities (delta method); NaN where undefined
        (written as masked).
    fisher_covariance : ndarray
        Fit-space covariance (inverse of −Hessian of ln L), NaN rows for fixed parameters.
    posterior : dict or None
        :class:`PosteriorSummary` per quantity (None without sampling).
    sampler : SamplerInfo or None
    log_likelihood : float
        ln L at the maximum (fitted cadences).
    delta_loglike : float
        ln L(maximum) − ln L(no transit, same noise parameters).
    n_transits, n_in_transit : int
        Transits with fitted data, and fitted cadences inside the fitted transits.
    flags : tuple of str
        Everything the reader must know (parameters at bounds, Fisher problems, sampler not
        converged, grazing geometry, single transit...).
    prior_variances, prior_variance_gradient : dict
        Held regressor prior variances and ∂ln L/∂ln λ per group at the maximum.
    kernel : str
    exposure_time : float
        [d] integrated over; ``supersample`` sub-exposures.
    time, flux, transit_model, nuisance_model : ndarray
        Fitted grid [d], relative flux y, transit model and systematics + stellar posterior mean
        at the maximum (relative).
    fitted : ndarray of bool
        Cadences that informed the fit.
    posterior_draws : dict or None
        Up to 4000 posterior draws of every reported quantity (after burn-in and thinning).
    chain, chain_log_prob : ndarray or None
        Full emcee chain (n_steps, n_walkers, n_dim) and its ln posterior.
    timings : dict
        Seconds spent per stage.
    target_fraction : float
        The share of the aperture's flux that is the target's (the file's ``CROWDSAP``, else 1).
        ``depth`` and ``rp_over_rs`` are the star's own; the data (``flux``,
        ``transit_model``) show ``target_fraction`` times that dimming.
    """

    target: str
    mission: str
    time_format: str
    source: str
    single_transit: bool
    parameter_names: tuple[str, ...]
    theta: FloatArray
    lower_bounds: FloatArray
    upper_bounds: FloatArray
    maximum_likelihood: Mapping[str, float]
    fisher_errors: Mapping[str, float]
    fisher_covariance: FloatArray
    posterior: Mapping[str, PosteriorSummary] | None
    sampler: SamplerInfo | None
    log_likelihood: float
    delta_loglike: float
    n_transits: int
    n_in_transit: int
    flags: tuple[str, ...]
    prior_variances: Mapping[str, float]
    prior_variance_gradient: Mapping[str, float]
    kernel: str
    exposure_time: float
    supersample: int
    config: FitConfig
    guess: TransitGuess
    time: FloatArray
    flux: FloatArray
    transit_model: FloatArray
    nuisance_model: FloatArray
    fitted: NDArray[np.bool_]
    posterior_draws: Mapping[str, FloatArray] | None = None
    chain: FloatArray | None = None
    chain_log_prob: FloatArray | None = None
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)
    target_fraction: float = 1.0

    def __repr__(self) -> str:
        ml = self.maximum_likelihood
        conv = "not sampled" if self.sampler is None else ("converged" if self.sampler.converged else "NOT converged")
        return (f"<halfsib.TransitFit {self.target or '?'}: P={ml['period']:.5f} d, Rp/R*={ml['rp_over_rs']:.4f}, "
                f"depth {ml['depth']:.0f} ppm, {conv}, flags {list(self.flags)}>")

    @property
    def converged(self) -> bool | None:
        """Whether the sampler converged (None when not sampled)."""
        return None if self.sampler is None else self.sampler.converged

    @property
    def quantities(self) -> tuple[str, ...]:
        """Reported quantities, physical first (:data:`REPORTED`), then the noise parameters."""
        first = [q for q in REPORTED if q in self.maximum_likelihood]
        return tuple(first + [q for q in self.maximum_likelihood if q not in first])

    def to_table(self) -> Any:
        """One-row :class:`astropy.table.Table` with units (every column in ``docs/fit.md``).

        Per quantity q: ``q`` (maximum likelihood), ``q_err`` (Fisher), ``q_median``,
        ``q_lower``, ``q_upper`` (16th/84th percentiles) and ``q_minus``, ``q_plus`` (the same
        interval as distances from the median, as ``post_<q>_minus/_plus`` in a run's
        candidate table); undefined values are masked.
        """
        from astropy.table import MaskedColumn, Table

        table = Table(meta=self._meta())
        sampler = self.sampler
        scalars: list[tuple[str, Any, str]] = [
            ("target", self.target, ""), ("single_transit", self.single_transit, ""),
            ("n_transits", self.n_transits, ""), ("n_in_transit", self.n_in_transit, ""),
            ("log_likelihood", self.log_likelihood, ""), ("delta_loglike", self.delta_loglike, ""),
            ("sampled", sampler is not None, ""), ("converged", bool(sampler and sampler.converged), ""),
            ("n_walkers", sampler.n_walkers if sampler else 0, ""), ("n_steps", sampler.n_steps if sampler else 0, ""),
            ("max_autocorr_time", max(sampler.autocorr_time.values()) if sampler else math.nan, ""),
            ("n_effective", sampler.n_effective if sampler else math.nan, ""),
            ("acceptance_fraction", sampler.acceptance_fraction if sampler else math.nan, ""),
            ("flags", ",".join(self.flags), ""),
            ("target_fraction", self.target_fraction, ""),
        ]
        for name, value, unit in scalars:
            _add(table, name, value, unit, MaskedColumn)
        for q in self.quantities:
            unit = NATURAL_UNITS.get(q, "")
            post = self.posterior.get(q) if self.posterior else None
            _add(table, q, self.maximum_likelihood[q], unit, MaskedColumn)
            _add(table, f"{q}_err", self.fisher_errors.get(q, math.nan), unit, MaskedColumn)
            _add(table, f"{q}_median", post.median if post else math.nan, unit, MaskedColumn)
            _add(table, f"{q}_lower", post.lower if post else math.nan, unit, MaskedColumn)
            _add(table, f"{q}_upper", post.upper if post else math.nan, unit, MaskedColumn)
            # the same interval as offsets from the median, named as in candidates.ecsv (post_<q>_minus/_plus)
            _add(table, f"{q}_minus", post.minus if post else math.nan, unit, MaskedColumn)
            _add(table, f"{q}_plus", post.plus if post else math.nan, unit, MaskedColumn)
        return table

    def _meta(self) -> dict[str, Any]:
        from ..timeseries import TIME_FORMATS

        offset = TIME_FORMATS[self.time_format][0] if self.time_format in TIME_FORMATS else 0.0
        return {
            "target": self.target, "mission": self.mission,
            "time_system": f"{self.time_format.upper()} = BJD_TDB - {offset:.0f} d",
            "fit_parameters": list(self.parameter_names),
            "bounds": {n: [float(lo), float(hi)] for n, lo, hi in zip(self.parameter_names, self.lower_bounds,
                                                                        self.upper_bounds)},
            "kernel": self.kernel, "prior_variances": dict(self.prior_variances),
            "prior_variance_gradient": dict(self.prior_variance_gradient),
            "exposure_time_d": self.exposure_time, "supersample": self.supersample,
            "flags": list(self.flags), "sampler_message": self.sampler.message if self.sampler else "not sampled",
            "guess": dataclasses.asdict(self.guess), "timings_s": dict(self.timings),
        }

    def write(self, path: str | os.PathLike[str], *, inputs: Sequence[str | os.PathLike[str]] = (),
              settings: Mapping[str, Any] | None = None, overwrite: bool = True) -> Path:
        """Write :meth:`to_table` as ECSV (atomic; provenance and settings in the metadata)."""
        from ..io.writers import provenance, write_table

        record = provenance(inputs, {**dataclasses.asdict(self.config), **dict(settings or {})})
        return write_table(self.to_table(), path, record=record, overwrite=overwrite)

    def write_chains(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the emcee chain as ``.npz`` (atomic): ``chain``, ``log_prob``, ``names``, ``discard``, ``thin``,
        ``autocorr_time``, ``converged``.

        Raises
        ------
        ConfigurationError
            If the fit was not sampled.
        """
        from .._atomic import atomic_path
        from ..exceptions import ConfigurationError

        if self.chain is None or self.sampler is None:
            raise ConfigurationError("this fit was not sampled (sample=False / --no-sample): there is no chain to write")
        s = self.sampler
        with atomic_path(path, overwrite=overwrite) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, chain=self.chain, log_prob=self.chain_log_prob, names=np.array(s.sampled),
                         discard=s.discard, thin=s.thin, converged=s.converged,
                         autocorr_time=np.array([s.autocorr_time[n] for n in s.sampled]))
        return Path(path)

    def plot(self, *, fig: Any = None, corner: bool = False) -> Any:
        """Folded data with the model and residuals; ``corner=True`` adds pairwise posterior panels."""
        from .plot import plot_fit

        return plot_fit(self, fig=fig, corner=corner)


def _add(table: Any, name: str, value: Any, unit: str, masked_column: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        table[name] = masked_column([0.0], mask=[True], unit=unit or None)
    elif isinstance(value, (bool, np.bool_, str)):
        table[name] = [value]
    else:
        table[name] = masked_column([value], unit=unit or None)


@dataclass(frozen=True)
class FitFailure:
    """A candidate that could not be fitted; the reason is reported, the run goes on.

    Attributes
    ----------
    target : str
    guess : TransitGuess
    error_type : str
        Class name of the error (``InsufficientTransitDataError``...).
    message : str
    n_in_transit : int
        Fitted cadences inside the guessed transits (when known).
    """

    target: str
    guess: TransitGuess
    error_type: str
    message: str
    n_in_transit: int = 0

    @property
    def flags(self) -> tuple[str, ...]:
        """``("fit_failed", error_type)``."""
        return ("fit_failed", self.error_type)

    def to_table(self) -> Any:
        """One-row table: target, the guess, ``fit_failed`` and the reason."""
        from astropy.table import Table

        g = self.guess
        table = Table()
        table["target"] = [self.target]
        table["fit_failed"] = [True]
        table["error_type"] = [self.error_type]
        table["message"] = [self.message]
        table["n_in_transit"] = [self.n_in_transit]
        for name, unit in (("period", "d"), ("t0", "d"), ("duration", "h"), ("depth", "ppm")):
            value = getattr(g, name)
            table[f"guess_{name}"] = [value if math.isfinite(value) else 0.0]
            table[f"guess_{name}"].unit = unit
        return table
