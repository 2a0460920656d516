"""Which nuisance design each real star gets, and what it does to the 6.5-h CDPP.

Run:  python benchmarks/bench_designs.py [--c13-stars 20] [--everest] [--data ../shared/data]
      python benchmarks/bench_designs.py --campaign --workers 2   (all 132 C13 stars, chosen design only)
      python benchmarks/bench_designs.py --campaign --campaign-breaks --workers 2   (the breaks found once)
      python benchmarks/bench_designs.py --tess-dumps   (TESS S1: breaks at the momentum dumps or none)
      python benchmarks/bench_designs.py --kepler8   (Kepler-8: own motion, + pixels, without the GP)
      python benchmarks/bench_designs.py --stages 5   (where fit_target's time goes, per stage)

For every target, ``halfsib.pipeline.fit_target`` fits each candidate design of
``halfsib.regressors.DESIGN_CANDIDATES`` (the mission's design with and without the other
stars' eigen light curves) and keeps the one with the lowest held-out 6.5-h CDPP (the
fewest columns within 2 % of it). This prints, per star, each candidate's CDPP (lightkurve's ``estimate_cdpp``,
13 long cadences = 6.5 h, Savitzky-Golay window 101, 5-sigma clipping; the corrected flux
with the stellar variability kept) and held-out scatter, the chosen design, and the peer's
CDPP measured here in the same run on the same cadences: K2SFF ``FCOR`` for C13 (every other
C13 star's ``FRAW`` as regressors), EVEREST's ``FLUX`` for the 7 C5 EVEREST products (their
raw pixels; the other EVEREST stamps and the 9 C5 mission light curves as regressors).

The ablation columns: the candidates themselves ("motion": own motion only, "motion+elc":
with the other stars), the same without the pointing-break search ("nobreaks"), the roll
response in 20 time windows instead of modulated by 40 B-splines in time ("windows20"), and
the default design without the stellar GP ("noGP").
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np


def _label(settings: dict) -> str:
    modulation = settings.get("motion_modulation", "default")
    motion = "motion" if modulation == "default" else f"{modulation}{settings.get('motion_windows', '')}"
    return f"{motion}{'' if settings.get('n_elc') == 0 else '+elc'}"


#: designs fitted for the ablation only (label, RegressorConfig settings, stellar kernel); each
#: through ``fit_target`` with that config, so pointing breaks are searched unless switched off
ABLATION = (("motion,nobreaks", dict(n_elc=0, find_breaks=False), "sho"),
            ("motion+elc,nobreaks", dict(find_breaks=False), "sho"),
            ("windows20", dict(motion_modulation="windows", motion_windows=20, n_elc=0), "sho"),
            ("motion+elc,noGP", {}, "none"))


#: known planets of the benchmark stars, masked in every fit and left out of every CDPP
#: (period [d], mid-transit time [BKJD], half-width of the masked window [d]); K2-136's
#: ephemerides from a box search of K2SFF's FCOR at the published periods
KNOWN_PLANETS = {"247589423": ((7.975, 2989.071, 0.1), (17.307, 2997.026, 0.15), (25.575, 2998.946, 0.15))}


def planet_mask(target_id: str, t: np.ndarray) -> np.ndarray | None:
    """True in the known planets' transit windows of ``target_id`` (None: none known)."""
    planets = next((p for key, p in KNOWN_PLANETS.items() if key in str(target_id)), None)
    if planets is None:
        return None
    return np.any([np.abs((t - t0 + 0.5 * p) % p - 0.5 * p) < w for p, t0, w in planets], axis=0)


