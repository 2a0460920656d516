"""Pointing breaks: where a target's motion response changes abruptly, found by the likelihood.

K2's pointing does not change smoothly over a campaign. The roll pattern itself changes (in
C13 the sawtooth stops for two days near the start and its range shifts after the
mid-campaign download), and K2SFF's ``ARCLENGTH`` is defined per division of the campaign, so
the same arclength value means another position after a division edge. A motion response
modulated by smooth functions of time cannot follow such a break: the stellar GP takes the
difference, and the corrected flux keeps a step or a two-day wiggle there (up to tens of per
cent on faint stars in large apertures). K2SFF fits each division separately for this reason.

:func:`find_motion_breaks` finds the breaks of one target from its fitted model, greedily:
every gap in the cadences is a candidate (a break happens between cadences: a thruster firing,
a reset, a download); the gain in marginal likelihood of letting the flux step and the motion
response change there — columns ``[H, H·m_1, …, H·m_k]`` with H the step at the candidate and
m the target's unmodulated motion terms — is computed exactly with the hyper-parameters held,
the weights of the new columns integrated out with a prior variance chosen on a grid; the best
candidate is kept when its gain exceeds :data:`BREAK_THRESHOLD`, its columns join the model,
and the search repeats. :func:`halfsib.pipeline.fit_target` then refits the design with the
response restarted at the breaks (``RegressorConfig(motion_breaks=...)``). Measured in
``docs/detrend.md`` (*Pointing breaks*).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .exceptions import ConfigurationError
from .likelihood import MarginalLikelihood

log = logging.getLogger(__name__)

__all__ = ["BreakSearch", "find_motion_breaks", "candidate_breaks", "break_columns", "break_gain", "shared_breaks",
           "BREAK_THRESHOLD", "BREAK_MIN_SEPARATION", "MAX_BREAKS", "SHARED_FRACTION", "SHARED_TOLERANCE"]

#: Δln L a break must gain to be kept (the gain is maximised over the candidates and the
#: prior grid; on the C13 stars the breaks kept gain 25-400, see docs/detrend.md)
BREAK_THRESHOLD = 25.0
#: days: breaks are at least this far apart and from either end of the fitted cadences
BREAK_MIN_SEPARATION = 1.0
#: most breaks kept per target
MAX_BREAKS = 8
#: candidates scored with every motion term per round (the best of the screening round)
SCREEN_KEEP = 12
#: screening uses every SCREEN_STRIDE-th motion term
SCREEN_STRIDE = 3
#: prior variances of a break's columns tried, relative to the variance of the flux
PRIOR_GRID = np.logspace(-6, 0, 7)
#: a campaign's break is one found on at least this fraction of the stars searched
#: (:func:`shared_breaks`); on 17 C13 stars 2997.33 d was found on 12 and 3032.76 d on 10,
#: every other time on one star at most (docs/detrend.md, *Pointing breaks*)
SHARED_FRACTION = 0.4
#: days: breaks of different stars this close are the same event
SHARED_TOLERANCE = 0.25


@dataclass(frozen=True)
class BreakSearch:
    """The breaks found for one target (:func:`find_motion_breaks`).

    Attributes
    ----------
    times : tuple of float
        Break times [d, the light curve's time system], in time order.
    gains : tuple of float
        Δln L of each break when it was kept (same order as ``times``).
    n_candidates : int
        Gaps that were candidates.
    """

    times: tuple[float, ...]
    gains: tuple[float, ...]
    n_candidates: int


def candidate_breaks(time: NDArray[np.float64], min_separation: float = BREAK_MIN_SEPARATION
                     ) -> NDArray[np.float64]:
    """Mid-points [d] of the gaps longer than 1.5 cadences between consecutive ``time`` values
    (sorted, the fitted cadences), at least ``min_separation`` days from either end."""
    t = np.sort(np.asarray(time, float))
    if t.size < 3:
        return np.zeros(0)
    cadence = float(np.median(np.diff(t)))
    gaps = np.flatnonzero(np.diff(t) > 1.5 * cadence)
    mid = 0.5 * (t[gaps] + t[gaps + 1])
    return mid[(mid - t[0] >= min_separation) & (t[-1] - mid >= min_separation)]


def break_columns(time: NDArray[np.float64], terms: NDArray[np.float64], at: float,
                  rows: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
    """``[H, H·terms]`` for the step H = 1 after ``at`` [d], each column scaled to unit RMS over
    ``rows`` (default all); shape (N, 1 + terms.shape[1])."""
    step = (np.asarray(time, float) > at).astype(float)[:, None]
    cols = np.hstack([step, step * terms])
    sel = slice(None) if rows is None else rows
    rms = np.sqrt(np.mean(cols[sel] ** 2, axis=0))
    return cols / np.where(rms > 0, rms, 1.0)


def _gain_from(z: NDArray[np.float64], columns: NDArray[np.float64], alpha: NDArray[np.float64],
               variances: NDArray[np.float64]) -> tuple[float, float]:
    info = columns.T @ z
    eig, vec = np.linalg.eigh(0.5 * (info + info.T))
    eig = np.clip(eig, 0.0, None)
    proj = vec.T @ (columns.T @ alpha)
    gains = [0.5 * float(np.sum(proj**2 * lam / (1.0 + lam * eig))) - 0.5 * float(np.sum(np.log1p(lam * eig)))
             for lam in variances]
    best = int(np.argmax(gains))
    return gains[best], float(variances[best])


def break_gain(ml: MarginalLikelihood, columns: NDArray[np.float64], variances: Any) -> tuple[float, float]:
    """The largest Δln L of adding ``columns`` to ``ml``'s design with prior variance λ for each,
    over λ in ``variances``, and that λ.

    With B the columns, α = C⁻¹r and C the model's covariance (GP, noise and design weights
    integrated out), the gain of weights w ~ N(0, λI) on B is
    ½ αᵀB (λ⁻¹I + BᵀC⁻¹B)⁻¹ Bᵀα − ½ ln|I + λ BᵀC⁻¹B| (matrix determinant lemma); tested
    against the difference of two full likelihoods.
    """
    cols = np.asarray(columns, float)
    z = ml.apply_inverse(cols)
    return _gain_from(z, cols, ml.residual_inverse(), np.atleast_1d(np.asarray(variances, float)))


def _screen(ml: MarginalLikelihood, time: NDArray[np.float64], terms: NDArray[np.float64],
            pool: NDArray[np.float64], rows: NDArray[np.bool_], variances: NDArray[np.float64],
            chunk: int = 64) -> NDArray[np.float64]:
    """The gain of each candidate in ``pool`` with a subset of the motion terms (batched solves)."""
    alpha = ml.residual_inverse()
    k = terms.shape[1] + 1
    out = np.empty(pool.size)
    for start in range(0, pool.size, chunk):
        block = np.hstack([break_columns(time, terms, at, rows) for at in pool[start:start + chunk]])
        z = ml.apply_inverse(block)
        for j in range(block.shape[1] // k):
            sl = slice(j * k, (j + 1) * k)
            out[start + j] = _gain_from(z[:, sl], block[:, sl], alpha, variances)[0]
    return out


def _extended(ml_parts: dict[str, Any], extra: list[NDArray[np.float64]], variances: list[float]
              ) -> MarginalLikelihood:
    groups = dict(ml_parts["groups"])
    prior = dict(ml_parts["prior"])
    matrix = ml_parts["matrix"]
    blocks = [matrix]
    start = matrix.shape[1]
    for i, (cols, lam) in enumerate(zip(extra, variances)):
        groups[f"break{i}"] = slice(start, start + cols.shape[1])
        prior[f"break{i}"] = lam
        start += cols.shape[1]
        blocks.append(cols)
    return MarginalLikelihood.from_stellar_kernel(
        ml_parts["kernel"], ml_parts["gp"], ml_parts["time"], ml_parts["y"], ml_parts["variance"],
        design=np.hstack(blocks), prior_variance=prior, groups=groups)


def find_motion_breaks(lc: Any, design: Any, fit: Any, terms: NDArray[np.float64], *,
                       threshold: float = BREAK_THRESHOLD, min_separation: float = BREAK_MIN_SEPARATION,
                       max_breaks: int = MAX_BREAKS) -> BreakSearch:
    """Pointing breaks of one target, from its fitted nuisance model (see the module notes).

    Parameters
    ----------
    lc : LightCurve
        The light curve that was fitted.
    design : DesignMatrix
        The fitted design (without breaks).
    fit : DetrendResult
        Its fit; masked transits and clipped outliers stay out of the search.
    terms : ndarray, shape (lc.n_cadences, k)
        The target's motion terms without time modulation
        (:func:`halfsib.regressors.motion_response`).
    threshold : float
        Δln L a break must gain.
    min_separation : float
        Days between breaks, and from either end.
    max_breaks : int

    Returns
    -------
    BreakSearch
    """
    from .model import fitted_objective

    objective, gp, lnlam = fitted_objective(lc, design, fit, keep_mask=True)
    problem = objective.problem
    fitted = ~problem.excluded
    t = problem.time
    m = np.asarray(terms, float)[problem.index]
    candidates = candidate_breaks(t[fitted], min_separation)
    variances = PRIOR_GRID * float(np.var(problem.y[fitted]))
    parts = dict(kernel=objective.kernel, gp=gp, time=t, y=problem.y, variance=objective.variance,
                 matrix=problem.matrix, groups=objective.groups,
                 prior={name: float(np.exp(v)) for name, v in zip(objective.groups, lnlam)})
    ml = objective.build(np.concatenate([gp, lnlam]))
    screen = m[:, ::SCREEN_STRIDE]
    kept: list[float] = []
    gains: list[float] = []
    extra: list[NDArray[np.float64]] = []
    lams: list[float] = []
    while len(kept) < max_breaks:
        free = np.array([all(abs(c - b) >= min_separation for b in kept) for c in candidates], bool)
        pool = candidates[free]
        if pool.size == 0:
            break
        rough = _screen(ml, t, screen, pool, fitted, variances)
        best_gain, best_at, best_lam, best_cols = -np.inf, np.nan, np.nan, None
        for at in pool[np.argsort(rough)[::-1][:SCREEN_KEEP]]:
            cols = break_columns(t, m, at, fitted)
            gain, lam = break_gain(ml, cols, variances)
            if gain > best_gain:
                best_gain, best_at, best_lam, best_cols = gain, float(at), lam, cols
        if best_gain < threshold or best_cols is None:
            break
        kept.append(best_at)
        gains.append(best_gain)
        extra.append(best_cols)
        lams.append(best_lam)
        log.info("%s: pointing break at %.3f d (Δln L %.1f)", lc.meta.target_id or lc.meta.source, best_at, best_gain)
        ml = _extended(parts, extra, lams)
    order = np.argsort(kept)
    return BreakSearch(times=tuple(float(kept[i]) for i in order), gains=tuple(float(gains[i]) for i in order),
                       n_candidates=int(candidates.size))


def shared_breaks(searches: Sequence[BreakSearch], *, min_fraction: float = SHARED_FRACTION,
                  tolerance: float = SHARED_TOLERANCE) -> tuple[float, ...]:
    """The breaks of a campaign: times found on at least ``min_fraction`` of the stars searched.

    A pointing break is an event of the spacecraft, so it happens at the same time for every
    star of a campaign; a break found on one star only is that star's (a neighbour, a
    flare, a response the design misses) and is not shared. Break times of different stars
    within ``tolerance`` days of each other form one event (single linkage, each star counted
    once); an event's time is the median of its stars' times (each star's break is the
    middle of a gap in its own fitted cadences, so the times of one event differ by up to a
    few cadences).

    Parameters
    ----------
    searches : sequence of BreakSearch
        One per star searched (a star with no breaks counts too).
    min_fraction : float
        In (0, 1].
    tolerance : float
        Days, > 0.

    Returns
    -------
    tuple of float
        The shared break times [d], in time order; () when no star was searched.

    Raises
    ------
    ConfigurationError
        ``min_fraction`` or ``tolerance`` out of range.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ConfigurationError(f"min_fraction must be in (0, 1], got {min_fraction!r}")
    if not tolerance > 0.0:
        raise ConfigurationError(f"tolerance must be > 0 days, got {tolerance!r}")
    found = sorted((float(t), i) for i, s in enumerate(searches) for t in s.times)
    events: list[list[tuple[float, int]]] = []
    for t, star in found:
        if events and t - events[-1][-1][0] <= tolerance:
            events[-1].append((t, star))
        else:
            events.append([(t, star)])
    shared = []
    for event in events:
        if len({star for _, star in event}) >= min_fraction * len(searches):
            shared.append(float(np.median([t for t, _ in event])))
    return tuple(shared)
