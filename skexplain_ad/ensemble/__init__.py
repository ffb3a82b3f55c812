"""Ensembles of explainable detectors: bagging and the thesis' "Times" fusion.

- :class:`BaggedDetector`: average pooling over any explainable detectors
  ([T] eq. 2.1-2.3; [P] Sec. 5, App. A.1).
"""

from .bagging import BaggedDetector

__all__ = ["BaggedDetector"]
