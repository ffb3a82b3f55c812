"""The detectors an audit runs: registry names and the user's own estimators.

``audit(detectors=...)`` takes registry names (:data:`._registry.DETECTORS`),
estimators, ``(name, estimator)`` pairs, a dict ``{name: estimator}``, or a
list mixing them. An estimator is

- one of the package's detectors (anything with ``explain``): explained by
  its own LRP;
- any scikit-learn-style outlier detector with ``score_samples`` or
  ``decision_function`` (sklearn's ``IsolationForest``,
  ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM``, PyOD's models):
  scored through :class:`ModelAgnostic` and explained by occlusion, the
  model-agnostic stand-in for an own explanation.

Fitted estimators are used as they are; unfitted ones are cloned and fitted
on the training inliers. Everything is checked here, before any work.
"""

import re
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._registry import DETECTORS, check_detectors

__all__ = ["Subject", "ModelAgnostic", "resolve_detectors", "check_widths"]


@dataclass
class Subject:
    """One detector of the run."""

    name: str
    #: registry entry (None for the user's estimators)
    entry: object = None
    #: the user's estimator (None for registry names)
    estimator: object = None
    #: "lrp" (explained by its own LRP) or "model-agnostic"
    kind: str = "lrp"
    fitted: bool = False
    dtype: type = np.float64

    @property
    def description(self):
        if self.entry is not None:
            return self.entry.description
        est = type(self.estimator)
        what = f"{est.__name__} ({est.__module__.split('.')[0]})"
        if self.kind == "lrp":
            return f"Your {what}, explained by its own LRP."
        score = ("-score_samples" if hasattr(self.estimator, "score_samples") else
                 "PyOD's decision_function" if _is_pyod(self.estimator) else "-decision_function")
        return (f"Your {what}: no LRP for this model, so occlusion (o(x) minus o(x) with one "
                "feature set to the training mean) stands in for its own explanation; its outlier "
                f"score is {score} shifted to 0 at the most normal training sample.")


class ModelAgnostic:
    """A scikit-learn outlier detector seen as the audit's detectors are.

    ``outlier_score(X) = shift - s(X)`` with ``s`` its ``score_samples``
    (else ``decision_function``; higher = more normal, sklearn's sign; PyOD's
    ``decision_function``, higher = more outlying, is negated) and
    ``shift`` the largest ``s`` over the training inliers, so the score is
    >= 0 on the training data (pixel flipping divides by it) and ranks
    samples exactly as the model does.

    Parameters
    ----------
    estimator : fitted estimator
    X_train : ndarray
        The training inliers, for the shift.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from skexplain_ad._audit._subjects import ModelAgnostic
    >>> X = np.random.RandomState(0).normal(size=(50, 3))
    >>> m = ModelAgnostic(IsolationForest(random_state=0).fit(X), X)
    >>> bool(m.outlier_score(X).min() >= 0), m.outlier_score(X[:2]).shape
    (True, (2,))
    """

    def __init__(self, estimator, X_train):
        self.estimator = estimator
        self._method = ("score_samples" if hasattr(estimator, "score_samples")
                        else "decision_function")
        # PyOD's decision_function is an outlier score (higher = more outlying)
        self._sign = -1.0 if _is_pyod(estimator) and self._method == "decision_function" else 1.0
        self.shift = float(np.max(self._s(X_train)))

    def _s(self, X):
        s = np.asarray(getattr(self.estimator, self._method)(X), dtype=np.float64).ravel()
        return self._sign * s

    def outlier_score(self, X):
        """``shift - s(X)``: higher = more anomalous."""
        return self.shift - self._s(X)

    def score_samples(self, X):
        """``-outlier_score(X)``."""
        return -self.outlier_score(X)


def _is_pyod(est):
    """Whether ``est`` is a PyOD detector (its own sign and fitted-state conventions)."""
    return any(c.__module__.split(".")[0] == "pyod" for c in type(est).__mro__)


def _is_fitted(est):
    try:
        # PyOD models set attributes ending in "_" in __init__; fit adds these
        check_is_fitted(est, ["decision_scores_", "threshold_", "labels_"] if _is_pyod(est)
                        else None)
    except NotFittedError:
        return False
    except TypeError:  # not an estimator check_is_fitted knows
        return False
    return True


def _dtype_of(est):
    from ..detectors import AutoencoderDetector, DeepOneClassDetector

    return np.float32 if isinstance(est, (AutoencoderDetector, DeepOneClassDetector)) else np.float64


