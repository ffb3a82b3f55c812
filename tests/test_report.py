"""The audit report: verdict rules, ranking, intervals, glossary, terminal summary, HTML, writer."""

import itertools
import json
import os
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

from skexplain_ad import write_report
from skexplain_ad._audit import _report
from skexplain_ad._audit._columns import COLUMNS, GLOSSARY
from skexplain_ad._audit._stats import auc_interval, mean_interval
from skexplain_ad._audit._summary import format_terminal_summary
from skexplain_ad._audit._verdicts import (
    MIN_DETECTION_ROC,
    MIN_ROWS,
    RANKING_RULE,
    RATIO_THRESHOLD,
    baseline_comparisons,
    best_detector,
    detection_threshold,
    summarize,
)

pytest.importorskip("matplotlib")

ROOT = Path(__file__).parents[1]
DETECTORS = ["Good", "Also", "Hans", "Blind"]
EXPLAINERS = ["lrp", "random", "distance-to-mean"]
ANOMALIES = ["blob", "edge", "noise"]


def _cos_rows(A, B):
    """Brute-force cosine of max(A, 0) and B, per row (NaN for a zero vector)."""
    out = []
    for a, b in zip(np.maximum(A, 0.0), B):
        na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
        out.append(np.nan if na == 0 or nb == 0 else float(np.sum(a * b) / (na * nb)))
    return np.array(out)


def _auc(s0, s1):
    """Brute-force ROC-AUC: the fraction of (inlier, outlier) pairs the outlier wins, ties 1/2."""
    wins = 0.0
    for a in s0:
        for b in s1:
            wins += 1.0 if b > a else 0.5 if b == a else 0.0
    return wins / (len(s0) * len(s1))


def make_synthetic(*, tabular=False, seed=0, n_out=20, n_in=120):
    """A table as the audit writes it (every column of the new API), its data, maps, curves."""
    rng = np.random.RandomState(seed)
    d = 7 if tabular else 36
    n = n_in + n_out * len(ANOMALIES)
    X = rng.rand(n, d)
    corr = np.array(["none"] * n_in + [a for a in ANOMALIES for _ in range(n_out)], dtype=object)
    M = np.zeros((n, d))
    block = d // 4
    for k, a in enumerate(ANOMALIES):
        rows = corr == a
        m = np.zeros(d)
        m[k * block:(k + 1) * block] = 1.0
        M[rows] = m * (0.5 + rng.rand(rows.sum(), 1))
    ds = Bunch(data=X, masks=M, corruption=corr, corruption_names=ANOMALIES,
               target=np.where(corr == "none", 1, -1), image_shape=None if tabular else (6, 6),
               feature_names=[f"feat_{j}" for j in range(d)] if tabular else None)
    bias = np.zeros(d)
    bias[-1] = 1.0  # what the Clever Hans detector looks at, never the anomaly
    relevances, curves, scores, rows = {}, {}, {}, []
    fr = np.linspace(0, 1, 6)
    inl = corr == "none"
    for det in DETECTORS:
        scores[det] = rng.rand(n) + (~inl) * (0.0 if det == "Blind" else 0.95)
        maps = {}
        for e in EXPLAINERS:
            if e == "random":
                R = rng.rand(n, d)
            elif det == "Hans":
                R = bias + 0.05 * rng.rand(n, d)
            elif e == "distance-to-mean" and det == "Good":
                R = M + 0.01 * rng.rand(n, d)  # a baseline better than Good's own explanation
            else:
                R = M + (0.3 if det == "Good" else 0.6) * rng.rand(n, d) - 0.1
            maps[e] = R
        relevances[det] = maps
        curves[det] = {}
        for k, a in enumerate(ANOMALIES):
            out = corr == a
            roc = _auc(scores[det][inl], scores[det][out])
            lo, hi = auc_interval(scores[det][inl], scores[det][out], random_state=k)
            c = {e: _cos_rows(maps[e][out], M[out]) for e in EXPLAINERS}
            pf = {e: (0.5 if e == "random" else 0.25) + 0.1 * rng.rand(5) for e in EXPLAINERS}
            for e in EXPLAINERS:
                cos = float(np.mean(c[e]))
                rec = {"dataset": "synthetic", "anomaly": a, "detector": det, "explainer": e,
                       "primary": e == "lrp", "roc_auc": roc, "roc_auc_ci_low": lo,
                       "roc_auc_ci_high": hi, "cosine": cos,
                       "reference_cosine": float(np.mean(c["random"])),
                       "clever_hans_difference": roc - cos, "clever_hans_ratio": roc / cos,
                       "pixel_flipping_auc": float(pf[e].mean()),
                       "pixel_flipping_auc_random": float(pf["random"].mean()),
                       "pixel_auroc": 0.5 + cos / 2,
                       "primary_cosine_same_rows": float(np.mean(c["lrp"])),
                       "primary_pixel_flipping_same_rows": float(pf["lrp"].mean()),
                       "agreement_with_primary": float(np.nanmean(_cos_rows(maps[e][out],
                                                                            maps["lrp"][out]))),
                       "explain_seconds_per_sample": 1e-4, "n_inliers": int(inl.sum()),
                       "n_outliers": n_out, "n_explained": n_out, "n_flipped": 5}
                rec["cosine_ci_low"], rec["cosine_ci_high"] = mean_interval(c[e])
                rec["cosine_gain_ci_low"], rec["cosine_gain_ci_high"] = mean_interval(
                    c[e] - c["random"])
                if e != "lrp":
                    rec["cosine_vs_primary_ci_low"], rec["cosine_vs_primary_ci_high"] = \
                        mean_interval(c[e] - c["lrp"])
                    rec["pixel_flipping_vs_primary_ci_low"], \
                        rec["pixel_flipping_vs_primary_ci_high"] = mean_interval(pf[e] - pf["lrp"])
                rows.append(rec)
            curves[det][a] = {"fractions": fr, "lrp": (1 - fr) ** 3,
                              "distance-to-mean": (1 - fr) ** 2, "random": 1 - fr}
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table.attrs["settings"] = {"dataset": "synthetic", "seed": seed, "detectors": DETECTORS,
                               "compute": {"backend": "numpy", "n_jobs": None}}
    table.attrs["descriptions"] = {det: f"the {det} test detector." for det in DETECTORS}
    if tabular:
        table.attrs["feature_names"] = ds.feature_names
    return table, ds, relevances, curves, scores


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic()


