"""Baseline explainers the audit measures LRP against.

Each returns a relevance map of the shape of ``X`` (higher = more relevant
to the anomaly), to be scored by the same metrics as the detector's own LRP
explanation:

- ``random``: independent uniform noise, the floor any explanation must
  beat (its pixel-flipping order is a random order).
- ``distance-to-mean``: :math:`(x_j - \\bar x_j)^2` with :math:`\\bar x` the
  mean of the training inliers. [P] App. B: a KDE explanation reduces to
  this when the kernel is wide; it ignores the model entirely.
- ``occlusion``: :math:`o(x) - o(x^{(j)})`, with :math:`x^{(j)}` the
  sample whose feature :math:`j` is set to the training mean: how much the
  outlierness drops when one feature is made typical. One model evaluation
  per feature that the occlusion changes, all of a block of samples in one
  call of the detector's own scoring.
- ``kernel-shap``: KernelSHAP (the ``shap`` library's
  :class:`shap.KernelExplainer`) on the outlierness, a model-agnostic
  Shapley estimate; the background is 10 k-means centres of the training
  inliers. Its cost grows with ``nsamples`` x the background size model
  evaluations per sample, so the audit runs it on a few samples.
"""

import numpy as np
from sklearn.utils import check_random_state

from ..base import chunk_n_rows

__all__ = ["random_relevance", "distance_to_mean", "occlusion", "kernel_shap",
           "shap_background"]

def random_relevance(X, random_state=None):
    """Uniform noise in [0, 1) of the shape of ``X``: the uninformed explanation.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    random_state : int, RandomState instance or None

    Returns
    -------
    R : ndarray of shape (n_samples, n_features), float64

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._baselines import random_relevance
    >>> R = random_relevance(np.zeros((2, 3)), random_state=0)
    >>> R.shape, bool(((R >= 0) & (R < 1)).all())
    ((2, 3), True)
    """
    return check_random_state(random_state).random_sample(np.shape(X))


def distance_to_mean(X, mean):
    """``(x_j - mean_j)^2`` per feature ([P] App. B).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mean : ndarray of shape (n_features,)
        Mean of the training inliers.

    Returns
    -------
    R : ndarray of shape (n_samples, n_features), float64

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._baselines import distance_to_mean
    >>> distance_to_mean(np.array([[1.0, 4.0]]), np.array([0.0, 2.0]))
    array([[1., 4.]])
    """
    X = np.asarray(X, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (X.shape[1],):
        raise ValueError(f"mean must have shape ({X.shape[1]},), got {mean.shape}.")
    return (X - mean) ** 2


def occlusion(score, X, baseline, *, working_memory=None):
    """Occlusion relevance ``o(x) - o(x with feature j := baseline_j)``.

    Parameters
    ----------
    score : callable
        ``score(Z) -> (n_rows,)`` outlierness of the rows of ``Z`` (the
        detector's ``outlier_score``); called on batches of occluded copies.
    X : ndarray of shape (n_samples, n_features)
    baseline : ndarray of shape (n_features,)
        The value each feature is set to (the training mean).
    working_memory : float, optional
        MiB per batch of occluded rows (sklearn's ``working_memory`` when
        None).

    Returns
    -------
    R : ndarray of shape (n_samples, n_features), float64
        Positive where making the feature typical lowers the outlierness.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._baselines import occlusion
    >>> def o(Z):                       # outlierness = squared norm
    ...     return (np.asarray(Z) ** 2).sum(axis=1)
    >>> occlusion(o, np.array([[1.0, 3.0]]), np.zeros(2))
    array([[1., 9.]])
    """
    X = np.asarray(X)
    n, d = X.shape
    base = np.asarray(baseline, dtype=X.dtype)
    if base.shape != (d,):
        raise ValueError(f"baseline must have shape ({d},), got {base.shape}.")
    o = np.asarray(score(X), dtype=np.float64)
    R = np.zeros((n, d), dtype=np.float64)
    # one block = whole samples, each repeated once per feature that the
    # occlusion changes (a feature already at its baseline value has
    # relevance 0 exactly and costs no model evaluation: on MNIST-C outliers
    # about 120 of 784 pixels, those black in every training digit); one
    # score call per block
    per_sample = chunk_n_rows(d * d * X.itemsize * 2, n, working_memory)
    for s in range(0, n, per_sample):
        xs = X[s:s + per_sample]
        rows, cols = np.nonzero(xs != base)
        if not rows.size:
            continue
        Z = xs[rows]
        Z[np.arange(rows.size), cols] = base[cols]
        o_occ = np.asarray(score(Z), dtype=np.float64)
        R[s + rows, cols] = o[s + rows] - o_occ
    return R


def shap_background(X, n_background=10, random_state=None):
    """The KernelSHAP background: ``n_background`` k-means centres of ``X``.

    scikit-learn's :class:`~sklearn.cluster.KMeans` (one initialisation),
    centres equally weighted; computed once per audit and shared by every
    detector.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training inliers.
    n_background : int, default=10
    random_state : int or None, default=None

    Returns
    -------
    centres : ndarray of shape (min(n_background, n_distinct_rows), n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._baselines import shap_background
    >>> shap_background(np.random.RandomState(0).rand(50, 4), 3, random_state=0).shape
    (3, 4)
    """
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float64)
    k = int(min(n_background, len(np.unique(X, axis=0))))
    if k <= 1:
        return X[:1].copy()
    return KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(X).cluster_centers_


def kernel_shap(score, X, background, *, nsamples=1000, random_state=None):
    """KernelSHAP values of the outlierness (the ``shap`` library).

    Parameters
    ----------
    score : callable
        ``score(Z) -> (n_rows,)`` outlierness.
    X : ndarray of shape (n_samples, n_features)
        Samples to explain.
    background : ndarray of shape (n_background, n_features)
        The reference rows whose mean output is the base value
        (:func:`shap_background`).
    nsamples : int, default=1000
        Coalitions evaluated per sample (``KernelExplainer.shap_values``);
        each costs ``n_background`` model evaluations. With more coalitions
        than features the Shapley values are the plain weighted
        least-squares solution (``l1_reg=False``); with fewer, shap's
        default selection of 10 features.
    random_state : int or None, default=None
        Seeds shap's coalition sampling (which draws from numpy's global
        generator; its state is restored afterwards).

    Returns
    -------
    R : ndarray of shape (n_samples, n_features), float64

    Raises
    ------
    ImportError
        When shap is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._baselines import kernel_shap
    >>> def o(Z):
    ...     return np.asarray(Z)[:, 0] * 2.0   # only feature 0 matters
    >>> R = kernel_shap(o, np.array([[1.0, 1.0, 1.0]]), np.zeros((1, 3)),
    ...                 nsamples=50, random_state=0)
    >>> np.round(R, 6)
    array([[2., 0., 0.]])
    """
    try:
        import shap
    except ImportError as exc:
        raise ImportError(f"the kernel-shap explainer needs shap: pip install 'skexplain_ad[shap]' ({exc})") from exc
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]

    def f(Z):
        return np.asarray(score(np.asarray(Z, dtype=np.float64)), dtype=np.float64)

    explainer = shap.KernelExplainer(f, np.asarray(background, dtype=np.float64))
    l1_reg = False if nsamples > d else "num_features(10)"
    state = np.random.get_state()
    try:
        if random_state is not None:
            np.random.seed(int(random_state) % 2**32)
        values = explainer.shap_values(X, nsamples=int(nsamples), l1_reg=l1_reg, silent=True)
    finally:
        np.random.set_state(state)
    return np.asarray(values, dtype=np.float64).reshape(X.shape)
