"""Numba kernels for the marginal likelihood: box-window quadratic forms.

For a box template ``b`` equal to 1 on cadences ``[s, e)`` and 0 elsewhere the
search needs ``bᵀ C⁻¹ r`` and ``bᵀ C⁻¹ b`` with
``C⁻¹ = K⁻¹ − K⁻¹ B S'⁻¹ Bᵀ K⁻¹`` (see ``docs/likelihood.md``). Splitting

    bᵀ C⁻¹ b = bᵀ K⁻¹ b − ‖L_S⁻¹ Bᵀ K⁻¹ b‖²

the low-rank part is a difference of row prefix sums of ``F = K⁻¹ B L_S⁻ᵀ``
(:func:`window_low_rank`) and the GP/white part ``bᵀ K⁻¹ b`` is evaluated exactly
from celerite2's semiseparable factor ``K = L diag(d) Lᵀ``: inside the window a
forward substitution of length ``e − s``, after the window a J × J "tail"
quadratic form precomputed once by a backward recursion
(:func:`celerite_tail_matrices`, :func:`celerite_window_quadratic`).

Status codes: 0 ok; 1 a window index is out of range or empty; 2 a non-finite
value was produced; 3 inconsistent array shapes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "STATUS_OK",
    "STATUS_BAD_WINDOW",
    "STATUS_NOT_FINITE",
    "STATUS_BAD_SHAPE",
    "window_low_rank",
    "celerite_tail_matrices",
    "celerite_window_quadratic",
]

STATUS_OK = 0
STATUS_BAD_WINDOW = 1
STATUS_NOT_FINITE = 2
STATUS_BAD_SHAPE = 3


@njit(cache=True)
def window_low_rank(prefix_alpha, prefix_f, starts, stops, out_num, out_quad):  # pragma: no cover - numba
    """Window sums of a vector and squared norms of window sums of matrix rows.

    Parameters
    ----------
    prefix_alpha : float64 (N + 1,)
        Prefix sums of ``α = C⁻¹ r`` with ``prefix_alpha[0] = 0``.
    prefix_f : float64 (N + 1, M), C-contiguous
        Row prefix sums of ``F``.
    starts, stops : int64 (W,)
        Half-open cadence windows ``[starts[w], stops[w])``, non-empty.
    out_num, out_quad : float64 (W,)
        Written: ``Σ_{i∈w} α_i`` and ``‖Σ_{i∈w} F_i‖²``.

    Returns
    -------
    int
        Status code.
    """
    n = prefix_alpha.shape[0] - 1
    m = prefix_f.shape[1]
    nw = starts.shape[0]
    if (prefix_f.shape[0] != n + 1 or stops.shape[0] != nw or out_num.shape[0] != nw
            or out_quad.shape[0] != nw):
        return STATUS_BAD_SHAPE
    for w in range(nw):
        s = starts[w]
        e = stops[w]
        if s < 0 or e > n or e <= s:
            return STATUS_BAD_WINDOW
        out_num[w] = prefix_alpha[e] - prefix_alpha[s]
        acc = 0.0
        for j in range(m):
            diff = prefix_f[e, j] - prefix_f[s, j]
            acc += diff * diff
        out_quad[w] = acc
        if not (np.isfinite(acc) and np.isfinite(out_num[w])):
            return STATUS_NOT_FINITE
    return STATUS_OK


@njit(cache=True)
def celerite_tail_matrices(t, c, u, wmat, d, q):  # pragma: no cover - numba
    """Backward recursion for the tail quadratic forms of ``L⁻¹``.

    With the forward substitution ``z_k = y_k − U_k·f_k``,
    ``f_{k+1} = φ_{k+1} ∘ (f_k + W_k z_k)``, ``φ_{k+1} = exp(−c (t_{k+1} − t_k))``,
    a right-hand side that is zero from cadence k on gives
    ``Σ_{m≥k} z_m² / d_m = f_kᵀ Q_k f_k`` with
    ``Q_k = U_k U_kᵀ / d_k + M_kᵀ Q_{k+1} M_k``, ``M_k = diag(φ_{k+1})(I − W_k U_kᵀ)``.

    Parameters
    ----------
    t : float64 (N,)
    c : float64 (J,)
    u, wmat : float64 (N, J)
        celerite2's ``U`` and ``W``.
    d : float64 (N,)
        Pivots of ``K = L diag(d) Lᵀ``.
    q : float64 (N + 1, J, J)
        Written: ``Q_k``; ``Q_N = 0``.

    Returns
    -------
    int
        Status code.
    """
    n = t.shape[0]
    nj = c.shape[0]
    if (u.shape[0] != n or u.shape[1] != nj or wmat.shape[0] != n or wmat.shape[1] != nj
            or d.shape[0] != n or q.shape[0] != n + 1 or q.shape[1] != nj or q.shape[2] != nj):
        return STATUS_BAD_SHAPE
    q[n, :, :] = 0.0
    p = np.zeros((nj, nj))
    pw = np.zeros(nj)
    for k in range(n - 1, -1, -1):
        if k == n - 1:
            p[:, :] = 0.0
        else:
            dt = t[k + 1] - t[k]
            for a in range(nj):
                fa = np.exp(-c[a] * dt)
                for b in range(nj):
                    p[a, b] = fa * q[k + 1, a, b] * np.exp(-c[b] * dt)
        sval = 0.0
        for a in range(nj):
            acc = 0.0
            for b in range(nj):
                acc += p[a, b] * wmat[k, b]
            pw[a] = acc
            sval += wmat[k, a] * acc
        sval += 1.0 / d[k]
        for a in range(nj):
            for b in range(nj):
                q[k, a, b] = p[a, b] - u[k, a] * pw[b] - pw[a] * u[k, b] + sval * u[k, a] * u[k, b]
        for a in range(nj):
            if not np.isfinite(q[k, a, a]):
                return STATUS_NOT_FINITE
    return STATUS_OK


@njit(cache=True)
def celerite_window_quadratic(t, c, u, wmat, d, q, starts, stops, out):  # pragma: no cover - numba
    """Exact ``bᵀ K⁻¹ b`` for box templates on ``[starts[w], stops[w])``.

    ``bᵀK⁻¹b = ‖diag(d)^{-1/2} L⁻¹ b‖²``; the forward substitution is zero before
    the window, runs over the window, and its tail after the window is the
    quadratic form ``f_eᵀ Q_e f_e`` from :func:`celerite_tail_matrices`. With
    J = 0 (white noise) this is ``Σ_{i∈w} 1/d_i``. Cost O(Σ_w (e − s) J + J²).

    Parameters
    ----------
    t, c, u, wmat, d
        As in :func:`celerite_tail_matrices`.
    q : float64 (N + 1, J, J)
        Output of :func:`celerite_tail_matrices`.
    starts, stops : int64 (W,)
        Non-empty half-open windows.
    out : float64 (W,)
        Written: ``bᵀ K⁻¹ b`` per window.

    Returns
    -------
    int
        Status code.
    """
    n = t.shape[0]
    nj = c.shape[0]
    nw = starts.shape[0]
    if stops.shape[0] != nw or out.shape[0] != nw or q.shape[0] != n + 1 or d.shape[0] != n:
        return STATUS_BAD_SHAPE
    f = np.zeros(nj)
    for w in range(nw):
        s = starts[w]
        e = stops[w]
        if s < 0 or e > n or e <= s:
            return STATUS_BAD_WINDOW
        f[:] = 0.0
        acc = 0.0
        for k in range(s, e):
            z = 1.0
            for a in range(nj):
                z -= u[k, a] * f[a]
            acc += z * z / d[k]
            if k + 1 < n:
                dt = t[k + 1] - t[k]
                for a in range(nj):
                    f[a] = np.exp(-c[a] * dt) * (f[a] + wmat[k, a] * z)
        if e < n:
            for a in range(nj):
                for b in range(nj):
                    acc += f[a] * q[e, a, b] * f[b]
        out[w] = acc
        if not np.isfinite(acc):
            return STATUS_NOT_FINITE
    return STATUS_OK
