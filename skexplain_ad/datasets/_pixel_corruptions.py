"""MNIST-C corruptions that act on pixel values: noise, blur, intensity.

Shot and impulse noise, glass and motion blur, brightness, stripe, fog,
spatter and Canny edges. See :mod:`skexplain_ad.datasets.corruptions` for
the shared conventions (shapes, scaling with the side, seeding).
"""

import numbers

import numpy as np
from scipy import ndimage
from skimage import feature
from sklearn.utils import check_random_state, check_scalar

from ._validation import _finish, _prepare, _real

__all__ = [
    "brightness",
    "canny_edges",
    "fog",
    "glass_blur",
    "impulse_noise",
    "motion_blur",
    "shot_noise",
    "spatter",
    "stripe",
]


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
