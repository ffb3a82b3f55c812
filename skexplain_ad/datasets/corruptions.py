"""The 15 MNIST-C corruptions, with pixel ground truth.

Re-implementations, with numpy, scipy and scikit-image, of the 15 corruptions
of MNIST-C (N. Mu and J. Gilmer, "MNIST-C: A robustness benchmark for
computer vision", 2019), the outlier classes of the Clever Hans study ([P]
Sec. 3; [T] Sec. 3.2). Defaults follow the severities MNIST-C was built with.

Every corruption takes one grayscale image ``(h, w)`` or a batch
``(n, h, w)`` with values in [0, 1] and returns a new float64 array of the
same shape in [0, 1]. Images must be square and at least 8 x 8; lengths
written "at 28 px" (line widths, blur widths, shifts) scale with the side,
``size / 28``, so 28 x 28 MNIST and 8 x 8 scikit-learn digits both work.
Random corruptions draw from ``random_state`` (an int, a
``np.random.RandomState`` or None); an image's draws depend on its position
in the batch, so the same batch and seed give the same output. Deterministic
corruptions (brightness, canny_edges, scale, stripe) accept and ignore
``random_state``, so that every entry of :data:`CORRUPTIONS` is called alike.

:func:`corrupt` applies one by name and returns the ground truth
``gt(x') = (x' - x)^2`` ([T] eq. 3.3).
"""

import numbers
from types import MappingProxyType

import numpy as np
from scipy import ndimage
from skimage import feature, transform
from sklearn.utils import check_random_state, check_scalar

from ._draw import _stroke
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

_REFERENCE_SIZE = 28.0


def _prepare(images):
    """Validated float64 batch (a copy), the scale factor, and 'was single'."""
    batch, single = _check_images(images)
    return batch, batch.shape[1] / _REFERENCE_SIZE, single


def _finish(batch, single):
    out = np.clip(batch, 0.0, 1.0)
    return out[0] if single else out


def _real(value, name, *, min_val=None, max_val=None, include_boundaries="both"):
    return float(
        check_scalar(
            value,
            name,
            numbers.Real,
            min_val=min_val,
            max_val=max_val,
            include_boundaries=include_boundaries,
        )
    )


def _random_signs(rng, size):
    return rng.randint(0, 2, size=size) * 2 - 1


def _warp_centered(batch, linear, shifts=None):
    """Apply a per-image affine map about the image centre (bilinear, zero fill).

    Parameters
    ----------
    batch : ndarray of shape (n, s, s)
    linear : ndarray of shape (n, 2, 2)
        Linear part acting on ``(x, y) = (col, row)`` of the *content*:
        output content = ``linear @ (input - centre) + centre + shift``.
    shifts : ndarray of shape (n, 2) or None
        ``(dx, dy)`` translation of the content, in pixels.
    """
    n, size, _ = batch.shape
    centre = (size - 1) / 2.0
    out = np.empty_like(batch)
    for i in range(n):
        forward = np.eye(3)
        forward[:2, :2] = linear[i]
        offset = np.array([centre, centre]) - linear[i] @ np.array([centre, centre])
        if shifts is not None:
            offset = offset + shifts[i]
        forward[:2, 2] = offset
        # skimage's warp wants the map from output to input coordinates.
        inverse = transform.AffineTransform(matrix=np.linalg.inv(forward))
        out[i] = transform.warp(
            batch[i], inverse, order=1, mode="constant", cval=0.0, preserve_range=True
        )
    return out


# ----------------------------------------------------------------- noise