@pytest.fixture(scope="module")
def synthetic_report(synthetic, tmp_path_factory):
    table, ds, rel, curves, scores = synthetic
    out = tmp_path_factory.mktemp("synthetic_report")
    return write_report(table.copy(), out, dataset=ds, relevances=rel, curves=curves,
                        scores=scores, n_examples=2)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    from skexplain_ad import audit

    out = tmp_path_factory.mktemp("real_report")
    table = audit("digits-c", detectors=["KDE"], anomalies=["stripe", "fog"],
                  explainers=["lrp", "random", "occlusion"], n_samples=8, n_flip=2,
                  flip_steps=4, n_occlusion=2, n_examples=2, out=out)
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
        expect = max(0.6, 0.5 + 3 * np.std(aucs))
        assert detection_threshold(n0, n1) == pytest.approx(expect, rel=1e-12)
    assert detection_threshold(1000, 100) == 0.6
    np.testing.assert_allclose(detection_threshold([1000, 4], [100, 3]),
                               [0.6, detection_threshold(4, 3)])
    with pytest.raises(ValueError, match="n_inliers and n_outliers must be >= 1"):
        detection_threshold(0, 5)


def _plain_verdicts(table):
    """The module docstring's rules, one row at a time."""
    out = {}
    lrp = table[table.primary]
    for det in dict.fromkeys(lrp.detector):
        n = nd = right = hans = 0
        ch = []
        for r in lrp[lrp.detector == det].itertuples():
            n += 1
            detected = (r.roc_auc >= MIN_DETECTION_ROC and r.roc_auc_ci_low > 0.5
                        and r.n_outliers >= MIN_ROWS)
            if not detected:
                continue
            nd += 1
            ch.append(r.roc_auc - r.cosine)
            cut = r.roc_auc / RATIO_THRESHOLD
            ok = r.n_explained >= MIN_ROWS
            if ok and r.cosine_gain_ci_low > 0 and r.cosine_ci_low > cut:
                right += 1
            elif ok and (r.cosine_gain_ci_high <= 0 or r.cosine_ci_high < cut):
                hans += 1
        verdict = ("misses all" if nd == 0 else ("sound" if right else "undecided") if hans == 0
                   else "mixed" if hans <= right else "Clever Hans")
        out[det] = dict(n_detected=nd, n_right=right, n_clever_hans=hans, verdict=verdict,
                        eligible=verdict in ("sound", "mixed") and 2 * nd >= n,
                        ch=np.mean(ch) if ch else np.nan)
    return out


