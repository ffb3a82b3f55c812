"""Rendered letters at 28 x 28, MNIST-like: a stand-in for EMNIST "letters".

[P] Sec. 3 builds its deep one-class model for MNIST-C on the feature
extractor of a CNN trained on the "letters" of EMNIST (26 classes, upper and
lower case merged). EMNIST cannot be had offline, so :func:`render_letters`
draws the 26 letters from the TrueType fonts that matplotlib ships (DejaVu,
STIX, Computer Modern) with random affine and stroke-width jitter, and
normalises them as MNIST and EMNIST are: white on black, the glyph scaled
into a 20 x 20 box (aspect kept), its centre of mass at the centre of the
28 x 28 image, grey levels in [0, 1].

Only the training script of the shipped letter features
(``scripts/train_letter_features.py``) and its tests use it.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.utils import check_random_state

from ._validation import _check_choice, _check_count

__all__ = ["LETTER_FONTS", "letter_font_paths", "render_letters"]

#: The font files (in matplotlib's ``mpl-data/fonts/ttf``) drawn from.
LETTER_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
)

_CANVAS = 112  # side of the drawing canvas, pixels
_FONT_SIZE = 56  # glyph size on the canvas
_BOX = 20  # MNIST: the glyph fits a 20 x 20 box ...
_SIDE = 28  # ... centred by its centre of mass in 28 x 28


def letter_font_paths():
    """Paths of :data:`LETTER_FONTS` in the installed matplotlib.

    Returns
    -------
    paths : list of pathlib.Path

    Raises
    ------
    ImportError
        If matplotlib (which ships the fonts) or Pillow is not installed.

    Examples
    --------
    >>> from skexplain_ad.datasets._letters import letter_font_paths
    >>> [p.name for p in letter_font_paths()][:2]
    ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "render_letters draws the fonts that matplotlib ships: "
            "pip install 'skexplain_ad[plot]'."
        ) from exc
    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [root / name for name in LETTER_FONTS]


@lru_cache(maxsize=None)
def _font(path):
    try:
        from PIL import ImageFont
    except ImportError as exc:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("render_letters needs Pillow: pip install pillow.") from exc
    return ImageFont.truetype(str(path), _FONT_SIZE)


