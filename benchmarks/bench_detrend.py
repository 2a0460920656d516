"""Systematics correction, accuracy and speed: halfsib vs lightkurve's correctors, K2SFF and K2SC.

Run:  python benchmarks/bench_detrend.py [--c13-stars 20] [--sim-stars 20] [--tess-stars 8]
                                         [--quick] [--explore] [--out bench_detrend.ecsv]

The benchmark of issue 3. Every method is run in the same process on the same input; halfsib
runs with its own defaults (``detrend_target`` with default ``RegressorConfig``/``DetrendConfig``);
``--explore`` adds a separate, clearly labelled section with other settings.

Sections (``--sections c13,sim,tess,speed`` picks some):

* **c13** -- real K2 C13 (``../shared/data/k2-c13``): a fixed, seeded subset of the 132 K2SFF
  files, always with EPIC 247589423 = K2-136. halfsib corrects each target's ``FRAW`` with every
  other C13 star's ``FRAW`` as regressors. Compared on the same cadences (the target's good
  K2SFF cadences that K2SC also has): K2SFF's ``FCOR`` (same file); K2SC with its position trend
  removed (``flux - trposi + median(trposi)``, variability kept, like FCOR and halfsib) and fully
  detrended (``flux - trposi - trtime + median(trposi) + median(trtime)``, the K2SC README's
  ``flux - trend_tot + median(trend_tot)`` with ``trend_tot = trtime + trposi - median(trposi)``:
  both trend columns carry the flux level); lightkurve's RegressionCorrector on ``FRAW`` with
  a design matrix of the first 30 principal components of the other stars' normalised FRAW
  (target and stars within 60 arcsec left out, as halfsib does) + a cubic spline in time
  (knots every 1.5 d); lightkurve's SFFCorrector on ``FRAW`` with K2SFF's own ``ARCLENGTH``
  passed as ``centroid_col`` and zeros as ``centroid_row`` (lightkurve's arclength is then
  ARCLENGTH - min; there are no centroids in the K2SFF files). There are no C13 pixel files,
  so PLDCorrector runs on the simulated K2 campaign only.
* **sim** -- a seeded simulated K2 campaign (3,500 cadences): halfsib corrects each star with the
  others' light curves; for the first ``--sim-pld-stars`` stars also from its target pixel file
  (halfsib with PLD terms, and lightkurve's PLDCorrector with its K2 defaults). Scored against
  the simulator's truth (``truth_flux.fits`` ASTRO_FLUX, diluted by the star's contamination
  from ``truth.ecsv``): RMS of (corrected - truth) per cadence and in 6.5-h bins, against the
  photon-noise floor (the file's SAP_FLUX_ERR / flux, and that / sqrt(13)).
* **tess** -- a seeded simulated TESS 2-min sector (18,000 cadences): halfsib, lightkurve's
  RegressionCorrector (PCA of the other stars + spline) and PLDCorrector (TESS defaults).
* **speed** -- one ``MarginalLikelihood.log_likelihood()`` with 150 random regressors + an SHO GP
  at N = 3,500 and 18,000 (as ``bench_likelihood.py``), with one and with the machine's BLAS
  threads, and the median full-detrend time per target of every method from the other sections.

Metrics, the same for every method: each corrected flux is divided by its median over the
evaluation cadences. CDPP is lightkurve's ``LightCurve.estimate_cdpp()`` (Savitzky-Golay
flattening over 101 K2 cadences = 2.06 d, 5-sigma clipping, running mean over 13 cadences =
6.5 h); for 2-min data both windows are scaled to the same durations. RMS vs truth: the
difference (corrected - truth) with its mean removed, cadences beyond 5 robust sigma of it
(cosmic rays, which the truth does not contain) left out; "hp" columns remove a 2-d
Savitzky-Golay trend from the difference first (what matters for transits, and what CDPP sees).

Lightkurve's correctors keep their long-term spline trend (``restore_trend=True``; for
RegressionCorrector the spline component is added back by hand), as halfsib keeps stellar
variability. BLAS threads are limited to ``--blas-threads`` (default 1) for the whole run: on a
busy 2-core machine numpy's and scipy's two OpenBLAS pools with 2 threads each oversubscribe the
cores (10-20x slower; halfsib's fit limits itself with ``DetrendConfig.blas_threads=1``, the
likelihood timings and lightkurve do not; the speed section measures both settings).
"""

from __future__ import annotations

import argparse
import os


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring for what each number means.")
    ap.add_argument("--data", default=None, help="folder with k2-c13/ (default ../shared/data)")
    ap.add_argument("--c13-stars", type=int, default=20, help="C13 targets (seeded subset with K2-136)")
    ap.add_argument("--sim-stars", type=int, default=20, help="stars in the simulated K2 campaign (all corrected)")
    ap.add_argument("--sim-pld-stars", type=int, default=4, help="simulated K2 stars also run from pixels (PLD)")
    ap.add_argument("--tess-stars", type=int, default=8, help="stars in the simulated TESS sector")
    ap.add_argument("--tess-targets", type=int, default=3, help="TESS stars corrected (with pixel files)")
    ap.add_argument("--tess-cadences", type=int, default=18000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--sections", default="c13,sim,tess,speed", help="comma list of c13,sim,tess,speed")
    ap.add_argument("--quick", action="store_true", help="small sizes everywhere (a smoke run)")
    ap.add_argument("--explore", action="store_true", help="also try other halfsib settings on C13")
    ap.add_argument("--explore-stars", type=int, default=6, help="C13 targets used by --explore")
    ap.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (0: leave the machine default)")
    ap.add_argument("--workdir", default=None, help="where simulated files go (default: a temporary folder)")
    ap.add_argument("--out", default="benchmarks/results/bench_detrend.ecsv", help="per-star table (ECSV); '' for none")
    args = ap.parse_args(argv)
    if args.quick:
        args.c13_stars, args.sim_stars, args.sim_pld_stars = min(args.c13_stars, 4), min(args.sim_stars, 8), 1
        args.tess_stars, args.tess_targets, args.tess_cadences = min(args.tess_stars, 5), 1, 4000
        args.explore_stars = min(args.explore_stars, 2)
    return args


ARGS = _parse(None if __name__ == "__main__" else [])
if ARGS.blas_threads > 0:  # before numpy is imported, so that every BLAS pool starts with this many
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.blas_threads)