def shot_noise(images, *, photons=3.0, random_state=None):
    """Poisson (shot) noise: ``x' = Poisson(photons * x) / photons``.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    photons : float, default=3.0
        Photon count at full intensity; fewer photons, more noise. MNIST-C
        severity 5 uses 3. Black pixels stay black.
    random_state : int, RandomState instance or None, default=None
        Seeds the Poisson draws.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import shot_noise
    >>> x = np.full((8, 8), 0.5)
    >>> y = shot_noise(x, random_state=0)
    >>> y.shape, bool(np.any(y != x)), bool(0 <= y.min() <= y.max() <= 1)
    ((8, 8), True, True)
    """
    batch, _, single = _prepare(images)
    photons = _real(photons, "photons", min_val=0, include_boundaries="neither")
    rng = check_random_state(random_state)
    return _finish(rng.poisson(batch * photons) / photons, single)


def impulse_noise(images, *, amount=0.17, random_state=None):
    """Salt-and-pepper noise: a fraction of pixels set to 0 or 1.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    amount : float, default=0.17
        Probability that a pixel is hit (MNIST-C severity 4). A hit pixel
        becomes 1 (salt) or 0 (pepper) with equal probability.
    random_state : int, RandomState instance or None, default=None
        Seeds which pixels are hit and how.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import impulse_noise
    >>> y = impulse_noise(np.zeros((28, 28)), random_state=0)
    >>> sorted(np.unique(y).tolist())
    [0.0, 1.0]
    """
    batch, _, single = _prepare(images)
    amount = _real(amount, "amount", min_val=0, max_val=1)
    rng = check_random_state(random_state)
    hit = rng.uniform(size=batch.shape) < amount
    salt = rng.uniform(size=batch.shape) < 0.5
    batch[hit] = salt[hit].astype(np.float64)
    return _finish(batch, single)


# ----------------------------------------------------------------- blur


def glass_blur(images, *, sigma=0.7, max_delta=1, iterations=2, random_state=None):
    """Glass blur: Gaussian blur, local random pixel swaps, blur again.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    sigma : float, default=0.7
        Gaussian blur width at 28 px (scaled with the image side).
    max_delta : int, default=1
        Largest swap distance at 28 px (scaled, at least 1 pixel).
    iterations : int, default=2
        Passes of swaps over the image; each pixel swaps with probability
        1/2 per pass. Defaults are MNIST-C severity 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the swaps.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import glass_blur
    >>> x = np.zeros((8, 8)); x[2:6, 3] = 1.0
    >>> y = glass_blur(x, random_state=0)
    >>> y.shape, bool(np.any(y != x))
    ((8, 8), True)
    """
    batch, factor, single = _prepare(images)
    sigma = _real(sigma, "sigma", min_val=0) * factor
    max_delta = check_scalar(max_delta, "max_delta", numbers.Integral, min_val=1)
    iterations = check_scalar(iterations, "iterations", numbers.Integral, min_val=1)
    delta = max(1, int(round(max_delta * factor)))
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    x = ndimage.gaussian_filter(batch, sigma=(0, sigma, sigma), mode="constant")
    for _ in range(iterations):
        for r in range(size - delta - 1, delta - 1, -1):
            for c in range(size - delta - 1, delta - 1, -1):
                idx = np.flatnonzero(rng.uniform(size=n) < 0.5)
                dr, dc = rng.randint(-delta, delta + 1, size=(2, idx.size))
                here = x[idx, r, c].copy()
                x[idx, r, c] = x[idx, r + dr, c + dc]
                x[idx, r + dr, c + dc] = here
    x = ndimage.gaussian_filter(x, sigma=(0, sigma, sigma), mode="constant")
    return _finish(x, single)


