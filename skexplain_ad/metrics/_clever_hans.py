"""Clever Hans scores: detection ROC, explanation cosine and their
comparison ([P] Sec. 3; [T] eq. 3.3, 3.5)."""

import numbers

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_array, check_consistent_length

from ._checks import (
    _as_output,
    _check_labels,
    _check_maps,
    _check_same_shape,
    _check_scores,
    _check_unit_interval,
)


#: Ratio ROC / cosine at or above which [T] (Sec. 3.3, after eq. 3.5) calls a
#: model's understanding of the task "bad"; below it, "good".
CLEVER_HANS_RATIO_THRESHOLD = 3.0


# --------------------------------------------------------------------------
# detection and explanation accuracy, Clever Hans scores
# --------------------------------------------------------------------------


def detection_auc(y_true, outlier_scores):
    """ROC-AUC of the outlierness, the *detection accuracy* of [P] Sec. 3.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, +1 for inliers and -1 for outliers (sklearn's convention).
        Both classes must be present.
    outlier_scores : array-like of shape (n_samples,)
        Outlierness ``o(x)``, higher = more anomalous, e.g.
        ``detector.outlier_score(X)`` or ``-detector.score_samples(X)``.

    Returns
    -------
    auc : float
        Area under the ROC curve with the outliers as the positive class; 1 =
        every outlier scored above every inlier, 0.5 = chance.

    Raises
    ------
    ValueError
        If only one class is present, a label is not +1 / -1, the lengths
        differ, or a score is NaN / infinite.

    See Also
    --------
    sklearn.metrics.roc_auc_score : equal to
        ``roc_auc_score(y_true, detector.score_samples(X))`` (inliers
        positive, normality score) by the symmetry of the ROC curve.

    Examples
    --------
    >>> from skexplain_ad.metrics import detection_auc
    >>> detection_auc([1, 1, -1, -1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true = _check_labels(y_true)
    outlier_scores = _check_scores(outlier_scores)
    check_consistent_length(y_true, outlier_scores)
    n_out = int(np.sum(y_true == -1))
    if n_out == 0 or n_out == y_true.size:
        only = "outliers (-1)" if n_out else "inliers (+1)"
        raise ValueError(
            f"y_true holds only {only}; the ROC-AUC needs both inliers (+1) "
            "and outliers (-1)."
        )
    return float(roc_auc_score(y_true == -1, outlier_scores))


def explanation_cosine(relevance, ground_truth):
    """Cosine similarity of rectified relevance and ground truth, per sample.

    The *explanation accuracy* of [P] Sec. 3 and [T] Sec. 3.2-3.3: the
    relevance is rectified, ``max(R, 0)``, so that the similarity lies in
    [0, 1].

    Parameters
    ----------
    relevance : array-like of shape (n_samples, n_features) or (n_features,)
        Relevance ``R(x)`` of the outlierness, e.g. ``detector.explain(X)``.
        Images, (n_samples, height, width[, channels]), are flattened per
        sample.
    ground_truth : array-like, same shape as ``relevance``
        Non-negative ground-truth anomaly map: a pixel mask (MVTec AD) or
        ``(x' - x)**2`` for a corruption ([T] eq. 3.3,
        :func:`corruption_ground_truth`).

    Returns
    -------
    cosine : ndarray of shape (n_samples,), or float for 1-D input
        ``<max(R, 0), G> / (||max(R, 0)|| ||G||)``. Defined as 0 where either
        vector is all zero (no NaN, no warning): a map with no positive
        relevance, or no anomaly, shares no direction with anything.

    Raises
    ------
    ValueError
        If the shapes differ (the message names both), a value is NaN /
        infinite, or ``ground_truth`` has a negative entry.

    Notes
    -----
    Each vector is divided by its largest entry before the dot product, so
    very small or very large relevances neither underflow nor overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import explanation_cosine
    >>> R = np.array([[3.0, 4.0, -1.0], [0.0, 0.0, 0.0]])
    >>> G = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    >>> explanation_cosine(R, G)
    array([0.6, 0. ])
    """
    one = np.ndim(relevance) == 1
    _check_same_shape(relevance, "relevance", ground_truth, "ground_truth")
    R = _check_maps(relevance, "relevance")
    G = _check_maps(ground_truth, "ground_truth")
    if (G < 0).any():
        raise ValueError(
            "ground_truth must be non-negative (an anomaly map), got minimum "
            f"{G.min()!r}."
        )
    cos = _cosine_rows(np.maximum(R, 0.0), G)
    return float(cos[0]) if one else cos


def _cosine_rows(A, B):
    """Row-wise cosine of non-negative A, B; 0 where a row is all zero."""
    a_max = A.max(axis=1, keepdims=True)
    b_max = B.max(axis=1, keepdims=True)
    ok = (a_max[:, 0] > 0) & (b_max[:, 0] > 0)
    out = np.zeros(A.shape[0])
    if ok.any():
        A = A[ok] / a_max[ok]
        B = B[ok] / b_max[ok]
        dot = np.einsum("ij,ij->i", A, B)
        norm = np.sqrt(np.einsum("ij,ij->i", A, A) * np.einsum("ij,ij->i", B, B))
        out[ok] = np.minimum(dot / norm, 1.0)
    return out


def explanation_accuracy(
    relevance,
    ground_truth,
    y_true=None,
    outlier_scores=None,
    *,
    threshold=None,
    top_fraction=None,
):
    """Mean explanation cosine over the detected outliers, [P] Sec. 3.

    Parameters
    ----------
    relevance : array-like of shape (n_samples, n_features)
        Relevance of every sample (inliers may be included), or images
        (n_samples, height, width[, channels]).
    ground_truth : array-like, same shape as ``relevance``
        Non-negative ground-truth anomaly maps (rows of inliers are ignored).
    y_true : array-like of shape (n_samples,), default=None
        Labels +1 (inlier) / -1 (outlier). ``None``: every row is an outlier
        (pass only the anomalous images).
    outlier_scores : array-like of shape (n_samples,), default=None
        Outlierness ``o(x)`` of every row; needed by ``threshold`` and
        ``top_fraction`` only.
    threshold : float, default=None
        If given, keep only the outliers with ``outlier_scores > threshold``.
        ``threshold = -detector.offset_`` keeps exactly the outliers the
        detector's ``predict`` flags as -1.
    top_fraction : float in (0, 1], default=None
        If given, keep only the outliers among the ``ceil(top_fraction *
        n_samples)`` rows of highest outlierness, all rows ranked together
        (what ``predict`` would flag with ``contamination=top_fraction``);
        ties broken by row order. Exclusive with ``threshold``.

    Returns
    -------
    accuracy : float
        Mean of :func:`explanation_cosine` over the kept outliers, in [0, 1].

    Raises
    ------
    ValueError
        If no outlier is kept (the message says which selection emptied
        it), or the inputs are inconsistent.

    Notes
    -----
    By default "detected" means *every true outlier*, as in [P] Sec. 3.
    [T] Sec. 3.2-3.3 averages only over outlier classes whose ROC-AUC
    exceeds 0.6; that selection is per data subset and is left to the
    caller (call this function per subset).

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import explanation_accuracy
    >>> R = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    >>> G = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    >>> explanation_accuracy(R, G, y_true=[1, -1, -1])
    0.35355339059327373
    >>> explanation_accuracy(R, G, [1, -1, -1], [0.1, 2.0, 0.5], threshold=1.0)
    0.7071067811865475
    """
    _check_same_shape(relevance, "relevance", ground_truth, "ground_truth")
    R = _check_maps(relevance, "relevance")
    G = _check_maps(ground_truth, "ground_truth")
    n = R.shape[0]
    keep = np.ones(n, dtype=bool)
    what = "the rows"
    if y_true is not None:
        y_true = _check_labels(y_true)
        check_consistent_length(R, y_true)
        keep &= y_true == -1
        what = "the true outliers (y_true == -1)"
    if threshold is not None and top_fraction is not None:
        raise ValueError(
            "Give at most one of threshold and top_fraction, got "
            f"threshold={threshold!r} and top_fraction={top_fraction!r}."
        )
    if threshold is not None or top_fraction is not None:
        if outlier_scores is None:
            raise ValueError(
                "threshold and top_fraction need outlier_scores, got "
                "outlier_scores=None."
            )
        scores = _check_scores(outlier_scores)
        check_consistent_length(R, scores)
        if threshold is not None:
            keep &= scores > threshold
            what += f" with outlier_scores > threshold={threshold!r}"
        else:
            if not (
                isinstance(top_fraction, numbers.Real) and 0 < top_fraction <= 1
            ):
                raise ValueError(
                    f"top_fraction must be a float in (0, 1], got {top_fraction!r}."
                )
            n_top = int(np.ceil(top_fraction * n))
            top = np.zeros(n, dtype=bool)
            top[np.argsort(-scores, kind="stable")[:n_top]] = True
            keep &= top
            what += f" within the top_fraction={top_fraction!r} of outlierness"
    if not keep.any():
        raise ValueError(
            f"No outlier to average over: none of {what}; the explanation "
            "accuracy is undefined."
        )
    return float(explanation_cosine(R[keep], G[keep]).mean())


def corruption_ground_truth(X_corrupted, X_clean):
    """Ground-truth map of a corruption, ``(x' - x) ** 2``, [T] eq. 3.3.

    Parameters
    ----------
    X_corrupted : array-like of shape (n_samples, n_features)
        Corrupted samples ``x'`` (e.g. MNIST-C), or images.
    X_clean : array-like, same shape as ``X_corrupted``
        The clean samples ``x`` they were made from.

    Returns
    -------
    ground_truth : ndarray, same shape as the inputs
        Element-wise squared difference; zero where the corruption left the
        input unchanged.

    Examples
    --------
    >>> from skexplain_ad.metrics import corruption_ground_truth
    >>> corruption_ground_truth([[0.0, 1.0, 0.5]], [[0.0, 0.0, 1.0]])
    array([[0.  , 1.  , 0.25]])
    """
    _check_same_shape(X_corrupted, "X_corrupted", X_clean, "X_clean")
    Xc = check_array(
        X_corrupted, ensure_2d=False, allow_nd=True, input_name="X_corrupted"
    )
    X0 = check_array(X_clean, ensure_2d=False, allow_nd=True, input_name="X_clean")
    diff = np.asarray(Xc, dtype=np.float64) - np.asarray(X0, dtype=np.float64)
    return diff * diff


def clever_hans_difference(roc, cosine):
    """Clever Hans score as a difference, ROC - cosine, [P] Sec. 3.

    Parameters
    ----------
    roc : float or array-like
        Detection accuracy, :func:`detection_auc`, in [0, 1].
    cosine : float or array-like
        Explanation accuracy, :func:`explanation_accuracy`, in [0, 1].

    Returns
    -------
    score : float or ndarray (broadcast shape)
        In [-1, 1]; the closer to 1, the more the detector fooled the
        validation by using the wrong features. Not comparable with
        :func:`clever_hans_ratio`.

    Examples
    --------
    >>> from skexplain_ad.metrics import clever_hans_difference
    >>> clever_hans_difference(0.9, 0.25)
    0.65
    """
    roc = _check_unit_interval(roc, "roc")
    cosine = _check_unit_interval(cosine, "cosine")
    return _as_output(roc - cosine)


def clever_hans_ratio(roc, cosine):
    """Clever Hans score as a ratio, ROC / cosine, [T] eq. 3.5.

    Parameters
    ----------
    roc : float or array-like
        Detection accuracy, :func:`detection_auc`, in [0, 1].
    cosine : float or array-like
        Explanation accuracy, :func:`explanation_accuracy`, in [0, 1].

    Returns
    -------
    score : float or ndarray (broadcast shape)
        In [0, inf]; ``>= CLEVER_HANS_RATIO_THRESHOLD`` (3) marks a model
        with "bad understanding" of the task ([T] after eq. 3.5). Where
        ``cosine == 0`` the ratio is ``inf`` (no warning): an explanation
        sharing nothing with the ground truth is as bad as it gets. Not
        comparable with :func:`clever_hans_difference`.

    Examples
    --------
    >>> from skexplain_ad.metrics import (
    ...     CLEVER_HANS_RATIO_THRESHOLD, clever_hans_ratio)
    >>> clever_hans_ratio(0.9, 0.25)
    3.6
    >>> clever_hans_ratio(0.9, 0.25) >= CLEVER_HANS_RATIO_THRESHOLD
    True
    >>> clever_hans_ratio(0.9, 0.0)
    inf
    """
    roc = _check_unit_interval(roc, "roc")
    cosine = _check_unit_interval(cosine, "cosine")
    roc, cosine = np.broadcast_arrays(roc, cosine)
    out = np.full(roc.shape, np.inf)
    np.divide(roc, cosine, out=out, where=cosine > 0)
    return _as_output(out)
