"""Settings of the joint transit fit, the initial guess, and the fit's typed failure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError, DataValidationError

__all__ = ["FitConfig", "TransitGuess", "InsufficientTransitDataError"]


class InsufficientTransitDataError(DataValidationError):
    """Too few fitted cadences fall inside the transit to fit it.

    A reportable failure (``halfsib.fit.fit_candidates`` turns it into a
    :class:`~halfsib.fit.results.FitFailure` row and goes on with the other candidates).

    Attributes
    ----------
    n_in_transit : int
        Fitted (good, non-clipped) cadences within the guessed transit windows.
    required : int
        ``FitConfig.min_in_transit``.
    """

    def __init__(self, message: str, source: str | None = None, *, n_in_transit: int = 0, required: int = 0):
        super().__init__(message, source)
        self.n_in_transit = int(n_in_transit)
        self.required = int(required)


@dataclass(frozen=True)
class TransitGuess:
    """Where to start: a search candidate or the user's numbers.

    Attributes
    ----------
    period : float
        Period [d]; ignored (may be ``inf``) for a single transit.
    t0 : float
        A mid-transit time [d], in the light curve's time system.
    duration : float
        Total duration [h].
    depth : float
        Depth [ppm] (a box depth is fine).
    period_err, t0_err : float
        1-sigma uncertainties [d] (0: unknown); they widen the period/t0 bounds.
    single : bool or None
        ``True``: one transit, period bounded below by the data (single-transit mode);
        ``None``: decided from how many transits with data the guess predicts.
    """

    period: float
    t0: float
    duration: float
    depth: float
    period_err: float = 0.0
    t0_err: float = 0.0
    single: bool | None = None

    def __post_init__(self) -> None:
        for name in ("t0", "duration", "depth", "period_err", "t0_err"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigurationError(f"TransitGuess.{name} must be a finite number, got {value!r}")
        if not self.duration > 0 or not self.depth > 0:
            raise ConfigurationError(f"TransitGuess needs duration > 0 [h] and depth > 0 [ppm], got duration="
                                     f"{self.duration}, depth={self.depth}")
        if self.single is not True and not (math.isfinite(self.period) and self.period > 0):
            raise ConfigurationError(f"TransitGuess.period={self.period!r} must be > 0 days (or use single=True)")
        if self.period_err < 0 or self.t0_err < 0:
            raise ConfigurationError("TransitGuess period_err and t0_err must be >= 0")

    @classmethod
    def from_candidate(cls, candidate: Any, single: bool | None = None) -> TransitGuess:
        """From a :class:`halfsib.search.Candidate` (or any object/row with the same fields)."""
        def get(name: str, default: float = 0.0) -> float:
            try:
                value = candidate[name] if not hasattr(candidate, name) else getattr(candidate, name)
            except (KeyError, IndexError, TypeError):
                return default
            return float(default if value is None else value)

        n = get("n_transits", 0.0)
        return cls(period=get("period", math.inf), t0=get("t0"), duration=get("duration"), depth=get("depth"),
                   period_err=max(get("period_err"), 0.0), t0_err=max(get("t0_err"), 0.0),
                   single=single if single is not None else (True if n == 1 else None))


@dataclass(frozen=True)
class FitConfig:
    """Settings of :func:`halfsib.fit.fit_transit`.

    Attributes
    ----------
    n_starts : int
        Starting points of the maximum-likelihood search (impact parameters 0.1–0.8 and
        random offsets in t0 and Rp/R★ drawn from the injected generator).
    fit_noise : bool
        Fit the stellar GP parameters and the jitter jointly with the transit. Default
        False: they stay at the values of the nuisance fit with the transits masked, which
        the sampler holds too; refitting them moved K2-136's three depths by at most 0.02σ
        at 4-6x the time (``docs/fit.md``). The regressor prior variances are never refitted.
    fit_eccentricity : bool
        Fit √e cos ω and √e sin ω (else a circular orbit).
    sample : bool
        Run emcee after the maximum-likelihood fit.
    sample_noise : bool
        Sample the GP parameters and jitter too (every step then refactorises the model:
        ~10–100× slower); default: posterior conditional on their maximum-likelihood values.
    n_walkers : int or None
        emcee walkers (``None``: 4 × the number of sampled parameters, at least 24).
    n_steps : int
        Most steps per walker; sampling stops earlier once converged.
    check_every : int
        Steps between autocorrelation-time checks.
    autocorr_multiple : float
        Converged when the chain is longer than this many autocorrelation times for every
        parameter and the estimate changed by less than ``autocorr_tolerance``. 20 (with the
        default walkers, 500–1,400 effective draws: the median and 68 % interval to a few per
        cent of σ); 50, emcee's most cautious advice, gives the same intervals within their
        sampling noise at 1.3–1.7× the sampling time (``docs/fit.md``).
    autocorr_tolerance : float
        Largest relative change of the autocorrelation time between two checks.
    exposure_time : float or None
        Exposure to integrate the model over [d]; ``None``: the median cadence spacing
        (29.4 min for K2/Kepler long cadence, 2 min for TESS 2-min data).
    supersample : int or None
        Sub-exposures per exposure (``None``: one per 2 minutes, 15 for long cadence).
    single : bool or None
        Force (``True``) or forbid (``False``) single-transit mode; ``None``: from the guess
        (one transit with data → single).
    max_single_period : float or None
        Upper period bound [d] in single-transit mode (``None``: 20 × the baseline).
    stellar_density : tuple of float or None
        Gaussian prior (mean, sigma) on the stellar density [g cm⁻³] implied by a/R★ and P
        (posterior only; the maximum-likelihood fit ignores priors).
    min_in_transit : int
        Fewest fitted cadences inside the guessed transits; fewer raise
        :class:`InsufficientTransitDataError`.
    blas_threads : int or None
        BLAS threads during the fit (as in :class:`halfsib.model.DetrendConfig`).
    """

    n_starts: int = 6
    fit_noise: bool = False
    fit_eccentricity: bool = False
    sample: bool = True
    sample_noise: bool = False
    n_walkers: int | None = None
    n_steps: int = 4000
    check_every: int = 250
    autocorr_multiple: float = 20.0
    autocorr_tolerance: float = 0.05
    exposure_time: float | None = None
    supersample: int | None = None
    single: bool | None = None
    max_single_period: float | None = None
    stellar_density: tuple[float, float] | None = None
    min_in_transit: int = 5
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        checks = [
            ("n_starts", self.n_starts >= 1, ">= 1"),
            ("n_steps", self.n_steps >= 10, ">= 10"),
            ("check_every", self.check_every >= 10, ">= 10"),
            ("autocorr_multiple", self.autocorr_multiple > 0, "> 0"),
            ("autocorr_tolerance", self.autocorr_tolerance > 0, "> 0"),
            ("min_in_transit", self.min_in_transit >= 1, ">= 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigurationError(f"FitConfig.{name}={getattr(self, name)!r} must be {allowed}")
        if self.n_walkers is not None and self.n_walkers < 4:
            raise ConfigurationError(f"FitConfig.n_walkers={self.n_walkers} must be None or >= 4")
        if self.exposure_time is not None and not (math.isfinite(self.exposure_time) and self.exposure_time >= 0):
            raise ConfigurationError(f"FitConfig.exposure_time={self.exposure_time!r} must be >= 0 days")
        if self.supersample is not None and self.supersample < 1:
            raise ConfigurationError(f"FitConfig.supersample={self.supersample} must be >= 1")
        if self.max_single_period is not None and not self.max_single_period > 0:
            raise ConfigurationError(f"FitConfig.max_single_period={self.max_single_period} must be > 0 days")
        if self.stellar_density is not None:
            mean, sigma = self.stellar_density
            if not (mean > 0 and sigma > 0 and math.isfinite(mean) and math.isfinite(sigma)):
                raise ConfigurationError(f"FitConfig.stellar_density={self.stellar_density}: give (mean, sigma) "
                                         "> 0 in g/cm^3")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise ConfigurationError(f"FitConfig.blas_threads={self.blas_threads}: use None or >= 1")

    def replace(self, **changes: Any) -> FitConfig:
        """A copy with some fields changed (validated again); unknown names raise."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ConfigurationError(f"unknown fit settings {sorted(unknown)}; valid: "
                                     f"{sorted(self.__dataclass_fields__)}")
        return FitConfig(**{**self.__dict__, **changes})
