"""Peer comparison in one script: halfsib against lightkurve correctors + wotan + BLS/TLS, K2SFF and K2SC.

Run:  python benchmarks/bench_peers.py [--quick] [--data ../shared/data] [--seed 11] [--c13-seed 2026]
                                       [--out benchmarks/results/bench_peers.ecsv] [--sections k2,tess,c13]

The full run takes about 40 min on one core; ``--quick`` (the campaign sizes of ``bench_search.py
--quick`` and the C13 subset of ``bench_detrend.py --quick``) under 10 min.

Issue 7. Needs the ``bench`` extra (transitleastsquares, wotan) and lightkurve. Every number of a
table comes from the same run on the same inputs, one thread everywhere (BLAS, numba, TLS). The
pieces are imported, not rewritten: the correctors and precision metrics from ``bench_detrend.py``
(``lk_pld``, ``lk_sff``, ``lk_regression`` + ``others_pca``, ``truth_metrics``, ``cdpp_ppm``, the
C13 and K2SC readers), the searches from ``bench_search.py`` (``run_halfsib``, ``run_bls``,
``run_tls``, wotan ``_flatten``, the seeded campaign ``_simulate`` and the match rule ``_matches``),
and the injections from :mod:`halfsib.injection`.

Data sets, one table each:

* **sim-k2**, **sim-tess**: seeded campaigns of ``halfsib.simulate`` with pixel files (planet
  fraction 0.5, EB fraction 0.1, as ``bench_search.py``), every star a target. Each star is also
  run once more with its flux inverted (``halfsib.injection.invert_flux``; pixel files rewritten
  with ``write_injected(..., invert=True)``): dips become bumps, so a detection there is false.
* **c13**: real K2 C13 (``--data``/k2-c13): a seeded subset of the K2SFF files, always with K2-136.
  Each non-K2-136 star is run as observed (the false-alarm set), with transits injected into its
  ``FRAW`` (``draw_injections``/``transit_model``/``inject_flux``; periods 1-30 d, Rp/R* 0.02-0.12
  log-uniform) and inverted. The K2SFF ``FCOR`` and K2SC products cannot be rerun: the same transit
  is multiplied into the product flux, which never lets their detrending see (and eat) it, an
  advantage to them.

Methods: **halfsib** (``detrend`` + joint ``search`` with ``max_planets=1`` on the raw flux, every
other star as regressors; on the pixel file where one exists, and on the light curve), and
detrend-then-search peers: lightkurve ``PLDCorrector`` (mission defaults, pixel files),
``SFFCorrector`` (K2 only: no roll arc on TESS) and ``RegressionCorrector`` (30 principal
components of the other stars + spline), K2SFF ``FCOR`` and K2SC ``flux - trposi`` (C13), each
flattened by wotan (biweight, 0.75 d) and searched by astropy BLS (SDE) or TLS (SDE).

Columns:

* precision -- simulations: RMS of (corrected - truth) over the photon floor, per cadence and in
  6.5-h bins, unfiltered and high-passed over 2 d (``truth_metrics``), median over stars; C13:
  median 6.5-h CDPP (``cdpp_ppm``) on the cadences every product has, and the median per-star
  ratio to FCOR. Peers that share a corrector share its precision.
* completeness at matched false-alarm rate -- each method's threshold is its highest top-peak
  statistic over the false-alarm set (simulations: stars with no planet, no EB and no leaking EB
  neighbour; C13: the un-injected stars); a planet (>= 2 transits) is recovered when the top peak
  is above it and matches (period within 1 %, mid-transit within max(T14, 2 h); EBs also at P/2
  and 2P). "unmatched": top peaks above threshold that match nothing, per star of the signal set
  (stars with planets/EBs, injected runs); "inverted FA": top peaks above threshold on inverted
  runs, per run (in brackets: how many of those are at P, P/2 or 2P of the inverted star's own
  planet or EB, a dip found beside an inverted transit). The false-alarm set itself has zero above
  threshold by construction. With one star setting each threshold, the recovery at the
  second-highest statistic of the set (one false alarm allowed in it) is printed too.
* depth ratio -- median (method depth) / (injected central depth x (1 - contamination)) over the
  recovered planets. halfsib: template central depth of a candidate (box depth for a peak below
  ``min_snr``); TLS: its ``depth``; BLS: box depth (low for limb-darkened transits by definition).
* CPU / target -- median process CPU seconds per run of detrend + flattening + search (halfsib:
  design + fit + search). FCOR and K2SC: flattening + search only (the products are given).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # one thread everywhere, before numpy, numba and the BLAS pools start
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
NAN = float("nan")
METHODS = {  # key: (label, corrector whose precision it reports)
    "halfsib_pix": ("halfsib joint, pixel file (own PLD + other stars)", "halfsib_pix"),
    "halfsib_lc": ("halfsib joint, light curve (other stars)", "halfsib_lc"),
    "pld_bls": ("lk PLD + wotan + BLS", "pld"),
    "pld_tls": ("lk PLD + wotan + TLS", "pld"),
    "sff_tls": ("lk SFF + wotan + TLS", "sff"),
    "reg_tls": ("lk Regression + wotan + TLS", "reg"),
    "fcor_tls": ("K2SFF FCOR + wotan + TLS", "fcor"),
    "k2sc_tls": ("K2SC flux - trposi + wotan + TLS", "k2sc"),
}
SIM_METHODS = {"k2": ["halfsib_pix", "halfsib_lc", "pld_bls", "pld_tls", "sff_tls", "reg_tls"],
               "tess": ["halfsib_pix", "halfsib_lc", "pld_bls", "pld_tls", "reg_tls"]}
C13_METHODS = ["halfsib_lc", "fcor_tls", "k2sc_tls", "sff_tls", "reg_tls"]
K2_136_C = (17.307, 1500.0)  # period [d], published depth [ppm] (MANIFEST: Rp 2.9 Re, R* 0.68 Rsun)


# ------------------------------------------------------------------------ scoring (pure, tested)
def fa_threshold(stats: Iterable[float | None], rank: int = 1) -> float:
    """The matched false-alarm threshold: the highest finite top-peak statistic of the false-alarm set.

    ``rank`` 2: the second highest (one false alarm allowed in the set), and so on. NaN when the
    set has fewer finite statistics (nothing can then be called a detection).
    """
    finite = sorted((float(s) for s in stats if s is not None and math.isfinite(float(s))), reverse=True)
    return finite[rank - 1] if len(finite) >= rank else NAN


def same_period(sig: dict[str, float], body: dict[str, Any], tolerance: float = 0.01) -> bool:
    """Top-peak period within ``tolerance`` of a body's P, P/2 or 2P, at any phase."""
    return any(abs(sig["period"] / (k * body["period"]) - 1.0) < tolerance for k in (0.5, 1.0, 2.0))


