"""The Clever Hans audit end to end: function, command, report, known facts."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skexplain_ad import audit
from skexplain_ad._audit import COLUMNS
from skexplain_ad.cli import main


@pytest.fixture(scope="module")
def small_audit(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    table = audit("digits-c", detectors=["KDE", "OC-SVM"], anomalies=["stripe", "fog", "rotate"],
                  n_samples=15, n_flip=3, flip_steps=5, n_examples=2, out=out)
    return table, out


def test_table_shape_and_ranges(small_audit):
    table, _ = small_audit
    assert list(table.columns) == COLUMNS
    assert len(table) == 3 * 2
    assert set(table.detector) == {"KDE", "OC-SVM"}
    assert set(table.anomaly) == {"stripe", "fog", "rotate"}
    for col in ("roc_auc", "cosine", "pixel_flipping_auc", "pixel_flipping_auc_random"):
        assert table[col].between(0, 1).all(), col
    assert table.clever_hans_difference.between(-1, 1).all()
    np.testing.assert_allclose(table.clever_hans_difference, table.roc_auc - table.cosine)
    np.testing.assert_allclose(table.clever_hans_ratio, table.roc_auc / table.cosine)
    # highest Clever Hans score first
    assert table.clever_hans_difference.is_monotonic_decreasing
    assert (table.n_outliers == 15).all()
    # the relevance order removes the outlierness faster than a random order
    assert (table.pixel_flipping_auc < table.pixel_flipping_auc_random).all()


def test_report_files_exist(small_audit):
    table, out = small_audit
    for name in ("results.csv", "results.json", "index.html"):
        assert (out / name).is_file()
    html = (out / "index.html").read_text()
    refs = re.findall(r"src='([^']+)'", html)
    # per anomaly a gallery (all detectors); pixel flipping in one figure
    assert {f"explain_{a}.png" for a in ("stripe", "fog", "rotate")} <= set(refs)
    assert "pixel_flipping.png" in refs
    for ref in refs:
        assert (out / ref).is_file(), ref
    import pandas as pd

    back = pd.read_csv(out / "results.csv")
    np.testing.assert_allclose(back.roc_auc, table.roc_auc)


def test_kde_detects_brightness_and_stripe_on_mnist():
    # [P] Fig. 2: KDE detects these corruptions almost perfectly.
    table = audit("mnist-c", detectors=["KDE"], anomalies=["brightness", "stripe"],
                  n_samples=30, n_flip=1, flip_steps=2)
    assert (table.roc_auc > 0.95).all(), table


def test_same_seed_same_table():
    kw = dict(detectors=["KDE"], anomalies=["zigzag"], n_samples=8, n_flip=2, flip_steps=3)
    a, b = audit("digits-c", seed=3, **kw), audit("digits-c", seed=3, **kw)
    num = a.select_dtypes("number").columns
    np.testing.assert_array_equal(a[num].to_numpy(), b[num].to_numpy())


def test_bad_detector_name():
    with pytest.raises(ValueError, match="Unknown detector 'SVM'"):
        audit("digits-c", detectors=["SVM"], n_samples=2)
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'"):
        audit("cifar")
    with pytest.raises(ValueError, match="needs the path"):
        audit("mvtec")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "skexplain_ad.cli", *args],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["audit", "--dataset", "cifar"], "unknown data set 'cifar'"),
        (["audit", "--detectors", "KDE,SVM"], "--detectors: unknown \\['SVM'\\]"),
        (["audit", "--n-samples", "0"], "--n-samples must be >= 1"),
        (["audit", "--n-samples", "many"], "invalid int value"),
        (["audit", "--dataset", "mnist-c", "extra"], "give 'mvtec PATH'"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_cli_bad_arguments_one_line(args, pattern):
    res = run_cli(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), res.stderr


def test_cli_unreadable_dataset_path(tmp_path):
    res = run_cli("audit", "--dataset", "mvtec", str(tmp_path / "nowhere"), "--quiet")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "nowhere" in res.stderr
    (tmp_path / "flat").mkdir()
    res = run_cli("audit", "--dataset", "mvtec", str(tmp_path / "flat"), "--quiet")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1


def test_cli_writes_report(tmp_path, capsys):
    code = main(["audit", "--dataset", "digits-c", "--detectors", "KDE", "--corruptions",
                 "stripe", "--n-samples", "4", "--out", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert "clever_hans_difference" in out and "index.html" in out
    assert (tmp_path / "r" / "index.html").is_file()


def test_plotting_headless():
    # figures draw on their own Agg canvas: no backend to select (tests/test_plotting.py)
    from skexplain_ad.plotting import plot_explanations, plot_pixel_flipping

    X = np.random.RandomState(0).rand(3, 12)
    fig = plot_explanations(X, X, -X, (3, 4))
    assert len(fig.axes) == 1 + 2  # the panels in one image + 2 colorbars
    fig = plot_explanations(np.random.RandomState(0).rand(1, 48), X[:1].repeat(4, 1), X[:1].repeat(4, 1), (4, 4, 3))
    assert len(fig.axes) == 1 + 2
    f = np.linspace(0, 1, 4)
    fig = plot_pixel_flipping({"a": (f, 1 - f, 1 - f), "b": (f, 1 - f, 1 - f)})
    assert len(fig.axes[0].lines) == 4


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


def test_audit_on_an_mvtec_folder(mvtec_root, tmp_path):
    # the real MVTec AD layout (a tiny tree written by the fixture), through
    # the function and the command
    table = audit("mvtec", path=mvtec_root, category="wood", detectors=["KDE"],
                  n_flip=1, flip_steps=3, out=tmp_path / "r")
    assert set(table.anomaly) == {"hole", "scratch"}
    assert (table.n_outliers == 2).all() and (table.n_inliers == 2).all()
    assert table.pixel_auroc.between(0, 1).all()
    assert (tmp_path / "r" / "index.html").is_file()
    res = run_cli("audit", "--dataset", "mvtec", str(mvtec_root), "--category", "wood",
                  "--detectors", "KDE", "--quiet", "--out", str(tmp_path / "r2"))
    assert res.returncode == 0, res.stderr