def test_summarize_matches_a_plain_loop(synthetic):
    table, *_ = synthetic
    rows, dets = summarize(table)
    assert len(rows) == len(table[table.primary])
    expect = _plain_verdicts(table)
    got = dets.set_index("detector")
    for det, e in expect.items():
        g = got.loc[det]
        assert (g.n_detected, g.n_right, g.n_clever_hans, g.verdict, bool(g.eligible)) == (
            e["n_detected"], e["n_right"], e["n_clever_hans"], e["verdict"], e["eligible"]), det
        np.testing.assert_allclose(g.clever_hans_difference, e["ch"])
        sub = table[table.primary & (table.detector == det)]
        assert g.roc_auc == pytest.approx(sub.roc_auc.mean())
        assert g.cosine == pytest.approx(sub.cosine.mean())
    verdicts = dict(zip(dets.detector, dets.verdict))
    assert verdicts == {"Good": "sound", "Also": "sound", "Hans": "Clever Hans",
                        "Blind": "misses all"}
    # ranked: the eligible first, by mean Clever Hans score
    assert dets.detector.tolist()[:2] == ["Good", "Also"]
    assert best_detector(dets)["detector"] == "Good"


def _random_table(rng, n_det=5, n_types=4):
    rows = []
    for d in range(n_det):
        for a in range(n_types):
            roc = rng.uniform(0.3, 1.0)
            cos = rng.uniform(0.0, 1.0)
            w = rng.uniform(0.0, 0.3)
            gain = rng.uniform(-0.5, 0.5)
            rows.append({"detector": f"D{d}", "anomaly": f"a{a}", "explainer": "lrp",
                         "primary": True, "roc_auc": roc,
                         "roc_auc_ci_low": roc - rng.uniform(0, .3),
                         "cosine": cos, "cosine_ci_low": cos - w, "cosine_ci_high": cos + w,
                         "cosine_gain_ci_low": gain - w, "cosine_gain_ci_high": gain + w,
                         "clever_hans_difference": roc - cos,
                         "n_outliers": int(rng.choice([3, 30])),
                         "n_explained": int(rng.choice([3, 30]))})
    return pd.DataFrame(rows)


def test_ranking_never_crowns_an_ineligible_detector():
    rng = np.random.RandomState(0)
    crowned = nobody = 0
    for _ in range(200):
        t = _random_table(rng)
        _, dets = summarize(t)
        expect = _plain_verdicts(t)
        eligible = {d for d, e in expect.items() if e["eligible"]}
        assert set(dets.detector[dets.eligible]) == eligible
        best = best_detector(dets)
        if not eligible:
            assert best is None
            nobody += 1
            continue
        crowned += 1
        assert best["detector"] in eligible
        lowest = min(expect[d]["ch"] for d in eligible)
        assert best["clever_hans_difference"] == pytest.approx(lowest, abs=1e-12)
    assert crowned > 20 and nobody > 20  # both branches were exercised