def motion_blur(images, *, sigma=3.0, max_angle=np.pi / 4, random_state=None):
    """Motion blur: a one-sided Gaussian streak along a random direction.

    ``x'(p) = sum_t w_t x(p - t u)`` with unit direction ``u`` at an angle
    drawn uniformly in ``[-max_angle, max_angle]`` from the horizontal,
    ``t = 0, 1, ..., ceil(3 sigma)`` and ``w_t ~ exp(-t^2 / (2 sigma^2))``
    summing to 1 (bilinear sampling, zero outside), as ImageMagick's
    ``motion_blur`` used by MNIST-C.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    sigma : float, default=3.0
        Streak width at 28 px (scaled with the image side); MNIST-C severity 1.
    max_angle : float, default=pi/4
        Largest angle of the streak from the horizontal, in radians.
    random_state : int, RandomState instance or None, default=None
        Seeds the angles.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import motion_blur
    >>> x = np.zeros((28, 28)); x[14, 14] = 1.0
    >>> y = motion_blur(x, random_state=0)
    >>> bool(y[14, 14] < 1.0), bool(np.count_nonzero(y) > 1)
    (True, True)
    """
    batch, factor, single = _prepare(images)
    sigma = _real(sigma, "sigma", min_val=0, include_boundaries="neither") * factor
    max_angle = _real(max_angle, "max_angle", min_val=0, max_val=np.pi)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    angles = rng.uniform(-max_angle, max_angle, size=n)
    taps = np.arange(int(np.ceil(3 * sigma)) + 1, dtype=np.float64)
    weights = np.exp(-(taps**2) / (2 * sigma**2))
    weights /= weights.sum()
    index, rows, cols = np.meshgrid(
        np.arange(n), np.arange(size), np.arange(size), indexing="ij"
    )
    dy = np.sin(angles)[:, None, None]
    dx = np.cos(angles)[:, None, None]
    out = np.zeros_like(batch)
    for t, w in zip(taps, weights):
        coords = np.stack([index, rows - t * dy, cols - t * dx])
        out += w * ndimage.map_coordinates(batch, coords, order=1, mode="constant")
    return _finish(out, single)


# ----------------------------------------------------------------- geometry


def shear(images, *, angle=0.4, random_state=None):
    """Horizontal shear about the image centre, by ``+angle`` or ``-angle``.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    angle : float, default=0.4
        Shear angle in radians (MNIST-C severity 2); rows move by
        ``tan(angle)`` times their distance to the centre. Each image's sign
        is drawn at random.
    random_state : int, RandomState instance or None, default=None
        Seeds the signs.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import shear
    >>> x = np.zeros((8, 8)); x[1:7, 4] = 1.0
    >>> y = shear(x, random_state=0)
    >>> y.shape, bool(np.any(y != x))
    ((8, 8), True)
    """
    batch, _, single = _prepare(images)
    angle = _real(angle, "angle", min_val=-np.pi / 2, max_val=np.pi / 2,
                  include_boundaries="neither")
    rng = check_random_state(random_state)
    n = batch.shape[0]
    k = np.tan(angle) * _random_signs(rng, n)
    linear = np.zeros((n, 2, 2))
    linear[:, 0, 0] = linear[:, 1, 1] = 1.0
    linear[:, 0, 1] = k  # x += k * y
    return _finish(_warp_centered(batch, linear), single)


def rotate(images, *, angle=0.4, random_state=None):
    """Rotation about the image centre, by ``+angle`` or ``-angle``.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    angle : float, default=0.4
        Rotation angle in radians (about 23 degrees, MNIST-C severity 2).
        Each image's sign is drawn at random.
    random_state : int, RandomState instance or None, default=None
        Seeds the signs.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import rotate
    >>> x = np.zeros((8, 8)); x[1:7, 4] = 1.0
    >>> y = rotate(x, random_state=0)
    >>> y.shape, bool(np.any(y != x))
    ((8, 8), True)
    """
    batch, _, single = _prepare(images)
    angle = _real(angle, "angle")
    rng = check_random_state(random_state)
    n = batch.shape[0]
    theta = angle * _random_signs(rng, n)
    cos, sin = np.cos(theta), np.sin(theta)
    linear = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
    return _finish(_warp_centered(batch, linear), single)


