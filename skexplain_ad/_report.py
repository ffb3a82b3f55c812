"""Writes the audit's report folder (CSV, JSON, figures, index.html)."""

import html
import json
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

__all__ = ["write_report"]


def _slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))


def _versions():
    out = {}
    for pkg in ("skexplain_ad", "numpy", "scipy", "scikit-learn", "numba"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def write_report(out, table, ds, relevances, curves, *, n_examples=3, settings=None):
    """Write the audit report into folder ``out`` and return its path.

    Parameters
    ----------
    out : str or path-like
        Folder, created if missing; existing files of the same names are
        replaced.
    table : pandas.DataFrame
        The audit table.
    ds : sklearn.utils.Bunch
        The audited data set.
    relevances : dict
        Detector name -> relevance of every test row, (n_test, n_features).
    curves : dict
        Detector name -> anomaly -> (fractions, relevance curve, random curve).
    n_examples : int, default=3
    settings : dict, optional
        Recorded in ``results.json``.

    Returns
    -------
    path : pathlib.Path
        The report folder (``index.html`` inside).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "results.csv", index=False)
    payload = {
        "settings": settings or {},
        "versions": _versions(),
        "timings": table.attrs.get("timings", {}),
        "results": json.loads(table.to_json(orient="records")),
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2))

    figures = {}
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .plotting import plot_explanations, plot_pixel_flipping
    except ImportError:
        plt = None
    if plt is not None:
        for anomaly in ds.corruption_names:
            idx = np.flatnonzero(ds.corruption == anomaly)[:n_examples]
            for name, R in relevances.items():
                fig = plot_explanations(ds.data[idx], ds.masks[idx], R[idx], ds.image_shape,
                                        title=f"{name} - {anomaly}")
                fname = f"explain_{_slug(name)}_{_slug(anomaly)}.png"
                fig.savefig(out / fname, dpi=80)
                plt.close(fig)
                figures.setdefault(anomaly, []).append(fname)
            fig = plot_pixel_flipping({n: c[anomaly] for n, c in curves.items()},
                                      title=f"pixel flipping - {anomaly}")
            fname = f"pixel_flipping_{_slug(anomaly)}.png"
            fig.savefig(out / fname, dpi=80)
            plt.close(fig)
            figures.setdefault(anomaly, []).insert(0, fname)

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>skexplain_ad Clever Hans audit</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{margin:4px;vertical-align:top}</style>",
        "</head><body><h1>Clever Hans audit</h1>",
        f"<p>{html.escape(json.dumps(settings or {}))}</p>",
        "<p>Sorted by the Clever Hans score ROC - cosine (paper, Sec. 3); "
        "clever_hans_ratio is ROC / cosine (thesis eq. 3.5, above 3 = bad understanding). "
        "Pixel-flipping AUC: lower is better.</p>",
        table.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0),
    ]
    if plt is None:
        parts.append("<p>Figures skipped: matplotlib is not installed (pip install 'skexplain_ad[plot]').</p>")
    for anomaly, files in figures.items():
        parts.append(f"<h2>{html.escape(anomaly)}</h2>")
        parts += [f"<img src='{html.escape(f)}' alt='{html.escape(f)}'>" for f in files]
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts))
    return out.resolve()
