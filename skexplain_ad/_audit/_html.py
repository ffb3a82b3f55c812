"""The audit's HTML page, section by section (written by :mod:`._report`)."""

import html
import math
import re
import time
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ._columns import CI_LEVEL_TEXT, GLOSSARY
from ._data import row_cosines
from ._verdicts import (
    MIN_DETECTION_ROC,
    MIN_ROWS,
    RANKING_RULE,
    RATIO_THRESHOLD,
    baseline_comparisons,
    evidence,
    facts,
)

__all__ = ["render_page"]

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
figcaption{font-size:13px;color:#555;max-width:700px}img{max-width:100%}
ul.dets li{margin:.25em 0}
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
    # with ``grey``, the mean is over the detected types only, as the summary's column
    means = {d: (p[d][gr.loc[p.index, d].astype(bool)] if gr is not None else p[d]).mean()
             for d in p.columns}
    mean = [f"<b>mean{' (detected)' if gr is not None else ''}</b>",
            *((f"<b>{_num(means[d])}</b>",
               f"background:{_color(means[d], lo, mid, hi, reverse=reverse)}") for d in p.columns)]
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
    from ..plotting import curve_parts

    parts = [curve_parts(v) for v in per_anomaly.values()]
    if not parts:
        return None
    fr = parts[0][0]
    names = [n for n in parts[0][1] if all(n in p[1] and p[0].shape == fr.shape for p in parts)]
    out = {"fractions": fr}
    for n in names:
        out[n] = np.mean([p[1][n] for p in parts], axis=0)
    return out




# ---------------------------------------------------------------------------
# write_report
# ---------------------------------------------------------------------------

class _Figures:
    """Saves figures into the report folder; a no-op without matplotlib."""

    def __init__(self, out, plotting, write):
        self.out, self.plotting, self.files, self.write = out, plotting, [], write

    def save(self, fig, fname, dpi=100):
        import io

        buf = io.BytesIO()
        fig.savefig(buf, dpi=dpi, format="png")
        self.write(fname, buf.getvalue())
        self.files.append(fname)
        return fname


def _html_head(table, settings, descriptions, ground_truth):
    data = ", ".join(map(str, dict.fromkeys(table["dataset"]))) if "dataset" in table else ""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Clever Hans audit {_esc(data)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Clever Hans audit{': ' + _esc(data) if data else ''}</h1>",
        "<p>An anomaly detector can flag the right samples for the wrong reasons: a "
        "<i>Clever Hans</i> (after the horse that seemed to count but read its trainer's "
        "face). This audit fits each detector on clean data, asks it to score test samples "
        "with known anomalies, and asks it <i>why</i>: an explanation (relevance map) says "
        "how much each pixel or feature contributed to the outlier score. "
        + ("Because the true anomaly of every test sample is known (its ground-truth map), we "
           "can check whether the explanation points at it. A detector is trustworthy when it "
           "both <b>detects</b> the anomaly (high ROC) and <b>looks at the anomaly</b> (high "
           "cosine between explanation and ground truth). The Clever Hans score, ROC minus "
           "cosine, is high when it detects well but looks elsewhere.</p>" if ground_truth else
           "This data has no ground-truth maps, so the page reports detection (ROC), pixel "
           "flipping (does the explanation point at what the model uses?) and how far the "
           "explainers agree; <b>explanation accuracy (cosine) and the Clever Hans score need "
           "ground truth</b> (a <code>masks</code> field).</p>"),
    ]
    if descriptions:
        parts.append("<h2>The detectors</h2><ul class='dets'>" + "".join(
            f"<li><b>{_esc(d)}</b>: {_esc(text)}</li>" for d, text in descriptions.items())
            + "</ul>")
    return parts


def _html_summary(table, rows, dets, best):
    parts = ["<h2>Summary</h2>"]
    if best is not None:
        parts.append(f"<p class='best'><b>Most trustworthy detector: {_esc(best['detector'])}</b>: "
                     f"{_esc(evidence(best, dets))}.</p>")
    elif rows["judged"].any():
        parts.append("<p class='best'>No detector is eligible for <i>most trustworthy</i> in this "
                     "run (the rule is below).</p>")
    lines = facts(dets)
    if lines:
        parts.append("<p>" + " ".join(_esc(x) for x in lines) + "</p>")
    body = []
    for _, d in dets.iterrows():
        v = str(d["verdict"])
        body.append((
            _esc(d["detector"]), _esc(d.get("explainer", "lrp")),
            (_num(d["roc_auc"]), f"background:{_color(d['roc_auc'], 0, 0.5, 1)}"),
            (_num(d["cosine"]), f"background:{_color(d['cosine'], 0, 0.3, 1)}"),
            (_num(d["clever_hans_difference"]),
             "background:#eeeeee;color:#777" if d["n_detected"] == 0 else
             f"background:{_color(d['clever_hans_difference'], -1, 0.2, 1, reverse=True)}"),
            (f"<span class='v-{re.sub(r'[^A-Za-z]', '', v)}'>{_esc(v)}</span>", "text-align:left"),
            (_esc(d["summary"]), "text-align:left"),
        ))
    parts.append(_table(["detector", "own explanation", "detection ROC<br>(mean)",
                         "explanation<br>cosine (mean)",
                         "Clever Hans score<br>ROC - cosine<br>(mean, detected types)",
                         "verdict", "why"], body, left=2)
                 .replace("<th class=''>verdict</th><th class=''>why</th>",
                          "<th class='l'>verdict</th><th class='l'>why</th>"))
    n_out = rows["n_outliers"] if "n_outliers" in rows else None
    n_exp = rows["n_explained"] if "n_explained" in rows else None
    counts = ""
    if n_out is not None and len(rows):
        counts = (f" Here each anomaly type has {int(n_out.min())} to {int(n_out.max())} outliers"
                  + (f", {int(n_exp.min())} to {int(n_exp.max())} of them explained"
                     if n_exp is not None else "") + ".")
    items = [
        f"<li>Every number below the summary carries its {CI_LEVEL_TEXT}; a claim is made only "
        f"when the interval supports it and rests on at least {MIN_ROWS} rows.{counts}</li>",
        f"<li><b>detected</b>: ROC-AUC at least {MIN_DETECTION_ROC} (the thesis' cut-off, [T] Sec. "
        "3.2) and its interval above 0.5 (chance).</li>",
        "<li><b>right reasons</b>: detected; the explanation beats an uninformed one (the "
        "interval of its paired gain over the reference cosine lies above 0; the reference is "
        "the random explainer's cosine on the same rows, or a flat map's); and it clears the "
        f"thesis' cut-off ROC / cosine &lt; {RATIO_THRESHOLD:g} ([T] eq. 3.5: the cosine's interval "
        f"lies above ROC / {RATIO_THRESHOLD:g}).</li>",
        "<li><b>Clever Hans case</b> (&#9888;): detected, and with confidence no better than the "
        "uninformed reference or below the thesis' cut-off ([P] Sec. 3). <b>Undecided</b>: the "
        "intervals cannot tell. Verdict <i>sound</i>: no case and at least one right-reason "
        "type; <i>mixed</i>: at most as many cases as right-reason types; <i>Clever Hans</i>: "
        "more cases; <i>misses all</i>: detects nothing.</li>",
        f"<li><b>ranking</b>: {_esc(RANKING_RULE)} The summary lists the eligible detectors first, "
        "each group by mean Clever Hans score.</li>",
    ]
    parts.append("<details open><summary>How the verdicts are made</summary><ul class='note'>"
                 + "".join(items) + "</ul></details>")
    return parts


def _html_overview(rows, dets, best, figs):
    order = dets["detector"].tolist()
    if not rows["judged"].any():
        return ["<h2>Detection per anomaly type</h2>",
                "<p class='note'>Detection ROC-AUC of each detector (column) on each anomaly type "
                "(row); green = detected, white = guessing (0.5), red = worse than guessing. "
                "No ground truth: no explanation accuracy.</p>",
                _pivot_html(rows, "roc_auc", lo=0, mid=0.5, hi=1, order=order)]
    parts = ["<h2>Detection and explanation per anomaly type</h2>",
             "<p class='note'>Fig. 2 of [P] as a table: detection ROC-AUC of each detector (column) "
             "on each anomaly type (row); green = detected, white = guessing (0.5), red = worse "
             "than guessing. Beside it the explanation cosine and both Clever Hans scores "
             "(the thesis' Tables 3.4-3.6 are the same three views); "
             "&#9888; marks a Clever Hans case; grey italics: not detected, where a low Clever Hans "
             "score means nothing. Detectors in the order of the summary.</p>",
             "<div class='row'><div><h3>Detection ROC-AUC<br>(higher = better)</h3>",
             _pivot_html(rows, "roc_auc", lo=0, mid=0.5, hi=1, order=order),
             "</div><div><h3>Explanation cosine<br>(higher = better)</h3>",
             _pivot_html(rows, "cosine", lo=0, mid=float(np.nanmean(rows["reference_cosine"]))
                         if "reference_cosine" in rows and np.isfinite(rows["reference_cosine"]).any()
                         else 0.3, hi=1, order=order),
             "</div><div><h3>Clever Hans score, ROC - cosine<br>(lower = better)</h3>",
             _pivot_html(rows, "clever_hans_difference", lo=-1, mid=0.2, hi=1, reverse=True,
                         marks="clever_hans", order=order, grey="detected"),
             "</div><div><h3>The thesis' Clever Hans score,<br>ROC / cosine ([T] eq. 3.5; "
             "lower = better)</h3>",
             _pivot_html(rows, "clever_hans_ratio", lo=0, mid=1.5, hi=RATIO_THRESHOLD,
                         reverse=True, order=order, grey="detected"),
             "</div></div>"]
    p = figs.plotting
    if p is None:
        return parts
    rank = {d: k for k, d in enumerate(order)}
    # a Clever Hans score means something only where the type is detected
    hit = rows[rows["detected"]] if rows["detected"].any() else rows
    fig = p.plot_top_clever_hans(hit.sort_values("detector", key=lambda c: c.map(rank), kind="stable"),
                                 k=3)
    f1 = figs.save(fig, "top_clever_hans.png")
    fig = p.plot_roc_vs_clever_hans(dets["detector"].tolist(), dets["roc_auc"],
                                    dets["clever_hans_difference"],
                                    best=None if best is None else best["detector"])
    f2 = figs.save(fig, "roc_vs_clever_hans.png", dpi=100)
    parts += ["<h3>Where each detector is most a Clever Hans</h3>",
              _figure(f1, "[P] Fig. 3: the three detected anomaly types with the highest Clever "
                      "Hans score (ROC - cosine) for each detector; each bar is annotated with its "
                      "ROC and cosine; red: a Clever Hans case."),
              _figure(f2, "[P] Fig. 6 (left): mean detection ROC against mean Clever Hans score per "
                      "detector. Bottom right is best: detects well and looks at the anomaly "
                      "(cosine = ROC - Clever Hans score). "
                      + ("The star marks the most trustworthy detector: the lowest Clever Hans "
                         "score among the eligible ones (the ranking rule above)."
                         if best is not None else ""))]
    return parts


def _sample_label(ds, i):
    parts = [str(np.asarray(ds.corruption)[i])]
    if getattr(ds, "target", None) is not None:
        parts.append("outlier" if np.asarray(ds.target)[i] == -1 else "inlier")
    return " / ".join(parts)


def _conservation(R, o):
    """"sum R = .., o(x) = .." for one example row (the relevance-carrying score)."""
    return f"sum R = {float(np.sum(R)):.4g}\no(x) = {float(o):.4g}"


def _html_examples(table, rows, ds, relevances, scores, n_examples, figs, feature_names):
    p = figs.plotting
    if p is None or ds is None or not relevances:
        return []
    maps = _split_relevances(relevances)
    image_shape = getattr(ds, "image_shape", None)
    tabular = image_shape is None or len(tuple(image_shape)) < 2

    def _cos(R, masks):
        return row_cosines(R, masks, image_shape)

    X = np.asarray(ds.data)
    has_gt = getattr(ds, "masks", None) is not None
    M = np.asarray(ds.masks) if has_gt else np.zeros_like(X, dtype=np.float64)
    corr = np.asarray(ds.corruption)
    judged = bool(rows["judged"].any())
    parts = ["<h2>Examples: where each detector looks</h2>",
             "<p class='note'>In the layout of [P] Fig. 4: input, ground truth (where the anomaly "
             "really is; blank without ground truth) and explanation"
             + ("" if tabular else ", then the explanation overlaid on the input") + ". "
             + ("Bars per feature: ground truth (red, divided by its largest value) and relevance "
                "(divided by its largest absolute value; red = evidence for the anomaly, blue = "
                "against)." if tabular else
                "Colormaps: ground truth <b>Reds</b> (divided by its largest value), relevance "
                "<b>seismic</b> centred at zero (red = evidence for the anomaly, blue = against; each "
                "map divided by its largest absolute value, so the colorbar reads as a fraction).")
             + " Each row names the sample's true label and the cosine of each map with the "
             "ground truth; under the detector's own explanation, <i>sum R</i> and <i>o</i>: the "
             "relevance sums to the outlier score o(x) (conservation) for the KDE rule, the "
             "autoencoder and the bag of such members; OC-DTD (OC-SVM, Times) gives sum R &lt;= o "
             "([T] eq. 1.14); occlusion and the baselines conserve nothing. For each detector, "
             "the rows are its three detected anomaly types with the highest Clever Hans score "
             "(highest ROC without ground truth) and show the sample of median cosine.</p>"]
    key = "clever_hans_difference" if judged else "roc_auc"
    for det, (R, extra) in maps.items():
        sub = rows[rows["detector"] == det]
        if judged and sub["detected"].any():
            sub = sub[sub["detected"]]  # its Clever Hans scores mean something only there
        if key not in sub or not sub[key].notna().any():
            continue
        top = sub.nlargest(3, key)["anomaly"].tolist()
        pick, labels, notes, row_notes = [], [], [], []
        for a in top:
            idx = np.flatnonzero(corr == a)
            if not idx.size:
                continue
            cos = _cos(R[idx], M[idx]) if has_gt else np.zeros(idx.size)
            order = np.argsort(np.nan_to_num(cos, nan=-1.0), kind="stable")
            i = int(idx[order[len(order) // 2]])
            pick.append(i)
            labels.append(_sample_label(ds, i))
            row_notes.append(_conservation(R[i], np.asarray(scores[det])[i])
                             if scores is not None and det in scores else "")
            notes.append([f"cos {_cos(m[[i]], M[[i]])[0]:.2f}" if has_gt else ""
                          for m in (R, *extra.values())])
        if not pick:
            continue
        fig = _explanations(p, X[pick], M[pick], R[pick], image_shape, title=f"{det}",
                            row_labels=labels, extra={k: v[pick] for k, v in extra.items()},
                            feature_names=feature_names, notes=notes,
                            relevance_name=_own_name(table, det), row_notes=row_notes)
        f = figs.save(fig, f"examples_{_slug(det)}.png")
        parts.append(_figure(f, f"{_esc(det)}: its top anomaly types ({_esc(', '.join(top))})."))
    # every anomaly, every detector on the same samples
    parts.append("<h3>Every anomaly type, all detectors on the same samples</h3>")
    names = list(maps)
    for a in getattr(ds, "corruption_names", []):
        idx = np.flatnonzero(corr == a)[: int(n_examples)]
        if not idx.size:
            continue
        first, rest = names[0], names[1:]
        notes = [[(f"cos {_cos(maps[d][0][[i]], M[[i]])[0]:.2f}" if has_gt else "")
                  for d in names] for i in idx]
        labels = [_sample_label(ds, i) for i in idx]
        fig = _explanations(p, X[idx], M[idx], maps[first][0][idx], image_shape, title=str(a),
                            row_labels=labels, extra={d: maps[d][0][idx] for d in rest},
                            feature_names=feature_names, notes=notes, relevance_name=first)
        f = figs.save(fig, f"explain_{_slug(a)}.png")
        parts.append(f"<details><summary>{_esc(a)}</summary>"
                     + _figure(f, f"{_esc(a)}: the first {idx.size} samples; one column per detector "
                               "(its own explanation); the number under each map is its cosine with "
                               "the ground truth.")
                     + "</details>")
    return parts


def _own_name(table, det):
    sub = table[(table["detector"] == det) & table.get("primary", table["explainer"] == "lrp")]
    return str(sub["explainer"].iloc[0]) if len(sub) else "explanation"


def _explanations(p, *args, **kwargs):
    """plotting.plot_explanations, with the overlay column for images."""
    if args[3] is not None and len(tuple(args[3])) >= 2:
        kwargs["overlay"] = True
    return p.plot_explanations(*args, **kwargs)


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
        f = figs.save(p.plot_pixel_flipping_grid({d: {d: m} for d, m in means.items()}),
                      "pixel_flipping.png")
        parts.append(_figure(f, "Mean pixel-flipping curve over all anomaly types per detector: "
                             "solid = LRP order, other lines = baseline explainers when audited, "
                             "dashed grey = random order."))
    anomalies = list(dict.fromkeys(a for c in curves.values() for a in c))
    if anomalies:
        per = {a: {d: _lrp_and_random(c[a]) for d, c in curves.items() if a in c} for a in anomalies}
        f = figs.save(p.plot_pixel_flipping_grid(per), "pixel_flipping_by_anomaly.png")
        parts.append("<details><summary>pixel flipping per anomaly type</summary>"
                     + _figure(f, "One panel per anomaly type: each detector's LRP order (solid) "
                               "and random order (dashed), mean over the flipped outliers.")
                     + "</details>")
    return parts


def _lrp_and_random(value):
    from ..plotting import curve_parts

    fr, parts = curve_parts(value)
    keep = {k: v for k, v in parts.items() if k in ("lrp", "random")} or parts
    return {"fractions": fr, **keep}


def _explainer_means(table, detectors):
    """Means per (detector, explainer), detectors in the given order, the primary first."""
    if "explainer" not in table.columns or table["explainer"].nunique() < 2:
        return None
    cols = [c for c in ("cosine", "pixel_flipping_auc", "pixel_auroc", "agreement_with_primary",
                        "explain_seconds_per_sample", "n_explained", "n_flipped")
            if c in table.columns and table[c].notna().any()]
    t = table.assign(_p=~table["primary"].astype(bool)) if "primary" in table else table.assign(_p=0)
    t = t.sort_values("_p", kind="stable")
    means = t.groupby(["detector", "explainer"], sort=False)[cols].mean()
    dets = [d for d in detectors if d in means.index.get_level_values(0)]
    return means.loc[[(d, e) for d in dets for e in means.loc[d].index]]


def _html_baselines(table, dets, figs):
    means = _explainer_means(table, dets["detector"].tolist())
    if means is None:
        return []
    cols = list(means.columns)
    parts = ["<h2>Own explanations against baseline explainers</h2>",
             "<p class='note'>The same detectors explained by trivial or model-agnostic methods "
             "(see <i>explainer</i> in the glossary), averaged over anomaly types; each detector's "
             "own (primary) explanation first. Bold: the best explainer of each detector on that "
             "column. The counts say on how many rows each mean rests: a costly baseline "
             "explains only a few, so its mean is compared with the primary explanation on the "
             "same rows, and a difference is claimed only when its paired interval excludes 0 "
             f"with at least {MIN_ROWS} rows.</p>"]
    better_high = {"cosine": True, "pixel_flipping_auc": False, "pixel_auroc": True}
    body = []
    for det in dict.fromkeys(means.index.get_level_values(0)):
        sub = means.loc[det]
        for e, r in sub.iterrows():
            cells = [_esc(det), _esc(e)]
            for c in cols:
                v = r[c]
                col = sub[c].dropna()
                is_best = (c in better_high and len(col) and np.isfinite(v)
                           and v == (col.max() if better_high[c] else col.min()))
                txt = (_num(v) if c in better_high or c == "agreement_with_primary"
                       else f"{v:.0f}" if c.startswith("n_") else f"{v:.3g}")
                cells.append(f"<b>{txt}</b>" if is_best else txt)
            body.append(cells)
    head = ["detector", "explainer",
            *(f"{_esc(c)}<br>({'higher' if better_high[c] else 'lower'} = better)"
              if c in better_high else _esc(c) for c in cols)]
    parts.append(_table(head, body, left=2))
    comps = baseline_comparisons(table)
    if comps:
        rows = []
        for c in comps:
            rows.append((_esc(c["detector"]), _esc(c["baseline"]), _esc(c["metric"]),
                         f"{c['rows'][0]}-{c['rows'][1]}", _num(c["primary_mean"]),
                         _num(c["baseline_mean"]), str(c["n_better"]), str(c["n_worse"]),
                         str(c["n_same"]), str(c["n_too_few"])))
        parts += ["<h3>Paired comparisons, per anomaly type</h3>",
                  "<p class='note'>Baseline minus primary on the same rows; <i>better</i> / "
                  "<i>worse</i>: anomaly types where the interval excludes 0 in the baseline's "
                  f"favour / against it; <i>too few</i>: fewer than {MIN_ROWS} rows, not judged.</p>",
                  _table(["detector", "baseline", "metric", "rows per type", "primary (same rows)",
                          "baseline", "better", "worse", "no difference", "too few"], rows, left=3)]
    p = figs.plotting
    if p is not None and {"cosine", "pixel_flipping_auc"} <= set(cols):
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


def render_page(table, rows, dets, best, *, dataset=None, relevances=None, curves=None, scores=None,
                n_examples=3, settings=None, payload=None, figures=None, feature_names=None,
                descriptions=None, t_start=None):
    """The whole page as one string; figures go through ``figures`` (a :class:`_Figures`)."""
    ground_truth = bool(rows["judged"].any()) if "judged" in rows else True
    parts = _html_head(table, settings, descriptions, ground_truth)
    parts += _html_summary(table, rows, dets, best)
    rows.attrs["anomaly_order"] = list(getattr(dataset, "corruption_names", None) or [])
    parts += _html_overview(rows, dets, best, figures)
    parts += _html_examples(table, rows, dataset, relevances, scores, n_examples, figures,
                            feature_names)
    parts += _html_pixel_flipping(curves, dataset, rows, figures)
    parts += _html_baselines(table, dets, figures)
    parts += _html_glossary(table)
    parts += _html_settings(settings, payload or {}, t_start or time.perf_counter())
    if figures.plotting is None:
        parts.insert(3, "<p class='note'>Figures skipped: matplotlib is not installed "
                        "(pip install 'skexplain_ad[plot]').</p>")
    elif dataset is None:
        parts.insert(3, "<p class='note'>Written from a results table alone: the example "
                        "figures need the data and the relevance maps of a run.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
