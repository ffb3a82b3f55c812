"""The detectors the Clever Hans audit runs, named and configured as the documents do.

The paper's models ([P] Sec. 3, Sec. 5):

- ``KDE``: Gaussian KDE, gamma maximising the held-out likelihood of an
  inlier validation split ([P] Sec. 3); the paper's propagation rule.
- ``Auto``: the autoencoder's reconstruction error ([P] Sec. 2-3).
- ``Deep``: the deep one-class model on a fixed feature extractor ([P]
  Sec. 2-3); its shipped extractor reads 28 x 28 images only.
- ``Bag``: the paper's bag, the standardised mean of KDE, Auto and Deep
  ([P] Sec. 5: :class:`~skexplain_ad.BaggedDetector` with
  ``standardize=True``); of those among the three that the data allow.

The thesis' models ([T] ch. 2-3), on two disjoint, shuffled halves C1 and C2
of the training data:

- ``OC-SVM``: one one-class SVM on all training data, gamma by the k-NN mass
  heuristic ([T] eq. 3.1).
- ``C1+C2``: bagging of the two OC-SVMs of the halves, the plain mean
  ([T] eq. 2.1-2.3).
- ``C1xC2``: the global Times ensemble of the same two ([T] eq. 2.6-2.9).
- ``C1xC2-local``: the local Times ensemble, k = l = 5 ([T] eq. 2.12-2.15).

Ensembles reuse fitted models: ``Bag`` bags the very KDE, Auto and Deep of
the run (fitted once, as ``BaggedDetector(split=False)`` would fit them on
the same data), and the three C1/C2 ensembles share one pair of OC-SVMs
fitted on the halves that ``split=True`` draws with the same
``random_state``. The tables equal those of freshly fitted ensembles
(``tests/test_audit.py`` checks it); only the time is saved.
"""

import hashlib
import importlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTOR_NAMES",
    "DETECTORS",
    "DetectorEntry",
    "PROTOCOLS",
    "available_detectors",
    "check_detectors",
    "make_detector",
    "missing_requirements",
]

#: What each optional module is installed with.
_INSTALL = {
    "torch": "pip install 'skexplain_ad[torch]'",
    "zennit": "pip install 'skexplain_ad[torch]'",
    "torchvision": "pip install 'skexplain_ad[torch]'",
    "shap": "pip install 'skexplain_ad[shap]'",
}


def _common(ctx):
    return {k: ctx[k] for k in ("backend", "device", "n_jobs")}


def _kde(ctx):
    from ..detectors import KDEDetector

    return KDEDetector(gamma="likelihood", random_state=ctx["random_state"], **_common(ctx))


def _ocsvm(ctx):
    from ..detectors import OCSVMDetector

    return OCSVMDetector(gamma="knn_mass", **_common(ctx))


def _auto(ctx):
    from ..detectors import AutoencoderDetector

    p = PROTOCOLS[ctx["protocol"]]
    # trained as the paper trains it (to convergence); the weights of the default splits ship
    # in the package (scripts/train_audit_autoencoder.py) and load only where the training
    # data and every setting match bit for bit: other data trains its own model
    return AutoencoderDetector(epochs=p["auto_epochs"], patience=p["auto_patience"],
                               random_state=ctx["random_state"], device=ctx["device"],
                               shipped_weights=True)


def _deep(ctx):
    from ..detectors import DeepOneClassDetector

    return DeepOneClassDetector(device=ctx["device"])  # fixed features: nothing random


def _member(ctx, name, make):
    fitted = ctx["members"].get(name)
    return Prefit(fitted) if fitted is not None else make(ctx)


def _bag(ctx):
    from ..ensemble import BaggedDetector

    names = list(ctx["members"]) or list(DETECTORS["Bag"].members)
    ests = [(m, _member(ctx, m, DETECTORS[m].factory)) for m in names]
    return BaggedDetector(ests, standardize=True, random_state=ctx["random_state"])


def _half_model(ctx):
    """The base model of the halves C1, C2: the protocol's (OC-SVM, or the eq. 3.4 KDE)."""
    from ..detectors import KDEDetector

    if PROTOCOLS[ctx["protocol"]].get("halves") == "kde":
        # [T] Sec. 3.3, eq. 3.4: every training image a template of weight 1 / |T_i|
        return KDEDetector(gamma="knn_mass", **_common(ctx))
    return _ocsvm(ctx)


