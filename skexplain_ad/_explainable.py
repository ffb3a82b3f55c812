r"""Explain what users already fitted: sklearn / PyOD models as soft-min detectors.

A fitted Gaussian-kernel model is already a soft-min model ([T] eq. 1.3;
[P] Eq. (1)); only its explanation is missing. :func:`explainable` reads
the fitted state -- support vectors and dual coefficients of an rbf
:class:`sklearn.svm.OneClassSVM`, training points, sample weights and
bandwidth of a Gaussian :class:`sklearn.neighbors.KernelDensity`, or those
inside PyOD's ``OCSVM`` (``detector_``) and ``KDE`` (``kde_``) -- and
returns the package's fitted :class:`~skexplain_ad.OCSVMDetector` or
:class:`~skexplain_ad.KDEDetector`, built by the detector's own code
(``OCSVMDetector._adopt_ocsvm``, ``kde.kde_state``, then the shared fit
path: validation, ``data_scale_``, ``offset_``). Nothing is refitted and
no formula is written here.

This module sits at the detectors' floor: it imports the detectors and
the estimator base, nothing from the ensembles, metrics or audit.
"""

from contextlib import contextmanager
from numbers import Real

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM
from sklearn.utils.validation import check_array, check_is_fitted

from ._extreme import rescale_gamma
from ._softmin import kde_log_normaliser
from .detectors.kde import KDEDetector, kde_state
from .detectors.ocsvm import OCSVMDetector

__all__ = ["explainable"]

_SUPPORTED = (
    "sklearn.svm.OneClassSVM(kernel='rbf'), sklearn.neighbors.KernelDensity("
    "kernel='gaussian', metric='euclidean'), pyod.models.ocsvm.OCSVM(kernel='rbf') "
    "and pyod.models.kde.KDE (Euclidean metric)"
)


def _pyod_kind(model):
    """``"ocsvm"`` / ``"kde"`` for PyOD's OCSVM / KDE, None for anything else
    (PyOD is imported only when ``model`` comes from it)."""
    if type(model).__module__.split(".")[0] != "pyod":
        return None
    from pyod.models.kde import KDE
    from pyod.models.ocsvm import OCSVM

    if isinstance(model, OCSVM):
        return "ocsvm"
    if isinstance(model, KDE):
        return "kde"
    return None


def _unsupported(model, why):
    return TypeError(
        f"explainable converts {_SUPPORTED}; got {type(model).__module__}."
        f"{type(model).__qualname__}{why}."
    )


def _resolve(model):
    """``(kind, sklearn_model, pyod_model_or_None)``, every check but X's."""
    from .base import BaseDetector

    if isinstance(model, BaseDetector):
        raise _unsupported(model, ", which is already an explainable detector of "
                                  "skexplain_ad: use it as it is")
    if isinstance(model, type):
        raise _unsupported(model, " (a class, not a fitted instance)")
    pyod = _pyod_kind(model)
    if pyod is not None:
        name = type(model).__name__
        if getattr(model, "threshold_", None) is None:
            raise NotFittedError(
                f"explainable needs a fitted model: this PyOD {name} is not "
                "fitted (no threshold_); call fit(X) first."
            )
        inner = model.detector_ if pyod == "ocsvm" else model.kde_
        kind = pyod
    elif isinstance(model, OneClassSVM):
        kind, inner = "ocsvm", model
    elif isinstance(model, KernelDensity):
        kind, inner = "kde", model
    else:
        raise _unsupported(model, "")
    owner = f"PyOD {type(model).__name__}'s {type(inner).__name__}" if pyod else type(inner).__name__
    if kind == "ocsvm":
        if inner.kernel != "rbf":
            raise ValueError(
                f"explainable converts a one-class SVM with the Gaussian kernel only "
                f"(kernel='rbf': a soft-min model, [T] eq. 1.3); {owner} has "
                f"kernel={inner.kernel!r}."
            )
    else:
        if inner.kernel != "gaussian":
            raise ValueError(
                f"explainable converts a kernel density with the Gaussian kernel only "
                f"(kernel='gaussian': a soft-min model, [P] Eq. (1)); {owner} has "
                f"kernel={inner.kernel!r}."
            )
        params = inner.metric_params or {}
        euclid = inner.metric in ("euclidean", "l2") and not params or (
            inner.metric == "minkowski" and set(params) <= {"p"} and params.get("p", 2) == 2
        )
        if not euclid:
            raise ValueError(
                f"explainable converts a kernel density with the Euclidean metric only "
                f"('euclidean', or 'minkowski' with p=2); {owner} has "
                f"metric={inner.metric!r}, metric_params={inner.metric_params!r}."
            )
    try:
        check_is_fitted(inner)
    except NotFittedError:
        raise NotFittedError(
            f"explainable needs a fitted model: this {owner} is not fitted; call "
            "fit(X) first."
        ) from None
    return kind, inner, (model if pyod else None)


