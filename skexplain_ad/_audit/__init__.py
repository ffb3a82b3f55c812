"""The Clever Hans audit: is each detector right for the right reasons?

For every detector and every anomaly type (corruption, defect or injected
table anomaly) of a data set with ground-truth anomaly maps,
:func:`skexplain_ad.audit` measures detection (ROC-AUC), explanation
accuracy (cosine with the ground truth), both Clever Hans scores, pixel
flipping and pixel AUROC ([P] Sec. 3, Fig. 2-3; [T] ch. 3), for the
detector's own LRP explanation and for baseline explainers beside it.

This private package holds the parts; the public entry point is the
function ``skexplain_ad.audit`` (and the ``skexplain-ad audit`` command):

- ``_registry``: the detectors by name, what each needs, the protocols;
- ``_baselines``: the baseline explainers (random, distance-to-mean,
  occlusion, KernelSHAP);
- ``_data``: the data sets and their checks;
- ``_checks``: the argument checks made before any work;
- ``_run``: the run itself, its timings and the report call.

Why a private package and not ``skexplain_ad/audit/``: the package would
share its name with the function ``skexplain_ad.audit``. Whichever is bound
last wins the attribute, and ``import skexplain_ad.audit as m`` would give
the function, not the module. With the package private, ``from skexplain_ad
import audit`` is always the function and nothing else has that name. The
report (``skexplain_ad._report``) and the figures (``skexplain_ad.plotting``)
stay where they are.
"""

from ._baselines import EXPLAINERS
from ._data import DATASETS, load_audit_dataset
from ._registry import DETECTOR_NAMES, PROTOCOLS, available_detectors, make_detector
from ._run import COLUMNS, STAGES, AuditWarning, audit

__all__ = [
    "COLUMNS",
    "DATASETS",
    "DETECTOR_NAMES",
    "EXPLAINERS",
    "PROTOCOLS",
    "STAGES",
    "AuditWarning",
    "audit",
    "available_detectors",
    "load_audit_dataset",
    "make_detector",
]
