"""Validated in-memory containers for light curves and pixel time series.

Every reader in :mod:`halfsib.io` returns one of these, so downstream code can rely on:
times in days in the mission's own system (BKJD, BTJD) with the offset to BJD kept,
float64 arrays, a boolean ``good`` mask that already excludes NaNs and flagged cadences,
and metadata about the target. Values where ``good`` is False are kept as read (they may
be NaN); use the mask.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from astropy.time import Time

__all__ = ["TargetInfo", "LightCurve", "PixelSeries", "TIME_FORMATS", "same_photometry", "photometry_matches"]

#: Known time systems: name -> (offset in days to add to get BJD_TDB, description).
TIME_FORMATS: dict[str, tuple[float, str]] = {
    "bkjd": (2454833.0, "Barycentric Kepler Julian Date, BJD_TDB - 2454833"),
    "btjd": (2457000.0, "Barycentric TESS Julian Date, BJD_TDB - 2457000"),
    "bjd": (0.0, "Barycentric Julian Date (TDB)"),
    "unknown": (0.0, "time system unknown (plain table without metadata)"),
}


@dataclass(frozen=True)
class TargetInfo:
    """What is known about the target and the file it came from.

    Attributes
    ----------
    mission : str
        ``"Kepler"``, ``"K2"``, ``"TESS"`` or ``"unknown"``.
    target_id : str or None
        Catalogue name, e.g. ``"EPIC 247589423"`` or ``"TIC 55652896"``.
    campaign, sector, quarter : int or None
        K2 campaign, TESS sector, Kepler quarter.
    channel, module, output : int or None
        Kepler/K2 detector channel and module/output.
    camera, ccd : int or None
        TESS camera and CCD.
    ra, dec : float or None
        Target coordinates, degrees (ICRS).
    magnitude : float or None
        Kepler (Kp) or TESS (Tmag) magnitude, named by ``magnitude_band``.
    source : str or None
        Path of the file read (or a description of the object).
    file_format : str
        Which reader produced the data (``"kepler-lc"``, ``"k2sff"``, ``"tess-tpf"``...).
    flux_column : str or None
        Name of the column the flux came from, as written in the file.
    crowding : float or None
        The mission's ``CROWDSAP``: the share of the aperture's flux that is the target's
        (1 = no neighbour light; None = unknown, taken as 1). The transit fit divides it out,
        so its depth and Rp/R★ are the star's own; search depths are as observed.
    """

    mission: str = "unknown"
    target_id: str | None = None
    campaign: int | None = None
    sector: int | None = None
    quarter: int | None = None
    channel: int | None = None
    module: int | None = None
    output: int | None = None
    camera: int | None = None
    ccd: int | None = None
    ra: float | None = None
    dec: float | None = None
    magnitude: float | None = None
    magnitude_band: str | None = None
    source: str | None = None
    file_format: str = "unknown"
    flux_column: str | None = None
    crowding: float | None = None

    @property
    def target_fraction(self) -> float:
        """The share of the aperture's flux that is the target's: ``crowding`` if it is a
        number in (0, 1], else 1."""
        c = self.crowding
        return float(c) if c is not None and 0.0 < c <= 1.0 else 1.0

    @property
    def season(self) -> str:
        """A short label of the observing season: ``"C13"``, ``"S1"``, ``"Q12"`` or ``"?"``."""
        if self.campaign is not None:
            return f"C{self.campaign}"
        if self.sector is not None:
            return f"S{self.sector}"
        if self.quarter is not None:
            return f"Q{self.quarter}"
        return "?"

    @property
    def detector(self) -> str:
        """A short label of the detector: ``"ch68"``, ``"cam4-ccd1"`` or ``"?"``."""
        if self.channel is not None:
            return f"ch{self.channel}"
        if self.camera is not None:
            return f"cam{self.camera}-ccd{self.ccd}"
        return "?"

    def to_header_cards(self) -> dict[str, Any]:
        """FITS primary-header keywords describing the target (mission conventions)."""
        cards: dict[str, Any] = {
            "TELESCOP": "TESS" if self.mission == "TESS" else ("Kepler" if self.mission in ("Kepler", "K2") else "unknown"),
            "MISSION": self.mission,
            "OBJECT": self.target_id or "",
            "CAMPAIGN": self.campaign,
            "SECTOR": self.sector,
            "QUARTER": self.quarter,
            "CHANNEL": self.channel,
            "MODULE": self.module,
            "OUTPUT": self.output,
            "CAMERA": self.camera,
            "CCD": self.ccd,
            "RA_OBJ": self.ra,
            "DEC_OBJ": self.dec,
            "CROWDSAP": self.crowding,
        }
        if self.magnitude is not None:
            cards["TESSMAG" if self.magnitude_band == "Tmag" else "KEPMAG"] = self.magnitude
        return {k: v for k, v in cards.items() if v is not None}


def _time_of(time: NDArray[np.float64], time_format: str) -> Time:
    from astropy.time import Time

    offset = TIME_FORMATS[time_format][0]
    if time_format == "unknown":
        raise ValueError("the time system of this series is unknown; pass time_format= when reading it")
    return Time(time + offset, format="jd", scale="tdb")


#: residual scatter of a linear fit of one series on another, as a fraction of the first's
#: white noise, below which the two are the same photometry (another star cannot predict
#: a target's own photon noise, so two different stars sit near 1; rounding in a text
#: export leaves a few per cent at most)
SAME_PHOTOMETRY_FRACTION = 0.1
#: fewest cadences in common for :func:`photometry_matches` to decide
SAME_PHOTOMETRY_MIN_CADENCES = 20


def _robust_std(values: NDArray[np.float64], axis: int | None = None) -> Any:
    from astropy.stats import mad_std

    return mad_std(values, axis=axis)


def photometry_matches(time: NDArray[np.float64], flux: NDArray[np.float64], other_time: NDArray[np.float64],
                       other_flux: NDArray[np.float64], *, tolerance: float | None = None) -> Any:
    """Whether flux series are the same measurement as ``flux``, up to a scale and an offset.

    Cadences are paired by time (within ``tolerance``); each other series is scaled by the
    median ratio of successive differences (exact for a copy, unmoved by a minority of
    clipped or gap-filled cadences), and it is the same photometry
    when the robust scatter of the difference is below :data:`SAME_PHOTOMETRY_FRACTION` of
    ``flux``'s point-to-point white noise. A different star cannot predict the target's own
    photon noise, whatever systematics the two share, so that fraction separates a copy (a
    table written from the same file, normalised or rounded) from a neighbour.

    Parameters
    ----------
    time, flux : ndarray, shape (N,)
        The first series (days; any flux units; non-finite values are ignored).
    other_time : ndarray, shape (M,)
        Times of the other series, days in the same system, finite.
    other_flux : ndarray, shape (M,) or (K, M)
        One other series, or K of them on the same times (finite values).
    tolerance : float, optional
        Largest time difference of a pair, days; default a tenth of the first series'
        median cadence.

    Returns
    -------
    bool, or ndarray of bool with shape (K,)
        False where fewer than :data:`SAME_PHOTOMETRY_MIN_CADENCES` cadences pair up.
    """
    t = np.asarray(time, float)
    f = np.asarray(flux, float)
    ot = np.asarray(other_time, float)
    of = np.atleast_2d(np.asarray(other_flux, float))
    single = np.ndim(other_flux) == 1
    keep = np.isfinite(t) & np.isfinite(f)
    t, f = t[keep], f[keep]
    result = np.zeros(of.shape[0], dtype=bool)
    if t.size >= SAME_PHOTOMETRY_MIN_CADENCES and ot.size >= SAME_PHOTOMETRY_MIN_CADENCES:
        order = np.argsort(ot)
        ot, of = ot[order], of[:, order]
        tol = 0.1 * float(np.median(np.diff(np.sort(t)))) if tolerance is None else float(tolerance)
        pos = np.clip(np.searchsorted(ot, t), 1, ot.size - 1)
        nearest = np.where(np.abs(t - ot[pos - 1]) <= np.abs(ot[pos] - t), pos - 1, pos)
        paired = np.abs(ot[nearest] - t) <= tol
        if np.count_nonzero(paired) >= SAME_PHOTOMETRY_MIN_CADENCES:
            y = f[paired]
            white = float(_robust_std(np.diff(y))) / np.sqrt(2.0)
            for lo in range(0, of.shape[0], 256):
                x = of[lo:lo + 256][:, nearest[paired]]
                result[lo:lo + 256] = _copy_scatter(y, x) < SAME_PHOTOMETRY_FRACTION * white
    return bool(result[0]) if single else result


def _copy_scatter(y: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Robust scatter of ``y - a·x`` for each row of ``x``, ``a`` the median ratio of successive differences.

    For a copy (``y = a·x + b`` at most cadences) nearly every ratio ``Δy/Δx`` is ``a``
    exactly, so their median is too, whatever a minority of clipped or filled cadences do.
    """
    dy, dx = np.diff(y), np.diff(x, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(dx != 0, dy / dx, np.nan)
    has_ratio = np.isfinite(ratios).any(axis=1)
    slope = np.zeros(x.shape[0])
    if has_ratio.any():
        slope[has_ratio] = np.nanmedian(ratios[has_ratio], axis=1)
    return np.where(has_ratio, _robust_std(y - slope[:, None] * x, axis=1), np.inf)


@dataclass(frozen=True, eq=False)
class _Series:
    """Fields shared by light curves and pixel series (see the subclasses)."""

    time: NDArray[np.float64]
    quality: NDArray[np.int64]
    good: NDArray[np.bool_]
    cadenceno: NDArray[np.int64]
    time_format: str
    meta: TargetInfo
    columns: dict[str, NDArray[Any]] = field(default_factory=dict)

    @property
    def n_cadences(self) -> int:
        """Number of cadences in the file, good or not."""
        return int(self.time.shape[0])

    @property
    def n_good(self) -> int:
        """Number of cadences usable for modelling."""
        return int(np.count_nonzero(self.good))

    @property
    def time_offset(self) -> float:
        """Days to add to :attr:`time` to get BJD_TDB."""
        return TIME_FORMATS[self.time_format][0]

    @property
    def astropy_time(self) -> Time:
        """:attr:`time` as an :class:`astropy.time.Time` (JD, TDB scale); NaN times stay NaN."""
        return _time_of(self.time, self.time_format)

    @property
    def time_range(self) -> tuple[float, float]:
        """First and last good time, days in :attr:`time_format`."""
        t = self.time[self.good]
        return (float(t[0]), float(t[-1])) if t.size else (float("nan"), float("nan"))

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields replaced (the containers are immutable)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class LightCurve(_Series):
    """A validated light curve.

    Attributes
    ----------
    time : ndarray, shape (N,)
        Days in ``time_format`` (BKJD for Kepler/K2, BTJD for TESS); may be NaN at
        cadences the spacecraft did not time-stamp (those are never ``good``).
    flux, flux_err : ndarray, shape (N,)
        Flux and its 1-sigma uncertainty in ``flux_unit`` (e-/s for mission files).
    quality : ndarray of int64, shape (N,)
        The mission's quality bit flags (K2SFF's ``MOVING`` becomes the thruster bit).
    good : ndarray of bool, shape (N,)
        True where time, flux and flux_err are finite and no default-bitmask flag is set.
    cadenceno : ndarray of int64, shape (N,)
        Mission cadence numbers (or 0..N-1 when the file has none).
    time_format : str
        Key of :data:`TIME_FORMATS`.
    meta : TargetInfo
        Target and file metadata.
    columns : dict of str to ndarray
        Extra per-cadence columns kept from the file, lower-case names (``centroid_col``,
        ``centroid_row``, ``pos_corr1``, ``pos_corr2``, ``arclength``, ``fcor``...).
    flux_unit : str
        Unit of ``flux`` as an astropy-parsable string.
    """

    flux: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    flux_err: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    flux_unit: str = "electron / s"
    flux_err_estimated: bool = False

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"<halfsib.LightCurve {m.target_id or '?'} {m.mission} {m.season} {m.detector} "
            f"{self.n_good}/{self.n_cadences} good cadences, {m.file_format}>"
        )

    def to_lightkurve(self) -> Any:
        """Return a lightkurve light curve with the same data (imports lightkurve).

        The mission's class (``KeplerLightCurve`` for Kepler and K2, ``TessLightCurve`` for
        TESS, else ``LightCurve``) with lightkurve's ``LABEL``, ``TARGETID``, ``MISSION``,
        ``CAMPAIGN``/``SECTOR``/``QUARTER`` metadata; only good cadences are kept; quality,
        cadence numbers and extra columns travel along.
        """
        import astropy.units as u
        import lightkurve as lk

        g = self.good
        unit = u.Unit(self.flux_unit) if self.flux_unit else u.dimensionless_unscaled
        extra = {k: v[g] for k, v in self.columns.items()}
        meta = {k.upper(): v for k, v in dataclasses.asdict(self.meta).items() if v is not None}
        m = self.meta
        if m.target_id:
            meta["LABEL"] = m.target_id
            number = m.target_id.split()[-1]
            if number.isdigit():
                meta["TARGETID"] = int(number)
        meta["MISSION"] = m.mission
        cls = {"Kepler": lk.KeplerLightCurve, "K2": lk.KeplerLightCurve, "TESS": lk.TessLightCurve}.get(
            m.mission, lk.LightCurve)
        if self.time_format in ("bkjd", "btjd"):
            from astropy.time import Time

            time: Any = Time(self.time[g], format=self.time_format, scale="tdb")
        else:
            time = self.astropy_time[g]
        return cls(
            time=time,
            flux=self.flux[g] * unit,
            flux_err=self.flux_err[g] * unit,
            data={"quality": self.quality[g], "cadenceno": self.cadenceno[g], **extra},
            meta=meta,
        )


