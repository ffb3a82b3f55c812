"""The Clever Hans audit: is each detector right for the right reasons?

For every detector and every anomaly type (corruption, defect or injected
table anomaly) of a data set with ground-truth anomaly maps,
:func:`skexplain_ad.audit` measures detection (ROC-AUC), explanation
accuracy (cosine with the ground truth), both Clever Hans scores, pixel
flipping and pixel AUROC ([P] Sec. 3, Fig. 2-3; [T] ch. 3), for the
detector's own LRP explanation and for baseline explainers beside it.

This private package holds the parts; the public entry point is the
function ``skexplain_ad.audit`` (and the ``skexplain-ad audit`` command):

- ``_registry``: the detectors by name, as data (one entry each), the protocols;
- ``_subjects``: the run's detectors, registry names and the user's estimators;
- ``_explainers``: the explainers as data; ``_baselines``: the baseline
  explainers (random, distance-to-mean, occlusion, KernelSHAP);
- ``_data``: the data sets, in-memory data and their checks;
- ``_checks``: the argument checks made before any work;
- ``_stats``: bootstrap intervals; ``_verdicts``: the claims and the ranking;
- ``_run``: the run itself and its timings;
- ``_columns``: the table's columns and their glossary;
- ``_summary``: the terminal text; ``_html``: the page; ``_report``: the one
  writer of the report folder.

Why a private package and not ``skexplain_ad/audit/``: the package would
share its name with the function ``skexplain_ad.audit``. Whichever is bound
last wins the attribute, and ``import skexplain_ad.audit as m`` would give
the function, not the module. With the package private, ``from skexplain_ad
import audit`` is always the function and nothing else has that name. The
figures (``skexplain_ad.plotting``) stay a public module.
"""

from ._columns import COLUMNS, GLOSSARY
from ._data import DATASETS, as_audit_data, load_audit_dataset
from ._explainers import EXPLAINERS
from ._registry import DETECTOR_NAMES, DETECTORS, PROTOCOLS, available_detectors, make_detector
from ._report import write_report
from ._run import STAGES, AuditWarning, audit
from ._summary import format_terminal_summary

__all__ = [
    "COLUMNS",
    "DATASETS",
    "DETECTORS",
    "DETECTOR_NAMES",
    "EXPLAINERS",
    "GLOSSARY",
    "PROTOCOLS",
    "STAGES",
    "AuditWarning",
    "as_audit_data",
    "audit",
    "available_detectors",
    "format_terminal_summary",
    "load_audit_dataset",
    "make_detector",
    "write_report",
]
