"""Does a candidate recover an injection?  Period and epoch within tolerances (DFM2015).

A candidate matches an injection **exactly** when ``|P_c − P_i| / P_i`` is below the
period tolerance (1 %) and its transits line up with the injected ones: the epoch
difference, wrapped to the nearest common transit, is below the t0 tolerance (6 h). It is
an **alias** when ``P_c / P_i`` is within the same relative tolerance of ``p`` or ``p/2`` or
their inverses (p ≤ ``max_alias``: 2, 3, 1/2, 1/3, 3/2, 2/3 …) and the epochs line up
modulo ``P_i / q`` (``q`` the ratio's reduced denominator: with ``P_c / P_i = p/q`` the
transits of both periods coincide every ``q`` candidate (``p`` injected) periods, and
``t0_c − t0_i = n P_i − m P_c`` is a multiple of ``P_i / q``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .config import Injection, MatchConfig

__all__ = ["Match", "alias_ratios", "epoch_offset", "match_candidate", "best_match"]


@dataclass(frozen=True)
class Match:
    """How one candidate relates to one injection.

    Attributes
    ----------
    kind : {"exact", "alias", ""}
        Exact period, an integer/half-integer alias, or no match.
    ratio : str
        ``P_found / P_injected`` as ``"p:q"`` (``"1:1"`` exact, ``"2:1"`` twice the period).
    epoch_offset_hours : float
        Epoch difference wrapped to the nearest common transit [h].
    """

    kind: str
    ratio: str = ""
    epoch_offset_hours: float = math.nan

    @property
    def matched(self) -> bool:
        """True for an exact or alias match."""
        return bool(self.kind)


@lru_cache(maxsize=16)
def alias_ratios(max_alias: int) -> tuple[Fraction, ...]:
    """Integer and half-integer period ratios and their inverses up to ``max_alias`` (1 excluded)."""
    out = set()
    for p in range(1, max_alias + 1):
        for q in (1, 2):
            r = Fraction(p, q)
            if r != 1:
                out.update((r, 1 / r))
    return tuple(sorted(out))


def epoch_offset(t0_found: float, t0_injected: float, common_period: float) -> float:
    """``t0_found − t0_injected`` wrapped into [−P/2, P/2) of ``common_period`` [d]."""
    return float((t0_found - t0_injected + 0.5 * common_period) % common_period - 0.5 * common_period)


def match_candidate(period: float, t0: float, injection: Injection, config: MatchConfig) -> Match:
    """Compare one candidate (period [d], t0 [d]) with an injection."""
    if not (math.isfinite(period) and math.isfinite(t0) and period > 0):
        return Match("")
    tolerance = config.t0_tolerance_hours / 24.0
    ratio = period / injection.period
    for kind, r in [("exact", Fraction(1))] + [("alias", a) for a in alias_ratios(config.max_alias)]:
        if abs(ratio / float(r) - 1.0) >= config.period_tolerance:
            continue
        offset = epoch_offset(t0, injection.t0, injection.period / r.denominator)
        if abs(offset) < tolerance:
            return Match(kind, f"{r.numerator}:{r.denominator}", 24.0 * offset)
    return Match("")


def best_match(candidates: Sequence[Mapping[str, Any]], injection: Injection, config: MatchConfig,
               passes: Sequence[bool]) -> tuple[int | None, Match]:
    """The candidate that best recovers ``injection``: passing the cuts first, then exact
    before alias, then the strongest (lowest rank).

    Parameters
    ----------
    candidates : sequence of mapping
        Candidate rows with ``period`` [d] and ``t0`` [d], strongest first.
    injection : Injection
    config : MatchConfig
    passes : sequence of bool
        Whether each candidate passes the automated cuts.

    Returns
    -------
    (index or None, Match)
        0-based index into ``candidates`` and its match (None, no-match when none matches).
    """
    found = []
    for i, row in enumerate(candidates):
        m = match_candidate(_float(row.get("period")), _float(row.get("t0")), injection, config)
        if m.matched:
            found.append((not passes[i], m.kind != "exact", i, m))
    if not found:
        return None, Match("")
    _, _, index, m = min(found, key=lambda x: x[:3])
    return index, m


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
