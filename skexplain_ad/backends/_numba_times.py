"""numba kernels of the Times ensemble: pooling over pairs of templates.

Imported on first use (by :mod:`skexplain_ad.backends._numba`), so that
importing the package compiles nothing. Every kernel is a top-level
``@njit(cache=True, nogil=True)`` function (row chunks run in threads) and
works on float64 arrays computed by the caller:

- ``D1`` (n, m), ``D2`` (n, n2): the members' squared distances;
- ``P1``, ``P2``: the members' soft-argmins (global Times, where the pair
  soft-argmin factorises, ``p_ij = p_i p'_j``, [T] eq. 2.5);
- ``a1 = lw - g1 D1``, ``a2 = lw' - g2 D2``: the members' log-kernels
  (local Times, where the pair soft-argmin is renormalised over a pair set);
- ``Delta``: squared distances ``||u_i - u'_j||^2`` between the templates.

With ``G = g1 + g2`` and ``c = g1 g2 / G``, the distance of a query to the
midpoint ``u_ij = (g1 u_i + g2 u'_j) / G`` is
``G ||x - u_ij||^2 = g1 d_i^2 + g2 d'_j^2 - c ||u_i - u'_j||^2`` and the
relevance weight of a pair is ``q_ij = p_ij min(o, G D_ij^2) / D_ij^2``
([T] eq. 1.14 on the midpoint model, eq. 2.9 / 2.15). Its share of the
total relevance is ``p_ij min(o, G D_ij^2)``, which needs no feature loop:
it decides which pairs the feature-wise part (a GEMM, in the caller) may
skip.
"""

import numpy as np
from numba import njit

from ._fastexp import FASTMATH, exp_nonpos
from ._rules import COMPILED_CODES, numba_dispatch

_SHARE, _ = numba_dispatch()


def rule_arg(rule):
    """What these kernels take for ``rule``: its code, or None where the
    compiled dispatch does not know it (the caller uses the numpy twins)."""
    return rule.code if rule.code in COMPILED_CODES else None

@njit(cache=True, nogil=True)
def global_scan(D1, D2, P1, P2, Dblk, i0, o, g1, g2, c, code, tot, maxI, maxJ):  # pragma: no cover
    """Relevance share of the pairs of one block of templates ``i0 : i0 + b``.

    Adds ``sum_j p_i p'_j share(o, G D_ij^2)`` (``code``: the rule,
    :mod:`~skexplain_ad.backends._rules`) to ``tot[r]`` and records the
    largest share of each template ``i`` (``maxI[r, i]``) and ``j``
    (``maxJ[r, j]``) over the block.
    """
    n_rows = D1.shape[0]
    b, n2 = Dblk.shape
    for r in range(n_rows):
        orr = o[r]
        acc = 0.0
        for ii in range(b):
            i = i0 + ii
            p1 = P1[r, i]
            if p1 == 0.0:
                continue
            base = g1 * D1[r, i]
            mi = 0.0
            for j in range(n2):
                gd2 = base + g2 * D2[r, j] - c * Dblk[ii, j]
                if gd2 < 0.0:
                    gd2 = 0.0
                ct = p1 * P2[r, j] * _SHARE(code, orr, gd2)
                acc += ct
                if ct > mi:
                    mi = ct
                if ct > maxJ[r, j]:
                    maxJ[r, j] = ct
            if mi > maxI[r, i]:
                maxI[r, i] = mi
        tot[r] += acc


