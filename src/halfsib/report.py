"""Outputs of ``halfsib run``: the candidate table, the summary, the files and the report page.

Everything here reads a :class:`halfsib.run.TargetRun`; nothing is computed again. The
tables never hold NaN: a value that does not exist (a stage that failed, a test that did
not run, a candidate beyond ``max_candidates``) is masked, and the reason is in a text
column (``fit_status``, ``claim_reason``).
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ConfigurationError
from .io import package_versions

__all__ = ["search_candidate_table", "period_alias_factor", "candidate_table", "run_summary", "write_run", "report_figure", "report_rows",
           "SEARCH_COLUMNS", "FIT_QUANTITIES", "VET_TESTS", "OUTPUT_NAMES"]

PathLike = str | os.PathLike[str]

#: search columns, with units
SEARCH_COLUMNS: Mapping[str, str] = {
    "period": "d", "period_err": "d", "t0": "d", "t0_err": "d", "duration": "h", "depth": "ppm",
    "depth_err": "ppm", "delta_loglike": "", "snr": "", "snr_without_strongest": "", "n_transits": "",
    "dominant_event_fraction": "",
    "odd_even_sigma": "", "variable_depth_delta_loglike": "", "secondary_snr": "", "impact": "", "rp_over_rs": "",
    "box_duration": "h", "box_depth": "ppm", "box_depth_err": "ppm",
}
#: physical-fit quantities copied into the candidate table (``fit_<q>``, ``fit_<q>_err``, ``post_<q>``...)
FIT_QUANTITIES = ("period", "t0", "rp_over_rs", "b", "a_over_rs", "q1", "q2", "depth", "duration", "rho_star")
#: the fixed output names in a run's folder (per-candidate files add ``_<rank>``)
OUTPUT_NAMES = {"candidates": "candidates.ecsv", "lightcurve": "lightcurve.fits", "summary": "summary.json",
                "report_png": "report.png", "report_pdf": "report.pdf"}


def _time_system(time_format: str) -> str:
    from .timeseries import TIME_FORMATS

    offset = TIME_FORMATS[time_format][0]
    return f"{time_format.upper()} = BJD_TDB - {offset:.0f} d" if offset else time_format


def search_candidate_table(detrend: Any, search: Any) -> Any:
    """The search's candidates as an astropy Table with units (one row per candidate).

    Parameters
    ----------
    detrend : DetrendResult
        The nuisance fit the search used (for the target's identity and time system).
    search : SearchResult
    """
    from astropy.table import MaskedColumn, Table

    rows = search.all_candidates
    table = Table(meta={"target": detrend.meta.target_id or "", "mission": detrend.meta.mission,
                        "time_system": _time_system(detrend.time_format),
                        "masked_lone_events": _masked_events(search)})
    table["target"] = np.array([detrend.meta.target_id or ""] * len(rows), dtype=str)
    for name, unit in SEARCH_COLUMNS.items():
        if name == "n_transits":
            table[name] = np.array([c.n_transits for c in rows], dtype=int)
            continue
        values = np.array([getattr(c, name) for c in rows], dtype=float)
        table[name] = MaskedColumn(np.where(np.isfinite(values), values, 0.0), mask=~np.isfinite(values),
                                   unit=unit or None)  # a single event's period is not known: masked
    table["single_event"] = np.array([bool(getattr(c, "single", False)) for c in rows], dtype=bool)
    table["period_min"] = MaskedColumn([float(getattr(c, "period_min", 0.0)) for c in rows], unit="d",
                                       mask=[not getattr(c, "single", False) for c in rows])
    table["period_alias_factor"] = np.array([period_alias_factor(c, detrend.time) for c in rows], dtype=int)
    return table


def period_alias_factor(candidate: Any, time: Any) -> int:
    """:meth:`halfsib.vet.ephemeris.Ephemeris.alias_factor` of a candidate on the cadences ``time``
    (0 when its ephemeris cannot be read)."""
    from .exceptions import ConfigurationError
    from .vet.ephemeris import Ephemeris

    try:
        return Ephemeris.of(candidate).alias_factor(np.asarray(time, float))
    except ConfigurationError:
        return 0


def _masked_events(search: Any) -> list[dict[str, float]]:
    """The search's masked lone events as JSON/ECSV-ready records (mid-time [d], box duration [h])."""
    return [{"time": round(float(t), 5), "duration_h": float(d)} for t, d in getattr(search, "masked_events", ())]


# --------------------------------------------------------------------------- candidate table
#: text and boolean columns of the follow-up part of the candidate table (the rest are floats)
TEXT_COLUMNS = ("fit_status", "fit_flags", "ladder_top_rung", "ladder_tension_rung", "vet_failed", "claim_reason")


def _is_bool_column(name: str) -> bool:
    return name in ("fit_converged", "ladder_claimed", "vet_passed", "claimed", "single_event_candidate") or \
        name.endswith("_passed")


def _masked(name: str, values: list[Any], unit: str | None = None) -> Any:
    """A MaskedColumn with None (and non-finite floats) masked; text columns stay plain."""
    from astropy.table import Column, MaskedColumn

    if name in TEXT_COLUMNS:
        return Column(np.array([v or "" for v in values], dtype=str), name=name)
    if _is_bool_column(name):
        return MaskedColumn(np.array([bool(v) if v is not None else False for v in values], dtype=bool), name=name,
                            mask=[v is None for v in values])
    missing = [v is None or not math.isfinite(float(v)) for v in values]
    data = [0.0 if m else float(v) for v, m in zip(values, missing)]
    return MaskedColumn(np.array(data, dtype=float), name=name, mask=missing, unit=unit or None)


def _fit_columns(outcome: Any) -> dict[str, Any]:
    fit = outcome.fit if outcome is not None else None
    cols: dict[str, Any] = {"fit_status": "not fitted" if outcome is None else
                            ("ok" if fit is not None else outcome.errors.get("fit", "failed"))}
    for q in FIT_QUANTITIES:
        ml = fit.maximum_likelihood.get(q) if fit is not None else None
        err = fit.fisher_errors.get(q) if fit is not None else None
        post = fit.posterior.get(q) if fit is not None and fit.posterior else None
        cols[f"fit_{q}"] = ml
        cols[f"fit_{q}_err"] = err
        cols[f"post_{q}"] = post.median if post is not None else None
        cols[f"post_{q}_minus"] = post.minus if post is not None else None
        cols[f"post_{q}_plus"] = post.plus if post is not None else None
    cols["fit_delta_loglike"] = fit.delta_loglike if fit is not None else None
    cols["fit_converged"] = fit.converged if fit is not None else None
    cols["fit_flags"] = ";".join(fit.flags) if fit is not None else ""
    return cols


def _ladder_columns(outcome: Any) -> dict[str, Any]:
    ladder = outcome.ladder if outcome is not None else None
    top = ladder.top if ladder is not None else None
    tension = ladder.tension if ladder is not None else None
    return {"ladder_top_rung": top.name if top is not None else "",
            "ladder_top_depth": top.depth if top is not None else None,
            "ladder_top_depth_err": top.depth_err if top is not None else None,
            "ladder_top_snr": top.snr if top is not None else None,
            "ladder_min_snr": ladder.min_snr if ladder is not None else None,
            "ladder_tension": tension[0] if tension is not None else None,
            "ladder_tension_rung": tension[1] if tension is not None else "",
            "ladder_claimed": ladder.claimed if ladder is not None else None}


def _vet_columns(outcome: Any, names: Iterable[str]) -> dict[str, Any]:
    report = outcome.vetting if outcome is not None else None
    cols: dict[str, Any] = {"vet_passed": report.passed if report is not None else None,
                            "vet_failed": ",".join(report.failed) if report is not None else ""}
    tests = {t.name: t for t in report.tests} if report is not None else {}
    for name in names:
        test = tests.get(name)
        cols[f"vet_{name}"] = test.value if test is not None else None
        cols[f"vet_{name}_passed"] = test.passed if test is not None else None
    return cols


def _units_of(columns: Iterable[str]) -> dict[str, str]:
    from .fit.parameters import NATURAL_UNITS

    units: dict[str, str] = {}
    for name in columns:
        for prefix in ("fit_", "post_"):
            if name.startswith(prefix):
                base = name[len(prefix):].removesuffix("_err").removesuffix("_minus").removesuffix("_plus")
                if NATURAL_UNITS.get(base):
                    units[name] = NATURAL_UNITS[base]
    units.update({"ladder_top_depth": "ppm", "ladder_top_depth_err": "ppm"})
    return units


def candidate_table(run: Any) -> Any:
    """One row per search candidate of a :class:`~halfsib.run.TargetRun`.

    Columns: ``target``, ``rank``, the search columns (:data:`SEARCH_COLUMNS`), the physical
    fit (``fit_<q>`` maximum likelihood, ``fit_<q>_err`` Fisher 1σ, ``post_<q>`` posterior
    median with ``post_<q>_minus``/``_plus`` 68 % interval, for q in :data:`FIT_QUANTITIES`;
    ``fit_status``, ``fit_converged``, ``fit_flags``), the ladder (``ladder_*``), the vetting
    (``vet_passed``, ``vet_failed`` and ``vet_<test>``/``vet_<test>_passed`` per test),
    ``claimed`` and ``claim_reason``.
    """
    table = search_candidate_table(run.detrend, run.search)
    table.meta["claim_rule"] = ("fit ok AND ladder top-rung S/N >= claim_snr AND ladder tension <= "
                                "ladder_tension_sigma AND no vetting test failed AND no other candidate at the same period "
                                "AND more than one transit (single events are reported, never claimed)")
    table.meta["claim_snr"] = run.config.claim_snr
    table.meta["ladder_tension_sigma"] = run.config.ladder_tension_sigma
    table["rank"] = np.arange(1, len(table) + 1)
    by_rank = {o.index: o for o in run.outcomes}
    outcomes = [by_rank.get(i + 1) for i in range(len(table))]
    test_names = _test_names(run.outcomes)
    rows = [_follow_up_row(o, test_names) for o in outcomes]
    names = list(_follow_up_row(None, test_names))
    units = _units_of(names)
    for name in names:
        table[name] = _masked(name, [r[name] for r in rows], units.get(name))
    return table


def _follow_up_row(outcome: Any, test_names: list[str]) -> dict[str, Any]:
    return {**_fit_columns(outcome), **_ladder_columns(outcome), **_vet_columns(outcome, test_names),
            "claimed": bool(outcome is not None and outcome.claimed),
            "single_event_candidate": bool(outcome is not None and outcome.single_event_candidate),
            "claim_reason": _claim_reason(outcome)}


#: the vetting tests, in report order (a catalog has the same columns whatever ran)
VET_TESTS = ("odd_even", "secondary", "secondary_best_phase", "phase_curve", "single_event_dominance",
             "depth_consistency", "flag_coincidence", "shape_v_vs_u", "duration_density", "pixel_centroid")


def _test_names(outcomes: Iterable[Any]) -> list[str]:
    names: list[str] = list(VET_TESTS)
    for o in outcomes:
        for t in (o.vetting.tests if o.vetting is not None else ()):
            if t.name not in names:
                names.append(t.name)
    return names


def _claim_reason(outcome: Any) -> str:
    if outcome is None:
        return "not followed up (beyond max_candidates)"
    return "claimed" if outcome.claimed else "; ".join(outcome.claim_blockers)


# --------------------------------------------------------------------------- summary
def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return _finite(value.item())
    return value


def _candidate_summary(outcome: Any, time: Any) -> dict[str, Any]:
    c = outcome.candidate
    alias = period_alias_factor(c, time)
    out = {"rank": outcome.index, "period_d": c.period, "t0": c.t0, "duration_h": c.duration, "depth_ppm": c.depth,
           "snr": c.snr, "period_alias_factor": alias, "claimed": outcome.claimed,
           "single_event": outcome.single_event, "single_event_candidate": outcome.single_event_candidate,
           "claim_reason": _claim_reason(outcome),
           "errors": dict(outcome.errors), "seconds": dict(outcome.seconds)}
    if outcome.fit is not None:
        out["fit"] = {k: _finite(float(v)) for k, v in outcome.fit.maximum_likelihood.items()}
        out["fit_converged"] = outcome.fit.converged
    if outcome.ladder is not None:
        out["ladder_snr"] = {r.name: _finite(r.snr) for r in outcome.ladder.evaluated}
    if outcome.vetting is not None:
        out["vet_failed"] = list(outcome.vetting.failed)
        out["vet_not_run"] = list(outcome.vetting.not_run)
    return {k: _finite(v) for k, v in out.items()}


def run_summary(run: Any) -> dict[str, Any]:
    """A JSON-ready summary of a run: target, data, model, candidates, claims, timings, versions."""
    d = run.detrend
    return {
        "target": d.meta.target_id or "", "mission": d.meta.mission, "source": d.meta.source,
        "time_system": _time_system(d.time_format), "n_cadences": int(d.time.size),
        "n_fitted": int((~d.masked & ~d.clipped).sum()), "design_columns": dict(d.design_columns),
        "systematics_model": run.systematics_scope,
        "pointing_breaks_days": [float(b) for b in run.pointing_breaks],
        "hyperparameters": {k: _finite(float(v)) for k, v in d.hyperparameters.items()},
        "corrected_rms_ppm": _finite(float(d.corrected_rms_ppm)),
        "cdpp_ppm": {"raw": _finite(float(run.corrected.raw_cdpp_ppm)), "corrected": _finite(float(run.corrected.cdpp_ppm)),
                     "definition": "lightkurve estimate_cdpp, 6.5 h, 2.06-d Savitzky-Golay flattening; candidate "
                                   "transits and clipped outliers left out"},
        "n_candidates": len(run.search.candidates), "masked_lone_events": _masked_events(run.search),
        "n_single_events": len(getattr(run.search, "single_candidates", ())),
        "n_followed_up": len(run.outcomes),
        "n_claimed": len(run.claimed),
        "n_single_event_candidates": sum(o.single_event_candidate for o in run.outcomes), "candidates": [_candidate_summary(o, d.time) for o in run.outcomes],
        "seconds": {k: round(v, 3) for k, v in run.seconds.items()},
        "settings": {"claim_snr": run.config.claim_snr, "max_candidates": run.config.max_candidates,
                     "ladder_widen": run.config.ladder_widen,
                     "ladder_tension_sigma": run.config.ladder_tension_sigma, "seed": run.config.seed,
                     "detrend": repr(run.config.detrend), "search": repr(run.config.search),
                     "fit": repr(run.config.fit), "vet": repr(run.config.vet)},
        "inputs": list(run.inputs), "versions": package_versions(),
    }


# --------------------------------------------------------------------------- files
def _planned(run: Any, figure: bool) -> list[str]:
    names = [OUTPUT_NAMES["candidates"], OUTPUT_NAMES["lightcurve"], OUTPUT_NAMES["summary"]]
    for o in run.outcomes:
        if o.fit is not None:
            names.append(f"fit_{o.index}.ecsv")
            if o.fit.chain is not None:
                names.append(f"chains_{o.index}.npz")
        if o.ladder is not None:
            names.append(f"ladder_{o.index}.ecsv")
        if o.vetting is not None:
            names.append(f"vet_{o.index}.ecsv")
    if figure:
        names += [OUTPUT_NAMES["report_png"], OUTPUT_NAMES["report_pdf"]]
    return names


def write_run(run: Any, outdir: PathLike, *, overwrite: bool = False, figure: bool = True) -> list[Path]:
    """Write a run's outputs into ``outdir`` (created if needed), each file atomically.

    ``candidates.ecsv`` (:func:`candidate_table`), ``lightcurve.fits`` (the nuisance fit, as
    from ``halfsib detrend``), ``fit_<n>.ecsv`` and ``chains_<n>.npz`` (the physical fit of
    candidate n), ``ladder_<n>.ecsv``, ``vet_<n>.ecsv``, ``summary.json`` and the report page
    ``report.png``/``report.pdf``. The summary is written last.

    Raises
    ------
    ConfigurationError
        When an output exists and ``overwrite`` is False (nothing is written then).
    """
    from ._atomic import atomic_path
    from .io import provenance, write_table

    folder = Path(outdir)
    names = _planned(run, figure)
    existing = [folder / n for n in names if (folder / n).exists()]
    if existing and not overwrite:
        raise ConfigurationError(f"{existing[0]} exists; pass overwrite=True (--overwrite) to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    record = provenance(run.inputs, settings=run.summary()["settings"])
    write_table(candidate_table(run), folder / OUTPUT_NAMES["candidates"], record=record)
    run.corrected.write(folder / OUTPUT_NAMES["lightcurve"], inputs=run.inputs)
    for o in run.outcomes:
        _write_outcome(o, folder, run.inputs, record)
    if figure:
        _write_figure(run, folder)
    with atomic_path(folder / OUTPUT_NAMES["summary"]) as tmp:
        Path(tmp).write_text(json.dumps(run.summary(), indent=2, default=str) + "\n")
    return [folder / n for n in names]


def _write_outcome(outcome: Any, folder: Path, inputs: tuple[str, ...], record: Any) -> None:
    from .io import write_table

    n = outcome.index
    if outcome.fit is not None:
        outcome.fit.write(folder / f"fit_{n}.ecsv", inputs=inputs)
        if outcome.fit.chain is not None:
            outcome.fit.write_chains(folder / f"chains_{n}.npz")
    if outcome.ladder is not None:
        write_table(outcome.ladder.to_table(), folder / f"ladder_{n}.ecsv", record=record)
    if outcome.vetting is not None:
        write_table(outcome.vetting.to_table(), folder / f"vet_{n}.ecsv", record=record)


def _write_figure(run: Any, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._atomic import atomic_path

    fig = report_figure(run)
    for key in ("report_png", "report_pdf"):
        path = folder / OUTPUT_NAMES[key]
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format=path.suffix[1:])
        fig.set_layout_engine("none")  # the layout of the first drawing is kept: the second costs half
    plt.close(fig)


# --------------------------------------------------------------------------- the report page
#: most fold-and-ladder rows on the report page (the strongest candidate, then the other claims)
MAX_REPORT_ROWS = 4


def report_rows(run: Any) -> list[Any]:
    """The outcomes that get a fold-and-ladder row: the strongest followed-up candidate, every
    other claimed one and every single-event candidate, at most :data:`MAX_REPORT_ROWS`
    (``[None]`` without candidates)."""
    if not run.outcomes:
        return [None]
    return [run.outcomes[0], *(o for o in run.outcomes[1:] if o.claimed or o.single_event_candidate)
            ][:MAX_REPORT_ROWS]


def report_figure(run: Any, *, fig: Any = None) -> Any:
    """The page to look at before believing a planet.

    Rows: raw flux with the systematics + stellar model; the corrected flux; the
    periodogram, each candidate's transits and period marked in its own colour (solid:
    claimed); then one block per candidate of :func:`report_rows` (the strongest
    followed-up candidate and every other claimed one): its folded transit and fitted model
    beside its flexibility ladder (depths with errors), and under them its vetting (odd and
    even transits, per-pixel depth image).
    """
    import matplotlib.pyplot as plt

    shown = report_rows(run)
    if fig is None:
        fig = plt.figure(figsize=(12, 7 + 5.5 * len(shown)), constrained_layout=True)
    top, middle = fig.subfigures(2, 1, height_ratios=[1.6, 2.1 * len(shown)])
    _light_curve_panels(top, run)
    for row, outcome in zip(np.atleast_1d(middle.subfigures(len(shown), 1, squeeze=False)[:, 0]), shown):
        upper, lower = row.subfigures(2, 1, height_ratios=[1.0, 1.1])
        left, right = upper.subfigures(1, 2, width_ratios=[1.0, 1.0])
        _folded_panel(left.subplots(), run, outcome)
        ladder_ax = right.subplots()
        if outcome is not None and outcome.ladder is not None:
            outcome.ladder.plot(ax=ladder_ax)
            ladder_ax.set_title(f"candidate #{outcome.index}: " + ladder_ax.get_title(), fontsize=10)
        else:
            _empty(ladder_ax, "flexibility ladder", "no candidate" if outcome is None else outcome.errors.get("ladder", ""))
        if outcome is not None and outcome.vetting is not None:
            outcome.vetting.plot(fig=lower, label=f"candidate #{outcome.index}")
        else:
            _empty(lower.subplots(), "vetting", "no candidate" if outcome is None else outcome.errors.get("vet", "not run"))
    d = run.detrend
    claims = ", ".join(f"#{o.index} P={o.candidate.period:.4f} d" for o in run.claimed) or "none"
    singles = [o for o in run.outcomes if o.single_event_candidate]
    single_text = ("; single events: " + ", ".join(f"#{o.index} t0={o.candidate.t0:.3f}" for o in singles)
                   if singles else "")
    fig.suptitle(f"{d.meta.target_id or d.meta.source} ({d.meta.mission}): {len(run.search.candidates)} "
                 f"candidate(s), claimed: {claims}{single_text}\n{textwrap.fill(run.systematics_scope['statement'], 150)}",
                 fontsize=12)
    return fig


def _empty(ax: Any, title: str, text: str) -> None:
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, text or "not available", ha="center", va="center", transform=ax.transAxes, wrap=True)


def _light_curve_panels(subfig: Any, run: Any) -> None:
    d = run.corrected
    ax_raw, ax_corr, ax_pg = subfig.subplots(3, 1)
    t = d.time
    raw = d.raw_flux / d.normalisation
    ax_raw.plot(t, raw, ".", ms=1.5, color="0.5", label="raw")
    ax_raw.plot(t, raw - d.residual, "-", lw=0.7, color="C0", label="systematics + stellar model")
    ax_raw.set(ylabel="relative flux", title="raw flux and the half-sibling model")
    ax_raw.legend(fontsize=8, loc="best")
    ax_corr.plot(t, d.flux, ".", ms=1.5, color="k")
    for o in run.outcomes:
        for j, tt in enumerate(getattr(o.candidate, "transit_times", ())):
            ax_corr.axvline(tt, color=_colour(o), ls="-" if o.claimed else "--", lw=0.7, alpha=0.6,
                            label=_mark_label(o) if j == 0 else None)
    if any(getattr(o.candidate, "transit_times", ()) for o in run.outcomes):
        ax_corr.legend(fontsize=7, loc="lower left", ncols=min(4, len(run.outcomes)))
    corrected = run.corrected
    ax_corr.set(ylabel="corrected flux", xlabel=f"time [{_time_system(d.time_format)}]",
                title=f"systematics removed (stellar variability kept); candidate transits marked\n6.5-h CDPP "
                      f"raw {corrected.raw_cdpp_ppm:.0f} ppm → corrected {corrected.cdpp_ppm:.0f} ppm")
    pg = run.search.periodogram
    ax_pg.plot(pg.periods, pg.power, "-", lw=0.6, color="k")
    for o in run.outcomes:
        if np.isfinite(o.candidate.period):  # a single event has no period
            ax_pg.axvline(o.candidate.period, color=_colour(o), lw=0.8, ls="-" if o.claimed else "--")
    ax_pg.set(xscale="log", xlabel="period [d]", ylabel="Δln L", title="joint periodic search")


def _colour(outcome: Any) -> str:
    """One matplotlib colour per candidate (its index), the same in every panel."""
    return f"C{(outcome.index - 1) % 10}"


def _mark_label(outcome: Any) -> str:
    status = "claimed" if outcome.claimed else ("single event" if outcome.single_event else "not claimed")
    return f"#{outcome.index} {status}"


def _folded_panel(ax: Any, run: Any, best: Any) -> None:
    if best is None or best.fit is None:
        _empty(ax, "folded transit", "no candidate" if best is None else f"fit: {best.errors.get('fit', '')}")
        return
    f = best.fit
    period = f.maximum_likelihood["period"]
    t0 = f.maximum_likelihood["t0"]
    hours = ((f.time - t0 + 0.5 * period) % period - 0.5 * period) * 24.0
    near = np.abs(hours) < 3.0 * max(f.maximum_likelihood["duration"], 1.0)
    corrected = 1e6 * (f.flux - f.nuisance_model)
    order = np.argsort(hours[near])
    ax.plot(hours[near], corrected[near], ".", ms=2, color="0.4", label="data − nuisance model")
    ax.plot(hours[near][order], 1e6 * f.transit_model[near][order], "-", color="C3", lw=1.2,
            label="maximum-likelihood transit")
    what = "single event" if best.single_event else f"P = {period:.5f} d"
    ax.set(xlabel="hours from mid-transit", ylabel="relative flux [ppm]",
           title=f"candidate #{best.index}: {what}, depth {f.maximum_likelihood['depth']:.0f} ppm")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo - 0.8 * (hi - lo), hi + 0.15 * (hi - lo))  # room for the legend and the fit's health
    ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    ax.text(0.99, 0.02, "\n".join(fit_health(best, run.outcomes)), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=7.5, family="monospace", bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.85))