def _run(name: str, target, others, peer_time, peer_flux, rows: list) -> None:
    from halfsib.model import DetrendConfig, detrend
    from halfsib.pipeline import choose_design, fit_target, prepare_target
    from halfsib.precision import cdpp
    from halfsib.regressors import RegressorConfig

    mask = planet_mask(name, np.asarray(target.time, float))
    t0 = time.process_time()
    lc, design, fit, choices = fit_target(target, others=others, transit_mask=mask)
    seconds = time.process_time() - t0
    good = np.isin(np.round(peer_time, 6), np.round(fit.time, 6))

    def cdpp_of(t, f):  # the known planets left out of the statistic
        return cdpp(t, f, mask=planet_mask(name, t))

    peer = cdpp_of(peer_time[good], peer_flux[good])
    cells = {}
    for c in choices:
        if c.chosen:
            cells[_label(c.settings)] = (cdpp_of(fit.time, fit.flux), c.heldout.scatter, c.heldout.cdpp, c)
        else:  # refit the candidate to measure its CDPP (fit_target keeps only the chosen fit)
            lc_c, design_c = prepare_target(target, others=others, regressors=RegressorConfig(**c.settings))
            # its breaks are in its settings; a design scored with the own-terms GP held, as fit_target did
            other = detrend(lc_c, design_c, transit_mask=mask, start=fit if c.gp_held else None, hold_gp=c.gp_held)
            cells[_label(c.settings)] = (cdpp_of(other.time, other.flux), c.heldout.scatter, c.heldout.cdpp, c)
    labels = list(cells)
    columns = [sum(cells[k][3].groups.values()) for k in labels]
    picks = {stat: labels[choose_design([cells[k][i] for k in labels], columns)]
             for stat, i in (("scatter", 1), ("cdpp", 2))}
    chosen = next(_label(c.settings) for c in choices if c.chosen)
    ablation = {}
    for label, settings, kernel in ABLATION:  # designs that are not candidates, for the ablation columns
        _, _, fit_a, _ = fit_target(target, others=others, regressors=RegressorConfig(**settings),
                                    config=DetrendConfig(kernel=kernel), transit_mask=mask)
        ablation[label] = cdpp_of(fit_a.time, fit_a.flux)
    rows.append((name, peer, cells, chosen, seconds, picks, ablation))
    text = "  ".join(f"{k} {v[0]:7.1f} ({v[1]:6.1f}, {v[2]:6.1f})" for k, v in cells.items())
    text += "  " + "  ".join(f"{k} {v:7.1f}" for k, v in ablation.items())
    print(f"{name:16s} peer {peer:7.1f}  {text}  chosen {chosen} (by cdpp: {picks['cdpp']})  ratio "
          f"{cells[chosen][0] / peer:5.2f}  {seconds:5.1f} s CPU", flush=True)


def _summary(title: str, rows: list) -> None:
    if not rows:
        return
    ratios = np.array([r[2][r[3]][0] / r[1] for r in rows])
    keys = sorted({k for r in rows for k in r[2]})
    print(f"\n{title}: {len(rows)} stars; chosen/peer CDPP median {np.median(ratios):.2f}, "
          f"lower than the peer on {int((ratios < 1).sum())}; median {np.median([r[4] for r in rows]):.1f} s CPU")
    for stat in ("scatter", "cdpp"):
        picked = np.array([r[2][r[5][stat]][0] / r[1] for r in rows])
        print(f"  chosen by held-out {stat:7s}: median CDPP/peer {np.median(picked):.2f}, lower than the peer on "
              f"{int((picked < 1).sum())}")
    best = np.array([min(v[0] for v in r[2].values()) / r[1] for r in rows])
    print(f"  best candidate in hindsight: median CDPP/peer {np.median(best):.2f}")
    for k in keys:
        vals = [r[2][k][0] / r[1] for r in rows if k in r[2]]
        print(f"  {k:16s} median CDPP/peer {np.median(vals):.2f} ({len(vals)} stars), chosen for "
              f"{sum(r[3] == k for r in rows)}")
    for k in rows[0][6]:
        vals = [r[6][k] / r[1] for r in rows]
        print(f"  {k:16s} median CDPP/peer {np.median(vals):.2f} (ablation only; not a candidate)")
    for motion in sorted({k.removesuffix("+elc") for k in keys}):
        pairs = [r for r in rows if motion + "+elc" in r[2] and motion in r[2]]
        if pairs:
            better = sum(r[2][motion + "+elc"][0] < r[2][motion][0] for r in pairs)
            print(f"  other stars lower the CDPP ({motion}+elc vs {motion}) on {better} of {len(pairs)}")


