"""Extreme and degenerate inputs: the right number, or a clear ValueError.

A table of estimators x cases (skexplain_ad/_extreme.py). Scale-invariant
detectors (soft-min models and their ensembles) fitted on data of
magnitude 1e200, 1e150 or 1e-300 must give the scores and relevances of the
same model fitted on the unscaled data (the model is invariant under
x -> x / s, u -> u / s, g -> g s^2, and the gamma heuristics are
equivariant); what float64 cannot represent raises a ValueError before any
work. Never an exception from inside a kernel, never a silent NaN, inf or
constant.
"""

import importlib.util

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble
from skexplain_ad.metrics import pixel_flipping_curve
from skexplain_ad.model_selection import scale_gamma

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _kde_pair():
    return [("a", KDEDetector(gamma="scale")), ("b", KDEDetector(gamma="knn_mass"))]


INVARIANT = {
    "kde_scale": lambda: KDEDetector(),
    "kde_knn_mass": lambda: KDEDetector(gamma="knn_mass"),
    "kde_likelihood": lambda: KDEDetector(gamma="likelihood", random_state=0),
    "ocsvm": lambda: OCSVMDetector(nu=0.3),
    "bagged": lambda: BaggedDetector([("kde", KDEDetector()), ("svm", OCSVMDetector(nu=0.3))]),
    "times": lambda: TimesEnsemble(_kde_pair(), random_state=0),
    "times_local": lambda: TimesEnsemble(_kde_pair(), k=4, l=4, random_state=0),
}


def _torch_makers():
    if not HAS_TORCH:
        return {}
    import torch

    from skexplain_ad import AutoencoderDetector, DeepOneClassDetector

    def deep():
        torch.manual_seed(0)
        phi = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU())
        return DeepOneClassDetector(feature_extractor=phi, shrinkage=0.2)

    return {
        "autoencoder": lambda: AutoencoderDetector(epochs=3, random_state=0),
        "deep": deep,
    }


NOT_INVARIANT = _torch_makers()
ALL = {**INVARIANT, **NOT_INVARIANT}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    Q = np.vstack([rng.normal(size=(3, 4)), [[0.0, 0.0, 3.0, 0.0]]])
    return X, Q


@pytest.fixture(scope="module")
def references(data):
    X, Q = data
    out = {}
    for name, make in INVARIANT.items():
        det = make().fit(X)
        out[name] = (det.outlier_score(Q), det.explain(Q), det.offset_)
    return out


def _finite_checks(det, Q):
    o = det.outlier_score(Q)
    R = det.explain(Q)
    assert np.all(np.isfinite(o)) and np.all(np.isfinite(R))
    return o, R


# ----------------------------------------------- case 1: rescaled training data
@pytest.mark.parametrize("factor", [1e200, 1e150, 1e-300, 2.0**-1000], ids=str)
@pytest.mark.parametrize("name", list(ALL))
def test_training_data_of_extreme_magnitude(name, factor, data, references):
    X, Q = data
    det = ALL[name]()
    if name in NOT_INVARIANT:
        with pytest.raises(ValueError, match=r"outside \[2\*\*-100, 2\*\*100\].*not scale-invariant"):
            det.fit(X * factor)
        return
    det.fit(X * factor)
    assert det.data_scale_ != 1.0
    # a power of two: X / data_scale_ is exact
    assert np.log2(det.data_scale_) == np.round(np.log2(det.data_scale_))
    o, R = _finite_checks(det, Q * factor)
    o_ref, R_ref, offset_ref = references[name]
    # exact model; "likelihood" maximises numerically (tolerance 1e-9 in gamma),
    # and on X / s its optimiser starts from a shifted bracket
    rtol = 1e-6 if name == "kde_likelihood" else 1e-12
    assert_allclose(o, o_ref, rtol=rtol, atol=1e-14)
    assert_allclose(R, R_ref, rtol=max(rtol, 1e-9), atol=1e-12 * np.abs(R_ref).max())
    assert det.offset_ == pytest.approx(offset_ref, rel=rtol, abs=1e-14)
    # not a constant score (the old failure on 1e-300)
    assert np.ptp(o) > 0.1


