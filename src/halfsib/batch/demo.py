"""``halfsib demo``: simulate a K2-like patch, run the batch on it, compare with the truth.

Everything is local and seeded: :func:`halfsib.simulate.simulate_campaign` writes a
campaign patch (light-curve files, truth tables) under ``OUTDIR/sim``, :func:`run_batch`
processes it into ``OUTDIR/batch``, and :func:`match_truth` pairs each catalog candidate
with the injected planet or eclipsing binary of its star (same period, or a simple alias,
and a predicted transit at the candidate's epoch). The result is a table
(``OUTDIR/truth_match.ecsv``), a figure (``OUTDIR/recovery.png``) and a few printed lines.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import check_output_folder
from .runner import BatchConfig, BatchSummary, run_batch

__all__ = ["DemoConfig", "DemoResult", "run_demo", "match_truth", "ALIASES"]

log = logging.getLogger(__name__)

#: period ratios (candidate / true) accepted as the same signal at an alias
ALIASES = (1.0, 0.5, 2.0, 1.0 / 3.0, 3.0)
#: relative period tolerance of a match
PERIOD_TOLERANCE = 0.01


@dataclass(frozen=True)
class DemoConfig:
    """What the demo simulates and how it runs.

    Attributes
    ----------
    n_stars : int
        Target stars of the simulated K2 patch.
    n_cadences : int or None
        Cadences (None: a full K2 campaign, 3,500 cadences ≈ 72 d).
    seed : int
    workers : int or None
        Local worker processes (None: all cores).
    planet_fraction, eb_fraction : float
    task : {"run", "search"}
        ``run``: the full per-target run (fit, ladder, vetting, claims); ``search``: detrend
        + search only (faster; nothing is claimed).
    sample : bool
        With ``run``: sample the posterior with emcee (slower) instead of the maximum-
        likelihood fit with Fisher errors.
    progress : bool
    """

    n_stars: int = 36
    n_cadences: int | None = None
    seed: int = 1
    workers: int | None = None
    planet_fraction: float = 0.2
    eb_fraction: float = 0.08
    task: str = "run"
    sample: bool = False
    progress: bool = True


@dataclass(frozen=True)
class DemoResult:
    """What the demo found: the batch summary, the truth match table and counts."""

    batch: BatchSummary
    matches: Any
    n_planets: int
    n_planets_searchable: int
    n_planets_found: int
    n_ebs: int
    n_ebs_found: int
    n_other_candidates: int
    n_leaks: int
    n_claimed: int | None
    n_claimed_planets: int
    outdir: str


def _is_match(period: float, t0: float, body: Any) -> str:
    """"exact", "alias" or "" for a candidate (period, t0) against one injected body."""
    p_true, t0_true = float(body["period"]), float(body["t0"])
    ratio = period / p_true
    for k in ALIASES:
        if abs(ratio - k) < PERIOD_TOLERANCE * k:
            tol = max(float(body["duration"]) / 24.0, 0.1)
            cycles = (t0 - t0_true) / p_true
            # with ratio 0.5 the candidate's t0 may fall half-way between true transits
            step = 0.5 if k < 1 else 1.0
            if abs(cycles / step - round(cycles / step)) * p_true * step < tol:
                return "exact" if k == 1.0 else "alias"
    return ""


def match_truth(catalog: Any, bodies: Any) -> Any:
    """Pair catalog rows with injected bodies of the same star.

    Parameters
    ----------
    catalog : astropy Table
        ``OUTDIR/catalog.ecsv`` (``target_id``, ``period``, ``t0``, ``depth``, ``snr``...).
    bodies : astropy Table
        The simulation's ``planets.ecsv`` (``object``, ``kind``, ``period``, ``t0``,
        ``duration``, ``depth``, ``n_events``).

    Returns
    -------
    astropy Table
        One row per injected body (``found``: "exact", "alias" or "") followed by one row
        per unmatched candidate (``kind`` = "other"; ``found`` = "leak" when it matches
        another star's injected body, e.g. a neighbour's eclipses in the aperture, else
        "candidate").
    """
    from astropy.table import Table

    used: set[int] = set()
    rows = []
    claimed = _claimed_flags(catalog)
    periods = np.ma.filled(np.ma.asarray(catalog["period"], dtype=float), np.nan) if len(catalog) else []
    for body in bodies:
        found, snr, idx = "", math.nan, -1
        for i, cand in enumerate(catalog):
            if i in used or str(cand["target_id"]) != str(body["object"]):
                continue
            how = _is_match(float(periods[i]), float(cand["t0"]), body) if math.isfinite(periods[i]) else ""
            if how:
                found, snr, idx = how, float(cand["snr"]), i
                break
        if idx >= 0:
            used.add(idx)
        rows.append((str(body["object"]), str(body["kind"]), float(body["period"]), float(body["depth"]),
                     int(body["n_events"]), found, snr, claimed[idx] if idx >= 0 else None))
    for i, cand in enumerate(catalog):
        if i not in used:
            period = float(periods[i])
            leak = math.isfinite(period) and any(
                _is_match(period, float(cand["t0"]), body) for body in bodies
                if str(body["object"]) != str(cand["target_id"]))
            rows.append((str(cand["target_id"]), "other", period, float(cand["depth"]),
                         int(cand["n_transits"]), "leak" if leak else "candidate", float(cand["snr"]), claimed[i]))
    t = Table(rows=[r[:7] for r in rows] or None,
              names=("target_id", "kind", "period", "depth", "n_events", "found", "snr"),
              dtype=(str, str, float, float, int, str, float))
    flags = [r[7] for r in rows]
    t["claimed"] = np.ma.MaskedArray([bool(f) for f in flags], mask=[f is None for f in flags], dtype=bool)
    t["claimed"].description = "the matched candidate was claimed (masked: no candidate, or the task does not claim)"
    t["period"] = np.ma.masked_invalid(np.asarray(t["period"], float))  # a single event has no period
    t["period"].unit, t["depth"].unit = "d", "ppm"
    t["snr"] = np.ma.masked_invalid(np.asarray(t["snr"], float))
    t["found"].description = ("exact / alias (period ratio 1/2, 2, 1/3, 3) / '' (missed); for other candidates: "
                              "'leak' (another star's injected signal) or 'candidate'")
    return t


def _claimed_flags(catalog: Any) -> list[bool | None]:
    """The catalog's ``claimed`` per row (None where masked or absent)."""
    if "claimed" not in catalog.colnames:
        return [None] * len(catalog)
    col = catalog["claimed"]
    mask = np.ma.getmaskarray(col)
    return [None if m else bool(v) for v, m in zip(np.ma.getdata(col), mask)]