def _check_contamination(contamination, kind):
    if contamination is None or (
        isinstance(contamination, Real) and not isinstance(contamination, bool)
        and 0 < contamination <= 0.5
    ):
        return
    if contamination == "auto" and kind == "ocsvm":
        return
    want = 'None, "auto" or a float in (0, 0.5]' if kind == "ocsvm" else (
        "None or a float in (0, 0.5] (a kernel density has no threshold of its "
        'own, so "auto" means nothing)'
    )
    raise ValueError(f"explainable: contamination must be {want}; got {contamination!r}.")


def _training_data(X, kind, inner):
    """The model's training rows as float64: ``X`` checked against the model,
    or the KDE's own; None for an SVM without ``X``."""
    if kind == "kde":
        data = np.asarray(inner.tree_.data, dtype=np.float64)
        if X is not None:
            X = check_array(X, dtype=np.float64, input_name="X")
            if X.shape != data.shape or not np.array_equal(X, data):
                raise ValueError(
                    f"explainable: X must be the data the KernelDensity was fitted on "
                    f"(it keeps them, so X is optional); got shape {X.shape}, the "
                    f"model's is {data.shape}, or other values."
                )
        return data
    if X is None:
        return None
    X = check_array(X, dtype=np.float64, input_name="X")
    n_fit = int(inner.shape_fit_[0])
    sv = _dense_support_vectors(inner)
    if X.shape != (n_fit, sv.shape[1]) or not np.array_equal(X[inner.support_], sv):
        raise ValueError(
            f"explainable: X must be the data the OneClassSVM was fitted on: "
            f"{n_fit} rows of {sv.shape[1]} features whose rows support_ are its "
            f"support_vectors_; got shape {X.shape}"
            + ("." if X.shape != (n_fit, sv.shape[1]) else " with other values.")
        )
    return X


def _dense_support_vectors(svm):
    sv = svm.support_vectors_
    return np.asarray(sv.toarray() if hasattr(sv, "toarray") else sv, dtype=np.float64)


@contextmanager
def _given(det, **methods):
    """``det``'s methods replaced by the given functions for one fit; the
    instance is left as a plain fitted detector (nothing stays behind)."""
    for name, fn in methods.items():
        setattr(det, name, fn)
    try:
        yield
    finally:
        for name in methods:
            det.__dict__.pop(name, None)