def scale(images, *, factor=0.7, random_state=None):
    """Zoom about the image centre: the content shrinks (or grows) by ``factor``.

    Deterministic; ``random_state`` is ignored.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    factor : float, default=0.7
        Size of the content after the zoom, relative to before (MNIST-C
        severity 3 shrinks digits to 70 %).
    random_state : None
        Ignored.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import scale
    >>> x = np.zeros((28, 28)); x[4:24, 4:24] = 1.0
    >>> y = scale(x)
    >>> bool(y.sum() < x.sum())
    True
    """
    batch, _, single = _prepare(images)
    factor = _real(factor, "factor", min_val=0, include_boundaries="neither")
    linear = np.broadcast_to(np.eye(2) * factor, (batch.shape[0], 2, 2))
    return _finish(_warp_centered(batch, linear), single)


def translate(images, *, shift=3, random_state=None):
    """Translation by ``shift`` pixels along each axis, in random directions.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    shift : float, default=3
        Shift at 28 px (MNIST-C severity 3), scaled with the image side and
        rounded to whole pixels (at least 1). Each image moves by
        ``(+-shift, +-shift)``, signs drawn at random; pixels moving in are 0.
    random_state : int, RandomState instance or None, default=None
        Seeds the directions.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import translate
    >>> x = np.zeros((8, 8)); x[3:5, 3:5] = 1.0
    >>> y = translate(x, random_state=0)
    >>> float(y.sum()), bool(np.any(y != x))
    (4.0, True)
    """
    batch, factor, single = _prepare(images)
    shift = _real(shift, "shift", min_val=0, include_boundaries="neither")
    rng = check_random_state(random_state)
    n = batch.shape[0]
    pixels = max(1, int(round(shift * factor)))
    shifts = pixels * _random_signs(rng, (n, 2)).astype(np.float64)
    linear = np.broadcast_to(np.eye(2), (n, 2, 2))
    return _finish(_warp_centered(batch, linear, shifts), single)


# ----------------------------------------------------------------- intensity


def brightness(images, *, delta=0.5, random_state=None):
    """Brighten: ``x' = min(x + delta, 1)``.

    MNIST-C raises the HSV value by ``delta``; on a grayscale image that is
    this shift. Deterministic; ``random_state`` is ignored.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    delta : float, default=0.5
        Added intensity (MNIST-C severity 5).
    random_state : None
        Ignored.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import brightness
    >>> brightness(np.array([[0.0] * 8, [0.8] * 8] * 4))[:2, 0].tolist()
    [0.5, 1.0]
    """
    batch, _, single = _prepare(images)
    delta = _real(delta, "delta", min_val=-1, max_val=1)
    return _finish(batch + delta, single)


