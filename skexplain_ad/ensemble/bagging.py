r"""Bagging: average pooling over member detectors, explained layer by layer.

[T] eq. 2.1-2.3 (plain mean, "neural network 1"); [P] Sec. 5 (members'
outlierness standardised over the training data) and App. A.1 (relevance
through an average-pooling layer):

.. math::

    o(x) = \sum_k w_k\,o_k(x) \ge 0, \qquad R(x) = \sum_k w_k\,R_k(x),

with :math:`w_k = 1/(K\sigma_k)` (standardised) or :math:`w_k = 1/K`
(plain mean). The paper's standardised score
:math:`\sum_k w_k (o_k(x) - \mu_k) = o(x) - \sum_k w_k \mu_k` differs from
:math:`o` by a constant: the pooling layer is linear, its deep Taylor
decomposition at the root point :math:`o_k = 0` sends :math:`w_k o_k` to
member :math:`k`, which explains it with its own rule, and the
:math:`\mu_k` are biases that get no relevance. So :math:`o` is the score
the relevance conserves, the one ``outlier_score`` returns and pixel
flipping divides by; the standardised score, which is negative for
typical inliers, is ``standardized_score``. Rewriting the plain mean
of two soft-min models as one soft-min over pairs ([T] eq. 2.4-2.5,
"network 2") gives the same relevance ([T] App. A.4), so bagging a model
with itself changes nothing.
"""

import numpy as np
from sklearn.utils._available_if import available_if

from .._calibration import bagged_training_score, member_rows, training_outlier_score
from ._base import (
    BaseEnsembleDetector,
    member_outlier_score,
    member_outlier_score_subset,
    supports_subset,
)

__all__ = ["BaggedDetector"]


def _members_support_subset(self):
    members = getattr(self, "estimators_", None)
    if members is None:
        members = [est for _, est in self.estimators]
    return all(supports_subset(est) for est in members)