import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402,F401  (loads scipy's BLAS so the thread limit reaches it)
from scipy.ndimage import median_filter  # noqa: E402
from scipy.signal import savgol_filter  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
K2_136 = 247589423
K2_CADENCE = 0.0204340  # d
NAN = float("nan")
METHODS = {  # key: label
    "raw": "raw (no correction)",
    "halfsib": "halfsib (defaults)",
    "halfsib_pld": "halfsib + own pixels (PLD)",
    "halfsib_centroid": "halfsib, centroid motion",
    "k2sff_fcor": "K2SFF FCOR",
    "k2sc_sys": "K2SC flux - trposi",
    "k2sc_full": "K2SC flux - trposi - trtime",
    "lk_regression": "lk RegressionCorrector",
    "lk_sff": "lk SFFCorrector",
    "lk_pld": "lk PLDCorrector",
}
logging.getLogger("halfsib").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")

_BLAS_LIMIT = threadpool_limits(limits=ARGS.blas_threads) if ARGS.blas_threads > 0 else None


# ------------------------------------------------------------------------------------ helpers
def _lk():
    from halfsib.io.pixels import import_lightkurve

    return import_lightkurve()


def _odd(n: float) -> int:
    k = max(3, int(round(n)))
    return k if k % 2 else k + 1


def _windows(cadence: float) -> tuple[int, int]:
    """(cadences in 6.5 h, Savitzky-Golay window of 101 K2 cadences) for this cadence [d]."""
    if abs(cadence - K2_CADENCE) / K2_CADENCE < 0.05:
        return 13, 101
    return max(1, int(round(6.5 / 24.0 / cadence))), _odd(101 * K2_CADENCE / cadence)


def cdpp_ppm(time_: np.ndarray, flux: np.ndarray, cadence: float) -> float:
    """lightkurve's 6.5-h CDPP of ``flux`` (normalised by its median here)."""
    ok = np.isfinite(time_) & np.isfinite(flux)
    if ok.sum() < 200:
        return NAN
    n_transit, window = _windows(cadence)
    lc = _lk().LightCurve(time=time_[ok], flux=flux[ok] / np.median(flux[ok]))
    return float(lc.estimate_cdpp(transit_duration=n_transit, savgol_window=window).value)


def _robust_keep(d: np.ndarray, nsigma: float = 5.0) -> np.ndarray:
    med = np.median(d)
    mad = 1.4826 * np.median(np.abs(d - med))
    return np.abs(d - med) <= nsigma * max(mad, 1e-12)


def _binned_rms(d: np.ndarray, n: int) -> float:
    m = d.size // n
    if m < 2:
        return NAN
    means = d[: m * n].reshape(m, n).mean(axis=1)
    return float(np.sqrt(np.mean((means - means.mean()) ** 2)))


def truth_metrics(flux: np.ndarray, truth: np.ndarray, sigma_rel: np.ndarray, cadence: float) -> dict[str, float]:
    """RMS of (flux/median - truth/median) per cadence and in 6.5-h bins, raw and high-passed [ppm]."""
    ok = np.isfinite(flux) & np.isfinite(truth) & np.isfinite(sigma_rel)
    if ok.sum() < 200:
        return {}
    n_bin, window = _windows(cadence)
    d = flux[ok] / np.median(flux[ok]) - truth[ok] / np.median(truth[ok])
    keep = _robust_keep(d)
    d, sig = d[keep], sigma_rel[ok][keep]
    d = d - d.mean()
    hp = d - savgol_filter(d, min(window, d.size - (1 - d.size % 2)), 2)
    floor = float(np.sqrt(np.mean(sig**2)))
    return {"rms": 1e6 * float(np.sqrt(np.mean(d**2))), "rms_bin": 1e6 * _binned_rms(d, n_bin),
            "rms_hp": 1e6 * float(np.sqrt(np.mean(hp**2))), "rms_hp_bin": 1e6 * _binned_rms(hp, n_bin),
            "floor": 1e6 * floor, "floor_bin": 1e6 * floor / math.sqrt(n_bin), "n_clipped": int((~keep).sum())}


def _sep_arcsec(ra1: float | None, dec1: float | None, ra2: float | None, dec2: float | None) -> float:
    if None in (ra1, dec1, ra2, dec2):
        return math.inf
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    c = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(min(1.0, max(-1.0, c)))) * 3600.0


def others_pca(time_: np.ndarray, target: Any, others: list[Any], n_components: int, radius: float) -> np.ndarray:
    """Leading principal components (N, k) of the other stars' normalised flux on ``time_``.

    Each star: flux/median - 1 on its good cadences, points > 5 robust sigma from a 9-cadence
    running median dropped, linearly interpolated onto ``time_``, mean removed. The target and
    stars within ``radius`` arcsec of it are left out (as halfsib's ELC basis does).
    """
    rows = []
    tm = target.meta
    for o in others:
        if o.meta.target_id == tm.target_id or _sep_arcsec(tm.ra, tm.dec, o.meta.ra, o.meta.dec) < radius:
            continue
        g = o.good & np.isfinite(o.time) & np.isfinite(o.flux)
        if g.sum() < 0.5 * time_.size:
            continue
        f = o.flux[g]
        med = np.median(f)
        if not med > 0:
            continue
        r = f / med - 1.0
        keep = _robust_keep(r - median_filter(r, 9, mode="nearest"))
        v = np.interp(time_, o.time[g][keep], r[keep])
        rows.append(v - v.mean())
    x = np.asarray(rows)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return np.ascontiguousarray(vt[: min(n_components, vt.shape[0])].T)


def _lk_lc(time_: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, **columns: np.ndarray) -> Any:
    lc = _lk().LightCurve(time=time_, flux=flux, flux_err=flux_err)
    for k, v in columns.items():
        lc[k] = v
    return lc


