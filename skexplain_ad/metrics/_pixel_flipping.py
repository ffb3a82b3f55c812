"""Pixel flipping ([T] Sec. 1.4, eq. 1.15-1.16): the outlierness as the
most relevant features are removed; exact for the soft-min models and
ensembles through their ``outlier_score_subset``."""

import numbers

import numpy as np
from scipy.integrate import trapezoid
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from .._softmin import softmin_params, softmin_subset_score
from ..base import chunk_n_rows, subset_scorer
from ._checks import (
    _check_maps,
    _check_same_shape,
    _check_scores,
)


def _check_fitted(detector):
    # sklearn estimators get sklearn's NotFittedError; other objects are
    # taken as they are (their own methods complain if unfitted)
    if isinstance(detector, BaseEstimator):
        check_is_fitted(detector)


def _removal_counts(n_features, n_steps):
    if n_steps is None:
        n_steps = n_features
    if (
        not isinstance(n_steps, numbers.Integral)
        or isinstance(n_steps, bool)
        or not 1 <= n_steps <= n_features
    ):
        raise ValueError(
            f"n_steps must be an int in [1, n_features={n_features}] or None, "
            f"got {n_steps!r}."
        )
    # strictly increasing integers from 0 to d, as even as possible
    return (np.arange(n_steps + 1) * n_features) // n_steps


def _removal_orders(X, relevance, order, rng):
    n, d = X.shape
    if order == "relevance":
        # most relevant first; ties keep the feature order
        return np.argsort(-relevance, axis=1, kind="stable")
    return np.argsort(rng.random_sample((n, d)), axis=1)


def _keep_masks(orders, counts):
    """Boolean (n, n_steps + 1, d): feature j kept at step k."""
    n, d = orders.shape
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(d)[None, :], axis=1)
    return rank[:, None, :] >= counts[None, :, None]


def _pf_batched(X, orders, counts, score):
    """Call ``score(X_rep, keep)`` on batches; return (n, n_steps + 1).

    Each sample's removal steps are consecutive rows of one call, so a
    model can update them incrementally (``outlier_score_subset``).
    """
    n, d = X.shape
    s1 = counts.size
    out = np.empty((n, s1))
    # every removal step of a sample in one call (nested runs): the keep
    # masks and repeated rows, about 9 bytes per step and feature
    batch = chunk_n_rows(9 * s1 * d, n)
    for start in range(0, n, batch):
        Xb = X[start : start + batch]
        keep = _keep_masks(orders[start : start + batch], counts)
        b = Xb.shape[0]
        X_rep = np.broadcast_to(Xb[:, None, :], (b, s1, d)).reshape(b * s1, d)
        vals = np.asarray(score(X_rep, keep.reshape(b * s1, d)), dtype=np.float64)
        out[start : start + batch] = vals.reshape(b, s1)
    return out


