"""Kernel density estimation as an explainable soft-min detector."""

import numpy as np

from .._softmin import kde_log_normaliser
from ..base import BaseSoftminDetector
from ..base import BaseDetector
from .._gamma import resolve_gamma
from ._params import SOFTMIN_CONSTRAINTS

__all__ = ["KDEDetector"]


def kde_state(X, gamma, sample_weight=None):
    """``(templates, log_weights, gamma)`` of the KDE of ``X`` ([P] Eq. (1)).

    Every row is a kernel centre; uniform weights ``1/m``, or
    ``sample_weight / sum(sample_weight)`` (positive weights; the base
    normalises the log-weights). Used by ``fit`` and by
    :func:`skexplain_ad.explainable` (a weighted ``KernelDensity``).
    """
    m = X.shape[0]
    if sample_weight is None:
        log_weights = np.full(m, -np.log(m))
    else:
        log_weights = np.log(np.asarray(sample_weight, dtype=np.float64))
    return np.array(X, copy=True), log_weights, gamma


class KDEDetector(BaseSoftminDetector):
    r"""Gaussian kernel density outlier detector, explained by deep Taylor decomposition.

    The outlierness is the negative log of the kernel density up to a
    constant, a soft minimum of the squared distances to the training points
    ([P] Eq. (1); [T] eq. 1.3 with uniform weights):

    .. math::

        o(x) = -\log \frac{1}{m} \sum_{i=1}^m \exp(-\gamma \|x - x_i\|^2) \ge 0.

    Its explanation is the paper's conservative rule ([P] App. A.2-A.3) or
    the thesis' OC-DTD ([T] eq. 1.13-1.14), chosen by ``rule`` (see Notes).

    Parameters
    ----------
    gamma : float or {"scale", "knn_mass", "likelihood"}, default="scale"
        Stiffness of the Gaussian kernel ``exp(-gamma ||x - x'||^2)``
        (``gamma = 1 / (2 h^2)`` for a bandwidth ``h``). A float is used as
        is; ``"scale"`` is ``1 / (n_features * X.var())``; ``"knn_mass"``
        solves [T] eq. 3.1 (:func:`~skexplain_ad.model_selection.knn_mass_gamma`);
        ``"likelihood"`` maximises the held-out likelihood of an inlier
        validation split, as the paper does
        (:func:`~skexplain_ad.model_selection.likelihood_gamma`). The value
        used is stored in ``gamma_``.
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    rule : {"conservative", "oc-dtd"}, default="conservative"
        Propagation rule of ``explain``. ``"conservative"`` ([P] App.
        A.2-A.3, the paper's KDE) sends :math:`p_i o` to each template and
        sums to :math:`o` exactly; ``"oc-dtd"`` ([T] eq. 1.13-1.14) clamps each
        template's share at :math:`\gamma d_i^2` and sums to at most :math:`o`.
    backend : str, default="auto"
        Compute kernels: "auto", "numpy", "numba", "torch" or a name
        registered with :func:`skexplain_ad.backends.register`; results
        agree to round-off.
    device : str or None, default=None
        Torch device, e.g. ``"cuda"`` (torch backend only).
    n_jobs : int or None, default=None
        Threads over row chunks when scoring and explaining.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split of ``gamma="likelihood"``.

    Attributes
    ----------
    templates_ : ndarray of shape (n_samples, n_features)
        The training points (the kernel centres).
    log_weights_ : ndarray of shape (n_samples,)
        ``-log(n_samples)`` each.
    gamma_ : float
        The stiffness used.
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``: the
        ``contamination`` percentile of the training scores, each training
        point scored *as if held out* -- by the KDE without its own kernel,
        the other weights renormalised (exactly the KDE fitted on the other
        points, ``gamma_`` fixed). So ``predict`` flags about
        ``contamination`` of new data from the training distribution, while
        ``predict`` on the training points themselves (each on its own
        kernel) flags fewer. See :mod:`skexplain_ad._calibration`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    OCSVMDetector : the same model on weighted support vectors.
    sklearn.neighbors.KernelDensity : the density this detector explains.

    Notes
    -----
    With :math:`d_i^2 = \|x - x_i\|^2` and the soft-argmin
    :math:`p_i = e^{-\gamma d_i^2} / \sum_k e^{-\gamma d_k^2}`, the relevance
    of feature :math:`j` under ``rule="conservative"`` is ([P] App. A.2-A.3)

    .. math::

        R_j(x) = \sum_i p_i\, o(x) \frac{(x_j - x_{ij})^2}{d_i^2},

    non-negative and summing to :math:`o(x)` exactly. A query on a training
    point (:math:`d_i = 0`) has no limit there (the share depends on the
    direction of approach); that point's share :math:`p_i o` is spread
    evenly over the features, the mean over the directions, which keeps the
    sum exact (:mod:`skexplain_ad._softmin`).

    Under ``rule="oc-dtd"`` ([T] eq. 1.13-1.14)

    .. math::

        R_j(x) = \sum_i p_i \frac{\min(o(x), \gamma d_i^2)}{d_i^2} (x_j - x_{ij})^2 .

    It is non-negative and sums to at most :math:`o(x)`, exactly to
    :math:`o(x)` where :math:`o(x) \le \gamma d_i^2` for every training point
    that carries weight. For uniform weights
    :math:`\gamma \min_i d_i^2 \le o(x) \le \gamma \min_i d_i^2 + \log m`, so this
    holds exactly only for a query equidistant from the training points;
    the shortfall is the part of :math:`o` due to the log-weights
    ([T] eq. 1.13's :math:`\max(0, D_i)`), at most :math:`\log m`.

    ``score`` is the mean log-likelihood of the *normalised* Gaussian KDE,
    equal to :meth:`sklearn.neighbors.KernelDensity.score` divided by the
    number of samples, so that ``GridSearchCV(KDEDetector(), {"gamma": ...})``
    selects the bandwidth without labels.

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. Eq. (1), App. A.2-A.3.
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021. Eq. 1.3,
       1.13-1.14, 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import KDEDetector
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> det = KDEDetector(gamma=0.5).fit(X)
    >>> x_out = np.array([[0.0, 0.0, 6.0]])
    >>> det.predict(x_out)
    array([-1])
    >>> R = det.explain(x_out)
    >>> int(R.argmax())                      # the third feature is anomalous
    2
    >>> bool(np.isclose(R.sum(), det.outlier_score(x_out)[0]))  # sums to o(x)
    True
    """

    #: templates are the training points: at most one per training row (TimesEnsemble's k, l checks)
    _templates_are_training_rows = True

    _parameter_constraints = {
        **BaseDetector._parameter_constraints,
        **SOFTMIN_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        gamma="scale",
        contamination=0.1,
        rule="conservative",
        backend="auto",
        device=None,
        n_jobs=None,
        random_state=None,
    ):
        self.gamma = gamma
        self.contamination = contamination
        self.rule = rule
        self.backend = backend
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit_softmin(self, X):
        return kde_state(X, resolve_gamma(self.gamma, X, self.random_state))

    def _training_templates(self, rows):
        # training row t is template t (out-of-sample offset_, _calibration)
        return np.asarray(rows, dtype=np.int64)

    def score(self, X, y=None):
        """Mean log-likelihood of ``X`` under the normalised Gaussian KDE.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        ll : float
            ``mean(-o(X)) + n_features / 2 * log(gamma_ / pi)``.
        """
        o = self.outlier_score(X).astype(np.float64)
        # -o(x) = log mean_i exp(-g d_i^2); see _softmin.kde_log_likelihood.
        # gamma_ is in units of X / data_scale_: the density in X's units has
        # the Jacobian 1 / data_scale_**d (skexplain_ad/_extreme.py)
        d = self.n_features_in_
        log_scale = np.log(getattr(self, "data_scale_", 1.0))
        return float(np.mean(-o) + kde_log_normaliser(self.gamma_, d) - d * log_scale)