def _above(sig: dict[str, float] | None, threshold: float) -> bool:
    return bool(sig) and math.isfinite(threshold) and float(sig.get("stat", NAN)) > threshold  # type: ignore[union-attr]


def score(runs: Sequence[dict[str, Any]], method: str, matches: Callable[[dict[str, float], dict[str, Any]], bool]
          ) -> dict[str, Any]:
    """Completeness, EBs, depth ratios and false alarms of one method at its matched threshold.

    ``runs``: dicts with ``role`` ("fa", "signal", "inverted" or anything else: ignored),
    ``top`` ({method: top-peak dict with ``stat``, ``period``, ``t0``, ``depth``, or None}),
    ``bodies`` (dicts with ``kind``, ``depth`` [ppm], ``n_events`` and what ``matches`` reads),
    optionally ``leaked`` (bodies of a neighbour leaking into the aperture: a match is not a
    false alarm, nor a recovery) and ``contamination``.
    """
    def top(r: dict[str, Any]) -> dict[str, float] | None:
        return r.get("top", {}).get(method)

    fa_stats = [(top(r) or {}).get("stat") for r in runs if r["role"] == "fa"]
    thr, thr2 = fa_threshold(fa_stats), fa_threshold(fa_stats, rank=2)
    signal = [r for r in runs if r["role"] == "signal"]
    inverted = [r for r in runs if r["role"] == "inverted"]
    planets = [(r, b) for r in signal for b in r["bodies"] if b["kind"] == "planet" and b["n_events"] >= 2]
    ebs = [(r, b) for r in signal for b in r["bodies"] if b["kind"] == "eb"]
    recovered, ratios = 0, []
    for r, b in planets:
        sig = top(r)
        if _above(sig, thr) and matches(sig, b):  # type: ignore[arg-type]
            recovered += 1
            ratios.append(sig["depth"] / (b["depth"] * (1.0 - r.get("contamination", 0.0))))  # type: ignore[index]
    recovered2 = sum(_above(top(r), thr2) and matches(top(r), b) for r, b in planets)  # type: ignore[arg-type]
    eb_found = sum(_above(top(r), thr) and matches(top(r), b) for r, b in ebs)  # type: ignore[arg-type]
    unmatched = sum(_above(top(r), thr) and not any(matches(top(r), b)  # type: ignore[arg-type]
                                                    for b in [*r["bodies"], *r.get("leaked", [])]) for r in signal)
    false_inv = [r for r in inverted if _above(top(r), thr)]
    at_signal = sum(any(same_period(top(r), b) for b in [*r["bodies"], *r.get("leaked", [])])  # type: ignore[arg-type]
                    for r in false_inv)
    return {"threshold": thr, "n_planets": len(planets), "recovered": recovered, "n_ebs": len(ebs),
            "threshold_2": thr2, "recovered_2": int(recovered2),
            "eb_found": int(eb_found), "depth_ratios": ratios,
            "depth_ratio": float(np.median(ratios)) if ratios else NAN,
            "n_signal": len(signal), "unmatched": int(unmatched),
            "unmatched_per_star": unmatched / len(signal) if signal else NAN,
            "n_inverted": len(inverted), "inverted_fa": len(false_inv), "inverted_fa_at_signal": int(at_signal),
            "inverted_fa_per_star": len(false_inv) / len(inverted) if inverted else NAN,
            "n_fa_set": sum(r["role"] == "fa" for r in runs)}


