"""Tests of skexplain_ad.metrics against slow references written here.

Each metric is compared with a plain-loop float64 version (and with
sklearn's ``roc_auc_score`` where it applies).
"""

import contextlib
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score

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
)

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


@pytest.fixture
def rng():
    return np.random.RandomState(0)


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
