"""Reference backend: BLAS cross terms and numpy elementwise passes.

The soft-min model ([T] eq. 1.3, [P] Eq. (1)) on one chunk of queries::

    d_i^2 = ||x - u_i||^2 = ||x||^2 + ||u_i||^2 - 2 x . u_i     (one GEMM)
    h_i   = g d_i^2 - lw_i
    o     = -log sum_i exp(-h_i)                          (soft-min pooling)
    p_i   = exp(o - h_i), renormalised to sum 1           (soft-argmin, [T] eq. 1.9)
    q_i   = p_i min(o, g d_i^2) / d_i^2    rule="oc-dtd"        ([T] eq. 1.13-1.14)
    q_i   = p_i o / d_i^2                  rule="conservative"  ([P] App. A.2-A.3)
    R_j   = sum_i q_i (x_j - u_ij)^2

Under "oc-dtd" ``q_i`` is taken as ``p_i g`` where ``g d_i^2 <= o`` (this
includes ``d_i = 0``, whose term ``(x_j - u_ij)^2`` vanishes), so no
division by zero occurs. Under "conservative" ``q_i = p_i o / d_i^2`` grows without bound as the
query nears a template, and the GEMM form below would multiply the
expansion's round-off (``eps (||x||^2 + ||u||^2)``) by it. So the entries
with ``q_i > NEAR eps^-1/2 o / (||x||^2 + max ||u||^2)`` (templates within a
small relative distance of the query; for float32 far from the data, the
dominant ones) are taken out of the GEMM and done directly: the pooled share
``p_i o`` (the very ``p_i`` the soft-min summed, so the terms add up to
``o``), spread as ``R_j += p_i o (x_j - u_ij)^2 / d_i^2`` with ``d_i^2`` and
the differences exact; every entry left in the GEMM then
errs by at most ``~1e-4 sqrt(eps) o``. A template exactly on the query
(``d_i = 0`` in the differences) has no limit: ``p_i o (x_j - u_ij)^2 / d_i^2``
tends to ``p_i o v_j^2 / ||v||^2`` along a direction ``v``; its share
``p_i o`` is spread evenly over the ``d`` features (the mean over the
directions), which keeps ``sum_j R_j = o`` exact.

``exclude`` (one template index per row, or -1) drops that template's term
and renormalises the remaining weights, ``lw_i - log(1 - w_k)``: the score
of a training point with its own template left out ([T] eq. 1.3 on the
other templates). The excluded ``h_k`` is set to ``+inf`` before the
log-sum-exp, so nothing is subtracted from a total (no cancellation). The last line is one GEMM of ``q`` with ``[U, U**2]``, rewritten as
``Q (x_j - a_j / Q)^2 + (b_j - a_j^2 / Q)`` with ``a = q @ U``,
``b = q @ U**2``, ``Q = sum_i q_i``: both terms are non-negative (the second
is ``Q`` times a weighted variance), which keeps round-off small and the sign
right.

The rules' arithmetic is :mod:`~skexplain_ad.backends._rules` (``weight``,
``share``); the numba backend subclasses this one and replaces
:meth:`_pool` only.
"""

import numpy as np
from scipy.special import logsumexp

from ._expand import sq_from_cross, sqnorms
from ._rules import RULES, TINY, get_rule

__all__ = ["NumpyBackend", "RULES", "zero_rel", "exclude_log_adjust", "near_threshold",
           "near_terms", "sq_from_cross", "sqnorms", "NEAR"]


def zero_rel(dtype):
    """Relative size below which ``d^2`` counts as 0 (round-off of the expansion)."""
    return 64.0 * float(np.finfo(dtype).eps)


