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


def cdpp(time: NDArray[np.float64], flux: NDArray[np.float64], *, duration: float = CDPP_DURATION,
         flatten_window: float = CDPP_FLATTEN_WINDOW) -> float:
    """The CDPP of ``flux`` [ppm] for a transit of ``duration`` hours, as lightkurve computes it.

    Parameters
    ----------
    time : ndarray, shape (N,)
        Days; non-finite times and fluxes are left out.
    flux : ndarray, shape (N,)
        Any positive flux (divided by its median here).
    duration : float
        Hours (default 6.5).
    flatten_window : float
        Days (default 2.06).

    Returns
    -------
    float
        NaN for fewer than 3 flattening windows of data.
    """
    import lightkurve as lk

    t = np.asarray(time, float)
    f = np.asarray(flux, float)
    ok = np.isfinite(t) & np.isfinite(f)
    if ok.sum() < 3:
        return float("nan")
    t, f = t[ok], f[ok]
    cadence = float(np.median(np.diff(t)))
    n_transit = max(1, int(round(duration / 24.0 / cadence)))
    window = int(round(flatten_window / cadence)) | 1
    if t.size < 3 * window:
        return float("nan")
    lc = lk.LightCurve(time=t, flux=f / np.median(f))
    return float(lc.estimate_cdpp(transit_duration=n_transit, savgol_window=window, sigma=5.0).value)
