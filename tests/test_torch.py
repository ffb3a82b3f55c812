"""Torch parts against slow references: backend, autoencoder.

- the torch backend equals the numpy backend ([T] eq. 1.3, 1.13-1.14);
- AutoencoderDetector: R_j = (x_j - r_j(x))^2, sum_j R_j = o ([P] Sec. 2).

CUDA tests run only where a GPU is present.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context

torch = pytest.importorskip("torch")
nn = torch.nn

from skexplain_ad import (  # noqa: E402
    AutoencoderDetector,
    KDEDetector,
    OCSVMDetector,
    TimesEnsemble,
    backends,
)
from skexplain_ad.backends._torch import TorchBackend  # noqa: E402
from skexplain_ad.detectors._torch_nets import (  # noqa: E402
    DIGIT_FEATURES_PATH,
    load_digit_features,
    make_digit_features,
)
from skexplain_ad.detectors._torch_utils import import_zennit  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
TOL = {np.float64: 1e-10, np.float32: 1e-5}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny networks: a second OpenMP thread only waits on a shared 2-core box
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def softmin_problem(seed=0, m=120, d=12, n=37):
    rng = np.random.RandomState(seed)
    U = rng.normal(size=(m, d))
    X = rng.normal(size=(n, d))
    X[0] = U[3]  # a query on a template: d = 0
    X[1] = 8.0  # far away: relevance conserved
    lw = np.log(rng.dirichlet(np.ones(m)))
    return U, X, lw, 1.0 / (d * U.var())


# ---------------------------------------------------------------- backend
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sub_chunk", [None, 7])
def test_torch_backend_equals_numpy(dtype, sub_chunk, monkeypatch):
    U, X, lw, g = softmin_problem()
    X = X.astype(dtype)
    center = U.mean(axis=0)
    ref, kern = backends.get("numpy"), backends.get("torch", "cpu")
    if sub_chunk:  # the device-sized sub-chunks inside one call
        monkeypatch.setattr(TorchBackend, "_rows_per_chunk", lambda self, *a: sub_chunk)
    p_ref = ref.prepare(U, lw, g, center, dtype)
    p = kern.prepare(U, lw, g, center, dtype)
    o_ref, R_ref = ref.softmin(X, p_ref, relevance=True)
    o, R = kern.softmin(X, p, relevance=True)
    assert o.dtype == R.dtype == dtype and isinstance(R, np.ndarray)
    rtol = TOL[dtype]
    assert_allclose(o, o_ref, rtol=rtol)
    assert_allclose(R, R_ref, rtol=rtol, atol=rtol * np.abs(R_ref).max())
    assert_allclose(kern.softmin(X, p), o_ref, rtol=rtol)
    # the ensembles' hook
    o2_ref, D2_ref = ref.softmin_distances(X, p_ref)
    o2, D2 = kern.softmin_distances(X, p)
    assert o2.dtype == D2.dtype == np.float64 and D2.shape == (len(X), len(U))
    assert (D2 >= 0).all()
    assert_allclose(D2, D2_ref, rtol=rtol, atol=rtol * D2_ref.max())
    assert_allclose(o2, o2_ref, rtol=rtol)


@pytest.mark.parametrize("Det", [KDEDetector, OCSVMDetector])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_detectors_on_torch_equal_numpy(Det, dtype):
    U, X, _, _ = softmin_problem(seed=1, m=80)
    det_np = Det(gamma="scale", backend="numpy").fit(U)
    det_t = Det(gamma="scale", backend="torch", device="cpu").fit(U)
    Xq = X.astype(dtype)
    rtol = TOL[dtype]
    with config_context(working_memory=0.02):  # several row chunks
        o, R = det_t.outlier_score(Xq), det_t.explain(Xq)
    assert o.dtype == R.dtype == dtype
    assert_allclose(o, det_np.outlier_score(Xq), rtol=rtol)
    R_ref = det_np.explain(Xq)
    assert_allclose(R, R_ref, rtol=rtol, atol=rtol * np.abs(R_ref).max())
    assert_array_equal(det_t.predict(X), det_np.predict(X))


def test_times_ensemble_on_torch_members():
    U, X, _, _ = softmin_problem(seed=2, m=60, d=5)
    members = [("a", KDEDetector(gamma=0.3)), ("b", KDEDetector(gamma=0.5))]
    torch_members = [(n, KDEDetector(gamma=e.gamma, backend="torch", device="cpu")) for n, e in members]
    ref = TimesEnsemble(members, split=False).fit(U)
    ens = TimesEnsemble(torch_members, split=False).fit(U)
    assert_allclose(ens.outlier_score(X), ref.outlier_score(X), rtol=1e-10)
    assert_allclose(ens.explain(X), ref.explain(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "device, match",
    [("tpu", "device='tpu'"), ("nonsense:", "is not a torch device")],
)
def test_backend_bad_device(device, match):
    with pytest.raises(ValueError, match=match):
        backends.get("torch", device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_requested_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="needs CUDA"):
        KDEDetector(backend="torch", device="cuda").fit(np.eye(3)).score_samples(np.eye(3))
    with pytest.raises(ValueError, match="needs CUDA"):
        AutoencoderDetector(device="cuda", epochs=1).fit(np.eye(3))


# ------------------------------------------------------------ autoencoder
def reconstruct_by_hand(det, X):
    """r(x) = m + s f((x - m) / s), with the module in float64."""
    net = det.module_.double()
    try:
        with torch.no_grad():
            Z = torch.from_numpy((np.asarray(X, np.float64) - det.input_mean_) / det.input_scale_)
            return det.input_mean_ + det.input_scale_ * net(Z).numpy()
    finally:
        det.module_.float()


@pytest.fixture(scope="module")
def ae_data():
    rng = np.random.RandomState(0)
    t = rng.normal(size=(120, 2))
    A = rng.normal(size=(2, 6))
    X = t @ A + 0.05 * rng.normal(size=(120, 6))
    return X, rng.normal(scale=3.0, size=(9, 6))


@pytest.fixture(scope="module")
def ae(ae_data):
    return AutoencoderDetector(epochs=15, random_state=0).fit(ae_data[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_autoencoder_relevance_is_squared_error(ae, ae_data, dtype):
    X = ae_data[1].astype(dtype)
    R, o = ae.explain(X), ae.outlier_score(X)
    assert R.dtype == o.dtype == dtype and (R >= 0).all()
    assert_array_equal(R.sum(axis=1), o)  # conservation, exactly
    ref = (X.astype(np.float64) - reconstruct_by_hand(ae, X)) ** 2
    rtol = TOL[dtype] * (1 if dtype == np.float64 else 10)
    assert_allclose(R, ref, rtol=rtol, atol=rtol * ref.max())
    assert_allclose(ae.score_samples(X), -o)


def test_autoencoder_is_reproducible_and_stops_early(ae, ae_data):
    X = ae_data[0]
    again = AutoencoderDetector(epochs=15, random_state=0).fit(X)
    assert_array_equal(again.score_samples(X), ae.score_samples(X))
    other = AutoencoderDetector(epochs=15, random_state=1).fit(X)
    assert not np.array_equal(other.score_samples(X), ae.score_samples(X))
    assert ae.n_iter_ == len(ae.loss_curve_) == len(ae.validation_loss_curve_) <= 15
    assert ae.best_validation_loss_ == min(ae.validation_loss_curve_)
    # patience=1 stops at the first epoch without improvement
    det = AutoencoderDetector(epochs=200, patience=1, learning_rate=0.05, random_state=0).fit(X)
    curve = det.validation_loss_curve_
    assert det.n_iter_ < 200 and curve[-1] >= min(curve[:-1])
    assert AutoencoderDetector(epochs=3, validation_fraction=0.0).fit(X).n_iter_ == 3


def test_autoencoder_architectures():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 64)
    det = AutoencoderDetector(epochs=1, random_state=0).fit(X)  # 8 x 8 images
    assert det.image_shape_ == (8, 8)
    assert any(isinstance(m, nn.Conv2d) for m in det.module_.modules())
    det = AutoencoderDetector(epochs=1, image_shape=(4, 16), random_state=0).fit(X)
    assert not any(isinstance(m, nn.Conv2d) for m in det.module_.modules())  # side 4 < 8: MLP
    det = AutoencoderDetector(epochs=1, random_state=0).fit(rng.rand(30, 784))
    convs = [m for m in det.module_.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 4 and det.image_shape_ == (28, 28)
    det = AutoencoderDetector(epochs=1, random_state=0).fit(rng.rand(30, 7))
    assert det.image_shape_ is None
    with pytest.raises(ValueError, match=r"image_shape=\(3, 3\) of AutoencoderDetector has 9 pixels"):
        AutoencoderDetector(image_shape=(3, 3)).fit(X)


def test_autoencoder_user_module():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 2), nn.Linear(2, 6))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    X = np.random.RandomState(0).normal(size=(50, 6))
    det = AutoencoderDetector(module=net, epochs=2).fit(X)
    for k, v in net.state_dict().items():  # the parameter is copied, not trained
        assert torch.equal(v, before[k])
    assert det.module_ is not net
    with pytest.raises(ValueError, match=r"must map rows of shape \(n, 6\) to reconstructions"):
        AutoencoderDetector(module=nn.Linear(6, 3), epochs=1).fit(X)


# --------------------------------------------------------- shipped weights
def test_shipped_weights():
    state = torch.load(DIGIT_FEATURES_PATH, weights_only=True)
    assert DIGIT_FEATURES_PATH.stat().st_size < 1_000_000
    assert set(state) == set(make_digit_features().state_dict())
    assert all(v.dtype == torch.float32 for v in state.values())
    net = load_digit_features()
    assert net(torch.zeros(3, 784)).shape == (3, 640) and not net.training


def test_zennit_loads_without_torchvision():
    zennit = import_zennit()
    assert hasattr(zennit.rules, "Gamma") and hasattr(zennit.composites, "LayerMapComposite")
    assert hasattr(zennit.canonizers, "SequentialMergeBatchNorm")


# ------------------------------------------------------------------ CUDA
@cuda
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_backend_equals_numpy(dtype):
    U, X, _, _ = softmin_problem(m=500, n=300)
    ref = KDEDetector(gamma="scale", backend="numpy").fit(U)
    det = KDEDetector(gamma="scale", backend="torch", device="cuda").fit(U)
    Xq, rtol = X.astype(dtype), TOL[dtype]
    assert_allclose(det.outlier_score(Xq), ref.outlier_score(Xq), rtol=rtol)
    R_ref = ref.explain(Xq)
    assert_allclose(det.explain(Xq), R_ref, rtol=rtol, atol=rtol * np.abs(R_ref).max())


