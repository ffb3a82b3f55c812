"""Issue 19: auditing the user's own detectors and data; verdicts that agree with the numbers."""

import contextlib
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM
from sklearn.utils.validation import check_is_fitted

from skexplain_ad import KDEDetector, audit
from skexplain_ad._audit import AuditWarning
from skexplain_ad._audit import _run as run_module
from skexplain_ad._audit._subjects import ModelAgnostic
from skexplain_ad._audit._summary import format_terminal_summary
from skexplain_ad._audit._verdicts import best_detector, summarize
from skexplain_ad.cli import main

D = 20
SHIFTED = [0, 1, 2]  # where the anomaly lives
FAST = dict(explainers=["lrp", "random"], n_flip=2, flip_steps=3)


def gauss(seed=0, d=D, n_train=150, n_in=40, n_out=40, shift=4.0):
    """Gaussian inliers; outliers shifted in SHIFTED; masks = the indicator of SHIFTED."""
    r = np.random.RandomState(seed)
    Xo = r.randn(n_out, d)
    Xo[:, SHIFTED] += shift
    masks = np.zeros((n_in + n_out, d))
    masks[n_in:, SHIFTED] = 1.0
    return {"data_train": r.randn(n_train, d), "data": np.vstack([r.randn(n_in, d), Xo]),
            "target": np.r_[np.ones(n_in), -np.ones(n_out)].astype(int), "masks": masks}


@pytest.fixture
def no_work(monkeypatch):
    """Loading data or fitting / scoring a detector fails loudly: a late check is caught."""

    def boom(*args, **kwargs):
        raise AssertionError("work was done before the arguments were checked")

    monkeypatch.setattr(run_module, "load_audit_dataset", boom)
    monkeypatch.setattr(run_module, "_audit_detector", boom)


def _pyod(name):
    mod = pytest.importorskip(f"pyod.models.{name.lower()}")
    return getattr(mod, name)


# ---------------------------------------------------------------------------
# every wrong input: one clear error before any work
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("detectors, exc, pattern", [
    ([object()], TypeError, r"detectors\[0\] is a object, not an estimator"),
    (["KDE", 3.5], TypeError, r"detectors\[1\] is a float, not an estimator"),
    (42, TypeError, "detectors must be a name, an estimator, a dict"),
    ({"mine": "KDE"}, TypeError, r"detectors\['mine'\] must be an estimator"),
    ([("a", IsolationForest(), 1)], TypeError,
     r"detectors\[0\] must be a \(name, estimator\) pair"),
    ([LocalOutlierFactor()], TypeError,
     r"LocalOutlierFactor\) has neither score_samples nor decision_function.*novelty=True"),
    ([KMeans(n_clusters=2)], TypeError,
     r"KMeans\) has neither score_samples nor decision_function"),
    ([IsolationForest(), IsolationForest()], ValueError,
     "the name 'IsolationForest' is used twice"),
    (["KDE", ("KDE", KDEDetector())], ValueError, "the name 'KDE' is used twice"),
    ({"bad\nname": IsolationForest()}, ValueError, "must be 1 to 80 printable characters"),
    ({}, ValueError, "detectors is empty"),
    (["SVM", IsolationForest()], ValueError, "Unknown detector 'SVM'"),
])
def test_bad_detectors_fail_before_any_work(no_work, detectors, exc, pattern):
    with pytest.raises(exc, match=pattern):
        audit(gauss(), detectors=detectors)
    with pytest.raises(exc, match=pattern):  # the same with a named data set
        audit("digits-c", detectors=detectors)


def test_a_fitted_estimator_of_the_wrong_width(no_work):
    fitted = IsolationForest(n_estimators=5, random_state=0).fit(np.random.rand(30, 3))
    with pytest.raises(ValueError, match="'forest' was fitted on 3 features but the data has 20"):
        audit(gauss(), detectors={"forest": fitted})


def test_a_fitted_estimator_of_the_wrong_width_on_a_named_data_set(monkeypatch):
    # a named data set must be loaded to know its width: then the error, before any fit
    def boom(*args, **kwargs):
        raise AssertionError("a detector was fitted before the widths were checked")

    monkeypatch.setattr(run_module, "_audit_detector", boom)
    fitted = IsolationForest(n_estimators=5, random_state=0).fit(np.random.rand(30, 3))
    with pytest.raises(ValueError, match="fitted on 3 features but the data has 13"):
        audit("wine", detectors=["KDE", ("forest", fitted)], n_samples=5)


