"""The Clever Hans audit end to end: function, report, baselines, checks, known facts."""

import json
import re
import warnings

import numpy as np
import pytest

from skexplain_ad import audit
from skexplain_ad._audit import COLUMNS, DETECTOR_NAMES, EXPLAINERS, STAGES, AuditWarning
from skexplain_ad._audit import _run as run_module
from skexplain_ad._audit._baselines import (
    distance_to_mean,
    kernel_shap,
    occlusion,
    random_relevance,
    shap_background,
)
from skexplain_ad._audit._registry import Prefit, check_detectors, make_detector

SMALL = dict(n_samples=12, n_flip=3, flip_steps=5, n_occlusion=2, n_shap=2, shap_nsamples=80)


def has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def small_audit(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuditWarning)
        table = audit("digits-c", detectors=["KDE", "OC-SVM"], anomalies=["stripe", "fog", "rotate"],
                      n_examples=2, out=out, **SMALL)
    return table, out


def test_table_shape_and_ranges(small_audit):
    table, _ = small_audit
    assert list(table.columns) == COLUMNS
    explainers = [e for e in EXPLAINERS if e != "kernel-shap" or has("shap")]
    assert set(table.explainer) == set(explainers)
    lrp = table[table.explainer == "lrp"]
    assert len(lrp) == 3 * 2
    assert set(lrp.detector) == {"KDE", "OC-SVM"} and set(lrp.anomaly) == {"stripe", "fog", "rotate"}
    for col in ("roc_auc", "cosine", "pixel_flipping_auc", "pixel_flipping_auc_random",
                "primary_cosine_same_rows", "roc_auc_ci_low", "roc_auc_ci_high", "cosine_ci_low",
                "cosine_ci_high", "reference_cosine", "agreement_with_primary"):
        assert table[col].between(0, 1).all(), col
    # every interval holds its estimate
    assert (table.roc_auc_ci_low <= table.roc_auc + 1e-12).all()
    assert (table.roc_auc <= table.roc_auc_ci_high + 1e-12).all()
    assert (table.cosine_ci_low <= table.cosine + 1e-12).all()
    assert (table.cosine <= table.cosine_ci_high + 1e-12).all()
    gain = table.cosine - table.reference_cosine
    assert ((table.cosine_gain_ci_low <= gain + 1e-12) & (gain <= table.cosine_gain_ci_high + 1e-12)).all()
    np.testing.assert_allclose(table.clever_hans_difference, table.roc_auc - table.cosine)
    np.testing.assert_allclose(table.clever_hans_ratio, table.roc_auc / table.cosine)
    # the primary rows first, then the baselines in the registry's order
    assert table.primary.tolist() == sorted(table.primary.tolist(), reverse=True)
    assert (table.primary == (table.explainer == "lrp")).all()
    order = [list(EXPLAINERS).index(e) for e in table.explainer]
    assert order == sorted(order)
    # the ROC is the detector's, whatever explains it
    assert (table.groupby(["detector", "anomaly"]).roc_auc.nunique() == 1).all()
    np.testing.assert_allclose(lrp.primary_cosine_same_rows, lrp.cosine)
    np.testing.assert_allclose(lrp.agreement_with_primary, 1.0)
    assert lrp.cosine_vs_primary_ci_low.isna().all()
    base = table[~table.primary]
    assert base.cosine_vs_primary_ci_low.notna().all()
    # the random explainer is its own reference: a gain of exactly 0
    rnd = table[table.explainer == "random"]
    np.testing.assert_allclose(rnd.cosine, rnd.reference_cosine)
    counts = {"lrp": 12, "random": 12, "distance-to-mean": 12, "occlusion": 2}
    for e, n in counts.items():
        assert (table[table.explainer == e].n_explained == n).all(), e
    assert (table.n_outliers == 12).all()
    if has("shap"):  # 2 per detector, round-robin over the anomaly types
        ks = table[table.explainer == "kernel-shap"]
        assert ks.groupby("detector").n_explained.sum().tolist() == [2, 2]
    # the relevance order removes the outlierness faster than a random order
    assert (lrp.pixel_flipping_auc < lrp.pixel_flipping_auc_random).all()
    assert (table.explain_seconds_per_sample >= 0).all()


