"""BaggedDetector: [T] eq. 2.1-2.3, App. A.4; [P] Sec. 5, App. A.1.

Slow references: the members' soft-min models recomputed template by
template, and the pooling written out as sums over members.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest

from _refs import DistanceToMean, own_template, ref_softmin, softmin_slow
from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector
from skexplain_ad.ensemble._base import split_indices
from skexplain_ad.metrics import pixel_flipping_auc, pixel_flipping_curve


def ref_member(est, X, keep=None):
    """o and R of a fitted soft-min member by its own rule (tests/_refs.py)."""
    o, R, _, _ = ref_softmin(X, est.templates_, est.log_weights_, est.gamma_, keep,
                             rule=getattr(est, "rule", "oc-dtd"))
    return o, R


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    X_test = np.vstack([rng.normal(size=(10, 4)), rng.normal(loc=3.0, size=(10, 4))])
    return X, X_test


def members():
    return [("kde", KDEDetector(gamma=0.3)), ("svm", OCSVMDetector(gamma=0.2, nu=0.3))]


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("split", [True, False])
def test_bag_matches_reference(data, standardize, split):
    X, X_test = data
    bag = BaggedDetector(members(), standardize=standardize, split=split, random_state=0)
    bag.fit(X)
    # mu_k, sigma_k over the training rows, each scored out of sample: without
    # its own template in a member that saw it (as offset_)
    n = len(X)
    parts = split_indices(n, 2, 0) if split else [np.arange(n)] * 2
    o_tr = np.array([
        softmin_slow(X, e.templates_, e.log_weights_, e.gamma_,
                     exclude=own_template(e, part, n))[0]
        for e, part in zip(bag.estimators_, parts)
    ])
    if standardize:
        mu, sd = o_tr.mean(axis=1), o_tr.std(axis=1)
    else:
        mu, sd = np.zeros(2), np.ones(2)
    w = 1.0 / (2 * sd)
    refs = [ref_member(e, X_test) for e in bag.estimators_]
    # the relevance-carrying score: no mu_k (biases, [P] App. A.1)
    o_ref = sum(wk * ok for wk, (ok, _) in zip(w, refs))
    z_ref = sum(wk * (ok - mk) for wk, mk, (ok, _) in zip(w, mu, refs))
    R_ref = sum(wk * Rk for wk, (_, Rk) in zip(w, refs))
    assert_allclose(bag.weights_, w, rtol=1e-10)
    assert_allclose(bag.means_, mu, rtol=1e-10, atol=1e-12)
    assert_allclose(bag.bias_, w @ mu, rtol=1e-10, atol=1e-12)
    assert_allclose(bag.outlier_score(X_test), o_ref, rtol=1e-7, atol=1e-10)
    assert (bag.outlier_score(X_test) >= 0).all()
    assert_allclose(bag.score_samples(X_test), -o_ref, rtol=1e-7, atol=1e-10)
    assert_allclose(bag.standardized_score(X_test), z_ref, rtol=1e-7, atol=1e-10)
    assert_allclose(bag.decision_function(X_test), -o_ref - bag.offset_, rtol=1e-7, atol=1e-10)
    assert_allclose(bag.explain(X_test), R_ref, rtol=1e-7, atol=1e-12)
    # the biases get no relevance: rows sum to at most o (OC-SVM's rule)
    assert (bag.explain(X_test).sum(axis=1) <= o_ref + 1e-9).all()


def test_explanation_conserves_outlier_score(data):
    # conserving members (KDE, conservative rule): sum_j R_j = o exactly,
    # the score outlier_score returns; the standardised one differs by bias_
    X, X_test = data
    bag = BaggedDetector(
        [("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=1.0))]
    ).fit(X)
    o = bag.outlier_score(X_test)
    w = bag.weights_
    o_ref = sum(wk * ref_member(e, X_test)[0] for wk, e in zip(w, bag.estimators_))
    assert_allclose(o, o_ref, rtol=1e-9)
    assert_allclose(bag.explain(X_test).sum(axis=1), o, rtol=1e-9)
    assert bag.bias_ > 0
    assert (bag.standardized_score(X_test) < o).all()


def oos_training_scores(est, X):
    """A member's training scores, each row without its own template."""
    own = own_template(est, np.arange(len(X)), len(X))
    return softmin_slow(X, est.templates_, est.log_weights_, est.gamma_, exclude=own)[0]


