"""One-class SVM as an explainable soft-min detector (OC-DTD)."""

from numbers import Integral, Real

import numpy as np
from sklearn.svm import OneClassSVM
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import BaseSoftminDetector
from ..base import BaseDetector
from .._gamma import resolve_gamma
from ._params import SOFTMIN_CONSTRAINTS

__all__ = ["OCSVMDetector"]


class OCSVMDetector(BaseSoftminDetector):
    r"""One-class SVM outlier detector, explained by OC-DTD.

    Fits :class:`sklearn.svm.OneClassSVM` with a Gaussian kernel and keeps
    its support vectors :math:`u_i` with weights
    :math:`a_i = \alpha_i / \sum_k \alpha_k`; the outlierness is ([T] eq. 1.3)

    .. math::

        o(x) = -\log \sum_i a_i \exp(-\gamma \|x - u_i\|^2) \ge 0,

    a strictly decreasing function of sklearn's own
    ``OneClassSVM.score_samples``, so the ranking (and ROC) is the SVM's.

    Parameters
    ----------
    gamma : float or {"scale", "knn_mass", "likelihood"}, default="scale"
        Kernel stiffness; see :class:`KDEDetector`. The thesis uses
        ``"knn_mass"`` ([T] eq. 3.1).
    nu : float in (0, 1], default=0.5
        Upper bound on the share of training errors and lower bound on the
        share of support vectors (sklearn's ``nu``).
    tol : float, default=1e-3
        Stopping tolerance of the SVM solver.
    shrinking : bool, default=True
        Whether the SVM solver uses the shrinking heuristic.
    cache_size : float, default=200
        Kernel cache of the SVM solver, in MB.
    max_iter : int, default=-1
        Solver iteration limit, -1 for none.
    contamination : float in (0, 0.5] or "auto", default=0.1
        A float sets ``offset_`` to that percentile of the out-of-sample
        training scores (see ``offset_``), so that ``predict`` flags about
        that share of new inliers, as for the other detectors.
        ``"auto"`` keeps the SVM's own threshold ``rho``
        (``offset_ = log(rho / sum(alpha))``, so ``predict`` equals
        ``OneClassSVM.predict``). ``rho`` is an *in-sample* threshold: it
        bounds the share of *training* points outside the support by
        ``nu``, and on held-out inliers it flags far more: over five 70/30
        splits of MNIST's zeros, breast-cancer's benign tumours and the
        8 x 8 zeros, 51-54 % on average with the default ``gamma`` and
        99-100 % with ``gamma="knn_mass"``, where ``contamination=0.1``
        flags 9-13 % (``benchmarks/bench_calibration.py``). Ask for it to
        reproduce the SVM's own ``predict``. (Up to version 0.1.0 the default was
        ``"auto"``.)
    rule : {"oc-dtd", "conservative"}, default="oc-dtd"
        Propagation rule of ``explain``: the thesis' OC-DTD ([T] eq.
        1.13-1.14) or the paper's conservative rule ([P] App. A.2-A.3),
        as in :class:`KDEDetector`.
    backend : str, default="auto"
        "auto", "numpy", "numba", "torch" or a registered backend name.
    device : str or None, default=None
    n_jobs : int or None, default=None
    random_state : int, RandomState instance or None, default=None
        Seeds ``gamma="likelihood"``.

    Attributes
    ----------
    templates_ : ndarray of shape (n_support_vectors, n_features)
        Support vectors.
    log_weights_ : ndarray of shape (n_support_vectors,)
        ``log(alpha_i / sum(alpha))``.
    gamma_ : float
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``. With a float
        ``contamination`` (the default), the ``contamination`` percentile of the
        training scores, each training point scored as if held out: a
        training point that is a support vector is scored without its own
        term of the expansion (the others' ``alpha_i`` renormalised), the
        others as they are. The SVM is not refitted without the point, so
        this approximates the held-out score, and overshoots where few
        points are support vectors (small ``nu``): on 150 Gaussian points
        with ``contamination=0.1`` it flags 5 % of new points at
        ``nu=0.1``, 7 % at 0.3, 10 % at 0.5, where the refitted
        leave-one-out flags 10-11 % and the in-sample percentile 18-34 %
        (``benchmarks/bench_calibration.py --svm-refit``). See
        :mod:`skexplain_ad._calibration`. With ``contamination="auto"``,
        ``log(rho / sum(alpha))``, the SVM's own (in-sample) threshold.
    ocsvm_ : sklearn.svm.OneClassSVM
        The fitted SVM.
    n_iter_ : int
        Iterations the SVM solver ran.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when ``X`` has string column names.

    See Also
    --------
    KDEDetector : the same model on all training points, uniform weights.

    Notes
    -----
    Explanation by OC-DTD (the default), [T] eq. 1.13-1.14: with :math:`d_i^2 = \|x-u_i\|^2`
    and the soft-argmin :math:`p_i`,
    :math:`R_j = \sum_i p_i \min(o, \gamma d_i^2)/d_i^2\,(x_j - u_{ij})^2`,
    non-negative, summing to at most :math:`o(x)` and exactly to it where
    :math:`o(x) \le \gamma d_i^2` for every support vector that carries
    weight. ``rule="conservative"`` replaces the clamp by :math:`o` and sums
    to :math:`o` exactly ([P] App. A.2-A.3; see :class:`KDEDetector`).

    References
    ----------
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", 2021. Eq. 1.1-1.3, 1.13-1.14.
    .. [P] J. Kauffmann et al., "The Clever Hans Effect in Anomaly
       Detection", 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import OCSVMDetector
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> det = OCSVMDetector(gamma=0.2, nu=0.2).fit(X)
    >>> det.predict(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 6.0]]))
    array([ 1, -1])
    >>> int(det.explain(np.array([[0.0, 0.0, 6.0]])).argmax())
    2
    """

    #: templates are support vectors, some of the training rows: at most one per training row (TimesEnsemble's k, l checks)
    _templates_are_training_rows = True

    _parameter_constraints = {
        **BaseDetector._parameter_constraints,
        **SOFTMIN_CONSTRAINTS,
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "nu": [Interval(Real, 0, 1, closed="right")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "shrinking": ["boolean"],
        "cache_size": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, -1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        gamma="scale",
        nu=0.5,
        tol=1e-3,
        shrinking=True,
        cache_size=200,
        max_iter=-1,
        contamination=0.1,
        rule="oc-dtd",
        backend="auto",
        device=None,
        n_jobs=None,
        random_state=None,
    ):
        self.gamma = gamma
        self.nu = nu
        self.tol = tol
        self.shrinking = shrinking
        self.cache_size = cache_size
        self.max_iter = max_iter
        self.contamination = contamination
        self.rule = rule
        self.backend = backend
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit_softmin(self, X):
        gamma = resolve_gamma(self.gamma, X, self.random_state)
        self.ocsvm_ = OneClassSVM(
            kernel="rbf",
            gamma=gamma,
            nu=self.nu,
            tol=self.tol,
            shrinking=self.shrinking,
            cache_size=self.cache_size,
            max_iter=self.max_iter,
        ).fit(X)
        return self._adopt_ocsvm(self.ocsvm_, X.dtype)

    def _adopt_ocsvm(self, svm, dtype):
        """The soft-min model of a fitted rbf ``OneClassSVM`` ([T] eq. 1.3).

        Keeps ``svm`` as ``ocsvm_`` and returns ``(templates, log_weights,
        gamma)``: its support vectors (dense, ``dtype``), ``log(alpha_i)``
        (normalised by the base) and its ``_gamma``. Used by ``fit`` and by
        :func:`skexplain_ad.explainable` (an SVM the user fitted).
        """
        self.ocsvm_ = svm
        self.n_iter_ = svm.n_iter_
        alpha, sv = svm.dual_coef_, svm.support_vectors_
        if hasattr(sv, "toarray"):  # fitted on sparse X
            alpha, sv = alpha.toarray(), sv.toarray()
        alpha = np.asarray(alpha, dtype=np.float64).ravel()
        templates = np.array(sv, dtype=dtype, copy=True)
        return templates, np.log(alpha), float(svm._gamma)

    def _training_templates(self, rows):
        # training row -> its support vector's index, -1 if it is none
        # (out-of-sample offset_, _calibration)
        rows = np.asarray(rows, dtype=np.int64)
        inv = np.full(self.ocsvm_.shape_fit_[0], -1, dtype=np.int64)
        inv[self.ocsvm_.support_] = np.arange(self.ocsvm_.support_.size)
        return np.where(rows >= 0, inv[np.maximum(rows, 0)], -1)

    def _auto_offset(self):
        # OneClassSVM predicts an inlier iff sum_i alpha_i k(x, u_i) >= rho,
        # i.e. iff -o(x) >= log(rho / sum(alpha)).
        rho = float(np.ravel(self.ocsvm_.offset_)[0])
        total = float(np.sum(self.ocsvm_.dual_coef_))
        if rho <= 0:
            return -np.inf
        return np.log(rho / total)
