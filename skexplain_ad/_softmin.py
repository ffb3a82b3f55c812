r"""The soft-min engine: every score and explanation of a soft-min model.

Every distance-based detector of the package is the same three-layer network
([P] Fig. 1, Eq. (1), App. A.2-A.3; [T] eq. 1.3, Fig. 1.1): templates
:math:`U` (m x d), log-weights :math:`\ell` with :math:`\log\sum_i e^{\ell_i}=0`,
stiffness :math:`g`,

.. math::

    h_i(x) &= g\,\|x-u_i\|^2 - \ell_i, \\
    o(x)   &= -\log \textstyle\sum_i \exp(-h_i(x))            \qquad \text{([T] eq. 1.3)}\\
    p_i(x) &= \exp(-h_i)/\textstyle\sum_k \exp(-h_k)          \qquad \text{([T] eq. 1.9)}

with :math:`d_i^2 = \|x-u_i\|^2`, and two propagation rules (``rule``):

.. math::

    \text{"conservative"}:\; R_j(x) &= \textstyle\sum_i p_i\,o\,(x_j-u_{ij})^2 / d_i^2
              \qquad \text{([P] App. A.2-A.3)}\\
    \text{"oc-dtd"}:\; R_j(x) &= \textstyle\sum_i p_i\,\frac{\min(o,\,g d_i^2)}{d_i^2}\,(x_j-u_{ij})^2
              \qquad \text{([T] eq. 1.13-1.14)}

A template on the query (:math:`d_i = 0`): under "oc-dtd" its term is 0
(:math:`\min(o, g d_i^2)/d_i^2 \to g` and :math:`(x_j - u_{ij})^2 = 0`).
Under "conservative" the term :math:`p_i o (x_j-u_{ij})^2/d_i^2` has no limit
as :math:`x \to u_i`: along a direction :math:`v` it tends to
:math:`p_i o\,v_j^2/\|v\|^2`. Its total over the features is always
:math:`p_i o`; we give each feature the mean over the directions,
:math:`p_i o / d`, which keeps :math:`\sum_j R_j = o` exact. "On the
template" means :math:`d_i^2` within the round-off of its computation,
:math:`d_i^2 \le 64\,\epsilon\,(\|x\|^2 + \|u_i\|^2)` (centred coordinates,
:math:`\epsilon` of the query dtype). The relative error of
:math:`R` near a template grows like :math:`\epsilon \|u_i\|^2 / d_i^2`.

Properties (tested in ``tests/test_reference.py`` and ``tests/test_properties.py``):

- :math:`o(x) \ge 0`, since :math:`g d_i^2 \ge 0` and the weights sum to one.
- Both rules give :math:`R_j \ge 0`; "conservative" sums to :math:`o`,
  "oc-dtd" to :math:`\sum_i p_i \min(o, g d_i^2) \le o`, with equality where
  :math:`o \le g d_i^2` for every template that carries weight (the
  :math:`\max(0, D_i)` of [T] eq. 1.13 removes relevance only from templates
  closer than the soft minimum).

The engine also holds the other formulas of the model, so that estimators,
ensembles, metrics and model selection call rather than re-derive them:

- :func:`softmin_outlierness` with ``exclude``: a template left out per row
  and the weights renormalised (out-of-sample training scores);
- :func:`sq_distances`: :math:`\|x - u_i\|^2`, optionally over a feature
  subset per row;
- :func:`softmin_subset_score`: [T] eq. 1.16 (pixel flipping),
  :math:`o_K(x) = -\log\sum_i \exp(\ell_i - g\sum_{j\in K}(x_j-u_{ij})^2)`,
  for one feature set per row, or for every removal step of a row at once;
- :func:`kde_log_likelihood`: the normalised Gaussian KDE's log-density.

The per-chunk arithmetic lives in :mod:`skexplain_ad.backends` (the rules
themselves in ``backends/_rules.py``); this module holds the drivers
(validation, chunking) and imports nothing above the backends: the estimator
class that calls it, :class:`skexplain_ad.base.BaseSoftminDetector`, lives
in the estimator layer.
"""

import numpy as np
from joblib import effective_n_jobs
from scipy.special import logsumexp

from . import backends
from ._chunks import chunk_n_rows, map_row_chunks
from .backends import get_rule, sq_from_cross, sqnorms

__all__ = [
    "softmin_outlierness",
    "softmin_relevance",
    "softmin_subset_score",
    "sq_distances",
    "kde_log_likelihood",
    "nested_runs",
    "softmin_params",
    "normalize_log_weights",
    "own_template_exclude",
    "SOFTMIN_ATTRS",
]


