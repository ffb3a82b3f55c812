"""skexplain_ad.explain: relevance carried back through sklearn pipelines.

Each rule is checked against an explicit-loop float64 reference written
here, starting from the detector's own relevance on its inputs (the
detectors' relevance has its own reference tests).
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import NMF, PCA, FastICA, IncrementalPCA, TruncatedSVD
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

import skexplain_ad
from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, explain
from skexplain_ad.explain import linear_map, z_rule


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5)) * [1.0, 10.0, 100.0, 1.0, 3.0] + [0, 5, -50, 2, 0]
    X[:, 3] += 0.5 * X[:, 0]
    Q = np.vstack([rng.normal(size=(6, 5)) * [1.0, 10.0, 100.0, 1.0, 3.0], [[4, 40, 500, -3, 9]]])
    return X, Q


def detector_relevance(pipe, Q):
    """The last step's own relevance on its own inputs."""
    return np.asarray(pipe[-1].explain(pipe[:-1].transform(Q)), dtype=np.float64)


def z_rule_loops(A, W, R):
    """[P] App. A.4 by explicit loops: R_j = sum_k a_j W_jk / z_k R_k (z_k != 0)."""
    n, d = A.shape
    c = W.shape[1]
    out = np.zeros((n, d))
    for s in range(n):
        for k in range(c):
            z = 0.0
            for j in range(d):
                z += A[s, j] * W[j, k]
            assert abs(z) > 1e-6 * np.sum(np.abs(A[s] * W[:, k]))  # regular case
            for j in range(d):
                out[s, j] += A[s, j] * W[j, k] / z * R[s, k]
    return out


# ------------------------------------------------------------ plain detector
def test_detector_is_its_own_explain(data):
    X, Q = data
    det = KDEDetector(gamma=0.01).fit(X)
    assert_allclose(explain(det, Q), det.explain(Q), rtol=0, atol=0)


def test_exported():
    assert "explain" in skexplain_ad.__all__
    assert skexplain_ad.explain is explain


# ------------------------------------------------------------------ scalers
@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler])
def test_elementwise_scalers_pass_relevance_through(data, scaler):
    X, Q = data
    pipe = make_pipeline(scaler(), KDEDetector(gamma=0.3)).fit(X)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    for s in range(Q.shape[0]):
        for j in range(Q.shape[1]):
            assert R[s, j] == R_det[s, j]
    # and not what the detector says on the raw features
    raw = KDEDetector(gamma=0.3).fit(X).explain(Q)
    assert not np.allclose(R, raw)


def test_passthrough_and_none_steps(data):
    X, Q = data
    pipe = Pipeline(
        [("a", "passthrough"), ("s", StandardScaler()), ("b", None), ("kde", KDEDetector(gamma=0.3))]
    ).fit(X)
    assert_allclose(explain(pipe, Q), detector_relevance(pipe, Q), rtol=0, atol=0)


# ---------------------------------------------------------------- selectors
def test_selector_routes_to_kept_features(data):
    X, Q = data
    X = X.copy()
    X[:, 1] = 3.0  # constant: dropped by VarianceThreshold
    y = np.where(np.arange(len(X)) % 2 == 0, 1, -1)
    pipe = Pipeline(
        [
            ("vt", VarianceThreshold()),
            ("kbest", SelectKBest(f_classif, k=3)),
            ("kde", KDEDetector(gamma=0.01)),
        ]
    ).fit(X, y)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    kept_vt = np.flatnonzero(pipe[0].get_support())
    kept_kb = np.flatnonzero(pipe[1].get_support())
    ref = np.zeros_like(Q)
    for s in range(Q.shape[0]):
        for t, k in enumerate(kept_kb):  # t-th detector input = kept_vt[k]
            ref[s, kept_vt[k]] = R_det[s, t]
    assert_allclose(R, ref, rtol=0, atol=0)
    assert np.all(R[:, 1] == 0)
    assert_allclose(R.sum(axis=1), R_det.sum(axis=1), rtol=1e-12)


# ----------------------------------------------------------------- z-rule
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_z_rule_against_loops(data, whiten):
    X, Q = data
    pipe = make_pipeline(StandardScaler(), PCA(3, whiten=whiten), KDEDetector(gamma=0.5)).fit(X)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    pca = pipe[1]
    # W by hand: rows of components_, divided by sqrt(explained_variance_) when whitened
    W = np.zeros((5, 3))
    for k in range(3):
        for j in range(5):
            W[j, k] = pca.components_[k, j]
            if whiten:
                W[j, k] /= np.sqrt(pca.explained_variance_[k])
    A = pipe[0].transform(Q) - pca.mean_
    assert_allclose(A @ W, pca.transform(pipe[0].transform(Q)), rtol=1e-12, atol=1e-12)
    assert_allclose(R, z_rule_loops(A, W, R_det), rtol=1e-10, atol=1e-12)
    assert_allclose(R.sum(axis=1), R_det.sum(axis=1), rtol=1e-10, atol=1e-10)


