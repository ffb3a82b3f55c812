"""The audit's report: verdicts, the glossary, index.html and the terminal summary.

:func:`write_report` writes ``results.csv``, ``results.json``, the figures
and an ``index.html`` a reader who has not read the papers can follow;
:func:`format_terminal_summary` is the compact text the command prints;
:func:`summarize` holds the verdict rules both use.

How verdicts are made (each threshold is printed in the report with the
numbers of the run):

- *detected*: ROC-AUC at least ``max(0.6, 0.5 + 3 s)``. 0.6 is the thesis'
  cut-off ([T] Sec. 3.2, "corruptions can be detected (i.e. ROC_AUC >
  0.600)"); ``s = sqrt((n_in + n_out + 1) / (12 n_in n_out))`` is the
  standard deviation of the ROC-AUC of a detector that guesses (the
  Mann-Whitney null), so a detected type is never within 3 s of chance.
- *right reasons*: a detected type whose explanation accuracy (cosine) is
  above the reference cosine of an explanation that knows nothing: the
  ``random`` explainer's cosine on the same detector and anomaly when the
  table has it, else the cosine of a flat map (every feature equally
  relevant) with that anomaly's ground truth.
- *Clever Hans case*: detected, but not for the right reasons ([P] Sec. 3).
- the most trustworthy detector has the most anomaly types detected for the
  right reasons; ties go to the lower mean Clever Hans score.
"""

import html
import json
import math
import re
import textwrap
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

__all__ = ["GLOSSARY", "write_report", "summarize", "format_terminal_summary",
           "reference_cosine", "detection_threshold"]

#: Lowest ROC-AUC the thesis counts as "detected" ([T] Sec. 3.2).
MIN_DETECTION_ROC = 0.6
#: Chance standard deviations a detected type must lie above ROC 0.5.
CHANCE_SIGMAS = 3.0
#: [T] eq. 3.5's cut-off on the ratio ROC / cosine, quoted with this run's values.
RATIO_THRESHOLD = 3.0

_SECONDS = ("explain_seconds_per_sample", "explanation_seconds_per_sample",
            "seconds_per_sample", "explain_seconds")

#: Every column of results.csv: what it measures, its range, the better
#: direction and its source.
GLOSSARY = {
    "dataset": ("the audited data set", "name", "-", "-"),
    "anomaly": ("the anomaly type: a corruption (MNIST-C), a planted defect (textures) or "
                "an MVTec AD defect folder", "name", "-", "[P] Sec. 3; [T] Sec. 3.2-3.3"),
    "detector": ("the anomaly detector (model) audited", "name", "-", "[P] Sec. 2; [T] ch. 1-2"),
    "explainer": ("how the relevance map was made: lrp (the package's LRP / deep Taylor "
                  "explanation), random (uniform noise, a floor), distance-to-mean "
                  "((x - mean of training inliers)^2, what KDE reduces to), occlusion "
                  "(o(x) minus o(x) with the feature set to the training mean), "
                  "kernel-shap (the shap library's KernelSHAP)",
                  "name", "-", "[P] Sec. 2, App. A-B; [T] eq. 1.9-1.14"),
    "roc_auc": ("detection accuracy: how well the outlier score ranks this anomaly type above "
                "clean test inliers (probability that a random outlier scores higher than a "
                "random inlier)", "0 to 1; 0.5 = guessing", "higher",
                "[P] Sec. 3 (area under the ROC curve); [T] Sec. 3.2"),
    "cosine": ("explanation accuracy: mean over the anomaly's outliers of the cosine similarity "
               "between the rectified relevance max(R, 0) and the ground-truth anomaly map",
               "0 to 1", "higher", "[P] Sec. 3; [T] Sec. 3.3, ground truth eq. 3.3"),
    "clever_hans_difference": ("Clever Hans score: detection accuracy minus explanation "
                               "accuracy, roc_auc - cosine; high = detects well for the wrong "
                               "reasons", "-1 to 1", "lower", "[P] Sec. 3"),
    "clever_hans_ratio": ("the thesis' Clever Hans score, roc_auc / cosine; the thesis reads "
                          "values at or above 3 as a bad understanding of the task",
                          "0 to infinity (infinite when cosine = 0)", "lower", "[T] eq. 3.5"),
    "pixel_flipping_auc": ("area under the pixel-flipping curve o_k(x) / o(x) when the most "
                           "relevant features are removed first, mean over the flipped "
                           "outliers: does the explanation point at what the model uses?",
                           "0 to 1 (above 1 when removal raises the score)", "lower",
                           "[T] Sec. 1.4, eq. 1.15-1.16"),
    "pixel_flipping_auc_random": ("the same area for features removed in a random order: "
                                  "the reference pixel_flipping_auc should beat",
                                  "0 to 1", "lower (it is the reference)",
                                  "[T] Sec. 1.4, eq. 1.16"),
    "pixel_auroc": ("pixel-level ROC-AUC of the relevance against the binarised ground truth, "
                    "all pixels of the anomaly's outliers pooled (the MVTec AD convention)",
                    "0 to 1; 0.5 = guessing", "higher",
                    "MVTec AD convention (not in [P] or [T])"),
    "lrp_cosine_same_rows": ("the LRP cosine over exactly the outliers this row's explainer "
                             "explained (a costly baseline explains only a few): the "
                             "like-for-like reference for this row's cosine; equals cosine on "
                             "lrp rows", "0 to 1", "-", "[P] Sec. 3"),
    "n_inliers": ("clean test samples the ROC is computed against", "count", "-", "-"),
    "n_outliers": ("samples of this anomaly type", "count", "-", "-"),
    "n_explained": ("outliers this explainer explained (all for lrp, random and "
                    "distance-to-mean; a subset for occlusion and kernel-shap)",
                    "count", "-", "-"),
    **{name: ("time to explain one sample with this explainer, seconds (wall clock)",
              "0 to infinity", "lower", "measured") for name in _SECONDS},
}


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------