def exclude_log_adjust(lw, exclude):
    """``log(1 - w_k)`` per row for ``exclude`` (0 where ``exclude < 0``).

    ``log1p(-exp(lw_k))``: exact for small weights, no ``1 - w`` rounding.
    """
    ex = np.asarray(exclude)
    adj = np.zeros(ex.shape[0], dtype=np.float64)
    sel = ex >= 0
    with np.errstate(divide="ignore"):
        adj[sel] = np.log1p(-np.exp(lw[ex[sel]]))
    return adj


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
            # the caller's array (no copy): exact differences near a template
            "templates": templates,
            "usq": np.einsum("ij,ij->i", U, U, dtype=np.float64),
            "lw": np.asarray(log_weights, dtype=np.float64),
            "gamma": float(gamma),
            "center": np.asarray(center, dtype=dtype),
            "dtype": np.dtype(dtype),
            "UU2": None,
        }

    def softmin(self, X, prep, relevance=False, rule="oc-dtd", exclude=None):
        """Outlierness, and optionally relevance, of one chunk of queries.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        prep : dict
            From :meth:`prepare`.
        relevance : bool, default=False
        rule : {"oc-dtd", "conservative"}, default="oc-dtd"
            Propagation rule of the relevance (module docstring).
        exclude : ndarray of int of shape (n,) or None, default=None
            Per row, a template whose term is dropped (weights
            renormalised), or -1 for none.

        Returns
        -------
        o : ndarray of shape (n,)
        R : ndarray of shape (n, d)
            Only when ``relevance`` is True.
        """
        Xc = np.asarray(X, dtype=prep["dtype"]) - prep["center"]
        n, d = Xc.shape
        xsq = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64)
        G = Xc @ prep["U"].T
        o = np.empty(n, dtype=np.float64)
        qsum = np.empty(n, dtype=np.float64) if relevance else None
        rule = get_rule(rule)
        sing = rule.singular
        # numba counts the near templates per row in its pass (numpy: -1, scan all)
        nnear = np.full(n, -1, dtype=np.int64) if relevance and sing else None
        ex = None
        if exclude is not None:
            ex = np.ascontiguousarray(exclude, dtype=np.int64)
            ex = (ex, exclude_log_adjust(prep["lw"], ex))
        self._pool(G, xsq, prep["usq"], prep["lw"], prep["gamma"], o, qsum,
                   threads=prep.get("threads"), rule=rule, exclude=ex,
                   zrel=zero_rel(prep["dtype"]), nnear=nnear)
        if not relevance:
            return o.astype(prep["dtype"], copy=False)
        if prep["UU2"] is None:
            # U becomes a view of [U, U**2] (BLAS takes the row stride), so
            # a cached preparation holds the templates once, not twice
            U = prep["U"]
            prep["UU2"] = np.concatenate([U, U * U], axis=1)
            prep["U"] = prep["UU2"][:, : U.shape[1]]
        near = None
        if sing:
            rows = None if (nnear < 0).any() else np.flatnonzero(nnear)
            near = near_terms(G, qsum, X, prep["templates"], rows=rows)
        # R_j = sum_i q_i (x_j - u_ij)^2 from one GEMM with [U, U**2]
        AB = G @ prep["UU2"]
        R = np.empty_like(Xc)
        self._assemble(AB, qsum, Xc, R)
        if near is not None:
            R += near.astype(R.dtype, copy=False)
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

    def times_pairs(self):
        """The Times ensemble's pair pooling on the host, with numpy's pair
        kernels (:mod:`~skexplain_ad.backends._numpy_times`)."""
        from . import _numpy_times
        from ._host_times import HostTimes

        return HostTimes(_numpy_times)

    def _distances(self, G, xsq, usq, lw, gamma, o):
        """Squared distances from the cross terms ``G``; writes ``o``."""
        D2 = sq_from_cross(G, xsq, usq)
        o[:] = np.maximum(-logsumexp(lw - gamma * D2, axis=1), 0.0)
        return D2

    def _pool(self, G, xsq, usq, lw, gamma, o, qsum=None, threads=None, *,
              rule="oc-dtd", exclude=None, zrel=0.0, nnear=None):
        """Soft-min pooling of the cross terms ``G`` (n, m), in place.

        Writes the outlierness into ``o``; if ``qsum`` (n,) is given,
        overwrites ``G`` with the relevance weights ``q = p_i weight_i`` of
        ``rule`` (:mod:`~skexplain_ad.backends._rules`; ``d_i^2`` floored at
        ``zrel (||x||^2 + ||u_i||^2)``) and writes their row sums into
        ``qsum``. Under a singular rule an entry above
        :func:`near_threshold` is stored as ``-p_i share_i`` instead (left
        out of ``qsum``) for :func:`near_terms`. ``exclude`` is None or
        ``(index, log(1 - w_index))`` per row. ``threads`` is a hint for
        backends that split the pass (numba); numpy ignores it.
        """
        D2 = sq_from_cross(G, xsq, usq)
        H = gamma * D2 - lw
        rows = None
        if exclude is not None:
            ex, adj = exclude
            rows = np.flatnonzero(ex >= 0)
            H[rows, ex[rows]] = np.inf
        with np.errstate(divide="ignore"):
            o[:] = -logsumexp(-H, axis=1)
        if exclude is not None:
            o += adj
        np.maximum(o, 0.0, out=o)
        if qsum is not None:
            # exp(o - H) sums to 1 only to ~ eps |o| (o - H_i cancels two
            # numbers of size o): normalise, as the numba pass does by
            # construction, or sum R exceeds o by a relative ~ eps o.
            P = np.exp(o[:, None] - H)
            P /= P.sum(axis=1, keepdims=True)
            oc = o[:, None]
            rule = get_rule(rule)
            floor = zrel * (xsq[:, None] + usq[None, :]) if rule.singular else None
            G[...] = P * rule.weight_np(oc, gamma, D2, floor)
            if rule.singular:
                # near the query: the pooled share itself (consistent with o)
                thr = near_threshold(o, xsq, usq.max() if usq.size else 0.0, G.dtype)
                near = G > thr[:, None]
                if near.any():
                    G[near] = -(P * rule.share_np(oc, gamma * D2))[near]
            qsum[:] = np.where(G > 0, G, 0.0).sum(axis=1, dtype=np.float64)

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


