r"""The Times pair model: two soft-min models fused over template pairs.

The engine of :class:`~skexplain_ad.TimesEnsemble` ([T] Sec. 2.2); the
estimator only validates, fits the members and calls this module. Two
soft-min models (templates :math:`u_i`, :math:`u'_j`, log-weights
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

**Subset score** ([T] eq. 1.16, exact pixel flipping): with only the
features in :math:`K`,
:math:`o_K = \log\alpha - \log\sum_{ij} e^{\ell_i + \ell'_j - g_1 d_{i,K}^2
- g_2 d'^2_{j,K} - c\|u_i - u'_j\|^2_{\bar K}}`, the weights :math:`\beta`
keeping their full-dimensional pair distances.

Where the work runs. This module holds the model's parameters
(:class:`PairModel`), the fit-time pair statistics, the row chunking and
the subset score; the per-chunk pooling over pairs is the backend's
(``backend.times_pairs()``): on the host for the numpy and numba backends
(:mod:`skexplain_ad.backends._host_times`, with numpy's or numba's pair
kernels), on the members' device for torch
(:mod:`skexplain_ad.backends._torch_times`). Row chunks are sized by
:func:`skexplain_ad.base.chunk_n_rows` (scikit-learn's ``working_memory``),
the blocks of template pairs inside a chunk by
:func:`skexplain_ad.base.block_n_rows` (at most ``BLOCK_MIB``, 32 MiB, and
never more than ``working_memory``; on CUDA half the free device memory).

References: [T] Z. Chen, "Explaining Anomalies by Taylor-Based
Decomposition of Outlier-Ensembles", 2021, eq. 1.14, 1.16, 2.5-2.15,
App. A.4; [P] the conservative rule, App. A.2-A.3.
"""

from functools import cached_property

import numpy as np
from scipy.special import logsumexp

from . import backends
from ._chunks import block_n_rows, chunk_n_rows, map_row_chunks
from ._softmin import nested_runs, softmin_params, sq_distances
from .backends import get_rule, sq_from_cross, sqnorms


def member_outlier_score(est, X):
    """Outlierness of a fitted detector (an ensemble's member):
    ``outlier_score``, else ``-score_samples``."""
    if hasattr(est, "outlier_score"):
        return np.asarray(est.outlier_score(X))
    return -np.asarray(est.score_samples(X))


__all__ = [
    "member_outlier_score",
    "PairModel",
    "pair_statistics",
    "times_outlierness",
    "times_relevance",
    "times_subset_score",
]