@njit(cache=True, nogil=True)
def global_weights(
    D1, D2J, P1, P2J, Dblk, I, o, g1, g2, c, G, code, zfloor, Z, Q, A, BJ
):  # pragma: no cover
    """Relevance weights ``q_ij`` of the pairs ``I x J`` (``J`` pre-gathered).

    ``Q[r, ii, jj] = G p_i p'_j share(o, G D^2) / (G D^2)`` (``code``: the
    rule), and where ``G D^2 <= zfloor[r]`` (the query on the midpoint, up
    to round-off; ``zfloor`` is 0 for a rule that is not singular, whose
    share vanishes there) 0, the pair's share added to ``Z[r]`` (spread
    evenly by the caller). Adds the row and column sums into ``A[r, i]``
    and ``BJ[r, jj]``.
    """
    n_rows = D1.shape[0]
    b, nJ = Dblk.shape
    for r in range(n_rows):
        orr = o[r]
        for ii in range(b):
            i = I[ii]
            p1 = P1[r, i]
            base = g1 * D1[r, i]
            acc = 0.0
            for jj in range(nJ):
                gd2 = base + g2 * D2J[r, jj] - c * Dblk[ii, jj]
                sh = p1 * P2J[r, jj] * _SHARE(code, orr, max(gd2, 0.0))
                q = 0.0
                if gd2 > zfloor[r]:
                    q = G * sh / gd2
                else:
                    Z[r] += sh
                Q[r, ii, jj] = q
                acc += q
                BJ[r, jj] += q
            A[r, i] += acc


@njit(cache=True, nogil=True)
def _row_exps(a1r, a2r, e1, e2):  # pragma: no cover
    """``e = exp(a - max a)`` of both members for one row; returns the maxima."""
    mx1 = a1r.max()
    mx2 = a2r.max()
    for i in range(a1r.shape[0]):
        e1[i] = np.exp(a1r[i] - mx1)
    for j in range(a2r.shape[0]):
        e2[j] = np.exp(a2r[j] - mx2)
    return mx1, mx2


@njit(cache=True, nogil=True)
def _log_norm_slow(a1r, a2r, pi, pj, w):  # pragma: no cover
    """``(M, s)`` with ``sum_p w_p exp(a1_i + a2_j) = s exp(M)``, pair by pair.

    ``M`` is the largest pair logit, so ``exp(v - M) / s`` is a pair's
    normalised weight even where ``|v|`` is so large that ``v - log sum``
    would lose every digit to round-off.
    """
    P = pi.shape[0]
    M = -np.inf
    for p in range(P):
        if w[p] != 0.0:
            v = a1r[pi[p]] + a2r[pj[p]]
            if v > M:
                M = v
    if M == -np.inf:
        return M, 0.0
    s = 0.0
    for p in range(P):
        if w[p] != 0.0:
            s += np.exp(a1r[pi[p]] + a2r[pj[p]] - M)
    return M, s


@njit(cache=True, nogil=True)
def _log_norms(a1r, a2r, pi, pj, w1, w2, e1, e2, mx1, mx2):  # pragma: no cover
    """``log sum_p w_p exp(a1_i + a2_j)`` of both pair sets for one row.

    One pass over the products ``e1_i e2_j`` (``e = exp(a - max a)``). If a
    sum falls below 1e-250 its best pair may lie near the underflow of the
    products, and that set is summed again in the log domain; the flags say
    which sums used the products (then every pair within ``exp(-100)`` of
    the best one is represented by its product).
    """
    s1 = 0.0
    s2 = 0.0
    for p in range(pi.shape[0]):
        e = e1[pi[p]] * e2[pj[p]]
        s1 += w1[p] * e
        s2 += w2[p] * e
    fast1 = s1 > 1e-250
    fast2 = s2 > 1e-250
    M1, M2 = mx1 + mx2, mx1 + mx2
    if not fast1:
        M1, s1 = _log_norm_slow(a1r, a2r, pi, pj, w1)
    if not fast2:
        M2, s2 = _log_norm_slow(a1r, a2r, pi, pj, w2)
    return M1, s1, M2, s2, fast1, fast2