def _simulate(config: DemoConfig, simdir: Path) -> Any:
    from ..simulate import SimulationConfig, simulate_campaign, write_campaign

    sim = SimulationConfig(mission="k2", n_stars=config.n_stars, n_cadences=config.n_cadences, seed=config.seed,
                           planet_fraction=config.planet_fraction, eb_fraction=config.eb_fraction,
                           planet_rp_range=(0.03, 0.12))
    camp = simulate_campaign(sim, progress=config.progress)
    write_campaign(camp, simdir, pixels=False, overwrite=True, progress=config.progress)
    return camp


def run_demo(outdir: str | os.PathLike[str], config: DemoConfig | None = None) -> DemoResult:
    """Simulate, run the batch, match with the truth, draw the figure (see the module docstring)."""
    from astropy.table import Table

    from ..io import write_table

    config = config or DemoConfig()
    out = check_output_folder(outdir, "output folder")
    simdir = out / "sim"
    if not (simdir / "planets.ecsv").exists():
        _simulate(config, simdir)
    batch = run_batch([simdir / "lc"], out / "batch", _batch_config(config))
    catalog = Table.read(out / "batch" / "catalog.ecsv")
    bodies = Table.read(simdir / "planets.ecsv")
    matches = match_truth(catalog, bodies)
    write_table(matches, out / "truth_match.ecsv")
    _figure(matches, out / "recovery.png")
    planets = matches[matches["kind"] == "planet"]
    ebs = matches[matches["kind"] == "eb"]
    flags = _claimed_flags(catalog)
    n_claimed = None if config.task != "run" else sum(bool(f) for f in flags)
    claimed_planets = (matches["kind"] == "planet") & ~np.ma.getmaskarray(matches["claimed"]) & \
        np.ma.filled(matches["claimed"], False)
    return DemoResult(batch=batch, matches=matches, n_planets=len(planets),
                      n_planets_searchable=int(np.sum(planets["n_events"] >= 2)),
                      n_planets_found=int(np.sum(planets["found"] != "")), n_ebs=len(ebs),
                      n_ebs_found=int(np.sum(ebs["found"] != "")),
                      n_other_candidates=int(np.sum(matches["kind"] == "other")),
                      n_leaks=int(np.sum(matches["found"] == "leak")), n_claimed=n_claimed,
                      n_claimed_planets=int(np.sum(claimed_planets)), outdir=str(out))