def best_peer(values: dict[str, float], peers: Iterable[str], better: str) -> tuple[str | None, float]:
    """The peer with the best finite value (``better``: "lower", "higher" or "closer_to_1")."""
    keyed = {"lower": lambda v: v, "higher": lambda v: -v, "closer_to_1": lambda v: abs(v - 1.0)}[better]
    finite = [(keyed(values[p]), p) for p in peers if p in values and math.isfinite(values[p])]
    if not finite:
        return None, NAN
    _, name = min(finite)
    return name, values[name]


# ------------------------------------------------------------------------ the benchmark modules
def _bench(name: str) -> Any:
    """``bench_detrend`` / ``bench_search`` from this folder (imported, not copied)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return __import__(name)


def _median(values: Iterable[float]) -> float:
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    return float(np.median(v)) if v else NAN


class Timed:
    """Runs a step, catches a peer's failure (printed, recorded), accumulates CPU seconds per key."""

    def __init__(self) -> None:
        self.runner = _bench("bench_detrend").Runner()
        self.cpu: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def __call__(self, key: str, what: str, fn: Callable[[], Any]) -> Any:
        out, _, why = self.runner(what, fn)
        self.cpu[key] = self.cpu.get(key, 0.0) + self.runner.cpu
        if why:
            self.notes[key] = why
        return out


def _quiet_tls(*args: Any) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # TLS prints its banner even without a progress bar
        return _bench("bench_search").run_tls(*args)


def peer_search(t: np.ndarray, flux: np.ndarray, dy: np.ndarray | None, searcher: str, mission: str
                ) -> dict[str, float] | None:
    """wotan biweight flattening of ``flux`` (any normalisation) + BLS or TLS; top peak.

    ``dy`` None: a constant robust point-to-point scatter of the flattened flux (K2SFF and K2SC
    products carry no per-cadence errors comparable to the raw flux).
    """
    from halfsib.search import SearchConfig
    from halfsib.search.periodic import period_grid

    bs = _bench("bench_search")
    ok = np.isfinite(t) & np.isfinite(flux) & (np.ones_like(t, bool) if dy is None else np.isfinite(dy))
    if ok.sum() < 100:
        return None
    t, f = t[ok], flux[ok] / np.median(flux[ok])
    flat = bs._flatten(t, f)
    keep = np.isfinite(flat)
    t, flat = t[keep], flat[keep]
    e = (np.full(t.size, 1.4826 * np.median(np.abs(np.diff(flat))) / math.sqrt(2)) if dy is None
         else dy[ok][keep] / np.median(flux[ok]))
    baseline = float(t[-1] - t[0])
    if searcher == "tls":
        return _quiet_tls(t, flat, e, baseline / 2, 3.0)
    cfg = SearchConfig()
    durations = cfg.resolved_durations(mission)
    return bs.run_bls(t, flat, e, period_grid(baseline, min(durations), cfg), durations)


def run_halfsib(timed: Timed, key: str, what: str, target: Any, others: list[Any]) -> tuple[Any, Any]:
    """halfsib detrend + joint search (one planet: the top peak), timed; (top peak, DetrendResult)."""
    out = timed(key, what, lambda: _bench("bench_search").run_halfsib(target, others, keep_fit=True, max_planets=1))
    return (None, None) if out is None else (out["top"], out["fit"])


def _run_peers(timed: Timed, name: str, methods: list[str], fluxes: dict[str, np.ndarray | None], t: np.ndarray,
               dy: np.ndarray | None, mission: str, top: dict[str, Any]) -> None:
    """Flatten + search every peer method whose corrected flux exists; CPU adds to the corrector's."""
    for m in methods:
        corrector = METHODS[m][1]
        if "corr:" + corrector in timed.notes:
            timed.notes[m] = timed.notes["corr:" + corrector]
        if m.startswith("halfsib") or fluxes.get(corrector) is None:
            continue
        top[m] = timed(m, f"{name} {m}", lambda c=corrector, s=m.split("_")[1]: peer_search(t, fluxes[c], dy, s,
                                                                                               mission))
        timed.cpu[m] += timed.cpu.get("corr:" + corrector, 0.0)


# ------------------------------------------------------------------------ simulated campaigns
def _load_campaign(mission: str, n_stars: int, n_cadences: int | None, seed: int, workdir: Path) -> dict[str, Any]:
    import halfsib
    from astropy.io import fits
    from astropy.table import Table

    outdir = workdir / f"{mission}-s{seed}-n{n_stars}"
    _bench("bench_search")._simulate(mission, n_stars, n_cadences, seed, outdir)
    truth, bodies = Table.read(outdir / "truth.ecsv"), Table.read(outdir / "planets.ecsv")
    with fits.open(outdir / "truth_flux.fits") as h:
        astro = np.asarray(h["ASTRO_FLUX"].data, float)
        cadenceno = np.asarray(h["CADENCES"].data["CADENCENO"], np.int64)
    lcs = [halfsib.read(outdir / f) for f in truth["lc_file"]]
    return {"outdir": outdir, "truth": truth, "bodies": bodies, "astro": astro, "cadenceno": cadenceno, "lcs": lcs}


