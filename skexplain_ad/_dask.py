"""Scale-out on Dask: the one place where public methods meet dask arrays.

A row-chunked :class:`dask.array.Array` given to ``outlier_score`` or
``explain`` (and so to ``score_samples``, ``decision_function`` and
``predict``, built on them) comes back as a lazy dask array with the same
row chunks. The fitted estimator enters the graph once, as a single
``dask.delayed`` key that every block task depends on: a distributed
scheduler ships it to each worker once, not once per chunk. Each block runs
the estimator's ordinary numpy path, so results equal the single-process
ones: to the last bit when both run BLAS on one thread (Dask workers do by
default), to round-off (~1e-16 relative) otherwise, since multi-threaded
OpenBLAS may order a dot product's partial sums differently.

Nothing here imports dask until a dask array arrives.
"""

import warnings

import numpy as np

__all__ = ["is_dask_array", "map_row_blocks"]


def is_dask_array(X):
    """True for a :class:`dask.array.Array`, without importing dask.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._dask import is_dask_array
    >>> is_dask_array(np.zeros(3))
    False
    """
    return type(X).__module__.startswith("dask.array") and type(X).__name__ == "Array"


def _apply_block(block, estimator, method, block_info=None):
    loc = block_info[0]["array-location"][0] if block_info else (None, None)
    try:
        return getattr(estimator, method)(block)
    except ValueError as exc:
        raise ValueError(
            f"{type(estimator).__name__}.{method} failed on the dask chunk of rows "
            f"{loc[0]}:{loc[1]}: {exc}"
        ) from exc


def map_row_blocks(estimator, method, X):
    """Lazily apply ``estimator.<method>`` to each row block of dask array ``X``.

    Parameters
    ----------
    estimator : fitted detector
    method : {"outlier_score", "explain"}
        A method returning one value per row, or one row per row.
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows; a column-chunked array is rechunked to whole
        rows with a warning.

    Returns
    -------
    out : dask.array.Array
        Shape (n_samples,) or (n_samples, n_features), the row chunks of
        ``X``; float32 for float32 input, float64 otherwise.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or has the wrong number of columns (checked
        before any computation); a failing block (NaN, inf) names its rows.
    """
    import dask
    import dask.array as da

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D dask array, got {X.ndim}D with shape {X.shape}.")
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if len(X.chunks[1]) > 1:
        warnings.warn(
            f"{name}.{method}: the dask array is chunked along columns "
            f"{X.chunks[1]}; rechunking to whole rows (each block needs every feature).",
            UserWarning,
            stacklevel=3,
        )
        X = X.rechunk({1: -1})
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if X.dtype != dtype:
        X = X.astype(dtype)
    model = dask.delayed(estimator, pure=True, traverse=False)
    if method == "explain":
        return da.map_blocks(_apply_block, X, model, method, dtype=dtype, chunks=X.chunks,
                             meta=np.empty((0, 0), dtype))
    return da.map_blocks(_apply_block, X, model, method, dtype=dtype, drop_axis=1,
                         chunks=(X.chunks[0],), meta=np.empty((0,), dtype))


def sq_distance_blocks(A, B, *, exclude_self=False, sq_distances):
    """Squared distances of the rows of ``A`` to ``B``, as persisted row blocks.

    The O(n^2) part of the gamma heuristics ([T] eq. 3.1, [P] likelihood)
    on a cluster: ``B`` (the training rows, small enough to fit one
    machine, as the model itself must) enters the graph once; each row block
    of ``A`` becomes one block of distances on the worker that computes it.

    Parameters
    ----------
    A : dask.array.Array of shape (n_a, d)
    B : ndarray of shape (n_b, d)
    exclude_self : bool, default=False
        Set ``D[i, i] = inf`` (``A`` and ``B`` are the same rows).
    sq_distances : callable
        ``sq_distances(A_block, B) -> ndarray (n_block, n_b)``.

    Returns
    -------
    D : dask.array.Array of shape (n_a, n_b), persisted, float64
    """
    import dask
    import dask.array as da

    if len(A.chunks[1]) > 1:
        A = A.rechunk({1: -1})
    b = dask.delayed(B, pure=True, traverse=False)

    def block(a, b, block_info=None):
        D = sq_distances(a, b)
        if exclude_self:
            r0 = block_info[0]["array-location"][0][0]
            rows = np.arange(len(a))
            D[rows, r0 + rows] = np.inf
        return D

    D = da.map_blocks(block, A, b, dtype=np.float64, chunks=(A.chunks[0], (B.shape[0],)),
                      meta=np.empty((0, 0)))
    return D.persist()


def block_reduce(D, func, width=1):
    """Apply ``func(block) -> ndarray (n_block_rows, width)`` to each row block; gather.

    Parameters
    ----------
    D : dask.array.Array
    func : callable
    width : int

    Returns
    -------
    out : ndarray of shape (n_rows, width)
    """
    import dask.array as da

    return da.map_blocks(func, D, dtype=np.float64, chunks=(D.chunks[0], (width,)),
                         meta=np.empty((0, 0))).compute()
