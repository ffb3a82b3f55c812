"""Shared fixtures: the compute backends and soft-min models with corner cases."""

import os

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run unless asked otherwise
# (HYPOTHESIS_PROFILE=explore): the README's test command must pass the same
# way on every fresh machine, not on the luck of a random draw.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

from skexplain_ad import backends
from skexplain_ad._softmin import normalize_log_weights


@pytest.fixture(params=backends.available())
def backend(request):
    """Every backend whose dependencies are importable."""
    return request.param


def _softmin_case(name):
    """``(X, U, lw, gamma)``: queries, templates, log-weights, stiffness."""
    rng = np.random.RandomState(0)
    U = rng.rand(30, 6)
    X = np.vstack([rng.rand(5, 6), rng.rand(2, 6) + 2.0])  # near and far queries
    w = rng.rand(30) + 0.05
    gamma = 3.0
    if name == "on_template":  # d_i = 0 for one i, and d_i tiny
        X = np.vstack([U[[0, 7, 29]], U[3] + 1e-6, X[:2]])
    elif name == "duplicates":  # templates 10..19 repeat 0..9; queries on them
        U[10:20] = U[:10]
        X = np.vstack([U[[2, 12]], X])
    elif name == "single_template":  # o = g d^2, R_j = g (x_j - u_j)^2
        U, w = U[:1], w[:1]
        X = np.vstack([U, X])
    elif name == "constant_column":  # no relevance there unless x leaves it
        U[:, 2] = 0.7
        X[:4, 2] = 0.7
    elif name == "zero_weights":  # templates with weight 0 (log-weight -inf)
        w[::3] = 0.0
        X = np.vstack([U[[0, 1]], X])  # on a zero-weight and a weighted one
    elif name == "large_gamma":  # one template dominates each query
        gamma = 200.0
    elif name == "zero_rows":
        X = X[:0]
    return X, U, normalize_log_weights(weights=w), gamma


SOFTMIN_CASES = [
    "random", "on_template", "duplicates", "single_template",
    "constant_column", "zero_weights", "large_gamma", "zero_rows",
]


@pytest.fixture(params=SOFTMIN_CASES)
def softmin_case(request):
    """A soft-min model and queries, one corner case per parameter."""
    return _softmin_case(request.param)


# ------------------------------------------------------------------ MVTec AD


def _save(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def save_png():
    """Write a uint8 array as a PNG file, creating its folder."""
    return _save


@pytest.fixture
def mvtec_root(tmp_path):
    """A tiny MVTec AD tree: category 'wood', 40 x 40 RGB images."""
    rng = np.random.RandomState(0)
    cat = tmp_path / "mvtec" / "wood"

    def rgb():
        return rng.randint(60, 200, size=(40, 40, 3)).astype(np.uint8)

    for i in range(3):
        _save(cat / "train" / "good" / f"{i:03d}.png", rgb())
    for i in range(2):
        _save(cat / "test" / "good" / f"{i:03d}.png", rgb())
    for defect, box in [("scratch", (slice(4, 8), slice(0, 40))),
                        ("hole", (slice(20, 30), slice(20, 30)))]:
        for i in range(2):
            _save(cat / "test" / defect / f"{i:03d}.png", rgb())
            mask = np.zeros((40, 40), dtype=np.uint8)
            mask[box] = 255
            _save(cat / "ground_truth" / defect / f"{i:03d}_mask.png", mask)
    (cat / "readme.txt").write_text("not an image")
    return tmp_path / "mvtec"


# ------------------------------------------------------------------ torch


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one CPU thread for a test module, restored after it.

    The torch tests' problems are tiny: a second OpenMP thread only waits
    on a shared CPU. A module asks for it with
    ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``.
    """
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