def stripe(images, *, width=0.25, random_state=None):
    """Invert two vertical stripes along the left and right borders.

    ``x' = 1 - x`` in the outer ``width`` fraction of columns on each side
    (columns 0-6 and 21-27 of a 28 x 28 image), as MNIST-C's stripe: the
    black border turns white. Deterministic; ``random_state`` is ignored.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    width : float, default=0.25
        Width of each stripe as a fraction of the side, in (0, 0.5]; rounded
        to whole columns, at least one.
    random_state : None
        Ignored.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import stripe
    >>> stripe(np.zeros((8, 8)))[0].tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    batch, _, single = _prepare(images)
    width = _real(width, "width", min_val=0, max_val=0.5, include_boundaries="right")
    size = batch.shape[2]
    cols = max(1, int(round(width * size)))
    batch[:, :, :cols] = 1.0 - batch[:, :, :cols]
    batch[:, :, size - cols:] = 1.0 - batch[:, :, size - cols:]
    return _finish(batch, single)


def _plasma(rng, n, size, exponent):
    """Fractal ("plasma") noise in [0, 1]: white noise, amplitude ``f^-exponent``."""
    freq = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None] ** 2)
    freq[0, 0] = np.inf  # drop the mean
    spectrum = np.fft.fft2(rng.normal(size=(n, size, size))) * freq**-exponent
    field = np.fft.ifft2(spectrum).real
    field -= field.min(axis=(1, 2), keepdims=True)
    peak = field.max(axis=(1, 2), keepdims=True)
    return field / np.where(peak > 0, peak, 1.0)


def fog(images, *, strength=3.0, exponent=1.5, random_state=None):
    """Fog: add low-frequency plasma noise, then rescale.

    ``x' = (x + strength * P) * m / (m + strength)`` with ``P`` a fractal
    noise field in [0, 1] (amplitude spectrum ``|f|^-exponent``, periodic)
    and ``m`` the image's maximum (1 for a black image), so the brightest
    value stays about where it was, as MNIST-C's fog (severity 5: strength 3).

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    strength : float, default=3.0
        Weight of the fog relative to the image.
    exponent : float, default=1.5
        Spectral decay of the fog; larger is smoother (lower frequency).
    random_state : int, RandomState instance or None, default=None
        Seeds the noise.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import fog
    >>> y = fog(np.zeros((28, 28)), random_state=0)
    >>> bool(y.max() > 0.5), bool(y.min() >= 0)
    (True, True)
    """
    batch, _, single = _prepare(images)
    strength = _real(strength, "strength", min_val=0, include_boundaries="neither")
    exponent = _real(exponent, "exponent", min_val=0)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    peak = batch.max(axis=(1, 2), keepdims=True)
    peak = np.where(peak > 0, peak, 1.0)
    noisy = batch + strength * _plasma(rng, n, size, exponent)
    return _finish(noisy * peak / (peak + strength), single)


def spatter(images, *, coverage=0.15, sigma=1.5, color=0.25, random_state=None):
    """Spatter: blobs of mud of a flat grey cover part of the image.

    Blobs are the pixels where smoothed white noise (Gaussian, ``sigma``)
    exceeds its ``1 - coverage`` quantile, so every image gets some; covered
    pixels take the value ``color``. MNIST-C's severity-4 "mud" spatter.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    coverage : float, default=0.15
        Fraction of each image covered, in (0, 1).
    sigma : float, default=1.5
        Smoothing of the noise at 28 px (scaled); sets the blob size.
    color : float, default=0.25
        Grey level of the mud, in [0, 1].
    random_state : int, RandomState instance or None, default=None
        Seeds the blobs.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import spatter
    >>> y = spatter(np.zeros((28, 28)), random_state=0)
    >>> round(float(np.mean(y == 0.25)), 2)
    0.15
    """
    batch, factor, single = _prepare(images)
    coverage = _real(
        coverage, "coverage", min_val=0, max_val=1, include_boundaries="neither"
    )
    sigma = _real(sigma, "sigma", min_val=0) * factor
    color = _real(color, "color", min_val=0, max_val=1)
    rng = check_random_state(random_state)
    noise = ndimage.gaussian_filter(
        rng.normal(size=batch.shape), sigma=(0, sigma, sigma), mode="wrap"
    )
    cut = np.quantile(noise.reshape(len(noise), -1), 1 - coverage, axis=1)
    mud = noise > cut[:, None, None]
    batch[mud] = color
    return _finish(batch, single)


# ----------------------------------------------------------------- strokes


def _line_width(factor):
    """Half width of drawn strokes: 1.5 px at 28 px, never under 1 px."""
    return max(1.0, 1.5 * factor)


def dotted_line(images, *, random_state=None):
    """Add a dotted line drawn across the image, from the left to the right edge.

    The line joins ``(r0, 0)`` and ``(r1, w - 1)`` with rows ``r0, r1``
    drawn uniformly; it is anti-aliased (intensity ``1 - d / 1.5`` at
    distance ``d`` px, at 28 px, scaled, at least 1 px) and cut into dots
    by blanking every other block of columns (blocks of 2 px at 28 px,
    scaled, at least 1). ``x' = min(x + line, 1)``, as MNIST-C's dotted line.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    random_state : int, RandomState instance or None, default=None
        Seeds the end points.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import dotted_line
    >>> y = dotted_line(np.zeros((28, 28)), random_state=0)
    >>> bool(y.max() > 0.5), bool(np.all(y[:, 0:2] == 0))
    (True, True)
    """
    batch, factor, single = _prepare(images)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    ends = rng.uniform(0, size - 1, size=(n, 2))
    block = max(1, int(round(2 * factor)))
    dots = (np.arange(size) // block) % 2 == 1  # off, on, off, on, ...
    half = _line_width(factor)
    for i in range(n):
        line = _stroke([(ends[i, 0], 0.0), (ends[i, 1], size - 1.0)], size, half)
        batch[i] += line * dots
    return _finish(batch, single)


def zigzag(images, *, amplitude=2.0, max_slope=5.0, random_state=None):
    """Add a zigzag line across the image.

    A triangle wave of teeth ``amplitude`` px high and ``2 * amplitude`` px
    long runs from column ``0.07 w`` to ``0.93 w`` along a base line starting
    at a random row and ending up to ``max_slope`` px (at 28 px) above or
    below; drawn anti-aliased like :func:`dotted_line`. ``x' = min(x +
    zigzag, 1)``, as MNIST-C's zigzag.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    amplitude : float, default=2.0
        Tooth height at 28 px (scaled, at least 1 px).
    max_slope : float, default=5.0
        Largest rise of the base line over its length, at 28 px (scaled).
    random_state : int, RandomState instance or None, default=None
        Seeds the position and slope.

    Returns
    -------
    corrupted : ndarray of the same shape, float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import zigzag
    >>> y = zigzag(np.zeros((28, 28)), random_state=0)
    >>> bool(y.max() > 0.5), bool(np.all(y[:, 0] == 0))
    (True, True)
    """
    batch, factor, single = _prepare(images)
    amplitude = _real(amplitude, "amplitude", min_val=0, include_boundaries="neither")
    max_slope = _real(max_slope, "max_slope", min_val=0)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    tooth = max(1.0, amplitude * factor)
    half = _line_width(factor)
    c0, c1 = 0.07 * (size - 1), 0.93 * (size - 1)
    r0 = rng.uniform(0, size - 1, size=n)
    rise = rng.uniform(-max_slope, max_slope, size=n) * factor
    for i in range(n):
        theta = np.arctan2(rise[i], c1 - c0)
        length = np.hypot(rise[i], c1 - c0)
        # Along-line position u and offset v of the vertices: peaks at odd
        # multiples of the tooth length, alternating sides.
        peaks = np.arange(tooth, length, 2 * tooth)
        u = np.concatenate([[0.0], peaks, [length]])
        v = np.concatenate([[0.0], tooth * (-1.0) ** np.arange(peaks.size), [0.0]])
        rows = r0[i] + u * np.sin(theta) + v * np.cos(theta)
        cols = c0 + u * np.cos(theta) - v * np.sin(theta)
        batch[i] += _stroke(np.column_stack([rows, cols]), size, half)
    return _finish(batch, single)


def canny_edges(images, *, sigma=1.0, random_state=None):
    """Replace the image by its Canny edge map (1 on edges, 0 elsewhere).

    Uses :func:`skimage.feature.canny`. The strokes' interiors turn black and
    only their contours stay lit. Deterministic; ``random_state`` is ignored.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    sigma : float, default=1.0
        Width of the Canny Gaussian at 28 px (scaled with the image side).
    random_state : None
        Ignored.

    Returns
    -------
    corrupted : ndarray of the same shape, float64, values 0 or 1

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets.corruptions import canny_edges
    >>> x = np.zeros((28, 28)); x[8:20, 8:20] = 1.0
    >>> y = canny_edges(x)
    >>> sorted(np.unique(y).tolist()), float(y[14, 14])
    ([0.0, 1.0], 0.0)
    """
    batch, factor, single = _prepare(images)
    sigma = _real(sigma, "sigma", min_val=0) * factor
    out = np.stack([feature.canny(img, sigma=sigma) for img in batch])
    out = out.astype(np.float64)
    return _finish(out, single)


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
