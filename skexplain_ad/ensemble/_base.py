"""What both ensembles share: named members, splitting X, member access.

The members are given as in scikit-learn's heterogeneous ensembles
(:class:`sklearn.ensemble.VotingClassifier`): a list of ``(name, detector)``
pairs, whose parameters are reachable as ``name__param`` through
:class:`sklearn.utils.metaestimators._BaseComposition`. Fitting clones each
member and fits it on all of ``X`` (``split=False``, the paper's bag) or on
its own part of ``X`` (``split=True``, [T] ch. 3: C1 and C2 on two halves of
the training digits).
"""

import numpy as np
from sklearn.base import MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.metaestimators import _BaseComposition

from ..base import BaseDetector, subset_scorer
from ..base import member_outlier_score  # noqa: F401 - bagging's import
from ..base import supports_subset as base_supports_subset

__all__ = []

def split_indices(n_samples, n_parts, random_state):
    """Shuffled row indices of ``n_parts`` disjoint parts of ``range(n_samples)``.

    Part sizes differ by at most one ([T] Sec. 3.3: ``0 <= |T1| - |T2| <= 1``);
    the rows of each part keep their order in ``X``.

    Parameters
    ----------
    n_samples : int
    n_parts : int
    random_state : int, RandomState instance or None

    Returns
    -------
    parts : list of ndarray of int

    Examples
    --------
    >>> from skexplain_ad.ensemble._base import split_indices
    >>> [len(p) for p in split_indices(7, 2, random_state=0)]
    [4, 3]
    """
    perm = check_random_state(random_state).permutation(n_samples)
    return [np.sort(part) for part in np.array_split(perm, n_parts)]


