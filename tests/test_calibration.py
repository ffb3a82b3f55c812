"""Out-of-sample ``offset_`` (skexplain_ad._calibration), against brute force.

Each reference is written from the definitions, with explicit loops in
float64: the leave-one-out KDE, the OC-SVM expansion without a support
vector's own term, the bag's pooling, and the Times midpoint model built
pair by pair ([T] eq. 2.6-2.8, 2.12-2.14) with the pairs that involve the
training point removed and the pair weights renormalised.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble
from skexplain_ad._calibration import times_log_alpha_without, training_outlier_score
from skexplain_ad._times import PairModel
from skexplain_ad.ensemble._base import split_indices

from _refs import DistanceToMean, own_template, softmin_slow


# ------------------------------------------------------------ references
def _lse(v):
    v = np.asarray(v, dtype=np.float64)
    M = v.max()
    return M + np.log(np.sum(np.exp(v - M)))


def softmin_loo_slow(X, U, lw, g, own):
    """``-log sum_{i != own[r]} w_i / (1 - w_own) exp(-g ||x_r - u_i||^2)``
    (``own[r] = -1``: keep all): ``tests/_refs.py``'s :func:`softmin_slow`
    with ``exclude``."""
    return softmin_slow(X, U, lw, g, exclude=np.asarray(own))[0]


def kde_loo_slow(X, g):
    """The KDE fitted without row r, at row r (uniform weights, own row left out)."""
    n = len(X)
    return softmin_loo_slow(X, X, np.full(n, -np.log(n)), g, np.arange(n))


def ocsvm_loo_slow(det, X):
    """Each support vector scored without its own alpha; others as fitted."""
    alpha = det.ocsvm_.dual_coef_.ravel()
    sv = list(det.ocsvm_.support_)
    U = det.ocsvm_.support_vectors_
    o = np.empty(len(X))
    for r, x in enumerate(X):
        keep = [k for k in range(len(sv)) if sv[k] != r]
        s = sum(alpha[k] * np.exp(-det.gamma_ * np.sum((x - U[k]) ** 2)) for k in keep)
        o[r] = -np.log(s / sum(alpha[k] for k in keep))
    return o


def times_loo_slow(ens, X, parts, k=None, l=None):
    """The Times midpoint model(s), pair by pair, of the members without
    each training row's templates: pairs renormalised, local pair sets
    searched again among the remaining templates."""
    (e1, e2), n = ens.estimators_, len(X)
    U, V = e1.templates_, e2.templates_
    lw1, lw2 = e1.log_weights_, e2.log_weights_
    g1, g2 = e1.gamma_, e2.gamma_
    G, c = g1 + g2, g1 * g2 / (g1 + g2)
    own1, own2 = own_template(e1, parts[0], n), own_template(e2, parts[1], n)
    m2, n2 = len(U), len(V)
    D = np.array([[np.sum((U[i] - V[j]) ** 2) for j in range(n2)] for i in range(m2)])
    o = np.empty(n)
    for r, x in enumerate(X):
        I = [i for i in range(m2) if i != own1[r]]
        J = [j for j in range(n2) if j != own2[r]]
        alive = [(i, j) for i in I for j in J]
        if k is None:
            sets = [alive]
        else:  # the k-NN / l-NN search among the remaining templates
            N1 = [(i, J[t]) for i in I for t in np.argsort(D[i, J], kind="stable")[:k]]
            N2 = [(I[t], j) for j in J for t in np.argsort(D[I, j], kind="stable")[:l]]
            sets = [N1, N2]
        logb = {p: lw1[p[0]] + lw2[p[1]] - c * D[p] for p in alive}
        log_alpha = _lse(list(logb.values()))
        vals = []
        for S in sets:
            terms = []
            for (i, j) in S:
                if (i, j) not in logb:
                    continue
                mid = (g1 * U[i] + g2 * V[j]) / G
                terms.append(logb[(i, j)] - log_alpha - G * np.sum((x - mid) ** 2))
            vals.append(max(-_lse(terms), 0.0))
        o[r] = np.mean(vals)
    return o


def _data(n=30, d=3, seed=0):
    return np.random.RandomState(seed).normal(size=(n, d))


def _check_offset(det, X, o_ref):
    """offset_ is the contamination percentile of the out-of-sample scores."""
    assert_allclose(training_outlier_score(det, X), o_ref, rtol=1e-9, atol=1e-9)
    assert det.offset_ == pytest.approx(
        np.percentile(-o_ref, 100 * det.contamination), rel=1e-9, abs=1e-9
    )


# ------------------------------------------------------------- detectors
@pytest.mark.parametrize("gamma", [0.3, 3.0])
def test_kde_offset_is_leave_one_out(gamma):
    X = _data()
    det = KDEDetector(gamma=gamma, contamination=0.2).fit(X)
    o_ref = kde_loo_slow(X, gamma)
    _check_offset(det, X, o_ref)
    # the self-term kept would give the in-sample percentile: another number
    in_sample = np.percentile(det.score_samples(X), 20)
    assert abs(det.offset_ - in_sample) > 0.05


def test_kde_duplicate_training_points_keep_their_twin():
    X = _data(10)
    X = np.vstack([X, X[:3]])  # rows 10..12 repeat 0..2
    det = KDEDetector(gamma=2.0).fit(X)
    o = training_outlier_score(det, X)
    assert_allclose(o, kde_loo_slow(X, 2.0), rtol=1e-9)
    assert_allclose(o, softmin_loo_slow(X, X, det.log_weights_, 2.0, np.arange(len(X))),
                    rtol=1e-9)


def test_ocsvm_offset_drops_own_support_vector_only():
    X = _data(40)
    det = OCSVMDetector(gamma=0.5, nu=0.3, contamination=0.1).fit(X)
    sv = det.ocsvm_.support_
    assert 0 < sv.size < len(X)  # both kinds of training point occur
    o_ref = ocsvm_loo_slow(det, X)
    _check_offset(det, X, o_ref)
    # a training point that is not a support vector keeps its in-sample score
    non_sv = np.setdiff1d(np.arange(len(X)), sv)
    assert_allclose(o_ref[non_sv], det.outlier_score(X[non_sv]), rtol=1e-9)
    assert np.all(o_ref[sv] > det.outlier_score(X[sv]))


@pytest.mark.parametrize("gamma", ["scale", "knn_mass"])
def test_ocsvm_default_threshold_keeps_its_promise_held_out(gamma):
    """The default is contamination=0.1 with the out-of-sample offset_:
    predict flags about 10 % of new points of the training distribution.
    The SVM's own rho ("auto") is in-sample and flags half or more of them."""
    rng = np.random.RandomState(0)
    X, Q = rng.normal(size=(200, 5)), rng.normal(size=(4000, 5))
    det = OCSVMDetector(gamma=gamma).fit(X)
    assert det.contamination == 0.1
    _check_offset(det, X, ocsvm_loo_slow(det, X))
    assert abs(np.mean(det.predict(Q) == -1) - 0.1) <= 0.03
    auto = OCSVMDetector(gamma=gamma, contamination="auto").fit(X)
    assert np.mean(auto.predict(Q) == -1) >= 0.45