def test_whitening_cancels_in_the_split(data):
    # a_j W_jk / z_k is the same with W_jk = C_kj / s_k as with C_kj: whitening
    # changes the detector's R_k, not how each R_k is split
    X, Q = data
    plain = PCA(4).fit(X)
    white = PCA(4, whiten=True).fit(X)
    W0, m0 = linear_map(plain)
    W1, m1 = linear_map(white)
    assert_allclose(W1, W0 / np.sqrt(white.explained_variance_), rtol=1e-12)
    A = Q - m0
    for k in range(4):
        Rk = np.zeros((Q.shape[0], 4))
        Rk[:, k] = 1.0
        assert_allclose(z_rule(A, W1, Rk), z_rule(A, W0, Rk), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "make", [lambda: IncrementalPCA(3), lambda: TruncatedSVD(3, random_state=0),
             lambda: FastICA(3, random_state=0, whiten="unit-variance", max_iter=500)],
    ids=["IncrementalPCA", "TruncatedSVD", "FastICA"],
)
def test_other_linear_maps(data, make):
    X, Q = data
    pipe = make_pipeline(StandardScaler(), make(), KDEDetector(gamma=0.5)).fit(X)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    step = pipe[1]
    W = np.asarray(step.components_, dtype=np.float64).T
    mean = getattr(step, "mean_", np.zeros(5))
    A = pipe[0].transform(Q) - mean
    assert_allclose(R, z_rule_loops(A, W, R_det), rtol=1e-9, atol=1e-12)
    assert_allclose(R.sum(axis=1), R_det.sum(axis=1), rtol=1e-10, atol=1e-10)


def test_z_rule_degenerate_components():
    # component 0: z = 0 with nonzero contributions -> split by |a_j W_jk|;
    # component 1: a = 0 along it (S = 0) -> split by W_jk^2;
    # component 2: a zero column of W -> spread evenly
    W = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 1.0, 0.0]])
    A = np.array([[3.0, -3.0, 0.0, 0.0]])
    R = np.array([[2.0, 5.0, 7.0]])
    out = z_rule(A, W, R)
    ref = np.zeros(4)
    S0 = abs(A[0, 0] * W[0, 0]) + abs(A[0, 1] * W[1, 0])
    for j in range(4):
        ref[j] += abs(A[0, j] * W[j, 0]) / S0 * R[0, 0]
        ref[j] += W[j, 1] ** 2 / (W[2, 1] ** 2 + W[3, 1] ** 2) * R[0, 1]
        ref[j] += R[0, 2] / 4
    assert np.all(np.isfinite(out))
    assert_allclose(out[0], ref, rtol=1e-14)
    assert_allclose(out.sum(), R.sum(), rtol=1e-14)


def test_query_at_the_mean_is_finite(data):
    X, _ = data
    pipe = make_pipeline(PCA(3), KDEDetector(gamma=0.01)).fit(X)
    R = explain(pipe, pipe[0].mean_[None, :])
    R_det = detector_relevance(pipe, pipe[0].mean_[None, :])
    assert np.all(np.isfinite(R))
    assert_allclose(R.sum(), R_det.sum(), rtol=1e-12)


# --------------------------------------------------------- column transformer
def test_column_transformer_against_loops(data):
    X, Q = data
    ct = ColumnTransformer(
        [
            ("std", StandardScaler(), [0, 1]),
            ("pass", "passthrough", [2]),
            ("drop", "drop", [3]),
            ("pca", make_pipeline(StandardScaler(), PCA(1)), [0, 4]),
        ],
        remainder="drop",
    )
    pipe = make_pipeline(ct, KDEDetector(gamma=0.3)).fit(X)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    # detector inputs: std(0), std(1), x2, pca(0, 4)
    sub = ct.named_transformers_["pca"]
    A = sub[0].transform(Q[:, [0, 4]]) - sub[1].mean_
    W = sub[1].components_.T
    pca_part = z_rule_loops(A, W, R_det[:, [3]])
    ref = np.zeros_like(Q)
    for s in range(Q.shape[0]):
        ref[s, 0] = R_det[s, 0] + pca_part[s, 0]
        ref[s, 1] = R_det[s, 1]
        ref[s, 2] = R_det[s, 2]
        ref[s, 4] = pca_part[s, 1]
    assert_allclose(R, ref, rtol=1e-10, atol=1e-12)
    assert np.all(R[:, 3] == 0)
    assert_allclose(R.sum(axis=1), R_det.sum(axis=1), rtol=1e-10, atol=1e-10)


def test_column_transformer_remainder_passthrough(data):
    X, Q = data
    ct = ColumnTransformer([("mm", MinMaxScaler(), [4, 1])], remainder="passthrough")
    pipe = make_pipeline(ct, KDEDetector(gamma=0.3)).fit(X)
    R = explain(pipe, Q)
    R_det = detector_relevance(pipe, Q)
    # output order: mm(4), mm(1), then remainder 0, 2, 3
    order = [4, 1, 0, 2, 3]
    ref = np.zeros_like(Q)
    for t, j in enumerate(order):
        ref[:, j] = R_det[:, t]
    assert_allclose(R, ref, rtol=0, atol=0)