def test_a_low_clever_hans_score_alone_does_not_win():
    # "Lazy" detects 1 of 3 types with the lowest score: not eligible, the other wins
    base = dict(explainer="lrp", primary=True, n_outliers=30, n_explained=30)
    good = dict(roc_auc_ci_low=0.85, cosine_ci_low=0.5, cosine_ci_high=0.7,
                cosine_gain_ci_low=0.2, cosine_gain_ci_high=0.4)
    rows = [dict(detector="Lazy", anomaly="x", roc_auc=0.9, cosine=0.85,
                 clever_hans_difference=0.05, **good, **base)]
    for a in ("y", "z"):
        rows.append(dict(detector="Lazy", anomaly=a, roc_auc=0.5, cosine=0.1,
                         clever_hans_difference=0.4, **{**good, "roc_auc_ci_low": 0.4}, **base))
    for a in ("x", "y", "z"):
        rows.append(dict(detector="Steady", anomaly=a, roc_auc=0.9, cosine=0.6,
                         clever_hans_difference=0.3, **good, **base))
    # and a Clever Hans detector with a score lower than Steady's
    for a in ("x", "y", "z"):
        rows.append(dict(detector="Hans", anomaly=a, roc_auc=0.9, cosine=0.7,
                         clever_hans_difference=0.2, **{**good, "cosine_gain_ci_low": -0.3,
                                                        "cosine_gain_ci_high": -0.1}, **base))
    t = pd.DataFrame(rows).assign(dataset="d")
    _, dets = summarize(t)
    v = dets.set_index("detector")
    assert v.loc["Lazy", "clever_hans_difference"] < v.loc["Steady", "clever_hans_difference"]
    assert not v.loc["Lazy", "eligible"] and not v.loc["Hans", "eligible"]
    assert v.loc["Hans", "verdict"] == "Clever Hans"
    assert best_detector(dets)["detector"] == "Steady"
    text = format_terminal_summary(t).replace("\n  ", " ")
    assert "Most trustworthy: Steady" in text
    # nobody eligible: none is crowned, and the rule is printed
    _, none = summarize(t[t.detector != "Steady"])
    assert best_detector(none) is None
    text = format_terminal_summary(t[t.detector != "Steady"]).replace("\n  ", " ")
    assert "Most trustworthy: none." in text and RANKING_RULE[:60] in text


def test_baseline_comparisons_count_types_and_rows(synthetic):
    table, *_ = synthetic
    comps = {(c["detector"], c["baseline"], c["metric"]): c for c in baseline_comparisons(table)}
    for (det, base, metric), c in comps.items():
        g = table[(table.detector == det) & (table.explainer == base)]
        prefix = "cosine_vs_primary" if metric == "cosine" else "pixel_flipping_vs_primary"
        lo, hi = g[f"{prefix}_ci_low"], g[f"{prefix}_ci_high"]
        better = (lo > 0) if metric == "cosine" else (hi < 0)
        worse = (hi < 0) if metric == "cosine" else (lo > 0)
        assert (c["n_better"], c["n_worse"]) == (int(better.sum()), int(worse.sum()))
        assert c["n_better"] + c["n_worse"] + c["n_same"] + c["n_too_few"] == c["n_types"] == 3
    # Good's own explanation is noisier than the distance-to-mean map on every type
    assert comps[("Good", "distance-to-mean", "cosine")]["n_better"] == 3
    assert comps[("Good", "random", "cosine")]["n_worse"] == 3


# ---------------------------------------------------------------------------
# bootstrap intervals against brute force
# ---------------------------------------------------------------------------

@pytest.fixture
def draws(monkeypatch):
    """Records every multinomial draw of the generators _stats makes: the resamples it used."""
    from skexplain_ad._audit import _stats

    seen = []
    real = np.random.default_rng

    class Recorder:
        def __init__(self, *args):
            self.gen = real(*args)

        def multinomial(self, *args, **kwargs):
            out = self.gen.multinomial(*args, **kwargs)
            seen.append(np.array(out, copy=True))
            return out

    monkeypatch.setattr(np.random, "default_rng", Recorder)
    _fresh()
    yield seen
    _fresh()


def _fresh():
    """Forget the resamples _stats caches per size, so that they are drawn again."""
    from skexplain_ad._audit import _stats

    for f in vars(_stats).values():
        if hasattr(f, "cache_clear"):
            f.cache_clear()


def _draw(seen, n, n_boot):
    got = [c for c in seen if c.shape == (n_boot, n)]
    assert len(got) == 1, [c.shape for c in seen]
    assert (got[0].sum(axis=1) == n).all()  # each resample has n rows
    return got[0].astype(int)


