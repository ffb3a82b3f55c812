"""Torch parts against slow references: backend, autoencoder, deep one-class.

- the torch backend equals the numpy backend ([T] eq. 1.3, 1.13-1.14);
- AutoencoderDetector: R_j = (x_j - r_j(x))^2, sum_j R_j = o ([P] Sec. 2);
- DeepOneClassDetector: the z-rule ([P] App. A.4) and the gamma-rule
  ([P] App. A.5) written out with loops for a two-layer ReLU net, l2
  pooling, conservation on bias-free nets, BatchNorm canonization.

CUDA tests run only where a GPU is present.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context

torch = pytest.importorskip("torch")
nn = torch.nn

from skexplain_ad import (  # noqa: E402
    AutoencoderDetector,
    DeepOneClassDetector,
    KDEDetector,
    OCSVMDetector,
    TimesEnsemble,
    backends,
)
from skexplain_ad.backends._torch import TorchBackend  # noqa: E402
from skexplain_ad.detectors._torch_nets import (  # noqa: E402
    DIGIT_FEATURES_PATH,
    LETTER_FEATURES_PATH,
    L2Pool2d,
    load_digit_features,
    load_letter_features,
    make_conv_autoencoder,
    make_feature_extractor,
)
from skexplain_ad.detectors._torch_utils import import_zennit, seed_from  # noqa: E402

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
            Z = torch.from_numpy((np.asarray(X, np.float64) - det.input_offset_) / det.input_scale_)
            return det.input_offset_ + det.input_scale_ * net(Z).numpy()
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


def test_conv_autoencoder_is_the_papers_lenet():
    """[P] Sec. 3: two convolutions with max-pooling, two dense layers to a
    64-d code; a symmetric decoder with upsampling and transposed convolutions."""
    net = make_conv_autoencoder((28, 28), 64)
    kinds = [type(m).__name__ for m in net]
    code_at = kinds.index("Linear", kinds.index("Linear") + 1)  # the second dense layer
    encoder, decoder = kinds[:code_at + 1], kinds[code_at + 1:]
    assert encoder.count("Conv2d") == 2 and encoder.count("MaxPool2d") == 2
    assert encoder.count("Linear") == 2 and net[code_at].out_features == 64
    assert decoder.count("Linear") == 2 and decoder.count("ConvTranspose2d") == 2
    assert decoder.count("Upsample") == 2 and kinds[-2:] == ["Sigmoid", "Flatten"]
    x = torch.rand(5, 784)
    with torch.no_grad():
        code = net[:code_at + 1](x)
        out = net(x)
    assert code.shape == (5, 64) and out.shape == (5, 784)
    assert ((out > 0) & (out < 1)).all()
    assert make_conv_autoencoder((12, 20), 8, output="linear")(torch.rand(2, 240)).shape == (2, 240)
    # output_mean: the last bias starts at its logit (the sigmoid's centre)
    last = make_conv_autoencoder(output_mean=0.1)[-3]
    assert isinstance(last, nn.ConvTranspose2d)
    assert_allclose(last.bias.detach().numpy(), np.log(0.1 / 0.9), rtol=1e-6)
    with pytest.raises(ValueError, match="output must be 'sigmoid' or 'linear', got 'tanh'"):
        make_conv_autoencoder(output="tanh")


def blob_images(n, side=12, seed=0):
    """Images of one bright Gaussian blob at random positions, in [0, 1]."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:side, :side]
    cy, cx = rng.uniform(3, side - 4, size=(2, n))
    img = np.exp(-((yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2) / 4.0)
    return img.reshape(n, -1)


def test_conv_autoencoder_converges_and_keeps_the_best_weights():
    X = blob_images(80)
    det = AutoencoderDetector(epochs=40, patience=40, batch_size=16, learning_rate=3e-3,
                              random_state=0).fit(X)
    assert det.image_shape_ == (12, 12) and any(isinstance(m, nn.Sigmoid) for m in det.module_)
    assert det.input_offset_ == X.min() and det.input_scale_ == X.max() - X.min()
    curve = det.validation_loss_curve_
    assert det.n_iter_ == 40 and curve[-1] < 0.3 * curve[0]
    # the weights kept are those of the best epoch: recompute its validation loss
    n_val = int(np.floor(0.1 * len(X)))
    perm = np.random.RandomState(seed_from(0)).permutation(len(X))
    Xv = (X[perm[:n_val]] - det.input_offset_) / det.input_scale_
    with torch.no_grad():
        xv = torch.from_numpy(Xv).float()
        val = float(torch.mean((det.module_(xv) - xv) ** 2))
    assert val == pytest.approx(det.best_validation_loss_, rel=1e-5)
    assert det.best_validation_loss_ == min(curve)
    # a blob is reconstructed better than noise of the same energy
    noise = np.random.RandomState(1).permutation(blob_images(10, seed=2).T).T
    blobs = blob_images(10, seed=2)
    assert np.median(det.outlier_score(blobs)) < np.median(det.outlier_score(noise))


def test_conv_autoencoder_early_stopping_stops():
    X = blob_images(60)
    det = AutoencoderDetector(epochs=300, patience=3, learning_rate=0.05, batch_size=8,
                              random_state=0).fit(X)
    curve = det.validation_loss_curve_
    assert det.n_iter_ < 300 and len(curve) == det.n_iter_
    best = int(np.argmin(curve))
    # it stopped at the third epoch in a row without improvement
    assert det.n_iter_ == best + 1 + 3
    assert min(curve[best + 1:]) >= curve[best]


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


# ------------------------------------------------------- deep one-class
def relu(a):
    return np.maximum(a, 0.0)


def zrule(a, W, b, R_out):
    """[P] App. A.4: R_j = sum_k a_j w_jk / (sum_j' a_j' w_j'k + b_k) R_k, by loops."""
    R = np.zeros_like(a)
    for k in range(W.shape[0]):
        zk = sum(a[j] * W[k, j] for j in range(len(a))) + b[k]
        if zk == 0:
            continue
        for j in range(len(a)):
            R[j] += a[j] * W[k, j] / zk * R_out[k]
    return R


def gamma_rule(a, W, b, R_out, gamma):
    """[P] App. A.5 for a >= 0: R_j = sum_k a_j (w_jk + g w_jk^+) / sum_j' (...) R_k.

    The bias, modified the same way, joins the denominator (it absorbs its
    share); neurons with R_k = 0 send nothing.
    """
    R = np.zeros_like(a)
    for k in range(W.shape[0]):
        if R_out[k] == 0:
            continue
        wk = W[k] + gamma * np.maximum(W[k], 0)
        den = sum(a[j] * wk[j] for j in range(len(a))) + b[k] + gamma * max(b[k], 0)
        for j in range(len(a)):
            R[j] += a[j] * wk[j] / den * R_out[k]
    return R


def two_layer_net(seed=0, d=5, h=7, f=4, zero_bias=False):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, f), nn.ReLU()).double()
    if zero_bias:
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
    else:
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    m.bias.uniform_(-0.3, 0.3)
    return net