def _bad(**change):
    ds = gauss(n_in=6, n_out=6)
    for k, v in change.items():
        if v is None:
            del ds[k]
        else:
            ds[k] = v(ds) if callable(v) else v
    return ds


@pytest.mark.parametrize("data, pattern", [
    (_bad(data_train=None), r"lacks the field\(s\) \['data_train'\]"),
    (_bad(target=None, masks=None), r"lacks the field\(s\) \['target'\]"),
    (_bad(data=lambda ds: ds["data"][:, :19]),
     r"dataset\['data'\] has 19 features but dataset\['data_train'\] has 20"),
    (_bad(target=lambda ds: (ds["target"] > 0).astype(int)),
     r"dataset\['target'\] must hold \+1 \(inlier\) and -1 \(outlier\).*got \['0', '1'\]"),
    (_bad(target=lambda ds: np.where(ds["target"] > 0, "normal", "anomaly")),
     r"dataset\['target'\] must hold \+1 \(inlier\) and -1 \(outlier\)"),
    (_bad(target=lambda ds: ds["target"][:-1]), r"has 11 labels for 12 test samples"),
    (_bad(target=lambda ds: np.ones(12, int)), r"needs both inliers \(\+1\) and outliers \(-1\)"),
    (_bad(masks=lambda ds: ds["masks"][:, :19]), r"dataset\['masks'\] has shape \(12, 19\)"),
    (_bad(masks=lambda ds: ds["masks"][:-1]), r"dataset\['masks'\] has shape \(11, 20\)"),
    (_bad(masks=lambda ds: ds["masks"] - 0.5),
     r"dataset\['masks'\] must be finite and non-negative"),
    (_bad(masks=lambda ds: np.where(ds["masks"] > 0, np.nan, 0.0)),
     "must be finite and non-negative"),
    (_bad(data=lambda ds: np.where(ds["data"] > 2.5, np.nan, ds["data"])), r"dataset\['data'\]"),
    (_bad(anomaly=np.array(["a"] * 5)), r"dataset\['anomaly'\] has 5 names for 12 test samples"),
    (_bad(anomaly=np.array(["none"] * 12)), "an outlier's anomaly name is 'none'"),
    (_bad(image_shape=(3, 3)), r"image_shape'\] = \(3, 3\) does not hold 20 features"),
    (_bad(feature_names=["a", "b"]), r"feature_names'\] has 2 names for 20 features"),
])
def test_bad_in_memory_data_fail_before_any_work(no_work, data, pattern):
    with pytest.raises(ValueError, match=pattern):
        audit(data, detectors=["KDE", IsolationForest()])


def test_bad_in_memory_arguments_fail_before_any_work(no_work, tmp_path):
    with pytest.raises(TypeError, match="dataset must be a name, or a dict / Bunch of arrays"):
        audit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="in-memory data brings its own fields"):
        audit(gauss(), path=tmp_path)
    with pytest.raises(ValueError, match="in-memory data brings its own fields"):
        audit(gauss(), label_column="y")
    with pytest.raises(ValueError,
                       match=r"Unknown anomaly type\(s\) \['fog'\]; this data has \['outlier'\]"):
        audit(gauss(), anomalies=["fog"])
    frames = {k: pd.DataFrame(v, columns=[f"f{j}" for j in range(D)]) if np.ndim(v) == 2 else v
              for k, v in gauss().items()}
    frames["data"] = frames["data"].rename(columns={"f0": "zero"})
    with pytest.raises(ValueError, match="have different columns"):
        audit(frames)
    out = tmp_path / "new"
    with pytest.raises(ValueError, match="must hold"):
        audit(_bad(target=lambda ds: ds["target"] * 2), out=out)
    assert not out.exists()


