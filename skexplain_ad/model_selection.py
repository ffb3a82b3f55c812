r"""Choosing the stiffness ``gamma`` and validating detectors.

- :func:`knn_mass_gamma`: the thesis' heuristic ([T] eq. 3.1): the kernel
  mass carried by each point's k nearest neighbours is a fixed fraction of
  the total off-diagonal mass,

  .. math::

      \frac{\sum_i \sum_{s \le k} k(x_i, x_{is})}{\sum_{i \ne j} k(x_i, x_j)} = 0.9,
      \qquad k(x, y) = e^{-\gamma \|x - y\|^2},\ k = 0.1\,n.

- :func:`likelihood_gamma`: the paper's choice ([P] Sec. 3): maximise the
  held-out log-likelihood of the normalised Gaussian KDE on a validation
  split of the inliers.
- :func:`scale_gamma`: ``1 / (n_features * X.var())``, as
  :class:`sklearn.svm.OneClassSVM`.
- :class:`InlierKFold`: a CV splitter for labelled validation data (+1
  inlier / -1 outlier) that trains on inliers only and tests on all, so that
  ``GridSearchCV(..., cv=InlierKFold(), scoring="roc_auc")`` selects on
  detection ROC.
"""

from numbers import Integral

import numpy as np
from sklearn.model_selection import StratifiedKFold

from ._gamma import (
    GAMMA_HEURISTICS,
    kde_log_likelihood,
    knn_mass_gamma,
    likelihood_gamma,
    resolve_gamma,
    scale_gamma,
)

__all__ = [
    "scale_gamma",
    "knn_mass_gamma",
    "likelihood_gamma",
    "kde_log_likelihood",
    "resolve_gamma",
    "InlierKFold",
    "GAMMA_HEURISTICS",
]


class InlierKFold:
    """K-fold splitter that trains on inliers only and tests on everything.

    For labelled validation data with sklearn's outlier labels (+1 inlier,
    -1 outlier): folds are stratified on the label; each training set keeps
    only the inliers of its folds, each test set is the held-out fold with
    both classes. With ``scoring="roc_auc"`` on ``decision_function``
    (higher = more normal, positive class +1), ``GridSearchCV`` then selects
    by detection ROC ([T] ch. 3; [P] Sec. 3 selects the deep model's
    whitening the same way).

    ``GridSearchCV``'s ``refit`` trains the best model on every row it was
    given, outliers included: pass ``refit=False`` and fit
    ``Detector(**grid.best_params_)`` on the inliers.

    Parameters
    ----------
    n_splits : int, default=5
    shuffle : bool, default=False
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.model_selection import InlierKFold
    >>> y = np.array([1, 1, 1, 1, -1, -1, 1, 1, 1, 1])
    >>> for train, test in InlierKFold(n_splits=2).split(np.zeros((10, 1)), y):
    ...     assert (y[train] == 1).all() and (y[test] == -1).any()
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if not isinstance(n_splits, Integral) or n_splits < 2:
            raise ValueError(f"InlierKFold: n_splits must be an int >= 2; got {n_splits!r}.")
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def __repr__(self):
        return (
            f"InlierKFold(n_splits={self.n_splits}, shuffle={self.shuffle}, "
            f"random_state={self.random_state})"
        )

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits.

        Parameters
        ----------
        X, y, groups : Ignored

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate (train, test) indices; train holds inliers only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            +1 for inliers, -1 for outliers.
        groups : Ignored

        Yields
        ------
        train : ndarray
            Indices of the inliers of the training folds.
        test : ndarray
            Indices of the test fold.
        """
        if y is None:
            raise ValueError("InlierKFold.split needs y: +1 for inliers, -1 for outliers.")
        y = np.asarray(y)
        labels = set(np.unique(y).tolist())
        if not labels <= {1, -1} or 1 not in labels:
            raise ValueError(
                f"InlierKFold: y must hold +1 (inlier) and -1 (outlier) labels "
                f"with at least one inlier; got labels {sorted(labels)}."
            )
        skf = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state)
        strat = y if len(labels) > 1 else np.zeros_like(y)
        for train, test in skf.split(np.zeros(len(y)), strat):
            yield train[y[train] == 1], test