def test_x1e150_times_relevance_is_not_nan(data):
    # the reported case: TimesEnsemble fitted on x1e150 gave NaN relevance
    X, Q = data
    times = TimesEnsemble(_kde_pair(), random_state=0).fit(X * 1e150)
    assert np.all(np.isfinite(times.explain(Q * 1e150)))


# ------------------------------------------------- case 2: queries far away
@pytest.mark.parametrize("name", list(ALL))
def test_query_whose_outlierness_overflows(name, data):
    X, Q = data
    det = ALL[name]().fit(X)
    for method in ("outlier_score", "explain", "score_samples", "predict"):
        with pytest.raises(ValueError, match="not representable in float64"):
            getattr(det, method)(Q * 1e200)


@pytest.mark.parametrize("name", ["kde_scale", "ocsvm"])
def test_far_query_against_brute_force(name, data):
    # o ~ 1e200 is a float64: computed, and equal to the plain formula
    X, Q = data
    det = INVARIANT[name]().fit(X)
    Qf = Q * 1e100
    o, R = _finite_checks(det, Qf)
    U, lw, g = det.templates_, det.log_weights_, det.gamma_
    for s in range(len(Qf)):
        d2 = np.array([np.sum((Qf[s] - u) ** 2) for u in U])
        o_ref = -logsumexp(lw - g * d2)
        assert o[s] == pytest.approx(o_ref, rel=1e-12)
        # o < g d_i^2 for every template: the relevance conserves o
        assert R[s].sum() == pytest.approx(o_ref, rel=1e-12)


@pytest.mark.parametrize(
    "name",
    [
        "times",
        "times_local",
        "kde_scale",
        "bagged",
    ],
)
def test_far_query_relevance_bounded(name, data):
    X, Q = data
    det = INVARIANT[name]().fit(X)
    o, R = _finite_checks(det, Q * 1e20)
    assert np.all(R >= 0)
    assert np.all(R.sum(axis=1) <= o * (1 + 1e-9))


