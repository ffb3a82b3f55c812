"""The Times pair pooling on the members' torch device (CPU or CUDA).

The device twin of :mod:`skexplain_ad.backends._host_times`: the same
formulas ([T] eq. 2.5-2.15, the conservative rule [P] App. A.2-A.3; see
:mod:`skexplain_ad._times`), the same skipping of negligible pairs and the
same round-off guards, in float64 on the device. The members' distances
come from their own backend (:meth:`TorchBackend.device_distances
<skexplain_ad.backends._torch.TorchBackend.device_distances>` keeps a
torch member's on the device; a host member's are moved there); only the
chunk's ``(o, R)`` come back to the host. Blocks of template pairs, each
a ``(rows, block, pairs)`` tensor, are sized by
:func:`skexplain_ad.base.block_n_rows` on the CPU and by half the free
device memory on CUDA, as the torch backend sizes its row chunks.
"""

import numpy as np
import torch

from .._chunks import block_n_rows
from ._torch_device import to_tensor

__all__ = ["TorchTimes"]

_F64 = torch.float64


def _sq_from_cross(G, asq, bsq):
    """``||a||^2 + ||b||^2 - 2 G``, clipped at 0 (as the host's ``sq_from_cross``)."""
    return (asq[:, None] + bsq[None, :] - 2.0 * G).clamp_(min=0.0)


def _spread(R, Z):
    """Add each row's on-midpoint share ``Z`` evenly over the features."""
    if bool((Z != 0).any()):
        R += (Z / R.shape[1])[:, None]
    return R


def _finish(X, A, first, second):
    """``R_f = Q (x_f - w_f)^2 + (second_f - Q w_f^2)`` (host twin: ``_host_times._finish``)."""
    Qt = A.sum(dim=1, keepdim=True)
    mean = torch.where(Qt > 0, first / torch.where(Qt > 0, Qt, 1.0), 0.0)
    var = (second - Qt * mean * mean).clamp_(min=0.0)
    diff = X - mean
    return Qt * diff * diff + var


