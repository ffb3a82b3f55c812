"""numba backend: BLAS cross terms, then one fused pass per row.

Same math as :mod:`skexplain_ad.backends._numpy` (see its docstring; [T]
eq. 1.3, 1.9, 1.13-1.14). numpy's version makes about eight sweeps over the
n x m block and allocates as many temporaries; here each row of the block is
read once and written once while it sits in cache, in place, with one
``exp`` per element; d^2 and h stay in float64 row buffers (as numpy keeps
them in a float64 block), whatever the dtype of the block. The GEMMs stay
in BLAS: a hand-written distance kernel is slower (DESIGN.md §5).

The kernel is a top-level ``@njit(cache=True, nogil=True)`` function: it is
compiled once and cached on disk, releases the GIL so that row chunks run in
threads, and is never stored on an estimator.
"""

import numpy as np
from numba import njit

from ._numpy import NumpyBackend


@njit(cache=True, nogil=True)
def _softmin_pool(G, xsq, usq, lw, gamma, o, want_q):  # pragma: no cover - jitted
    n, m = G.shape
    # float64 row buffers for d^2 and h (then exp(hmin - h)): passes 2-3 must
    # read the very values pass 1 took hmin from. Storing d^2 in G (float32
    # for float32 queries) and recomputing h from the rounded value moved each
    # h by up to g ulp(d^2); past g d^2 ~ 1e10 every exp(hmin - h) underflowed
    # to 0, so o = inf, clipped to 0, with NaN relevance.
    d2b = np.empty(m, dtype=np.float64)
    e = np.empty(m, dtype=np.float64)
    for r in range(n):
        # pass 1: squared distances, h, and the minimum of h
        hmin = np.inf
        for i in range(m):
            d2 = xsq[r] + usq[i] - 2.0 * G[r, i]
            if d2 < 0.0:
                d2 = 0.0
            d2b[i] = d2
            h = gamma * d2 - lw[i]
            e[i] = h
            if h < hmin:
                hmin = h
        # pass 2: stabilised log-sum-exp, exp(-(h_i - hmin)) kept in e; the
        # argmin's term is exactly 1, so s >= 1
        s = 0.0
        for i in range(m):
            ei = np.exp(hmin - e[i])
            e[i] = ei
            s += ei
        oo = hmin - np.log(s)
        if oo < 0.0:
            oo = 0.0
        o[r] = oo
        if want_q:
            # pass 3: q_i = p_i min(o, g d_i^2) / d_i^2, with p_i = e_i / s
            inv_s = 1.0 / s
            for i in range(m):
                d2 = d2b[i]
                p = e[i] * inv_s
                gd2 = gamma * d2
                if gd2 <= oo:
                    G[r, i] = p * gamma
                else:
                    G[r, i] = p * oo / d2


class NumbaBackend(NumpyBackend):
    """Soft-min kernels with a fused numba pass (see module docstring)."""

    name = "numba"

    def _pool(self, G, xsq, usq, lw, gamma, o, want_q):
        _softmin_pool(G, xsq, usq, lw, gamma, o, want_q)