def _value(fit: Any, name: str) -> tuple[float, float]:
    """A quantity's posterior median and half 68 % width, else maximum likelihood and Fisher error."""
    post = (fit.posterior or {}).get(name)
    if post is not None:
        return float(post.median), 0.5 * float(post.minus + post.plus)
    return float(fit.maximum_likelihood[name]), float(fit.fisher_errors.get(name, math.nan))


def fit_health(outcome: Any, outcomes: Iterable[Any]) -> list[str]:
    """What to check before believing a fit, as short lines for the report: Rp/R★ and b, the
    sampler's convergence, parameters at their bounds, and the stellar density the transit
    implies against the one the star's other claimed planets imply (one star, one density;
    circular orbits)."""
    fit = outcome.fit
    k, k_err = _value(fit, "rp_over_rs")
    b, b_err = _value(fit, "b")
    lines = [f"Rp/R* {k:.4f} ± {k_err:.4f}   b {b:.2f} ± {b_err:.2f}"]
    if fit.sampler is None:
        lines.append("emcee: not sampled (Fisher errors)")
    else:
        tau = max(fit.sampler.autocorr_time.values()) if fit.sampler.autocorr_time else math.nan
        lines.append(f"emcee: {'converged' if fit.sampler.converged else 'NOT CONVERGED'} "
                     f"({fit.sampler.n_steps} steps, tau {tau:.0f})")
    bounds = [flag.replace("_at_", " at ").replace("_bound", "") for flag in fit.flags if flag.endswith("_bound")]
    lines.append("at bounds: " + (", ".join(bounds) if bounds else "none"))
    rho, rho_err = _value(fit, "rho_star")
    line = f"rho* {rho:.2f} ± {rho_err:.2f} g/cm3"
    others = [o for o in outcomes if o is not outcome and o.claimed and o.fit is not None]
    if others and not outcome.single_event:
        values = np.array([_value(o.fit, "rho_star") for o in others])
        ok = np.isfinite(values).all(axis=1) & (values[:, 1] > 0)
        if ok.any():
            weights = 1.0 / values[ok, 1] ** 2
            mean = float(np.sum(weights * values[ok, 0]) / weights.sum())
            err = float(weights.sum() ** -0.5)
            tension = abs(rho - mean) / math.hypot(rho_err, err) if math.isfinite(rho_err) else math.nan
            line += f"; other planets {mean:.2f} ± {err:.2f} ({tension:.1f} sigma)"
    lines.append(line)
    return lines
