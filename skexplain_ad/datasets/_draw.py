"""Rasterising helpers shared by the MNIST-C corruptions and texture defects.

Coordinates are ``(row, col)`` in pixels, pixel centres at integers.
"""

import numpy as np

__all__ = []


def _grid(size):
    """Row and column coordinates of the pixel centres, each (size, size)."""
    return np.mgrid[0:size, 0:size].astype(np.float64)


def _polyline_distance(points, size):
    """Distance from each pixel centre to a polyline.

    Parameters
    ----------
    points : array-like of shape (k, 2)
        Vertices ``(row, col)``; ``k >= 2``. A point may lie outside the image.
    size : int
        Side of the square image.

    Returns
    -------
    dist : ndarray of shape (size, size)
        Euclidean distance to the nearest segment.
    """
    points = np.asarray(points, dtype=np.float64)
    rows, cols = _grid(size)
    pix = np.stack([rows, cols], axis=-1)[np.newaxis]  # (1, size, size, 2)
    p0 = points[:-1, np.newaxis, np.newaxis, :]  # (k-1, 1, 1, 2)
    seg = (points[1:] - points[:-1])[:, np.newaxis, np.newaxis, :]
    seg_len2 = np.sum(seg**2, axis=-1)
    rel = pix - p0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(seg_len2 > 0, np.sum(rel * seg, axis=-1) / seg_len2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    dist = np.sqrt(np.sum((rel - t[..., np.newaxis] * seg) ** 2, axis=-1))
    return dist.min(axis=0)


def _released_line(c0, r0, c1, r1, size, width):
    """A line drawn the way MNIST-C's released code draws its lines.

    The intensity at a pixel centre is ``1 + log(1 - d / width)``, clipped
    to [0, 1], where ``d`` is the *vertical* distance ``|row - f(col)|`` to
    the infinite line ``f`` through ``(r0, c0)`` and ``(r1, c1)`` (not the
    distance to the segment): 1 on the line, 0 from ``d = width (1 - 1/e)``
    on. Only columns ``floor(c0) <= col < ceil(c1)`` are drawn, and nothing
    at all when ``c1 == c0`` (a vertical segment).

    Parameters
    ----------
    c0, r0, c1, r1 : float
        Column and row of the two points; ``c0 < c1`` draws left to right.
    size : int
        Side of the square image.
    width : float
        Scale of the fall-off (2.3 px in MNIST-C at 28 px).

    Returns
    -------
    line : ndarray of shape (size, size), float64 in [0, 1]
    """
    if c1 == c0:
        return np.zeros((size, size))
    rows, cols = _grid(size)
    slope = (r1 - r0) / (c1 - c0)
    dist = np.abs(rows - (r0 + slope * (cols - c0)))
    ratio = np.minimum(dist / width, 1.0 - 1e-12)
    line = np.clip(1.0 + np.log1p(-ratio), 0.0, 1.0)
    drawn = (cols >= np.floor(c0)) & (cols < np.ceil(c1))
    return np.where(drawn, line, 0.0)
