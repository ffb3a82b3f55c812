"""Loader for the MVTec AD folder layout (P. Bergmann et al., CVPR 2019).

MVTec AD is not redistributable and is never downloaded here: the user
points :func:`load_mvtec` at a copy on disk. One category is laid out as::

    <category>/train/good/*.png                   clean training images
    <category>/test/good/*.png                    clean test images
    <category>/test/<defect>/*.png                defective test images
    <category>/ground_truth/<defect>/<name>_mask.png   their pixel masks
"""

import os
import warnings
from contextlib import contextmanager
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._validation import _check_count

__all__ = ["load_mvtec"]

_GOOD = "good"
_INLIER = "none"


#: default ``max_pixels`` of :func:`load_mvtec`: 4096 x 4096, 16 times the
#: largest MVTec AD image (1024 x 1024) and well below Pillow's own
#: decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485)
MAX_PIXELS = 4096 * 4096

#: Pillow modes of 16- and 32-bit integer grey images: scaled by their
#: range, never clipped to 8 bits by a conversion to "L"
_WIDE_MODES = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0,
               "I": 65535.0}


def _pngs(folder):
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"
    )


def _check_inside(path, root, follow_external_links):
    """``path`` itself, or a ValueError if it resolves outside ``root``
    (a symbolic link, of the file or of a folder above it)."""
    if follow_external_links:
        return path
    real = path.resolve()
    if not real.is_relative_to(root):
        raise ValueError(
            f"MVTec AD: {str(path)!r} is a symbolic link to {str(real)!r}, outside "
            f"the dataset folder {str(root)!r}; pass follow_external_links=True "
            "to read files outside it."
        )
    return path


