r"""Out-of-sample training scores: the scores behind ``offset_``.

``offset_`` is the ``contamination`` percentile of the training scores. A
template model memorises its training points: scored in-sample, each point
sits on its own template and looks more normal than any new point of the
same distribution, so ``predict`` would flag nearly every held-out inlier.
Here each training point is scored *as if it were held out*: the terms of
the model that the point itself put there are left out.

- Soft-min detector ([T] eq. 1.3): training row :math:`r` whose own
  template is :math:`k` is scored without it, the other weights
  renormalised,
  :math:`o^{(-k)}(x) = -\log\sum_{i\ne k}\frac{w_i}{1-w_k}e^{-g\|x-u_i\|^2}`
  (the engine's ``exclude``). ``KDEDetector``: every training point is a
  template, so this is exactly the KDE fitted without the point (gamma
  held fixed). ``OCSVMDetector``: the same on the support-vector expansion
  -- a training point that is a support vector is scored without its own
  term, the others' :math:`\alpha_i` unchanged; a point that is not a
  support vector keeps its in-sample score. The SVM is *not* refitted, so
  this approximates the held-out score of the SVM fitted without the point;
  it overshoots where few points are support vectors (small ``nu``: no
  neighbour takes the dropped vector's place), so ``offset_`` then flags
  fewer new inliers than ``contamination`` (measured by
  ``benchmarks/bench_calibration.py --svm-refit``).
  A model with one template (nothing left once it is dropped) keeps the
  in-sample score.
- ``BaggedDetector`` ([P] Sec. 5, [T] eq. 2.2): each member's
  out-of-sample score, pooled as the bag pools,
  :math:`\sum_k w_k o_k^{\mathrm{oos}}` (``w_k`` as fitted; the
  standardisation's :math:`\mu_k` are biases the bag's ``outlier_score``
  leaves out). With ``split=True`` a member that did not see the point scores
  it as usual (it is out of sample already); the one that did leaves the
  point's template out.
- ``TimesEnsemble`` global ([T] eq. 2.6-2.8): the pairs :math:`(i, j)`
  that involve the point are those with :math:`i = i_0` (its template in
  the first member) or :math:`j = j_0` (in the second). Leaving them out
  and renormalising the pair weights :math:`\beta` gives, exactly,

  .. math::

      o_t^{\mathrm{oos}}(x) = o_1^{(-i_0)}(x) + o_2^{(-j_0)}(x)
          + \log\alpha^{-}, \qquad
      \alpha^{-} = \sum_{i\ne i_0,\,j\ne j_0}
          \frac{a_i}{1-a_{i_0}}\frac{b_j}{1-b_{j_0}}e^{-c\|u_i-u'_j\|^2},

  the Times ensemble of the two members with the point's templates left
  out. One index only (``split=True``: the point is in one half) makes
  :math:`\alpha^-` a sum over the other rows (columns) of the pair
  matrix, computed without cancellation; with both (``split=False``) it
  is :math:`\alpha` less the row and the column plus their crossing,
  recomputed pair by pair where that difference would cancel.
- ``TimesEnsemble`` local ([T] eq. 2.12-2.14): the pair sets of the
  members without the point's templates. :math:`N_1` loses the pairs of
  :math:`u_{i_0}`; a template :math:`u_i` whose :math:`k` nearest
  included :math:`u'_{j_0}` gets its :math:`(k+1)`-th nearest instead, as
  the search without :math:`u'_{j_0}` would give it (likewise :math:`N_2`
  with :math:`l`, :math:`j_0`, :math:`i_0`); the weights :math:`\beta`
  renormalised as above. With soft-min members held fixed this is the
  local model refitted without the point, exactly.

Not template models: the torch detectors hold out scores of their own
(``AutoencoderDetector``: its early-stopping validation split;
``DeepOneClassDetector``: leave-one-out whitening), and a bag uses those
for its torch members. Any other member without templates keeps its
in-sample training scores; so does a soft-min object from outside
the package, which does not say which template is which training row (a
detector says so by a ``_training_templates(rows)`` method).

The gamma heuristics, the bag's standardisation (``means_``, ``scales_``)
and an OC-SVM's dual coefficients are not recomputed without the point.
"""