class PairModel:
    """The two members' soft-min parameters in shared, centred coordinates.

    Parameters
    ----------
    members : sequence of two fitted soft-min detectors
        Objects with ``templates_``, ``log_weights_``, ``gamma_`` (and
        optionally ``backend`` / ``device``: the first member's choose where
        the pair pooling runs).
    dtype : numpy dtype
        Dtype of the queries (the members' distance GEMMs run in it).
    log_alpha : float or None, default=None
        The fitted ``log(alpha)`` (None during fit).
    pairs, pair_sets, pair_sq_dist : ndarray or None, default=None
        Local Times: the pair list ``(i, j)``, its membership of ``N_1`` and
        ``N_2`` and ``||u_i - u'_j||^2`` (None: global Times).

    Attributes
    ----------
    Uc, Vc : ndarray
        The templates, centred at the mean of both sets.
    lw1, lw2, g1, g2, G, c : the members' log-weights and stiffnesses,
        ``G = g1 + g2``, ``c = g1 g2 / G``.
    kernels : list of two backends
        The members' backends.
    backend : object
        The first member's backend; ``backend.times_pairs()`` pools the pairs.
    """

    def __init__(self, members, dtype, log_alpha=None, pairs=None, pair_sets=None,
                 pair_sq_dist=None):
        (U, lw1, g1), (V, lw2, g2) = (softmin_params(e) for e in members)
        self.members = list(members)
        self._U, self._V = U, V
        self.lw1, self.lw2 = lw1, lw2
        self.g1, self.g2 = g1, g2
        self.G = g1 + g2
        self.c = g1 * g2 / self.G
        self.dtype = np.dtype(dtype)
        self._kerns = None
        self.log_alpha = log_alpha
        self.pairs = pairs
        self.pair_sets = pair_sets
        self.pair_sq_dist = pair_sq_dist
        # each member's backend; the first one's pools the pairs
        self.kernels = [backends.get(getattr(e, "backend", "auto"), getattr(e, "device", None))
                        for e in self.members]
        self.backend = self.kernels[0]

    # the centred templates on first use (the global score needs none)
    @cached_property
    def center(self):
        return np.vstack([self._U, self._V]).mean(axis=0)

    @cached_property
    def Uc(self):
        return self._U - self.center

    @cached_property
    def Vc(self):
        return self._V - self.center

    @cached_property
    def usq(self):
        return sqnorms(self.Uc)

    @cached_property
    def vsq(self):
        return sqnorms(self.Vc)

    @classmethod
    def of(cls, ens, dtype):
        """The fitted model of a :class:`~skexplain_ad.TimesEnsemble`."""
        return cls(ens.estimators_, dtype, ens.log_alpha_, getattr(ens, "pairs_", None),
                   getattr(ens, "pair_sets_", None), getattr(ens, "pair_sq_dist_", None))

    @property
    def local(self):
        return self.pairs is not None

    @property
    def shape(self):
        """``(m, n, d)``: the two template counts and the feature count."""
        return self._U.shape[0], self._V.shape[0], self._U.shape[1]

    def member_kernels(self):
        """``[(backend, prep), ...]`` of each member, prepared once per model
        (the members' templates centred and cast, on their devices)."""
        if self._kerns is None:
            self._kerns = [(kern, kern.prepare(T, lw, g, T.mean(axis=0), self.dtype))
                           for kern, T, lw, g in zip(self.kernels, (self.Uc, self.Vc),
                                                     (self.lw1, self.lw2), (self.g1, self.g2))]
        return self._kerns

    def distances(self, kerns, Xc):
        """``[(o1, D1), (o2, D2)]`` of centred host rows, float64 host arrays."""
        Xq = Xc.astype(self.dtype, copy=False)
        return [kern.softmin_distances(Xq, prep) for kern, prep in kerns]

    def logits(self, kerns, Xc):
        """``(a1, a2, D1, D2)``: the members' log-kernels ``a1 = lw1 - g1 D1``,
        ``a2 = lw2 - g2 D2`` and their squared distances (host arrays)."""
        (_, D1), (_, D2) = self.distances(kerns, Xc)
        return self.lw1 - self.g1 * D1, self.lw2 - self.g2 * D2, D1, D2

    def pair_blocks(self, first=0, rows=None):
        """Blocks ``(I, D)`` of template-pair distances ``||u_i - u'_j||^2``.

        ``first=0``: rows are first-member templates (``rows``, default all),
        columns every second-member one; ``first=1``: the transpose roles.
        Block rows sized by :func:`~skexplain_ad.base.block_n_rows`.
        """
        A, B, asq, bsq = ((self.Uc, self.Vc, self.usq, self.vsq) if first == 0
                          else (self.Vc, self.Uc, self.vsq, self.usq))
        idx = np.arange(A.shape[0]) if rows is None else np.asarray(rows)
        step = block_n_rows(8 * (2 * B.shape[0] + A.shape[1]), idx.size)
        for s in range(0, idx.size, step):
            I = idx[s : s + step]
            yield I, sq_from_cross(A[I] @ B.T, asq[I], bsq)

    def pair_logits(self, rows=None):
        """Blocks ``(I, L)`` of ``L_ij = lw1_i + lw2_j - c ||u_i - u'_j||^2``."""
        for I, D in self.pair_blocks(0, rows):
            D *= -self.c
            D += self.lw1[I, None]
            D += self.lw2[None, :]
            yield I, D


def nearest(D, k):
    """Column indices of the k smallest entries of each row (ties: lower index)."""
    if k >= D.shape[1]:
        return np.broadcast_to(np.arange(D.shape[1]), D.shape).copy()
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def pair_statistics(model, k=None, l=None):  # noqa: E741 - the thesis' name
    """``log(alpha)`` ([T] eq. 2.6) and, for local Times, its pair sets.

    Blockwise over the m x n template distances (never all in memory).

    Returns
    -------
    log_alpha : float
        At most 0 (``alpha`` is a mean of kernel values, round-off aside).
    local : None or (pairs, pair_sets, pair_sq_dist)
        The union of the k-NN pairs ``N_1`` and l-NN pairs ``N_2``
        ([T] Sec. 2.2.2), each pair's membership, and its squared distance.
    """
    parts, knn = [], []
    for I, D in model.pair_blocks(0):
        L = model.lw1[I, None] + model.lw2[None, :] - model.c * D
        parts.append(logsumexp(L))
        if k is not None:
            knn.append(nearest(D, k))
    log_alpha = min(float(logsumexp(np.array(parts))), 0.0)
    if k is None:
        return log_alpha, None
    m, n, _ = model.shape
    pairs1 = np.column_stack([np.repeat(np.arange(m), k), np.concatenate(knn).ravel()])
    lnn = [nearest(D, l) for _, D in model.pair_blocks(1)]
    pairs2 = np.column_stack([np.concatenate(lnn).ravel(), np.repeat(np.arange(n), l)])
    pairs, sets = _union_pairs(pairs1, pairs2, n)
    diff = model.Uc[pairs[:, 0]] - model.Vc[pairs[:, 1]]
    return log_alpha, (pairs.astype(np.intp), sets, sqnorms(diff))