def deep_reference(det, net, x, gamma):
    """o and R of one row by [P] App. A.3-A.5, by loops (two-layer ReLU net)."""
    V1, c1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    V2, c2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    a1 = relu(V1 @ x + c1)
    a2 = relu(V2 @ a1 + c2)
    W, b = det.whitening_, -det.whitening_ @ det.mean_
    z = W @ a2 + b
    R_z = z**2  # A.3: the squared distance to 0
    R_a2 = zrule(a2, W, b, R_z)  # A.4: whitening, centring as bias
    R_a1 = gamma_rule(a1, V2, c2, R_a2, gamma)  # A.5
    R_x = gamma_rule(x, V1, c1, R_a1, gamma)
    return float(z @ z), R_x


@pytest.fixture(scope="module")
def deep_data():
    rng = np.random.RandomState(0)
    return rng.rand(150, 5), rng.rand(6, 5) * 2.0  # non-negative, as pixels


@pytest.mark.parametrize("gamma", [0.0, 0.25, 1.0])
def test_deep_rules_equal_brute_force(deep_data, gamma):
    X, Q = deep_data
    net = two_layer_net()
    det = DeepOneClassDetector(feature_extractor=net, lrp_gamma=gamma, shrinkage=0.3).fit(X)
    o, R = det.outlier_score(Q), det.explain(Q)
    for r, x in enumerate(Q):
        o_ref, R_ref = deep_reference(det, net, x, gamma)
        assert_allclose(o[r], o_ref, rtol=1e-12)
        assert_allclose(R[r], R_ref, rtol=1e-8, atol=1e-10 * o_ref)