def _batch_config(config: DemoConfig) -> BatchConfig:
    if config.task not in ("run", "search"):
        from ..exceptions import ConfigurationError

        raise ConfigurationError(f"DemoConfig.task must be 'run' or 'search', got {config.task!r}")
    common = dict(workers=config.workers, plots="candidates", progress=config.progress, seed=config.seed)
    if config.task == "search":
        return BatchConfig(**common)
    from ..fit import FitConfig
    from ..run import RunConfig
    from .tasks import run_task

    return BatchConfig(**common, task=run_task, run=RunConfig(fit=None if config.sample else FitConfig(sample=False)))


def _figure(matches: Any, path: Path) -> None:
    # a pyplot-free Figure: no backend to switch (a notebook keeps its inline figures)
    from matplotlib.figure import Figure

    from .._atomic import atomic_path

    fig = Figure(figsize=(7, 5), constrained_layout=True)
    ax = fig.subplots()
    styles = {("planet", True): ("o", "C2", "planet found"), ("planet", False): ("o", "none", "planet missed"),
              ("eb", True): ("s", "C1", "EB found"), ("eb", False): ("s", "none", "EB missed")}
    for (kind, found), (marker, face, label) in styles.items():
        sel = (matches["kind"] == kind) & ((matches["found"] != "") == found)
        if np.any(sel):
            ax.scatter(matches["period"][sel], matches["depth"][sel], marker=marker, facecolors=face,
                       edgecolors="C2" if kind == "planet" else "C1", s=50, label=label)
    other = matches["kind"] == "other"
    if np.any(other):
        ax.scatter(matches["period"][other], np.abs(matches["depth"][other]), marker="x", color="C3",
                   label="other candidate")
    ax.set(xscale="log", yscale="log", xlabel="period [d]", ylabel="depth [ppm]",
           title="halfsib demo: injected signals and what the batch found")
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def summary_lines(result: DemoResult) -> list[str]:
    """The demo's printed summary."""
    b = result.batch
    lines = [f"batch: {b.n_targets} targets in {b.wall_seconds:.0f} s on {b.executor}: {b.n_done} done now, "
             f"{b.n_complete_before} already complete, {b.n_failed} failed, {b.n_candidates} candidate(s)",
             f"planets: {result.n_planets_found} of {result.n_planets} injected found "
             f"({result.n_planets_searchable} have >= 2 transits in the data)",
             f"eclipsing binaries: {result.n_ebs_found} of {result.n_ebs} found (a search finds them too; "
             "vetting tells them apart)",
             f"other candidates: {result.n_other_candidates} ({result.n_leaks} another star's injected signal "
             "leaking into the aperture; the rest repeats of a found signal or false alarms)"]
    missed = result.matches[(result.matches["kind"] == "planet") & (result.matches["found"] == "")]
    for row in missed:
        lines.append(f"  missed {row['target_id']}: P = {row['period']:.2f} d, depth {row['depth']:.0f} ppm, "
                     f"{row['n_events']} transit(s)")
    if result.n_claimed is None:
        lines.append("claimed: not evaluated (the task was detrend + search; the default demo task claims)")
    else:
        lines.append(f"claimed: {result.n_claimed} candidate(s), {result.n_claimed_planets} of them injected planets "
                     f"(of {result.n_planets}); {result.n_claimed - result.n_claimed_planets} other claim(s)")
    lines.append(f"wrote {result.outdir}/recovery.png, truth_match.ecsv, batch/catalog.ecsv and the "
                 "figures of the targets with candidates in batch/targets/")
    return lines