def test_ocsvm_auto_contamination_keeps_rho():
    X = _data(40)
    det = OCSVMDetector(gamma=0.5, nu=0.3, contamination="auto").fit(X)
    rho = det.ocsvm_.offset_[0]
    assert det.offset_ == pytest.approx(np.log(rho / det.ocsvm_.dual_coef_.sum()))


# ------------------------------------------------------------------- bag
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("standardize", [True, False])
def test_bag_offset_pools_members_out_of_sample(split, standardize):
    X = _data(40)
    bag = BaggedDetector(
        [("kde", KDEDetector(gamma=0.5)), ("svm", OCSVMDetector(gamma=0.5, nu=0.3))],
        split=split, standardize=standardize, random_state=0, contamination=0.15,
    ).fit(X)
    n = len(X)
    parts = split_indices(n, 2, 0) if split else [np.arange(n)] * 2
    o_ref = np.zeros(n)
    for w, est, part in zip(bag.weights_, bag.estimators_, parts):
        own = own_template(est, part, n)
        o_k = softmin_loo_slow(X, est.templates_, est.log_weights_, est.gamma_, own)
        o_ref += w * o_k  # the bag's outlier_score: the mu_k are biases
    _check_offset(bag, X, o_ref)
    if split:  # a member scores the rows it did not see as usual
        kde = bag.estimators_[0]
        unseen = parts[1]
        assert_allclose(
            softmin_loo_slow(X[unseen], kde.templates_, kde.log_weights_, kde.gamma_,
                             np.full(unseen.size, -1)),
            kde.outlier_score(X[unseen]), rtol=1e-9,
        )