def test_report_files_and_timings(small_audit):
    table, out = small_audit
    for name in ("results.csv", "results.json", "index.html"):
        assert (out / name).is_file()
    html = (out / "index.html").read_text()
    refs = re.findall(r"src=['\"]([^'\"]+\.png)['\"]", html)
    assert refs
    for ref in refs:
        assert (out / ref).is_file(), ref
    import pandas as pd

    back = pd.read_csv(out / "results.csv")
    assert list(back.columns) == COLUMNS
    np.testing.assert_allclose(back.roc_auc, table.roc_auc)
    payload = json.loads((out / "results.json").read_text())
    t = payload["timings"]
    assert t == table.attrs["timings"]
    assert list(t["stages"]) == list(STAGES)
    # the stages add up to the wall time, the report's own time included
    assert sum(t["stages"].values()) == pytest.approx(t["wall_seconds"], abs=2e-3)
    assert t["stages"]["report"] > 0 and t["stages"]["fit"] > 0
    assert set(t["detectors"]) == {"KDE", "OC-SVM"}
    assert "feature_names" not in payload
    assert table.attrs["report"] == str(out.resolve())


def test_kde_detects_brightness_and_stripe_on_mnist():
    # [P] Fig. 2: KDE detects these corruptions almost perfectly.
    table = audit("mnist-c", detectors=["KDE"], anomalies=["brightness", "stripe"],
                  explainers=["lrp"], n_digits=600, n_samples=30, n_flip=1, flip_steps=2)
    assert (table.roc_auc > 0.95).all(), table


def test_same_seed_same_table():
    kw = dict(detectors=["KDE"], anomalies=["zigzag"], explainers=["lrp", "random", "occlusion"],
              n_samples=8, n_flip=2, flip_steps=3, n_occlusion=2)
    a, b = audit("digits-c", seed=3, **kw), audit("digits-c", seed=3, **kw)
    num = a.select_dtypes("number").columns.drop("explain_seconds_per_sample")
    np.testing.assert_array_equal(a[num].to_numpy(), b[num].to_numpy())


# ---------------------------------------------------------------------------
# baselines: brute force
# ---------------------------------------------------------------------------

def test_distance_to_mean_brute_force():
    rng = np.random.RandomState(0)
    X, train = rng.rand(4, 6), rng.rand(30, 6)
    mean = train.mean(axis=0)
    R = distance_to_mean(X, mean)
    for i in range(4):
        for j in range(6):
            m = sum(float(train[k, j]) for k in range(30)) / 30
            assert R[i, j] == pytest.approx((float(X[i, j]) - m) ** 2, rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError, match=r"mean must have shape \(6,\)"):
        distance_to_mean(X, mean[:3])


def test_occlusion_brute_force_through_a_detector():
    from skexplain_ad import KDEDetector

    rng = np.random.RandomState(1)
    train, X = rng.rand(40, 7), rng.rand(5, 7) + 0.5
    det = KDEDetector(gamma=2.0).fit(train)
    mean = train.mean(axis=0)
    calls = []

    def score(Z):
        calls.append(len(Z))
        return det.outlier_score(Z)

    R = occlusion(score, X, mean, working_memory=7 * 7 * 8 * 2 * 2 / 2**20)  # 2 samples per batch
    assert calls == [5, 14, 14, 7]  # o(X), then whole samples, d occluded copies each

    def o(x):  # plain float64 KDE outlierness, [P] Eq. (1)
        d2 = [sum((x[j] - u[j]) ** 2 for j in range(7)) for u in train]
        return -np.log(sum(np.exp(-2.0 * v) for v in d2) / len(train))

    for i in range(5):
        for j in range(7):
            z = X[i].copy()
            z[j] = mean[j]
            assert R[i, j] == pytest.approx(o(X[i]) - o(z), rel=1e-9, abs=1e-12)


