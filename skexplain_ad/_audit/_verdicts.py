"""The audit's verdicts: statistical claims read off the results table alone.

Every claim carries its sample count and a 95 % bootstrap interval
(:mod:`._stats`; the table's ``*_ci_low`` / ``*_ci_high`` columns), and a
claim is made only when its interval supports it and it rests on at least
:data:`MIN_ROWS` rows. Per detector and anomaly type, on the row of the
detector's own (``primary``) explanation:

- *detected*: ROC-AUC at least 0.6 (the thesis' cut-off, [T] Sec. 3.2) and
  its interval above 0.5 (chance);
- *right reasons*: detected, the explanation beats an uninformed one (the
  interval of the paired gain ``cosine - reference_cosine`` lies above 0)
  and clears the thesis' ratio cut-off (ROC / cosine below 3, [T] eq. 3.5:
  the interval of the cosine lies above ROC / 3);
- *Clever Hans case*: detected, and with confidence no better than an
  uninformed explanation (the gain's interval lies at or below 0) or below
  the thesis' cut-off (the cosine's interval lies below ROC / 3) ([P]
  Sec. 3);
- otherwise *undecided*: the rows cannot tell (named, never counted as
  either).

The ranking rule (one, printed on the page): a detector is *eligible* when
it detects at least half of the anomaly types and its verdict is ``sound``
or ``mixed``; the **most trustworthy** is the eligible detector of lowest
mean Clever Hans score (ROC - cosine over the types it detects, the summary's
own column). Beside it
the page names the best detector (highest mean ROC) and the best
explanations (highest mean cosine), as plain facts.

A baseline explainer *beats* the primary explanation on a metric of an
anomaly type when the paired interval of their difference on the same rows
excludes 0 in its favour, with at least :data:`MIN_ROWS` rows.
"""

import numpy as np

__all__ = ["MIN_DETECTION_ROC", "RATIO_THRESHOLD", "MIN_ROWS", "RANKING_RULE",
           "detection_threshold", "primary_rows", "summarize", "best_detector",
           "baseline_comparisons", "baseline_findings", "evidence"]

#: Lowest ROC-AUC the thesis counts as "detected" ([T] Sec. 3.2).
MIN_DETECTION_ROC = 0.6
#: [T] eq. 3.5's cut-off on the ratio ROC / cosine.
RATIO_THRESHOLD = 3.0
#: Chance standard deviations of :func:`detection_threshold` (tables without intervals).
CHANCE_SIGMAS = 3.0
#: Fewest rows a claim rests on.
MIN_ROWS = 5

RANKING_RULE = (
    "Most trustworthy = the detector of lowest mean Clever Hans score (ROC - cosine over the "
    "anomaly types it detects, the summary's column) among those that detect at least half of "
    "the anomaly types and whose verdict is sound or mixed. A Clever Hans score is low for "
    "nothing where the type is not detected, so undetected types do not enter the mean and a "
    "detector that detects little is not eligible.")


def detection_threshold(n_inliers, n_outliers):
    """ROC-AUC a detected type must reach in a table without intervals: ``max(0.6, 0.5 + 3 s)``.

    ``s = sqrt((n_0 + n_1 + 1) / (12 n_0 n_1))`` is the standard deviation of
    the ROC-AUC of a guessing detector (Mann-Whitney null); 0.6 is [T]
    Sec. 3.2's cut-off. Tables of this package carry bootstrap intervals and
    use those instead.

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
    >>> from skexplain_ad._audit._verdicts import detection_threshold
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


def primary_rows(table):
    """The rows of each detector's own explanation (``primary``; else ``lrp``; else the first)."""
    if "primary" in table.columns and table["primary"].astype(bool).any():
        return table[table["primary"].astype(bool)]
    if "explainer" in table.columns and len(table):
        expl = table["explainer"]
        return table[expl == ("lrp" if (expl == "lrp").any() else expl.iloc[0])]
    return table


def _col(rows, name, default=np.nan):
    if name in rows.columns:
        return rows[name].to_numpy(dtype=np.float64)
    return np.full(len(rows), default, dtype=np.float64)


def _counts(rows, name):
    return _col(rows, name, np.inf)


