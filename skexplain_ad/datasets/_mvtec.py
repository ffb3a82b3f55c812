"""Loader for the MVTec AD folder layout (P. Bergmann et al., CVPR 2019).

MVTec AD is not redistributable and is never downloaded here: the user
points :func:`load_mvtec` at a copy on disk. One category is laid out as::

    <category>/train/good/*.png                   clean training images
    <category>/test/good/*.png                    clean test images
    <category>/test/<defect>/*.png                defective test images
    <category>/ground_truth/<defect>/<name>_mask.png   their pixel masks
"""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._validation import _check_count

__all__ = ["load_mvtec"]

_GOOD = "good"
_INLIER = "none"


def _pngs(folder):
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"
    )


def _read_image(path, size, grayscale):
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("L" if grayscale else "RGB")
        img = img.resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.float64) / 255.0


def _read_mask(path, size):
    """Binary mask at size x size: 1 where any part of the pixel is defect."""
    from PIL import Image

    with Image.open(path) as img:
        defect = np.asarray(img.convert("L")) > 127
    small = Image.fromarray(defect.astype(np.float32))  # mode "F"
    small = small.resize((size, size), Image.BOX)
    return (np.asarray(small) > 0).astype(np.float64)


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


def load_mvtec(path, category=None, *, size=64, grayscale=True):
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
    size : int, default=64
        Side of the resized square images.
    grayscale : bool, default=True
        Convert to one grey channel; False keeps RGB.

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
        masks : ndarray of shape (n_test, d)
            Binary ground truth, zeros for inliers; in RGB each pixel's value
            is repeated over its 3 channels so that ``masks`` lines up with
            ``data``.
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
        ``size``.

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
    size = _check_count(size, "size", minimum=1)
    if not isinstance(grayscale, (bool, np.bool_)):
        raise TypeError(f"grayscale must be a bool, got {grayscale!r}.")
    folder, name = _category_folder(path, category)

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

    shape = (size, size) if grayscale else (size, size, 3)
    images_train = np.stack([_read_image(p, size, grayscale) for p in train_files])
    images = np.stack([_read_image(p, size, grayscale) for p in test_files])
    masks = np.zeros((len(test_files), size, size))
    for i, (file, kind) in enumerate(zip(test_files, kinds)):
        if kind == _INLIER:
            continue
        mask_file = folder / "ground_truth" / kind / f"{file.stem}_mask.png"
        if not mask_file.is_file():
            raise FileNotFoundError(
                f"Ground-truth mask {str(mask_file)!r} of {str(file)!r} is missing."
            )
        masks[i] = _read_mask(mask_file, size)
    if not grayscale:
        masks = np.repeat(masks[..., np.newaxis], 3, axis=-1)

    kinds = np.array(kinds, dtype=str)
    names = [d for d in defects if np.any(kinds == d)]
    descr = (
        f"MVTec AD category {name!r} read from {str(folder)!r}, resized to "
        f"{size} x {size} ({'grayscale' if grayscale else 'RGB'}).\n"
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
