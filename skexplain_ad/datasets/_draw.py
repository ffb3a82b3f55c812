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


def _stroke(points, size, half_width):
    """Anti-aliased stroke intensity in [0, 1]: ``1 - dist / half_width``."""
    return np.clip(1.0 - _polyline_distance(points, size) / half_width, 0.0, 1.0)
