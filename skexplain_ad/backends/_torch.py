"""torch backend: the soft-min kernels on a CPU or CUDA device.

Same math and the same stable rearrangement as
:mod:`skexplain_ad.backends._numpy` (see its docstring; [T] eq. 1.3, 1.9,
1.13-1.14; [P] Eq. (1))::

    d_i^2 = ||x||^2 + ||u_i||^2 - 2 x . u_i     (GEMM in the query dtype,
                                                 the rest in float64)
    h_i   = g d_i^2 - lw_i
    o     = -log sum_i exp(-h_i)                (soft-min pooling)
    p_i   = softmax(-h)_i                       (soft-argmin, sums to 1)
    q_i   = p_i min(o, g d_i^2) / d_i^2         rule="oc-dtd" (p_i g where g d_i^2 <= o)
    q_i   = p_i o / d_i^2                       rule="conservative" (on-template mass
                                                spread evenly, as in _numpy)
    R_j   = Q (x_j - a_j / Q)^2 + (b_j - a_j^2 / Q),
            a = q @ U, b = q @ U**2, Q = sum_i q_i   (one GEMM on [U, U**2])

As on the CPU backends, ``d^2`` and ``h`` are float64 whatever the query
dtype (a float32 ``h`` underflows every ``exp`` for far queries), the cross
terms and the relevance GEMM run in the query dtype, and the soft-argmin is
normalised by construction (``torch.softmax``). Results come back to the
host as numpy arrays of the query dtype.

Each call processes its rows in sub-chunks sized to the device: on CUDA,
half the free device memory (``torch.cuda.mem_get_info``); on the CPU,
scikit-learn's ``working_memory`` (the caller, :func:`skexplain_ad.base.map_row_chunks`,
already chunks by it). Importing this module imports torch: the registry in
:mod:`skexplain_ad.backends` imports it only when ``backend="torch"`` is used.
"""

import numpy as np
import torch

from .._chunks import chunk_n_rows
from .._torch_threads import install_fork_guard
from ._torch_device import TORCH_DTYPES, resolve_device, to_tensor
from ._numpy import NEAR, exclude_log_adjust, zero_rel
from ._rules import TINY, get_rule

install_fork_guard()  # a child forked after torch ran works on one thread (never hangs)

__all__ = ["TorchBackend", "resolve_device", "to_tensor", "TORCH_DTYPES"]

_TORCH_DTYPES = TORCH_DTYPES  # the old private name, still imported by detectors/_torch_utils
_TINY = TINY


