"""The instrument's behaviour in time: cadences, pointing, focus, background and quality flags.

K2: the spacecraft rolls about its boresight under solar pressure; every ~5.9 h (12 long
cadences) the attitude control checks the roll and, past a dead band, fires thrusters that
reset it (a sawtooth whose amplitude grows with distance from the boresight and whose
direction is perpendicular to the radius vector). On top: a slow drift and plate-scale
change (differential velocity aberration), thermal focus changes, reaction-wheel
desaturations every ~2 days, white jitter.

TESS: two orbits separated by a ~1-day downlink gap; pointing jitter; a slow drift
between momentum dumps (every ~3 days) that end in a small pointing jump; a new offset
after each perigee; thermal focus settling; scattered light (Earth/Moon) ramping up near
the orbit edges.

Everything is deterministic given the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .config import SimulationConfig

__all__ = ["Timeline", "Pointing", "make_timeline", "make_pointing", "background_rate", "QUALITY"]

#: Quality bit values used, named as in the missions' documentation
#: (``lightkurve.utils.KeplerQualityFlags`` / ``TessQualityFlags``).
QUALITY: dict[str, dict[str, int]] = {
    "k2": {
        "desaturation": 32,
        "thruster_firing": 1048576,
        "possible_thruster_firing": 524288,
        "no_data": 65536,
        "no_fine_point": 32768,
    },
    "tess": {
        "desaturation": 32,
        "earth_point": 8,
        "manual_exclude": 128,
        "straylight": 2048,
    },
}

_K2_CHECK_CADENCES = 12  # roll checked every 12 long cadences (5.885 h)
_K2_DESAT_INTERVAL = 2.0  # [d]
_TESS_DUMP_INTERVAL = 3.0  # [d]
_TESS_DUMP_LENGTH = 10.0 / 1440.0  # [d]


@dataclass(frozen=True)
class Timeline:
    """Cadence grid and campaign-wide flags.

    Attributes
    ----------
    time : ndarray, shape (N,)
        Mid-cadence times [d] (BKJD or BTJD); always finite (the files write NaN where
        ``nan_time``).
    cadenceno : ndarray of int, shape (N,)
    quality : ndarray of int32, shape (N,)
        Mission quality flags common to every target.
    nan_time, no_data : ndarray of bool, shape (N,)
        Cadences written with NaN TIME; cadences written with NaN flux.
    timedel : float
        Cadence spacing [d].
    exposure : float
        Effective exposure per cadence [s].
    n_reads : int
        Reads (frames) co-added per cadence.
    frame_time : float
        Integration time of one frame [s] (for saturation).
    orbits : ndarray, shape (n_orbits, 2)
        Start and end [d] of each orbit (TESS) or of the campaign (K2).
    """

    time: NDArray[np.float64]
    cadenceno: NDArray[np.int64]
    quality: NDArray[np.int32]
    nan_time: NDArray[np.bool_]
    no_data: NDArray[np.bool_]
    timedel: float
    exposure: float
    n_reads: int
    frame_time: float
    orbits: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of cadences."""
        return int(self.time.size)