@dataclass(frozen=True, eq=False)
class PixelSeries(_Series):
    """A validated pixel time series (from a target pixel file).

    Attributes
    ----------
    flux, flux_err : ndarray, shape (N, n_rows, n_cols)
        Calibrated, background-subtracted pixel fluxes (e-/s).
    flux_bkg : ndarray, shape (N, n_rows, n_cols) or None
        The background the mission pipeline subtracted, e-/s.
    aperture : ndarray of bool, shape (n_rows, n_cols)
        The mission's optimal aperture (or all pixels when the file has none).
    corner : tuple of int
        Detector (column, row) of pixel [0, 0] of the stamp.
    good : ndarray of bool, shape (N,)
        Cadence-level mask: finite time, no default-bitmask flag, and at least one
        finite pixel. Individual NaN pixels are left to :attr:`pixel_good`.
    """

    flux: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0, 0)))
    flux_err: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0, 0)))
    flux_bkg: NDArray[np.float64] | None = None
    aperture: NDArray[np.bool_] = field(default_factory=lambda: np.empty((0, 0), bool))
    corner: tuple[int, int] = (0, 0)
    flux_unit: str = "electron / s"

    @property
    def shape(self) -> tuple[int, int]:
        """Stamp shape (n_rows, n_cols)."""
        return (int(self.flux.shape[1]), int(self.flux.shape[2]))

    @property
    def pixel_good(self) -> NDArray[np.bool_]:
        """Per-pixel mask, shape (N, n_rows, n_cols): good cadence and finite value."""
        return self.good[:, None, None] & np.isfinite(self.flux) & np.isfinite(self.flux_err)

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"<halfsib.PixelSeries {m.target_id or '?'} {m.mission} {m.season} {m.detector} "
            f"stamp {self.shape[0]}x{self.shape[1]}, {self.n_good}/{self.n_cadences} good cadences>"
        )

    def to_lightcurve(self, aperture: NDArray[np.bool_] | None = None) -> LightCurve:
        """Simple aperture photometry: sum the pixels in ``aperture`` (default: the mission's).

        Cadences where any aperture pixel is NaN are marked not good.
        """
        ap = self.aperture if aperture is None else np.asarray(aperture, bool)
        if ap.shape != self.shape or not ap.any():
            raise ValueError(f"aperture must be a non-empty boolean mask of shape {self.shape}")
        f = self.flux[:, ap]
        e = self.flux_err[:, ap]
        with np.errstate(invalid="ignore"):
            flux = f.sum(axis=1)
            err = np.sqrt((e**2).sum(axis=1))
        good = self.good & np.isfinite(flux) & np.isfinite(err) & (err > 0)
        meta = dataclasses.replace(self.meta, flux_column="SAP from pixels")
        return LightCurve(
            time=self.time, quality=self.quality, good=good, cadenceno=self.cadenceno,
            time_format=self.time_format, meta=meta, columns=dict(self.columns),
            flux=flux, flux_err=err, flux_unit=self.flux_unit,
        )


def same_photometry(a: LightCurve | PixelSeries, b: LightCurve | PixelSeries) -> bool:
    """Whether two series hold the same star's same measurement, judged by the data alone.

    For inputs that carry no catalogue id or coordinates (plain tables): a table written
    from a mission file, normalised or rounded, is recognised as that file. Times are
    compared in BJD where both systems are known; a series of unknown time system is tried
    both as given and in the other's system. Pixel series are compared by their aperture
    sums. See :func:`photometry_matches` for the criterion.
    """
    la = a.to_lightcurve() if isinstance(a, PixelSeries) else a
    lb = b.to_lightcurve() if isinstance(b, PixelSeries) else b
    ta, fa = la.time[la.good], la.flux[la.good]
    tb, fb = lb.time[lb.good], lb.flux[lb.good]
    shifts = {la.time_offset - lb.time_offset}
    if "unknown" in (la.time_format, lb.time_format):
        shifts |= {0.0, la.time_offset, -lb.time_offset}
    return any(photometry_matches(ta + shift, fa, tb, fb) for shift in sorted(shifts))