def _injected_depth_ratio(star, kernel: str, period: float = 5.3, rp_over_rs: float = 0.05,
                          find_transits: bool = False) -> float:
    """Depth kept in the corrected flux of a transit injected into the raw flux and NOT masked.

    A limb-darkened transit (Rp/R★ ``rp_over_rs``, a/R★ 12, b 0.3: about 2,700 ppm, 3 h) is
    multiplied into the star's raw flux; the own-motion design is fitted with ``kernel`` and no
    mask (with ``find_transits``: then searched, and refitted with what the search found masked,
    as ``halfsib detrend`` does by default); the depth is then fitted to the corrected flux
    (systematics removed, star kept) within 0.6 d of each transit, with a straight line per
    transit for the star, and divided by the injected one.
    """
    from halfsib.model import detrend
    from halfsib.pipeline import mask_found_transits, prepare_target
    from halfsib.regressors import RegressorConfig
    from halfsib.transit import TransitParams, transit_flux

    lc0, design = prepare_target(star, regressors=RegressorConfig(n_elc=0))
    t0 = float(np.nanmin(lc0.time)) + 1.7
    params = TransitParams(period=period, t0=t0, rp_over_rs=rp_over_rs, a_over_rs=12.0, b=0.3, q1=0.4, q2=0.3)
    lc = lc0.replace(flux=lc0.flux * transit_flux(np.nan_to_num(lc0.time), params, 0.0204, 5))
    fit = detrend(lc, design, kernel=kernel)
    if find_transits:
        fit = mask_found_transits(lc, design, fit)[0]
    shape = transit_flux(fit.time, params, 0.0204, 5) - 1.0
    phase = (fit.time - t0 + 0.5 * period) % period - 0.5 * period
    near = (np.abs(phase) < 0.6) & ~fit.clipped
    epoch = np.round((fit.time - t0) / period).astype(int)[near]
    columns = [shape[near]]
    for e in np.unique(epoch):
        one = (epoch == e).astype(float)
        columns += [one, one * phase[near]]
    coef, *_ = np.linalg.lstsq(np.array(columns).T, fit.flux[near] / np.median(fit.flux) - 1.0, rcond=None)
    return float(coef[0])


def injections(files: list, n_stars: int) -> None:
    """The median depth ratio of unmasked injected transits, with and without the stellar GP, and
    with the transits the search finds masked (``halfsib detrend``'s default)."""
    import halfsib

    chosen = [f for f in files if "247589423" not in f.name][::5][:n_stars]
    ratios = []
    print(f"\nUnmasked injections (own-motion design, {len(chosen)} C13 stars, ~2,700 ppm, P = 5.3 d)")
    for f in chosen:
        star = halfsib.read(f)
        ratios.append([_injected_depth_ratio(star, kernel) for kernel in ("sho", "none")]
                      + [_injected_depth_ratio(star, "sho", find_transits=True)])
        print(f"{star.meta.target_id:16s} depth kept: with GP {ratios[-1][0]:.3f}, without {ratios[-1][1]:.3f}, "
              f"found transits masked {ratios[-1][2]:.3f}", flush=True)
    r = np.array(ratios)
    print(f"median depth kept: with GP {np.median(r[:, 0]):.3f}, without GP {np.median(r[:, 1]):.3f}, "
          f"found transits masked {np.median(r[:, 2]):.3f}")


_CAMPAIGN: dict = {}


