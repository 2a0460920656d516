"""Transit-search benchmark: halfsib's joint search on raw data vs detrend-then-search peers.

Run:  python benchmarks/bench_search.py [--quick] [--workdir DIR] [--data ../shared/data] [--json OUT]

Needs the ``bench`` extra (``pip install halfsib[bench]``: transitleastsquares, wotan).
Every number of a table comes from the same run, on the same light curves:

* **halfsib**: ``halfsib.detrend`` + ``halfsib.search`` on the raw aperture flux (SAP /
  FRAW) with every other star of the campaign as regressors (no detrending first).
* **PLD+BLS**, **PLD+TLS** (simulations): lightkurve's PLDCorrector (K2/TESS defaults) on
  the simulated target pixel file, wotan biweight flattening (window 0.75 d ≈ 3× a 6-h
  T14), then astropy ``BoxLeastSquares`` (halfsib's period grid and durations) or
  ``transitleastsquares``.
* **FCOR+BLS/TLS** (real K2 data): K2SFF's corrected ``FCOR`` + the same flattening.

Simulated campaigns (halfsib.simulate, seeded): the false-alarm threshold of each method is
the highest top-peak statistic (halfsib: robust SNR; BLS/TLS: SDE) over the stars with no
planet and no eclipsing binary; a planet is recovered when a method's top peak above that
threshold matches it (period within 1 %, mid-transit within max(T14, 2 h)). Depth ratio:
method depth / (injected central depth × (1 − aperture contamination)).
Speed: one thread (numba, BLAS, TLS ``use_threads=1``); ``uptime`` is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TLS_KW = dict(use_threads=1, show_progress_bar=False)
WOTAN_WINDOW = 0.75  # d, ≈ 3 × T14 of a 6-h transit


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/halfsib-bench-search"))
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--k2-stars", type=int, default=20)
    p.add_argument("--tess-stars", type=int, default=6)
    p.add_argument("--tess-cadences", type=int, default=18000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--tls-oversampling", type=float, default=3.0, help="TLS oversampling_factor (its default 3)")
    p.add_argument("--skip", nargs="*", default=[], choices=["k2", "tess", "real", "speed"])
    p.add_argument("--quick", action="store_true", help="small campaigns (a smoke run)")
    p.add_argument("--halfsib-pixels", action="store_true",
                   help="give halfsib the target pixel file (its PLD terms) instead of the light curve")
    p.add_argument("--halfsib-only", action="store_true", help="skip the peers on the simulated campaigns")
    p.add_argument("--json", type=Path, default=None, help="also write every number as JSON")
    return p.parse_args(argv)


# --- one light curve, every method ------------------------------------------------------------------------

def _flatten(t: np.ndarray, f: np.ndarray) -> np.ndarray:
    from wotan import flatten

    return flatten(t, f, method="biweight", window_length=WOTAN_WINDOW)


def _finite(*arrays: np.ndarray) -> np.ndarray:
    keep = np.ones(arrays[0].size, bool)
    for a in arrays:
        keep &= np.isfinite(a)
    return keep


def run_bls(t: np.ndarray, f: np.ndarray, dy: np.ndarray, periods: np.ndarray, durations_h: tuple[float, ...]
            ) -> dict[str, float]:
    """astropy BLS on a flattened light curve; SDE of its log-likelihood periodogram."""
    from astropy.timeseries import BoxLeastSquares

    start = time.perf_counter()
    bls = BoxLeastSquares(t, f, dy)
    durations = np.array([d for d in durations_h if d / 24 < 0.5 * periods.min()] or [min(durations_h)]) / 24
    res = bls.power(periods, durations, objective="likelihood")
    elapsed = time.perf_counter() - start
    power = np.asarray(res.power)
    i = int(np.argmax(power))
    sde = float((power[i] - power.mean()) / (power.std() or 1.0))
    return dict(period=float(res.period[i]), t0=float(res.transit_time[i]), duration=24 * float(res.duration[i]),
                depth=1e6 * float(res.depth[i]), stat=sde, time=elapsed)


def run_tls(t: np.ndarray, f: np.ndarray, dy: np.ndarray, period_max: float, oversampling: float
            ) -> dict[str, float]:
    """transitleastsquares on a flattened light curve (defaults, one thread)."""
    from transitleastsquares import transitleastsquares

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = transitleastsquares(t, f, dy).power(period_min=0.5, period_max=period_max,
                                                  oversampling_factor=oversampling, **TLS_KW)
    elapsed = time.perf_counter() - start
    depth = 1e6 * (1 - float(res.depth)) if np.isfinite(res.depth) else 0.0
    return dict(period=float(res.period), t0=float(res.T0), duration=24 * float(res.duration), depth=depth,
                stat=float(res.SDE) if np.isfinite(res.SDE) else 0.0, time=elapsed)


def run_halfsib(lc: Any, others: list[Any], *, cbv: Any = None, keep_fit: bool = False, **settings: Any
                ) -> dict[str, Any]:
    """Nuisance fit + joint search on the raw flux; candidates and timings (and the fit with ``keep_fit``)."""
    from halfsib.model import detrend
    from halfsib.pipeline import prepare_target
    from halfsib.search import search
    from halfsib.search.periodic import robust_snr

    lc, design = prepare_target(lc, others=others, cbv=cbv)
    start = time.perf_counter()
    fit = detrend(lc, design)
    t_fit = time.perf_counter() - start
    start = time.perf_counter()
    result = search(lc, design, fit, **settings)
    t_search = time.perf_counter() - start
    cands = [dict(period=c.period, t0=c.t0, duration=c.duration, depth=c.depth, depth_err=c.depth_err,
                  box_depth=c.box_depth, stat=c.snr, odd_even=c.odd_even_sigma, secondary=c.secondary_snr,
                  n=c.n_transits) for c in result.candidates]
    pg = result.periodograms[0]
    best = int(np.argmax(np.where(pg.n_transits > 0, pg.power, -np.inf)))
    peak = dict(period=float(pg.periods[best]), t0=float(pg.t0[best]), depth=1e6 * float(pg.depth[best]),
                box_depth=1e6 * float(pg.depth[best]), stat=robust_snr(pg, best))
    out = dict(cands=cands, top=cands[0] if cands else peak, time_fit=t_fit, time=t_search,
               n_cadences=int(lc.time.size), n_columns=design.n_columns)
    if keep_fit:  # the DetrendResult (corrected flux for precision metrics; not JSON-serialisable)
        out["fit"] = fit
    return out


# --- simulated campaigns ------------------------------------------------------------------------------------

def _simulate(mission: str, n_stars: int, n_cadences: int | None, seed: int, outdir: Path) -> None:
    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign

    if (outdir / "truth.ecsv").exists():
        return
    kw = {} if n_cadences is None else {"n_cadences": n_cadences}
    camp = simulate_campaign(SimulationConfig(mission=mission, n_stars=n_stars, seed=seed, planet_fraction=0.5,
                                              eb_fraction=0.1, **kw))
    write_campaign(camp, outdir, pixels=True, overwrite=True, progress=False)


def _pld_flat(tpf_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import lightkurve as lk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clc = lk.read(str(tpf_path)).to_corrector("pld").correct()
    t, f, e = (np.asarray(getattr(clc, k).value, float) for k in ("time", "flux", "flux_err"))
    keep = _finite(t, f, e)
    t, f, e = t[keep], f[keep], e[keep]
    med = np.median(f)
    flat = _flatten(t, f / med)
    keep = np.isfinite(flat)
    return t[keep], flat[keep], (e / med)[keep]


def _matches(sig: dict[str, float], body: Any) -> bool:
    period, t0 = float(body["period"]), float(body["t0"])
    ratios = (0.5, 1.0, 2.0) if body["kind"] == "eb" else (1.0,)
    for r in ratios:
        p_true = r * period
        if abs(sig["period"] / p_true - 1) < 0.01:
            phase = (sig["t0"] - t0 + 0.5 * p_true) % p_true - 0.5 * p_true
            if r == 0.5:
                phase = min(abs(phase), abs(abs(phase) - 0.5 * p_true))  # primary or secondary
            if abs(phase) < max(float(body["duration"]), 2.0) / 24:
                return True
    return False


def run_campaign(mission: str, args: argparse.Namespace, n_stars: int, n_cadences: int | None) -> dict[str, Any]:
    """Every method on every star of one simulated campaign; recovery at matched false-alarm rate."""
    from astropy.table import Table

    import halfsib
    from halfsib.search import SearchConfig
    from halfsib.search.periodic import period_grid

    outdir = args.workdir / f"{mission}-s{args.seed}-n{n_stars}"
    _simulate(mission, n_stars, n_cadences, args.seed, outdir)
    truth, bodies = Table.read(outdir / "truth.ecsv"), Table.read(outdir / "planets.ecsv")
    lcs = [halfsib.read(outdir / f) for f in truth["lc_file"]]
    stars = []
    for i in range(len(truth)):
        sid = int(truth["star_id"][i])
        mine = bodies[bodies["star_id"] == sid]
        row: dict[str, Any] = dict(star=sid, kind=star_kind(truth, i, len(mine)),
                                   contamination=float(truth["contamination"][i]), mag=float(truth["mag"][i]))
        target = halfsib.read(outdir / truth["tpf_file"][i]) if args.halfsib_pixels else lcs[i]
        hs = run_halfsib(target, lcs, max_planets=3)
        if args.halfsib_only:
            row.update(halfsib=hs, bls=dict(period=0.0, t0=0.0, depth=0.0, stat=0.0, time=0.0),
                       tls=dict(period=0.0, t0=0.0, depth=0.0, stat=0.0, time=0.0))
            row["bodies"] = [{k: (str(b[k]) if k == "kind" else float(b[k])) for k in
                              ("kind", "period", "t0", "duration", "depth", "n_events")} for b in mine]
            stars.append(row)
            print(f"  {mission} {sid} {row['kind']:6s} halfsib top P={hs['top']['period']:.3f} "
                  f"snr={hs['top']['stat']:.1f}", flush=True)
            continue
        t, flat, dy = _pld_flat(outdir / truth["tpf_file"][i])
        cfg = SearchConfig()
        durations = cfg.resolved_durations(lcs[i].meta.mission)
        periods = period_grid(float(t[-1] - t[0]), min(durations), cfg)
        row["halfsib"] = hs
        row["bls"] = run_bls(t, flat, dy, periods, durations)
        row["tls"] = run_tls(t, flat, dy, float(t[-1] - t[0]) / 2, args.tls_oversampling)
        row["bodies"] = [{k: (str(b[k]) if k == "kind" else float(b[k])) for k in
                          ("kind", "period", "t0", "duration", "depth", "n_events")} for b in mine]
        stars.append(row)
        top = hs["top"]
        print(f"  {mission} {sid} {row['kind']:6s} halfsib top P={top.get('period', 0):.3f} snr={top.get('stat', 0):.1f}"
              f" ({hs['time_fit']:.1f}+{hs['time']:.1f} s) | BLS P={row['bls']['period']:.3f} SDE={row['bls']['stat']:.1f}"
              f" | TLS P={row['tls']['period']:.3f} SDE={row['tls']['stat']:.1f} ({row['tls']['time']:.1f} s) | truth "
              + ", ".join(f"{b['kind']} P={b['period']:.3f} {b['depth']:.0f} ppm" for b in row["bodies"]), flush=True)
    return dict(mission=mission, stars=stars, summary=summarise(stars))


def star_kind(truth: Any, i: int, n_bodies: int) -> str:
    """"eb", "planet", "eb-neighbour" (an EB placed next to it leaks eclipses in) or "none" (quiet)."""
    if truth["is_eb"][i]:
        return "eb"
    if n_bodies:
        return "planet"
    neighbours = {int(x) for x in np.asarray(truth["eb_neighbour_id"])[np.asarray(truth["is_eb"], bool)]}
    return "eb-neighbour" if int(truth["star_id"][i]) in neighbours else "none"


def _top(row: dict[str, Any], method: str) -> dict[str, float] | None:
    if method == "halfsib":
        return row["halfsib"]["top"]  # first candidate, else the first periodogram's peak (below min_snr)
    return row[method]


def summarise(stars: list[dict[str, Any]]) -> dict[str, Any]:
    """Thresholds from the quiet stars, recovery and depth ratios per method."""
    quiet = [s for s in stars if s["kind"] == "none"]
    planets = [(s, b) for s in stars for b in s["bodies"] if b["kind"] == "planet" and b["n_events"] >= 2]
    ebs = [(s, b) for s in stars for b in s["bodies"] if b["kind"] == "eb"]
    out: dict[str, Any] = {"n_quiet": len(quiet), "n_planets": len(planets), "n_ebs": len(ebs)}
    for method in ("halfsib", "bls", "tls"):
        stats = [(_top(s, method) or {}).get("stat", 0.0) for s in quiet]
        thr = max(stats) if stats else 0.0
        rec, ratios, found_eb = 0, [], 0
        for s, b in planets:
            sig = _top(s, method)
            if sig and sig["stat"] > thr and _matches(sig, b):
                rec += 1
                ratios.append(sig["depth"] / (b["depth"] * (1 - s["contamination"])))
        for s, b in ebs:
            sig = _top(s, method)
            found_eb += bool(sig and sig["stat"] > thr and _matches(sig, b))
        out[method] = dict(threshold=thr, recovered=rec, recovery=rec / max(len(planets), 1), eb_found=found_eb,
                           depth_ratio_median=float(np.median(ratios)) if ratios else math.nan,
                           depth_ratios=ratios)
    # halfsib: every candidate (iterative masking), and its box depth, at its own threshold
    thr = out["halfsib"]["threshold"]
    any_rec, ratios, box = 0, [], []
    for s, b in planets:
        for c in s["halfsib"]["cands"]:
            if c["stat"] > thr and _matches(c, b):
                any_rec += 1
                ratios.append(c["depth"] / (b["depth"] * (1 - s["contamination"])))
                box.append(c["box_depth"] / (b["depth"] * (1 - s["contamination"])))
                break
    out["halfsib_all"] = dict(recovered=any_rec, recovery=any_rec / max(len(planets), 1),
                              depth_ratio_median=float(np.median(ratios)) if ratios else math.nan,
                              box_ratio_median=float(np.median(box)) if box else math.nan, depth_ratios=ratios)
    out["time"] = {m: float(np.median([s[m]["time"] for s in stars])) for m in ("halfsib", "bls", "tls")}
    out["time"]["halfsib_fit"] = float(np.median([s["halfsib"]["time_fit"] for s in stars]))
    return out


def print_campaign(res: dict[str, Any]) -> None:
    s = res["summary"]
    print(f"\n### Simulated {res['mission'].upper()}: {len(res['stars'])} stars, {s['n_planets']} planets with >= 2 "
          f"transits, {s['n_ebs']} EBs, {s['n_quiet']} quiet stars (false-alarm set)\n")
    print("| method | FA threshold | planets recovered (top peak) | EBs found | median depth ratio | median time/target [s] |")
    print("|---|---|---|---|---|---|")
    names = {"halfsib": "halfsib joint (raw flux), robust SNR", "bls": "PLD + wotan + BLS, SDE",
             "tls": "PLD + wotan + TLS, SDE"}
    for m in ("halfsib", "bls", "tls"):
        r = s[m]
        extra = f" (+ fit {s['time']['halfsib_fit']:.1f})" if m == "halfsib" else ""
        print(f"| {names[m]} | {r['threshold']:.1f} | {r['recovered']}/{s['n_planets']} ({100 * r['recovery']:.0f} %) "
              f"| {r['eb_found']}/{s['n_ebs']} | {r['depth_ratio_median']:.3f} | {s['time'][m]:.2f}{extra} |")
    a = s["halfsib_all"]
    print(f"| halfsib, any of its candidates | {s['halfsib']['threshold']:.1f} | {a['recovered']}/{s['n_planets']} "
          f"({100 * a['recovery']:.0f} %) | | {a['depth_ratio_median']:.3f} (box {a['box_ratio_median']:.3f}) | |")


# --- speed --------------------------------------------------------------------------------------------------

def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    """Search stages on one simulated K2 and one TESS target, TLS and BLS on the same light curve, one thread."""
    import numba
    from astropy.table import Table

    import halfsib
    from halfsib.model import detrend
    from halfsib.pipeline import prepare_target
    from halfsib.search import SearchConfig, fitted_likelihood
    from halfsib.search.periodic import period_grid, periodogram
    from halfsib.search.single import single_event_grid

    numba.set_num_threads(1)
    out = {}
    for mission, n_stars, n_cad in (("k2", 8, None), ("tess", 4, args.tess_cadences)):
        outdir = args.workdir / f"speed-{mission}"
        _simulate(mission, n_stars, n_cad, args.seed + 1, outdir)
        truth = Table.read(outdir / "truth.ecsv")
        lcs = [halfsib.read(outdir / f) for f in truth["lc_file"]]
        lc, design = prepare_target(lcs[0], others=lcs)
        fit = detrend(lc, design)
        cfg = SearchConfig(max_planets=1, refit_masked=False, fit_shape=False)
        durations = cfg.resolved_durations(lc.meta.mission)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            ml, excl = fitted_likelihood(lc, design, fit)
            grid = single_event_grid(ml, fit.time, excl, cfg, durations)  # warm-up (numba cache)
            periods = period_grid(float(fit.time[-1] - fit.time[0]), min(durations), cfg)
            periodogram(grid, periods[:50], 2)
            t0 = time.perf_counter()
            ml, excl = fitted_likelihood(lc, design, fit)
            t1 = time.perf_counter()
            grid = single_event_grid(ml, fit.time, excl, cfg, durations)
            t2 = time.perf_counter()
            periodogram(grid, periods, 2)
            t3 = time.perf_counter()
            coarse = periodogram(grid, periods, 2, coarsen=False)  # the previous, uncoarsened fold
            t4 = time.perf_counter()
        del coarse
        full = run_halfsib(lcs[0], lcs, max_planets=3)
        run_tls(np.arange(300) * 0.02, np.ones(300) + 1e-4 * np.sin(np.arange(300)), np.full(300, 1e-4), 2.9, 3.0)
        flat = 1 + fit.residual + fit.stellar  # any flattened light curve of the same cadences
        flat = _flatten(fit.time, flat)
        keep = np.isfinite(flat)
        tt, ff, dy = fit.time[keep], flat[keep], (fit.flux_err / np.median(fit.flux))[keep]
        bls = run_bls(tt, ff, dy, periods, durations)
        tls = run_tls(tt, ff, dy, float(tt[-1] - tt[0]) / 2, 3.0)
        out[mission] = dict(n=int(fit.time.size), n_columns=design.n_columns, n_epochs=int(grid.epochs.size),
                            n_durations=len(durations), n_periods=int(periods.size), model=t1 - t0, grid=t2 - t1,
                            periodogram=t3 - t2, periodogram_uncoarsened=t4 - t3, grid_plus_periodogram=t3 - t1,
                            search_full=full["time"], bls=bls["time"], tls=tls["time"])
    return out


def print_speed(sp: dict[str, Any]) -> None:
    print("\n### Speed (one thread; simulated targets; seconds)\n")
    print("| mission | N | M | epochs × durations | periods | model build | single-event grid | periodogram | "
          "grid + periodogram | (uncoarsened periodogram) | full search (3 planets, refit, shapes) | BLS | TLS "
          "| TLS / (grid + periodogram) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m, r in sp.items():
        print(f"| {m.upper()} | {r['n']} | {r['n_columns']} | {r['n_epochs']} × {r['n_durations']} | {r['n_periods']} | "
              f"{r['model']:.2f} | {r['grid']:.2f} | {r['periodogram']:.2f} | **{r['grid_plus_periodogram']:.2f}** | "
              f"{r['periodogram_uncoarsened']:.2f} | {r['search_full']:.2f} | {r['bls']:.2f} | {r['tls']:.1f} | "
              f"{r['tls'] / r['grid_plus_periodogram']:.0f}× |")


# --- real data ----------------------------------------------------------------------------------------------

KNOWN = {"K2-136": (247589423, (7.975, 17.307, 25.575)), "K2-3": (201367065, (10.054, 24.647, 44.56))}


def _peer_iterations(t: np.ndarray, flat: np.ndarray, dy: np.ndarray, n: int, durations: tuple[float, ...],
                     periods: np.ndarray) -> dict[str, list[dict[str, float]]]:
    """BLS and TLS with the previous signals' transits removed, ``n`` times each."""
    from transitleastsquares import transit_mask

    out: dict[str, list] = {"bls": [], "tls": []}
    for method in ("bls", "tls"):
        keep = np.ones(t.size, bool)
        for _ in range(n):
            if method == "bls":
                sig = run_bls(t[keep], flat[keep], dy[keep], periods, durations)
            else:
                sig = run_tls(t[keep], flat[keep], dy[keep], float(t[-1] - t[0]) / 2, 3.0)
            out[method].append(sig)
            keep &= ~transit_mask(t, sig["period"], 2 * max(sig["duration"], 1.0) / 24, sig["t0"])
    return out


