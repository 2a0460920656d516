"""Composition of the stages for one target (used by the CLI and, later, by batch).

io → regressors → model; no argument parsing, no printing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .exceptions import DataValidationError
from .model import DetrendConfig, detrend
from .results import DetrendResult
from .timeseries import LightCurve, PixelSeries, same_photometry

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

__all__ = ["load_target", "load_others", "prepare_target", "detrend_target", "search_target"]


def load_target(source: PathLike | Any, *, flux_column: str | None = None) -> LightCurve | PixelSeries:
    """Read the target (a path or a lightkurve object) with :func:`halfsib.io.read`."""
    from .io import read

    return read(source, flux_column=flux_column)


def _same_star(a: LightCurve | PixelSeries, b: LightCurve | PixelSeries) -> bool:
    if a.meta.source and b.meta.source and Path(a.meta.source).resolve() == Path(b.meta.source).resolve():
        return True
    return bool(a.meta.target_id) and a.meta.target_id == b.meta.target_id


def load_others(paths: Sequence[PathLike], target: LightCurve | PixelSeries, *, flux_column: str | None = None,
                show_progress: bool = False) -> tuple[list[LightCurve], list[PixelSeries], list[Any]]:
    """Read the regressor stars: light curves (for ELCs) and pixel files (for CPM).

    Unreadable files are skipped and returned as failures; the target itself (same file or
    same id) is dropped. A pixel file contributes its pixels to CPM and its aperture sum to
    the ELCs.
    """
    from .io import read_many

    series, failures = read_many(list(paths), on_error="skip", show_progress=show_progress,
                                 flux_column=flux_column)
    curves, stamps = _split(series, target)
    return curves, stamps, failures


def _split(series: Sequence[LightCurve | PixelSeries], target: LightCurve | PixelSeries
           ) -> tuple[list[LightCurve], list[PixelSeries]]:
    """Drop the target; light curves for ELCs, stamps for CPM (and their aperture sums for ELCs).

    The target is recognised by its file or catalogue id and, for inputs that carry neither
    (a table), by its data: a regressor with the target's own photometry would predict the
    target perfectly, its transits included.
    """
    curves: list[LightCurve] = []
    stamps: list[PixelSeries] = []
    target_lc = target.to_lightcurve() if isinstance(target, PixelSeries) else target
    for s in series:
        if _same_star(s, target):
            continue
        lc = s.to_lightcurve() if isinstance(s, PixelSeries) else s
        if same_photometry(lc, target_lc):
            log.warning("%s among the other stars holds the target's own photometry (%s): dropped from the "
                        "regressors", s.meta.source or s.meta.target_id, target.meta.source or target.meta.target_id)
            continue
        if isinstance(s, PixelSeries):
            stamps.append(s)
        curves.append(lc)
    return curves, stamps


def prepare_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    flux_column: str | None = None,
    show_progress: bool = False,
) -> tuple[LightCurve, Any]:
    """Read the target and the regressor stars and build its design matrix.

    Returns the target's light curve (the aperture sum for a pixel file) and its
    :class:`~halfsib.design.DesignMatrix`; arguments as in :func:`detrend_target`.
    """
    from .io import read_basis
    from .regressors import ElcBasis, RegressorConfig, build_design

    star = target if isinstance(target, (LightCurve, PixelSeries)) else load_target(target, flux_column=flux_column)
    curves: list[LightCurve] = []
    stamps: list[PixelSeries] = []
    if others:
        if all(isinstance(o, (LightCurve, PixelSeries)) for o in others):
            curves, stamps = _split(others, star)  # type: ignore[arg-type]
        else:
            curves, stamps, failures = load_others(others, star, flux_column=flux_column, show_progress=show_progress)
            for failure in failures:
                log.warning("regressor star skipped: %s", failure.error)
    if isinstance(basis, (str, os.PathLike)):
        basis = ElcBasis.load(basis)
    if isinstance(cbv, (str, os.PathLike)):
        cbv = read_basis(cbv, time_format=star.time_format)
    if not curves and basis is None and cbv is None and not isinstance(star, PixelSeries):
        log.warning("%s: no other stars, basis or CBVs given: only the target's own motion and smooth "
                    "terms model the systematics", star.meta.source)
    design = build_design(star, others=curves or None, basis=basis, cbv=cbv, pixels=stamps or None,
                          config=regressors or RegressorConfig())
    lc = star if isinstance(star, LightCurve) else star.to_lightcurve()
    return lc, design


def detrend_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: DetrendConfig | None = None,
    transit_mask: NDArray[np.bool_] | None = None,
    flux_column: str | None = None,
    show_progress: bool = False,
) -> DetrendResult:
    """Read, build the design matrix and fit the systematics model of one target.

    Parameters
    ----------
    target : path, halfsib series or lightkurve object
    others : paths or series
        Other stars of the same campaign/sector (light curves and/or pixel files).
    basis : path or ElcBasis, optional
        A prebuilt eigen-light-curve basis (``halfsib basis``); replaces ELCs from ``others``.
    cbv : path or BasisTable, optional
        CBV-style vectors.
    regressors : RegressorConfig, optional
    config : DetrendConfig, optional
    transit_mask : bool array over the target's cadences, optional
        Cadences kept out of the fit (predicted from the others).
    flux_column : str, optional
        Flux column of the target and the others (default: the raw flux).
    """
    lc, design = prepare_target(target, others=others, basis=basis, cbv=cbv, regressors=regressors,
                                flux_column=flux_column, show_progress=show_progress)
    if transit_mask is not None and np.asarray(transit_mask).shape != (lc.n_cadences,):
        raise DataValidationError(f"transit_mask has shape {np.shape(transit_mask)}; the target has "
                                  f"{lc.n_cadences} cadences", lc.meta.source)
    return detrend(lc, design, config=config, transit_mask=transit_mask)


def search_target(
    target: PathLike | LightCurve | PixelSeries | Any,
    *,
    others: Sequence[PathLike] | Sequence[LightCurve | PixelSeries] = (),
    basis: PathLike | Any = None,
    cbv: PathLike | Any = None,
    regressors: Any = None,
    config: DetrendConfig | None = None,
    search_config: Any = None,
    flux_column: str | None = None,
    show_progress: bool = False,
) -> tuple[DetrendResult, Any]:
    """Fit the nuisance model (no transit mask) and run the joint transit search on it.

    Returns the :class:`DetrendResult` and the :class:`~halfsib.search.SearchResult`.
    """
    from .search import search

    lc, design = prepare_target(target, others=others, basis=basis, cbv=cbv, regressors=regressors,
                                flux_column=flux_column, show_progress=show_progress)
    fit = detrend(lc, design, config=config)
    return fit, search(lc, design, fit, config=search_config)
