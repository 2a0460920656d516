"""Numba kernel of the periodic search: single events summed along trial periods and phases.

Twin: ``tests/test_search.py::_fold_reference`` (plain Python loops over phases and transits).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["fold_periods"]


@njit(cache=True, parallel=True)
def fold_periods(num, info, count, steps, min_transits, power, best_phase, sum_num, sum_info,
                 n_transits):  # pragma: no cover - compiled
    """Best phase per trial period for one box duration.

    For every phase j0 the sums run over the transits k = 0, 1, ... at epoch indices
    j0 + round(k · step); they are accumulated transit by transit over all phases at once,
    so the inner loop reads the epoch arrays contiguously (a fold, as in BLS).

    Parameters
    ----------
    num, info, count : float64 (n_epochs,)
        Single-event −bᵀC⁻¹r, bᵀC⁻¹b and 1.0 where the event is valid; all 0 where not.
    steps : float64 (n_periods,)
        Trial periods in units of the epoch step. Transit k of phase j0 sits on epoch
        j0 + floor(k · steps[p] + ½); phases j0 = 0 .. min(ceil(steps[p]), n_epochs) − 1.
    min_transits : int
        Combinations with fewer valid transits are skipped.
    power, sum_num, sum_info : float64 (n_periods,)  outputs
        z = Σn/√ΣI of the best phase, its Σn and ΣI (0 when none qualifies).
    best_phase, n_transits : int64 (n_periods,)  outputs

    Returns
    -------
    int
        0 (ok) or 1 (bad shapes).
    """
    n_ep = num.size
    n_per = steps.size
    if info.size != n_ep or count.size != n_ep or power.size != n_per:
        return 1
    for p in prange(n_per):
        step = steps[p]
        n_phase = min(int(math.ceil(step)), n_ep)
        acc_n = np.zeros(n_phase)
        acc_i = np.zeros(n_phase)
        acc_c = np.zeros(n_phase)
        k = 0
        while True:
            off = int(math.floor(k * step + 0.5))
            if off >= n_ep:
                break
            width = min(n_phase, n_ep - off)
            for j in range(width):
                acc_n[j] += num[off + j]
                acc_i[j] += info[off + j]
                acc_c[j] += count[off + j]
            k += 1
        best = -np.inf
        power[p], sum_num[p], sum_info[p] = 0.0, 0.0, 0.0
        best_phase[p], n_transits[p] = 0, 0
        for j in range(n_phase):
            if acc_c[j] >= min_transits and acc_i[j] > 0.0:
                score = acc_n[j] * abs(acc_n[j]) / acc_i[j]  # sign(z)·z², monotone in z
                if score > best:
                    best = score
                    best_phase[p] = j
        if best > -np.inf:
            j = best_phase[p]
            power[p] = acc_n[j] / math.sqrt(acc_i[j])
            sum_num[p], sum_info[p], n_transits[p] = acc_n[j], acc_i[j], int(acc_c[j] + 0.5)
    return 0