def explainable(
    model,
    X=None,
    *,
    contamination=None,
    rule=None,
    backend="auto",
    device=None,
    n_jobs=None,
):
    r"""The explainable detector of a fitted Gaussian-kernel model.

    Converts a fitted :class:`sklearn.svm.OneClassSVM` (``kernel="rbf"``), a
    fitted :class:`sklearn.neighbors.KernelDensity` (``kernel="gaussian"``,
    Euclidean metric), or PyOD's fitted ``OCSVM`` / ``KDE`` (which hold those
    in ``detector_`` / ``kde_``) into the package's fitted
    :class:`~skexplain_ad.OCSVMDetector` / :class:`~skexplain_ad.KDEDetector`:
    the same model, scored to round-off as the original up to its
    documented monotone transform (below), with ``explain`` (LRP / deep
    Taylor, [P] App. A.2-A.3; [T] eq. 1.13-1.14), pixel flipping and
    everything else of the package. Nothing is refitted.

    Parameters
    ----------
    model : fitted OneClassSVM, KernelDensity, pyod OCSVM or pyod KDE
        The model to convert; it is not modified, and the converted
        detector shares no array with it.
    X : array-like of shape (n_samples, n_features), default=None
        The data ``model`` was fitted on, checked to be so. Needed only for
        a float ``contamination`` of a one-class SVM (which keeps only its
        support vectors); a kernel density keeps its training data.
    contamination : None, "auto" or float in (0, 0.5], default=None
        Sets ``offset_`` (``decision_function = score_samples - offset_``).
        ``None``: the model's own threshold where it has one --
        ``OneClassSVM``: its ``rho`` (``contamination="auto"``,
        ``predict`` equals ``OneClassSVM.predict``); PyOD: its
        ``threshold_`` (``predict`` gives -1 exactly where PyOD's gives 1;
        ``contamination`` becomes PyOD's); ``KernelDensity``, which has
        none: :class:`~skexplain_ad.KDEDetector`'s default 0.1, below.
        ``"auto"`` (SVMs only): ``rho``. A float: that percentile of the
        training scores, each training point scored as if held out
        (without its own kernel / support-vector term,
        :mod:`skexplain_ad._calibration`), as the detectors' ``fit`` does;
        an unweighted percentile over the training rows of positive weight.
    rule : {"conservative", "oc-dtd"} or None, default=None
        Propagation rule of ``explain``; None: the detector's default
        (``"oc-dtd"`` for the SVM, ``"conservative"`` for the KDE).
    backend, device, n_jobs
        Compute settings of the detector (see :class:`~skexplain_ad.KDEDetector`).

    Returns
    -------
    detector : OCSVMDetector or KDEDetector
        Fitted. Its parameters are the model's (``gamma`` =
        ``OneClassSVM._gamma``, or ``1 / (2 bandwidth_**2)``; ``nu``,
        ``tol``, ... of the SVM), so ``clone(detector).fit(X)`` on the
        same data refits the same SVM or the unweighted KDE; an SVM's
        ``offset_`` then follows the clone's ``contamination``.

    Raises
    ------
    TypeError
        For any other object (other estimators, pipelines, the package's
        own detectors, classes), naming what is supported.
    ValueError
        For another kernel, a non-Euclidean metric, a bad
        ``contamination`` or an ``X`` that is not the training data.
    sklearn.exceptions.NotFittedError
        For an unfitted model.

    All before any computation.

    See Also
    --------
    OCSVMDetector, KDEDetector : the detectors returned.
    skexplain_ad.explain : explanations through a preprocessing pipeline.

    Notes
    -----
    The transforms, with :math:`o` = ``detector.outlier_score`` and
    ``score_samples = -o``:

    - ``OneClassSVM``: with dual coefficients :math:`\alpha_i` on support
      vectors :math:`u_i`, ``svm.score_samples(x)`` is
      :math:`\sum_i \alpha_i e^{-\gamma\|x-u_i\|^2} = A\,e^{-o(x)}`,
      :math:`A = \sum_i \alpha_i` ([T] eq. 1.3 with weights
      :math:`\alpha_i / A`); so ``detector.score_samples(X) ==
      log(svm.score_samples(X)) - log(A)``, finite where sklearn's kernel
      sum underflows to 0. ``svm.decision_function = svm.score_samples -
      rho``; PyOD's ``OCSVM.decision_function`` is its negative.
    - ``KernelDensity`` (bandwidth :math:`h`, sample weights :math:`w_i`,
      :math:`\gamma = 1/(2h^2)`): ``kde.score_samples(x)`` is the log
      density :math:`\log\sum_i \frac{w_i}{W} \mathcal{N}(x; x_i, h^2 I)
      = -o(x) + \frac{d}{2}\log\frac{\gamma}{\pi}`, so
      ``detector.score_samples(X) == kde.score_samples(X) - d/2
      log(gamma_ / pi)`` (``kde_log_normaliser``); PyOD's
      ``KDE.decision_function`` is ``-kde.score_samples``. Rows of zero
      weight carry no kernel and are left out of the templates.

    sklearn's ``KernelDensity`` evaluates the density on a tree, with
    tolerances ``atol`` (absolute, on the density) and ``rtol`` (relative).
    The converted detector sums every kernel directly, so it is the exact
    density that sklearn approximates, not sklearn's approximation:

    - ``atol=0, rtol=0`` (sklearn's defaults): the two agree to round-off
      of the tree's summation, about 1e-10 in the log density (measured
      5e-11 on 300 Gaussian points in 4-D, where the converted detector is
      within 2e-14 of a direct float64 sum);
    - ``rtol > 0``: sklearn's log density is off by up to about
      ``log(1 + rtol)`` (measured 0.04 at ``rtol=0.1``, 0.21 at 0.5);
    - ``atol > 0``: where the density is below ``atol`` its log can be off
      by any amount (measured 16 at ``atol=1e-3``).

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. Eq. (1), App. A.2-A.3.
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021. Eq. 1.3,
       1.13-1.14.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import OneClassSVM
    >>> from skexplain_ad import explainable
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> svm = OneClassSVM(gamma=0.2, nu=0.2).fit(X)
    >>> det = explainable(svm)
    >>> x = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 6.0]])
    >>> A = svm.dual_coef_.sum()
    >>> bool(np.allclose(det.score_samples(x), np.log(svm.score_samples(x)) - np.log(A)))
    True
    >>> det.predict(x), svm.predict(x)
    (array([ 1, -1]), array([ 1, -1]))
    >>> int(det.explain(x[1:]).argmax())      # the third feature is anomalous
    2
    """
    kind, inner, pyod = _resolve(model)
    _check_contamination(contamination, kind)
    own_pyod = pyod is not None and contamination is None
    if own_pyod and not (
        isinstance(pyod.contamination, Real) and not isinstance(pyod.contamination, bool)
        and 0 < pyod.contamination <= 0.5
    ):
        alt = '"auto" (the SVM\'s rho) or a float' if kind == "ocsvm" else "a float"
        raise ValueError(
            f"explainable: the PyOD {type(pyod).__name__}'s contamination="
            f"{pyod.contamination!r} is not a float in (0, 0.5] (a PyThresh "
            f"thresholder?), so its threshold_ cannot be carried over; pass "
            f"contamination={alt}."
        )
    Xfit = _training_data(X, kind, inner)
    if kind == "ocsvm" and Xfit is None and contamination not in (None, "auto"):
        raise ValueError(
            f"explainable: contamination={contamination!r} calibrates offset_ on the "
            "training data, which a fitted OneClassSVM does not keep; pass X (the "
            "data it was fitted on), or contamination=None for its own threshold."
        )
    # the detector's contamination parameter: PyOD's, the SVM's "auto", the
    # KDEDetector default, or the one asked for
    if contamination is not None:
        public = contamination
    elif pyod is not None:
        public = float(pyod.contamination)
    else:
        public = "auto" if kind == "ocsvm" else 0.1
    common = dict(contamination=public, backend=backend, device=device, n_jobs=n_jobs)
    if rule is not None:
        common["rule"] = rule

    offset = None  # PyOD's threshold_ as offset_, else the fit path's rule
    if kind == "ocsvm":
        det = OCSVMDetector(
            gamma=float(inner._gamma), nu=inner.nu, tol=inner.tol,
            shrinking=inner.shrinking, cache_size=inner.cache_size,
            max_iter=inner.max_iter, **common,
        )
        if Xfit is None:
            # only the support vectors are known: they set n_features_in_ and
            # data_scale_ (one of them twice: the fit path asks for two rows);
            # the templates come from the SVM itself
            sv = _dense_support_vectors(inner)
            Xfit = sv if sv.shape[0] > 1 else np.vstack([sv, sv])

        def fit_softmin(Xs):
            U, lw, g = det._adopt_ocsvm(inner, np.float64)
            s = det.data_scale_
            return U / s, lw, rescale_gamma(g, s, owner="the SVM's gamma")

        if own_pyod:
            def offset():
                # PyOD: outlier iff rho - K(x) > threshold_, K(x) = A exp(-o(x))
                left = float(np.ravel(inner.offset_)[0]) - float(pyod.threshold_)
                total = float(np.sum(inner.dual_coef_))
                return np.log(left / total) if left > 0 else -np.inf
    else:
        gamma = 1.0 / (2.0 * float(inner.bandwidth_) ** 2)
        sw = inner.tree_.sample_weight
        w = None if sw is None else np.asarray(sw, dtype=np.float64)
        if w is not None:  # a zero weight carries no kernel
            Xfit, w = Xfit[w > 0], w[w > 0]
        if Xfit.shape[0] == 1:
            # two equal kernels of half the weight are the one kernel; the
            # fit path asks for two rows
            Xfit = np.vstack([Xfit, Xfit])
            w = None if w is None else np.concatenate([w, w])
        det = KDEDetector(gamma=gamma, **common)

        def fit_softmin(Xs):
            g = rescale_gamma(gamma, det.data_scale_, owner="the KDE's gamma")
            return kde_state(Xs, g, w)

        if own_pyod:
            def offset():
                # PyOD: outlier iff -log density > threshold_, in the user's units
                d = det.n_features_in_
                return -float(pyod.threshold_) - kde_log_normaliser(gamma, d)
    det._validate_params()

    methods = {"_fit_softmin": fit_softmin}
    if offset is not None:
        # the fit path takes offset_ from _auto_offset under "auto"
        methods["_auto_offset"] = offset
        det.contamination = "auto"
    with _given(det, **methods):
        det._fit_validated(Xfit)
    det.contamination = public
    names = getattr(inner, "feature_names_in_", None)
    if names is not None:
        det.feature_names_in_ = np.array(names, dtype=object, copy=True)
    return det