def _bodies(table: Any) -> list[dict[str, Any]]:
    return [{k: (str(b[k]) if k == "kind" else float(b[k])) for k in ("kind", "period", "t0", "duration", "depth",
                                                                       "n_events")} for b in table]


def sim_star(camp: dict[str, Any], i: int, mission: str, methods: list[str], *, invert: bool) -> dict[str, Any]:
    """Every method on star ``i`` of a simulated campaign (or on its inverted copy)."""
    import halfsib
    from halfsib.injection import invert_flux, write_injected

    bd, bs = _bench("bench_detrend"), _bench("bench_search")
    truth, lcs = camp["truth"], camp["lcs"]
    sid = int(truth["star_id"][i])
    mine = camp["bodies"][camp["bodies"]["star_id"] == sid]
    kind = bs.star_kind(truth, i, len(mine))
    leakers = [int(s) for s, n in zip(truth["star_id"], truth["eb_neighbour_id"]) if int(n) == sid]
    contamination = float(np.ma.filled(truth["contamination"][i], 0.0))
    run: dict[str, Any] = {"star": sid, "variant": "inverted" if invert else "original", "kind": kind,
                           "role": "inverted" if invert else ("fa" if kind == "none" else "signal"),
                           "contamination": contamination, "bodies": _bodies(mine),
                           "leaked": [b for s in leakers for b in _bodies(camp["bodies"][camp["bodies"]["star_id"] == s])],
                           "top": {}, "precision": {}}
    star, tpf_path = lcs[i], camp["outdir"] / truth["tpf_file"][i]
    tpf = halfsib.read(tpf_path)
    if invert:  # the light curve and stamp in memory; lightkurve's PLD reads an inverted copy of the file
        tpf_path = camp["outdir"] / "inverted" / tpf_path.name
        tpf_path.parent.mkdir(exist_ok=True)
        write_injected(tpf, tpf_path, None, invert=True)
        star, tpf = star.replace(flux=invert_flux(star.flux)), tpf.replace(flux=invert_flux(tpf.flux))
    name = f"{mission} {sid}{' inverted' if invert else ''}"
    timed = Timed()
    good = np.flatnonzero(star.good)
    cad, tt, raw, err = star.cadenceno[good], star.time[good], star.flux[good], star.flux_err[good]
    others = [s for j, s in enumerate(lcs) if j != i]
    fluxes: dict[str, np.ndarray | None] = {}
    for key, target in (("halfsib_pix", tpf), ("halfsib_lc", star)):
        if key in methods:
            run["top"][key], fit = run_halfsib(timed, key, f"{name} {key}", target, lcs)
            fluxes[key] = None if fit is None else bd._on(cad, fit.cadenceno, fit.flux)
    pld = timed("corr:pld", f"{name} lk_pld", lambda: bd.lk_pld(tpf_path))
    fluxes["pld"] = None if pld is None else bd._on(cad, pld[0], pld[1])
    if "sff_tls" in methods:
        col = bd._fill(np.asarray(star.columns["centroid_col"][good], float), tt)
        row = bd._fill(np.asarray(star.columns["centroid_row"][good], float), tt)
        fluxes["sff"] = timed("corr:sff", f"{name} lk_sff", lambda: bd.lk_sff(tt, raw, err, col, row))
    fluxes["reg"] = timed("corr:reg", f"{name} lk_regression",
                          lambda: bd.lk_regression(tt, raw, err, bd.others_pca(tt, star, others, 30, 0.0)))
    _run_peers(timed, name, methods, fluxes, tt, err, mission, run["top"])
    if not invert:
        run["precision"] = _sim_precision(camp, i, fluxes, cad, raw, err, contamination, mission)
    run["cpu"] = {m: timed.cpu.get(m, NAN) for m in methods}
    run["notes"] = {m: timed.notes[m] for m in methods if m in timed.notes}
    return run


def _sim_precision(camp: dict[str, Any], i: int, fluxes: dict[str, np.ndarray | None], cad: np.ndarray,
                   raw: np.ndarray, err: np.ndarray, contamination: float, mission: str) -> dict[str, dict]:
    bd = _bench("bench_detrend")
    astro = bd._on(cad, camp["cadenceno"], camp["astro"][i])
    truth = 1.0 + (1.0 - contamination) * (astro / np.nanmedian(astro) - 1.0)
    cadence = bd.K2_CADENCE if mission == "k2" else float(np.median(np.diff(camp["lcs"][i].time[camp["lcs"][i].good])))
    out = {}
    for corrector, flux in fluxes.items():
        m = bd.truth_metrics(flux, truth, err / np.median(raw), cadence) if flux is not None else {}
        if m:
            out[corrector] = {"ratio": m["rms"] / m["floor"], "ratio_bin": m["rms_bin"] / m["floor_bin"],
                              "ratio_hp": m["rms_hp"] / m["floor"], "ratio_hp_bin": m["rms_hp_bin"] / m["floor_bin"]}
    return out