def _draw(char, font, stroke):
    """The glyph, white on black, on a float canvas in [0, 1]."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (_CANVAS, _CANVAS), 0)
    ImageDraw.Draw(img).text(
        (_CANVAS / 2, _CANVAS / 2), char, fill=255, font=font, anchor="mm",
        stroke_width=stroke, stroke_fill=255,
    )
    return np.asarray(img, dtype=np.float64) / 255.0


def _affine(img, rng, max_rotation, max_shear, scale_range):
    """Rotate, shear and stretch about the canvas centre (bilinear)."""
    theta = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    shear = rng.uniform(-max_shear, max_shear)
    sy, sx = rng.uniform(*scale_range, size=2)
    c, s = np.cos(theta), np.sin(theta)
    # output = A @ input (row, col); affine_transform wants the inverse map
    A = np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [shear, 1.0]]) @ np.diag([sy, sx])
    inv = np.linalg.inv(A)
    centre = np.array(img.shape, dtype=np.float64) / 2.0
    offset = centre - inv @ centre
    return ndimage.affine_transform(img, inv, offset=offset, order=1, mode="constant")


def _stroke_width(img, radius):
    """Thicken (radius > 0) or thin (radius < 0) the strokes by grey morphology."""
    if radius == 0:
        return img
    r = abs(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = xx * xx + yy * yy <= r * r + 0.5
    op = ndimage.grey_dilation if radius > 0 else ndimage.grey_erosion
    return op(img, footprint=disc)


def _mnist_normalise(img):
    """Crop to the glyph, fit a 20 x 20 box (aspect kept), centre of mass at 14, 14."""
    from PIL import Image

    rows = np.flatnonzero(img.max(axis=1) > 0.05)
    cols = np.flatnonzero(img.max(axis=0) > 0.05)
    crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    f = _BOX / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
    small = np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)
    out = np.zeros((_SIDE, _SIDE))
    top, left = (_SIDE - small.shape[0]) // 2, (_SIDE - small.shape[1]) // 2
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    cy, cx = ndimage.center_of_mass(out)
    out = ndimage.shift(out, ((_SIDE - 1) / 2 - cy, (_SIDE - 1) / 2 - cx), order=1, mode="constant")
    out = np.clip(out, 0.0, None)
    return out / out.max()


def render_letters(
    n_per_class=100,
    *,
    case="both",
    max_rotation=12.0,
    max_shear=0.3,
    scale_range=(0.8, 1.2),
    stroke_range=(-1, 2),
    random_state=None,
):
    """Render the 26 letters at 28 x 28, MNIST-like, with random jitter.

    Each image: a font drawn from :data:`LETTER_FONTS`, the letter in upper
    or lower case (one class for both, as EMNIST "letters"), drawn white on
    black at 56 px on a 112 x 112 canvas; its strokes thickened or thinned
    by a grey dilation or erosion with a disc of radius drawn from
    ``stroke_range`` (canvas pixels); a random rotation, shear and stretch
    about the centre; then normalised as MNIST: cropped to the glyph, scaled into a 20 x 20 box
    with its aspect kept (box filter, i.e. anti-aliased), placed in 28 x 28
    with its centre of mass at the centre, its brightest pixel set to 1.

    Parameters
    ----------
    n_per_class : int, default=100
        Images per letter.
    case : {"both", "upper", "lower"}, default="both"
        Letter cases drawn; "both" draws each with probability 1/2.
    max_rotation : float, default=12.0
        Rotation angle drawn uniformly from ``[-max_rotation, max_rotation]``
        degrees.
    max_shear : float, default=0.3
        Horizontal shear factor drawn uniformly from ``[-max_shear, max_shear]``.
    scale_range : (float, float), default=(0.8, 1.2)
        Vertical and horizontal stretch factors, each drawn from this range
        (the aspect ratio varies; the final size does not, see above).
    stroke_range : (int, int), default=(-1, 2)
        Radius of the stroke dilation (> 0) or erosion (< 0) on the
        canvas, drawn uniformly from these integers, bounds included.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw; an int gives the same images on every run.

    Returns
    -------
    X : ndarray of shape (26 * n_per_class, 784)
        Flattened images, float64 in [0, 1], row-major 28 x 28; rows in
        random order.
    y : ndarray of shape (26 * n_per_class,)
        Class of each row, 0 ("a") to 25 ("z").

    Raises
    ------
    ValueError
        On a bad parameter, naming it and its value.
    ImportError
        Without matplotlib (which ships the fonts) or Pillow.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets._letters import render_letters
    >>> X, y = render_letters(2, random_state=0)
    >>> X.shape, y.shape, sorted(set(y.tolist())) == list(range(26))
    ((52, 784), (52,), True)
    >>> float(X.min()), float(X.max())
    (0.0, 1.0)
    """
    n_per_class = _check_count(n_per_class, "n_per_class", minimum=1)
    _check_choice(case, "case", ("both", "upper", "lower"))
    for name, value in (("max_rotation", max_rotation), ("max_shear", max_shear)):
        if not np.isscalar(value) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    lo, hi = _check_pair(scale_range, "scale_range")
    if not 0 < lo <= hi:
        raise ValueError(
            f"scale_range must be (low, high) with 0 < low <= high, got {scale_range!r}."
        )
    s_lo, s_hi = _check_pair(stroke_range, "stroke_range")
    if s_lo != int(s_lo) or s_hi != int(s_hi) or s_lo > s_hi or s_lo < -3 or s_hi > 8:
        raise ValueError(
            "stroke_range must be integers (low, high) with -3 <= low <= high <= 8, "
            f"got {stroke_range!r}."
        )
    rng = check_random_state(random_state)
    fonts = [_font(p) for p in letter_font_paths()]
    n = 26 * n_per_class
    y = np.repeat(np.arange(26), n_per_class)
    rng.shuffle(y)
    X = np.empty((n, _SIDE * _SIDE))
    for i, label in enumerate(y):
        upper = case == "upper" or (case == "both" and rng.rand() < 0.5)
        char = chr((ord("A") if upper else ord("a")) + int(label))
        font = fonts[rng.randint(len(fonts))]
        radius = int(rng.randint(int(s_lo), int(s_hi) + 1))
        img = _draw(char, font, stroke=0)
        img = _stroke_width(img, radius)
        img = _affine(img, rng, max_rotation, max_shear, (lo, hi))
        X[i] = _mnist_normalise(img).ravel()
    return X, y


def _check_pair(value, name):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers (low, high), got {value!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} must be a pair of finite numbers, got {value!r}.")
    return lo, hi