def pixel_flipping_curve(
    detector,
    X,
    relevance=None,
    *,
    method="remove",
    n_steps=None,
    baseline=0.0,
    order="relevance",
    random_state=None,
):
    """Pixel-flipping curve ``o_k(x) / o(x)``, [T] Sec. 1.4, eq. 1.15-1.16.

    The features of each sample are removed from the most to the least
    relevant, and the outlierness of what is left is recorded. A good
    explanation makes the curve fall fast.

    Parameters
    ----------
    detector : fitted detector
        ``method="remove"`` needs a soft-min detector (fitted
        ``templates_``, ``log_weights_``, ``gamma_``) or one implementing
        ``_outlier_score_subset(X, keep)`` (used when present);
        ``method="mask"`` needs ``outlier_score`` (or ``score_samples``).
    X : array-like of shape (n_samples, n_features)
        Samples to explain, usually outliers.
    relevance : array-like of shape (n_samples, n_features), default=None
        Relevance that orders the features; ``None`` calls
        ``detector.explain(X)``. Ignored when ``order="random"``.
    method : {"remove", "mask"}, default="remove"
        ``"remove"``: dimension reduction, [T] eq. 1.16, exact for soft-min
        models, ``o_k(x) = -log sum_i exp(lw_i - gamma * sum_{j kept}
        (x_j - u_ij)**2)``; ``o_0 = o`` and, as ``log_weights_`` have
        logsumexp 0, ``o_d = 0``.
        ``"mask"``: removed features are replaced by ``baseline`` and
        ``detector.outlier_score`` is called; works for any detector, but the
        curve need neither fall monotonically nor end at 0.
    n_steps : int, default=None
        Number of removal steps; step ``k`` has removed the first
        ``(k * n_features) // n_steps`` features. ``None``: one feature per
        step (``n_steps = n_features``), as in [T] eq. 1.16.
    baseline : float or array-like of shape (n_features,), default=0.0
        Replacement value for ``method="mask"`` (e.g. the training mean).
    order : {"relevance", "random"}, default="relevance"
        ``"relevance"``: most relevant first (ties by feature index).
        ``"random"``: an independent random permutation per sample, the
        reference curve an explanation should beat.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``"random"`` order.

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
        Fraction of features removed at each step, from 0 to 1.
    curve : ndarray of shape (n_samples, n_steps + 1)
        ``o_k(x) / o(x)``; starts at 1. Where ``o(x) == 0`` (an exact inlier:
        nothing to remove) the ratio 0/0 is defined as 0 for every step, so
        the curve holds no NaN; such samples have pixel-flipping AUC 0 and
        are best left out of an average. The curve is meant for ``o(x) > 0``
        (outliers); every detector of the package has ``o(x) >= 0`` (a
        :class:`~skexplain_ad.BaggedDetector` the relevance-carrying
        ``sum_k w_k o_k``, not its ``standardized_score``), and a negative
        ``o(x)`` from elsewhere reads upside down.

    Raises
    ------
    TypeError
        With ``method="remove"``, for a detector that is neither soft-min
        nor implements ``_outlier_score_subset``.
    ValueError
        For bad shapes, NaN / infinite values, or unknown options.

    Notes
    -----
    The soft-min path never loops over templates: per batch of samples it
    forms the squared differences ``(x_j - u_ij)**2`` in removal order,
    sums them per step and takes suffix sums over the steps, O(m d) per
    sample whatever ``n_steps`` (a product with the (n_steps + 1, d) keep
    matrix costs O(n_steps m d), and measured slower even at ``n_steps=50``).
    Suffix sums of non-negative terms make the remaining distance exactly 0
    after the last step and non-increasing in floating point, where the
    expanded form ``||x||^2 - 2 x.u + ||u||^2`` cancels. The logsumexp is
    stabilised by its maximum. All arithmetic is float64.

    A detector with ``_outlier_score_subset`` is called as
    ``_outlier_score_subset(X_rep, keep)`` with ``X_rep`` and the boolean
    ``keep`` both of shape (n_rows, n_features): each sample repeated once
    per step, beside its keep mask; it returns the n_rows outlierness
    values.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import pixel_flipping_curve
    >>> class OneTemplate:  # soft-min detector with one template at 0
    ...     templates_ = np.zeros((1, 3))
    ...     log_weights_ = np.zeros(1)
    ...     gamma_ = 1.0
    >>> X = np.array([[3.0, 1.0, 2.0]])
    >>> fractions, curve = pixel_flipping_curve(OneTemplate(), X, X**2)
    >>> fractions
    array([0.        , 0.33333333, 0.66666667, 1.        ])
    >>> curve.round(4)
    array([[1.    , 0.3571, 0.0714, 0.    ]])
    """
    if method not in ("remove", "mask"):
        raise ValueError(f'method must be "remove" or "mask", got {method!r}.')
    if order not in ("relevance", "random"):
        raise ValueError(f'order must be "relevance" or "random", got {order!r}.')
    X = check_array(X, dtype=np.float64, input_name="X")
    n, d = X.shape
    counts = _removal_counts(d, n_steps)

    score = None
    if method == "remove":
        _check_fitted(detector)
        if hasattr(detector, "outlier_score_subset") or hasattr(detector, "_outlier_score_subset"):
            score = subset_scorer(detector)
        else:
            params = softmin_params(detector)
            if params is None:
                raise TypeError(
                    f'method="remove" needs a soft-min detector (fitted '
                    f"templates_, log_weights_, gamma_) or one implementing "
                    f"_outlier_score_subset(X, keep); {type(detector).__name__} "
                    'is neither. Use method="mask" for any detector.'
                )
            U, lw, g = params
            if U.ndim != 2 or U.shape[1] != d or lw.shape != (U.shape[0],):
                raise ValueError(
                    f"X has {d} features but {type(detector).__name__} has "
                    f"templates_ of shape {U.shape} and log_weights_ of shape "
                    f"{lw.shape}; expected ({U.shape[0]}, {d}) and "
                    f"({U.shape[0]},)."
                )
    else:
        _check_fitted(detector)
        base = np.asarray(baseline, dtype=np.float64)
        if base.ndim not in (0, 1) or (base.ndim == 1 and base.shape != (d,)):
            raise ValueError(
                f"baseline must be a float or an array of shape ({d},), got "
                f"shape {base.shape}."
            )
        if not np.isfinite(base).all():
            raise ValueError(f"baseline must be finite, got {baseline!r}.")
        if hasattr(detector, "outlier_score"):
            o_fn = detector.outlier_score
        else:
            def o_fn(Z):
                return -np.asarray(detector.score_samples(Z))

        def score(Z, keep):
            return o_fn(np.where(keep, Z, base))

    rng = None
    if order == "relevance":
        if relevance is None:
            if not hasattr(detector, "explain"):
                raise TypeError(
                    f"relevance=None asks {type(detector).__name__}.explain(X) "
                    "for the relevance, but it has no explain method; pass "
                    "relevance."
                )
            relevance = detector.explain(X)
        _check_same_shape(relevance, "relevance", X, "X")
        relevance = check_array(relevance, dtype=np.float64, input_name="relevance")
    else:
        rng = check_random_state(random_state)
    orders = _removal_orders(X, relevance, order, rng)

    if score is None:
        def score(Z, keep):
            return softmin_subset_score(Z, keep, U, lw, g)
    o_k = _pf_batched(X, orders, counts, score)
    o_0 = o_k[:, :1]
    curve = np.zeros_like(o_k)
    np.divide(o_k, o_0, out=curve, where=o_0 != 0)
    return counts / d, curve


