"""The soft-min engine and its detectors against slow references.

Each test compares the package with an independent computation: a
brute-force extended-precision loop over templates (:func:`softmin_slow`,
written from [T] eq. 1.3, 1.9, 1.13-1.14, not from the package's code), or
scikit-learn's own ``KernelDensity`` / ``OneClassSVM``, or a brute-force
evaluation of the gamma heuristics ([T] eq. 3.1, held-out likelihood).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM
from sklearn.utils import check_random_state

from skexplain_ad import KDEDetector, OCSVMDetector, backends
from skexplain_ad._softmin import _row_bytes, softmin_outlierness, softmin_relevance
from skexplain_ad.base import chunk_n_rows
from _refs import softmin_noise, softmin_slow
from skexplain_ad.model_selection import (
    kde_log_likelihood,
    knn_mass_gamma,
    likelihood_gamma,
    scale_gamma,
)


# --------------------------------------------------------------- reference
# softmin_slow and softmin_noise live in tests/_refs.py (shared).


# Tolerances. The backends get d_i^2 = |x_c|^2 + |u_c|^2 - 2 x_c.u_c from a
# GEMM on data centred at the template mean (DESIGN.md §5), in the query's
# dtype. That expansion has an *absolute* error of a few eps (|x_c|^2 + |u_c|^2),
# so h_i, hence o, is off by up to ~ g eps (|x_c|^2 + max|u_c|^2) =: noise. It
# vanishes against rtol * o unless o is tiny next to g |x_c|^2 (a query on a
# template of large weight at large gamma; see test_on_heavy_template_...).
# For R, tiny entries are differences of large products in the GEMM
# rearrangement sum_i q_i (x_j - u_ij)^2 = Q x_j^2 - 2 x_j A_j + B_j, with
# Q = sum q_i <= g, so entries get an absolute error ~ eps g |u_c|^2 too, and
# the relative error of the q_i (~ noise) times R; R_j <= o bounds the rest:
# we allow REL_R * o(x) per row, as an entry is only meaningful relative to
# the total o(x) it distributes. With noise set to 0 every comparison here
# still passes except float32 at gamma >= 100 and the heavy-template test
# (measured: those use < 10 % of the noise allowance), so the noise term
# does not hide errors elsewhere.
RTOL = {np.float64: 1e-7, np.float32: 1e-4}
REL_R = {np.float64: 1e-9, np.float32: 1e-4}


_noise = softmin_noise


def assert_within(actual, desired, *, rtol, atol):
    """``|actual - desired| <= atol + rtol |desired|``, ``atol`` broadcast per entry."""
    actual = np.asarray(actual, dtype=np.float64)
    excess = np.abs(actual - desired) - rtol * np.abs(desired) - atol
    assert actual.shape == desired.shape
    assert np.all(np.isfinite(actual))
    if excess.size and excess.max() > 0:
        k = np.unravel_index(np.argmax(excess), excess.shape)
        raise AssertionError(
            f"{(excess > 0).sum()} of {excess.size} entries off; worst at {k}: "
            f"actual={actual[k]!r} desired={desired[k]!r} "
            f"allowed={np.broadcast_to(atol, excess.shape)[k] + rtol * abs(desired[k])!r}"
        )


def assert_matches_slow(o, R, X, U, lw, gamma, dtype, rule="oc-dtd", exclude=None):
    """``(o, R)`` of the package match :func:`softmin_slow` on the same inputs."""
    o_ref, R_ref = softmin_slow(X, U, lw, gamma, rule=rule, exclude=exclude)
    noise = _noise(X, U, gamma, dtype, lw)
    assert_within(o, o_ref, rtol=RTOL[dtype], atol=noise)
    if R is not None:
        row_atol = REL_R[dtype] * np.abs(o_ref) + noise * (1 + np.abs(o_ref))
        assert_within(R, R_ref, rtol=RTOL[dtype], atol=row_atol[:, None])


# ---------------------------------------------------- raw soft-min functions
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmin_matches_slow_reference(softmin_case, backend, dtype):
    """o and R equal the brute-force loop for every corner case and backend.

    Cases (conftest): random weights, queries on / next to a template,
    duplicate templates, a single template, a constant column, zero-weight
    templates, a large gamma, zero query rows.
    """
    X, U, lw, gamma = softmin_case
    X, U = X.astype(dtype), U.astype(dtype)
    o = softmin_outlierness(X, U, lw, gamma, backend=backend)
    o2, R = softmin_relevance(X, U, lw, gamma, backend=backend)
    assert o.dtype == o2.dtype == R.dtype == dtype
    assert o.shape == (X.shape[0],) and R.shape == X.shape
    assert_array_equal(o, o2)
    assert_matches_slow(o, R, X, U, lw, gamma, dtype)


def test_softmin_closed_forms(backend):
    """Cases with a closed form, independent of the slow reference.

    One template with weight 1: o = g d^2, R_j = g (x_j - u_j)^2 (the thesis'
    conservation), 0 for x on it. A query on a constant column keeps 0 there.
    """
    rng = np.random.RandomState(1)
    u = rng.rand(1, 4)
    X = np.vstack([u, rng.rand(3, 4)])
    o, R = softmin_relevance(X, u, np.zeros(1), 2.5, backend=backend)
    assert_allclose(o, 2.5 * ((X - u) ** 2).sum(1), rtol=1e-12, atol=1e-15)
    assert_allclose(R, 2.5 * (X - u) ** 2, rtol=1e-12, atol=1e-15)
    assert_array_equal(R[0], 0.0)

    U = rng.rand(20, 4)
    U[:, 1] = 0.3
    X = rng.rand(5, 4)
    X[:, 1] = 0.3
    _, R = softmin_relevance(X, U, np.full(20, -np.log(20)), 4.0, backend=backend)
    assert_allclose(R[:, 1], 0.0, atol=1e-15)


def test_backends_agree():
    """All available backends give the same numbers (to round-off)."""
    from skexplain_ad import backends

    X, U, lw, gamma = _case_random()
    res = [softmin_relevance(X, U, lw, gamma, backend=b) for b in backends.available()]
    for o, R in res[1:]:
        assert_allclose(o, res[0][0], rtol=1e-12)
        assert_allclose(R, res[0][1], rtol=1e-10, atol=1e-14 * res[0][0].max())


def _case_random(n=40, m=50, d=6, seed=0):
    rng = np.random.RandomState(seed)
    U = rng.rand(m, d)
    X = np.vstack([rng.rand(n - 2, d), U[:2]])
    w = rng.rand(m)
    return X, U, np.log(w / w.sum()), 5.0


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_chunked_equals_unchunked(backend, n_jobs):
    """Rows in chunks of 1 or 3 (tiny working_memory), serial or in 2 threads,
    give the unchunked results: each row is computed on its own.

    Not bit for bit: BLAS takes other code paths for a 1- or 3-row GEMM than
    for 40 rows (gemv, edge kernels), so x.u may differ in the last bit; we
    allow a few ulps of o plus that GEMM round-off (``_noise``).
    """
    X, U, lw, gamma = _case_random()
    for dtype in (np.float64, np.float32):
        Xd, Ud = X.astype(dtype), U.astype(dtype)
        eps = np.finfo(dtype).eps
        noise = _noise(Xd, Ud, gamma, dtype)
        o, R = softmin_relevance(Xd, Ud, lw, gamma, backend=backend)
        o1 = softmin_outlierness(Xd, Ud, lw, gamma, backend=backend)
        for rows in (1, 3):
            # MiB that fit `rows` rows of the relevance path
            row_bytes = _row_bytes(dtype, len(U), U.shape[1], True)
            wm = rows * row_bytes / 2**20
            with config_context(working_memory=wm):
                assert chunk_n_rows(row_bytes, len(X)) == rows
                oc, Rc = softmin_relevance(Xd, Ud, lw, gamma, backend=backend, n_jobs=n_jobs)
                o1c = softmin_outlierness(Xd, Ud, lw, gamma, backend=backend, n_jobs=n_jobs)
            assert oc.dtype == Rc.dtype == o1c.dtype == dtype
            assert_within(oc, o, rtol=4 * eps, atol=noise)
            assert_within(o1c, o1, rtol=4 * eps, atol=noise)
            assert_within(Rc, R, rtol=4 * eps, atol=(4 * eps * o + noise * (1 + o))[:, None])


def test_detectors_chunked_and_threaded(backend):
    """A detector with chunks of 2 rows and n_jobs=2 equals the unchunked
    one (to GEMM round-off, see test_chunked_equals_unchunked)."""
    rng = np.random.RandomState(3)
    X, Q = rng.rand(60, 5), rng.rand(25, 5)
    for Det in (KDEDetector, OCSVMDetector):
        ref = Det(gamma=4.0, backend=backend).fit(X)
        par = Det(gamma=4.0, backend=backend, n_jobs=2).fit(X)
        o_ref, R_ref = ref.outlier_score(Q), ref.explain(Q)
        noise = _noise(Q, ref.templates_, 4.0, np.float64)
        with config_context(working_memory=2 * _row_bytes(np.float64, 60, 5, True) / 2**20):
            assert_within(par.outlier_score(Q), o_ref, rtol=1e-15, atol=noise)
            assert_within(par.explain(Q), R_ref, rtol=1e-15, atol=(noise * (1 + o_ref))[:, None])
        assert par.offset_ == ref.offset_


# ------------------------------------------------------------------ detectors
def _detector_data(dtype):
    rng = np.random.RandomState(7)
    X = rng.normal(size=(80, 5)).astype(dtype)
    Q = np.vstack([rng.normal(size=(10, 5)) * 1.5, X[[0, 5]]]).astype(dtype)
    return X, Q


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "detector",
    [KDEDetector(gamma=0.4), KDEDetector(), OCSVMDetector(gamma=0.3, nu=0.3), OCSVMDetector()],
    ids=["kde", "kde-scale", "ocsvm", "ocsvm-scale"],
)
def test_detector_matches_slow_reference(detector, backend, dtype):
    """score_samples, outlier_score, explain and decision_function of a fitted
    detector equal the slow reference on its ``templates_``, ``log_weights_``,
    ``gamma_`` (queries include training rows, i.e. x on a template)."""
    X, Q = _detector_data(dtype)
    det = detector.set_params(backend=backend).fit(X)
    o = det.outlier_score(Q)
    R = det.explain(Q)
    assert_matches_slow(o, R, Q, det.templates_, det.log_weights_, det.gamma_, dtype,
                        rule=det.rule)
    assert_array_equal(det.score_samples(Q), -o)
    assert_allclose(det.decision_function(Q), -o - det.offset_, rtol=RTOL[dtype])
    # the weights are those of the table in DESIGN.md §1
    if isinstance(det, KDEDetector):
        assert_array_equal(det.templates_, X)
        assert_allclose(det.log_weights_, -np.log(len(X)), rtol=1e-15)
    else:
        alpha = det.ocsvm_.dual_coef_.ravel()
        assert_allclose(det.templates_, det.ocsvm_.support_vectors_, rtol=1e-7)
        assert_allclose(det.log_weights_, np.log(alpha / alpha.sum()), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("Det", [KDEDetector, OCSVMDetector])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_output_dtype(Det, dtype):
    """float32 in -> float32 out; float64 otherwise (integer input included)."""
    rng = np.random.RandomState(0)
    X = (rng.rand(40, 3) * 10).astype(dtype)
    det = Det(gamma=0.1).fit(X)
    want = np.float32 if dtype == np.float32 else np.float64
    for method in ("score_samples", "outlier_score", "explain", "decision_function"):
        assert getattr(det, method)(X[:5]).dtype == want, method
    o, R = softmin_relevance(X, X, np.full(40, -np.log(40)), 0.1)
    assert o.dtype == R.dtype == want


def test_ocsvm_outlierness_is_log_of_sklearn_score():
    """o(x) = -log(OneClassSVM.score_samples(x) / sum(alpha)) ([T] eq. 1.3).

    sklearn gets score_samples as decision_function + rho, so it carries an
    absolute error ~ eps rho: where the score is tiny (far queries, large
    gamma) that, not our o, limits the agreement. We allow 1e-10 plus that
    propagated error, and check against a long-double sum besides.
    """
    rng = np.random.RandomState(1)
    X, Q = rng.normal(size=(100, 4)), rng.normal(size=(30, 4)) * 1.5
    for gamma, nu in [(0.05, 0.5), (0.5, 0.2), (2.0, 0.1)]:
        det = OCSVMDetector(gamma=gamma, nu=nu).fit(X)
        svm = det.ocsvm_
        score = svm.score_samples(Q)
        expected = -np.log(score / np.sum(svm.dual_coef_))
        sklearn_err = 4 * np.finfo(float).eps * np.abs(svm.offset_) / score
        o = det.outlier_score(Q)
        assert_within(o, expected, rtol=1e-10, atol=1e-10 + sklearn_err)
        assert_allclose(o, softmin_slow(Q, det.templates_, det.log_weights_, gamma)[0], rtol=1e-12)


def test_ocsvm_predict_equals_sklearn():
    """contamination="auto" keeps the SVM's threshold: predict is the SVM's,
    on training points (support vectors on the margin included) and new ones."""
    rng = np.random.RandomState(2)
    X = rng.normal(size=(150, 3))
    Q = np.vstack([X, rng.normal(size=(200, 3)) * 2])
    for gamma, nu in [(0.1, 0.5), (1.0, 0.2), (0.3, 0.05)]:
        det = OCSVMDetector(gamma=gamma, nu=nu, contamination="auto").fit(X)
        assert_array_equal(det.predict(Q), det.ocsvm_.predict(Q))
        assert_array_equal(det.predict(Q), OneClassSVM(gamma=gamma, nu=nu).fit(X).predict(Q))


def test_kde_outlierness_is_kerneldensity_up_to_a_constant():
    """-o(x) = KernelDensity(bandwidth=h).score_samples(x) - d/2 log(g/pi) for
    g = 1 / (2 h^2): the detector's density is sklearn's, unnormalised.

    Queries lie in the data cloud: far out (log-density < -40 at h = 0.2)
    sklearn's tree-based KernelDensity is off by several nats, while o still
    equals a direct log-sum-exp (checked in test_detector_matches_slow_reference).
    """
    rng = np.random.RandomState(4)
    X, Q = rng.normal(size=(120, 3)), rng.normal(size=(40, 3))
    for h in (0.2, 0.7, 3.0):
        g = 1.0 / (2 * h**2)
        det = KDEDetector(gamma=g).fit(X)
        log_dens = KernelDensity(bandwidth=h).fit(X).score_samples(Q)
        const = -0.5 * X.shape[1] * np.log(g / np.pi)
        assert_allclose(-det.outlier_score(Q) - log_dens, const, rtol=1e-10)


def test_kde_score_is_kerneldensity_mean_log_likelihood():
    """KDEDetector.score(X) = KernelDensity.score(X) / len(X)."""
    rng = np.random.RandomState(5)
    X, Q = rng.normal(size=(120, 3)), rng.normal(size=(40, 3))
    for h in (0.3, 1.0):
        det = KDEDetector(gamma=1.0 / (2 * h**2)).fit(X)
        kde = KernelDensity(bandwidth=h).fit(X)
        assert det.score(Q) == pytest.approx(kde.score(Q) / len(Q), rel=1e-10)


# ------------------------------------------------- extreme gammas, MNIST-like
def _mnist_like(standardise):
    rng = np.random.RandomState(8)
    A = rng.rand(200, 64) ** 3  # skewed in [0, 1] like pixel intensities
    A[:, :4] = 0.0  # constant (border) pixels
    Q = np.vstack([rng.rand(10, 64) ** 3, A[:3], A[3:5] + 0.5])
    if standardise:
        mu, sd = A.mean(0), A.std(0)
        sd[sd == 0] = 1.0
        A, Q = (A - mu) / sd, (Q - mu) / sd
    return A, Q


@pytest.mark.parametrize("gamma", [1e-8, 1e-5, 1e-2, 1.0, 1e2, 1e4])
@pytest.mark.parametrize("standardise", [False, True], ids=["unit", "std"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_gamma_finite_and_correct(gamma, standardise, dtype, backend):
    """No NaN, no overflow, o >= 0, R >= 0, sum R <= o, for gamma over 12
    decades on 200 x 64 data in [0, 1] and standardised; the numbers still
    match the slow reference (queries include training rows)."""
    A, Q = _mnist_like(standardise)
    A, Q = A.astype(dtype), Q.astype(dtype)
    lw = np.full(len(A), -np.log(len(A)))
    with np.errstate(over="raise", invalid="raise"):  # would raise here
        o, R = softmin_relevance(Q, A, lw, gamma, backend=backend)
    assert o.dtype == R.dtype == dtype
    assert np.all(np.isfinite(o)) and np.all(np.isfinite(R))
    assert np.all(o >= 0) and np.all(R >= 0)
    noise = _noise(Q, A, gamma, dtype)
    assert np.all(R.sum(1, dtype=np.float64) <= o * (1 + 64 * np.finfo(dtype).eps) + noise)
    assert_matches_slow(o, R, Q, A, lw, gamma, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_far_query_float32_regression(backend, dtype):
    """Regression: with float32 queries and g d^2 past ~1e10 (a query 1e5
    sigma out), the numba pass recomputed h from d^2 rounded to float32, so
    every exp(hmin - h) underflowed: o came out 0 (the most abnormal query
    scored as the most normal) with NaN relevance, or ZeroDivisionError."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 10)).astype(dtype)
    Q = np.vstack([np.full((1, 10), 3e5), np.full((1, 10), -1e6), rng.normal(size=(2, 10))])
    Q = Q.astype(dtype)
    det = KDEDetector(gamma="scale", backend=backend).fit(X)
    o, R = det.outlier_score(Q), det.explain(Q)
    assert np.all(np.isfinite(R)) and o[0] > 1e10 and o[1] > 1e11
    assert_matches_slow(o, R, Q, det.templates_, det.log_weights_, det.gamma_, dtype,
                        rule=det.rule)
    # the same through a template on the query's side: a sum of > 1 terms
    U = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    far = np.array([[1e6, 1e6]], dtype=dtype)
    lw = np.full(3, -np.log(3))
    o, R = softmin_relevance(far, U, lw, 1.0, backend=backend)
    assert_matches_slow(o, R, far, U, lw, 1.0, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conservation_holds_for_large_outlierness(backend, dtype):
    """Regression: the numpy backend took p_i = exp(o - h_i) unnormalised;
    o - h_i cancels two numbers of size o, so sum_i p_i was 1 only to
    ~ eps o and sum R exceeded o by that much (0.3 % at o = 1e14). Equidistant
    templates conserve exactly: sum R = o = g d^2, with p_i = w_i."""
    U = np.zeros((3, 2))
    U[2] = [2e7, 0.0]  # x halfway: all three at the same distance
    lw = np.log([0.5, 0.3, 0.2])
    for x1 in (1e3, 1e5, 1e7):
        X = np.array([[x1, 0.0]], dtype=dtype)
        U[2, 0] = 2 * x1
        o, R = softmin_relevance(X, U.astype(dtype), lw, 1.0, backend=backend)
        rtol = 8 * np.finfo(dtype).eps
        assert_allclose(o, x1**2, rtol=rtol)
        assert_allclose(R.sum(1, dtype=np.float64), o, rtol=rtol)
        assert_allclose(R[0, 1], 0.0, atol=rtol * o[0])


@pytest.mark.parametrize("gamma", [1e-8, 1e4])
@pytest.mark.parametrize("Det", [KDEDetector, OCSVMDetector])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_detectors_extreme_gamma_finite(Det, gamma, dtype):
    """Fitting and scoring at extreme gammas gives finite, non-negative output."""
    A, Q = _mnist_like(True)
    det = Det(gamma=gamma).fit(A.astype(dtype))
    Q = Q.astype(dtype)
    o, R, dec = det.outlier_score(Q), det.explain(Q), det.decision_function(Q)
    assert np.all(np.isfinite(o)) and np.all(np.isfinite(R)) and np.all(np.isfinite(dec))
    assert np.all(o >= 0) and np.all(R >= 0)


def test_on_heavy_template_error_is_absolute(backend):
    """Documented limit: a query exactly on a template that holds almost all
    the weight has o ~ 0, but the GEMM distances carry an absolute error
    ~ g eps |x_c|^2. Relative accuracy of o and R is then lost (in float32 at
    large gamma, badly), yet the error stays within the round-off bound of
    :func:`_noise`, and in float64 it is still small."""
    rng = np.random.RandomState(0)
    U = rng.rand(40, 8)
    w = np.full(40, 1e-6)
    w[0] = 1.0
    lw = np.log(w / w.sum())  # o(u_0) = -log(a_0) ~ 4e-5
    for dtype in (np.float64, np.float32):
        for gamma in (1.0, 100.0, 1e4):
            X = U[:1].astype(dtype)
            o, R = softmin_relevance(X, U.astype(dtype), lw, gamma, backend=backend)
            o_ref, R_ref = softmin_slow(X, U.astype(dtype), lw, gamma)
            noise = _noise(X, U, gamma, dtype)
            assert_within(o, o_ref, rtol=RTOL[dtype], atol=noise)
            assert_within(R, R_ref, rtol=RTOL[dtype], atol=(noise * (1 + o_ref))[:, None])
            if dtype == np.float64:
                assert_allclose(o, o_ref, rtol=1e-7)


# ------------------------------------------------------------ gamma heuristics
def _knn_mass_ratio(X, gamma, k):
    """[T] eq. 3.1 by brute force: sum_i sum_{s<=k} k(x_i, x_is) / sum_{i!=j} k(x_i, x_j)."""
    num = den = 0.0
    for i in range(len(X)):
        kern = np.array([np.exp(-gamma * np.sum((X[i] - X[j]) ** 2))
                         for j in range(len(X)) if j != i])
        num += np.sort(kern)[::-1][:k].sum()
        den += kern.sum()
    return num / den


@pytest.mark.parametrize(
    "n_neighbors, mass, k",
    [(0.1, 0.9, 6), (0.25, 0.9, 15), (4, 0.5, 4), (0.1, 0.99, 6)],
)
def test_knn_mass_gamma_solves_eq_3_1(n_neighbors, mass, k):
    """The returned gamma makes the brute-force eq. 3.1 ratio equal ``mass``
    (to the 1e-6 bisection tolerance); n_neighbors as fraction or count."""
    X = np.random.RandomState(9).rand(60, 3)
    gamma = knn_mass_gamma(X, n_neighbors=n_neighbors, mass=mass)
    assert _knn_mass_ratio(X, gamma, k) == pytest.approx(mass, abs=1e-6)


def test_knn_mass_gamma_defaults_and_detector():
    """Defaults are the thesis' k = 0.1 n and 0.9; gamma="knn_mass" uses them."""
    X = np.random.RandomState(10).normal(size=(50, 4))
    gamma = knn_mass_gamma(X)
    assert _knn_mass_ratio(X, gamma, 5) == pytest.approx(0.9, abs=1e-6)
    assert KDEDetector(gamma="knn_mass").fit(X).gamma_ == gamma
    assert OCSVMDetector(gamma="knn_mass").fit(X).gamma_ == gamma


def _held_out_ll(X, gamma, random_state, validation_fraction=0.2):
    """Held-out mean log-likelihood by sklearn's KernelDensity on the split
    that likelihood_gamma draws (a permutation from ``random_state``)."""
    n = len(X)
    perm = check_random_state(random_state).permutation(n)
    n_val = int(round(validation_fraction * n))
    val, train = X[perm[:n_val]], X[perm[n_val:]]
    kde = KernelDensity(bandwidth=1 / np.sqrt(2 * gamma)).fit(train)
    return kde.score(val) / n_val, train, val


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_likelihood_gamma_is_a_maximum(seed):
    """likelihood_gamma maximises the held-out KDE log-likelihood: it beats
    gamma (1 +- 1e-2) locally and every point of a wide log grid."""
    X = np.random.RandomState(seed).normal(size=(150, 2)) * [1.0, 3.0]
    gamma = likelihood_gamma(X, random_state=seed)
    best, train, val = _held_out_ll(X, gamma, seed)
    for f in (1 - 1e-2, 1 + 1e-2):
        assert _held_out_ll(X, gamma * f, seed)[0] < best
    D2 = ((val[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    grid = [kde_log_likelihood(D2, g, 2) for g in gamma * np.geomspace(1e-3, 1e3, 61)]
    assert max(grid) <= best + 1e-12
    assert kde_log_likelihood(D2, gamma, 2) == pytest.approx(best, rel=1e-10)


def test_likelihood_gamma_agrees_with_gridsearch_kerneldensity():
    """KDEDetector(gamma="likelihood") picks the bandwidth GridSearchCV on
    KernelDensity picks: to grid resolution on the same split; within a
    factor 1.6 of 5-fold CV (one 20 % split is a noisier estimate)."""
    X = np.random.RandomState(11).normal(size=(400, 2))
    for seed in (0, 1):
        det = KDEDetector(gamma="likelihood", random_state=seed).fit(X)
        assert det.gamma_ == likelihood_gamma(X, random_state=seed)
        h = 1 / np.sqrt(2 * det.gamma_)
        perm = check_random_state(seed).permutation(len(X))
        split = [(perm[80:], perm[:80])]
        grid = {"bandwidth": h * np.geomspace(0.8, 1.25, 21)}
        gs = GridSearchCV(KernelDensity(), grid, cv=split).fit(X)
        assert gs.best_params_["bandwidth"] == pytest.approx(h, rel=0.012)
        gs5 = GridSearchCV(KernelDensity(), {"bandwidth": np.geomspace(0.05, 2, 40)}).fit(X)
        assert 1 / 1.6 < gs5.best_params_["bandwidth"] / h < 1.6


def test_scale_gamma_is_sklearns_rule():
    """scale_gamma and gamma="scale" equal OneClassSVM's 1 / (d X.var())."""
    rng = np.random.RandomState(12)
    for X in (rng.normal(size=(50, 4)) * 3 + 1, rng.rand(30, 7), np.ones((5, 2))):
        expected = OneClassSVM(gamma="scale").fit(X)._gamma
        assert scale_gamma(X) == pytest.approx(expected, rel=1e-12)
        assert KDEDetector().fit(X).gamma_ == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------- the vectorised exp
def test_exp_nonpos_matches_numpy_exp():
    """``exp_nonpos`` (the numba kernels' SIMD exp) against ``np.exp``.

    Relative error below 3e-14 on [-700, 0] (its docstring's promise; the
    log-sum-exp needs far less), exact 1 at 0, and 0 below -700 and at -inf.
    """
    from numba import njit

    from skexplain_ad.backends._fastexp import FASTMATH, exp_nonpos

    @njit(fastmath=FASTMATH)
    def vexp(t, out):
        for i in range(t.shape[0]):
            out[i] = exp_nonpos(t[i])

    rng = np.random.RandomState(0)
    t = np.concatenate([
        -rng.uniform(0, 700, 200_000), -np.logspace(-20, np.log10(700), 5_000),
        np.linspace(-700, 0, 200_001), -0.5 * np.log(2) * np.arange(1, 2020),
    ])
    t = t[t >= -700]
    out = np.empty_like(t)
    vexp(t, out)
    assert_allclose(out, np.exp(t), rtol=3e-14, atol=0)
    edge = np.array([0.0, -0.0, -5e-324, -700.5, -1e4, -np.inf])
    out = np.empty_like(edge)
    vexp(edge, out)
    assert_array_equal(out, [1.0, 1.0, 1.0, 0.0, 0.0, 0.0])


# ------------------------------------------------- rules and left-out templates
@pytest.mark.parametrize("rule", ["conservative", "oc-dtd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rules_match_slow_reference(softmin_case, backend, dtype, rule):
    """Both propagation rules equal the brute-force loop on every corner case
    (queries on and next to templates included); "conservative" sums to o."""
    X, U, lw, gamma = softmin_case
    X, U = X.astype(dtype), U.astype(dtype)
    o, R = softmin_relevance(X, U, lw, gamma, rule=rule, backend=backend)
    assert_matches_slow(o, R, X, U, lw, gamma, dtype, rule=rule)
    if rule == "conservative":
        noise = softmin_noise(X, U, gamma, dtype, lw)
        o64 = o.astype(np.float64)
        assert_within(R.sum(axis=1), o64, rtol=RTOL[dtype],
                      atol=REL_R[dtype] * o64 + noise * (1 + o64))


def test_conservative_on_template_spreads_evenly(backend):
    """A query on the only template of weight 1/2: that template's share
    p_i o goes evenly to the features; the other's by its differences."""
    U = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    lw = np.log([0.5, 0.5])
    g = 0.5
    o, R = softmin_relevance(U[:1], U, lw, g, rule="conservative", backend=backend)
    o_ref = -np.log(0.5 + 0.5 * np.exp(-g * 9.0))
    p0 = 0.5 / (0.5 + 0.5 * np.exp(-g * 9.0))
    want = np.array([p0 * o_ref / 3 + (1 - p0) * o_ref, p0 * o_ref / 3, p0 * o_ref / 3])
    assert_allclose(o, [o_ref], rtol=1e-14)
    assert_allclose(R[0], want, rtol=1e-12)
    assert_allclose(R.sum(), o_ref, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exclude_matches_slow_reference(softmin_case, backend, dtype):
    """softmin_outlierness(..., exclude=idx) equals the brute-force score with
    template idx[r] left out and the other weights renormalised."""
    X, U, lw, gamma = softmin_case
    X, U = X.astype(dtype), U.astype(dtype)
    if len(U) < 2:
        pytest.skip("one template: nothing is left once it is excluded")
    rng = np.random.RandomState(1)
    ex = rng.randint(-1, len(U), size=len(X))
    ex[: min(len(X), 2)] = np.argmin(((X[:2, None] - U[None]) ** 2).sum(-1), axis=1)[: len(ex)]
    usable = np.exp(lw[ex]) < 1 - 1e-12
    ex = np.where(usable | (ex < 0), ex, -1)
    o = softmin_outlierness(X, U, lw, gamma, exclude=ex, backend=backend)
    assert_matches_slow(o, None, X, U, lw, gamma, dtype, exclude=ex)


def test_exclude_is_not_a_subtraction():
    """A query on a heavy template far from all others: its own term is
    almost all of the sum, so o' = o_rest + log(1 - w) must not come from
    log(total - self) (which would give -log(0) = inf or noise)."""
    U = np.array([[0.0], [40.0], [41.0]])
    lw = np.log([0.98, 0.01, 0.01])
    g = 1.0
    for backend in backends.available():
        o = softmin_outlierness(U[:1], U, lw, g, exclude=[0], backend=backend)
        want = -np.logaddexp(np.log(0.5) - 1600.0, np.log(0.5) - 1681.0)
        assert_allclose(o, [want], rtol=1e-12)


@pytest.mark.parametrize(
    "exclude, match",
    [(np.array([0, 1]), r"shape \(3,\)"), (np.array([0, 1, 5]), r"\[-1, 2\]"),
     (np.array([0.0, 1.0, 2.0]), "int array")],
)
def test_exclude_validation(exclude, match):
    U = np.eye(3)
    with pytest.raises(ValueError, match=match):
        softmin_outlierness(U, U, np.log(np.full(3, 1 / 3)), 1.0, exclude=exclude)


def test_rule_validation():
    U = np.eye(3)
    with pytest.raises(ValueError, match="rule='lrp'"):
        softmin_relevance(U, U, np.log(np.full(3, 1 / 3)), 1.0, rule="lrp")
    with pytest.raises(ValueError, match="rule"):
        KDEDetector(rule="lrp").fit(U)


# ------------------------------------------------ subset score, [T] eq. 1.16
@pytest.mark.parametrize("Det", [KDEDetector, OCSVMDetector])
def test_outlier_score_subset_matches_brute_force(Det):
    """outlier_score_subset equals the soft-min model summed over the kept
    features only (a direct float64 loop), all kept gives outlier_score,
    none kept gives 0; bad input is refused before any work."""
    from _refs import ref_softmin

    rng = np.random.RandomState(3)
    X, Q = rng.normal(size=(60, 5)), rng.normal(size=(12, 5)) * 2
    det = Det(gamma=0.3).fit(X)
    keep = rng.rand(*Q.shape) < 0.5
    keep[0], keep[1] = True, False
    got = det.outlier_score_subset(Q, keep)
    want = ref_softmin(Q, det.templates_, det.log_weights_, det.gamma_, keep)[0]
    assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert_allclose(got[0], det.outlier_score(Q[:1])[0], rtol=1e-10)
    assert got[1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="keep must be a boolean array"):
        det.outlier_score_subset(Q, keep.astype(int))
    with pytest.raises(ValueError, match="keep must be a boolean array"):
        det.outlier_score_subset(Q, keep[:, :2])
    with pytest.raises(ValueError, match="features"):
        det.outlier_score_subset(Q[:, :3], keep[:, :3])