def _known_match(period: float, known: tuple[float, ...]) -> str:
    for name, p in zip("bcd", known):
        if abs(period / p - 1) < 0.01:
            return name
    return "-"


def run_real(args: argparse.Namespace) -> dict[str, Any]:
    """K2-136 (C13 FRAW, the other 131 stars as regressors) and K2-3 (C1 FRAW, EVEREST C1 basis)."""
    from halfsib.io import read, read_many
    from halfsib.search import SearchConfig
    from halfsib.search.periodic import period_grid

    out = {}
    c13 = sorted((args.data / "k2-c13" / "k2sff").glob("*.fits"))
    c1 = args.data / "k2-c1"
    jobs = []
    if c13:
        series, _ = read_many(c13, show_progress=False)
        target = next(s for s in series if s.meta.target_id and s.meta.target_id.endswith(str(KNOWN["K2-136"][0])))
        jobs.append(("K2-136", target, series, None, c13[[str(KNOWN["K2-136"][0]) in p.name for p in c13].index(True)]))
    k2_3 = c1 / "hlsp_k2sff_k2_lightcurve_201367065-c01_kepler_v1_llc.fits"
    if k2_3.exists():
        jobs.append(("K2-3", read(k2_3), [], c1 / "everest_c01_cbv_basis.txt", k2_3))
    for name, target, others, cbv, path in jobs:
        hs = run_halfsib(target, others, cbv=cbv, max_planets=4)
        from astropy.io import fits

        with fits.open(path) as h:
            d = h[1].data
            t, fcor = np.asarray(d["T"], float), np.asarray(d["FCOR"], float)
        keep = _finite(t, fcor)
        t, fcor = t[keep], fcor[keep] / np.median(fcor[keep])
        flat = _flatten(t, fcor)
        keep = np.isfinite(flat)
        t, flat = t[keep], flat[keep]
        dy = np.full(t.size, 1.4826 * np.median(np.abs(np.diff(flat))) / math.sqrt(2))
        cfg = SearchConfig()
        durations = cfg.resolved_durations("K2")
        periods = period_grid(float(t[-1] - t[0]), min(durations), cfg)
        peers = _peer_iterations(t, flat, dy, 3, durations, periods)
        out[name] = dict(halfsib=hs, **peers)
    return out


