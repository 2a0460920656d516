"""Vetting: the tests a transit candidate must pass before it is believed (``docs/vet.md``).

>>> report = vet(lc, design, candidate, pixels=stamp)     # doctest: +SKIP
>>> report.passed, report.to_table(), report.plot()       # doctest: +SKIP

Each test returns a :class:`VetTest` (value, threshold, passed, detail); a test that
cannot run says so (``passed`` None, the reason in ``detail``) instead of giving a number.
"""

from __future__ import annotations

import logging
import sys
import time as _time
import types
from typing import Any

from ..design import DesignMatrix
from ..model import DetrendConfig
from ..timeseries import LightCurve, PixelSeries
from .ephemeris import DipShape, Ephemeris, box_template, transit_template, trapezoid_template
from .._blas import blas_threads
from .fitted import FittedModel, TemplateFit, fit_candidate_model, fit_templates
from .flags import flag_coincidence_test
from .photometric import (
    dominance_tests, duration_test, folded_light_curve, odd_even_test, phase_curve_test, secondary_scan_test,
    best_dip_shape, refine_box_duration, secondary_test, shape_test,
)
from .pixels import pixel_centroid_test, pixel_depth_image
from .results import FoldedLightCurve, PixelDepthImage, VetConfig, VetReport, VetTest

__all__ = ["vet", "VetReport", "VetTest", "VetConfig", "Ephemeris", "DipShape", "FittedModel", "TemplateFit",
           "FoldedLightCurve", "PixelDepthImage", "fit_candidate_model", "fit_templates", "box_template",
           "trapezoid_template", "transit_template"]

log = logging.getLogger(__name__)


def vet(lc: LightCurve, design: DesignMatrix, candidate: Any, *, pixels: PixelSeries | None = None,
        config: VetConfig | None = None, detrend_config: DetrendConfig | None = None,
        stellar_density: float | None = None, template: Any = None, model: FittedModel | None = None
        ) -> VetReport:
    """Run every vetting test on one candidate.

    Parameters
    ----------
    lc, design : LightCurve, DesignMatrix
        The target and its full design (as for :func:`halfsib.model.detrend`).
    candidate : Candidate, TransitParams, Ephemeris or (period [d], t0 [d], duration [h])
        Where the transits are.
    pixels : PixelSeries, optional
        The target's stamp, for the per-pixel depth image (else that test is "not run").
    config : VetConfig, optional
        Thresholds.
    detrend_config : DetrendConfig, optional
        Settings of the nuisance-model fit (ignored when ``model`` is given).
    stellar_density : float, optional
        Stellar density [solar units]; default: the lowest main-sequence value of
        ``config.density_range``.
    template : TransitParams, optional
        Limb-darkened template for the pixel depths (default: the box).
    model : FittedModel, optional
        A model already fitted with this candidate masked (e.g. ``LadderResult.top_model``).

    Returns
    -------
    VetReport
    """
    with blas_threads((detrend_config or DetrendConfig()).blas_threads):
        return _vet(lc, design, candidate, pixels, config or VetConfig(), detrend_config, stellar_density, template,
                    model)


def _vet(lc: LightCurve, design: DesignMatrix, candidate: Any, pixels: PixelSeries | None, cfg: VetConfig,
         detrend_config: DetrendConfig | None, stellar_density: float | None, template: Any,
         model: FittedModel | None) -> VetReport:
    started = _time.perf_counter()
    eph = Ephemeris.of(candidate)
    model = model or fit_candidate_model(lc, design, eph, config=detrend_config)
    eph = refine_box_duration(model, eph)
    model = model.with_shape(DipShape(params=template) if template is not None else best_dip_shape(model, eph))
    odd_even = odd_even_test(model, eph, cfg)
    tests = [odd_even, secondary_test(model, eph, cfg), secondary_scan_test(model, eph, cfg),
             phase_curve_test(model, eph, cfg), *dominance_tests(model, eph, cfg),
             flag_coincidence_test(lc, model, eph, cfg), shape_test(model, eph, cfg),
             duration_test(model, eph, cfg, stellar_density)]
    image = None
    if pixels is not None:
        image = pixel_depth_image(lc, pixels, model, eph, model.dip(eph))
    tests.append(pixel_centroid_test(image, cfg))
    folded = folded_light_curve(model, eph, odd_even)
    report = VetReport(tests=tuple(tests), ephemeris=eph, folded=folded, shape=model.shape.describe(eph),
                       pixel_image=image if isinstance(image, PixelDepthImage) else None,
                       seconds=_time.perf_counter() - started)
    log.info("vetting P=%.4f d: %s", eph.period, "passed" if report.passed else f"failed {report.failed}")
    return report


class _CallableModule(types.ModuleType):
    """``halfsib.vet`` names both this subpackage and its main function.

    Once the subpackage is imported, ``halfsib.vet`` is the module (Python binds submodules
    on their parent); calling it calls :func:`vet`, so ``halfsib.vet(lc, design, candidate)``
    works whatever was imported first.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> VetReport:
        return vet(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