def _row_bytes(dtype, n_templates, n_features, relevance):
    item = np.dtype(dtype).itemsize
    # the n x m block (plus a float64 copy on the numpy path), query copies
    per_row = (item + 8) * n_templates + 2 * item * n_features
    if relevance:
        per_row += 5 * item * n_features  # [A, B], diff, R
    return per_row


def _prepared(kernels, templates, log_weights, gamma, dtype, cache):
    """``kernels.prepare(...)`` for this model, reused from ``cache``.

    ``cache`` (a dict, or None for no reuse) keeps the last preparation,
    keyed by backend, device, dtype and gamma and checked against the very
    template and weight arrays, so a refit (new arrays) never sees a stale
    entry. Reuse saves the centring and casting of the templates, and the
    relevance operand ``[U, U**2]``, on every call.
    """
    key = (kernels.name, str(getattr(kernels, "device", None)), np.dtype(dtype).str, gamma)
    hit = None if cache is None else cache.get(key)
    if hit is not None and hit[0] is templates and hit[1] is log_weights:
        return hit[2]
    center = np.asarray(templates, dtype=np.float64).mean(axis=0)
    prep = kernels.prepare(templates, log_weights, gamma, center, dtype)
    if cache is not None:
        cache.clear()  # one model's worth of memory at most
        cache[key] = (templates, log_weights, prep)
    return prep


def check_rule(rule):
    """``rule`` checked: a name in :data:`skexplain_ad.backends.RULES`."""
    get_rule(rule)
    return rule


def check_exclude(exclude, n_rows, log_weights):
    """``exclude`` as int64 (n,), checked before any work; None passes."""
    if exclude is None:
        return None
    ex = np.asarray(exclude)
    m = log_weights.shape[0]
    if ex.shape != (n_rows,) or not np.issubdtype(ex.dtype, np.integer):
        raise ValueError(
            f"exclude must be an int array of shape ({n_rows},) (one template "
            f"index or -1 per row); got dtype {ex.dtype} and shape {ex.shape}."
        )
    if ex.size and (ex.min() < -1 or ex.max() >= m):
        raise ValueError(
            f"exclude holds template indices in [-1, {m - 1}]; got values in "
            f"[{ex.min()}, {ex.max()}]."
        )
    sel = ex[ex >= 0]
    if sel.size and np.any(log_weights[sel] >= 0.0):
        raise ValueError(
            "exclude names a template that carries all the weight; leaving it "
            "out leaves no model."
        )
    return ex.astype(np.int64, copy=False)


def _run(X, templates, log_weights, gamma, *, relevance, backend, device, n_jobs, cache=None,
         rule="oc-dtd", exclude=None):
    X = np.asarray(X)
    check_rule(rule)
    exclude = check_exclude(exclude, X.shape[0], np.asarray(log_weights))
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    m, d = templates.shape
    kernels = backends.get(backend, device)
    prep = _prepared(kernels, templates, log_weights, float(gamma), dtype, cache)
    # a hint: joblib already runs row chunks in parallel
    prep["threads"] = 1 if effective_n_jobs(n_jobs) > 1 else None
    out_shapes = [((), dtype)] + ([((d,), dtype)] if relevance else [])
    if exclude is None:
        def func(Xc):
            return kernels.softmin(Xc, prep, relevance=relevance, rule=rule)
        row_args = ()
    else:
        def func(Xc, ex):
            return kernels.softmin(Xc, prep, relevance=relevance, rule=rule, exclude=ex)
        row_args = (exclude,)
    return map_row_chunks(
        func,
        X,
        row_bytes=_row_bytes(dtype, m, d, relevance),
        out_shapes=out_shapes,
        n_jobs=n_jobs,
        row_args=row_args,
    )


def softmin_outlierness(
    X, templates, log_weights, gamma, *, exclude=None, backend="auto", device=None, n_jobs=None,
    cache=None,
):
    r"""Outlierness :math:`o(x) = -\log\sum_i \exp(\ell_i - g\|x-u_i\|^2)`.

    [T] eq. 1.3; [P] Eq. (1). Row-chunked so that no temporary exceeds
    ``sklearn.get_config()["working_memory"]``.

    With ``exclude``, row ``r`` is scored without template ``exclude[r]``
    and with the other weights renormalised,
    :math:`o'(x) = -\log\sum_{i \ne k} \frac{w_i}{1 - w_k} e^{-g d_i^2}`
    (the out-of-sample score of a training point whose own template is
    ``k``). The dropped term is left out of the sum, never subtracted from
    the total (which would cancel catastrophically when it dominates).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Queries, float32 or float64 (the result has the same dtype).
    templates : ndarray of shape (n_templates, n_features)
    log_weights : ndarray of shape (n_templates,)
        Log of the template weights; ``logsumexp(log_weights) == 0``.
    gamma : float
        Stiffness ``g > 0``.
    exclude : array-like of int of shape (n_samples,) or None, default=None
        Per row, the index of a template to leave out, or -1 for none.
    backend : str, default="auto"
        A name registered in :mod:`skexplain_ad.backends` ("numpy",
        "numba", "torch", ...).
    device : str or None, default=None
        Torch device (torch backend only).
    n_jobs : int or None, default=None
        Row chunks processed in parallel threads.
    cache : dict or None, default=None
        Keeps the backend's preparation of this model between calls (a
        fitted detector passes its own; see ``_prepared``).

    Returns
    -------
    o : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._softmin import softmin_outlierness
    >>> U = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> lw = np.log([0.5, 0.5])
    >>> softmin_outlierness(np.array([[1.0, 0.0]]), U, lw, gamma=1.0)
    array([1.])
    >>> softmin_outlierness(np.array([[2.0, 0.0]]), U, lw, gamma=1.0, exclude=[1])
    array([4.])
    """
    return _run(
        X, templates, log_weights, gamma, relevance=False,
        backend=backend, device=device, n_jobs=n_jobs, exclude=exclude, cache=cache,
    )


