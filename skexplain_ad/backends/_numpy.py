"""Reference backend: BLAS cross terms and numpy elementwise passes.

The soft-min model ([T] eq. 1.3, [P] Eq. (1)) on one chunk of queries::

    d_i^2 = ||x - u_i||^2 = ||x||^2 + ||u_i||^2 - 2 x . u_i     (one GEMM)
    h_i   = g d_i^2 - lw_i
    o     = -log sum_i exp(-h_i)                          (soft-min pooling)
    p_i   = exp(o - h_i), renormalised to sum 1           (soft-argmin, [T] eq. 1.9)
    q_i   = p_i min(o, g d_i^2) / d_i^2                   ([T] eq. 1.13-1.14)
    R_j   = sum_i q_i (x_j - u_ij)^2

``q_i`` is taken as ``p_i g`` where ``g d_i^2 <= o`` (this includes
``d_i = 0``, whose term ``(x_j - u_ij)^2`` vanishes), so no division by zero
occurs. The last line is one GEMM of ``q`` with ``[U, U**2]``, rewritten as
``Q (x_j - a_j / Q)^2 + (b_j - a_j^2 / Q)`` with ``a = q @ U``,
``b = q @ U**2``, ``Q = sum_i q_i``: both terms are non-negative (the second
is ``Q`` times a weighted variance), which keeps round-off small and the sign
right.

The numba backend subclasses this one and replaces :meth:`_pool` only.
"""

import numpy as np
from scipy.special import logsumexp