def detection_threshold(n_inliers, n_outliers):
    """ROC-AUC a detected anomaly type must reach: ``max(0.6, 0.5 + 3 s)``.

    ``s`` is the standard deviation of the ROC-AUC of a guessing detector
    (Mann-Whitney null) with these sample counts; 0.6 is [T] Sec. 3.2's
    cut-off.

    Parameters
    ----------
    n_inliers, n_outliers : int or array-like of int
        Must be >= 1.

    Returns
    -------
    threshold : float or ndarray

    Raises
    ------
    ValueError
        When a count is below 1.

    Examples
    --------
    >>> from skexplain_ad._report import detection_threshold
    >>> round(detection_threshold(1000, 100), 3)
    0.6
    >>> round(detection_threshold(20, 5), 3)
    0.942
    """
    n0 = np.asarray(n_inliers, dtype=np.float64)
    n1 = np.asarray(n_outliers, dtype=np.float64)
    if (n0 < 1).any() or (n1 < 1).any():
        raise ValueError(f"n_inliers and n_outliers must be >= 1; got {n_inliers!r}, {n_outliers!r}.")
    s = np.sqrt((n0 + n1 + 1.0) / (12.0 * n0 * n1))
    out = np.maximum(MIN_DETECTION_ROC, 0.5 + CHANCE_SIGMAS * s)
    return float(out) if out.ndim == 0 else out


def _lrp(table):
    """The rows of the detectors' own explanation: ``lrp``, else the first explainer."""
    if "explainer" in table.columns and len(table):
        expl = table["explainer"]
        return table[expl == ("lrp" if (expl == "lrp").any() else expl.iloc[0])]
    return table


def _seconds_column(table):
    return next((c for c in _SECONDS if c in table.columns), None)


def reference_cosine(table, ds=None):
    """Cosine of an explanation that knows nothing, per (detector, anomaly).

    The ``random`` explainer's cosine when the table has an ``explainer``
    column with ``random`` rows; else the cosine of a flat map with each
    anomaly's ground truth, from ``ds``'s masks or from
    ``table.attrs["reference_cosine"]`` (anomaly -> value).

    Parameters
    ----------
    table : pandas.DataFrame
        The audit table.
    ds : sklearn.utils.Bunch, optional
        The audited data set (``masks``, ``corruption``).

    Returns
    -------
    reference : dict or None
        ``(detector, anomaly) -> cosine``; None when nothing gives one.
    source : str
        What the reference is, in words.

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad._report import reference_cosine
    >>> t = pd.DataFrame({"detector": ["KDE", "KDE"], "anomaly": ["fog", "fog"],
    ...                   "explainer": ["lrp", "random"], "cosine": [0.6, 0.2]})
    >>> reference_cosine(t)[0]
    {('KDE', 'fog'): 0.2}
    """
    pairs = _lrp(table)[["detector", "anomaly"]].drop_duplicates().itertuples(index=False)
    pairs = [tuple(p) for p in pairs]
    if "explainer" in table.columns and (table["explainer"] == "random").any():
        rnd = table[table["explainer"] == "random"].set_index(["detector", "anomaly"])["cosine"]
        ref = {p: float(rnd[p]) for p in pairs if p in rnd.index}
        return ref, "the cosine of the random explainer on the same detector and anomaly"
    flat = None
    if ds is not None and getattr(ds, "masks", None) is not None:
        from .metrics import explanation_cosine

        flat = {}
        for anomaly in dict.fromkeys(a for _, a in pairs):
            m = np.asarray(ds.masks)[np.asarray(ds.corruption) == anomaly]
            flat[anomaly] = float(np.mean(explanation_cosine(np.ones_like(m), m))) if len(m) else np.nan
    elif table.attrs.get("reference_cosine"):
        flat = {str(k): float(v) for k, v in table.attrs["reference_cosine"].items()}
    if flat is None:
        return None, "none (no random explainer rows and no ground truth at hand)"
    return ({p: flat.get(p[1], np.nan) for p in pairs},
            "the cosine of a flat map (every feature equally relevant) with the anomaly's ground truth")


def summarize(table, reference=None):
    """Per-detector verdicts of the audit (the rules in the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        The audit table (LRP rows are used when it has an ``explainer`` column).
    reference : dict, optional
        ``(detector, anomaly) -> reference cosine`` (:func:`reference_cosine`);
        without it only detection is judged.

    Returns
    -------
    rows : pandas.DataFrame
        The LRP rows with ``threshold``, ``reference``, ``detected``,
        ``right_reasons`` and ``clever_hans`` columns added.
    detectors : pandas.DataFrame
        One row per detector, best first: means of ``roc_auc``, ``cosine``,
        ``clever_hans_difference`` (and pixel flipping when present), counts
        ``n_anomalies``, ``n_detected``, ``n_right``, ``n_clever_hans``, the
        Clever Hans anomalies, a ``verdict`` word and a one-line ``summary``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad._report import summarize
    >>> t = pd.DataFrame({"detector": ["A", "A", "B", "B"], "anomaly": ["x", "y"] * 2,
    ...                   "roc_auc": [.9, .9, .9, .55], "cosine": [.5, .1, .5, .5],
    ...                   "clever_hans_difference": [.4, .8, .4, .05],
    ...                   "n_inliers": 500, "n_outliers": 100})
    >>> rows, dets = summarize(t, {(d, a): 0.2 for d in "AB" for a in "xy"})
    >>> dets[["detector", "n_detected", "n_right", "verdict"]].to_numpy().tolist()
    [['B', 1, 1, 'sound'], ['A', 2, 1, 'mixed']]
    """
    import pandas as pd

    rows = _lrp(table).copy()
    if {"n_inliers", "n_outliers"} <= set(rows.columns):
        rows["threshold"] = detection_threshold(rows["n_inliers"].clip(lower=1),
                                                rows["n_outliers"].clip(lower=1))
    else:
        rows["threshold"] = MIN_DETECTION_ROC
    rows["detected"] = rows["roc_auc"] >= rows["threshold"]
    keys = list(zip(rows["detector"], rows["anomaly"]))
    ref = np.array([np.nan if reference is None else reference.get(k, np.nan) for k in keys],
                   dtype=np.float64)
    rows["reference"] = ref
    judged = ~np.isnan(ref)
    rows["right_reasons"] = rows["detected"] & judged & (rows["cosine"].to_numpy() > ref)
    rows["clever_hans"] = rows["detected"] & judged & ~rows["right_reasons"]
    out = []
    for det, g in rows.groupby("detector", sort=False):
        rec = {"detector": det, "roc_auc": g["roc_auc"].mean(), "cosine": g["cosine"].mean(),
               "clever_hans_difference": g["clever_hans_difference"].mean(),
               "n_anomalies": len(g), "n_detected": int(g["detected"].sum()),
               "n_right": int(g["right_reasons"].sum()), "n_clever_hans": int(g["clever_hans"].sum()),
               "judged": bool(judged[rows["detector"].to_numpy() == det].any())}
        for col in ("pixel_flipping_auc", "pixel_flipping_auc_random", "pixel_auroc"):
            if col in g.columns:
                rec[col] = g[col].mean()
        ch = g[g["clever_hans"]].sort_values("clever_hans_difference", ascending=False)
        rec["clever_hans_anomalies"] = ch["anomaly"].tolist()
        rec["verdict"] = _verdict(rec)
        rec["summary"] = _verdict_line(rec)
        out.append(rec)
    dets = pd.DataFrame(out)
    if len(dets):
        dets = dets.sort_values(["n_right", "clever_hans_difference", "roc_auc"],
                                ascending=[False, True, False], kind="stable").reset_index(drop=True)
    return rows, dets