@njit(cache=True, nogil=True)
def local_pool(a1, a2, pi, pj, w1, w2, log_alpha, o1, o2):  # pragma: no cover
    """Outlierness of the two local models ([T] eq. 2.12-2.13) per row.

    ``o_t1 = log(alpha) - log sum_{(i,j) in N1} exp(a1_i + a2_j)`` (weights
    beta not renormalised), likewise ``o_t2`` over ``N2`` (``w1``, ``w2``:
    0/1 membership of each pair); clipped at 0.
    """
    n_rows, m = a1.shape
    e1 = np.empty(m)
    e2 = np.empty(a2.shape[1])
    for r in range(n_rows):
        mx1, mx2 = _row_exps(a1[r], a2[r], e1, e2)
        M1, s1, M2, s2, _, _ = _log_norms(a1[r], a2[r], pi, pj, w1, w2, e1, e2, mx1, mx2)
        o1[r] = max(log_alpha - (np.log(s1) + M1), 0.0)
        o2[r] = max(log_alpha - (np.log(s2) + M2), 0.0)


@njit(cache=True, nogil=True, inline="always")
def _pair_q(sh, gd2, G, zf, Z, r):  # pragma: no cover
    """``G sh / (G D^2)``; a pair on the query (``G D^2 <= zf``) sends ``sh`` to ``Z``."""
    if gd2 > zf:
        return G * sh / gd2
    Z[r] += sh
    return 0.0


@njit(cache=True, nogil=True)
def local_weights(
    a1, a2, D1, D2, pi, pj, w1, w2, dpair, log_alpha, g1, g2, c, G, tol, code, zfloor,
    Z, o1, o2, Q, keep,
):  # pragma: no cover
    """Outlierness and relevance weights of the local pairs ([T] eq. 2.12-2.15).

    Writes ``o1``, ``o2`` as :func:`local_pool` and
    ``Q[r, p] = (q1_p + q2_p) / 2`` with ``q_p = p_p G share(o, G D^2) / (G D^2)``
    for each local model that holds pair ``p`` (``p_p`` its soft-argmin;
    ``code``: the rule), and a pair with ``G D^2 <= zfloor[r]`` (the query
    on its midpoint; 0 for a rule that is not singular) adds its share to
    ``Z[r]`` instead.
    ``keep[p]`` is set where the pair's share of row ``r``'s total relevance
    exceeds ``tol * total / P``, so the pairs left unset carry at most
    ``tol`` of every row's total.
    """
    n_rows, m = a1.shape
    n2 = a2.shape[1]
    P = pi.shape[0]
    e1 = np.empty(m)
    e2 = np.empty(n2)
    share = np.empty(P)
    for r in range(n_rows):
        mx1, mx2 = _row_exps(a1[r], a2[r], e1, e2)
        M1, s1, M2, s2, fast1, fast2 = _log_norms(a1[r], a2[r], pi, pj, w1, w2, e1, e2, mx1, mx2)
        lz1 = np.log(s1) + M1
        lz2 = np.log(s2) + M2
        oo1 = max(log_alpha - lz1, 0.0)
        oo2 = max(log_alpha - lz2, 0.0)
        o1[r] = oo1
        o2[r] = oo2
        total = 0.0
        if fast1 and fast2:
            # p_p = exp(a1_i + a2_j - logZ) = e1_i e2_j exp(mx1 + mx2 - logZ)
            # normalised by the sums themselves, not by exp(mx - lz): far
            # from the data |mx| is so large that lz has lost log(s)
            f1 = 0.5 / s1
            f2 = 0.5 / s2
            for p in range(P):
                i = pi[p]
                j = pj[p]
                gd2 = max(g1 * D1[r, i] + g2 * D2[r, j] - c * dpair[p], 0.0)
                e = e1[i] * e2[j]
                sh = e * (w1[p] * f1 * _SHARE(code, oo1, gd2) + w2[p] * f2 * _SHARE(code, oo2, gd2))
                share[p] = sh
                total += sh
                Q[r, p] = _pair_q(sh, gd2, G, zfloor[r], Z, r)
        else:
            for p in range(P):
                i = pi[p]
                j = pj[p]
                gd2 = max(g1 * D1[r, i] + g2 * D2[r, j] - c * dpair[p], 0.0)
                v = a1[r, i] + a2[r, j]
                sh = 0.0
                if w1[p] != 0.0 and s1 > 0.0:
                    sh += 0.5 * np.exp(v - M1) / s1 * _SHARE(code, oo1, gd2)
                if w2[p] != 0.0 and s2 > 0.0:
                    sh += 0.5 * np.exp(v - M2) / s2 * _SHARE(code, oo2, gd2)
                share[p] = sh
                total += sh
                Q[r, p] = _pair_q(sh, gd2, G, zfloor[r], Z, r)
        thr = tol * total / P
        for p in range(P):
            if share[p] > thr:
                keep[p] = True