def test_bag_member_without_templates_keeps_in_sample_score():
    X = _data(30)
    bag = BaggedDetector([("kde", KDEDetector(gamma=1.0)), ("mean", DistanceToMean())],
                         standardize=False).fit(X)
    kde, mean = bag.estimators_
    o_ref = 0.5 * (kde_loo_slow(X, 1.0) + mean.outlier_score(X))
    _check_offset(bag, X, o_ref)


# ----------------------------------------------------------------- Times
@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("local", [False, True])
def test_times_offset_leaves_out_the_points_pairs(split, local):
    X = _data(24)
    kl = dict(k=3, l=2) if local else {}
    ens = TimesEnsemble([("a", KDEDetector(gamma=0.4)), ("b", KDEDetector(gamma=0.9))],
                        split=split, random_state=0, contamination=0.2, **kl).fit(X)
    n = len(X)
    parts = split_indices(n, 2, 0) if split else [np.arange(n)] * 2
    o_ref = times_loo_slow(ens, X, parts, **kl)
    _check_offset(ens, X, o_ref)


@pytest.mark.parametrize("local", [False, True])
def test_times_with_ocsvm_member(local):
    X = _data(24, seed=1)
    kl = dict(k=2, l=3) if local else {}
    ens = TimesEnsemble([("a", KDEDetector(gamma=0.4)), ("b", OCSVMDetector(gamma=0.5, nu=0.4))],
                        split=False, contamination=0.1, **kl).fit(X)
    n = len(X)
    o_ref = times_loo_slow(ens, X, [np.arange(n)] * 2, **kl)
    _check_offset(ens, X, o_ref)


def test_times_log_alpha_without_cancelling_case():
    """Row i0 and column j0 carry all but ~1e-16 of alpha: the difference
    ``alpha - row - column + crossing`` would be round-off; it is summed
    pair by pair instead."""
    rng = np.random.RandomState(0)

    members = [
        SimpleNamespace(templates_=rng.normal(size=(3, 2)), gamma_=1.4,
                        log_weights_=np.log([1 - 2e-8, 1e-8, 1e-8])),
        SimpleNamespace(templates_=rng.normal(size=(4, 2)), gamma_=1.4,
                        log_weights_=np.log([1 - 3e-8, 1e-8, 1e-8, 1e-8])),
    ]

    mem = PairModel(members, np.float64)  # c = 1.4 * 1.4 / 2.8 = 0.7
    ex1, ex2 = np.array([0, 0, 1, -1]), np.array([0, -1, 2, 3])
    got = times_log_alpha_without(0.0, mem, ex1, ex2)
    for r in range(4):
        terms = [mem.lw1[i] + mem.lw2[j] - mem.c * np.sum((mem.Uc[i] - mem.Vc[j]) ** 2)
                 for i in range(3) for j in range(4) if i != ex1[r] and j != ex2[r]]
        norm = (np.log1p(-np.exp(mem.lw1[ex1[r]])) if ex1[r] >= 0 else 0.0) + (
            np.log1p(-np.exp(mem.lw2[ex2[r]])) if ex2[r] >= 0 else 0.0)
        assert got[r] == pytest.approx(min(_lse(terms) - norm, 0.0), rel=1e-9, abs=1e-12)


