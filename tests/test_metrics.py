"""Tests of skexplain_ad.metrics against slow references written here.

Each metric is compared with a plain-loop float64 version (and with
sklearn's ``roc_auc_score`` where it applies); pixel flipping "remove" with a
loop that really deletes the columns and recomputes o(x) template by
template ([T] eq. 1.16).
"""

import contextlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from _refs import DistanceToMean, ref_softmin
from skexplain_ad.metrics import (
    CLEVER_HANS_RATIO_THRESHOLD,
    clever_hans_difference,
    clever_hans_ratio,
    corruption_ground_truth,
    detection_auc,
    explanation_accuracy,
    explanation_cosine,
    normalize_relevance,
    pixel_auroc,
    pixel_flipping_auc,
    pixel_flipping_aucs,
    pixel_flipping_curve,
)

# --------------------------------------------------------------------------
# detectors following the package's contract (stubs; the real ones live in
# skexplain_ad.detectors and are not imported here)
# --------------------------------------------------------------------------


class SoftMin(BaseEstimator):
    """Soft-min detector: o(x) = -log sum_i exp(lw_i - g ||x - u_i||^2)."""

    def __init__(self, templates, log_weights=None, gamma=1.0):
        self.templates = templates
        self.log_weights = log_weights
        self.gamma = gamma

    def fit(self, X=None, y=None):
        U = np.asarray(self.templates, dtype=np.float64)
        lw = (
            np.full(len(U), -np.log(len(U)))
            if self.log_weights is None
            else np.asarray(self.log_weights, dtype=np.float64)
        )
        self.templates_ = U
        self.log_weights_ = lw - np.logaddexp.reduce(lw)  # logsumexp = 0
        self.gamma_ = float(self.gamma)
        return self

    def _h(self, X):
        D2 = ((np.asarray(X)[:, None, :] - self.templates_[None]) ** 2).sum(-1)
        return D2, self.gamma_ * D2 - self.log_weights_

    def outlier_score(self, X):
        _, H = self._h(X)
        return -np.logaddexp.reduce(-H, axis=1)

    def score_samples(self, X):
        return -self.outlier_score(X)

    def explain(self, X):
        X = np.asarray(X, dtype=np.float64)
        D2, H = self._h(X)
        o = -np.logaddexp.reduce(-H, axis=1)
        P = np.exp(-H - (-o)[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            W = np.where(D2 > 0, P * np.minimum(o[:, None], self.gamma_ * D2) / D2, 0)
        diff2 = (X[:, None, :] - self.templates_[None]) ** 2
        return np.einsum("ni,nij->nj", W, diff2)


class MeanOfSoftMin(BaseEstimator):
    """Ensemble whose outlierness is the mean of soft-min members.

    Implements the optional hook ``_outlier_score_subset`` and counts calls.
    It also carries (misleading) soft-min attributes: the hook must win.
    """

    def __init__(self, members):
        self.members = members

    def fit(self, X=None, y=None):
        self.members_ = [m.fit() for m in self.members]
        self.templates_ = self.members_[0].templates_
        self.log_weights_ = self.members_[0].log_weights_
        self.gamma_ = self.members_[0].gamma_
        self.n_subset_calls_ = 0
        return self

    def outlier_score(self, X):
        return np.mean([m.outlier_score(X) for m in self.members_], axis=0)

    def explain(self, X):
        return np.mean([m.explain(X) for m in self.members_], axis=0)

    def _outlier_score_subset(self, X, keep):
        self.n_subset_calls_ += 1
        assert keep.shape == X.shape and keep.dtype == bool
        out = []
        for m in self.members_:
            d2 = (keep[:, None, :] * (X[:, None, :] - m.templates_[None]) ** 2).sum(-1)
            out.append(-np.logaddexp.reduce(m.log_weights_ - m.gamma_ * d2, axis=1))
        return np.mean(out, axis=0)


# --------------------------------------------------------------------------
# slow references
# --------------------------------------------------------------------------


def auc_slow(pos, neg):
    """P(pos > neg) + 0.5 P(pos == neg), by counting pairs."""
    total = 0.0
    for p in pos:
        for q in neg:
            total += 1.0 if p > q else 0.5 if p == q else 0.0
    return total / (len(pos) * len(neg))


def cosine_slow(r, g):
    r = [max(float(v), 0.0) for v in r]
    g = [float(v) for v in g]
    nr = math.sqrt(sum(v * v for v in r))
    ng = math.sqrt(sum(v * v for v in g))
    if nr == 0 or ng == 0:
        return 0.0
    return sum(a * b for a, b in zip(r, g)) / (nr * ng)


def softmin_o_slow(x, U, lw, g, cols):
    """o(x) on the columns ``cols`` only ([T] eq. 1.16): ``tests/_refs.py``'s
    :func:`ref_softmin` with that feature mask."""
    keep = np.zeros((1, len(x)), dtype=bool)
    keep[0, list(cols)] = True
    return float(ref_softmin(np.asarray(x)[None, :], U, lw, g, keep=keep)[0][0])


def removal_counts_slow(d, n_steps):
    return [k * d // n_steps for k in range(n_steps + 1)]


def pf_remove_slow(det, X, R, n_steps):
    """Delete the k most relevant columns for real; ratio to the full o."""
    n, d = X.shape
    counts = removal_counts_slow(d, n_steps)
    curves = np.zeros((n, n_steps + 1))
    for s in range(n):
        ordered = sorted(range(d), key=lambda j: (-R[s, j], j))
        members = getattr(det, "members_", [det])
        o = []
        for c in counts:
            cols = ordered[c:]
            o.append(
                np.mean(
                    [
                        softmin_o_slow(
                            X[s], m.templates_, m.log_weights_, m.gamma_, cols
                        )
                        for m in members
                    ]
                )
            )
        curves[s] = [ok / o[0] for ok in o]
    return np.array(counts) / d, curves


def pf_mask_slow(det, X, R, n_steps, baseline):
    n, d = X.shape
    counts = removal_counts_slow(d, n_steps)
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float64), (d,))
    curves = np.zeros((n, n_steps + 1))
    for s in range(n):
        ordered = sorted(range(d), key=lambda j: (-R[s, j], j))
        o = []
        for c in counts:
            z = X[s].copy()
            for j in ordered[:c]:
                z[j] = base[j]
            o.append(float(det.outlier_score(z[None])[0]))
        curves[s] = [ok / o[0] for ok in o]
    return curves


def trapezoid_slow(y, x):
    return sum((x[k + 1] - x[k]) * (y[k + 1] + y[k]) / 2 for k in range(len(x) - 1))


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def softmin(rng):
    return SoftMin(rng.normal(size=(7, 6)), rng.normal(size=7), gamma=0.3).fit()


@contextlib.contextmanager
def no_warnings():
    """Context in which any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------
# detection_auc
# --------------------------------------------------------------------------


def test_detection_auc_matches_sklearn_and_pair_count(rng):
    y = np.where(rng.rand(60) < 0.3, -1, 1)
    o = np.round(rng.normal(size=60) - 0.8 * y, 1)  # ties on purpose
    auc = detection_auc(y, o)
    assert_allclose(auc, auc_slow(o[y == -1], o[y == 1]), rtol=1e-12)
    # sklearn's sign convention: inliers positive on score_samples = -o
    assert_allclose(auc, roc_auc_score(y, -o), rtol=1e-12)
    assert isinstance(auc, float)


@pytest.mark.parametrize("y", [[1, 1, 1], [-1, -1, -1]])
def test_detection_auc_one_class(y):
    with pytest.raises(ValueError, match=r"only (inliers|outliers).*both"):
        detection_auc(y, [0.1, 0.2, 0.3])


def test_detection_auc_bad_input():
    with pytest.raises(ValueError, match=r"\+1 \(inlier\) and -1.*\[0, 1\]"):
        detection_auc([0, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        detection_auc([1, -1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        detection_auc([1, -1], [0.1, np.nan])


# --------------------------------------------------------------------------
# explanation_cosine / explanation_accuracy
# --------------------------------------------------------------------------


def test_explanation_cosine_matches_loop(rng):
    R = rng.normal(size=(9, 12))
    G = rng.rand(9, 12) * (rng.rand(9, 12) < 0.4)
    G[3] = 0.0  # no anomaly
    R[5] = -np.abs(R[5])  # no positive relevance
    expected = [cosine_slow(r, g) for r, g in zip(R, G)]
    cos = explanation_cosine(R, G)
    assert cos.shape == (9,)
    assert_allclose(cos, expected, rtol=1e-12, atol=1e-15)
    assert cos[3] == 0 and cos[5] == 0
    assert ((cos >= 0) & (cos <= 1)).all()
    # images and single samples
    assert_allclose(explanation_cosine(R.reshape(9, 3, 4), G.reshape(9, 3, 4)), cos)
    one = explanation_cosine(R[0], G[0])
    assert isinstance(one, float) and one == pytest.approx(expected[0])


def test_explanation_cosine_scale_free(rng):
    R, G = rng.rand(4, 5), rng.rand(4, 5)
    base = explanation_cosine(R, G)
    for scale in (1e-200, 1e200):
        with no_warnings():
            assert_allclose(explanation_cosine(R * scale, G * scale), base, rtol=1e-12)


def test_explanation_cosine_all_zero_no_warning():
    with no_warnings():
        assert_array_equal(explanation_cosine(np.zeros((2, 4)), np.ones((2, 4))), 0)
        assert_array_equal(explanation_cosine(np.ones((2, 4)), np.zeros((2, 4))), 0)
        assert explanation_cosine(np.zeros(3), np.zeros(3)) == 0.0


def test_explanation_cosine_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        explanation_cosine(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="ground_truth must be non-negative"):
        explanation_cosine(np.ones((2, 3)), -np.ones((2, 3)))
    with pytest.raises(ValueError, match="relevance.*NaN"):
        explanation_cosine([[np.nan, 1.0]], [[1.0, 1.0]])


def test_explanation_accuracy_selections(rng):
    n = 20
    R, G = rng.normal(size=(n, 8)), rng.rand(n, 8)
    y = np.where(np.arange(n) % 3 == 0, -1, 1)
    o = rng.rand(n)
    cos = [cosine_slow(r, g) for r, g in zip(R, G)]

    def mean_over(rows):
        return sum(cos[i] for i in rows) / len(rows)

    # default: every row
    assert_allclose(explanation_accuracy(R, G), mean_over(range(n)))
    # true outliers
    outl = [i for i in range(n) if y[i] == -1]
    assert_allclose(explanation_accuracy(R, G, y), mean_over(outl))
    # above a threshold
    t = np.median(o)
    rows = [i for i in outl if o[i] > t]
    assert_allclose(explanation_accuracy(R, G, y, o, threshold=t), mean_over(rows))
    # within the top fraction of all rows
    top = sorted(range(n), key=lambda i: -o[i])[: math.ceil(0.4 * n)]
    rows = [i for i in outl if i in top]
    assert_allclose(explanation_accuracy(R, G, y, o, top_fraction=0.4), mean_over(rows))
    assert_allclose(explanation_accuracy(R, G, y, o, top_fraction=1.0), mean_over(outl))


def test_explanation_accuracy_errors(rng):
    R, G = rng.rand(4, 3), rng.rand(4, 3)
    with pytest.raises(ValueError, match="No outlier.*y_true == -1"):
        explanation_accuracy(R, G, y_true=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="No outlier.*threshold=5"):
        explanation_accuracy(R, G, [-1, 1, -1, 1], [0.1, 0.2, 0.3, 0.4], threshold=5)
    with pytest.raises(ValueError, match="at most one"):
        explanation_accuracy(R, G, None, [1, 2, 3, 4], threshold=1, top_fraction=0.5)
    with pytest.raises(ValueError, match="need outlier_scores"):
        explanation_accuracy(R, G, threshold=0.5)
    with pytest.raises(ValueError, match=r"top_fraction must be .* got 0"):
        explanation_accuracy(R, G, None, [1, 2, 3, 4], top_fraction=0)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        explanation_accuracy(R, G, y_true=[1, -1])
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        explanation_accuracy(R, G[:, :2])


def test_corruption_ground_truth(rng):
    Xc, X0 = rng.rand(3, 2, 2), rng.rand(3, 2, 2)
    gt = corruption_ground_truth(Xc, X0)
    assert gt.shape == (3, 2, 2)
    for idx in np.ndindex(gt.shape):
        assert gt[idx] == pytest.approx((Xc[idx] - X0[idx]) ** 2)
    with pytest.raises(ValueError, match=r"\(3, 2, 2\).*\(3, 4\)"):
        corruption_ground_truth(Xc, X0.reshape(3, 4))


# --------------------------------------------------------------------------
# Clever Hans scores
# --------------------------------------------------------------------------


def test_clever_hans_scores():
    assert clever_hans_difference(0.9, 0.3) == pytest.approx(0.6)
    assert clever_hans_ratio(0.9, 0.3) == pytest.approx(3.0)
    assert CLEVER_HANS_RATIO_THRESHOLD == 3.0
    assert clever_hans_difference(0.0, 1.0) == -1.0
    assert clever_hans_difference(1.0, 0.0) == 1.0
    roc, cos = np.array([0.5, 0.9, 1.0]), np.array([[0.5], [0.25]])
    assert_allclose(clever_hans_difference(roc, cos), roc - cos)
    assert_allclose(clever_hans_ratio(roc, cos), roc / cos)


def test_clever_hans_ratio_zero_cosine_no_warning():
    with no_warnings():
        assert clever_hans_ratio(0.8, 0.0) == np.inf
        assert clever_hans_ratio(0.0, 0.0) == np.inf
        assert_array_equal(clever_hans_ratio([0.8, 0.6], [0.0, 0.3]), [np.inf, 2.0])


@pytest.mark.parametrize("func", [clever_hans_difference, clever_hans_ratio])
def test_clever_hans_range(func):
    with pytest.raises(ValueError, match=r"roc must lie in \[0, 1\], got 1.2"):
        func(1.2, 0.5)
    with pytest.raises(ValueError, match=r"cosine must lie in \[0, 1\]"):
        func(0.5, np.nan)


# --------------------------------------------------------------------------
# normalize_relevance ([T] eq. 3.2) and pixel_auroc
# --------------------------------------------------------------------------


def test_normalize_relevance_matches_loop(rng):
    R = rng.normal(size=(5, 7))
    R[2] = 1.5  # a constant row
    lo = min(min(row) for row in R)
    hi = max(max(row) for row in R)
    shared = [[(v - lo) / (hi - lo) for v in row] for row in R]
    own = [
        [0.0 if max(r) == min(r) else (v - min(r)) / (max(r) - min(r)) for v in r]
        for r in R
    ]
    assert_allclose(normalize_relevance(R), shared, rtol=1e-12)
    with no_warnings():
        out = normalize_relevance(R, per_sample=True)
    assert_allclose(out, own, rtol=1e-12)
    assert_array_equal(out[2], 0)
    img = normalize_relevance(R.reshape(5, 7, 1))
    assert img.shape == (5, 7, 1)
    assert_allclose(img.reshape(5, 7), shared)


def test_normalize_relevance_constant_no_nan():
    with no_warnings():
        assert_array_equal(normalize_relevance(np.full((3, 4), 2.0)), 0)
        assert_array_equal(normalize_relevance(np.zeros(4), per_sample=True), 0)


def test_pixel_auroc_matches_sklearn_and_pair_count(rng):
    R = np.round(rng.rand(4, 5, 5), 2)
    M = (rng.rand(4, 5, 5) < 0.3).astype(float) * 255  # 0/255 masks
    M[:, 0, 0], M[:, 0, 1] = 255, 0  # each image has both kinds
    pos, neg = R[M > 0], R[M == 0]
    pooled = pixel_auroc(R, M)
    assert_allclose(pooled, auc_slow(pos, neg), rtol=1e-12)
    assert_allclose(pooled, roc_auc_score(M.ravel() > 0, R.ravel()), rtol=1e-12)
    per = pixel_auroc(R, M, per_image=True)
    assert per.shape == (4,)
    for k in range(4):
        assert per[k] == pytest.approx(auc_slow(R[k][M[k] > 0], R[k][M[k] == 0]))
    # soft masks binarised at > 0
    assert pixel_auroc(R, M / 255 * 0.3) == pooled


def test_pixel_auroc_errors(rng):
    R = rng.rand(3, 6)
    with pytest.raises(ValueError, match="no anomalous pixel"):
        pixel_auroc(R, np.zeros((3, 6)))
    with pytest.raises(ValueError, match="only anomalous pixels"):
        pixel_auroc(R, np.ones((3, 6)))
    M = np.zeros((3, 6))
    M[0, 1] = M[2, 3] = 1
    pixel_auroc(R, M)  # pooled: fine
    with pytest.raises(ValueError, match=r"images \[1\]"):
        pixel_auroc(R, M, per_image=True)
    msg = r"relevance has shape \(3, 6\).*masks has shape \(3, 5\)"
    with pytest.raises(ValueError, match=msg):
        pixel_auroc(R, M[:, :5])


# --------------------------------------------------------------------------
# pixel flipping ([T] Sec. 1.4, eq. 1.15-1.16)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps", [None, 4, 1])
def test_pf_remove_matches_column_deletion(softmin, rng, n_steps):
    X = rng.normal(size=(5, 6)) * 2
    R = softmin.explain(X)
    fr, curve = pixel_flipping_curve(softmin, X, R, n_steps=n_steps)
    fr_ref, curve_ref = pf_remove_slow(softmin, X, R, n_steps or 6)
    assert_allclose(fr, fr_ref)
    assert_allclose(curve, curve_ref, rtol=1e-10, atol=1e-12)
    # relevance=None asks the detector
    assert_allclose(pixel_flipping_curve(softmin, X, n_steps=n_steps)[1], curve)


def test_pf_remove_ties_and_float32(softmin, rng):
    X = rng.normal(size=(3, 6))
    R = np.round(rng.rand(3, 6), 1)
    R[:, 2] = R[:, 4]  # ties are broken by feature index
    _, ref = pf_remove_slow(softmin, X, R, 6)
    _, curve = pixel_flipping_curve(softmin, X.astype(np.float32), R)
    assert curve.dtype == np.float64
    _, ref32 = pf_remove_slow(softmin, X.astype(np.float32).astype(np.float64), R, 6)
    assert_allclose(curve, ref32, rtol=1e-10, atol=1e-12)
    assert_allclose(curve, ref, rtol=1e-5, atol=1e-12)


def test_pf_remove_uses_subset_hook(rng):
    det = MeanOfSoftMin(
        [
            SoftMin(rng.normal(size=(4, 5)), rng.normal(size=4), 0.5),
            SoftMin(rng.normal(size=(6, 5)), None, 1.5),
        ]
    ).fit()
    X = rng.normal(size=(4, 5))
    R = det.explain(X)
    fr, curve = pixel_flipping_curve(det, X, R)
    assert det.n_subset_calls_ >= 1
    assert_allclose(curve, pf_remove_slow(det, X, R, 5)[1], rtol=1e-10, atol=1e-12)
    assert_allclose(curve[:, -1], 0, atol=1e-12)


def test_pf_remove_rejects_non_softmin(rng):
    X = rng.normal(size=(3, 4))
    det = DistanceToMean().fit(X)
    with pytest.raises(TypeError, match=r'DistanceToMean is neither.*method="mask"'):
        pixel_flipping_curve(det, X, method="remove")


def test_pf_not_fitted(rng):
    X = rng.normal(size=(2, 3))
    for method in ("remove", "mask"):
        with pytest.raises(NotFittedError):
            pixel_flipping_curve(SoftMin(X), X, np.ones((2, 3)), method=method)


def test_pf_remove_width_mismatch(softmin, rng):
    msg = r"X has 4 features.*templates_ of shape \(7, 6\)"
    with pytest.raises(ValueError, match=msg):
        pixel_flipping_curve(softmin, rng.rand(2, 4), rng.rand(2, 4))


@pytest.mark.parametrize("baseline", [0.0, "mean"])
def test_pf_mask_matches_loop(rng, baseline):
    Xtr = rng.normal(size=(30, 5)) + 1
    X = rng.normal(size=(4, 5)) * 3
    det = DistanceToMean().fit(Xtr)
    base = Xtr.mean(0) if baseline == "mean" else baseline
    R = det.explain(X)
    _, curve = pixel_flipping_curve(det, X, R, method="mask", baseline=base, n_steps=3)
    assert_allclose(curve, pf_mask_slow(det, X, R, 3, base), rtol=1e-12)
    if baseline == "mean":  # masking with the mean = removing: ends at 0
        assert_allclose(curve[:, -1], 0, atol=1e-12)


def test_pf_mask_on_softmin(softmin, rng):
    X = rng.normal(size=(3, 6))
    R = softmin.explain(X)
    _, curve = pixel_flipping_curve(softmin, X, R, method="mask", baseline=0.5)
    assert_allclose(curve, pf_mask_slow(softmin, X, R, 6, 0.5), rtol=1e-10)


def test_pf_bad_options(softmin, rng):
    X = rng.normal(size=(2, 6))
    for kw, msg in [
        (dict(method="delete"), "method must be"),
        (dict(order="greedy"), "order must be"),
        (dict(n_steps=7), r"n_steps must be an int in \[1, n_features=6\]"),
        (dict(n_steps=0), "n_steps must be"),
        (dict(method="mask", baseline=np.zeros(5)), r"baseline must be .* \(6,\)"),
    ]:
        with pytest.raises(ValueError, match=msg):
            pixel_flipping_curve(softmin, X, **kw)
    with pytest.raises(ValueError, match=r"relevance has shape \(2, 5\)"):
        pixel_flipping_curve(softmin, X, np.ones((2, 5)))
    with pytest.raises(ValueError, match="X.*NaN"):
        pixel_flipping_curve(softmin, np.full((2, 6), np.nan))


def test_pf_relevance_none_needs_explain(softmin, rng):
    class NoExplain:
        templates_ = softmin.templates_
        log_weights_ = softmin.log_weights_
        gamma_ = softmin.gamma_

    X = rng.normal(size=(2, 6))
    with pytest.raises(TypeError, match="NoExplain.explain.*pass relevance"):
        pixel_flipping_curve(NoExplain(), X)
    # plain objects (not sklearn estimators) work when relevance is given
    R = softmin.explain(X)
    assert_allclose(
        pixel_flipping_curve(NoExplain(), X, R)[1],
        pixel_flipping_curve(softmin, X, R)[1],
    )


def test_pf_zero_outlierness_no_nan(rng):
    U = rng.normal(size=(1, 4))
    det = SoftMin(U).fit()
    X = np.vstack([U, U + 1.0])  # the first sample sits on the only template
    with no_warnings():
        _, curve = pixel_flipping_curve(det, X, np.ones((2, 4)))
        _, curve_m = pixel_flipping_curve(det, X, np.ones((2, 4)), method="mask")
    assert_array_equal(curve[0], 0)
    assert_array_equal(curve_m[0], 0)
    assert curve[1, 0] == 1.0 and not np.isnan(curve).any()


def test_pf_random_order_reproducible(softmin, rng):
    X = rng.normal(size=(4, 6))
    a = pixel_flipping_curve(softmin, X, order="random", random_state=3)[1]
    b = pixel_flipping_curve(softmin, X, order="random", random_state=3)[1]
    c = pixel_flipping_curve(softmin, X, order="random", random_state=4)[1]
    assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert_allclose(a[:, 0], 1)
    assert_allclose(a[:, -1], 0, atol=1e-12)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(1, 5),
    d=st.integers(1, 7),
    gamma=st.floats(1e-3, 10.0),
    order=st.sampled_from(["relevance", "random"]),
)
def test_pf_remove_properties(seed, m, d, gamma, order):
    """[T] after eq. 1.16: o_0 = o, o_k non-increasing, o_d = 0."""
    r = np.random.RandomState(seed)
    det = SoftMin(r.normal(size=(m, d)) * 3, r.normal(size=m) * 3, gamma).fit()
    X = r.normal(size=(3, d)) * 3 + 1
    R = r.rand(3, d)
    fr, curve = pixel_flipping_curve(det, X, R, order=order, random_state=seed)
    assert fr[0] == 0 and fr[-1] == 1 and (np.diff(fr) > 0).all()
    o = det.outlier_score(X)
    live = o > 1e-9
    assert_allclose(curve[live, 0], 1)
    assert_allclose(curve[live, -1], 0, atol=1e-9)
    assert (np.diff(curve[live], axis=1) <= 1e-9).all()
    assert not np.isnan(curve).any()
    auc = pixel_flipping_auc(curve[live], fr)
    assert ((auc >= 0) & (auc <= 1 + 1e-9)).all()


def test_pf_exact_relevance_beats_random():
    """One template: removing the largest terms first is pointwise optimal."""
    d = 10
    det = SoftMin(np.zeros((1, d)), gamma=0.5).fit()
    X = np.linspace(0.2, 3.0, d)[np.random.RandomState(1).permutation(d)][None]
    R = X**2  # orders the features exactly by their share of o
    fr, best = pixel_flipping_curve(det, X, R)
    for seed in range(5):
        _, rand = pixel_flipping_curve(det, X, order="random", random_state=seed)
        assert (best <= rand + 1e-12).all()
    auc_rel, auc_rand = pixel_flipping_aucs(det, X, R, n_repeats=5, random_state=0)
    assert auc_rel.shape == auc_rand.shape == (1,)
    assert auc_rel[0] < auc_rand[0]
    assert_allclose(auc_rel, pixel_flipping_auc(best, fr))
    # the reverse order is the worst
    auc_rev, _ = pixel_flipping_aucs(det, X, -R, random_state=0)
    assert auc_rev[0] > auc_rand[0]


def test_pf_exact_relevance_beats_random_softmin(rng):
    """Several templates: the detector's own relevance beats random orders."""
    U = rng.normal(size=(5, 8))
    det = SoftMin(U, gamma=0.5).fit()
    X = U[rng.randint(0, 5, 6)] + rng.normal(size=(6, 8)) * 0.1
    X[:, :2] += 4.0  # the anomaly sits in the first two features
    auc_rel, auc_rand = pixel_flipping_aucs(det, X, n_repeats=10, random_state=0)
    assert (auc_rel < auc_rand).all()


def test_pixel_flipping_auc_matches_trapezoid(rng):
    fr = np.sort(np.r_[0.0, rng.rand(6), 1.0])
    curves = rng.rand(3, 8)
    auc = pixel_flipping_auc(curves, fr)
    assert_allclose(auc, [trapezoid_slow(c, fr) for c in curves], rtol=1e-12)
    one = pixel_flipping_auc(curves[0], fr)
    assert isinstance(one, float) and one == pytest.approx(auc[0])
    assert pixel_flipping_auc([1.0, 0.0], [0.0, 1.0]) == 0.5
    assert pixel_flipping_auc([1.0, 0.0, 0.0], [0.0, 0.5, 1.0]) == 0.25
    with pytest.raises(ValueError, match="curve has 8 steps.*fractions has 3"):
        pixel_flipping_auc(curves, [0, 0.5, 1])
    with pytest.raises(ValueError, match="non-decreasing"):
        pixel_flipping_auc([1, 0.5, 0], [0, 1, 0.5])


def test_pixel_flipping_aucs_bad_repeats(softmin, rng):
    with pytest.raises(ValueError, match="n_repeats must be an int >= 1, got 0"):
        pixel_flipping_aucs(softmin, rng.rand(2, 6), n_repeats=0)
