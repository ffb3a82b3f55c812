r"""Explanations through scikit-learn pipelines, on the user's own features.

A detector at the end of a :class:`~sklearn.pipeline.Pipeline` explains its
outlierness on the features it sees, the output of the preprocessing.
:func:`explain` carries that relevance back through each preprocessing step
to the raw input features, conserving it step by step (each step's input
relevance sums to its output relevance):

- elementwise maps (:class:`~sklearn.preprocessing.StandardScaler`,
  :class:`~sklearn.preprocessing.MinMaxScaler`,
  :class:`~sklearn.preprocessing.MaxAbsScaler`,
  :class:`~sklearn.preprocessing.RobustScaler`,
  :class:`~sklearn.preprocessing.PowerTransformer`,
  :class:`~sklearn.preprocessing.QuantileTransformer`), ``"passthrough"``
  and ``None`` steps: output feature :math:`j` depends on input feature
  :math:`j` only, so it passes its relevance on unchanged;
- feature selectors (anything with ``get_support``): relevance goes to the
  kept features, zero to the dropped ones;
- :class:`~sklearn.compose.ColumnTransformer` of supported steps (a
  ``"drop"`` or unused column gets zero; a column used by several
  transformers sums their relevances), and nested pipelines;
- linear maps (:class:`~sklearn.decomposition.PCA`, whitened or not, and any
  transformer with ``components_`` whose ``transform`` is
  :math:`z = (x - \bar x) W`): the z-rule of [P] App. A.4 on the centred
  input :math:`a = x - \bar x` (``mean_``, or 0 for a transformer without
  one),

  .. math::

      R_j = \sum_k \frac{a_j W_{jk}}{z_k} R_k, \qquad z_k = \sum_j a_j W_{jk},

  with :math:`W` = ``components_.T`` divided by the whitening scale
  :math:`\sqrt{\lambda_k}` for a whitened PCA (the scale cancels in
  :math:`a_j W_{jk} / z_k`: whitening changes the detector's :math:`R_k`,
  not how each is split).

The z-rule conserves, :math:`\sum_j a_j W_{jk} / z_k = 1`, but is undefined
at :math:`z_k = 0` and ill-conditioned near it (the terms
:math:`a_j W_{jk} / z_k` grow without bound and cancel). Where
:math:`|z_k| \le 10^{-6} S_k`, :math:`S_k = \sum_j |a_j W_{jk}|`, the
component's relevance is split by the absolute contributions instead,
:math:`R_{j \leftarrow k} = |a_j W_{jk}| / S_k \, R_k`; where
:math:`S_k = 0` (the input sits on the mean along the component) by the
component's loadings, :math:`W_{jk}^2 / \sum_{j'} W_{j'k}^2`; a component
with no loadings at all (a zero column of :math:`W`) spreads its relevance
evenly. All three conserve. The threshold bounds the round-off of the
conservation by about :math:`(d + 1)\,\epsilon / 10^{-6} \approx 2\cdot10^{-10} (d+1)`
relative to :math:`R_k` in the worst case, to :math:`\epsilon` times the
conditioning :math:`S_k / |z_k|` in general.

Note that the z-rule gives *signed* relevance on the input features
(:math:`a_j W_{jk}` and :math:`z_k` take either sign), even when the
detector's own relevance is non-negative.

A step outside this list raises a ``ValueError`` naming it before any
computation; a transformer with ``components_`` whose ``transform`` turns
out not to be that linear map (checked on the data, before the detector
runs) likewise.

References: [P] J. Kauffmann et al., "The Clever Hans Effect in Anomaly
Detection", 2020, App. A.4.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import (
    NMF,
    PCA,
    DictionaryLearning,
    FactorAnalysis,
    IncrementalPCA,
    LatentDirichletAllocation,
    MiniBatchDictionaryLearning,
    MiniBatchNMF,
    MiniBatchSparsePCA,
    SparsePCA,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._output import output_container, wrap_relevance

__all__ = ["explain"]

#: elementwise maps: output feature j depends on input feature j only
ELEMENTWISE = (
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
    PowerTransformer,
    QuantileTransformer,
)

#: transformers with ``components_`` whose transform is not (x - mean_) @ components_.T
_NONLINEAR_COMPONENTS = (
    NMF,
    MiniBatchNMF,
    LatentDirichletAllocation,
    DictionaryLearning,
    MiniBatchDictionaryLearning,
    SparsePCA,
    MiniBatchSparsePCA,
    FactorAnalysis,
)

#: the z-rule falls back to absolute shares where |z_k| <= _Z_TOL * S_k
_Z_TOL = 1e-6

_SUPPORTED = (
    "elementwise scalers (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, "
    "PowerTransformer, QuantileTransformer), 'passthrough' or None, feature selectors "
    "(get_support), ColumnTransformer and Pipeline of these, and linear maps "
    "(PCA, or a transformer with components_ whose transform is (x - mean_) @ components_.T)"
)


# ----------------------------------------------------------------- checking
def _kind(step):
    """How relevance passes ``step``; None if it cannot."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return "identity"
    if isinstance(step, str) and step == "drop":
        return "drop"
    if isinstance(step, Pipeline):
        return "pipeline"
    if isinstance(step, ColumnTransformer):
        return "columns"
    if isinstance(step, ELEMENTWISE):
        return "identity"
    if _is_passthrough_function(step):
        return "identity"
    if hasattr(step, "get_support"):
        return "select"
    if isinstance(step, (PCA, IncrementalPCA)) or (
        hasattr(step, "components_") and not isinstance(step, _NONLINEAR_COMPONENTS)
    ):
        return "linear"
    return None