class TorchTimes:
    """Pair pooling of the Times model on ``backend.device``.

    Parameters
    ----------
    backend : TorchBackend
        The first member's backend (its device).
    """

    def __init__(self, backend):
        self.backend = backend
        self.device = backend.device

    # ------------------------------------------------------------ helpers
    def _block(self, row_bytes, n_rows):
        """Rows of a block whose temporaries take ``row_bytes`` each: half the
        free memory on CUDA, :func:`~skexplain_ad.base.block_n_rows` on the CPU."""
        if self.device.type == "cuda":
            return self.backend.rows_per_block(row_bytes, n_rows)
        return block_n_rows(row_bytes, n_rows)

    def _tensors(self, model):
        """The model's template-side arrays on the device, once per model."""
        cache = model.__dict__.setdefault("_device_arrays", {})
        key = str(self.device)
        if key not in cache:
            t = {name: to_tensor(getattr(model, name), np.float64, self.device)
                 for name in ("Uc", "Vc", "usq", "vsq", "lw1", "lw2")}
            if model.local:
                t["pi"] = torch.as_tensor(model.pairs[:, 0], device=self.device)
                t["pj"] = torch.as_tensor(model.pairs[:, 1], device=self.device)
                t["in1"] = torch.as_tensor(model.pair_sets[:, 0], device=self.device)
                t["in2"] = torch.as_tensor(model.pair_sets[:, 1], device=self.device)
                t["dpair"] = to_tensor(model.pair_sq_dist, np.float64, self.device)
            cache[key] = t
        return cache[key]

    def _distances(self, Xc, model, kerns):
        """The members' ``(o, D)`` on the device, float64."""
        Xq = Xc.astype(model.dtype, copy=False)
        out = []
        for kern, prep in kerns:
            if hasattr(kern, "device_distances") and kern.device == self.device:
                out.append(kern.device_distances(Xq, prep))
            else:
                o, D = kern.softmin_distances(Xq, prep)
                out.append((to_tensor(o, np.float64, self.device),
                            to_tensor(D, np.float64, self.device)))
        return out

    def _zero_floor(self, X, t, model, rule):
        if not rule.singular:
            return torch.zeros(X.shape[0], dtype=_F64, device=self.device)
        usq = max(float(t["usq"].max()), float(t["vsq"].max()))
        return 64 * float(np.finfo(np.float64).eps) * model.G * ((X * X).sum(dim=1) + usq)

    # ------------------------------------------------------------ global
    @torch.no_grad()
    def global_relevance(self, Xc, model, kerns, tol, rule):
        """``(o, R)`` of global Times ([T] eq. 2.7, 2.9), as the host twin."""
        t = self._tensors(model)
        X = to_tensor(Xc, np.float64, self.device)
        (o1, D1), (o2, D2) = self._distances(Xc, model, kerns)
        o = (o1 + o2 + model.log_alpha).clamp_(min=0.0)
        P1 = torch.softmax(t["lw1"] - model.g1 * D1, dim=1)
        P2 = torch.softmax(t["lw2"] - model.g2 * D2, dim=1)
        U, V, usq, vsq = t["Uc"], t["Vc"], t["usq"], t["vsq"]
        m, n, d = model.shape
        nr = Xc.shape[0]
        g1, g2, c, G = model.g1, model.g2, model.c, model.G
        ocol = o[:, None, None]

        # pass 1: each query's total relevance and each template's largest share
        tot = torch.zeros(nr, dtype=_F64, device=self.device)
        maxI = torch.zeros((nr, m), dtype=_F64, device=self.device)
        maxJ = torch.zeros((nr, n), dtype=_F64, device=self.device)
        step = self._block(8 * (3 * nr * n + n + d), m)
        for s in range(0, m, step):
            e = min(s + step, m)
            Db = _sq_from_cross(U[s:e] @ V.T, usq[s:e], vsq)
            gd2 = (g1 * D1[:, s:e, None] + g2 * D2[:, None, :] - c * Db).clamp_(min=0.0)
            share = P1[:, s:e, None] * P2[:, None, :]
            share *= rule.share_torch(ocol, gd2)
            tot += share.sum(dim=(1, 2))
            maxI[:, s:e] = share.amax(dim=2)
            torch.maximum(maxJ, share.amax(dim=1), out=maxJ)
        thr = (tol * tot / (m * n))[:, None]
        I = torch.nonzero((maxI > thr).any(dim=0)).ravel()
        J = torch.nonzero((maxJ > thr).any(dim=0)).ravel()

        # pass 2: weights of the kept pairs, feature-wise sums by GEMM
        Z = torch.zeros(nr, dtype=_F64, device=self.device)
        A = torch.zeros((nr, m), dtype=_F64, device=self.device)
        B = torch.zeros((nr, n), dtype=_F64, device=self.device)
        T = torch.zeros((nr, d), dtype=_F64, device=self.device)
        nI, nJ = I.numel(), J.numel()
        if nI and nJ:
            zfloor = self._zero_floor(X, t, model, rule)[:, None, None]
            VJ, D2J, P2J = V[J], D2[:, J], P2[:, J]
            step = self._block(8 * (4 * nr * nJ + nr * d + nJ + d), nI)
            for s in range(0, nI, step):
                Ib = I[s : s + step]
                Db = _sq_from_cross(U[Ib] @ VJ.T, usq[Ib], vsq[J])
                gd2 = g1 * D1[:, Ib, None] + g2 * D2J[:, None, :] - c * Db
                pp = P1[:, Ib, None] * P2J[:, None, :]
                pos = gd2 > zfloor
                share = pp * rule.share_torch(ocol, gd2.clamp(min=0.0))
                q = torch.where(pos, G * share / torch.where(pos, gd2, 1.0), 0.0)
                Z += torch.where(pos, 0.0, share).sum(dim=(1, 2))
                A[:, Ib] += q.sum(dim=2)
                B[:, J] += q.sum(dim=1)
                # T_f += sum_ij q_ij u_if u'_jf: (q V) per (row, i), times u_i
                M = (q.reshape(nr * Ib.numel(), nJ) @ VJ).reshape(nr, Ib.numel(), d)
                T += (M * U[Ib][None, :, :]).sum(dim=1)
        SU = A @ torch.cat([U, U * U], dim=1)
        SV = B @ torch.cat([V, V * V], dim=1)
        first = (g1 * SU[:, :d] + g2 * SV[:, :d]) / G
        second = (g1 * g1 * SU[:, d:] + g2 * g2 * SV[:, d:] + 2.0 * g1 * g2 * T) / (G * G)
        R = _spread(_finish(X, A, first, second), Z)
        return o.cpu().numpy(), R.cpu().numpy()

    # ------------------------------------------------------------- local
    def _local_logits(self, Xc, model, kerns, t):
        (_, D1), (_, D2) = self._distances(Xc, model, kerns)
        a1 = t["lw1"] - model.g1 * D1
        a2 = t["lw2"] - model.g2 * D2
        V = a1[:, t["pi"]] + a2[:, t["pj"]]
        neg = torch.tensor(-torch.inf, dtype=_F64, device=self.device)
        L1 = torch.where(t["in1"][None, :], V, neg)
        L2 = torch.where(t["in2"][None, :], V, neg)
        o1 = (model.log_alpha - torch.logsumexp(L1, dim=1)).clamp_(min=0.0)
        o2 = (model.log_alpha - torch.logsumexp(L2, dim=1)).clamp_(min=0.0)
        return D1, D2, L1, L2, o1, o2

    @torch.no_grad()
    def local_score(self, Xc, model, kerns):
        """Outlierness of local Times ([T] eq. 2.12-2.14), as the host twin."""
        t = self._tensors(model)
        *_, o1, o2 = self._local_logits(Xc, model, kerns, t)
        return (0.5 * (o1 + o2)).cpu().numpy()

    @torch.no_grad()
    def local_relevance(self, Xc, model, kerns, tol, rule):
        """``(o, R)`` of local Times ([T] eq. 2.14, 2.15), as the host twin."""
        t = self._tensors(model)
        X = to_tensor(Xc, np.float64, self.device)
        D1, D2, L1, L2, o1, o2 = self._local_logits(Xc, model, kerns, t)
        pi, pj = t["pi"], t["pj"]
        m, n, d = model.shape
        nr, P = Xc.shape[0], pi.numel()
        gd2 = (model.g1 * D1[:, pi] + model.g2 * D2[:, pj] - model.c * t["dpair"]).clamp_(min=0.0)
        sh = torch.zeros_like(gd2)
        for L, oo in ((L1, o1), (L2, o2)):
            # each local model's soft-argmin, normalised by its own sum
            p = torch.softmax(L, dim=1)
            sh += 0.5 * p * rule.share_torch(oo[:, None], gd2)
        pos = gd2 > self._zero_floor(X, t, model, rule)[:, None]
        Q = torch.where(pos, model.G * sh / torch.where(pos, gd2, 1.0), 0.0)
        Z = torch.where(pos, 0.0, sh).sum(dim=1)
        keep = (sh > (tol * sh.sum(dim=1) / P)[:, None]).any(dim=0)
        kept = torch.nonzero(keep).ravel()
        Qk = Q[:, kept]
        pik, pjk = pi[kept], pj[kept]
        A = torch.zeros((nr, m), dtype=_F64, device=self.device).index_add_(1, pik, Qk)
        B = torch.zeros((nr, n), dtype=_F64, device=self.device).index_add_(1, pjk, Qk)
        # sum_p q_p w_p^2 by one GEMM over the pairs' squared midpoints
        g1, g2, G = model.g1, model.g2, model.G
        U, V = t["Uc"], t["Vc"]
        second = torch.zeros((nr, d), dtype=_F64, device=self.device)
        step = self._block(8 * d, kept.numel())
        for s in range(0, kept.numel(), step):
            W = g1 * U[pik[s : s + step]] + g2 * V[pjk[s : s + step]]
            second += Qk[:, s : s + step] @ (W * W)
        second /= G * G
        first = (g1 * (A @ U) + g2 * (B @ V)) / G
        R = _spread(_finish(X, A, first, second), Z)
        return (0.5 * (o1 + o2)).cpu().numpy(), R.cpu().numpy()

    # ------------------------------------------------------------- subset
    @torch.no_grad()
    def global_subset(self, model, a1, a2, keep, runs):
        """As :meth:`HostTimes.global_subset
        <skexplain_ad.backends._host_times.HostTimes.global_subset>`, on the
        device: the pair distances of a run stay there, updated by one GEMM
        over the newly dropped features per step."""
        t = self._tensors(model)
        U, V = t["Uc"], t["Vc"]
        A1 = to_tensor(a1, np.float64, self.device)
        A2 = to_tensor(a2, np.float64, self.device)
        lz = torch.empty(a1.shape[0], dtype=_F64, device=self.device)
        drop = torch.empty((U.shape[0], V.shape[0]), dtype=_F64, device=self.device)
        for a, b in runs:
            dropped = np.zeros(keep.shape[1], dtype=bool)
            drop.zero_()
            for r in range(a, b):
                F = np.flatnonzero(~keep[r] & ~dropped)
                dropped[F] = True
                if F.size:
                    Ft = torch.as_tensor(F, device=self.device)
                    UF, VF = U[:, Ft], V[:, Ft]
                    drop += (UF * UF).sum(dim=1)[:, None]
                    drop += (VF * VF).sum(dim=1)[None, :]
                    drop.addmm_(UF, VF.T, alpha=-2.0)
                E = A1[r][:, None] + A2[r][None, :] - model.c * drop.clamp(min=0.0)
                lz[r] = torch.logsumexp(E.ravel(), dim=0)
        return lz.cpu().numpy()

    @torch.no_grad()
    def local_subset(self, model, a1, a2, keep):
        """As :meth:`HostTimes.local_subset
        <skexplain_ad.backends._host_times.HostTimes.local_subset>`, on the
        device."""
        t = self._tensors(model)
        pi, pj, U, V = t["pi"], t["pj"], t["Uc"], t["Vc"]
        A1 = to_tensor(a1, np.float64, self.device)
        A2 = to_tensor(a2, np.float64, self.device)
        dropped = to_tensor(~keep, np.float64, self.device)
        n, d = dropped.shape
        P = pi.numel()
        lz = torch.full((2, n), -torch.inf, dtype=_F64, device=self.device)
        neg = torch.tensor(-torch.inf, dtype=_F64, device=self.device)
        step = self._block(8 * (d + 3 * n), P)
        for s in range(0, P, step):
            e = min(s + step, P)
            sq = U[pi[s:e]] - V[pj[s:e]]
            E = dropped @ (sq * sq).T  # ||u_i - u'_j||^2 over each row's dropped features
            E = A1[:, pi[s:e]] + A2[:, pj[s:e]] - model.c * E
            for k, member in enumerate((t["in1"], t["in2"])):
                inset = member[s:e]
                if bool(inset.any()):
                    part = torch.logsumexp(torch.where(inset[None, :], E, neg), dim=1)
                    lz[k] = torch.logaddexp(lz[k], part)
        return lz.cpu().numpy()

