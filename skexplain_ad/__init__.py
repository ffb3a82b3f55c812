"""Explainable anomaly detectors for scikit-learn.

Every detector scores outlierness ``o(x)`` and explains it feature by feature
(deep Taylor decomposition / LRP), and :func:`audit` measures whether the
explanation points at the real anomaly (the Clever Hans audit).
"""

from ._audit import audit, write_report
from .detectors import KDEDetector, OCSVMDetector
from .ensemble import BaggedDetector, TimesEnsemble
from .explain import explain
from ._explainable import explainable

__version__ = "0.1.0"

__all__ = [
    "KDEDetector",
    "OCSVMDetector",
    "BaggedDetector",
    "TimesEnsemble",
    "audit",
    "explain",
    "explainable",
    "write_report",
    "__version__",
]

# AutoencoderDetector and DeepOneClassDetector need torch: resolved on first
# access (skexplain_ad.detectors.__getattr__), never on import.
_TORCH_DETECTORS = ("AutoencoderDetector", "DeepOneClassDetector")


def __getattr__(name):
    if name in _TORCH_DETECTORS:
        from . import detectors

        return getattr(detectors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_TORCH_DETECTORS])