def _is_passthrough_function(step):
    # ColumnTransformer stores a fitted "passthrough" as this identity
    from sklearn.preprocessing import FunctionTransformer

    return (
        isinstance(step, FunctionTransformer)
        and step.func is None
        and step.inverse_func is None
    )


def _check_step(step, where):
    """Raise before any work if relevance cannot pass ``step`` (recursive)."""
    kind = _kind(step)
    if kind is None:
        raise ValueError(
            f"explain cannot carry relevance through step {where} "
            f"({type(step).__name__}); supported steps are {_SUPPORTED}."
        )
    if kind == "pipeline":
        for name, sub in step.steps:
            _check_step(sub, f"{where}[{name!r}]")
    elif kind == "columns":
        check_is_fitted(step)
        for name, sub, _ in step.transformers_:
            _check_step(sub, f"{where}[{name!r}]")
    elif kind in ("select", "linear"):
        check_is_fitted(step)


# ------------------------------------------------------------ linear maps
def linear_map(step):
    """``(W, mean)`` of a linear transformer: ``transform(x) = (x - mean) @ W``.

    Parameters
    ----------
    step : fitted transformer with ``components_``

    Returns
    -------
    W : ndarray of shape (n_features_in, n_components), float64
        ``components_.T``, divided column-wise by ``sqrt(explained_variance_)``
        (floored at the dtype's eps, as sklearn's ``PCA.transform`` does) for
        a whitened PCA.
    mean : ndarray of shape (n_features_in,), float64
        ``mean_``, zeros for a transformer without one.
    """
    C = step.components_
    C = C.toarray() if sp.issparse(C) else np.asarray(C)
    W = np.asarray(C, dtype=np.float64).T.copy()
    if isinstance(step, (PCA, IncrementalPCA)) and step.whiten:
        var = np.asarray(step.explained_variance_)
        scale = np.sqrt(var)
        scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        W /= scale.astype(np.float64)
    mean = getattr(step, "mean_", None)
    mean = np.zeros(W.shape[0]) if mean is None else np.asarray(mean, dtype=np.float64)
    return W, mean


