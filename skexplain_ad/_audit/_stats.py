"""Bootstrap confidence intervals for the audit's claims.

Every verdict of the audit is a statistical claim about a few dozen rows,
so each carries a percentile bootstrap interval over those rows:

- :func:`auc_interval`: the detection ROC-AUC, inliers and outliers
  resampled separately (stratified bootstrap), computed exactly for every
  resample as ``v^T H^T w / (n_0 n_1)`` with ``H`` the inlier x outlier
  Mann-Whitney indicator (1 when the outlier scores higher, 1/2 on a tie) and
  ``w``, ``v`` the resampling counts: one small GEMM for all resamples;
- :func:`mean_interval`: the mean of per-row values (a cosine, or the
  paired difference of two explainers on the same rows).

Resamples are drawn from a seeded generator, so a run gives the same
intervals every time.
"""

from functools import lru_cache

import numpy as np

__all__ = ["N_BOOT", "LEVEL", "auc_interval", "mean_interval"]

#: Bootstrap resamples per interval.
N_BOOT = 1000
#: Confidence level of every interval.
LEVEL = 0.95


@lru_cache(maxsize=64)
def _counts(n, n_boot, random_state, stream):
    """Resampling counts (n_boot, n) of a seeded generator; the same for the same arguments."""
    rng = np.random.default_rng((random_state, stream))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    counts.flags.writeable = False
    return counts


def _bounds(samples, level):
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [a, 1.0 - a])
    return float(lo), float(hi)


def auc_interval(inlier_scores, outlier_scores, *, n_boot=N_BOOT, level=LEVEL, random_state=0):
    """Stratified bootstrap interval of the ROC-AUC (outliers scoring higher).

    Parameters
    ----------
    inlier_scores, outlier_scores : array-like of shape (n_0,), (n_1,)
        Outlier scores (higher = more anomalous) of the two groups.
    n_boot : int, default=1000
    level : float, default=0.95
    random_state : int, default=0

    Returns
    -------
    low, high : float
        NaN when a group is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad._audit._stats import auc_interval
    >>> lo, hi = auc_interval(np.arange(50.0), np.arange(50.0) + 60)
    >>> lo, hi
    (1.0, 1.0)
    """
    s0 = np.asarray(inlier_scores, dtype=np.float64).ravel()
    s1 = np.asarray(outlier_scores, dtype=np.float64).ravel()
    n0, n1 = s0.size, s1.size
    if n0 == 0 or n1 == 0:
        return np.nan, np.nan
    H = (s1[None, :] > s0[:, None]) + 0.5 * (s1[None, :] == s0[:, None])  # (n0, n1)
    w = _counts(n0, n_boot, random_state, 0)
    v = _counts(n1, n_boot, random_state, 1)
    aucs = np.einsum("bj,bj->b", w @ H, v) / (n0 * n1)
    return _bounds(aucs, level)


def mean_interval(values, *, n_boot=N_BOOT, level=LEVEL, random_state=0):
    """Bootstrap interval of the mean of per-row ``values`` (NaN rows dropped).

    Parameters
    ----------
    values : array-like of shape (n,)
        One value per row: a cosine, or a paired difference of two
        explainers on the same row.
    n_boot : int, default=1000
    level : float, default=0.95
    random_state : int, default=0

    Returns
    -------
    low, high : float
        NaN when no row is finite.

    Examples
    --------
    >>> from skexplain_ad._audit._stats import mean_interval
    >>> mean_interval([0.5, 0.5, 0.5])
    (0.5, 0.5)
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.nan, np.nan
    return _bounds(_counts(x.size, n_boot, random_state, 2) @ x / x.size, level)
