"""Parameter checks shared by the dataset loaders and generators.

Every check raises a ``ValueError`` (or ``TypeError`` for a wrong type) whose
message names the parameter, what was expected and the value received
(STYLE.md, section 9).
"""

import numbers

import numpy as np
from sklearn.utils import check_scalar

__all__ = []

#: Smallest image side the corruptions and texture defects are written for.
MIN_IMAGE_SIZE = 8


def _check_count(value, name, *, minimum=0):
    """Return ``value`` as an int, checking it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} "
            f"of type {type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_choice(value, name, choices):
    """Check that ``value`` is one of ``choices`` (a sequence of str)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {sorted(choices)}, got {value!r}."
        )
    return value


def _check_names(names, name, choices):
    """Resolve a list of names (None = all of ``choices``), in the given order.

    Duplicates and unknown names raise a ``ValueError`` that lists the valid
    names.
    """
    if names is None:
        return list(choices)
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError(f"{name} must name at least one of {list(choices)}, got [].")
    unknown = [n for n in names if not isinstance(n, str) or n not in choices]
    if unknown:
        raise ValueError(
            f"Unknown {name} {unknown!r}; valid names are {list(choices)}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{name} contains duplicates: {names!r}.")
    return names


def _check_images(images, name="images"):
    """Validate grayscale images in [0, 1]: one (h, w) or a batch (n, h, w).

    Returns
    -------
    batch : ndarray of shape (n, h, w), float64
        A new array (never a view of the input).
    single : bool
        Whether the input was one 2-D image.
    """
    arr = np.array(images, dtype=np.float64)  # copies: callers may write into it
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be one image of shape (h, w) or a batch of shape "
            f"(n, h, w), got an array of shape {arr.shape}."
        )
    single = arr.ndim == 2
    batch = arr[np.newaxis] if single else arr
    n, h, w = batch.shape
    if h != w:
        raise ValueError(
            f"{name} must be square, got images of shape ({h}, {w}); reshape "
            "flattened rows to (n, side, side) first."
        )
    if h < MIN_IMAGE_SIZE:
        raise ValueError(
            f"{name} must be at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}, "
            f"got {h}x{w}."
        )
    if n == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {arr.shape}.")
    if not np.all(np.isfinite(batch)):
        raise ValueError(f"{name} must be finite, got NaN or infinite values.")
    lo, hi = batch.min(), batch.max()
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} must hold values in [0, 1], got values in [{lo:g}, {hi:g}]."
        )
    return batch, single


# ------------------------------------------------ shared by the corruptions

#: Side at which the corruptions' lengths are given (MNIST).
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
