"""The target's own motion terms: polynomials of its position, modulated in time.

K2's roll moves each star along a short arc every ~6 hours; how its aperture flux responds
depends on where on the detector it sits and changes slowly over a campaign. Other stars'
light curves cannot reproduce that response (design notes §8), so the target's own
motion enters the design matrix:

- the *variables*: the 1-D arclength along the roll arc (K2SFF's ``ARCLENGTH`` column, or
  the projection of the centroid track on its first principal axis), or the 2-D centroids
  (``centroid_col/row``, else ``pos_corr1/2``, else flux-weighted centroids of the pixels);
- the *terms*: monomials of the variables up to ``degree`` (no constant term), or cubic
  B-splines of each variable over its range (local flexibility along the arc, like
  K2SFF's binned flux-arclength relation; one spline dropped, so no constant);
- the *modulation*: each term multiplied by the indicator of one of ``n_windows`` time
  windows (K2SFF-like piecewise fits), by one of ``n_windows`` cubic B-splines in time (a
  response that changes smoothly), or by nothing;
- *breaks* (optional): times at which the pointing changes abruptly (K2SFF's arclength is
  defined per division of the campaign, and the roll pattern itself changes). The time
  modulation restarts at each break, so the response on either side is independent, and
  :func:`step_regressors` lets the flux at the reference position step there.

Every term is *anchored*: it is zero at the reference position (each variable's median over
the good cadences), in every window and for every time spline. The star is then the flux
the target would have at that one position, and it stays continuous across window edges.

Variables are centred on their median and scaled by their robust scatter (per window with
window modulation) and clipped at ±``CLIP`` robust sigmas, so that thruster-firing
excursions do not turn a cubic into a spike.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np

from ..design import RegressorGroup
from ..exceptions import ConfigurationError, DataValidationError
from ..timeseries import LightCurve, PixelSeries
from ._util import BoolArray, FloatArray, fill_gaps, make_group, robust_std
from .smooth import spline_basis, window_edges

log = logging.getLogger(__name__)

__all__ = ["motion_regressors", "motion_response_terms", "step_regressors", "centroid_track",
           "arclength_from_centroids", "motion_variables", "elc_motion_products", "reference_position",
           "break_segments", "check_breaks", "MOTION_VARIABLES", "MODULATIONS", "MOTION_BASES"]

MOTION_VARIABLES = ("auto", "arclength", "centroids")
MODULATIONS = ("windows", "splines", "none")
MOTION_BASES = ("poly", "spline")
#: scaled motion variables are clipped to ± this many robust sigmas
CLIP = 5.0


def centroid_track(target: LightCurve | PixelSeries) -> tuple[FloatArray, FloatArray] | None:
    """The target's (column, row) position per cadence, or None when nothing tells it.

    Light curves: ``centroid_col/centroid_row``, else ``pos_corr1/pos_corr2``. Pixel series:
    flux-weighted centroids over the aperture (detector pixels). NaN where unknown.
    """
    cols = target.columns
    for a, b in (("centroid_col", "centroid_row"), ("pos_corr1", "pos_corr2")):
        if a in cols and b in cols and np.isfinite(cols[a][target.good]).mean() > 0.5:
            return np.asarray(cols[a], float), np.asarray(cols[b], float)
    if isinstance(target, PixelSeries):
        ap = target.aperture
        flux = np.where(np.isfinite(target.flux), target.flux, 0.0)[:, ap]
        rows, columns = np.nonzero(ap)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = flux.sum(axis=1)
            x = flux @ (columns + target.corner[0]) / total
            y = flux @ (rows + target.corner[1]) / total
        return x, y
    return None


def arclength_from_centroids(x: FloatArray, y: FloatArray, good: BoolArray) -> FloatArray:
    """Position along the main axis of the centroid track (K2SFF-style 1-D arclength).

    The track (x, y) is centred on its median over the good cadences and projected on its
    first principal axis, oriented so that the axis's larger component is positive.

    Returns
    -------
    ndarray, shape (N,)
        Pixels along the axis; gaps filled by linear interpolation in cadence order.
    """
    ok = good & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        raise DataValidationError("fewer than 3 good cadences with a finite centroid")
    pts = np.column_stack([x - np.median(x[ok]), y - np.median(y[ok])])
    _, vectors = np.linalg.eigh(np.cov(pts[ok].T))
    axis = vectors[:, -1]
    axis = axis * np.sign(axis[np.argmax(np.abs(axis))])
    s = np.where(ok, np.nan_to_num(pts) @ axis, np.nan)
    return fill_gaps(np.arange(s.size, dtype=float), s, ok)


def motion_variables(target: LightCurve | PixelSeries, variables: str = "auto") -> dict[str, FloatArray]:
    """The motion variables of a target: ``{"arclength": s}`` or ``{"x": x, "y": y}``.

    ``"auto"`` picks the arclength for K2 (a 1-D roll) and the centroids otherwise.

    Raises
    ------
    DataValidationError
        The target has no arclength, centroid, position-correction or pixel data.
    """
    if variables not in MOTION_VARIABLES:
        raise ConfigurationError(f"motion variables must be one of {MOTION_VARIABLES}, got {variables!r}")
    if variables == "auto":
        variables = "arclength" if target.meta.mission == "K2" else "centroids"
    ok = target.good
    if variables == "arclength" and "arclength" in target.columns:
        s = np.asarray(target.columns["arclength"], float)
        if np.isfinite(s[ok]).mean() > 0.5:
            return {"arclength": fill_gaps(np.arange(s.size, dtype=float), s, ok & np.isfinite(s))}
    track = centroid_track(target)
    if track is None:
        raise DataValidationError("no motion information: the target has no arclength, centroid, POS_CORR or "
                                  "pixel data", target.meta.source)
    x, y = track
    if variables == "arclength":
        return {"arclength": arclength_from_centroids(x, y, ok)}
    idx = np.arange(x.size, dtype=float)
    return {"x": fill_gaps(idx, x, ok & np.isfinite(x)), "y": fill_gaps(idx, y, ok & np.isfinite(y))}


def _scaled(values: FloatArray, rows: BoolArray) -> FloatArray:
    v = values[rows]
    scale = robust_std(v) or float(np.std(v)) or 1.0
    return np.clip((values - np.median(v)) / scale, -CLIP, CLIP)


def _monomials(variables: dict[str, FloatArray], rows: BoolArray, degree: int) -> tuple[FloatArray, list[str]]:
    """All monomials of the scaled variables with total degree 1..degree."""
    names = list(variables)
    scaled = [_scaled(variables[n], rows) for n in names]
    cols, labels = [], []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(len(names)), d):
            cols.append(np.prod([scaled[i] for i in combo], axis=0))
            labels.append("*".join(names[i] for i in combo))
    return np.column_stack(cols), labels


def _spline_terms(variables: dict[str, FloatArray], rows: BoolArray, n_splines: int) -> tuple[FloatArray, list[str]]:
    """Cubic B-splines of each scaled variable over its range on ``rows`` (one dropped per variable).

    The B-splines of a variable sum to one; dropping the last leaves no constant combination.
    The range is the full range of the scaled (clipped at ±:data:`CLIP` robust sigmas)
    variable: with the central 99 % instead, K2's deepest roll excursions, where the flux
    falls fastest, shared one spline value and were left in the corrected flux as spikes.
    """
    cols, labels = [], []
    for name, values in variables.items():
        scaled = _scaled(values, rows)
        # over the whole range: the deepest roll excursions are where the flux changes fastest
        lo, hi = (float(scaled[rows].min()), float(scaled[rows].max())) if rows.any() else (-1.0, 1.0)
        if not hi > lo:
            continue
        basis = spline_basis(np.clip(scaled, lo, hi), float(lo), float(hi), n_basis=n_splines)[:, :-1]
        cols.append(basis)
        labels += [f"B{j}({name})" for j in range(basis.shape[1])]
    if not cols:
        return np.zeros((rows.size, 0)), []
    return np.hstack(cols), labels


def _terms(variables: dict[str, FloatArray], rows: BoolArray, basis: str, degree: int,
           n_splines: int) -> tuple[FloatArray, list[str]]:
    if basis == "poly":
        return _monomials(variables, rows, degree)
    return _spline_terms(variables, rows, n_splines)


def _check(degree: int, n_windows: int, modulation: str, basis: str, n_splines: int) -> None:
    if not (isinstance(degree, (int, np.integer)) and 1 <= degree <= 6):
        raise ConfigurationError(f"motion degree must be an integer 1-6, got {degree}")
    if not (isinstance(n_windows, (int, np.integer)) and n_windows >= 1):
        raise ConfigurationError(f"motion n_windows must be an integer >= 1, got {n_windows}")
    if modulation not in MODULATIONS:
        raise ConfigurationError(f"motion modulation must be one of {MODULATIONS}, got {modulation!r}")
    if basis not in MOTION_BASES:
        raise ConfigurationError(f"motion basis must be one of {MOTION_BASES}, got {basis!r}")
    if not (isinstance(n_splines, (int, np.integer)) and n_splines >= 4):
        raise ConfigurationError(f"motion n_splines must be an integer >= 4, got {n_splines}")


def _anchored_terms(values: dict[str, FloatArray], rows: BoolArray, reference: dict[str, float], basis: str,
                    degree: int, n_splines: int) -> tuple[FloatArray, list[str]]:
    """Terms of the variables minus their value at the reference position (zero there).

    Scaling and spline ranges come from ``rows``, as in :func:`_terms`; the reference
    position is evaluated with the same scaling, so that every window's (or time spline's)
    response is zero at one physical position.
    """
    extended = {k: np.append(v, reference[k]) for k, v in values.items()}
    terms, labels = _terms(extended, np.append(rows, False), basis, degree, n_splines)
    return terms[:-1] - terms[-1], labels


def _windowed(values: dict[str, FloatArray], time: FloatArray, good: BoolArray, n_windows: int, basis: str,
              degree: int, n_splines: int, name: str, breaks: tuple[float, ...] = ()
              ) -> tuple[list[FloatArray], list[str]]:
    """Terms computed within each window, anchored at the reference position, zero outside it.
    ``breaks`` are extra window edges."""
    edges = window_edges(time, good, n_windows)
    edges = np.unique(np.concatenate([edges, [b for b in breaks if edges[0] < b < edges[-1]]]))
    n_windows = edges.size - 1
    window = np.clip(np.searchsorted(edges, np.nan_to_num(time, nan=-np.inf), side="right") - 1, 0, n_windows - 1)
    reference = reference_position(values, good)
    cols, names = [], []
    for w in range(n_windows):
        inside = window == w
        terms, labels = _anchored_terms(values, good & inside, reference, basis, degree, n_splines)
        cols.append(terms * inside[:, None])
        names += [f"{name}_w{w:02d}_{lab}" for lab in labels]
    return cols, names


def break_segments(time: FloatArray, good: BoolArray, breaks: tuple[float, ...] | list[float] = ()
                   ) -> list[tuple[float, float]]:
    """The (first, last) good time of each stretch between consecutive ``breaks`` [d].

    Breaks outside the good cadences' span, or with no good cadence on one side, are ignored.
    """
    t = np.sort(time[good & np.isfinite(time)])
    if t.size == 0:
        raise DataValidationError("no good cadence with a finite time")
    edges = [-np.inf, *sorted(float(b) for b in breaks), np.inf]
    spans = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = t[(t > lo) & (t < hi)]
        if inside.size:
            spans.append((float(inside[0]), float(inside[-1])))
    return spans


def check_breaks(breaks: Any) -> tuple[float, ...]:
    """``breaks`` as sorted finite floats [d]; ConfigurationError otherwise."""
    out = tuple(float(b) for b in np.atleast_1d(np.asarray(breaks, dtype=float)))
    if not all(np.isfinite(out)):
        raise ConfigurationError(f"motion breaks must be finite times [d], got {breaks}")
    return tuple(sorted(out))


def _segment_splines(time: FloatArray, good: BoolArray, n_basis: int, breaks: tuple[float, ...]) -> FloatArray:
    """Cubic B-splines in time restarted in each stretch between breaks (zero outside it).

    Without breaks: ``n_basis`` splines over the good cadences' span. With breaks, each
    stretch gets a share of ``n_basis`` in proportion to its length (at least 4), so the
    knot spacing stays about the same.
    """
    spans = break_segments(time, good, breaks)
    total = max(sum(b - a for a, b in spans), 1e-9)
    if len(spans) == 1:
        return spline_basis(time, spans[0][0], spans[0][1], n_basis=max(n_basis, 4))
    parts = [spline_basis(time, a, b, n_basis=max(4, int(round(n_basis * (b - a) / total)))) for a, b in spans]
    return np.hstack(parts)


def reference_position(values: dict[str, FloatArray], good: BoolArray) -> dict[str, float]:
    """The position at which the motion response is zero: each variable's median over ``good``.

    The model's star is the flux the target would have at this position. Anchoring every
    time window's response there keeps the star continuous across window edges; terms
    centred on each window's own mean would leave each window's mean loss in the star, as
    steps of up to several per cent on strongly moving K2 stars (docs/detrend.md).
    """
    return {k: float(np.median(v[good])) for k, v in values.items()}


def motion_regressors(
    target: LightCurve | PixelSeries,
    *,
    degree: int = 3,
    n_windows: int = 20,
    modulation: str = "windows",
    basis: str = "poly",
    n_splines: int = 8,
    variables: str = "auto",
    flux: FloatArray | None = None,
    prior_scale: float | None = None,
    name: str = "motion",
    breaks: tuple[float, ...] = (),
) -> RegressorGroup:
    """Functions of the target's motion, per time window or modulated by splines in time.

    Parameters
    ----------
    target : LightCurve or PixelSeries
    degree : int
        Highest total degree of the monomials (1-6), with ``basis="poly"``.
    n_windows : int
        Number of time windows (equal numbers of good cadences) or of spline functions in time.
    modulation : {"windows", "splines", "none"}
    basis : {"poly", "spline"}
        Monomials of the variables, or ``n_splines`` cubic B-splines of each variable over
        its range (K2SFF-like local flexibility along the roll arc).
    n_splines : int
        B-splines per variable (>= 4) with ``basis="spline"``; one is dropped (no constant).
    variables : {"auto", "arclength", "centroids"}
    flux : ndarray, shape (N,), optional
        The target's flux (sets the initial prior scale); default ``target.flux`` for light
        curves, the aperture sum for pixel series.
    prior_scale : float, optional
    name : str
    breaks : tuple of float
        Times [d] at which the response restarts: the time windows gain these edges, the
        time splines are restarted in each stretch between breaks (:func:`break_segments`),
        and without modulation each stretch gets its own response.

    Returns
    -------
    RegressorGroup
        ``n_terms × n_windows`` columns (fewer when a window has no motion), named like
        ``motion_w03_arclength*arclength`` or ``motion_w03_B2(arclength)``. With window
        modulation each column is zero outside its window; every column is zero at the
        reference position (:func:`reference_position`).
    """
    _check(degree, n_windows, modulation, basis, n_splines)
    breaks = check_breaks(breaks)
    values = motion_variables(target, variables)
    good, time = target.good, target.time
    if flux is None:
        flux = target.flux if isinstance(target, LightCurve) else target.to_lightcurve().flux
    if modulation == "windows":
        cols, names = _windowed(values, time, good, n_windows, basis, degree, n_splines, name, breaks)
    else:
        terms, labels = _anchored_terms(values, good, reference_position(values, good), basis, degree, n_splines)
        if modulation == "none" and not breaks:
            cols, names = [terms], [f"{name}_{lab}" for lab in labels]
        else:
            modulators = (_segment_splines(time, good, n_windows, breaks) if modulation == "splines"
                          else _segment_indicators(time, good, breaks))
            cols = [terms * modulators[:, j:j + 1] for j in range(modulators.shape[1])]
            names = [f"{name}_b{j:02d}_{lab}" for j in range(modulators.shape[1]) for lab in labels]
    what = f"degree-{degree} polynomials" if basis == "poly" else f"{n_splines - 1} cubic B-splines"
    desc = (f"{what} of {'/'.join(values)}"
            + {"windows": f" in {n_windows} time windows",
               "splines": f" x {max(n_windows, 4)} B-splines in time", "none": ""}[modulation])
    if breaks:
        desc += f", restarted at {len(breaks)} break(s) ({', '.join(f'{b:.2f}' for b in breaks)} d)"
    desc += ", zero at the campaign-median position"
    return make_group(name, np.hstack(cols), names, good, flux, prior_scale=prior_scale, description=desc,
                      source=target.meta.source)


def _segment_indicators(time: FloatArray, good: BoolArray, breaks: tuple[float, ...]) -> FloatArray:
    """One column per stretch between breaks: 1 inside it (from its first to its last good time)."""
    t = np.nan_to_num(time, nan=-np.inf)
    return np.column_stack([((t >= a) & (t <= b)).astype(float) for a, b in break_segments(time, good, breaks)])


def motion_response_terms(
    target: LightCurve | PixelSeries,
    *,
    degree: int = 3,
    basis: str = "poly",
    n_splines: int = 8,
    variables: str = "auto",
) -> FloatArray:
    """The anchored motion terms without modulation, shape (N, n_terms): the columns whose
    change at a break :func:`halfsib.breaks.find_motion_breaks` scores."""
    _check(degree, 1, "none", basis, n_splines)
    values = motion_variables(target, variables)
    terms, _ = _anchored_terms(values, target.good, reference_position(values, target.good), basis, degree,
                               n_splines)
    return terms


def step_regressors(
    time: FloatArray,
    good: BoolArray,
    flux: FloatArray,
    breaks: tuple[float, ...],
    *,
    prior_scale: float | None = None,
    name: str = "motion_steps",
) -> RegressorGroup:
    """Steps at pointing breaks: for each break, 1 after it and 0 before.

    A star does not step; an aperture whose pointing changes abruptly does. Together with
    the restarted motion response (``motion_regressors(..., breaks=...)``) they let the
    model follow a break without bending the stellar GP.

    Returns
    -------
    RegressorGroup
        One column per break that has good cadences on both sides, named ``<name>_<time>``.
    """
    breaks = check_breaks(breaks)
    t = np.nan_to_num(time, nan=-np.inf)
    tg = time[good & np.isfinite(time)]
    kept = [b for b in breaks if tg.size and tg.min() < b < tg.max()]
    if not kept:
        raise ConfigurationError(f"no break inside the good cadences' span ({breaks})")
    cols = np.column_stack([(t > b).astype(float) for b in kept])
    names = [f"{name}_{b:.3f}" for b in kept]
    desc = f"steps at {len(kept)} pointing break(s) ({', '.join(f'{b:.2f}' for b in kept)} d)"
    return make_group(name, cols, names, good, flux, prior_scale=prior_scale, description=desc)


def elc_motion_products(
    elc: RegressorGroup,
    target: LightCurve | PixelSeries,
    *,
    n_products: int = 10,
    variables: str = "auto",
    flux: FloatArray | None = None,
    prior_scale: float | None = None,
    name: str = "elc_motion",
) -> RegressorGroup:
    """Products of the leading ELCs with the target's (scaled) motion variables.

    A common-mode systematic seen by other stars reaches the target with a strength that
    depends on where the target sits on its roll arc; these columns let it.

    Returns
    -------
    RegressorGroup
        ``min(n_products, elc.n_columns) × n_variables`` columns named ``elc1*arclength``...
    """
    if n_products < 1:
        raise ConfigurationError(f"n_products must be >= 1, got {n_products}")
    values = motion_variables(target, variables)
    good = target.good
    if flux is None:
        flux = target.flux if isinstance(target, LightCurve) else target.to_lightcurve().flux
    k = min(n_products, elc.n_columns)
    cols, names = [], []
    for var, series in values.items():
        scaled = _scaled(series, good)
        cols.append(elc.columns[:, :k] * scaled[:, None])
        names += [f"{elc.column_names[j]}*{var}" for j in range(k)]
    desc = f"leading {k} columns of group {elc.name!r} times {'/'.join(values)}"
    return make_group(name, np.hstack(cols), names, good, flux, prior_scale=prior_scale, description=desc,
                      source=target.meta.source)