def summarize(table):
    """Per-row and per-detector verdicts (the rules in the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        The audit table; the ``primary`` rows are judged.

    Returns
    -------
    rows : pandas.DataFrame
        The primary rows with ``detected``, ``judged``, ``right_reasons``,
        ``clever_hans`` and ``undecided`` added.
    detectors : pandas.DataFrame
        One row per detector, the most trustworthy first (the ranking rule):
        means of ``roc_auc``, ``cosine`` over all types,
        ``clever_hans_difference`` over the detected types
        (``clever_hans_all_types`` over all), pixel flipping when present, counts ``n_anomalies``,
        ``n_detected``, ``n_right``, ``n_clever_hans``, ``n_undecided``,
        ``eligible``, ``verdict`` and a one-line ``summary``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skexplain_ad._audit._verdicts import summarize
    >>> t = pd.DataFrame({"detector": ["A", "B"], "anomaly": ["x", "x"], "explainer": "lrp",
    ...                   "roc_auc": [.9, .9], "roc_auc_ci_low": [.8, .8], "cosine": [.6, .1],
    ...                   "cosine_ci_low": [.5, .05], "cosine_ci_high": [.7, .15],
    ...                   "cosine_gain_ci_low": [.2, -.3], "cosine_gain_ci_high": [.4, -.1],
    ...                   "clever_hans_difference": [.3, .8], "n_explained": 30})
    >>> rows, dets = summarize(t)
    >>> dets[["detector", "verdict", "eligible"]].to_numpy().tolist()
    [['A', 'sound', True], ['B', 'Clever Hans', False]]
    """
    import pandas as pd

    rows = primary_rows(table).copy()
    roc = _col(rows, "roc_auc")
    if "roc_auc_ci_low" in rows.columns:
        lo = _col(rows, "roc_auc_ci_low")
        enough = _counts(rows, "n_outliers") >= MIN_ROWS
        detected = (roc >= MIN_DETECTION_ROC) & (lo > 0.5) & enough
    elif {"n_inliers", "n_outliers"} <= set(rows.columns):
        detected = roc >= detection_threshold(rows["n_inliers"].clip(lower=1),
                                              rows["n_outliers"].clip(lower=1))
    else:
        detected = roc >= MIN_DETECTION_ROC
    cos = _col(rows, "cosine")
    judged = np.isfinite(cos)
    cut = roc / RATIO_THRESHOLD
    cos_lo, cos_hi = _col(rows, "cosine_ci_low"), _col(rows, "cosine_ci_high")
    gain_lo, gain_hi = _col(rows, "cosine_gain_ci_low"), _col(rows, "cosine_gain_ci_high")
    if not np.isfinite(gain_lo).any() and "reference_cosine" in rows.columns:
        gain_lo = gain_hi = cos - _col(rows, "reference_cosine")  # a table without intervals
    if not np.isfinite(cos_lo).any():
        cos_lo = cos_hi = cos
    enough = _counts(rows, "n_explained") >= MIN_ROWS
    right = detected & judged & enough & (gain_lo > 0) & (cos_lo > cut)
    hans = detected & judged & enough & ~right & ((gain_hi <= 0) | (cos_hi < cut))
    rows["detected"] = detected
    rows["judged"] = judged
    rows["right_reasons"] = right
    rows["clever_hans"] = hans
    rows["undecided"] = detected & judged & ~right & ~hans
    out = []
    for det, g in rows.groupby("detector", sort=False):
        hit = g[g["detected"]]
        rec = {"detector": det, "roc_auc": g["roc_auc"].mean(), "cosine": g["cosine"].mean(),
               # a Clever Hans score means something only where the type is detected
               "clever_hans_difference": (hit["clever_hans_difference"].mean() if len(hit)
                                          else np.nan),
               "clever_hans_all_types": g["clever_hans_difference"].mean(),
               "n_anomalies": len(g), "n_detected": int(g["detected"].sum()),
               "n_right": int(g["right_reasons"].sum()), "n_clever_hans": int(g["clever_hans"].sum()),
               "n_undecided": int(g["undecided"].sum()), "judged": bool(g["judged"].any())}
        if "explainer" in g.columns:
            rec["explainer"] = str(g["explainer"].iloc[0])
        for col in ("pixel_flipping_auc", "pixel_flipping_auc_random", "pixel_auroc"):
            if col in g.columns:
                rec[col] = g[col].mean()
        ch = g[g["clever_hans"]].sort_values("clever_hans_difference", ascending=False)
        rec["clever_hans_anomalies"] = ch["anomaly"].tolist()
        rec["verdict"] = _verdict(rec)
        rec["eligible"] = bool(rec["verdict"] in ("sound", "mixed")
                               and 2 * rec["n_detected"] >= rec["n_anomalies"])
        rec["summary"] = _verdict_line(rec)
        out.append(rec)
    dets = pd.DataFrame(out)
    if len(dets):
        dets = dets.sort_values(["eligible", "clever_hans_difference", "roc_auc"],
                                ascending=[False, True, False], kind="stable").reset_index(drop=True)
    return rows, dets


def _verdict(rec):
    if rec["n_detected"] == 0:
        return "misses all"
    if not rec["judged"]:
        return "detects (no ground truth)"
    if rec["n_clever_hans"] == 0:
        return "sound" if rec["n_right"] else "undecided"
    return "mixed" if rec["n_clever_hans"] <= rec["n_right"] else "Clever Hans"


def _verdict_line(rec):
    n, nd = rec["n_anomalies"], rec["n_detected"]
    text = f"detects {nd}/{n} types"
    if rec["judged"] and nd:
        text += f"; right reasons on {rec['n_right']}/{nd}"
        if rec["n_clever_hans"]:
            text += f"; Clever Hans on {', '.join(map(str, rec['clever_hans_anomalies']))}"
        if rec["n_undecided"]:
            text += f"; {rec['n_undecided']} undecided (intervals too wide)"
    return text