def test_auc_interval_brute_force(draws):
    rng = np.random.RandomState(1)
    s0 = np.round(rng.randn(9), 1)  # rounded: ties occur
    s1 = np.round(rng.randn(6) + 1.0, 1)
    n_boot, seed = 300, 7
    got = auc_interval(s0, s1, n_boot=n_boot, random_state=seed)
    w, v = _draw(draws, s0.size, n_boot), _draw(draws, s1.size, n_boot)
    aucs = [_auc(np.repeat(s0, w[b]), np.repeat(s1, v[b])) for b in range(n_boot)]
    np.testing.assert_allclose(got, np.quantile(aucs, [0.025, 0.975]), rtol=0, atol=1e-12)
    assert got[0] <= _auc(s0, s1) <= got[1]
    draws.clear()
    _fresh()
    half = auc_interval(s0, s1, n_boot=n_boot, level=0.5, random_state=seed)
    w, v = _draw(draws, s0.size, n_boot), _draw(draws, s1.size, n_boot)
    aucs = [_auc(np.repeat(s0, w[b]), np.repeat(s1, v[b])) for b in range(n_boot)]
    np.testing.assert_allclose(half, np.quantile(aucs, [0.25, 0.75]), atol=1e-12)


def test_mean_interval_brute_force(draws):
    x = np.random.RandomState(2).rand(11)
    x_nan = np.concatenate([x[:4], [np.nan], x[4:], [np.inf]])
    n_boot, seed = 400, 3
    got = mean_interval(x, n_boot=n_boot, random_state=seed)
    counts = _draw(draws, x.size, n_boot)
    means = [sum(c * xi for c, xi in zip(counts[b], x)) / x.size for b in range(n_boot)]
    expect = np.quantile(means, [0.025, 0.975])
    np.testing.assert_allclose(got, expect, atol=1e-12)
    # non-finite rows are dropped, the rest resampled as above
    np.testing.assert_allclose(mean_interval(x_nan, n_boot=n_boot, random_state=seed), expect,
                               atol=1e-12)


def test_resamples_are_multinomial_with_equal_weights(draws):
    # the draws themselves: each row is used ~ n_boot times over all resamples
    mean_interval(np.arange(8.0), n_boot=4000, random_state=0)
    counts = _draw(draws, 8, 4000)
    np.testing.assert_allclose(counts.mean(axis=0), 1.0, atol=0.06)
    np.testing.assert_allclose(counts.var(axis=0), 1 - 1 / 8, atol=0.08)  # multinomial variance


def test_intervals_hold_the_estimate_and_are_deterministic():
    rng = np.random.RandomState(4)
    for _ in range(20):
        x = rng.randn(rng.randint(5, 40))
        lo, hi = mean_interval(x)
        assert lo <= x.mean() <= hi
        s0, s1 = rng.randn(30), rng.randn(12) + rng.uniform(0, 2)
        lo, hi = auc_interval(s0, s1)
        assert lo <= _auc(s0, s1) <= hi
    x, s0, s1 = rng.rand(15), rng.rand(20), rng.rand(8)
    assert mean_interval(x, random_state=5) == mean_interval(x, random_state=5)
    assert mean_interval(x, random_state=5) != mean_interval(x, random_state=6)
    assert auc_interval(s0, s1, random_state=5) == auc_interval(s0, s1, random_state=5)
    assert auc_interval(s0, s1, random_state=5) != auc_interval(s0, s1, random_state=6)
    # a wider level gives a wider interval
    a, b = mean_interval(x, level=0.5), mean_interval(x, level=0.99)
    assert b[0] <= a[0] <= a[1] <= b[1]


def test_degenerate_data_give_zero_width_or_nan():
    assert mean_interval(np.full(9, 0.25)) == (0.25, 0.25)
    assert auc_interval(np.arange(10.0), np.arange(10.0) + 100) == (1.0, 1.0)
    assert auc_interval(np.arange(10.0) + 100, np.arange(10.0)) == (0.0, 0.0)
    assert auc_interval(np.ones(10), np.ones(4)) == (0.5, 0.5)  # all tied
    assert np.isnan(mean_interval([np.nan, np.nan])).all()
    assert np.isnan(auc_interval([], [1.0, 2.0])).all()


def test_mean_interval_covers_the_true_mean():
    # coverage of the 95 % interval over 300 normal samples of 40 (seeded, so fixed)
    rng = np.random.RandomState(5)
    hits = 0
    for k in range(300):
        lo, hi = mean_interval(rng.randn(40) + 2.0, n_boot=400, random_state=k)
        hits += lo <= 2.0 <= hi
    assert 0.88 <= hits / 300 <= 0.99


# ---------------------------------------------------------------------------
# glossary
# ---------------------------------------------------------------------------