@njit(cache=True, nogil=True)
def compact_scatter(Q, kept, pi, pj, Qk, A, B):  # pragma: no cover
    """``Qk = Q[:, kept]``; ``A[r, i] += sum_{p: pi_p = i} Qk[r, p]``, ``B`` by ``pj``."""
    n_rows = Q.shape[0]
    K = kept.shape[0]
    for r in range(n_rows):
        for t in range(K):
            q = Q[r, kept[t]]
            Qk[r, t] = q
            A[r, pi[kept[t]]] += q
            B[r, pj[kept[t]]] += q


@njit(cache=True, nogil=True)
def drop_scatter(Q, keep, pi, pj, A, B):  # pragma: no cover
    """Zero the columns of ``Q`` not in ``keep`` (in place); scatter as above."""
    n_rows, P = Q.shape
    for r in range(n_rows):
        for p in range(P):
            if keep[p]:
                q = Q[r, p]
                A[r, pi[p]] += q
                B[r, pj[p]] += q
            else:
                Q[r, p] = 0.0


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _pair_subset_step(a1, a2, drop, c, G, usqF, vsqF, update):  # pragma: no cover - jitted
    """One removal step of a global Times subset score, fused in one pass.

    With ``update``, adds ``||u_i||_F^2 + ||v_j||_F^2 - 2 G_ij`` (``G = U_F V_F^T``
    from BLAS) to ``drop``; returns ``log sum_ij exp(a1_i + a2_j - c drop_ij)``.
    ``drop >= 0``, so ``max a1 + max a2`` bounds every term and one pass
    suffices unless the sum underflows (then the exact maximum, a second
    pass).
    """
    m, n = drop.shape
    M = a1.max() + a2.max()
    s = 0.0
    for i in range(m):
        ai = a1[i] - M
        Di = drop[i]
        if update:
            ui = usqF[i]
            Gi = G[i]
            for j in range(n):
                dd = Di[j] + ui + vsqF[j] - 2.0 * Gi[j]
                Di[j] = dd
                s += exp_nonpos(ai + a2[j] - c * max(dd, 0.0))
        else:
            for j in range(n):
                s += exp_nonpos(ai + a2[j] - c * max(Di[j], 0.0))
    if M == -np.inf:
        return M
    if s > 1e-280:
        return M + np.log(s)
    M = -np.inf
    for i in range(m):
        for j in range(n):
            M = max(M, a1[i] + a2[j] - c * max(drop[i, j], 0.0))
    s = 0.0
    for i in range(m):
        for j in range(n):
            s += exp_nonpos(a1[i] + a2[j] - c * max(drop[i, j], 0.0) - M)
    return M + np.log(s)


def pair_subset_step(a1, a2, drop, c, UF, VF):
    """As :func:`skexplain_ad.backends._numpy_times.pair_subset_step`: the
    GEMM ``U_F V_F^T`` in BLAS, then one fused compiled pass (the update of
    ``drop`` and the exponentials)."""
    update = UF.shape[1] > 0
    G = UF @ VF.T if update else np.empty((0, 0))
    return float(_pair_subset_step(
        np.ascontiguousarray(a1), np.ascontiguousarray(a2), drop, float(c), G,
        np.einsum("ij,ij->i", UF, UF), np.einsum("ij,ij->i", VF, VF), update,
    ))