@pytest.fixture
def labelled_csv(tmp_path):
    """A CSV with real labelled anomalies (y: +1 / -1), an id column and a text column."""
    r = np.random.RandomState(0)
    n_in, n_out = 120, 20
    X = r.randn(n_in + n_out, 5)
    X[n_in:, 1] += 6.0  # the labelled anomalies: far out in feature b
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame.insert(0, "id", np.arange(len(frame)) * 1000.0)  # numeric: would be a feature
    frame["y"] = np.r_[np.ones(n_in), -np.ones(n_out)].astype(int)
    path = tmp_path / "table.csv"
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(label_column="label"), r"has no column\(s\) \['label'\]; its columns are \['id', 'a'"),
    (dict(drop=["nope"]), r"has no column\(s\) \['nope'\]"),
    (dict(drop="nope"), r"has no column\(s\) \['nope'\]"),
    (dict(label_column="y", drop=["y"]), "label_column='y' is also in drop"),
    (dict(label_column="y", anomalies=["swap"]), "leave anomalies unset"),
    (dict(label_column="y", anomalies=["swap"], drop=["id"]), "leave anomalies unset"),
])
def test_bad_csv_arguments_fail_before_any_work(no_work, labelled_csv, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        audit("csv", path=labelled_csv, **kwargs)


@pytest.mark.parametrize("labels", [[0, 1], ["normal", "anomaly"], [1, 2]])
def test_csv_labels_not_plus_minus_one_fail_before_any_work(no_work, labelled_csv, labels):
    frame = pd.read_csv(labelled_csv)
    frame["y"] = np.where(frame["y"] == 1, labels[0], labels[1])
    frame.to_csv(labelled_csv, index=False)
    with pytest.raises(ValueError, match=r"label_column='y' must hold \+1 \(inlier\) and -1 "
                                         r"\(outlier\)"):
        audit("csv", path=labelled_csv, label_column="y")


def test_label_column_and_drop_are_for_csv_only(no_work):
    with pytest.raises(ValueError,
                       match="label_column is only for dataset='csv'; got dataset='wine'"):
        audit("wine", label_column="y")
    with pytest.raises(ValueError, match="drop is only for dataset='csv'; got dataset='wine'"):
        audit("wine", drop=["alcohol"])


def test_cli_reports_one_error_line_before_any_work(no_work, labelled_csv, tmp_path):
    out = tmp_path / "report"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["audit", "--dataset", "csv", str(labelled_csv), "--label-column", "label",
                     "--quiet", "--out", str(out)])
    assert code == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skexplain-ad: error: CSV file")
    assert "['label']" in lines[0]
    assert not out.exists()


# ---------------------------------------------------------------------------
# any detector, fitted or not
# ---------------------------------------------------------------------------

def _factories():
    out = [("IsolationForest", lambda: IsolationForest(n_estimators=50, random_state=0)),
           ("LOF", lambda: LocalOutlierFactor(n_neighbors=15, novelty=True)),
           ("OneClassSVM", lambda: OneClassSVM(gamma=0.02, nu=0.1))]
    for name, kw in (("IForest", dict(n_estimators=50, random_state=0)), ("KDE", {})):
        out.append((f"pyod-{name}", lambda name=name, kw=kw: _pyod(name)(**kw)))
    return out


@pytest.fixture(scope="module")
def data():
    return gauss(n_train=150, n_in=30, n_out=10)


@pytest.mark.parametrize("name, make", _factories(), ids=[n for n, _ in _factories()])
def test_model_agnostic_scores_rank_like_the_model(name, make, data):
    est = make().fit(data["data_train"])
    m = ModelAgnostic(est, data["data_train"])
    o = m.outlier_score(data["data"])
    assert m.outlier_score(data["data_train"]).min() == pytest.approx(0.0, abs=1e-12)
    # the shifted samples are the anomalous ones, whatever the library's sign convention
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(data["target"] == -1, o) > 0.8, name


@pytest.mark.parametrize("name, make", _factories(), ids=[n for n, _ in _factories()])
def test_audit_a_user_detector_unfitted(name, make, data):
    est = make()
    table = audit(data, detectors={name: est, "own": KDEDetector(gamma=0.05)}, **FAST)
    # the user's object was cloned, not fitted in place (PyOD: the attributes its fit sets)
    pyod = type(est).__module__.startswith("pyod")
    with pytest.raises(NotFittedError):
        check_is_fitted(est, ["decision_scores_", "threshold_", "labels_"] if pyod else None)
    mine = table[table.detector == name]
    prim = mine[mine.primary]
    assert prim.explainer.tolist() == ["occlusion"]  # the model-agnostic stand-in
    assert table[table.primary & (table.detector == "own")].explainer.tolist() == ["lrp"]
    assert prim.roc_auc.iloc[0] > 0.8  # it detects the shifted samples
    assert prim.cosine.iloc[0] > prim.reference_cosine.iloc[0]
    desc = table.attrs["descriptions"][name]
    assert "occlusion" in desc and type(est).__name__ in desc
    assert table.attrs["settings"]["detectors"] == [name, "own"]


