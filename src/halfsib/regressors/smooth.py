"""Smooth time terms: cubic B-splines in time with a fixed knot spacing, split at gaps, and
settling ramps at the start of each stretch.

Each stretch of data between gaps longer than ``gap_days`` gets its own spline basis, so
a jump across a gap (a pointing reset, a data download) costs no smoothness. The B-splines
of one stretch sum to one on it; since the model fits the target's mean separately, one
column (the last of the last stretch) is dropped, leaving no constant combination.

After a campaign start, a safe mode or a data download the spacecraft settles thermally:
the flux drifts by up to several per cent over the first day (measured on the real files:
the first half-day of the C13 K2SFF ``FRAW`` sits a median 5,300 ppm above days 1.5–3,
C5's 3,500 ppm, TESS sector 1's 250–620 ppm). :func:`settling_regressors` gives each
stretch decaying exponentials that start with it (``RegressorConfig.settling_timescales``,
off by default: see docs/regressors.md); B-splines with a 1.5–5-day spacing are too slow
for that, and the stellar GP would otherwise take the ramp as the star's.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import BSpline

from ..design import RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ._util import BoolArray, FloatArray, time_for_interpolation, make_group

log = logging.getLogger(__name__)

__all__ = ["spline_basis", "spline_regressors", "settling_regressors", "segments"]


def segments(time: FloatArray, good: BoolArray, gap_days: float) -> list[tuple[float, float]]:
    """Time spans of the stretches of good data separated by gaps longer than ``gap_days``.

    Returns
    -------
    list of (start, stop)
        Days, in time order; each span runs from its first to its last good time.
    """
    if not gap_days > 0:
        raise ConfigurationError(f"gap_days must be > 0, got {gap_days}")
    t = np.sort(time[good & np.isfinite(time)])
    if t.size == 0:
        raise DataValidationError("no good cadence with a finite time")
    breaks = np.flatnonzero(np.diff(t) > gap_days)
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks, [t.size - 1]])
    return [(float(t[a]), float(t[b])) for a, b in zip(starts, stops)]


def spline_basis(time: FloatArray, start: float, stop: float, n_basis: int | None = None,
                 knot_spacing: float | None = None, degree: int = 3) -> FloatArray:
    """B-spline basis functions on [start, stop], evaluated at ``time`` (0 outside the span).

    Give either the number of basis functions ``n_basis`` (>= degree + 1) or the interior
    knot spacing in days (the span is divided into ceil(span / spacing) equal intervals).

    Returns
    -------
    ndarray, shape (N, n_basis)
        Non-negative, summing to one at every time inside the span.
    """
    span = max(stop - start, 1e-9)
    if n_basis is None:
        if knot_spacing is None or not knot_spacing > 0:
            raise ConfigurationError(f"knot_spacing must be > 0 days, got {knot_spacing}")
        n_intervals = max(1, int(np.ceil(span / knot_spacing - 1e-9)))
    else:
        n_intervals = max(1, int(n_basis) - degree)
    inner = np.linspace(start, start + span, n_intervals + 1)
    knots = np.concatenate([[inner[0]] * degree, inner, [inner[-1]] * degree])
    t = time_for_interpolation(time)
    inside = (t >= start) & (t <= start + span)
    out = np.zeros((t.size, n_intervals + degree))
    if inside.any():
        out[inside] = BSpline.design_matrix(np.clip(t[inside], inner[0], inner[-1]), knots, degree).toarray()
    return out


def spline_regressors(
    time: FloatArray,
    good: BoolArray,
    flux: FloatArray,
    *,
    knot_spacing: float = 3.0,
    gap_days: float = 1.0,
    degree: int = 3,
    prior_scale: float | None = None,
    name: str = "spline",
) -> RegressorGroup:
    """Smooth time terms: a B-spline basis per stretch of data between gaps.

    Parameters
    ----------
    time : ndarray, shape (N,)
        The target's times, days (NaN allowed at bad cadences).
    good : ndarray of bool, shape (N,)
        The target's good cadences.
    flux : ndarray, shape (N,)
        The target's flux (only sets the initial prior scale).
    knot_spacing : float
        Days between knots (> 0). Shorter spacings follow faster trends and can absorb
        more of a long transit; the group's prior scale keeps them in check.
    gap_days : float
        A gap between good cadences longer than this (days) starts a new stretch.
    degree : int
        Spline degree (3 = cubic).
    prior_scale : float, optional
        Initial prior standard deviation (flux units); default from the target's scatter.

    Returns
    -------
    RegressorGroup
        Columns named ``spline<stretch>_<k>``, unit RMS over the good cadences.
    """
    if not (isinstance(degree, (int, np.integer)) and 0 <= degree <= 5):
        raise ConfigurationError(f"spline degree must be an integer 0-5, got {degree}")
    spans = segments(time, good, gap_days)
    blocks, names = [], []
    for i, (a, b) in enumerate(spans):
        block = spline_basis(time, a, b, knot_spacing=knot_spacing, degree=degree)
        blocks.append(block)
        names += [f"{name}{i}_{k}" for k in range(block.shape[1])]
    cols = np.hstack(blocks)[:, :-1]
    names = names[:-1]
    desc = (f"degree-{degree} B-splines, knots every {knot_spacing:g} d, {len(spans)} stretch(es) split at gaps "
            f"> {gap_days:g} d (one column dropped: the mean is fitted separately)")
    return make_group(name, cols, names, good, flux, prior_scale=prior_scale, description=desc)


def settling_regressors(
    time: FloatArray,
    good: BoolArray,
    flux: FloatArray,
    *,
    timescales: tuple[float, ...] = (0.3, 1.0),
    gap_days: float = 1.0,
    prior_scale: float | None = None,
    name: str = "settling",
) -> RegressorGroup:
    """Settling ramps: exp(−(t − t_s)/τ) from the start t_s of every stretch of data, 0 before it.

    Parameters
    ----------
    time : ndarray, shape (N,)
        The target's times, days (NaN allowed at bad cadences).
    good : ndarray of bool, shape (N,)
        The target's good cadences.
    flux : ndarray, shape (N,)
        The target's flux (only sets the initial prior scale).
    timescales : tuple of float
        Decay times τ [d] (> 0), one column per stretch and τ.
    gap_days : float
        A gap between good cadences longer than this (days) starts a new stretch.
    prior_scale : float, optional
        Initial prior standard deviation (flux units); default from the target's scatter.

    Returns
    -------
    RegressorGroup
        Columns named ``settling<stretch>_<τ>``, unit RMS over the good cadences.
    """
    taus = tuple(float(x) for x in timescales)
    if not taus or not all(math.isfinite(x) and x > 0 for x in taus):
        raise ConfigurationError(f"settling timescales must be finite and > 0 [d], got {timescales}")
    t = time_for_interpolation(time)
    cols, names = [], []
    for i, (start, stop) in enumerate(segments(time, good, gap_days)):
        inside = (t >= start) & (t <= stop)
        for tau in taus:
            col = np.zeros(t.size)
            col[inside] = np.exp(-(t[inside] - start) / tau)
            cols.append(col)
            names.append(f"{name}{i}_{tau:g}d")
    desc = (f"settling ramps exp(-(t - start)/tau), tau = {', '.join(f'{x:g}' for x in taus)} d, from the start "
            f"of each of {len(cols) // len(taus)} stretch(es) split at gaps > {gap_days:g} d")
    return make_group(name, np.column_stack(cols), names, good, flux, prior_scale=prior_scale, description=desc)


def window_edges(time: FloatArray, good: BoolArray, n_windows: int) -> NDArray[np.float64]:
    """Boundaries of ``n_windows`` time windows holding equal numbers of good cadences.

    Returns
    -------
    ndarray, shape (n_windows + 1,)
        Days; the first is -inf and the last +inf so every cadence falls in a window.
    """
    t = np.sort(time[good & np.isfinite(time)])
    if n_windows < 1:
        raise ConfigurationError(f"the number of windows must be >= 1, got {n_windows}")
    if t.size < n_windows:
        raise DataValidationError(f"{t.size} good cadences cannot fill {n_windows} windows")
    cuts = [0.5 * (t[i - 1] + t[i]) for i in (np.arange(1, n_windows) * t.size) // n_windows]
    return np.array([-np.inf, *cuts, np.inf])