def _union_pairs(pairs1, pairs2, n):
    """Union of two pair lists, with each pair's membership of either."""
    key1 = pairs1[:, 0] * n + pairs1[:, 1]
    key2 = pairs2[:, 0] * n + pairs2[:, 1]
    keys = np.union1d(key1, key2)
    pairs = np.column_stack([keys // n, keys % n])
    sets = np.column_stack([np.isin(keys, key1), np.isin(keys, key2)])
    return pairs, sets


def _chunked(model, X, func, relevance, n_jobs):
    """Row chunks of ``X`` (centred, float64) through ``func(Xc, kerns)``."""
    kerns = model.member_kernels()
    m, n, d = model.shape
    per_row = 8 * (4 * (m + n) + 6 * d)
    if relevance:
        per_row += 8 * (2 * (m + n) + (model.pairs.shape[0] if model.local else 0))
    out_shapes = [((), np.float64)] + ([((d,), np.float64)] if relevance else [])

    def run(Xchunk):
        return func(np.asarray(Xchunk, dtype=np.float64) - model.center, kerns)

    return map_row_chunks(run, X, row_bytes=per_row, out_shapes=out_shapes, n_jobs=n_jobs)


def times_outlierness(model, X, n_jobs=None):
    """Outlierness of the global ([T] eq. 2.7) or local (eq. 2.14) model, float64.

    Global: from the members' own ``outlier_score`` (O(m + n) per query).
    """
    if not model.local:
        o1, o2 = (member_outlier_score(e, X).astype(np.float64) for e in model.members)
        return np.maximum(o1 + o2 + model.log_alpha, 0.0)
    pool = model.backend.times_pairs()
    return _chunked(model, X, lambda Xc, kerns: pool.local_score(Xc, model, kerns),
                    relevance=False, n_jobs=n_jobs)


def times_relevance(model, X, tol=1e-9, rule="oc-dtd", n_jobs=None):
    """Relevance of the global ([T] eq. 2.9) or local (eq. 2.15) model.

    Returns
    -------
    o : ndarray of shape (n,), float64
    R : ndarray of shape (n, d), float64
        Within ``tol`` of the exact relevance in the L1 norm, per row
        (module docstring).
    """
    pool = model.backend.times_pairs()
    rule = get_rule(rule)
    func = pool.local_relevance if model.local else pool.global_relevance
    return _chunked(model, X, lambda Xc, kerns: func(Xc, model, kerns, tol, rule),
                    relevance=True, n_jobs=n_jobs)


def times_subset_score(model, X, keep):
    """Outlierness with only the features in ``keep`` ([T] eq. 1.16), float64.

    The members' log-kernels over the kept features are the engine's GEMMs
    (:func:`~skexplain_ad._softmin.sq_distances`, on the host); the pair
    sums are the backend's (``times_pairs()``, on the members' device for
    torch):

    - global: the pairs' distances over the dropped features,
      ``||u_i - u'_j||^2_{not K}``, updated along each run of rows that
      repeats a sample with a shrinking ``keep``
      (:func:`~skexplain_ad._softmin.nested_runs`: the removal steps of
      pixel flipping), one GEMM over the newly dropped features per step,
      so a curve costs one pass over the features instead of one per step;
    - local: for every row at once, one GEMM of the rows' dropped-feature
      masks with the pairs' squared differences, a block of pairs at a
      time.

    Global: ``o_K = o_t`` with every feature kept and 0 with none.
    """
    X = np.asarray(X, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    Xc = X - model.center
    pool = model.backend.times_pairs()
    m, n, d = model.shape
    zero = np.zeros(d)

    def logits(rows):
        return (model.lw1 - model.g1 * sq_distances(Xc[rows], model.Uc, keep[rows], center=zero),
                model.lw2 - model.g2 * sq_distances(Xc[rows], model.Vc, keep[rows], center=zero))

    if not model.local:
        bounds = nested_runs(X, keep)
        lz = pool.global_subset(model, *logits(slice(None)), keep,
                                list(zip(bounds[:-1], bounds[1:])))
        return np.maximum(model.log_alpha - lz, 0.0)
    out = np.empty(X.shape[0])
    step = chunk_n_rows(8 * (3 * (m + n) + 2 * d), X.shape[0])
    for r0 in range(0, X.shape[0], step):
        rows = slice(r0, r0 + step)
        lz = pool.local_subset(model, *logits(rows), keep[rows])
        o = np.maximum(model.log_alpha - lz, 0.0)
        out[rows] = 0.5 * (o[0] + o[1])
    return out