def _halves(ctx):
    return [(c, _member(ctx, c, _half_model)) for c in ("C1", "C2")]


def _half(ctx, c):
    return _member(ctx, c, _half_model)


def _self_times(ctx, c):
    from ..ensemble import TimesEnsemble

    m = _half(ctx, c)
    return TimesEnsemble([(c, m), (c + "'", m)], split=False, n_jobs=ctx["n_jobs"])


def _bag_halves(ctx):
    from ..ensemble import BaggedDetector

    return BaggedDetector(_halves(ctx), standardize=False, split=True,
                          random_state=ctx["random_state"])


def _times(ctx, **kl):
    from ..ensemble import TimesEnsemble

    return TimesEnsemble(_halves(ctx), split=True, random_state=ctx["random_state"],
                         n_jobs=ctx["n_jobs"], **kl)


@dataclass(frozen=True)
class DetectorEntry:
    """One detector of the registry: how to make it, what it needs, what it is.

    Adding a detector to the audit is one entry of :data:`DETECTORS`.
    """

    #: ``factory(ctx)`` returns the unfitted detector; ``ctx`` holds
    #: ``random_state``, ``backend``, ``device``, ``n_jobs``, ``protocol`` and
    #: ``members`` (fitted members to reuse, by name).
    factory: Callable
    #: one sentence for the report: what it is, which document and equation
    description: str
    requires: tuple = ()
    #: image shape the detector is limited to (None: any data)
    image_shape: tuple = None
    #: registry detectors it bags (the run's fitted ones are reused)
    members: tuple = ()
    #: made of the run's two OC-SVMs fitted on the halves C1, C2 of the training data
    halves: bool = False
    #: dtype its inputs are given in (the torch models compute in float32)
    dtype: type = np.float64
    #: in the audit's default set (the others run when named, or by a protocol)
    default: bool = True
    #: fitted on this half's rows only ("C1" or "C2"), not on all training data
    fit_half: str = None


#: The registry: name -> entry, in the order the audit runs them.
DETECTORS = OrderedDict([
    ("KDE", DetectorEntry(
        _kde, "Gaussian kernel density estimate on the training inliers, gamma maximising the "
        "held-out likelihood; o(x) is the negative log of the kernel sum, explained by the "
        "paper's conservative LRP rule ([P] Sec. 2, Eq. (1), App. A.2-A.3).")),
    ("Auto", DetectorEntry(
        _auto, "Convolutional autoencoder; o(x) is the squared reconstruction error, explained "
        "per pixel as (x_j - r_j(x))^2 ([P] Sec. 2-3).", ("torch",), dtype=np.float32)),
    ("Deep", DetectorEntry(
        _deep, "Deep one-class model: whitened distance of CNN features to their training mean, "
        "explained by the z-rule and the LRP gamma rule ([P] Sec. 2, App. A.4-A.5); its shipped "
        "feature extractor reads 28 x 28 images.", ("torch", "torchvision", "zennit"),
        image_shape=(28, 28), dtype=np.float32)),
    ("Bag", DetectorEntry(
        _bag, "The paper's bag of the run's KDE, Auto and Deep: each member standardised by "
        "its training scores, o(x) = sum_k w_k o_k(x) with w_k = 1/(K sigma_k) (the mean offsets "
        "are biases: they carry no relevance), explained by the members' relevance, weighted "
        "alike ([P] Sec. 5).", ("torch",),
        members=("KDE", "Auto", "Deep"), dtype=np.float32)),
    ("OC-SVM", DetectorEntry(
        _ocsvm, "One-class SVM (RBF kernel, gamma by the k-NN mass heuristic [T] eq. 3.1); "
        "o(x) is the negative log of its kernel sum, explained by OC-DTD ([T] eq. 1.3, "
        "1.9-1.14).")),
    ("C1+C2", DetectorEntry(
        _bag_halves, "Bagging: the plain mean of two OC-SVMs fitted on the halves C1, C2 of the "
        "training data ([T] eq. 2.1-2.3).", halves=True)),
    ("C1xC2", DetectorEntry(
        _times, "Global Times ensemble: one soft-min model over all midpoints of the two halves' "
        "support vectors, a product of their kernel sums ([T] eq. 2.6-2.11).", halves=True)),
    ("C1xC2-local", DetectorEntry(
        lambda ctx: _times(ctx, k=5, l=5), "Local Times ensemble: midpoints only between each "
        "support vector's k = l = 5 nearest ones of the other half ([T] eq. 2.12-2.15).",
        halves=True)),
    ("C1", DetectorEntry(
        lambda ctx: _half(ctx, "C1"), "C1: the halves' base model fitted on the first half T1 "
        "of the training data (an OC-SVM, or under the thesis' MVTec protocol a KDE with every "
        "image a template of weight 1/|T1|, [T] eq. 3.4).", halves=True, default=False)),
    ("C2", DetectorEntry(
        lambda ctx: _half(ctx, "C2"), "C2: the same on the second half T2.", halves=True,
        default=False)),
    ("C1xC1", DetectorEntry(
        lambda ctx: _self_times(ctx, "C1"), "C1xC1: the global Times ensemble of C1 with itself "
        "([T] Sec. 3.3, Tables 3.4-3.6): midpoints of pairs of its own templates.", halves=True,
        default=False, fit_half="C1")),
    ("C2xC2", DetectorEntry(
        lambda ctx: _self_times(ctx, "C2"), "C2xC2: the global Times ensemble of C2 with itself.",
        halves=True, default=False, fit_half="C2")),
])

