"""numba backend: BLAS cross terms, then one fused pass per row.

Same math as :mod:`skexplain_ad.backends._numpy` (see its docstring; [T]
eq. 1.3, 1.9, 1.13-1.14). numpy's version makes about eight sweeps over the
n x m block and allocates as many temporaries; here each row of the block
is read once: ``h`` and its minimum go to a float64 row buffer (in cache),
a second loop sums ``exp(hmin - h)`` and, for the relevance, a third writes
the weights ``q`` in place. All three loops vectorise (SIMD), the ``exp``
included: :func:`~skexplain_ad.backends._fastexp.exp_nonpos` replaces
libm's scalar call, which made the pass 4x slower. The GEMMs stay in BLAS:
a hand-written distance kernel is slower (DESIGN.md §5).

The kernel is a top-level ``@njit(cache=True, nogil=True)`` function: it is
compiled once and cached on disk, releases the GIL so that row chunks run in
threads, and is never stored on an estimator.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import cpu_count
from numba import njit

from ._fastexp import FASTMATH, exp_nonpos
from ._numpy import NEAR, NumpyBackend
from ._rules import COMPILED_CODES, TINY, get_rule, numba_dispatch

_EXECUTOR = None
_TINY = TINY
_SHARE, _WEIGHT = numba_dispatch()


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


def _forget_executor_in_child():
    """After ``os.fork()`` the child holds the pool object but none of its
    threads (only the forking thread survives a fork): work submitted to it
    would wait forever. The child starts a pool of its own on first use.
    """
    global _EXECUTOR
    _EXECUTOR = None


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_executor_in_child)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _softmin_pool(G, xsq, usq, lw, gamma, o, qsum, excl, adj, code, zrel,
                  nnear, nearfac, qeps, usqmax):  # pragma: no cover - jitted
    """Pool the cross terms ``G``; ``qsum`` of length n asks for the weights q.

    ``excl`` / ``adj`` (length n, or 0 for none): per row a template to
    drop and ``log(1 - w)`` of its weight. ``code``: the rule
    (:mod:`~skexplain_ad.backends._rules`), ``q_i = p_i weight_i`` with
    ``d_i^2`` floored at ``zrel (||x||^2 + ||u_i||^2)``. A weight above
    ``_numpy.near_threshold`` (``nearfac o / max(qeps (||x||^2 + usqmax),
    tiny)``; ``nearfac = inf`` for a rule that is not singular) is stored as
    ``-p_i share_i`` and counted in ``nnear[r]``: the caller redoes it from
    exact differences (``_numpy.near_terms``).
    """
    n, m = G.shape
    want_q = qsum.shape[0] == n
    has_ex = excl.shape[0] == n
    # float64 row buffers, whatever the dtype of G: the q pass must see the
    # very d^2 and h the log-sum-exp saw. (Storing d^2 in G, float32 for
    # float32 queries, and recomputing h from the rounded value moved each h
    # by up to g ulp(d^2); past g d^2 ~ 1e10 every term underflowed: o = inf,
    # clipped to 0.)
    d2b = np.empty(m, dtype=np.float64)
    eb = np.empty(m, dtype=np.float64)
    for r in range(n):
        xr2 = xsq[r]
        hmin = np.inf
        for i in range(m):
            d2 = max(xr2 + usq[i] - 2.0 * G[r, i], 0.0)
            d2b[i] = d2
            h = gamma * d2 - lw[i]  # +inf for a zero-weight template
            eb[i] = h
            hmin = min(hmin, h)
        shift = 0.0
        if has_ex and excl[r] >= 0:
            # drop the template's term (never subtract it from a total)
            k = excl[r]
            dropped = eb[k]
            eb[k] = np.inf
            if dropped <= hmin:
                hmin = np.inf
                for i in range(m):
                    hmin = min(hmin, eb[i])
            shift = adj[r]
        s = 0.0  # >= 1: the argmin's own term
        for i in range(m):
            e = exp_nonpos(hmin - eb[i])
            eb[i] = e
            s += e
        oo = max(hmin - np.log(s) + shift, 0.0)
        o[r] = oo
        if want_q:
            # q_i = p_i weight(o, g, d_i^2), p_i = e_i / s. Branch-free (a
            # select), or the loop does not vectorise (3x slower).
            inv_s = 1.0 / s
            Gr = G[r]
            qs = 0.0
            if nearfac == np.inf:  # a rule that is not singular: no near terms
                for i in range(m):
                    q = eb[i] * inv_s * _WEIGHT(code, oo, gamma, d2b[i], 0.0)
                    Gr[i] = q
                    qs += q
            else:
                thr = nearfac * oo / max(qeps * (xr2 + usqmax), _TINY)
                cnt = 0
                for i in range(m):
                    p = eb[i] * inv_s
                    q = p * _WEIGHT(code, oo, gamma, d2b[i], zrel * (xr2 + usq[i]))
                    near = q > thr
                    Gr[i] = -p * _SHARE(code, oo, gamma * d2b[i]) if near else q
                    qs += 0.0 if near else q
                    cnt += near
                if nnear.shape[0] == n:
                    nnear[r] = cnt
            qsum[r] = qs


@njit(cache=True, nogil=True)
def _assemble_relevance(AB, qsum, Xc, R):  # pragma: no cover - jitted
    """``R_j = Q (x_j - a_j/Q)^2 + max(b_j - a_j^2/Q, 0)`` in one pass, float64 inside."""
    n, d = Xc.shape
    for r in range(n):
        Q = qsum[r]
        inv = 1.0 / Q if Q > 0.0 else 0.0
        for j in range(d):
            a = np.float64(AB[r, j])
            mean = a * inv
            diff = Xc[r, j] - mean
            R[r, j] = Q * diff * diff + max(AB[r, d + j] - a * mean, 0.0)


class NumbaBackend(NumpyBackend):
    """Soft-min kernels with a fused numba pass (see module docstring)."""

    name = "numba"

    #: rows below which the pass stays on the calling thread
    min_rows_per_thread = 64

    def _pool(self, G, xsq, usq, lw, gamma, o, qsum=None, threads=None, *,
              rule="oc-dtd", exclude=None, zrel=0.0, nnear=None):
        rule = get_rule(rule)
        if rule.code not in COMPILED_CODES:  # a rule registered at run time
            return super()._pool(G, xsq, usq, lw, gamma, o, qsum, threads, rule=rule,
                                 exclude=exclude, zrel=zrel, nnear=nnear)
        # The kernel releases the GIL and treats rows independently, so row
        # slices run in threads with identical bits; the GEMM before it uses
        # every core through BLAS, and this keeps the pass from being the
        # serial part. map_row_chunks passes threads=1 when joblib already
        # runs chunks in parallel (n_jobs > 1).
        n = G.shape[0]
        none_f = np.empty(0, dtype=np.float64)
        qsum = none_f if qsum is None else qsum
        excl, adj = (np.empty(0, dtype=np.int64), none_f) if exclude is None else exclude
        nnear = np.empty(0, dtype=np.int64) if nnear is None else nnear
        eps = float(np.finfo(G.dtype).eps)
        nearfac = NEAR * np.sqrt(eps) if rule.singular else np.inf
        near = (nearfac, eps, float(usq.max()) if len(usq) else 0.0)
        args = (qsum, excl, adj, nnear)

        def part(a, b):
            return tuple(v[a:b] if len(v) else v for v in args)

        k = min(_threads() if threads is None else threads, n // self.min_rows_per_thread)
        if k <= 1:
            _softmin_pool(G, xsq, usq, lw, gamma, o, qsum, excl, adj,
                          rule.code, float(zrel), nnear, *near)
            return
        bounds = np.linspace(0, n, k + 1).astype(int)
        futures = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            q_, e_, a_, n_ = part(a, b)
            futures.append(_executor().submit(
                _softmin_pool, G[a:b], xsq[a:b], usq, lw, gamma, o[a:b], q_, e_, a_,
                rule.code, float(zrel), n_, *near,
            ))
        for f in futures:
            f.result()

    def _assemble(self, AB, qsum, Xc, R):
        _assemble_relevance(AB, qsum, Xc, R)

    def times_pairs(self):
        """The Times ensemble's pair pooling on the host, with numba's
        compiled pair kernels (:mod:`~skexplain_ad.backends._numba_times`)."""
        from . import _numba_times
        from ._host_times import HostTimes

        return HostTimes(_numba_times)
