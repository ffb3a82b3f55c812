"""Heatmap metrics: normalisation for display ([T] eq. 3.2) and the
pixel-level AUROC of MVTec AD."""

import numpy as np
from sklearn.metrics import roc_auc_score

from ._checks import _check_maps, _check_same_shape


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
