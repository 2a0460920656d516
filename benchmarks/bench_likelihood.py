"""Cost of one marginal-likelihood evaluation: halfsib's O(N) path vs the dense O(N³) formula.

Run:  python benchmarks/bench_likelihood.py [--repeat 3] [--quick]

For K2-like (N = 3,500) and TESS-like (N = 18,000) light curves and M = 10, 50,
150, 300 design columns with an SHO GP, times

* ``build+lnL``: a full evaluation after the GP hyper-parameters changed
  (celerite2 factorisation, K⁻¹A, AᵀK⁻¹A, the M × M Cholesky, ln L);
* ``λ-only``: a re-evaluation after only the prior variances changed
  (``with_prior_variance``, O(M³));
* ``windows``: bᵀC⁻¹r and bᵀC⁻¹b for N box windows of 13 cadences (one duration),
  with the numba kernels, after the one-off O(N M²) preparation;

and the dense reference (C formed, Cholesky, solve) at N = 1,000 and 2,000 (and the
ratio to the fast path at the same N). Peak memory is the tracemalloc peak of
NumPy allocations during one evaluation. The low-rank window sums are also timed
against the plain-NumPy vectorised equivalent, to justify the numba kernel.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from celerite2 import terms
from scipy import linalg as sla

from halfsib._kernels import linalg as kl
from halfsib.likelihood import MarginalLikelihood

TERM = terms.SHOTerm(sigma=1e-3, rho=2.0, Q=1 / np.sqrt(2))


def _problem(n: int, m: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 80.0 * n / 3500, n))
    design = np.cumsum(rng.normal(size=(n, m)), axis=0)
    design /= np.abs(design).max(axis=0) + 1e-12
    y = 1e-3 * rng.normal(size=n) + design @ rng.normal(0, 1e-3, m)
    return {"time": t, "y": y, "diag": np.full(n, 1e-8), "design": design, "lam": np.full(m, 1e-6)}


def _best(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (numba compilation, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _fast(p: dict) -> float:
    return MarginalLikelihood(p["time"], p["y"], p["diag"], p["design"], p["lam"], TERM).log_likelihood()


def _dense(p: dict) -> float:
    t, a = p["time"], p["design"]
    cov = TERM.get_value(t[:, None] - t[None, :]) + (a * p["lam"]) @ a.T
    cov[np.diag_indices_from(cov)] += p["diag"]
    cf = sla.cho_factor(cov, lower=True, check_finite=False)
    quad = p["y"] @ sla.cho_solve(cf, p["y"], check_finite=False)
    return -0.5 * (quad + 2 * np.sum(np.log(np.diag(cf[0]))) + t.size * np.log(2 * np.pi))


def _windows(p: dict, width: int = 13) -> tuple[np.ndarray, np.ndarray]:
    n = p["time"].size
    starts = np.arange(0, n - width, dtype=np.int64)
    return starts, starts + width


def _row(n: int, m: int, repeat: int) -> str:
    p = _problem(n, m)
    ml = MarginalLikelihood(p["time"], p["y"], p["diag"], p["design"], p["lam"], TERM)
    t_full = _best(lambda: _fast(p), repeat)
    t_lam = _best(lambda: ml.with_prior_variance(p["lam"] * 1.1).log_likelihood(), repeat)
    s, e = _windows(p)
    t_win = _best(lambda: ml.window_projection(s, e), repeat)  # cached prep after warm-up
    t_prep = _best(lambda: ml.with_prior_variance(p["lam"]).window_projection(s, e), 1)
    mem = _peak_mib(lambda: _fast(p))
    return (f"| {n:>6} | {m:>4} | {1e3 * t_full:9.1f} | {1e3 * t_lam:7.2f} | {1e3 * t_win:8.1f} "
            f"| {1e3 * t_prep:10.1f} | {mem:8.1f} |")


def _dense_row(n: int, m: int, repeat: int) -> str:
    p = _problem(n, m)
    t_fast = _best(lambda: _fast(p), repeat)
    t_dense = _best(lambda: _dense(p), max(1, repeat // 2))
    assert np.isclose(_fast(p), _dense(p), rtol=1e-8)
    mem_f, mem_d = _peak_mib(lambda: _fast(p)), _peak_mib(lambda: _dense(p))
    return (f"| {n:>6} | {m:>4} | {1e3 * t_fast:8.1f} | {1e3 * t_dense:9.1f} | {t_dense / t_fast:7.1f} "
            f"| {mem_f:7.1f} | {mem_d:8.1f} |")


def _low_rank_numpy_vs_numba(n: int, m: int, repeat: int) -> str:
    rng = np.random.default_rng(1)
    pa = np.cumsum(np.concatenate([[0.0], rng.normal(size=n)]))
    pf = np.ascontiguousarray(np.cumsum(np.vstack([np.zeros(m), rng.normal(size=(n, m))]), axis=0))
    s = np.arange(0, n - 13, dtype=np.int64)
    e = s + 13
    num, quad = np.empty(s.size), np.empty(s.size)
    t_numba = _best(lambda: kl.window_low_rank(pa, pf, s, e, num, quad), repeat)
    t_numpy = _best(lambda: (pa[e] - pa[s], np.sum((pf[e] - pf[s]) ** 2, axis=1)), repeat)
    return f"| {n:>6} | {m:>4} | {1e3 * t_numba:8.2f} | {1e3 * t_numpy:8.2f} | {t_numpy / t_numba:6.1f} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="N = 3,500 only, M <= 150, no N = 2,000 dense")
    args = ap.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    print("\n## Fast path (SHO GP), times in ms, memory in MiB\n")
    print("|      N |    M | build+lnL | λ-only | windows | win. prep. | peak MiB |")
    print("|-------:|-----:|----------:|-------:|--------:|-----------:|---------:|")
    for n in (3500,) if args.quick else (3500, 18000):
        for m in (10, 50, 150) if args.quick else (10, 50, 150, 300):
            print(_row(n, m, args.repeat), flush=True)
    print("\n## Dense O(N³) reference vs fast path at the same N (ms, MiB)\n")
    print("|      N |    M |     fast |     dense |   ratio | fast MiB | dense MiB |")
    print("|-------:|-----:|---------:|----------:|--------:|--------:|---------:|")
    for n in (1000,) if args.quick else (1000, 2000):
        for m in (10, 150):
            print(_dense_row(n, m, args.repeat), flush=True)
    print("\n## Low-rank window sums (N - 13 windows): numba kernel vs NumPy (ms)\n")
    print("|      N |    M |    numba |    numpy |  ratio |")
    print("|-------:|-----:|---------:|---------:|-------:|")
    for n, m in ((3500, 50), (18000, 150), (18000, 300)):
        print(_low_rank_numpy_vs_numba(n, m, args.repeat), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