# --------------------------------------------------------- the held-out rate
def _blobs(seed):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(200, 8)), rng.normal(size=(4000, 8))


@pytest.mark.parametrize(
    "det",
    [
        KDEDetector(gamma="knn_mass"),
        KDEDetector(gamma=0.5),
        OCSVMDetector(gamma=0.5, nu=0.2, contamination=0.1),
        BaggedDetector([("a", KDEDetector(gamma=0.5)), ("b", OCSVMDetector(gamma=0.5))]),
        TimesEnsemble([("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.5))],
                      random_state=0),
        TimesEnsemble([("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.5))],
                      k=5, l=5, random_state=0),
    ],
    ids=["kde-knn_mass", "kde", "ocsvm", "bag", "times", "local-times"],
)
def test_held_out_inliers_flagged_at_contamination(det):
    """On held-out inliers of the training distribution, predict flags about
    ``contamination`` of them; the in-sample threshold (self-term kept)
    flags far more, so this fails if the self-term is kept."""
    X, X_new = _blobs(0)
    det.set_params(contamination=0.1).fit(X)
    rate = np.mean(det.predict(X_new) == -1)
    assert 0.05 <= rate <= 0.16, rate
    in_sample = np.percentile(det.score_samples(X), 10)
    assert np.mean(det.score_samples(X_new) < in_sample) > 0.25


def test_local_times_in_row_chunks():
    """Chunks of a few rows (working_memory of about three rows) give the
    same out-of-sample scores."""
    from sklearn import config_context

    X = _data(24)
    ens = TimesEnsemble([("a", KDEDetector(gamma=0.4)), ("b", KDEDetector(gamma=0.9))],
                        split=False, k=3, l=2).fit(X)
    whole = training_outlier_score(ens, X)
    row_bytes = 8 * (4 * ens.pairs_.shape[0] + 2 * 24)
    with config_context(working_memory=3.5 * row_bytes / 2**20):
        assert_allclose(training_outlier_score(ens, X), whole, rtol=1e-12)


def test_single_template_is_never_left_out():
    """A model whose one template carries all the weight keeps the
    in-sample score (nothing would be left without it)."""
    from skexplain_ad._calibration import softmin_exclude

    class One:
        templates_ = np.zeros((1, 2))
        log_weights_ = np.zeros(1)
        gamma_ = 1.0

        def _training_templates(self, rows):
            return np.where(rows >= 0, 0, -1)

        def _outlier_score(self, X):
            return self.gamma_ * np.sum(X**2, axis=1)

    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    assert_allclose(softmin_exclude(One(), np.array([0, -1])), [-1, -1])
    assert_allclose(training_outlier_score(One(), X), [0.0, 5.0])


def test_float32_offset():
    X = _data(30)
    det64 = KDEDetector(gamma=0.5).fit(X)
    det32 = KDEDetector(gamma=0.5).fit(X.astype(np.float32))
    assert isinstance(det32.offset_, float)
    assert det32.offset_ == pytest.approx(det64.offset_, rel=1e-5)
    assert det64.offset_ == pytest.approx(np.percentile(-kde_loo_slow(X, 0.5), 10), rel=1e-9)


def test_kde_offset_on_every_backend(backend):
    """The engine's exclude on each backend gives the same leave-one-out scores."""
    X = _data(25)
    det = KDEDetector(gamma=0.7, backend=backend).fit(X)
    _check_offset(det, X, kde_loo_slow(X, 0.7))