def test_bagged_detector_in_pipeline(data):
    X, Q = data
    bag = BaggedDetector([("kde", KDEDetector(gamma=0.3)), ("svm", OCSVMDetector(gamma=0.3))])
    pipe = make_pipeline(StandardScaler(), PCA(4), bag).fit(X)
    R_det = detector_relevance(pipe, Q)
    R = explain(pipe, Q)
    assert_allclose(R.sum(axis=1), R_det.sum(axis=1), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------- pandas
def test_pandas_pipeline_keeps_columns_and_index(data):
    X, Q = data
    cols = ["age", "income", "debt", "score", "n_cards"]
    df = pd.DataFrame(X, columns=cols)
    dq = pd.DataFrame(Q, columns=cols, index=[f"q{i}" for i in range(len(Q))])
    pipe = make_pipeline(StandardScaler(), PCA(3), KDEDetector(gamma=0.5))
    pipe.set_output(transform="pandas").fit(df)
    R = explain(pipe, dq)
    assert isinstance(R, pd.DataFrame)
    assert list(R.columns) == cols
    assert list(R.index) == list(dq.index)
    plain = make_pipeline(StandardScaler(), PCA(3), KDEDetector(gamma=0.5)).fit(X)
    assert_allclose(R.to_numpy(), explain(plain, Q), rtol=1e-10, atol=1e-12)


def test_global_pandas_config(data):
    X, Q = data
    pipe = make_pipeline(StandardScaler(), KDEDetector(gamma=0.3)).fit(X)
    ref = explain(pipe, Q)
    assert isinstance(ref, np.ndarray)
    with sklearn.config_context(transform_output="pandas"):
        R = explain(pipe, Q)
    assert isinstance(R, pd.DataFrame)
    assert list(R.columns) == [f"x{i}" for i in range(5)]
    assert_allclose(R.to_numpy(), ref, rtol=0, atol=0)


def test_detector_set_output_decides(data):
    X, Q = data
    pipe = make_pipeline(StandardScaler(), KDEDetector(gamma=0.3)).fit(X)
    pipe[-1].set_output(transform="pandas")
    with sklearn.config_context(transform_output="default"):
        assert isinstance(explain(pipe, Q), pd.DataFrame)


# ------------------------------------------------------------------- errors
class _Spy(BaseEstimator, TransformerMixin):
    """A transformer that records calls; ``components_`` optional."""

    def __init__(self, nonlinear=False):
        self.nonlinear = nonlinear

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        self.components_ = np.eye(2, X.shape[1])
        self.calls_ = 0
        return self

    def transform(self, X):
        self.calls_ += 1
        Z = np.asarray(X)[:, :2]
        return Z**3 if self.nonlinear else Z


class _NoRelevance(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        raise AssertionError("transform must not run")


def test_unsupported_step_named_before_any_work(data):
    X, Q = data
    pipe = make_pipeline(StandardScaler(), KMeans(2, n_init=1, random_state=0), KDEDetector())
    pipe.fit(X)
    with pytest.raises(ValueError, match=r"step 'kmeans' \(KMeans\)"):
        explain(pipe, Q)
    # fitted by hand: _NoRelevance.transform fails if anything runs it
    scaler = StandardScaler().fit(X)
    kde = KDEDetector().fit(scaler.transform(X))
    pipe = Pipeline([("s", scaler), ("odd", _NoRelevance().fit(X)), ("kde", kde)])
    with pytest.raises(ValueError, match=r"step 'odd' \(_NoRelevance\)"):
        explain(pipe, Q)


def test_unsupported_inside_column_transformer(data):
    X, Q = data
    ct = ColumnTransformer([("nmf", NMF(2, max_iter=50), [0, 1])])
    pipe = make_pipeline(ct, KDEDetector())
    pipe.fit(np.abs(X))
    with pytest.raises(ValueError, match=r"step 'columntransformer'\['nmf'\] \(NMF\)"):
        explain(pipe, np.abs(Q))


def test_nonlinear_components_caught_before_the_detector(data):
    X, Q = data

    class Watch(KDEDetector):
        def explain(self, X):
            raise AssertionError("the detector must not run")

    lin = make_pipeline(_Spy(), Watch(gamma=0.3)).fit(X)
    with pytest.raises(AssertionError, match="must not run"):
        explain(lin, Q)  # linear: passes the check, reaches the detector
    bad = make_pipeline(_Spy(nonlinear=True), Watch(gamma=0.3)).fit(X)
    with pytest.raises(ValueError, match=r"step '_spy' \(_Spy\).*not the linear map"):
        explain(bad, Q)


def test_not_a_detector(data):
    X, Q = data
    with pytest.raises(ValueError, match="last step of the pipeline; step 'pca' is PCA"):
        explain(make_pipeline(StandardScaler(), PCA(2)).fit(X), Q)
    with pytest.raises(ValueError, match="got StandardScaler"):
        explain(StandardScaler().fit(X), Q)