def _verdict(rec):
    if rec["n_detected"] == 0:
        return "misses all"
    if not rec["judged"]:
        return "detects"
    if rec["n_clever_hans"] == 0:
        return "sound"
    return "mixed" if rec["n_clever_hans"] <= rec["n_right"] else "Clever Hans"


def _verdict_line(rec):
    n, nd = rec["n_anomalies"], rec["n_detected"]
    text = f"detects {nd}/{n} types"
    if rec["judged"] and nd:
        text += f"; right reasons on {rec['n_right']}/{nd}"
        if rec["n_clever_hans"]:
            text += f"; Clever Hans on {', '.join(map(str, rec['clever_hans_anomalies']))}"
    return text


def _best(dets):
    """The most trustworthy detector (first of ``dets``) or None."""
    if not len(dets) or int(dets["n_right"].iloc[0]) == 0:
        return None
    return dets.iloc[0]


def _evidence(b, dets=None):
    text = (f"it detects {b['n_detected']} of {b['n_anomalies']} anomaly types and on "
            f"{b['n_right']} of them its explanation points at the anomaly better than "
            f"an uninformed one (mean ROC {b['roc_auc']:.3f}, mean cosine {b['cosine']:.3f}, "
            f"mean Clever Hans score {b['clever_hans_difference']:.3f})")
    if dets is not None and len(dets) > 1 and dets["n_right"].iloc[1] == b["n_right"]:
        r = dets.iloc[1]
        gap = r["clever_hans_difference"] - b["clever_hans_difference"]
        text += (f"; it ties on that count with {r['detector']} and wins on the mean Clever Hans "
                 f"score by {gap:.3f}")
    return text


# ---------------------------------------------------------------------------
# terminal summary
# ---------------------------------------------------------------------------

def _fit(line, width):
    return line if len(line) <= width else line[: width - 3] + "..."


def format_terminal_summary(results, report_path=None, *, reference=None, width=100):
    """The compact text the command prints after an audit.

    A per-detector table (mean ROC, cosine and Clever Hans score, verdict),
    the top findings and the report's path; no line is wider than ``width``.

    Parameters
    ----------
    results : pandas.DataFrame
        The audit table, as :func:`skexplain_ad.audit` returns it.
    report_path : str or path-like, optional
        The report folder (or its ``index.html``); printed last.
    reference : dict, optional
        ``(detector, anomaly) -> reference cosine``; found with
        :func:`reference_cosine` from ``results`` when None.
    width : int, default=100
        Largest line length, at least 60.

    Returns
    -------
    text : str

    Raises
    ------
    ValueError
        When ``width`` is below 60.

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad._report import format_terminal_summary
    >>> t = pd.DataFrame({"dataset": "digits-c", "detector": ["KDE"], "anomaly": ["fog"],
    ...                   "roc_auc": [0.9], "cosine": [0.3],
    ...                   "clever_hans_difference": [0.6], "n_inliers": 500, "n_outliers": 50})
    >>> print(format_terminal_summary(t, "out", reference={("KDE", "fog"): 0.2}, width=60))
    Clever Hans audit of digits-c: 1 detector(s) x 1 anomaly ...
    detector      ROC  cosine  CH score  verdict
    KDE         0.900   0.300     0.600  sound (detected 1/1,...
    Most trustworthy: KDE: it detects 1 of 1 anomaly types and
      on 1 of them its explanation points at the anomaly better
      than an uninformed one (mean ROC 0.900, mean cosine 0.300,
      mean Clever Hans score 0.600).
    Top Clever Hans scores (ROC - cosine): KDE/fog 0.60
    report: out/index.html
    """
    if int(width) < 60:
        raise ValueError(f"width must be >= 60; got {width!r}.")
    width = int(width)
    if reference is None:
        reference, _ = reference_cosine(results)
    rows, dets = summarize(results, reference)
    data = ", ".join(map(str, dict.fromkeys(results["dataset"]))) if "dataset" in results else "?"
    lines = [f"Clever Hans audit of {data}: {len(dets)} detector(s) x "
             f"{rows['anomaly'].nunique()} anomaly type(s)"]
    name_w = max([8, *(len(str(d)) for d in dets["detector"])]) if len(dets) else 8
    lines.append(f"{'detector':<{name_w}}  {'ROC':>7}  {'cosine':>6}  {'CH score':>8}  verdict")
    for _, d in dets.iterrows():
        short = f"detected {d['n_detected']}/{d['n_anomalies']}"
        if d["judged"] and d["n_detected"]:
            short += f", right reasons {d['n_right']}, Clever Hans {d['n_clever_hans']}"
        lines.append(f"{str(d['detector']):<{name_w}}  {d['roc_auc']:7.3f}  {d['cosine']:6.3f}  "
                     f"{d['clever_hans_difference']:8.3f}  {d['verdict']} ({short})")
    findings = []
    best = _best(dets)
    if best is not None:
        findings.append(f"Most trustworthy: {best['detector']}: {_evidence(best, dets)}.")
    elif reference is not None and len(dets):
        findings.append("No detector is right for the right reasons on any anomaly type.")
    hans = rows[rows["clever_hans"]].sort_values("clever_hans_difference", ascending=False)
    if len(hans):
        findings.append(f"Clever Hans cases ({len(hans)}): detected, explanation no better than "
                        "an uninformed one: " + ", ".join(
                            f"{r.detector}/{r.anomaly} (ROC {r.roc_auc:.2f}, cos {r.cosine:.2f})"
                            for r in hans.head(4).itertuples()) + (", ..." if len(hans) > 4 else ""))
    top = rows.sort_values("clever_hans_difference", ascending=False).head(3)
    if not len(hans):
        findings.append("Top Clever Hans scores (ROC - cosine): " + ", ".join(
            f"{r.detector}/{r.anomaly} {r.clever_hans_difference:.2f}" for r in top.itertuples()))
    findings += _baseline_findings(results)
    for f in findings:
        lines += textwrap.wrap(f, width, subsequent_indent="  ", break_on_hyphens=False)
    if report_path is not None:
        p = Path(report_path)
        lines.append(f"report: {p if p.suffix == '.html' else p / 'index.html'}")
    return "\n".join(_fit(line, width) for line in lines)


