"""One ELC basis per group, built once in the main process and shared as a file.

The group's stars are read on the workers (``mapper``), stacked and decomposed here
(:meth:`halfsib.regressors.ElcBasis.build` with fold exclusion: every target's ELCs leave
out the fold holding it and its neighbours), and written to ``OUTDIR/basis/<group>.fits``
with every single-fold-left-out component set precomputed and, where the mission searches
pointing breaks (K2), the group's breaks found once (:func:`halfsib.pipeline.find_campaign_breaks`)
so that no target searches its own. Workers load that file once
per process (:func:`halfsib.batch.tasks.load_basis`); no basis array is ever sent with a
task. A basis whose fingerprint (member files with their sizes and modification times,
and the settings) matches the sidecar ``<group>.json`` is reused on a rerun.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, HalfsibError

__all__ = ["GroupBasis", "basis_settings", "ensure_group_basis", "read_lightcurve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupBasis:
    """The outcome of building (or reusing) a group's basis.

    Attributes
    ----------
    group : str
    path : str or None
        The basis file; None when the group has no basis (too few stars, ELCs off, or failed).
    n_stars : int
        Stars in the basis.
    fingerprint : str
        Hash of the members and settings (part of the targets' settings fingerprint).
    reused : bool
        Found valid from an earlier run.
    error : str
        Why there is no basis (empty when there is one or none was wanted).
    """

    group: str
    path: str | None
    n_stars: int
    fingerprint: str
    reused: bool = False
    error: str = ""


def basis_settings(mission: str, regressors: Any, n_folds: int) -> dict[str, Any]:
    """The ElcBasis.build settings for a group of ``mission`` (from the resolved RegressorConfig)."""
    from ..regressors import RegressorConfig

    cfg = (regressors or RegressorConfig()).resolved(mission)
    return {"n_components": int(cfg.n_elc), "exclusion_radius": float(cfg.exclusion_radius),
            "weighting": cfg.elc_weighting, "n_folds": int(n_folds),
            "find_breaks": (regressors or RegressorConfig()).searches_breaks(mission)}


def _fingerprint(paths: Sequence[str], settings: dict[str, Any], flux_column: str | None) -> str:
    h = hashlib.sha256(json.dumps({"settings": settings, "flux_column": flux_column}, sort_keys=True).encode())
    for p in sorted(paths):
        st = os.stat(p)
        h.update(f"{os.path.realpath(p)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def read_lightcurve(path: str, flux_column: str | None = None) -> Any:
    """Read one star for a basis (a pixel file summed over its aperture); None if unreadable."""
    from ..io import read
    from ..timeseries import PixelSeries

    try:
        series = read(path, flux_column=flux_column, extra_columns=False)
    except (HalfsibError, OSError, ValueError) as err:
        log.warning("basis star skipped: %s", err)
        return None
    return series.to_lightcurve() if isinstance(series, PixelSeries) else series


def _build(stars: list[Any], settings: dict[str, Any]) -> Any:
    """ElcBasis.build, with fewer folds when the stars form fewer neighbour groups."""
    from ..regressors import ElcBasis

    folds = min(settings["n_folds"], len(stars))
    while True:
        try:
            return ElcBasis.build(stars, n_components=settings["n_components"], n_folds=folds,
                                  exclusion_radius=settings["exclusion_radius"], weighting=settings["weighting"])
        except ConfigurationError as err:
            if "n_folds" not in str(err) or folds <= 2:
                raise
            folds = max(2, folds // 2)
            log.info("basis: retrying with %d folds (%s)", folds, err)


def _campaign_breaks(group: str, paths: Sequence[str], flux_column: str | None,
                     mapper: Callable[..., Iterable[Any]]) -> tuple[float, ...] | None:
    """The group's pointing breaks (:func:`halfsib.pipeline.find_campaign_breaks`); None when no
    star could be searched (each target then searches its own)."""
    from ..pipeline import find_campaign_breaks

    try:
        found = find_campaign_breaks(sorted(paths), flux_column=flux_column, mapper=mapper)
    except HalfsibError as err:
        log.warning("group %s: no campaign pointing breaks (%s); each target searches its own", group, err)
        return None
    log.info("group %s: pointing breaks %s (from %d stars)", group,
             ", ".join(f"{t:.3f}" for t in found.times) or "none", len(found.searches))
    return found.times


def ensure_group_basis(group: str, paths: Sequence[str], basis_dir: Path, settings: dict[str, Any], *,
                       flux_column: str | None = None,
                       mapper: Callable[..., Iterable[Any]] = map) -> GroupBasis:
    """Build (or reuse) the ELC basis of one group; never raises for bad data.

    Parameters
    ----------
    group : str
        Safe group name (file name of the basis).
    paths : sequence of str
        The group's input files (its targets are its stars).
    basis_dir : Path
        ``OUTDIR/basis``.
    settings : dict
        From :func:`basis_settings`.
    flux_column : str, optional
    mapper : callable
        ``map``-like, e.g. an executor's ``map`` (reads the stars in parallel).
    """
    fingerprint = _fingerprint(paths, settings, flux_column)
    if settings["n_components"] < 1 or len(paths) < 2:
        why = "ELCs are off (n_elc = 0)" if settings["n_components"] < 1 else f"{len(paths)} star(s); a basis needs 2"
        log.info("group %s: no ELC basis: %s", group, why)
        return GroupBasis(group, None, 0, fingerprint)
    out, sidecar = basis_dir / f"{group}.fits", basis_dir / f"{group}.json"
    try:
        stored = json.loads(sidecar.read_text())
        if stored.get("fingerprint") == fingerprint and out.is_file():
            return GroupBasis(group, str(out), int(stored["n_stars"]), fingerprint, reused=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    stars = [s for s in mapper(read_lightcurve, list(paths), [flux_column] * len(paths)) if s is not None]
    try:
        basis = _build(stars, settings)
        if settings.get("find_breaks"):
            basis.pointing_breaks = _campaign_breaks(group, paths, flux_column, mapper)
        basis.save(out, overwrite=True, inputs=[s.meta.source for s in stars if s.meta.source])
    except HalfsibError as err:
        log.warning("group %s: no ELC basis: %s", group, err)
        return GroupBasis(group, None, 0, fingerprint, error=f"{type(err).__name__}: {err}")
    from .._atomic import atomic_path

    with atomic_path(sidecar) as tmp:
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "n_stars": basis.stars.n_stars,
                                   "n_folds": basis.n_folds, "settings": settings}, indent=1))
    return GroupBasis(group, str(out), int(basis.stars.n_stars), fingerprint)
