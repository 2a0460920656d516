"""Injection–recovery: completeness and false alarms of the whole pipeline (``docs/injection.md``).

>>> from halfsib.injection import InjectionConfig, inject_and_recover
>>> summary = inject_and_recover(["c13/"], "inj_out/", InjectionConfig(n_per_target=5))  # doctest: +SKIP
>>> summary.n_recovered / summary.n_injections                                          # doctest: +SKIP

- :class:`InjectionConfig`, :class:`MatchConfig`, :class:`Injection` — settings and one transit;
- :func:`draw_injections` — draws from the configured distributions with a given generator;
- :func:`inject_flux`, :func:`inject_pixels`, :func:`invert_flux`, :func:`write_injected` —
  transits into raw light curves and pixel stamps, inverted copies;
- :func:`match_candidate`, :func:`best_match` — the matching rule (period, t0, aliases);
- :class:`InjectionTask` — the batch task; :func:`inject_and_recover` — the whole run;
- :func:`completeness`, :class:`Completeness`, :func:`plot_completeness` — binned
  completeness with binomial errors, and its figure.
"""

from __future__ import annotations

from .binning import Completeness, completeness, wilson_interval
from .config import Injection, InjectionConfig, MatchConfig
from .draw import a_over_rs_from_density, draw_injections
from .inject import InjectedFile, expected_snr, inject_flux, inject_pixels, invert_flux, transit_model, write_injected
from .match import Match, best_match, match_candidate
from .plot import plot_completeness
from .recover import InjectionSummary, inject_and_recover
from .task import InjectionTask

__all__ = ["InjectionConfig", "MatchConfig", "Injection", "draw_injections", "a_over_rs_from_density",
           "inject_flux", "inject_pixels", "invert_flux", "transit_model", "expected_snr", "write_injected",
           "InjectedFile", "Match", "match_candidate", "best_match", "InjectionTask", "inject_and_recover",
           "InjectionSummary", "Completeness", "completeness", "wilson_interval", "plot_completeness"]
