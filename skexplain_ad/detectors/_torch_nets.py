r"""The networks of the torch detectors.

- :class:`L2Pool2d`: :math:`\ell_2` pooling, :math:`a_k = (\sum_{j \in k} a_j^2)^{1/2}`.
- :func:`make_conv_autoencoder`: the LeNet-type autoencoder of [P] Sec. 3.
- :func:`make_mlp_autoencoder`: the autoencoder for other shapes.
- :func:`make_digit_features`: the [P] Sec. 3 feature extractor, three
  convolutions interleaved with :math:`\ell_2` pooling, 640 features;
  :func:`load_digit_features` with the weights shipped in ``weights/``
  (made by ``scripts/train_deep_features.py``).
- :class:`Whitening`: the linear whitening layer of the deep one-class model.

Every network takes flat rows ``(n, n_features)``, as the estimators do, and
reshapes to images with :class:`torch.nn.Unflatten` itself.
"""

from pathlib import Path

import torch
from torch import nn

__all__ = [
    "L2Pool2d",
    "Whitening",
    "make_conv_autoencoder",
    "make_mlp_autoencoder",
    "make_digit_features",
    "load_digit_features",
    "DIGIT_FEATURES_PATH",
]

#: The shipped weights of the default feature extractor (state dict).
DIGIT_FEATURES_PATH = Path(__file__).parent / "weights" / "digit_features.pt"


class L2Pool2d(nn.Module):
    r"""Non-overlapping :math:`\ell_2` pooling, :math:`a_k = \sqrt{\sum_{j \in k} a_j^2}`.

    Positively homogeneous of degree one, so the LRP rule of the pooling
    layers (zennit's ``Norm``: :math:`R_j = a_j\,\partial_j a_k / a_k\,R_k
    = a_j^2 / \sum_{j'} a_{j'}^2\,R_k`) conserves relevance (Euler). The
    square root is taken of ``max(s, tiny)`` so that its gradient stays
    finite on all-zero windows (whose output, ``sqrt(tiny)``, is ~1e-19 in
    float32).

    Parameters
    ----------
    kernel_size : int, default=2
    """

    def __init__(self, kernel_size=2):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x):
        k = self.kernel_size
        s = nn.functional.avg_pool2d(x * x, k) * (k * k)
        return torch.sqrt(s.clamp(min=torch.finfo(s.dtype).tiny))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}"


class Whitening(nn.Linear):
    r"""The whitening layer :math:`z = W(a - \mu) = W a + b`, :math:`b = -W\mu`.

    A :class:`torch.nn.Linear` of its own type, so that an LRP composite
    can give it the z-rule ([P] App. A.4) while the feature layers get the
    gamma-rule; the centring is its bias.
    """


def _conv_sizes(image_shape):
    h, w = image_shape
    return h // 4, w // 4


def make_conv_autoencoder(image_shape=(28, 28), encoding_dim=64, channels=(8, 16), hidden=128):
    """The LeNet-type autoencoder of [P] Sec. 3.

    Encoder: two 5x5 convolutions with ReLU and 2x2 max-pooling, two fully
    connected layers to an ``encoding_dim`` code. Decoder: the mirror image,
    upsampling and transposed convolutions in place of pooling and
    convolutions. Linear output (the inputs are standardised).

    Parameters
    ----------
    image_shape : (int, int), sides multiples of 4
    encoding_dim : int
    channels : (int, int)
    hidden : int

    Returns
    -------
    net : torch.nn.Sequential
        ``(n, h*w) -> (n, h*w)``.
    """
    h, w = image_shape
    h4, w4 = _conv_sizes(image_shape)
    c1, c2 = channels
    flat = c2 * h4 * w4
    return nn.Sequential(
        nn.Unflatten(1, (1, h, w)),
        nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, hidden), nn.ReLU(),
        nn.Linear(hidden, encoding_dim),
        # decoder
        nn.Linear(encoding_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, flat), nn.ReLU(),
        nn.Unflatten(1, (c2, h4, w4)),
        nn.Upsample(scale_factor=2), nn.ConvTranspose2d(c2, c1, 5, padding=2), nn.ReLU(),
        nn.Upsample(scale_factor=2), nn.ConvTranspose2d(c1, 1, 5, padding=2),
        nn.Flatten(),
    )


def make_mlp_autoencoder(n_features, encoding_dim=64):
    """A fully connected autoencoder for rows that are not images.

    ``d -> h -> c -> h -> d`` with ReLU, ``h = min(256, max(16, d))`` and
    code size ``c = min(encoding_dim, max(1, d // 2))`` (a bottleneck
    narrower than the input).
    """
    h = min(256, max(16, n_features))
    c = min(encoding_dim, max(1, n_features // 2))
    return nn.Sequential(
        nn.Linear(n_features, h), nn.ReLU(), nn.Linear(h, c),
        nn.Linear(c, h), nn.ReLU(), nn.Linear(h, n_features),
    )


def make_digit_features(channels=(16, 32, 40)):
    """The [P] Sec. 3 feature extractor for 28x28 digits, untrained.

    Three convolutions with ReLU interleaved with 2x2 :math:`\\ell_2`
    pooling: ``1x28x28 -> 16x14x14 -> 32x7x7 -> 40x4x4``, 640 features
    (the paper's feature space has 640 dimensions too). About 34,000
    weights.

    Returns
    -------
    net : torch.nn.Sequential
        ``(n, 784) -> (n, 640)``.
    """
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), L2Pool2d(2),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), L2Pool2d(2),
        nn.Conv2d(c2, c3, 4), nn.ReLU(),
        nn.Flatten(),
    )


def load_digit_features(path=DIGIT_FEATURES_PATH):
    """The shipped feature extractor: :func:`make_digit_features` with trained weights.

    Loaded with ``torch.load(..., weights_only=True)`` from the package;
    nothing is downloaded.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = make_digit_features()
    net.load_state_dict(state)
    return net.eval()