def run_sim(mission: str, args: argparse.Namespace, n_stars: int, n_cadences: int | None) -> dict[str, Any]:
    methods = SIM_METHODS[mission]
    camp = _load_campaign(mission, n_stars, n_cadences, args.seed, args.workdir)
    n = len(camp["lcs"])
    print(f"\n## Simulated {mission.upper()}: {n} stars x {camp['lcs'][0].n_cadences} cadences (seed {args.seed}); "
          f"{min(args.invert, n)} stars also inverted\n", flush=True)
    runs = []
    for i in range(n):
        runs.append(sim_star(camp, i, mission, methods, invert=False))
        _progress(runs[-1], methods)
    for i in range(min(args.invert, n)):
        runs.append(sim_star(camp, i, mission, methods, invert=True))
        _progress(runs[-1], methods)
    return {"dataset": f"sim-{mission}", "methods": methods, "runs": runs,
            "scores": {m: score(runs, m, _bench("bench_search")._matches) for m in methods}}


def _progress(run: dict[str, Any], methods: list[str]) -> None:
    tops = " | ".join(f"{m} P={(run['top'].get(m) or {}).get('period', NAN):.3f} "
                      f"s={(run['top'].get(m) or {}).get('stat', NAN):.1f} ({run['cpu'].get(m, NAN):.1f} s)"
                      for m in methods)
    truth = ", ".join(f"{b['kind']} P={b['period']:.3f} {b['depth']:.0f} ppm" for b in run.get("bodies", []))
    print(f"  {run['star']} {run['variant']:9s} {run.get('kind', ''):12s} {tops} | truth: {truth or '-'}", flush=True)


# ------------------------------------------------------------------------ real C13
def _c13_injections(star: Any, n: int, seed: int, epic: int) -> tuple[Any, ...]:
    from halfsib.injection import InjectionConfig, draw_injections

    cfg = InjectionConfig(n_per_target=n, period_range=(1.0, 30.0), rp_over_rs_range=(0.02, 0.12))
    return draw_injections(cfg, star.time_range[0], np.random.default_rng([seed, epic]))