@pytest.mark.parametrize("name, make", _factories(), ids=[n for n, _ in _factories()])
def test_audit_a_user_detector_fitted_is_used_as_it_is(name, make, data):
    est = make().fit(data["data_train"][:100])  # fitted on part of the training data
    method = "score_samples" if hasattr(est, "score_samples") else "decision_function"
    before = getattr(est, method)(data["data"]).copy()

    def refit(*args, **kwargs):
        raise AssertionError("a fitted estimator was refitted")

    est.fit = refit  # the very object: any refit raises
    table = audit(data, detectors=[(name, est)], **FAST)
    np.testing.assert_array_equal(getattr(est, method)(data["data"]), before)
    # the audit's score is the model's own score, shifted: it ranks the rows the same way
    prim = table[table.primary]
    from sklearn.metrics import roc_auc_score

    sign = 1.0 if method == "score_samples" or not type(est).__module__.startswith("pyod") else -1.0
    s = sign * before
    assert prim.roc_auc.iloc[0] == pytest.approx(roc_auc_score(data["target"] == -1, -s), abs=1e-12)


def test_package_detectors_fitted_or_not(data):
    def refit(*args, **kwargs):
        raise AssertionError("a fitted detector was refitted")

    full = KDEDetector(gamma=0.05).fit(data["data_train"])
    part = KDEDetector(gamma=0.05).fit(data["data_train"][:60])
    full.fit = part.fit = refit
    a = audit(data, detectors={"k": full}, **FAST)
    b = audit(data, detectors={"k": KDEDetector(gamma=0.05)}, **FAST)
    c = audit(data, detectors={"k": part}, **FAST)
    num = a.select_dtypes("number").columns.drop("explain_seconds_per_sample")
    a, b, c = (t[num].to_numpy(float) for t in (a, b, c))
    # fitted on the training data = fitted by the audit; fitted on part of it: used as it is
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not np.allclose(a, c, rtol=1e-6, equal_nan=True)


def test_the_report_says_what_stands_in_for_the_own_explanation(data, tmp_path):
    forest = IsolationForest(n_estimators=30, random_state=0)
    table = audit(data, detectors=["KDE", ("forest", forest)], out=tmp_path / "r", **FAST)
    assert dict(zip(table[table.primary].detector, table[table.primary].explainer)) == {
        "KDE": "lrp", "forest": "occlusion"}
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<b>forest</b>: Your IsolationForest" in page
    assert "occlusion" in page.split("<b>forest</b>")[1].split("</li>")[0]


# ---------------------------------------------------------------------------
# any data
# ---------------------------------------------------------------------------

def test_make_mnist_c_passes_as_it_is():
    from skexplain_ad.datasets import make_mnist_c

    ds = make_mnist_c(["stripe", "fog"], n_inliers=120, n_outliers_per_corruption=6,
                      source="digits", random_state=0)
    before = {k: np.array(v, copy=True) for k, v in ds.items() if isinstance(v, np.ndarray)}
    table = audit(ds, detectors=["KDE", IsolationForest(n_estimators=30, random_state=0)],
                  **FAST)
    assert set(table.anomaly) == {"stripe", "fog"}
    assert (table.n_outliers == 6).all()
    assert table[table.primary].cosine.between(0, 1).all()
    assert table.attrs["ground_truth"] is True
    for k, v in before.items():  # the user's data are left alone
        np.testing.assert_array_equal(ds[k], v)
    # and in the order make_mnist_c names them
    assert list(dict.fromkeys(table.anomaly)) == [a for a in ds.corruption_names
                                                  if a in ("stripe", "fog")]


def test_dataframes_give_the_same_table_as_arrays(data):
    names = [f"f{j}" for j in range(D)]
    frames = {k: pd.DataFrame(v, columns=names) if np.ndim(v) == 2 else pd.Series(v)
              for k, v in data.items()}
    frames["masks"] = data["masks"]
    a = audit(data, detectors=["KDE"], **FAST)
    b = audit(frames, detectors=["KDE"], **FAST)
    num = a.select_dtypes("number").columns.drop("explain_seconds_per_sample")
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-12)
    assert b.attrs["feature_names"] == names and "feature_names" not in a.attrs


def test_anomaly_groups_are_audited_apart(data):
    ds = dict(data)
    ds["anomaly"] = np.where(np.arange(len(ds["target"])) % 2, "odd", "even")
    table = audit(ds, detectors=["KDE"], **FAST)
    assert list(dict.fromkeys(table.anomaly)) == ["even", "odd"]
    assert (table.n_outliers == 5).all() and (table.n_inliers == 30).all()