def test_glossary_covers_every_column(synthetic, real_report):
    table, *_ = synthetic
    real_table, path = real_report
    csv_cols = pd.read_csv(path / "results.csv").columns
    assert list(real_table.columns) == COLUMNS
    for col in [*COLUMNS, *table.columns, *csv_cols]:
        assert col in GLOSSARY, col
        what, rng, better, source = GLOSSARY[col]
        assert what and rng and better and source, col
    assert list(GLOSSARY) == COLUMNS
    for col in ("roc_auc", "cosine", "pixel_auroc"):
        assert GLOSSARY[col][2] == "higher"
    for col in ("clever_hans_difference", "clever_hans_ratio", "pixel_flipping_auc"):
        assert GLOSSARY[col][2] == "lower"
    assert "eq. 3.5" in GLOSSARY["clever_hans_ratio"][3]
    assert "1.16" in GLOSSARY["pixel_flipping_auc"][3]
    payload = json.loads((path / "results.json").read_text())
    assert set(payload["glossary"]) == set(real_table.columns)


def test_glossary_ranges_hold_on_a_real_table(real_report):
    table, _ = real_report
    for col in ("roc_auc", "roc_auc_ci_low", "roc_auc_ci_high", "cosine", "cosine_ci_low",
                "cosine_ci_high", "reference_cosine", "agreement_with_primary"):
        assert GLOSSARY[col][1].startswith("0 to 1"), col
        assert table[col].dropna().between(0, 1).all(), col
    for col in ("cosine_gain_ci_low", "cosine_gain_ci_high", "clever_hans_difference"):
        assert GLOSSARY[col][1] == "-1 to 1"
        assert table[col].dropna().between(-1, 1).all(), col


# ---------------------------------------------------------------------------
# terminal summary
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("width", [100, 72, 60])
def test_terminal_summary_width_and_content(synthetic, width):
    table, *_ = synthetic
    text = format_terminal_summary(table, "/some/where/report", width=width)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width
    assert lines[-1] == "report: /some/where/report/index.html"
    for det in DETECTORS:
        assert any(line.startswith(det) for line in lines), det
    flat = text.replace("\n  ", " ")
    assert "Most trustworthy: Good" in flat
    assert "Clever Hans cases (3)" in flat and "Hans/blob" in flat
    assert "A baseline beats the primary explanation" in flat
    assert "Good cosine: distance-to-mean on 3/3" in flat
    assert len(lines) <= 4 + len(DETECTORS) + 16


def test_terminal_summary_of_a_real_audit(real_report):
    table, path = real_report
    text = format_terminal_summary(table, path)
    assert max(map(len, text.splitlines())) <= 100
    assert text.splitlines()[-1] == f"report: {path / 'index.html'}"
    assert text.startswith("Clever Hans audit of digits-c: 1 detector(s) x 2 anomaly type(s)")


def test_terminal_summary_bad_width(synthetic):
    with pytest.raises(ValueError, match="width must be >= 60; got 10"):
        format_terminal_summary(synthetic[0], width=10)


def test_terminal_summary_without_ground_truth(synthetic):
    table, *_ = synthetic
    blind = table.drop(columns=[c for c in table.columns if "cosine" in c]).assign(cosine=np.nan)
    text = format_terminal_summary(blind).replace("\n  ", " ")
    assert "explanation accuracy (cosine) needs ground-truth maps" in text
    assert "Most trustworthy" not in text


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
    assert len(refs) == len(set(refs))
    for name in ("top_clever_hans.png", "roc_vs_clever_hans.png", "pixel_flipping.png",
                 "pixel_flipping_by_anomaly.png", "explainers.png",
                 *(f"examples_{d}.png" for d in ("Good", "Also", "Hans")),
                 *(f"explain_{a}.png" for a in ANOMALIES)):
        assert name in refs, name
    for text in ("Most trustworthy detector: Good", "How the verdicts are made",
                 "Own explanations against baseline explainers",
                 "Paired comparisons, per anomaly type", "Glossary of results.csv",
                 "The detectors", "the Hans test detector.", "seismic", "Reds", "&#9888;",
                 "Best detection:", "sum R "):
        assert text in page, text
    assert "Written from a results table alone" not in page
    for col in table.columns:
        assert f"<code>{col}</code>" in page, col
    assert "<td class='l'>compute.backend</td>" in page and "numpy" in page
    assert "{" not in page.split("<h2>Settings")[1]  # no raw JSON
    back = json.loads((synthetic_report / "results.json").read_text())
    assert back["summary"]["most_trustworthy"] == "Good"
    assert back["summary"]["ranking_rule"] == RANKING_RULE
    assert [d["detector"] for d in back["summary"]["detectors"]][:2] == ["Good", "Also"]
    assert set(back["glossary"]) == set(table.columns)
    assert back["ground_truth"] is True
    csv = pd.read_csv(synthetic_report / "results.csv")
    assert csv.shape == table.shape
    np.testing.assert_allclose(csv.cosine_gain_ci_low, table.cosine_gain_ci_low)