def test_standardized_score_is_unit_scale_and_can_be_negative(data):
    X, X_test = data
    bag = BaggedDetector(members()).fit(X)
    O = np.column_stack([oos_training_scores(e, X) for e in bag.estimators_])
    Q = np.column_stack([e.outlier_score(X_test) for e in bag.estimators_])
    Z = (Q - O.mean(axis=0)) / O.std(axis=0)
    assert_allclose(bag.standardized_score(X_test), Z.mean(axis=1), rtol=1e-10, atol=1e-12)
    assert_allclose(bag.outlier_score(X_test), (Q / O.std(axis=0)).mean(axis=1), rtol=1e-10)
    # the held-out training scores, standardised: mean 0
    oos = bag._training_outlier_score(X, np.arange(len(X)))
    assert_allclose(oos.mean() - bag.bias_, 0.0, atol=1e-12)
    assert (bag.standardized_score(X_test) < 0).any()  # documented: can be negative
    assert (bag.outlier_score(X_test) >= 0).all()  # documented: never negative
    # same order, same decisions: predict is that of the standardised score
    # with its threshold shifted by the bias
    assert_array_equal(rankdata(bag.standardized_score(X_test)),
                       rankdata(bag.outlier_score(X_test)))
    z_thr = -bag.offset_ - bag.bias_
    assert_array_equal(bag.predict(X_test),
                       np.where(bag.standardized_score(X_test) > z_thr, -1, 1))
    # float32 and the standardised score
    z32 = bag.standardized_score(X_test.astype(np.float32))
    assert z32.dtype == np.float32


