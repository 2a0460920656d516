"""Every example script runs (they are documentation; documentation that does not run is wrong)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulate_and_read(tmp_path):
    figure = _load("simulate_and_read").main(tmp_path)
    assert figure.exists() and figure.stat().st_size > 10_000


def test_detrend_simulated(tmp_path):
    numbers = _load("detrend_simulated").main(tmp_path, n_cadences=900)
    assert (tmp_path / "detrended.fits").exists() and (tmp_path / "detrended.png").exists()
    assert numbers["corrected_minus_truth_ppm"] < numbers["raw_minus_truth_ppm"]
