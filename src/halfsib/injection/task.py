"""The batch task of an injection–recovery run (the batch signature, so the local pool,
Dask, resume and the output lock all apply).

Per target, :class:`InjectionTask` reads the file, draws its injections from a generator
seeded with the target's seed (``numpy.random.default_rng(target.seed)``: the batch seed
and the target id, whatever the worker count), and for each one writes the injected copy
into ``targets/<name>/injNN/``, reruns the pipeline there on it with the group's shared
basis, and matches the candidates with the injection. Its rows (one per injection) become
``injections.ecsv``. With no injections (``n_per_target=0`` or ``invert=True``) it runs the
pipeline once on the target as it is (or on its inverted copy) and returns the candidates:
a false-alarm run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Injection, InjectionConfig
from .tables import INJECTION_UNITS

__all__ = ["InjectionTask", "PipelineProducts", "run_pipeline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineProducts:
    """The candidates of one pipeline run.

    Attributes
    ----------
    rows : tuple of dict
        Candidate rows, strongest first (the pipeline's candidate table).
    passes : tuple of bool
        Whether each passes the automated cuts (``claimed`` for ``run``; S/N ≥ the search's
        ``min_snr`` for ``fast``).
    claimed : tuple of bool or None
        ``claimed`` per candidate (None: not evaluated, ``fast``).
    outputs : tuple of str
        Files written, relative to the folder.
    units : dict
    """

    rows: tuple[dict[str, Any], ...]
    passes: tuple[bool, ...]
    claimed: tuple[bool, ...] | None
    outputs: tuple[str, ...]
    units: dict[str, str]


def periodic_rows(rows: Any) -> tuple[dict[str, Any], ...]:
    """The candidate rows without the single events: injections are periodic, and the
    false-alarm rates are those of periodic candidates (single events are never claimed)."""
    return tuple(dict(r) for r in rows if not r.get("single_event"))


def _fast(target: Any, context: Any, folder: Path) -> PipelineProducts:
    from ..batch.tasks import detrend_search_task
    from ..search import SearchConfig

    products = detrend_search_task(target, context, folder)
    min_snr = (context.search or SearchConfig()).min_snr
    rows = periodic_rows(products.rows)
    passes = tuple(bool(np.isfinite(r.get("snr", np.nan)) and r["snr"] >= min_snr) for r in rows)
    return PipelineProducts(rows, passes, None, tuple(products.outputs), dict(products.units))


def _full(target: Any, context: Any, folder: Path, config: InjectionConfig) -> PipelineProducts:
    """The batch's ``run`` task (:func:`halfsib.batch.tasks.run_task`) with the injection's RunConfig."""
    from ..batch.tasks import replace_context, run_task
    from ..fit import FitConfig
    from ..run import RunConfig

    cfg = config.run or context.run or RunConfig(fit=FitConfig(sample=False))
    cfg = dataclasses.replace(cfg, detrend=cfg.detrend or context.detrend, search=cfg.search or context.search)
    products = run_task(target, replace_context(context, run=cfg), folder)
    rows = periodic_rows(products.rows)
    claimed = tuple(r.get("claimed") is True for r in rows)
    return PipelineProducts(rows, claimed, claimed, tuple(products.outputs), dict(products.units))


def run_pipeline(target: Any, context: Any, folder: Path, config: InjectionConfig) -> PipelineProducts:
    """Run the configured pipeline (``config.mode``) on ``target.path``, writing into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return _fast(target, context, folder) if config.mode == "fast" else _full(target, context, folder, config)


@dataclass(frozen=True)
class InjectionTask:
    """Batch task: inject, rerun the pipeline, match (``task(target, context, outdir)``).

    Parameters
    ----------
    config : InjectionConfig
    """

    config: InjectionConfig = dataclasses.field(default_factory=InjectionConfig)

    def __post_init__(self) -> None:
        # the batch fingerprints its task by module and qualified name: give this instance a
        # name that carries its settings, so changing them redoes the targets on a rerun
        digest = hashlib.sha256(repr(self.config).encode()).hexdigest()[:12]
        object.__setattr__(self, "__qualname__", f"InjectionTask[{digest}]")

    def __call__(self, target: Any, context: Any, outdir: Path) -> Any:
        from ..io import read

        series = read(target.path, flux_column=context.flux_column)
        if not self.config.injects:
            return self._false_alarms(series, target, context, Path(outdir))
        return self._injections(series, target, context, Path(outdir))

    def draws(self, series: Any, seed: int) -> tuple[Injection, ...]:
        """The target's injections: ``config.fixed``, or draws seeded with ``seed``."""
        from .draw import draw_injections

        if self.config.fixed:
            return self.config.fixed
        lc = series if hasattr(series, "flux") and np.ndim(series.flux) == 1 else series.to_lightcurve()
        t_start = lc.time_range[0]
        return draw_injections(self.config, t_start, np.random.default_rng(seed))

    def _injections(self, series: Any, target: Any, context: Any, outdir: Path) -> Any:
        from ..batch.tasks import TaskProducts
        from .inject import destination_for, injected_name, write_injected
        from .tables import write_injection_table

        rows, outputs = [], []
        for index, injection in enumerate(self.draws(series, target.seed), start=1):
            folder = outdir / injected_name(index)
            path = destination_for(target.path, folder)
            written = write_injected(series, path, injection, dilution=self.config.dilution)
            spec = dataclasses.replace(target, path=str(path))
            products = run_pipeline(spec, context, folder, self.config)
            rows.append(self._row(index, injection, written, products, folder.name, path.name))
            outputs += [f"{folder.name}/{name}" for name in products.outputs]
            if self.config.keep_files:
                outputs.append(f"{folder.name}/{path.name}")
            else:
                path.unlink()
            log.info("injection %d: P=%.3f d k=%.4f expected S/N %.1f -> %s", index, injection.period,
                     injection.rp_over_rs, written.expected_snr, rows[-1]["match"])
        write_injection_table(rows, outdir / "injections.ecsv", target=target.target_id,
                              settings=self.config.distributions())
        outputs.append("injections.ecsv")
        info = {"n_injections": len(rows), "n_recovered": sum(bool(r["recovered"]) for r in rows)}
        return TaskProducts(rows=tuple(rows), units=dict(INJECTION_UNITS), outputs=tuple(outputs), info=info)

    def _row(self, index: int, injection: Injection, written: Any, products: PipelineProducts, folder: str,
             file_name: str) -> dict[str, Any]:
        from .match import best_match

        found, match = best_match(products.rows, injection, self.config.match, products.passes)
        row = products.rows[found] if found is not None else {}
        accepted = match.kind == "exact" or (match.kind == "alias" and self.config.match.aliases_recovered)
        recovered = bool(found is not None and products.passes[found] and accepted)
        claimed = None if products.claimed is None or found is None else bool(products.claimed[found])
        return {"injection": index, "file": f"{folder}/{file_name}", "period": injection.period,
                "t0": injection.t0, "rp_over_rs": injection.rp_over_rs, "b": injection.b, "q1": injection.q1,
                "q2": injection.q2, "a_over_rs": injection.a_over_rs, "phase": injection.phase,
                "duration": written.duration_hours, "depth": written.depth_ppm,
                "target_fraction": written.target_fraction, "noise": written.noise_ppm,
                "noise_measured": written.noise_measured_ppm,
                "expected_snr": written.expected_snr, "n_transits": written.n_transits, "recovered": recovered,
                "match": match.kind or "none", "alias": match.kind == "alias", "ratio": match.ratio or None,
                "found_rank": None if found is None else found + 1,
                "found_period": _get(row, "period"), "found_t0": _get(row, "t0"), "found_depth": _get(row, "depth"),
                "found_snr": _get(row, "snr"), "found_claimed": claimed, "epoch_offset": match.epoch_offset_hours,
                "n_candidates": len(products.rows), "n_passing": int(sum(products.passes))}

    def _false_alarms(self, series: Any, target: Any, context: Any, outdir: Path) -> Any:
        from ..batch.tasks import TaskProducts
        from .inject import destination_for, write_injected

        spec = target
        outputs: list[str] = []
        if self.config.invert:
            path = destination_for(target.path, outdir / "inverted")
            write_injected(series, path, None, invert=True)
            spec = dataclasses.replace(target, path=str(path))
            if self.config.keep_files:
                outputs.append(f"inverted/{path.name}")
        products = run_pipeline(spec, context, outdir, self.config)
        if not self.config.keep_files and self.config.invert:
            Path(spec.path).unlink()
        snrs = [r.get("snr") for r in products.rows if isinstance(r.get("snr"), (int, float))]
        info = {"n_candidates": len(products.rows), "n_passing": int(sum(products.passes)),
                "n_claimed": None if products.claimed is None else int(sum(products.claimed)),
                "max_snr": max(snrs) if snrs else None, "inverted": self.config.invert}
        return TaskProducts(rows=products.rows, units=products.units, outputs=(*outputs, *products.outputs),
                            info=info)


def _get(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    return float(value) if isinstance(value, (int, float, np.floating, np.integer)) else None
