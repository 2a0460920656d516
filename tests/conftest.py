"""Shared fixtures: a fresh seeded RNG per test, the format zoo, the real data folder."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

#: ../shared/data next to the checkout (CI has it; a user's machine does not)
SHARED_DATA = Path(os.environ.get("HALFSIB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed: tests never touch numpy's global RNG."""
    return np.random.default_rng(20261126)


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small well-formed file per supported format (see tests/helpers/zoo.py)."""
    from helpers.zoo import write_zoo

    return write_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real mission files; skips the test where ../shared/data is absent."""
    if not (SHARED_DATA / "MANIFEST.md").exists():
        pytest.skip(f"real mission data not found at {SHARED_DATA} (set HALFSIB_SHARED_DATA); "
                    "these tests run where ../shared/data sits beside the checkout, as in CI")
    return SHARED_DATA
