"""Photometric precision as astronomers quote it: the combined differential photometric precision.

One home for the CDPP in halfsib. It is lightkurve's :meth:`lightkurve.LightCurve.estimate_cdpp`
(Gilliland et al. 2011; Christiansen et al. 2012): the light curve divided by its median,
flattened by a Savitzky-Golay filter of about 2 days, 5-sigma clipped, then the standard
deviation of its running mean over the transit duration, in ppm. lightkurve counts both windows
in cadences (13 and 101 for Kepler/K2 long cadence: 6.5 h and 2.06 d); here they are given in
time and converted with the light curve's own cadence, so that 2-min TESS data get the same
6.5 h and 2.06 d.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["cdpp", "CDPP_DURATION", "CDPP_FLATTEN_WINDOW"]

#: hours: the transit duration of the quoted CDPP
CDPP_DURATION = 6.5
#: days: the Savitzky-Golay flattening window (lightkurve's 101 long cadences)
CDPP_FLATTEN_WINDOW = 101 * 0.0204335


def cdpp(time: NDArray[np.float64], flux: NDArray[np.float64], *, mask: NDArray[np.bool_] | None = None,
         duration: float = CDPP_DURATION, flatten_window: float = CDPP_FLATTEN_WINDOW) -> float:
    """The CDPP of ``flux`` [ppm] for a transit of ``duration`` hours, as lightkurve computes it.

    Parameters
    ----------
    time : ndarray, shape (N,)
        Days; non-finite times and fluxes are left out.
    flux : ndarray, shape (N,)
        Any positive flux (divided by its median here).
    mask : ndarray of bool, shape (N,), optional
        Cadences to leave out of the statistic (known transits, clipped outliers) without
        cutting the light curve there (see Notes).
    duration : float
        Hours (default 6.5).
    flatten_window : float
        Days (default 2.06).

    Returns
    -------
    float
        NaN for fewer than 3 flattening windows of data.

    Notes
    -----
    lightkurve's flattening splits a light curve at every gap longer than 5 cadences and
    fits each piece on its own, so simply deleting masked cadences changes the statistic:
    deleting K2-136's 190 in-transit cadences from K2SFF's ``FCOR`` raises its CDPP from
    50.7 to 67.1 ppm, and deleting 13 random 15-cadence windows raises it to 58-73 ppm.
    Here masked cadences are first filled by linear interpolation between their unmasked
    neighbours, the whole light curve is flattened as lightkurve does, and the masked
    cadences are then left out of the clipping, the running mean and the standard deviation.
    Without a mask (or with nothing masked) this is exactly ``estimate_cdpp``.
    """
    import lightkurve as lk

    t = np.asarray(time, float)
    f = np.asarray(flux, float)
    ok = np.isfinite(t) & np.isfinite(f)
    masked = np.zeros(t.size, bool) if mask is None else np.asarray(mask, bool)
    if masked.shape != t.shape:
        raise ValueError(f"mask has shape {masked.shape}, expected {t.shape}")
    if np.count_nonzero(ok & ~masked) < 3:
        return float("nan")
    t, f, masked = t[ok], f[ok], masked[ok]
    cadence = float(np.median(np.diff(t)))
    n_transit = max(1, int(round(duration / 24.0 / cadence)))
    window = int(round(flatten_window / cadence)) | 1
    if t.size < 3 * window:
        return float("nan")
    f = f / np.median(f[~masked])
    if not masked.any():
        lc = lk.LightCurve(time=t, flux=f)
        return float(lc.estimate_cdpp(transit_duration=n_transit, savgol_window=window, sigma=5.0).value)
    return _masked_cdpp(t, f, masked, n_transit, window)


def _masked_cdpp(t: NDArray[np.float64], f: NDArray[np.float64], masked: NDArray[np.bool_], n_transit: int,
                 window: int) -> float:
    """``estimate_cdpp``'s steps with the masked cadences filled for the flattening, then left out."""
    import lightkurve as lk
    from lightkurve.utils import running_mean

    filled = f.copy()
    filled[masked] = np.interp(t[masked], t[~masked], f[~masked])
    flat = lk.LightCurve(time=t, flux=filled).flatten(window_length=window, polyorder=2)
    kept = lk.LightCurve(time=t[~masked], flux=np.asarray(flat.flux.value, float)[~masked])
    cleaned = kept.remove_outliers(sigma=5.0)
    ppm = 1e6 * (np.asarray(cleaned.flux.value, float) / np.median(np.asarray(cleaned.flux.value, float)) - 1.0)
    return float(np.std(running_mean(data=ppm, window_size=n_transit)))