def test_gamma_zero_is_the_z_rule(deep_data):
    X, Q = deep_data
    net = two_layer_net(seed=3)
    det = DeepOneClassDetector(feature_extractor=net, lrp_gamma=0.0).fit(X)
    R = det.explain(Q)
    V1, c1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    V2, c2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    W, b = det.whitening_, -det.whitening_ @ det.mean_
    for r, x in enumerate(Q):
        a1 = relu(V1 @ x + c1)
        a2 = relu(V2 @ a1 + c2)
        z = W @ a2 + b
        R_a2 = zrule(a2, W, b, z**2)
        ref = zrule(x, V1, c1, zrule(a1, V2, c2, R_a2))
        assert_allclose(R[r], ref, rtol=1e-8, atol=1e-12)
        # the formulas themselves: the gamma-rule at gamma = 0 is the z-rule
        assert_allclose(gamma_rule(a1, V2, c2, R_a2, 0.0), zrule(a1, V2, c2, R_a2), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deep_conservation_without_biases(deep_data, dtype):
    X, Q = deep_data
    det = DeepOneClassDetector(feature_extractor=two_layer_net(zero_bias=True)).fit(X)
    Qd = Q.astype(dtype)
    # the centring is the whitening layer's bias, -W mu: it absorbs
    # sum_k (-W mu)_k z_k ([P] App. A.4) ...
    z = (two_layer_net(zero_bias=True)(torch.from_numpy(Q)).detach().numpy() - det.mean_)
    z = z @ det.whitening_.T
    o = det.outlier_score(Qd)
    R = det.explain(Qd)
    assert R.dtype == o.dtype == dtype
    absorbed = -(z @ (det.whitening_ @ det.mean_))
    assert_allclose(R.sum(1, dtype=np.float64), o - absorbed, rtol=1e-5)
    # ... and with mu = 0 relevance is conserved
    det.mean_ = np.zeros_like(det.mean_)
    assert_allclose(det.explain(Qd).sum(1, dtype=np.float64), det.outlier_score(Qd), rtol=1e-5)


def test_l2_pooling_rule():
    """R_j = a_j^2 / sum_{j' in pool} a_j'^2 R_k: relevance in proportion to the squares."""
    rng = np.random.RandomState(0)
    phi = nn.Sequential(nn.Unflatten(1, (1, 4, 4)), L2Pool2d(2), nn.Flatten())
    X = rng.rand(60, 16)
    det = DeepOneClassDetector(feature_extractor=phi).fit(X)
    det.mean_ = np.zeros(4)
    x = rng.rand(16)
    a = np.sqrt((x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3) ** 2).sum(axis=(2, 3))).ravel()
    z = det.whitening_ @ a
    R_pool = zrule(a, det.whitening_, np.zeros(4), z**2)
    ref = np.empty((4, 4))
    for k in range(4):
        i, j = divmod(k, 2)
        win = x.reshape(4, 4)[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        ref[2 * i:2 * i + 2, 2 * j:2 * j + 2] = win**2 / (win**2).sum() * R_pool[k]
    assert_allclose(det.explain(x[None])[0], ref.ravel(), rtol=1e-8)
    assert_allclose(det.explain(x[None]).sum(), det.outlier_score(x[None])[0], rtol=1e-8)


def test_batchnorm_is_canonized(deep_data):
    """Linear -> BatchNorm -> ReLU explains as the merged Linear -> ReLU."""
    X, Q = deep_data
    torch.manual_seed(0)
    lin, bn = nn.Linear(5, 6).double(), nn.BatchNorm1d(6).double()
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    phi = nn.Sequential(lin, bn, nn.ReLU()).eval()
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    merged = nn.Linear(5, 6).double()
    with torch.no_grad():
        merged.weight.copy_(lin.weight * scale[:, None])
        merged.bias.copy_((lin.bias - bn.running_mean) * scale + bn.bias)
    a = DeepOneClassDetector(feature_extractor=phi).fit(X)
    b = DeepOneClassDetector(feature_extractor=nn.Sequential(merged, nn.ReLU())).fit(X)
    assert_allclose(a.outlier_score(Q), b.outlier_score(Q), rtol=1e-10)
    R = a.explain(Q)
    assert_allclose(R, b.explain(Q), rtol=1e-8, atol=1e-12)
    # LRP works on a private copy: the fitted network keeps no hook and its
    # BatchNorm, and concurrent calls (threads, dask) do not interfere
    fitted = a.feature_extractor_
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in fitted.modules())
    assert torch.equal(fitted[1].running_mean, bn.running_mean)
    with ThreadPoolExecutor(4) as pool:
        for R_thread in pool.map(a.explain, [Q] * 8):
            assert_array_equal(R_thread, R)