def best_detector(dets):
    """The most trustworthy detector (the first eligible row of ``dets``) or None."""
    if not len(dets) or not bool(dets["eligible"].iloc[0]):
        return None
    return dets.iloc[0]


def evidence(b, dets=None):
    """Why ``b`` is the most trustworthy, in one sentence with its numbers."""
    text = (f"lowest mean Clever Hans score among the eligible detectors "
            f"({b['clever_hans_difference']:.3f}; mean ROC {b['roc_auc']:.3f}, mean cosine "
            f"{b['cosine']:.3f}); it detects {b['n_detected']} of {b['n_anomalies']} anomaly types, "
            f"for the right reasons on {b['n_right']}")
    if dets is not None and len(dets) > 1:
        nxt = dets[dets["eligible"] & (dets["detector"] != b["detector"])]
        if len(nxt):
            r = nxt.iloc[0]
            text += (f"; next eligible: {r['detector']} "
                     f"({r['clever_hans_difference']:.3f})")
    return text


def facts(dets):
    """The best detection and the best explanations, as plain facts (one line each)."""
    out = []
    if len(dets):
        d = dets.loc[dets["roc_auc"].idxmax()]
        out.append(f"Best detection: {d['detector']} (mean ROC {d['roc_auc']:.3f}).")
        if dets["cosine"].notna().any():
            e = dets.loc[dets["cosine"].idxmax()]
            out.append(f"Best explanations: {e['detector']} (mean cosine {e['cosine']:.3f}).")
    return out


def baseline_comparisons(table):
    """Where a baseline explainer beats the primary explanation, with intervals and counts.

    Returns
    -------
    comparisons : list of dict
        One per (detector, baseline, metric) with the numbers of anomaly
        types where the baseline is better (``n_better``), worse
        (``n_worse``), not different (``n_same``) or on too few rows
        (``n_too_few``), the rows per comparison (``rows``, a range) and
        the mean values of both.
    """
    if "explainer" not in table.columns or "primary" not in table.columns:
        return []
    base = table[~table["primary"].astype(bool)]
    out = []
    for (det, expl), g in base.groupby(["detector", "explainer"], sort=False):
        for metric, prefix, count, higher in (
                ("cosine", "cosine_vs_primary", "n_explained", True),
                ("pixel_flipping_auc", "pixel_flipping_vs_primary", "n_flipped", False)):
            lo, hi = f"{prefix}_ci_low", f"{prefix}_ci_high"
            if lo not in g.columns or not np.isfinite(_col(g, lo)).any():
                continue
            n = _counts(g, count)
            ok = (n >= MIN_ROWS) & np.isfinite(_col(g, lo))
            glo, ghi = _col(g, lo), _col(g, hi)
            better = ok & ((glo > 0) if higher else (ghi < 0))
            worse = ok & ((ghi < 0) if higher else (glo > 0))
            ref = ("primary_cosine_same_rows" if metric == "cosine"
                   else "primary_pixel_flipping_same_rows")
            out.append({
                "detector": det, "baseline": expl, "metric": metric,
                "n_types": len(g), "n_better": int(better.sum()), "n_worse": int(worse.sum()),
                "n_same": int((ok & ~better & ~worse).sum()), "n_too_few": int((~ok).sum()),
                "rows": (int(np.nanmin(n)), int(np.nanmax(n))) if np.isfinite(n).any() else (0, 0),
                "baseline_mean": float(np.nanmean(_col(g, metric))),
                "primary_mean": float(np.nanmean(_col(g, ref))),
                "better_anomalies": g["anomaly"][better].tolist(),
            })
    return out


def baseline_findings(table):
    """One line on how the primary explanations fare against the baselines."""
    comps = baseline_comparisons(table)
    if not comps:
        return []
    losses = [c for c in comps if c["n_better"]]
    judged = [c for c in comps if c["n_types"] > c["n_too_few"]]
    if not losses:
        few = sum(c["n_too_few"] for c in comps)
        tail = (f" ({few} comparison(s) on fewer than {MIN_ROWS} rows are not judged)"
                if few else "")
        return [f"Primary explanation vs baselines: no baseline beats it on any anomaly type "
                f"whose interval could tell ({len(judged)} detector x baseline x metric "
                f"comparisons){tail}."]
    big = sorted(losses, key=lambda c: -c["n_better"])
    return ["A baseline beats the primary explanation (paired interval excludes 0, >= "
            f"{MIN_ROWS} rows) in: " + "; ".join(
                f"{c['detector']} {c['metric']}: {c['baseline']} on {c['n_better']}/{c['n_types']} "
                f"types (rows {c['rows'][0]}-{c['rows'][1]})" for c in big[:3])
            + (f" (+{len(big) - 3} more, see the report)" if len(big) > 3 else "")]
