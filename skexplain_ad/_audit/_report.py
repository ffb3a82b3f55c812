"""The audit's one writer: ``results.csv``, ``results.json``, the figures and ``index.html``.

Every file goes to a temporary file in the report folder and is moved into
place with :func:`os.replace`, which replaces a link of that name instead of
following it: nothing outside the folder is ever written.
"""

import json
import os
import tempfile
import time
from pathlib import Path

from ._columns import GLOSSARY
from ._html import _Figures, _versions, render_page
from ._verdicts import RANKING_RULE, best_detector, summarize

__all__ = ["write_report", "write_results_json", "read_results"]

_NEED = ("detector", "anomaly", "roc_auc")


def _write(out, fname, data):
    """Write ``data`` (str or bytes) to ``out / fname`` atomically, never through a link."""
    out = Path(out)
    if Path(fname).name != fname:
        raise ValueError(f"report file name {fname!r} must not contain a folder.")
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{fname}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, out / fname)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_results(results):
    """The results table from a DataFrame, a ``results.json`` / ``results.csv`` path or a report folder.

    Raises
    ------
    ValueError
        When it is none of these or lacks a column the report needs.
    """
    import pandas as pd

    if isinstance(results, pd.DataFrame):
        table = results
    elif isinstance(results, (str, os.PathLike)):
        p = Path(results)
        if p.is_dir():
            p = p / "results.json" if (p / "results.json").is_file() else p / "results.csv"
        if not p.is_file():
            raise ValueError(f"results={str(results)!r}: no such file (expected a results.json, "
                             "a results.csv or a report folder).")
        if p.suffix == ".json":
            payload = json.loads(p.read_text())
            table = pd.DataFrame(payload.get("results", []))
            for key in ("settings", "timings", "skipped", "descriptions", "feature_names",
                        "ground_truth"):
                if key in payload:
                    table.attrs[key] = payload[key]
        elif p.suffix == ".csv":
            table = pd.read_csv(p)
        else:
            raise ValueError(f"results={str(results)!r} is neither a .json nor a .csv file.")
    else:
        raise TypeError(f"results must be a DataFrame or the path of a results file; got "
                        f"{type(results).__name__}.")
    missing = [c for c in _NEED if c not in table.columns]
    if missing:
        raise ValueError(f"the results table lacks the columns {missing} the report needs.")
    return table


def _plain(v):
    """``v`` as JSON: floats exactly (repr), non-finite ones as null, numpy scalars as Python."""
    import numpy as np
    import pandas as pd

    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if v is None or v is pd.NA:
        return None
    return v if isinstance(v, str) else str(v)


def _records(frame):
    """The rows of ``frame`` as JSON records, without pandas' rounding to 10 decimals."""
    return [{str(k): _plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def _payload(table, dets, best):
    return {
        "settings": table.attrs.get("settings", {}),
        "versions": _versions(),
        "timings": table.attrs.get("timings", {}),
        "skipped": table.attrs.get("skipped", []),
        "descriptions": table.attrs.get("descriptions", {}),
        "ground_truth": bool(table.attrs.get("ground_truth", "cosine" in table
                                             and table["cosine"].notna().any())),
        "summary": {
            "most_trustworthy": None if best is None else str(best["detector"]),
            "ranking_rule": RANKING_RULE,
            "detectors": _records(dets.drop(columns=["judged"], errors="ignore")),
        },
        "glossary": {c: dict(zip(("what", "range", "better", "source"), GLOSSARY[c]))
                     for c in table.columns if c in GLOSSARY},
        **({"feature_names": table.attrs["feature_names"]} if "feature_names" in table.attrs
           else {}),
        "results": _records(table),
    }


def write_results_json(table, out):
    """(Re)write ``results.json`` of ``table`` in ``out``: settings, timings, verdicts, the table."""
    _, dets = summarize(table)
    _write(out, "results.json", json.dumps(_payload(table, dets, best_detector(dets)), indent=2))


def write_report(results, out, *, dataset=None, relevances=None, curves=None, scores=None,
                 n_examples=3, timings=None, _results_json=True):
    """Write the audit report into folder ``out`` from a results table, and return its path.

    A user can rerun the report alone: ``write_report("old_report/results.json",
    "new_report")`` rewrites the summary, verdicts, tables and the figures
    that need only the table; the example and pixel-flipping figures need
    the data and maps of a run (``dataset``, ``relevances``, ``curves``).

    Parameters
    ----------
    results : pandas.DataFrame or path
        The table :func:`skexplain_ad.audit` returns, or a ``results.json``
        / ``results.csv`` it wrote (or its folder).
    out : str or path-like
        Folder, created if missing; files of the same names are replaced
        (atomically, links replaced rather than followed).
    dataset : sklearn.utils.Bunch, optional
        The audited data (``data``, ``masks``, ``corruption``,
        ``corruption_names``, ``image_shape``, ``feature_names``).
    relevances : dict, optional
        Detector -> {explainer: relevance of every test row}, its own
        explanation first.
    curves : dict, optional
        Detector -> anomaly -> ``{"fractions": f, explainer: mean curve}``.
    scores : dict, optional
        Detector -> outlier score of every test row (the conservation note).
    n_examples : int, default=3
        Samples per anomaly in the example galleries.
    timings : dict or callable, optional
        Timings to show (a callable is called when the page is written).

    Returns
    -------
    path : pathlib.Path
        The report folder (``index.html`` inside).

    Raises
    ------
    ValueError, TypeError
        On a table without the columns the report needs, ``n_examples`` < 1,
        or ``out`` that is a file.

    Examples
    --------
    >>> import tempfile
    >>> from skexplain_ad import audit, write_report
    >>> table = audit("wine", detectors=["KDE"], explainers=["lrp", "random"], n_samples=10,
    ...               n_flip=2, flip_steps=4)
    >>> path = write_report(table, tempfile.mkdtemp())
    >>> sorted(p.name for p in path.iterdir() if p.suffix != ".png")
    ['index.html', 'results.csv', 'results.json']
    """
    table = read_results(results)
    if isinstance(n_examples, bool) or int(n_examples) < 1:
        raise ValueError(f"n_examples must be >= 1; got {n_examples!r}.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; the report needs a folder.")
    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if "primary" in table.columns:
        table["primary"] = table["primary"].astype(bool)
    feature_names = table.attrs.get("feature_names")
    if feature_names is None and dataset is not None:
        feature_names = getattr(dataset, "feature_names", None)
    feature_names = None if feature_names is None else [str(f) for f in feature_names]
    rows, dets = summarize(table)
    best = best_detector(dets)
    settings = table.attrs.get("settings", {})
    _write(out, "results.csv", table.to_csv(index=False))
    try:
        from .. import plotting

        plotting.new_figure((1, 1))
    except ImportError:
        plotting = None
    figs = _Figures(out, plotting, lambda fname, data: _write(out, fname, data))
    if callable(timings):
        timings = timings()
    if timings:
        table.attrs["timings"] = timings
    payload = _payload(table, dets, best)
    page = render_page(table, rows, dets, best, dataset=dataset, relevances=relevances,
                       curves=curves, scores=scores, n_examples=n_examples, settings=settings,
                       payload=payload, figures=figs, feature_names=feature_names,
                       descriptions=table.attrs.get("descriptions"), t_start=t_start)
    if _results_json:  # the run writes it once, last, with the report's own time
        _write(out, "results.json", json.dumps(payload, indent=2))
    _write(out, "index.html", page)
    return out.resolve()