@dataclass(frozen=True)
class Pointing:
    """Pointing state per exposure sample.

    A cadence is normally one sample; a cadence with a K2 thruster firing is two (before and
    after the firing), combined with ``sample_weight``. Rows ``0..N-1`` are the cadences in
    order; extra rows follow.

    Attributes
    ----------
    sample_cadence : ndarray of int, shape (M,)
    sample_weight : ndarray, shape (M,)
        Fraction of the cadence's exposure spent in this sample.
    dx, dy : ndarray, shape (M,)
        Translation of the whole focal plane [pixel] (includes jitter).
    roll : ndarray, shape (M,)
        Roll angle about the boresight [rad].
    scale : ndarray, shape (M,)
        Fractional plate-scale change (velocity aberration, thermal).
    focus : ndarray, shape (M,)
        Fractional change of the PRF width.
    firing, dump : ndarray of bool, shape (N,)
        Cadences with a thruster firing (K2) / a momentum dump (TESS).
    """

    sample_cadence: NDArray[np.int64]
    sample_weight: NDArray[np.float64]
    dx: NDArray[np.float64]
    dy: NDArray[np.float64]
    roll: NDArray[np.float64]
    scale: NDArray[np.float64]
    focus: NDArray[np.float64]
    firing: NDArray[np.bool_]
    dump: NDArray[np.bool_]

    def offsets(self, fx: NDArray[np.float64], fy: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Image motion [pixel] of sources at focal-plane positions ``fx, fy``.

        Parameters
        ----------
        fx, fy : ndarray, shape (S,)
            Positions relative to the boresight [pixel].

        Returns
        -------
        dcol, drow : ndarray, shape (S, M)
            Column and row displacement of each source in each sample.
        """
        fx = np.atleast_1d(fx)[:, None]
        fy = np.atleast_1d(fy)[:, None]
        dcol = self.dx - self.roll * fy + self.scale * fx
        drow = self.dy + self.roll * fx + self.scale * fy
        return dcol, drow

    def cadence_mean(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Exposure-weighted mean per cadence of per-sample ``values`` (last axis M → N)."""
        n = self.firing.size
        out = values[..., :n] * self.sample_weight[:n]
        if values.shape[-1] > n:
            extra = values[..., n:] * self.sample_weight[n:]
            # cadences appear once among the extra samples, so plain fancy-index addition is exact
            out[..., self.sample_cadence[n:]] += extra
        return out


def _span_scaled(value: float, span: float, fraction: float) -> float:
    """``value`` for a full-length run, shrunk for short test runs so events still occur."""
    return min(value, fraction * span)


def make_timeline(
    config: SimulationConfig, pointing_flags: dict[str, NDArray[np.bool_]], rng: np.random.Generator
) -> Timeline:
    """Cadence times, cadence numbers, gaps and quality flags.

    Parameters
    ----------
    config : SimulationConfig
    pointing_flags : dict
        ``"firing"`` and ``"dump"`` boolean arrays from :func:`make_pointing`.
    rng : numpy.random.Generator
    """
    cad = config.cadence_spec
    n = config.n_cadences
    time = config.t_start + np.arange(n) * cad.timedel
    q = QUALITY[config.mission]
    quality = np.zeros(n, dtype=np.int32)
    nan_time = np.zeros(n, dtype=bool)
    no_data = np.zeros(n, dtype=bool)
    orbits = _orbits(config, time)
    if config.mission == "k2":
        firing = pointing_flags["firing"]
        quality[firing] |= q["thruster_firing"]
        fire_idx = np.flatnonzero(firing)
        possible = fire_idx[rng.random(fire_idx.size) < 0.05] + 1
        quality[possible[possible < n]] |= q["possible_thruster_firing"]
        quality[pointing_flags["dump"]] |= q["desaturation"] | q["no_fine_point"]
        k = max(1, n // 700)
        idx = rng.choice(n, size=min(n, 2 * k), replace=False)
        nan_time[idx[:k]] = True
        no_data[idx] = True
        quality[idx[:k]] |= q["no_data"] | q["no_fine_point"]
        quality[idx[k:]] |= q["no_data"]
        cadenceno0 = 100_000
    else:
        gap = np.ones(n, dtype=bool)
        for start, end in orbits:
            gap &= ~((time >= start) & (time <= end))
        nan_time |= gap
        no_data |= gap
        quality[gap] |= q["earth_point"] | q["manual_exclude"]
        quality[pointing_flags["dump"]] |= q["desaturation"]
        stray = scattered_light(time, orbits, config) > 1.0
        quality[stray & ~gap] |= q["straylight"]
        cadenceno0 = 300_000
    return Timeline(
        time=time,
        cadenceno=cadenceno0 + np.arange(n, dtype=np.int64),
        quality=quality,
        nan_time=nan_time,
        no_data=no_data,
        timedel=cad.timedel,
        exposure=cad.exposure,
        n_reads=cad.n_frames,
        frame_time=cad.frame_time,
        orbits=orbits,
    )


def _orbits(config: SimulationConfig, time: NDArray[np.float64]) -> NDArray[np.float64]:
    """(start, end) of each orbit: TESS has two, separated by a ~1-day downlink gap."""
    t0, t1 = float(time[0]), float(time[-1])
    if config.mission == "k2":
        return np.array([[t0, t1]])
    span = t1 - t0
    gap = _span_scaled(1.0, span, 0.04)
    mid = t0 + 0.5 * span
    return np.array([[t0, mid - 0.5 * gap], [mid + 0.5 * gap, t1]])


def scattered_light(
    time: NDArray[np.float64], orbits: NDArray[np.float64], config: SimulationConfig
) -> NDArray[np.float64]:
    """Scattered light in units of the sky background: ramps near each orbit's edges (TESS).

    Deterministic given the config (amplitude and scale grow with the seed-independent
    orbit geometry); zero for K2.
    """
    out = np.zeros_like(time)
    if config.mission == "k2":
        return out
    for k, (start, end) in enumerate(orbits):
        tau = _span_scaled(0.6, end - start, 0.08)
        amp_in, amp_out = (2.5, 4.0) if k % 2 == 0 else (3.0, 2.0)
        inside = (time >= start) & (time <= end)
        ramp = amp_in * np.exp(-(time - start) / tau) + amp_out * np.exp(-(end - time) / tau)
        out[inside] += ramp[inside]
    return out


def background_rate(
    timeline: Timeline, config: SimulationConfig, fx: float, fy: float, sky_gradient: NDArray[np.float64]
) -> NDArray[np.float64]:
    """True background [e-/s/pixel] per cadence at focal-plane position ``(fx, fy)``.

    Sky (zodiacal light) with a linear gradient across the patch and a slow ±5% trend, plus
    (TESS) scattered light whose gradient differs from the sky's.

    Parameters
    ----------
    sky_gradient : ndarray, shape (4,)
        Fractional gradients per 1,000 pixels: sky x, sky y, scattered x, scattered y.
    """
    spec = config.spec
    ox, oy = spec.patch_offset
    ux, uy = (fx - ox) / 1000.0, (fy - oy) / 1000.0
    tau = (timeline.time - timeline.time[0]) / max(timeline.time[-1] - timeline.time[0], 1e-9)
    sky = spec.sky * (1.0 + sky_gradient[0] * ux + sky_gradient[1] * uy) * (1.0 + 0.05 * (tau - 0.5))
    stray = scattered_light(timeline.time, timeline.orbits, config)
    stray_scale = max(0.2, 1.0 + sky_gradient[2] * ux + sky_gradient[3] * uy)
    return sky * (1.0 + stray * stray_scale)


def make_pointing(config: SimulationConfig, rng: np.random.Generator) -> Pointing:
    """Draw the pointing history of the campaign (K2 roll sawtooth or TESS jitter/dumps)."""
    cad = config.cadence_spec
    time = config.t_start + np.arange(config.n_cadences) * cad.timedel
    if config.mission == "k2":
        return _k2_pointing(time, cad.timedel, config, rng)
    return _tess_pointing(time, cad.timedel, config, rng)


def _slow_terms(time: NDArray[np.float64], rng: np.random.Generator, drift: float, scale: float,
                span: float) -> tuple:
    """Smooth drift [pixel] and plate-scale change: random quadratics in time.

    ``drift`` and ``scale`` are the typical amplitudes over ``span`` days (a full campaign
    or sector); a shorter run sees proportionally less (the drift is physical, not per run).
    """
    tau = (time - time[0]) / max(time[-1] - time[0], span)
    cx, cy, cs = rng.normal(0.0, 1.0, size=(3, 2))
    dx = drift * (cx[0] * tau + cx[1] * tau**2)
    dy = drift * (cy[0] * tau + cy[1] * tau**2)
    sc = scale * (cs[0] * tau + cs[1] * tau**2)
    return dx, dy, sc


def _k2_roll(time: NDArray[np.float64], timedel: float, rng: np.random.Generator, r_ref: float) -> tuple:
    """Roll sawtooth: linear drift, reset at 5.9-h checks once past the dead band.

    Returns per-cadence roll before any firing in the cadence, the roll after the firing
    for firing cadences, the firing mask and the fraction of the cadence before firing.
    """
    n = time.size
    # dead band: a 5.9-h cycle sweeps ~0.35 pixel at the patch centre, an 11.8-h one ~0.7 pixel;
    # calibrated so that the raw SAP sawtooth (median ~1-2 % peak-to-peak for Kp 13-15 with
    # S/N-optimal apertures) matches the real C5 light curves in ../shared/data (median 1.2 %)
    threshold = 0.35 / (2.2 * r_ref)  # [rad]
    check_dt = _K2_CHECK_CADENCES * timedel
    phase = rng.uniform(0, 2 * np.pi, size=2)
    days = time - time[0]
    omega = (2.2 * threshold / check_dt) * (
        1.0 + 0.25 * np.sin(2 * np.pi * days / 9.3 + phase[0]) + 0.1 * np.sin(2 * np.pi * days / 2.1 + phase[1])
    )  # [rad/d]: solar-pressure torque varying with the spacecraft's attitude
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (omega[:-1] + omega[1:]) * timedel)])  # ∫ω at cadence centres
    roll = np.empty(n)
    after = np.full(n, np.nan)
    firing = np.zeros(n, dtype=bool)
    frac = np.ones(n)
    start = 0
    base = -threshold * rng.uniform(0.0, 1.0)  # roll = base + cum within a segment
    for c in range(int(rng.integers(0, _K2_CHECK_CADENCES)), n, _K2_CHECK_CADENCES):
        u = rng.uniform(0.1, 0.9)  # fraction of the cadence before the firing
        at_fire = cum[c] + (u - 0.5) * omega[c] * timedel
        if base + at_fire <= threshold:
            continue
        roll[start : c + 1] = base + cum[start : c + 1]
        roll[c] = base + cum[c] + (0.5 * u - 0.5) * omega[c] * timedel  # mean over the part before firing
        level = -threshold * rng.uniform(0.8, 1.0)
        after[c] = level + 0.5 * (1.0 - u) * omega[c] * timedel  # mean over the part after firing
        firing[c], frac[c] = True, u
        base = level - at_fire
        start = c + 1
    roll[start:] = base + cum[start:]
    return roll, after, firing, frac


