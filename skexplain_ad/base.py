"""The shared estimator base: validation, ``offset_``, ``predict``, chunking.

Every detector of the package derives from :class:`BaseDetector`. A subclass
implements three private methods on validated arrays,

- ``_fit(X)``: learn the model (``X`` validated, ``n_features_in_`` set);
- ``_outlier_score(X)``: the outlierness ``o(X) >= 0``;
- ``_explain(X)``: the relevance of ``o(X)`` on each feature, (n, d);

and the base turns them into scikit-learn's outlier-detector API
(``score_samples = -o``, higher is more normal; ``decision_function``,
``predict`` with +1 inlier / -1 outlier; ``offset_`` from ``contamination``
as :class:`sklearn.ensemble.IsolationForest` does).

Every fitted detector has ``data_scale_``: 1.0, or for a scale-invariant
detector (soft-min models and their ensembles) fitted on data of magnitude
outside [2**-100, 2**100], the power of two it divides every input by, so
that float64 holds its squared distances; ``templates_`` and ``gamma_`` are
then in units of ``X / data_scale_`` and scores and relevances are exactly
those of the model in ``X``'s units (:mod:`skexplain_ad._extreme`).

A row-chunked :class:`dask.array.Array` given to any of these methods gives
back a lazy dask array (:mod:`skexplain_ad._dask`, DESIGN.md §6): the
dispatch lives here, never in a subclass.
"""

import copy
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._chunks import BLOCK_MIB, block_n_rows, chunk_n_rows, map_row_chunks  # noqa: F401
from ._dask import is_dask_array, map_row_blocks
from ._extreme import check_query_range, fit_scale, fitting_frame
from ._output import check_output_option, wrap_relevance
from ._softmin import (
    normalize_log_weights,
    own_template_exclude,
    softmin_outlierness,
    softmin_params,
    softmin_relevance,
    softmin_subset_score,
)
from ._times import member_outlier_score  # noqa: F401 - the ensembles' import

__all__ = ["BaseDetector", "BaseSoftminDetector", "member_outlier_score", "subset_scorer",
           "supports_subset"]

