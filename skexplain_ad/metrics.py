"""Metrics of the Clever Hans audit: is a detector right for the right reasons?

A detector is audited on two axes and the two are compared:

* *detection accuracy*: the ROC-AUC of the outlierness ``o(x)`` against
  inlier / outlier labels (:func:`detection_auc`);
* *explanation accuracy*: the cosine similarity between the rectified
  relevance ``max(R, 0)`` and a ground-truth anomaly map
  (:func:`explanation_cosine`, :func:`explanation_accuracy`), the map being a
  pixel annotation (MVTec AD) or the corruption itself, [T] eq. 3.3
  (:func:`corruption_ground_truth`);
* the *Clever Hans score* comparing the two, in both published forms:
  the difference ROC - cosine of [P] Sec. 3 (:func:`clever_hans_difference`)
  and the ratio ROC / cosine of [T] eq. 3.5 (:func:`clever_hans_ratio`).

Two further measures of an explanation need no ground truth or a pixel one:
pixel flipping, [T] Sec. 1.4, eq. 1.15-1.16 (:func:`pixel_flipping_curve`,
:func:`pixel_flipping_auc`, :func:`pixel_flipping_aucs`), and the pixel-level
AUROC of MVTec AD (:func:`pixel_auroc`). :func:`normalize_relevance` maps
heatmaps to [0, 1] for display, [T] eq. 3.2.

Conventions follow scikit-learn: labels are +1 (inlier) and -1 (outlier);
``outlier_scores`` are the outlierness ``o(x) = -score_samples(x)``, higher
= more anomalous. Heatmaps may be given flattened, (n_samples, n_features),
or as images, (n_samples, height, width[, channels]).

References
----------
[P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Mueller, "The Clever Hans
    Effect in Anomaly Detection", 2020.
[T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
    Outlier-Ensembles", master's thesis, TU Berlin, 2021.
"""

import numbers

import numpy as np
from scipy.integrate import trapezoid
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ._softmin import softmin_subset_score

__all__ = [
    "CLEVER_HANS_RATIO_THRESHOLD",
    "clever_hans_difference",
    "clever_hans_ratio",
    "corruption_ground_truth",
    "detection_auc",
    "explanation_accuracy",
    "explanation_cosine",
    "normalize_relevance",
    "pixel_auroc",
    "pixel_flipping_auc",
    "pixel_flipping_aucs",
    "pixel_flipping_curve",
]

#: Ratio ROC / cosine at or above which [T] (Sec. 3.3, after eq. 3.5) calls a
#: model's understanding of the task "bad"; below it, "good".
CLEVER_HANS_RATIO_THRESHOLD = 3.0

# Number of float64 elements a pixel-flipping batch may hold in one temporary
# (64 MiB); samples are processed in batches that fit.
_PF_BATCH_ELEMENTS = 2**23


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# relevance normalisation and pixel AUROC
# --------------------------------------------------------------------------


def normalize_relevance(relevance, *, per_sample=False):
    """Map relevance to [0, 1] for heatmaps shown side by side, [T] eq. 3.2.

    Parameters
    ----------
    relevance : array-like of shape (n_samples, n_features) or (n_features,)
        Relevance of one detector on ``n_samples`` samples, or images
        (n_samples, height, width[, channels]).
    per_sample : bool, default=False
        ``False`` is [T] eq. 3.2: one range for all samples, ``(r_i - min_k
        v_min,k) / (max_k v_max,k - min_k v_min,k)``, so that an inlier's
        heatmap stays fainter than an outlier's. ``True``: each sample on
        its own range ``(r_i - v_min,i) / (v_max,i - v_min,i)`` (shape of
        each heatmap only).

    Returns
    -------
    normalized : ndarray, same shape as ``relevance``
        Values in [0, 1]. A constant range (all values equal) maps to zeros,
        with no NaN and no warning.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import normalize_relevance
    >>> R = np.array([[0.0, 1.0, 2.0], [0.0, 4.0, 4.0], [3.0, 3.0, 3.0]])
    >>> normalize_relevance(R)
    array([[0.  , 0.25, 0.5 ],
           [0.  , 1.  , 1.  ],
           [0.75, 0.75, 0.75]])
    >>> normalize_relevance(R, per_sample=True)
    array([[0. , 0.5, 1. ],
           [0. , 1. , 1. ],
           [0. , 0. , 0. ]])
    """
    shape = np.shape(relevance)
    R = _check_maps(relevance, "relevance")
    if per_sample:
        lo = R.min(axis=1, keepdims=True)
        hi = R.max(axis=1, keepdims=True)
    else:
        lo = R.min(keepdims=True)
        hi = R.max(keepdims=True)
    span = np.broadcast_to(hi - lo, R.shape)
    out = np.zeros_like(R)
    np.divide(R - lo, span, out=out, where=span > 0)
    return out.reshape(shape)


