"""skexplain_ad.explainable: fitted sklearn / PyOD Gaussian-kernel models as
soft-min detectors ([T] eq. 1.3; [P] Eq. (1)).

References written here in float64: the SVM's kernel sum and the weighted
Gaussian KDE summed kernel by kernel; relevances from tests/_refs.py.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from _refs import ref_softmin
from skexplain_ad import KDEDetector, OCSVMDetector, explainable
from skexplain_ad.metrics import pixel_flipping_curve



def _pyod(module, name):
    """A PyOD model class (the test extra installs PyOD; skip without it)."""
    return getattr(pytest.importorskip(f"pyod.models.{module}"), name)


def IForest(**kw):
    return _pyod("iforest", "IForest")(**kw)


def KDE(**kw):
    return _pyod("kde", "KDE")(**kw)


def OCSVM(**kw):
    return _pyod("ocsvm", "OCSVM")(**kw)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    Q = np.vstack([rng.normal(size=(20, 4)), rng.normal(loc=2.5, size=(10, 4))])
    return X, Q


def svm_log_kernel_sum(Q, svm):
    """log sum_i alpha_i exp(-g ||x - u_i||^2), template by template."""
    U = np.asarray(svm.support_vectors_.toarray() if sp.issparse(svm.support_vectors_)
                   else svm.support_vectors_)
    alpha = np.asarray(svm.dual_coef_.todense() if sp.issparse(svm.dual_coef_)
                       else svm.dual_coef_).ravel()
    terms = np.array([np.log(a) - svm._gamma * ((Q - u) ** 2).sum(axis=1)
                      for a, u in zip(alpha, U)])
    return logsumexp(terms, axis=0)


def kde_log_density(Q, X, h, w=None):
    """log sum_i w_i / W N(x; x_i, h^2 I), kernel by kernel."""
    w = np.ones(len(X)) if w is None else np.asarray(w, dtype=np.float64)
    d = X.shape[1]
    terms = np.array([np.log(wi / w.sum()) - ((Q - xi) ** 2).sum(axis=1) / (2 * h * h)
                      for wi, xi in zip(w, X) if wi > 0])
    return logsumexp(terms, axis=0) - d / 2 * np.log(2 * np.pi * h * h)


# ---------------------------------------------------------------- OC-SVM
@pytest.mark.parametrize("gamma, nu, weighted", [("scale", 0.3, False), (0.4, 0.1, False),
                                                 (0.2, 0.5, True)])
def test_ocsvm_scores_are_the_log_kernel_sum(data, gamma, nu, weighted):
    X, Q = data
    sw = np.random.RandomState(1).uniform(0.5, 2.0, len(X)) if weighted else None
    svm = OneClassSVM(gamma=gamma, nu=nu).fit(X, sample_weight=sw)
    det = explainable(svm)
    assert isinstance(det, OCSVMDetector)
    A = svm.dual_coef_.sum()
    ref = svm_log_kernel_sum(Q, svm) - np.log(A)
    assert_allclose(det.score_samples(Q), ref, rtol=1e-12, atol=1e-12)
    # sklearn's own scores, through the documented transform
    assert_allclose(det.score_samples(Q), np.log(svm.score_samples(Q)) - np.log(A),
                    rtol=1e-10, atol=1e-12)
    # contamination=None: the SVM's rho; the same labels and decision signs
    assert det.contamination == "auto"
    assert_allclose(det.decision_function(Q), np.log(svm.score_samples(Q) / svm.offset_[0]),
                    rtol=1e-10, atol=1e-12)
    assert_array_equal(det.predict(Q), svm.predict(Q))
    assert (det.predict(Q) == -1).any() and (det.predict(Q) == 1).any()
    # the fitted state is the SVM's, copied
    assert det.gamma_ == svm._gamma and det.gamma == svm._gamma and det.nu == nu
    assert_array_equal(det.templates_, svm.support_vectors_)
    assert not np.shares_memory(det.templates_, svm.support_vectors_)
    assert_allclose(np.exp(det.log_weights_), svm.dual_coef_.ravel() / A, rtol=1e-12)
    assert det.n_features_in_ == 4
    # LRP explanation of the converted detector: OC-DTD ([T] eq. 1.13-1.14)
    o, R, _, _ = ref_softmin(Q, svm.support_vectors_, np.log(svm.dual_coef_.ravel() / A),
                             svm._gamma, rule="oc-dtd")
    assert_allclose(det.outlier_score(Q), o, rtol=1e-10, atol=1e-12)
    assert_allclose(det.explain(Q), R, rtol=1e-9, atol=1e-12)


def test_ocsvm_equals_the_package_detector_on_the_same_data(data):
    X, Q = data
    svm = OneClassSVM(gamma=0.3, nu=0.2).fit(X)
    det = explainable(svm, rule="conservative")
    # the converted SVM keeps its own rho: the package detector's "auto" threshold
    own = OCSVMDetector(gamma=0.3, nu=0.2, rule="conservative", contamination="auto").fit(X)
    assert_allclose(det.score_samples(Q), own.score_samples(Q), rtol=1e-12)
    assert_allclose(det.explain(Q), own.explain(Q), rtol=1e-12, atol=1e-15)
    assert det.offset_ == own.offset_
    # its parameters refit the same SVM
    again = clone(det).fit(X)
    assert_allclose(again.score_samples(Q), det.score_samples(Q), rtol=1e-12)


def test_ocsvm_float_contamination_needs_and_checks_the_training_data(data):
    X, Q = data
    svm = OneClassSVM(gamma=0.3, nu=0.2).fit(X)
    det = explainable(svm, X, contamination=0.15)
    own = OCSVMDetector(gamma=0.3, nu=0.2, contamination=0.15).fit(X)
    assert det.contamination == 0.15
    assert det.offset_ == pytest.approx(own.offset_, rel=1e-12)
    assert_array_equal(det.predict(Q), own.predict(Q))
    with pytest.raises(ValueError, match="does not keep; pass X"):
        explainable(svm, contamination=0.15)
    with pytest.raises(ValueError, match=r"fitted on: 120 rows of 4 features.*shape \(119, 4\)"):
        explainable(svm, X[1:], contamination=0.15)
    with pytest.raises(ValueError, match="with other values"):
        explainable(svm, X[::-1], contamination=0.15)


def test_ocsvm_sparse_fit_and_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, Q = data
    svm = OneClassSVM(gamma=0.3, nu=0.2).fit(sp.csr_matrix(X))
    det = explainable(svm)
    assert_allclose(det.score_samples(Q), svm_log_kernel_sum(Q, svm) - np.log(svm.dual_coef_.sum()),
                    rtol=1e-12, atol=1e-12)
    cols = ["a", "b", "c", "d"]
    svm = OneClassSVM(gamma=0.3, nu=0.2).fit(pd.DataFrame(X, columns=cols))
    det = explainable(svm)
    assert list(det.feature_names_in_) == cols
    assert_array_equal(det.predict(pd.DataFrame(Q, columns=cols)),
                       svm.predict(pd.DataFrame(Q, columns=cols)))


def test_single_support_vector():
    X = np.zeros((5, 2))
    svm = OneClassSVM(gamma=1.0, nu=0.01).fit(X)
    det = explainable(svm)
    Q = np.array([[1.0, 2.0]])
    assert_allclose(det.outlier_score(Q), [5.0], rtol=1e-12)  # g ||x - 0||^2


# ---------------------------------------------------------- KernelDensity
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # sklearn's, zero weights
@pytest.mark.parametrize("bandwidth, metric, weights", [
    (0.5, "euclidean", None), ("scott", "minkowski", None), (0.7, "euclidean", "positive"),
    ("silverman", "l2", "with zeros"),
])
def test_kde_scores_are_the_log_density(data, bandwidth, metric, weights):
    X, Q = data
    rng = np.random.RandomState(2)
    w = None if weights is None else rng.uniform(0.2, 3.0, len(X))
    if weights == "with zeros":
        w[:7] = 0.0
    kde = KernelDensity(bandwidth=bandwidth, metric=metric).fit(X, sample_weight=w)
    det = explainable(kde)
    assert isinstance(det, KDEDetector)
    h = kde.bandwidth_
    assert det.gamma_ == pytest.approx(1 / (2 * h * h), rel=1e-15)
    norm = X.shape[1] / 2 * np.log(det.gamma_ / np.pi)
    ref = kde_log_density(Q, X, h, w)
    assert_allclose(det.score_samples(Q) + norm, ref, rtol=1e-12, atol=1e-12)
    # sklearn's tree at atol = rtol = 0 (its defaults): round-off of its sums
    assert kde.atol == 0 and kde.rtol == 0
    assert_allclose(det.score_samples(Q) + norm, kde.score_samples(Q), rtol=0, atol=1e-9)
    # zero weights carry no kernel
    n_kernels = len(X) if w is None else int((w > 0).sum())
    assert det.templates_.shape == (n_kernels, 4)
    # the paper's conservative rule: sum R = o ([P] App. A.2-A.3)
    lw = np.full(len(X), -np.log(len(X))) if w is None else np.log(w[w > 0] / w.sum())
    U = X if w is None else X[w > 0]
    o, R, _, _ = ref_softmin(Q, U, lw, det.gamma_, rule="conservative")
    assert_allclose(det.outlier_score(Q), o, rtol=1e-10)
    assert_allclose(det.explain(Q), R, rtol=1e-9, atol=1e-12)
    assert_allclose(det.explain(Q).sum(axis=1), det.outlier_score(Q), rtol=1e-9)


def test_kde_offset_is_the_detectors_leave_one_out_percentile(data):
    X, Q = data
    kde = KernelDensity(bandwidth=0.5).fit(X)
    own = KDEDetector(gamma=2.0, contamination=0.1).fit(X)
    det = explainable(kde)  # contamination=None: KDEDetector's 0.1
    assert det.contamination == 0.1
    assert det.offset_ == pytest.approx(own.offset_, rel=1e-12)
    assert_allclose(det.score_samples(Q), own.score_samples(Q), rtol=1e-12)
    det = explainable(kde, X, contamination=0.25)
    assert det.offset_ == pytest.approx(clone(own).set_params(contamination=0.25).fit(X).offset_)
    with pytest.raises(ValueError, match="X must be the data the KernelDensity was fitted on"):
        explainable(kde, X + 1.0)


def test_weighted_kde_offset_leaves_each_kernel_out(data):
    # float contamination: the percentile of -o_r, o_r the KDE without row r's
    # kernel, the other weights renormalised (skexplain_ad._calibration)
    X, _ = data
    w = np.random.RandomState(3).uniform(0.2, 3.0, len(X))
    kde = KernelDensity(bandwidth=0.5).fit(X, sample_weight=w)
    det = explainable(kde, contamination=0.2)
    g = 2.0
    o_loo = np.array([
        -logsumexp(np.log(np.delete(w, r) / (w.sum() - w[r]))
                   - g * ((np.delete(X, r, axis=0) - X[r]) ** 2).sum(axis=1))
        for r in range(len(X))
    ])
    assert det.offset_ == pytest.approx(np.percentile(-o_loo, 20), rel=1e-10)


def test_kde_tolerances_make_sklearn_approximate_not_us(data):
    # the docstring: with rtol > 0 sklearn's tree is off by up to ~log(1 + rtol);
    # the converted detector stays the exact density
    X, Q = data
    kde = KernelDensity(bandwidth=0.4, rtol=0.5).fit(X)
    det = explainable(kde)
    norm = X.shape[1] / 2 * np.log(det.gamma_ / np.pi)
    ref = kde_log_density(Q, X, 0.4)
    assert_allclose(det.score_samples(Q) + norm, ref, rtol=1e-12, atol=1e-12)
    err = np.abs(kde.score_samples(Q) - ref)
    assert err.max() > 1e-3
    assert err.max() <= np.log1p(0.5) + 1e-9


def test_extreme_magnitudes_are_rescaled_exactly(data):
    # data of magnitude 1e-40: the detector fits on X / s (skexplain_ad/_extreme.py)
    X, Q = data
    f = 1e-40
    kde = KernelDensity(bandwidth=0.5 * f).fit(X * f)
    det = explainable(kde)
    assert det.data_scale_ != 1.0
    ref = KDEDetector(gamma=2.0).fit(X)
    assert_allclose(det.outlier_score(Q * f), ref.outlier_score(Q), rtol=1e-12)
    assert_allclose(det.explain(Q * f), ref.explain(Q), rtol=1e-10, atol=1e-15)
    svm = OneClassSVM(gamma=0.3 / f**2, nu=0.2).fit(X * f)
    det = explainable(svm)
    assert det.data_scale_ != 1.0
    A = svm.dual_coef_.sum()
    assert_allclose(det.score_samples(Q * f), np.log(svm.score_samples(Q * f)) - np.log(A),
                    rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ PyOD
def test_pyod_ocsvm_scores_and_labels(data):
    X, Q = data
    model = OCSVM(gamma=0.3, nu=0.2, contamination=0.1).fit(X)
    det = explainable(model)
    svm = model.detector_
    A = svm.dual_coef_.sum()
    # PyOD's score: rho - sum_i alpha_i k(x, u_i) = rho - A exp(-o(x))
    assert_allclose(model.decision_function(Q), svm.offset_[0] - A * np.exp(det.score_samples(Q)),
                    rtol=1e-10, atol=1e-12)
    # offset_ carries PyOD's threshold_ over: the same labels (PyOD: 1 = outlier)
    assert det.contamination == 0.1
    labels = model.predict(Q)
    assert labels.any() and not labels.all()
    assert_array_equal(det.predict(Q) == -1, labels == 1)
    # PyOD's training labels too (threshold_ is their 90th percentile: the
    # rows on both sides of it are the closest calls)
    assert_array_equal(det.predict(X) == -1, model.labels_ == 1)
    # "auto": the SVM's rho instead
    assert_array_equal(explainable(model, contamination="auto").predict(Q), svm.predict(Q))


def test_pyod_kde_scores_and_labels(data):
    X, Q = data
    model = KDE(bandwidth=0.6, contamination=0.2).fit(X)  # metric="minkowski" (p=2)
    det = explainable(model)
    assert isinstance(det, KDEDetector)
    norm = X.shape[1] / 2 * np.log(det.gamma_ / np.pi)
    assert_allclose(model.decision_function(Q), -(det.score_samples(Q) + norm),
                    rtol=0, atol=1e-9)
    assert_allclose(det.score_samples(Q) + norm, kde_log_density(Q, X, 0.6), rtol=1e-12)
    assert det.contamination == 0.2
    labels = model.predict(Q)
    assert labels.any() and not labels.all()
    assert_array_equal(det.predict(Q) == -1, labels == 1)
    assert_array_equal(det.predict(X) == -1, model.labels_ == 1)


# -------------------------------------------------- the converted detector
def test_converted_detector_is_a_plain_fitted_detector(data):
    X, Q = data
    for model in (OneClassSVM(gamma=0.3, nu=0.2).fit(X), KernelDensity(bandwidth=0.5).fit(X)):
        det = explainable(model)
        # nothing of the conversion stays on the instance
        assert "_fit_softmin" not in vars(det) and "_auto_offset" not in vars(det)
        restored = pickle.loads(pickle.dumps(det))
        assert_allclose(restored.explain(Q), det.explain(Q))
        # exact pixel flipping ([T] eq. 1.16): all features kept is o
        keep = np.ones(Q.shape, dtype=bool)
        assert_allclose(det.outlier_score_subset(Q, keep), det.outlier_score(Q), rtol=1e-12)
        _, curve = pixel_flipping_curve(det, Q[-5:])
        assert_allclose(curve[:, 0], 1.0)
        assert_allclose(curve[:, -1], 0.0, atol=1e-12)
        # float32 queries, float32 out (the package's convention)
        assert det.score_samples(Q.astype(np.float32)).dtype == np.float32


def test_model_is_not_modified(data):
    X, _ = data
    svm = OneClassSVM(gamma=0.3, nu=0.2).fit(X)
    before = (svm.get_params(), svm.support_vectors_.copy(), svm.dual_coef_.copy())
    explainable(svm)
    assert svm.get_params() == before[0]
    assert_array_equal(svm.support_vectors_, before[1])
    assert_array_equal(svm.dual_coef_, before[2])


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("make, exc, match", [
    (lambda X: IsolationForest(random_state=0).fit(X), TypeError,
     r"explainable converts sklearn\.svm\.OneClassSVM\(kernel='rbf'\).*got "
     r"sklearn\.ensemble\._iforest\.IsolationForest"),
    (lambda X: IForest(random_state=0).fit(X), TypeError, "got pyod.models.iforest.IForest"),
    (lambda X: KDEDetector(gamma=1.0).fit(X), TypeError, "already an explainable detector"),
    (lambda X: OneClassSVM, TypeError, "a class, not a fitted instance"),
    (lambda X: make_pipeline(StandardScaler(), OneClassSVM()).fit(X), TypeError,
     "got sklearn.pipeline.Pipeline"),
    (lambda X: np.zeros(3), TypeError, "got numpy.ndarray"),
    (lambda X: OneClassSVM(kernel="linear").fit(X), ValueError,
     "Gaussian kernel only.*OneClassSVM has kernel='linear'"),
    (lambda X: OCSVM(kernel="poly").fit(X), ValueError,
     "PyOD OCSVM's OneClassSVM has kernel='poly'"),
    (lambda X: KernelDensity(kernel="tophat").fit(X), ValueError, "kernel='tophat'"),
    (lambda X: KernelDensity(metric="manhattan").fit(X), ValueError,
     "Euclidean metric only.*metric='manhattan'"),
    (lambda X: KernelDensity(metric="minkowski", metric_params={"p": 3}).fit(X), ValueError,
     r"metric_params=\{'p': 3\}"),
    (lambda X: OneClassSVM(), NotFittedError, "this OneClassSVM is not fitted"),
    (lambda X: KernelDensity(), NotFittedError, "this KernelDensity is not fitted"),
    (lambda X: OCSVM(), NotFittedError, "PyOD OCSVM is not fitted"),
    (lambda X: KDE(), NotFittedError, "PyOD KDE is not fitted"),
])
def test_unsupported_models(data, make, exc, match):
    with pytest.raises(exc, match=match):
        explainable(make(data[0]))


@pytest.mark.parametrize("model, kw, match", [
    ("kde", dict(contamination="auto"), 'None or a float .* got \'auto\''),
    ("kde", dict(contamination=0.7), "got 0.7"),
    ("svm", dict(contamination=0.0), r'None, "auto" or a float in \(0, 0.5\]; got 0.0'),
    ("svm", dict(contamination=True), "got True"),
    ("svm", dict(rule="lrp"), "rule"),
    ("kde", dict(backend="nope"), "backend"),
])
def test_bad_arguments(data, model, kw, match):
    X, _ = data
    fitted = (KernelDensity(bandwidth=0.5) if model == "kde" else OneClassSVM()).fit(X)
    with pytest.raises(ValueError, match=match):
        explainable(fitted, **kw)


def test_pyod_thresholder_contamination_needs_an_explicit_one(data):
    X, Q = data
    model = KDE(bandwidth=0.6).fit(X)
    model.contamination = object()  # a PyThresh thresholder, as PyOD allows
    with pytest.raises(ValueError, match="cannot be carried over; pass contamination=a float"):
        explainable(model)
    det = explainable(model, contamination=0.1)
    assert det.offset_ == pytest.approx(explainable(KernelDensity(bandwidth=0.6).fit(X)).offset_)
