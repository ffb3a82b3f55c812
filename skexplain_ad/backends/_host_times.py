"""The Times pair pooling on the host: numpy arrays, numpy's or numba's kernels.

One row chunk at a time, as :mod:`skexplain_ad._times` (the formulas, [T]
eq. 2.5-2.15 and the conservative rule [P] App. A.2-A.3, are in its
docstring) hands it. The per-pair loops are the kernels of
:mod:`~skexplain_ad.backends._numpy_times` (numpy, vectorised per row) or
:mod:`~skexplain_ad.backends._numba_times` (compiled); the feature-wise
sums are GEMMs. :mod:`skexplain_ad.backends._torch_times` is the device
twin.
"""

import numpy as np
from scipy.special import logsumexp

from .._chunks import block_n_rows


def _threads():
    """Threads for independent work: the CPU count, capped by ``OMP_NUM_THREADS``."""
    import os

    from joblib import cpu_count

    cap = os.environ.get("OMP_NUM_THREADS", "")
    n = cpu_count()
    return max(1, min(n, int(cap))) if cap.isdigit() else n
from ._expand import sq_from_cross

__all__ = ["HostTimes", "soft_argmin", "zero_floor"]


def soft_argmin(a):
    """Row-wise ``exp(a - logsumexp(a))`` ([T] eq. 1.9), renormalised.

    Normalised by the sum of the very exponentials it returns rather than
    by ``exp(a + o)``: for a far query, ``g d^2`` is so large that the
    log-weights drown in its round-off and ``exp(a + o)`` no longer sums
    to one (sum R would reach m n o).
    """
    P = np.exp(a - a.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return P


def zero_floor(xsq, model, rule):
    """Per row, the size of ``G D_ij^2`` indistinguishable from 0: its
    round-off, 64 eps G (||x||^2 + max ||u||^2), centred coordinates; 0 for
    a rule that is not singular (its share vanishes at ``D = 0``)."""
    if not rule.singular:
        return np.zeros_like(xsq)
    usq = max(model.usq.max(), model.vsq.max())
    return 64 * np.finfo(np.float64).eps * model.G * (xsq + usq)


def _spread(R, Z):
    """Add each row's on-midpoint share ``Z`` evenly over the features."""
    if Z.any():
        R += (Z / R.shape[1])[:, None]
    return R


def _finish(Xc, A, first, second):
    """``R_f = Q (x_f - w_f)^2 + (second_f - Q w_f^2)``, ``Q w = first / G``.

    ``first = G sum_p q_p w_p``, ``second = sum_p q_p w_p^2`` (module
    docstring of :mod:`skexplain_ad._times`); the weighted variance is
    clipped at 0 against round-off.
    """
    Qt = A.sum(axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(Qt > 0, first / Qt, 0.0)
    var = second - Qt * mean * mean
    np.maximum(var, 0.0, out=var)
    diff = Xc - mean
    return Qt * diff * diff + var


class HostTimes:
    """Pair pooling of the Times model on the host with kernel module ``kx``.

    Parameters
    ----------
    kx : module
        :mod:`~skexplain_ad.backends._numpy_times` or
        :mod:`~skexplain_ad.backends._numba_times` (same functions).
    """

    def __init__(self, kx):
        self.kx = kx

    def _kernels(self, rule):
        """The kernel module and its ``rule`` argument; numpy's twins for a
        rule the compiled kernels do not know."""
        arg = self.kx.rule_arg(rule)
        if arg is None:
            from . import _numpy_times

            return _numpy_times, _numpy_times.rule_arg(rule)
        return self.kx, arg

    def global_relevance(self, Xc, model, kerns, tol, rule):
        """``(o, R)`` of global Times ([T] eq. 2.7, 2.9) for centred rows ``Xc``."""
        kx, rarg = self._kernels(rule)
        (o1, D1), (o2, D2) = model.distances(kerns, Xc)
        o = np.maximum(o1 + o2 + model.log_alpha, 0.0)
        P1 = soft_argmin(model.lw1 - model.g1 * D1)
        P2 = soft_argmin(model.lw2 - model.g2 * D2)
        Uc, Vc, usq, vsq = model.Uc, model.Vc, model.usq, model.vsq
        m, n, d = model.shape
        nr = Xc.shape[0]
        g1, g2, c, G = model.g1, model.g2, model.c, model.G

        # pass 1: each query's total relevance and each template's largest share
        tot = np.zeros(nr)
        maxI = np.zeros((nr, m))
        maxJ = np.zeros((nr, n))
        for I, Db in model.pair_blocks(0):
            kx.global_scan(D1, D2, P1, P2, Db, int(I[0]), o, g1, g2, c, rarg, tot, maxI, maxJ)
        thr = (tol * tot / (m * n))[:, None]
        I = np.flatnonzero((maxI > thr).any(axis=0))
        J = np.flatnonzero((maxJ > thr).any(axis=0))

        # pass 2: weights of the kept pairs, feature-wise sums by GEMM
        Z = np.zeros(nr)
        A = np.zeros((nr, m))
        BJ = np.zeros((nr, J.size))
        T = np.zeros((nr, d))
        if I.size and J.size:
            zfloor = zero_floor(np.einsum("ij,ij->i", Xc, Xc), model, rule)
            VJ = np.ascontiguousarray(Vc[J])
            D2J = np.ascontiguousarray(D2[:, J])
            P2J = np.ascontiguousarray(P2[:, J])
            # template distances in large blocks (many small GEMMs between
            # the big ones run slowly in OpenBLAS), the weights and their
            # GEMM a few templates at a time
            big = block_n_rows(8 * J.size, I.size)
            step = block_n_rows(8 * nr * (J.size + d), I.size)
            for s0 in range(0, I.size, big):
                Ibig = I[s0 : s0 + big]
                Dbig = sq_from_cross(Uc[Ibig] @ VJ.T, usq[Ibig], vsq[J])
                for s in range(0, Ibig.size, step):
                    Ib = Ibig[s : s + step]
                    Q = np.empty((nr, Ib.size, J.size))
                    kx.global_weights(D1, D2J, P1, P2J, Dbig[s : s + step], Ib, o, g1, g2, c,
                                      G, rarg, zfloor, Z, Q, A, BJ)
                    # T_f += sum_ij q_ij u_if u'_jf: (q V) per (row, i), times u_i
                    M = (Q.reshape(nr * Ib.size, J.size) @ VJ).reshape(nr, Ib.size, d)
                    M *= Uc[Ib][None, :, :]
                    T += M.sum(axis=1)
        B = np.zeros((nr, n))
        B[:, J] = BJ
        SU = A @ np.concatenate([Uc, Uc * Uc], axis=1)
        SV = B @ np.concatenate([Vc, Vc * Vc], axis=1)
        first = (g1 * SU[:, :d] + g2 * SV[:, :d]) / G
        second = (g1 * g1 * SU[:, d:] + g2 * g2 * SV[:, d:] + 2.0 * g1 * g2 * T) / (G * G)
        return o, _spread(_finish(Xc, A, first, second), Z)

    @staticmethod
    def _local_inputs(Xc, model, kerns):
        a1, a2, D1, D2 = model.logits(kerns, Xc)
        # contiguous 1-d arrays: numba compiles (and runs) its fast layout
        pi = np.ascontiguousarray(model.pairs[:, 0])
        pj = np.ascontiguousarray(model.pairs[:, 1])
        w1 = model.pair_sets[:, 0].astype(np.float64)
        w2 = model.pair_sets[:, 1].astype(np.float64)
        return a1, a2, D1, D2, pi, pj, w1, w2

    def local_score(self, Xc, model, kerns):
        """Outlierness of local Times ([T] eq. 2.12-2.14) for centred rows ``Xc``."""
        a1, a2, _, _, pi, pj, w1, w2 = self._local_inputs(Xc, model, kerns)
        o1, o2 = np.empty(Xc.shape[0]), np.empty(Xc.shape[0])
        self.kx.local_pool(a1, a2, pi, pj, w1, w2, model.log_alpha, o1, o2)
        return 0.5 * (o1 + o2)

    def local_relevance(self, Xc, model, kerns, tol, rule):
        """``(o, R)`` of local Times ([T] eq. 2.14, 2.15) for centred rows ``Xc``."""
        kx, rarg = self._kernels(rule)
        a1, a2, D1, D2, pi, pj, w1, w2 = self._local_inputs(Xc, model, kerns)
        nr, d = Xc.shape
        m, n, _ = model.shape
        P = pi.size
        o1, o2 = np.empty(nr), np.empty(nr)
        Q = np.empty((nr, P))
        keep = np.zeros(P, dtype=bool)
        Z = np.zeros(nr)
        zfloor = zero_floor(np.einsum("ij,ij->i", Xc, Xc), model, rule)
        kx.local_weights(
            a1, a2, D1, D2, pi, pj, w1, w2, model.pair_sq_dist, model.log_alpha,
            model.g1, model.g2, model.c, model.G, tol, rarg, zfloor, Z, o1, o2, Q, keep,
        )
        kept = np.flatnonzero(keep)
        A = np.zeros((nr, m))
        B = np.zeros((nr, n))
        if 2 * kept.size >= P:  # most pairs kept: zero the others in place
            kx.drop_scatter(Q, keep, pi, pj, A, B)
            Qk, pik, pjk = Q, pi, pj
        else:
            Qk = np.empty((nr, kept.size))
            kx.compact_scatter(Q, kept, pi, pj, Qk, A, B)
            del Q
            pik, pjk = pi[kept], pj[kept]
        # sum_p q_p w_p^2 by one GEMM over the pairs' squared midpoints
        g1, g2, G = model.g1, model.g2, model.G
        second = np.zeros((nr, d))
        step = block_n_rows(8 * d, pik.size)
        for s in range(0, pik.size, step):
            W = g1 * model.Uc[pik[s : s + step]]
            W += g2 * model.Vc[pjk[s : s + step]]
            W *= W
            second += Qk[:, s : s + step] @ W
        second /= G * G
        first = (g1 * (A @ model.Uc) + g2 * (B @ model.Vc)) / G
        return 0.5 * (o1 + o2), _spread(_finish(Xc, A, first, second), Z)

    def global_subset(self, model, a1, a2, keep, runs):
        """``log sum_ij exp(a1_i + a2_j - c ||u_i - u'_j||^2_{not K})`` per row
        of global Times' subset score ([T] eq. 1.16; :mod:`skexplain_ad._times`).

        ``a1``, ``a2``: the members' log-kernels over each row's kept
        features; ``runs``: ``(start, stop)`` of the runs of rows that
        repeat a sample with a shrinking ``keep``. Along a run the pair
        distances over the dropped features are updated by the kernels'
        ``pair_subset_step``, one GEMM over the newly dropped features.
        """
        # features as rows: a step's newly dropped features are a row gather
        UT, VT = np.ascontiguousarray(model.Uc.T), np.ascontiguousarray(model.Vc.T)
        lz = np.empty(a1.shape[0])
        m, n = UT.shape[1], VT.shape[1]

        def run(bounds, drop):
            a, b = bounds
            dropped = np.zeros(keep.shape[1], dtype=bool)
            drop[:] = 0.0
            for r in range(a, b):
                F = np.flatnonzero(~keep[r] & ~dropped)
                dropped[F] = True
                lz[r] = self.kx.pair_subset_step(a1[r], a2[r], drop, model.c, UT[F].T, VT[F].T)

        # A step's GEMM has only the newly dropped features as its inner
        # dimension: many small GEMMs, which a multi-threaded BLAS runs
        # slowly (each one wakes every thread; 12x slower on a loaded
        # machine). So BLAS runs on one thread and the runs (one per
        # sample, independent) are spread over threads instead; a run's
        # results do not depend on the thread it ran on.
        from threadpoolctl import threadpool_limits

        k = max(1, min(len(runs), _threads()))
        with threadpool_limits(limits=1, user_api="blas"):
            if k == 1:
                drop = np.empty((m, n))
                for bounds in runs:
                    run(bounds, drop)
            else:
                from concurrent.futures import ThreadPoolExecutor

                def worker(part):
                    drop = np.empty((m, n))
                    for bounds in part:
                        run(bounds, drop)

                with ThreadPoolExecutor(max_workers=k) as pool:
                    list(pool.map(worker, [runs[i::k] for i in range(k)]))
        return lz

    def local_subset(self, model, a1, a2, keep):
        """``(lz1, lz2)``: the log-sums of local Times' two pair sets per row
        of its subset score ([T] eq. 2.12-2.14 with eq. 1.16).

        Every row's pair distances over its dropped features come from one
        GEMM of the rows' dropped-feature masks with the pairs' squared
        differences ``(u_if - u'_jf)^2``, a block of pairs at a time.
        """
        pi, pj = model.pairs[:, 0], model.pairs[:, 1]
        sets = model.pair_sets
        dropped = (~keep).astype(np.float64)
        n, d = dropped.shape
        lz = np.full((2, n), -np.inf)
        step = block_n_rows(8 * (d + 3 * n), pi.size)
        for s in range(0, pi.size, step):
            p = slice(s, s + step)
            sq = model.Uc[pi[p]] - model.Vc[pj[p]]
            sq *= sq
            E = dropped @ sq.T  # ||u_i - u'_j||^2 over each row's dropped features
            E *= -model.c
            E += a1[:, pi[p]]
            E += a2[:, pj[p]]
            for k in (0, 1):
                if sets[p, k].any():
                    lz[k] = np.logaddexp(lz[k], logsumexp(E[:, sets[p, k]], axis=1))
        return lz

