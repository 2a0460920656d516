"""Vetting records: one :class:`VetTest` per test, gathered in a :class:`VetReport`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError
from .ephemeris import Ephemeris

__all__ = ["VetTest", "VetReport", "VetConfig", "FoldedLightCurve", "PixelDepthImage"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class VetTest:
    """The outcome of one vetting test.

    Attributes
    ----------
    name : str
        ``"odd_even"``, ``"secondary"``, ...
    value : float or None
        The test statistic (None when the test could not run).
    threshold : float or None
        The value at which the test fails (see ``fails_above``).
    passed : bool or None
        None when the test could not run ("not run", with the reason in ``detail``).
    detail : str
        What was measured, or why the test did not run.
    unit : str
        Unit of ``value`` and ``threshold`` ("sigma", "h/h", "pixel", ...).
    fails_above : bool
        True: the test fails when value > threshold; False: when value < threshold.
    extras : mapping of str to float
        Other numbers of the test (depths [ppm], errors, counts), for the outputs.
    """

    name: str
    value: float | None
    threshold: float | None
    passed: bool | None
    detail: str
    unit: str = ""
    fails_above: bool = True
    extras: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"vetting test {self.name!r} produced a non-finite value {self.value!r}")
        object.__setattr__(self, "extras", MappingProxyType({k: float(v) for k, v in self.extras.items()}))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle with a plain dict (a mappingproxy does not pickle): outcomes cross process pools."""
        return (type(self), (self.name, self.value, self.threshold, self.passed, self.detail, self.unit,
                             self.fails_above, dict(self.extras)))

    @property
    def ran(self) -> bool:
        """True when the test produced a value."""
        return self.passed is not None

    @classmethod
    def judge(cls, name: str, value: float, threshold: float, detail: str, *, unit: str = "",
              fails_above: bool = True, extras: Mapping[str, float] | None = None) -> VetTest:
        """A test that ran: ``passed`` from comparing ``value`` with ``threshold``."""
        failed = value > threshold if fails_above else value < threshold
        return cls(name, float(value), float(threshold), not failed, detail, unit, fails_above, dict(extras or {}))

    @classmethod
    def not_run(cls, name: str, reason: str, *, threshold: float | None = None, unit: str = "") -> VetTest:
        """A test that could not run, with the reason (never a silent number)."""
        return cls(name, None, threshold, None, f"not run: {reason}", unit)