def lk_regression(time_: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, pcs: np.ndarray,
                  knot_spacing: float = 1.5) -> np.ndarray:
    """lightkurve RegressionCorrector: PCA of other stars + cubic spline (added back afterwards)."""
    lk = _lk()
    from lightkurve.correctors.designmatrix import create_spline_matrix

    lc = _lk_lc(time_, flux, flux_err)
    n_knots = max(4, int((time_[-1] - time_[0]) / knot_spacing))
    dmc = lk.DesignMatrixCollection([lk.DesignMatrix(pcs, name="pca"),
                                     create_spline_matrix(time_, n_knots=n_knots, name="spline")])
    corrector = lk.RegressionCorrector(lc)
    clc = corrector.correct(dmc, sigma=5)
    spline = corrector.diagnostic_lightcurves["spline"].flux.value
    return np.asarray(clc.flux.value + spline - np.median(spline), float)


def lk_sff(time_: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """lightkurve SFFCorrector with its defaults (20 windows, 5 bins, 1.5-d spline), trend restored."""
    lk = _lk()
    lc = _lk_lc(time_, flux, flux_err)
    clc = lk.SFFCorrector(lc).correct(centroid_col=np.asarray(col, float), centroid_row=np.asarray(row, float),
                                      restore_trend=True)
    return np.asarray(clc.flux.value, float)


def lk_pld(tpf_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """lightkurve PLDCorrector with its mission defaults on a target pixel file: (cadenceno, flux)."""
    tpf = _lk().read(str(tpf_path))
    clc = tpf.to_corrector("pld").correct()
    return np.asarray(clc.cadenceno, np.int64), np.asarray(clc.flux.value, float)


def _fill(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    return x if ok.all() else np.interp(t, t[ok], x[ok])


def _on(cad_eval: np.ndarray, cad: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (on cadence numbers ``cad``) on ``cad_eval``; NaN where missing."""
    out = np.full(cad_eval.size, NAN)
    order = np.argsort(cad)
    pos = np.clip(np.searchsorted(cad[order], cad_eval), 0, cad.size - 1)
    hit = cad[order][pos] == cad_eval
    out[hit] = np.asarray(values, float)[order][pos[hit]]
    return out


class Runner:
    """Times a method, records its failure as NaN with a printed reason.

    Returns the wall time; the process CPU time of the last call is in :attr:`cpu` (with BLAS
    at one thread it is the single-core cost, which the machine's other load does not inflate).
    """

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.cpu = NAN

    def __call__(self, what: str, fn: Callable[[], Any]) -> tuple[Any, float, str]:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            out = fn()
        except Exception as exc:  # a peer failing must not stop the benchmark
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            print(f"    {what} failed: {reason}", flush=True)
            self.failures.append(f"{what}: {reason}")
            self.cpu = time.process_time() - c0
            return None, time.perf_counter() - t0, f"failed: {reason}"
        self.cpu = time.process_time() - c0
        return out, time.perf_counter() - t0, ""


RUN = Runner()


def _row(section: str, star: str, mag: float, method: str, **values: Any) -> dict[str, Any]:
    row = {"section": section, "star": star, "mag": mag, "method": method}
    row.update(values)
    return row


def _fmt(x: Any, width: int = 7, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return f"{'nan':>{width}}"
    return f"{x:{width}.{digits}f}"


def _median(values: list[float]) -> float:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    return float(np.median(v)) if v.size else NAN


# ------------------------------------------------------------------------------------ C13
def _c13_subset(ids: list[int], n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    pool = sorted(i for i in ids if i != K2_136)
    n = max(1, min(n, len(ids)))
    return [K2_136] + [int(i) for i in rng.choice(pool, size=n - 1, replace=False)]


def _k2sc(path: Path) -> dict[str, np.ndarray] | None:
    from astropy.io import fits

    if not path.exists():
        return None
    d = fits.getdata(path, 1)
    flux = np.asarray(d["flux"], float)
    trp, trt = np.asarray(d["trposi"], float), np.asarray(d["trtime"], float)
    ok = np.isfinite(flux) & np.isfinite(trp) & np.isfinite(trt)
    mp, mt = np.median(trp[ok]), np.median(trt[ok])
    return {"cadenceno": np.asarray(d["cadence"], np.int64), "ok": ok,
            "sys": np.where(ok, flux - trp + mp, NAN),
            "full": np.where(ok, flux - trp - trt + mp + mt, NAN),
            "x": np.asarray(d["x"], float), "y": np.asarray(d["y"], float)}


def _c13_load(data: Path) -> tuple[list[Any], dict[int, Any], float]:
    from halfsib.io import read_many

    files = sorted((data / "k2-c13" / "k2sff").glob("*.fits"))
    t0 = time.perf_counter()
    series, failures = read_many(files, show_progress=False)
    t_read = time.perf_counter() - t0
    for f in failures:
        print(f"  unreadable: {f.path}: {f.error}")
    by_id = {int(s.meta.target_id.split()[-1]): s for s in series}
    return series, by_id, t_read


def _c13_target(star: Any, series: list[Any], data: Path, rows: list[dict], *, regressors: Any = None,
                config: Any = None, peers: bool = True, label: str = "halfsib", section: str = "c13",
                ) -> dict[str, float]:
    """Correct one C13 target with halfsib (and the peers); returns {method: cdpp}."""
    from halfsib.pipeline import detrend_target

    epic = int(star.meta.target_id.split()[-1])
    name, mag = f"EPIC {epic}", float(star.meta.magnitude or NAN)
    others = [s for s in series if s is not star]
    res, t_hs, why = RUN(f"{name} {label}", lambda: detrend_target(star, others=others, regressors=regressors,
                                                                  config=config))
    cpu_hs = RUN.cpu
    good = np.flatnonzero(star.good)
    cad_all, t_all = star.cadenceno[good], star.time[good]
    k2sc = _k2sc(data / "k2-c13" / "k2sc" / f"EPIC_{epic}_mast.fits")
    ev = np.ones(good.size, bool)  # evaluation cadences: good K2SFF cadences that K2SC also has
    if k2sc is not None:
        ev &= np.isfinite(_on(cad_all, k2sc["cadenceno"], k2sc["sys"]))
    cad, tt = cad_all[ev], t_all[ev]
    out: dict[str, float] = {}
    fluxes: dict[str, tuple[np.ndarray | None, float, str]] = {}
    if res is not None:
        fluxes[label] = (_on(cad, res.cadenceno, res.flux), t_hs, why)
    else:
        fluxes[label] = (None, t_hs, why)
    if peers:
        raw, err = star.flux[good], star.flux_err[good]
        fluxes["raw"] = (raw[ev], NAN, "")
        fluxes["k2sff_fcor"] = (star.columns["fcor"][good][ev], NAN, "")
        if k2sc is not None:
            fluxes["k2sc_sys"] = (_on(cad, k2sc["cadenceno"], k2sc["sys"]), NAN, "")
            fluxes["k2sc_full"] = (_on(cad, k2sc["cadenceno"], k2sc["full"]), NAN, "")
        else:
            fluxes["k2sc_sys"] = fluxes["k2sc_full"] = (None, NAN, "no K2SC file")

        def regression() -> np.ndarray:
            pcs = others_pca(t_all, star, others, 30, 60.0)
            return lk_regression(t_all, raw, err, pcs)

        f, dt, why = RUN(f"{name} lk_regression", regression)
        fluxes["lk_regression"] = (None if f is None else f[ev], dt, why)
        arc = _fill(np.asarray(star.columns["arclength"][good], float), t_all)
        f, dt, why = RUN(f"{name} lk_sff", lambda: lk_sff(t_all, raw, err, arc, np.zeros_like(arc)))
        fluxes["lk_sff"] = (None if f is None else f[ev], dt, why)
        fluxes["lk_pld"] = (None, NAN, "no C13 pixel files")
    for method, (flux, dt, why) in fluxes.items():
        value = cdpp_ppm(tt, flux, K2_CADENCE) if flux is not None else NAN
        out[method] = value
        ncol = sum(res.design_columns.values()) if (res is not None and method == label) else None
        rows.append(_row(section, name, mag, method, cdpp=value, time_s=dt, n=int(cad.size), n_columns=ncol,
                         cpu_s=cpu_hs if method == label else None, note=why))
    out["time"] = t_hs
    out["cpu"] = cpu_hs
    out["n_columns"] = float(sum(res.design_columns.values())) if res is not None else NAN
    return out


C13_METHODS = ["raw", "halfsib", "k2sff_fcor", "k2sc_sys", "k2sc_full", "lk_regression", "lk_sff"]


def run_c13(args: argparse.Namespace, data: Path, rows: list[dict]) -> dict[str, Any]:
    print("\n## 1. Real K2 C13: 6.5-h CDPP [ppm] (lightkurve estimate_cdpp), same cadences for all\n", flush=True)
    series, by_id, t_read = _c13_load(data)
    chosen = _c13_subset(sorted(by_id), args.c13_stars, args.seed)
    print(f"read {len(series)} K2SFF files in {t_read:.2f} s (regressors: every other star's FRAW); "
          f"targets (seed {args.seed}): {len(chosen)}", flush=True)
    print(f"| {'star':15s} | {'Kp':>5s} | " + " | ".join(f"{m:>13s}" for m in C13_METHODS) + " | t_hs [s] | CPU [s] |")
    print("|" + "---|" * (len(C13_METHODS) + 4))
    per: dict[int, dict[str, float]] = {}
    for epic in chosen:
        star = by_id[epic]
        res = _c13_target(star, series, data, rows)
        per[epic] = res
        print(f"| EPIC {epic:<10d} | {star.meta.magnitude or NAN:5.2f} | "
              + " | ".join(_fmt(res.get(m), 13) for m in C13_METHODS) + f" | {res['time']:8.1f} | {res['cpu']:8.1f} |",
              flush=True)
    summary = {m: _median([p.get(m, NAN) for p in per.values()]) for m in C13_METHODS}
    print("\n| method | median CDPP [ppm] | median ratio halfsib / method | halfsib better on | "
          "median time per target [s] |")
    print("|---|---:|---:|---:|---:|")
    times = {m: _median([r["time_s"] for r in rows if r["section"] == "c13" and r["method"] == m]) for m in C13_METHODS}
    for m in C13_METHODS:
        ratios = [p["halfsib"] / p[m] for p in per.values() if math.isfinite(p.get(m, NAN)) and
                  math.isfinite(p.get("halfsib", NAN)) and p[m] > 0]
        better = sum(r < 1 for r in ratios)
        print(f"| {METHODS[m]} | {_fmt(summary[m], 8)} | {_fmt(_median(ratios), 6, 3)} | {better}/{len(ratios)} | "
              f"{_fmt(times[m], 6, 2)} |")
    k = per.get(K2_136)
    if k:
        print(f"\nK2-136 (EPIC {K2_136}): halfsib {k['halfsib']:.1f} ppm, FCOR {k['k2sff_fcor']:.1f} ppm, "
              f"K2SC {k['k2sc_sys']:.1f} ppm; halfsib design {k['n_columns']:.0f} columns")
    return {"series": series, "by_id": by_id, "chosen": chosen, "per": per, "summary": summary,
            "t_read": t_read}


# ------------------------------------------------------------------------------------ simulations
def _simulate(mission: str, n_stars: int, n_cadences: int, seed: int, outdir: Path, pixel_stars: list[int]
              ) -> tuple[Any, dict[str, Any], float]:
    from astropy.io import fits
    from astropy.table import Table

    from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign
    from halfsib.simulate.writers import tpf_hdulist

    t0 = time.perf_counter()
    camp = simulate_campaign(SimulationConfig(mission=mission, n_stars=n_stars, n_cadences=n_cadences, seed=seed))
    write_campaign(camp, outdir, pixels=False, overwrite=True, progress=False)
    (outdir / "tpf").mkdir(exist_ok=True)
    tpfs = {}
    for i in pixel_stars:
        path = outdir / "tpf" / camp.file_names(i)[0]
        tpf_hdulist(camp, i).writeto(path, overwrite=True)
        tpfs[i] = path
    elapsed = time.perf_counter() - t0
    truth = Table.read(outdir / "truth.ecsv")
    with fits.open(outdir / "truth_flux.fits") as h:
        astro = np.asarray(h["ASTRO_FLUX"].data, float)
        cad = np.asarray(h["CADENCES"].data["CADENCENO"], np.int64)
    info = {"truth": truth, "astro": astro, "cadenceno": cad, "tpfs": tpfs, "camp": camp}
    return camp, info, elapsed


def _sim_star(section: str, i: int, series: list[Any], info: dict[str, Any], cadence: float, rows: list[dict],
              *, sff: bool, n_pcs: int, centroid: bool = False) -> dict[str, dict[str, float]]:
    from halfsib.io import read
    from halfsib.pipeline import detrend_target

    truth_tab = info["truth"]
    star = series[i]
    ident = int(truth_tab["star_id"][i])
    assert star.meta.target_id.endswith(str(ident)), (star.meta.target_id, ident)
    name, mag = star.meta.target_id, float(truth_tab["mag"][i])
    contamination = float(np.ma.filled(truth_tab["contamination"][i], 0.0))
    others = [s for j, s in enumerate(series) if j != i]
    res, t_hs, why_hs = RUN(f"{name} halfsib", lambda: detrend_target(star, others=others))
    cpu = {"halfsib": RUN.cpu}
    good = np.flatnonzero(star.good)
    cad, tt = star.cadenceno[good], star.time[good]
    raw, err = star.flux[good], star.flux_err[good]
    astro = _on(cad, info["cadenceno"], info["astro"][i])
    truth = 1.0 + (1.0 - contamination) * (astro / np.nanmedian(astro) - 1.0)
    sigma_rel = err / np.median(raw)
    columns = {"halfsib": sum(res.design_columns.values())} if res is not None else {}
    fluxes: dict[str, tuple[np.ndarray | None, float, str]] = {
        "raw": (raw, NAN, ""),
        "halfsib": (None if res is None else _on(cad, res.cadenceno, res.flux), t_hs, why_hs)}

    def regression() -> np.ndarray:
        return lk_regression(tt, raw, err, others_pca(tt, star, others, n_pcs, 0.0))

    if centroid:
        from halfsib.regressors import RegressorConfig

        rc, dt, why = RUN(f"{name} halfsib_centroid",
                          lambda: detrend_target(star, others=others, regressors=RegressorConfig(motion_variables="centroids")))
        cpu["halfsib_centroid"] = RUN.cpu
        fluxes["halfsib_centroid"] = (None if rc is None else _on(cad, rc.cadenceno, rc.flux), dt, why)
        if rc is not None:
            columns["halfsib_centroid"] = sum(rc.design_columns.values())
    f, dt, why = RUN(f"{name} lk_regression", regression)
    fluxes["lk_regression"] = (f, dt, why)
    if sff:
        col = _fill(np.asarray(star.columns.get("centroid_col", np.full(star.n_cadences, NAN))[good], float), tt)
        row = _fill(np.asarray(star.columns.get("centroid_row", np.full(star.n_cadences, NAN))[good], float), tt)
        f, dt, why = RUN(f"{name} lk_sff", lambda: lk_sff(tt, raw, err, col, row))
        fluxes["lk_sff"] = (f, dt, why)
    if i in info["tpfs"]:
        path = info["tpfs"][i]

        def halfsib_pld() -> Any:
            return detrend_target(read(path), others=others)

        r2, dt, why = RUN(f"{name} halfsib_pld", halfsib_pld)
        cpu["halfsib_pld"] = RUN.cpu
        fluxes["halfsib_pld"] = (None if r2 is None else _on(cad, r2.cadenceno, r2.flux), dt, why)
        if r2 is not None:
            columns["halfsib_pld"] = sum(r2.design_columns.values())
        out, dt, why = RUN(f"{name} lk_pld", lambda: lk_pld(path))
        fluxes["lk_pld"] = (None if out is None else _on(cad, out[0], out[1]), dt, why)
    result: dict[str, dict[str, float]] = {}
    for method, (flux, dt, why) in fluxes.items():
        m = truth_metrics(flux, truth, sigma_rel, cadence) if flux is not None else {}
        m["cdpp"] = cdpp_ppm(tt, flux, cadence) if flux is not None else NAN
        m["time_s"] = dt
        m["cpu_s"] = cpu.get(method, NAN)
        result[method] = m
        rows.append(_row(section, name, mag, method, n=int(cad.size), contamination=contamination,
                         n_columns=columns.get(method), note=why, **{k: v for k, v in m.items()}))
    result["_meta"] = {"mag": mag, "contamination": contamination}
    return result


def _print_truth_table(title: str, per: dict[str, dict], methods: list[str]) -> dict[str, dict[str, float]]:
    print(f"\n{title}\n")
    print("| method | stars | RMS [ppm] | floor | RMS/floor | 6.5-h RMS | 6.5-h floor | ratio | "
          "hp RMS/floor | hp 6.5-h ratio | CDPP | time [s] |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    out = {}
    for m in methods:
        vals = [p[m] for p in per.values() if m in p and "rms" in p[m]]
        if not vals:
            print(f"| {METHODS[m]} | 0 | (no result) |")
            continue
        med = {k: _median([v.get(k, NAN) for v in vals]) for k in ("rms", "floor", "rms_bin", "floor_bin", "cdpp")}
        ratio = _median([v["rms"] / v["floor"] for v in vals])
        ratio_bin = _median([v["rms_bin"] / v["floor_bin"] for v in vals])
        ratio_hp = _median([v["rms_hp"] / v["floor"] for v in vals])
        ratio_hp_bin = _median([v["rms_hp_bin"] / v["floor_bin"] for v in vals])
        t = _median([p[m]["time_s"] for p in per.values() if m in p])
        out[m] = {**med, "ratio": ratio, "ratio_bin": ratio_bin, "ratio_hp": ratio_hp, "ratio_hp_bin": ratio_hp_bin,
                  "time": t, "n": len(vals)}
        print(f"| {METHODS[m]} | {len(vals)} | {_fmt(med['rms'], 8)} | {_fmt(med['floor'], 6)} | {_fmt(ratio, 6, 2)} | "
              f"{_fmt(med['rms_bin'], 8)} | {_fmt(med['floor_bin'], 6)} | {_fmt(ratio_bin, 6, 2)} | "
              f"{_fmt(ratio_hp, 6, 2)} | {_fmt(ratio_hp_bin, 6, 2)} | {_fmt(med['cdpp'], 7)} | {_fmt(t, 6, 2)} |")
    return out


def run_sim(args: argparse.Namespace, workdir: Path, rows: list[dict]) -> dict[str, Any]:
    from halfsib.io import read_many

    print(f"\n## 2. Simulated K2 campaign: {args.sim_stars} stars x 3,500 cadences (seed {args.seed}), "
          "scored against the truth\n", flush=True)
    pld = list(range(min(args.sim_pld_stars, args.sim_stars)))
    camp, info, t_sim = _simulate("k2", args.sim_stars, 3500, args.seed, workdir / "k2", pld)
    files = sorted((workdir / "k2" / "lc").glob("*.fits"))
    series, _ = read_many(files, show_progress=False)
    order = {s.meta.target_id: s for s in series}
    series = [order[camp.object_name(i)] for i in range(camp.n_stars)]
    print(f"simulated and written in {t_sim:.1f} s (pixel files for stars {pld})", flush=True)
    print("| star | Kp | contam. | halfsib RMS/floor | hp | halfsib+PLD hp | lk reg. hp | lk SFF hp | "
          "lk PLD hp | floor [ppm] | t_hs [s] |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    per = {}
    for i in range(camp.n_stars):
        r = _sim_star("sim-k2", i, series, info, K2_CADENCE, rows, sff=True, n_pcs=30, centroid=True)
        per[i] = r

        def hp(m: str) -> float:
            v = r.get(m, {})
            return v.get("rms_hp", NAN) / v["floor"] if "floor" in v else NAN

        h = r["halfsib"]
        print(f"| {camp.object_name(i)} | {r['_meta']['mag']:5.2f} | {r['_meta']['contamination']:.3f} | "
              f"{_fmt(h.get('rms', NAN) / h.get('floor', NAN), 6, 2)} | {_fmt(hp('halfsib'), 6, 2)} | "
              f"{_fmt(hp('halfsib_pld'), 6, 2)} | {_fmt(hp('lk_regression'), 6, 2)} | {_fmt(hp('lk_sff'), 6, 2)} | "
              f"{_fmt(hp('lk_pld'), 6, 2)} | {_fmt(h.get('floor', NAN), 6)} | {_fmt(h['time_s'], 6, 1)} |", flush=True)
    methods = ["raw", "halfsib", "halfsib_centroid", "halfsib_pld", "lk_regression", "lk_sff", "lk_pld"]
    summary = _print_truth_table("Medians over stars (RMS of corrected - truth; floor = photon noise; "
                                 "'hp' = difference high-passed over 2 d):", per, methods)
    sub = {i: p for i, p in per.items() if i in pld}
    sub_summary = _print_truth_table(f"Same, only the {len(sub)} stars with pixel files (PLD subset):", sub, methods)
    return {"per": per, "summary": summary, "sub_summary": sub_summary, "t_sim": t_sim}


def run_tess(args: argparse.Namespace, workdir: Path, rows: list[dict]) -> dict[str, Any]:
    from halfsib.io import read_many

    n_cad = args.tess_cadences
    print(f"\n## 3. Simulated TESS 2-min sector: {args.tess_stars} stars x {n_cad} cadences (seed {args.seed}); "
          f"{args.tess_targets} corrected, the others are regressors\n", flush=True)
    targets = list(range(min(args.tess_targets, args.tess_stars)))
    camp, info, t_sim = _simulate("tess", args.tess_stars, n_cad, args.seed, workdir / "tess", targets)
    files = sorted((workdir / "tess" / "lc").glob("*.fits"))
    series, _ = read_many(files, show_progress=False)
    order = {s.meta.target_id: s for s in series}
    series = [order[camp.object_name(i)] for i in range(camp.n_stars)]
    cadence = float(np.median(np.diff(camp.time)))
    print(f"simulated and written in {t_sim:.1f} s", flush=True)
    per = {}
    for i in targets:
        per[i] = _sim_star("sim-tess", i, series, info, cadence, rows, sff=False, n_pcs=30)
        h = per[i]["halfsib"]
        print(f"  {camp.object_name(i)} T={per[i]['_meta']['mag']:.2f}: halfsib RMS {h.get('rms', NAN):.0f} ppm "
              f"(floor {h.get('floor', NAN):.0f}), hp {h.get('rms_hp', NAN):.0f}, {h['time_s']:.1f} s", flush=True)
    methods = ["raw", "halfsib", "halfsib_pld", "lk_regression", "lk_pld"]
    summary = _print_truth_table("Medians over the TESS targets:", per, methods)
    return {"per": per, "summary": summary, "t_sim": t_sim}


# ------------------------------------------------------------------------------------ speed
def _likelihood_time(n: int, m: int, repeat: int = 7) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) seconds of one build + ln L."""
    from celerite2 import terms

    from halfsib.likelihood import MarginalLikelihood

    term = terms.SHOTerm(sigma=1e-3, rho=2.0, Q=1 / np.sqrt(2))
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0.0, 80.0 * n / 3500, n))
    a = rng.normal(size=(n, m))
    y = 1e-3 * rng.normal(size=n) + a @ rng.normal(0, 1e-4, m)

    def once() -> float:
        return MarginalLikelihood(t, y, np.full(n, 1e-8), a, np.full(m, 1e-8), term).log_likelihood()

    once()
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        once()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(times), float(np.median(times)), min(cpus)


def run_speed(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    print("\n## 4. Speed\n", flush=True)
    print("One MarginalLikelihood.log_likelihood() (build + ln L, SHO GP, random regressors), best and median "
          "of 7 [ms]:\n")
    print(f"| N | M | BLAS 1 thread: best | median | best CPU | BLAS {os.cpu_count()} threads: best | median | target |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    out: dict[str, Any] = {"likelihood": {}}
    cases = [(3500, 150, 20.0), (18000, 150, 100.0), (3500, 444, None)]
    for n, m, target in cases:
        with threadpool_limits(limits=1):
            one = _likelihood_time(n, m)
        with threadpool_limits(limits=os.cpu_count() or 1):
            many = _likelihood_time(n, m)
        out["likelihood"][(n, m)] = (one, many)
        print(f"| {n} | {m} | {1e3 * one[0]:.1f} | {1e3 * one[1]:.1f} | {1e3 * one[2]:.1f} | {1e3 * many[0]:.1f} | "
              f"{1e3 * many[1]:.1f} | "
              f"{f'< {target:.0f} ms' if target else '(K2 default design size)'} |", flush=True)
    print("\nFull correction per target (median over targets; halfsib: design + hyper-parameter fit + "
          "clipping refits; lightkurve: correct()) [s]:\n")
    print("| data set | N | method | median wall [s] | max wall [s] | median CPU [s] | max CPU [s] | targets |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for section, n in (("c13", 3600), ("sim-k2", 3500), ("sim-tess", args.tess_cadences)):
        for m in METHODS:
            sel = [r for r in results["rows"] if r["section"] == section and r["method"] == m
                   and r.get("time_s") is not None and math.isfinite(r["time_s"]) and r["time_s"] > 0]
            ts = [r["time_s"] for r in sel]
            cs = [r["cpu_s"] for r in sel if r.get("cpu_s") is not None and math.isfinite(r["cpu_s"])]
            if ts:
                cpu = f"{np.median(cs):.2f} | {np.max(cs):.2f}" if cs else "— | —"
                print(f"| {section} | {n} | {METHODS[m]} | {np.median(ts):.2f} | {np.max(ts):.2f} | {cpu} | {len(ts)} |")
                out[(section, m)] = float(np.median(ts))
    return out


def print_targets(results: dict[str, Any]) -> None:
    """Issue 3's targets against what this run measured."""
    lines = []
    speed = results.get("speed", {})
    for (n, m), limit in (((3500, 150), 20.0), ((18000, 150), 100.0)):
        if (n, m) in speed.get("likelihood", {}):
            one, many = speed["likelihood"][(n, m)]
            lines.append((f"one likelihood, M = 150 + GP, N = {n:,} < {limit:.0f} ms",
                          f"{1e3 * one[0]:.1f} ms wall, {1e3 * one[2]:.1f} ms CPU (1 BLAS thread, best); "
                          f"{1e3 * many[1]:.0f} ms (2 threads, median)",
                          "met" if min(one[0], one[2]) * 1e3 < limit else "not met"))
    c13 = results.get("c13")
    if c13:
        sel = [r for r in results["rows"] if r["section"] == "c13" and r["method"] == "halfsib"]
        t = _median([r["time_s"] for r in sel])
        c = _median([r.get("cpu_s", NAN) for r in sel])
        lines.append(("full K2 detrend < 2 s", f"median {t:.1f} s wall, {c:.1f} s CPU over {len(c13['per'])} C13 "
                      "targets", "met" if min(t, c) < 2 else "not met"))
        s_hs, s_fc = c13["summary"]["halfsib"], c13["summary"]["k2sff_fcor"]
        ratios = [p["halfsib"] / p["k2sff_fcor"] for p in c13["per"].values()
                  if math.isfinite(p.get("halfsib", NAN)) and math.isfinite(p.get("k2sff_fcor", NAN))]
        lines.append(("median 6.5-h CDPP on C13 better than K2SFF FCOR",
                      f"{s_hs:.0f} vs {s_fc:.0f} ppm; median per-star ratio {_median(ratios):.2f}",
                      "met" if s_hs < s_fc else "not met"))
    sim = results.get("sim")
    if sim and "halfsib" in sim["summary"]:
        h = sim["summary"]["halfsib"]
        lines.append(("sim K2: RMS vs truth within 20 % of the photon floor",
                      f"median RMS/floor {h['ratio']:.2f} per cadence, {h['ratio_bin']:.2f} in 6.5-h bins; "
                      f"high-passed {h['ratio_hp']:.2f} / {h['ratio_hp_bin']:.2f}",
                      "met" if h["ratio"] <= 1.2 else "not met"))
        if "halfsib_centroid" in sim["summary"]:
            c = sim["summary"]["halfsib_centroid"]
            lines.append(("(same, halfsib with motion_variables=\"centroids\")",
                          f"median RMS/floor {c['ratio']:.2f} per cadence, {c['ratio_bin']:.2f} in 6.5-h bins; "
                          f"high-passed {c['ratio_hp']:.2f} / {c['ratio_hp_bin']:.2f}",
                          "met" if c["ratio"] <= 1.2 else "not met"))
    if lines:
        print("\n## Issue 3 targets\n")
        print("| target | measured | verdict |")
        print("|---|---|---|")
        for a, b, c in lines:
            print(f"| {a} | {b} | {c} |")


# ------------------------------------------------------------------------------------ explore
def run_explore(args: argparse.Namespace, data: Path, c13: dict[str, Any] | None, rows: list[dict]) -> None:
    from halfsib.model import DetrendConfig
    from halfsib.regressors import RegressorConfig

    print("\n## EXPLORATION (not halfsib's defaults): other settings on the C13 subset\n", flush=True)
    if c13 is None:
        series, by_id, _ = _c13_load(data)
        chosen = _c13_subset(sorted(by_id), args.c13_stars, args.seed)
    else:
        series, by_id, chosen = c13["series"], c13["by_id"], c13["chosen"]
    chosen = chosen[: args.explore_stars]
    variants: list[tuple[str, Any, Any]] = [
        ("defaults", None, None),
        ("no time splines (spline_spacing=0)", RegressorConfig(spline_spacing=0), None),
        ("motion_windows=20", RegressorConfig(motion_windows=20), None),
        ("motion_windows=10", RegressorConfig(motion_windows=10), None),
        ("motion_splines=12", RegressorConfig(motion_splines=12), None),
        ("motion poly deg 3 (40 windows)", RegressorConfig(motion_basis="poly"), None),
        ("n_elc=40", RegressorConfig(n_elc=40), None),
        ("n_elc=10", RegressorConfig(n_elc=10), None),
        ("n_elc_motion=5", RegressorConfig(n_elc_motion=5), None),
        ("kernel=none", None, DetrendConfig(kernel="none")),
        ("holdout_chunks=10", None, DetrendConfig(holdout_chunks=10)),
    ]
    fcor: dict[int, float] = {}
    print(f"targets: {', '.join(f'EPIC {e}' for e in chosen)}\n")
    print("| variant | median CDPP [ppm] | median ratio to FCOR | better than FCOR | K2-136 [ppm] | "
          "median time [s] | columns |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, reg, cfg in variants:
        cdpps, ratios, times, cols, k136 = [], [], [], [], NAN
        for epic in chosen:
            star = by_id[epic]
            if label == "defaults" and c13 is not None and epic in c13["per"]:
                res = c13["per"][epic]
            else:
                res = _c13_target(star, series, data, rows, regressors=reg, config=cfg, peers=False,
                                  label="halfsib", section=f"c13-explore: {label}")
            if epic not in fcor:
                good = np.flatnonzero(star.good)
                k2sc = _k2sc(data / "k2-c13" / "k2sc" / f"EPIC_{epic}_mast.fits")
                ev = np.ones(good.size, bool)
                if k2sc is not None:
                    ev &= np.isfinite(_on(star.cadenceno[good], k2sc["cadenceno"], k2sc["sys"]))
                fcor[epic] = cdpp_ppm(star.time[good][ev], star.columns["fcor"][good][ev], K2_CADENCE)
            cdpps.append(res["halfsib"])
            ratios.append(res["halfsib"] / fcor[epic])
            times.append(res["time"])
            cols.append(res.get("n_columns", NAN))
            if epic == K2_136:
                k136 = res["halfsib"]
        better = sum(r < 1 for r in ratios if math.isfinite(r))
        print(f"| {label} | {_fmt(_median(cdpps), 8)} | {_fmt(_median(ratios), 6, 3)} | {better}/{len(ratios)} | "
              f"{_fmt(k136, 7)} | {_fmt(_median(times), 6, 1)} | {_fmt(_median(cols), 5, 0)} |", flush=True)


# ------------------------------------------------------------------------------------ main
def _write(rows: list[dict], path: str, args: argparse.Namespace, meta: dict[str, Any]) -> None:
    from astropy.table import MaskedColumn, Table

    from halfsib.io.writers import write_table

    float_cols = ["mag", "contamination", "cdpp", "rms", "rms_bin", "rms_hp", "rms_hp_bin", "floor", "floor_bin",
                  "time_s", "cpu_s"]
    int_cols = ["n", "n_columns", "n_clipped"]
    t = Table()
    for c in ("section", "star", "method"):
        t[c] = [str(r.get(c, "")) for r in rows]
    units = {"cdpp": "ppm", "rms": "ppm", "rms_bin": "ppm", "rms_hp": "ppm", "rms_hp_bin": "ppm", "floor": "ppm",
             "floor_bin": "ppm", "time_s": "s", "cpu_s": "s"}
    for c in float_cols:
        v = np.array([np.nan if r.get(c) is None else float(r.get(c)) for r in rows], float)
        t[c] = MaskedColumn(np.where(np.isfinite(v), v, 0.0), mask=~np.isfinite(v), unit=units.get(c))
    for c in int_cols:
        v = [r.get(c) for r in rows]
        t[c] = MaskedColumn([0 if x is None else int(x) for x in v], mask=[x is None for x in v], dtype=np.int64)
    t["note"] = [str(r.get("note", "")) for r in rows]
    t.meta.update(meta)
    t.meta["description"] = ("bench_detrend.py: per-star, per-method numbers; masked = not applicable or failed "
                             "(see note). cdpp: lightkurve estimate_cdpp 6.5 h; rms*: corrected - truth; floor*: "
                             "photon noise; *_bin: 6.5-h bins; *_hp: difference high-passed over 2 d.")
    write_table(t, path)
    print(f"\nwrote {len(t)} rows to {path}")


def main() -> int:
    args = ARGS
    t_start = time.perf_counter()
    data = Path(args.data) if args.data else ROOT.parent / "shared" / "data"
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    blas = ", ".join(f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info())
    import halfsib

    lk = _lk()
    print(f"# bench_detrend: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
          f"halfsib {halfsib.__version__}, lightkurve {lk.__version__}; BLAS pools [{blas}]", flush=True)
    rows: list[dict] = []
    results: dict[str, Any] = {"rows": rows}
    own_tmp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="halfsib-bench-detrend-")) if own_tmp else Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        c13 = None
        if "c13" in sections:
            if (data / "k2-c13" / "k2sff").exists():
                c13 = results["c13"] = run_c13(args, data, rows)
            else:
                print(f"\n## 1. Real K2 C13: skipped ({data / 'k2-c13'} not found)")
        if "sim" in sections:
            results["sim"] = run_sim(args, workdir, rows)
        if "tess" in sections:
            results["tess"] = run_tess(args, workdir, rows)
        if "speed" in sections:
            results["speed"] = run_speed(args, results)
        print_targets(results)
        if args.explore:
            if (data / "k2-c13" / "k2sff").exists():
                run_explore(args, data, c13, rows)
            else:
                print("\n## EXPLORATION skipped: no C13 data")
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - t_start
    if RUN.failures:
        print(f"\n{len(RUN.failures)} failure(s):")
        for f in RUN.failures:
            print(f"  failed: {f}")
    meta = {"date": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M}Z", "machine": f"{platform.machine()}, "
            f"{os.cpu_count()} CPUs", "blas_threads": args.blas_threads, "arguments": vars(args),
            "runtime_s": round(elapsed, 1)}
    if args.out:
        _write(rows, args.out, args, meta)
    print(f"\ntotal runtime {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