def test_whitening_is_shrunk_inverse_sqrt(deep_data):
    X, _ = deep_data
    net = two_layer_net()
    s = 0.2
    det = DeepOneClassDetector(feature_extractor=net, shrinkage=s).fit(X)
    F = net(torch.from_numpy(X)).detach().numpy()
    S = np.cov(F, rowvar=False, bias=True)
    k = S.shape[0]
    S_reg = (1 - s) * S + s * np.trace(S) / k * np.eye(k)
    assert_allclose(det.mean_, F.mean(0), rtol=1e-12)
    assert_allclose(det.covariance_, S_reg, rtol=1e-10, atol=1e-14)
    assert_allclose(det.whitening_ @ S_reg @ det.whitening_, np.eye(k), atol=1e-10)
    assert_allclose(det.whitening_, det.whitening_.T)
    # constant features: W = I, o = squared distance to the mean
    const = DeepOneClassDetector(feature_extractor=nn.Sequential(nn.Linear(5, 3), nn.ReLU()))
    with torch.no_grad():
        const.feature_extractor[0].weight.zero_()
    const.fit(X)
    assert_array_equal(const.whitening_, np.eye(3))


@pytest.mark.parametrize(
    "path, load", [(LETTER_FEATURES_PATH, load_letter_features), (DIGIT_FEATURES_PATH, load_digit_features)],
    ids=["letters", "digits"],
)
def test_shipped_weights(path, load):
    state = torch.load(path, weights_only=True)
    assert path.stat().st_size < 1_000_000
    assert set(state) == set(make_feature_extractor().state_dict())
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in state.values())
    net = load()
    x = torch.from_numpy(np.random.RandomState(0).rand(3, 784).astype(np.float32))
    with torch.no_grad():
        out = net(x)
    assert out.shape == (3, 640) and not net.training
    # trained weights: the loaded tensors, not a fresh initialisation
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert (out > 0).any() and (out >= 0).all()  # ReLU features, not all dead


def test_default_feature_extractor():
    from skexplain_ad.datasets import load_mnist

    X, _ = load_mnist(return_X_y=True, random_state=0)
    with pytest.raises(ValueError, match="default feature extractor is for 28 x 28 images"):
        DeepOneClassDetector().fit(X[:20, :100])
    det = DeepOneClassDetector().fit(X[:200])
    assert det.n_features_out_ == 640
    Xq = X[200:204].astype(np.float32)
    assert det.explain(Xq).shape == (4, 784) and det.explain(Xq).dtype == np.float32
    # the shipped network with its biases zeroed and mu = 0 conserves
    # relevance through convolutions, ReLU and l2 pooling
    net = load_letter_features().double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.zero_()
    det = DeepOneClassDetector(feature_extractor=net).fit(X[:200])
    det.mean_ = np.zeros_like(det.mean_)
    assert_allclose(det.explain(X[200:204]).sum(1), det.outlier_score(X[200:204]), rtol=1e-5)


def test_zennit_is_imported_plainly():
    import sys

    zennit = import_zennit()
    assert sys.modules["zennit"] is zennit and zennit.__spec__.origin == zennit.__file__
    assert hasattr(zennit, "torchvision")  # its own __init__ ran, no stand-in
    assert hasattr(zennit.rules, "Gamma") and hasattr(zennit.composites, "LayerMapComposite")
    assert hasattr(zennit.canonizers, "SequentialMergeBatchNorm")


