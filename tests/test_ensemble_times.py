"""TimesEnsemble against the explicit midpoint models ([T] eq. 2.6-2.15).

The reference materialises what the estimator never does: the m * n
midpoints u_ij = (g1 u_i + g2 u'_j) / (g1 + g2) with their renormalised
weights beta_ij (global), or the k-NN / l-NN pair sets with the global,
not renormalised, weights (local), and evaluates the soft-min model and
its relevance ([T] eq. 1.14) on them, in float64, with direct differences.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn import config_context
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from _refs import DistanceToMean, ref_softmin
from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble


# ---------------------------------------------------------------- reference
def midpoint_model(times):
    """Midpoints (m, n, d), log beta (m, n), G and ||u_i - u'_j||^2 (m, n)."""
    e1, e2 = times.estimators_
    U, V = e1.templates_.astype(np.float64), e2.templates_.astype(np.float64)
    g1, g2 = e1.gamma_, e2.gamma_
    G = g1 + g2
    W = (g1 * U[:, None, :] + g2 * V[None, :, :]) / G
    Dp = ((U[:, None, :] - V[None, :, :]) ** 2).sum(axis=2)
    lb = e1.log_weights_[:, None] + e2.log_weights_[None, :] - g1 * g2 / G * Dp
    return W, lb - logsumexp(lb), G, Dp


def ref_local_sets(Dp, k, l):
    m, n = Dp.shape
    s1 = np.zeros((m, n), bool)
    s2 = np.zeros((m, n), bool)
    nn1 = np.argsort(Dp, axis=1, kind="stable")[:, :k]
    nn2 = np.argsort(Dp.T, axis=1, kind="stable")[:, :l]
    for i in range(m):
        s1[i, nn1[i]] = True
    for j in range(n):
        s2[nn2[j], j] = True
    return s1, s2


def ref_times(times, X, keep=None):
    """(o, R) of the explicit global or local midpoint model(s), by the
    ensemble's rule."""
    W, lbeta, G, Dp = midpoint_model(times)
    d = W.shape[2]
    rule = times.rule
    if times.k is None:
        o, R, _, _ = ref_softmin(X, W.reshape(-1, d), lbeta.ravel(), G, keep, rule=rule)
        return o, R
    outs = [
        ref_softmin(X, W[s], lbeta[s], G, keep, rule=rule)[:2]
        for s in ref_local_sets(Dp, times.k, times.l)
    ]
    return 0.5 * (outs[0][0] + outs[1][0]), 0.5 * (outs[0][1] + outs[1][1])


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    X_test = np.vstack(
        [rng.normal(size=(8, 4)), rng.normal(loc=2.5, size=(8, 4)), X[:2]]  # on templates too
    )
    return X, X_test


def hetero_members():
    """KDE and OC-SVM, different stiffness: g1 != g2, non-uniform weights."""
    return [("kde", KDEDetector(gamma=0.3)), ("svm", OCSVMDetector(gamma=0.6, nu=0.4))]


KL = [(None, None), (1, 1), (2, 3), (4, 2)]


# ------------------------------------------------------------ correctness
@pytest.mark.parametrize("rule", ["oc-dtd", "conservative"])
@pytest.mark.parametrize("k, l", KL)
def test_matches_explicit_midpoint_model(data, k, l, rule):
    X, X_test = data
    times = TimesEnsemble(hetero_members(), k=k, l=l, rule=rule, random_state=0).fit(X)
    o_ref, R_ref = ref_times(times, X_test)
    assert_allclose(times.outlier_score(X_test), o_ref, rtol=1e-7, atol=1e-12)
    assert_allclose(times.score_samples(X_test), -o_ref, rtol=1e-7, atol=1e-12)
    assert_allclose(times.explain(X_test), R_ref, rtol=1e-7, atol=1e-12)


#: MiB: a few template rows per block of pairs, one query row per chunk
#: (sklearn warns that one row exceeds it; the tests ignore that warning)
TINY_MEMORY = 0.002


def _n_pair_blocks(times):
    from skexplain_ad._times import PairModel

    return len(list(PairModel.of(times, np.float64).pair_blocks(0)))