_EXPLAINER_ORDER = ("lrp", "random", "distance-to-mean", "occlusion", "kernel-shap")


def _explainer_means(table, detectors=None):
    """Means per (detector, explainer), detectors in the given order, LRP first."""
    if "explainer" not in table.columns or table["explainer"].nunique() < 2:
        return None
    cols = [c for c in ("cosine", "pixel_flipping_auc", "pixel_auroc", _seconds_column(table),
                        "lrp_cosine_same_rows")
            if c and c in table.columns]
    means = table.groupby(["detector", "explainer"], sort=False)[cols].mean()
    dets = list(detectors) if detectors is not None else list(dict.fromkeys(table["detector"]))
    dets += [d for d in dict.fromkeys(table["detector"]) if d not in dets]
    found = list(dict.fromkeys(table["explainer"]))
    expls = [e for e in _EXPLAINER_ORDER if e in found] + [e for e in found if e not in _EXPLAINER_ORDER]
    order = [(d, e) for d in dets for e in expls if (d, e) in means.index]
    return means.loc[order]


def _lrp_losses(means):
    """(detector, metric, baseline, lrp value, baseline value) where a baseline beats LRP."""
    out = []
    for det in dict.fromkeys(means.index.get_level_values(0)):
        if (det, "lrp") not in means.index:
            continue
        lrp = means.loc[(det, "lrp")]
        for metric, higher in (("cosine", True), ("pixel_flipping_auc", False), ("pixel_auroc", True)):
            if metric not in means.columns or not np.isfinite(lrp[metric]):
                continue
            others = means.loc[det][metric].drop("lrp").dropna()
            if not len(others):
                continue
            # cosine like for like: against LRP's cosine on the very rows the
            # baseline explained (a costly baseline explains only a few)
            same = means.loc[det].get("lrp_cosine_same_rows") if metric == "cosine" else None
            ref = {b: float(same[b]) if same is not None and np.isfinite(same[b])
                   else float(lrp[metric]) for b in others.index}
            gain = {b: (others[b] - ref[b]) if higher else (ref[b] - others[b])
                    for b in others.index}
            b = max(gain, key=gain.get)
            if gain[b] > 0:
                out.append((det, metric, b, ref[b], float(others[b])))
    return out


def _baseline_findings(table):
    means = _explainer_means(table)
    if means is None:
        return []
    losses = _lrp_losses(means)
    if not losses:
        return ["LRP vs baselines: LRP is at least as good as every baseline on every "
                "detector (cosine, pixel flipping, pixel AUROC)."]
    big = sorted(losses, key=lambda x: -abs(x[4] - x[3]))
    more = f" (+{len(big) - 3} smaller, see the report)" if len(big) > 3 else ""
    return [f"LRP loses to a baseline in {len(losses)} detector x metric pair(s), largest: "
            + "; ".join(f"{d} {m}: {b} {vb:.3f} vs lrp {vl:.3f}" for d, m, b, vl, vb in big[:3])
            + more]


