"""Joint physical transit fit with the half-sibling nuisance model marginalised (``docs/fit.md``).

>>> fit = fit_transit(lc, design, nuisance_fit, candidate, rng=1)   # doctest: +SKIP
>>> fit.maximum_likelihood["rp_over_rs"], fit.fisher_errors["rp_over_rs"]  # doctest: +SKIP
>>> fit.posterior["rp_over_rs"].median, fit.sampler.converged  # doctest: +SKIP
>>> fit.write("fit.ecsv"); fit.write_chains("chains.npz"); fit.plot()  # doctest: +SKIP
"""

from __future__ import annotations

from .config import FitConfig, InsufficientTransitDataError, TransitGuess
from .core import (NUISANCE_MASK_FACTOR, count_in_transit, fit_candidates, fit_transit, masked_nuisance_fit,
                   sample_transit)
from .objective import JointObjective, Nuisance, nuisance_from_fit
from .parameters import ParameterSpace, stellar_density
from .results import FitFailure, PosteriorSummary, SamplerInfo, TransitFit

__all__ = ["fit_transit", "sample_transit", "fit_candidates", "masked_nuisance_fit", "NUISANCE_MASK_FACTOR", "FitConfig", "TransitGuess", "TransitFit", "FitFailure",
           "PosteriorSummary", "SamplerInfo", "InsufficientTransitDataError", "JointObjective", "Nuisance",
           "nuisance_from_fit", "ParameterSpace", "stellar_density", "count_in_transit"]