def test_pair_blocks_within_block_budget():
    """Inner blocks hold at most min(working_memory, BLOCK_MIB) MiB: 32 MiB
    under sklearn's default 1 GiB, less under a smaller working_memory."""
    from skexplain_ad.base import BLOCK_MIB, block_n_rows

    row = 8 * 1000
    assert block_n_rows(row, 10**9) == BLOCK_MIB * 2**20 // row
    with config_context(working_memory=1):
        assert block_n_rows(row, 10**9) == 2**20 // row
    assert block_n_rows(row, 7) == 7


@pytest.mark.filterwarnings("ignore:Could not adhere to working_memory")
@pytest.mark.parametrize("rule", ["oc-dtd", "conservative"])
@pytest.mark.parametrize("k, l", [(None, None), (2, 3)])
def test_blocked_and_threaded_paths_match_reference(data, k, l, rule):
    # a tiny working_memory: every loop over row chunks and template-pair
    # blocks runs many times (checked), in two threads
    X, X_test = data
    times = TimesEnsemble(hetero_members(), k=k, l=l, n_jobs=2, rule=rule,
                          random_state=0).fit(X)
    o_ref, R_ref = ref_times(times, X_test)
    with config_context(working_memory=TINY_MEMORY):
        assert _n_pair_blocks(times) > 3
        assert_allclose(times.outlier_score(X_test), o_ref, rtol=1e-7, atol=1e-12)
        assert_allclose(times.explain(X_test), R_ref, rtol=1e-7, atol=1e-12)
    assert _n_pair_blocks(times) == 1


@pytest.mark.parametrize("k, l", [(None, None), (2, 2)])
def test_conservative_on_a_midpoint_sums_to_o(k, l):
    """A query exactly on a midpoint (g1 = g2: (u_i + u'_j) / 2, exact in
    binary for these values): the conservative rule spreads that pair's
    share evenly and each row sums to o (up to the skipped pairs' tol);
    both equal the explicit model."""
    U = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 1.0], [0.0, 4.0, 0.0]])
    members = [("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.5))]
    times = TimesEnsemble(members, k=k, l=l, split=False, rule="conservative").fit(U)
    Q = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0], [3.0, 3.0, 3.0]])
    o, R = times.outlier_score(Q), times.explain(Q)
    o_ref, R_ref = ref_times(times, Q)
    assert_allclose(o, o_ref, rtol=1e-12)
    assert_allclose(R, R_ref, rtol=1e-9, atol=1e-12)
    # both local models conserve their own o, so their mean conserves o
    assert_allclose(R.sum(axis=1), o, rtol=1e-8)


