r"""Gamma heuristics: the stiffness of the soft-min detectors from the data.

Below the detectors in the layering (they import this module; it imports
none of the estimators). :mod:`skexplain_ad.model_selection` re-exports the
public names.

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
"""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

from ._dask import block_reduce, is_dask_array, sq_distance_blocks
from ._softmin import kde_log_likelihood, kde_log_normaliser, sq_distances
from ._chunks import chunk_n_rows

__all__ = [
    "scale_gamma",
    "knn_mass_gamma",
    "likelihood_gamma",
    "kde_log_likelihood",
    "resolve_gamma",
    "GAMMA_HEURISTICS",
]


def _local(X, **kwargs):
    """``X`` validated as a local float64 array (a dask array is computed:
    the heuristics need every training row, as the fitted model does)."""
    if is_dask_array(X):
        X = X.compute()
    return check_array(X, dtype=np.float64, **kwargs)


def _knn_mass_terms(X_in, X, k):
    """k-NN distances (n*k,), the off-diagonal log-sum-exp as a function of
    gamma, and the median positive off-diagonal distance (bracket start).

    With dask input the n x n distances stay on the workers as row blocks
    and each evaluation is one blockwise reduction; the median is then the
    median of the blocks' medians (it only seeds the bracket)."""
    if not is_dask_array(X_in):
        D = _sq_distances(X, X)
        np.fill_diagonal(D, np.inf)
        near = np.partition(D, k - 1, axis=1)[:, :k].ravel()
        off = D[np.isfinite(D)]
        pos = off[off > 0]
        if pos.size == 0:
            raise ValueError("knn_mass_gamma: all samples coincide; gamma is undefined.")
        return near, lambda g: logsumexp(-g * off), float(np.median(pos))
    import dask.array as da

    D = sq_distance_blocks(da.asarray(X_in, dtype=np.float64), X, exclude_self=True,
                           sq_distances=_sq_distances)
    near = block_reduce(D, lambda b: np.partition(b, k - 1, axis=1)[:, :k], width=k).ravel()

    def block_median(b):
        pos = b[np.isfinite(b) & (b > 0)]
        return np.full((len(b), 1), np.median(pos) if pos.size else np.nan)

    meds = block_reduce(D, block_median)
    if np.all(np.isnan(meds)):
        raise ValueError("knn_mass_gamma: all samples coincide; gamma is undefined.")

    def lse_off(g):
        def rows(b):
            fin = np.where(np.isfinite(b), -g * b, -np.inf)
            return logsumexp(fin, axis=1)[:, None]

        return logsumexp(block_reduce(D, rows))

    return near, lse_off, float(np.nanmedian(meds))


def _sq_distances(A, B):
    """Squared Euclidean distances (float64), the engine's, in row blocks."""
    B = np.asarray(B, dtype=np.float64)
    c = B.mean(axis=0)
    A = np.asarray(A, dtype=np.float64)
    out = np.empty((A.shape[0], B.shape[0]))
    block = chunk_n_rows(8 * (3 * B.shape[0] + A.shape[1]), A.shape[0])
    for s in range(0, A.shape[0], block):
        out[s : s + block] = sq_distances(A[s : s + block], B, center=c)
    return out


@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def scale_gamma(X):
    """``1 / (n_features * X.var())``, sklearn's ``gamma="scale"``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    gamma : float
        1.0 where ``X`` is constant (as sklearn's SVMs do).

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.model_selection import scale_gamma
    >>> scale_gamma(np.array([[0.0, 0.0], [2.0, 2.0]]))
    0.5
    """
    X = check_array(X, dtype=np.float64)
    if not np.any(np.ptp(X, axis=0) > 0):
        return 1.0  # constant: X.var() would be round-off, not zero
    var = X.var()
    return float(1.0 / (X.shape[1] * var)) if var > 0 else 1.0


