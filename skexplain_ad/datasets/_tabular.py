"""Tables with anomalies injected into known features (a tabular Clever Hans audit).

Most anomaly detection data are tables (fraud, security, medicine), and
their ground truth is which *features* are wrong. :func:`make_tabular_anomalies`
takes a table that ships offline (scikit-learn's breast cancer and wine
data) or the user's own (a CSV file, a DataFrame, an array), and injects
three kinds of anomaly into held-out rows, each touching known features:

- ``out-of-range``: one feature gets a value beyond the range it has in the
  training data (above the maximum or below the minimum by 0.5 to 1.5 times
  the range, side at random);
- ``swap``: the values of two features are exchanged (two features whose
  values differ by at least 2 standard deviations in that row, or the most
  different pair when none does);
- ``broken-correlation``: in a strongly correlated pair (|r| >= 0.5 on the
  training data; the strongest pair when none is), the second feature gets
  a value that it really takes in the training data, but one that the
  linear relation with the first feature makes at least 3 residual
  standard deviations unlikely: each value is typical, their combination
  is not.

The ground truth of each outlier is 1 on the features that were changed
and 0 elsewhere.
"""

import numbers
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["TABULAR_ANOMALIES", "TABLES", "make_tabular_anomalies"]

#: The anomaly types of :func:`make_tabular_anomalies`.
TABULAR_ANOMALIES = ("out-of-range", "swap", "broken-correlation")

#: Tables that ship offline: name -> scikit-learn loader.
TABLES = {
    "breast-cancer": "load_breast_cancer",
    "wine": "load_wine",
}

_INLIER = "none"


def _load_table(data):
    """``(X float64, feature names, description)`` from a name, a path, a frame or an array."""
    if isinstance(data, str) and data in TABLES:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, TABLES[data])()
        return (np.asarray(bunch.data, dtype=np.float64), [str(f) for f in bunch.feature_names],
                f"scikit-learn's {data} data ({len(bunch.data)} rows)")
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix.lower() != ".csv" and not path.is_file():
            raise ValueError(
                f"data must be one of {sorted(TABLES)} or the path of a CSV file; got {data!r}.")
        if not path.is_file():
            raise FileNotFoundError(f"CSV file {str(path)!r} does not exist.")
        import pandas as pd

        frame = pd.read_csv(path)
        source = f"the CSV file {str(path)!r}"
    else:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            pd = None
        if pd is not None and isinstance(data, pd.DataFrame):
            frame, source = data, "a DataFrame"
        else:
            X = np.asarray(data)
            if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
                raise ValueError(
                    f"data must be a table name, a CSV path, a DataFrame or a 2-D numeric array; "
                    f"got an array of shape {X.shape} and dtype {X.dtype}.")
            return (X.astype(np.float64), [f"x{j}" for j in range(X.shape[1])],
                    f"an array of shape {X.shape}")
    numeric = frame.select_dtypes("number")
    dropped = [str(c) for c in frame.columns if c not in numeric.columns]
    if numeric.shape[1] < 2:
        raise ValueError(f"{source} has {numeric.shape[1]} numeric column(s); at least 2 are "
                         f"needed (non-numeric columns {dropped} are ignored).")
    bad = [str(c) for c in numeric.columns if not np.isfinite(numeric[c].to_numpy(np.float64)).all()]
    if bad:
        raise ValueError(f"{source} has missing or infinite values in the columns {bad}; "
                         "fill or drop them first.")
    desc = source + (f"; non-numeric columns ignored: {dropped}" if dropped else "")
    return numeric.to_numpy(np.float64), [str(c) for c in numeric.columns], desc


def _check_names(anomalies):
    if anomalies is None:
        return list(TABULAR_ANOMALIES)
    names = [anomalies] if isinstance(anomalies, str) else list(anomalies)
    bad = [a for a in names if a not in TABULAR_ANOMALIES]
    if not names or bad:
        raise ValueError(f"anomalies must be a non-empty list from {list(TABULAR_ANOMALIES)}; "
                         f"got {anomalies!r}.")
    return list(dict.fromkeys(names))


