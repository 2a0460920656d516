"""halfsib as a lightkurve corrector: ``HalfSiblingCorrector(lc).correct(others=...)``.

lightkurve's correctors (``PLDCorrector``, ``CBVCorrector``, ``SFFCorrector``...) share one
shape: the constructor takes the light curve, :meth:`correct` returns the corrected light
curve and sets ``corrected_lc``, :meth:`diagnose` draws what the correction did, and a
``cadence_mask`` marks with True the cadences that may inform the noise model (False keeps
a transit out of it). This class gives halfsib that shape; the work is
:func:`halfsib.pipeline.fit_target` (design chosen per target) and, with a mask,
:func:`halfsib.model.detrend` with the masked cadences excluded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ConfigurationError
from .io.pixels import import_lightkurve

__all__ = ["HalfSiblingCorrector"]

_lk = import_lightkurve()
from lightkurve.correctors.corrector import Corrector as _Corrector  # noqa: E402  (after the quiet import)


class HalfSiblingCorrector(_Corrector):
    """Half-sibling regression of a lightkurve light curve or target pixel file.

    Parameters
    ----------
    lc : lightkurve.LightCurve or lightkurve.TargetPixelFile
        The target. A light curve that lightkurve read as PDCSAP is modelled from its
        ``sap_flux`` (with a warning): the mission's correction is not corrected again.

    Attributes
    ----------
    original_lc : lightkurve.LightCurve
    corrected_lc : lightkurve.LightCurve
        After :meth:`correct`: systematics removed, stellar variability kept, normalised to 1,
        good cadences only (the mission's class, with ``LABEL``/``TARGETID``/``MISSION``).
    cadence_mask : ndarray of bool
        The mask of the last :meth:`correct` (True: used to fit the noise model).
    result : DetrendResult
        halfsib's full result of the last :meth:`correct` (components, leakage, CDPP).

    Examples
    --------
    >>> corrector = HalfSiblingCorrector(lk.read("ktwo247589423-c13_llc.fits"))  # doctest: +SKIP
    >>> corrected = corrector.correct(others=lk.LightCurveCollection(neighbours))  # doctest: +SKIP
    >>> corrector.diagnose()  # doctest: +SKIP
    """

    def __init__(self, lc: Any):
        self.target = lc
        self.original_lc = lc if isinstance(lc, _lk.LightCurve) else lc.to_lightcurve()
        self.cadence_mask: np.ndarray | None = None
        self.result: Any = None

    def correct(self, others: Any = (), *, basis: Any = None, cbv: Any = None,
                cadence_mask: np.ndarray | None = None, kernel: str = "sho", show_progress: bool = False) -> Any:
        """Fit the half-sibling model and return the corrected light curve.

        Parameters
        ----------
        others : paths, lightkurve objects, a LightCurveCollection or halfsib series
            Other stars of the same campaign/sector (the regressors' source).
        basis, cbv : path or object, optional
            A prebuilt eigen-light-curve basis (``halfsib basis``); a CBV table.
        cadence_mask : ndarray of bool, optional
            One entry per cadence of ``original_lc`` (lightkurve's polarity): True where the
            cadence may inform the model, False to keep it out (a transit). Default: all True.
        kernel : {"sho", "rotation", "matern32", "none"}
            The stellar-variability GP.
        show_progress : bool

        Returns
        -------
        lightkurve.LightCurve
            ``corrected_lc``.
        """
        from .model import DetrendConfig
        from .pipeline import fit_target, load_target
        from .timeseries import LightCurve

        config = DetrendConfig(kernel=kernel)
        star = load_target(self.target)
        mask = None
        if cadence_mask is not None:
            keep = np.asarray(cadence_mask, bool)
            if keep.shape != (len(self.original_lc),):
                raise ConfigurationError(f"cadence_mask has shape {keep.shape}; give one entry per cadence of "
                                         f"original_lc ({len(self.original_lc)})")
            lc = star if isinstance(star, LightCurve) else star.to_lightcurve()
            mask = self._on_model_cadences(~keep, lc)  # masked in every candidate design and in the choice
        _, _, fit, _ = fit_target(star, others=others, basis=basis, cbv=cbv, config=config,
                                  show_progress=show_progress, transit_mask=mask)
        self.cadence_mask = np.ones(len(self.original_lc), bool) if cadence_mask is None else keep
        self.result = fit
        self.corrected_lc = fit.to_lightkurve()
        return self.corrected_lc

    def _on_model_cadences(self, excluded: np.ndarray, lc: Any) -> np.ndarray:
        """A per-cadence flag of ``original_lc`` moved onto ``lc``'s cadences (matched by
        cadence number, else by time)."""
        original = self.original_lc
        if "cadenceno" in original.colnames:
            keys, ours = np.asarray(original["cadenceno"], np.int64), lc.cadenceno
        else:
            keys, ours = np.round(np.asarray(original.time.value, float), 6), np.round(lc.time, 6)
        flagged = set(keys[excluded].tolist())
        return np.fromiter((k in flagged for k in ours.tolist()), bool, count=ours.size)

    def diagnose(self) -> Any:
        """The figure of the last correction (raw flux and model, corrected flux, residuals)."""
        if self.result is None:
            raise ConfigurationError("call correct() before diagnose()")
        return self.result.plot()