import numpy as np
from scipy.special import logsumexp

from ._chunks import chunk_n_rows
from ._softmin import own_template_exclude, softmin_outlierness, softmin_params
from ._times import member_outlier_score

__all__ = ["training_outlier_score", "member_rows", "softmin_exclude", "bagged_training_score",
           "times_log_alpha_without", "times_training_score"]

#: below this share of alpha left, ``alpha - row - column + crossing`` is
#: recomputed pair by pair (its relative round-off would exceed ~1e-10)
_CANCEL = 2.0**-20

def training_outlier_score(est, X, rows=None):
    """Outlierness of training rows, each scored as if held out.

    Parameters
    ----------
    est : fitted detector
    X : ndarray of shape (n_samples, n_features)
        Validated rows to score.
    rows : ndarray of int of shape (n_samples,) or None, default=None
        Per row of ``X``, its index in ``est``'s own training set, or -1
        where ``est`` did not see it. None: ``X`` is ``est``'s training set.

    Returns
    -------
    o : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import KDEDetector
    >>> from skexplain_ad._calibration import training_outlier_score
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> det = KDEDetector(gamma=1.0).fit(X)
    >>> training_outlier_score(det, X).round(4)      # -log mean of the others
    array([1.6928, 1.6446, 4.6864])
    """
    X = np.asarray(X)
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    hook = getattr(est, "_training_outlier_score", None)
    if hook is not None:
        return hook(X, rows)
    exclude = softmin_exclude(est, rows)
    if exclude is not None and np.any(exclude >= 0):
        U, lw, g = softmin_params(est)
        return softmin_outlierness(
            X, U, lw, g, exclude=exclude, backend=getattr(est, "backend", "auto"),
            device=getattr(est, "device", None), n_jobs=getattr(est, "n_jobs", None),
        )
    if hasattr(est, "_outlier_score"):
        return np.asarray(est._outlier_score(X))
    return member_outlier_score(est, X)


def softmin_exclude(est, rows):
    """Per row, the index of its own template in ``est`` (or -1); None
    when ``est`` is no soft-min model that knows its training rows.

    A template that carries all the weight is never excluded (nothing
    would be left).
    """
    find = getattr(est, "_training_templates", None)
    params = softmin_params(est)
    if find is None or params is None:
        return None
    return own_template_exclude(find(rows), params[1])


def member_rows(ens, rows):
    """Each member's own training-row index of ``rows`` (-1: not seen).

    ``split=False``: every member saw every row. ``split=True``: member
    ``k`` saw only its part ``parts[k]`` of the ensemble's training rows.
    """
    parts = getattr(ens, "_train_parts", None)
    if parts is None:
        return [rows] * len(ens.estimators_)
    n_fit = sum(len(p) for p in parts)
    out = []
    for part in parts:
        inv = np.full(n_fit, -1, dtype=np.int64)
        inv[part] = np.arange(len(part))
        out.append(np.where(rows >= 0, inv[np.maximum(rows, 0)], -1))
    return out


def bagged_training_score(ens, X, rows):
    """``sum_k w_k o_k^oos`` (module docstring)."""
    o = np.zeros(X.shape[0])
    for w, est, r in zip(ens.weights_, ens.estimators_, member_rows(ens, rows)):
        o += w * np.asarray(training_outlier_score(est, X, r), dtype=np.float64)
    return o.astype(X.dtype, copy=False)