class BaseEnsembleDetector(MetaEstimatorMixin, _BaseComposition, BaseDetector):
    """Base of :class:`BaggedDetector` and :class:`TimesEnsemble` (not public).

    A subclass sets ``_min_members`` / ``_max_members`` and implements
    ``_fit_ensemble(X)`` after the members are fitted, plus the usual
    ``_outlier_score`` and ``_explain``.
    """

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
        "estimators": [list],
        "split": ["boolean"],
        "random_state": ["random_state"],
    }
    _min_members = 2
    _max_members = None

    @property
    def named_estimators(self):
        """The (unfitted) members by name.

        Returns
        -------
        :class:`~sklearn.utils.Bunch`
        """
        return Bunch(**dict(self.estimators))

    def get_params(self, deep=True):
        """Parameters of the ensemble and, with ``deep``, of its members.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``name`` (the member) and ``name__param`` entries.

        Returns
        -------
        params : dict
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, including the members' as ``name__param``.

        Parameters
        ----------
        **params : dict
            Ensemble parameters, ``name`` to replace a member, or
            ``name__param`` for a member's parameter.

        Returns
        -------
        self : object
        """
        self._set_params("estimators", **params)
        return self

    # The base's fit skips nested parameter validation; here the members'
    # own fit must validate their parameters, as in sklearn's meta-estimators.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the members, then the ensemble's pooling and ``offset_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (mostly normal); images flattened.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        return self._fit_validated(X)

    def _validate_estimators(self):
        cls = type(self).__name__
        est_list = self.estimators
        if not all(
            isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
            for item in est_list
        ):
            raise ValueError(
                f"{cls}: estimators must be a list of (str, detector) pairs; got "
                f"{est_list!r}."
            )
        n = len(est_list)
        lo, hi = self._min_members, self._max_members
        if n < lo or (hi is not None and n > hi):
            want = f"exactly {lo}" if lo == hi else f"at least {lo}"
            raise ValueError(
                f"{cls} needs {want} members in estimators; got {n}: "
                f"{[name for name, _ in est_list]}."
            )
        names, ests = zip(*est_list)
        self._validate_names(names)
        self._check_estimators_are_instances(ests)
        for name, est in zip(names, ests):
            if not hasattr(est, "fit") or not hasattr(est, "explain"):
                raise ValueError(
                    f"{cls}: member {name!r} ({type(est).__name__}) must be a "
                    "detector with fit and explain methods."
                )
        return list(names), list(ests)

    def _fit(self, X):
        names, ests = self._validate_estimators()
        n = X.shape[0]
        if self.split:
            if n < len(ests):
                raise ValueError(
                    f"{type(self).__name__}(split=True) gives each of the "
                    f"{len(ests)} members its own part of X; got only "
                    f"n_samples={n}."
                )
            parts = split_indices(n, len(ests), self.random_state)
        else:
            parts = [slice(None)] * len(ests)
        # what the data's shape refutes is refuted before any member is fitted
        sizes = [len(part) for part in parts] if self.split else [n] * len(ests)
        self._check_before_fit(X, names, ests, sizes)
        self.estimators_ = [clone(est).fit(X[part]) for est, part in zip(ests, parts)]
        # which rows each member saw: out-of-sample training scores (_calibration)
        self._train_parts = parts if self.split else None
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        check_member_outputs(self, X)
        self._fit_ensemble(X)

    def _check_before_fit(self, X, names, ests, sizes):
        """Refute, from ``X``'s shape alone, what the members' fit would.

        Called after the parameter check and before any member is fitted;
        ``sizes[k]`` is the number of rows member ``k`` will be fitted on.
        The base checks nothing more; :class:`TimesEnsemble` checks ``k``
        and ``l``.
        """

    def _fit_ensemble(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


#: rows of ``X`` each member scores and explains once at ``fit``, to check
#: the shape of its outputs (:func:`check_member_outputs`)
_PROBE_ROWS = 2


def check_member_output(ens, name, est, method, out, X):
    """``out``, member ``name``'s ``method(X)``, as an array of the right shape.

    A score (``outlier_score``, ``score_samples``, a subset score) has one
    value per row of ``X``, ``explain`` one per entry. A member that gives
    another shape would otherwise be broadcast into the pooled result
    (``(n, 1)`` against ``(n, d)``) or fail inside numpy, naming nothing.

    Raises
    ------
    ValueError
        Naming the ensemble, the member, the method, the expected and the
        actual shape.
    """
    out = np.asarray(out)
    expected = tuple(X.shape) if method == "explain" else (X.shape[0],)
    if out.shape != expected:
        raise ValueError(
            f"{type(ens).__name__}: member {name!r} ({type(est).__name__}).{method} "
            f"returned an array of shape {out.shape} for X of shape {tuple(X.shape)}; "
            f"expected {expected}."
        )
    return out


def check_member_outputs(ens, X):
    """Score and explain the first rows of ``X`` with every fitted member, checking the shapes.

    Run once by ``fit``, right after the members are fitted and before the
    ensemble pools anything, so that a member whose ``outlier_score`` (or
    ``score_samples``) or ``explain`` returns the wrong width is named at
    ``fit`` (:func:`check_member_output`).
    """
    Xp = X[:_PROBE_ROWS]
    for name, est in zip(ens.named_estimators_, ens.estimators_):
        method = "outlier_score" if hasattr(est, "outlier_score") else "score_samples"
        check_member_output(ens, name, est, method, member_outlier_score(est, Xp), Xp)
        check_member_output(ens, name, est, "explain", est.explain(Xp), Xp)


def supports_subset(est):
    """Whether :func:`member_outlier_score_subset` can score ``est``
    (:func:`skexplain_ad.base.supports_subset`)."""
    return base_supports_subset(est)


def member_outlier_score_subset(est, X, keep):
    """Outlierness of a fitted member with only the ``keep`` features ([T] eq. 1.16).

    :func:`skexplain_ad.base.subset_scorer` on validated rows: the member's
    own ``_outlier_score_subset`` where it has one, else the engine's
    :func:`~skexplain_ad._softmin.softmin_subset_score`.
    """
    return np.asarray(subset_scorer(est, validated=True)(X, keep), dtype=np.float64)
