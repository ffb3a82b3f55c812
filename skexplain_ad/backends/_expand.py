"""Squared distances from cross terms: the one place they are expanded.

``||x - u||^2 = ||x||^2 + ||u||^2 - 2 x.u`` on the host, used by the
backends, the Times pair pooling, the engine's subset scores and the gamma
heuristics. A leaf of :mod:`skexplain_ad.backends`: it imports nothing.
"""

import numpy as np

__all__ = ["sq_from_cross", "sqnorms"]


def sq_from_cross(G, xsq, usq):
    """float64 ``d_i^2 = ||x||^2 + ||u_i||^2 - 2 x.u_i`` from the cross terms, clipped at 0.

    The one place (on the host) where squared distances are expanded; the
    engine's :func:`skexplain_ad._softmin.sq_distances`, the Times pair
    distances and the gamma heuristics all call it.
    """
    usq = usq[None, :] if usq.ndim == 1 else usq  # (m,) or per row (n, m)
    D2 = xsq[:, None] + usq - 2.0 * G
    np.maximum(D2, 0.0, out=D2)
    return D2


def sqnorms(A):
    """Row-wise squared norms ``sum_j A_ij^2`` (float64 accumulation)."""
    return np.einsum("ij,ij->i", A, A, dtype=np.float64)

