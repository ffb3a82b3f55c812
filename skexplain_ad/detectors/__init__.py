"""Single-model detectors: KDE and OC-SVM (soft-min models)."""

from .kde import KDEDetector
from .ocsvm import OCSVMDetector

__all__ = ["KDEDetector", "OCSVMDetector"]
