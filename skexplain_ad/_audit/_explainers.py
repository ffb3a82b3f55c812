"""The audit's explainers as data: one entry each (how it runs, on which rows, what it needs).

``lrp`` is each package detector's own explanation ([P] Sec. 2, App. A;
[T] eq. 1.9-1.14). A detector without one (any scikit-learn-style outlier
detector) is explained by ``occlusion`` as its *primary* explanation, the
model-agnostic stand-in that the report names. The others are baselines
(:mod:`._baselines`). Adding an explainer is one entry of :data:`EXPLAINERS`.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._baselines import distance_to_mean, kernel_shap, occlusion, random_relevance, shap_background

__all__ = ["EXPLAINERS", "ExplainerEntry", "STAND_IN", "Job"]

#: The primary explanation of a detector without its own (model-agnostic).
STAND_IN = "occlusion"


@dataclass
class Job:
    """What an explainer gets: the model, the training mean, the settings of the run."""

    model: object
    mean: np.ndarray
    seed: int
    cfg: dict
    data_train: np.ndarray

    def score(self, Z):
        """The relevance-carrying outlier score of the rows of ``Z``."""
        return self.model.outlier_score(Z)

    def background(self):
        """KernelSHAP's background rows, computed once per run and shared."""
        if self.cfg.get("shap_background") is None:
            self.cfg["shap_background"] = shap_background(self.data_train, self.cfg["n_background"],
                                                          self.seed)
        return self.cfg["shap_background"]


def _rows_all(groups, cfg):
    return groups


def _rows_occlusion(groups, cfg):
    return {a: idx[: cfg["n_occlusion"]] for a, idx in groups.items()}


def _rows_shap(groups, cfg):
    """``n_shap`` rows in blocks of :data:`~._verdicts.MIN_ROWS` per anomaly type, in type order.

    A comparison with the primary explanation is judged per anomaly type and needs at least
    ``MIN_ROWS`` rows, so the rows go to as few types as that allows (the first outliers of
    each), rather than one to every type, where no comparison could be judged.
    """
    from ._verdicts import MIN_ROWS

    per, left, chosen = min(MIN_ROWS, cfg["n_shap"]), cfg["n_shap"], {}
    for a, idx in groups.items():
        if left <= 0:
            break
        take = idx[: min(per, left)]
        if take.size:
            chosen[a] = np.asarray(take, dtype=int)
            left -= take.size
    return chosen


@dataclass(frozen=True)
class ExplainerEntry:
    """One explainer: ``explain(job, X)`` and ``rows(groups, cfg)`` (the rows it explains)."""

    explain: Callable
    rows: Callable
    description: str
    requires: tuple = ()
    #: needs only the model's scores (runs on any detector)
    model_agnostic: bool = True


EXPLAINERS = OrderedDict([
    ("lrp", ExplainerEntry(
        lambda job, X: job.model.explain(X), _rows_all,
        "the detector's own LRP / deep Taylor explanation, one backward pass",
        model_agnostic=False)),
    ("random", ExplainerEntry(
        lambda job, X: random_relevance(X, job.seed), _rows_all,
        "uniform noise: the floor any explanation must beat")),
    ("distance-to-mean", ExplainerEntry(
        lambda job, X: distance_to_mean(X, job.mean), _rows_all,
        "(x - mean of the training inliers)^2, what a wide KDE reduces to ([P] App. B)")),
    ("occlusion", ExplainerEntry(
        lambda job, X: occlusion(job.score, X, job.mean, working_memory=64), _rows_occlusion,
        "o(x) minus o(x) with one feature set to the training mean: d + 1 model calls a row")),
    ("kernel-shap", ExplainerEntry(
        lambda job, X: kernel_shap(job.score, X, job.background(), nsamples=job.cfg["shap_nsamples"],
                                   random_state=job.seed), _rows_shap,
        "the shap library's KernelSHAP on the outlier score", ("shap",))),
])