def _items(detectors):
    """``detectors`` as a list of (name or None, value), in order."""
    if isinstance(detectors, str) or hasattr(detectors, "fit"):
        return [(None, detectors)]
    if hasattr(detectors, "items"):
        return [(str(k), v) for k, v in detectors.items()]
    try:
        items = list(detectors)
    except TypeError:
        raise TypeError(f"detectors must be a name, an estimator, a dict {{name: estimator}} or a "
                        f"list of these and (name, estimator) pairs; got "
                        f"{type(detectors).__name__}.") from None
    out = []
    for i, item in enumerate(items):
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                raise TypeError(f"detectors[{i}] must be a (name, estimator) pair; got {item!r}.")
            out.append(item)
        else:
            out.append((None, item))
    return out


def _check_estimator(est, label):
    if not hasattr(est, "fit"):
        raise TypeError(f"{label} is a {type(est).__name__}, not an estimator: expected a "
                        "registry name or a scikit-learn-style outlier detector (fit and "
                        "score_samples or decision_function).")
    if not (hasattr(est, "score_samples") or hasattr(est, "decision_function")):
        raise TypeError(f"{label} ({type(est).__name__}) has neither score_samples nor "
                        "decision_function: the audit needs an outlier score (higher = more "
                        "normal, sklearn's sign). For LocalOutlierFactor pass novelty=True.")


def resolve_detectors(detectors=None, image_shape=None, *, backend="auto", protocol="fast"):
    """The run's detectors, checked before any work.

    Parameters
    ----------
    detectors : see the module docstring; None for every registry detector that can run.
    image_shape : tuple or None
        Shape of the audited images (None for tables).
    backend : str, default="auto"

    Returns
    -------
    subjects : list of Subject
    skipped : list of str
        Lines for registry detectors of the default set left out.

    Raises
    ------
    TypeError
        For an object that is no estimator or has no outlier score.
    ValueError
        For an unknown name, an empty selection, a duplicate name, or a
        registry detector the user named that cannot run here.

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> from skexplain_ad import KDEDetector
    >>> from skexplain_ad._audit._subjects import resolve_detectors
    >>> subs, _ = resolve_detectors(["KDE", ("mine", KDEDetector(gamma=0.1)), IsolationForest()])
    >>> [(s.name, s.kind) for s in subs]
    [('KDE', 'lrp'), ('mine', 'lrp'), ('IsolationForest', 'model-agnostic')]
    """
    if detectors is None:
        names, skipped = check_detectors(None, image_shape, backend=backend, protocol=protocol)
        return [_registry_subject(n) for n in names], skipped
    items = _items(detectors)
    if not items:
        raise ValueError("detectors is empty; name at least one registry detector or estimator.")
    registry = [v for k, v in items if k is None and isinstance(v, str)]
    names, skipped = (check_detectors(registry, image_shape, backend=backend)
                      if registry else ([], []))
    subjects = []
    for i, (name, value) in enumerate(items):
        label = f"detectors[{name!r}]" if name is not None else f"detectors[{i}]"
        if isinstance(value, str):
            if name is not None:
                raise TypeError(f"{label} must be an estimator; registry names go in the list "
                                f"as plain strings (got {value!r}).")
            if value in names:
                subjects.append(_registry_subject(value))
            continue
        _check_estimator(value, label)
        fitted = _is_fitted(value)
        kind = "lrp" if hasattr(value, "explain") else "model-agnostic"
        subjects.append(Subject(name or type(value).__name__, estimator=value if fitted else
                                clone(value), kind=kind, fitted=fitted, dtype=_dtype_of(value)))
    seen = {}
    for s in subjects:
        if s.name in seen:
            raise ValueError(f"detectors: the name {s.name!r} is used twice; give each a name, "
                             "e.g. {'forest_a': IsolationForest(), 'forest_b': ...}.")
        if not re.fullmatch(r"[^\x00-\x1f]{1,80}", s.name):
            raise ValueError(f"detectors: name {s.name!r} must be 1 to 80 printable characters.")
        seen[s.name] = s
    if not subjects:
        raise ValueError("detectors: none of the named detectors can run here.")
    return subjects, skipped


def _registry_subject(name):
    entry = DETECTORS[name]
    return Subject(name, entry=entry, kind="lrp", dtype=entry.dtype)


def check_widths(subjects, n_features):
    """Each fitted estimator reads ``n_features`` features (a ValueError before any fitting)."""
    for s in subjects:
        if s.fitted:
            n = getattr(s.estimator, "n_features_in_", None)
            if n is not None and int(n) != int(n_features):
                raise ValueError(f"detector {s.name!r} was fitted on {int(n)} features but the "
                                 f"data has {int(n_features)}.")