def z_rule(A, W, R):
    r"""The z-rule of [P] App. A.4: relevance of ``z = A @ W`` back on ``A``.

    Parameters
    ----------
    A : ndarray of shape (n_samples, n_in)
        The centred inputs :math:`a = x - \bar x`.
    W : ndarray of shape (n_in, n_out)
    R : ndarray of shape (n_samples, n_out)
        Relevance of each output :math:`z_k`.

    Returns
    -------
    R_in : ndarray of shape (n_samples, n_in)
        :math:`R_j = \sum_k a_j W_{jk} / z_k \, R_k`, with the fallbacks of
        the module docstring where :math:`|z_k| \le 10^{-6} S_k`; each row
        sums to the row of ``R``.
    """
    A = np.asarray(A, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    absA, absW = np.abs(A), np.abs(W)
    Z = A @ W
    S = absA @ absW
    regular = np.abs(Z) > _Z_TOL * S  # false where S = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = A * (np.where(regular, R / Z, 0.0) @ W.T)
        spread = ~regular & (S > 0)
        if spread.any():
            out += absA * (np.where(spread, R / S, 0.0) @ absW.T)
        col2 = np.einsum("jk,jk->k", W, W)
        on_mean = (S == 0) & (col2 > 0)
        if on_mean.any():
            out += np.where(on_mean, R / col2, 0.0) @ (W * W).T
    dead = col2 == 0
    if dead.any():
        out += R[:, dead].sum(axis=1, keepdims=True) / W.shape[0]
    return out


def _check_linear(step, where, X_in, W, mean, Z):
    """The transformer's own output ``Z`` must equal ``(x - mean) @ W``.

    Up to the round-off of a length-d dot product in ``Z``'s dtype.
    Returns the centred input ``a = x - mean``, float64.
    """
    Z = np.asarray(Z)
    dtype = Z.dtype if Z.dtype in (np.float32, np.float64) else np.float64
    eps = np.finfo(dtype).eps
    Zt = Z.astype(np.float64)
    Xa = np.asarray(X_in, dtype=np.float64)
    Zhat = (Xa - mean) @ W
    bound = (np.abs(Xa) + np.abs(mean)) @ np.abs(W)
    tol = 100.0 * (W.shape[0] + 1) * eps * bound + np.finfo(np.float64).tiny
    if Zt.shape != Zhat.shape or np.any(np.abs(Zt - Zhat) > tol):
        raise ValueError(
            f"explain cannot carry relevance through step {where} "
            f"({type(step).__name__}): its transform is not the linear map "
            "(x - mean_) @ components_.T that the z-rule needs."
        )
    return Xa - mean


# ---------------------------------------------------------------- tracing
def _identity(R):
    return R


def _forward(step, where, X_in, X_out=None):
    """Run ``step`` forward; return its output and its backward function."""
    kind = _kind(step)
    if kind == "identity":
        if step is None or isinstance(step, str):
            return X_in, _identity
        return (step.transform(X_in) if X_out is None else X_out), _identity
    if kind == "pipeline":
        backs = []
        X = X_in
        for name, sub in step.steps:
            X, back = _forward(sub, f"{where}[{name!r}]", X)
            backs.append(back)

        def back_pipe(R):
            for back in reversed(backs):
                R = back(R)
            return R

        return X, back_pipe
    if X_out is None:
        X_out = step.transform(X_in)
    n_in = step.n_features_in_
    if kind == "select":
        mask = np.asarray(step.get_support(), dtype=bool)

        def back_select(R):
            out = np.zeros((R.shape[0], n_in))
            out[:, mask] = R
            return out

        return X_out, back_select
    if kind == "linear":
        W, mean = linear_map(step)
        A = _check_linear(step, where, X_in, W, mean, X_out)
        return X_out, lambda R: z_rule(A, W, R)
    # ColumnTransformer
    parts = []
    for name, sub, _ in step.transformers_:
        out_cols = step.output_indices_[name]
        in_cols = step._transformer_to_input_indices[name]
        if _kind(sub) == "drop" or out_cols.stop == out_cols.start or len(in_cols) == 0:
            continue
        X_sub = _safe_indexing(X_in, in_cols, axis=1)
        if _kind(sub) in ("identity", "select"):
            # no need of the sub-transformer's output (True stands in for it)
            _, back = _forward(sub, f"{where}[{name!r}]", X_sub, X_out=True)
        else:
            _, back = _forward(sub, f"{where}[{name!r}]", X_sub)
        parts.append((np.asarray(in_cols), out_cols, back))

    def back_columns(R):
        out = np.zeros((R.shape[0], n_in))
        for in_cols, out_cols, back in parts:
            out[:, in_cols] += back(R[:, out_cols])
        return out

    return X_out, back_columns


def explain(estimator, X):
    r"""Relevance of a detector's outlierness on the raw input features.

    For a detector, its own ``explain``. For a
    :class:`~sklearn.pipeline.Pipeline` that ends in one, the detector's
    relevance on its inputs carried back through the preprocessing steps
    (module :mod:`skexplain_ad.explain`): elementwise scalers pass it
    through, feature selectors route it to the kept features,
    ``ColumnTransformer`` splits it by columns, and linear maps such as PCA
    redistribute it by the z-rule of [P] App. A.4,
    :math:`R_j = \sum_k a_j W_{jk} / z_k \, R_k` on the centred input
    :math:`a = x - \bar x`. Every step conserves: each row sums to the sum
    of the detector's own relevance.

    Parameters
    ----------
    estimator : fitted detector or Pipeline
        A detector of this package (anything with ``explain``), or a fitted
        pipeline whose last step is one and whose other steps are supported
        (module docstring).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Raw inputs, as given to the pipeline's ``fit``.

    Returns
    -------
    relevance : ndarray or DataFrame of shape (n_samples, n_features)
        One column per raw input feature, float64. A DataFrame with the
        input's columns and index when the detector, or the pipeline's
        steps (``pipeline.set_output(transform="pandas")``), or the global
        ``transform_output`` configuration ask for pandas (polars likewise).

    Raises
    ------
    ValueError
        If ``estimator`` is not a detector or a pipeline ending in one, or a
        step cannot pass relevance on; raised before any computation and
        naming the step.

    See Also
    --------
    skexplain_ad.KDEDetector.explain : the relevance of one detector.

    Notes
    -----
    Relevance through an elementwise scaler is unchanged: the detector's
    relevance of a standardised feature is that of the raw feature. Through
    PCA it is signed: a raw feature can receive negative relevance when it
    pulls a component towards the mean.

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. App. A.4.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skexplain_ad import KDEDetector, explain
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)) * [1.0, 10.0, 100.0, 1.0]
    >>> pipe = make_pipeline(StandardScaler(), KDEDetector(gamma=0.5)).fit(X)
    >>> x_out = np.array([[0.0, 0.0, 800.0, 0.0]])    # feature 2: 8 sd away
    >>> R = explain(pipe, x_out)
    >>> R.shape, int(R.argmax())
    ((1, 4), 2)
    >>> pca = make_pipeline(StandardScaler(), PCA(3), KDEDetector(gamma=0.5)).fit(X)
    >>> R = explain(pca, x_out)
    >>> R_det = pca[-1].explain(pca[:-1].transform(x_out))
    >>> bool(np.isclose(R.sum(), R_det.sum()))        # conserved through PCA
    True
    """
    if isinstance(estimator, Pipeline):
        if not estimator.steps:
            raise ValueError("explain: the pipeline has no steps.")
        *pre, (last_name, detector) = estimator.steps
        if not hasattr(detector, "explain"):
            raise ValueError(
                f"explain needs a detector (an estimator with explain) as the last "
                f"step of the pipeline; step {last_name!r} is "
                f"{type(detector).__name__}."
            )
        for name, step in pre:
            _check_step(step, repr(name))
        check_is_fitted(detector)
        container = output_container(
            detector, *(s for _, s in pre if s is not None and not isinstance(s, str))
        )
        Xt = X
        backs = []
        for name, step in pre:
            Xt, b = _forward(step, repr(name), Xt)
            backs.append(b)
        # the detector's own container is dropped: np.asarray of a DataFrame
        R = np.asarray(detector.explain(Xt), dtype=np.float64)
        for b in reversed(backs):
            R = b(R)
        return wrap_relevance(R, X, estimator, container)
    if not hasattr(estimator, "explain"):
        raise ValueError(
            f"explain needs a detector (an estimator with explain) or a Pipeline "
            f"ending in one; got {type(estimator).__name__}."
        )
    return estimator.explain(X)