#: Names the ``detectors`` parameter accepts, in run order.
DETECTOR_NAMES = tuple(DETECTORS)
#: The default set (every one that can run here is audited when none is named).
DEFAULT_DETECTORS = tuple(n for n, e in DETECTORS.items() if e.default)

#: Settings of the two protocols (see :func:`skexplain_ad.audit`).
PROTOCOLS = {
    "fast": {
        # KernelSHAP on 1 row could support no comparison (>= 5 rows a type): left to "paper"
        "n_digits": 2000, "n_samples": 30, "auto_epochs": 100, "auto_patience": 10,
        "n_flip": 3, "flip_steps": 10, "n_occlusion": 1, "n_shap": 0, "shap_nsamples": 1000,
        "shap_background": 5,
    },
    "paper": {
        # KernelSHAP: 10 rows, 5 on each of two types (enough for a judged comparison), at the
        # 2,000 coalitions it needs (1,000 gave cosine 0.41 against 0.93), 5 background rows
        "n_digits": 5000, "n_samples": 100, "auto_epochs": 100, "auto_patience": 10,
        "n_flip": 10, "flip_steps": 20, "n_occlusion": 10, "n_shap": 10, "shap_nsamples": 2000,
        "shap_background": 5,
    },
    # [T] Sec. 3.3 on MVTec AD: images at 160 x 160 x 3, the training set in halves, each a KDE
    # with every image a template (eq. 3.4), and the six models of Tables 3.4-3.6
    "thesis-mvtec": {
        "n_digits": 2000, "n_samples": 30, "auto_epochs": 5, "auto_patience": 3,
        "n_flip": 3, "flip_steps": 10, "n_occlusion": 1, "n_shap": 0, "shap_nsamples": 1000,
        "shap_background": 5, "halves": "kde", "image_size": 160,
        "detectors": ("C1", "C1xC1", "C2", "C2xC2", "C1+C2", "C1xC2"),
    },
}


def missing_requirements(modules):
    """The modules of ``modules`` that do not import, with the reason.

    Each module is imported for real (a module that is installed but broken,
    e.g. a torchvision built for another torch, counts as missing).

    Parameters
    ----------
    modules : iterable of str

    Returns
    -------
    missing : dict
        module -> one-line reason; empty when every module imports.

    Examples
    --------
    >>> from skexplain_ad._audit._registry import missing_requirements
    >>> missing_requirements(["numpy"])
    {}
    >>> list(missing_requirements(["no_such_module_xyz"]))
    ['no_such_module_xyz']
    """
    missing = {}
    for mod in modules:
        try:
            with warnings.catch_warnings():  # a check, not the place for their import notes
                warnings.simplefilter("ignore")
                importlib.import_module(mod)
        except Exception as exc:  # noqa: BLE001 - any failure to import is "missing"
            missing[mod] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return missing


