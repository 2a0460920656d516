"""Reading a campaign's worth of light-curve files: halfsib vs lightkurve vs plain astropy.

Run:  python benchmarks/bench_io.py [--data DIR] [--repeat 3]

Default data: the 132 K2SFF files of K2 C13 in ../shared/data (real files); without
that folder, 200 synthetic K2 light-curve files are written to a temporary folder.
All three readers are timed in the same run on the same files, cold start excluded
(each is run once before timing). Prints a table with per-file time and ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _files(data: Path | None) -> tuple[list[Path], str]:
    default = ROOT.parent / "shared" / "data" / "k2-c13" / "k2sff"
    folder = data or default
    if folder.exists():
        return sorted(folder.glob("*.fits")), f"real K2SFF files in {folder}"
    from helpers.zoo import write_k2_lc

    tmp = Path(tempfile.mkdtemp(prefix="halfsib-bench-io-"))
    rng = np.random.default_rng(0)
    paths = [write_k2_lc(tmp / f"ktwo{200000000 + i}-c05_llc.fits", rng) for i in range(200)]
    return paths, f"200 synthetic K2 light-curve files in {tmp}"


def _time(fn, repeat: int) -> float:
    fn()  # warm-up: imports, caches
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths, what = _files(args.data)

    from astropy.table import Table

    from halfsib.io import align, read_many
    from halfsib.io.pixels import import_lightkurve

    lk = import_lightkurve()

    def with_halfsib() -> None:
        read_many(paths, show_progress=False, extra_columns=False)

    def with_halfsib_all_columns() -> None:
        read_many(paths, show_progress=False)

    def with_lightkurve() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in paths:
                lk.read(p)

    def with_astropy_table() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in paths:
                Table.read(p, hdu=1)

    rows = [
        ("halfsib.read_many (validated, needed columns)", _time(with_halfsib, args.repeat)),
        ("halfsib.read_many (all extra columns)", _time(with_halfsib_all_columns, args.repeat)),
        ("lightkurve.read per file", _time(with_lightkurve, args.repeat)),
        ("astropy Table.read per file (no validation)", _time(with_astropy_table, args.repeat)),
    ]
    series, _ = read_many(paths, show_progress=False, extra_columns=False)
    t0 = time.perf_counter()
    aligned = align(series)
    t_align = time.perf_counter() - t0

    base = rows[0][1]
    print(f"# reading {len(paths)} files: {what}")
    print(f"{'reader':50s} {'total [s]':>10s} {'per file [ms]':>14s} {'vs halfsib':>11s}")
    for name, seconds in rows:
        print(f"{name:50s} {seconds:10.3f} {1e3 * seconds / len(paths):14.2f} {seconds / base:10.2f}x")
    print(f"{'halfsib.align (cadence numbers)':50s} {t_align:10.3f} {'':14s} {'':11s}  -> {aligned.flux.shape}")


if __name__ == "__main__":
    main()
