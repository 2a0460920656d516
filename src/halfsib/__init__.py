"""halfsib: half-sibling regression for space photometry.

A target star's light is predicted from other stars' light (they share the
instrument, not the star), the regression weights are integrated out exactly, and
transits are searched for and fitted jointly with that nuisance model.

The public API is re-exported here lazily: ``import halfsib`` is cheap, and the
submodule behind a name is imported on first use.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0.dev0"

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # containers
    "LightCurve": "timeseries",
    "PixelSeries": "timeseries",
    "TargetInfo": "timeseries",
    # io
    "read": "io",
    "read_many": "io",
    "read_basis": "io",
    "align": "io",
    "write_lightcurve": "io",
    "write_table": "io",
    # model
    "MarginalLikelihood": "likelihood",
    "StellarKernel": "gp",
    "DesignMatrix": "design",
    "RegressorGroup": "design",
    "SystematicsModel": "model",
    "DetrendConfig": "model",
    "detrend": "model",
    "DetrendResult": "results",
    "detrend_target": "pipeline",
    "fit_target": "pipeline",
    "mask_found_transits": "pipeline",
    "search_target": "pipeline",
    "DesignChoice": "pipeline",
    "find_campaign_breaks": "pipeline",
    "CampaignBreaks": "pipeline",
    "HalfSiblingCorrector": "corrector",
    "heldout_scatter": "model",
    "find_motion_breaks": "breaks",
    "BreakSearch": "breaks",
    "shared_breaks": "breaks",
    "build_design": "regressors",
    "search": "search",
    "SearchConfig": "search",
    "SearchResult": "search",
    "ElcBasis": "regressors",
    "RegressorConfig": "regressors",
    "fit_transit": "fit",
    "fit_candidates": "fit",
    "sample_transit": "fit",
    "masked_nuisance_fit": "fit",
    "FitConfig": "fit",
    "TransitGuess": "fit",
    "TransitFit": "fit",
    "FitFailure": "fit",
    "InsufficientTransitDataError": "fit",
    "flexibility_ladder": "ladder",
    "LadderResult": "ladder",
    "vet": "vet",
    "VetReport": "vet",
    "VetTest": "vet",
    "VetConfig": "vet",
    "run_target": "run",
    "RunConfig": "run",
    "TargetRun": "run",
    "CandidateOutcome": "run",
    # many targets
    "run_batch": "batch",
    "BatchConfig": "batch",
    "BatchSummary": "batch",
    # injection-recovery
    "inject_and_recover": "injection",
    "InjectionConfig": "injection",
    "completeness": "injection",
    # simulation
    "simulate_campaign": "simulate",
    "SimulationConfig": "simulate",
    # errors
    "HalfsibError": "exceptions",
    "DataValidationError": "exceptions",
    "FileFormatError": "exceptions",
    "ConfigurationError": "exceptions",
    "NotPositiveDefiniteError": "exceptions",
    "NotFittedError": "exceptions",
    "HalfsibWarning": "exceptions",
}

__all__ = ["__version__", *_EXPORTS]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'halfsib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
