"""The backend hook the ensembles build on: ``softmin_distances``."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from skexplain_ad import backends
from skexplain_ad._softmin import softmin_outlierness


@pytest.mark.parametrize("name", ["numpy", "numba"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_softmin_distances_matches_loops(name, dtype, rtol):
    rng = np.random.RandomState(0)
    U = rng.normal(size=(30, 5))
    X = rng.normal(size=(7, 5))
    X[0] = U[3]  # a query on a template: d = 0
    lw = np.log(rng.dirichlet(np.ones(30)))
    kernels = backends.get(name)
    prep = kernels.prepare(U, lw, 0.3, U.mean(axis=0), dtype)
    o, D2 = kernels.softmin_distances(X.astype(dtype), prep)
    ref = np.array([[np.sum((x - u) ** 2) for u in U] for x in X])
    assert o.dtype == D2.dtype == np.float64
    assert (D2 >= 0).all()
    assert_allclose(D2, ref, rtol=rtol, atol=rtol * 10)
    assert_allclose(o, -logsumexp(lw - 0.3 * ref, axis=1), rtol=rtol, atol=rtol)
    assert_allclose(o, softmin_outlierness(X, U, lw, 0.3, backend=name), rtol=rtol)