def _install_hint(modules):
    cmds = list(dict.fromkeys(_INSTALL.get(m, f"pip install {m}") for m in modules))
    return " and ".join(cmds)


def refuse_or_leave_out(asked, param, error, line, skipped):
    """A selected name that cannot run here.

    The user named it (``asked``): a ValueError ``"{param}: {error}."``
    before any work. It came with the defaults: ``line`` goes to
    ``skipped`` (printed once) and the audit goes on without it.
    """
    if asked:
        raise ValueError(f"{param}: {error}.")
    skipped.append(line)


def _shape_ok(spec, image_shape):
    return spec.image_shape is None or (
        image_shape is not None and tuple(image_shape) == tuple(spec.image_shape))


def check_detectors(detectors=None, image_shape=None, *, backend="auto", protocol="fast"):
    """Choose the audit's detectors before any work.

    Parameters
    ----------
    detectors : list of str or None, default=None
        Names the user asked for; None means every detector of
        :data:`DETECTOR_NAMES` that can run.
    image_shape : tuple or None, default=None
        Shape of the audited images (None for tables).
    backend : str, default="auto"
        A ``"torch"`` backend makes every soft-min detector need torch.

    Returns
    -------
    names : list of str
        The detectors to run, in run order.
    skipped : list of str
        One line per detector left out of the default set, naming why and
        the install command.

    Raises
    ------
    ValueError
        For an unknown name, an empty list, or a detector the user named
        that cannot run here (the message names the install command).

    Examples
    --------
    >>> from skexplain_ad._audit._registry import check_detectors
    >>> check_detectors(["KDE", "OC-SVM"])
    (['KDE', 'OC-SVM'], [])
    >>> names, skipped = check_detectors(image_shape=(8, 8))
    >>> "Deep" in names, any(line.startswith("Deep") for line in skipped)
    (False, True)
    """
    if detectors is not None:
        detectors = list(detectors)
        if not detectors:
            raise ValueError("detectors is empty; name at least one of "
                             f"{', '.join(DETECTOR_NAMES)}.")
        unknown = [d for d in detectors if d not in DETECTORS]
        if unknown:
            raise ValueError(f"Unknown detector {unknown[0]!r}; expected one of "
                             f"{', '.join(DETECTOR_NAMES)}.")
    asked = detectors is not None
    candidates = (list(dict.fromkeys(detectors)) if asked
                  else list(PROTOCOLS[protocol].get("detectors", DEFAULT_DETECTORS)))
    extra = ("torch",) if backend == "torch" else ()
    names, skipped = [], []
    for name in candidates:
        spec = DETECTORS[name]
        if not _shape_ok(spec, image_shape):
            shape = "tables" if image_shape is None else f"{tuple(image_shape)} images"
            why = (f"{name} reads {spec.image_shape[0]} x {spec.image_shape[1]} images only "
                   f"(its shipped feature extractor); this data set has {shape}")
            refuse_or_leave_out(asked, "detectors", why, f"{name} left out: {why}.", skipped)
            continue
        missing = missing_requirements((*spec.requires, *extra))
        if missing:
            mods, hint = ", ".join(missing), _install_hint(missing)
            why = f"{name} needs {mods} ({'; '.join(missing.values())}): {hint}"
            refuse_or_leave_out(asked, "detectors", why,
                                f"{name} left out: needs {mods}: {hint}", skipped)
            continue
        names.append(name)
    if "Bag" in names:
        members = [m for m in DETECTORS["Bag"].members
                   if _shape_ok(DETECTORS[m], image_shape)
                   and not missing_requirements(DETECTORS[m].requires)]
        if len(members) < 2:
            why = f"Bag needs two of KDE, Auto, Deep; only {members} can run here"
            refuse_or_leave_out(asked, "detectors", why, f"{why}: left out.", skipped)
            names.remove("Bag")
    return names, skipped


def bag_members(image_shape):
    """The members of ``Bag`` that the data allow (KDE, Auto, Deep)."""
    return [m for m in DETECTORS["Bag"].members if _shape_ok(DETECTORS[m], image_shape)]


