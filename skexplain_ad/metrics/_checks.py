"""Input checks shared by the metric families (labels, scores, heatmaps)."""

import numpy as np
from sklearn.utils.validation import check_array, column_or_1d



def _check_maps(array, name, *, dtype=np.float64):
    """Validate a stack of maps; return it as (n_samples, n_features).

    A 1-D array is one sample. An array with more than two dimensions is a
    stack of images and is flattened per sample.
    """
    array = check_array(
        array,
        dtype=dtype,
        ensure_2d=False,
        allow_nd=True,
        input_name=name,
    )
    if array.ndim == 0:
        raise ValueError(
            f"{name} must be an array of shape (n_samples, n_features), got a "
            f"scalar {array!r}."
        )
    if array.ndim == 1:
        return array.reshape(1, -1)
    return array.reshape(array.shape[0], -1)


def _check_same_shape(a, a_name, b, b_name):
    a_shape, b_shape = np.shape(a), np.shape(b)
    if a_shape != b_shape:
        raise ValueError(
            f"{a_name} has shape {a_shape} but {b_name} has shape {b_shape}; "
            "they must have the same shape."
        )


def _check_labels(y_true):
    """Return y_true as 1-D int array of +1 / -1, or raise."""
    y_true = column_or_1d(y_true, warn=True)
    if y_true.dtype.kind not in "iuf" or y_true.size == 0:
        raise ValueError(
            "y_true must be a non-empty array of labels +1 (inlier) / -1 "
            f"(outlier), got dtype {y_true.dtype} and {y_true.size} labels."
        )
    found = np.unique(y_true)
    if not np.isin(found, (-1, 1)).all():
        raise ValueError(
            "y_true must hold labels +1 (inlier) and -1 (outlier), as "
            f"sklearn's outlier detectors predict; got the values {found.tolist()}."
        )
    return y_true.astype(np.int64)


def _check_scores(outlier_scores, name="outlier_scores"):
    return column_or_1d(
        check_array(
            outlier_scores, ensure_2d=False, dtype=np.float64, input_name=name
        ),
        warn=True,
    )


def _check_unit_interval(value, name):
    arr = np.asarray(value, dtype=np.float64)
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}.")
    return arr


def _as_output(arr):
    """0-d array -> Python float, otherwise the array."""
    return float(arr) if np.ndim(arr) == 0 else arr