def _k2_pointing(
    time: NDArray[np.float64], timedel: float, config: SimulationConfig, rng: np.random.Generator
) -> Pointing:
    n = time.size
    r_ref = float(np.hypot(*config.spec.patch_offset))
    roll, after, firing, frac = _k2_roll(time, timedel, rng, r_ref)
    # 0.25 px over a campaign: the real C5 SAP light curves' 2-day-binned range (median 3.6 %)
    dx, dy, scale = _slow_terms(time, rng, drift=0.25, scale=1.0e-4, span=80.0)
    days = time - time[0]
    # thermal settling after the campaign start, plus a slow thermal cycle
    focus = 0.03 * np.exp(-days / 3.0) + 0.01 * np.sin(2 * np.pi * days / 3.7 + rng.uniform(0, 2 * np.pi))
    dump = np.zeros(n, dtype=bool)
    fire_idx = np.flatnonzero(firing)
    if fire_idx.size:
        step = max(1, int(round(_K2_DESAT_INTERVAL / (timedel * _K2_CHECK_CADENCES))))
        dump[fire_idx[int(rng.integers(0, step)) :: step]] = True
    extra = fire_idx
    idx = np.concatenate([np.arange(n), extra])
    weight = np.concatenate([frac, 1.0 - frac[extra]])
    roll_all = np.concatenate([roll, after[extra]])
    jitter = rng.normal(0.0, 0.005, size=(2, idx.size))
    return Pointing(
        sample_cadence=idx,
        sample_weight=weight,
        dx=dx[idx] + jitter[0],
        dy=dy[idx] + jitter[1],
        roll=roll_all,
        scale=scale[idx],
        focus=focus[idx],
        firing=firing,
        dump=dump,
    )