#: entries with q_i above NEAR sqrt(eps) o / (eps S) are done directly
NEAR = 1e-4
_TINY = TINY


def near_threshold(o, xsq, usq_max, dtype):
    """Per row, the ``q_i`` above which a template counts as near the query."""
    eps = float(np.finfo(dtype).eps)
    return NEAR * np.sqrt(eps) * o / np.maximum(eps * (xsq + usq_max), _TINY)


def near_terms(Q, qsum, X, U, rows=None):
    """Singular rule: the templates near the query, done from exact differences.

    The pooling stored each near entry of ``Q`` as ``-p_i share_i`` (its
    weight above :func:`near_threshold`: ``d_i^2`` comparable to the
    round-off of the GEMM form). Those entries are zeroed in ``Q`` and
    returned as an exact (n, d) float64 term, ``p_i share_i (x_j - u_ij)^2
    / d_i^2`` with ``d_i^2`` from the differences of the uncentred ``X``
    and templates ``U``, or ``p_i share_i / d`` per feature where ``d_i = 0``
    (the mean over the directions of approach). The share is the pooled
    one, so that the term sums to exactly what the soft-min gave the
    template: recomputing ``p_i`` from the exact ``d_i^2`` moved it by
    ``exp(g eps ||x||^2)``, a factor of thousands for far float32 queries.
    ``qsum`` is recomputed for their rows. Returns None when there is
    none. ``rows`` (optional) lists the only rows that may hold such
    entries (the numba pass counts them), so the others are not scanned.
    """
    X = np.asarray(X)
    n, d = X.shape
    if n == 0 or Q.shape[1] == 0:
        return None
    if rows is None:
        rr, ii = np.nonzero(Q < 0)
    else:
        if rows.size == 0:
            return None
        r_loc, ii = np.nonzero(Q[rows] < 0)
        rr = rows[r_loc]
    if rr.size == 0:
        return None
    share = -np.asarray(Q[rr, ii], dtype=np.float64)
    Q[rr, ii] = 0.0
    rows = np.unique(rr)
    qsum[rows] = Q[rows].sum(axis=1, dtype=np.float64)
    diff = np.asarray(X[rr], dtype=np.float64) - np.asarray(U[ii], dtype=np.float64)
    diff *= diff
    d2 = diff.sum(axis=1)
    on = d2 == 0.0
    diff[on] = 1.0 / d  # the mean over the directions of approach
    diff[~on] /= d2[~on, None]
    diff *= share[:, None]
    out = np.zeros((n, d))
    np.add.at(out, rr, diff)
    return out