def _out_of_range(Z, lo, hi, rng):
    n, d = Z.shape
    out, mask = Z.copy(), np.zeros_like(Z)
    j = rng.randint(d, size=n)
    span = np.maximum(hi - lo, 1.0)
    step = rng.uniform(0.5, 1.5, size=n) * span[j]
    up = rng.rand(n) < 0.5
    out[np.arange(n), j] = np.where(up, hi[j] + step, lo[j] - step)
    mask[np.arange(n), j] = 1.0
    return out, mask


def _swap(Z, rng):
    n, d = Z.shape
    out, mask = Z.copy(), np.zeros_like(Z)
    for r in range(n):
        diff = np.abs(Z[r][:, None] - Z[r][None, :])
        iu = np.triu_indices(d, 1)
        cand = np.flatnonzero(diff[iu] >= 2.0)
        k = rng.choice(cand) if cand.size else int(np.argmax(diff[iu]))
        a, b = iu[0][k], iu[1][k]
        out[r, a], out[r, b] = Z[r, b], Z[r, a]
        mask[r, [a, b]] = 1.0
    return out, mask


def _broken_correlation(Z, Z_train, rng):
    n, d = Z.shape
    C = np.corrcoef(Z_train, rowvar=False)
    C = np.nan_to_num(C)
    iu = np.triu_indices(d, 1)
    strength = np.abs(C[iu])
    pairs = np.flatnonzero(strength >= 0.5)
    if not pairs.size:
        pairs = np.array([int(np.argmax(strength))])
    out, mask = Z.copy(), np.zeros_like(Z)
    for r in range(n):
        k = rng.choice(pairs)
        a, b = iu[0][k], iu[1][k]
        if rng.rand() < 0.5:
            a, b = b, a  # which one of the pair is changed
        rho = float(np.clip(C[a, b], -0.999, 0.999))
        values = Z_train[:, b]
        resid = np.abs(values - rho * Z[r, a]) / np.sqrt(1.0 - rho ** 2)
        far = np.flatnonzero(resid >= 3.0)
        out[r, b] = values[rng.choice(far)] if far.size else values[int(np.argmax(resid))]
        mask[r, b] = 1.0
    return out, mask