def pixel_auroc(relevance, masks, *, per_image=False):
    """Pixel-level AUROC of relevance against ground-truth masks (MVTec AD).

    Parameters
    ----------
    relevance : array-like of shape (n_images, n_pixels)
        Relevance (anomaly map) of the anomalous images, or images
        (n_images, height, width[, channels]).
    masks : array-like, same shape as ``relevance``
        Ground-truth masks; a pixel is anomalous where ``mask > 0`` (masks
        stored as 0/255 or soft annotations are binarised this way).
    per_image : bool, default=False
        ``False`` (the MVTec AD convention): pool all pixels of all given
        images into one ROC. ``True``: one AUROC per image.

    Returns
    -------
    auroc : float, or ndarray of shape (n_images,) if ``per_image``
        ROC-AUC with anomalous pixels as the positive class. The relevance is
        used as it is (not rectified): the AUROC depends only on its ranks.

    Raises
    ------
    ValueError
        If the shapes differ, the masks mark no anomalous pixel or only
        anomalous pixels (with ``per_image``: any one image does; the message
        names it), or a value is NaN / infinite.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import pixel_auroc
    >>> R = np.array([[0.9, 0.1, 0.4, 0.3], [0.2, 0.8, 0.05, 0.3]])
    >>> M = np.array([[1, 0, 0, 0], [0, 0, 1, 0]])
    >>> pixel_auroc(R, M)
    0.5
    >>> pixel_auroc(R, M, per_image=True)
    array([1., 0.])
    """
    _check_same_shape(relevance, "relevance", masks, "masks")
    R = _check_maps(relevance, "relevance")
    M = _check_maps(masks, "masks") > 0
    if not per_image:
        n_pos = int(M.sum())
        if n_pos == 0 or n_pos == M.size:
            what = "no anomalous pixel" if n_pos == 0 else "only anomalous pixels"
            raise ValueError(
                f"masks mark {what} (mask > 0) in all {M.shape[0]} images; the "
                "pixel AUROC needs both anomalous and normal pixels."
            )
        return float(roc_auc_score(M.ravel(), R.ravel()))
    n_pos = M.sum(axis=1)
    bad = np.flatnonzero((n_pos == 0) | (n_pos == M.shape[1]))
    if bad.size:
        raise ValueError(
            f"masks of images {bad[:10].tolist()} mark no anomalous pixel or "
            "only anomalous pixels (mask > 0); the per-image AUROC needs both."
        )
    return np.array([roc_auc_score(m, r) for m, r in zip(M, R)])


# --------------------------------------------------------------------------
# pixel flipping, [T] Sec. 1.4
# --------------------------------------------------------------------------


def _softmin_params(detector):
    names = ("templates_", "log_weights_", "gamma_")
    params = [getattr(detector, a, None) for a in names]
    if any(p is None for p in params):
        return None
    U, lw, g = params
    U = np.asarray(U, dtype=np.float64)
    lw = np.asarray(lw, dtype=np.float64).ravel()
    return U, lw, float(g)


def _check_fitted(detector):
    # sklearn estimators get sklearn's NotFittedError; other objects are
    # taken as they are (their own methods complain if unfitted)
    if isinstance(detector, BaseEstimator):
        check_is_fitted(detector)


def _removal_counts(n_features, n_steps):
    if n_steps is None:
        n_steps = n_features
    if (
        not isinstance(n_steps, numbers.Integral)
        or isinstance(n_steps, bool)
        or not 1 <= n_steps <= n_features
    ):
        raise ValueError(
            f"n_steps must be an int in [1, n_features={n_features}] or None, "
            f"got {n_steps!r}."
        )
    # strictly increasing integers from 0 to d, as even as possible
    return (np.arange(n_steps + 1) * n_features) // n_steps


