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
from sklearn import get_config
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


#: float64 values per leaf of the exact blockwise sums (:func:`_tree_sums`)
_LEAF = 1 << 18


def _budget_bytes():
    """Bytes of working memory (scikit-learn's ``working_memory``)."""
    return get_config()["working_memory"] * 2**20


def _row_blocks(A, B):
    """``(rows, D)`` of the squared distances of ``A`` to ``B``, row block by
    row block: the very blocks (and bits) of :func:`_sq_distances`."""
    B = np.asarray(B, dtype=np.float64)
    c = B.mean(axis=0)
    A = np.asarray(A, dtype=np.float64)
    block = chunk_n_rows(8 * (3 * B.shape[0] + A.shape[1]), A.shape[0])
    for s in range(0, A.shape[0], block):
        yield slice(s, min(s + block, A.shape[0])), sq_distances(A[s : s + block], B, center=c)


class _OffDiagonal:
    """The off-diagonal squared distances of ``X``, ``D[isfinite(D)]`` with
    the diagonal set to inf (row-major), without the n x n matrix.

    Its row blocks are kept when they fit ``working_memory`` (``stored``);
    otherwise every sweep recomputes them (one GEMM per sweep), so that
    memory stays within ``working_memory`` plus one block's temporaries and
    the O(n k) nearest-neighbour distances.
    """

    def __init__(self, X):
        self.X = X
        n = X.shape[0]
        self.stored = 8 * n * n <= _budget_bytes()

    def _computed(self):
        for rows, D in _row_blocks(self.X, self.X):
            D[np.arange(D.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
            yield D

    def first_sweep(self, k):
        """k-NN distances (n*k,) and the flat values' count, min, and the
        count, min and max of the positive ones; stores the values if they fit."""
        near, blocks = [], []
        N = n_pos = 0
        vmin = pmin = np.inf
        pmax = -np.inf
        for D in self._computed():
            near.append(np.partition(D, k - 1, axis=1)[:, :k])
            if self.stored:
                blocks.append(D)
            v = D[np.isfinite(D)]
            N += v.size
            if v.size:
                vmin = min(vmin, v.min())
            pos = v[v > 0]
            n_pos += pos.size
            if pos.size:
                pmin, pmax = min(pmin, pos.min()), max(pmax, pos.max())
        self.blocks = blocks if self.stored else None
        self.N, self.vmin = N, vmin
        return np.concatenate(near).ravel(), n_pos, pmin, pmax

    def sweep(self):
        """The flat values, in order, in pieces."""
        for D in self.blocks if self.stored else self._computed():
            # a row block at a time: the flat copy of a kept block never
            # outlives it
            rows = max(1, _LEAF // max(D.shape[1], 1))
            for s in range(0, D.shape[0], rows):
                part = D[s : s + rows]
                yield part[np.isfinite(part)]


class _Stream:
    """Consecutive pieces of a flat sequence, taken ``n`` values at a time."""

    def __init__(self, pieces):
        self.pieces = iter(pieces)
        self.buf = np.empty(0)

    def take(self, n):
        parts, have = [], 0
        while have < n:
            if self.buf.size == 0:
                self.buf = next(self.pieces)
                continue
            part = self.buf[: n - have]
            self.buf = self.buf[part.size:]
            parts.append(part)
            have += part.size
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _tree_sums(stream, N, leaf_values):
    """``np.sum`` of the flat sequence of ``leaf_values(v)`` (K rows per
    value), without the sequence: numpy sums a contiguous float64 array
    pairwise, splitting ``n > 128`` values at ``n2 = n // 2 - (n // 2) % 8``
    ([numpy's ``pairwise_sum``]); a subtree of at most :data:`_LEAF` values
    is summed by numpy itself on its slice, so the result is the very bits of
    the one-array sum."""
    def rec(n):
        if n <= _LEAF:
            return leaf_values(stream.take(n)).sum(axis=1)
        n2 = n // 2
        n2 -= n2 % 8
        return rec(n2) + rec(n - n2)

    return rec(N)


def _lse_off(off, gs):
    """``logsumexp(-g * off_values)`` for each ``g`` in ``gs``, bit for bit
    scipy's (1.17: the maximal terms taken out of the sum, ``log1p(s / m) +
    log(m) + a_max``), in one sweep over ``off``."""
    gs = np.asarray(gs, dtype=np.float64)
    neg = (-gs)[:, None]
    a_max = (-gs) * off.vmin  # rounding is monotone: the max of (-g) * v
    counts = np.zeros(gs.size)

    def leaf(v):
        a = neg * v
        hit = a == a_max[:, None]
        counts[:] += hit.sum(axis=1)
        a[hit] = -np.inf
        return np.exp(a - a_max[:, None])

    if off.N == 0:
        return np.full(gs.size, -np.inf)
    s = _tree_sums(_Stream(off.sweep()), off.N, leaf)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(s == 0, s, s / counts)
        out = np.log1p(s) + np.log(counts) + a_max
    bad = ~np.isfinite(out)
    if bad.any():  # scipy's fallback: the direct log(sum(exp(a)))
        direct = _tree_sums(_Stream(off.sweep()), off.N, lambda v: np.exp(neg[bad] * v))
        with np.errstate(divide="ignore"):
            out[bad] = np.log(direct)
    return out


def _order_statistics(off, ranks, n_pos, pmin, pmax):
    """The values of the given ranks (0-based, ascending) among the positive
    flat values, exactly, by histogram sweeps that narrow a value range until
    it holds few enough values to sort."""
    lo_v, hi_v = pmin, np.nextafter(pmax, np.inf)
    below = 0  # positive values under lo_v
    cap = max(_LEAF, int(0.25 * _budget_bytes() / 8))
    bins = 1 << 12
    while True:
        edges = np.linspace(lo_v, hi_v, bins + 1)
        cnt = np.zeros(bins, dtype=np.int64)
        inside = []  # the values in range, while they are few
        total = 0
        vmin, vmax = np.inf, -np.inf
        for v in off.sweep():
            v = v[(v > 0) & (v >= lo_v) & (v < hi_v)]
            total += v.size
            if v.size:
                vmin, vmax = min(vmin, v.min()), max(vmax, v.max())
            if inside is not None:
                inside = inside + [v] if total <= cap else None
            idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1)
            cnt += np.bincount(idx, minlength=bins)
        if inside is not None:
            vals = np.sort(np.concatenate(inside) if inside else np.empty(0))
            return [vals[r - below] for r in ranks]
        if vmin == vmax:
            return [vmin for _ in ranks]
        cum = np.cumsum(cnt)
        i = int(np.searchsorted(cum, ranks[0] - below, side="right"))
        j = int(np.searchsorted(cum, ranks[-1] - below, side="right"))
        below += int(cum[i - 1]) if i > 0 else 0
        lo_v, hi_v = edges[i], edges[j + 1]


def _median_of_positive(off, n_pos, pmin, pmax):
    """``np.median`` of the positive flat values, bit for bit."""
    if off.stored and 8 * n_pos <= 0.25 * _budget_bytes():
        v = np.concatenate(list(off.sweep()))
        return float(np.median(v[v > 0]))
    h = n_pos // 2
    if n_pos % 2:
        return float(np.mean(np.array(_order_statistics(off, [h], n_pos, pmin, pmax))))
    return float(np.mean(np.array(_order_statistics(off, [h - 1, h], n_pos, pmin, pmax))))


def _knn_mass_terms(X_in, X, k):
    """k-NN distances (n*k,), the off-diagonal log-sum-exp as a function of
    gamma (batched: a list of gammas per sweep), the median positive
    off-diagonal distance (bracket start), and whether a sweep is cheap.

    Local input: row blocks of the n x n distances, never the whole matrix
    unless it fits ``working_memory`` (:class:`_OffDiagonal`); the
    values are bit for bit those of the one-matrix computation. With dask
    input the distances stay on the workers as row blocks and each
    evaluation is one blockwise reduction; the median is then the median of
    the blocks' medians (it only seeds the bracket)."""
    if not is_dask_array(X_in):
        off = _OffDiagonal(X)
        near, n_pos, pmin, pmax = off.first_sweep(k)
        if n_pos == 0:
            raise ValueError("knn_mass_gamma: all samples coincide; gamma is undefined.")
        median = _median_of_positive(off, n_pos, pmin, pmax)
        return near, lambda gs: _lse_off(off, gs), median, off.stored
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

    def lse_off(gs):
        out = []
        for g in gs:
            def rows(b, g=g):
                fin = np.where(np.isfinite(b), -g * b, -np.inf)
                return logsumexp(fin, axis=1)[:, None]

            out.append(logsumexp(block_reduce(D, rows)))
        return np.array(out)

    return near, lse_off, float(np.nanmedian(meds)), True


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
    overflows. The n x n distances go in row blocks: memory stays within
    ``working_memory`` (kept whole only if they fit it) plus the
    O(n k) nearest-neighbour distances; when not kept, each sweep of the
    bisection (several of its points at once) recomputes them, one GEMM.

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
    near, lse_off, median_off, cheap = _knn_mass_terms(X_in, X, k)
    log_mass = np.log(mass)
    cache = {}

    def ensure(ts):
        """f at every ``t`` of ``ts`` not yet known, in one sweep."""
        ts = [t for t in dict.fromkeys(ts) if t not in cache]
        if ts:
            lse = lse_off([np.exp(t) for t in ts])
            for t, lo_ in zip(ts, lse):
                cache[t] = logsumexp(-np.exp(t) * near) - lo_ - log_mass

    def f(t):
        ensure([t])
        return cache[t]

    # Bracket and bisect exactly as a loop of single evaluations would, but
    # ask for the points the next steps may need in one sweep (one GEMM per
    # sweep when the distances are not kept): the bracket's next candidates,
    # then the bisection's next levels.
    ahead = 1 if cheap else 6
    depth = 1 if cheap else 3
    t0 = -np.log(median_off)
    step = np.log(10.0)

    def walk(t, sign):
        """The next ``ahead`` points of a bracket loop from ``t`` (its very floats)."""
        pts = []
        for _ in range(ahead):
            pts.append(t)
            t = t - step if sign < 0 else t + step
        return pts

    lo = hi = t0
    ensure(walk(lo, -1) + walk(hi, +1))
    for _ in range(60):
        if lo not in cache:
            ensure(walk(lo, -1))
        if f(lo) < 0:
            break
        lo -= step
    for _ in range(60):
        if hi not in cache:
            ensure(walk(hi, +1))
        if f(hi) > 0:
            break
        hi += step
    ensure([lo, hi])
    if not (f(lo) < 0 < f(hi)):
        raise ValueError(
            f"knn_mass_gamma: the k-NN mass ratio never crosses mass={mass!r} "
            "(many equidistant or duplicate points?); choose gamma explicitly."
        )

    def tree(lo_, hi_, levels, out):
        if levels == 0 or not hi_ - lo_ > tol:
            return
        mid_ = 0.5 * (lo_ + hi_)
        out.append(mid_)
        tree(mid_, hi_, levels - 1, out)
        tree(lo_, mid_, levels - 1, out)

    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if mid not in cache:
            pts = []
            tree(lo, hi, depth, pts)
            ensure(pts)
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
    grid, then a bounded 1-D refinement around its best point). The
    held-out x training distances go in row blocks (kept only if they fit
    half of ``working_memory``, else recomputed for each evaluation).

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
        # the n_val x n_train distances in row blocks, kept only if they fit
        # half of working_memory; each row's log-sum-exp is that of the
        # whole matrix, bit for bit
        keep = 8 * val.shape[0] * train.shape[0] <= 0.5 * _budget_bytes()
        stored = [D for _, D in _row_blocks(val, train)] if keep else None
        dmin, dmax = np.inf, 0.0

        def blocks():
            return iter(stored) if keep else (D for _, D in _row_blocks(val, train))

        for D in blocks():
            pos = D[D > 0]
            if pos.size:
                dmin, dmax = min(dmin, pos.min()), max(dmax, pos.max())

        def ll_rows_many(gs):
            out = [[] for _ in gs]
            for D in blocks():
                for o, g in zip(out, gs):
                    o.append(logsumexp(-g * D, axis=1))
            return [np.concatenate(o) for o in out]

        def ll_rows(g):
            return ll_rows_many([g])[0]
    if not np.isfinite(dmin) or dmax <= 0:
        raise ValueError("likelihood_gamma: all samples coincide; gamma is undefined.")
    lo, hi = np.log(1e-3 / dmax), np.log(1e3 / dmin)
    m = train.shape[0]

    def neg_ll(t):
        # kde_log_likelihood, one row block at a time
        g = np.exp(t)
        return -float(np.mean(ll_rows(g)) - np.log(m) + kde_log_normaliser(g, d))

    grid = np.linspace(lo, hi, 41)
    if is_dask_array(X_in):
        vals = [neg_ll(t) for t in grid]
    else:  # the whole grid in one sweep over the distances
        gs = [np.exp(t) for t in grid]
        vals = [-float(np.mean(ll) - np.log(m) + kde_log_normaliser(g, d))
                for g, ll in zip(gs, ll_rows_many(gs))]
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
