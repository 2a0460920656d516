"""Putting transits into raw data: light-curve flux, pixel stamps, and inverted copies.

The transit multiplies the *raw* flux (the column halfsib models, e.g. ``SAP_FLUX`` or a
pixel file's ``FLUX``), so the systematics model still sees the instrument exactly as
before; only the star's light changes:

    flux_injected = flux · (1 − f · (1 − m(t)))

with ``m(t)`` the limb-darkened transit (:func:`halfsib.transit.transit_flux`, batman,
integrated over the exposure) and ``f`` the share of the flux that belongs to the target
(1 by default: the whole aperture or stamp is the target's; the header's CROWDSAP with
``dilution="crowdsap"``). In a pixel file every pixel's flux is scaled the same way: the
star's light dims in every pixel it falls on. Approximation (``docs/injection.md``): the
stamp's flux is taken to be the target's, so a neighbour's light inside the stamp dims too
unless ``f`` < 1 removes that share uniformly; no PSF or neighbour model is subtracted.
The background (``FLUX_BKG``) is not touched (pixel ``FLUX`` is already
background-subtracted in mission files).

The injected file is the input file with only that column changed (same format, same
headers plus ``HISTORY`` cards), written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataValidationError, FileFormatError
from ..io.validate import second_difference_scatter
from .config import Injection

__all__ = ["transit_model", "inject_flux", "inject_pixels", "invert_flux", "exposure_time_of", "white_noise",
           "flux_error_level", "expected_snr", "count_transits", "InjectedFile", "write_injected"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


def exposure_time_of(time: FloatArray) -> float:
    """The cadence [d]: median spacing of the finite times (the fit uses the same)."""
    t = np.asarray(time, float)
    t = t[np.isfinite(t)]
    if t.size < 2:
        raise DataValidationError("fewer than two finite times: the cadence is unknown")
    return float(np.median(np.diff(t)))


def transit_model(time: FloatArray, injection: Injection, exposure_time: float | None = None) -> FloatArray:
    """Relative flux of the injected transit at ``time`` (1 out of transit and where time is NaN).

    Parameters
    ----------
    time : ndarray
        Mid-exposure times [d], the light curve's time system.
    injection : Injection
    exposure_time : float, optional
        Exposure to integrate over [d] (default: the median cadence of ``time``).
    """
    from ..transit import transit_flux

    t = np.asarray(time, float)
    exposure = exposure_time_of(t) if exposure_time is None else exposure_time
    model = transit_flux(t, injection.transit_params(), exposure_time=exposure)
    return np.where(np.isfinite(model), model, 1.0)


def _factor(model: FloatArray, target_fraction: float) -> FloatArray:
    if not (0 < target_fraction <= 1):
        raise DataValidationError(f"target_fraction must be in (0, 1], got {target_fraction!r}")
    m = np.asarray(model, float)
    return m if target_fraction == 1 else 1.0 - target_fraction * (1.0 - m)


def inject_flux(flux: FloatArray, model: FloatArray, target_fraction: float = 1.0) -> FloatArray:
    """``flux · (1 − f (1 − m))``: a light curve with the transit in the target's share ``f``."""
    return np.asarray(flux, float) * _factor(model, target_fraction)


def inject_pixels(flux: FloatArray, model: FloatArray, target_fraction: float = 1.0) -> FloatArray:
    """The same scaling in every pixel of a stamp ``flux`` of shape (N, rows, columns)."""
    cube = np.asarray(flux, float)
    if cube.ndim != 3 or cube.shape[0] != np.shape(model)[0]:
        raise DataValidationError(f"pixel flux of shape {cube.shape} does not match {np.shape(model)[0]} cadences")
    return cube * _factor(model, target_fraction)[:, None, None]


def invert_flux(flux: FloatArray) -> FloatArray:
    """``2·median − flux`` along time (per pixel for a stamp): dips become bumps and bumps dips."""
    f = np.asarray(flux, float)
    with np.errstate(invalid="ignore"):
        median = np.nanmedian(f, axis=0)
    return 2.0 * median - f


