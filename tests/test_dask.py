"""Scale-out on Dask: lazy results equal to the numpy path, on a real cluster."""

import os
import signal
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble  # noqa: E402

METHODS = ["score_samples", "outlier_score", "decision_function", "predict", "explain"]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=40,
    )
    cl = distributed.Client(cluster)
    yield cl
    cl.close()
    cluster.close()


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.rand(150, 12)
    members = [("a", KDEDetector(gamma=0.7)), ("b", OCSVMDetector(gamma=0.5, nu=0.3))]
    return [
        KDEDetector(gamma=0.7).fit(X),
        OCSVMDetector(gamma=0.7, nu=0.3).fit(X),
        BaggedDetector(members, random_state=0).fit(X),
        TimesEnsemble(members, random_state=0).fit(X),
        TimesEnsemble(members, k=3, l=3, random_state=0).fit(X),
    ]


@pytest.mark.parametrize("method", METHODS)
def test_cluster_equals_numpy_to_the_bit(client, fitted, method):
    Q = np.random.RandomState(1).rand(1003, 12)
    dQ = da.from_array(Q, chunks=(200, 12))
    for det in fitted:
        lazy = getattr(det, method)(dQ)
        assert isinstance(lazy, da.Array)
        assert lazy.chunks[0] == dQ.chunks[0]
        got = client.compute(lazy).result()
        # Like with like: each worker runs the method on its block, on one
        # BLAS thread (distributed's default), so the reference runs it on
        # the same blocks on one BLAS thread, and the bits must agree. The
        # whole array in one call is another computation: BLAS (and local
        # Times, which skips pairs per row chunk) may sum in another order;
        # that agrees to round-off only (~1e-16 relative, checked below).
        bounds = np.cumsum((0,) + dQ.chunks[0])
        with threadpool_limits(limits=1, user_api="blas"):
            ref = np.concatenate(
                [getattr(det, method)(Q[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
            )
        np.testing.assert_array_equal(got, ref)
        whole = getattr(det, method)(Q)
        scale = np.abs(whole).max(axis=-1, keepdims=True) if whole.ndim == 2 else np.abs(whole)
        assert np.all(np.abs(got - whole) <= 1e-12 * scale + 1e-15)


def test_float32_stays_float32(fitted):
    Q = da.from_array(np.random.RandomState(2).rand(50, 12).astype(np.float32), chunks=(20, 12))
    assert fitted[0].explain(Q).dtype == np.float32
    assert fitted[0].score_samples(Q).compute().dtype == np.float32


def test_model_is_one_key_in_the_graph(fitted):
    # the estimator enters the graph once, not once per chunk
    dQ = da.from_array(np.random.RandomState(3).rand(1000, 12), chunks=(100, 12))
    graph = dict(fitted[0].explain(dQ).__dask_graph__())
    from sklearn.base import BaseEstimator

    holders = [k for k, v in graph.items() if isinstance(v, BaseEstimator)
               or (hasattr(v, "value") and isinstance(getattr(v, "value"), BaseEstimator))]
    assert len(holders) == 1, holders


def test_lazily_generated_rows_bounded_memory(client):
    # rows generated on the workers, never on the client; each worker holds
    # a few chunks at a time (the full 10^6 x 784 run is in benchmarks/)
    rng = np.random.RandomState(4)
    det = KDEDetector(gamma=1e-2).fit(rng.rand(200, 784).astype(np.float32))
    X = da.random.RandomState(5).random_sample((40_000, 784), chunks=(2_000, 784)).astype(np.float32)
    R = det.explain(X)
    sums = client.compute(R.sum(axis=1)).result()
    o = client.compute(det.outlier_score(X)).result()
    assert sums.shape == (40_000,) and np.all(sums <= o * (1 + 1e-4))
    mem = client.run(lambda dask_worker: dask_worker.monitor.get_process_memory())
    assert all(m < 1.5 * 2**30 for m in mem.values()), mem


def test_killed_worker_loses_no_rows(client, fitted):
    det = fitted[0]
    Q = np.random.RandomState(6).rand(4000, 12)

    def slow(block):
        time.sleep(0.05)
        return block

    dQ = da.from_array(Q, chunks=(100, 12)).map_blocks(slow, dtype=Q.dtype)
    future = client.compute(det.explain(dQ))
    time.sleep(0.3)
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    got = future.result(timeout=120)
    with threadpool_limits(limits=1, user_api="blas"):
        np.testing.assert_array_equal(got, det.explain(Q))


def test_bad_dask_input(fitted):
    det = fitted[0]
    Q = np.random.RandomState(7).rand(60, 12)
    with pytest.warns(UserWarning, match="chunked along columns"):
        lazy = det.explain(da.from_array(Q, chunks=(20, 5)))
    np.testing.assert_allclose(lazy.compute(), det.explain(Q), rtol=1e-13)
    with pytest.raises(ValueError, match="X has 11 features, but KDEDetector is expecting 12"):
        det.explain(da.from_array(Q[:, :11], chunks=(20, 11)))
    with pytest.raises(ValueError, match="Expected a 2D dask array"):
        det.outlier_score(da.from_array(Q[:, 0], chunks=20))
    Qn = Q.copy()
    Qn[45, 3] = np.nan
    with pytest.raises(ValueError, match="dask chunk of rows 40:60: Input X contains NaN"):
        det.explain(da.from_array(Qn, chunks=(20, 12))).compute()


def test_audit_on_cluster_equals_single_process(client):
    from skexplain_ad import audit

    kw = dict(detectors=["KDE", "OC-SVM"], anomalies=["stripe", "zigzag"], n_samples=12,
              n_flip=3, flip_steps=4, seed=1)
    # the local parts (fitting, pixel flipping) on one BLAS thread in both
    # runs, as the workers compute: relevance near-ties then order the same
    with threadpool_limits(limits=1, user_api="blas"):
        local = audit("digits-c", **kw)
        remote = audit("digits-c", client=client, **kw)
    num = local.select_dtypes("number").columns
    np.testing.assert_array_equal(remote[num].to_numpy(), local[num].to_numpy())


def test_cli_dask_local(tmp_path, capsys):
    from skexplain_ad.cli import main

    code = main(["audit", "--dataset", "digits-c", "--detectors", "KDE", "--corruptions", "stripe",
                 "--n-samples", "4", "--quiet", "--dask-local", "1", "--out", str(tmp_path)])
    assert code == 0 and "clever_hans_difference" in capsys.readouterr().out


def test_gamma_heuristics_blockwise(client):
    # the O(n^2) distances stay on the workers as row blocks ([T] eq. 3.1,
    # [P] likelihood); the result equals the in-memory one (knn_mass up to
    # the bisection tolerance on log(gamma), likelihood to round-off)
    from skexplain_ad.model_selection import knn_mass_gamma, likelihood_gamma

    X = np.random.RandomState(8).rand(400, 10)
    dX = da.from_array(X, chunks=(90, 10))
    np.testing.assert_allclose(knn_mass_gamma(dX), knn_mass_gamma(X), rtol=2e-6)
    np.testing.assert_allclose(knn_mass_gamma(dX, n_neighbors=7, mass=0.5),
                               knn_mass_gamma(X, n_neighbors=7, mass=0.5), rtol=2e-6)
    np.testing.assert_allclose(likelihood_gamma(dX, random_state=2),
                               likelihood_gamma(X, random_state=2), rtol=1e-9)
    from skexplain_ad import KDEDetector

    # fit accepts dask input and fits locally (the model keeps every row)
    det = KDEDetector(gamma="knn_mass").fit(dX)
    np.testing.assert_allclose(det.gamma_, knn_mass_gamma(X), rtol=2e-6)
