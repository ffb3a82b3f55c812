"""numpy kernels of the Times ensemble: pooling over pairs of templates.

The same functions, signatures and results (to round-off) as
:mod:`skexplain_ad.backends._numba_times` (see its docstring for the
arrays and the formulas: [T] eq. 1.14 on the midpoint model, eq. 2.5-2.15;
the conservative rule [P] App. A.2-A.3), vectorised over the pairs of one
row at a time instead of compiled, so that numpy members never import numba.
The numpy backend's pooling (:mod:`~skexplain_ad.backends._host_times`)
calls these; the numba backend's calls the compiled twins, the torch
backend pools on its device (:mod:`~skexplain_ad.backends._torch_times`).
"""

import numpy as np
from scipy.special import logsumexp


def rule_arg(rule):
    """What these kernels take for ``rule``: the :class:`Rule` itself."""
    return rule


def global_scan(D1, D2, P1, P2, Dblk, i0, o, g1, g2, c, rule, tot, maxI, maxJ):
    """Relevance share of the pairs of templates ``i0 : i0 + b`` (see numba twin).

    ``rule``: a :class:`~skexplain_ad.backends._rules.Rule` (its numpy twins).
    """
    b = Dblk.shape[0]
    blk = slice(i0, i0 + b)
    for r in range(D1.shape[0]):
        gd2 = g1 * D1[r, blk][:, None] + g2 * D2[r][None, :] - c * Dblk
        np.maximum(gd2, 0.0, out=gd2)
        share = P1[r, blk][:, None] * P2[r][None, :]
        share *= rule.share_np(o[r], gd2)
        tot[r] += share.sum()
        np.maximum(maxI[r, blk], share.max(axis=1), out=maxI[r, blk])
        np.maximum(maxJ[r], share.max(axis=0), out=maxJ[r])


def global_weights(D1, D2J, P1, P2J, Dblk, I, o, g1, g2, c, G, rule, zfloor, Z, Q, A, BJ):
    """Relevance weights of the pairs ``I x J`` (see numba twin); ``zfloor``
    is 0 for a rule that is not singular."""
    for r in range(D1.shape[0]):
        gd2 = g1 * D1[r, I][:, None] + g2 * D2J[r][None, :] - c * Dblk
        pp = P1[r, I][:, None] * P2J[r][None, :]
        pos = gd2 > zfloor[r]
        share = pp * rule.share_np(o[r], np.maximum(gd2, 0.0))
        q = np.where(pos, G * share / np.where(pos, gd2, 1.0), 0.0)
        Z[r] += share[~pos].sum()
        Q[r] = q
        A[r, I] += q.sum(axis=1)
        BJ[r] += q.sum(axis=0)


def _pair_logits(a1, a2, pi, pj, w1, w2):
    V = a1[:, pi] + a2[:, pj]
    lz1 = logsumexp(np.where(w1 != 0.0, V, -np.inf), axis=1)
    lz2 = logsumexp(np.where(w2 != 0.0, V, -np.inf), axis=1)
    return V, lz1, lz2


def local_pool(a1, a2, pi, pj, w1, w2, log_alpha, o1, o2):
    """Outlierness of the two local models (see numba twin)."""
    _, lz1, lz2 = _pair_logits(a1, a2, pi, pj, w1, w2)
    o1[:] = np.maximum(log_alpha - lz1, 0.0)
    o2[:] = np.maximum(log_alpha - lz2, 0.0)


def local_weights(
    a1, a2, D1, D2, pi, pj, w1, w2, dpair, log_alpha, g1, g2, c, G, tol, rule, zfloor,
    Z, o1, o2, Q, keep,
):
    """Outlierness and relevance weights of the local pairs (see numba twin);
    ``zfloor`` is 0 for a rule that is not singular."""
    V, lz1, lz2 = _pair_logits(a1, a2, pi, pj, w1, w2)
    o1[:] = np.maximum(log_alpha - lz1, 0.0)
    o2[:] = np.maximum(log_alpha - lz2, 0.0)
    gd2 = g1 * D1[:, pi] + g2 * D2[:, pj] - c * dpair
    np.maximum(gd2, 0.0, out=gd2)
    sh = np.zeros_like(gd2)
    for w, oo in ((w1, o1), (w2, o2)):
        inset = w != 0.0
        # normalised by its own sum: far from the data |V| is so large that
        # V - lz loses every digit to round-off
        A = np.where(inset, V, -np.inf)
        p = np.exp(A - A.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        sh += 0.5 * p * rule.share_np(oo[:, None], gd2)
    pos = gd2 > zfloor[:, None]
    Q[:] = np.where(pos, G * sh / np.where(pos, gd2, 1.0), 0.0)
    Z += np.where(pos, 0.0, sh).sum(axis=1)
    total = sh.sum(axis=1)
    keep |= (sh > (tol * total / pi.shape[0])[:, None]).any(axis=0)


def compact_scatter(Q, kept, pi, pj, Qk, A, B):
    """``Qk = Q[:, kept]``; row and column sums into ``A`` (by ``pi``), ``B`` (``pj``)."""
    Qk[:] = Q[:, kept]
    np.add.at(A, (slice(None), pi[kept]), Qk)
    np.add.at(B, (slice(None), pj[kept]), Qk)


def drop_scatter(Q, keep, pi, pj, A, B):
    """Zero the columns of ``Q`` not in ``keep`` (in place); scatter as above."""
    Q[:, ~keep] = 0.0
    np.add.at(A, (slice(None), pi[keep]), Q[:, keep])
    np.add.at(B, (slice(None), pj[keep]), Q[:, keep])


def pair_subset_step(a1, a2, drop, c, UF, VF):
    """One removal step of a global Times subset score ([T] eq. 1.16).

    Adds ``sum_f (u_if - v_jf)^2`` over the newly dropped features (the
    columns of ``UF`` (m, k) and ``VF`` (n, k)) to the pair distances
    ``drop`` (m, n, in place; a GEMM, clipped at 0 when used) and returns
    ``log sum_ij exp(a1_i + a2_j - c drop_ij)``.
    """
    if UF.shape[1]:
        drop += np.einsum("ij,ij->i", UF, UF)[:, None]
        drop += np.einsum("ij,ij->i", VF, VF)[None, :]
        drop -= 2.0 * (UF @ VF.T)
    return float(logsumexp(a1[:, None] + a2[None, :] - c * np.maximum(drop, 0.0)))