class BaggedDetector(BaseEnsembleDetector):
    r"""Average pooling over explainable detectors (bagging), explained by LRP.

    The outlierness is a weighted mean of the members' outlierness ([P]
    Sec. 5; [T] eq. 2.2), ``o = sum_k w_k o_k >= 0``, and the explanation
    the same weighted mean of the members' explanations ([P] App. A.1;
    [T] eq. 2.3), which sums to ``o`` where every member conserves its own.
    The paper's standardised score ``sum_k w_k (o_k - mu_k)`` is
    ``standardized_score``.

    Parameters
    ----------
    estimators : list of (str, detector) tuples
        The members, e.g. ``[("kde", KDEDetector()), ("svm", OCSVMDetector())]``;
        any detector with ``fit``, ``explain`` and ``outlier_score`` (or
        ``score_samples``). They are cloned; their parameters are reachable as
        ``name__param`` (``set_params``, ``GridSearchCV``). At least two.
    standardize : bool, default=True
        ``True`` ([P] Sec. 5): each member's outlierness is standardised by
        its mean ``mu_k`` and standard deviation ``sigma_k`` over the
        training data, each training point scored out of sample (without
        its own template, as for ``offset_``), and weighted by
        ``w_k = 1 / (K sigma_k)``: ``outlier_score`` is
        ``o = sum_k o_k / (K sigma_k)`` and ``standardized_score`` is
        ``o - bias_ = sum_k (o_k - mu_k) / (K sigma_k)`` ([P] Sec. 5), which
        is negative for typical inliers. ``False`` ([T] eq. 2.2): the
        plain mean ``o = sum_k o_k / K``.
    split : bool, default=False
        ``False`` fits every member on all of ``X`` (the paper's bag).
        ``True`` fits member ``k`` on the ``k``-th of ``K`` disjoint,
        shuffled parts of ``X`` whose sizes differ by at most one ([T] ch. 3).
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle of ``split=True``.

    Attributes
    ----------
    estimators_ : list of detectors
        The fitted members, in the order of ``estimators``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    weights_ : ndarray of shape (n_members,)
        ``w_k``: ``1 / (K sigma_k)``, or ``1 / K`` without standardising.
    means_ : ndarray of shape (n_members,)
        ``mu_k``, the members' mean training outlierness, each training
        point scored out of sample (zeros without standardising).
    scales_ : ndarray of shape (n_members,)
        ``sigma_k`` (ones without standardising). A member constant on the
        training data up to round-off (``sigma_k <= 1.5e-8 |mu_k|``) gets 1,
        as constant features in :class:`sklearn.preprocessing.StandardScaler`.
    bias_ : float
        ``sum_k w_k mu_k`` = ``weights_ @ means_``: the bias that
        ``standardized_score`` subtracts from ``outlier_score`` (0 without
        standardising). It gets no relevance ([P] App. A.1).
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``: the
        ``contamination`` percentile of the training scores, each training
        point scored as if held out -- every member's out-of-sample score
        (a template member without the point's own template; a member that
        did not see the point, ``split=True``, as usual; a member without
        templates in-sample), pooled with the fitted ``weights_``. See
        :mod:`skexplain_ad._calibration`. The bias does not move the
        threshold: ``predict`` says -1 where
        ``standardized_score(X) > -offset_ - bias_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    TimesEnsemble : two soft-min members fused into one soft-min model.

    Notes
    -----
    ``outlier_score`` is :math:`o(x) = \sum_k w_k o_k(x)`, the
    relevance-carrying score: :math:`\ge 0` wherever every member's
    outlierness is (all the package's detectors), and ``score_samples`` is
    :math:`-o(x)`. ``standardized_score`` is the paper's
    :math:`o(x) - \sum_k w_k \mu_k = \sum_k w_k (o_k(x) - \mu_k)` ([P]
    Sec. 5), centred on the held-out training scores, so negative for
    typical inliers. The two differ by the constant ``bias_``: they rank
    samples alike (the same ROC), and ``offset_`` is calibrated on
    :math:`o`, so ``decision_function`` and ``predict`` are those of
    either.

    ``explain`` returns :math:`R = \sum_k w_k R_k`. It is non-negative
    wherever the members' relevances are, and each row sums to
    :math:`\sum_k w_k \sum_j R_{k,j} \le \sum_k w_k o_k = o`, with equality
    where every member conserves its own outlierness (e.g.
    :class:`KDEDetector` members with the conservative rule). The biases
    :math:`w_k \mu_k` get no relevance ([P] App. A.1): a standardised score
    can be negative where no relevance is.

    Bagging a model with itself changes nothing: the members are equal, so
    :math:`o = (o_1 - \mu_1)/\sigma_1` (standardised) or :math:`o = o_1`,
    and :math:`R = R_1/\sigma_1` or :math:`R = R_1` ([T] Sec. 2.1.2,
    App. A.4, "C + C is C").

    ``outlier_score_subset(X, keep)`` (exact pixel flipping, [T]
    eq. 1.16) is :math:`\sum_k w_k\,o_{k,K}(x)` with each member's
    outlierness on the kept features only -- ``outlier_score`` with every
    feature kept, 0 with none, so pixel-flipping curves fall from 1 to 0
    and their AUC lies in [0, 1] for soft-min members: the member's own
    ``_outlier_score_subset``, or for soft-min members
    :math:`-\log\sum_i \exp(\ell_i - g \sum_{j \in K} (x_j - u_{ij})^2)`. It
    exists only when every member supports it.

    The rule of the explanation is each member's own (``rule`` of a
    :class:`KDEDetector` or :class:`OCSVMDetector` member): the pooling
    passes ``w_k R_k`` through.

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. Sec. 5, App. A.1.
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021. Eq. 2.1-2.5,
       App. A.4.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import BaggedDetector, KDEDetector, OCSVMDetector
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> bag = BaggedDetector(
    ...     [("kde", KDEDetector(gamma=0.5)), ("svm", OCSVMDetector(gamma=0.2, nu=0.2))]
    ... ).fit(X)
    >>> x_out = np.array([[0.0, 0.0, 6.0]])
    >>> bag.predict(x_out)
    array([-1])
    >>> int(bag.explain(x_out).argmax())          # the third feature
    2
    >>> o = bag.outlier_score(x_out)
    >>> bool(o[0] >= bag.explain(x_out).sum())    # sum R <= o (OC-SVM's rule)
    True
    >>> bool(np.allclose(bag.standardized_score(x_out), o - bag.bias_))
    True
    >>> bag.set_params(kde__gamma=1.0).named_estimators["kde"].gamma
    1.0
    """

    _parameter_constraints = {
        **BaseEnsembleDetector._parameter_constraints,
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        estimators,
        *,
        standardize=True,
        split=False,
        contamination=0.1,
        random_state=None,
    ):
        self.estimators = estimators
        self.standardize = standardize
        self.split = split
        self.contamination = contamination
        self.random_state = random_state

    def _fit_ensemble(self, X):
        n_members = len(self.estimators_)
        if self.standardize:
            # out of sample, as offset_ (skexplain_ad._calibration): in
            # sample, a template model scores its own training points on
            # their own templates (KDE: all at log m), and its mu_k, sigma_k
            # would say nothing about new points
            rows = member_rows(self, np.arange(X.shape[0]))
            O = np.column_stack(
                [np.asarray(training_outlier_score(est, X, r), dtype=np.float64)
                 for est, r in zip(self.estimators_, rows)]
            )
            self.means_ = O.mean(axis=0)
            sd = O.std(axis=0)
            # a member constant on the training data up to round-off is not
            # scaled: 1 / sigma would blow the round-off up. The round-off of
            # a soft-min score grows with gamma * ||x||^2, not only with |o|,
            # so the bound is generous: half the float64 digits.
            rel = np.sqrt(np.finfo(np.float64).eps)
            const = ~(sd > rel * np.maximum(np.abs(self.means_), 1e-300))
            self.scales_ = np.where(const, 1.0, sd)
        else:
            self.means_ = np.zeros(n_members)
            self.scales_ = np.ones(n_members)
        self.weights_ = 1.0 / (n_members * self.scales_)
        self.bias_ = float(self.weights_ @ self.means_)

    def _outlier_score(self, X):
        # the relevance-carrying score: no mu_k (biases, [P] App. A.1)
        o = np.zeros(X.shape[0])
        for w, est in zip(self.weights_, self.estimators_):
            o += w * member_outlier_score(est, X).astype(np.float64)
        return o.astype(X.dtype, copy=False)

    def standardized_score(self, X):
        """The paper's standardised outlierness ``sum_k w_k (o_k - mu_k)`` ([P] Sec. 5).

        ``outlier_score(X) - bias_``: centred on the training data (each
        point scored out of sample), so negative for typical inliers, and
        in units of the members' spread. It ranks samples as
        ``outlier_score`` does; the explanation conserves
        ``outlier_score``, not this score (the ``mu_k`` are biases).

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)

        Returns
        -------
        z : ndarray of shape (n_samples,)
            float32 for float32 input, float64 otherwise; lazy for dask
            input.

        Examples
        --------
        >>> import numpy as np
        >>> from skexplain_ad import BaggedDetector, KDEDetector
        >>> X = np.random.RandomState(0).normal(size=(50, 2))
        >>> bag = BaggedDetector([("a", KDEDetector(gamma=0.5)),
        ...                       ("b", KDEDetector(gamma=2.0))]).fit(X)
        >>> z = bag.standardized_score(X[:3])
        >>> bool(np.allclose(z, bag.outlier_score(X[:3]) - bag.bias_))
        True
        """
        o = self.outlier_score(X)
        return o - o.dtype.type(self.bias_)

    def _training_outlier_score(self, X, rows):
        # each member out of sample, pooled as the bag pools (_calibration)
        return bagged_training_score(self, X, rows)

    def _explain(self, X):
        R = np.zeros(X.shape, dtype=np.float64)
        for w, est in zip(self.weights_, self.estimators_):
            R += w * np.asarray(est.explain(X), dtype=np.float64)
        return R.astype(X.dtype, copy=False)

    @available_if(_members_support_subset)
    def _outlier_score_subset(self, X, keep):
        """Outlierness with only the features in ``keep`` ([T] eq. 1.16).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        keep : ndarray of bool, shape (n_samples, n_features)
            ``True`` where a feature is kept.

        Returns
        -------
        o : ndarray of shape (n_samples,), float64
            ``sum_k w_k o_{k,keep}(x)`` (class Notes): ``outlier_score``
            with every feature kept, 0 with none.
        """
        o = np.zeros(X.shape[0])
        for w, est in zip(self.weights_, self.estimators_):
            o += w * member_outlier_score_subset(est, X, keep)
        return o
