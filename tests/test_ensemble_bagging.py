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
from sklearn.ensemble import IsolationForest

from _refs import DistanceToMean, ref_softmin
from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector


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
    o_tr = np.array([ref_member(e, X)[0] for e in bag.estimators_])
    if standardize:
        mu, sd = o_tr.mean(axis=1), o_tr.std(axis=1)
    else:
        mu, sd = np.zeros(2), np.ones(2)
    w = 1.0 / (2 * sd)
    refs = [ref_member(e, X_test) for e in bag.estimators_]
    o_ref = sum(wk * (ok - mk) for wk, mk, (ok, _) in zip(w, mu, refs))
    R_ref = sum(wk * Rk for wk, (_, Rk) in zip(w, refs))
    assert_allclose(bag.weights_, w, rtol=1e-10)
    assert_allclose(bag.means_, mu, rtol=1e-10, atol=1e-12)
    assert_allclose(bag.outlier_score(X_test), o_ref, rtol=1e-7, atol=1e-10)
    assert_allclose(bag.score_samples(X_test), -o_ref, rtol=1e-7, atol=1e-10)
    assert_allclose(bag.explain(X_test), R_ref, rtol=1e-7, atol=1e-12)
    # the biases get no relevance: rows sum to at most o + sum_k w_k mu_k
    assert (bag.explain(X_test).sum(axis=1) <= o_ref + w @ mu + 1e-9).all()


def test_standardize_makes_scores_unit_scale_and_can_be_negative(data):
    X, _ = data
    bag = BaggedDetector(members()).fit(X)
    O = np.column_stack([e.outlier_score(X) for e in bag.estimators_])
    Z = (O - O.mean(axis=0)) / O.std(axis=0)
    assert_allclose(bag.outlier_score(X), Z.mean(axis=1), rtol=1e-10, atol=1e-12)
    assert (bag.outlier_score(X) < 0).any()  # documented: o can be negative


def test_member_constant_on_training_data_is_not_scaled(data):
    X, X_test = data
    # so stiff that every training point sees only itself: o_k = log(n) on X
    stiff = KDEDetector(gamma=1e4)
    bag = BaggedDetector([("kde", KDEDetector(gamma=0.3)), ("stiff", stiff)]).fit(X)
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
    sigma = single.outlier_score(X).std()
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
    o_ref = sum(
        w * (ref_member(e, X_test, keep)[0] - mu)
        for w, mu, e in zip(bag.weights_, bag.means_, bag.estimators_)
    )
    assert_allclose(got, o_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(got[0], bag.outlier_score(X_test[:1])[0], rtol=1e-9)
    assert_allclose(got[1], -bag.weights_ @ bag.means_, atol=1e-12)  # o_d: members at 0
    with pytest.raises(ValueError, match="keep must be a boolean array"):
        bag.outlier_score_subset(X_test, keep.astype(int))


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
    # sum R <= o + sum_k w_k mu_k (the biases carry no relevance)
    assert (R.sum(axis=1) <= bag.outlier_score(Q) + bag.weights_ @ bag.means_ + 1e-9).all()
    perm = rng.permutation(n)
    bag_p = BaggedDetector(est, standardize=standardize).fit(X[perm])
    # mu_k, sigma_k are sums over the rows in another order: round-off only,
    # amplified where sigma_k is tiny against o_k
    assert_allclose(bag_p.outlier_score(Q), bag.outlier_score(Q), rtol=1e-6, atol=1e-9)
    assert_allclose(bag_p.explain(Q), R, rtol=1e-6, atol=1e-12)
