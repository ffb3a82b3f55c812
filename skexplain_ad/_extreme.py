r"""Inputs of extreme magnitude: exact rescaling, or a clear error.

float64 squares overflow past :math:`|x| \approx 10^{154}` and lose every
digit below :math:`10^{-154}`, so a soft-min model fitted on data of
magnitude :math:`10^{200}` or :math:`10^{-300}` cannot compute its squared
distances. It does not need to: the soft-min model ([T] eq. 1.3) is
invariant under

.. math::

    x \to x / s, \qquad u_i \to u_i / s, \qquad g \to g\, s^2 ,

since every :math:`h_i = g\|x - u_i\|^2 - \ell_i` is unchanged, hence
:math:`o`, the soft-argmin :math:`p_i`, and the relevance
:math:`R_j = \sum_i p_i \frac{\min(o, g d_i^2)}{d_i^2}(x_j - u_{ij})^2`
([T] eq. 1.13-1.14): :math:`\min(o, g d_i^2)` is unchanged and
:math:`(x_j - u_{ij})^2 / d_i^2` is a ratio of two squared lengths. The
ensembles built from soft-min models inherit it (bagging averages invariant
scores, [T] eq. 2.2; the Times model is a soft-min model over midpoints,
[T] eq. 2.6-2.8), and so do the gamma heuristics (``"scale"``,
``"knn_mass"``, ``"likelihood"`` all give :math:`g s^2` on :math:`X / s`).

So a scale-invariant detector fitted on data whose largest magnitude lies
outside :math:`[2^{-100}, 2^{100}]` (float64; :math:`[2^{-40}, 2^{40}]` for
float32, whose cross terms stay float32 in the kernels) works on :math:`X / s` with :math:`s` the
power of two nearest below that magnitude (division by a power of two is
exact in binary floating point: not one bit changes): ``data_scale_ = s``,
``templates_`` and ``gamma_`` are in those units, a float ``gamma``
parameter is converted to :math:`g s^2`, and every query is divided by
:math:`s` before scoring. Scores and relevances are those of the model in
the user's units, exactly.

What cannot be represented is refused before any computation, with a
``ValueError`` naming the cause:

- a query so far from the model that :math:`g\,d_i^2` may exceed
  :math:`2^{1000} \approx 10^{301}` (:math:`2^{120}` for float32): its
  outlierness is not a float of its dtype;
- a float ``gamma`` whose rescaled value :math:`g s^2` over- or underflows;
- training data out of range, or with all rows identical, for a detector
  that is not scale-invariant (the torch detectors standardise by the
  data's spread): standardise it first.

Identical training rows are fine for a soft-min detector with a float
``gamma``; ``gamma="scale"`` then gives 1.0 (sklearn's convention; the
constancy test is exact, ``X.var()`` of equal values is round-off) and the
distance heuristics raise.
"""

from contextlib import contextmanager

import numpy as np

__all__ = [
    "LOW",
    "HIGH",
    "fit_scale",
    "is_scale_invariant",
    "check_query_range",
    "rescale_gamma",
    "fitting_frame",
]

#: float64 training data whose largest magnitude lies outside [LOW, HIGH] is rescaled
LOW = 2.0**-100
HIGH = 2.0**100
#: the same for float32 data (the kernels' cross terms X @ U.T stay float32)
LOW32 = 2.0**-40
HIGH32 = 2.0**40
#: a bound on g d^2 past which the outlierness may not be a float64 / float32
_MAX_ENERGY = 2.0**1000
_MAX_ENERGY32 = 2.0**120


def _limits(dtype):
    """``(low, high, max_energy, name)`` for inputs of ``dtype``."""
    if np.dtype(dtype) == np.float32:
        return LOW32, HIGH32, _MAX_ENERGY32, "float32"
    return LOW, HIGH, _MAX_ENERGY, "float64"


def is_scale_invariant(est):
    """Whether ``est``'s scores and relevances are invariant under x -> x/s, g -> g s^2.

    Soft-min detectors (they implement ``_fit_softmin``) are; an ensemble is
    when every member is.
    """
    if hasattr(est, "_fit_softmin"):
        return True
    members = getattr(est, "estimators", None)
    if isinstance(members, (list, tuple)) and members:
        try:
            return all(is_scale_invariant(m) for _, m in members)
        except (TypeError, ValueError):
            return False
    return False


def _max_abs(X):
    return float(np.max(np.abs(X))) if X.size else 0.0


def fit_scale(est, X):
    """The power of two ``s`` that brings ``X`` into range (1.0 if it is).

    Parameters
    ----------
    est : detector
    X : ndarray of shape (n_samples, n_features), finite

    Returns
    -------
    s : float
        A power of two; ``X / s`` has largest magnitude in [1, 2).

    Raises
    ------
    ValueError
        If ``X`` is out of range and ``est`` is not scale-invariant.
    """
    a = _max_abs(X)
    low, high, _, kind = _limits(X.dtype)
    if a == 0.0 or low <= a <= high:
        return 1.0
    if not is_scale_invariant(est):
        raise ValueError(
            f"{type(est).__name__}: the training data's largest magnitude is "
            f"{a:.3g}, outside [2**{int(np.log2(low))}, 2**{int(np.log2(high))}] = "
            f"[{low:.3g}, {high:.3g}], where its {kind} computation holds; this "
            "detector is not scale-invariant, so it cannot rescale X exactly. "
            "Standardise X first (e.g. StandardScaler)."
        )
    return float(2.0 ** np.floor(np.log2(a)))