@contextmanager
def _opened(path, max_pixels, what="image"):
    """The Pillow image of ``path``, its pixels checked against ``max_pixels``
    from the header, before any decoding; every failure to read or decode
    it (truncated, not an image, too large for Pillow) as one ValueError
    naming the file."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow's own limit: our error below, not a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        ours = "" if max_pixels is None else f"max_pixels={max_pixels} and "
        raise ValueError(
            f"MVTec AD: {what} {str(path)!r} is larger than {ours}Pillow's limit "
            f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}): {err}"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"MVTec AD: cannot read {what} {str(path)!r}: {err}") from err
    with img:
        w, h = img.size
        if max_pixels is not None and w * h > max_pixels:
            raise ValueError(
                f"MVTec AD: {what} {str(path)!r} has {w} x {h} = {w * h} pixels, more "
                f"than max_pixels={max_pixels}; pass a larger max_pixels (or None) "
                "to read it."
            )
        try:
            img.load()
        except (OSError, SyntaxError, ValueError) as err:
            raise ValueError(f"MVTec AD: cannot decode {what} {str(path)!r}: {err}") from err
        yield img


def _read_image(path, size, grayscale, max_pixels):
    """The image resized to size x size (None: as it is) in [0, 1], and its original (w, h)."""
    from PIL import Image

    with _opened(path, max_pixels) as img:
        orig = img.size
        if size is None:
            size = orig  # (w, h): kept
        else:
            size = (size, size)
        if img.mode in _WIDE_MODES:
            # 16-bit grey: scaled by its range (a conversion to "L" clips)
            grey = np.asarray(img, dtype=np.float64) / _WIDE_MODES[img.mode]
            small = Image.fromarray(np.clip(grey, 0, 1).astype(np.float32), mode="F")
            out = np.asarray(small.resize(size, Image.BILINEAR) if size != orig else small,
                             dtype=np.float64)
            out = np.clip(out, 0.0, 1.0)
            return (out if grayscale else np.repeat(out[..., None], 3, axis=-1)), orig
        img = img.convert("L" if grayscale else "RGB")
        if size != orig:
            img = img.resize(size, Image.BILINEAR)
        return np.asarray(img, dtype=np.float64) / 255.0, orig


def _mask_channel(img):
    """The channel a mask is read from, in [0, 1] (``load_mvtec`` Notes):
    the alpha channel where it varies, else the first channel."""
    if img.mode in _WIDE_MODES:
        return np.asarray(img, dtype=np.float64) / _WIDE_MODES[img.mode]
    if img.mode == "F":
        return np.asarray(img, dtype=np.float64)
    if img.mode == "1":
        return np.asarray(img, dtype=np.float64)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    a = np.asarray(img, dtype=np.float64) / 255.0
    if a.ndim == 2:
        return a
    if img.getbands()[-1] == "A" and np.ptp(a[..., -1]) > 0:
        return a[..., -1]
    return a[..., 0]


def _read_mask(path, size, image_size, image_path, max_pixels):
    """Binary mask at size x size (None: as it is): 1 where any part of the pixel is defect."""
    from PIL import Image

    with _opened(path, max_pixels, what="mask") as img:
        if img.size != image_size:
            raise ValueError(
                f"MVTec AD: mask {str(path)!r} is {img.size[0]} x {img.size[1]} pixels "
                f"but its image {str(image_path)!r} is {image_size[0]} x "
                f"{image_size[1]}; a mask must have its image's size."
            )
        defect = _mask_channel(img) > 0.5
    if size is None:
        return defect.astype(np.float64)
    small = Image.fromarray(defect.astype(np.float32))  # mode "F"
    small = small.resize((size, size), Image.BOX)
    return (np.asarray(small) > 0).astype(np.float64)


_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def mvtec_image_shape(path, category=None, *, size=64, grayscale=True, max_pixels=MAX_PIXELS):
    """The ``image_shape`` :func:`load_mvtec` gives with these arguments, from one file's header.

    Opens the first training image without decoding it; ``grayscale=None``
    resolves to the image's own mode (grey or colour).

    Returns
    -------
    image_shape : tuple
        ``(H, W)`` grey or ``(H, W, 3)`` colour.
    grayscale : bool
        The resolved ``grayscale``.
    """
    folder, _ = _category_folder(path, category)
    files = _pngs(folder / "train" / _GOOD) if (folder / "train" / _GOOD).is_dir() else []
    if not files:
        raise FileNotFoundError(f"MVTec AD layout not found: no PNG image in "
                                f"{str(folder / 'train' / _GOOD)!r}.")
    with _opened(files[0], max_pixels) as img:
        w, h = img.size
        grey = img.mode in _GREY_MODES if grayscale is None else bool(grayscale)
    if size is not None:
        h = w = int(size)
    return ((h, w) if grey else (h, w, 3)), grey


def _category_folder(path, category):
    root = Path(os.fspath(path))
    if not root.is_dir():
        raise FileNotFoundError(f"MVTec AD folder {str(root)!r} does not exist.")
    if category is None:
        return root, root.name
    if not isinstance(category, str) or not (root / category).is_dir():
        found = sorted(p.name for p in root.iterdir() if (p / "train").is_dir())
        raise FileNotFoundError(
            f"MVTec AD category {category!r} not found in {str(root)!r}; "
            f"categories there: {found}."
        )
    return root / category, category


def load_mvtec(path, category=None, *, size=64, grayscale=True, max_pixels=MAX_PIXELS,
               follow_external_links=False):
    """Load one category of MVTec AD from its folder layout on disk.

    Reads ``train/good/*.png`` (training inliers), ``test/<defect>/*.png``
    (``test/good`` are test inliers, every other folder a defect type) and
    ``ground_truth/<defect>/<name>_mask.png`` (pixel masks of the defective
    test images; inliers get all-zero masks) with Pillow. Images are resized
    to ``size`` x ``size`` (bilinear, antialiased) and scaled to [0, 1];
    masks are area-resized and a pixel is marked 1 when any part of it is
    defect, so small defects never vanish. The thesis works at 160 x 160 in
    colour ([T] Sec. 3.3).

    Parameters
    ----------
    path : str or path-like
        The MVTec AD root (holding one folder per category) when
        ``category`` is given, else the folder of one category.
    category : str or None, default=None
        Category folder under ``path``, e.g. ``"wood"``.
    size : int or None, default=64
        Side of the resized square images; None keeps every image at its
        own size (they must all have the same).
    grayscale : bool or None, default=True
        Convert to one grey channel; False keeps RGB (channels last,
        ``image_shape`` (H, W, 3)); None: as the training images are.
    max_pixels : int or None, default=16777216
        The most pixels (width x height) an image or mask may have (the
        default is 4096 x 4096; MVTec AD's largest images are 1024 x
        1024). Checked from the file's header before it is decoded, so a
        "decompression bomb" is refused without being read. ``None``
        leaves only Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``);
        an image over that one raises the same error.
    follow_external_links : bool, default=False
        Whether files may be symbolic links (or lie under linked folders)
        that resolve outside the dataset folder (``path``). By default such
        a file raises an error; links that stay inside it are read.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data_train : ndarray of shape (n_train, d)
            Training images (inliers only), flattened; ``d = size ** 2``,
            or ``3 * size ** 2`` in RGB (pixel-major, channels last).
        data : ndarray of shape (n_test, d)
            Test images: ``test/good`` first, then each defect folder in
            alphabetical order, files sorted by name.
        target : ndarray of shape (n_test,)
            +1 for ``test/good``, -1 for defects (scikit-learn's convention).
        masks : ndarray of shape (n_test, H * W)
            Binary ground truth, zeros for inliers, one value per pixel (in
            RGB too: relevance is summed over the channels before it is
            compared with the masks, as the documents do).
        corruption : ndarray of str, shape (n_test,)
            The defect folder of each row; ``"none"`` for ``test/good``.
        corruption_names : list of str
            The defect types, in row order.
        images_train, images : ndarray
            ``data_train`` and ``data`` as images, shape (n, size, size) or
            (n, size, size, 3).
        image_shape : tuple
            ``(size, size)`` or ``(size, size, 3)``.
        filenames_train, filenames : ndarray of str
            The file of each row.
        category : str
            The category's folder name.
        DESCR : str
            Description of the data.

    Raises
    ------
    FileNotFoundError
        When the folder, the category, ``train/good``, ``test`` or a
        defective image's mask is missing; the message names the path.
    ValueError
        When ``train/good`` or ``test`` holds no PNG image, or on a bad
        ``size`` or ``max_pixels``; naming the file, when an image or mask
        cannot be read or decoded (truncated, not a PNG), has more than
        ``max_pixels`` pixels, or resolves outside ``path`` (see
        ``follow_external_links``), or when a mask's size differs from its
        image's.

    Notes
    -----
    Images: 8-bit files are converted by Pillow (``"L"`` or ``"RGB"``) and
    divided by 255; 16-bit grey files (Pillow modes ``"I;16"``, ``"I"``)
    are divided by 65535, so their full range maps to [0, 1] rather than
    being clipped to 8 bits, then resized as a float image. Masks are read
    from one channel: the alpha channel where the mask has one that is not
    constant (a defect painted on a transparent background), otherwise the
    first channel (grey, or red of an RGB mask; palette masks are expanded
    first). A pixel is defect where that channel exceeds half its range
    (> 127 of 255, > 32767 of 65535).

    References
    ----------
    .. [B] P. Bergmann, M. Fauser, D. Sattlegger, C. Steger, "MVTec AD - A
       comprehensive real-world dataset for unsupervised anomaly
       detection", CVPR 2019.

    Examples
    --------
    A tiny tree in the MVTec layout (the real one comes from MVTec):

    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skexplain_ad.datasets import load_mvtec
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "wood"
    >>> for sub in ["train/good", "test/good", "test/hole", "ground_truth/hole"]:
    ...     (root / sub).mkdir(parents=True)
    >>> img = Image.fromarray(np.full((32, 32), 128, dtype=np.uint8))
    >>> for sub in ["train/good", "test/good", "test/hole"]:
    ...     img.save(root / sub / "000.png")
    >>> mask = np.zeros((32, 32), dtype=np.uint8); mask[8:16, 8:16] = 255
    >>> Image.fromarray(mask).save(root / "ground_truth/hole/000_mask.png")
    >>> ds = load_mvtec(root, size=16)
    >>> ds.data_train.shape, ds.data.shape, ds.target.tolist()
    ((1, 256), (2, 256), [1, -1])
    >>> ds.corruption.tolist(), int(ds.masks[1].sum())
    (['none', 'hole'], 16)
    """
    if size is not None:
        size = _check_count(size, "size", minimum=1)
    if grayscale is not None and not isinstance(grayscale, (bool, np.bool_)):
        raise TypeError(f"grayscale must be a bool or None, got {grayscale!r}.")
    if max_pixels is not None and (
        not isinstance(max_pixels, Integral) or isinstance(max_pixels, bool) or max_pixels < 1
    ):
        raise ValueError(f"max_pixels must be an integer >= 1 or None, got {max_pixels!r}.")
    if not isinstance(follow_external_links, (bool, np.bool_)):
        raise TypeError(f"follow_external_links must be a bool, got {follow_external_links!r}.")
    folder, name = _category_folder(path, category)
    root = Path(os.fspath(path)).resolve()

    train_dir = folder / "train" / _GOOD
    test_dir = folder / "test"
    for required in (train_dir, test_dir):
        if not required.is_dir():
            raise FileNotFoundError(
                f"MVTec AD layout not found: {str(required)!r} is missing "
                "(expected <category>/train/good/*.png and "
                "<category>/test/<defect>/*.png)."
            )
    train_files = _pngs(train_dir)
    if not train_files:
        raise ValueError(f"No PNG image in {str(train_dir)!r}.")

    defects = sorted(
        p.name for p in test_dir.iterdir() if p.is_dir() and p.name != _GOOD
    )
    groups = [_GOOD] + defects if (test_dir / _GOOD).is_dir() else defects
    test_files, kinds = [], []
    for group in groups:
        files = _pngs(test_dir / group)
        test_files += files
        kinds += [_INLIER if group == _GOOD else group] * len(files)
    if not test_files:
        raise ValueError(f"No PNG image in the folders of {str(test_dir)!r}.")

    if grayscale is None:
        grayscale = mvtec_image_shape(path, category, size=size, grayscale=None,
                                      max_pixels=max_pixels)[1]

    def read(p):
        return _read_image(_check_inside(p, root, follow_external_links), size, grayscale,
                           max_pixels)

    read_train = [read(p) for p in train_files]
    read_test = [read(p) for p in test_files]
    if size is None:  # every image kept at its size: they must agree
        for f, (_, wh) in zip([*train_files, *test_files], [*read_train, *read_test]):
            if wh != read_train[0][1]:
                raise ValueError(
                    f"MVTec AD: {str(f)!r} is {wh[0]} x {wh[1]} pixels but "
                    f"{str(train_files[0])!r} is {read_train[0][1][0]} x {read_train[0][1][1]}; "
                    "give size= to resize them all.")
    images_train = np.stack([im for im, _ in read_train])
    images = np.stack([im for im, _ in read_test])
    side_h, side_w = images_train.shape[1:3]
    shape = (side_h, side_w) if grayscale else (side_h, side_w, 3)
    masks = np.zeros((len(test_files), side_h, side_w))
    for i, (file, kind) in enumerate(zip(test_files, kinds)):
        if kind == _INLIER:
            continue
        mask_file = folder / "ground_truth" / kind / f"{file.stem}_mask.png"
        if not mask_file.is_file():
            raise FileNotFoundError(
                f"Ground-truth mask {str(mask_file)!r} of {str(file)!r} is missing."
            )
        _check_inside(mask_file, root, follow_external_links)
        masks[i] = _read_mask(mask_file, size, read_test[i][1], file, max_pixels)

    kinds = np.array(kinds, dtype=str)
    names = [d for d in defects if np.any(kinds == d)]
    descr = (
        f"MVTec AD category {name!r} read from {str(folder)!r}, "
        + (f"resized to {size} x {size}" if size is not None else
           f"at its own size, {side_h} x {side_w}")
        + f" ({'grayscale' if grayscale else 'RGB, masks one value per pixel'}).\n"
        f"{len(train_files)} training images (train/good); {len(test_files)} "
        f"test images: test/good (target +1, corruption 'none')\n"
        f"and defects {names} (target -1) with binary masks from ground_truth/.\n"
    )
    return Bunch(
        data_train=images_train.reshape(len(images_train), -1),
        data=images.reshape(len(images), -1),
        target=np.where(kinds == _INLIER, 1, -1),
        masks=masks.reshape(len(images), -1),
        corruption=kinds,
        corruption_names=names,
        images_train=images_train,
        images=images,
        image_shape=shape,
        filenames_train=np.array([str(p) for p in train_files]),
        filenames=np.array([str(p) for p in test_files]),
        category=name,
        DESCR=descr,
    )
