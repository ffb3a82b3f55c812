"""The gamma heuristics in row blocks give the bits of the one-matrix
computation, whether the distances are kept or recomputed per sweep."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from sklearn import config_context

from skexplain_ad import _gamma
from skexplain_ad._gamma import _sq_distances
from skexplain_ad._softmin import kde_log_normaliser
from skexplain_ad.model_selection import knn_mass_gamma, likelihood_gamma


def knn_mass_one_matrix(X, n_neighbors=0.1, mass=0.9, tol=1e-6):
    """[T] eq. 3.1 by bisection on the whole n x n matrix (the code of 8488dd2)."""
    n = X.shape[0]
    k = max(int(round(n_neighbors * n)) if n_neighbors < 1 else int(n_neighbors), 1)
    D = _sq_distances(X, X)
    np.fill_diagonal(D, np.inf)
    near = np.partition(D, k - 1, axis=1)[:, :k].ravel()
    off = D[np.isfinite(D)]
    pos = off[off > 0]

    def f(t):
        g = np.exp(t)
        return logsumexp(-g * near) - logsumexp(-g * off) - np.log(mass)

    lo = hi = -np.log(float(np.median(pos)))
    step = np.log(10.0)
    for _ in range(60):
        if f(lo) < 0:
            break
        lo -= step
    for _ in range(60):
        if f(hi) > 0:
            break
        hi += step
    assert f(lo) < 0 < f(hi)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def likelihood_one_matrix(X, validation_fraction=0.2, random_state=0):
    """Held-out KDE likelihood maximised on the whole distance matrix (8488dd2)."""
    n, d = X.shape
    perm = np.random.RandomState(random_state).permutation(n)
    n_val = min(max(1, int(round(validation_fraction * n))), n - 1)
    val, train = X[perm[:n_val]], X[perm[n_val:]]
    D2 = _sq_distances(val, train)
    pos = D2[D2 > 0]
    lo, hi = np.log(1e-3 / pos.max()), np.log(1e3 / pos.min())
    m = train.shape[0]

    def neg_ll(t):
        g = np.exp(t)
        return -float(np.mean(logsumexp(-g * D2, axis=1)) - np.log(m) + kde_log_normaliser(g, d))

    grid = np.linspace(lo, hi, 41)
    vals = [neg_ll(t) for t in grid]
    b = int(np.argmin(vals))
    res = minimize_scalar(neg_ll, bounds=(grid[max(b - 1, 0)], grid[min(b + 1, 40)]),
                          method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x if res.fun <= vals[b] else grid[b]))


def _data(m, d, seed):
    X = np.random.RandomState(seed).normal(size=(m, d))
    X[3] = X[1]  # a duplicate: a zero off-diagonal distance
    X[7] = X[1]
    return X


@pytest.fixture(params=[None, 128, 1000])
def leaf(request, monkeypatch):
    """Values per leaf of the blockwise sums; small leaves split the pairwise
    tree many times and make the median's histogram sweeps narrow a range."""
    if request.param is not None:
        monkeypatch.setattr(_gamma, "_LEAF", request.param)
    return request.param


# working_memory (MiB): the default keeps the distances, 0.05 recomputes
# them in blocks of a few rows on every sweep
@pytest.mark.parametrize("working_memory", [None, 0.05])
@pytest.mark.parametrize("m, d, seed", [(40, 3, 0), (201, 6, 1), (500, 2, 2)])
def test_knn_mass_is_bit_for_bit_the_one_matrix_bisection(working_memory, m, d, seed, leaf):
    X = _data(m, d, seed)
    want = [knn_mass_one_matrix(X), knn_mass_one_matrix(X, n_neighbors=4, mass=0.5)]
    with config_context(working_memory=working_memory or 1024):
        got = [knn_mass_gamma(X), knn_mass_gamma(X, n_neighbors=4, mass=0.5)]
    assert got == want


@pytest.mark.parametrize("working_memory", [None, 0.05])
@pytest.mark.parametrize("m, d, seed", [(40, 3, 0), (301, 6, 1)])
def test_likelihood_is_bit_for_bit_the_one_matrix_search(working_memory, m, d, seed):
    X = _data(m, d, seed)
    with config_context(working_memory=working_memory or 1024):
        got = likelihood_gamma(X, random_state=seed)
    assert got == likelihood_one_matrix(X, random_state=seed)


@pytest.mark.parametrize("working_memory", [0.1, 0.05])
def test_kept_and_recomputed_distances_with_histogram_median(working_memory, leaf):
    # m = 100 at 0.1 MiB: the distances are kept, their median found by
    # histogram sweeps; at 0.05 MiB they are recomputed per sweep
    X = _data(100, 4, 3)
    with config_context(working_memory=working_memory):
        assert _gamma._OffDiagonal(X).stored == (working_memory == 0.1)
        got = knn_mass_gamma(X, n_neighbors=5, mass=0.7)
    assert got == knn_mass_one_matrix(X, n_neighbors=5, mass=0.7)


def test_median_of_many_equal_distances(leaf):
    # a lattice: most pairwise distances repeat, so the histogram sweeps
    # must stop on a range of one value
    X = np.array([[i, j] for i in range(12) for j in range(12)], dtype=float)
    with config_context(working_memory=0.01):
        got = knn_mass_gamma(X, n_neighbors=4, mass=0.6)
    assert got == knn_mass_one_matrix(X, n_neighbors=4, mass=0.6)


@pytest.mark.parametrize("n", [1, 7, 8, 129, 1000, 8193, 70001])
def test_tree_sums_are_numpys_sum(n, monkeypatch):
    monkeypatch.setattr(_gamma, "_LEAF", 128)
    rng = np.random.RandomState(n)
    v = rng.rand(n) * 10.0 ** rng.uniform(-8, 8, n)
    pieces = np.array_split(v, 5)
    got = _gamma._tree_sums(_gamma._Stream(pieces), n, lambda x: np.vstack([x, 2 * x]))
    assert got[0] == np.sum(v) and got[1] == np.sum(2 * v)
