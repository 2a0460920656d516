"""Numba kernel of the periodic search: single events summed along trial periods and phases.

Twin: ``tests/test_search.py::_combine_reference`` (plain Python loops).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["combine_periods"]


@njit(cache=True, parallel=True)
def combine_periods(num, info, valid, steps, min_transits, power, best_phase, best_duration, sum_num,
                    sum_info, n_transits):  # pragma: no cover - compiled
    """Best phase and duration per trial period.

    Parameters
    ----------
    num, info : float64 (n_epochs, n_durations)
        Single-event −bᵀC⁻¹r and bᵀC⁻¹b, epoch-major (0 where not valid: the sums need no test).
    valid : bool (n_epochs, n_durations)
    steps : float64 (n_periods,)
        Trial periods in units of the epoch step. Transit k of phase j0 sits on epoch
        j0 + round(k · steps[p]); phases j0 = 0 .. min(ceil(steps[p]), n_epochs) − 1.
    min_transits : int
        Combinations with fewer valid transits are skipped.
    power, sum_num, sum_info : float64 (n_periods,)  outputs
        z = Σn/√ΣI of the best combination, Σn and ΣI (0 when none qualifies).
    best_phase, best_duration, n_transits : int64 (n_periods,)  outputs

    Returns
    -------
    int
        0 (ok) or 1 (bad shapes).
    """
    n_ep, n_dur = num.shape
    n_per = steps.size
    if info.shape[0] != n_ep or info.shape[1] != n_dur or power.size != n_per:
        return 1
    for p in prange(n_per):
        step = steps[p]
        n_k = int(math.floor((n_ep - 1) / step)) + 2
        offsets = np.empty(n_k, np.int64)
        for k in range(n_k):
            offsets[k] = int(math.floor(k * step + 0.5))
        n_phase = min(int(math.ceil(step)), n_ep)
        s_n = np.empty(n_dur)
        s_i = np.empty(n_dur)
        cnt = np.empty(n_dur, np.int64)
        best = -np.inf
        power[p], sum_num[p], sum_info[p] = 0.0, 0.0, 0.0
        best_phase[p], best_duration[p], n_transits[p] = 0, 0, 0
        for j0 in range(n_phase):
            s_n[:] = 0.0
            s_i[:] = 0.0
            cnt[:] = 0
            for k in range(n_k):
                idx = j0 + offsets[k]
                if idx >= n_ep:
                    break
                for d in range(n_dur):
                    s_n[d] += num[idx, d]
                    s_i[d] += info[idx, d]
                    cnt[d] += valid[idx, d]
            for d in range(n_dur):
                if cnt[d] >= min_transits and s_i[d] > 0.0:
                    z = s_n[d] / math.sqrt(s_i[d])
                    if z > best:
                        best = z
                        power[p], sum_num[p], sum_info[p] = z, s_n[d], s_i[d]
                        best_phase[p], best_duration[p], n_transits[p] = j0, d, cnt[d]
    return 0