def rescale_gamma(gamma, scale, owner="gamma"):
    """``gamma * scale**2`` for a float gamma, checked to be a positive float.

    Parameters
    ----------
    gamma : float
        Stiffness in the user's units.
    scale : float
        ``data_scale_``.
    owner : str
        Named in the error message.

    Returns
    -------
    gamma : float
    """
    gamma = float(gamma)
    if scale == 1.0:
        return gamma
    g = gamma * scale * scale
    if not np.isfinite(g) or g == 0.0:
        raise ValueError(
            f"{owner}={gamma!r} on training data rescaled by {scale:.3g} (its magnitude "
            f"is out of float64's range for squared distances) becomes gamma * scale**2 "
            f"= {g!r}, which is not a positive float64: the model's g * d**2 is not "
            "representable. Use a gamma heuristic ('scale', 'knn_mass', "
            "'likelihood') or rescale X."
        )
    return g


def _energy_extent(est):
    """``(g, u)`` per soft-min part of a fitted ``est``: stiffness and max |template|."""
    U = getattr(est, "templates_", None)
    g = getattr(est, "gamma_", None)
    if U is not None and g is not None:
        return [(float(g), _max_abs(np.asarray(U)))]
    members = getattr(est, "estimators_", None)
    if members:
        parts = []
        for m in members:
            sub = _energy_extent(m)
            if sub is None:
                return None
            parts.extend(sub)
        return parts
    return None


def check_query_range(est, X):
    """Refuse queries whose outlierness would not be a float64 (before any work).

    ``X`` is already in the model's units (divided by ``data_scale_``). For
    soft-min parts, :math:`g d_i^2 \\le g\\,d\\,(\\max|x| + \\max|u|)^2`; the
    sum over parts must stay below :math:`2^{1000}`. Other detectors: the
    squared norm :math:`d \\max|x|^2` likewise.
    """
    if X.size == 0:
        return
    a = _max_abs(X)
    n_features = X.shape[1]
    parts = _energy_extent(est)
    with np.errstate(over="ignore"):
        if parts is None:
            bound = n_features * np.float64(a) * a
        else:
            bound = sum(g * n_features * np.float64(a + u) ** 2 for g, u in parts)
    _, _, max_energy, kind = _limits(X.dtype)
    if not bound <= max_energy:
        scale = getattr(est, "data_scale_", 1.0)
        what = (
            "its squared norm" if parts is None
            else "gamma times its squared distance to the templates"
        )
        raise ValueError(
            f"{type(est).__name__}: X has a value of magnitude {a * scale:.3g} (the "
            f"training data's scale is {scale:.3g}); {what} reaches ~{bound:.3g}, past "
            f"2**{int(np.log2(max_energy))} ~ {max_energy:.3g}, so its outlierness is "
            f"not representable in {kind}."
        )


def _float_gamma(value):
    from numbers import Real

    return isinstance(value, Real) and not isinstance(value, bool)


@contextmanager
def fitting_frame(est, X, scale):
    """Fit ``est`` in the rescaled frame: its float gammas become ``g * scale**2``.

    Refuses identical training rows for a detector that is not
    scale-invariant (the soft-min detectors handle them: a float gamma is
    exact, ``"scale"`` gives 1.0 as sklearn's SVMs do, the distance
    heuristics raise). The
    estimator's parameters (and its members') are restored on exit; the
    members are replaced by clones for the duration, so the user's member
    instances are never modified.
    """
    gamma = getattr(est, "gamma", None)
    if not is_scale_invariant(est) and X.shape[0] > 1 and not np.any(np.ptp(X, axis=0) > 0):
        raise ValueError(
            f"{type(est).__name__}: all {X.shape[0]} training samples are identical; "
            "this detector takes its scale from the spread of the training data, "
            "so its outlierness would be round-off divided by round-off."
        )
    if scale == 1.0:
        yield
        return
    saved = {}
    if _float_gamma(gamma):
        saved["gamma"] = gamma
    members = getattr(est, "estimators", None)
    if isinstance(members, list) and members:
        from sklearn.base import clone

        saved["estimators"] = members
        est.estimators = [(name, clone(m)) for name, m in members]
        nested = {
            k: v for k, v in est.get_params(deep=True).items()
            if k.endswith("__gamma") and _float_gamma(v)
        }
    else:
        nested = {}
    try:
        new = {k: rescale_gamma(v, scale, owner=k) for k, v in nested.items()}
        if "gamma" in saved:
            new["gamma"] = rescale_gamma(gamma, scale)
        for k, v in new.items():
            if "__" in k:
                est.set_params(**{k: v})
            else:
                setattr(est, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(est, k, v)
