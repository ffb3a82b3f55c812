"""Shared slow references and test doubles (one definition each).

Written from the documents, not from the package's code:

- :func:`softmin_slow`: [T] eq. 1.3, 1.9 and the two propagation rules,
  "oc-dtd" ([T] eq. 1.13-1.14) and "conservative" ([P] App. A.2-A.3, with
  the documented on-template case: share ``p_i o`` spread evenly);
  extended precision, loops over templates; optional ``exclude``.
- :func:`ref_softmin`: the same in vectorised float64 with a per-row
  feature mask ``keep`` ([T] eq. 1.16), returning the pieces too.
- :func:`softmin_noise`: round-off scale of ``o`` (the GEMM expansion).
- :class:`DistanceToMean`: an explainable detector that is not a soft-min.
"""

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import validate_data

__all__ = ["softmin_slow", "ref_softmin", "softmin_noise", "DistanceToMean"]


def softmin_slow(X, U, lw, gamma, rule="oc-dtd", exclude=None):
    """Outlierness and relevance by loops over templates, in ``np.longdouble``.

    For each query x and template u_i: ``d_i^2``, ``h_i = g d_i^2 - lw_i``,
    ``o = -log sum_i exp(-h_i)`` (log-sum-exp shifted by min h),
    ``p_i = exp(o - h_i)``; "oc-dtd": ``q_i = p_i min(o, g d_i^2) / d_i^2``
    (the term is 0 where ``d_i = 0``); "conservative": ``q_i = p_i o / d_i^2``
    and, where ``d_i = 0``, ``p_i o / d`` on every feature;
    ``R_j = sum_i q_i (x_j - u_ij)^2``. ``exclude[r]`` (or -1) drops a
    template for row r and renormalises the others' weights.
    Returns float64 arrays.
    """
    ld = np.longdouble
    X, U, lw = (np.asarray(a, dtype=ld) for a in (X, U, lw))
    g = ld(gamma)
    n, d = X.shape
    o = np.zeros(n, dtype=ld)
    R = np.zeros(X.shape, dtype=ld)
    for r, x in enumerate(X):
        idx = [i for i in range(len(U)) if exclude is None or i != exclude[r]]
        wsum = sum(np.exp(lw[i]) for i in idx)
        diff2 = {i: (x - U[i]) ** 2 for i in idx}
        d2 = {i: np.sum(diff2[i]) for i in idx}
        h = {i: g * d2[i] - (lw[i] - np.log(wsum)) for i in idx}
        hmin = min(h.values())
        o[r] = hmin - np.log(sum(np.exp(hmin - hi) for hi in h.values()))
        for i in idx:
            p = np.exp(o[r] - h[i])
            if p == 0:
                continue
            if d2[i] == 0:
                if rule == "conservative":
                    R[r] += p * o[r] / d
                continue
            share = o[r] if rule == "conservative" else min(o[r], g * d2[i])
            R[r] += p * share / d2[i] * diff2[i]
    return o.astype(np.float64), R.astype(np.float64)


def ref_softmin(X, W, lw, G, keep=None, rule="oc-dtd"):
    """o, R, soft-argmin P and D2 of a soft-min model with templates W
    (direct sums over the kept features, float64)."""
    X = np.asarray(X, dtype=np.float64)
    keep = np.ones(X.shape, bool) if keep is None else keep
    sq = (X[:, None, :] - W[None]) ** 2 * keep[:, None, :]  # (n, T, d)
    D2 = sq.sum(axis=2)
    H = G * D2 - lw
    o = -logsumexp(-H, axis=1)
    P = np.exp(o[:, None] - H)
    share = o[:, None] if rule == "conservative" else np.minimum(o[:, None], G * D2)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = np.where(D2 > 0, share / D2, 0.0)
    R = np.einsum("nt,ntd->nd", P * S, sq)
    if rule == "conservative":
        R += (np.where(D2 == 0, P, 0.0).sum(axis=1) * o / X.shape[1])[:, None]
    return o, R, P, D2


def softmin_noise(X, U, gamma, dtype=np.float64, lw=None):
    """Per-row round-off scale of o: 8 eps g (|x_c|^2 + max_i |u_c|^2), plus
    the normalisation error of the log-weights (logsumexp(lw) = 0 only to
    round-off; o is clipped at 0), which alone limits o where all distances
    vanish."""
    c = np.asarray(U, dtype=np.float64).mean(axis=0)
    xs = ((np.asarray(X, dtype=np.float64) - c) ** 2).sum(axis=1)
    us = ((np.asarray(U, dtype=np.float64) - c) ** 2).sum(axis=1).max()
    lw_err = 4 * np.finfo(np.float64).eps * (1 + np.log(len(U)))
    if lw is not None:
        lw_err += abs(float(np.logaddexp.reduce(np.asarray(lw, dtype=np.longdouble))))
    return 8 * np.finfo(dtype).eps * gamma * (xs + us) + lw_err


class DistanceToMean(OutlierMixin, BaseEstimator):
    """Explainable but not soft-min (no templates_): o = ||x - mean||^2,
    R = (x - mean)^2."""

    def fit(self, X, y=None):
        self.mean_ = validate_data(self, X).mean(axis=0)
        return self

    def outlier_score(self, X):
        return ((validate_data(self, X, reset=False) - self.mean_) ** 2).sum(axis=1)

    def score_samples(self, X):
        return -self.outlier_score(X)

    def explain(self, X):
        return (validate_data(self, X, reset=False) - self.mean_) ** 2