def _injected_body(star: Any, inj: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """(relative transit model on all cadences, body dict for scoring)."""
    from halfsib.injection import transit_model
    from halfsib.injection.inject import count_transits, expected_snr, white_noise
    from halfsib.transit import transit_duration, transit_flux

    model = transit_model(star.time, inj)
    params = inj.transit_params()
    body = {"kind": "planet", "period": inj.period, "t0": inj.t0, "duration": 24.0 * transit_duration(params),
            "depth": 1e6 * (1.0 - float(transit_flux(np.array([inj.t0]), params)[0])),
            "n_events": count_transits(star.time, model, star.good, inj), "rp_over_rs": inj.rp_over_rs,
            "expected_snr": expected_snr(model, star.good, white_noise(star.flux, star.good))}
    return model, body


def c13_star(star: Any, series: list[Any], data: Path, *, injection: Any = None, invert: bool = False,
             role: str = "fa", variant: str = "original") -> dict[str, Any]:
    """Every C13 method on one star: as observed, with ``injection`` in FRAW (and the products), or inverted."""
    from halfsib.injection import inject_flux, invert_flux

    bd = _bench("bench_detrend")
    epic = int(star.meta.target_id.split()[-1])
    run: dict[str, Any] = {"star": epic, "variant": variant, "role": role, "kind": "real", "bodies": [], "top": {},
                           "precision": {}, "contamination": 0.0}
    good = np.flatnonzero(star.good)
    fcor_all = np.asarray(star.columns["fcor"], float)
    k2sc = bd._k2sc(data / "k2-c13" / "k2sc" / f"EPIC_{epic}_mast.fits")
    cad, tt = star.cadenceno[good], star.time[good]
    k2sc_flux = None if k2sc is None else bd._on(cad, k2sc["cadenceno"], k2sc["sys"])
    if injection is not None:
        model, body = _injected_body(star, injection)
        run["bodies"] = [body]
        star = star.replace(flux=inject_flux(star.flux, model))
        fcor_all = fcor_all * model
        k2sc_flux = None if k2sc_flux is None else k2sc_flux * model[good]
    elif invert:
        star, fcor_all = star.replace(flux=invert_flux(star.flux)), invert_flux(fcor_all)
        k2sc_flux = None if k2sc_flux is None else invert_flux(k2sc_flux)
    name = f"c13 EPIC {epic} {variant}"
    timed = Timed()
    raw, err = star.flux[good], star.flux_err[good]
    others = [s for s in series if s.meta.target_id != star.meta.target_id]
    run["top"]["halfsib_lc"], fit = run_halfsib(timed, "halfsib_lc", f"{name} halfsib", star, series)
    fluxes = {"halfsib_lc": None if fit is None else bd._on(cad, fit.cadenceno, fit.flux), "fcor": fcor_all[good],
              "k2sc": k2sc_flux}
    arc = bd._fill(np.asarray(star.columns["arclength"][good], float), tt)
    fluxes["sff"] = timed("corr:sff", f"{name} lk_sff", lambda: bd.lk_sff(tt, raw, err, arc, np.zeros_like(arc)))
    fluxes["reg"] = timed("corr:reg", f"{name} lk_regression",
                          lambda: bd.lk_regression(tt, raw, err, bd.others_pca(tt, star, others, 30, 60.0)))
    _run_peers(timed, name, C13_METHODS, fluxes, tt, None, "K2", run["top"])
    if variant == "original":  # CDPP on the cadences every product has (K2SC's too), as bench_detrend
        ev = np.isfinite(k2sc_flux) if k2sc_flux is not None else np.ones(good.size, bool)
        run["precision"] = {c: {"cdpp": bd.cdpp_ppm(tt[ev], f[ev], bd.K2_CADENCE)}
                            for c, f in fluxes.items() if f is not None}
    run["cpu"] = {m: timed.cpu.get(m, NAN) for m in C13_METHODS}
    run["notes"] = {m: timed.notes[m] for m in C13_METHODS if m in timed.notes}
    return run


def run_c13(args: argparse.Namespace) -> dict[str, Any]:
    bd, bs = _bench("bench_detrend"), _bench("bench_search")
    series, by_id, _ = bd._c13_load(args.data)
    chosen = bd._c13_subset(sorted(by_id), args.c13_stars, args.c13_seed)
    quiet = [e for e in chosen if e != bd.K2_136]
    print(f"\n## Real K2 C13: {len(chosen)} stars (K2-136 + {len(quiet)}, subset seed {args.c13_seed}, injection "
          f"seed {args.seed}), every other of the "
          f"{len(series)} C13 stars as regressors; {args.c13_injections} injections per star, "
          f"{min(args.invert, len(quiet))} stars inverted\n", flush=True)
    runs = []
    for epic in chosen:
        role = "known" if epic == bd.K2_136 else "fa"
        runs.append(c13_star(by_id[epic], series, args.data, role=role))
        _progress(runs[-1], C13_METHODS)
    for epic in quiet:
        for k, inj in enumerate(_c13_injections(by_id[epic], args.c13_injections, args.seed, epic), start=1):
            runs.append(c13_star(by_id[epic], series, args.data, injection=inj, role="signal", variant=f"inj{k:02d}"))
            _progress(runs[-1], C13_METHODS)
    for epic in quiet[: args.invert]:
        runs.append(c13_star(by_id[epic], series, args.data, invert=True, role="inverted", variant="inverted"))
        _progress(runs[-1], C13_METHODS)
    return {"dataset": "c13", "methods": C13_METHODS, "runs": runs,
            "scores": {m: score(runs, m, bs._matches) for m in C13_METHODS}}


# ------------------------------------------------------------------------ tables
def summarise(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method: the printed table's numbers."""
    rows = []
    originals = [r for r in res["runs"] if r["variant"] == "original"]
    for m in res["methods"]:
        s, corrector = res["scores"][m], METHODS[m][1]
        prec = [r["precision"][corrector] for r in originals if corrector in r["precision"]]
        row: dict[str, Any] = {"dataset": res["dataset"], "method": m, "label": METHODS[m][0]}
        for k in ("ratio", "ratio_bin", "ratio_hp", "ratio_hp_bin", "cdpp"):
            row[k] = _median(p.get(k, NAN) for p in prec)
        fcor = {r["star"]: r["precision"].get("fcor", {}).get("cdpp", NAN) for r in originals}
        row["cdpp_over_fcor"] = _median(r["precision"][corrector]["cdpp"] / fcor[r["star"]] for r in originals
                                        if corrector in r["precision"] and "cdpp" in r["precision"][corrector])
        row.update({k: s[k] for k in ("threshold", "n_planets", "recovered", "threshold_2", "recovered_2", "n_ebs",
                                      "eb_found", "depth_ratio", "n_signal", "unmatched", "unmatched_per_star",
                                      "n_inverted", "inverted_fa", "inverted_fa_at_signal", "inverted_fa_per_star",
                                      "n_fa_set")})
        row["completeness"] = s["recovered"] / s["n_planets"] if s["n_planets"] else NAN
        row["completeness_2"] = s["recovered_2"] / s["n_planets"] if s["n_planets"] else NAN
        row["n_depths"] = len(s["depth_ratios"])
        row["cpu_s"] = _median(r["cpu"].get(m, NAN) for r in res["runs"])
        row["n_failed"] = sum(m in r.get("notes", {}) for r in res["runs"])
        known = [r for r in res["runs"] if r["role"] == "known"]
        top = (known[0]["top"].get(m) or {}) if known else {}
        row["k2_136_period"], row["k2_136_depth"] = top.get("period", NAN), top.get("depth", NAN)
        row["k2_136_box_depth"], row["k2_136_stat"] = top.get("box_depth", NAN), top.get("stat", NAN)
        rows.append(row)
    return rows


def _f(x: float, digits: int = 2) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def print_table(res: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    s0 = res["scores"][res["methods"][0]]
    if res["dataset"] == "c13":
        print(f"\n### C13: {s0['n_fa_set']} stars as observed (false-alarm set), {s0['n_planets']} injections with "
              f">= 2 transits in {s0['n_signal']} runs, {s0['n_inverted']} inverted, K2-136 as observed\n")
        print("| method | median CDPP [ppm] | median ratio to FCOR | K2-136 top peak | FA threshold | injections "
              "recovered | 2nd-highest threshold: recovered | depth ratio (n) | unmatched / run | inverted FA "
              "(at signal P) | CPU / target [s] |")
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    else:
        print(f"\n### {res['dataset']}: {s0['n_fa_set']} quiet stars (false-alarm set), {s0['n_planets']} planets "
              f"with >= 2 transits and {s0['n_ebs']} EBs on {s0['n_signal']} stars, {s0['n_inverted']} inverted\n")
        print("| method | RMS/floor | 6.5-h RMS/floor | hp RMS/floor | hp 6.5-h RMS/floor | FA threshold | planets "
              "recovered | 2nd-highest threshold: recovered | EBs found | depth ratio (n) | unmatched / star | "
              "inverted FA (at signal P) | CPU / target [s] |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        common = (f"{_f(r['threshold'], 1)} | {r['recovered']}/{r['n_planets']} | "
                  f"{r['recovered_2']}/{r['n_planets']} ({_f(r['threshold_2'], 1)}) | "
                  + ("" if res["dataset"] == "c13" else f"{r['eb_found']}/{r['n_ebs']} | ")
                  + f"{_f(r['depth_ratio'], 3)} ({r['n_depths']}) | {r['unmatched']}/{r['n_signal']} | "
                  f"{r['inverted_fa']}/{r['n_inverted']} ({r['inverted_fa_at_signal']}) | {_f(r['cpu_s'], 1)} |")
        if res["dataset"] == "c13":
            k = ("–" if not math.isfinite(r["k2_136_period"]) else
                 f"P={r['k2_136_period']:.3f} d, {r['k2_136_depth']:.0f} ppm"
                 + (f" (box {r['k2_136_box_depth']:.0f})" if math.isfinite(r["k2_136_box_depth"]) else "")
                 + f", stat {r['k2_136_stat']:.1f}")
            print(f"| {r['label']} | {_f(r['cdpp'], 0)} | {_f(r['cdpp_over_fcor'], 2)} | {k} | {common}")
        else:
            print(f"| {r['label']} | {_f(r['ratio'])} | {_f(r['ratio_bin'])} | {_f(r['ratio_hp'])} | "
                  f"{_f(r['ratio_hp_bin'])} | {common}")
    failed = {r["method"]: r["n_failed"] for r in rows if r["n_failed"]}
    if failed:
        print(f"\nfailed runs (counted as no detection): {failed}")


RATIO_METRICS = [  # (row key, label, better)
    ("ratio_hp_bin", "hp 6.5-h RMS/floor", "lower"), ("cdpp", "median CDPP", "lower"),
    ("completeness", "completeness", "higher"),
    ("completeness_2", "completeness at the 2nd-highest threshold", "higher"),
    ("depth_ratio", "depth ratio", "closer_to_1"),
    ("unmatched_per_star", "unmatched / star", "lower"), ("inverted_fa_per_star", "inverted FA / star", "lower"),
    ("cpu_s", "CPU / target", "lower")]


def print_ratios(rows: list[dict[str, Any]]) -> list[str]:
    """halfsib against the best peer of the same table, metric by metric."""
    by = {r["method"]: r for r in rows}
    peers = [m for m in by if not m.startswith("halfsib")]
    lines = []
    for h in (m for m in by if m.startswith("halfsib")):
        for key, label, better in RATIO_METRICS:
            name, best = best_peer({m: by[m][key] for m in peers}, peers, better)
            mine = by[h][key]
            if name is None or not math.isfinite(mine):
                continue
            ratio = f"{mine / best:.2f}x" if best else "–"
            verdict = {"lower": mine <= best, "higher": mine >= best,
                       "closer_to_1": abs(mine - 1) <= abs(best - 1)}[better]
            lines.append(f"- {METHODS[h][0]} vs best peer ({METHODS[name][0]}), {label}: {_f(mine, 3)} vs "
                         f"{_f(best, 3)} = {ratio} ({'halfsib as good or better' if verdict else 'halfsib worse'})")
    print("\nhalfsib against the best peer, same run:\n")
    print("\n".join(lines))
    return lines


def _write(path: Path, rows: list[dict[str, Any]], runs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    from astropy.table import Table

    t = Table(rows=[{k: v for k, v in r.items()} for r in rows])
    t.meta.update(meta)
    t.write(path, format="ascii.ecsv", overwrite=True)
    flat = []
    for r in runs:
        for m, sig in r["top"].items():
            sig = sig or {}
            prec = r["precision"].get(METHODS[m][1], {})
            flat.append({"dataset": r["dataset"], "star": int(r["star"]), "variant": r["variant"], "role": r["role"],
                         "method": m, "stat": sig.get("stat", NAN), "period": sig.get("period", NAN),
                         "t0": sig.get("t0", NAN), "depth": sig.get("depth", NAN), "cpu_s": r["cpu"].get(m, NAN),
                         "ratio_hp_bin": prec.get("ratio_hp_bin", NAN), "cdpp": prec.get("cdpp", NAN),
                         "truth": "; ".join(f"{b['kind']} P={b['period']:.5f} t0={b['t0']:.4f} {b['depth']:.0f}ppm "
                                            f"T14={b['duration']:.2f}h n={b['n_events']:.0f}" for b in r["bodies"]),
                         "note": r.get("notes", {}).get(m, "")})
    runs_path = path.with_name(path.stem + "_runs.ecsv")
    Table(rows=flat).write(runs_path, format="ascii.ecsv", overwrite=True)
    print(f"\nwrote {path} ({len(rows)} rows) and {runs_path} ({len(flat)} rows)")


# ------------------------------------------------------------------------ main
def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring for what each number means.")
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data", help="folder with k2-c13/")
    ap.add_argument("--seed", type=int, default=11, help="simulated campaigns (as bench_search.py) and injections")
    ap.add_argument("--c13-seed", type=int, default=2026, help="C13 subset (as bench_detrend.py)")
    ap.add_argument("--sections", default="k2,tess,c13", help="comma list of k2,tess,c13")
    ap.add_argument("--k2-stars", type=int, default=20)
    ap.add_argument("--tess-stars", type=int, default=6)
    ap.add_argument("--tess-cadences", type=int, default=18000)
    ap.add_argument("--c13-stars", type=int, default=20, help="C13 stars, K2-136 included")
    ap.add_argument("--c13-injections", type=int, default=3, help="injections per C13 star (K2-136 excepted)")
    ap.add_argument("--invert", type=int, default=1000, help="stars per data set also run inverted (the first N)")
    ap.add_argument("--quick", action="store_true", help="bench_search/bench_detrend --quick sizes (under 10 min on one core)")
    ap.add_argument("--workdir", type=Path, default=None, help="simulated files (default: a temporary folder)")
    ap.add_argument("--out", type=Path, default=None,
                    help="summary table, ECSV (default benchmarks/results/bench_peers[_quick].ecsv; per-run rows "
                         "go to <stem>_runs.ecsv); '' for none")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = HERE / "results" / f"bench_peers{'_quick' if args.quick else ''}.ecsv"
    if args.quick:
        args.k2_stars, args.tess_stars, args.tess_cadences = min(args.k2_stars, 8), min(args.tess_stars, 4), 4000
        args.c13_stars, args.c13_injections, args.invert = min(args.c13_stars, 4), min(args.c13_injections, 2), 2
    return args


def main(argv: list[str] | None = None) -> int:
    import platform
    import shutil
    import tempfile
    import time
    from datetime import datetime, timezone

    args = _parse(argv)
    bd = _bench("bench_detrend")  # its import limits BLAS to one thread and silences the peers' warnings
    import halfsib

    start, cpu0 = time.perf_counter(), time.process_time()
    stamp = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    print(f"# bench_peers: {stamp}, {platform.machine()}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}, halfsib {halfsib.__version__}, "
          f"lightkurve {bd._lk().__version__}; seed {args.seed}, C13 seed {args.c13_seed}"
          f"{', --quick' if args.quick else ''}", flush=True)
    own_tmp = args.workdir is None
    args.workdir = Path(tempfile.mkdtemp(prefix="halfsib-bench-peers-")) if own_tmp else args.workdir
    args.workdir.mkdir(parents=True, exist_ok=True)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    all_rows, all_runs, results = [], [], []
    try:
        for section in sections:
            if section == "c13" and not (args.data / "k2-c13" / "k2sff").exists():
                print(f"\n## Real K2 C13: skipped ({args.data / 'k2-c13'} not found)")
                continue
            res = (run_c13(args) if section == "c13" else
                   run_sim(section, args, args.k2_stars if section == "k2" else args.tess_stars,
                           None if section == "k2" else args.tess_cadences))
            for r in res["runs"]:
                r["dataset"] = res["dataset"]
            results.append((res, summarise(res)))
            all_rows += results[-1][1]
            all_runs += res["runs"]
    finally:
        if own_tmp:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print("\n\n## Results")
    for res, rows in results:
        print_table(res, rows)
        print_ratios(rows)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(f"\ntotal {elapsed / 60:.1f} min wall, {cpu / 60:.1f} min CPU; load at the end {os.getloadavg()[0]:.1f}")
    if str(args.out) not in ("", "."):
        meta = {"date": stamp, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "seed": args.seed,
                "c13_seed": args.c13_seed,
                "quick": args.quick, "arguments": {k: str(v) for k, v in vars(args).items()},
                "runtime_s": round(elapsed, 1), "cpu_s": round(cpu, 1)}
        _write(args.out, all_rows, all_runs, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
