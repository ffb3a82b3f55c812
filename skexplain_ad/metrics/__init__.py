"""Metrics of the Clever Hans audit: is a detector right for the right reasons?

One module per formula family: ``_clever_hans`` (detection ROC, explanation
cosine, Clever Hans scores), ``_heatmap`` (heatmap normalisation, pixel
AUROC), ``_pixel_flipping`` ([T] eq. 1.15-1.16); every public name is
imported here.

A detector is audited on two axes and the two are compared:

* *detection accuracy*: the ROC-AUC of the outlierness ``o(x)`` against
  inlier / outlier labels (:func:`detection_auc`);
* *explanation accuracy*: the cosine similarity between the rectified
  relevance ``max(R, 0)`` and a ground-truth anomaly map
  (:func:`explanation_cosine`, :func:`explanation_accuracy`), the map being a
  pixel annotation (MVTec AD) or the corruption itself, [T] eq. 3.3
  (:func:`corruption_ground_truth`);
* the *Clever Hans score* comparing the two, in both published forms:
  the difference ROC - cosine of [P] Sec. 3 (:func:`clever_hans_difference`)
  and the ratio ROC / cosine of [T] eq. 3.5 (:func:`clever_hans_ratio`).

Two further measures of an explanation need no ground truth or a pixel one:
pixel flipping, [T] Sec. 1.4, eq. 1.15-1.16 (:func:`pixel_flipping_curve`,
:func:`pixel_flipping_auc`, :func:`pixel_flipping_aucs`), and the pixel-level
AUROC of MVTec AD (:func:`pixel_auroc`). :func:`normalize_relevance` maps
heatmaps to [0, 1] for display, [T] eq. 3.2.

Conventions follow scikit-learn: labels are +1 (inlier) and -1 (outlier);
``outlier_scores`` are the outlierness ``o(x) = -score_samples(x)``, higher
= more anomalous. Heatmaps may be given flattened, (n_samples, n_features),
or as images, (n_samples, height, width[, channels]).

References
----------
[P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Mueller, "The Clever Hans
    Effect in Anomaly Detection", 2020.
[T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
    Outlier-Ensembles", master's thesis, TU Berlin, 2021.
"""

from ._clever_hans import (
    CLEVER_HANS_RATIO_THRESHOLD,
    clever_hans_difference,
    clever_hans_ratio,
    corruption_ground_truth,
    detection_auc,
    explanation_accuracy,
    explanation_cosine,
)
from ._heatmap import normalize_relevance, pixel_auroc
from ._pixel_flipping import pixel_flipping_auc, pixel_flipping_aucs, pixel_flipping_curve

__all__ = [
    "CLEVER_HANS_RATIO_THRESHOLD",
    "clever_hans_difference",
    "clever_hans_ratio",
    "corruption_ground_truth",
    "detection_auc",
    "explanation_accuracy",
    "explanation_cosine",
    "normalize_relevance",
    "pixel_auroc",
    "pixel_flipping_auc",
    "pixel_flipping_aucs",
    "pixel_flipping_curve",
]
