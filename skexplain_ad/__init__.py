"""Explainable anomaly detectors for scikit-learn.

Every detector scores outlierness ``o(x)`` and explains it feature by feature
(deep Taylor decomposition / LRP), and :func:`audit` measures whether the
explanation points at the real anomaly (the Clever Hans audit).
"""

from ._audit import audit
from .detectors import KDEDetector, OCSVMDetector
from .ensemble import BaggedDetector, TimesEnsemble

__version__ = "0.1.0"

__all__ = [
    "KDEDetector",
    "OCSVMDetector",
    "BaggedDetector",
    "TimesEnsemble",
    "audit",
    "__version__",
]