def softmin_relevance(
    X, templates, log_weights, gamma, *, rule="oc-dtd", backend="auto", device=None,
    n_jobs=None, cache=None,
):
    r"""Outlierness and its relevance on each feature, by either rule.

    .. math::

        \text{"oc-dtd"}:\; R_j(x) = \sum_i p_i(x)\,\frac{\min(o(x),\, g d_i^2)}{d_i^2}\,(x_j - u_{ij})^2
        \qquad \text{([T] eq. 1.13-1.14)}

        \text{"conservative"}:\; R_j(x) = \sum_i p_i(x)\,\frac{o(x)}{d_i^2}\,(x_j - u_{ij})^2
        \qquad \text{([P] App. A.2-A.3)}

    Parameters
    ----------
    X, templates, log_weights, gamma, backend, device, n_jobs, cache
        As in :func:`softmin_outlierness`.
    rule : {"oc-dtd", "conservative"}, default="oc-dtd"
        The propagation rule (module docstring).

    Returns
    -------
    o : ndarray of shape (n_samples,)
    R : ndarray of shape (n_samples, n_features)
        Non-negative; rows sum to at most ``o`` ("oc-dtd") or to ``o``
        ("conservative"); module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._softmin import softmin_relevance
    >>> U = np.array([[0.0, 0.0]])
    >>> o, R = softmin_relevance(np.array([[1.0, 2.0]]), U, np.zeros(1), gamma=1.0)
    >>> o, R
    (array([5.]), array([[1., 4.]]))
    """
    return _run(
        X, templates, log_weights, gamma, relevance=True,
        backend=backend, device=device, n_jobs=n_jobs, rule=rule, cache=cache,
    )


def sq_distances(X, U, keep=None, *, center=None):
    """Squared distances ``sum_{j kept} (x_j - u_ij)^2``, float64 (n, m).

    Two GEMMs on coordinates centred at ``center`` (the templates' mean by
    default: it shrinks the norms and so the cancellation of
    ``||x||^2 + ||u||^2 - 2 x.u``), clipped at 0. ``keep`` (n, d) bool
    restricts each row to its kept features ([T] eq. 1.16); with none kept
    the result is exactly 0. The caller chunks rows.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    U : ndarray of shape (m, d)
    keep : ndarray of bool of shape (n, d) or None, default=None
    center : ndarray of shape (d,) or None, default=None

    Returns
    -------
    D2 : ndarray of shape (n, m)

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._softmin import sq_distances
    >>> sq_distances(np.array([[3.0, 4.0]]), np.zeros((1, 2)))
    array([[25.]])
    >>> sq_distances(np.array([[3.0, 4.0]]), np.zeros((1, 2)), np.array([[False, True]]))
    array([[16.]])
    """
    U = np.asarray(U, dtype=np.float64)
    c = U.mean(axis=0) if center is None else center
    Uc = U - c
    Xc = np.asarray(X, dtype=np.float64) - c
    if keep is None:
        return sq_from_cross(Xc @ Uc.T, sqnorms(Xc), sqnorms(Uc))
    K = np.asarray(keep, dtype=np.float64)
    Xc *= K
    # the templates' norms over each row's kept features: (n, m), not (m,)
    return sq_from_cross(Xc @ Uc.T, sqnorms(Xc), K @ (Uc * Uc).T)


