"""Output containers for ``explain``: scikit-learn's ``set_output`` API.

A relevance has one column per input feature, so it is wrapped the way a
one-to-one transformer's output is (:mod:`sklearn.utils._set_output`): under
``set_output(transform="pandas")`` on the detector, or the global
``sklearn.set_config(transform_output="pandas")`` /
``sklearn.config_context``, ``explain`` returns a :class:`pandas.DataFrame`
with the input's columns and index; ``"polars"`` gives a polars DataFrame
with the input's columns. The configuration is looked up with sklearn's own
``_get_output_config`` and the container built by sklearn's own adapters,
so every container sklearn supports is supported here.
"""

import numpy as np
from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config

__all__ = ["check_output_option", "output_container", "wrap_relevance"]


def check_output_option(transform, owner):
    """Validate the ``transform`` argument of ``set_output``."""
    if transform is None:
        return
    supported = sorted(ADAPTERS_MANAGER.supported_outputs)
    if transform not in supported:
        raise ValueError(
            f"{owner}.set_output: transform must be one of {supported} or None; "
            f"got transform={transform!r}."
        )


def output_container(*estimators):
    """The dense output container for ``explain``: "default", "pandas", "polars".

    The first estimator with an explicit ``set_output`` setting decides;
    otherwise the global ``transform_output`` configuration.
    """
    for est in estimators:
        config = getattr(est, "_sklearn_output_config", None) or {}
        if "transform" in config:
            return _get_output_config("transform", est)["dense"]
    return _get_output_config("transform", None)["dense"]


def _input_columns(X, estimator, n_features):
    cols = getattr(X, "columns", None)
    if cols is not None and len(cols) == n_features:
        return list(cols) if not hasattr(cols, "to_numpy") else cols
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == n_features:
        return np.asarray(names, dtype=object)
    return np.asarray([f"x{i}" for i in range(n_features)], dtype=object)


def wrap_relevance(R, X, estimator, container=None):
    """``R`` as the configured container, with the columns and index of ``X``.

    Parameters
    ----------
    R : ndarray of shape (n_samples, n_features)
    X : array-like
        The input ``explain`` was given (its columns and index are kept).
    estimator : estimator
        Its ``feature_names_in_`` name the columns when ``X`` has none.
    container : str or None
        "default", "pandas" or "polars"; looked up from ``estimator`` and the
        global configuration when None.

    Returns
    -------
    R : ndarray or DataFrame
    """
    if container is None:
        container = output_container(estimator)
    if container == "default":
        return R
    adapter = ADAPTERS_MANAGER.adapters[container]
    columns = _input_columns(X, estimator, R.shape[1])
    return adapter.create_container(R, X, columns=columns, inplace=True)