def test_data_without_masks(data, tmp_path):
    ds = {k: v for k, v in data.items() if k != "masks"}
    table = audit(ds, detectors=["KDE", IsolationForest(n_estimators=30, random_state=0)],
                  out=tmp_path / "r", **FAST)
    assert table.cosine.isna().all() and table.clever_hans_difference.isna().all()
    assert table.agreement_with_primary.between(0, 1).all()
    np.testing.assert_allclose(table[table.primary].agreement_with_primary, 1.0)
    assert table.roc_auc.notna().all() and table.pixel_flipping_auc.notna().all()
    assert table.attrs["ground_truth"] is False
    _, dets = summarize(table)
    assert set(dets.verdict) == {"detects (no ground truth)"}
    assert best_detector(dets) is None
    text = format_terminal_summary(table).replace("\n  ", " ")
    assert "explanation accuracy (cosine) needs ground-truth maps" in text
    page = (tmp_path / "r" / "index.html").read_text()
    assert "need ground truth" in page and "Most trustworthy detector" not in page
    assert json.loads((tmp_path / "r" / "results.json").read_text())["ground_truth"] is False


def test_cli_audits_a_csv_with_labelled_anomalies(labelled_csv, tmp_path):
    out = tmp_path / "report"
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuditWarning)
        with contextlib.redirect_stdout(buf):
            code = main(["audit", "--dataset", "csv", str(labelled_csv), "--label-column", "y",
                         "--drop", "id", "--detectors", "KDE,OC-SVM", "--explainers",
                         "lrp,random", "--n-flip", "2", "--quiet", "--out", str(out)])
    assert code == 0
    text = buf.getvalue()
    assert "Clever Hans audit of csv" in text and "needs ground-truth maps" in text
    table = pd.read_csv(out / "results.csv")
    assert set(table.anomaly) == {"labelled"}
    assert (table.n_outliers == 20).all() and (table.n_inliers == 30).all()  # 1/4 of 120 inliers
    assert (table[table.primary].roc_auc > 0.95).all()
    payload = json.loads((out / "results.json").read_text())
    assert payload["feature_names"] == list("abcde")  # id dropped, y the label
    assert payload["settings"]["label_column"] == "y" and payload["settings"]["drop"] == ["id"]
    assert payload["ground_truth"] is False


def test_csv_without_a_label_column_still_injects(labelled_csv):
    table = audit("csv", path=labelled_csv, drop=["id", "y"], detectors=["KDE"],
                  anomalies=["out-of-range"], n_samples=6, **FAST)
    assert set(table.anomaly) == {"out-of-range"}
    assert table.attrs["feature_names"] == list("abcde")
    assert table.attrs["ground_truth"] is True


# ---------------------------------------------------------------------------
# verdicts that agree with the numbers
# ---------------------------------------------------------------------------

#: a fixed permutation sending the anomaly's features 0-2 to 10-12
PERM = np.roll(np.arange(D), 10)


class PermutedKDE(KDEDetector):
    """A KDE whose explanation is known to be wrong: its relevance with the columns permuted."""

    def explain(self, X):
        return super().explain(X)[:, PERM]


@pytest.fixture(scope="module")
def verdict_audit():
    return audit(gauss(), detectors={"permuted": PermutedKDE(gamma=0.05),
                                     "correct": KDEDetector(gamma=0.05)},
                 n_flip=3, flip_steps=4, explainers=["lrp", "random"])


def test_a_wrong_explanation_is_called_clever_hans(verdict_audit):
    table = verdict_audit
    rows, dets = summarize(table)
    v = dets.set_index("detector")
    # both detect the anomaly equally well: the same scores
    roc = table[table.primary].set_index("detector").roc_auc
    assert roc["permuted"] == roc["correct"] > 0.95
    assert v.loc["permuted", "verdict"] == "Clever Hans"
    assert v.loc["correct", "verdict"] == "sound"
    r = rows.set_index("detector")
    assert r.loc["permuted", "clever_hans"] and not r.loc["permuted", "right_reasons"]
    assert r.loc["correct", "right_reasons"] and not r.loc["correct", "clever_hans"]
    # the claims rest on intervals that exclude the reference
    assert r.loc["permuted", "cosine_gain_ci_high"] < 0 < r.loc["correct", "cosine_gain_ci_low"]
    assert best_detector(dets)["detector"] == "correct"
    text = format_terminal_summary(table).replace("\n  ", " ")
    assert "Most trustworthy: correct" in text
    assert "Clever Hans cases (1)" in text and "permuted/outlier" in text


def test_the_crowned_detector_has_the_lowest_score_among_the_eligible(verdict_audit):
    _, dets = summarize(verdict_audit)
    best = best_detector(dets)
    eligible = dets[dets.eligible]
    assert best is not None and bool(best["eligible"])
    assert best["clever_hans_difference"] == eligible.clever_hans_difference.min()
    # the summary's own column agrees: the permuted explanation's score is the worst
    assert dets.set_index("detector").clever_hans_difference.idxmax() == "permuted"