def test_report_tabular_bar_charts(tmp_path):
    table, ds, rel, curves, scores = make_synthetic(tabular=True)
    path = write_report(table, tmp_path, dataset=ds, relevances=rel, curves=curves,
                        scores=scores, n_examples=1)
    back = json.loads((path / "results.json").read_text())
    assert back["feature_names"] == [f"feat_{j}" for j in range(7)]
    page = (path / "index.html").read_text()
    assert "Bars per feature" in page and "seismic" not in page
    refs = _img_refs(page)
    assert "examples_Good.png" in refs and all((path / r).is_file() for r in refs)


def test_report_bad_input(synthetic, tmp_path):
    table, *_ = synthetic
    with pytest.raises(ValueError, match=r"lacks the columns \['roc_auc'\]"):
        write_report(table.drop(columns="roc_auc"), tmp_path / "a")
    with pytest.raises(ValueError, match="n_examples must be >= 1; got 0"):
        write_report(table, tmp_path / "b", n_examples=0)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file; the report needs a folder"):
        write_report(table, f)
    with pytest.raises(ValueError, match="no such file"):
        write_report(tmp_path / "missing.json", tmp_path / "c")
    with pytest.raises(ValueError, match="neither a .json nor a .csv"):
        write_report(f, tmp_path / "d")
    with pytest.raises(TypeError, match="results must be a DataFrame"):
        write_report([1, 2], tmp_path / "e")
    for name in "abcde":  # nothing was written for a bad call
        assert not (tmp_path / name).exists(), name


def test_real_audit_report(real_report):
    table, path = real_report
    page = (path / "index.html").read_text()
    refs = _img_refs(page)
    assert all((path / r).is_file() for r in refs)
    assert {"explain_stripe.png", "explain_fog.png", "examples_KDE.png"} <= set(refs)
    assert "Summary" in page and "KDE" in page
    payload = json.loads((path / "results.json").read_text())
    assert payload["timings"] == table.attrs["timings"]
    assert payload["settings"]["seed"] == 0


# ---------------------------------------------------------------------------
# write_report from a results table, alone
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["frame", "json", "csv", "folder"])
def test_write_report_from_results_alone(real_report, tmp_path, source):
    table, path = real_report
    results = {"frame": table.copy(), "json": path / "results.json",
               "csv": path / "results.csv", "folder": path}[source]
    out = write_report(results, tmp_path / "again")
    assert out == (tmp_path / "again").resolve()
    page = (out / "index.html").read_text()
    assert "Written from a results table alone" in page
    refs = _img_refs(page)
    assert {"top_clever_hans.png", "roc_vs_clever_hans.png"} <= set(refs)
    assert not any(r.startswith("examples_") for r in refs)  # they need the data
    assert all((out / r).is_file() for r in refs)
    back = pd.read_csv(out / "results.csv")
    first = pd.read_csv(path / "results.csv")
    assert list(back.columns) == list(first.columns)
    num = first.select_dtypes("number").columns
    np.testing.assert_allclose(back[num].to_numpy(float), first[num].to_numpy(float), rtol=1e-12)
    old = json.loads((path / "results.json").read_text())
    new = json.loads((out / "results.json").read_text())
    assert new["summary"] == old["summary"]
    assert new["results"] == old["results"] if source != "csv" else len(new["results"]) == len(
        old["results"])
    if source in ("json", "folder", "frame"):  # the run's settings travel with the table
        assert new["settings"] == old["settings"] and "<h3>Settings</h3>" in page
        assert "n_flip" in page.split("<h3>Settings</h3>")[1]


