"""MNIST-C corruptions that move or draw shapes: warps and strokes.

Shear, rotation, scale and translation (affine warps about the centre with
:func:`skimage.transform.warp`), and the dotted line and zigzag drawn across
the digit. See :mod:`skexplain_ad.datasets.corruptions` for the shared
conventions (shapes, scaling with the side, seeding).
"""

import numpy as np
from skimage import transform
from sklearn.utils import check_random_state

from ._draw import _stroke
from ._validation import _finish, _prepare, _real

__all__ = ["dotted_line", "rotate", "scale", "shear", "translate", "zigzag"]


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
