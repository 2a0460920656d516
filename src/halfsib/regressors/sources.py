"""What each design group is made of: the one place that maps a group's name to its source.

Group names are set by the builders of this package (``elc``, ``elc1_10`` …, ``elc_motion``,
``cpm``, ``pld1`` …, ``motion``, ``cbv``, ``spline``, ``settling``); every other stage asks
:func:`group_source` instead of matching name prefixes itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["SOURCES", "group_source", "systematics_scope"]

#: every source a group can come from, with what it means to a user
SOURCES: dict[str, str] = {
    "other_stars": "other stars' light (eigen light curves)",
    "other_stars_motion": "other stars' light times the target's motion",
    "other_pixels": "other stars' pixels",
    "own_pixels": "the target's own pixels (PLD)",
    "own_motion": "the target's own motion (centroids / arclength)",
    "cbv": "a basis table (CBVs)",
    "smooth": "smooth time terms",
    "settling": "settling ramps after gaps",
    "other": "a user-built group",
}

# longest prefixes first: "elc_motion" must win over "elc"
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("elc_motion", "other_stars_motion"), ("elc", "other_stars"), ("cpm", "other_pixels"),
    ("pld", "own_pixels"), ("motion", "own_motion"), ("cbv", "cbv"), ("spline", "smooth"), ("settling", "settling"),
)


def group_source(name: str) -> str:
    """The source (a key of :data:`SOURCES`) of the design group called ``name``.

    Examples
    --------
    >>> group_source("elc11_40"), group_source("elc_motion"), group_source("pld2")
    ('other_stars', 'other_stars_motion', 'own_pixels')
    """
    for prefix, source in _PREFIXES:
        if name.startswith(prefix):
            return source
    return "other"


def _is_shared(source: str) -> bool:
    return source in ("other_stars", "other_stars_motion", "other_pixels", "cbv")


def systematics_scope(design_columns: Mapping[str, int] | Iterable[str],
                      offered: Iterable[str] = ()) -> dict[str, object]:
    """What a fitted design can and cannot model, for the outputs.

    Parameters
    ----------
    design_columns : mapping of group name to column count, or iterable of group names
        The fitted design's groups.
    offered : iterable of str
        Group names of every design that was tried (the design choice of
        :func:`halfsib.pipeline.fit_target`); empty when only one was fitted.

    Returns
    -------
    dict
        ``sources``: {source: columns}; ``shared``: whether any regressor comes from other
        stars (their light, their pixels, or a campaign basis table); ``statement``: one
        sentence for the console, the summary and the report.
    """
    counts = dict(design_columns) if isinstance(design_columns, Mapping) else dict.fromkeys(design_columns, 0)
    sources: dict[str, int] = {}
    for name, n in counts.items():
        source = group_source(name)
        sources[source] = sources.get(source, 0) + int(n)
    shared = any(_is_shared(s) for s in sources)
    dropped = sorted({group_source(g) for g in offered if _is_shared(group_source(g))} - set(sources))
    own = " and ".join(SOURCES[s] for s in sources if not _is_shared(s)) or "nothing"
    if shared:
        statement = ("systematics shared with other stars are modelled (" +
                     ", ".join(SOURCES[s] for s in sources if _is_shared(s)) + ")")
    elif dropped:
        statement = (f"other stars were given ({', '.join(SOURCES[s] for s in dropped)}) but left out by the "
                     f"design choice: they did not predict held-out data better; {own} model the instrument")
    elif sources:
        statement = (f"one star alone: only {own} model the instrument; a systematic the target's own "
                     "motion does not trace (focus, thermal or scattered-light trends) is left to the stellar "
                     "GP, and the ladder has no other-stars rung to test a signal against")
    else:
        statement = ("no regressors: the instrument is not modelled; the stellar GP takes every trend, and "
                     "the ladder has a single rung")
    return {"sources": sources, "shared": shared, "statement": statement}
