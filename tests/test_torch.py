"""The torch backend against the numpy backend ([T] eq. 1.3, 1.13-1.14).

CUDA tests run only where a GPU is present.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context

torch = pytest.importorskip("torch")
nn = torch.nn

from skexplain_ad import (  # noqa: E402
    KDEDetector,
    OCSVMDetector,
    TimesEnsemble,
    backends,
)
from skexplain_ad.backends._torch import TorchBackend  # noqa: E402
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


# ------------------------------------------------------------ autoencoder
# ------------------------------------------------------------------ zennit
def test_zennit_loads_without_torchvision():
    zennit = import_zennit()
    assert hasattr(zennit.rules, "Gamma") and hasattr(zennit.composites, "LayerMapComposite")
    assert hasattr(zennit.canonizers, "SequentialMergeBatchNorm")


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