@validate_params(
    {
        "X": ["array-like"],
        "n_neighbors": [Interval(Real, 0, 1, closed="neither"), Interval(Integral, 1, None, closed="left")],
        "mass": [Interval(Real, 0, 1, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def knn_mass_gamma(X, *, n_neighbors=0.1, mass=0.9, tol=1e-6):
    r"""Gamma at which the k nearest neighbours carry ``mass`` of the kernel mass.

    Solves [T] eq. 3.1,

    .. math::

        \frac{\sum_{i=1}^n \sum_{s=1}^k e^{-\gamma \|x_i - x_{is}\|^2}}
             {\sum_{i \ne j} e^{-\gamma \|x_i - x_j\|^2}} = \text{mass},

    by bisection in :math:`\log\gamma` (the ratio grows from
    :math:`k/(n-1)` at :math:`\gamma \to 0` towards 1 as
    :math:`\gamma \to \infty`). Sums are log-sum-exps, so no ``gamma``
    overflows. Costs one n x n distance matrix (O(n^2) memory).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_neighbors : float in (0, 1) or int >= 1, default=0.1
        k as a fraction of n (the thesis' 10 %) or as a count.
    mass : float in (0, 1), default=0.9
        Target share of the k-NN kernel mass.
    tol : float, default=1e-6
        Bisection stops when the bracket on ``log(gamma)`` is below ``tol``.

    Returns
    -------
    gamma : float

    Raises
    ------
    ValueError
        If ``mass`` cannot be reached (``mass <= k / (n - 1)``, or all
        points coincide) or k >= n.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.model_selection import knn_mass_gamma
    >>> X = np.random.RandomState(0).rand(50, 2)
    >>> g = knn_mass_gamma(X)
    >>> g > 0
    True
    """
    X_in = X
    X = _local(X, ensure_min_samples=3)
    n = X.shape[0]
    k = int(round(n_neighbors * n)) if isinstance(n_neighbors, Real) and n_neighbors < 1 else int(n_neighbors)
    k = max(k, 1)
    if k >= n - 1:
        raise ValueError(
            f"knn_mass_gamma: n_neighbors={n_neighbors!r} gives k={k} neighbours "
            f"for n_samples={n}; k must be below n_samples - 1."
        )
    if mass <= k / (n - 1):
        raise ValueError(
            f"knn_mass_gamma: mass={mass!r} is below the share k/(n-1)={k / (n - 1):.3g} "
            "that the k nearest neighbours carry at any gamma; raise mass or lower n_neighbors."
        )
    near, lse_off, median_off = _knn_mass_terms(X_in, X, k)
    log_mass = np.log(mass)

    def f(t):
        g = np.exp(t)
        return logsumexp(-g * near) - lse_off(g) - log_mass

    t0 = -np.log(median_off)
    lo = hi = t0
    step = np.log(10.0)
    for _ in range(60):
        if f(lo) < 0:
            break
        lo -= step
    for _ in range(60):
        if f(hi) > 0:
            break
        hi += step
    if not (f(lo) < 0 < f(hi)):
        raise ValueError(
            f"knn_mass_gamma: the k-NN mass ratio never crosses mass={mass!r} "
            "(many equidistant or duplicate points?); choose gamma explicitly."
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


@validate_params(
    {
        "X": ["array-like"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def likelihood_gamma(X, *, validation_fraction=0.2, random_state=None):
    """Gamma maximising the held-out likelihood of the Gaussian KDE.

    The paper's bandwidth choice ([P] Sec. 3): fit the KDE on a random
    ``1 - validation_fraction`` of the (inlier) rows and maximise
    :func:`kde_log_likelihood` of the rest over ``log(gamma)`` (a log-spaced
    grid, then a bounded 1-D refinement around its best point).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inliers.
    validation_fraction : float in (0, 1), default=0.2
    random_state : int, RandomState instance or None, default=None
        Seeds the split.

    Returns
    -------
    gamma : float

    Raises
    ------
    ValueError
        If fewer than 2 rows, or all rows coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.model_selection import likelihood_gamma
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> g = likelihood_gamma(X, random_state=0)
    >>> h = 1 / np.sqrt(2 * g)         # the bandwidth, near Scott's n**(-1/6) = 0.41
    >>> bool(0.3 < h < 0.5)
    True
    """
    X_in = X
    X = _local(X, ensure_min_samples=2)
    n, d = X.shape
    rng = check_random_state(random_state)
    perm = rng.permutation(n)
    n_val = min(max(1, int(round(validation_fraction * n))), n - 1)
    val, train = X[perm[:n_val]], X[perm[n_val:]]
    if is_dask_array(X_in):
        # the n_val x n_train distances stay on the workers as row blocks
        import dask.array as da

        D2 = sq_distance_blocks(da.from_array(val, chunks=(X_in.chunks[0][0], d)), train,
                                sq_distances=_sq_distances)
        ext = block_reduce(D2, lambda b: np.c_[np.where(b > 0, b, np.inf).min(1), b.max(1)], width=2)
        dmin, dmax = ext[:, 0].min(), ext[:, 1].max()

        def ll_rows(g):
            return block_reduce(D2, lambda b: logsumexp(-g * b, axis=1)[:, None]).ravel()
    else:
        D2 = _sq_distances(val, train)
        pos = D2[D2 > 0]
        dmin, dmax = (pos.min(), pos.max()) if pos.size else (np.inf, 0.0)

        def ll_rows(g):
            return logsumexp(-g * D2, axis=1)
    if not np.isfinite(dmin) or dmax <= 0:
        raise ValueError("likelihood_gamma: all samples coincide; gamma is undefined.")
    lo, hi = np.log(1e-3 / dmax), np.log(1e3 / dmin)
    m = train.shape[0]

    def neg_ll(t):
        # kde_log_likelihood, one row block at a time
        g = np.exp(t)
        return -float(np.mean(ll_rows(g)) - np.log(m) + kde_log_normaliser(g, d))

    grid = np.linspace(lo, hi, 41)
    vals = [neg_ll(t) for t in grid]
    b = int(np.argmin(vals))
    res = minimize_scalar(
        neg_ll,
        bounds=(grid[max(b - 1, 0)], grid[min(b + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-6},
    )
    t = res.x if res.fun <= vals[b] else grid[b]
    return float(np.exp(t))


#: Heuristic name -> ``f(X, random_state=None)`` returning ``gamma``: the
#: string values the detectors' ``gamma`` parameter accepts
#: (:func:`resolve_gamma`).
GAMMA_HEURISTICS = {
    "scale": lambda X, random_state=None: scale_gamma(X),
    "knn_mass": lambda X, random_state=None: knn_mass_gamma(X),
    "likelihood": lambda X, random_state=None: likelihood_gamma(X, random_state=random_state),
}


def resolve_gamma(gamma, X, random_state=None):
    """The float value of a ``gamma`` parameter (a float or a heuristic name).

    Parameters
    ----------
    gamma : float or {"scale", "knn_mass", "likelihood"}
    X : ndarray of shape (n_samples, n_features)
    random_state : int, RandomState instance or None

    Returns
    -------
    gamma : float

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.model_selection import resolve_gamma
    >>> resolve_gamma(0.3, np.zeros((2, 2)))
    0.3
    """
    if isinstance(gamma, str):
        return GAMMA_HEURISTICS[gamma](X, random_state=random_state)
    return float(gamma)