def print_real(real: dict[str, Any]) -> None:
    print("\n### Real K2 data: known planets\n")
    print("| target | method | signal | period [d] | depth [ppm] | statistic | known planet | time [s] |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in real.items():
        known = KNOWN[name][1]
        for i, c in enumerate(r["halfsib"]["cands"]):
            print(f"| {name} | halfsib (FRAW) | {i + 1} | {c['period']:.4f} | {c['depth']:.0f} ± {c['depth_err']:.0f} "
                  f"(box {c['box_depth']:.0f}) | SNR {c['stat']:.1f} | {_known_match(c['period'], known)} | "
                  f"{r['halfsib']['time_fit']:.1f} + {r['halfsib']['time']:.1f} |")
        for m in ("bls", "tls"):
            for i, c in enumerate(r[m]):
                print(f"| {name} | FCOR + wotan + {m.upper()} | {i + 1} | {c['period']:.4f} | {c['depth']:.0f} | "
                      f"SDE {c['stat']:.1f} | {_known_match(c['period'], known)} | {c['time']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.quick:
        args.k2_stars, args.tess_stars, args.tess_cadences = 8, 4, 4000
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"# halfsib search benchmark  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load: {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}, {os.cpu_count()} cores)", flush=True)
    results: dict[str, Any] = {}
    if "speed" not in args.skip:
        results["speed"] = run_speed(args)
        print_speed(results["speed"])
    if "real" not in args.skip and args.data.exists():
        results["real"] = run_real(args)
        print_real(results["real"])
    for mission, n, n_cad in (("k2", args.k2_stars, None), ("tess", args.tess_stars, args.tess_cadences)):
        if mission not in args.skip:
            results[mission] = run_campaign(mission, args, n, n_cad)
            print_campaign(results[mission])
    print(f"\nload at the end: {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
