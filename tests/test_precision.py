"""The CDPP as lightkurve computes it, and with cadences left out of the statistic."""

import lightkurve as lk
import numpy as np
import pytest

from halfsib.precision import cdpp


def _star(rng, n=3600, cadence=0.0204335):
    t = np.arange(n) * cadence
    flux = 1.0 + 2e-3 * np.sin(2 * np.pi * t / 7.3) + 1e-4 * rng.standard_normal(n)
    return t, flux


def test_without_a_mask_it_is_lightkurves_estimate_cdpp(rng):
    t, flux = _star(rng)
    expected = lk.LightCurve(time=t, flux=flux / np.median(flux)).estimate_cdpp().value
    assert cdpp(t, flux) == pytest.approx(expected, rel=1e-9)
    assert cdpp(t, flux, mask=np.zeros(t.size, bool)) == pytest.approx(expected, rel=1e-9)


def test_masked_transits_leave_the_noise_of_the_star_without_them(rng):
    """Masking the in-transit cadences gives the CDPP of the same star without transits;
    deleting them instead cuts lightkurve's flattening into pieces and inflates it."""
    t, clean = _star(rng)
    in_transit = np.abs((t - 1.3 + 2.0) % 4.0 - 2.0) < 0.15   # 0.3-d transits every 4 days
    dipped = clean - 3e-3 * in_transit
    truth = cdpp(t, clean)
    masked = cdpp(t, dipped, mask=in_transit)
    assert masked == pytest.approx(truth, rel=0.1)
    assert cdpp(t, dipped) > 3 * truth                  # the transits themselves, unmasked
    deleted = lk.LightCurve(time=t[~in_transit], flux=dipped[~in_transit]).estimate_cdpp().value
    assert deleted > 1.2 * masked                       # the artefact the mask avoids


def test_a_mask_of_the_wrong_shape_is_refused(rng):
    t, flux = _star(rng, n=500)
    with pytest.raises(ValueError, match="mask has shape"):
        cdpp(t, flux, mask=np.zeros(10, bool))


def test_too_little_data_gives_nan(rng):
    t, flux = _star(rng, n=200)
    assert np.isnan(cdpp(t, flux))
    assert np.isnan(cdpp(t[:5], flux[:5], mask=np.ones(5, bool)))
