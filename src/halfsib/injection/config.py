"""Settings of an injection–recovery run, and one injected transit.

:class:`InjectionConfig` holds the distributions the injections are drawn from, how they
are put into the data, which pipeline reruns on them and the matching rule
(:class:`MatchConfig`); :class:`Injection` is one drawn (or given) transit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["Injection", "MatchConfig", "InjectionConfig", "MODES", "DILUTIONS", "SOLAR_DENSITY_CGS"]

#: which pipeline reruns on the injected data: the full ``run`` (claims) or detrend + search
MODES = ("run", "fast")
#: the fraction of the aperture's light that belongs to the target: all of it, or CROWDSAP
DILUTIONS = ("none", "crowdsap")
#: mean solar density [g cm^-3]
SOLAR_DENSITY_CGS = 1.408


def _range(owner: str, name: str, value: Any, lo: float, hi: float, *, positive: bool = False) -> None:
    """Check a (min, max) pair inside [lo, hi]; the message names the setting."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{owner}.{name} must be a (min, max) pair of numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b <= hi) or (positive and a <= 0):
        bound = f"0 < min <= max <= {hi:g}" if positive else f"{lo:g} <= min <= max <= {hi:g}"
        raise ConfigurationError(f"{owner}.{name} must satisfy {bound}, got {value!r}")


@dataclass(frozen=True)
class Injection:
    """One injected transit (the star's own transit, before any dilution).

    Attributes
    ----------
    period : float
        Orbital period [d].
    t0 : float
        A mid-transit time [d], in the light curve's time system (BKJD, BTJD).
    rp_over_rs : float
        Radius ratio Rp/R★.
    b : float
        Impact parameter [stellar radii].
    q1, q2 : float
        Kipping (2013) limb-darkening parameters in [0, 1].
    a_over_rs : float
        Scaled semi-major axis (from Kepler's law and the stellar density when drawn).
    phase : float
        Where ``t0`` fell in the first period after the data start, in [0, 1) (recorded for
        reweighting; not used by the model).
    """

    period: float
    t0: float
    rp_over_rs: float
    b: float
    q1: float
    q2: float
    a_over_rs: float
    phase: float = 0.0

    def __post_init__(self) -> None:
        self.transit_params()  # validates every field (TransitParams names the bad one)

    def transit_params(self) -> Any:
        """The :class:`~halfsib.transit.TransitParams` of this injection (circular orbit)."""
        from ..transit import TransitParams

        return TransitParams(period=self.period, t0=self.t0, rp_over_rs=self.rp_over_rs, a_over_rs=self.a_over_rs,
                             b=self.b, q1=self.q1, q2=self.q2)


@dataclass(frozen=True)
class MatchConfig:
    """When a candidate counts as the injected signal (DFM2015: period and t0 agree).

    Attributes
    ----------
    period_tolerance : float
        Largest |P_found − P_injected| / P_injected for an exact match (default 1 %).
    t0_tolerance_hours : float
        Largest |Δt0| modulo the common period [h] (default 6 h, as DFM2015).
    max_alias : int
        Period ratios p/q with p, q ≤ ``max_alias`` and q ∈ {1, 2} (integer and half-integer
        aliases: 2, 3, 1/2, 3/2, 2/3 …) are flagged as aliases.
    aliases_recovered : bool
        Count an alias match as recovered (default False: recovered means the right period).
    """

    period_tolerance: float = 0.01
    t0_tolerance_hours: float = 6.0
    max_alias: int = 5
    aliases_recovered: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.period_tolerance) and 0 < self.period_tolerance < 0.5):
            raise ConfigurationError(f"MatchConfig.period_tolerance must be in (0, 0.5), got {self.period_tolerance!r}")
        if not (math.isfinite(self.t0_tolerance_hours) and self.t0_tolerance_hours > 0):
            raise ConfigurationError(f"MatchConfig.t0_tolerance_hours must be > 0, got {self.t0_tolerance_hours!r}")
        if not (isinstance(self.max_alias, int) and self.max_alias >= 1):
            raise ConfigurationError(f"MatchConfig.max_alias must be an integer >= 1, got {self.max_alias!r}")