def test_random_relevance_is_seeded_noise():
    X = np.zeros((3, 5))
    a, b = random_relevance(X, 0), random_relevance(X, 0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 5) and ((a >= 0) & (a < 1)).all()
    assert not np.array_equal(a, random_relevance(X, 1))


@pytest.mark.skipif(not has("shap"), reason="needs shap")
def test_kernel_shap_exact_on_a_linear_model():
    # with every coalition enumerated (2^4 < nsamples), KernelSHAP of a linear
    # model is w_j (x_j - mean of the background_j), exactly
    rng = np.random.RandomState(2)
    w, X, bg = rng.randn(4), rng.rand(3, 4), rng.rand(6, 4)

    def f(Z):
        return Z @ w

    state = np.random.get_state()
    R = kernel_shap(f, X, bg, nsamples=100, random_state=0)
    np.testing.assert_allclose(R, w * (X - bg.mean(axis=0)), atol=1e-8)
    # numpy's global generator is left as it was
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert shap_background(rng.rand(30, 4), 5, random_state=0).shape == (5, 4)


# ---------------------------------------------------------------------------
# the models: ensembles built on fitted members equal fresh ones
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from skexplain_ad._audit import load_audit_dataset

    return load_audit_dataset("digits-c", anomalies=["fog"], n_samples=10, n_digits=300)


@pytest.mark.parametrize("name", ["C1+C2", "C1xC2", "C1xC2-local"])
def test_c1_c2_ensembles_on_prefit_halves_equal_fresh(digits, name):
    from skexplain_ad.ensemble._base import split_indices

    X = digits.data_train
    halves = {c: make_detector("OC-SVM").fit(X[p])
              for c, p in zip(("C1", "C2"), split_indices(len(X), 2, 5))}
    reused = make_detector(name, members=halves, random_state=5).fit(X)
    fresh = make_detector(name, random_state=5).fit(X)
    Q = digits.data
    np.testing.assert_allclose(reused.outlier_score(Q), fresh.outlier_score(Q), rtol=1e-10)
    np.testing.assert_allclose(reused.explain(Q[-5:]), fresh.explain(Q[-5:]), rtol=1e-9, atol=1e-12)


def test_prefit_members_and_their_memory(digits):
    from sklearn.base import clone

    from skexplain_ad import BaggedDetector, KDEDetector

    X, Q = digits.data_train, digits.data
    a, b = KDEDetector(gamma=0.02).fit(X), KDEDetector(gamma=0.05).fit(X)
    pa = Prefit(a)
    assert clone(pa) is pa and pa.fit(X[:3]) is pa and pa.templates_ is a.templates_
    bag = BaggedDetector([("a", pa), ("b", Prefit(b))]).fit(X)
    fresh = BaggedDetector([("a", KDEDetector(gamma=0.02)), ("b", KDEDetector(gamma=0.05))]).fit(X)
    np.testing.assert_allclose(bag.outlier_score(Q), fresh.outlier_score(Q), rtol=1e-12)
    np.testing.assert_allclose(bag.explain(Q), fresh.explain(Q), rtol=1e-12)
    # results are remembered per input content, not per object
    first = pa.explain(Q)
    assert pa.explain(Q.copy()) is first
    assert pa.explain(Q[:-1]) is not first
    np.testing.assert_allclose(pa.explain(Q[:-1]), a.explain(Q[:-1]))


