"""Regressors: everything that builds design-matrix columns for the half-sibling model.

Each builder returns a :class:`~halfsib.design.RegressorGroup` (a named block of columns
with its own prior scale) on the target's cadence grid, finite everywhere, centred and
scaled to unit RMS over the target's good cadences, with no constant column (the model
fits the mean separately); :func:`build_design` stacks them into a
:class:`~halfsib.design.DesignMatrix`. See ``docs/regressors.md``.

- :class:`ElcBasis` — eigen light curves of many stars, built once per set, with cheap
  per-target exclusion of the target and its neighbours;
- :func:`cpm_regressors`, :func:`pld_regressors` — other stars' pixels, the target's own pixels;
- :func:`motion_regressors`, :func:`elc_motion_products` — the target's own motion terms;
  :func:`step_regressors`, :func:`break_segments` — steps and stretches at pointing breaks;
- :func:`cbv_regressors` — a user's CBV-style basis table;
- :func:`spline_regressors`, :func:`settling_regressors` — smooth time terms and settling ramps;
- :func:`build_design`, :class:`RegressorConfig` — all of the above in one call;
  :func:`motion_response` — the unmodulated motion terms (what a break changes);
- :func:`group_source`, :func:`systematics_scope` — what each group is made of.
"""

from .build import DESIGN_CANDIDATES, MISSION_DEFAULTS, RegressorConfig, build_design, motion_response, split_tiers
from .cbv import cbv_regressors
from .elc import ElcBasis, StarCatalogue, normalise_star
from .motion import (
    arclength_from_centroids, break_segments, centroid_track, elc_motion_products, motion_regressors, step_regressors,
)
from .pixels import cpm_regressors, pld_regressors
from .smooth import settling_regressors, spline_regressors
from .sources import SOURCES, group_source, systematics_scope

__all__ = [
    "ElcBasis", "StarCatalogue", "normalise_star", "cpm_regressors", "pld_regressors", "motion_regressors",
    "step_regressors", "break_segments", "motion_response",
    "elc_motion_products", "centroid_track", "arclength_from_centroids", "cbv_regressors", "spline_regressors", "settling_regressors",
    "build_design", "split_tiers", "RegressorConfig", "MISSION_DEFAULTS", "DESIGN_CANDIDATES",
    "SOURCES", "group_source", "systematics_scope",
]