@dataclass(frozen=True)
class InjectionConfig:
    """What to inject, how, and what to rerun on it.

    Attributes
    ----------
    n_per_target : int
        Injections per target, each into its own copy of the file (0: no injection, the
        pipeline runs on each target as it is — a false-alarm run on planet-free data).
    period_range : (float, float)
        Log-uniform period range [d] (default 0.5–70 d, as DFM2015).
    rp_over_rs_range : (float, float)
        Log-uniform Rp/R★ range (default 0.01–0.2).
    b_range, q1_range, q2_range : (float, float)
        Uniform ranges of the impact parameter and the Kipping limb-darkening parameters.
    stellar_density : float
        Stellar density [solar units] giving a/R★ from Kepler's law.
    fixed : tuple of Injection
        If given, these injections (absolute t0) go into every target instead of draws
        (targeted studies, tests).
    dilution : {"none", "crowdsap"}
        ``none``: every pixel's (or the aperture's) flux is the target's and dims by the
        transit. ``crowdsap``: only the header's CROWDSAP share of it dims (the neighbours'
        light in the aperture stays), spread uniformly over the pixels.
    mode : {"run", "fast"}
        ``run``: the full per-target pipeline (fit, ladder, vetting; recovered = claimed);
        ``fast``: detrend + search only (recovered = a search candidate above its S/N cut).
    invert : bool
        Run on inverted data (flux → 2·median − flux: dips become bumps) with no injection,
        to count false alarms.
    match : MatchConfig
    run : RunConfig or None
        Settings of the full run (None: ``RunConfig(fit=FitConfig(sample=False))`` with
        the batch's detrend and search settings; emcee is skipped since the claim rule does
        not use the posterior).
    keep_files : bool
        Keep the injected data files (default); False deletes each after its run.
    """

    n_per_target: int = 5
    period_range: tuple[float, float] = (0.5, 70.0)
    rp_over_rs_range: tuple[float, float] = (0.01, 0.2)
    b_range: tuple[float, float] = (0.0, 1.0)
    q1_range: tuple[float, float] = (0.0, 1.0)
    q2_range: tuple[float, float] = (0.0, 1.0)
    stellar_density: float = 1.0
    fixed: tuple[Injection, ...] = ()
    dilution: str = "none"
    mode: str = "run"
    invert: bool = False
    match: MatchConfig = field(default_factory=MatchConfig)
    run: Any = None
    keep_files: bool = True

    def __post_init__(self) -> None:
        owner = "InjectionConfig"
        if not (isinstance(self.n_per_target, int) and self.n_per_target >= 0):
            raise ConfigurationError(f"{owner}.n_per_target must be an integer >= 0, got {self.n_per_target!r}")
        _range(owner, "period_range", self.period_range, 0.0, math.inf, positive=True)
        _range(owner, "rp_over_rs_range", self.rp_over_rs_range, 0.0, 0.99, positive=True)
        for name in ("b_range", "q1_range", "q2_range"):
            _range(owner, name, getattr(self, name), 0.0, 1.0)
        if not (math.isfinite(self.stellar_density) and self.stellar_density > 0):
            raise ConfigurationError(f"{owner}.stellar_density must be > 0 (solar units), got {self.stellar_density!r}")
        if self.dilution not in DILUTIONS:
            raise ConfigurationError(f"{owner}.dilution must be one of {DILUTIONS}, got {self.dilution!r}")
        if self.mode not in MODES:
            raise ConfigurationError(f"{owner}.mode must be one of {MODES}, got {self.mode!r}")
        if not all(isinstance(f, Injection) for f in self.fixed):
            raise ConfigurationError(f"{owner}.fixed must hold Injection objects")
        object.__setattr__(self, "fixed", tuple(self.fixed))
        for name in ("period_range", "rp_over_rs_range", "b_range", "q1_range", "q2_range"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.invert and (self.n_per_target or self.fixed):
            raise ConfigurationError(f"{owner}.invert counts false alarms on inverted data without injections: "
                                     "set n_per_target=0 (CLI: leave out --per-target) and no fixed injections")

    @property
    def injects(self) -> bool:
        """True when transits go into the data (False: a false-alarm run)."""
        return bool(self.fixed) or self.n_per_target > 0

    @property
    def n_injections(self) -> int:
        """Injections per target."""
        return len(self.fixed) if self.fixed else self.n_per_target

    def replace(self, **changes: Any) -> InjectionConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def distributions(self) -> dict[str, str]:
        """The draw distributions, as text for the output table's metadata (reweighting)."""
        if self.fixed:
            return {"injections": "fixed (InjectionConfig.fixed)"}
        p, k = self.period_range, self.rp_over_rs_range
        return {"period": f"log-uniform {p[0]:g}-{p[1]:g} d", "rp_over_rs": f"log-uniform {k[0]:g}-{k[1]:g}",
                "b": "uniform {:g}-{:g}".format(*self.b_range), "q1": "uniform {:g}-{:g}".format(*self.q1_range),
                "q2": "uniform {:g}-{:g}".format(*self.q2_range), "phase": "uniform 0-1 (t0 = t_start + phase P)",
                "a_over_rs": f"Kepler's law, stellar density {self.stellar_density:g} solar"}
