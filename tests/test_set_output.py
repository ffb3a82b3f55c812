"""sklearn's set_output API on ``explain``: DataFrames in, DataFrames out."""

import importlib.util
import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.base import clone

from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector, TimesEnsemble

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _torch_detectors():
    if not HAS_TORCH:
        return []
    import torch

    from skexplain_ad import AutoencoderDetector, DeepOneClassDetector

    torch.manual_seed(0)
    phi = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU())
    return [
        ("autoencoder", lambda: AutoencoderDetector(epochs=3, random_state=0)),
        ("deep", lambda: DeepOneClassDetector(feature_extractor=phi, shrinkage=0.2)),
    ]


DETECTORS = [
    ("kde", lambda: KDEDetector(gamma=0.5)),
    ("ocsvm", lambda: OCSVMDetector(gamma=0.5, nu=0.3)),
    ("bagged", lambda: BaggedDetector(
        [("a", KDEDetector(gamma=0.5)), ("b", OCSVMDetector(gamma=0.5, nu=0.3))])),
    ("times", lambda: TimesEnsemble(
        [("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.5))], random_state=0)),
    ("times_local", lambda: TimesEnsemble(
        [("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.5))], k=3, l=3,
        random_state=0)),
    *_torch_detectors(),
]
IDS = [name for name, _ in DETECTORS]
MAKERS = [make for _, make in DETECTORS]

COLUMNS = ["temp", "pressure", "flow", "vibration"]


@pytest.fixture(scope="module")
def frames():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    Q = np.vstack([rng.normal(size=(4, 4)), [[0.0, 0.0, 4.0, 0.0]]])
    df = pd.DataFrame(X, columns=COLUMNS, index=np.arange(100, 160))
    dq = pd.DataFrame(Q, columns=COLUMNS, index=["a", "b", "c", "d", "e"])
    return df, dq


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_dataframe_in_dataframe_out(make, frames):
    df, dq = frames
    det = make().fit(df)
    assert list(det.feature_names_in_) == COLUMNS
    ref = det.explain(dq)
    assert isinstance(ref, np.ndarray)  # the default stays an ndarray
    assert det.set_output(transform="pandas") is det
    R = det.explain(dq)
    assert isinstance(R, pd.DataFrame)
    assert list(R.columns) == COLUMNS
    assert list(R.index) == list(dq.index)
    assert_allclose(R.to_numpy(), ref, rtol=0, atol=0)
    # back to arrays
    assert isinstance(det.set_output(transform="default").explain(dq), np.ndarray)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_global_config(make, frames):
    df, dq = frames
    det = make().fit(df)
    ref = det.explain(dq)
    with sklearn.config_context(transform_output="pandas"):
        R = det.explain(dq)
    assert isinstance(R, pd.DataFrame)
    assert list(R.columns) == COLUMNS and list(R.index) == list(dq.index)
    assert_allclose(R.to_numpy(), ref, rtol=0, atol=0)
    sklearn.set_config(transform_output="pandas")
    try:
        assert isinstance(det.explain(dq), pd.DataFrame)
        # the estimator's own setting wins over the global one
        assert isinstance(det.set_output(transform="default").explain(dq), np.ndarray)
    finally:
        sklearn.set_config(transform_output="default")
    assert isinstance(make().fit(df).explain(dq), np.ndarray)


def test_array_input_gets_feature_names(frames):
    df, dq = frames
    det = KDEDetector(gamma=0.5).fit(df).set_output(transform="pandas")
    with pytest.warns(UserWarning, match="feature names"):
        R = det.explain(dq.to_numpy())
    assert list(R.columns) == COLUMNS
    assert list(R.index) == list(range(len(dq)))
    plain = KDEDetector(gamma=0.5).fit(df.to_numpy()).set_output(transform="pandas")
    assert list(plain.explain(dq.to_numpy()).columns) == ["x0", "x1", "x2", "x3"]


def test_only_explain_is_wrapped(frames):
    df, dq = frames
    det = KDEDetector(gamma=0.5).fit(df).set_output(transform="pandas")
    for method in ("score_samples", "decision_function", "predict", "outlier_score"):
        assert isinstance(getattr(det, method)(dq), np.ndarray)


def test_setting_survives_clone_and_pickle(frames):
    df, dq = frames
    det = KDEDetector(gamma=0.5).set_output(transform="pandas")
    assert isinstance(clone(det).fit(df).explain(dq), pd.DataFrame)
    fitted = pickle.loads(pickle.dumps(det.fit(df)))
    assert isinstance(fitted.explain(dq), pd.DataFrame)


def test_bad_option():
    with pytest.raises(ValueError, match=r"KDEDetector.set_output: transform must be one of .*'pandas'.*got transform='excel'"):
        KDEDetector().set_output(transform="excel")
    assert KDEDetector().set_output(transform=None).__dict__.get("_sklearn_output_config") is None


def test_members_with_pandas_output(frames):
    # a member configured for pandas must not change the ensemble's numbers
    df, dq = frames
    members = [("a", KDEDetector(gamma=0.5).set_output(transform="pandas")),
               ("b", KDEDetector(gamma=0.2))]
    bag = BaggedDetector(members).fit(df)
    ref = BaggedDetector([("a", KDEDetector(gamma=0.5)), ("b", KDEDetector(gamma=0.2))]).fit(df)
    assert_allclose(bag.explain(dq), ref.explain(dq), rtol=0, atol=0)


def test_dask_input_stays_dask(frames):
    da = pytest.importorskip("dask.array")
    df, dq = frames
    det = KDEDetector(gamma=0.5).fit(df.to_numpy()).set_output(transform="pandas")
    X = da.from_array(dq.to_numpy(), chunks=(2, 4))
    with sklearn.config_context(transform_output="pandas"):
        lazy = det.explain(X)
        assert isinstance(lazy, da.Array)
        out = lazy.compute(scheduler="synchronous")
    assert isinstance(out, np.ndarray)
    assert_allclose(out, det.set_output(transform="default").explain(dq.to_numpy()))


@pytest.mark.skipif(importlib.util.find_spec("polars") is None, reason="polars not installed")
def test_polars(frames):
    import polars as pl

    df, dq = frames
    det = KDEDetector(gamma=0.5).fit(pl.from_pandas(df)).set_output(transform="polars")
    R = det.explain(pl.from_pandas(dq))
    assert isinstance(R, pl.DataFrame)
    assert R.columns == COLUMNS