# -------------------------------------------- case 3: identical training rows
@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("value", [0.1, 0.0, 1e200, 1e-300])
def test_identical_training_rows(name, value, data):
    _, Q = data
    C = np.full((20, 4), value)
    det = ALL[name]()
    if name in NOT_INVARIANT:
        # they standardise by the spread: round-off / round-off (gave o ~ 1e34)
        with pytest.raises(ValueError, match="training samples are identical|not scale-invariant"):
            det.fit(C)
    elif name in ("kde_knn_mass", "kde_likelihood", "times", "times_local"):
        # a distance heuristic (Times' second member uses knn_mass)
        with pytest.raises(ValueError, match="all samples coincide"):
            det.fit(C)
    else:
        # gamma="scale": 1.0 in the model's units, as sklearn's SVMs (the
        # round-off variance of 0.1s gave gamma_ = 8e31)
        det.fit(C)
        q = C[:2] + np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]) * det.data_scale_
        o, R = _finite_checks(det, q)
        if name == "kde_scale":
            assert det.gamma_ == 1.0
            assert_allclose(o, [5.0, 0.0], rtol=1e-12, atol=1e-12)
            assert_allclose(R[0], [1.0, 4.0, 0.0, 0.0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "value, unit", [(0.1, 1.0), (0.0, 1.0), (2.0**400, 2.0**400), (2.0**-400, 2.0**-400)]
)
def test_identical_rows_with_a_float_gamma(value, unit):
    # a float gamma needs no spread: o(x) = g ||x - x0||^2 exactly
    C = np.full((20, 3), value)
    g = 2.0 / unit**2
    det = KDEDetector(gamma=g).fit(C)
    q = C[:1] + np.array([[1.0, 2.0, 0.0]]) * unit
    o = det.outlier_score(q)
    d2 = np.sum(((q[0] - C[0]) / unit) ** 2)
    assert o[0] == pytest.approx(2.0 * d2, rel=1e-12)
    R = det.explain(q)[0]
    assert_allclose(R, 2.0 * ((q[0] - C[0]) / unit) ** 2, rtol=1e-12, atol=1e-12)


def test_scale_gamma_of_constant_data_is_one():
    # X.var() of 0.1s is round-off (~1e-33), not 0: it gave gamma = 8e31
    assert scale_gamma(np.full((7, 3), 0.1)) == 1.0


# ------------------------------------------------- case 4: float gamma
def test_float_gamma_in_the_users_units(data):
    X, Q = data
    f = 1e150
    ref = KDEDetector(gamma=0.3).fit(X)
    det = KDEDetector(gamma=0.3 / f**2).fit(X * f)
    assert det.gamma == 0.3 / f**2  # the parameter is left as given
    assert_allclose(det.outlier_score(Q * f), ref.outlier_score(Q), rtol=1e-12)
    assert_allclose(det.explain(Q * f), ref.explain(Q), rtol=1e-9, atol=1e-15)
    bag = BaggedDetector(
        [("a", KDEDetector(gamma=0.3 / f**2)), ("b", KDEDetector(gamma=0.1 / f**2))]
    ).fit(X * f)
    ref_bag = BaggedDetector([("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=0.1))]).fit(X)
    assert_allclose(bag.explain(Q * f), ref_bag.explain(Q), rtol=1e-9, atol=1e-15)
    # the user's member instances are not modified
    assert bag.estimators[0][1].gamma == 0.3 / f**2
    assert bag.estimators_[0].gamma_ == pytest.approx(0.3 / f**2 * bag.data_scale_**2)


@pytest.mark.parametrize("factor", [1e200, 1e-300])
def test_float_gamma_that_cannot_be_rescaled(factor, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"gamma=0.3 .* is not a positive float64"):
        KDEDetector(gamma=0.3).fit(X * factor)
    with pytest.raises(ValueError, match=r"a__gamma=0.3 .* is not a positive float64"):
        BaggedDetector([("a", KDEDetector(gamma=0.3)), ("b", KDEDetector())]).fit(X * factor)


# ----------------------------------------- consumers of the fitted model
def test_kde_score_in_the_users_units(data):
    # the density of X * f is that of X divided by f**d
    X, Q = data
    f = 2.0**700
    ref = KDEDetector().fit(X)
    det = KDEDetector().fit(X * f)
    assert det.score(Q * f) == pytest.approx(ref.score(Q) - 4 * np.log(f), rel=1e-12)


@pytest.mark.parametrize("name", ["kde_scale", "bagged", "times"])
def test_pixel_flipping_on_a_rescaled_model(name, data):
    X, Q = data
    f = 1e-300
    ref = INVARIANT[name]().fit(X)
    det = INVARIANT[name]().fit(X * f)
    _, curve_ref = pixel_flipping_curve(ref, Q)
    _, curve = pixel_flipping_curve(det, Q * f)
    assert_allclose(curve, curve_ref, rtol=1e-8, atol=1e-10)


def test_normal_data_is_not_rescaled(data):
    X, _ = data
    det = KDEDetector().fit(X * 1e20)
    assert det.data_scale_ == 1.0
    assert det.templates_[0, 0] == X[0, 0] * 1e20


# ------------------------------------------------- every backend, float32
@pytest.mark.parametrize("dtype, factors, far", [
    (np.float64, [1e200, 1e-300], 1e200),
    (np.float32, [np.float32(1e25), np.float32(1e-25)], np.float32(1e25)),
])
def test_every_backend(backend, dtype, factors, far, data):
    X, Q = (a.astype(dtype) for a in data)
    ref = KDEDetector(backend=backend).fit(X)
    o_ref, R_ref = ref.outlier_score(Q), ref.explain(Q)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for f in factors:
        det = KDEDetector(backend=backend).fit(X * f)
        assert det.data_scale_ != 1.0
        o, R = _finite_checks(det, Q * f)
        assert o.dtype == R.dtype == dtype
        assert_allclose(o, o_ref, rtol=rtol)
        assert_allclose(R, R_ref, rtol=100 * rtol, atol=rtol * np.abs(R_ref).max())
    # the old failures: ZeroDivisionError (numba), o = inf and NaN relevance
    # (numpy, torch) for float64; o = inf silently for float32
    kind = "float32" if dtype == np.float32 else "float64"
    with pytest.raises(ValueError, match=f"not representable in {kind}"):
        ref.explain(Q * far)