def test_registry_names_and_models():
    from skexplain_ad._audit._registry import DEFAULT_DETECTORS, DETECTORS

    assert list(DEFAULT_DETECTORS) == ["KDE", "Auto", "Deep", "Bag", "OC-SVM", "C1+C2", "C1xC2",
                                       "C1xC2-local"]
    assert list(DETECTOR_NAMES) == [*DEFAULT_DETECTORS, "C1", "C2", "C1xC1", "C2xC2"]
    # every entry says what it is, with its document and equation
    assert all(re.search(r"\[(P|T)\]", e.description) for e in DETECTORS.values()
               if e.fit_half is None and not e.description.startswith("C2"))
    # under the default protocol the halves are OC-SVMs; under the thesis' MVTec protocol KDEs
    assert type(make_detector("C1")).__name__ == "OCSVMDetector"
    assert type(make_detector("C1", protocol="thesis-mvtec")).__name__ == "KDEDetector"
    self_times = make_detector("C1xC1", protocol="thesis-mvtec")
    assert self_times.estimators[0][1] is self_times.estimators[1][1]
    bag = make_detector("C1+C2", random_state=0)
    assert bag.standardize is False and bag.split is True
    glob, loc = make_detector("C1xC2"), make_detector("C1xC2-local")
    assert (glob.k, glob.l) == (None, None) and (loc.k, loc.l) == (5, 5)


@pytest.mark.torch
@pytest.mark.skipif(not has("torch"), reason="needs torch")
def test_bag_is_the_standardised_mean_of_kde_auto_deep():
    bag = make_detector("Bag", random_state=0)
    assert bag.standardize is True and bag.split is False
    assert [n for n, _ in bag.estimators] == ["KDE", "Auto", "Deep"]