def test_global_score_is_sum_of_members_plus_log_alpha(data):
    # [T] eq. 2.7-2.8: o_t = o_1 + o_2 + log(alpha)
    X, X_test = data
    times = TimesEnsemble(hetero_members(), random_state=0).fit(X)
    e1, e2 = times.estimators_
    lb = (
        e1.log_weights_[:, None]
        + e2.log_weights_[None, :]
        - e1.gamma_ * e2.gamma_ / times.gamma_
        * ((e1.templates_[:, None] - e2.templates_[None]) ** 2).sum(axis=2)
    )
    assert_allclose(times.log_alpha_, logsumexp(lb), rtol=1e-12)
    assert times.gamma_ == e1.gamma_ + e2.gamma_
    o = e1.outlier_score(X_test) + e2.outlier_score(X_test) + times.log_alpha_
    assert_allclose(times.outlier_score(X_test), o, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("members", ["hetero", "equal"])
def test_local_with_all_neighbours_equals_global(data, members):
    # [T] Sec. 2.2.2, property 2: k = n, l = m gives o'_t = o_t
    X, X_test = data
    est = hetero_members() if members == "hetero" else [
        ("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=0.3))
    ]
    glob = TimesEnsemble(est, random_state=0).fit(X)
    m, n = (e.templates_.shape[0] for e in glob.estimators_)
    local = TimesEnsemble(est, k=n, l=m, random_state=0).fit(X)
    assert local.pairs_.shape[0] == m * n and local.pair_sets_.all()
    assert_allclose(local.outlier_score(X_test), glob.outlier_score(X_test), rtol=1e-10)
    assert_allclose(local.explain(X_test), glob.explain(X_test), rtol=1e-9, atol=1e-14)


def test_local_pairs_are_the_knn_pairs(data):
    X, _ = data
    times = TimesEnsemble(hetero_members(), k=2, l=3, random_state=0).fit(X)
    _, _, _, Dp = midpoint_model(times)
    s1, s2 = ref_local_sets(Dp, 2, 3)
    got1 = np.zeros_like(s1)
    got2 = np.zeros_like(s2)
    i, j = times.pairs_.T
    got1[i[times.pair_sets_[:, 0]], j[times.pair_sets_[:, 0]]] = True
    got2[i[times.pair_sets_[:, 1]], j[times.pair_sets_[:, 1]]] = True
    assert_array_equal(got1, s1)
    assert_array_equal(got2, s2)
    assert_allclose(times.pair_sq_dist_, Dp[i, j], rtol=1e-10)


def test_times_of_a_model_with_itself_is_the_merged_half_model(data):
    # [T] Sec. 2.2.1, Fig. 2.5: equal members give u_ij = u_ji; the thesis
    # merges them into m (m + 1) / 2 templates with weights 2 beta_ij.
    X, X_test = data
    est = [("a", KDEDetector(gamma=0.4)), ("b", KDEDetector(gamma=0.4))]
    times = TimesEnsemble(est, split=False).fit(X[:20])
    W, lbeta, G, _ = midpoint_model(times)
    iu, ju = np.tril_indices(W.shape[0])
    lw = lbeta[iu, ju] + np.where(iu == ju, 0.0, np.log(2.0))
    o_ref, R_ref, _, _ = ref_softmin(X_test, W[iu, ju], lw, G)
    assert_allclose(times.outlier_score(X_test), o_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(times.explain(X_test), R_ref, rtol=1e-7, atol=1e-12)
    # and C x C ranks like C ([T] Table 3.1: equal ROC)
    single = times.estimators_[0]
    assert_allclose(
        times.outlier_score(X_test), 2 * single.outlier_score(X_test) + times.log_alpha_,
        rtol=1e-10, atol=1e-12,
    )


def test_roc_of_global_times_equals_roc_of_plain_bag():
    # [T] eq. 2.8: o_t = 2 o_p + log(alpha), a monotone map
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 5))
    X_test = np.vstack([rng.normal(size=(40, 5)), rng.normal(scale=1.8, size=(40, 5))])
    y = np.r_[np.ones(40), -np.ones(40)]
    times = TimesEnsemble(hetero_members(), random_state=3).fit(X)
    bag = BaggedDetector(hetero_members(), standardize=False, split=True, random_state=3).fit(X)
    o_t, o_p = times.outlier_score(X_test), bag.outlier_score(X_test)
    assert_allclose(o_t, 2 * o_p + times.log_alpha_, rtol=1e-10)
    auc_t = roc_auc_score(y, times.decision_function(X_test))
    auc_p = roc_auc_score(y, bag.decision_function(X_test))
    assert auc_t == pytest.approx(auc_p, abs=1e-12)
    assert auc_t > 0.7  # the detectors see the wider class


@pytest.mark.parametrize("k, l", [(None, None), (2, 2)])
def test_skipping_pairs_respects_the_error_bound(k, l):
    # stiff members: the soft-argmins concentrate, most pairs are skipped
    rng = np.random.RandomState(2)
    X = rng.normal(size=(60, 3))
    X_test = rng.normal(size=(15, 3)) * 1.5
    est = [("a", KDEDetector(gamma=4.0)), ("b", KDEDetector(gamma=6.0))]
    exact = TimesEnsemble(est, k=k, l=l, tol=0.0, random_state=0).fit(X)
    o_ref, R_ref = ref_times(exact, X_test)
    assert_allclose(exact.explain(X_test), R_ref, rtol=1e-7, atol=1e-13)
    for tol in (1e-9, 1e-3, 0.3):
        R = exact.set_params(tol=tol).explain(X_test)
        err = np.abs(R_ref - R).sum(axis=1)
        assert (err <= tol * R_ref.sum(axis=1) + 1e-12).all()
        assert (R <= R_ref * (1 + 1e-9) + 1e-13).all()  # only terms are dropped


def test_float32_in_float32_out(data):
    X, X_test = data
    for kl in [(None, None), (2, 2)]:
        t64 = TimesEnsemble(hetero_members(), k=kl[0], l=kl[1], random_state=0).fit(X)
        t32 = TimesEnsemble(hetero_members(), k=kl[0], l=kl[1], random_state=0).fit(
            X.astype(np.float32)
        )
        X32 = X_test.astype(np.float32)
        assert t32.outlier_score(X32).dtype == np.float32
        assert t32.explain(X32).dtype == np.float32
        assert_allclose(t32.outlier_score(X32), t64.outlier_score(X_test), rtol=2e-4, atol=1e-4)
        assert_allclose(t32.explain(X32), t64.explain(X_test), rtol=1e-3, atol=1e-4)


@pytest.mark.filterwarnings("ignore:Could not adhere to working_memory")
@pytest.mark.parametrize("memory", [None, TINY_MEMORY])
@pytest.mark.parametrize("rule", ["oc-dtd", "conservative"])
@pytest.mark.parametrize("k, l", [(None, None), (2, 3)])
def test_pair_pooling_agrees_across_member_backends(data, k, l, rule, memory):
    """The pair pooling of every backend (the host's with numpy's or numba's
    kernels; torch's on the members' device) gives the explicit midpoint
    model, and they agree with each other to 1e-10 (float64), with one
    block and with many."""
    from skexplain_ad import backends

    X, X_test = data
    got = {}
    for b in backends.available():
        kw = {"backend": b, "device": "cpu"} if b == "torch" else {"backend": b}
        members = [(n, e.set_params(**kw)) for n, e in hetero_members()]
        times = TimesEnsemble(members, k=k, l=l, rule=rule, random_state=0).fit(X)
        with config_context(working_memory=memory or 1024):
            got[b] = (times.outlier_score(X_test), times.explain(X_test))
    o_ref, R_ref = ref_times(times, X_test)
    for b, (o, R) in got.items():
        assert_allclose(o, o_ref, rtol=1e-7, atol=1e-12)
        assert_allclose(R, R_ref, rtol=1e-7, atol=1e-12)
        assert_allclose(o, got["numpy"][0], rtol=1e-10, atol=1e-12)
        assert_allclose(R, got["numpy"][1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k, l", [(None, None), (2, 3)])
def test_torch_members_pool_on_their_device(data, k, l, monkeypatch):
    """With torch members the pairs are pooled by the torch backend's
    TorchTimes on the members' device -- scores, relevances and pixel
    flipping's subset scores: the host's pooling is never called, and the
    results equal numpy members' to 1e-10."""
    pytest.importorskip("torch")
    from skexplain_ad.backends import _host_times
    from skexplain_ad.backends._torch_times import TorchTimes

    X, X_test = data
    ref = TimesEnsemble(hetero_members(), k=k, l=l, random_state=0).fit(X)
    members = [(n, e.set_params(backend="torch", device="cpu")) for n, e in hetero_members()]
    times = TimesEnsemble(members, k=k, l=l, random_state=0).fit(X)
    # pixel flipping's rows: two samples, each with a shrinking keep
    rng = np.random.RandomState(1)
    order = [rng.permutation(X.shape[1]) for _ in range(2)]
    Xf = np.repeat(X_test[:2], X.shape[1] + 1, axis=0)
    keep = np.ones(Xf.shape, dtype=bool)
    for s, o_s in enumerate(order):
        for t in range(X.shape[1] + 1):
            keep[s * (X.shape[1] + 1) + t, o_s[:t]] = False
    methods = ("global_relevance", "local_relevance", "local_score", "global_subset",
               "local_subset")
    calls = []
    for name in methods:
        orig = getattr(TorchTimes, name)
        monkeypatch.setattr(TorchTimes, name,
                            lambda self, *a, _f=orig, _n=name: calls.append(_n) or _f(self, *a))

    def host_called(*args, **kwargs):
        raise AssertionError("the host pair pooling ran for torch members")

    for name in methods:
        monkeypatch.setattr(_host_times.HostTimes, name, host_called)
    R = times.explain(X_test)
    o = times.outlier_score(X_test)
    o_sub = times.outlier_score_subset(Xf, keep)
    kind = "global" if k is None else "local"
    assert calls[0] == f"{kind}_relevance" and calls[-1] == f"{kind}_subset"
    monkeypatch.undo()
    assert_allclose(o, ref.outlier_score(X_test), rtol=1e-10, atol=1e-12)
    assert_allclose(R, ref.explain(X_test), rtol=1e-10, atol=1e-12)
    assert_allclose(o_sub, ref.outlier_score_subset(Xf, keep), rtol=1e-10, atol=1e-12)
    assert_allclose(o_sub, ref_times(ref, Xf, keep)[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k, l", [(None, None), (2, 3)])
def test_outlier_score_subset_matches_explicit_model(data, k, l):
    # exact pixel flipping, [T] eq. 1.16, on the midpoint model(s)
    X, X_test = data
    times = TimesEnsemble(hetero_members(), k=k, l=l, random_state=0).fit(X)
    rng = np.random.RandomState(0)
    keep = rng.rand(*X_test.shape) < 0.5
    keep[0] = True
    keep[1] = False
    keep[2] = [True, False, False, False]  # few kept: the complement path
    got = times.outlier_score_subset(X_test, keep)
    assert_allclose(got, ref_times(times, X_test, keep)[0], rtol=1e-9, atol=1e-12)
    assert_allclose(got[0], times.outlier_score(X_test[:1])[0], rtol=1e-10)
    if k is None:
        assert got[1] == pytest.approx(0.0, abs=1e-12)  # o_d = 0
    with pytest.raises(ValueError, match="keep must be a boolean array"):
        times.outlier_score_subset(X_test, keep[:, :2])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("k, l", [(None, None), (2, 3)])
def test_outlier_score_subset_removal_steps(data, k, l, backend):
    """Rows repeating a sample with a shrinking keep (pixel flipping's removal
    steps, updated incrementally) equal the explicit midpoint model and the
    same rows scored one at a time, on either CPU backend of the members."""
    X, X_test = data
    members = [(n, e.set_params(backend=backend)) for n, e in hetero_members()]
    times = TimesEnsemble(members, k=k, l=l, random_state=0).fit(X)
    rng = np.random.RandomState(1)
    d = X.shape[1]
    rows, keeps = [], []
    for x in X_test[:4]:
        order = rng.permutation(d)
        for c in range(d + 1):
            kp = np.ones(d, bool)
            kp[order[:c]] = False
            rows.append(x)
            keeps.append(kp)
    Xr, K = np.array(rows), np.array(keeps)
    got = times.outlier_score_subset(Xr, K)
    alone = np.array([times.outlier_score_subset(Xr[i : i + 1], K[i : i + 1])[0]
                      for i in range(len(Xr))])
    assert_allclose(got, ref_times(times, Xr, K)[0], rtol=1e-9, atol=1e-12)
    assert_allclose(got, alone, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "estimators, match",
    [
        ([("a", KDEDetector())], "exactly 2 members"),
        ([(f"m{i}", KDEDetector()) for i in range(3)], "exactly 2 members"),
        (
            [("a", KDEDetector()), ("mean", DistanceToMean())],
            "member 'mean' \\(DistanceToMean\\) has no templates_, log_weights_, gamma_",
        ),
    ],
)
def test_bad_members(data, estimators, match):
    with pytest.raises(ValueError, match=match):
        TimesEnsemble(estimators).fit(data[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"k": 0, "l": 1}, "'k' parameter of TimesEnsemble must be an int in the range"),
        ({"k": 1, "l": 0}, "'l' parameter of TimesEnsemble must be an int in the range"),
        ({"k": 26, "l": 1}, "k=26 nearest templates of member 'b'.*k must be in \\[1, 25\\]"),
        ({"k": 1, "l": 26}, "l=26 nearest templates of member 'a'.*l must be in \\[1, 25\\]"),
        ({"k": 2, "l": None}, "k and l must both be None"),
        ({"tol": 1.0}, "'tol' parameter"),
    ],
)
def test_bad_k_l(data, params, match):
    est = [("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=0.3))]
    with pytest.raises(ValueError, match=match):
        TimesEnsemble(est, random_state=0, **params).fit(data[0])


def test_invalid_k_is_sklearns_parameter_error(data):
    est = [("a", KDEDetector()), ("b", KDEDetector())]
    with pytest.raises(InvalidParameterError):
        TimesEnsemble(est, k=-1, l=1).fit(data[0])


# ------------------------------------------------------------- properties
@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    n, d = draw(st.integers(6, 14)), draw(st.integers(1, 4))  # halves hold >= 3
    scale = draw(st.floats(0.05, 5.0))
    X = rng.normal(size=(n, d)) * scale
    Q = np.vstack([rng.normal(size=(4, d)) * scale * draw(st.floats(0.5, 6.0)), X[:1]])
    g = (draw(st.floats(0.05, 5.0)), draw(st.floats(0.05, 5.0)))
    g = tuple(gi / scale**2 for gi in g)
    local = draw(st.booleans())
    k, l = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if local else (None, None)
    return rng, X, Q, g, k, l


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(problems())
def test_property_relevance_nonnegative_bounded_conservative(problem):
    rng, X, Q, g, k, l = problem
    est = [("a", KDEDetector(gamma=g[0])), ("b", KDEDetector(gamma=g[1]))]
    times = TimesEnsemble(est, k=k, l=l, tol=0.0, random_state=0).fit(X)
    o, R = times.outlier_score(Q), times.explain(Q)
    assert (o >= 0).all() and (R >= 0).all()
    assert (R.sum(axis=1) <= o * (1 + 1e-9) + 1e-12).all()
    # sum R = sum_ij p_ij min(o, G D^2) = o - sum_ij p_ij (o - G D^2)_+ :
    # conservation exactly where o <= G D_ij^2 for every weighted pair
    W, lbeta, G, Dp = midpoint_model(times)
    sets = [np.ones(Dp.shape, bool)] if k is None else ref_local_sets(Dp, k, l)
    deficit = 0.0
    for s in sets:
        o_s, _, P, D2 = ref_softmin(Q, W[s], lbeta[s], G)
        deficit = deficit + np.sum(P * np.maximum(o_s[:, None] - G * D2, 0.0), axis=1) / len(sets)
    assert_allclose(R.sum(axis=1), o - deficit, rtol=1e-7, atol=1e-10)
    far = deficit <= 1e-15 * np.maximum(o, 1.0)
    assert_allclose(R.sum(axis=1)[far], o[far], rtol=1e-7)


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(problems(), st.integers(0, 2**31 - 1))
def test_property_permutation_of_members_rows(problem, seed):
    rng, X, Q, g, k, l = problem
    est = [("a", KDEDetector(gamma=g[0])), ("b", KDEDetector(gamma=g[1]))]
    times = TimesEnsemble(est, k=k, l=l, split=False).fit(X)
    Dp = ((X[:, None] - X[None]) ** 2).sum(axis=2)
    if k is not None:  # k-NN ties would make the pair sets order-dependent
        srt = np.sort(Dp, axis=1)
        assume(np.all(np.diff(srt, axis=1) > 1e-9 * (1 + srt[:, 1:])))
    perm = np.random.RandomState(seed).permutation(X.shape[0])
    times_p = TimesEnsemble(est, k=k, l=l, split=False).fit(X[perm])
    assert_allclose(times_p.outlier_score(Q), times.outlier_score(Q), rtol=1e-9, atol=1e-12)
    assert_allclose(times_p.explain(Q), times.explain(Q), rtol=1e-7, atol=1e-12)
