"""Row chunking and the working-memory policy: the package's ground floor.

Every loop over rows or blocks sizes its pieces here, from scikit-learn's
``working_memory`` (``sklearn.get_config()``) or an explicit budget; this
module imports nothing of the package, so every layer may use it.
"""

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn import get_config
from sklearn.utils import gen_even_slices
from sklearn.utils._chunking import get_chunk_n_rows

__all__ = ["chunk_n_rows", "block_n_rows", "map_row_chunks", "BLOCK_MIB"]


def chunk_n_rows(row_bytes, n_rows, working_memory=None):
    """Rows per chunk so that one chunk's temporaries fit ``working_memory``.

    Parameters
    ----------
    row_bytes : int
        Bytes of temporaries per query row.
    n_rows : int
        Total number of rows (the result never exceeds it).
    working_memory : float or None
        MiB; ``sklearn.get_config()["working_memory"]`` when None.

    Returns
    -------
    n : int
        At least 1.
    """
    # sklearn's policy (it warns and returns 1 when one row exceeds the budget)
    return max(1, get_chunk_n_rows(max(int(row_bytes), 1), max_n_rows=max(int(n_rows), 1),
                                   working_memory=working_memory))


#: MiB: the most one inner block of a chunk holds (the blocks of template
#: pairs inside a row chunk of the Times ensemble): a size for the caches and
#: the GEMMs; scikit-learn's ``working_memory`` sizes the row chunks
BLOCK_MIB = 32


def block_n_rows(row_bytes, n_rows):
    """Rows of an inner block: :func:`chunk_n_rows` within
    ``min(working_memory, BLOCK_MIB)``.

    Parameters
    ----------
    row_bytes : int
        Bytes of temporaries per row of the block.
    n_rows : int
        Total number of rows.

    Returns
    -------
    n : int
        At least 1.
    """
    return chunk_n_rows(row_bytes, n_rows, min(get_config()["working_memory"], BLOCK_MIB))


def map_row_chunks(func, X, *, row_bytes, out_shapes, n_jobs=None, row_args=()):
    """Apply ``func`` to row chunks of ``X`` and gather the results.

    Parameters
    ----------
    func : callable
        ``func(X_chunk, *row_args_chunk)`` returning an array or a tuple of
        arrays whose first axis is the chunk's rows.
    X : ndarray of shape (n, d)
    row_bytes : int
        Bytes of temporaries per row, to size chunks (:func:`chunk_n_rows`).
    out_shapes : list of (tuple, dtype)
        Trailing shape and dtype of each output, e.g. ``[((), float64)]``.
    n_jobs : int or None
        Chunks run in joblib threads (the kernels release the GIL).
    row_args : tuple of ndarray, default=()
        Arrays with one entry per row of ``X``, sliced alongside it.

    Returns
    -------
    out : ndarray or tuple of ndarray
    """
    n = X.shape[0]
    outs = [np.empty((n, *shape), dtype=dtype) for shape, dtype in out_shapes]
    step = chunk_n_rows(row_bytes, n)
    n_jobs = effective_n_jobs(n_jobs)
    if n_jobs > 1 and n > step:
        # at least one chunk per thread, none larger than working_memory
        n_chunks = max(-(-n // step), n_jobs)
        slices = list(gen_even_slices(n, n_chunks))
    else:
        slices = [slice(i, min(i + step, n)) for i in range(0, n, step)]

    def run(sl):
        res = func(X[sl], *(a[sl] for a in row_args))
        res = res if isinstance(res, tuple) else (res,)
        for out, r in zip(outs, res):
            out[sl] = r

    if n_jobs > 1 and len(slices) > 1:
        from threadpoolctl import threadpool_limits

        # one BLAS thread per joblib thread: no oversubscription
        with threadpool_limits(limits=1, user_api="blas"):
            Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(s) for s in slices)
    else:
        for s in slices:
            run(s)
    return outs[0] if len(outs) == 1 else tuple(outs)