FLOAT_DTYPES = (np.float64, np.float32)


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base class of the explainable anomaly detectors.

    Not meant to be used directly: see :class:`skexplain_ad.KDEDetector`.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto"
        Expected fraction of outliers in the training data; ``offset_`` is
        the matching percentile of the training scores, each training point
        scored as if held out (:mod:`skexplain_ad._calibration`). ``"auto"`` uses the
        detector's own threshold where it has one (OC-SVM's ``rho``).
    """

    _parameter_constraints: dict = {
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on (mostly) normal data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; images go in flattened. A dask array is brought
            into memory: fitting stays local, the models being small. To
            run a gamma heuristic blockwise on a cluster, call
            :func:`~skexplain_ad.model_selection.knn_mass_gamma` or
            :func:`~skexplain_ad.model_selection.likelihood_gamma` on the dask
            array and pass the float.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted detector.
        """
        return self._fit_validated(X)

    def _fit_validated(self, X):
        """``fit`` after the parameter check: validate ``X``, fit, ``offset_``."""
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2)
        # data of extreme magnitude: fit on X / s, exact (skexplain_ad/_extreme.py)
        self.data_scale_ = fit_scale(self, X)
        if self.data_scale_ != 1.0:
            X = X / X.dtype.type(self.data_scale_)
        with fitting_frame(self, X, self.data_scale_):
            self._fit(X)
        if self.contamination == "auto":
            self.offset_ = float(self._auto_offset())
        else:
            # out of sample: each training point scored as if held out, by
            # the family's own hook (skexplain_ad._calibration)
            scores = -np.asarray(self._training_outlier_score(X, np.arange(X.shape[0])),
                                 dtype=np.float64)
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _auto_offset(self):  # pragma: no cover - overridden where supported
        raise NotImplementedError

    def _training_outlier_score(self, X, rows):
        """Outlierness of training rows, each scored as if held out.

        The hook behind ``offset_``; each family overrides it (soft-min
        detectors leave a row's own template out, the ensembles pool their
        members' held-out scores; :mod:`skexplain_ad._calibration`). The
        default scores in sample (a model that does not memorise its rows).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Validated rows.
        rows : ndarray of int of shape (n_samples,)
            Per row, its index in this detector's training set, or -1 where
            it did not see the row.

        Returns
        -------
        o : ndarray of shape (n_samples,)
        """
        return self._outlier_score(X)

    # ----------------------------------------------------------- validation
    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        scale = getattr(self, "data_scale_", 1.0)
        if scale != 1.0:
            X = X / X.dtype.type(scale)  # exact: a power of two
        check_query_range(self, X)
        return X

    # ------------------------------------------------------------ predicting
    def outlier_score(self, X):
        """Outlierness ``o(x) >= 0`` of each sample (higher = more abnormal).

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)

        Returns
        -------
        o : ndarray of shape (n_samples,)
            float32 for float32 input, float64 otherwise; a lazy dask array
            with the same row chunks for dask input.
        """
        if is_dask_array(X):
            return map_row_blocks(self, "outlier_score", X)
        return self._outlier_score(self._validate_X(X))

    def score_samples(self, X):
        """Opposite of the outlierness (higher = more normal), as sklearn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-outlier_score(X)``.
        """
        return -self.outlier_score(X)

    def decision_function(self, X):
        """Shifted score: negative for outliers, non-negative for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        scores = self.score_samples(X)
        return scores - scores.dtype.type(self.offset_)

    def predict(self, X):
        """Predict +1 for inliers and -1 for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        decision = self.decision_function(X)
        # np.where dispatches to dask for a lazy decision (NEP 18)
        return np.where(decision < 0, -1, 1)

    def explain(self, X):
        """Relevance of the outlierness on each input feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images flattened; reshape the result to see a heatmap.

        Returns
        -------
        relevance : ndarray or DataFrame of shape (n_samples, n_features)
            Non-negative; each row sums to at most ``outlier_score(X)``
            (see the detector's Notes for when it sums exactly). A
            DataFrame with the columns and index of ``X`` under
            ``set_output(transform="pandas")`` or the global
            ``transform_output="pandas"`` (polars likewise); a lazy dask
            array for dask input.
        """
        if is_dask_array(X):
            # the blocks must come back as arrays, whatever the setting
            plain = copy.copy(self)
            plain._sklearn_output_config = {"transform": "default"}
            return map_row_blocks(plain, "explain", X)
        return wrap_relevance(self._explain(self._validate_X(X)), X, self)

    def set_output(self, *, transform=None):
        """Set the output container of ``explain`` (sklearn's ``set_output`` API).

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            ``"pandas"``: ``explain`` returns a DataFrame with the input's
            columns (``feature_names_in_`` for an array) and index;
            ``"polars"``: a polars DataFrame; ``"default"``: an ndarray;
            ``None``: unchanged. Without a setting, the global
            ``sklearn.set_config(transform_output=...)`` applies.

        Returns
        -------
        self : object
            The detector.
        """
        check_output_option(transform, type(self).__name__)
        if transform is None:
            return self
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    @available_if(lambda self: hasattr(self, "_outlier_score_subset"))
    def outlier_score_subset(self, X, keep):
        """Outlierness with only some features of each sample ([T] eq. 1.16).

        The model restricted to the features kept in each row: for a
        soft-min model
        ``o_K(x) = -log sum_i exp(lw_i - g sum_{j in K} (x_j - u_ij)^2)``, 0
        with no feature kept and ``outlier_score(X)`` with all. Exact pixel
        flipping ([T] Sec. 1.4) calls it on every removal step at once:
        rows that repeat a sample with a shrinking ``keep`` are computed
        incrementally where the model gains from it (the Times ensembles).
        Available on the soft-min detectors and on ensembles whose members
        all support it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        keep : array-like of bool, shape (n_samples, n_features)
            ``True`` where a feature is kept.

        Returns
        -------
        o : ndarray of shape (n_samples,), float64

        Examples
        --------
        >>> import numpy as np
        >>> from skexplain_ad import KDEDetector
        >>> det = KDEDetector(gamma=1.0).fit(np.array([[0.0, 0.0], [0.0, 1.0]]))
        >>> x = np.array([[3.0, 0.0], [3.0, 0.0]])
        >>> keep = np.array([[True, True], [False, True]])
        >>> det.outlier_score_subset(x, keep).round(4)
        array([9.3799, 0.3799])
        """
        X = self._validate_X(X)
        keep = check_keep(X, keep)
        return np.asarray(self._outlier_score_subset(X, keep), dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def check_keep(X, keep):
    """The boolean feature mask of ``outlier_score_subset``, checked."""
    keep = np.asarray(keep)
    if keep.shape != X.shape or keep.dtype != bool:
        raise ValueError(
            f"keep must be a boolean array of the shape of X {X.shape}; got "
            f"dtype {keep.dtype} and shape {keep.shape}."
        )
    return keep


class BaseSoftminDetector(BaseDetector):
    """Base of the detectors that are soft-min models (:mod:`skexplain_ad._softmin`).

    A subclass implements ``_fit_softmin(X)`` returning ``(templates,
    log_weights, gamma)`` and ``_training_templates(rows)`` (each training
    row's own template, or -1); scoring, explaining and the held-out
    training score are shared.
    """

    def _fit(self, X):
        templates, log_weights, gamma = self._fit_softmin(X)
        self.templates_ = templates
        self.log_weights_ = normalize_log_weights(log_weights=log_weights)
        self.gamma_ = float(gamma)
        # the backend's preparation of the fitted model, filled on first use
        # (see _prepared); never pickled
        self._prep_cache = {}

    def __getstate__(self):
        state = super().__getstate__()
        if "_prep_cache" in state:
            state = {**state, "_prep_cache": {}}
        return state

    def _softmin_kwargs(self):
        return {
            "backend": self.backend,
            "device": getattr(self, "device", None),
            "n_jobs": self.n_jobs,
            "cache": getattr(self, "_prep_cache", None),
        }

    def _outlier_score(self, X):
        return softmin_outlierness(
            X, self.templates_, self.log_weights_, self.gamma_, **self._softmin_kwargs(),
        )

    def _explain(self, X):
        return softmin_relevance(
            X, self.templates_, self.log_weights_, self.gamma_,
            rule=getattr(self, "rule", "oc-dtd"), **self._softmin_kwargs(),
        )[1]

    def _training_outlier_score(self, X, rows):
        """Each training row scored without its own template, the other
        weights renormalised ([T] eq. 1.3; :mod:`skexplain_ad._calibration`)."""
        exclude = own_template_exclude(self._training_templates(rows), self.log_weights_)
        if not np.any(exclude >= 0):
            return self._outlier_score(X)
        kw = self._softmin_kwargs()
        kw.pop("cache")
        return softmin_outlierness(
            X, self.templates_, self.log_weights_, self.gamma_, exclude=exclude, **kw,
        )

    def _outlier_score_subset(self, X, keep):
        """[T] eq. 1.16 on validated ``X`` (see ``outlier_score_subset``)."""
        return softmin_subset_score(X, keep, self.templates_, self.log_weights_, self.gamma_)


def subset_scorer(est, validated=False):
    """The function ``f(X, keep)`` giving [T] eq. 1.16 for ``est``, or None.

    The one capability probe of exact pixel flipping (the metrics, the
    ensembles' members and the audit ask it): the detector's own
    ``outlier_score_subset`` (``validated=True``: its private twin on
    already validated rows, where it has one), else, for any object with
    soft-min parameters (:data:`skexplain_ad._softmin.SOFTMIN_ATTRS`), the
    engine's :func:`~skexplain_ad._softmin.softmin_subset_score`.

    Parameters
    ----------
    est : fitted detector
    validated : bool, default=False
        Whether the caller passes rows ``est`` has validated already.

    Returns
    -------
    score : callable or None
    """
    names = ("_outlier_score_subset", "outlier_score_subset")
    for name in names if validated else names[::-1]:
        if hasattr(est, name):
            return getattr(est, name)
    params = softmin_params(est)
    if params is None:
        return None
    return lambda X, keep: softmin_subset_score(X, keep, *params)


def supports_subset(est):
    """Whether :func:`subset_scorer` finds a scorer for ``est``."""
    return (
        isinstance(est, BaseSoftminDetector)
        or hasattr(est, "_outlier_score_subset")
        or hasattr(est, "outlier_score_subset")
        or softmin_params(est) is not None
    )