def test_results_json_round_trips_exactly(real_report, tmp_path):
    # a report rewritten from results.json judges the very numbers of the run
    table, path = real_report
    tiny = table.copy()
    tiny.loc[0, "explain_seconds_per_sample"] = 3.2e-17
    tiny.loc[1, "cosine_gain_ci_low"] = 1 / 3
    out = write_report(tiny, tmp_path / "r")
    back = pd.DataFrame(json.loads((out / "results.json").read_text())["results"])
    assert list(back.columns) == list(tiny.columns)
    num = tiny.select_dtypes("number").columns
    np.testing.assert_array_equal(back[num].to_numpy(float), tiny[num].to_numpy(float))
    assert back.loc[0, "explain_seconds_per_sample"] == 3.2e-17


def test_write_report_replaces_links_never_follows_them(synthetic, tmp_path):
    # issue 20 item 4: a link named index.html / results.csv inside the folder is replaced
    table, *_ = synthetic
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "report"
    out.mkdir()
    for name in ("index.html", "results.csv", "results.json"):
        (outside / name).write_text(f"precious {name}")
        os.symlink(outside / name, out / name)
    write_report(table, out)
    for name in ("index.html", "results.csv", "results.json"):
        assert (outside / name).read_text() == f"precious {name}", name
        assert not (out / name).is_symlink() and (out / name).is_file(), name
    assert (out / "index.html").read_text().startswith("<!doctype html>")
    assert pd.read_csv(out / "results.csv").shape == table.shape
    assert sorted(os.listdir(outside)) == ["index.html", "results.csv", "results.json"]
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(synthetic, tmp_path, monkeypatch):
    table, *_ = synthetic
    out = tmp_path / "report"
    out.mkdir()
    (out / "results.csv").write_text("old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_report.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(table, out)
    assert (out / "results.csv").read_text() == "old"
    assert sorted(os.listdir(out)) == ["results.csv"]
    with pytest.raises(ValueError, match="must not contain a folder"):
        _report._write(out, "../x.txt", "x")


def test_no_global_matplotlib_state():
    for mod in ("_audit/_report.py", "_audit/_html.py", "plotting.py"):
        src = (ROOT / "skexplain_ad" / mod).read_text()
        assert "matplotlib.use(" not in src, mod
        assert not re.search(r"import matplotlib\.pyplot|from matplotlib import pyplot|plt\.",
                             src), mod
    code = (
        "import sys, tempfile, matplotlib\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_report import make_synthetic\n"
        "from skexplain_ad import write_report\n"
        "rc = matplotlib.rcParams\n"
        "snap = lambda: {k: repr(rc._get(k)) for k in rc.keys()}\n"  # _get: no backend resolution
        "before = snap()\n"
        "t, ds, rel, cur, sc = make_synthetic()\n"
        "write_report(t, tempfile.mkdtemp(), dataset=ds, relevances=rel, curves=cur,\n"
        "             n_examples=1)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert snap() == before\n"
        "print('ok')\n"
    )
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=600, env=env)
    assert res.stdout.strip() == "ok", res.stderr


def test_report_modules_all_are_documented():
    from skexplain_ad._audit import _columns, _stats, _summary, _verdicts

    for mod in (_report, _verdicts, _summary, _stats, _columns):
        for name in mod.__all__:
            obj = getattr(mod, name)
            assert not callable(obj) or obj.__doc__, f"{mod.__name__}.{name}"


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


def browser_screenshot(folder, png, width=1400):
    """A headless-Chromium screenshot of ``folder/index.html``, ``width`` pixels wide."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", f"--window-size={width},2400",
             f"--screenshot={png}", (folder / "index.html").as_uri()],
            capture_output=True, text=True, timeout=120)
    return png


@pytest.mark.skipif(_chromium() is None,
                    reason="needs Debian's chromium (apt-get install chromium)")
@pytest.mark.parametrize("which", ["synthetic_report", "real_report"])
def test_every_figure_loads_in_chromium(which, request, tmp_path):
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
    png = browser_screenshot(folder, tmp_path / "page.png")
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[1] == 1400 and img.shape[0] > 100
    assert np.ptp(img[..., :3]) > 0.5  # not a blank page
