"""The scoring helpers of benchmarks/bench_peers.py (matched false-alarm threshold, recovery, best peer)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("bench_peers_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no side effects at import: thread settings only under __main__
    return module


def _same_period(sig, body):
    return abs(sig["period"] / body["period"] - 1) < 0.01


def _run(role, stat, period=1.0, bodies=(), depth=1000.0, leaked=()):
    top = None if stat is None else {"stat": stat, "period": period, "t0": 0.0, "depth": depth}
    return {"role": role, "top": {"m": top}, "bodies": list(bodies), "leaked": list(leaked), "contamination": 0.0}


def _planet(period, depth=1000.0, n_events=3, kind="planet"):
    return {"kind": kind, "period": period, "t0": 0.0, "duration": 3.0, "depth": depth, "n_events": n_events}


def test_fa_threshold_is_the_highest_finite_statistic(peers):
    assert peers.fa_threshold([3.0, None, 7.5, float("nan"), 5.0]) == 7.5
    assert math.isnan(peers.fa_threshold([]))
    assert math.isnan(peers.fa_threshold([None, float("nan")]))
    assert peers.fa_threshold([3.0, None, 7.5, 5.0], rank=2) == 5.0
    assert math.isnan(peers.fa_threshold([3.0], rank=2))


def test_same_period_accepts_half_and_double_at_any_phase(peers):
    body = {"period": 4.0, "t0": 0.0}
    assert peers.same_period({"period": 2.01, "t0": 1.3}, body)
    assert peers.same_period({"period": 7.99, "t0": 0.0}, body)
    assert not peers.same_period({"period": 3.0, "t0": 0.0}, body)


def test_score_counts_recoveries_only_above_the_matched_threshold(peers):
    runs = [_run("fa", 6.0), _run("fa", 8.0), _run("fa", None),  # failed run: no statistic
            _run("signal", 9.0, 5.0, [_planet(5.0)], depth=900.0),     # recovered, depth ratio 0.9
            _run("signal", 8.0, 3.0, [_planet(3.0)]),                  # equal to the threshold: not above
            _run("signal", 20.0, 2.0, [_planet(7.0)]),                 # above, matches nothing: unmatched
            _run("signal", 30.0, 4.0, [_planet(4.0, n_events=1)]),     # one transit: not counted as a planet
            _run("signal", 12.0, 6.0, [_planet(6.0, kind="eb")]),      # EB found
            _run("signal", 15.0, 9.0, [], leaked=[_planet(9.0, kind="eb")]),  # a neighbour's EB: not a false alarm
            _run("inverted", 8.5), _run("inverted", 2.0), _run("inverted", None),
            _run("inverted", 9.5, 5.0, [_planet(5.0)])]                # a dip beside an inverted transit
    s = peers.score(runs, "m", _same_period)
    assert s["threshold"] == 8.0 and s["n_fa_set"] == 3
    assert (s["recovered"], s["n_planets"]) == (1, 3)
    assert s["depth_ratios"] == [pytest.approx(0.9)] and s["depth_ratio"] == pytest.approx(0.9)
    assert (s["eb_found"], s["n_ebs"]) == (1, 1)
    assert s["unmatched"] == 1 and s["unmatched_per_star"] == pytest.approx(1 / 6)
    assert s["inverted_fa"] == 2 and s["inverted_fa_per_star"] == pytest.approx(2 / 4)
    assert s["inverted_fa_at_signal"] == 1
    assert s["threshold_2"] == 6.0 and s["recovered_2"] == 2  # the 3-d planet at 8.0 counts now


def test_score_without_a_false_alarm_set_detects_nothing(peers):
    s = peers.score([_run("signal", 50.0, 5.0, [_planet(5.0)])], "m", _same_period)
    assert math.isnan(s["threshold"]) and s["recovered"] == 0 and math.isnan(s["depth_ratio"])
    assert math.isnan(s["inverted_fa_per_star"])


def test_best_peer_by_direction(peers):
    values = {"a": 0.8, "b": 1.1, "c": float("nan")}
    assert peers.best_peer(values, ["a", "b", "c"], "lower") == ("a", 0.8)
    assert peers.best_peer(values, ["a", "b", "c"], "higher") == ("b", 1.1)
    assert peers.best_peer(values, ["a", "b"], "closer_to_1") == ("b", 1.1)
    name, value = peers.best_peer({"c": float("nan")}, ["c", "missing"], "lower")
    assert name is None and math.isnan(value)
