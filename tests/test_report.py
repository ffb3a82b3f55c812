"""The audit report: verdict rules, glossary, terminal summary, HTML, browser check."""

import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from skexplain_ad import _report
from skexplain_ad._report import (GLOSSARY, detection_threshold, format_terminal_summary,
                                  reference_cosine, summarize, write_report)

pytest.importorskip("matplotlib")

ROOT = Path(__file__).parents[1]
DETECTORS = ["Good", "Hans", "Blind", "C1xC2-local"]
EXPLAINERS = ["lrp", "random", "distance-to-mean", "occlusion", "kernel-shap"]
ANOMALIES = ["blob", "edge", "noise"]


def _cos_rows(A, B):
    """Brute-force cosine of max(A, 0) and B, per row, 0 for a zero vector."""
    out = []
    for a, b in zip(np.maximum(A, 0.0), B):
        na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
        out.append(0.0 if na == 0 or nb == 0 else float(np.sum(a * b) / (na * nb)))
    return np.array(out)


def make_synthetic(*, tabular=False, seed=0, n_out=20, n_in=200):
    """Mimics the audit's output with the new columns: table, ds, relevances, curves, scores."""
    rng = np.random.RandomState(seed)
    shape = (6, 6)
    d = 36 if not tabular else 7
    n = n_in + n_out * len(ANOMALIES)
    X = rng.rand(n, d)
    corr = np.array(["none"] * n_in + [a for a in ANOMALIES for _ in range(n_out)])
    M = np.zeros((n, d))
    for k, a in enumerate(ANOMALIES):
        rows = corr == a
        m = np.zeros(d)
        m[(k % 4) * (d // 4): (k % 4) * (d // 4) + d // 4] = 1.0
        M[rows] = m * (0.5 + rng.rand(rows.sum(), 1))
    ds = Bunch(data=X, masks=M, corruption=corr, corruption_names=ANOMALIES,
               target=np.where(corr == "none", 1, -1),
               image_shape=None if tabular else shape)
    if tabular:
        ds.feature_names = [f"feat_{j}" for j in range(d)]
    bias = np.zeros(d)
    bias[-3:] = 1.0  # what the Clever Hans detector looks at, never the anomaly
    relevances, curves, scores, rows = {}, {}, {}, []
    fr = np.linspace(0, 1, 6)
    for det in DETECTORS:
        relevances[det], curves[det] = {}, {}
        scores[det] = rng.rand(n) + (corr != "none") * (0 if det == "Blind" else 2)
        for e in EXPLAINERS:
            if e == "random":
                R = rng.rand(n, d)
            elif det == "Hans":
                R = bias + 0.1 * rng.rand(n, d)
            elif e == "distance-to-mean" and det == "Good":
                R = M + 0.01 * rng.rand(n, d)  # the baseline beats LRP here
            else:
                R = M + 0.3 * rng.rand(n, d) - 0.1
            relevances[det][e] = R
        for a in ANOMALIES:
            idx = corr == a
            roc = 0.5 + 0.02 * rng.randn() if det == "Blind" else 0.93 + 0.05 * rng.rand()
            for e in EXPLAINERS:
                cos = float(np.mean(_cos_rows(relevances[det][e][idx], M[idx])))
                pf = 0.5 if e == "random" else 0.2 + 0.1 * rng.rand()
                rows.append({
                    "dataset": "synthetic", "anomaly": a, "detector": det, "explainer": e,
                    "roc_auc": roc, "cosine": cos, "clever_hans_difference": roc - cos,
                    "clever_hans_ratio": roc / cos, "pixel_flipping_auc": pf,
                    "pixel_flipping_auc_random": 0.5, "pixel_auroc": 0.5 + cos / 2,
                    "n_inliers": n_in, "n_outliers": n_out,
                    "explain_seconds_per_sample": {"kernel-shap": 1.5, "occlusion": 0.01}.get(e, 1e-4),
                })
            curves[det][a] = {"fractions": fr, "lrp": (1 - fr) ** 3, "occlusion": (1 - fr) ** 2,
                              "random": 1 - fr}
    table = pd.DataFrame(rows).sort_values("clever_hans_difference", ascending=False,
                                           kind="stable").reset_index(drop=True)
    table.attrs["timings"] = {det: {"fit_seconds": 0.5, "explain_seconds": 0.1} for det in DETECTORS}
    settings = {"dataset": "synthetic", "seed": seed, "detectors": DETECTORS,
                "compute": {"backend": "numpy", "n_jobs": None}}
    return table, ds, relevances, curves, scores, settings


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic()


@pytest.fixture(scope="module")
def synthetic_report(synthetic, tmp_path_factory):
    table, ds, rel, curves, scores, settings = synthetic
    out = tmp_path_factory.mktemp("synthetic_report")
    path = write_report(out, table.copy(), ds, rel, curves, n_examples=2, settings=settings,
                        scores=scores)
    return path


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    from skexplain_ad import audit

    out = tmp_path_factory.mktemp("real_report")
    table = audit("digits-c", detectors=["KDE"], anomalies=["stripe", "fog"], n_samples=8,
                  n_flip=2, flip_steps=4, n_examples=2, out=out)
    return table, Path(table.attrs["report"])


# ---------------------------------------------------------------------------
# verdict rules against brute force
# ---------------------------------------------------------------------------

def test_detection_threshold_is_three_chance_sigmas_of_the_exact_null():
    # exact variance of the ROC-AUC of a guessing detector: every split of the ranks
    for n0, n1 in [(4, 3), (5, 2), (6, 4)]:
        aucs = []
        for pos in itertools.combinations(range(n0 + n1), n1):
            ranks = np.array(pos) + 1
            u = ranks.sum() - n1 * (n1 + 1) / 2
            aucs.append(u / (n0 * n1))
        sd = np.std(aucs)
        expect = max(0.6, 0.5 + 3 * sd)
        assert detection_threshold(n0, n1) == pytest.approx(expect, rel=1e-12)
    assert detection_threshold(1000, 100) == 0.6
    np.testing.assert_allclose(detection_threshold([1000, 4], [100, 3]),
                               [0.6, detection_threshold(4, 3)])
    with pytest.raises(ValueError, match="n_inliers and n_outliers must be >= 1"):
        detection_threshold(0, 5)


def test_reference_cosine_flat_map_brute_force(synthetic):
    table, ds, *_ = synthetic
    lrp_only = table[table.explainer == "lrp"].drop(columns="explainer")
    ref, source = reference_cosine(lrp_only, ds)
    assert "flat map" in source
    for (det, a), v in ref.items():
        m = ds.masks[ds.corruption == a]
        assert v == pytest.approx(np.mean(_cos_rows(np.ones_like(m), m)), rel=1e-12)
    # with random explainer rows, their cosine is the reference
    ref, source = reference_cosine(table, ds)
    assert "random explainer" in source
    rnd = table[table.explainer == "random"]
    for r in rnd.itertuples():
        assert ref[(r.detector, r.anomaly)] == r.cosine
    assert reference_cosine(lrp_only)[0] is None


def test_summarize_matches_a_plain_loop(synthetic):
    table, ds, *_ = synthetic
    ref, _ = reference_cosine(table, ds)
    rows, dets = summarize(table, ref)
    lrp = table[table.explainer == "lrp"]
    assert len(rows) == len(lrp)
    for det in DETECTORS:
        sub = lrp[lrp.detector == det]
        detected = right = hans = 0
        for r in sub.itertuples():
            thr = max(0.6, 0.5 + 3 * np.sqrt((r.n_inliers + r.n_outliers + 1)
                                             / (12 * r.n_inliers * r.n_outliers)))
            if r.roc_auc >= thr:
                detected += 1
                if r.cosine > ref[(det, r.anomaly)]:
                    right += 1
                else:
                    hans += 1
        got = dets.set_index("detector").loc[det]
        assert (got.n_detected, got.n_right, got.n_clever_hans) == (detected, right, hans)
        assert got.roc_auc == pytest.approx(sub.roc_auc.mean())
        assert got.cosine == pytest.approx(sub.cosine.mean())
    verdicts = dict(zip(dets.detector, dets.verdict))
    assert verdicts["Hans"] == "Clever Hans" and verdicts["Blind"] == "misses all"
    assert verdicts["Good"] == "sound"
    # best first: most right-reason types, then lowest mean Clever Hans score
    assert dets.detector.iloc[0] in ("Good", "C1xC2-local")
    top = dets[dets.n_right == dets.n_right.max()]
    assert dets.detector.iloc[0] == top.sort_values("clever_hans_difference").detector.iloc[0]


# ---------------------------------------------------------------------------
# glossary
# ---------------------------------------------------------------------------

def test_glossary_covers_every_column(synthetic, real_report):
    from skexplain_ad._audit import COLUMNS

    table, *_ = synthetic
    real_table, path = real_report
    csv_cols = pd.read_csv(path / "results.csv").columns
    for col in [*COLUMNS, *table.columns, *real_table.columns, *csv_cols]:
        assert col in GLOSSARY, col
        what, rng, better, source = GLOSSARY[col]
        assert what and rng and better and source, col
    for col in ("roc_auc", "cosine", "pixel_auroc"):
        assert GLOSSARY[col][2] == "higher"
    for col in ("clever_hans_difference", "clever_hans_ratio", "pixel_flipping_auc"):
        assert GLOSSARY[col][2] == "lower"
    assert "eq. 3.5" in GLOSSARY["clever_hans_ratio"][3]
    assert "1.16" in GLOSSARY["pixel_flipping_auc"][3]


# ---------------------------------------------------------------------------
# terminal summary
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("width", [100, 72])
def test_terminal_summary_width_and_content(synthetic, width):
    table, ds, *_ = synthetic
    text = format_terminal_summary(table, "/some/where/report", width=width)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width
    assert lines[-1] == "report: /some/where/report/index.html"
    for det in DETECTORS:
        assert any(line.startswith(det) for line in lines), det
    assert "Most trustworthy: Good" in text
    flat = text.replace("\n  ", " ")
    # the largest loss: the Clever Hans detector's LRP is beaten by random noise on cosine
    assert "LRP loses to a baseline in" in flat and "largest: Hans cosine: random" in flat
    assert len(lines) <= 4 + len(DETECTORS) + 12


def test_terminal_summary_of_a_real_audit(real_report):
    table, path = real_report
    text = format_terminal_summary(table, path)
    assert max(map(len, text.splitlines())) <= 100
    assert str(path / "index.html") in text
    # write_report left the flat-map reference, so explanations are judged
    assert "right reasons" in text


def test_terminal_summary_bad_width(synthetic):
    with pytest.raises(ValueError, match="width must be >= 60; got 10"):
        format_terminal_summary(synthetic[0], width=10)


# ---------------------------------------------------------------------------
# the HTML report
# ---------------------------------------------------------------------------

def _img_refs(page):
    return re.findall(r"<img src='([^']+)'", page)


def test_synthetic_report_sections_and_files(synthetic_report, synthetic):
    table, *_ = synthetic
    page = (synthetic_report / "index.html").read_text()
    refs = _img_refs(page)
    assert refs and all((synthetic_report / r).is_file() for r in refs)
    for name in ("top_clever_hans.png", "roc_vs_clever_hans.png", "pixel_flipping.png",
                 "explainers.png", *(f"examples_{d}.png" for d in DETECTORS)):
        assert name in refs, name
    for text in ("Most trustworthy detector: Good", "How the verdicts are made",
                 "LRP against baseline explainers", "Where LRP loses", "Glossary of results.csv",
                 "seismic", "Reds", "&#9888;"):
        assert text in page, text
    # every column explained in the glossary table, settings and versions as tables
    for col in table.columns:
        assert f"<code>{col}</code>" in page, col
    assert "<td class='l'>compute.backend</td>" in page and "numpy" in page
    assert "{" not in page.split("<h2>Settings")[1]  # no raw JSON
    back = json.loads((synthetic_report / "results.json").read_text())
    assert back["summary"]["most_trustworthy"] == "Good"
    assert set(back["glossary"]) == set(table.columns)
    assert pd.read_csv(synthetic_report / "results.csv").shape == table.shape


def test_report_old_table_without_new_columns(synthetic, tmp_path):
    table, ds, rel, curves, scores, settings = synthetic
    old = table[table.explainer == "lrp"].drop(columns=["explainer", "explain_seconds_per_sample"])
    lrp_maps = {d: r["lrp"] for d, r in rel.items()}
    old_curves = {d: {a: (c["fractions"], c["lrp"], c["random"]) for a, c in v.items()}
                  for d, v in curves.items()}
    path = write_report(tmp_path, old.copy(), ds, lrp_maps, old_curves, n_examples=1)
    page = (path / "index.html").read_text()
    assert "LRP against baseline" not in page and "flat map" in page
    assert all((path / r).is_file() for r in _img_refs(page))


def test_report_tabular_bar_charts(tmp_path):
    table, ds, rel, curves, scores, settings = make_synthetic(tabular=True)
    path = write_report(tmp_path, table, ds, rel, curves, n_examples=1, scores=scores)
    back = json.loads((path / "results.json").read_text())
    assert back["feature_names"] == [f"feat_{j}" for j in range(7)]
    page = (path / "index.html").read_text()
    assert "Bars per feature" in page
    assert all((path / r).is_file() for r in _img_refs(page))


def test_report_bad_input(synthetic, tmp_path):
    table, ds, rel, curves, *_ = synthetic
    with pytest.raises(ValueError, match=r"lacks the columns \['cosine'\]"):
        write_report(tmp_path, table.drop(columns="cosine"), ds, rel, curves)
    with pytest.raises(ValueError, match="n_examples must be >= 1; got 0"):
        write_report(tmp_path, table, ds, rel, curves, n_examples=0)


def test_real_audit_report(real_report):
    table, path = real_report
    page = (path / "index.html").read_text()
    refs = _img_refs(page)
    assert all((path / r).is_file() for r in refs)
    assert {"explain_stripe.png", "explain_fog.png", "examples_KDE.png"} <= set(refs)
    assert "Summary" in page and "KDE" in page


def test_no_global_matplotlib_state():
    for mod in ("_report.py", "plotting.py"):
        src = (ROOT / "skexplain_ad" / mod).read_text()
        assert "matplotlib.use(" not in src, mod
        assert not re.search(r"import matplotlib\.pyplot|from matplotlib import pyplot|plt\.", src), mod
    code = (
        "import sys, tempfile, matplotlib\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_report import make_synthetic\n"
        "from skexplain_ad._report import write_report\n"
        "rc = matplotlib.rcParams\n"
        "snap = lambda: {k: repr(rc._get(k)) for k in rc.keys()}\n"  # _get: no backend resolution
        "before = snap()\n"
        "t, ds, rel, cur, sc, st = make_synthetic()\n"
        "write_report(tempfile.mkdtemp(), t, ds, rel, cur, n_examples=1)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert snap() == before\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    assert res.stdout.strip() == "ok", res.stderr


# ---------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------

_CHECK = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                .map(function (i) { return i.getAttribute('src'); });
  var d = document.createElement('pre');
  d.id = 'imgcheck';
  d.textContent = 'IMGCHECK ' + imgs.length + ' ' + JSON.stringify(bad);
  document.body.appendChild(d);
});
</script>
"""


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_check(folder):
    """Render ``folder/index.html`` in headless Chromium: (n images, broken srcs)."""
    page = (folder / "index.html").read_text()
    probe = folder / "_browser_check.html"
    probe.write_text(page.replace("</body>", _CHECK + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
             "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120)
    probe.unlink()
    m = re.search(r"IMGCHECK (\d+) (\[.*?\])", res.stdout)
    assert m, (res.stdout[-2000:], res.stderr[-2000:])
    return int(m.group(1)), json.loads(m.group(2))


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
@pytest.mark.parametrize("which", ["synthetic_report", "real_report"])
def test_every_figure_loads_in_chromium(which, request):
    folder = request.getfixturevalue(which)
    folder = folder[1] if isinstance(folder, tuple) else folder
    n_files = len(_img_refs((folder / "index.html").read_text()))
    n, broken = browser_check(folder)
    assert n == n_files > 0
    assert broken == []
    # the check itself can fail: a missing file is reported
    (folder / "top_clever_hans.png").rename(folder / "moved.png")
    try:
        assert browser_check(folder)[1] == ["top_clever_hans.png"]
    finally:
        (folder / "moved.png").rename(folder / "top_clever_hans.png")


def test_report_module_all_is_documented():
    for name in _report.__all__:
        assert getattr(_report, name).__doc__ or name == "GLOSSARY"


def test_doc_page_lists_every_glossary_column():
    page = (ROOT / "doc" / "user_guide" / "audit_report.rst").read_text()
    for col in GLOSSARY:
        if col in _report._SECONDS[1:]:  # aliases of explain_seconds_per_sample
            continue
        assert f"``{col}``" in page, col


def test_tie_for_most_trustworthy_is_named():
    t = pd.DataFrame({"dataset": "d", "detector": ["A", "B"], "anomaly": ["x", "x"],
                      "roc_auc": [0.9, 0.95], "cosine": [0.6, 0.6],
                      "clever_hans_difference": [0.3, 0.35], "n_inliers": 500, "n_outliers": 100})
    text = format_terminal_summary(t, reference={("A", "x"): 0.2, ("B", "x"): 0.2}).replace("\n  ", " ")
    assert "Most trustworthy: A" in text
    assert "ties on that count with B and wins on the mean Clever Hans score by 0.050" in text
