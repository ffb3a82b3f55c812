"""The propagation rules (``backends/_rules.py``): twins agree, a new rule
needs that module only, and float32 relevance conserves far from the data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skexplain_ad import KDEDetector, backends
from skexplain_ad.backends import _rules
from skexplain_ad.ensemble import TimesEnsemble

from _refs import softmin_slow

BUILTIN = ("conservative", "oc-dtd")


@pytest.mark.parametrize("name", BUILTIN)
def test_twins_agree_and_weight_is_share_over_d2(name):
    rule = backends.get_rule(name)
    o = np.array([0.0, 0.3, 2.0, 50.0])[:, None]
    g = 1.7
    d2 = np.array([0.0, 1e-9, 0.1, 1.0, 30.0])[None, :]
    floor = np.full_like(d2 * o, 1e-12)
    with np.errstate(over="ignore"):
        scalar_share = np.array([[rule.share(a, g * b) for b in d2[0]] for a in o[:, 0]])
        scalar_weight = np.array([[rule.weight(a, g, b, 1e-12) for b in d2[0]] for a in o[:, 0]])
    # o = d = 0 (weight 0/0) is the one point where the twins may differ: its
    # term (x_j - u_ij)^2 = 0 and its share 0 make any finite weight right
    corner = (o == 0) & (d2 == 0)
    assert_allclose(np.broadcast_to(rule.share_np(o, g * d2), scalar_share.shape), scalar_share,
                    rtol=1e-15)
    assert_allclose(np.where(corner, 0, rule.weight_np(o, g, d2, floor)),
                    np.where(corner, 0, scalar_weight), rtol=1e-15)
    # weight = share(o, g d^2) / d^2 above the floor
    pos = d2[0] > 1e-12
    assert_allclose(scalar_weight[:, pos] * d2[:, pos], scalar_share[:, pos], rtol=1e-14)
    torch = pytest.importorskip("torch")
    ot, d2t = torch.tensor(o), torch.tensor(d2).expand(o.shape[0], -1)
    assert_allclose(rule.share_torch(ot, g * d2t).numpy(), scalar_share, rtol=1e-15)
    assert_allclose(np.where(corner, 0, rule.weight_torch(ot, g, d2t, torch.tensor(floor)).numpy()),
                    np.where(corner, 0, scalar_weight), rtol=1e-15)
    if "numba" in backends.available():
        share, weight = _rules.numba_dispatch()
        from numba import njit

        @njit
        def both(code, a, b):  # pragma: no cover - jitted
            return share(code, a, g * b), weight(code, a, g, b, 1e-12)

        with np.errstate(over="ignore"):
            for a in o[:, 0]:
                for b in d2[0]:
                    assert both(rule.code, a, b) == (rule.share(a, g * b),
                                                     rule.weight(a, g, b, 1e-12))


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="rule='nope' is not a propagation rule"):
        backends.get_rule("nope")
    with pytest.raises(ValueError, match="rule code 0 is taken"):
        backends.register_rule(backends.Rule("other", 0, *list(backends.get_rule("oc-dtd").__dict__.values())[2:]))


# a third rule, written here only: the conservative rule's half (each term
# passes o / 2), singular like it
def _half_share(o, gd2):
    return 0.5 * o


def _half_weight(o, g, d2, floor):
    return 0.5 * o / max(d2, floor, _rules.TINY)


def _half_share_np(o, gd2):
    return np.broadcast_to(0.5 * o, np.broadcast_shapes(np.shape(o), np.shape(gd2)))


def _half_weight_np(o, g, d2, floor):
    return 0.5 * o / np.maximum(np.maximum(d2, floor), _rules.TINY)


def _half_share_torch(o, gd2):
    return (0.5 * o).expand_as(gd2)


def _half_weight_torch(o, g, d2, floor):
    import torch

    return 0.5 * o / torch.maximum(d2, floor).clamp_(min=_rules.TINY)


HALF = backends.Rule("half", 7, True, _half_share, _half_weight, _half_share_np,
                     _half_weight_np, _half_share_torch, _half_weight_torch, "test")


@pytest.fixture
def half_rule(monkeypatch):
    monkeypatch.setitem(_rules.RULES, "half", HALF)
    return "half"


def test_toy_rule_on_every_backend(half_rule, backend):
    rng = np.random.RandomState(0)
    X = rng.rand(40, 5)
    Q = np.vstack([rng.rand(6, 5) * 2, X[:2]])  # far and on-template queries
    det = KDEDetector(gamma=2.0, rule=half_rule, backend=backend).fit(X)
    _, R_ref = softmin_slow(Q, det.templates_, det.log_weights_, det.gamma_, rule="conservative")
    assert_allclose(det.explain(Q), 0.5 * R_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(det.explain(Q).sum(axis=1), 0.5 * det.outlier_score(Q), rtol=1e-10)


@pytest.mark.parametrize("local", [False, True])
def test_toy_rule_in_times(half_rule, backend, local):
    rng = np.random.RandomState(1)
    X = rng.rand(60, 4)
    Q = rng.rand(5, 4) * 1.5
    kw = {"k": 6, "l": 6} if local else {}
    members = [("a", KDEDetector(gamma=3.0, backend=backend)),
               ("b", KDEDetector(gamma=1.0, backend=backend))]
    half = TimesEnsemble(members, rule=half_rule, random_state=0, **kw).fit(X)
    cons = TimesEnsemble(members, rule="conservative", random_state=0, **kw).fit(X)
    assert_allclose(half.explain(Q), 0.5 * cons.explain(Q), rtol=1e-9, atol=1e-12)


def test_rule_parameter_reads_the_registry(half_rule):
    KDEDetector(rule=half_rule).fit(np.random.RandomState(0).rand(5, 2))
    with pytest.raises(ValueError, match="'rule' parameter"):
        KDEDetector(rule="third").fit(np.random.RandomState(0).rand(5, 2))


# ---------------------------------------------------------------- float32
def _f32_case(gamma, offset, rule, backend, seed=0, scale=1.0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    Q = (rng.normal(size=(12, 8)) * scale + offset).astype(np.float32)
    det = KDEDetector(gamma=gamma, rule=rule, backend=backend).fit(X)
    return det.outlier_score(Q).astype(np.float64), det.explain(Q).astype(np.float64)


def _check_f32(o, R, rule):
    finite = np.isfinite(o)
    assert np.isfinite(R[finite]).all(), "inf relevance where o is finite"
    assert (R >= 0).all()
    s = R.sum(axis=1)
    if rule == "conservative":
        assert_allclose(s[finite], o[finite], rtol=1e-5, atol=1e-30)
    else:
        assert (s[finite] <= o[finite] * (1 + 1e-5) + 1e-30).all()


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends.available())
@settings(max_examples=25, deadline=None)
@given(log_gamma=st.floats(-6, 4), offset=st.floats(0, 1e3), rule=st.sampled_from(BUILTIN))
def test_float32_conserves_far_from_the_data(backend, log_gamma, offset, rule):
    o, R = _f32_case(10.0 ** log_gamma, offset, rule, backend)
    _check_f32(o, R, rule)


@pytest.mark.parametrize("rule", BUILTIN)
@pytest.mark.parametrize("gamma, offset", [(1e4, 30.0), (100.0, 1e3), (1e4, 1e15)])
def test_float32_far_queries(backend, rule, gamma, offset):
    # issue 20's reproducer (1e4, 30), the inf row (100, 1e3), and scores
    # near the largest finite float32 (o ~ 1e34)
    o, R = _f32_case(gamma, offset, rule, backend)
    assert np.isfinite(o).all()
    _check_f32(o, R, rule)


@pytest.mark.parametrize("rule", BUILTIN)
def test_float32_scaled_queries_have_no_inf(backend, rule):
    # issue 20: gamma=100, queries x 1e3: a whole row was inf (o ~ 2e9)
    o, R = _f32_case(100.0, 0.0, rule, backend, scale=1e3)
    _check_f32(o, R, rule)