@dataclass(frozen=True)
class VetConfig:
    """Thresholds of the vetting tests (see ``docs/vet.md`` for why each value).

    Attributes
    ----------
    odd_even_sigma : float
        ``|δ_odd − δ_even| / σ`` above which the depths differ (EB at twice the period).
    secondary_sigma : float
        Depth S/N of an eclipse at phase 0.5 above which a secondary is detected.
    secondary_scan_fap : float
        False-alarm probability of the best eclipse over all phases (trials-corrected).
    phase_curve_sigma : float
        Significance (Gaussian-equivalent of the χ²₃ of three harmonics) of a phase curve.
    dominance_fraction : float
        Largest share of Σ max(n_i, 0) one event may carry (3 or more events; 0.8 for 2)...
    dominance_rest_sigma : float
        ... unless the other events alone still show the dip at this S/N.
    depth_consistency_p : float
        Smallest p-value of the χ²_{n−1} of per-event depths about one common depth.
    flag_sigma : float
        ``|δ_all − δ_without flagged neighbours|`` in units of its error.
    shape_delta_loglike : float
        Δln L(V) − Δln L(U) above which the dip is V-shaped.
    duration_ratio : float
        Best box duration / the longest central-transit T14 allowed by the stellar density.
    density_range : tuple of float
        Stellar densities [solar] assumed when none is given (the lower end sets the
        longest allowed duration).
    pixel_offset_sigma, pixel_offset_min : float
        The dip centroid fails when it is more than this many sigma *and* this many
        pixels from the target's centroid.
    flag_bits : int or None
        Quality bits counted as events (None: the mission's thruster firings, momentum
        dumps, attitude tweaks, coarse/no fine point).
    model_floor : float
        Fraction of the transit depth added in quadrature to the error of every depth
        difference and of every dip compared with the transit (odd/even, secondaries,
        per-event depths, flags): the imperfection of a box/trapezoid template and of the
        instrument model, which a test at S/N ~ 200 would otherwise call significant.
    depth_floor : float
        The same for the per-event depths of ``depth_consistency``: the event-to-event depth
        scatter that real transits show beyond their errors (residual systematics, gaps and
        pointing at ingress), as a fraction of the depth. Measured with
        ``benchmarks/bench_vet_floors.py`` (``docs/vet.md``).
    shape_floor : float
        The V/U test fails when Δln L(V) − Δln L(U) exceeds ``shape_delta_loglike`` +
        ``shape_floor`` × Δln L(U): a template that misses a real transit's shape by a
        fixed fraction loses a share of Δln L that grows as S/N², so a fixed threshold
        refuses bright planets. Measured like ``depth_floor``.
    """

    odd_even_sigma: float = 3.0
    secondary_sigma: float = 3.0
    secondary_scan_fap: float = 1e-3
    phase_curve_sigma: float = 5.0
    dominance_fraction: float = 0.5
    dominance_rest_sigma: float = 4.0
    depth_consistency_p: float = 1e-3
    flag_sigma: float = 2.5
    shape_delta_loglike: float = 3.0
    duration_ratio: float = 1.3
    density_range: tuple[float, float] = (0.25, 20.0)
    pixel_offset_sigma: float = 3.0
    pixel_offset_min: float = 1.0
    flag_bits: int | None = None
    model_floor: float = 0.02
    depth_floor: float = 0.15
    shape_floor: float = 0.03

    def __post_init__(self) -> None:
        for name in ("odd_even_sigma", "secondary_sigma", "phase_curve_sigma", "flag_sigma", "duration_ratio",
                     "pixel_offset_sigma"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigurationError(f"VetConfig.{name}={value!r} must be a finite number > 0")
        for name in ("secondary_scan_fap", "depth_consistency_p"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigurationError(f"VetConfig.{name}={getattr(self, name)!r} must be in (0, 1)")
        if not 0 < self.dominance_fraction < 1:
            raise ConfigurationError(f"VetConfig.dominance_fraction={self.dominance_fraction} must be in (0, 1)")
        if not (math.isfinite(self.dominance_rest_sigma) and self.dominance_rest_sigma > 0):
            raise ConfigurationError(f"VetConfig.dominance_rest_sigma={self.dominance_rest_sigma} must be a "
                                     "positive number")
        lo, hi = self.density_range
        if not 0 < lo < hi:
            raise ConfigurationError(f"VetConfig.density_range={self.density_range} must satisfy 0 < low < high")
        for name in ("model_floor", "depth_floor", "shape_floor"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigurationError(f"VetConfig.{name}={getattr(self, name)!r} must be in [0, 1)")
        if self.pixel_offset_min < 0 or not math.isfinite(self.shape_delta_loglike):
            raise ConfigurationError("VetConfig.pixel_offset_min must be >= 0 and shape_delta_loglike finite")


@dataclass(frozen=True, eq=False)
class FoldedLightCurve:
    """The light curve with systematics and stellar signal removed, folded on the candidate.

    ``hours`` from mid-transit, ``flux`` [ppm] (transit kept), ``epoch`` (transit index),
    ``depth_odd``/``depth_even`` and errors [ppm] (None when a parity has no data).
    """

    hours: FloatArray
    flux: FloatArray
    epoch: NDArray[np.int64]
    duration: float
    depth_odd: float | None = None
    depth_odd_err: float | None = None
    depth_even: float | None = None
    depth_even_err: float | None = None


@dataclass(frozen=True, eq=False)
class PixelDepthImage:
    """Transit depth fitted in every pixel of the stamp with the target's nuisance model.

    ``depth``/``depth_err`` [e-/s] (NaN-free: masked where a pixel was not fitted: ``fitted``
    False), ``mean_image`` [e-/s] (median flux), ``aperture``, ``target_centre`` and
    ``dip_centre`` (column, row) [pixel, stamp coordinates], ``dip_centre_err`` [pixel].
    """

    depth: FloatArray
    depth_err: FloatArray
    fitted: NDArray[np.bool_]
    mean_image: FloatArray
    aperture: NDArray[np.bool_]
    target_centre: tuple[float, float]
    dip_centre: tuple[float, float] | None
    dip_centre_err: float | None


@dataclass(frozen=True, eq=False)
class VetReport:
    """All vetting tests of one candidate (:func:`halfsib.vet.vet`).

    Attributes
    ----------
    tests : tuple of VetTest
    ephemeris : Ephemeris
    folded : FoldedLightCurve or None
    pixel_image : PixelDepthImage or None
    shape : str
        The dip profile the depth tests fitted ("box 2.40 h", "trapezoid ...", "limb-darkened transit").
    seconds : float
        Wall time [s].
    """

    tests: tuple[VetTest, ...]
    ephemeris: Ephemeris
    folded: FoldedLightCurve | None = None
    pixel_image: PixelDepthImage | None = None
    shape: str = ""
    seconds: float = 0.0

    def __getitem__(self, name: str) -> VetTest:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(f"no vetting test {name!r}; have {[t.name for t in self.tests]}")

    @property
    def passed(self) -> bool:
        """True when no test that ran failed (tests that did not run do not fail a candidate)."""
        return all(t.passed is not False for t in self.tests)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the failed tests."""
        return tuple(t.name for t in self.tests if t.passed is False)

    @property
    def not_run(self) -> tuple[str, ...]:
        """Names of the tests that could not run."""
        return tuple(t.name for t in self.tests if t.passed is None)

    def to_table(self) -> Any:
        """An astropy Table, one row per test: name, value, threshold, unit, passed, ran, detail.

        Missing values (tests not run) are masked, never NaN.
        """
        from astropy.table import MaskedColumn, Table

        t = Table(meta={"period": self.ephemeris.period if not self.ephemeris.single else "single event",
                        "t0": self.ephemeris.t0, "duration_h": self.ephemeris.duration,
                        "box_duration_h": self.ephemeris.template_duration, "template": self.shape,
                        "passed": self.passed})
        t["name"] = [x.name for x in self.tests]
        for col in ("value", "threshold"):
            vals = [getattr(x, col) for x in self.tests]
            t[col] = MaskedColumn([0.0 if v is None else v for v in vals], mask=[v is None for v in vals])
        t["unit"] = [x.unit for x in self.tests]
        t["fails_above"] = [x.fails_above for x in self.tests]
        t["passed"] = MaskedColumn([bool(x.passed) for x in self.tests], mask=[x.passed is None for x in self.tests])
        t["detail"] = [x.detail for x in self.tests]
        return t

    def plot(self, *, fig: Any = None, label: str = "") -> Any:
        """Odd and even transits folded side by side, and the pixel depth image; ``label``
        (e.g. ``"candidate #2"``) starts the title."""
        import matplotlib.pyplot as plt

        if fig is None:
            fig = plt.figure(figsize=(11, 3.8), constrained_layout=True)
        axes = fig.subplots(1, 3)
        _plot_odd_even(axes[:2], self.folded)
        _plot_pixels(axes[2], self.pixel_image)
        verdict = "passed" if self.passed else "failed " + ", ".join(self.failed)
        fig.suptitle(f"{label + ' ' if label else ''}vetting: {verdict}", fontsize=10)
        return fig


def _plot_odd_even(axes: Any, folded: FoldedLightCurve | None) -> None:
    if folded is None:
        for ax in axes:
            ax.text(0.5, 0.5, "no folded light curve", ha="center", transform=ax.transAxes)
        return
    near = np.abs(folded.hours) < 2.5 * folded.duration
    for ax, parity, label in ((axes[0], 1, "odd"), (axes[1], 0, "even")):
        sel = near & (np.mod(folded.epoch, 2) == parity)
        ax.scatter(folded.hours[sel], folded.flux[sel], s=3, lw=0, color="0.3", rasterized=True)
        depth = folded.depth_odd if parity else folded.depth_even
        err = folded.depth_odd_err if parity else folded.depth_even_err
        if depth is not None:
            half = 0.5 * folded.duration
            ax.plot([-half, -half, half, half], [0, -depth, -depth, 0], color="C3", lw=1)
            ax.set_title(f"{label}: {depth:.0f} ± {err:.0f} ppm", fontsize=9)
        ax.set(xlabel="hours from mid-transit", ylabel="flux [ppm]")
    lo = min(a.get_ylim()[0] for a in axes)
    hi = max(a.get_ylim()[1] for a in axes)
    for ax in axes:
        ax.set_ylim(lo, hi)


def _plot_pixels(ax: Any, image: PixelDepthImage | None) -> None:
    if image is None:
        ax.text(0.5, 0.5, "no pixel stamp", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    depth = np.where(image.fitted, image.depth, 0.0)
    lim = float(np.max(np.abs(depth))) or 1.0
    shown = ax.imshow(depth, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.figure.colorbar(shown, ax=ax, label="transit depth [e-/s]")
    ny, nx = image.aperture.shape
    for r in range(ny):
        for c in range(nx):
            if image.aperture[r, c]:
                ax.add_patch(_square(c, r))
    ax.plot(*image.target_centre, "k+", ms=10, label="target")
    if image.dip_centre is not None:
        ax.plot(*image.dip_centre, "x", color="C2", ms=9, mew=2, label="dip")
    ax.legend(fontsize=7, loc="upper right")
    ax.set(xlabel="column [pixel]", ylabel="row [pixel]", title="per-pixel depth")


def _square(c: int, r: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="k", lw=0.5)
