"""Small numerical helpers shared by the regressor builders (private)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from astropy.stats import mad_std
from numpy.typing import NDArray

from ..design import RegressorGroup
from ..exceptions import DataValidationError

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: a column whose RMS over the good cadences is below this fraction of the group's largest
#: column RMS (or exactly zero) carries no information there and is dropped
RELATIVE_RMS_FLOOR = 1e-10


def robust_std(values: FloatArray) -> float:
    """1.4826 × median absolute deviation of finite ``values`` (0 for fewer than 2 values)."""
    v = values[np.isfinite(values)]
    if v.size < 2:
        return 0.0
    return float(mad_std(v))


def point_to_point_noise(values: FloatArray) -> float:
    """White-noise level from successive differences: robust std of diff / sqrt(2)."""
    v = values[np.isfinite(values)]
    if v.size < 3:
        return 0.0
    return robust_std(np.diff(v)) / np.sqrt(2.0)


def fill_gaps(time: FloatArray, values: FloatArray, ok: BoolArray) -> FloatArray:
    """Linear interpolation in time over cadences where ``ok`` is False (constant beyond the ends).

    Parameters
    ----------
    time : ndarray, shape (N,)
        Days; may be NaN where ``ok`` is False (those cadences get the nearest value by index).
    values : ndarray, shape (N,) or (N, k)
        Series to fill, one per column.
    ok : ndarray of bool, shape (N,) or (N, k)
        Where ``values`` is usable; at least one True per column.

    Returns
    -------
    ndarray, same shape as ``values``, finite everywhere.
    """
    vals = np.array(values, dtype=np.float64, copy=True)
    v2 = vals.reshape(vals.shape[0], -1)  # a view: filling v2 fills vals
    ok2 = np.asarray(ok, dtype=bool)
    if ok2.ndim == 1:
        ok2 = np.broadcast_to(ok2[:, None], v2.shape)
    t = time_for_interpolation(time)
    for j in range(v2.shape[1]):
        good = ok2[:, j] & np.isfinite(v2[:, j])
        if good.all():
            continue
        if not good.any():
            v2[:, j] = 0.0
            continue
        v2[~good, j] = np.interp(t[~good], t[good], v2[good, j])
    return vals


def time_for_interpolation(time: FloatArray) -> FloatArray:
    """Times with NaNs replaced by linear interpolation over the cadence index."""
    t = np.asarray(time, dtype=np.float64)
    finite = np.isfinite(t)
    if finite.all():
        return t
    if finite.sum() < 2:
        return np.arange(t.size, dtype=np.float64)
    idx = np.arange(t.size, dtype=np.float64)
    out = t.copy()
    out[~finite] = np.interp(idx[~finite], idx[finite], t[finite])
    return out


def standardise(
    columns: FloatArray, good: BoolArray, names: Sequence[str], *, group: str = "", source: str | None = None
) -> tuple[FloatArray, tuple[str, ...]]:
    """Centre each column on its mean over the good cadences and scale it to unit RMS there.

    Columns that are constant on the good cadences (RMS ≤ ``RELATIVE_RMS_FLOOR`` × the
    largest) are dropped and logged. No constant column is ever returned: the model handles
    the mean of the target separately.

    Parameters
    ----------
    columns : ndarray, shape (N, m)
    good : ndarray of bool, shape (N,)
        The target's good cadences.
    names : sequence of str, length m

    Returns
    -------
    columns : ndarray, shape (N, m'), finite
    names : tuple of str, length m'
    """
    cols = np.asarray(columns, dtype=np.float64)
    if cols.shape[1] == 0:
        return cols.reshape(cols.shape[0], 0), ()
    if not good.any():
        raise DataValidationError(f"regressor group {group!r}: the target has no good cadence", source)
    if not np.all(np.isfinite(cols)):
        raise DataValidationError(f"regressor group {group!r}: NaN or infinite values before standardising", source)
    sub = cols[good]
    mean = sub.mean(axis=0)
    rms = np.sqrt(np.mean((sub - mean) ** 2, axis=0))
    keep = rms > RELATIVE_RMS_FLOOR * max(float(rms.max()), np.finfo(float).tiny)
    if not keep.all():
        log.debug("group %s: dropped %d column(s) constant on the good cadences", group, int((~keep).sum()))
    out = (cols[:, keep] - mean[keep]) / rms[keep]
    return np.ascontiguousarray(out), tuple(n for n, k in zip(names, keep) if k)


def initial_prior_scale(flux: FloatArray, good: BoolArray, n_columns: int) -> float:
    """A first guess of a group's prior standard deviation (flux units per unit-RMS column).

    The target's robust flux scatter over its good cadences divided by sqrt(m): a group of
    m unit-RMS columns with weights of that size explains about the whole scatter. The
    model refits the scale; this only sets where the optimiser starts.
    """
    f = flux[good & np.isfinite(flux)]
    scale = robust_std(f)
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.std(f)) if f.size else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(float(np.median(f))) * 1e-3, 1e-12) if f.size else 1.0
    return float(scale / np.sqrt(max(n_columns, 1)))


def make_group(
    name: str,
    columns: FloatArray,
    names: Sequence[str],
    good: BoolArray,
    flux: FloatArray,
    *,
    prior_scale: float | None = None,
    description: str = "",
    source: str | None = None,
) -> RegressorGroup:
    """Standardise ``columns`` and wrap them as a :class:`~halfsib.design.RegressorGroup`."""
    cols, kept = standardise(columns, good, names, group=name, source=source)
    scale = prior_scale if prior_scale is not None else initial_prior_scale(flux, good, cols.shape[1])
    return RegressorGroup(name=name, columns=cols, prior_scale=float(scale), column_names=kept,
                          description=description)


def sign_convention(vectors: FloatArray) -> FloatArray:
    """Flip each column so that its largest-magnitude entry is positive (deterministic PCA signs)."""
    if vectors.size == 0:
        return vectors
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def pca_scores(matrix: FloatArray, rows: BoolArray, n_components: int) -> FloatArray:
    """Principal-component scores of the columns of ``matrix`` (centred on ``rows``).

    Parameters
    ----------
    matrix : ndarray, shape (N, p)
        Variables in columns (e.g. pixel fractions), finite.
    rows : ndarray of bool, shape (N,)
        Cadences that define the mean and the principal axes (the good ones).
    n_components : int
        How many leading components to return (fewer if the rank is lower).

    Returns
    -------
    ndarray, shape (N, k)
        ``(matrix - mean) @ axes`` for the k leading axes, ordered by variance.
    """
    centred = matrix - matrix[rows].mean(axis=0)
    if centred.shape[1] == 0:
        return centred
    _, s, vt = np.linalg.svd(centred[rows], full_matrices=False)
    rank = int(np.count_nonzero(s > s[0] * 1e-10)) if s.size and s[0] > 0 else 0
    k = min(n_components, rank)
    axes = sign_convention(vt[:k].T)
    return centred @ axes
