"""numba backend: BLAS cross terms, then one fused pass per row.

Same math as :mod:`skexplain_ad.backends._numpy` (see its docstring; [T]
eq. 1.3, 1.9, 1.13-1.14). numpy's version makes about eight sweeps over the
n x m block and allocates as many temporaries; here each row is read in
one pass with an online log-sum-exp (one ``exp`` per element, in float64
whatever the dtype of the block; 1.7x faster on float32 blocks than a
buffered two-pass version, whose float32 loads did not vectorise), and for
the relevance a second pass writes the weights ``q`` in place, reading d^2
back from a float64 row buffer. The GEMMs stay
in BLAS: a hand-written distance kernel is slower (DESIGN.md §5).

The kernel is a top-level ``@njit(cache=True, nogil=True)`` function: it is
compiled once and cached on disk, releases the GIL so that row chunks run in
threads, and is never stored on an estimator.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import cpu_count
from numba import njit

from ._numpy import NumpyBackend

_EXECUTOR = None


def _threads():
    """Threads for the elementwise pass: as many as BLAS may use.

    ``OMP_NUM_THREADS`` (set to 1 in Dask workers, and by users who limit
    BLAS) caps the machine's CPU count.
    """
    cap = os.environ.get("OMP_NUM_THREADS", "")
    n = cpu_count()
    return max(1, min(n, int(cap))) if cap.isdigit() else n


def _executor():
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=cpu_count(), thread_name_prefix="skexplain_ad")
    return _EXECUTOR


@njit(cache=True, nogil=True)
def _online_lse_row(Gr, xr2, usq, lw, gamma, d2b):  # pragma: no cover - jitted
    """``(hmin, s)`` with ``o = hmin - log(s)`` for one row of cross terms.

    One pass, online log-sum-exp: the running sum is rescaled whenever a
    smaller h appears, so the current argmin's term is exactly 1 and s >= 1;
    one exp per element, in float64 whatever the dtype of ``Gr``. Zero-weight
    templates (h = +inf) add nothing. Writes d^2 into ``d2b`` when it has the
    row's length (the relevance pass reads it back), else skips it.
    """
    m = Gr.shape[0]
    keep = d2b.shape[0] == m
    hmin = np.inf
    s = 0.0
    for i in range(m):
        d2 = xr2 + usq[i] - 2.0 * Gr[i]
        if d2 < 0.0:
            d2 = 0.0
        if keep:
            d2b[i] = d2
        h = gamma * d2 - lw[i]
        if h < hmin:
            s = s * np.exp(h - hmin) + 1.0
            hmin = h
        elif h < np.inf:
            s += np.exp(hmin - h)
    return hmin, s


@njit(cache=True, nogil=True)
def _softmin_pool(G, xsq, usq, lw, gamma, o, want_q):  # pragma: no cover - jitted
    n, m = G.shape
    # d^2 stays in a float64 row buffer: the q pass must see the very h the
    # log-sum-exp saw. (Storing d^2 in G, float32 for float32 queries, and
    # recomputing h from the rounded value moved each h by up to g ulp(d^2);
    # past g d^2 ~ 1e10 every term underflowed: o = inf, clipped to 0.)
    d2b = np.empty(m if want_q else 0, dtype=np.float64)
    for r in range(n):
        hmin, s = _online_lse_row(G[r], xsq[r], usq, lw, gamma, d2b)
        oo = hmin - np.log(s)
        if oo < 0.0:
            oo = 0.0
        o[r] = oo
        if want_q:
            # q_i = p_i min(o, g d_i^2) / d_i^2, p_i = exp(hmin - h_i) / s
            inv_s = 1.0 / s
            for i in range(m):
                d2 = d2b[i]
                p = np.exp(hmin - (gamma * d2 - lw[i])) * inv_s
                gd2 = gamma * d2
                if gd2 <= oo:
                    G[r, i] = p * gamma
                else:
                    G[r, i] = p * oo / d2


class NumbaBackend(NumpyBackend):
    """Soft-min kernels with a fused numba pass (see module docstring)."""

    name = "numba"

    #: rows below which the pass stays on the calling thread
    min_rows_per_thread = 64

    def _pool(self, G, xsq, usq, lw, gamma, o, want_q, threads=None):
        # The kernel releases the GIL and treats rows independently, so row
        # slices run in threads with identical bits; the GEMM before it uses
        # every core through BLAS, and this keeps the pass from being the
        # serial part. map_row_chunks passes threads=1 when joblib already
        # runs chunks in parallel (n_jobs > 1).
        n = G.shape[0]
        k = min(_threads() if threads is None else threads, n // self.min_rows_per_thread)
        if k <= 1:
            _softmin_pool(G, xsq, usq, lw, gamma, o, want_q)
            return
        bounds = np.linspace(0, n, k + 1).astype(int)
        futures = [
            _executor().submit(_softmin_pool, G[a:b], xsq[a:b], usq, lw, gamma, o[a:b], want_q)
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        for f in futures:
            f.result()
