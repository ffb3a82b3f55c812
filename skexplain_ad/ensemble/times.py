r"""The "Times" ensemble: two soft-min models fused into one ([T] Sec. 2.2).

Two soft-min models (templates :math:`u_i`, :math:`u'_j`, log-weights
:math:`\ell_i`, :math:`\ell'_j`, stiffnesses :math:`g_1`, :math:`g_2`) give,
with :math:`G = g_1 + g_2` and :math:`c = g_1 g_2 / G`,

.. math::

    g_1\|x-u_i\|^2 + g_2\|x-u'_j\|^2 = G\,\|x-u_{ij}\|^2 + c\,\|u_i-u'_j\|^2,
    \qquad u_{ij} = \frac{g_1 u_i + g_2 u'_j}{G},

so that the sum of their outlierness is itself a soft-min model over the
:math:`m n` midpoints ([T] eq. 2.6-2.8; for :math:`g_1 = g_2 = g` the
thesis' midpoints, :math:`-\tfrac{g}{2}\|u_i-u'_j\|^2` and
:math:`\gamma' = 2g`):

.. math::

    \log\beta_{ij} &= \ell_i + \ell'_j - c\|u_i-u'_j\|^2 - \log\alpha,
    \qquad \log\alpha = \log\textstyle\sum_{ij} e^{\ell_i + \ell'_j - c\|u_i-u'_j\|^2},\\
    o_t(x) &= -\log\textstyle\sum_{ij}\beta_{ij}\,e^{-G\|x-u_{ij}\|^2}
            = o_1(x) + o_2(x) + \log\alpha .

**Global** ([T] Sec. 2.2.1). The soft-min over pairs of
:math:`H_{ij} = h_i + h'_j + \log\alpha` factorises: :math:`o_t` costs the two
members' scores, O(m + n) per query, and the soft-argmin is
:math:`p_{ij} = p_i p'_j`. The relevance ([T] eq. 2.9, eq. 1.14 on the
midpoint model)

.. math::

    R_f(x) = \sum_{ij} q_{ij}\,(x_f - u_{ij,f})^2, \qquad
    q_{ij} = p_i p'_j\,\frac{\min(o_t, G D_{ij}^2)}{D_{ij}^2},\quad
    G D_{ij}^2 = g_1 d_i^2 + g_2 d'^2_j - c\|u_i-u'_j\|^2,

does need the pairs, but never the :math:`m n d` midpoints: with
:math:`A_i = \sum_j q_{ij}`, :math:`B_j = \sum_i q_{ij}`,
:math:`Q = \sum_{ij} q_{ij}` and
:math:`T_f = \sum_{ij} q_{ij} u_{if} u'_{jf}` (one GEMM per block of
templates),

.. math::

    \sum_{ij} q_{ij} u_{ij,f}   &= (g_1 (A U)_f + g_2 (B U')_f) / G = Q\,\bar w_f, \\
    \sum_{ij} q_{ij} u_{ij,f}^2 &= (g_1^2 (A U^2)_f + g_2^2 (B U'^2)_f + 2 g_1 g_2 T_f) / G^2, \\
    R_f &= Q\,(x_f - \bar w_f)^2 + \Big(\sum_{ij} q_{ij} u_{ij,f}^2 - Q\,\bar w_f^2\Big),

both terms non-negative (the second is :math:`Q` times a weighted variance;
it is clipped at 0 against round-off).

**Skipping pairs, and the error bound.** The share of pair :math:`ij` in
the total relevance :math:`\|R(x)\|_1 = \sum_{ij} p_{ij}\min(o_t, G D_{ij}^2)`
needs no feature loop. A first pass sums these shares per query; the
feature-wise work (the GEMMs) then keeps only the templates :math:`i` and
:math:`j` that carry a pair whose share exceeds
:math:`\mathrm{tol}\,\|R(x)\|_1 / (m n)` for some query of the row chunk.
Every skipped pair contributes a non-negative term, so the computed
relevance :math:`\hat R` satisfies :math:`0 \le \hat R \le R` and

.. math::

    \|R(x) - \hat R(x)\|_1 \le \mathrm{tol}\,\|R(x)\|_1
    \qquad \text{for every query } x

(default ``tol=1e-9``; ``tol=0`` keeps every pair with a non-zero share).

**Local** ([T] Sec. 2.2.2). :math:`N_1` holds the pairs of each
:math:`u_i` with its :math:`k` nearest :math:`u'_j`, :math:`N_2` those of
each :math:`u'_j` with its :math:`l` nearest :math:`u_i`. Each set is a
soft-min model with the global weights :math:`\beta` (not renormalised),
:math:`o_{t1} = -\log\sum_{N_1}\beta_{ij}e^{-G\|x-u_{ij}\|^2}` ([T]
eq. 2.12), :math:`o_{t2}` likewise (eq. 2.13), averaged:
:math:`o'_t = (o_{t1} + o_{t2})/2` (eq. 2.14), and
:math:`R = (R^{(1)} + R^{(2)})/2` (eq. 2.15), each :math:`R^{(s)}` the
relevance of eq. 1.14 with its model's own soft-argmin. With :math:`k = n`
and :math:`l = m` both sets hold every pair and local equals global. The
relevance is linear in the weights, so the two models share one weight per
pair of :math:`N_1 \cup N_2`, :math:`q_{ij} = (q^{(1)}_{ij} + q^{(2)}_{ij})/2`
(each term only where its set holds the pair); the pairs being a list,
:math:`\sum q_{ij} u_{ij}^2` is one GEMM over their squared midpoints, built
a block at a time, and the skipping is the same (bound per query, with
:math:`|N_1 \cup N_2|` in place of :math:`m n`).

References: [T] Z. Chen, "Explaining Anomalies by Taylor-Based
Decomposition of Outlier-Ensembles", 2021, eq. 2.5-2.15, App. A.4.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.utils._param_validation import Interval

from .. import backends
from ..base import map_row_chunks
from .._softmin import lse, nested_runs, sq_distances
from ..detectors._params import RULE_CONSTRAINT
from ._base import (
    BaseEnsembleDetector,
    member_outlier_score,
    softmin_params,
)

__all__ = ["TimesEnsemble"]

# feature-wise work per block: about this many float64 values
_BLOCK_VALUES = 2**22


def _sq_dist_block(A, B, asq, bsq):
    D = asq[:, None] + bsq[None, :] - 2.0 * (A @ B.T)
    np.maximum(D, 0.0, out=D)
    return D


def _pair_statistics(Uc, Vc, lw1, lw2, c, k, l):
    """``log(alpha)`` and, for local Times, the k-NN / l-NN pairs.

    Blockwise over the m x n template distances (never all in memory).
    """
    m, n = Uc.shape[0], Vc.shape[0]
    d = Uc.shape[1]
    usq = np.einsum("ij,ij->i", Uc, Uc)
    vsq = np.einsum("ij,ij->i", Vc, Vc)
    step = max(1, _BLOCK_VALUES // max(n + d, 1))
    parts = []
    knn = []
    for s in range(0, m, step):
        D = _sq_dist_block(Uc[s : s + step], Vc, usq[s : s + step], vsq)
        parts.append(logsumexp(lw1[s : s + step, None] + lw2[None, :] - c * D))
        if k is not None:
            knn.append(_nearest(D, k))
    log_alpha = float(logsumexp(np.array(parts)))
    if k is None:
        return log_alpha, None
    pairs1 = np.column_stack([np.repeat(np.arange(m), k), np.concatenate(knn).ravel()])
    lnn = []
    step = max(1, _BLOCK_VALUES // max(m + d, 1))
    for s in range(0, n, step):
        D = _sq_dist_block(Vc[s : s + step], Uc, vsq[s : s + step], usq)
        lnn.append(_nearest(D, l))
    pairs2 = np.column_stack([np.concatenate(lnn).ravel(), np.repeat(np.arange(n), l)])
    return log_alpha, (pairs1, pairs2)


def _nearest(D, k):
    """Column indices of the k smallest entries of each row (ties: lower index)."""
    if k >= D.shape[1]:
        return np.broadcast_to(np.arange(D.shape[1]), D.shape).copy()
    order = np.argsort(D, axis=1, kind="stable")
    return order[:, :k]


def _union_pairs(pairs1, pairs2, n):
    """Union of two pair lists, with each pair's membership of either."""
    key1 = pairs1[:, 0] * n + pairs1[:, 1]
    key2 = pairs2[:, 0] * n + pairs2[:, 1]
    keys = np.union1d(key1, key2)
    pairs = np.column_stack([keys // n, keys % n])
    sets = np.column_stack([np.isin(keys, key1), np.isin(keys, key2)])
    return pairs, sets


class _Members:
    """The two members' soft-min parameters in shared, centred coordinates."""

    def __init__(self, ens, dtype):
        (U, lw1, g1), (V, lw2, g2) = (softmin_params(e) for e in ens.estimators_)
        self.ests = ens.estimators_
        self.center = np.vstack([U, V]).mean(axis=0)
        self.Uc, self.Vc = U - self.center, V - self.center
        self.lw1, self.lw2 = lw1, lw2
        self.g1, self.g2 = g1, g2
        self.G = g1 + g2
        self.c = g1 * g2 / self.G
        self.dtype = dtype
        # the pair kernels of the first member's backend (numba's compiled
        # ones, or numpy's; torch members use numpy's on the host)
        est = self.ests[0]
        self.backend = backends.get(getattr(est, "backend", "auto"), getattr(est, "device", None))
        self.times_kernels = self.backend.times_kernels()

    def kernels(self, n_rows):
        out = []
        for est, (T, lw, g) in zip(
            self.ests, [(self.Uc, self.lw1, self.g1), (self.Vc, self.lw2, self.g2)]
        ):
            kern = backends.get(getattr(est, "backend", "auto"), getattr(est, "device", None))
            center = T.mean(axis=0)
            out.append((kern, kern.prepare(T, lw, g, center, self.dtype)))
        return out

    def distances(self, kerns, Xc):
        """``(o1, D1), (o2, D2)`` of a centred chunk, float64."""
        Xq = Xc.astype(self.dtype, copy=False)
        return [kern.softmin_distances(Xq, prep) for kern, prep in kerns]


def _finish_relevance(Xc, A, B, T, mem):
    """``R_f = Q (x_f - w_f)^2 + (sum q w^2 - Q w^2)`` (module docstring)."""
    g1, g2, G = mem.g1, mem.g2, mem.G
    d = Xc.shape[1]
    Uc, Vc = mem.Uc, mem.Vc
    SU = A @ np.concatenate([Uc, Uc * Uc], axis=1)
    SV = B @ np.concatenate([Vc, Vc * Vc], axis=1)
    Qt = A.sum(axis=1)[:, None]
    first = g1 * SU[:, :d] + g2 * SV[:, :d]  # G * sum_p q_p w_p
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(Qt > 0, first / (G * Qt), 0.0)
    second = (g1 * g1 * SU[:, d:] + g2 * g2 * SV[:, d:] + 2.0 * g1 * g2 * T) / (G * G)
    var = second - Qt * mean * mean
    np.maximum(var, 0.0, out=var)
    diff = Xc - mean
    return Qt * diff * diff + var


def _zero_floor(Xc, mem):
    """Per row, the size of ``G D_ij^2`` indistinguishable from 0: its
    round-off, 64 eps G (||x||^2 + max ||u||^2), centred coordinates."""
    usq = max(np.einsum("ij,ij->i", mem.Uc, mem.Uc).max(), np.einsum("ij,ij->i", mem.Vc, mem.Vc).max())
    return 64 * np.finfo(np.float64).eps * mem.G * (np.einsum("ij,ij->i", Xc, Xc) + usq)


def _spread(R, Z):
    """Add each row's on-midpoint share ``Z`` evenly over the features."""
    if Z.any():
        R += (Z / R.shape[1])[:, None]
    return R


def _global_relevance_chunk(Xc, mem, kerns, log_alpha, tol, cons=False):
    kx = mem.times_kernels

    (o1, D1), (o2, D2) = mem.distances(kerns, Xc)
    o = np.maximum(o1 + o2 + log_alpha, 0.0)
    P1 = np.exp(mem.lw1 - mem.g1 * D1 + o1[:, None])
    P2 = np.exp(mem.lw2 - mem.g2 * D2 + o2[:, None])
    Uc, Vc = mem.Uc, mem.Vc
    m, n = Uc.shape[0], Vc.shape[0]
    nr, d = Xc.shape
    usq = np.einsum("ij,ij->i", Uc, Uc)
    vsq = np.einsum("ij,ij->i", Vc, Vc)
    g1, g2, c, G = mem.g1, mem.g2, mem.c, mem.G

    # pass 1: each query's total relevance and each template's largest share
    tot = np.zeros(nr)
    maxI = np.zeros((nr, m))
    maxJ = np.zeros((nr, n))
    step = max(1, _BLOCK_VALUES // max(n + d, 1))
    for s in range(0, m, step):
        Db = _sq_dist_block(Uc[s : s + step], Vc, usq[s : s + step], vsq)
        kx.global_scan(D1, D2, P1, P2, Db, s, o, g1, g2, c, cons, tot, maxI, maxJ)
    thr = (tol * tot / (m * n))[:, None]
    I = np.flatnonzero((maxI > thr).any(axis=0))
    J = np.flatnonzero((maxJ > thr).any(axis=0))

    # pass 2: weights of the kept pairs, feature-wise sums by GEMM
    zfloor = _zero_floor(Xc, mem)
    Z = np.zeros(nr)
    A = np.zeros((nr, m))
    BJ = np.zeros((nr, J.size))
    T = np.zeros((nr, d))
    if I.size and J.size:
        VJ = np.ascontiguousarray(Vc[J])
        D2J = np.ascontiguousarray(D2[:, J])
        P2J = np.ascontiguousarray(P2[:, J])
        # template distances in large blocks (many small GEMMs between the
        # big ones run slowly in OpenBLAS), weights and GEMMs in small ones
        big = max(1, 4 * _BLOCK_VALUES // J.size)
        step = max(1, _BLOCK_VALUES // max(nr * (J.size + d), 1))
        for s0 in range(0, I.size, big):
            Ibig = I[s0 : s0 + big]
            Dbig = _sq_dist_block(Uc[Ibig], VJ, usq[Ibig], vsq[J])
            for s in range(0, Ibig.size, step):
                Ib = Ibig[s : s + step]
                Db = Dbig[s : s + step]
                Q = np.empty((nr, Ib.size, J.size))
                kx.global_weights(D1, D2J, P1, P2J, Db, Ib, o, g1, g2, c, G, cons, zfloor, Z,
                                  Q, A, BJ)
                # T_f += sum_ij q_ij u_if u'_jf: (q V) per (row, i), then times u_i
                M = (Q.reshape(nr * Ib.size, J.size) @ VJ).reshape(nr, Ib.size, d)
                M *= Uc[Ib][None, :, :]
                T += M.sum(axis=1)
    B = np.zeros((nr, n))
    B[:, J] = BJ
    return o, _spread(_finish_relevance(Xc, A, B, T, mem), Z)


def _local_inputs(Xc, mem, kerns, ens):
    (_, D1), (_, D2) = mem.distances(kerns, Xc)
    a1 = mem.lw1 - mem.g1 * D1
    a2 = mem.lw2 - mem.g2 * D2
    # contiguous 1-d arrays: numba compiles (and runs) its fast layout
    pi = np.ascontiguousarray(ens.pairs_[:, 0])
    pj = np.ascontiguousarray(ens.pairs_[:, 1])
    w1 = ens.pair_sets_[:, 0].astype(np.float64)
    w2 = ens.pair_sets_[:, 1].astype(np.float64)
    return a1, a2, D1, D2, pi, pj, w1, w2


def _local_score_chunk(Xc, mem, kerns, ens):
    kx = mem.times_kernels

    a1, a2, _, _, pi, pj, w1, w2 = _local_inputs(Xc, mem, kerns, ens)
    o1, o2 = np.empty(Xc.shape[0]), np.empty(Xc.shape[0])
    kx.local_pool(a1, a2, pi, pj, w1, w2, ens.log_alpha_, o1, o2)
    return 0.5 * (o1 + o2)


def _local_relevance_chunk(Xc, mem, kerns, ens, tol, cons=False):
    kx = mem.times_kernels

    a1, a2, D1, D2, pi, pj, w1, w2 = _local_inputs(Xc, mem, kerns, ens)
    nr, d = Xc.shape
    P = pi.size
    o1, o2 = np.empty(nr), np.empty(nr)
    Q = np.empty((nr, P))
    keep = np.zeros(P, dtype=bool)
    Z = np.zeros(nr)
    kx.local_weights(
        a1, a2, D1, D2, pi, pj, w1, w2, ens.pair_sq_dist_, ens.log_alpha_,
        mem.g1, mem.g2, mem.c, mem.G, tol, cons, _zero_floor(Xc, mem), Z, o1, o2, Q, keep,
    )
    kept = np.flatnonzero(keep)
    A = np.zeros((nr, mem.Uc.shape[0]))
    B = np.zeros((nr, mem.Vc.shape[0]))
    if 2 * kept.size >= P:  # most pairs kept: zero the others in place
        kx.drop_scatter(Q, keep, pi, pj, A, B)
        Qk, pik, pjk = Q, pi, pj
    else:
        Qk = np.empty((nr, kept.size))
        kx.compact_scatter(Q, kept, pi, pj, Qk, A, B)
        del Q
        pik, pjk = pi[kept], pj[kept]
    # sum_p q_p w_p^2 by one GEMM over the pairs' squared midpoints
    g1, g2, G = mem.g1, mem.g2, mem.G
    S2 = np.zeros((nr, d))
    step = max(1, _BLOCK_VALUES // max(d, 1))
    for s in range(0, pik.size, step):
        W = g1 * mem.Uc[pik[s : s + step]]
        W += g2 * mem.Vc[pjk[s : s + step]]
        W *= W
        S2 += Qk[:, s : s + step] @ W
    S2 /= G * G
    return 0.5 * (o1 + o2), _spread(_finish_local(Xc, A, B, S2, mem), Z)


def _finish_local(Xc, A, B, S2, mem):
    """``R_f = Q (x_f - w_f)^2 + (S2_f - Q w_f^2)``, ``S2 = sum_p q_p w_p^2``."""
    Qt = A.sum(axis=1)[:, None]
    first = mem.g1 * (A @ mem.Uc) + mem.g2 * (B @ mem.Vc)  # G * sum_p q_p w_p
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(Qt > 0, first / (mem.G * Qt), 0.0)
    var = S2 - Qt * mean * mean
    np.maximum(var, 0.0, out=var)
    diff = Xc - mean
    return Qt * diff * diff + var


class TimesEnsemble(BaseEnsembleDetector):
    r"""Two soft-min detectors fused into one soft-min model over template pairs.

    The thesis' "Times" ensemble ([T] Sec. 2.2): the sum of the two members'
    outlierness is, up to a constant, the outlierness of a single soft-min
    model whose templates are the m * n midpoints of the members' templates.
    Its ranking (and ROC) equals that of the plain bag of the two members
    ([T] eq. 2.8), but its explanation points to nearby midpoints. The
    local variant keeps only the midpoints of near pairs ([T] Sec. 2.2.2).

    Parameters
    ----------
    estimators : list of two (str, detector) tuples
        Two soft-min detectors (:class:`~skexplain_ad.KDEDetector`,
        :class:`~skexplain_ad.OCSVMDetector`, or any detector that, once
        fitted, has ``templates_``, ``log_weights_`` and ``gamma_``). They
        are cloned; ``name__param`` reaches their parameters.
    k, l : int or None, default=None
        ``None`` and ``None``: global Times ([T] eq. 2.6-2.9). Two ints:
        local Times ([T] eq. 2.12-2.15) with the ``k`` nearest templates of
        the second member for each template of the first (``1 <= k <= n``)
        and the ``l`` nearest of the first for each of the second
        (``1 <= l <= m``). ``k=n, l=m`` equals global.
    split : bool, default=True
        ``True`` fits the members on two disjoint, shuffled halves of ``X``
        (sizes differ by at most one), as the thesis builds C1 and C2;
        ``False`` fits both on all of ``X`` (C1 x C1 when the members are
        equal).
    tol : float in [0, 1), default=1e-9
        Relative error bound of ``explain`` in the L1 norm, per sample: pairs
        of templates whose share of the relevance is negligible are skipped
        (module :mod:`skexplain_ad.ensemble.times`). ``0`` keeps every pair
        with a non-zero share. Scores are always exact.
    rule : {"oc-dtd", "conservative"}, default="oc-dtd"
        Propagation rule on the midpoint model(s): the thesis' OC-DTD,
        ``q_ij = p_ij min(o, G D_ij^2) / D_ij^2`` ([T] eq. 1.14, 2.9, 2.15), or
        the paper's conservative ``q_ij = p_ij o / D_ij^2`` ([P] App.
        A.2-A.3; each local model's rows then sum to its own o). A query on
        a midpoint (``G D_ij^2`` within round-off of 0) spreads that pair's
        share evenly over the features, as in
        :mod:`skexplain_ad._softmin`. The members' own ``rule`` is not used
        (the pairs are one soft-min model).
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    n_jobs : int or None, default=None
        Threads over row chunks in ``explain`` (and local scoring).
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle of ``split=True``.

    Attributes
    ----------
    estimators_ : list of two detectors
        The fitted members.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    gamma_ : float
        Stiffness of the fused model, ``g1 + g2``.
    log_alpha_ : float
        ``log(alpha)``, the log of the normaliser of the pair weights
        (``o_t = o_1 + o_2 + log_alpha_``); at most 0.
    pairs_ : ndarray of shape (n_pairs, 2)
        Local Times only: the union of the k-NN and l-NN pairs ``(i, j)``.
    pair_sets_ : ndarray of bool, shape (n_pairs, 2)
        Local Times only: whether each pair is in ``N_1`` (a k-NN pair of
        ``u_i``) and in ``N_2`` (an l-NN pair of ``u'_j``).
    pair_sq_dist_ : ndarray of shape (n_pairs,)
        Local Times only: ``||u_i - u'_j||^2`` of each pair.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    BaggedDetector : average pooling over any explainable detectors.

    Notes
    -----
    ``outlier_score`` is :math:`o_t = o_1 + o_2 + \log\alpha` (global), from
    the members in O(m + n) per sample, or :math:`(o_{t1} + o_{t2})/2`
    (local), in :math:`O(m + n + |N_1 \cup N_2|)` after the members' distances.
    Both are non-negative.

    ``explain`` returns [T] eq. 2.9 (global) or eq. 2.15 (local): non-negative,
    each row sums to at most the outlierness, exactly where
    :math:`o \le G D_{ij}^2` for every pair that carries weight (a query far
    from the midpoints). It costs the members' distances plus one GEMM over
    the kept pairs: up to O(m n d) per sample for the global model when the
    soft-argmins are spread out, O((k m + l n) d) for the local one; memory
    stays O(m n) for the global one, never O(m n d). For two equal members
    (``split=False``, C x C) the midpoints come in equal pairs
    :math:`u_{ij} = u_{ji}`; summing both is the thesis' merged model with
    weights :math:`2\beta_{ij}` ([T] Sec. 2.2.1, Fig. 2.5).

    ``outlier_score_subset(X, keep)`` is exact pixel flipping ([T] eq. 1.16)
    on the midpoint model(s): with only the features in ``keep``,
    :math:`o_K = \log\alpha - \log\sum_{ij} e^{\ell_i + \ell'_j - g_1 d_{i,K}^2
    - g_2 d'^2_{j,K} - c\|u_i - u'_j\|^2_{\bar K}}` (the weights :math:`\beta`
    keep their full-dimensional pair distances), so :math:`o_K = o_t` with
    all features and 0 with none (global). It costs :math:`O(m n |\bar K|)`
    per sample, and the removal steps of one sample (rows repeating it with
    a shrinking ``keep``) together :math:`O(m n d)` plus :math:`O(m n)` per step.

    References
    ----------
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021. Eq. 1.14,
       1.16, 2.6-2.15.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import KDEDetector, TimesEnsemble
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> members = [("c1", KDEDetector(gamma=0.5)), ("c2", KDEDetector(gamma=0.5))]
    >>> times = TimesEnsemble(members, random_state=0).fit(X)
    >>> x_out = np.array([[0.0, 0.0, 6.0]])
    >>> times.predict(x_out)
    array([-1])
    >>> o = times.outlier_score(x_out)
    >>> o1, o2 = (e.outlier_score(x_out) for e in times.estimators_)
    >>> bool(np.isclose(o[0], o1[0] + o2[0] + times.log_alpha_))   # [T] eq. 2.7
    True
    >>> int(times.explain(x_out).argmax())
    2
    >>> local = TimesEnsemble(members, k=5, l=5, random_state=0).fit(X)
    >>> local.pairs_.shape[1]
    2
    """

    _parameter_constraints = {
        **BaseEnsembleDetector._parameter_constraints,
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "l": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, 1, closed="left")],
        "rule": RULE_CONSTRAINT,
        "n_jobs": [Integral, None],
    }
    _min_members = 2
    _max_members = 2

    def __init__(
        self,
        estimators,
        *,
        k=None,
        l=None,  # noqa: E741 - the thesis' name
        split=True,
        tol=1e-9,
        rule="oc-dtd",
        contamination=0.1,
        n_jobs=None,
        random_state=None,
    ):
        self.estimators = estimators
        self.k = k
        self.l = l  # noqa: E741
        self.split = split
        self.tol = tol
        self.rule = rule
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _validate_estimators(self):
        if (self.k is None) != (self.l is None):
            raise ValueError(
                f"TimesEnsemble: k and l must both be None (global Times) or both "
                f"be ints (local Times); got k={self.k!r}, l={self.l!r}."
            )
        return super()._validate_estimators()

    def _fit_ensemble(self, X):
        for name, est in zip(self.named_estimators_, self.estimators_):
            missing = [a for a in ("templates_", "log_weights_", "gamma_") if not hasattr(est, a)]
            if missing:
                raise ValueError(
                    f"TimesEnsemble needs soft-min members (fitted templates_, "
                    f"log_weights_ and gamma_, e.g. KDEDetector or OCSVMDetector); "
                    f"member {name!r} ({type(est).__name__}) has no {', '.join(missing)}."
                )
        mem = _Members(self, X.dtype)
        m, n = mem.Uc.shape[0], mem.Vc.shape[0]
        names = list(self.named_estimators_)
        if self.k is not None:
            if self.k > n:
                raise ValueError(
                    f"TimesEnsemble: k={self.k} nearest templates of member "
                    f"{names[1]!r} were asked for each template of {names[0]!r}, "
                    f"but {names[1]!r} has only {n}; k must be in [1, {n}]."
                )
            if self.l > m:
                raise ValueError(
                    f"TimesEnsemble: l={self.l} nearest templates of member "
                    f"{names[0]!r} were asked for each template of {names[1]!r}, "
                    f"but {names[0]!r} has only {m}; l must be in [1, {m}]."
                )
        self.gamma_ = mem.G
        log_alpha, local = _pair_statistics(
            mem.Uc, mem.Vc, mem.lw1, mem.lw2, mem.c, self.k, self.l
        )
        self.log_alpha_ = min(log_alpha, 0.0)
        if local is not None:
            pairs, sets = _union_pairs(*local, n)
            self.pairs_ = pairs.astype(np.intp)
            self.pair_sets_ = sets
            diff = mem.Uc[pairs[:, 0]] - mem.Vc[pairs[:, 1]]
            self.pair_sq_dist_ = np.einsum("ij,ij->i", diff, diff)

    # ------------------------------------------------------------- scoring
    def _is_local(self):
        return self.k is not None

    def _chunked(self, X, func, relevance):
        mem = _Members(self, X.dtype)
        kerns = mem.kernels(X.shape[0])
        m, n = mem.Uc.shape[0], mem.Vc.shape[0]
        d = X.shape[1]
        per_row = 8 * (4 * (m + n) + 6 * d)
        if relevance:
            per_row += 8 * (2 * (m + n) + (self.pairs_.shape[0] if self._is_local() else 0))
        out_shapes = [((), np.float64)] + ([((d,), np.float64)] if relevance else [])

        def run(Xchunk):
            Xc = np.asarray(Xchunk, dtype=np.float64) - mem.center
            return func(Xc, mem, kerns)

        return map_row_chunks(run, X, row_bytes=per_row, out_shapes=out_shapes, n_jobs=self.n_jobs)

    def _outlier_score(self, X):
        if not self._is_local():
            o1, o2 = (member_outlier_score(e, X).astype(np.float64) for e in self.estimators_)
            o = np.maximum(o1 + o2 + self.log_alpha_, 0.0)
        else:

            def func(Xc, mem, kerns):
                return _local_score_chunk(Xc, mem, kerns, self)

            o = self._chunked(X, func, relevance=False)
        return o.astype(X.dtype, copy=False)

    def _explain(self, X):
        cons = self.rule == "conservative"
        if not self._is_local():

            def func(Xc, mem, kerns):
                return _global_relevance_chunk(Xc, mem, kerns, self.log_alpha_, self.tol, cons)

        else:

            def func(Xc, mem, kerns):
                return _local_relevance_chunk(Xc, mem, kerns, self, self.tol, cons)

        _, R = self._chunked(X, func, relevance=True)
        return R.astype(X.dtype, copy=False)

    def _outlier_score_subset(self, X, keep):
        """Outlierness with only the features in ``keep`` ([T] eq. 1.16).

        On validated ``X`` (the public ``outlier_score_subset`` validates).
        The members' distances over the kept features are the engine's
        GEMMs; the pairs' distances over the dropped features,
        ``||u_i - u'_j||^2_{not K}``, are updated along each run of rows
        that repeats a sample with a shrinking ``keep``
        (:func:`~skexplain_ad._softmin.nested_runs`: the removal steps of
        pixel flipping), so a curve costs one pass over the features
        instead of one per step.

        Returns
        -------
        o : ndarray of shape (n_samples,), float64
            Exact; see the class Notes.
        """
        X = np.asarray(X, dtype=np.float64)
        mem = _Members(self, np.float64)
        Uc, Vc = mem.Uc, mem.Vc
        Xc = X - mem.center
        zero = np.zeros(Uc.shape[1])
        a1 = mem.lw1 - mem.g1 * sq_distances(Xc, Uc, keep, center=zero)
        a2 = mem.lw2 - mem.g2 * sq_distances(Xc, Vc, keep, center=zero)
        local = self._is_local()
        if local:
            pi, pj = self.pairs_[:, 0], self.pairs_[:, 1]
            in_set = [np.flatnonzero(self.pair_sets_[:, s]) for s in (0, 1)]
        kern = mem.backend
        out = np.empty(X.shape[0])
        bounds = nested_runs(X, keep)
        for a, b in zip(bounds[:-1], bounds[1:]):
            dropped = np.zeros(X.shape[1], dtype=bool)
            drop_sq = np.zeros(pi.size) if local else np.zeros((Uc.shape[0], Vc.shape[0]))
            for r in range(a, b):
                F = np.flatnonzero(~keep[r] & ~dropped)
                dropped[F] = True
                if F.size and local:
                    diff = Uc[np.ix_(pi, F)] - Vc[np.ix_(pj, F)]
                    drop_sq += np.einsum("ij,ij->i", diff, diff)
                if local:
                    e = a1[r, pi] + a2[r, pj] - mem.c * drop_sq
                    o_s = [max(self.log_alpha_ - lse(e[idx]), 0.0) for idx in in_set]
                    out[r] = 0.5 * (o_s[0] + o_s[1])
                else:
                    lz = kern.pair_subset_step(a1[r], a2[r], drop_sq, mem.c, Uc[:, F], Vc[:, F])
                    out[r] = max(self.log_alpha_ - lz, 0.0)
        return out
