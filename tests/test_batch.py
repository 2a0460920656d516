"""halfsib batch: discovery, grouping, failure isolation, resume, lock, sanitised names,
determinism across executors (local pool vs Dask), a kill -9 in the middle, the demo.

Fast tests run a light task (read the file, write one table) on threads; the tests marked
slow run the real detrend + search task on a tiny simulated K2 campaign in worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import halfsib
from halfsib.batch import (
    BatchConfig, OutdirLock, OutdirLockedError, TaskProducts, read_marker, run_batch, sanitise_name, stable_seed,
)
from halfsib.batch.catalog import FRONT_COLUMNS
from halfsib.batch.execute import MARKER_NAME
from halfsib.batch.names import unique_names
from halfsib.cli import main
from halfsib.io import write_table
from halfsib.simulate import SimulationConfig, simulate_campaign, write_campaign
from halfsib.regressors import RegressorConfig

#: the light test tasks fit no model: no campaign pointing-break search for their K2 groups
NO_BREAKS = RegressorConfig(find_breaks=False)

N_STARS = 6


# ---------------------------------------------------------------- tasks used by the tests
def light_task(target, context, outdir):
    """Read the target, write one table; rows depend on the data and on the per-target seed."""
    lc = halfsib.read(target.path)
    rng = np.random.default_rng(target.seed)
    rows = tuple({"period": float(1 + rng.random()), "depth": float(np.median(lc.flux[lc.good])), "n_transits": k,
                  "note": f"row {k}"} for k in range(1 + target.seed % 2))
    write_table(Table(rows=[(r["period"], r["depth"]) for r in rows], names=("period", "depth")),
                outdir / "candidates.ecsv")
    return TaskProducts(rows=rows, units={"period": "d"}, outputs=("candidates.ecsv",),
                        info={"n_cadences": lc.n_cadences})


def failing_task(target, context, outdir):
    """light_task, except that star number 3 raises."""
    if target.target_id.endswith("03"):
        raise RuntimeError("simulated failure in the middle of the batch")
    return light_task(target, context, outdir)


def lying_task(target, context, outdir):
    """Claims an output it never writes: must count as a failure, not as complete."""
    products = light_task(target, context, outdir)
    return TaskProducts(rows=products.rows, outputs=(*products.outputs, "missing.fits"))


# ---------------------------------------------------------------- data
@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_campaign")
    camp = simulate_campaign(SimulationConfig(mission="k2", n_stars=N_STARS, n_cadences=400, seed=5,
                                              planet_fraction=0.5, eb_fraction=0.0, mag_range=(11.5, 13.5)))
    write_campaign(camp, out, pixels=False, progress=False)
    return out


def _light(tmp_path, inputs, *, task=light_task, workers=1, **kw):
    config = BatchConfig(regressors=NO_BREAKS, workers=workers, task=task, progress=False, **kw)
    with ThreadPoolExecutor(workers) as ex:
        return run_batch(inputs, tmp_path, config, executor=ex)


def _rows(path):
    t = Table.read(path)
    return [tuple(str(v) for v in row) for row in t]


# ---------------------------------------------------------------- names and seeds
def test_sanitise_name_never_leaves_the_folder():
    assert sanitise_name("EPIC 211436265") == "EPIC_211436265"
    assert sanitise_name("../../etc/passwd") == "etc_passwd"
    assert sanitise_name("..") == "target" and sanitise_name("") == "target" and sanitise_name(None) == "target"
    assert sanitise_name(".hidden") == "hidden" and sanitise_name("-rf") == "rf"
    assert sanitise_name("a\x00b\nc/d\\e") == "a_b_c_d_e"
    assert sanitise_name("CON") == "_CON" and sanitise_name("TIC 1" + "9" * 300).__len__() <= 100
    for text in ("../x", "/abs/path", "a/../../b", "C:\\win", "é ü"):
        name = sanitise_name(text)
        assert "/" not in name and "\\" not in name and not name.startswith(".") and name


def test_unique_names_resolve_collisions_by_key_not_order():
    names = unique_names(["A", "a", "B"], ["/x/1.fits", "/x/2.fits", "/x/3.fits"])
    assert names[2] == "B" and names[0] != names[1] and names[0].startswith("A-") and names[1].startswith("a-")
    swapped = unique_names(["a", "A", "B"], ["/x/2.fits", "/x/1.fits", "/x/3.fits"])
    assert swapped[0] == names[1] and swapped[1] == names[0]
    with pytest.raises(ValueError):
        unique_names(["A", "A"], ["/same", "/same"])


def test_stable_seed_depends_on_seed_and_key_only():
    assert stable_seed(0, "EPIC 1|C5") == stable_seed(0, "EPIC 1|C5")
    assert stable_seed(0, "EPIC 1|C5") != stable_seed(1, "EPIC 1|C5") != stable_seed(0, "EPIC 2|C5")
    assert 0 <= stable_seed(3, "x") < 2**63


# ---------------------------------------------------------------- the run
def test_light_batch_writes_catalog_failures_summary(campaign, tmp_path):
    summary = _light(tmp_path / "out", [campaign / "lc"])
    out = tmp_path / "out"
    assert (summary.n_targets, summary.n_done, summary.n_failed, summary.exit_status) == (N_STARS, N_STARS, 0, 0)
    catalog = Table.read(out / "catalog.ecsv")
    assert list(catalog.colnames[:len(FRONT_COLUMNS)]) == list(FRONT_COLUMNS)
    assert catalog.colnames[-1] == "claimed" and np.all(np.ma.getmaskarray(catalog["claimed"]))
    assert str(catalog["period"].unit) == "d" and set(catalog["group"]) == {"K2-C99"}
    assert set(catalog["channel"]) == {"ch45"} or all(c.startswith("ch") for c in catalog["channel"])
    # rows sorted by target name then candidate rank
    keys = [(n, c) for n, c in zip(catalog["name"], catalog["candidate"])]
    assert keys == sorted(keys)
    assert len(Table.read(out / "failures.ecsv")) == 0
    record = json.loads((out / "summary.json").read_text())
    assert record["n_done"] == N_STARS and record["versions"]["halfsib"] == halfsib.__version__
    assert record["settings"]["task"].endswith("light_task")
    for folder in (out / "targets").iterdir():
        assert (folder / "target.log").read_text().count("done in") == 1
        assert read_marker(folder, json.loads((folder / MARKER_NAME).read_text())["settings_hash"]) is not None
    assert (out / "basis" / "K2-C99.fits").is_file()
    assert not (out / ".halfsib-batch.lock").exists()


def test_catalog_is_identical_whatever_the_worker_count(campaign, tmp_path):
    _light(tmp_path / "one", [campaign / "lc"], workers=1)
    _light(tmp_path / "three", [campaign / "lc"], workers=3)
    assert _rows(tmp_path / "one" / "catalog.ecsv") == _rows(tmp_path / "three" / "catalog.ecsv")


def test_a_failing_target_in_the_middle_is_recorded_and_the_run_goes_on(campaign, tmp_path):
    summary = _light(tmp_path, [campaign / "lc"], task=failing_task, workers=2)
    assert (summary.n_done, summary.n_failed, summary.exit_status) == (N_STARS - 1, 1, 1)
    failures = Table.read(tmp_path / "failures.ecsv")
    assert list(failures["stage"]) == ["task"] and failures["error_type"][0] == "RuntimeError"
    assert "simulated failure" in failures["error"][0] and failures["target_id"][0].endswith("03")
    log = (tmp_path / "targets" / failures["name"][0] / "target.log").read_text()
    assert "Traceback" in log and "simulated failure" in log
    assert not (tmp_path / "targets" / failures["name"][0] / MARKER_NAME).exists()
    catalog = Table.read(tmp_path / "catalog.ecsv")
    assert failures["name"][0] not in set(catalog["name"]) and len(set(catalog["name"])) == N_STARS - 1
    # a rerun retries the failed target only
    again = _light(tmp_path, [campaign / "lc"], task=failing_task)
    assert (again.n_complete_before, again.n_done, again.n_failed) == (N_STARS - 1, 0, 1)


def test_outputs_the_task_did_not_write_mean_failure(campaign, tmp_path):
    summary = _light(tmp_path, [campaign / "lc"], task=lying_task)
    assert summary.n_failed == N_STARS
    assert "missing.fits" in Table.read(tmp_path / "failures.ecsv")["error"][0]


def test_corrupted_inputs_among_good_ones(campaign, tmp_path):
    from helpers.corrupt import not_fits, truncated_data

    inputs = tmp_path / "in"
    shutil.copytree(campaign / "lc", inputs)
    good = sorted(inputs.iterdir())[0]
    truncated_data(good, "kepler-lc", inputs / "ktwo000000001-c99_llc.fits")
    not_fits(good, "kepler-lc", inputs / "ktwo000000002-c99_llc.fits")
    summary = _light(tmp_path / "out", [inputs], workers=2)
    assert (summary.n_inputs, summary.n_unreadable, summary.n_done, summary.exit_status) == (N_STARS + 2, 2,
                                                                                          N_STARS, 2)
    failures = Table.read(tmp_path / "out" / "failures.ecsv")
    assert list(failures["stage"]) == ["read", "read"]
    assert all(Path(p).name.startswith("ktwo00000000") for p in failures["path"])
    assert all(e for e in failures["error"])


def test_nothing_readable_is_an_error(tmp_path):
    from halfsib.exceptions import DataValidationError

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.fits").write_text("not a fits file\n" * 10)
    with pytest.raises(DataValidationError, match="none of the 1 input"):
        _light(tmp_path / "out", [tmp_path / "in"])
    assert len(Table.read(tmp_path / "out" / "failures.ecsv")) == 1


def test_header_names_are_sanitised_and_never_clobber(campaign, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    src = sorted((campaign / "lc").iterdir())
    for i, name in enumerate(("evil_a.fits", "evil_b.fits")):
        shutil.copy(src[i], inputs / name)
        with fits.open(inputs / name, mode="update") as hdul:
            hdul[0].header["OBJECT"] = "../../../escape me"
    shutil.copy(src[2], inputs / "copy1.fits")
    shutil.copy(src[2], inputs / "copy2.fits")  # the same star twice: two folders, no clobbering
    summary = _light(tmp_path / "out", [inputs])
    assert summary.n_done == 4
    folders = sorted(p.name for p in (tmp_path / "out" / "targets").iterdir())
    assert len(folders) == 4 and all("/" not in f and ".." not in f for f in folders)
    assert sum(f.startswith("escape_me-") for f in folders) == 2
    assert not (tmp_path / "escape me").exists() and not (tmp_path.parent / "escape me").exists()


# ---------------------------------------------------------------- resume
def test_rerun_skips_complete_and_redoes_partial_targets(campaign, tmp_path):
    first = _light(tmp_path, [campaign / "lc"])
    reference = _rows(tmp_path / "catalog.ecsv")
    targets = sorted((tmp_path / "targets").iterdir())
    (targets[1] / MARKER_NAME).unlink()                       # killed before the marker
    (targets[1] / ".candidates.ecsv.x.tmp.ecsv").write_text("half-written")
    (targets[2] / "candidates.ecsv").unlink()                  # marker but an output missing
    (targets[3] / MARKER_NAME).write_text("{ truncated")        # unreadable marker
    again = _light(tmp_path, [campaign / "lc"])
    assert (first.n_done, again.n_complete_before, again.n_done) == (N_STARS, N_STARS - 3, 3)
    assert _rows(tmp_path / "catalog.ecsv") == reference
    assert not (targets[1] / ".candidates.ecsv.x.tmp.ecsv").exists()
    # other settings: nothing is complete any more
    changed = _light(tmp_path, [campaign / "lc"], seed=7)
    assert (changed.n_complete_before, changed.n_done) == (0, N_STARS)
    assert _rows(tmp_path / "catalog.ecsv") != reference


# ---------------------------------------------------------------- lock
def test_second_run_on_the_same_outdir_is_refused(campaign, tmp_path):
    with OutdirLock(tmp_path):
        with pytest.raises(OutdirLockedError, match="another halfsib batch"):
            _light(tmp_path, [campaign / "lc"])
        with pytest.raises(OutdirLockedError):
            OutdirLock(tmp_path).acquire()
    assert _light(tmp_path, [campaign / "lc"]).n_done == N_STARS  # released


def test_stale_lock_of_a_dead_process_is_replaced(campaign, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    lock = OutdirLock(tmp_path).path
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"host": os.uname().nodename, "pid": proc.pid, "start": "1",
                                "started_utc": "2026-01-01T00:00:00Z"}))
    assert _light(tmp_path, [campaign / "lc"]).n_done == N_STARS
    assert not lock.exists()


def test_lock_from_another_host_needs_break_lock(campaign, tmp_path):
    lock = OutdirLock(tmp_path).path
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"host": "elsewhere.example", "pid": 1, "started_utc": "?"}))
    with pytest.raises(OutdirLockedError, match="elsewhere.example"):
        _light(tmp_path, [campaign / "lc"])
    assert _light(tmp_path, [campaign / "lc"], break_lock=True).n_done == N_STARS


def test_cli_refuses_a_locked_outdir_with_status_101(campaign, tmp_path, capsys):
    with OutdirLock(tmp_path / "out"):
        status = main(["batch", str(campaign / "lc"), "-o", str(tmp_path / "out"), "-q", "--workers", "1"])
    assert status == 101 and "another halfsib batch" in capsys.readouterr().err


# ---------------------------------------------------------------- the real task, processes, Dask, kill -9
@pytest.fixture(scope="module")
def reference_run(campaign, tmp_path_factory):
    """The default detrend + search task on a local process pool of 2 workers."""
    out = tmp_path_factory.mktemp("pool")
    summary = run_batch([campaign / "lc"], out, BatchConfig(workers=2, progress=False))
    return out, summary


@pytest.mark.slow
def test_local_pool_runs_the_default_task(reference_run):
    out, summary = reference_run
    assert (summary.n_done, summary.n_failed) == (N_STARS, 0), Table.read(out / "failures.ecsv")
    assert summary.executor.startswith("local process pool") and summary.peak_rss_mb > 0
    catalog = Table.read(out / "catalog.ecsv")
    assert len(catalog) >= 1 and "snr" in catalog.colnames and str(catalog["depth"].unit) == "ppm"
    folder = out / "targets" / catalog["name"][0]
    assert (folder / "lightcurve.fits").is_file() and (folder / "candidates.ecsv").is_file()
    assert halfsib.read(folder / "lightcurve.fits").n_cadences > 0
    targets = Table.read(out / "targets.ecsv")  # one row per target: where it is and its precision
    assert len(targets) == N_STARS and str(targets["cdpp_ppm"].unit) == "ppm"
    assert np.all(targets["cdpp_raw_ppm"] > targets["cdpp_ppm"]) and not np.ma.getmaskarray(targets["cdpp_ppm"]).any()
    assert np.ma.is_masked(targets["n_claimed"][0])  # the detrend + search task does not claim


@pytest.mark.slow
def test_dask_local_cluster_gives_the_identical_catalog(campaign, reference_run, tmp_path):
    out, _ = reference_run
    summary = run_batch([campaign / "lc"], tmp_path, BatchConfig(workers=2, dask=True, progress=False))
    assert summary.executor.startswith("Dask LocalCluster") and summary.n_done == N_STARS
    assert _rows(tmp_path / "catalog.ecsv") == _rows(out / "catalog.ecsv")


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_completes_with_the_identical_catalog(campaign, reference_run, tmp_path):
    out, _ = reference_run
    inputs = tmp_path / "in"
    shutil.copytree(campaign / "lc", inputs)
    (inputs / "ktwo000000009-c99_llc.fits").write_bytes(b"")  # one corrupted input among good ones
    cmd = [sys.executable, "-m", "halfsib", "batch", str(inputs), "-o", str(tmp_path / "out"), "--workers", "1",
           "-q"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(halfsib.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not list((tmp_path / "out").glob(f"targets/*/{MARKER_NAME}")):
        time.sleep(0.2)
    assert proc.poll() is None, "the batch ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: main and workers, no clean-up
    proc.wait()
    killed = len(list((tmp_path / "out").glob(f"targets/*/{MARKER_NAME}")))
    assert 1 <= killed < N_STARS and (tmp_path / "out" / ".halfsib-batch.lock").exists()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1, rerun.stderr  # the one unreadable input
    record = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert record["n_complete_before"] >= killed and record["n_complete_before"] + record["n_done"] == N_STARS
    assert _rows(tmp_path / "out" / "catalog.ecsv") == _rows(out / "catalog.ecsv")
    assert not (tmp_path / "out" / ".halfsib-batch.lock").exists()


@pytest.mark.slow
def test_demo_simulates_runs_and_compares_with_the_truth(tmp_path, capsys):
    status = main(["demo", "-o", str(tmp_path), "--stars", "6", "--cadences", "400", "--workers", "2", "--seed", "3"])
    text = capsys.readouterr().out
    assert status == 0 and "planets:" in text and "claimed: " in text and "of them injected planets" in text
    matches = Table.read(tmp_path / "truth_match.ecsv")
    catalog = Table.read(tmp_path / "batch" / "catalog.ecsv")
    assert "claim_reason" in catalog.colnames  # the default demo task is halfsib run
    bodies = Table.read(tmp_path / "sim" / "planets.ecsv")
    assert len(matches[matches["kind"] != "other"]) == len(bodies)
    assert (tmp_path / "recovery.png").stat().st_size > 1000
    assert (tmp_path / "batch" / "catalog.ecsv").is_file()


def test_regressor_only_stars_join_the_basis_but_are_not_processed(campaign, tmp_path):
    files = sorted((campaign / "lc").iterdir())
    summary = _light(tmp_path, [str(f) for f in files[:2]], others=(str(campaign / "lc"),))
    assert (summary.n_targets, summary.n_done) == (2, 2)
    assert summary.groups[0]["n_targets"] == 2 and summary.groups[0]["basis_stars"] == N_STARS
    assert len(list((tmp_path / "targets").iterdir())) == 2


def test_demo_truth_matching_exact_alias_missed_leak():
    from halfsib.batch.demo import match_truth

    bodies = Table(rows=[("EPIC 1", "planet", 3.0, 100.0, 3.0, 500.0, 5), ("EPIC 2", "eb", 2.0, 50.0, 2.0, 9e4, 9),
                         ("EPIC 3", "planet", 7.0, 101.0, 4.0, 800.0, 2)],
                   names=("object", "kind", "period", "t0", "duration", "depth", "n_events"))
    catalog = Table(rows=[("EPIC 1", 3.01, 103.0, 480.0, 5, 12.0),    # exact (t0 one period later)
                          ("EPIC 1", 3.0, 101.5, 50.0, 5, 8.0),       # right period, wrong epoch: other
                          ("EPIC 2", 4.0, 52.0, 4e4, 4, 30.0),         # EB at twice its period: alias
                          ("EPIC 4", 2.0, 54.0, 300.0, 9, 9.0)],       # EPIC 2's eclipses next door: leak
                    names=("target_id", "period", "t0", "depth", "n_transits", "snr"))
    m = match_truth(catalog, bodies)
    assert list(m["found"]) == ["exact", "alias", "", "candidate", "leak"]
    assert np.all(np.ma.getmaskarray(m["claimed"]))  # the catalog has no claimed column
    catalog["claimed"] = [True, False, False, True]
    m = match_truth(catalog, bodies)
    assert list(np.ma.filled(m["claimed"], False)) == [True, False, False, False, True]
    assert list(np.ma.getmaskarray(m["claimed"])) == [False, False, True, False, False]
    assert list(m["kind"]) == ["planet", "eb", "planet", "other", "other"]
    assert np.ma.is_masked(m["snr"][2]) and m["snr"][0] == 12.0


def test_demo_truth_matching_keeps_a_single_event_without_a_period(tmp_path):
    """A single-event candidate has no period (masked in the catalog): an 'other' row with the
    period masked, and the table can be written (it used to stop the demo at the very end)."""
    from halfsib.batch.demo import match_truth
    from halfsib.io import write_table

    bodies = Table(rows=[("EPIC 1", "planet", 3.0, 100.0, 3.0, 500.0, 5)],
                   names=("object", "kind", "period", "t0", "duration", "depth", "n_events"))
    catalog = Table(rows=[("EPIC 1", 3.0, 103.0, 480.0, 5, 12.0), ("EPIC 1", 0.0, 130.0, 900.0, 1, 9.0)],
                    names=("target_id", "period", "t0", "depth", "n_transits", "snr"), masked=True)
    catalog["period"].mask = [False, True]
    m = match_truth(catalog, bodies)
    assert list(m["found"]) == ["exact", "candidate"] and np.ma.is_masked(m["period"][1])
    write_table(m, tmp_path / "truth_match.ecsv")


@pytest.mark.slow
def test_run_task_fills_claimed_and_the_stage_columns(campaign, tmp_path):
    from halfsib.batch.tasks import run_task
    from halfsib.fit import FitConfig
    from halfsib.run import RunConfig

    files = sorted((campaign / "lc").iterdir())
    summary = _light(tmp_path, [str(f) for f in files[:3]], task=run_task, others=(str(campaign / "lc"),),
                     run=RunConfig(fit=FitConfig(sample=False), max_candidates=1))
    assert (summary.n_done, summary.n_failed) == (3, 0), Table.read(tmp_path / "failures.ecsv")
    catalog = Table.read(tmp_path / "catalog.ecsv")
    assert catalog.colnames[-1] == "claimed" and "claim_reason" in catalog.colnames
    if len(catalog):
        followed = catalog[catalog["rank"] == 1]
        assert len(followed) and not np.any(np.ma.getmaskarray(followed["claimed"]))
    for folder in (tmp_path / "targets").iterdir():
        outputs = json.loads((folder / MARKER_NAME).read_text())["outputs"]
        assert outputs and all((folder / name).is_file() for name in outputs)


def test_cli_task_option_builds_the_run_task():
    from halfsib.batch.tasks import detrend_search_task, run_task
    from halfsib.cli import build_parser
    from halfsib.cli.batch import config_from_args

    parser = build_parser()
    default = config_from_args(parser.parse_args(["batch", "in/", "-o", "out/"]))
    full = config_from_args(parser.parse_args(["batch", "in/", "-o", "out/", "--task", "run", "--no-sample"]))
    assert default.task is detrend_search_task and default.run is None
    assert full.task is run_task and full.run.fit.sample is False and full.run.search == default.search


def test_demo_figure_keeps_the_callers_matplotlib_backend(tmp_path):
    """run_demo from a notebook must not switch its backend to Agg (inline figures would vanish)."""
    import matplotlib

    from halfsib.batch.demo import _figure

    matches = Table(rows=[("EPIC 1", "planet", 3.0, 500.0, 5, "exact"), ("EPIC 2", "eb", 2.0, 9e4, 9, ""),
                          ("EPIC 3", "other", 5.0, 300.0, 3, "candidate")],
                    names=("target_id", "kind", "period", "depth", "n_events", "found"))
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands for the caller's backend (a notebook's inline one)
    try:
        _figure(matches, tmp_path / "recovery.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert (tmp_path / "recovery.png").read_bytes()[:4] == b"\x89PNG"


def test_catalog_columns_do_not_depend_on_whether_anything_was_found():
    from halfsib.batch.catalog import catalog_table
    from halfsib.batch.execute import TargetOutcome

    columns = ("period", "snr", "claim_reason", "claimed")
    empty = TargetOutcome(name="a", path="a.fits", target_id="EPIC 1", group="g", status="done", columns=columns)
    found = TargetOutcome(name="b", path="b.fits", target_id="EPIC 2", group="g", status="done", columns=columns,
                          rows=({"period": 3.0, "snr": 9.0, "claim_reason": "claimed", "claimed": True},))
    none_found = catalog_table([empty], {})
    some_found = catalog_table([empty, found], {})
    assert none_found.colnames == some_found.colnames == [*FRONT_COLUMNS, "period", "snr", "claim_reason", "claimed"]
    assert len(none_found) == 0 and len(some_found) == 1 and bool(some_found["claimed"][0])