class NumpyBackend:
    """Soft-min kernels on numpy arrays (BLAS for the products).

    Parameters
    ----------
    device : None
        Accepted for interface compatibility; must be None or "cpu".
    """

    name = "numpy"

    def __init__(self, device=None):
        if device not in (None, "cpu"):
            raise ValueError(
                f"device={device!r} needs backend='torch'; the {self.name} "
                "backend runs on the CPU only."
            )

    def prepare(self, templates, log_weights, gamma, center, dtype):
        """Cast and precompute the template-side arrays once per call.

        Parameters
        ----------
        templates : ndarray of shape (m, d)
        log_weights : ndarray of shape (m,)
        gamma : float
        center : ndarray of shape (d,)
            Subtracted from templates and queries (distances are translation
            invariant; centring shrinks the norms and so the cancellation in
            ``||x||^2 + ||u||^2 - 2 x.u``).
        dtype : numpy dtype
            Dtype of the queries and of the results.

        Returns
        -------
        prep : dict
        """
        U = np.asarray(templates - center, dtype=dtype, order="C")
        return {
            "U": U,
            "usq": np.einsum("ij,ij->i", U, U, dtype=np.float64),
            "lw": np.asarray(log_weights, dtype=np.float64),
            "gamma": float(gamma),
            "center": np.asarray(center, dtype=dtype),
            "dtype": np.dtype(dtype),
            "UU2": None,
        }

    def softmin(self, X, prep, relevance=False):
        """Outlierness, and optionally relevance, of one chunk of queries.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        prep : dict
            From :meth:`prepare`.
        relevance : bool, default=False

        Returns
        -------
        o : ndarray of shape (n,)
        R : ndarray of shape (n, d)
            Only when ``relevance`` is True.
        """
        Xc = np.asarray(X, dtype=prep["dtype"]) - prep["center"]
        xsq = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64)
        G = Xc @ prep["U"].T
        o = np.empty(Xc.shape[0], dtype=np.float64)
        qsum = np.empty(Xc.shape[0], dtype=np.float64) if relevance else None
        self._pool(G, xsq, prep["usq"], prep["lw"], prep["gamma"], o, qsum,
                   threads=prep.get("threads"))
        if not relevance:
            return o.astype(prep["dtype"], copy=False)
        if prep["UU2"] is None:
            # U becomes a view of [U, U**2] (BLAS takes the row stride), so
            # a cached preparation holds the templates once, not twice
            U = prep["U"]
            prep["UU2"] = np.concatenate([U, U * U], axis=1)
            prep["U"] = prep["UU2"][:, : U.shape[1]]
        # R_j = sum_i q_i (x_j - u_ij)^2 from one GEMM with [U, U**2]
        AB = G @ prep["UU2"]
        R = np.empty_like(Xc)
        self._assemble(AB, qsum, Xc, R)
        return o.astype(prep["dtype"], copy=False), R

    def softmin_distances(self, X, prep):
        """Outlierness and squared distances of one chunk of queries.

        The distance layer and the pooled output of the soft-min model, for
        models that combine several soft-min models (the ensembles of
        :mod:`skexplain_ad.ensemble`): they need ``d_i^2`` and, from it,
        ``p_i = exp(o - g d_i^2 + lw_i)`` of each member to form their own
        pooling.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        prep : dict
            From :meth:`prepare`.

        Returns
        -------
        o : ndarray of shape (n,), float64
        D2 : ndarray of shape (n, m), float64
            ``||x - u_i||^2``, clipped at 0 (computed in the dtype of
            ``prep``, so float32 queries give float32-accurate distances).
        """
        Xc = np.asarray(X, dtype=prep["dtype"]) - prep["center"]
        xsq = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64)
        G = Xc @ prep["U"].T
        o = np.empty(Xc.shape[0], dtype=np.float64)
        D2 = self._distances(G, xsq, prep["usq"], prep["lw"], prep["gamma"], o)
        return o, D2

    def _distances(self, G, xsq, usq, lw, gamma, o):
        """Squared distances from the cross terms ``G``; writes ``o``."""
        D2 = _sq_from_cross(G, xsq, usq)
        o[:] = np.maximum(-logsumexp(lw - gamma * D2, axis=1), 0.0)
        return D2

    def _pool(self, G, xsq, usq, lw, gamma, o, qsum=None, threads=None):
        """Soft-min pooling of the cross terms ``G`` (n, m), in place.

        Writes the outlierness into ``o``; if ``qsum`` (n,) is given,
        overwrites ``G`` with the relevance weights ``q`` (module docstring)
        and writes their row sums into ``qsum``. ``threads`` is a hint for
        backends that split the pass (numba); numpy ignores it.
        """
        D2 = _sq_from_cross(G, xsq, usq)
        H = gamma * D2 - lw
        o[:] = np.maximum(-logsumexp(-H, axis=1), 0.0)
        if qsum is not None:
            # exp(o - H) sums to 1 only to ~ eps |o| (o - H_i cancels two
            # numbers of size o): normalise, as the numba pass does by
            # construction, or sum R exceeds o by a relative ~ eps o.
            P = np.exp(o[:, None] - H)
            P /= P.sum(axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(gamma * D2 <= o[:, None], gamma, o[:, None] / D2)
            G[...] = P * scale
            qsum[:] = G.sum(axis=1, dtype=np.float64)

    def _assemble(self, AB, qsum, Xc, R):
        """Write ``R_j = Q (x_j - a_j / Q)^2 + (b_j - a_j^2 / Q)`` into ``R``.

        ``AB = q @ [U, U**2]`` (n, 2d), ``Q = qsum``; see the module
        docstring for why this rearrangement is stable.
        """
        d = Xc.shape[1]
        A, B = AB[:, :d], AB[:, d:]
        qs = qsum[:, None].astype(Xc.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(qs > 0, A / qs, 0.0).astype(Xc.dtype, copy=False)
        diff = Xc - mean
        np.multiply(qs * diff, diff, out=R)
        var = B - A * mean
        np.maximum(var, 0.0, out=var)
        R += var


def _sq_from_cross(G, xsq, usq):
    """float64 ``d_i^2 = ||x||^2 + ||u_i||^2 - 2 x.u_i`` from the cross terms, clipped at 0."""
    D2 = xsq[:, None] + usq[None, :] - 2.0 * G
    np.maximum(D2, 0.0, out=D2)
    return D2