def white_noise(flux: FloatArray, good: NDArray[np.bool_]) -> float:
    """Per-cadence relative white noise: 1.4826 · MAD of second differences / √6 / median.

    Second differences remove every trend that is linear over three cadences — the K2 roll
    sawtooth between thruster firings, slow drifts, stellar variability — and the median
    ignores the resets, so this is the star's white noise, not its red noise on transit
    time scales.
    """
    f = np.asarray(flux, float)[np.asarray(good, bool)]
    f = f[np.isfinite(f)]
    if f.size < 10:
        raise DataValidationError(f"only {f.size} good cadences: the noise level is unknown")
    return second_difference_scatter(f / np.median(f))


def flux_error_level(lc: Any) -> float:
    """Median relative flux uncertainty over the good cadences (photon + read noise of the file).

    Falls back to :func:`white_noise` when the file has no uncertainties
    (``flux_err_estimated``).
    """
    good = lc.good & np.isfinite(lc.flux) & np.isfinite(lc.flux_err) & (lc.flux > 0)
    if lc.flux_err_estimated or not np.any(good):
        return white_noise(lc.flux, lc.good)
    return float(np.median(lc.flux_err[good] / lc.flux[good]))


def expected_snr(model: FloatArray, good: NDArray[np.bool_], noise: float, target_fraction: float = 1.0) -> float:
    """Matched-filter S/N of the injected signal in white noise: ``f √(Σ_good (1 − m)²) / σ``."""
    dip = target_fraction * (1.0 - np.asarray(model, float)[np.asarray(good, bool)])
    return float(math.sqrt(float(np.sum(dip**2))) / noise) if noise > 0 else 0.0


def count_transits(time: FloatArray, model: FloatArray, good: NDArray[np.bool_], injection: Injection) -> int:
    """Transits with at least one good in-transit cadence."""
    t = np.asarray(time, float)
    sel = np.asarray(good, bool) & (np.asarray(model, float) < 1.0) & np.isfinite(t)
    epochs = np.round((t[sel] - injection.t0) / injection.period)
    return int(np.unique(epochs).size)


@dataclass(frozen=True)
class InjectedFile:
    """What :func:`write_injected` wrote and what the injection should give.

    Attributes
    ----------
    path : str
        The written file.
    depth_ppm : float
        Central depth of the star's transit [ppm] (batman at mid-transit, no smearing; 0
        for an inverted copy).
    target_fraction : float
        Share of the modified flux that belongs to the target (1, or CROWDSAP).
    noise_ppm : float
        The file's median relative flux uncertainty [ppm] (:func:`flux_error_level`): the
        noise of a perfectly corrected light curve.
    noise_measured_ppm : float
        The raw flux's point-to-point scatter [ppm] (:func:`white_noise`; in raw K2 data it
        includes the fast part of the roll systematics).
    expected_snr : float
        :func:`expected_snr` of the injection over the good cadences (0 when none in transit).
    n_transits : int
        Transits with good data.
    duration_hours : float
        T14 of the injection [h].
    """

    path: str
    depth_ppm: float = 0.0
    target_fraction: float = 1.0
    noise_ppm: float = 0.0
    noise_measured_ppm: float = 0.0
    expected_snr: float = 0.0
    n_transits: int = 0
    duration_hours: float = 0.0


def _table_hdu(hdul: Any, column: str, n_rows: int, source: str) -> tuple[int, str]:
    for index, hdu in enumerate(hdul):
        names = getattr(getattr(hdu, "columns", None), "names", None) or []
        match = [n for n in names if n.upper() == column.upper()]
        if match:
            if len(hdu.data) != n_rows:
                raise FileFormatError(f"extension {index} has {len(hdu.data)} rows, the series {n_rows}", source)
            return index, match[0]
    raise FileFormatError(f"no table column {column!r} to inject into", source)


def _crowdsap(hdul: Any) -> float | None:
    for hdu in hdul:
        value = hdu.header.get("CROWDSAP")
        if isinstance(value, (int, float)) and 0 < value <= 1:
            return float(value)
    return None


def _target_fraction(hdul: Any, dilution: str, source: str) -> float:
    if dilution == "none":
        return 1.0
    value = _crowdsap(hdul)
    if value is None:
        log.warning("%s: no CROWDSAP in the headers; the whole aperture is taken as the target's", source)
        return 1.0
    return value