def _read_campaign(paths: list[str], find_breaks: bool = True, breaks: tuple | None = None) -> None:
    """Worker initialiser: read every C13 star once (``find_breaks=False``: the K2 default off;
    ``breaks``: the campaign's pointing breaks, given to every target instead of its own search)."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import halfsib
    from halfsib.regressors import MISSION_DEFAULTS

    MISSION_DEFAULTS["K2"]["find_breaks"] = find_breaks
    _CAMPAIGN["__breaks__"] = breaks
    _CAMPAIGN.update({p: halfsib.read(p) for p in paths})


def _chosen_only(path: str) -> tuple:
    """One C13 star's chosen design: its CDPP, K2SFF's, the design, breaks and CPU seconds."""
    from astropy.io import fits
    from halfsib.pipeline import fit_target
    from halfsib.precision import cdpp

    target = _CAMPAIGN[path]
    others = [s for p, s in _CAMPAIGN.items() if p != path and p != "__breaks__"]
    name = target.meta.target_id
    mask = planet_mask(name, np.asarray(target.time, float))
    t0 = time.process_time()
    _, _, fit, choices = fit_target(target, others=others, transit_mask=mask, pointing_breaks=_CAMPAIGN["__breaks__"])
    seconds = time.process_time() - t0
    d = fits.getdata(path, "BESTAPER")
    peer_time, peer_flux = np.asarray(d["T"], float), np.asarray(d["FCOR"], float)
    good = np.isin(np.round(peer_time, 6), np.round(fit.time, 6))
    peer = cdpp(peer_time[good], peer_flux[good], mask=planet_mask(name, peer_time[good]))
    ours = cdpp(fit.time, fit.flux, mask=planet_mask(name, fit.time))
    chosen = next(c for c in choices if c.chosen)
    return name, peer, ours, _label(chosen.settings), tuple(chosen.settings.get("motion_breaks", ())), seconds


def campaign(files: list, workers: int, stride: int = 1, find_breaks: bool = True,
             campaign_breaks: bool = False) -> None:
    """Every ``stride``-th C13 star (all read as regressors), the chosen design only (no ablation,
    no refit of the other candidate); with ``campaign_breaks`` the campaign's pointing breaks
    are found once (``find_campaign_breaks``, timed) and given to every target."""
    from concurrent.futures import ProcessPoolExecutor

    paths = [str(f) for f in files]
    targets = paths[::stride]
    breaks = None
    if campaign_breaks:
        from halfsib.pipeline import find_campaign_breaks

        t0 = time.process_time()
        with ProcessPoolExecutor(workers) as pool:
            found = find_campaign_breaks(paths, mapper=pool.map)
        breaks = found.times
        print(f"campaign pointing breaks from {len(found.searches)} stars: "
              f"{', '.join(f'{b:.3f}' for b in breaks) or 'none'} d "
              f"({time.process_time() - t0:.1f} s CPU in this process; each star's own breaks: "
              f"{[tuple(round(b, 2) for b in s.times) for s in found.searches]})")
    search = "the campaign's, found once" if campaign_breaks else ("on" if find_breaks else "off")
    print(f"C13, {len(targets)} of {len(paths)} stars, chosen design only ({workers} worker(s), pointing breaks "
          f"{search}); CDPP [ppm]")
    rows = []
    with ProcessPoolExecutor(workers, initializer=_read_campaign, initargs=(paths, find_breaks, breaks)) as pool:
        for name, peer, ours, label, breaks, seconds in pool.map(_chosen_only, targets):
            rows.append((peer, ours, label, len(breaks), seconds))
            print(f"{name:16s} peer {peer:8.1f}  halfsib {ours:8.1f}  ratio {ours / peer:5.2f}  {label:11s} "
                  f"breaks {len(breaks)}  {seconds:5.1f} s CPU", flush=True)
    ratio = np.array([r[1] / r[0] for r in rows])
    print(f"\nC13, {len(rows)} stars: CDPP / K2SFF FCOR median {np.median(ratio):.3f} "
          f"(quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}), lower on "
          f"{int((ratio < 1).sum())}; other stars kept for {sum(r[2].endswith('+elc') for r in rows)}; breaks found "
          f"on {sum(r[3] > 0 for r in rows)} (median {np.median([r[3] for r in rows]):.0f}); median "
          f"{np.median([r[4] for r in rows]):.1f} s CPU per star")


def momentum_dumps(series) -> tuple:
    """Times [d] of a TESS light curve's momentum dumps: the middle of each run of cadences
    flagged with quality bit 6 (value 32, reaction-wheel desaturation)."""
    q = np.asarray(series.quality)
    t = np.asarray(series.time, float)
    flagged = t[(((q >> 5) & 1) == 1) & np.isfinite(t)]
    if flagged.size == 0:
        return ()
    return tuple(float(np.median(g)) for g in np.split(flagged, np.flatnonzero(np.diff(flagged) > 0.1) + 1))


def tess_dumps(data: Path) -> None:
    """The TESS sector-1 stars with and without pointing breaks at their momentum dumps (the
    default design choice, each CCD's other stars as regressors); CDPP as is (planets not
    masked: compare the two columns, not with PDCSAP), and CPU per ``fit_target``."""
    import halfsib
    from halfsib.pipeline import fit_target
    from halfsib.precision import cdpp

    print("\nTESS S1: pointing breaks at the momentum dumps; 6.5-h CDPP [ppm] (transits not masked), CPU [s]")
    ratios = []
    for folder in ("tess-s1-cam4-ccd1", "tess-s1-cam2-ccd4"):
        stars = {p: halfsib.read(p) for p in sorted((data / folder).glob("*.fits"))}
        for path, star in stars.items():
            others = [o for q, o in stars.items() if q != path]
            dumps = momentum_dumps(star)
            row = []
            for breaks in (None, dumps):
                t0 = time.process_time()
                _, _, fit, _ = fit_target(star, others=others, pointing_breaks=breaks)
                row.append((cdpp(fit.time, fit.flux), time.process_time() - t0))
            pdc = star.columns.get("pdcsap_flux")
            ok = np.asarray(star.good) & np.isfinite(pdc) if pdc is not None else None
            peer = cdpp(np.asarray(star.time)[ok], np.asarray(pdc)[ok]) if pdc is not None else float("nan")
            ratios.append(row[1][0] / row[0][0])
            print(f"{star.meta.target_id:14s} dumps {len(dumps):2d}  PDCSAP {peer:7.1f}  no breaks {row[0][0]:7.1f} "
                  f"({row[0][1]:4.1f} s)  breaks at dumps {row[1][0]:7.1f} ({row[1][1]:4.1f} s)  ratio {ratios[-1]:.3f}",
                  flush=True)
    print(f"median CDPP ratio, breaks at dumps / none: {np.median(ratios):.3f}")


#: Kepler-8 b (KIC 6922244): period [d], mid-transit [BKJD] and half-width [d] of the masked window
KEPLER8_B = (3.52254, 954.48636, 0.12)


def kepler8(data: Path) -> None:
    """Kepler-8 (Q4, channel 31; no other stars in the shared data): the ablation on one Kepler
    star, its light curve (own motion: centroids) and its pixel file (+ PLD), with and without
    the stellar GP, against PDCSAP on the same cadences; planet masked and left out."""
    import halfsib
    from halfsib.model import DetrendConfig
    from halfsib.pipeline import fit_target
    from halfsib.precision import cdpp
    from halfsib.regressors import RegressorConfig

    folder = data / "kepler-q4-ch31"
    lc_file = next(folder.glob("*_llc.fits"))
    tpf_file = next(folder.glob("*_lpd-targ.fits"))
    period, t0, half = KEPLER8_B
    masked = lambda t: np.abs((t - t0 + 0.5 * period) % period - 0.5 * period) < half  # noqa: E731
    light, pixels = halfsib.read(lc_file), halfsib.read(tpf_file)
    pdc = light.columns["pdcsap_flux"]
    ok = np.asarray(light.good) & np.isfinite(pdc)
    print("\nKepler-8 (Q4): 6.5-h CDPP [ppm], planet masked; CPU [s]")
    rows = (("own motion (light curve)", light, RegressorConfig(n_elc=0), None),
            ("pixel file, design chosen", pixels, None, None),
            ("+ pixels, no stellar GP", pixels, None, DetrendConfig(kernel="none")),
            ("own motion, no stellar GP", light, RegressorConfig(n_elc=0), DetrendConfig(kernel="none")))
    peer_time = np.asarray(light.time)[ok]
    for label, star, regressors, config in rows:
        t = np.asarray(star.time, float)
        t1 = time.process_time()
        _, design, fit, _ = fit_target(star, regressors=regressors, config=config, transit_mask=masked(t))
        seconds = time.process_time() - t1
        same = np.isin(np.round(peer_time, 6), np.round(fit.time, 6))
        peer = cdpp(peer_time[same], np.asarray(pdc)[ok][same], mask=masked(peer_time[same]))
        ours = cdpp(fit.time, fit.flux, mask=masked(fit.time))
        print(f"{label:28s} {ours:7.1f}  PDCSAP {peer:7.1f}  ratio {ours / peer:5.3f}  "
              f"{'+'.join(design.group_names)} ({design.n_columns} columns)  {seconds:5.1f} s", flush=True)


#: (label, module file, function): the stages of ``fit_target`` whose cumulative time ``stages``
#: reports; the indented ones are inside the ones above them
STAGES = (("design matrices (build_design)", "regressors/build.py", "build_design"),
          ("outlier pre-clip (prior variances, GP held)", "halfsib/model.py", "_preclip"),
          ("hyper-parameter fits (GP + prior variances)", "halfsib/model.py", "_fit_hyperparameters"),
          ("  of which: likelihood rebuilds (K⁻¹A, Gram by syrk)", "halfsib/gp.py", "solve_and_gram"),
          ("  of which: GP-parameter gradients", "halfsib/likelihood.py", "gradient_kernel"),
          ("posterior means and leakage", "halfsib/model.py", "_result"),
          ("pointing-break search", "halfsib/breaks.py", "find_motion_breaks"),
          ("held-out scoring of the candidates", "halfsib/model.py", "heldout_precision"))


def stages(files: list, n_stars: int) -> None:
    """Where ``fit_target``'s time goes, per stage, on ``n_stars`` C13 stars (every k-th file),
    with each target's own break search and with the campaign's breaks (found once, timed)."""
    import cProfile
    import pstats

    import halfsib
    from halfsib.pipeline import find_campaign_breaks, fit_target

    stars = {f: halfsib.read(f) for f in files}
    t0 = time.process_time()
    found = find_campaign_breaks(files)
    vote = time.process_time() - t0
    print(f"\nwhere fit_target's time goes: {n_stars} C13 stars, CPU [s] under cProfile, median per star "
          f"(the campaign's breaks {', '.join(f'{b:.3f}' for b in found.times)} d found once: {vote:.0f} s)")
    chosen = files[:: max(1, len(files) // n_stars)][:n_stars]
    fit_target(stars[chosen[0]], others=[stars[f] for f in files[1:6]])  # numba and import warm-up
    table = {}
    for mode, breaks in (("own break search", None), ("campaign's breaks", found.times)):
        rows = []
        for f in chosen:
            profile = cProfile.Profile()
            profile.enable()
            fit_target(stars[f], others=[s for g, s in stars.items() if g != f], pointing_breaks=breaks)
            profile.disable()
            got = pstats.Stats(profile).stats
            total = max(v[3] for v in got.values())
            rows.append([total] + [sum(v[3] for (path, _, name), v in got.items()
                                       if path.endswith(where) and name == func) for _, where, func in STAGES])
        table[mode] = np.median(np.array(rows), axis=0)
    print(f"| stage | {' | '.join(table)} |\n|---|{'---:|' * len(table)}")
    for i, (label, _, _) in enumerate(STAGES, start=1):
        print(f"| {label} | {' | '.join(f'{v[i]:.1f}' for v in table.values())} |")
    print(f"| **fit_target total** | {' | '.join(f'**{v[0]:.1f}**' for v in table.values())} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--c13-stars", type=int, default=20, help="C13 targets (every k-th file, K2-136 first); 0: none")
    ap.add_argument("--everest", action="store_true", help="also the 7 C5 EVEREST stars")
    ap.add_argument("--inject", type=int, default=0, metavar="N",
                    help="also the depth kept of transits injected unmasked into N C13 stars")
    ap.add_argument("--campaign", action="store_true",
                    help="every C13 star, the chosen design only (no ablation); with --workers")
    ap.add_argument("--workers", type=int, default=1, help="processes for --campaign")
    ap.add_argument("--stride", type=int, default=1, help="with --campaign: every k-th star")
    ap.add_argument("--no-breaks", action="store_true", help="with --campaign: the pointing-break search off")
    ap.add_argument("--stages", type=int, default=0, metavar="N",
                    help="where fit_target's time goes, per stage, on N C13 stars")
    ap.add_argument("--kepler8", action="store_true", help="the ablation on Kepler-8 (Q4 light curve and pixels)")
    ap.add_argument("--tess-dumps", action="store_true",
                    help="the TESS sector-1 stars with and without pointing breaks at the momentum dumps")
    ap.add_argument("--campaign-breaks", action="store_true",
                    help="with --campaign: the campaign's pointing breaks found once and given to every target")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import halfsib
    from astropy.io import fits

    data = Path(args.data)
    if args.stages:
        stages(sorted((data / "k2-c13" / "k2sff").glob("*.fits")), args.stages)
        return
    if args.tess_dumps or args.kepler8:
        if args.kepler8:
            kepler8(data)
        if args.tess_dumps:
            tess_dumps(data)
        return
    if args.campaign:
        campaign(sorted((data / "k2-c13" / "k2sff").glob("*.fits")), args.workers, args.stride, not args.no_breaks,
                 args.campaign_breaks)
        return
    rows: list = []
    if args.c13_stars:
        files = sorted((data / "k2-c13" / "k2sff").glob("*.fits"))
        k2136 = [f for f in files if "247589423" in f.name]
        step = max(1, len(files) // args.c13_stars)
        chosen = (k2136 + [f for f in files[::step] if f not in k2136])[:args.c13_stars]
        stars = {f: halfsib.read(f) for f in files}
        print("C13 (K2SFF FRAW; peer = K2SFF FCOR); per design: CDPP [ppm] (held-out scatter, held-out CDPP [ppm])")
        for f in chosen:
            d = fits.getdata(f, "BESTAPER")
            others = [s for g, s in stars.items() if g != f]
            _run(stars[f].meta.target_id, stars[f], others, np.asarray(d["T"], float), np.asarray(d["FCOR"], float),
                 rows)
        _summary("C13", rows)
    if args.inject:
        injections(sorted((data / "k2-c13" / "k2sff").glob("*.fits")), args.inject)
    if args.everest:
        ev = sorted((data / "k2-c5" / "everest").glob("*.fits"))
        stamps = [halfsib.read(f) for f in ev]
        lcs = [halfsib.read(f) for f in sorted((data / "k2-c5").glob("ktwo*.fits"))]
        rows_ev: list = []
        print("\nC5 EVEREST set (raw pixels FPIX; peer = EVEREST FLUX)")
        for s in stamps:
            others = [o for o in stamps if o is not s] + lcs
            _run(s.meta.target_id, s, others, s.time[s.good], s.columns["everest_flux"][s.good], rows_ev)
        _summary("C5 EVEREST", rows_ev)


if __name__ == "__main__":
    main()