def _removal_orders(X, relevance, order, rng):
    n, d = X.shape
    if order == "relevance":
        # most relevant first; ties keep the feature order
        return np.argsort(-relevance, axis=1, kind="stable")
    return np.argsort(rng.random_sample((n, d)), axis=1)


def _keep_masks(orders, counts):
    """Boolean (n, n_steps + 1, d): feature j kept at step k."""
    n, d = orders.shape
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(d)[None, :], axis=1)
    return rank[:, None, :] >= counts[None, :, None]


def _pf_batched(X, orders, counts, score):
    """Call ``score(X_rep, keep)`` on batches; return (n, n_steps + 1).

    Each sample's removal steps are consecutive rows of one call, so a
    model can update them incrementally (``outlier_score_subset``).
    """
    n, d = X.shape
    s1 = counts.size
    out = np.empty((n, s1))
    batch = max(1, _PF_BATCH_ELEMENTS // (s1 * d))
    for start in range(0, n, batch):
        Xb = X[start : start + batch]
        keep = _keep_masks(orders[start : start + batch], counts)
        b = Xb.shape[0]
        X_rep = np.broadcast_to(Xb[:, None, :], (b, s1, d)).reshape(b * s1, d)
        vals = np.asarray(score(X_rep, keep.reshape(b * s1, d)), dtype=np.float64)
        out[start : start + batch] = vals.reshape(b, s1)
    return out


def pixel_flipping_curve(
    detector,
    X,
    relevance=None,
    *,
    method="remove",
    n_steps=None,
    baseline=0.0,
    order="relevance",
    random_state=None,
):
    """Pixel-flipping curve ``o_k(x) / o(x)``, [T] Sec. 1.4, eq. 1.15-1.16.

    The features of each sample are removed from the most to the least
    relevant, and the outlierness of what is left is recorded. A good
    explanation makes the curve fall fast.

    Parameters
    ----------
    detector : fitted detector
        ``method="remove"`` needs a soft-min detector (fitted
        ``templates_``, ``log_weights_``, ``gamma_``) or one implementing
        ``_outlier_score_subset(X, keep)`` (used when present);
        ``method="mask"`` needs ``outlier_score`` (or ``score_samples``).
    X : array-like of shape (n_samples, n_features)
        Samples to explain, usually outliers.
    relevance : array-like of shape (n_samples, n_features), default=None
        Relevance that orders the features; ``None`` calls
        ``detector.explain(X)``. Ignored when ``order="random"``.
    method : {"remove", "mask"}, default="remove"
        ``"remove"``: dimension reduction, [T] eq. 1.16, exact for soft-min
        models, ``o_k(x) = -log sum_i exp(lw_i - gamma * sum_{j kept}
        (x_j - u_ij)**2)``; ``o_0 = o`` and, as ``log_weights_`` have
        logsumexp 0, ``o_d = 0``.
        ``"mask"``: removed features are replaced by ``baseline`` and
        ``detector.outlier_score`` is called; works for any detector, but the
        curve need neither fall monotonically nor end at 0.
    n_steps : int, default=None
        Number of removal steps; step ``k`` has removed the first
        ``(k * n_features) // n_steps`` features. ``None``: one feature per
        step (``n_steps = n_features``), as in [T] eq. 1.16.
    baseline : float or array-like of shape (n_features,), default=0.0
        Replacement value for ``method="mask"`` (e.g. the training mean).
    order : {"relevance", "random"}, default="relevance"
        ``"relevance"``: most relevant first (ties by feature index).
        ``"random"``: an independent random permutation per sample, the
        reference curve an explanation should beat.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``"random"`` order.

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
        Fraction of features removed at each step, from 0 to 1.
    curve : ndarray of shape (n_samples, n_steps + 1)
        ``o_k(x) / o(x)``; starts at 1. Where ``o(x) == 0`` (an exact inlier:
        nothing to remove) the ratio 0/0 is defined as 0 for every step, so
        the curve holds no NaN; such samples have pixel-flipping AUC 0 and
        are best left out of an average. The curve is meant for ``o(x) > 0``
        (outliers); with a negative ``o(x)`` (e.g. standardised bagging) it
        is computed all the same but reads upside down.

    Raises
    ------
    TypeError
        With ``method="remove"``, for a detector that is neither soft-min
        nor implements ``_outlier_score_subset``.
    ValueError
        For bad shapes, NaN / infinite values, or unknown options.

    Notes
    -----
    The soft-min path never loops over templates: per batch of samples it
    forms the squared differences ``(x_j - u_ij)**2`` in removal order,
    sums them per step and takes suffix sums over the steps, O(m d) per
    sample whatever ``n_steps`` (a product with the (n_steps + 1, d) keep
    matrix costs O(n_steps m d), and measured slower even at ``n_steps=50``).
    Suffix sums of non-negative terms make the remaining distance exactly 0
    after the last step and non-increasing in floating point, where the
    expanded form ``||x||^2 - 2 x.u + ||u||^2`` cancels. The logsumexp is
    stabilised by its maximum. All arithmetic is float64.

    A detector with ``_outlier_score_subset`` is called as
    ``_outlier_score_subset(X_rep, keep)`` with ``X_rep`` and the boolean
    ``keep`` both of shape (n_rows, n_features): each sample repeated once
    per step, beside its keep mask; it returns the n_rows outlierness
    values.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import pixel_flipping_curve
    >>> class OneTemplate:  # soft-min detector with one template at 0
    ...     templates_ = np.zeros((1, 3))
    ...     log_weights_ = np.zeros(1)
    ...     gamma_ = 1.0
    >>> X = np.array([[3.0, 1.0, 2.0]])
    >>> fractions, curve = pixel_flipping_curve(OneTemplate(), X, X**2)
    >>> fractions
    array([0.        , 0.33333333, 0.66666667, 1.        ])
    >>> curve.round(4)
    array([[1.    , 0.3571, 0.0714, 0.    ]])
    """
    if method not in ("remove", "mask"):
        raise ValueError(f'method must be "remove" or "mask", got {method!r}.')
    if order not in ("relevance", "random"):
        raise ValueError(f'order must be "relevance" or "random", got {order!r}.')
    X = check_array(X, dtype=np.float64, input_name="X")
    n, d = X.shape
    counts = _removal_counts(d, n_steps)

    score = None
    if method == "remove":
        if hasattr(detector, "outlier_score_subset"):
            _check_fitted(detector)
            score = detector.outlier_score_subset
        elif hasattr(detector, "_outlier_score_subset"):
            _check_fitted(detector)
            score = detector._outlier_score_subset
        else:
            _check_fitted(detector)
            params = _softmin_params(detector)
            if params is None:
                raise TypeError(
                    f'method="remove" needs a soft-min detector (fitted '
                    f"templates_, log_weights_, gamma_) or one implementing "
                    f"_outlier_score_subset(X, keep); {type(detector).__name__} "
                    'is neither. Use method="mask" for any detector.'
                )
            U, lw, g = params
            if U.ndim != 2 or U.shape[1] != d or lw.shape != (U.shape[0],):
                raise ValueError(
                    f"X has {d} features but {type(detector).__name__} has "
                    f"templates_ of shape {U.shape} and log_weights_ of shape "
                    f"{lw.shape}; expected ({U.shape[0]}, {d}) and "
                    f"({U.shape[0]},)."
                )
    else:
        _check_fitted(detector)
        base = np.asarray(baseline, dtype=np.float64)
        if base.ndim not in (0, 1) or (base.ndim == 1 and base.shape != (d,)):
            raise ValueError(
                f"baseline must be a float or an array of shape ({d},), got "
                f"shape {base.shape}."
            )
        if not np.isfinite(base).all():
            raise ValueError(f"baseline must be finite, got {baseline!r}.")
        if hasattr(detector, "outlier_score"):
            o_fn = detector.outlier_score
        else:
            def o_fn(Z):
                return -np.asarray(detector.score_samples(Z))

        def score(Z, keep):
            return o_fn(np.where(keep, Z, base))

    rng = None
    if order == "relevance":
        if relevance is None:
            if not hasattr(detector, "explain"):
                raise TypeError(
                    f"relevance=None asks {type(detector).__name__}.explain(X) "
                    "for the relevance, but it has no explain method; pass "
                    "relevance."
                )
            relevance = detector.explain(X)
        _check_same_shape(relevance, "relevance", X, "X")
        relevance = check_array(relevance, dtype=np.float64, input_name="relevance")
    else:
        rng = check_random_state(random_state)
    orders = _removal_orders(X, relevance, order, rng)

    if score is None:
        def score(Z, keep):
            return softmin_subset_score(Z, keep, U, lw, g)
    o_k = _pf_batched(X, orders, counts, score)
    o_0 = o_k[:, :1]
    curve = np.zeros_like(o_k)
    np.divide(o_k, o_0, out=curve, where=o_0 != 0)
    return counts / d, curve


def pixel_flipping_auc(curve, fractions):
    """Area under pixel-flipping curves, trapezoid over the fraction axis.

    Parameters
    ----------
    curve : array-like of shape (n_samples, n_steps + 1) or (n_steps + 1,)
        Curves from :func:`pixel_flipping_curve`.
    fractions : array-like of shape (n_steps + 1,)
        Removed fractions, non-decreasing (the first output of
        :func:`pixel_flipping_curve`).

    Returns
    -------
    auc : ndarray of shape (n_samples,), or float for a 1-D curve
        In [0, 1] for a curve falling monotonically from 1 to 0 on fractions
        0..1; lower = a better explanation ([T] Sec. 1.4: "the faster the PF
        curve decreases, the better").

    Examples
    --------
    >>> from skexplain_ad.metrics import pixel_flipping_auc
    >>> pixel_flipping_auc([1.0, 0.5, 0.0], [0.0, 0.5, 1.0])
    0.5
    """
    one = np.ndim(curve) == 1
    curve = _check_maps(curve, "curve")
    fractions = _check_scores(fractions, "fractions")
    if fractions.shape[0] != curve.shape[1]:
        raise ValueError(
            f"curve has {curve.shape[1]} steps per sample but fractions has "
            f"{fractions.shape[0]}; they must match."
        )
    if (np.diff(fractions) < 0).any():
        raise ValueError("fractions must be non-decreasing.")
    auc = trapezoid(curve, fractions, axis=1)
    return float(auc[0]) if one else auc


def pixel_flipping_aucs(
    detector,
    X,
    relevance=None,
    *,
    method="remove",
    n_steps=None,
    baseline=0.0,
    n_repeats=1,
    random_state=None,
):
    """Pixel-flipping AUC of the relevance order and of random orders.

    Runs :func:`pixel_flipping_curve` once with ``order="relevance"`` and
    ``n_repeats`` times with ``order="random"``, and integrates each with
    :func:`pixel_flipping_auc`. An explanation is informative where its AUC
    lies below the random one.

    Parameters
    ----------
    detector, X, relevance, method, n_steps, baseline
        As in :func:`pixel_flipping_curve`.
    n_repeats : int, default=1
        Number of random permutations averaged for the reference.
    random_state : int, RandomState instance or None, default=None
        Seeds the random permutations.

    Returns
    -------
    auc_relevance : ndarray of shape (n_samples,)
        AUC of each sample's relevance-ordered curve.
    auc_random : ndarray of shape (n_samples,)
        Mean AUC of each sample's random-ordered curves.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import pixel_flipping_aucs
    >>> class OneTemplate:  # soft-min detector with one template at 0
    ...     templates_ = np.zeros((1, 4))
    ...     log_weights_ = np.zeros(1)
    ...     gamma_ = 1.0
    >>> X = np.array([[4.0, 0.5, 0.0, 1.0]])
    >>> auc_rel, auc_rand = pixel_flipping_aucs(
    ...     OneTemplate(), X, X**2, n_repeats=20, random_state=0)
    >>> bool(auc_rel[0] < auc_rand[0])
    True
    """
    if not (
        isinstance(n_repeats, numbers.Integral)
        and not isinstance(n_repeats, bool)
        and n_repeats >= 1
    ):
        raise ValueError(f"n_repeats must be an int >= 1, got {n_repeats!r}.")
    kw = dict(method=method, n_steps=n_steps, baseline=baseline)
    fractions, curve = pixel_flipping_curve(
        detector, X, relevance, order="relevance", **kw
    )
    auc_relevance = pixel_flipping_auc(curve, fractions)
    rng = check_random_state(random_state)
    auc_random = np.zeros_like(auc_relevance)
    for _ in range(n_repeats):
        fractions, curve = pixel_flipping_curve(
            detector, X, order="random", random_state=rng, **kw
        )
        auc_random += pixel_flipping_auc(curve, fractions)
    return auc_relevance, auc_random / n_repeats