def test_missing_zennit_names_the_extra():
    import subprocess
    import sys

    code = (
        # a finder that pretends zennit is not installed
        "import sys, importlib.abc\n"
        "class NoZennit(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'zennit':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoZennit())\n"
        "import numpy as np, torch\n"
        "from skexplain_ad import DeepOneClassDetector\n"
        "X = np.random.RandomState(0).rand(20, 3)\n"
        "det = DeepOneClassDetector(feature_extractor=torch.nn.Linear(3, 2)).fit(X)\n"
        "print(det.outlier_score(X[:2]).shape)\n"  # scoring needs no zennit
        "try:\n"
        "    det.explain(X[:2])\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
        "print('zennit' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "(2,)"
    assert lines[1].startswith("ImportError: DeepOneClassDetector.explain needs the optional "
                               "dependency zennit: pip install 'skexplain_ad[torch]'")
    assert lines[2] == "False"  # nothing written into sys.modules


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


@cuda
def test_cuda_detectors_equal_cpu(ae_data, deep_data):
    X, Q = ae_data
    ae = AutoencoderDetector(epochs=3, random_state=0).fit(X)
    gpu = AutoencoderDetector(epochs=3, random_state=0, device="cuda").fit(X)
    assert gpu.module_.training is False and next(gpu.module_.parameters()).device.type == "cpu"
    assert_allclose(ae.set_params(device="cuda").explain(Q), ae.set_params(device="cpu").explain(Q),
                    rtol=1e-10)
    X, Q = deep_data
    det = DeepOneClassDetector(feature_extractor=two_layer_net()).fit(X)
    R = det.explain(Q)
    assert_allclose(det.set_params(device="cuda").explain(Q), R, rtol=1e-8, atol=1e-12)


# ------------------------------------------------------ rendered letters
def test_render_letters_shape_range_classes_and_seed():
    from skexplain_ad.datasets._letters import render_letters

    X, y = render_letters(3, random_state=0)
    assert X.shape == (78, 784) and y.shape == (78,) and X.dtype == np.float64
    assert_array_equal(np.bincount(y, minlength=26), np.full(26, 3))
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert_allclose(X.max(axis=1), 1.0)  # each image's brightest pixel is 1
    X2, y2 = render_letters(3, random_state=0)
    assert_array_equal(X, X2)
    assert_array_equal(y, y2)
    X3, _ = render_letters(3, random_state=1)
    assert not np.array_equal(X, X3)
    imgs = X.reshape(-1, 28, 28)
    yy, xx = np.mgrid[:28, :28]
    for img in imgs:
        # MNIST-like: centre of mass at the centre, ink inside the 20 x 20 box
        # (up to the shift that centres the mass), the border black
        m = img.sum()
        assert abs((img * yy).sum() / m - 13.5) < 0.6 and abs((img * xx).sum() / m - 13.5) < 0.6
        assert img[0].max() == img[-1].max() == img[:, 0].max() == img[:, -1].max() == 0.0
        rows, cols = np.flatnonzero(img.max(1) > 0.05), np.flatnonzero(img.max(0) > 0.05)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 22


def test_render_letters_cases_and_jitter():
    from skexplain_ad.datasets._letters import render_letters

    upper, y_up = render_letters(2, case="upper", max_rotation=0, max_shear=0,
                                 scale_range=(1, 1), stroke_range=(0, 0), random_state=0)
    lower, y_lo = render_letters(2, case="lower", max_rotation=0, max_shear=0,
                                 scale_range=(1, 1), stroke_range=(0, 0), random_state=0)
    assert_array_equal(y_up, y_lo)  # same draws, other glyphs
    assert not np.allclose(upper, lower)
    # thicker strokes: more ink
    thin, _ = render_letters(4, stroke_range=(-1, -1), random_state=0)
    thick, _ = render_letters(4, stroke_range=(3, 3), random_state=0)
    assert thick.sum() > 1.3 * thin.sum()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_per_class": 0}, r"n_per_class must be an integer >= 1, got 0"),
        ({"case": "title"}, r"case must be one of .*got 'title'"),
        ({"max_rotation": -1.0}, r"max_rotation must be a finite number >= 0, got -1.0"),
        ({"scale_range": (0.0, 1.0)}, r"scale_range must be \(low, high\) with 0 < low <= high"),
        ({"stroke_range": (2, 1)}, r"stroke_range must be integers"),
        ({"stroke_range": "ab"}, r"stroke_range must be a pair of numbers"),
    ],
)
def test_render_letters_bad_parameters(params, match):
    from skexplain_ad.datasets._letters import render_letters

    with pytest.raises(ValueError, match=match):
        render_letters(**params)


def test_train_letter_features_script(tmp_path):
    """The script that made the shipped weights runs end to end (tiny run) and
    writes a state dict of the shipped extractor's shape; same seed, same tensors."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_letter_features.py"
    spec = importlib.util.spec_from_file_location("train_letter_features", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    outs = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for out in outs:
        script.main(per_class=2, epochs=1, seed=0, out=out, threads=1)
    a, b = (torch.load(p, weights_only=True) for p in outs)
    assert set(a) == set(make_feature_extractor().state_dict())
    assert all(torch.equal(a[k], b[k]) for k in a)
    shipped = torch.load(LETTER_FEATURES_PATH, weights_only=True)
    assert all(a[k].shape == shipped[k].shape for k in a)
