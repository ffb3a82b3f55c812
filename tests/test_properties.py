"""Properties of the soft-min explanation and its detectors (hypothesis).

What holds for every soft-min model ([T] eq. 1.3, 1.13-1.14; DESIGN.md §1):

- o(x) >= 0 and R_j(x) >= 0;
- sum_j R_j = sum_i p_i min(o, g d_i^2) <= o, with equality exactly where
  o <= g d_i^2 for every template that carries weight. Since always
  o >= g min_i d_i^2, that is where x is equidistant from all weighted
  templates: a single template, or templates on a sphere around x;
- templates of weight 0 change nothing;
- the detectors do not depend on the order of the training rows, nor on
  where the data sit (translating train and queries together).

Shapes are small; the hypothesis tests are marked slow but run by default.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from skexplain_ad import KDEDetector, OCSVMDetector, backends
from skexplain_ad._softmin import normalize_log_weights, softmin_relevance

BACKENDS = backends.available()
SETTINGS = settings(max_examples=40, deadline=None)

coords = st.floats(-4, 4, allow_nan=False, allow_infinity=False, allow_subnormal=False)
gammas = st.floats(-3, 2).map(lambda t: 10.0**t)


def _noise(X, U, gamma, dtype=np.float64):
    """Round-off scale of o: 8 eps g (|x_c|^2 + max|u_c|^2), as in
    test_reference.py (error of the GEMM distance expansion)."""
    c = U.mean(axis=0)
    xs = ((X - c) ** 2).sum(axis=1)
    return 8 * np.finfo(dtype).eps * gamma * (xs + ((U - c) ** 2).sum(axis=1).max())


@st.composite
def softmin_models(draw):
    """(X, U, lw, gamma): up to 6 templates, 4 features, 4 queries; hypothesis
    favours repeated values, so duplicates and queries on templates abound."""
    m, d, n = draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    U = draw(arrays(np.float64, (m, d), elements=coords))
    X = draw(arrays(np.float64, (n, d), elements=coords))
    on = draw(st.lists(st.integers(0, m - 1), max_size=n))
    X[: len(on)] = U[on]  # some queries exactly on templates
    w = draw(arrays(np.float64, m, elements=st.floats(1e-3, 1.0)))
    return X, U, normalize_log_weights(weights=w), draw(gammas)


@pytest.mark.slow
@SETTINGS
@given(model=softmin_models(), backend=st.sampled_from(BACKENDS))
def test_relevance_nonnegative_and_bounded_by_outlierness(model, backend):
    """R >= 0, o >= 0 and sum_j R_j <= o (+ round-off), and the deficit is
    o - sum R = sum_i p_i max(0, o - g d_i^2) > 0 only through templates
    closer than the soft minimum."""
    X, U, lw, gamma = model
    o, R = softmin_relevance(X, U, lw, gamma, backend=backend)
    noise = _noise(X, U, gamma)
    assert np.all(o >= 0)
    assert np.all(R >= 0)
    assert np.all(R.sum(axis=1) <= o * (1 + 1e-12) + noise)
    # the deficit, from the distances computed here in float64
    d2 = ((X[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    h = gamma * d2 - lw
    p = np.exp(o[:, None] - h)
    deficit = (p * np.maximum(0.0, o[:, None] - gamma * d2)).sum(1)
    assert_allclose(o - R.sum(1), deficit, rtol=1e-6, atol=1e-9 * o.max() + 4 * noise.max())


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    model=softmin_models(),
    scale=st.sampled_from([1e-3, 1.0, 1e3, 1e5]),
    gamma=st.floats(-8, 4).map(lambda t: 10.0**t),
)
def test_outlierness_between_min_distance_and_min_h(model, scale, gamma, backend, dtype):
    """The soft minimum lies between its bounds, over 12 decades of gamma and
    data up to 4e5 away: g min_i d_i^2 <= o <= min_i h_i (weights sum to 1),
    up to round-off; o and R stay finite. (Caught o = 0 for far float32
    queries in the numba backend.)"""
    X, U, lw, _ = model
    X, U = (X * scale).astype(dtype), (U * scale).astype(dtype)
    o, R = softmin_relevance(X, U, lw, gamma, backend=backend)
    assert np.all(np.isfinite(o)) and np.all(np.isfinite(R))
    Xf, Uf = X.astype(np.float64), U.astype(np.float64)
    d2 = ((Xf[:, None, :] - Uf[None, :, :]) ** 2).sum(-1)
    eps = np.finfo(dtype).eps
    slack = 4 * eps * np.abs(o) + _noise(Xf, Uf, gamma, dtype) + 1e-12
    assert np.all(gamma * d2.min(1) <= o + slack)
    assert np.all(o <= (gamma * d2 - lw).min(1) + slack)
    assert np.all(R.sum(1, dtype=np.float64) <= o + slack)


@pytest.mark.slow
@SETTINGS
@given(
    x=arrays(np.float64, st.integers(1, 5), elements=coords),
    data=st.data(),
    radius=st.floats(0.1, 3.0),
    gamma=gammas,
    backend=st.sampled_from(BACKENDS),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_conservation_when_equidistant(x, data, radius, gamma, backend, dtype):
    """sum R = o where x is equidistant from every weighted template:
    templates on a sphere of radius r around x (o = g r^2), any weights;
    templates of weight 0 may sit anywhere. One template is the case k = 1."""
    d = x.size
    k = data.draw(st.integers(1, 6), label="k")
    dirs = data.draw(arrays(np.float64, (k, d), elements=st.floats(-1, 1)), label="dirs")
    dirs[np.linalg.norm(dirs, axis=1) < 1e-3] = 1.0
    U = x + radius * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    w = data.draw(arrays(np.float64, k, elements=st.floats(1e-3, 1.0)), label="w")
    n0 = data.draw(st.integers(0, 3), label="zero-weight templates")
    U0 = data.draw(arrays(np.float64, (n0, d), elements=coords), label="U0")
    U, w = np.vstack([U, U0]), np.concatenate([w, np.zeros(n0)])
    X = x[None, :].astype(dtype)
    o, R = softmin_relevance(X, U.astype(dtype), normalize_log_weights(weights=w), gamma,
                             backend=backend)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    noise = _noise(X.astype(np.float64), U, gamma, dtype)
    assert_allclose(o, gamma * radius**2, rtol=rtol, atol=noise[0])
    assert_allclose(R.sum(1, dtype=np.float64), o, rtol=rtol, atol=noise[0])


@pytest.mark.slow
@SETTINGS
@given(model=softmin_models(), data=st.data(), backend=st.sampled_from(BACKENDS))
def test_zero_weight_templates_change_nothing(model, data, backend):
    """Adding templates of weight 0 (log-weight -inf) leaves o and R as they
    were (to round-off: the centring point moves)."""
    X, U, lw, gamma = model
    U0 = data.draw(arrays(np.float64, (data.draw(st.integers(1, 3)), U.shape[1]),
                          elements=coords))
    o, R = softmin_relevance(X, U, lw, gamma, backend=backend)
    o0, R0 = softmin_relevance(X, np.vstack([U, U0]),
                               np.concatenate([lw, np.full(len(U0), -np.inf)]),
                               gamma, backend=backend)
    noise = _noise(X, np.vstack([U, U0]), gamma)
    assert_allclose(o0, o, rtol=1e-9, atol=4 * noise.max())
    assert_allclose(R0, R, rtol=1e-7, atol=1e-9 * o.max() + 4 * noise.max() * (1 + o.max()))


@st.composite
def train_query(draw, max_rows=12):
    """A training set (>= 2 rows) and queries, some of them training rows."""
    d = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (draw(st.integers(2, max_rows)), d), elements=coords))
    Q = draw(arrays(np.float64, (draw(st.integers(1, 5)), d), elements=coords))
    return X, np.vstack([Q, X[:2]])


@pytest.mark.slow
@SETTINGS
@given(tq=train_query(), perm_seed=st.integers(0, 2**32 - 1), gamma=gammas,
       backend=st.sampled_from(BACKENDS))
def test_kde_invariant_to_training_order(tq, perm_seed, gamma, backend):
    """Permuting the training rows changes no score, relevance or offset_
    (only summation order: round-off)."""
    X, Q = tq
    perm = np.random.RandomState(perm_seed).permutation(len(X))
    a = KDEDetector(gamma=gamma, backend=backend).fit(X)
    b = KDEDetector(gamma=gamma, backend=backend).fit(X[perm])
    oa = a.outlier_score(Q)
    noise = _noise(Q, X, gamma).max()
    assert_allclose(b.outlier_score(Q), oa, rtol=1e-10, atol=4 * noise)
    assert_allclose(b.explain(Q), a.explain(Q), rtol=1e-8,
                    atol=1e-10 * oa.max() + 4 * noise * (1 + oa.max()))
    assert b.offset_ == pytest.approx(a.offset_, rel=1e-10, abs=4 * noise)


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), perm_seed=st.integers(0, 2**32 - 1),
       gamma=st.floats(-2, 0.5).map(lambda t: 10.0**t), nu=st.floats(0.1, 0.8))
def test_ocsvm_invariant_to_training_order(seed, perm_seed, gamma, nu):
    """Permuting the training rows gives the OC-SVM the same solution (its
    decision function is unique; the solver path is not, so a tight solver
    tol): same outlierness to 1e-6 and the same ranking of the queries."""
    rng = np.random.RandomState(seed)
    X, Q = rng.normal(size=(40, 3)), rng.normal(size=(15, 3)) * 1.5
    perm = np.random.RandomState(perm_seed).permutation(len(X))
    a = OCSVMDetector(gamma=gamma, nu=nu, tol=1e-10).fit(X)
    b = OCSVMDetector(gamma=gamma, nu=nu, tol=1e-10).fit(X[perm])
    oa, ob = a.outlier_score(Q), b.outlier_score(Q)
    assert_allclose(ob, oa, rtol=1e-6)
    assert_array_equal(np.argsort(ob), np.argsort(oa))


@pytest.mark.slow
@SETTINGS
@given(tq=train_query(), shift=arrays(np.float64, 4, elements=st.floats(-50, 50)),
       gamma=gammas, backend=st.sampled_from(BACKENDS))
def test_kde_invariant_to_translation(tq, shift, gamma, backend):
    """Translating train and queries by the same vector t changes no score and
    no relevance (distances do not move; the only error is rounding x + t,
    eps |t| per coordinate, which enters d^2 times |x - u|).

    rule="oc-dtd": its weights q_i <= p_i g are bounded. The conservative
    rule's q_i = p_i o / d_i^2 is ill-conditioned for a query near (not on)
    a template in the mathematics itself (the share follows the direction
    x - u_i, which rounding x + t turns by eps |t| / |x - u_i|)."""
    X, Q = tq
    t = shift[: X.shape[1]]
    a = KDEDetector(gamma=gamma, backend=backend, rule="oc-dtd").fit(X)
    b = KDEDetector(gamma=gamma, backend=backend, rule="oc-dtd").fit(X + t)
    oa, Ra = a.outlier_score(Q), a.explain(Q)
    ob, Rb = b.outlier_score(Q + t), b.explain(Q + t)
    span = np.abs(np.vstack([X, Q])).max() + np.abs(t).max() + 1.0
    atol = 32 * np.finfo(float).eps * gamma * X.shape[1] * span**2
    assert_allclose(ob, oa, rtol=1e-7, atol=atol)
    assert_allclose(Rb, Ra, rtol=1e-7, atol=1e-9 * oa.max() + atol * (1 + oa.max()))


def test_ocsvm_invariant_to_translation():
    """The OC-SVM (libsvm) and its explanation do not move with the data."""
    rng = np.random.RandomState(0)
    X, Q = rng.normal(size=(60, 3)), rng.normal(size=(20, 3)) * 1.5
    for t in (np.array([3.0, -7.0, 100.0]), np.full(3, -20.0)):
        a = OCSVMDetector(gamma=0.3, nu=0.3).fit(X)
        b = OCSVMDetector(gamma=0.3, nu=0.3).fit(X + t)
        oa = a.outlier_score(Q)
        assert_allclose(b.outlier_score(Q + t), oa, rtol=1e-7)
        assert_allclose(b.explain(Q + t), a.explain(Q), rtol=1e-7, atol=1e-9 * oa.max())
        assert_array_equal(b.predict(Q + t), a.predict(Q))