# ---------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1150px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.note{color:#555;font-size:13px}.best{background:#e8f6ec;border-left:4px solid #27ae60;padding:.6em 1em}
.v-sound{color:#1e8449;font-weight:600}.v-mixed{color:#b9770e;font-weight:600}
.v-CleverHans{color:#c0392b;font-weight:600}.v-missesall{color:#7f8c8d;font-weight:600}
figure{display:inline-block;margin:.4em .6em .8em 0;vertical-align:top}
figcaption{font-size:12px;color:#555;max-width:640px}img{max-width:100%}
details{margin:.4em 0}.row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.row h3{font-size:15px}summary{cursor:pointer;font-weight:600}
"""


def _esc(v):
    return html.escape(str(v))


def _num(v, digits=3):
    if v is None:
        return ""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _esc(v)
    if math.isnan(f):
        return "n/a"
    if math.isinf(f):
        return "inf"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{f:.{digits}f}"


def _color(v, lo, mid, hi, *, reverse=False):
    """Background colour: red at the bad end, white at ``mid``, green at the good end."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "#ffffff"
    if not math.isfinite(v):
        return "#eeeeee"
    t = (v - mid) / (hi - mid) if v >= mid else -(mid - v) / (mid - lo)
    t = max(-1.0, min(1.0, t)) * (-1 if reverse else 1)
    good, bad = (39, 174, 96), (192, 57, 43)
    c = good if t >= 0 else bad
    a = abs(t) * 0.75
    rgb = [round(255 + (ci - 255) * a) for ci in c]
    return "#%02x%02x%02x" % tuple(rgb)


def _table(header, rows, *, left=1):
    out = ["<table><tr>" + "".join(
        f"<th class='{'l' if i < left else ''}'>{h}</th>" for i, h in enumerate(header)) + "</tr>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            if isinstance(c, tuple):  # (html, style)
                cells.append(f"<td style='{c[1]}' class='{'l' if i < left else ''}'>{c[0]}</td>")
            else:
                cells.append(f"<td class='{'l' if i < left else ''}'>{c}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _flatten(d, prefix=""):
    items = []
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            items += _flatten(v, key + ".")
        elif isinstance(v, (list, tuple)):
            items.append((key, ", ".join(map(str, v))))
        elif isinstance(v, float):
            items.append((key, _num(v, 4)))
        else:
            items.append((key, "" if v is None else str(v)))
    return items


def _kv_table(d, header=("setting", "value")):
    return _table(list(header), [(_esc(k), _esc(v)) for k, v in _flatten(d)], left=2)


def _timings_table(timings):
    if not timings:
        return ""
    if all(isinstance(v, dict) for v in timings.values()):
        cols = list(dict.fromkeys(k for v in timings.values() for k in v))
        return _table(["detector", *map(_esc, cols)],
                      [(_esc(n), *(_num(v.get(c), 3) for c in cols)) for n, v in timings.items()])
    return _kv_table(timings)


def _pivot_html(rows, value, *, lo, mid, hi, reverse=False, marks=None, order=None, grey=None):
    p = rows.pivot_table(index="anomaly", columns="detector", values=value, aggfunc="mean", sort=False)
    if order is not None:
        p = p[[d for d in order if d in p.columns]]
    known = list(rows.attrs.get("anomaly_order", []))
    p = p.loc[[a for a in known if a in p.index] + sorted(a for a in p.index if a not in known)]
    gr = None if grey is None else rows.pivot_table(
        index="anomaly", columns="detector", values=grey, aggfunc="max", sort=False)
    mk = None if marks is None else rows.pivot_table(
        index="anomaly", columns="detector", values=marks, aggfunc="max", sort=False)
    body = []
    for a in p.index:
        cells = [_esc(a)]
        for d in p.columns:
            v = p.loc[a, d]
            flag = " &#9888;" if mk is not None and bool(mk.loc[a, d]) else ""
            if gr is not None and not bool(gr.loc[a, d]):  # not detected: the score means little
                cells.append((f"<i>{_num(v)}</i>", "background:#eeeeee;color:#777"))
                continue
            cells.append((_num(v) + flag, f"background:{_color(v, lo, mid, hi, reverse=reverse)}"))
        body.append(cells)
    mean = ["<b>mean</b>", *((f"<b>{_num(p[d].mean())}</b>",
                             f"background:{_color(p[d].mean(), lo, mid, hi, reverse=reverse)}")
                            for d in p.columns)]
    return _table(["anomaly", *map(_esc, p.columns)], [*body, mean])


def _figure(fname, caption, alt=None):
    return (f"<figure><img src='{_esc(fname)}' alt='{_esc(alt or caption)}' loading='eager'>"
            f"<figcaption>{caption}</figcaption></figure>")


# ---------------------------------------------------------------------------
# data helpers
# ---------------------------------------------------------------------------

def _slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))


def _versions():
    out = {}
    for pkg in ("skexplain_ad", "numpy", "scipy", "scikit-learn", "pandas", "numba", "matplotlib",
                "torch", "zennit", "shap"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _split_relevances(relevances):
    """detector -> (lrp map, {baseline: map})."""
    out = {}
    for name, r in (relevances or {}).items():
        if isinstance(r, dict):
            r = dict(r)
            main = r.pop("lrp", None)
            if main is None and r:
                main = r.pop(next(iter(r)))
            out[name] = (np.asarray(main), {k: np.asarray(v) for k, v in r.items()})
        else:
            out[name] = (np.asarray(r), {})
    return out


def _mean_curves(per_anomaly):
    """Average one detector's curves over anomaly types (same fractions)."""
    from .plotting import _curve_parts

    parts = [_curve_parts(v) for v in per_anomaly.values()]
    if not parts:
        return None
    fr = parts[0][0]
    names = [n for n in parts[0][1] if all(n in p[1] and p[0].shape == fr.shape for p in parts)]
    out = {"fractions": fr}
    for n in names:
        out[n] = np.mean([p[1][n] for p in parts], axis=0)
    return out


def _row_cosines(R, masks):
    from .metrics import explanation_cosine

    try:
        return explanation_cosine(R, masks)
    except ValueError:
        return np.full(len(R), np.nan)


# ---------------------------------------------------------------------------
# write_report
# ---------------------------------------------------------------------------

def write_report(out, table, ds, relevances, curves, *, n_examples=3, settings=None, scores=None,
                 feature_names=None):
    """Write the audit report into folder ``out`` and return its path.

    Parameters
    ----------
    out : str or path-like
        Folder, created if missing; existing files of the same names are
        replaced.
    table : pandas.DataFrame
        The audit table; an ``explainer`` column and explanation seconds per
        sample are used when present.
    ds : sklearn.utils.Bunch
        The audited data set (``data``, ``masks``, ``corruption``,
        ``corruption_names``, ``image_shape``; ``feature_names`` for tabular
        data).
    relevances : dict
        Detector name -> relevance of every test row, (n_test, n_features);
        or detector name -> {explainer: relevance} with an ``"lrp"`` entry.
    curves : dict
        Detector name -> anomaly -> ``(fractions, relevance curve, random
        curve)`` or ``{"fractions": f, explainer: mean curve, ...}``.
    n_examples : int, default=3
        Samples per anomaly in the example galleries.
    settings : dict, optional
        Recorded in ``results.json`` and shown as a table.
    scores : dict, optional
        Detector name -> outlier score of every test row, (n_test,); shown
        beside each example when given.
    feature_names : list of str, optional
        Names of the features of tabular data (else ``ds.feature_names``);
        written to ``results.json``; examples become bar charts.

    Returns
    -------
    path : pathlib.Path
        The report folder (``index.html`` inside). Without ``random``
        explainer rows, ``table.attrs["reference_cosine"]`` receives the
        flat-map cosine per anomaly, so that :func:`format_terminal_summary`
        judges explanations as the page does.

    Raises
    ------
    ValueError
        When ``table`` lacks a column the report needs or ``n_examples`` < 1.
    """
    need = {"detector", "anomaly", "roc_auc", "cosine", "clever_hans_difference"}
    missing = sorted(need - set(table.columns))
    if missing:
        raise ValueError(f"table lacks the columns {missing} the report needs.")
    if int(n_examples) < 1:
        raise ValueError(f"n_examples must be >= 1; got {n_examples!r}.")
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if feature_names is None:
        feature_names = getattr(ds, "feature_names", None) if ds is not None else None
    feature_names = None if feature_names is None else [str(f) for f in feature_names]
    table.to_csv(out / "results.csv", index=False)
    reference, ref_source = reference_cosine(table, ds)
    if reference is not None and not ("explainer" in table.columns
                                      and (table["explainer"] == "random").any()):
        # the flat-map reference per anomaly, for format_terminal_summary(table)
        table.attrs["reference_cosine"] = {a: v for (_, a), v in reference.items()}
    rows, dets = summarize(table, reference)
    best = _best(dets)
    payload = {
        "settings": settings or {},
        "versions": _versions(),
        "timings": table.attrs.get("timings", {}),
        "summary": {
            "most_trustworthy": None if best is None else str(best["detector"]),
            "reference_cosine_source": ref_source,
            "detectors": json.loads(dets.drop(columns=["judged"], errors="ignore").to_json(orient="records")),
        },
        "glossary": {c: dict(zip(("what", "range", "better", "source"), GLOSSARY[c]))
                     for c in table.columns if c in GLOSSARY},
        "results": json.loads(table.to_json(orient="records")),
    }
    if feature_names is not None:
        payload["feature_names"] = feature_names
    (out / "results.json").write_text(json.dumps(payload, indent=2))

    try:
        from . import plotting
        plotting.new_figure((1, 1))
    except ImportError:
        plotting = None
    figs = _Figures(out, plotting)
    parts = _html_head(table, settings)
    parts += _html_summary(table, rows, dets, best, ref_source)
    rows.attrs["anomaly_order"] = list(getattr(ds, "corruption_names", None) or [])
    parts += _html_overview(rows, dets, best, figs)
    parts += _html_examples(table, rows, ds, relevances, scores, n_examples, figs, feature_names)
    parts += _html_pixel_flipping(curves, ds, rows, figs)
    parts += _html_baselines(table, dets, figs)
    parts += _html_glossary(table)
    parts += _html_settings(settings, payload, t_start)
    if plotting is None:
        parts.insert(3, "<p class='note'>Figures skipped: matplotlib is not installed "
                        "(pip install 'skexplain_ad[plot]').</p>")
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts), encoding="utf-8")
    return out.resolve()


class _Figures:
    """Saves figures into the report folder; a no-op without matplotlib."""

    def __init__(self, out, plotting):
        self.out, self.plotting, self.files = out, plotting, []

    def save(self, fig, fname, dpi=90):
        fig.savefig(self.out / fname, dpi=dpi)
        self.files.append(fname)
        return fname


def _html_head(table, settings):
    data = ", ".join(map(str, dict.fromkeys(table["dataset"]))) if "dataset" in table else ""
    return [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Clever Hans audit {_esc(data)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Clever Hans audit{': ' + _esc(data) if data else ''}</h1>",
        "<p>An anomaly detector can flag the right samples for the wrong reasons: a "
        "<i>Clever Hans</i> (after the horse that seemed to count but read its trainer's "
        "face). This audit fits each detector on clean data, asks it to score test samples "
        "with known anomalies, and asks it <i>why</i>: an explanation (relevance map) says "
        "how much each pixel or feature contributed to the outlier score. Because the true "
        "anomaly of every test sample is known (its ground-truth map), we can check whether "
        "the explanation points at it. A detector is trustworthy when it both "
        "<b>detects</b> the anomaly (high ROC) and <b>looks at the anomaly</b> (high "
        "cosine between explanation and ground truth). The Clever Hans score, ROC minus "
        "cosine, is high when it detects well but looks elsewhere.</p>",
    ]


def _html_summary(table, rows, dets, best, ref_source):
    parts = ["<h2>Summary</h2>"]
    if best is not None:
        parts.append(f"<p class='best'><b>Most trustworthy detector: {_esc(best['detector'])}</b>: "
                     f"{_esc(_evidence(best, dets))}.</p>")
    elif not np.isnan(rows["reference"]).all():
        parts.append("<p class='best'>No detector is right for the right reasons on any anomaly "
                     "type in this run.</p>")
    body = []
    for _, d in dets.iterrows():
        v = str(d["verdict"])
        body.append((
            _esc(d["detector"]),
            (_num(d["roc_auc"]), f"background:{_color(d['roc_auc'], 0, 0.5, 1)}"),
            (_num(d["cosine"]), f"background:{_color(d['cosine'], 0, 0.3, 1)}"),
            (_num(d["clever_hans_difference"]),
             "background:#eeeeee;color:#777" if d["n_detected"] == 0 else
             f"background:{_color(d['clever_hans_difference'], -1, 0.2, 1, reverse=True)}"),
            (f"<span class='v-{re.sub(r'[^A-Za-z]', '', v)}'>{_esc(v)}</span>", "text-align:left"),
            (_esc(d["summary"]), "text-align:left"),
        ))
    parts.append(_table(["detector", "detection ROC<br>(mean)", "explanation<br>cosine (mean)",
                         "Clever Hans score<br>ROC - cosine (mean)", "verdict", "why"],
                        body).replace("<th class=''>verdict</th><th class=''>why</th>",
                                      "<th class='l'>verdict</th><th class='l'>why</th>"))
    thr = rows["threshold"].to_numpy(dtype=float)
    thr_txt = (f"{thr.min():.3f}" if np.ptp(thr) < 1e-9 else f"{thr.min():.3f} to {thr.max():.3f}") \
        if thr.size else "n/a"
    ref = rows["reference"].to_numpy(dtype=float)
    ref_txt = (f"from {np.nanmin(ref):.3f} to {np.nanmax(ref):.3f} over the anomaly types"
               if np.isfinite(ref).any() else "not available")
    ratio = (rows["clever_hans_ratio"].replace([np.inf], np.nan).dropna()
             if "clever_hans_ratio" in rows else None)
    items = [
        f"<li><b>detected</b>: ROC-AUC at least max(0.6, 0.5 + 3&nbsp;s) = {thr_txt} here. "
        "0.6 is the thesis' cut-off ([T] Sec. 3.2); s = sqrt((n_in + n_out + 1) / (12 n_in n_out)) "
        "is the spread of the ROC-AUC of a detector that guesses, so a detected type is never "
        "within 3 s of chance.</li>",
        f"<li><b>right reasons</b>: detected, and the explanation's cosine is above the reference: "
        f"{_esc(ref_source)} ({ref_txt}). An explanation that does not beat it localises "
        "nothing.</li>",
        "<li><b>Clever Hans case</b> (&#9888;): detected but not for the right reasons. "
        "Verdict <i>sound</i>: no case; <i>mixed</i>: at most as many cases as right-reason "
        "types; <i>Clever Hans</i>: more cases; <i>misses all</i>: detects nothing.</li>",
        "<li><b>most trustworthy</b>: most types detected for the right reasons, ties to the "
        "lower mean Clever Hans score.</li>",
    ]
    if ratio is not None and len(ratio):
        n_over = int((ratio >= RATIO_THRESHOLD).sum())
        items.append(f"<li>The thesis' ratio ROC / cosine ([T] eq. 3.5) calls a ratio of 3 or more "
                     f"a bad understanding; in this run it ranges from {ratio.min():.2f} to "
                     f"{ratio.max():.2f} and {n_over} of {len(ratio)} rows reach 3. It is listed in "
                     "results.csv; the verdicts above do not use it.</li>")
    parts.append("<details open><summary>How the verdicts are made</summary><ul class='note'>"
                 + "".join(items) + "</ul></details>")
    return parts


def _html_overview(rows, dets, best, figs):
    order = dets["detector"].tolist()
    parts = ["<h2>Detection and explanation per anomaly type</h2>",
             "<p class='note'>Fig. 2 of [P] as a table: detection ROC-AUC of each detector (column) "
             "on each anomaly type (row); green = detected, white = guessing (0.5), red = worse "
             "than guessing. Beside it the explanation cosine and the Clever Hans score; "
             "&#9888; marks a Clever Hans case; grey italics: not detected, where a low Clever Hans "
             "score means nothing. Detectors in the order of the summary.</p>",
             "<div class='row'><div><h3>Detection ROC-AUC<br>(higher = better)</h3>",
             _pivot_html(rows, "roc_auc", lo=0, mid=0.5, hi=1, order=order),
             "</div><div><h3>Explanation cosine<br>(higher = better)</h3>",
             _pivot_html(rows, "cosine", lo=0, mid=float(np.nanmean(rows["reference"]))
                         if np.isfinite(rows["reference"]).any() else 0.3, hi=1, order=order),
             "</div><div><h3>Clever Hans score, ROC - cosine<br>(lower = better)</h3>",
             _pivot_html(rows, "clever_hans_difference", lo=-1, mid=0.2, hi=1, reverse=True,
                         marks="clever_hans", order=order, grey="detected"),
             "</div></div>"]
    p = figs.plotting
    if p is None:
        return parts
    rank = {d: k for k, d in enumerate(order)}
    fig = p.plot_top_clever_hans(rows.sort_values("detector", key=lambda c: c.map(rank), kind="stable"),
                                 k=3)
    f1 = figs.save(fig, "top_clever_hans.png")
    fig = p.plot_roc_vs_clever_hans(dets["detector"].tolist(), dets["roc_auc"],
                                    dets["clever_hans_difference"],
                                    best=None if best is None else best["detector"])
    f2 = figs.save(fig, "roc_vs_clever_hans.png", dpi=100)
    parts += ["<h3>Where each detector is most a Clever Hans</h3>",
              _figure(f1, "[P] Fig. 3: the three anomaly types with the highest Clever Hans score "
                      "(ROC - cosine) for each detector; each bar is annotated with its ROC and cosine."),
              _figure(f2, "[P] Fig. 6 (left): mean detection ROC against mean Clever Hans score per "
                      "detector. Bottom right is best: detects well and looks at the anomaly. "
                      + ("The star marks the most trustworthy detector." if best is not None else ""))]
    return parts


def _sample_label(ds, i):
    parts = [str(np.asarray(ds.corruption)[i])]
    if getattr(ds, "target", None) is not None:
        parts.append("outlier" if np.asarray(ds.target)[i] == -1 else "inlier")
    return " / ".join(parts)


def _html_examples(table, rows, ds, relevances, scores, n_examples, figs, feature_names):
    p = figs.plotting
    if p is None or ds is None or not relevances:
        return []
    maps = _split_relevances(relevances)
    image_shape = getattr(ds, "image_shape", None)
    tabular = image_shape is None or len(tuple(image_shape)) < 2
    X, M = np.asarray(ds.data), np.asarray(ds.masks)
    corr = np.asarray(ds.corruption)
    parts = ["<h2>Examples: where each detector looks</h2>",
             "<p class='note'>In the layout of [P] Fig. 4: input, ground truth (where the anomaly "
             "really is) and explanation. "
             + ("Bars per feature: ground truth (red, divided by its largest value) and relevance "
                "(divided by its largest absolute value; red = evidence for the anomaly, blue = "
                "against)." if tabular else
                "Colormaps: ground truth <b>Reds</b> (divided by its largest value), relevance "
                "<b>seismic</b> centred at zero (red = evidence for the anomaly, blue = against; each "
                "map divided by its largest absolute value, so the colorbar reads as a fraction).")
             + " Each row names the sample's true label, its outlier score under the detector "
             "(when recorded) and the cosine of its explanation with its ground truth. For each "
             "detector, the rows are its three anomaly types with the highest Clever Hans score "
             "and show the sample of median cosine (a typical case, not the best or worst).</p>"]
    for det, (R, extra) in maps.items():
        top = rows[rows["detector"] == det].nlargest(3, "clever_hans_difference")["anomaly"].tolist()
        pick, labels, notes = [], [], []
        for a in top:
            idx = np.flatnonzero(corr == a)
            if not idx.size:
                continue
            cos = _row_cosines(R[idx], M[idx])
            order = np.argsort(np.nan_to_num(cos, nan=-1.0), kind="stable")
            i = int(idx[order[len(order) // 2]])
            pick.append(i)
            lab = _sample_label(ds, i)
            if scores is not None and det in scores:
                lab += f"\nscore {float(np.asarray(scores[det])[i]):.3g}"
            labels.append(lab)
            notes.append([f"cos {c:.2f}" for c in
                          [_row_cosines(R[[i]], M[[i]])[0], *(_row_cosines(e[[i]], M[[i]])[0]
                                                             for e in extra.values())]])
        if not pick:
            continue
        fig = p.plot_explanations(X[pick], M[pick], R[pick], image_shape, title=f"{det}",
                                  row_labels=labels, extra={k: v[pick] for k, v in extra.items()},
                                  feature_names=feature_names, notes=notes,
                                  relevance_name="lrp" if extra else "explanation")
        f = figs.save(fig, f"examples_{_slug(det)}.png")
        parts.append(_figure(f, f"{_esc(det)}: its top Clever Hans anomaly types ({_esc(', '.join(top))})."))
    # every anomaly, every detector on the same samples
    parts.append("<h3>Every anomaly type, all detectors on the same samples</h3>")
    names = list(maps)
    for a in getattr(ds, "corruption_names", []):
        idx = np.flatnonzero(corr == a)[: int(n_examples)]
        if not idx.size:
            continue
        first, rest = names[0], names[1:]
        notes = [[f"cos {_row_cosines(maps[d][0][[i]], M[[i]])[0]:.2f}" for d in names] for i in idx]
        labels = []
        for i in idx:
            lab = _sample_label(ds, i)
            if scores and len(names) == 1 and names[0] in scores:
                lab += f"\nscore {float(np.asarray(scores[names[0]])[i]):.3g}"
            labels.append(lab)
        fig = p.plot_explanations(X[idx], M[idx], maps[first][0][idx], image_shape, title=str(a),
                                  row_labels=labels, extra={d: maps[d][0][idx] for d in rest},
                                  feature_names=feature_names, notes=notes, relevance_name=first)
        f = figs.save(fig, f"explain_{_slug(a)}.png", dpi=80)
        parts.append(f"<details><summary>{_esc(a)}</summary>"
                     + _figure(f, f"{_esc(a)}: the first {idx.size} samples; one column per detector "
                               "(LRP); the number under each map is its cosine with the ground truth.")
                     + "</details>")
    return parts


def _html_pixel_flipping(curves, ds, rows, figs):
    p = figs.plotting
    if not curves:
        return []
    parts = ["<h2>Pixel flipping: does the explanation point at what the model uses?</h2>",
             "<p class='note'>Remove the features the explanation calls most relevant first and "
             "record the outlier score, o_k(x) / o(x) ([T] Sec. 1.4, eq. 1.16). A faithful "
             "explanation makes the curve fall fast, faster than removing features in a random "
             "order (dashed grey). A detector can be faithful to itself and still a Clever Hans: "
             "pixel flipping checks the explanation against the model, the cosine checks it "
             "against the anomaly.</p>"]
    if "pixel_flipping_auc" in rows and "pixel_flipping_auc_random" in rows:
        body = []
        for d, g in rows.groupby("detector", sort=False):
            wins = int((g["pixel_flipping_auc"] < g["pixel_flipping_auc_random"]).sum())
            body.append((_esc(d), _num(g["pixel_flipping_auc"].mean()),
                         _num(g["pixel_flipping_auc_random"].mean()), f"{wins}/{len(g)} types"))
        parts.append(_table(["detector", "area, relevance order<br>(lower = better)",
                             "area, random order", "relevance beats random on"], body))
    if p is None:
        return parts
    means = {d: _mean_curves(c) for d, c in curves.items() if c}
    means = {d: m for d, m in means.items() if m is not None}
    if means:
        f = figs.save(_panels(p, means, lambda d, m: {d: m}), "pixel_flipping.png")
        parts.append(_figure(f, "Mean pixel-flipping curve over all anomaly types per detector: "
                             "solid = LRP order, other lines = baseline explainers when audited, "
                             "dashed grey = random order."))
    anomalies = list(dict.fromkeys(a for c in curves.values() for a in c))
    if anomalies:
        per = {a: {d: _lrp_and_random(c[a]) for d, c in curves.items() if a in c} for a in anomalies}
        f = figs.save(_panels(p, per, lambda a, v: v, shared_legend=True),
                      "pixel_flipping_by_anomaly.png", dpi=80)
        parts.append("<details><summary>pixel flipping per anomaly type</summary>"
                     + _figure(f, "One panel per anomaly type: each detector's LRP order (solid) "
                               "and random order (dashed), mean over the flipped outliers.")
                     + "</details>")
    return parts


def _lrp_and_random(value):
    from .plotting import _curve_parts

    fr, parts = _curve_parts(value)
    keep = {k: v for k, v in parts.items() if k in ("lrp", "random")} or parts
    return {"fractions": fr, **keep}


def _panels(p, items, curves_of, cols=4, shared_legend=False):
    """A grid of pixel-flipping panels (no constrained layout: it is slow)."""
    n = len(items)
    cols = min(n, cols)
    rows = -(-n // cols)
    fig = p.new_figure((3.0 * cols, 2.5 * rows + 0.3))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    fig.subplots_adjust(left=0.07 if cols > 1 else 0.18, right=0.98, bottom=0.2 / rows + 0.04,
                        top=1 - 0.1 / rows, wspace=0.3, hspace=0.55)
    for ax, (name, value) in zip(axes, items.items()):
        p.plot_pixel_flipping(curves_of(name, value), title=str(name), ax=ax,
                              legend=not shared_legend)
    for ax in axes[n:]:
        ax.set_visible(False)
    if shared_legend:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", fontsize=7,
                   ncols=min(6, len(axes[0].lines)), frameon=False)
    return fig


def _html_baselines(table, dets, figs):
    means = _explainer_means(table, dets["detector"].tolist())
    if means is None:
        return []
    cols = list(means.columns)
    parts = ["<h2>LRP against baseline explainers</h2>",
             "<p class='note'>The same detectors explained by trivial or model-agnostic methods "
             "(see <i>explainer</i> in the glossary), averaged over anomaly types. Bold: the best "
             "explainer of each detector on that column. This is the evidence for (or against) "
             "using LRP: it should beat random clearly and match or beat the costly "
             "model-agnostic methods at a fraction of their time.</p>"]
    better_high = {"cosine": True, "pixel_flipping_auc": False, "pixel_auroc": True}
    body = []
    for det in dict.fromkeys(means.index.get_level_values(0)):
        sub = means.loc[det]
        for e, r in sub.iterrows():
            cells = [_esc(det), _esc(e)]
            for c in cols:
                v = r[c]
                hib = better_high.get(c, False)
                col = sub[c].dropna()
                is_best = (c != "lrp_cosine_same_rows" and len(col) and np.isfinite(v)
                           and v == (col.max() if hib else col.min()))
                txt = _num(v) if c in better_high else f"{v:.3g}"
                cells.append(f"<b>{txt}</b>" if is_best else txt)
            body.append(cells)
    head = ["detector", "explainer",
            *(f"{_esc(c)}<br>(the row's reference)" if c == "lrp_cosine_same_rows" else
              f"{_esc(c)}<br>({'higher' if better_high.get(c) else 'lower'} = better)"
              for c in cols)]
    parts.append(_table(head, body, left=2))
    losses = _lrp_losses(means)
    if losses:
        parts.append("<p><b>Where LRP loses</b>:</p><ul>" + "".join(
            f"<li>{_esc(d)}: {_esc(b)} has {_esc(m)} {vb:.3f} against LRP's {vl:.3f}</li>"
            for d, m, b, vl, vb in losses) + "</ul>")
    else:
        parts.append("<p>LRP is at least as good as every baseline for every detector on "
                     "cosine, pixel flipping and pixel AUROC.</p>")
    p = figs.plotting
    if p is not None:
        fig = p.plot_explainer_comparison(means, metrics=("cosine", "pixel_flipping_auc"))
        f = figs.save(fig, "explainers.png")
        parts.append(_figure(f, "Mean cosine (higher = better) and pixel-flipping area (lower = "
                             "better) of each explainer, per detector."))
    return parts


def _html_glossary(table):
    body = []
    for c in table.columns:
        what, rng, better, src = GLOSSARY.get(c, ("(not described)", "", "", ""))
        body.append((f"<code>{_esc(c)}</code>", f"<span>{_esc(what)}</span>", _esc(rng),
                     _esc(better), _esc(src)))
    parts = ["<h2>Glossary of results.csv</h2>",
             "<p class='note'>[P] = J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, \"The Clever "
             "Hans Effect in Anomaly Detection\" (2020); [T] = Z. Chen, \"Explaining Anomalies by "
             "Taylor-Based Decomposition of Outlier-Ensembles\" (master's thesis, TU Berlin, 2021).</p>",
             _table(["column", "what it measures", "range", "better", "source"], body, left=5)]
    return parts


def _html_settings(settings, payload, t_start):
    parts = ["<h2>Settings, timings and versions</h2>", "<h3>Settings</h3>", _kv_table(settings or {})]
    if payload.get("timings"):
        parts += ["<h3>Timings (seconds)</h3>", _timings_table(payload["timings"])]
    parts += ["<h3>Versions</h3>", _kv_table(payload["versions"], ("package", "version")),
              f"<p class='note'>Full table: results.csv and results.json beside this page. "
              f"Report written in {time.perf_counter() - t_start:.1f} s.</p>"]
    return parts