class TorchBackend:
    """Soft-min kernels in torch, on the CPU or a CUDA device.

    The interface of :class:`~skexplain_ad.backends._numpy.NumpyBackend`:
    ``prepare`` once per call, then ``softmin`` or ``softmin_distances`` per
    row chunk; numpy arrays in and out.

    Parameters
    ----------
    device : str or None, default=None
        ``"cpu"`` (None) or ``"cuda"`` / ``"cuda:N"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.backends._torch import TorchBackend
    >>> kern = TorchBackend("cpu")
    >>> U = np.array([[0.0, 0.0]])
    >>> prep = kern.prepare(U, np.zeros(1), 1.0, U.mean(0), np.float64)
    >>> kern.softmin(np.array([[1.0, 2.0]]), prep, relevance=True)
    (array([5.]), array([[1., 4.]]))
    """

    name = "torch"

    def __init__(self, device=None):
        self.device = resolve_device(device)

    # ------------------------------------------------------------- set-up
    def prepare(self, templates, log_weights, gamma, center, dtype):
        """Move and precompute the template-side arrays once per call.

        Parameters
        ----------
        templates : ndarray of shape (m, d)
        log_weights : ndarray of shape (m,)
        gamma : float
        center : ndarray of shape (d,)
            Subtracted from templates and queries (as the numpy backend).
        dtype : numpy dtype
            Dtype of the queries and of the results (float32 or float64).

        Returns
        -------
        prep : dict
        """
        dtype = np.dtype(dtype)
        U = to_tensor(np.asarray(templates - center, dtype=dtype), dtype, self.device)
        U64 = U.to(torch.float64)
        return {
            "U": U,
            "usq": (U64 * U64).sum(dim=1),
            "lw": to_tensor(log_weights, np.float64, self.device),
            "lw_host": np.asarray(log_weights, dtype=np.float64),
            "templates": templates,  # host array, no copy: exact near-template terms
            "gamma": float(gamma),
            "center": to_tensor(center, dtype, self.device),
            "dtype": dtype,
            "UU2": None,
        }

    def rows_per_block(self, row_bytes, n_rows):
        """Rows of a block whose temporaries take ``row_bytes`` each.

        :func:`skexplain_ad.base.chunk_n_rows` with scikit-learn's
        ``working_memory`` on the CPU, half the free device memory
        (``torch.cuda.mem_get_info``) on CUDA.
        """
        working_memory = None  # the CPU: sklearn's working_memory
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            working_memory = free / 2 / 2**20
        return chunk_n_rows(row_bytes, n_rows, working_memory)

    def _rows_per_chunk(self, m, d, itemsize, relevance, n_rows):
        # the n x m blocks: G in the query dtype, ~6 float64 (d^2, h, the
        # logsumexp / softmax temporaries, q); queries; relevance temporaries
        row_bytes = itemsize * m + 6 * 8 * m + 2 * itemsize * d
        if relevance:
            row_bytes += 6 * itemsize * d
        return self.rows_per_block(row_bytes, n_rows)

    def _chunks(self, X, prep, relevance, exclude=None):
        X = np.asarray(X)
        m, d = prep["U"].shape
        step = self._rows_per_chunk(m, d, prep["dtype"].itemsize, relevance, X.shape[0])
        for start in range(0, X.shape[0], step):
            Xc = to_tensor(X[start:start + step], prep["dtype"], self.device)
            ex = None if exclude is None else exclude[start:start + step]
            yield Xc - prep["center"], ex

    # ------------------------------------------------------------ kernels
    @staticmethod
    def _sq_distances(Xc, prep):
        """float64 ``d_i^2`` (n, m) from one GEMM in the query dtype, clipped at 0."""
        X64 = Xc.to(torch.float64)
        xsq = (X64 * X64).sum(dim=1)
        D2 = (Xc @ prep["U"].T).to(torch.float64)
        D2.mul_(-2.0).add_(xsq[:, None]).add_(prep["usq"][None, :])
        return D2.clamp_(min=0.0)

    @torch.no_grad()
    def softmin(self, X, prep, relevance=False, rule="oc-dtd", exclude=None):
        """Outlierness, and optionally relevance, of a chunk of queries.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        prep : dict
            From :meth:`prepare`.
        relevance : bool, default=False
        rule : {"oc-dtd", "conservative"}, default="oc-dtd"
        exclude : ndarray of int of shape (n,) or None, default=None
            Per row, a template left out (weights renormalised), or -1.

        Returns
        -------
        o : ndarray of shape (n,)
        R : ndarray of shape (n, d)
            Only when ``relevance`` is True.
        """
        tdtype = _TORCH_DTYPES[prep["dtype"]]
        gamma, lw = prep["gamma"], prep["lw"]
        rule = get_rule(rule)
        sing = rule.singular
        zrel = zero_rel(prep["dtype"])
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.int64)
            adj_all = exclude_log_adjust(prep["lw_host"], exclude)
        os, Rs = [], []
        start = 0
        X = np.asarray(X)
        for Xc, ex in self._chunks(X, prep, relevance, exclude):
            D2 = self._sq_distances(Xc, prep)
            H = D2 * gamma
            H.sub_(lw[None, :])
            if ex is not None:
                # drop the term (never subtract it from a total)
                rows = np.flatnonzero(ex >= 0)
                rows_t = torch.as_tensor(rows, device=self.device)
                H[rows_t, torch.as_tensor(ex[rows], device=self.device)] = float("inf")
            o = -torch.logsumexp(-H, dim=1)
            if ex is not None:
                adj = adj_all[start:start + Xc.shape[0]]
                o.add_(torch.as_tensor(adj, device=self.device))
            start += Xc.shape[0]
            o.clamp_(min=0.0)
            os.append(o.to(tdtype).cpu())
            if not relevance:
                continue
            P = torch.softmax(H.neg_(), dim=1)
            del H
            ocol = o[:, None]
            floor = None
            if sing:
                # d_i^2 floored at its round-off; the templates near the
                # query are redone exactly (_numpy.near_terms)
                xsq = (Xc.to(torch.float64) ** 2).sum(dim=1)
                floor = zrel * (xsq[:, None] + prep["usq"][None, :])
            Q = P * rule.weight_torch(ocol, gamma, D2, floor)
            near = None
            if sing:
                near = self._near_terms(Q, P, rule.share_torch(ocol, D2 * gamma),
                                        X[start - Xc.shape[0]:start], xsq, o, prep)
            del P, D2
            R = self._relevance_from_q(Q.to(tdtype), Xc, prep)
            if near is not None:
                R.add_(near.to(R.dtype))
            Rs.append(R.cpu())
        o = torch.cat(os).numpy() if os else np.empty(0, prep["dtype"])
        if not relevance:
            return o
        R = torch.cat(Rs).numpy() if Rs else np.empty((0, prep["U"].shape[1]), prep["dtype"])
        return o, R

    def times_pairs(self):
        """The Times ensemble's pair pooling, on this backend's device
        (:class:`~skexplain_ad.backends._torch_times.TorchTimes`)."""
        from ._torch_times import TorchTimes

        return TorchTimes(self)

    def _near_terms(self, Q, P, share, X, xsq, o, prep):
        """Singular rule: the templates near the query, done exactly.

        As :func:`skexplain_ad.backends._numpy.near_terms`: zeroes the
        entries of ``Q`` (float64, in place) above the near threshold and
        returns their (n, d) term, the pooled share ``P * share`` spread by
        the exact differences taken on the host from the uncentred rows
        ``X`` and templates (few entries).
        """
        n, d = X.shape
        if n == 0 or Q.shape[1] == 0:
            return None
        eps = float(np.finfo(prep["dtype"]).eps)
        thr = NEAR * np.sqrt(eps) * o / (eps * (xsq + prep["usq"].max())).clamp(min=_TINY)
        rr, ii = torch.nonzero(Q > thr[:, None], as_tuple=True)
        if rr.numel() == 0:
            return None
        Q[rr, ii] = 0.0
        sh = P[rr, ii] * share[rr, ii]
        r_h, i_h = rr.cpu().numpy(), ii.cpu().numpy()
        diff = np.asarray(X[r_h], np.float64) - np.asarray(prep["templates"][i_h], np.float64)
        diff = torch.from_numpy(diff).to(self.device)
        diff.mul_(diff)
        d2 = diff.sum(dim=1)
        on = d2 == 0.0
        diff = torch.where(on[:, None], 1.0 / d, diff / torch.where(on, 1.0, d2)[:, None])
        diff.mul_(sh[:, None])
        out = torch.zeros((n, d), dtype=torch.float64, device=self.device)
        return out.index_add_(0, rr, diff)

    @staticmethod
    def _relevance_from_q(Q, Xc, prep):
        """``R_j = sum_i q_i (x_j - u_ij)^2``: one GEMM on ``[U, U**2]``, stable form."""
        if prep["UU2"] is None:
            # U becomes a view of [U, U**2], as in the numpy backend: a
            # detector's cached preparation holds the templates once
            U = prep["U"]
            prep["UU2"] = torch.cat([U, U * U], dim=1)
            prep["U"] = prep["UU2"][:, : U.shape[1]]
        d = Xc.shape[1]
        AB = Q @ prep["UU2"]
        A, B = AB[:, :d], AB[:, d:]
        qsum = Q.sum(dim=1, dtype=torch.float64)[:, None].to(Xc.dtype)
        mean = torch.where(qsum > 0, A / qsum, torch.zeros((), dtype=Xc.dtype, device=Xc.device))
        diff = Xc - mean
        R = qsum * diff * diff
        var = (B - A * mean).clamp_(min=0.0)
        return R.add_(var)

    @torch.no_grad()
    def device_distances(self, X, prep):
        """Outlierness and squared distances of host rows, left on the device.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        prep : dict
            From :meth:`prepare`.

        Returns
        -------
        o : tensor of shape (n,), float64
        D2 : tensor of shape (n, m), float64
            ``||x - u_i||^2`` clipped at 0 (cross terms in the dtype of
            ``prep``).
        """
        gamma, lw = prep["gamma"], prep["lw"]
        os, D2s = [], []
        for Xc, _ in self._chunks(X, prep, relevance=False):
            D2 = self._sq_distances(Xc, prep)
            os.append((-torch.logsumexp(lw[None, :] - gamma * D2, dim=1)).clamp_(min=0.0))
            D2s.append(D2)
        if not os:
            empty = torch.empty((0, prep["U"].shape[0]), dtype=torch.float64, device=self.device)
            return empty[:, 0], empty
        return torch.cat(os), torch.cat(D2s)

    def softmin_distances(self, X, prep):
        """:meth:`device_distances`, brought to the host as numpy arrays (the
        interface of :meth:`NumpyBackend.softmin_distances
        <skexplain_ad.backends._numpy.NumpyBackend.softmin_distances>`)."""
        o, D2 = self.device_distances(X, prep)
        return o.cpu().numpy(), D2.cpu().numpy()