class ConstantScore(OutlierMixin, BaseEstimator):
    """A detector whose score is the same everywhere (no relevance)."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def score_samples(self, X):
        return np.full(len(X), -3.0)

    def explain(self, X):
        return np.zeros(np.shape(X))


def test_member_constant_on_training_data_is_not_scaled(data):
    X, X_test = data
    # sigma_k = 0: 1 / sigma_k would be inf, so the member is left unscaled
    bag = BaggedDetector([("kde", KDEDetector(gamma=0.3)), ("const", ConstantScore())]).fit(X)
    assert bag.scales_[1] == 1.0 and bag.scales_[0] != 1.0
    assert np.isfinite(bag.outlier_score(X_test)).all()


def test_split_gives_disjoint_parts_of_sizes_differing_by_one():
    X = np.random.RandomState(1).normal(size=(31, 2))
    bag = BaggedDetector(
        [(f"m{k}", KDEDetector(gamma=1.0)) for k in range(3)], split=True, random_state=3
    ).fit(X)
    rows = [{tuple(r) for r in est.templates_} for est in bag.estimators_]
    assert sorted(len(r) for r in rows) == [10, 10, 11]
    assert set().union(*rows) == {tuple(r) for r in X}
    assert sum(len(r) for r in rows) == len(X)
    again = BaggedDetector(bag.estimators, split=True, random_state=3).fit(X)
    for a, b in zip(bag.estimators_, again.estimators_):
        assert_array_equal(a.templates_, b.templates_)


@pytest.mark.parametrize("Member", [KDEDetector, OCSVMDetector])
def test_bagging_a_model_with_itself_changes_nothing(data, Member):
    # [T] Sec. 2.1.2 and App. A.4 (NN1 = NN2), Sec. 3: "C + C is C"
    X, X_test = data
    single = Member(gamma=0.3).fit(X)
    plain = BaggedDetector([("a", Member(gamma=0.3)), ("b", Member(gamma=0.3))], standardize=False)
    plain.fit(X)
    assert_allclose(plain.outlier_score(X_test), single.outlier_score(X_test), rtol=1e-12)
    assert_allclose(plain.explain(X_test), single.explain(X_test), rtol=1e-12, atol=1e-15)
    std = BaggedDetector([("a", Member(gamma=0.3)), ("b", Member(gamma=0.3))]).fit(X)
    assert_array_equal(rankdata(std.score_samples(X_test)), rankdata(single.score_samples(X_test)))
    sigma = oos_training_scores(single, X).std()
    assert_allclose(std.explain(X_test), single.explain(X_test) / sigma, rtol=1e-10, atol=1e-15)


def test_any_explainable_detector_can_be_a_member(data):
    X, X_test = data
    bag = BaggedDetector([("kde", KDEDetector(gamma=0.3)), ("mean", DistanceToMean())]).fit(X)
    dm = bag.named_estimators_["mean"]
    w = bag.weights_
    R_ref = w[0] * bag.estimators_[0].explain(X_test) + w[1] * dm.explain(X_test)
    assert_allclose(bag.explain(X_test), R_ref, rtol=1e-12)
    # no soft-min parameters and no subset method: no exact pixel flipping
    assert not hasattr(bag, "_outlier_score_subset")
    assert not hasattr(bag, "outlier_score_subset")


@pytest.mark.parametrize("standardize", [True, False])
def test_outlier_score_subset_matches_deleting_features(data, standardize):
    X, X_test = data
    bag = BaggedDetector(members(), standardize=standardize).fit(X)
    rng = np.random.RandomState(0)
    keep = rng.rand(*X_test.shape) < 0.5
    keep[0] = True
    keep[1] = False
    got = bag.outlier_score_subset(X_test, keep)
    # the relevance-carrying score on the kept features: no mu_k
    o_ref = sum(
        w * ref_member(e, X_test, keep)[0]
        for w, e in zip(bag.weights_, bag.estimators_)
    )
    assert_allclose(got, o_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(got[0], bag.outlier_score(X_test[:1])[0], rtol=1e-9)
    assert got[1] == 0.0  # o_d: every member at 0
    with pytest.raises(ValueError, match="keep must be a boolean array"):
        bag.outlier_score_subset(X_test, keep.astype(int))


@pytest.mark.parametrize("standardize", [True, False])
def test_pixel_flipping_divides_by_the_relevance_carrying_score(data, standardize):
    # [T] eq. 1.16 on the bag: o_K / o with o = sum_k w_k o_k, so every curve
    # falls from 1 to 0 and its AUC lies in [0, 1] (the glossary's range)
    X, X_test = data
    bag = BaggedDetector(members(), standardize=standardize).fit(X)
    Xo = X_test[10:]  # the shifted rows: outliers
    R = bag.explain(Xo)
    fr, curve = pixel_flipping_curve(bag, Xo, R)
    d = Xo.shape[1]
    ref = np.empty((len(Xo), d + 1))
    for r in range(len(Xo)):
        order = np.argsort(-R[r], kind="stable")
        for k in range(d + 1):
            keep = np.ones((1, d), dtype=bool)
            keep[0, order[:k]] = False
            ref[r, k] = sum(w * ref_member(e, Xo[r:r + 1], keep)[0][0]
                            for w, e in zip(bag.weights_, bag.estimators_))
    o_ref = sum(w * ref_member(e, Xo)[0] for w, e in zip(bag.weights_, bag.estimators_))
    assert_allclose(ref[:, 0], o_ref, rtol=1e-9)
    assert_allclose(curve, ref / o_ref[:, None], rtol=1e-9, atol=1e-12)
    assert_allclose(curve[:, 0], 1.0)
    assert_allclose(curve[:, -1], 0.0, atol=1e-12)
    assert (np.diff(curve, axis=1) <= 1e-12).all()
    auc = pixel_flipping_auc(curve, fr)
    assert ((auc >= 0) & (auc <= 1)).all()


def test_float32_in_float32_out(data):
    X, X_test = data
    bag = BaggedDetector(members()).fit(X.astype(np.float32))
    assert bag.outlier_score(X_test.astype(np.float32)).dtype == np.float32
    assert bag.explain(X_test.astype(np.float32)).dtype == np.float32
    assert bag.outlier_score(X_test).dtype == np.float64


@pytest.mark.parametrize(
    "estimators, match",
    [
        ([("kde", KDEDetector())], "at least 2 members"),
        ([], "at least 2 members"),
        ([("a", KDEDetector()), ("a", KDEDetector())], "Names provided are not unique"),
        ([KDEDetector(), KDEDetector()], r"list of \(str, detector\) pairs"),
        ([("a", KDEDetector()), ("if", IsolationForest())], "member 'if' .*explain"),
        ([("a", KDEDetector()), ("standardize", KDEDetector())], "conflict"),
    ],
)
def test_bad_members(data, estimators, match):
    with pytest.raises(ValueError, match=match):
        BaggedDetector(estimators).fit(data[0])


def test_split_needs_a_part_per_member():
    with pytest.raises(ValueError, match="n_samples=2"):
        BaggedDetector([(f"m{k}", KDEDetector()) for k in range(3)], split=True).fit(
            np.zeros((2, 2))
        )


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(4, 12),
    d=st.integers(1, 4),
    standardize=st.booleans(),
)
def test_property_relevance_nonnegative_and_row_permutation_invariant(seed, n, d, standardize):
    rng = np.random.RandomState(seed)
    scale = rng.uniform(0.1, 3.0)
    X = rng.normal(size=(n, d)) * scale
    Q = rng.normal(size=(5, d)) * 2 * scale
    est = [("a", KDEDetector(gamma=0.5 / scale**2)), ("b", KDEDetector(gamma=2.0 / scale**2))]
    bag = BaggedDetector(est, standardize=standardize).fit(X)
    R = bag.explain(Q)
    assert (R >= 0).all()
    # sum R = o (KDE members conserve; the biases carry no relevance)
    o = bag.outlier_score(Q)
    assert (o >= 0).all()
    assert_allclose(R.sum(axis=1), o, rtol=1e-9, atol=1e-12)
    perm = rng.permutation(n)
    bag_p = BaggedDetector(est, standardize=standardize).fit(X[perm])
    # mu_k, sigma_k are sums over the rows in another order: round-off only,
    # amplified where sigma_k is tiny against o_k
    assert_allclose(bag_p.outlier_score(Q), bag.outlier_score(Q), rtol=1e-6, atol=1e-9)
    assert_allclose(bag_p.explain(Q), R, rtol=1e-6, atol=1e-12)
