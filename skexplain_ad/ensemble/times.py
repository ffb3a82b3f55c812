"""The "Times" ensemble: two soft-min models fused into one ([T] Sec. 2.2).

The estimator: parameters, validation, fitting the members. The model --
the midpoints, their weights, the global and local pooling, the relevance
with its error bound and the subset score -- is the engine's
:mod:`skexplain_ad._times` (its docstring has the formulas, [T] eq.
2.5-2.15); the per-chunk pooling runs on the members' backend.

References: [T] Z. Chen, "Explaining Anomalies by Taylor-Based
Decomposition of Outlier-Ensembles", 2021, eq. 2.5-2.15, App. A.4.
"""

import sys
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .._calibration import (
    member_rows,
    softmin_exclude,
    times_training_score,
    training_outlier_score,
)
from .._softmin import SOFTMIN_ATTRS
from .._times import PairModel, pair_statistics, times_outlierness, times_relevance, times_subset_score
from .._params import RULE_CONSTRAINT
from ._base import BaseEnsembleDetector

__all__ = ["TimesEnsemble"]


def _row_bounded(est):
    """Whether ``est``'s templates are some of its training rows (a class flag of the detectors)."""
    return bool(getattr(type(est), "_templates_are_training_rows", False))


def _never_softmin(est):
    """Whether ``est`` is one of the package's detectors that never has
    templates once fitted (an ensemble, a torch model): no need to fit it to
    know that Times cannot pool it."""
    if isinstance(est, BaseEnsembleDetector):
        return True
    for module, cls in (("skexplain_ad.detectors.autoencoder", "AutoencoderDetector"),
                        ("skexplain_ad.detectors.deep", "DeepOneClassDetector")):
        mod = sys.modules.get(module)  # imported where such a member exists
        if mod is not None and isinstance(est, getattr(mod, cls)):
            return True
    return False


def _raise_not_softmin(name, est, missing):
    raise ValueError(
        f"TimesEnsemble needs soft-min members (fitted templates_, "
        f"log_weights_ and gamma_, e.g. KDEDetector or OCSVMDetector); "
        f"member {name!r} ({type(est).__name__}) has no {', '.join(missing)}."
    )


def _check_softmin_shapes(name, est, n_features):
    """A fitted member's ``templates_`` (m, n_features), ``log_weights_`` (m,)
    and ``gamma_`` (a positive finite number), or a ValueError naming it."""
    U = np.asarray(est.templates_)
    lw = np.asarray(est.log_weights_)
    g = np.asarray(est.gamma_)
    who = f"TimesEnsemble: member {name!r} ({type(est).__name__})"
    if U.ndim != 2 or U.shape[1] != n_features or U.shape[0] < 1:
        raise ValueError(
            f"{who} has templates_ of shape {U.shape}; expected (n_templates >= 1, "
            f"{n_features}), one column per feature of X."
        )
    if lw.shape != (U.shape[0],):
        raise ValueError(
            f"{who} has log_weights_ of shape {lw.shape}; expected ({U.shape[0]},), "
            "one per template."
        )
    if g.size != 1 or not np.issubdtype(g.dtype, np.number) or not np.isfinite(g) or g <= 0:
        raise ValueError(f"{who} has gamma_={est.gamma_!r}; expected a positive finite number.")


def _check_k_l(k, l, names, counts, how):  # noqa: E741 - the thesis' name
    """k <= the second member's templates, l <= the first's (``counts``; None:
    not known yet); ``how`` says, per member, what bounds its count."""
    for par, val, j, i in (("k", k, 1, 0), ("l", l, 0, 1)):
        if counts[j] is not None and val > counts[j]:
            raise ValueError(
                f"TimesEnsemble: {par}={val} nearest templates of member "
                f"{names[j]!r} were asked for each template of {names[i]!r}, "
                f"but {names[j]!r} has {how[j]}; "
                f"{par} must be in [1, {counts[j]}]."
            )