def make_tabular_anomalies(data="breast-cancer", anomalies=None, *, n_outliers_per_anomaly=30,
                           test_size=0.25, standardize=True, random_state=None):
    """Make an anomaly detection table with anomalies injected into known features.

    The rows are shuffled and split into three disjoint sets: training
    inliers, test inliers, and ``n_outliers_per_anomaly`` held-out "base"
    rows. Every requested anomaly type is injected into all base rows (as
    MNIST-C corrupts the same digits every way), giving one outlier group
    per type; the ground truth marks the features each row had changed.

    Parameters
    ----------
    data : str, path-like, DataFrame or array of shape (n_rows, n_features), default="breast-cancer"
        ``"breast-cancer"`` (569 x 30) or ``"wine"`` (178 x 13), scikit-learn's
        tables that ship with it; the path of a CSV file (numeric columns
        are used, others ignored; the header gives the feature names); a
        DataFrame; or a numeric array.
    anomalies : list of str, str or None, default=None
        From :data:`TABULAR_ANOMALIES`; None means all three.
    n_outliers_per_anomaly : int, default=30
        Base rows, hence outliers per anomaly type.
    test_size : float in (0, 1), default=0.25
        Share of the remaining rows that are test inliers.
    standardize : bool, default=True
        Express every feature in standard deviations of the training
        inliers (``(x - mean) / std``) before injecting, as distance-based
        detectors need comparable scales. The anomalies are defined in these
        units; ``feature_mean`` and ``feature_scale`` map back.
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the injections.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields of :func:`make_mnist_c`: ``data_train`` (training
        inliers), ``data`` (test inliers first, then the outliers grouped by
        anomaly type), ``target`` (+1 / -1), ``masks`` (1 on the changed
        features of an outlier, zeros for inliers), ``corruption`` (each
        row's anomaly type, ``"none"`` for inliers), ``corruption_names``,
        ``image_shape`` (None: a table), ``images`` (None), and
        ``feature_names``, ``feature_mean``, ``feature_scale``,
        ``source_index_train``, ``source_index`` (row in the original
        table; for outliers, the base row), ``DESCR``.

    Raises
    ------
    ValueError
        On an unknown table or anomaly, a non-numeric or incomplete table,
        or when the table has too few rows for the split.
    FileNotFoundError
        When a CSV path does not exist.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets import make_tabular_anomalies
    >>> ds = make_tabular_anomalies("wine", ["out-of-range", "swap"],
    ...                             n_outliers_per_anomaly=10, random_state=0)
    >>> ds.data_train.shape, ds.data.shape, ds.corruption_names
    ((126, 13), (62, 13), ['out-of-range', 'swap'])
    >>> ds.feature_names[:2]
    ['alcohol', 'malic_acid']
    >>> swap = ds.corruption == "swap"
    >>> bool((ds.masks[swap].sum(axis=1) == 2).all())
    True
    """
    names = _check_names(anomalies)
    if (not isinstance(n_outliers_per_anomaly, numbers.Integral)
            or isinstance(n_outliers_per_anomaly, bool) or n_outliers_per_anomaly < 1):
        raise ValueError(f"n_outliers_per_anomaly must be an integer >= 1, got "
                         f"{n_outliers_per_anomaly!r}.")
    if not (isinstance(test_size, numbers.Real) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}.")
    X, feature_names, source = _load_table(data)
    n_rows, d = X.shape
    rest = n_rows - n_outliers_per_anomaly
    n_test = int(np.ceil(test_size * rest))
    n_train = rest - n_test
    if n_train < 2 or n_test < 1:
        raise ValueError(
            f"The table has {n_rows} rows: with n_outliers_per_anomaly={n_outliers_per_anomaly} "
            f"and test_size={test_size} that leaves {n_train} training and {n_test} test rows; "
            "at least 2 and 1 are needed.")
    rng = check_random_state(random_state)
    order = rng.permutation(n_rows)
    train, test, base = np.split(order, [n_train, rest])
    mean = X[train].mean(axis=0)
    scale = X[train].std(axis=0)
    scale[scale == 0] = 1.0
    if not standardize:
        mean, scale = np.zeros(d), np.ones(d)
    Z = (X - mean) / scale
    Z_train = Z[train]
    lo, hi = Z_train.min(axis=0), Z_train.max(axis=0)
    seeds = dict(zip(TABULAR_ANOMALIES, rng.randint(np.iinfo(np.int32).max, size=3)))
    blocks, masks = [Z[test]], [np.zeros((n_test, d))]
    for name in names:
        r = np.random.RandomState(seeds[name])
        if name == "out-of-range":
            out, m = _out_of_range(Z[base], lo, hi, r)
        elif name == "swap":
            out, m = _swap(Z[base], r)
        else:
            out, m = _broken_correlation(Z[base], Z_train, r)
        blocks.append(out)
        masks.append(m)
    corruption = np.repeat([_INLIER] + names, [n_test] + [len(base)] * len(names))
    descr = (
        f"Tabular anomaly detection set from {source}.\n"
        f"{n_train} training rows; test: {n_test} clean rows (target +1) and {len(base)} rows per "
        f"anomaly type (target -1): {', '.join(names)}.\n"
        + ("Features standardised by the training rows' mean and standard deviation.\n"
           if standardize else "")
        + "masks = 1 on the features each anomaly changed, 0 elsewhere.\n"
    )
    return Bunch(
        data_train=Z_train,
        data=np.concatenate(blocks),
        target=np.where(corruption == _INLIER, 1, -1),
        masks=np.concatenate(masks),
        corruption=corruption,
        corruption_names=names,
        feature_names=feature_names,
        feature_mean=mean,
        feature_scale=scale,
        source_index_train=train,
        source_index=np.concatenate([test] + [base] * len(names)),
        image_shape=None,
        images=None,
        DESCR=descr,
    )
