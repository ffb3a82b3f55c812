"""Ensembles of explainable detectors: bagging and the thesis' "Times" fusion.

- :class:`BaggedDetector`: average pooling over any explainable detectors
  ([T] eq. 2.1-2.3; [P] Sec. 5, App. A.1).
- :class:`TimesEnsemble`: two soft-min detectors fused into one soft-min
  model over the midpoints of their templates, global or local ([T]
  eq. 2.6-2.15).
"""

from .bagging import BaggedDetector
from .times import TimesEnsemble

__all__ = ["BaggedDetector", "TimesEnsemble"]
