r"""The propagation rules of the soft-min models, each written once.

A rule says how much of the outlierness :math:`o(x)` a template (or a
Times pair) at squared distance :math:`d^2` passes to the features. Every
kernel, single-model and Times, numpy, numba and torch alike, calls the two
scalar functions of the rule it is given and nothing else:

``share(o, gd2)``
    the relevance a term of soft-argmin 1 carries, at ``gd2 = g d^2``:

    - ``"oc-dtd"``: :math:`\min(o, g d^2)` ([T] eq. 1.13-1.14; the
      :math:`\max(0, D_i)` of eq. 1.13 leaves templates closer than the soft
      minimum only their own distance);
    - ``"conservative"``: :math:`o` ([P] App. A.2-A.3), so that
      :math:`\sum_j R_j = o` exactly.

``weight(o, g, d2, floor)``
    the same per unit squared distance, :math:`\mathrm{share}(o, g d^2) / d^2`
    (so that :math:`R_j = \sum_i p_i\,\mathrm{weight}_i\,(x_j - u_{ij})^2`),
    with ``floor`` the round-off size of :math:`d^2` (a singular rule divides
    by at least it). ``"oc-dtd"`` is :math:`\min(g, o / d^2)`, bounded by
    :math:`g`; ``"conservative"`` is :math:`o / \max(d^2, \mathrm{floor})`.

A rule is *singular* when its weight has no bound as :math:`d \to 0`
(``share(o, 0) > 0``): the kernels then redo the templates near the query
from exact differences, and spread the share of a template on the query
evenly over the features (``backends/_numpy.py``). The Times kernels use
``share`` only: a pair's weight is :math:`G\,p\,\mathrm{share}(o, G D^2) /
(G D^2)` above the floor ([T] eq. 2.9, 2.15 on the midpoint model).

Each function exists as a plain Python scalar function (compiled by numba
with ``inline="always"`` into every kernel, :func:`numba_dispatch`), a numpy
twin (arrays) and a torch twin (tensors). Adding a rule: write its three
twins here, add it to :data:`RULES`, and (for a compiled numba pass) a branch
in :func:`numba_dispatch`; the ``rule`` parameter of every estimator reads
:data:`RULES`. A rule registered at run time (:func:`register_rule`) without
a compiled branch runs through the numpy kernels on the numba backend.

numba's disk cache is keyed on the kernel files (``_numba.py``,
``_numba_times.py``), not on this one: after editing a rule's numba twin,
delete their ``__pycache__/*.nbi`` so the kernels recompile.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

__all__ = ["Rule", "RULES", "get_rule", "register_rule", "numba_dispatch", "TINY"]

#: smallest positive float64: the floor of every division by ``d^2``
TINY = float(np.finfo(np.float64).tiny)


# ------------------------------------------------------------- "oc-dtd"
def oc_dtd_share(o, gd2):
    """[T] eq. 1.13-1.14: ``min(o, g d^2)`` (scalar; numba twin)."""
    return min(o, gd2)


def oc_dtd_weight(o, g, d2, floor):
    """``min(o, g d^2) / d^2 = min(g, o / d^2)``; ``g`` at ``d = 0`` (scalar)."""
    return min(g, o / max(d2, TINY))


def _oc_dtd_share_np(o, gd2):
    return np.minimum(o, gd2)


def _oc_dtd_weight_np(o, g, d2, floor):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g * d2 <= o, g, o / d2)


def _oc_dtd_share_torch(o, gd2):
    import torch

    return torch.minimum(o, gd2)


def _oc_dtd_weight_torch(o, g, d2, floor):
    import torch

    return torch.where(d2 * g <= o, g, o / d2)


# -------------------------------------------------------- "conservative"
def conservative_share(o, gd2):
    """[P] App. A.2-A.3: every term passes ``o`` (scalar; numba twin)."""
    return o


def conservative_weight(o, g, d2, floor):
    """``o / d^2``, ``d^2`` floored at its round-off ``floor`` (scalar)."""
    return o / max(d2, floor, TINY)


def _conservative_share_np(o, gd2):
    return np.broadcast_to(o, np.broadcast_shapes(np.shape(o), np.shape(gd2)))


def _conservative_weight_np(o, g, d2, floor):
    return o / np.maximum(np.maximum(d2, floor), TINY)


def _conservative_share_torch(o, gd2):
    return o.expand_as(gd2)


def _conservative_weight_torch(o, g, d2, floor):
    import torch

    return o / torch.maximum(d2, floor).clamp_(min=TINY)


@dataclass(frozen=True)
class Rule:
    """A propagation rule: its name, code and twins (module docstring).

    Parameters
    ----------
    name : str
        The value of the estimators' ``rule`` parameter.
    code : int
        Its number in the compiled numba dispatch.
    singular : bool
        Whether the weight is unbounded as ``d -> 0`` (near-template terms
        redone exactly, on-template share spread evenly).
    share, weight : callable
        Scalar functions (numba compiles them inline).
    share_np, weight_np, share_torch, weight_torch : callable
        Their numpy and torch twins.
    reference : str
        Where the rule is written down.
    """

    name: str
    code: int
    singular: bool
    share: Callable
    weight: Callable
    share_np: Callable
    weight_np: Callable
    share_torch: Callable
    weight_torch: Callable
    reference: str = ""


#: the registered rules, by name
RULES = {
    "conservative": Rule(
        "conservative", 0, True, conservative_share, conservative_weight,
        _conservative_share_np, _conservative_weight_np,
        _conservative_share_torch, _conservative_weight_torch, "[P] App. A.2-A.3",
    ),
    "oc-dtd": Rule(
        "oc-dtd", 1, False, oc_dtd_share, oc_dtd_weight,
        _oc_dtd_share_np, _oc_dtd_weight_np, _oc_dtd_share_torch, _oc_dtd_weight_torch,
        "[T] eq. 1.13-1.14",
    ),
}

#: the codes the compiled numba dispatch knows (:func:`numba_dispatch`)
COMPILED_CODES = frozenset({0, 1})


def get_rule(rule):
    """The :class:`Rule` named ``rule`` (or ``rule`` itself if it is one).

    Raises
    ------
    ValueError
        If ``rule`` names no registered rule.
    """
    if isinstance(rule, Rule):
        return rule
    try:
        return RULES[rule]
    except (KeyError, TypeError):
        raise ValueError(
            f"rule={rule!r} is not a propagation rule; expected one of {sorted(RULES)}."
        ) from None


def register_rule(rule):
    """Add ``rule`` (a :class:`Rule`) to :data:`RULES`; returns it.

    The estimators' ``rule`` parameter accepts its name from then on. Its
    code must be new; a code outside the compiled numba dispatch makes the
    numba backend run that rule through the numpy kernels.
    """
    if any(r.code == rule.code for r in RULES.values() if r.name != rule.name):
        raise ValueError(f"rule code {rule.code} is taken; pick another.")
    RULES[rule.name] = rule
    return rule


@lru_cache(maxsize=None)
def numba_dispatch():
    """``(share, weight)`` numba functions taking the rule's code first.

    ``inline="always"``: each kernel compiles the rules into its own loop
    (the branch on the loop-invariant code is hoisted by LLVM, so the loops
    still vectorise). numba is imported here, on first use.
    """
    from numba import njit

    inline = njit(inline="always")
    c_share, c_weight = inline(conservative_share), inline(conservative_weight)
    d_share, d_weight = inline(oc_dtd_share), inline(oc_dtd_weight)

    @inline
    def share(code, o, gd2):  # pragma: no cover - jitted
        if code == 0:
            return c_share(o, gd2)
        return d_share(o, gd2)

    @inline
    def weight(code, o, g, d2, floor):  # pragma: no cover - jitted
        if code == 0:
            return c_weight(o, g, d2, floor)
        return d_weight(o, g, d2, floor)

    return share, weight