def _tess_pointing(
    time: NDArray[np.float64], timedel: float, config: SimulationConfig, rng: np.random.Generator
) -> Pointing:
    n = time.size
    orbits = _orbits(config, time)
    dx, dy, scale = _slow_terms(time, rng, drift=0.03, scale=2.0e-5, span=27.0)
    roll = np.zeros(n)
    focus = np.zeros(n)
    dump = np.zeros(n, dtype=bool)
    for start, end in orbits:
        inside = (time >= start) & (time <= end)
        interval = _span_scaled(_TESS_DUMP_INTERVAL, end - start, 0.3)
        edges = np.concatenate([[start], np.arange(start + interval * rng.uniform(0.5, 1.0), end, interval), [end]])
        reference = rng.normal(0.0, 0.05, size=2)  # new pointing offset after each perigee
        direction = rng.normal(size=2)
        direction /= np.hypot(*direction)
        for a, b in zip(edges[:-1], edges[1:]):
            seg = inside & (time >= a) & (time < b)
            frac = (time[seg] - a) / (b - a)
            # momentum builds up, the pointing error grows; the dump at b resets it (a jump)
            build = rng.uniform(0.02, 0.06) * (direction + 0.3 * rng.normal(size=2))
            start_offset = reference + rng.normal(0.0, 0.005, size=2)
            dx[seg] += start_offset[0] + build[0] * frac
            dy[seg] += start_offset[1] + build[1] * frac
            roll[seg] += rng.normal(0.0, 2.0e-5) * frac  # ~0.03 pixel at 1,400 pixels from the axis
            dump |= (time >= b - 0.5 * timedel) & (time < b + max(_TESS_DUMP_LENGTH, 0.5 * timedel)) & (b < end)
        focus[inside] = 0.02 * np.exp(-(time[inside] - start) / 1.5)
    sigma = 0.01 * np.sqrt(120.0 / (timedel * 86400.0))
    jitter = rng.normal(0.0, sigma, size=(2, n))
    jitter[:, dump] += rng.normal(0.0, 0.1, size=(2, int(dump.sum())))
    return Pointing(
        sample_cadence=np.arange(n),
        sample_weight=np.ones(n),
        dx=dx + jitter[0],
        dy=dy + jitter[1],
        roll=roll,
        scale=scale,
        focus=focus,
        firing=np.zeros(n, dtype=bool),
        dump=dump,
    )
