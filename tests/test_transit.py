"""The transit model against independent references: exact uniform-disk depths, a brute-force
2-D integration of a limb-darkened disk, symmetry, periodicity, T14 and exposure smearing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from halfsib.exceptions import ConfigurationError
from halfsib.transit import (
    TransitParams,
    kipping_from_quadratic,
    quadratic_from_kipping,
    transit_duration,
    transit_flux,
)


def _params(**kw: float) -> TransitParams:
    base = dict(period=3.0, t0=10.0, rp_over_rs=0.1, a_over_rs=10.0, b=0.3, q1=0.4, q2=0.3)
    base.update(kw)
    return TransitParams(**base)


def _separation(time: np.ndarray, p: TransitParams) -> np.ndarray:
    """Sky-projected centre distance [stellar radii] for a circular orbit."""
    phase = 2 * np.pi * (time - p.t0) / p.period
    cos_i = math.cos(math.radians(p.inclination))
    return p.a_over_rs * np.sqrt(np.sin(phase) ** 2 + (cos_i * np.cos(phase)) ** 2)


def _brute_force_flux(z: float, k: float, u1: float, u2: float, n: int = 2400) -> float:
    """Relative flux by summing the quadratic-law intensity over a fine grid under the planet."""
    x = np.linspace(z - k, z + k, n)
    y = np.linspace(-k, k, n)
    xx, yy = np.meshgrid(x, y)
    under = ((xx - z) ** 2 + yy**2 <= k**2) & (xx**2 + yy**2 < 1.0)
    mu = np.sqrt(np.clip(1.0 - xx**2 - yy**2, 0.0, None))
    intensity = 1.0 - u1 * (1 - mu) - u2 * (1 - mu) ** 2
    cell = (x[1] - x[0]) * (y[1] - y[0])
    blocked = np.sum(intensity[under]) * cell
    total = math.pi * (1.0 - u1 / 3.0 - u2 / 6.0)
    return 1.0 - blocked / total


def test_uniform_disk_depth_is_radius_ratio_squared():
    for k in (0.01, 0.05, 0.1, 0.2):
        p = _params(rp_over_rs=k, b=0.0, q1=0.0, q2=0.0)
        assert transit_flux(np.array([p.t0]), p)[0] == pytest.approx(1.0 - k**2, abs=1e-9)


def test_small_planet_depth_scales_with_local_intensity():
    # a small planet on a limb-darkened star blocks k² × I(μ) / <I>
    p = _params(rp_over_rs=0.01, b=0.5)
    depth = 1.0 - transit_flux(np.array([p.t0]), p)[0]
    assert depth == pytest.approx(p.depth, rel=2e-3)


@pytest.mark.parametrize("dt", [0.0, 0.02, 0.045, 0.055])
def test_matches_brute_force_integration(dt):
    p = _params(rp_over_rs=0.12, b=0.4, q1=0.5, q2=0.35)
    t = np.array([p.t0 + dt])
    z = float(_separation(t, p)[0])
    expected = _brute_force_flux(z, p.rp_over_rs, *p.u)
    assert transit_flux(t, p)[0] == pytest.approx(expected, abs=3e-5)


def test_symmetric_about_mid_transit_and_periodic():
    p = _params()
    dt = np.linspace(0, 0.1, 201)
    before = transit_flux(p.t0 - dt, p)
    after = transit_flux(p.t0 + dt, p)
    np.testing.assert_allclose(before, after, atol=1e-12)
    later = transit_flux(p.t0 + 5 * p.period + dt, p)
    np.testing.assert_allclose(after, later, atol=1e-9)


@pytest.mark.parametrize("b", [0.0, 0.5, 0.85])
def test_t14_matches_measured_width(b):
    p = _params(b=b)
    t = p.t0 + np.linspace(-0.2, 0.2, 400_001)
    in_transit = t[transit_flux(t, p) < 1.0]
    measured = in_transit.max() - in_transit.min()
    assert transit_duration(p) == pytest.approx(measured, rel=2e-4)


def test_non_transiting_geometry_is_flat():
    p = _params(b=1.2, rp_over_rs=0.1)
    assert transit_duration(p) == 0.0
    assert np.all(transit_flux(np.linspace(9, 11, 500), p) == 1.0)


def test_exposure_integration_equals_averaging_and_conserves_area():
    p = _params(rp_over_rs=0.1, b=0.2)
    exposure = 29.4 / 1440.0
    t = p.t0 + np.arange(-40, 41) * exposure
    smeared = transit_flux(t, p, exposure_time=exposure, supersample=31)
    offsets = (np.arange(31) + 0.5) / 31 - 0.5
    manual = transit_flux(t[:, None] + offsets[None, :] * exposure, p).mean(axis=1)
    np.testing.assert_allclose(smeared, manual, atol=1e-7)
    instant = transit_flux(t, p)
    assert smeared.min() > instant.min()  # shallower ...
    fine = p.t0 + np.linspace(-1, 1, 200_001)
    area = np.trapezoid(1 - transit_flux(fine, p), fine)
    assert np.sum(1 - smeared) * exposure == pytest.approx(area, rel=2e-3)  # ... same area


def test_default_supersampling_for_long_cadence():
    p = _params()
    t = p.t0 + np.linspace(-0.1, 0.1, 50)
    lc = 29.4 / 1440.0
    np.testing.assert_allclose(transit_flux(t, p, lc), transit_flux(t, p, lc, supersample=15))


def test_nan_times_give_nan_and_shape_is_kept():
    p = _params()
    t = np.array([[p.t0, np.nan], [p.t0 + 1.0, p.t0 - 0.01]])
    out = transit_flux(t, p)
    assert out.shape == (2, 2)
    assert np.isnan(out[0, 1]) and out[1, 0] == 1.0 and out[0, 0] < 1.0


@pytest.mark.parametrize(
    "name, value",
    [("period", -1.0), ("period", 0.0), ("rp_over_rs", 0.0), ("rp_over_rs", 1.2), ("a_over_rs", 0.9),
     ("b", -0.1), ("q1", 1.5), ("q2", -0.2), ("ecc", 1.0), ("t0", float("nan"))],
)
def test_bad_parameters_name_themselves(name, value):
    with pytest.raises(ConfigurationError, match=name):
        _params(**{name: value})


def test_bad_exposure_settings():
    p = _params()
    with pytest.raises(ConfigurationError, match="exposure_time"):
        transit_flux(np.array([10.0]), p, exposure_time=-1.0)
    with pytest.raises(ConfigurationError, match="supersample"):
        transit_flux(np.array([10.0]), p, exposure_time=0.02, supersample=0)


def test_kipping_round_trip_and_params_are_frozen():
    for q1, q2 in ((0.36, 0.3), (0.8, 0.1), (0.1, 0.9)):
        u1, u2 = quadratic_from_kipping(q1, q2)
        assert kipping_from_quadratic(u1, u2) == pytest.approx((q1, q2))
    p = _params()
    with pytest.raises(AttributeError):
        p.period = 2.0  # type: ignore[misc]
    assert p.replace(period=5.0).period == 5.0


def test_eccentric_orbit_duration_scales():
    circ = _params(b=0.0)
    ecc = _params(b=0.0, ecc=0.3, omega=90.0)  # transit near periastron: faster, shorter
    t = circ.t0 + np.linspace(-0.2, 0.2, 200_001)
    width = np.ptp(t[transit_flux(t, ecc) < 1.0])
    assert transit_duration(ecc) == pytest.approx(width, rel=5e-3)
    assert transit_duration(ecc) < transit_duration(circ)
