"""The columns of the audit table: one list that feeds ``COLUMNS`` and the glossary.

Each entry is ``(name, what it measures, range, better direction, source)``;
:data:`COLUMNS` (the table's column order) and :data:`GLOSSARY` (the report's
glossary and ``results.json``'s) are both read off :data:`_SPEC`, so a new
column is added in one place.
"""

__all__ = ["COLUMNS", "GLOSSARY", "CI_LEVEL_TEXT"]

CI_LEVEL_TEXT = "95 % percentile bootstrap interval over the rows"

_CI = f"{CI_LEVEL_TEXT}"

_SPEC = [
    ("dataset", "the audited data set", "name", "-", "-"),
    ("anomaly", "the anomaly type: a corruption (MNIST-C), a planted defect (textures), an MVTec "
                "AD defect folder, an injected table anomaly or the user's own anomaly group",
     "name", "-", "[P] Sec. 3; [T] Sec. 3.2-3.3"),
    ("detector", "the anomaly detector (model) audited; the report's summary says in one sentence "
                 "what each is", "name", "-", "[P] Sec. 2; [T] ch. 1-2"),
    ("explainer", "how the relevance map was made: lrp (the package's LRP / deep Taylor "
                  "explanation), random (uniform noise, a floor), distance-to-mean "
                  "((x - mean of training inliers)^2, what KDE reduces to), occlusion "
                  "(o(x) minus o(x) with the feature set to the training mean), "
                  "kernel-shap (the shap library's KernelSHAP)",
     "name", "-", "[P] Sec. 2, App. A-B; [T] eq. 1.9-1.14"),
    ("primary", "True on the row of the detector's own explanation, the one its verdict is "
                "about: lrp for the package's detectors; for a detector with no LRP (e.g. "
                "sklearn's IsolationForest) the model-agnostic occlusion stands in",
     "True / False", "-", "-"),
    ("roc_auc", "detection accuracy: how well the outlier score ranks this anomaly type above "
                "clean test inliers (probability that a random outlier scores higher than a "
                "random inlier)", "0 to 1; 0.5 = guessing", "higher",
     "[P] Sec. 3 (area under the ROC curve); [T] Sec. 3.2"),
    ("roc_auc_ci_low", f"lower end of roc_auc's {_CI} (inliers and outliers resampled apart)",
     "0 to 1", "higher", "-"),
    ("roc_auc_ci_high", f"upper end of roc_auc's {_CI}", "0 to 1", "higher", "-"),
    ("cosine", "explanation accuracy: mean over the explained outliers of the cosine similarity "
               "between the rectified relevance max(R, 0) and the ground-truth anomaly map",
     "0 to 1", "higher", "[P] Sec. 3; [T] Sec. 3.3, ground truth eq. 3.3"),
    ("cosine_ci_low", f"lower end of cosine's {_CI}", "0 to 1", "higher", "-"),
    ("cosine_ci_high", f"upper end of cosine's {_CI}", "0 to 1", "higher", "-"),
    ("reference_cosine", "cosine of an explanation that knows nothing on the same rows: the "
                         "random explainer's when it ran, else a flat map's (every feature "
                         "equally relevant)", "0 to 1", "-", "-"),
    ("cosine_gain_ci_low", f"lower end of the {_CI} of cosine - reference_cosine, paired per "
                           "row: above 0 means the explanation beats an uninformed one",
     "-1 to 1", "higher", "-"),
    ("cosine_gain_ci_high", f"upper end of the same interval", "-1 to 1", "higher", "-"),
    ("clever_hans_difference", "Clever Hans score: detection accuracy minus explanation "
                               "accuracy, roc_auc - cosine; high = detects well for the wrong "
                               "reasons", "-1 to 1", "lower", "[P] Sec. 3"),
    ("clever_hans_ratio", "the thesis' Clever Hans score, roc_auc / cosine; the thesis reads "
                          "values at or above 3 as a bad understanding of the task",
     "0 to infinity (infinite when cosine = 0)", "lower", "[T] eq. 3.5"),
    ("pixel_flipping_auc", "area under the pixel-flipping curve o_k(x) / o(x) when the most "
                           "relevant features are removed first, mean over the flipped outliers: "
                           "does the explanation point at what the model uses? o is the "
                           "relevance-carrying score (>= 0) of every detector",
     "0 to 1 (above 1 where removing a feature raises the score); for a model-agnostic "
     "detector, whose o is its score shifted to 0 at its most normal training sample, below 0 "
     "where a flipped sample scores more normal than that", "lower",
     "[T] Sec. 1.4, eq. 1.15-1.16"),
    ("pixel_flipping_auc_random", "the same area for features removed in a random order: "
                                  "the reference pixel_flipping_auc should beat",
     "0 to 1 (as above)", "lower (it is the reference)", "[T] Sec. 1.4, eq. 1.16"),
    ("pixel_auroc", "pixel-level ROC-AUC of the relevance against the binarised ground truth, "
                    "all pixels of the anomaly's outliers pooled (the MVTec AD convention)",
     "0 to 1; 0.5 = guessing", "higher", "MVTec AD convention (not in [P] or [T])"),
    ("primary_cosine_same_rows", "the primary explanation's cosine over exactly the outliers "
                                 "this row's explainer explained (a costly baseline explains "
                                 "only a few): the like-for-like reference for this row's cosine",
     "0 to 1", "-", "[P] Sec. 3"),
    ("cosine_vs_primary_ci_low", f"lower end of the {_CI} of cosine minus the primary's "
                                 "cosine, paired on the same rows (blank on primary rows)",
     "-1 to 1", "-", "-"),
    ("cosine_vs_primary_ci_high", "upper end of the same interval", "-1 to 1", "-", "-"),
    ("primary_pixel_flipping_same_rows", "the primary explanation's pixel_flipping_auc on the "
                                         "rows this explainer flipped", "0 to 1 (as above)",
     "-", "-"),
    ("pixel_flipping_vs_primary_ci_low", f"lower end of the {_CI} of this explainer's "
                                         "pixel-flipping area minus the primary's, paired",
     "-1 to 1", "-", "-"),
    ("pixel_flipping_vs_primary_ci_high", "upper end of the same interval", "-1 to 1", "-", "-"),
    ("agreement_with_primary", "mean cosine between this explainer's rectified map and the "
                               "primary's on the same rows: explainer agreement, needs no "
                               "ground truth", "0 to 1", "-", "-"),
    ("explain_seconds_per_sample", "time to explain one sample with this explainer, seconds "
                                   "(wall clock)", "0 to infinity", "lower", "measured"),
    ("n_inliers", "clean test samples the ROC is computed against", "count", "-", "-"),
    ("n_outliers", "samples of this anomaly type", "count", "-", "-"),
    ("n_explained", "outliers this explainer explained (all for the primary, random and "
                    "distance-to-mean; a subset for occlusion and kernel-shap)",
     "count", "-", "-"),
    ("n_flipped", "outliers whose pixel-flipping curves were computed for this explainer",
     "count", "-", "-"),
]

#: Columns of the audit table, in order (see :func:`skexplain_ad.audit`).
COLUMNS = [name for name, *_ in _SPEC]

#: Every column of results.csv: (what it measures, range, better direction, source).
GLOSSARY = {name: tuple(rest) for name, *rest in _SPEC}
