"""Texture patches with planted defects: an offline, MVTec-AD-like set.

The textures are real photographs that ship inside the scikit-image wheel
(files in ``skimage/data/``, never fetched at run time): ``brick``,
``grass`` and ``gravel`` (512 x 512 grayscale) and ``immunohistochemistry``
(512 x 512 RGB, a stained tissue section, ``ihc.png``), so nothing is
downloaded. Defects imitate MVTec AD's texture classes ([P] Sec. 3; [T]
Sec. 3.3): a light ``scratch``, a dark ``hole``, a ``stain`` (a grey tone in
grayscale, a colour tone in RGB, as MVTec's colour stains), a thin jagged
``crack`` and a dark straight ``cut``. Each defect has a binary pixel mask,
one value per pixel in colour too. Patches can be resized to the size a
model needs (the thesis works at 160 x 160 x 3, [T] Sec. 3.3): images
bilinearly, masks by nearest neighbour, the defect planted before.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._draw import _grid, _polyline_distance
from ._validation import (
    MIN_IMAGE_SIZE,
    _check_choice,
    _check_count,
    _check_images,
    _check_names,
)

__all__ = ["TEXTURES", "DEFECTS", "make_textures", "plant_defect"]

#: Textures shipped inside the scikit-image wheel (never fetched at run time):
#: three grayscale photographs and one colour one.
TEXTURES = ("brick", "grass", "gravel", "immunohistochemistry")

#: Each texture's file in ``skimage/data/`` (the function of ``skimage.data``
#: that reads it has the texture's name).
_FILES = {"brick": "brick.png", "grass": "grass.png", "gravel": "gravel.png",
          "immunohistochemistry": "ihc.png"}

#: Defect types of :func:`plant_defect` and :func:`make_textures`.
DEFECTS = ("scratch", "hole", "stain", "crack", "cut")

_INLIER = "none"
_TEST_SHARE = 4  # the bottom 1/4 of the photograph's rows is the test region


def _load_texture(name, grayscale=None):
    """The photograph as a float64 image in [0, 1]: (h, w) grey or (h, w, 3) RGB.

    ``grayscale=None`` keeps the photograph's own mode; True converts RGB to
    grey (``skimage.color.rgb2gray``); False repeats a grey photograph in
    three channels.
    """
    from skimage import data, util
    from skimage.color import rgb2gray

    _check_choice(name, "texture", TEXTURES)
    image = util.img_as_float64(getattr(data, name)())
    if image.ndim == 3:
        image = image[..., :3]
        if grayscale:
            image = rgb2gray(image)
    elif grayscale is False:
        image = np.repeat(image[..., np.newaxis], 3, axis=-1)
    return image


# ------------------------------------------------------------------ defects
#
# Every defect is a region (the binary mask) and an affine intensity map
# x' = a + b * x inside it (clipped to [0, 1]), with a, b drawn at random.
# A pixel is unchanged only at the fixed point a / (1 - b), a random real
# that an 8-bit photograph never hits, or at 1.0 under a light scratch that
# saturates; the shipped textures peak below 1, so every masked pixel changes.


def _centre(rng, size):
    return rng.uniform(0.3, 0.7, size=2) * (size - 1)


def _segment(rng, size, lo, hi):
    """End points of a straight segment of length in [lo, hi] * size."""
    centre = _centre(rng, size)
    half = rng.uniform(lo, hi) * size / 2
    theta = rng.uniform(0, np.pi)
    step = half * np.array([np.sin(theta), np.cos(theta)])
    return np.array([centre - step, centre + step])


def _scratch(rng, patch):
    size = patch.shape[0]
    half_width = 0.6 * max(1.0, size / 32)
    region = _polyline_distance(_segment(rng, size, 0.4, 0.8), size) <= half_width
    return region, rng.uniform(0.6, 0.75), rng.uniform(0.2, 0.4)  # light


def _hole(rng, patch):
    size = patch.shape[0]
    rows, cols = _grid(size)
    r0, c0 = _centre(rng, size)
    axes = np.maximum(rng.uniform(0.08, 0.16, size=2) * size, 1.0)
    theta = rng.uniform(0, np.pi)
    u = (rows - r0) * np.cos(theta) + (cols - c0) * np.sin(theta)
    v = -(rows - r0) * np.sin(theta) + (cols - c0) * np.cos(theta)
    region = (u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1.0
    return region, rng.uniform(0.0, 0.08), rng.uniform(0.1, 0.3)  # dark


def _stain(rng, patch):
    size = patch.shape[0]
    rows, cols = _grid(size)
    r0, c0 = _centre(rng, size)
    radius = max(rng.uniform(0.12, 0.25) * size, 1.5)
    phi = np.arctan2(rows - r0, cols - c0)
    # an irregular blob: the radius wobbles with a few low harmonics
    wobble = sum(
        rng.uniform(-0.15, 0.15) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
        for k in (2, 3, 4)
    )
    region = np.hypot(rows - r0, cols - c0) <= radius * (1.0 + wobble)
    alpha = rng.uniform(0.4, 0.7)
    # a tone away from the region's own grey (in colour: per channel, away
    # from the region's mean of that channel, so the stain has a colour of
    # its own), blended in
    if patch.ndim == 2:
        if patch[region].mean() < 0.5:
            tone = rng.uniform(0.8, 0.95)
        else:
            tone = rng.uniform(0.05, 0.2)
    else:
        means = patch[region].mean(axis=0)
        light, dark = rng.uniform(0.8, 0.95, size=3), rng.uniform(0.05, 0.2, size=3)
        tone = np.where(means < 0.5, light, dark)
    return region, alpha * tone, 1.0 - alpha


def _crack(rng, patch):
    size = patch.shape[0]
    scale = max(1.0, size / 32)
    step = 2.0 * scale
    n_steps = max(2, int(rng.uniform(0.4, 0.8) * size / step))
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.uniform(-0.8, 0.8, n_steps))
    moves = step * np.column_stack([np.sin(heading), np.cos(heading)])
    start = _centre(rng, size) - moves.sum(axis=0) / 2  # centre the walk
    points = start + np.vstack([[0.0, 0.0], np.cumsum(moves, axis=0)])
    region = _polyline_distance(points, size) <= 0.6 * scale
    return region, rng.uniform(0.0, 0.05), rng.uniform(0.1, 0.3)  # dark


def _cut(rng, patch):
    size = patch.shape[0]
    half_width = max(1.0, 1.25 * size / 32)
    region = _polyline_distance(_segment(rng, size, 0.3, 0.6), size) <= half_width
    return region, rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.2)  # dark


_PAINTERS = {
    "scratch": _scratch,
    "hole": _hole,
    "stain": _stain,
    "crack": _crack,
    "cut": _cut,
}


def _check_patch(patch):
    """One square patch in [0, 1], (s, s) grey or (s, s, 3) colour, as a float64 copy."""
    arr = np.array(patch, dtype=np.float64)  # copies: the caller's patch is never written
    if arr.ndim == 3 and arr.shape[-1] == 3:  # colour, channels last
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(
                f"patch must be square, got a colour image of shape {arr.shape}."
            )
        _check_images(np.clip(arr.mean(axis=-1), 0.0, 1.0), name="patch")  # size, finite
        if arr.min() < 0.0 or arr.max() > 1.0:
            raise ValueError(
                f"patch must hold values in [0, 1], got values in "
                f"[{arr.min():g}, {arr.max():g}]."
            )
        return arr
    if arr.ndim != 2:
        raise ValueError(
            "patch must be one image, (s, s) grey or (s, s, 3) colour (channels "
            f"last), got shape {arr.shape}."
        )
    batch, _ = _check_images(arr, name="patch")
    return batch[0]


def plant_defect(patch, defect, *, random_state=None):
    """Plant one defect in a grey or colour patch and return its binary mask.

    Inside the defect region the intensity is mapped to ``a + b * x`` with
    ``a``, ``b`` drawn at random per defect type (in colour, the same map on
    every channel, except the stain's tone):

    - ``"scratch"``: a thin light straight line, 40-80 % of the side long;
    - ``"hole"``: a dark filled ellipse, semi-axes 8-16 % of the side;
    - ``"stain"``: an irregular blob, 12-25 % of the side in radius, blended
      towards a light or dark tone (the opposite of its own grey; in colour
      per channel, the opposite of the region's mean there, so the stain
      has a colour of its own);
    - ``"crack"``: a thin dark jagged random walk, 40-80 % of the side;
    - ``"cut"``: a dark straight slit, 2-3 px wide at 32 px, 30-60 % of the
      side long.

    Shapes sit around the middle of the patch and scale with its side. A
    grey patch gets exactly the defect it got before colour was supported
    (the same draws from ``random_state``).

    Parameters
    ----------
    patch : array-like of shape (s, s) or (s, s, 3)
        A square patch in [0, 1], grey or colour (channels last), ``s >= 8``.
    defect : str
        One of :data:`DEFECTS`.
    random_state : int, RandomState instance or None, default=None
        Seeds the shape, position and intensities.

    Returns
    -------
    defective : ndarray of the shape of ``patch``, float64 in [0, 1]
        The patch with the defect.
    mask : ndarray of shape (s, s), float64
        1 on the defect's pixels, 0 elsewhere (one value per pixel, in
        colour too); never empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets import plant_defect
    >>> patch = np.full((32, 32), 0.5)
    >>> out, mask = plant_defect(patch, "hole", random_state=0)
    >>> bool(mask.any()), bool(np.all(out[mask == 1] < 0.5))
    (True, True)
    >>> bool(np.array_equal(out[mask == 0], patch[mask == 0]))
    True
    >>> out, mask = plant_defect(np.full((32, 32, 3), 0.5), "stain", random_state=0)
    >>> out.shape, mask.shape
    ((32, 32, 3), (32, 32))
    """
    if not isinstance(defect, str) or defect not in _PAINTERS:
        raise ValueError(
            f"Unknown defect {defect!r}; valid names are {list(DEFECTS)}."
        )
    patch = _check_patch(patch)
    rng = check_random_state(random_state)
    region, a, b = _PAINTERS[defect](rng, patch)
    if not region.any():  # pragma: no cover - shapes are sized to hit a pixel
        centre = np.round(_centre(rng, patch.shape[0])).astype(int)
        region[tuple(centre)] = True
    out = patch.copy()
    out[region] = np.clip(a + b * patch[region], 0.0, 1.0)
    return out, region.astype(np.float64)


# ------------------------------------------------------------------ dataset


def _crops(rng, image, n, size, row_range):
    """``n`` random size x size crops whose top rows lie in ``row_range``."""
    lo, hi = row_range
    tops = rng.randint(lo, hi - size + 1, size=n)
    lefts = rng.randint(0, image.shape[1] - size + 1, size=n)
    return np.stack([image[t:t + size, s:s + size] for t, s in zip(tops, lefts)])


def _resize_images(images, side):
    """``images`` (n, s, s[, 3]) resized to side x side: bilinear, edge mode,
    Gaussian anti-aliasing when shrinking; clipped to [0, 1]."""
    from skimage.transform import resize

    if images.shape[1] == side:
        return images
    shrink = side < images.shape[1]
    out = np.stack([
        resize(im, (side, side) + im.shape[2:], order=1, mode="edge",
               anti_aliasing=shrink, preserve_range=True)
        for im in images
    ])
    return np.clip(out, 0.0, 1.0)


def _resize_masks(masks, side):
    """Binary ``masks`` (n, s, s) resized to side x side by nearest neighbour.

    Growing, nearest neighbour keeps every defect pixel. Shrinking can drop
    a thin defect's pixels; a mask left empty that way is given its one
    pixel of largest defect area (an area-resized copy's maximum), so a
    defective row never has an empty mask.
    """
    from skimage.transform import resize

    if masks.shape[1] == side:
        return masks
    out = np.stack([
        resize(m, (side, side), order=0, mode="edge", anti_aliasing=False,
               preserve_range=True)
        for m in masks
    ])
    out = (out > 0.5).astype(np.float64)
    for i in np.flatnonzero((out.reshape(len(out), -1).sum(axis=1) == 0)
                            & (masks.reshape(len(masks), -1).sum(axis=1) > 0)):
        area = resize(masks[i], (side, side), order=1, mode="edge",
                      anti_aliasing=True, preserve_range=True)
        out[i][np.unravel_index(np.argmax(area), area.shape)] = 1.0
    return out


def make_textures(
    texture="brick",
    *,
    patch_size=32,
    image_size=None,
    grayscale=None,
    n_train=500,
    n_test_inliers=100,
    n_outliers_per_defect=50,
    defects=None,
    random_state=None,
):
    """Make an anomaly detection set of texture patches with planted defects.

    Patches are random crops of a real photograph shipped with scikit-image.
    Training patches come from the top three quarters of the photograph,
    test patches from the bottom quarter, so training and test never share
    a pixel. Test inliers are clean crops; ``n_outliers_per_defect`` more
    clean crops ("base" patches) each receive every requested defect (see
    :func:`plant_defect`), one outlier group per defect, with binary masks.
    Defects are planted at ``patch_size``; then every patch is resized to
    ``image_size`` (bilinear, anti-aliased when shrinking) and every mask
    with it by nearest neighbour, so the two stay aligned.

    Parameters
    ----------
    texture : {"brick", "grass", "gravel", "immunohistochemistry"}, \
default="brick"
        The photograph (:data:`TEXTURES`, 512 x 512; the first three
        grayscale, ``"immunohistochemistry"`` RGB).
    patch_size : int, default=32
        Side of the square crops taken from the photograph, 8 to 128.
    image_size : int or None, default=None
        Side the patches (and masks) are resized to, at least 8; None keeps
        them at ``patch_size``, as before this parameter existed. The
        thesis' MVTec protocol works at 160 ([T] Sec. 3.3): crop 128, say,
        and resize to 160.
    grayscale : bool or None, default=None
        None keeps the photograph's own mode (grey for the first three
        textures, RGB for ``"immunohistochemistry"``); True converts RGB to
        grey; False gives RGB (a grey photograph repeated in 3 channels).
    n_train : int, default=500
        Clean training patches.
    n_test_inliers : int, default=100
        Clean test patches.
    n_outliers_per_defect : int, default=50
        Base patches, hence outliers per defect.
    defects : list of str, str or None, default=None
        Names from :data:`DEFECTS`, in the order their groups appear; None
        means all five.
    random_state : int, RandomState instance or None, default=None
        Seeds the crops and the defects. Each defect has its own seed drawn
        from it, so a subset of defects reproduces the rows of a full run;
        ``image_size`` draws nothing, so a resized set is the resized
        patches of the unresized one.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes (``S = image_size`` or
        ``patch_size``; ``d = S ** 2``, or ``3 * S ** 2`` in colour)

        data_train : ndarray of shape (n_train, d)
            Clean training patches (inliers only), flattened (pixel-major,
            channels last in colour, as :func:`load_mvtec`), in [0, 1].
        data : ndarray of shape (n_test, d)
            Test set: the clean test patches first, then the outliers grouped
            by defect, in the order of ``defects``.
        target : ndarray of shape (n_test,)
            +1 for inliers, -1 for outliers (scikit-learn's convention).
        masks : ndarray of shape (n_test, S ** 2)
            Binary ground-truth masks (1 = defect pixel); zeros for inliers;
            one value per pixel, in colour too (relevance is summed over
            the channels before it meets them, as the documents do).
        corruption : ndarray of str, shape (n_test,)
            The defect of each row; ``"none"`` for inliers.
        corruption_names : list of str
            The defects present, in row order.
        images_train, images : ndarray of shape (n, S, S) or (n, S, S, 3)
            ``data_train`` and ``data`` as images.
        image_shape : tuple
            ``(S, S)``, or ``(S, S, 3)`` in colour.
        texture : str
            The photograph used.
        DESCR : str
            Description of the data.

    Notes
    -----
    The default run holds 500 training rows and 100 + 5 * 50 = 350 test
    rows of 1,024 pixels. Select one defect's rows with
    ``np.isin(ds.corruption, ["none", "hole"])``. At ``image_size=160`` in
    colour a row has 76,800 features (600 KB in float64): the default
    850 rows take about 520 MB.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad.datasets import make_textures
    >>> ds = make_textures("grass", patch_size=16, n_train=20,
    ...                    n_test_inliers=10, n_outliers_per_defect=3,
    ...                    random_state=0)
    >>> ds.data_train.shape, ds.data.shape, ds.masks.shape
    ((20, 256), (25, 256), (25, 256))
    >>> ds.corruption_names
    ['scratch', 'hole', 'stain', 'crack', 'cut']
    >>> sorted(np.unique(ds.masks).tolist())
    [0.0, 1.0]

    In colour, resized:

    >>> ds = make_textures("immunohistochemistry", patch_size=16, image_size=24,
    ...                    n_train=4, n_test_inliers=2, n_outliers_per_defect=1,
    ...                    defects=["stain"], random_state=0)
    >>> ds.image_shape, ds.data.shape, ds.masks.shape
    ((24, 24, 3), (3, 1728), (3, 576))
    """
    _check_choice(texture, "texture", TEXTURES)
    names = _check_names(defects, "defects", DEFECTS)
    if grayscale is not None and not isinstance(grayscale, (bool, np.bool_)):
        raise TypeError(f"grayscale must be a bool or None, got {grayscale!r}.")
    patch_size = _check_count(patch_size, "patch_size", minimum=MIN_IMAGE_SIZE)
    if image_size is not None:
        image_size = _check_count(image_size, "image_size", minimum=MIN_IMAGE_SIZE)
    n_train = _check_count(n_train, "n_train", minimum=1)
    n_test = _check_count(n_test_inliers, "n_test_inliers", minimum=1)
    n_outliers = _check_count(
        n_outliers_per_defect, "n_outliers_per_defect", minimum=1
    )
    image = _load_texture(texture, None if grayscale is None else bool(grayscale))
    height = image.shape[0]
    split = height - height // _TEST_SHARE
    if patch_size > height - split:
        raise ValueError(
            f"patch_size must be <= {height - split} (the height of the test "
            f"region of {texture!r}), got {patch_size}."
        )
    side = patch_size if image_size is None else image_size

    rng = check_random_state(random_state)
    train = _crops(rng, image, n_train, patch_size, (0, split))
    test = _crops(rng, image, n_test + n_outliers, patch_size, (split, height))
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(DEFECTS))
    seeds = dict(zip(DEFECTS, seeds))
    test, base = test[:n_test], test[n_test:]

    blocks, masks = [test], [np.zeros(test.shape[:3])]
    for name in names:
        defect_rng = np.random.RandomState(seeds[name])
        planted = [plant_defect(p, name, random_state=defect_rng) for p in base]
        blocks.append(np.stack([p for p, _ in planted]))
        masks.append(np.stack([m for _, m in planted]))

    train = _resize_images(train, side)
    images = _resize_images(np.concatenate(blocks), side)
    masks = _resize_masks(np.concatenate(masks), side)
    colour = image.ndim == 3
    shape = (side, side, 3) if colour else (side, side)
    corruption = np.repeat([_INLIER] + names, [n_test] + [n_outliers] * len(names))
    h, w = image.shape[:2]
    descr = (
        f"Texture anomaly detection set from skimage.data.{texture}() "
        f"({h} x {w} {'RGB' if colour else 'grayscale'}, shipped with "
        f"scikit-image).\n"
        f"{patch_size} x {patch_size} crops"
        + (f" resized to {side} x {side} (masks by nearest neighbour)"
           if side != patch_size else "")
        + f": {n_train} clean training patches "
        f"from the top 3/4 of the photograph;\ntest from the bottom 1/4: "
        f"{n_test} clean patches (target +1) and {n_outliers} defective\n"
        f"patches per defect (target -1) for {', '.join(names)}.\n"
        "masks: 1 on defect pixels, 0 elsewhere (zeros for inliers)"
        + ("; one value per pixel (colour channels last in data).\n" if colour
           else ".\n")
        + "Select one defect with np.isin(corruption, ['none', name]).\n"
    )
    return Bunch(
        data_train=train.reshape(n_train, -1),
        data=images.reshape(len(images), -1),
        target=np.where(corruption == _INLIER, 1, -1),
        masks=masks.reshape(len(images), -1),
        corruption=corruption,
        corruption_names=names,
        images_train=train,
        images=images,
        image_shape=shape,
        texture=texture,
        DESCR=descr,
    )