# ---------------------------------------------------------------------------
# every check before any work
# ---------------------------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Loading data fails loudly: a check that comes after it is caught."""

    def boom(*args, **kwargs):
        raise AssertionError("data were loaded before the arguments were checked")

    monkeypatch.setattr(run_module, "load_audit_dataset", boom)


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(detectors=["SVM"]), "Unknown detector 'SVM'"),
        (dict(detectors=[]), "detectors is empty"),
        (dict(detectors=["Deep"]), r"Deep reads 28 x 28 images only.*\(8, 8\) images"),
        (dict(explainers=["lime"]), r"Unknown explainer\(s\) \['lime'\]"),
        (dict(backend="cuda"), r"backend='cuda' is not a backend \(a device, not a backend"),
        (dict(backend="fast"), "backend='fast' is not a backend; expected one of auto, numpy"),
        (dict(device="gpu"), "device='gpu' is not a device"),
        (dict(n_jobs=0), "n_jobs must be None or a non-zero integer"),
        (dict(n_jobs=1.5), "n_jobs must be None or a non-zero integer"),
        (dict(n_jobs=True), "n_jobs must be None or a non-zero integer"),
        (dict(n_samples=0), "n_samples must be an integer >= 1"),
        (dict(n_flip=-1), "n_flip must be an integer >= 1"),
        (dict(protocol="quick"), "protocol must be one of fast, paper"),
        (dict(anomalies=["stripes"]), r"Unknown anomaly type\(s\) \['stripes'\]"),
        (dict(seed="0"), "seed must be an integer"),
        (dict(n_samples=1790), "leave too few of the 1797 digits"),
    ],
)
def test_bad_arguments_fail_before_any_work(no_work, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        audit("digits-c", **kwargs)


def test_bad_datasets_fail_before_any_work(no_work, tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'"):
        audit("cifar")
    with pytest.raises(ValueError, match="needs the path of an MVTec AD folder"):
        audit("mvtec")
    with pytest.raises(ValueError, match="needs the path of a CSV file"):
        audit("csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        audit("csv", path=tmp_path / "none.csv")
    with pytest.raises(ValueError, match="path is only for"):
        audit("wine", path=tmp_path)


@pytest.mark.skipif(_torch_cuda(), reason="this machine has a CUDA device")
def test_cuda_device_without_gpu_fails_before_any_work(no_work):
    with pytest.raises(ValueError, match="device='cuda'"):
        audit("digits-c", device="cuda")


def test_unwritable_out_fails_before_any_work(no_work, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file; the report needs a folder"):
        audit("digits-c", out=f)
    with pytest.raises(ValueError, match="is not a writable folder"):
        audit("digits-c", out=f / "sub")
    audit_ok = tmp_path / "new" / "deeper"
    with pytest.raises(AssertionError, match="data were loaded"):  # passes the checks
        audit("digits-c", detectors=["KDE"], out=audit_ok)
    assert not (tmp_path / "new").exists()  # a failed run removes the folders it created
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine.txt").write_text("x")
    with pytest.raises(AssertionError, match="data were loaded"):
        audit("digits-c", detectors=["KDE"], out=kept)
    assert sorted(p.name for p in kept.iterdir()) == ["mine.txt"]  # nothing lost


def test_missing_dependencies(no_work, monkeypatch):
    from skexplain_ad._audit import _registry

    real = _registry.missing_requirements

    def fake(modules):
        out = real([m for m in modules if m not in ("torch", "zennit", "torchvision", "shap")])
        out.update({m: "ModuleNotFoundError: no" for m in modules
                    if m in ("torch", "zennit", "torchvision", "shap")})
        return out

    monkeypatch.setattr(_registry, "missing_requirements", fake)
    monkeypatch.setattr(run_module, "missing_requirements", fake)
    # named: an error naming the install command, before any work
    with pytest.raises(ValueError, match=r"Auto needs torch .*pip install 'skexplain_ad\[torch\]'"):
        audit("mnist-c", detectors=["KDE", "Auto"])
    with pytest.raises(ValueError, match=r"kernel-shap explainer needs shap: pip install 'skexplain_ad\[shap\]'"):
        audit("mnist-c", detectors=["KDE"], explainers=["kernel-shap"])
    with pytest.raises(ValueError, match=r"KDE needs torch"):
        check_detectors(["KDE"], (28, 28), backend="torch")
    # not named: left out, one line each naming the install command
    names, skipped = check_detectors(None, (28, 28))
    assert names == ["KDE", "OC-SVM", "C1+C2", "C1xC2", "C1xC2-local"]
    assert len(skipped) == 3
    assert all("pip install 'skexplain_ad[torch]'" in s and "\n" not in s for s in skipped)
    with pytest.warns(AuditWarning) as rec, pytest.raises(AssertionError, match="data were loaded"):
        audit("mnist-c")
    lines = [str(w.message) for w in rec]
    assert any(line.startswith("Auto left out") for line in lines)
    assert any(line.startswith("kernel-shap left out") for line in lines)


# ---------------------------------------------------------------------------
# other data sets with the default model set
# ---------------------------------------------------------------------------

def test_textures_default_set_leaves_deep_out(monkeypatch, tmp_path):
    from skexplain_ad._audit import _registry

    monkeypatch.setitem(_registry.PROTOCOLS, "fast", {**_registry.PROTOCOLS["fast"],
                                                      "auto_epochs": 1})
    with pytest.warns(AuditWarning, match="Deep left out: Deep reads 28 x 28 images only"):
        table = audit("textures", anomalies=["hole"], explainers=["lrp", "distance-to-mean"],
                      n_samples=4, n_flip=2, flip_steps=3, out=tmp_path)
    expected = ["KDE", "OC-SVM", "C1+C2", "C1xC2", "C1xC2-local"]
    if has("torch"):
        expected[1:1] = ["Auto", "Bag"]
    assert sorted(set(table.detector)) == sorted(expected)
    assert table.pixel_auroc.between(0, 1).all()
    if has("torch"):  # the bag of the KDE and Auto the data allow
        assert table.attrs["settings"]["detectors"] == [d for d in DETECTOR_NAMES if d in expected]


def test_audit_on_an_mvtec_folder(mvtec_root, tmp_path, monkeypatch):
    # the real MVTec AD layout (a tiny tree written by the fixture)
    table = audit("mvtec", path=mvtec_root, category="wood", detectors=["KDE"],
                  explainers=["lrp", "occlusion"], n_flip=1, flip_steps=3, n_occlusion=1,
                  out=tmp_path / "r")
    assert set(table.anomaly) == {"hole", "scratch"}
    assert (table.n_outliers == 2).all() and (table.n_inliers == 2).all()
    assert table.pixel_auroc.between(0, 1).all()
    assert (tmp_path / "r" / "index.html").is_file()
    # the images kept as the files are: 40 x 40 in colour, masks per pixel
    assert table.attrs["settings"]["image_shape"] == [40, 40, 3]
    small = audit("mvtec", path=mvtec_root, category="wood", detectors=["KDE"],
                  explainers=["lrp"], n_flip=1, flip_steps=3, image_size=8)
    assert small.attrs["settings"]["image_shape"] == [8, 8, 3]
    # Deep named on MVTec AD (40 x 40 colour): an error before any work
    monkeypatch.setattr(run_module, "load_audit_dataset", None)
    with pytest.raises(ValueError, match=r"Deep reads 28 x 28 images only.*\(40, 40, 3\) images"):
        audit("mvtec", path=mvtec_root, category="wood", detectors=["Deep"])
    with pytest.raises(ValueError, match="image_size is only for dataset='mvtec'"):
        audit("digits-c", image_size=16)


def test_tabular_audit(tmp_path):
    table = audit("wine", detectors=["KDE", "OC-SVM"], explainers=["lrp", "random", "occlusion"],
                  n_samples=15, n_flip=4, flip_steps=20, n_occlusion=3, out=tmp_path)
    assert set(table.anomaly) == {"out-of-range", "swap", "broken-correlation"}
    assert table.cosine.between(0, 1).all() and table.pixel_auroc.between(0, 1).all()
    payload = json.loads((tmp_path / "results.json").read_text())
    from sklearn.datasets import load_wine

    assert payload["feature_names"] == list(load_wine().feature_names)
    assert table.attrs["feature_names"] == payload["feature_names"]
    lrp = table[table.explainer == "lrp"].set_index(["detector", "anomaly"])
    rnd = table[table.explainer == "random"].set_index(["detector", "anomaly"])
    # one feature far out of its range: found by both detectors, and their
    # explanations point at it far better than noise does
    for det in ("KDE", "OC-SVM"):
        assert lrp.loc[(det, "out-of-range"), "roc_auc"] > 0.9
        assert lrp.loc[(det, "out-of-range"), "cosine"] > rnd.loc[(det, "out-of-range"), "cosine"] + 0.3


def test_bagging_a_detector_with_itself_changes_nothing():
    # [T] App. A.4 (NN1 = NN2): C + C == C, so the audit's ROC and cosine agree
    from skexplain_ad import BaggedDetector, KDEDetector
    from skexplain_ad.datasets import make_mnist_c
    from skexplain_ad.metrics import detection_auc, explanation_accuracy

    ds = make_mnist_c(["dotted_line"], n_inliers=200, n_outliers_per_corruption=20,
                      source="digits", random_state=0)
    kde = KDEDetector(gamma=0.05).fit(ds.data_train)
    bag = BaggedDetector([("a", KDEDetector(gamma=0.05)), ("b", KDEDetector(gamma=0.05))],
                         standardize=False).fit(ds.data_train)
    out = ds.target == -1
    assert detection_auc(ds.target, kde.outlier_score(ds.data)) == pytest.approx(
        detection_auc(ds.target, bag.outlier_score(ds.data)), abs=1e-12)
    assert explanation_accuracy(kde.explain(ds.data[out]), ds.masks[out]) == pytest.approx(
        explanation_accuracy(bag.explain(ds.data[out]), ds.masks[out]), rel=1e-10)


def test_colour_images_in_memory_are_judged_per_pixel():
    """(C, H, W) images with per-pixel ground truth: relevance summed over channels ([P] Sec. 3)."""
    from skexplain_ad import KDEDetector
    from skexplain_ad._audit._data import pixel_relevance

    r = np.random.RandomState(0)
    C, H, W = 3, 6, 6
    Xtr, X = r.rand(150, C * H * W), r.rand(50, C, H, W)
    X[35:, :, 1:3, 1:3] += 2.0  # 15 outliers, a bright square in every channel
    masks = np.zeros((50, H, W))
    masks[35:, 1:3, 1:3] = 1.0
    data = {"data_train": Xtr, "data": X.reshape(50, -1), "masks": masks, "image_shape": (C, H, W),
            "target": np.r_[np.ones(35), -np.ones(15)]}
    det = KDEDetector(gamma=0.05)
    table = audit(data, detectors={"kde": det}, explainers=["lrp", "random"], n_flip=2,
                  flip_steps=3)
    lrp = table[table.primary].iloc[0]
    # brute force: the fitted model's relevance, summed over channels, against the masks
    fitted = KDEDetector(gamma=0.05).fit(Xtr)
    R = fitted.explain(X.reshape(50, -1)[35:]).reshape(15, C, H * W).sum(axis=1)
    Rp = np.maximum(R, 0)
    M = masks[35:].reshape(15, -1)
    cos = (Rp * M).sum(1) / (np.linalg.norm(Rp, axis=1) * np.linalg.norm(M, axis=1))
    assert lrp.cosine == pytest.approx(cos.mean(), rel=1e-9)
    assert lrp.cosine > 0.9 and lrp.roc_auc == 1.0
    np.testing.assert_allclose(pixel_relevance(np.ones((2, C * H * W)), (C, H, W), H * W), 3.0)
    with pytest.raises(ValueError, match="masks.*one value per pixel"):
        audit({**data, "masks": np.zeros((50, 5))}, detectors={"kde": det})


def test_thesis_mvtec_protocol_six_models_on_halves(mvtec_root, save_png):
    """[T] Sec. 3.3: KDE halves (eq. 3.4), C1, C1xC1, C2, C2xC2, C1+C2, C1xC2, images at 160."""
    from skexplain_ad import KDEDetector, TimesEnsemble
    from skexplain_ad.ensemble._base import split_indices

    rng = np.random.RandomState(1)
    for i in range(3, 12):  # 12 training images: halves of 6
        save_png(mvtec_root / "wood" / "train" / "good" / f"{i:03d}.png",
                 rng.randint(60, 200, size=(40, 40, 3)).astype(np.uint8))

    table = audit("mvtec", path=mvtec_root, category="wood", protocol="thesis-mvtec",
                  explainers=["lrp"], n_flip=1, flip_steps=2)
    assert table.attrs["settings"]["detectors"] == ["C1", "C1xC1", "C2", "C2xC2", "C1+C2", "C1xC2"]
    assert table.attrs["settings"]["image_shape"] == [160, 160, 3]
    roc = table.groupby("detector", sort=False).roc_auc.mean()
    # a global Times of a KDE with itself scores (sum_i k_i)^2: the same ranking as the KDE
    assert roc["C1xC1"] == roc["C1"] and roc["C2xC2"] == roc["C2"]
    # C1 is a KDE of the first half, every image a template of weight 1/|T1| (eq. 3.4)
    from skexplain_ad.datasets import load_mvtec

    ds = load_mvtec(mvtec_root, "wood", size=160, grayscale=None)
    p1, _ = split_indices(len(ds.data_train), 2, 0)
    c1 = KDEDetector(gamma="knn_mass").fit(ds.data_train[p1])
    from skexplain_ad.metrics import detection_auc

    for a in ("hole", "scratch"):
        sel = np.isin(ds.corruption, ["none", a])
        ref = detection_auc(ds.target[sel], c1.outlier_score(ds.data[sel]))
        got = table[(table.detector == "C1") & (table.anomaly == a)].roc_auc.iloc[0]
        assert got == pytest.approx(ref, abs=1e-12)
    assert isinstance(TimesEnsemble, type)