def softmin_subset_score(X, keep, templates, log_weights, gamma):
    r"""[T] eq. 1.16: the outlierness with only the kept features of each row.

    .. math::

        o_K(x) = -\log\sum_i \exp\big(\ell_i - g \textstyle\sum_{j \in K}(x_j - u_{ij})^2\big)

    float64, in row chunks of ``working_memory``; all removal steps of a
    pixel-flipping batch go in one call (one row per step).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    keep : ndarray of bool of shape (n, d)
    templates, log_weights, gamma
        The soft-min model.

    Returns
    -------
    o : ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._softmin import softmin_subset_score
    >>> U = np.zeros((1, 2))
    >>> softmin_subset_score(np.array([[3.0, 4.0]]), np.array([[True, False]]), U, np.zeros(1), 1.0)
    array([9.])
    """
    U = np.asarray(templates, dtype=np.float64)
    lw = np.asarray(log_weights, dtype=np.float64).ravel()
    n, d = X.shape
    out = np.empty(n)
    center = U.mean(axis=0)
    step = chunk_n_rows(8 * (3 * U.shape[0] + 3 * d), n)
    for s in range(0, n, step):
        D2 = sq_distances(X[s : s + step], U, keep[s : s + step], center=center)
        D2 *= -gamma
        D2 += lw
        out[s : s + step] = np.maximum(-logsumexp(D2, axis=1), 0.0)
    return out


def nested_runs(X, keep):
    """Boundaries of runs of rows that repeat a sample with a shrinking ``keep``.

    Pixel flipping asks for every removal step of a sample: consecutive
    rows with the same ``x`` whose kept features only shrink. Models whose
    subset score costs more than a GEMM (the Times ensembles) update such a
    run step by step instead of starting afresh.

    Returns
    -------
    bounds : ndarray of int
        ``bounds[k]:bounds[k+1]`` is the k-th run.
    """
    n = X.shape[0]
    if n <= 1:
        return np.array([0, n])
    same = np.all(X[1:] == X[:-1], axis=1) & ~np.any(keep[1:] & ~keep[:-1], axis=1)
    return np.concatenate([[0], np.flatnonzero(~same) + 1, [n]])


def kde_log_likelihood(D2, gamma, n_features):
    r"""Mean log-likelihood of the normalised Gaussian KDE.

    .. math::

        \log p(x) = \log \frac{1}{m}\sum_i e^{-\gamma d_i^2(x)}
                    + \frac{d}{2}\log\frac{\gamma}{\pi}

    (the density of :class:`sklearn.neighbors.KernelDensity` with
    ``bandwidth = 1 / sqrt(2 gamma)``), i.e. ``-o(x)`` of the uniform-weight
    soft-min model plus the Gaussian's normaliser.

    Parameters
    ----------
    D2 : ndarray of shape (n_queries, n_templates)
        Squared distances to the kernel centres.
    gamma : float
    n_features : int

    Returns
    -------
    ll : float

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._softmin import kde_log_likelihood
    >>> round(kde_log_likelihood(np.zeros((1, 1)), 1.0 / 2, 1), 4)  # N(0, 1) at 0
    -0.9189
    """
    ll = logsumexp(-gamma * D2, axis=1) - np.log(D2.shape[1])
    return float(ll.mean() + kde_log_normaliser(gamma, n_features))


def kde_log_normaliser(gamma, n_features):
    """``d/2 log(gamma / pi)``: the Gaussian kernel's log-normaliser."""
    return 0.5 * n_features * np.log(gamma / np.pi)


#: fitted attributes that make an object a soft-min model
SOFTMIN_ATTRS = ("templates_", "log_weights_", "gamma_")


def softmin_params(est):
    """``(templates, log_weights, gamma)`` (float64) of a fitted soft-min
    model (any object with :data:`SOFTMIN_ATTRS`), else None."""
    if not all(getattr(est, a, None) is not None for a in SOFTMIN_ATTRS):
        return None
    U = np.asarray(est.templates_, dtype=np.float64)
    lw = np.asarray(est.log_weights_, dtype=np.float64).ravel()
    return U, lw, float(est.gamma_)


def normalize_log_weights(weights=None, log_weights=None):
    """Log-weights that sum to one in the exponential domain.

    Parameters
    ----------
    weights : array-like of shape (m,), optional
        Non-negative weights (zeros become ``-inf``).
    log_weights : array-like of shape (m,), optional
        Unnormalised log-weights.

    Returns
    -------
    lw : ndarray of shape (m,), float64, ``logsumexp(lw) == 0``.
    """
    if log_weights is None:
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(weights, dtype=np.float64))
    lw = np.asarray(log_weights, dtype=np.float64)
    return lw - logsumexp(lw)


def own_template_exclude(own, log_weights):
    """``exclude`` for held-out training scores from each row's own template.

    ``own`` (int, -1 for none) per training row; a template that carries
    all the weight is never excluded (nothing would be left).
    """
    ex = np.asarray(own, dtype=np.int64).copy()
    sel = ex >= 0
    ex[sel] = np.where(np.asarray(log_weights)[ex[sel]] >= 0.0, -1, ex[sel])
    return ex

