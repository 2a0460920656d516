"""Mission quality flags: the default bitmasks halfsib uses to build the ``good`` mask.

The bit values are the missions' own (Kepler/K2 Archive Manual table 2-3, TESS Science
Data Products Description table 28); the default bitmasks equal lightkurve's ``"default"``
so that halfsib and lightkurve agree on which cadences are usable (a test checks this).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ConfigurationError

__all__ = ["KEPLER_FLAGS", "TESS_FLAGS", "default_bitmask", "resolve_bitmask", "describe_flags",
           "THRUSTER_FIRING", "MOMENTUM_DUMP"]

KEPLER_FLAGS: dict[int, str] = {
    1: "Attitude tweak", 2: "Safe mode", 4: "Coarse point", 8: "Earth point", 16: "Zero crossing",
    32: "Desaturation event", 64: "Argabrightening", 128: "Cosmic ray in optimal aperture",
    256: "Manual exclude", 1024: "Sudden sensitivity dropout", 2048: "Impulsive outlier",
    4096: "Argabrightening on CCD", 8192: "Cosmic ray in collateral data", 16384: "Detector anomaly",
    32768: "No fine point", 65536: "No data", 131072: "Rolling band in optimal aperture",
    262144: "Rolling band in full mask", 524288: "Possible thruster firing", 1048576: "Thruster firing",
}
TESS_FLAGS: dict[int, str] = {
    1: "Attitude tweak", 2: "Safe mode", 4: "Coarse point", 8: "Earth point", 16: "Argabrightening",
    32: "Desaturation event", 64: "Cosmic ray in optimal aperture", 128: "Manual exclude",
    256: "Discontinuity corrected", 512: "Impulsive outlier", 1024: "Cosmic ray in collateral data",
    2048: "Straylight", 4096: "Straylight2", 8192: "Planet Search Exclude",
    16384: "Bad Calibration Exclude", 32768: "Insufficient Targets for Error Correction Exclude",
}

#: K2 thruster firing (set on the cadence of the roll-angle reset).
THRUSTER_FIRING = 1048576
#: TESS reaction-wheel desaturation ("momentum dump").
MOMENTUM_DUMP = 32

_DEFAULT = {"kepler": 1130799, "tess": 17087}
_HARD = {"kepler": 1664431, "tess": 24319}


def _family(mission: str) -> str:
    return "tess" if mission.upper() == "TESS" else "kepler"


def default_bitmask(mission: str) -> int:
    """The ``"default"`` bitmask of ``mission`` (``"Kepler"``, ``"K2"``, ``"TESS"``)."""
    return _DEFAULT[_family(mission)]


def resolve_bitmask(bitmask: str | int, mission: str) -> int:
    """Turn ``"default"``, ``"hard"``, ``"none"`` or an integer into an integer bitmask."""
    check_bitmask(bitmask)
    if isinstance(bitmask, (int, np.integer)):
        return int(bitmask)
    if bitmask == "none":
        return 0
    return {"default": _DEFAULT, "hard": _HARD}[str(bitmask)][_family(mission)]


def check_bitmask(bitmask: object) -> None:
    """Raise :class:`ConfigurationError` unless ``bitmask`` is one :func:`resolve_bitmask` takes."""
    if isinstance(bitmask, (int, np.integer)) and not isinstance(bitmask, bool):
        if bitmask >= 0:
            return
    elif bitmask in ("default", "hard", "none"):
        return
    raise ConfigurationError(f"quality_bitmask (CLI: --quality-bitmask) {bitmask!r}: use 'default' (the mission's "
                             "recommended flags), 'hard' (more flags), 'none' (keep flagged cadences) or a "
                             "non-negative integer of quality bits")


def parse_bitmask(text: str) -> str | int:
    """A ``--quality-bitmask`` argument: a name or a decimal integer, checked."""
    value: str | int = int(text) if text.strip().lstrip("-").isdigit() else text.strip()
    check_bitmask(value)
    return value


def describe_flags(quality: NDArray[np.integer], mission: str) -> dict[str, int]:
    """Count the cadences carrying each flag: ``{flag name: number of cadences}``."""
    names = TESS_FLAGS if _family(mission) == "tess" else KEPLER_FLAGS
    q = np.asarray(quality, dtype=np.int64)
    counts = {}
    for bit, name in names.items():
        n = int(np.count_nonzero(q & bit))
        if n:
            counts[name] = n
    return counts