def pixel_flipping_auc(curve, fractions):
    """Area under pixel-flipping curves, trapezoid over the fraction axis.

    Parameters
    ----------
    curve : array-like of shape (n_samples, n_steps + 1) or (n_steps + 1,)
        Curves from :func:`pixel_flipping_curve`.
    fractions : array-like of shape (n_steps + 1,)
        Removed fractions, non-decreasing (the first output of
        :func:`pixel_flipping_curve`).

    Returns
    -------
    auc : ndarray of shape (n_samples,), or float for a 1-D curve
        In [0, 1] for a curve falling monotonically from 1 to 0 on fractions
        0..1; lower = a better explanation ([T] Sec. 1.4: "the faster the PF
        curve decreases, the better").

    Examples
    --------
    >>> from skexplain_ad.metrics import pixel_flipping_auc
    >>> pixel_flipping_auc([1.0, 0.5, 0.0], [0.0, 0.5, 1.0])
    0.5
    """
    one = np.ndim(curve) == 1
    curve = _check_maps(curve, "curve")
    fractions = _check_scores(fractions, "fractions")
    if fractions.shape[0] != curve.shape[1]:
        raise ValueError(
            f"curve has {curve.shape[1]} steps per sample but fractions has "
            f"{fractions.shape[0]}; they must match."
        )
    if (np.diff(fractions) < 0).any():
        raise ValueError("fractions must be non-decreasing.")
    auc = trapezoid(curve, fractions, axis=1)
    return float(auc[0]) if one else auc


def pixel_flipping_aucs(
    detector,
    X,
    relevance=None,
    *,
    method="remove",
    n_steps=None,
    baseline=0.0,
    n_repeats=1,
    random_state=None,
):
    """Pixel-flipping AUC of the relevance order and of random orders.

    Runs :func:`pixel_flipping_curve` once with ``order="relevance"`` and
    ``n_repeats`` times with ``order="random"``, and integrates each with
    :func:`pixel_flipping_auc`. An explanation is informative where its AUC
    lies below the random one.

    Parameters
    ----------
    detector, X, relevance, method, n_steps, baseline
        As in :func:`pixel_flipping_curve`.
    n_repeats : int, default=1
        Number of random permutations averaged for the reference.
    random_state : int, RandomState instance or None, default=None
        Seeds the random permutations.

    Returns
    -------
    auc_relevance : ndarray of shape (n_samples,)
        AUC of each sample's relevance-ordered curve.
    auc_random : ndarray of shape (n_samples,)
        Mean AUC of each sample's random-ordered curves.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.metrics import pixel_flipping_aucs
    >>> class OneTemplate:  # soft-min detector with one template at 0
    ...     templates_ = np.zeros((1, 4))
    ...     log_weights_ = np.zeros(1)
    ...     gamma_ = 1.0
    >>> X = np.array([[4.0, 0.5, 0.0, 1.0]])
    >>> auc_rel, auc_rand = pixel_flipping_aucs(
    ...     OneTemplate(), X, X**2, n_repeats=20, random_state=0)
    >>> bool(auc_rel[0] < auc_rand[0])
    True
    """
    if not (
        isinstance(n_repeats, numbers.Integral)
        and not isinstance(n_repeats, bool)
        and n_repeats >= 1
    ):
        raise ValueError(f"n_repeats must be an int >= 1, got {n_repeats!r}.")
    kw = dict(method=method, n_steps=n_steps, baseline=baseline)
    fractions, curve = pixel_flipping_curve(
        detector, X, relevance, order="relevance", **kw
    )
    auc_relevance = pixel_flipping_auc(curve, fractions)
    rng = check_random_state(random_state)
    auc_random = np.zeros_like(auc_relevance)
    for _ in range(n_repeats):
        fractions, curve = pixel_flipping_curve(
            detector, X, order="random", random_state=rng, **kw
        )
        auc_random += pixel_flipping_auc(curve, fractions)
    return auc_relevance, auc_random / n_repeats
