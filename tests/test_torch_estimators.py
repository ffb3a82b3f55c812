"""The torch detectors as scikit-learn estimators: persistence, search,
pipelines, ensembles, and the lazy import that keeps torch optional (sklearn's
own checks of every estimator: tests/test_estimators.py)."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

torch = pytest.importorskip("torch")
nn = torch.nn

from skexplain_ad import (  # noqa: E402
    AutoencoderDetector,
    BaggedDetector,
    DeepOneClassDetector,
    KDEDetector,
)
from skexplain_ad.model_selection import InlierKFold  # noqa: E402

METHODS = ["score_samples", "outlier_score", "decision_function", "predict", "explain"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny problems: one thread


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    t = rng.rand(150, 2)
    X = np.hstack([t, t.sum(1, keepdims=True), t[:, :1] - t[:, 1:]]) + 0.02 * rng.rand(150, 4)
    X_out = rng.rand(12, 4) * 3.0
    return X, X_out


def make_detectors():
    torch.manual_seed(0)
    phi = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU())
    return [
        AutoencoderDetector(epochs=10, random_state=0),
        DeepOneClassDetector(feature_extractor=phi, shrinkage=0.2),
    ]


@pytest.mark.parametrize("det", make_detectors(), ids=["auto", "deep"])
def test_persistence_and_clone(det, data, tmp_path):
    X, X_out = data
    det = clone(det).fit(X)
    ref = {m: getattr(det, m)(X_out) for m in METHODS}
    det2 = pickle.loads(pickle.dumps(det))
    joblib.dump(det, tmp_path / "det.joblib")
    det3 = joblib.load(tmp_path / "det.joblib")
    det4 = clone(det).fit(X)  # random_state / fixed features: same model
    for other in (det2, det3, det4):
        for m in METHODS:
            assert_array_equal(getattr(other, m)(X_out), ref[m])
    # the fitted networks live on the CPU (what is pickled)
    module = getattr(det2, "module_", None) or det2.feature_extractor_
    assert all(p.device.type == "cpu" for p in module.parameters())


@pytest.mark.parametrize("det", make_detectors(), ids=["auto", "deep"])
def test_float32_in_float32_out(det, data):
    X, X_out = data
    det = clone(det).fit(X.astype(np.float32))
    for m in ("score_samples", "outlier_score", "decision_function", "explain"):
        out32 = getattr(det, m)(X_out.astype(np.float32))
        out64 = getattr(det, m)(X_out)
        assert out32.dtype == np.float32 and out64.dtype == np.float64
        assert_allclose(out32, out64, rtol=2e-4, atol=2e-4 * np.abs(out64).max())


def test_grid_search_shrinkage_on_labelled_validation(data):
    X, X_out = data
    Xv = np.vstack([X, X_out])
    y = np.r_[np.ones(len(X)), -np.ones(len(X_out))]
    det = make_detectors()[1]
    search = GridSearchCV(
        det, {"shrinkage": [0.01, 0.3, 1.0]}, cv=InlierKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(Xv, y)
    assert search.best_params_["shrinkage"] in (0.01, 0.3, 1.0)
    assert search.best_score_ > 0.5
    assert search.best_estimator_.n_features_in_ == 4


def test_bagging_torch_members(data):
    X, X_out = data
    auto, deep = make_detectors()
    bag = BaggedDetector([("auto", auto), ("deep", deep), ("kde", KDEDetector(gamma=2.0))]).fit(X)
    R = bag.explain(X_out)
    ref = sum(w * est.explain(X_out) for w, est in zip(bag.weights_, bag.estimators_))
    assert_allclose(R, ref, rtol=1e-12)
    # the relevance-carrying score (no mu_k, [P] App. A.1) and the paper's
    # standardised one
    o = sum(w * est.outlier_score(X_out) for w, est in zip(bag.weights_, bag.estimators_))
    assert_allclose(bag.outlier_score(X_out), o, rtol=1e-12)
    z = sum(w * (est.outlier_score(X_out) - mu)
            for w, mu, est in zip(bag.weights_, bag.means_, bag.estimators_))
    assert_allclose(bag.standardized_score(X_out), z, rtol=1e-10, atol=1e-12)


def test_pipeline(data):
    """The pipeline equals scaling by hand, then a float64 reconstruction error."""
    X, X_out = data
    X_fit, Q = X * 10 + 3, X_out * 10 + 3
    pipe = make_pipeline(MinMaxScaler(), make_detectors()[0]).fit(X_fit)
    # reference: the same detector fitted by hand on the scaled rows, its
    # score the squared reconstruction error computed here in float64
    lo, hi = X_fit.min(axis=0), X_fit.max(axis=0)
    det = clone(make_detectors()[0]).fit((X_fit - lo) / (hi - lo))
    Qs = (Q - lo) / (hi - lo)
    with torch.no_grad():
        net = det.module_.double()
        Z = torch.from_numpy((Qs - det.input_offset_) / det.input_scale_)
        recon = det.input_offset_ + det.input_scale_ * net(Z).numpy()
        det.module_.float()
    o_ref = ((Qs - recon) ** 2).sum(axis=1)
    assert_allclose(pipe.score_samples(Q), -o_ref, rtol=1e-5)
    assert_allclose(pipe.decision_function(Q), -o_ref - det.offset_, rtol=1e-5, atol=1e-7)
    assert_array_equal(pipe.predict(Q), np.where(-o_ref - det.offset_ < 0, -1, 1))
    assert (pipe.predict(Q) == -1).any()  # the far rows are outliers


@pytest.mark.parametrize(
    "Est, params, match",
    [
        (DeepOneClassDetector, {"shrinkage": 0.0}, r"'shrinkage' parameter of DeepOneClassDetector .*Got 0.0"),
        (DeepOneClassDetector, {"lrp_gamma": -1.0}, r"'lrp_gamma' parameter .*Got -1.0"),
        (DeepOneClassDetector, {"feature_extractor": "cnn"}, r"'feature_extractor' parameter .*Got 'cnn'"),
        (AutoencoderDetector, {"epochs": 0}, r"'epochs' parameter of AutoencoderDetector .*Got 0"),
        (AutoencoderDetector, {"validation_fraction": 1.0}, r"'validation_fraction' parameter .*Got 1.0"),
        (AutoencoderDetector, {"module": "lenet"}, r"'module' parameter .*Got 'lenet'"),
        (AutoencoderDetector, {"device": "gpu"}, r"device='gpu'"),
    ],
)
def test_bad_parameters(Est, params, match, data):
    with pytest.raises(ValueError, match=match):
        Est(**params).fit(data[0])


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_import_does_not_import_torch():
    res = _run(
        "import sys, skexplain_ad, skexplain_ad.detectors, skexplain_ad.backends;"
        "print('torch' in sys.modules, 'zennit' in sys.modules)"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False"]


def test_missing_torch_names_the_extra():
    res = _run(
        # a finder that pretends torch is not installed
        "import sys, importlib.abc\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import skexplain_ad\n"
        "from skexplain_ad import KDEDetector\n"
        "try:\n"
        "    skexplain_ad.AutoencoderDetector\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
        "try:\n"
        "    KDEDetector(backend='torch').fit([[0.0], [1.0]]).score_samples([[0.0]])\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ImportError: AutoencoderDetector needs the optional dependency torch")
    assert all("pip install 'skexplain_ad[torch]'" in line for line in lines)