class Prefit(BaseEstimator):
    """A fitted detector as an ensemble member: fitting leaves it alone.

    ``clone`` returns the object itself and ``fit`` does nothing, so an
    ensemble built on it holds the very fitted model. ``outlier_score`` and
    ``explain`` remember their last results per input (by content), so an
    ensemble asking for what the audit already computed gets it back; every
    other attribute is the wrapped detector's.

    Parameters
    ----------
    estimator : fitted detector

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import clone
    >>> from skexplain_ad import KDEDetector
    >>> from skexplain_ad._audit._registry import Prefit
    >>> X = np.random.RandomState(0).rand(20, 3)
    >>> member = Prefit(KDEDetector(gamma=1.0).fit(X))
    >>> clone(member) is member, member.fit(X[:5]).templates_.shape
    (True, (20, 3))
    """

    _cache_size = 4

    def __init__(self, estimator):
        self.estimator = estimator

    def __sklearn_clone__(self):
        return self

    def fit(self, X, y=None):
        """Do nothing: the wrapped detector is fitted already.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : Prefit
        """
        return self

    def __getattr__(self, name):
        if name.startswith("__") or name in ("estimator", "_memo"):
            raise AttributeError(name)
        return getattr(self.estimator, name)

    def _cached(self, method, X):
        memo = self.__dict__.setdefault("_memo", OrderedDict())
        Xa = np.ascontiguousarray(X)
        key = (method, Xa.shape, Xa.dtype.str, hashlib.blake2b(Xa.view(np.uint8), digest_size=16).digest())
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
        value = getattr(self.estimator, method)(X)
        memo[key] = value
        while len(memo) > self._cache_size:
            memo.popitem(last=False)
        return value

    def outlier_score(self, X):
        """The wrapped detector's ``outlier_score``, remembered per input."""
        return self._cached("outlier_score", X)

    def explain(self, X):
        """The wrapped detector's ``explain``, remembered per input."""
        return self._cached("explain", X)

    def score_samples(self, X):
        """``-outlier_score(X)``."""
        return -self.outlier_score(X)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_memo", None)
        return state


def make_detector(name, *, random_state=None, backend="auto", device=None, n_jobs=None,
                  protocol="fast", members=None):
    """An unfitted detector of the audit by name.

    Parameters
    ----------
    name : str
        One of :data:`DETECTOR_NAMES`.
    random_state : int or None, default=None
    backend, device, n_jobs
        Passed to every soft-min detector (and ``device`` to the torch ones).
    protocol : {"fast", "paper"}, default="fast"
        The autoencoder's training budget (:data:`PROTOCOLS`).
    members : dict, optional
        Fitted detectors to build an ensemble from: for ``Bag``, its members
        in order (``"KDE"``, ``"Auto"``, ``"Deep"`` or a subset; a value None
        is fitted by the bag itself; all three when not given); ``"C1"``,
        ``"C2"`` for the C1/C2 ensembles. Fitted ones are wrapped in
        :class:`Prefit`; missing ones are fitted by the ensemble itself.

    Returns
    -------
    detector : estimator

    Raises
    ------
    ValueError
        On an unknown name.
    ImportError
        When the detector needs an optional extra that is not installed.

    Examples
    --------
    >>> from skexplain_ad._audit._registry import make_detector
    >>> make_detector("KDE", random_state=0)
    KDEDetector(gamma='likelihood', random_state=0)
    >>> make_detector("C1xC2-local", random_state=0).k
    5
    """
    if name not in DETECTORS:
        raise ValueError(f"Unknown detector {name!r}; expected one of {', '.join(DETECTOR_NAMES)}.")
    ctx = {"random_state": random_state, "backend": backend, "device": device, "n_jobs": n_jobs,
           "protocol": protocol, "members": dict(members or {})}
    return DETECTORS[name].factory(ctx)


def available_detectors(image_shape=None):
    """Names of the audit detectors that can run on data of this shape here.

    Parameters
    ----------
    image_shape : tuple, optional
        Shape of the audited images (None for tables): ``Deep`` needs
        (28, 28), the input of its shipped feature extractor.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from skexplain_ad._audit._registry import available_detectors
    >>> "KDE" in available_detectors((28, 28))
    True
    """
    return check_detectors(None, image_shape)[0]
