"""The settings of a simulated campaign, validated once, as a frozen dataclass."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError
from .missions import MISSIONS, CadenceSpec, MissionSpec

__all__ = ["SimulationConfig"]

_MAX_STARS = 99_999
_DEFAULTABLE = ("n_cadences", "cadence", "patch_size", "t_start", "mag_range", "field_density", "planet_period_range")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_range(name: str, value: Any, *, positive: bool = True) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a pair (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi) or (positive and lo <= 0):
        raise ConfigurationError(f"{name} must be finite, ordered{' and > 0' if positive else ''}; got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Defaults (``None``) are filled in from the mission on creation.

    Parameters
    ----------
    mission : {"k2", "tess"}
        Which instrument to mimic.
    n_stars : int
        Number of target stars (each gets a target pixel file and a light curve).
    n_cadences : int, optional
        Cadences (rows) per file; default a full campaign (K2: 3,500) or sector
        (TESS: 18,000 at 2 min, 1,200 at 30 min, 3,600 at 10 min, 10,800 at 200 s).
    cadence : {"30min", "2min", "10min", "200s"}, optional
        Cadence; K2 has only long cadence ("30min"); TESS default "2min".
    seed : int
        Seed of the random generator when none is passed to ``simulate_campaign``.
    planet_fraction : float
        Fraction of (non-EB) targets hosting transiting planets.
    eb_fraction : float
        Fraction of targets that are eclipsing binaries.
    eb_leak_fraction : float
        Fraction of the EBs placed 2-4 pixels from another target, so their eclipses leak
        into the neighbour's aperture.
    rotation_fraction : float
        Fraction of stars with spot-modulated rotation (all have granulation-like noise).
    patch_size : int, optional
        Side of the square detector patch [pixel] the targets are spread over.
    campaign : int
        K2 campaign number written to the files (default 99: no real K2 campaign).
    sector : int
        TESS sector number written to the files (default 999: no real sector).
    t_start : float, optional
        Time of the first cadence [d] in BKJD (K2) or BTJD (TESS).
    mag_range : (float, float), optional
        Target magnitudes (Kp or T), drawn with more faint than bright stars.
    field_density : float, optional
        Non-target background stars per pixel² (0 for none); they contaminate stamps.
    planet_period_range : (float, float), optional
        Planet periods [d], log-uniform; default 0.5 d to half the time span.
    planet_rp_range : (float, float)
        Planet Rp/R★, log-uniform.
    saturation : bool
        Simulate saturation and charge bleeding for bright stars.
    cosmic_rays : bool
        Add cosmic-ray hits to the pixels (left in, recorded in COSMIC_RAYS).

    Raises
    ------
    ConfigurationError
        On any out-of-range or inconsistent setting; the message names it.
    """

    mission: str = "k2"
    n_stars: int = 50
    n_cadences: int | None = None
    cadence: str | None = None
    seed: int = 0
    planet_fraction: float = 0.2
    eb_fraction: float = 0.05
    eb_leak_fraction: float = 0.5
    rotation_fraction: float = 0.5
    patch_size: int | None = None
    campaign: int = 99
    sector: int = 999
    t_start: float | None = None
    mag_range: tuple[float, float] | None = None
    field_density: float | None = None
    planet_period_range: tuple[float, float] | None = None
    planet_rp_range: tuple[float, float] = (0.015, 0.15)
    saturation: bool = True
    cosmic_rays: bool = True
    #: names of the settings that were filled in from mission defaults (reset by ``replace``)
    _defaulted: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_defaulted", tuple(n for n in _DEFAULTABLE if getattr(self, n) is None))
        mission = str(self.mission).lower()
        if mission not in MISSIONS:
            raise ConfigurationError(f"mission must be one of {sorted(MISSIONS)}, got {self.mission!r}")
        spec = MISSIONS[mission]
        self._set("mission", mission)
        cadence = spec.default_cadence if self.cadence is None else str(self.cadence)
        if cadence not in spec.cadences:
            raise ConfigurationError(
                f"cadence must be one of {list(spec.cadences)} for {mission}, got {self.cadence!r}")
        self._set("cadence", cadence)
        self._check_ints(spec)
        self._check_fractions()
        self._fill_defaults(spec)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_ints(self, spec: MissionSpec) -> None:
        if not _is_int(self.n_stars) or not 1 <= self.n_stars <= _MAX_STARS:
            raise ConfigurationError(f"n_stars must be an integer in [1, {_MAX_STARS}], got {self.n_stars!r}")
        n_cad = spec.cadences[self.cadence].default_n_cadences if self.n_cadences is None else self.n_cadences
        if not _is_int(n_cad) or not 20 <= n_cad <= 2_000_000:
            raise ConfigurationError(f"n_cadences must be an integer in [20, 2000000], got {self.n_cadences!r}")
        self._set("n_cadences", int(n_cad))
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigurationError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not _is_int(self.campaign) or not 0 <= self.campaign <= 999:
            raise ConfigurationError(f"campaign must be an integer in [0, 999], got {self.campaign!r}")
        if not _is_int(self.sector) or not 1 <= self.sector <= 9999:
            raise ConfigurationError(f"sector must be an integer in [1, 9999], got {self.sector!r}")
        size = spec.default_patch_size if self.patch_size is None else self.patch_size
        if not _is_int(size) or not 64 <= size <= 4096:
            raise ConfigurationError(f"patch_size must be an integer in [64, 4096] pixels, got {self.patch_size!r}")
        self._set("patch_size", int(size))
        for name in ("n_stars", "seed", "campaign", "sector"):
            self._set(name, int(getattr(self, name)))

    def _check_fractions(self) -> None:
        for name in ("planet_fraction", "eb_fraction", "eb_leak_fraction", "rotation_fraction"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ConfigurationError(f"{name} must be a number in [0, 1], got {value!r}")
            self._set(name, float(value))

    def _fill_defaults(self, spec: MissionSpec) -> None:
        t_start = spec.default_t_start if self.t_start is None else self.t_start
        if not isinstance(t_start, (int, float)) or not math.isfinite(t_start):
            raise ConfigurationError(f"t_start must be a finite number of days, got {self.t_start!r}")
        self._set("t_start", float(t_start))
        mags = spec.target_mag_range if self.mag_range is None else self.mag_range
        self._set("mag_range", _check_range("mag_range", mags, positive=False))
        density = spec.field_density if self.field_density is None else self.field_density
        if not isinstance(density, (int, float)) or not 0 <= density <= 1:
            raise ConfigurationError(f"field_density must be in [0, 1] stars per pixel², got {self.field_density!r}")
        self._set("field_density", float(density))
        half_span = 0.5 * self.n_cadences * self.cadence_spec.timedel
        periods = (0.5, max(0.6, half_span)) if self.planet_period_range is None else self.planet_period_range
        self._set("planet_period_range", _check_range("planet_period_range", periods))
        rp = _check_range("planet_rp_range", self.planet_rp_range)
        if rp[1] >= 1:
            raise ConfigurationError(f"planet_rp_range must lie below 1 (Rp/R★), got {self.planet_rp_range!r}")
        self._set("planet_rp_range", rp)
        self._set("saturation", bool(self.saturation))
        self._set("cosmic_rays", bool(self.cosmic_rays))

    @property
    def spec(self) -> MissionSpec:
        """The mission's instrument numbers."""
        return MISSIONS[self.mission]

    @property
    def cadence_spec(self) -> CadenceSpec:
        """The cadence's timing numbers."""
        return self.spec.cadences[self.cadence]

    @property
    def season(self) -> int:
        """Campaign (K2) or sector (TESS) number."""
        return self.campaign if self.mission == "k2" else self.sector

    def to_dict(self) -> dict[str, Any]:
        """All settings as plain Python values (for provenance in headers and tables)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.init:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self, **changes: Any) -> SimulationConfig:
        """A copy with some settings changed (validated again).

        Settings that were filled in from mission defaults are derived again, so
        ``replace(mission="tess")`` gets TESS cadences, magnitudes and patch size.
        """
        kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        kwargs.update({name: None for name in self._defaulted})
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise ConfigurationError(f"unknown simulation setting(s): {sorted(unknown)}")
        kwargs.update(changes)
        return SimulationConfig(**kwargs)