class TimesEnsemble(BaseEnsembleDetector):
    r"""Two soft-min detectors fused into one soft-min model over template pairs.

    The thesis' "Times" ensemble ([T] Sec. 2.2): the sum of the two members'
    outlierness is, up to a constant, the outlierness of a single soft-min
    model whose templates are the m * n midpoints of the members' templates.
    Its ranking (and ROC) equals that of the plain bag of the two members
    ([T] eq. 2.8), but its explanation points to nearby midpoints. The
    local variant keeps only the midpoints of near pairs ([T] Sec. 2.2.2).

    Parameters
    ----------
    estimators : list of two (str, detector) tuples
        Two soft-min detectors (:class:`~skexplain_ad.KDEDetector`,
        :class:`~skexplain_ad.OCSVMDetector`, or any detector that, once
        fitted, has ``templates_``, ``log_weights_`` and ``gamma_``). They
        are cloned; ``name__param`` reaches their parameters.
    k, l : int or None, default=None
        ``None`` and ``None``: global Times ([T] eq. 2.6-2.9). Two ints:
        local Times ([T] eq. 2.12-2.15) with the ``k`` nearest templates of
        the second member for each template of the first (``1 <= k <= n``)
        and the ``l`` nearest of the first for each of the second
        (``1 <= l <= m``). ``k=n, l=m`` equals global. Checked before any
        member is fitted against the rows a :class:`~skexplain_ad.KDEDetector`
        or :class:`~skexplain_ad.OCSVMDetector` member will be fitted on
        (it has at most one template per row), and once fitted against
        the members' templates.
    split : bool, default=True
        ``True`` fits the members on two disjoint, shuffled halves of ``X``
        (sizes differ by at most one), as the thesis builds C1 and C2;
        ``False`` fits both on all of ``X`` (C1 x C1 when the members are
        equal).
    tol : float in [0, 1), default=1e-9
        Relative error bound of ``explain`` in the L1 norm, per sample: pairs
        of templates whose share of the relevance is negligible are skipped
        (module :mod:`skexplain_ad._times`). ``0`` keeps every pair
        with a non-zero share. Scores are always exact.
    rule : {"oc-dtd", "conservative"}, default="oc-dtd"
        Propagation rule on the midpoint model(s): the thesis' OC-DTD,
        ``q_ij = p_ij min(o, G D_ij^2) / D_ij^2`` ([T] eq. 1.14, 2.9, 2.15), or
        the paper's conservative ``q_ij = p_ij o / D_ij^2`` ([P] App.
        A.2-A.3; each local model's rows then sum to its own o). A query on
        a midpoint (``G D_ij^2`` within round-off of 0) spreads that pair's
        share evenly over the features, as in
        :mod:`skexplain_ad._softmin`. The members' own ``rule`` is not used
        (the pairs are one soft-min model).
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    n_jobs : int or None, default=None
        Threads over row chunks in ``explain`` (and local scoring).
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle of ``split=True``.

    Attributes
    ----------
    estimators_ : list of two detectors
        The fitted members.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    gamma_ : float
        Stiffness of the fused model, ``g1 + g2``.
    log_alpha_ : float
        ``log(alpha)``, the log of the normaliser of the pair weights
        (``o_t = o_1 + o_2 + log_alpha_``); at most 0.
    pairs_ : ndarray of shape (n_pairs, 2)
        Local Times only: the union of the k-NN and l-NN pairs ``(i, j)``.
    pair_sets_ : ndarray of bool, shape (n_pairs, 2)
        Local Times only: whether each pair is in ``N_1`` (a k-NN pair of
        ``u_i``) and in ``N_2`` (an l-NN pair of ``u'_j``).
    pair_sq_dist_ : ndarray of shape (n_pairs,)
        Local Times only: ``||u_i - u'_j||^2`` of each pair.
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``: the
        ``contamination`` percentile of the training scores, each training
        point scored as if held out -- without the midpoints of the pairs
        ``(i, j)`` that involve its own template(s), the pair weights
        renormalised: exactly the Times model of the members without those
        templates (local: a dropped nearest neighbour is replaced by the
        next nearest, as a refit's search would). An OC-SVM member is not
        refitted. See :mod:`skexplain_ad._calibration`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    BaggedDetector : average pooling over any explainable detectors.

    Notes
    -----
    ``outlier_score`` is :math:`o_t = o_1 + o_2 + \log\alpha` (global), from
    the members in O(m + n) per sample, or :math:`(o_{t1} + o_{t2})/2`
    (local), in :math:`O(m + n + |N_1 \cup N_2|)` after the members' distances.
    Both are non-negative.

    ``explain`` returns [T] eq. 2.9 (global) or eq. 2.15 (local): non-negative,
    each row sums to at most the outlierness, exactly where
    :math:`o \le G D_{ij}^2` for every pair that carries weight (a query far
    from the midpoints). It costs the members' distances plus one GEMM over
    the kept pairs: up to O(m n d) per sample for the global model when the
    soft-argmins are spread out, O((k m + l n) d) for the local one; memory
    stays O(m n) for the global one, never O(m n d). For two equal members
    (``split=False``, C x C) the midpoints come in equal pairs
    :math:`u_{ij} = u_{ji}`; summing both is the thesis' merged model with
    weights :math:`2\beta_{ij}` ([T] Sec. 2.2.1, Fig. 2.5).

    ``outlier_score_subset(X, keep)`` is exact pixel flipping ([T] eq. 1.16)
    on the midpoint model(s): with only the features in ``keep``,
    :math:`o_K = \log\alpha - \log\sum_{ij} e^{\ell_i + \ell'_j - g_1 d_{i,K}^2
    - g_2 d'^2_{j,K} - c\|u_i - u'_j\|^2_{\bar K}}` (the weights :math:`\beta`
    keep their full-dimensional pair distances), so :math:`o_K = o_t` with
    all features and 0 with none (global). It costs :math:`O(m n |\bar K|)`
    per sample, and the removal steps of one sample (rows repeating it with
    a shrinking ``keep``) together :math:`O(m n d)` plus :math:`O(m n)` per step.

    References
    ----------
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021. Eq. 1.14,
       1.16, 2.6-2.15.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import KDEDetector, TimesEnsemble
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> members = [("c1", KDEDetector(gamma=0.5)), ("c2", KDEDetector(gamma=0.5))]
    >>> times = TimesEnsemble(members, random_state=0).fit(X)
    >>> x_out = np.array([[0.0, 0.0, 6.0]])
    >>> times.predict(x_out)
    array([-1])
    >>> o = times.outlier_score(x_out)
    >>> o1, o2 = (e.outlier_score(x_out) for e in times.estimators_)
    >>> bool(np.isclose(o[0], o1[0] + o2[0] + times.log_alpha_))   # [T] eq. 2.7
    True
    >>> int(times.explain(x_out).argmax())
    2
    >>> local = TimesEnsemble(members, k=5, l=5, random_state=0).fit(X)
    >>> local.pairs_.shape[1]
    2
    """

    _parameter_constraints = {
        **BaseEnsembleDetector._parameter_constraints,
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "l": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, 1, closed="left")],
        "rule": RULE_CONSTRAINT,
        "n_jobs": [Integral, None],
    }
    _min_members = 2
    _max_members = 2

    def __init__(
        self,
        estimators,
        *,
        k=None,
        l=None,  # noqa: E741 - the thesis' name
        split=True,
        tol=1e-9,
        rule="oc-dtd",
        contamination=0.1,
        n_jobs=None,
        random_state=None,
    ):
        self.estimators = estimators
        self.k = k
        self.l = l  # noqa: E741
        self.split = split
        self.tol = tol
        self.rule = rule
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _validate_estimators(self):
        if (self.k is None) != (self.l is None):
            raise ValueError(
                f"TimesEnsemble: k and l must both be None (global Times) or both "
                f"be ints (local Times); got k={self.k!r}, l={self.l!r}."
            )
        return super()._validate_estimators()

    def _check_before_fit(self, X, names, ests, sizes):
        # before any member is fitted (a member can take minutes): members
        # that can never be soft-min, and k, l above the templates a member
        # can have (a KDE has one per training row, an OC-SVM at most one)
        for name, est in zip(names, ests):
            if _never_softmin(est):
                _raise_not_softmin(name, est, SOFTMIN_ATTRS)
        if self.k is None:
            return
        bound = [size if _row_bounded(est) else None
                 for est, size in zip(ests, sizes)]
        part = f", its part of n_samples={X.shape[0]} with split=True" if self.split else ""
        how = [f"at most {size} templates ({type(est).__name__} fitted on {size} rows{part})"
               for est, size in zip(ests, sizes)]
        _check_k_l(self.k, self.l, names, bound, how)

    def _fit_ensemble(self, X):
        for name, est in zip(self.named_estimators_, self.estimators_):
            missing = [a for a in SOFTMIN_ATTRS if not hasattr(est, a)]
            if missing:
                _raise_not_softmin(name, est, missing)
            _check_softmin_shapes(name, est, X.shape[1])
        model = PairModel(self.estimators_, X.dtype)
        m, n, _ = model.shape
        names = list(self.named_estimators_)
        if self.k is not None:
            _check_k_l(self.k, self.l, names, [m, n],
                       [f"only {m} templates", f"only {n} templates"])
        self.gamma_ = model.G
        self.log_alpha_, local = pair_statistics(model, self.k, self.l)
        if local is not None:
            self.pairs_, self.pair_sets_, self.pair_sq_dist_ = local
        # the fitted pair model, built once per dtype on first use; never pickled
        self._pair_models = {}

    def _pair_model(self, dtype):
        """The fitted :class:`~skexplain_ad._times.PairModel` in ``dtype``,
        built once per fit (with its members' prepared kernels)."""
        cache = self.__dict__.setdefault("_pair_models", {})
        key = np.dtype(dtype).str
        if key not in cache:
            cache[key] = PairModel.of(self, dtype)
        return cache[key]

    def __getstate__(self):
        state = super().__getstate__()
        if "_pair_models" in state:
            state = {**state, "_pair_models": {}}
        return state

    # ------------------------------------------------------------- scoring
    def _is_local(self):
        return self.k is not None

    def _outlier_score(self, X):
        o = times_outlierness(self._pair_model(X.dtype), X, n_jobs=self.n_jobs)
        return o.astype(X.dtype, copy=False)

    def _training_outlier_score(self, X, rows):
        # the pairs that involve a training point left out (_calibration)
        X = np.asarray(X)
        r1, r2 = member_rows(self, rows)
        e1, e2 = self.estimators_
        none = np.full(X.shape[0], -1, np.int64)
        ex1, ex2 = softmin_exclude(e1, r1), softmin_exclude(e2, r2)
        ex1 = none if ex1 is None else ex1
        ex2 = none if ex2 is None else ex2
        local = None
        if self._is_local():
            local = (self.pairs_, self.pair_sets_, self.k, self.l)
        return times_training_score(
            self._pair_model(np.float64), X, ex1, ex2, self.log_alpha_, local=local,
            member_scores=lambda: (training_outlier_score(e1, X, r1),
                                   training_outlier_score(e2, X, r2)),
        )

    def _explain(self, X):
        _, R = times_relevance(self._pair_model(X.dtype), X, tol=self.tol, rule=self.rule,
                               n_jobs=self.n_jobs)
        return R.astype(X.dtype, copy=False)

    def _outlier_score_subset(self, X, keep):
        """Outlierness with only the features in ``keep`` ([T] eq. 1.16).

        On validated ``X`` (the public ``outlier_score_subset`` validates);
        :func:`skexplain_ad._times.times_subset_score`.

        Returns
        -------
        o : ndarray of shape (n_samples,), float64
            Exact; see the class Notes.
        """
        return times_subset_score(self._pair_model(np.float64), X, keep)
