"""The compact text ``skexplain-ad audit`` prints after a run."""

import textwrap
from pathlib import Path

from ._verdicts import RANKING_RULE, baseline_findings, best_detector, evidence, facts, summarize

__all__ = ["format_terminal_summary"]


def _fit(line, width):
    return line if len(line) <= width else line[: width - 3] + "..."


def format_terminal_summary(results, report_path=None, *, width=100):
    """The compact text the command prints after an audit.

    A per-detector table (mean ROC, cosine and Clever Hans score, verdict),
    the findings (the ranking rule's winner, the best detection and
    explanations, the Clever Hans cases, the baseline comparison) and the
    report's path; no line is wider than ``width``.

    Parameters
    ----------
    results : pandas.DataFrame
        The audit table, as :func:`skexplain_ad.audit` returns it.
    report_path : str or path-like, optional
        The report folder (or its ``index.html``); printed last.
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
    >>> from skexplain_ad._audit._summary import format_terminal_summary
    >>> t = pd.DataFrame({"dataset": "digits-c", "detector": ["KDE"], "anomaly": ["fog"],
    ...                   "explainer": "lrp", "roc_auc": [0.9], "roc_auc_ci_low": [0.85],
    ...                   "cosine": [0.6], "cosine_ci_low": [0.5], "cosine_ci_high": [0.7],
    ...                   "cosine_gain_ci_low": [0.1], "cosine_gain_ci_high": [0.3],
    ...                   "clever_hans_difference": [0.3], "n_outliers": 50, "n_explained": 50})
    >>> print(format_terminal_summary(t, "out", width=60))
    Clever Hans audit of digits-c: 1 detector(s) x 1 anomaly ...
    detector      ROC  cosine  CH score  verdict
    KDE         0.900   0.600     0.300  sound (detected 1/1,...
    Most trustworthy: KDE: lowest mean Clever Hans score among
      the eligible detectors (0.300; mean ROC 0.900, mean cosine
      0.600); it detects 1 of 1 anomaly types, for the right
      reasons on 1.
    Best detection: KDE (mean ROC 0.900). Best explanations: KDE
      (mean cosine 0.600).
    Top Clever Hans scores (ROC - cosine): KDE/fog 0.30
    report: out/index.html
    """
    if int(width) < 60:
        raise ValueError(f"width must be >= 60; got {width!r}.")
    width = int(width)
    rows, dets = summarize(results)
    data = ", ".join(map(str, dict.fromkeys(results["dataset"]))) if "dataset" in results else "?"
    lines = [f"Clever Hans audit of {data}: {len(dets)} detector(s) x "
             f"{rows['anomaly'].nunique()} anomaly type(s)"]
    name_w = max([8, *(len(str(d)) for d in dets["detector"])]) if len(dets) else 8
    lines.append(f"{'detector':<{name_w}}  {'ROC':>7}  {'cosine':>6}  {'CH score':>8}  verdict")
    for _, d in dets.iterrows():
        short = f"detected {d['n_detected']}/{d['n_anomalies']}"
        if d["judged"] and d["n_detected"]:
            short += f", right reasons {d['n_right']}, Clever Hans {d['n_clever_hans']}"
            if d["n_undecided"]:
                short += f", undecided {d['n_undecided']}"
        lines.append(f"{str(d['detector']):<{name_w}}  {d['roc_auc']:7.3f}  {d['cosine']:6.3f}  "
                     f"{d['clever_hans_difference']:8.3f}  {d['verdict']} ({short})")
    findings = []
    best = best_detector(dets)
    judged = bool(len(dets)) and bool(dets["judged"].any())
    if best is not None:
        findings.append(f"Most trustworthy: {best['detector']}: {evidence(best, dets)}.")
    elif judged:
        findings.append("Most trustworthy: none. " + RANKING_RULE)
    else:
        findings.append("No ground truth: detection, pixel flipping and explainer agreement are "
                        "reported; explanation accuracy (cosine) needs ground-truth maps.")
    findings.append(" ".join(facts(dets)))
    hans = rows[rows["clever_hans"]].sort_values("clever_hans_difference", ascending=False)
    if len(hans):
        findings.append(f"Clever Hans cases ({len(hans)}): detected, explanation no better than "
                        "an uninformed one or below [T]'s ratio cut-off: " + ", ".join(
                            f"{r.detector}/{r.anomaly} (ROC {r.roc_auc:.2f}, cos {r.cosine:.2f})"
                            for r in hans.head(4).itertuples()) + (", ..." if len(hans) > 4 else ""))
    elif judged:
        top = rows.sort_values("clever_hans_difference", ascending=False).head(3)
        findings.append("Top Clever Hans scores (ROC - cosine): " + ", ".join(
            f"{r.detector}/{r.anomaly} {r.clever_hans_difference:.2f}" for r in top.itertuples()))
    findings += baseline_findings(results)
    for f in findings:
        lines += textwrap.wrap(f, width, subsequent_indent="  ", break_on_hyphens=False)
    if report_path is not None:
        p = Path(report_path)
        lines.append(f"report: {p if p.suffix == '.html' else p / 'index.html'}")
    return "\n".join(_fit(line, width) for line in lines)
