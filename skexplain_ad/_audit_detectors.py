"""The detectors the Clever Hans audit runs, configured as the seeds do.

- ``KDE``: Gaussian KDE, gamma maximising the held-out likelihood of an
  inlier validation split ([P] Sec. 3).
- ``OC-SVM``: one-class SVM, gamma by the k-NN mass heuristic ([T] eq. 3.1).
- ``Bag``: the thesis' C1 + C2, two OC-SVMs on the two halves of the
  training data, averaged ([T] eq. 2.1-2.3).
- ``Times``: the thesis' global C1 x C2 on the same halves ([T] eq. 2.6-2.9).
- ``Times-local``: local C1 x C2 with k = l = 5 ([T] eq. 2.12-2.15).
- ``Auto``, ``Deep``: the paper's autoencoder and deep one-class model
  ([P] Sec. 2-3), when the torch extra is installed.

An entry whose module is not importable (an optional extra missing) is left
out of :func:`available_detectors`.
"""

__all__ = ["available_detectors", "make_detector", "DETECTOR_NAMES"]

DETECTOR_NAMES = ("KDE", "OC-SVM", "Bag", "Times", "Times-local", "Auto", "Deep")


def _members(common):
    from .detectors import OCSVMDetector

    return [
        ("c1", OCSVMDetector(gamma="knn_mass", **common)),
        ("c2", OCSVMDetector(gamma="knn_mass", **common)),
    ]


def make_detector(name, *, random_state=None, backend="auto", device=None, n_jobs=None):
    """An unfitted detector of the audit by name.

    Parameters
    ----------
    name : str
        One of :data:`DETECTOR_NAMES`.
    random_state : int or None, default=None
    backend, device, n_jobs
        Passed to every soft-min detector.

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
    >>> from skexplain_ad._audit_detectors import make_detector
    >>> make_detector("KDE", random_state=0)
    KDEDetector(gamma='likelihood', random_state=0)
    """
    common = {"backend": backend, "device": device, "n_jobs": n_jobs}
    if name == "KDE":
        from .detectors import KDEDetector

        return KDEDetector(gamma="likelihood", random_state=random_state, **common)
    if name == "OC-SVM":
        from .detectors import OCSVMDetector

        return OCSVMDetector(gamma="knn_mass", **common)
    if name == "Bag":
        from .ensemble import BaggedDetector

        return BaggedDetector(_members(common), standardize=False, split=True, random_state=random_state)
    if name in ("Times", "Times-local"):
        from .ensemble import TimesEnsemble

        kl = {"k": 5, "l": 5} if name == "Times-local" else {}
        return TimesEnsemble(_members(common), split=True, random_state=random_state, **kl)
    if name == "Auto":
        from .detectors.autoencoder import AutoencoderDetector

        # a CPU budget for the audit: early stopping ends training sooner
        return AutoencoderDetector(epochs=30, patience=5, random_state=random_state, device=device)
    if name == "Deep":
        from .detectors.deep import DeepOneClassDetector

        return DeepOneClassDetector(device=device)  # fixed features: nothing random
    raise ValueError(f"Unknown detector {name!r}; expected one of {list(DETECTOR_NAMES)}.")


def available_detectors(image_shape=None):
    """Names of the audit detectors whose dependencies are installed.

    Parameters
    ----------
    image_shape : tuple, optional
        Shape of the audited images: ``Deep`` is left out unless it is
        (28, 28), the input of its shipped feature extractor.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from skexplain_ad._audit_detectors import available_detectors
    >>> "KDE" in available_detectors()
    True
    """
    names = []
    for name in DETECTOR_NAMES:
        if name == "Deep" and image_shape is not None and tuple(image_shape) != (28, 28):
            continue
        try:
            make_detector(name)
        except ImportError:
            continue
        names.append(name)
    return names