def _column_name(series: Any) -> str:
    from ..timeseries import PixelSeries

    if isinstance(series, PixelSeries):
        return "FLUX"
    name = series.meta.flux_column
    if not name:
        raise FileFormatError("the flux column of this light curve is unknown", series.meta.source)
    return str(name)


def _history(injection: Injection | None, fraction: float) -> list[str]:
    if injection is None:
        return ["halfsib inject: flux inverted (2*median - flux) for a false-alarm run"]
    i = injection
    return [f"halfsib inject: transit P={i.period:.8g} d t0={i.t0:.8g} d k={i.rp_over_rs:.6g} b={i.b:.5g}",
            f"halfsib inject: a/Rs={i.a_over_rs:.6g} q1={i.q1:.5g} q2={i.q2:.5g} target_fraction={fraction:.5g}"]


def write_injected(series: Any, destination: str | os.PathLike[str], injection: Injection | None, *,
                   dilution: str = "none", invert: bool = False) -> InjectedFile:
    """Write a copy of ``series``' file with the transit injected (or the flux inverted).

    Parameters
    ----------
    series : LightCurve or PixelSeries
        The target as :func:`halfsib.read` returned it (its ``meta.source`` is the file).
    destination : path-like
        Output file (written atomically; use the input's file name so its format is
        recognised the same way).
    injection : Injection or None
        None with ``invert=True``: only invert.
    dilution : {"none", "crowdsap"}
    invert : bool
        Replace the flux column by ``2·median − flux`` (per pixel for a pixel file).

    Returns
    -------
    InjectedFile

    Raises
    ------
    FileFormatError
        The input is not a FITS file or has no matching flux column.
    """
    from astropy.io import fits

    from .._atomic import atomic_path

    source = series.meta.source
    if not source or not str(source).lower().endswith((".fits", ".fits.gz", ".fit", ".fts")):
        raise FileFormatError("injection writes FITS light curves and pixel files only; convert this input to FITS",
                              source)
    column = _column_name(series)
    with fits.open(source, memmap=False) as hdul:
        index, name = _table_hdu(hdul, column, series.n_cadences, source)
        data = hdul[index].data[name]
        fraction = _target_fraction(hdul, dilution, source)
        info = _modified(series, data, injection, fraction, invert)
        hdul[index].data[name] = info.pop("flux").astype(data.dtype, copy=False)
        for text in _history(injection, fraction):
            hdul[0].header.add_history(text)
        with atomic_path(destination) as tmp:
            hdul.writeto(tmp, checksum="CHECKSUM" in hdul[index].header)
    return InjectedFile(path=os.fspath(destination), target_fraction=fraction, **info)


def _modified(series: Any, data: Any, injection: Injection | None, fraction: float, invert: bool) -> dict[str, Any]:
    """The new column and the expected-signal numbers."""
    from ..timeseries import PixelSeries
    from ..transit import transit_duration, transit_flux

    raw = invert_flux(data) if invert else np.asarray(data, float)
    if injection is None:
        return {"flux": raw}
    lc = series.to_lightcurve() if isinstance(series, PixelSeries) else series
    model = transit_model(series.time, injection)
    flux = inject_pixels(raw, model, fraction) if raw.ndim == 3 else inject_flux(raw, model, fraction)
    noise = flux_error_level(lc)
    params = injection.transit_params()
    depth = 1.0 - float(transit_flux(np.array([injection.t0]), params)[0])
    return {"flux": flux, "depth_ppm": 1e6 * depth, "noise_ppm": 1e6 * noise,
            "noise_measured_ppm": 1e6 * white_noise(lc.flux, lc.good),
            "expected_snr": expected_snr(model, lc.good, noise, fraction),
            "n_transits": count_transits(series.time, model, lc.good, injection),
            "duration_hours": 24.0 * transit_duration(params)}


def injected_name(index: int) -> str:
    """The folder of injection ``index`` (1-based) inside the target's folder: ``inj01``."""
    return f"inj{index:02d}"


def destination_for(source: str, folder: Path) -> Path:
    """The injected copy keeps the input's file name (so it is recognised the same way)."""
    return folder / Path(source).name
