"""Turning raw columns into a validated series: the ``good`` mask and the sanity checks.

NaNs and flagged cadences become ``good = False`` here, once; things that cannot be
repaired without guessing (zero or negative uncertainties, duplicated or unsorted times,
nothing usable left) raise :class:`DataValidationError` with what to do about it.
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.stats import mad_std
from numpy.typing import NDArray

from ..exceptions import DataValidationError
from .quality import describe_flags

log = logging.getLogger(__name__)

#: Fewest good cadences a file must have to be read at all (models ask for more).
MIN_CADENCES = 10


def as_float64(values: object) -> NDArray[np.float64]:
    """A C-contiguous float64 copy; masked entries (astropy/numpy masked columns) become NaN."""
    arr = np.ma.asarray(values)
    return np.ascontiguousarray(np.ma.filled(arr.astype(np.float64), np.nan))


def check_times(time: NDArray[np.float64], source: str, cadenceno: NDArray[np.int64] | None = None) -> None:
    """Raise if the finite times are duplicated or not increasing."""
    finite = np.isfinite(time)
    t = time[finite]
    if t.size < 2:
        return
    step = np.diff(t)
    if np.any(step == 0):
        i = int(np.flatnonzero(step == 0)[0])
        n = int(np.count_nonzero(step == 0))
        raise DataValidationError(
            f"{n} duplicated time stamp(s), first at t = {t[i]:.6f}. Each cadence must appear once: "
            "remove the duplicates (e.g. a light curve concatenated with itself)", source
        )
    if np.any(step < 0):
        i = int(np.flatnonzero(step < 0)[0])
        raise DataValidationError(
            f"times are not sorted (t = {t[i]:.6f} is followed by {t[i + 1]:.6f}). Mission files are "
            "always in time order, so a mission file like this is corrupted; sort a hand-made table first",
            source,
        )
    if cadenceno is not None and cadenceno.size == time.size:
        c = cadenceno[finite]
        if np.any(np.diff(c) <= 0):
            raise DataValidationError(
                "cadence numbers are duplicated or decreasing while times increase: the file is corrupted", source
            )


def good_mask(
    time: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64],
    quality: NDArray[np.int64],
    bitmask: int,
) -> NDArray[np.bool_]:
    """Cadences with finite time, flux and error and no flag in ``bitmask``."""
    return np.isfinite(time) & np.isfinite(flux) & np.isfinite(flux_err) & ((quality & bitmask) == 0)


def check_usable(
    good: NDArray[np.bool_],
    flux_err: NDArray[np.float64],
    quality: NDArray[np.int64],
    *,
    mission: str,
    bitmask: int,
    min_cadences: int,
    source: str,
    what: str = "flux",
) -> None:
    """Raise if too few cadences are usable or if usable cadences have non-positive errors."""
    n = good.size
    n_good = int(np.count_nonzero(good))
    if n_good == 0:
        flagged = int(np.count_nonzero(quality & bitmask))
        flags = describe_flags(quality & bitmask, mission)
        top = ", ".join(f"{k}: {v}" for k, v in sorted(flags.items(), key=lambda kv: -kv[1])[:3])
        raise DataValidationError(
            f"no usable cadence: all {n} cadences are NaN in the {what} column or flagged "
            f"({flagged} flagged by quality_bitmask={bitmask}{'; ' + top if top else ''}). "
            "Choose another flux column, or relax quality_bitmask ('none' keeps flagged cadences)",
            source,
        )
    bad_err = good & ~(flux_err > 0)
    if np.any(bad_err):
        k = int(np.count_nonzero(bad_err))
        raise DataValidationError(
            f"{k} cadence(s) have zero or negative flux uncertainties (e.g. {float(flux_err[bad_err][0]):g}); "
            "uncertainties must be positive. Fix the error column, or ignore it (command line: "
            "--flux-err-column none; Python: read(..., flux_err_column=None)) so that halfsib estimates the "
            "white noise from the scatter",
            source,
        )
    if n_good < min_cadences:
        raise DataValidationError(
            f"only {n_good} of {n} cadences are usable; at least {min_cadences} are needed. "
            "Relax quality_bitmask or use a longer light curve",
            source,
        )


def flux_uncertainties(
    time: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64] | None,
    quality: NDArray[np.int64],
    *,
    mission: str,
    bitmask: int,
    min_cadences: int,
    source: str,
    flux_name: str,
    err_name: str | None,
) -> tuple[NDArray[np.float64], bool]:
    """The per-cadence flux uncertainties, and whether they were estimated from the scatter.

    ``flux_err`` None (no column), or a column that carries no error at all — NaN or zero on
    every cadence that has a flux (lightkurve's K2SFF ``flux_err``, juliet-style tables with
    0) — gives the second-difference estimate (:func:`estimate_white_noise`); the latter
    with a warning naming the column. A column with some positive and some zero or negative
    values is refused by :func:`check_usable`.
    """
    if flux_err is not None:
        has_flux = np.isfinite(time) & np.isfinite(flux) & ((quality & bitmask) == 0)
        values = flux_err[has_flux]
        empty = values.size > 0 and bool(np.all(~np.isfinite(values) | (values == 0)))
        if not empty:
            return flux_err, False
        what = "NaN" if np.all(~np.isfinite(values)) else "zero" if np.all(values == 0) else "NaN or zero"
        log.warning("%s: the uncertainty column %s is %s on every cadence; estimating the white noise from the "
                    "scatter instead (as for files without errors)", source, err_name, what)
    provisional = good_mask(time, flux, np.ones_like(flux), quality, bitmask)
    check_usable(provisional, np.ones_like(flux), quality, mission=mission, bitmask=bitmask,
                 min_cadences=min_cadences, source=source, what=flux_name)
    return np.full(flux.size, estimate_white_noise(flux, provisional, source)), True


def second_difference_scatter(flux: NDArray[np.float64]) -> float:
    """1.4826 · MAD of the second differences / √6: the white-noise σ of a finite series."""
    d = np.diff(np.asarray(flux, float), n=2)
    return float(mad_std(d)) / float(np.sqrt(6.0))


def estimate_white_noise(flux: NDArray[np.float64], good: NDArray[np.bool_], source: str) -> float:
    """Robust per-cadence white-noise level [flux units] from the good cadences' second differences.

    sigma = 1.4826 · MAD(f[i+1] − 2 f[i] + f[i−1]) / √6 (white noise gives the second
    differences variance 6σ²). They cancel every trend that is linear over three cadences —
    the K2 roll sawtooth between thruster firings, slow drifts, stellar variability — which
    first differences do not: on raw K2 flux (K2SFF ``FRAW``) the first-difference scatter is
    1.5–4× the white noise, the second-difference one 1.1–1.6×. It is still an estimate,
    so the systematics model fits the white noise when the errors were estimated (see
    :data:`halfsib.model.ESTIMATED_ERROR_FLOOR`).
    """
    f = flux[good]
    f = f[np.isfinite(f)]
    if f.size < 4:
        raise DataValidationError("too few finite flux values to estimate uncertainties", source)
    sigma = second_difference_scatter(f)
    if not np.isfinite(sigma) or sigma <= 0:
        raise DataValidationError(
            "the file has no uncertainty column and the flux does not scatter (constant values), "
            "so the noise cannot be estimated; provide a flux_err column", source
        )
    log.info("%s: no flux uncertainties in the file; using the second-difference scatter %.4g", source, sigma)
    return sigma