def _lse_without_each(v):
    """``lse(v without v[i])`` for every i, by prefix and suffix sums."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0:
        return v.copy()
    pre = np.concatenate([[-np.inf], np.logaddexp.accumulate(v)[:-1]])
    suf = np.concatenate([np.logaddexp.accumulate(v[::-1])[::-1][1:], [-np.inf]])
    return np.logaddexp(pre, suf)


def times_log_alpha_without(log_alpha, mem, ex1, ex2):
    r"""Per row, :math:`\log\alpha^-` of the pairs without ``i0 = ex1`` and
    ``j0 = ex2`` (-1: none), members' weights renormalised (module docstring).

    Rows that exclude nothing get ``log_alpha`` (the fit's) itself.
    """
    out = np.full(ex1.shape[0], float(log_alpha))
    if not (np.any(ex1 >= 0) or np.any(ex2 >= 0)):
        return out
    m, n = mem.Uc.shape[0], mem.Vc.shape[0]
    logA = np.empty(m)
    cols = []
    for I, L in mem.pair_logits():
        logA[I] = logsumexp(L, axis=1)
        cols.append(logsumexp(L, axis=0))
    logB = logsumexp(np.array(cols), axis=0)
    la = float(logsumexp(logA))
    with np.errstate(divide="ignore"):  # log(1 - a_i); -inf where a_i = 1 (never excluded)
        adj1 = np.log1p(-np.exp(mem.lw1))
        adj2 = np.log1p(-np.exp(mem.lw2))
    s1, s2 = ex1 >= 0, ex2 >= 0
    only1, only2, both = s1 & ~s2, s2 & ~s1, s1 & s2
    if only1.any():
        i0 = ex1[only1]
        out[only1] = _lse_without_each(logA)[i0] - adj1[i0]
    if only2.any():
        j0 = ex2[only2]
        out[only2] = _lse_without_each(logB)[j0] - adj2[j0]
    if both.any():
        i0, j0 = ex1[both], ex2[both]
        diff = mem.Uc[i0] - mem.Vc[j0]
        logK = mem.lw1[i0] + mem.lw2[j0] - mem.c * np.einsum("ij,ij->i", diff, diff)
        t = 1.0 - np.exp(logA[i0] - la) - np.exp(logB[j0] - la) + np.exp(logK - la)
        with np.errstate(divide="ignore", invalid="ignore"):
            res = la + np.log(t)
        bad = np.flatnonzero(~(t > _CANCEL))
        if bad.size:  # cancellation: sum the remaining pairs one by one
            acc = np.full(bad.size, -np.inf)
            for I, L in mem.pair_logits():
                for b, r in enumerate(bad):
                    Lr = L[I != i0[r]]
                    Lr = np.delete(Lr, j0[r], axis=1)
                    if Lr.size:
                        acc[b] = np.logaddexp(acc[b], logsumexp(Lr))
            res[bad] = acc
        out[both] = res - adj1[i0] - adj2[j0]
    sel = s1 | s2
    out[sel] = np.minimum(out[sel], 0.0)  # alpha <= 1, as log_alpha_
    return out


def _log_keep(lw, ex):
    """``log(1 - w_ex)`` per row (0 where ``ex < 0``)."""
    out = np.zeros(ex.shape[0])
    sel = ex >= 0
    out[sel] = np.log1p(-np.exp(lw[ex[sel]]))
    return out


def _next_neighbours(mem, k, l):
    """The ``(k+1)``-th nearest second-member template of each first-member
    template and the ``(l+1)``-th nearest first-member template of each
    second-member one (-1 where there is none), in the order of the fit's
    search (:func:`skexplain_ad._times.pair_statistics`: the same stable sort)."""
    out = []
    for first, kk in ((0, k), (1, l)):
        n_rows, n_cols = (mem.Uc.shape[0], mem.Vc.shape[0])[::1 - 2 * first]
        nxt = np.full(n_rows, -1, dtype=np.int64)
        if kk < n_cols:
            for I, D in mem.pair_blocks(first):
                nxt[I] = np.argsort(D, axis=1, kind="stable")[:, kk]
        out.append(nxt)
    return out


def times_training_score(mem, X, ex1, ex2, log_alpha, *, member_scores=None, local=None):
    """Out-of-sample training outlierness of a Times model (module docstring).

    Parameters
    ----------
    mem : PairModel
        The fitted pair model (:class:`skexplain_ad._times.PairModel`).
    X : ndarray of shape (n, d)
    ex1, ex2 : ndarray of int of shape (n,)
        Per row, its own template in each member, or -1.
    log_alpha : float
        The fitted model's ``log alpha``.
    member_scores : callable or None
        Global model: returns the members' held-out scores ``(o1, o2)``.
    local : tuple or None
        Local model: ``(pairs, pair_sets, k, l)``.

    Returns
    -------
    o : ndarray of shape (n,), the dtype of ``X``
    """
    X = np.asarray(X)
    nrow = X.shape[0]
    log_alpha = times_log_alpha_without(log_alpha, mem, ex1, ex2)
    if local is None:
        o1, o2 = (np.asarray(o, dtype=np.float64) for o in member_scores())
        return np.maximum(o1 + o2 + log_alpha, 0.0).astype(X.dtype, copy=False)
    pairs, pair_sets, k, l = local  # noqa: E741 - the thesis' name
    kerns = mem.member_kernels()
    pi, pj = pairs[:, 0], pairs[:, 1]
    in1, in2 = pair_sets[:, 0], pair_sets[:, 1]
    # a dropped j0 was one of the k nearest of some u_i: in the refit its
    # (k+1)-th nearest takes the place (likewise i0 in N_2)
    nxt1, nxt2 = _next_neighbours(mem, k, l)
    rep1 = in1 & (nxt1[pi] >= 0)  # N_1 pairs (i, j) whose j could be replaced
    rep2 = in2 & (nxt2[pj] >= 0)
    out = np.empty(nrow)
    step = chunk_n_rows(8 * (4 * pi.size + mem.Uc.shape[0] + mem.Vc.shape[0]), nrow)
    for s in range(0, nrow, step):
        sl = slice(s, s + step)
        Xc = np.asarray(X[sl], dtype=np.float64) - mem.center
        a1, a2, _, _ = mem.logits(kerns, Xc)
        E = a1[:, pi] + a2[:, pj]
        drop = (pi[None, :] == ex1[sl, None]) | (pj[None, :] == ex2[sl, None])
        E[drop] = -np.inf
        lz1 = logsumexp(np.where(in1[None, :], E, -np.inf), axis=1)
        lz2 = logsumexp(np.where(in2[None, :], E, -np.inf), axis=1)
        # replacements: (i, nxt1[i]) for the N_1 pairs (i, j0), i != i0;
        # (nxt2[j], j) for the N_2 pairs (i0, j), j != j0
        i0, j0 = ex1[sl, None], ex2[sl, None]
        take1 = rep1[None, :] & (pj[None, :] == j0) & (pi[None, :] != i0)
        take2 = rep2[None, :] & (pi[None, :] == i0) & (pj[None, :] != j0)
        if take1.any():
            R1 = np.where(take1, a1[:, pi] + a2[:, np.maximum(nxt1[pi], 0)], -np.inf)
            lz1 = np.logaddexp(lz1, logsumexp(R1, axis=1))
        if take2.any():
            R2 = np.where(take2, a1[:, np.maximum(nxt2[pj], 0)] + a2[:, pj], -np.inf)
            lz2 = np.logaddexp(lz2, logsumexp(R2, axis=1))
        # lz uses the raw log-weights: alpha^- without their renormalisation
        la = log_alpha[sl] + _log_keep(mem.lw1, ex1[sl]) + _log_keep(mem.lw2, ex2[sl])
        out[sl] = 0.5 * (np.maximum(la - lz1, 0.0) + np.maximum(la - lz2, 0.0))
    return out.astype(X.dtype, copy=False)
