r"""The networks of the torch detectors.

- :class:`L2Pool2d`: :math:`\ell_2` pooling, :math:`a_k = (\sum_{j \in k} a_j^2)^{1/2}`.
- :func:`make_conv_autoencoder`: the LeNet-type autoencoder of [P] Sec. 3.
- :func:`make_mlp_autoencoder`: the autoencoder for other shapes.
- :func:`make_feature_extractor`: the [P] Sec. 3 feature extractor, three
  convolutions interleaved with :math:`\ell_2` pooling, 640 features;
  :func:`load_letter_features` with the weights shipped in ``weights/``,
  trained on rendered letters (``scripts/train_letter_features.py``), the
  default of :class:`DeepOneClassDetector`; :func:`load_digit_features`
  with the earlier weights trained on MNIST digits
  (``scripts/train_deep_features.py``).
- :class:`Whitening`: the linear whitening layer of the deep one-class model.

Every network takes flat rows ``(n, n_features)``, as the estimators do, and
reshapes to images with :class:`torch.nn.Unflatten` itself.
"""

import math
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "L2Pool2d",
    "Whitening",
    "make_conv_autoencoder",
    "make_mlp_autoencoder",
    "make_feature_extractor",
    "load_features",
    "load_letter_features",
    "load_digit_features",
    "LETTER_FEATURES_PATH",
    "DIGIT_FEATURES_PATH",
]

#: The shipped weights of the default feature extractor, trained on rendered
#: letters (state dict).
LETTER_FEATURES_PATH = Path(__file__).parent / "weights" / "letter_features.pt"
#: The shipped weights of the feature extractor trained on MNIST digits.
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
        # the window sums of squares (avg_pool2d with divisor 1)
        s = nn.functional.avg_pool2d(x * x, self.kernel_size, divisor_override=1)
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


def make_conv_autoencoder(image_shape=(28, 28), encoding_dim=64, channels=(8, 16), hidden=128,
                          output="sigmoid", output_mean=None):
    """The LeNet-type autoencoder of [P] Sec. 3.

    Encoder: two 5x5 convolutions, each with ReLU and 2x2 max-pooling, then
    two fully connected layers to an ``encoding_dim`` code
    (``1 x h x w -> c1 x h/2 x w/2 -> c2 x h/4 x w/4 -> hidden -> code``).
    Decoder, symmetric: two fully connected layers back to
    ``c2 x h/4 x w/4``, then twice 2x upsampling followed by a 5x5
    transposed convolution, in place of the convolutions and max-pooling.
    The output is a sigmoid (the inputs scaled to [0, 1], as the pixels of
    digits) or linear.

    ``output_mean`` sets the bias of the last layer so that the untrained
    network outputs about that value (the logit of it before a sigmoid):
    started at 0.5, a sigmoid network on mostly dark images can fall into
    the sigmoid's flat tail with dead ReLUs before it, and then learns only
    a constant image.

    Parameters
    ----------
    image_shape : (int, int), sides multiples of 4
    encoding_dim : int
    channels : (int, int)
    hidden : int
    output : {"sigmoid", "linear"}
    output_mean : float or None
        Mean training value (in (0, 1) for a sigmoid, clipped to
        [1e-3, 1 - 1e-3]); None keeps the default initialisation.

    Returns
    -------
    net : torch.nn.Sequential
        ``(n, h*w) -> (n, h*w)``.
    """
    h, w = image_shape
    h4, w4 = _conv_sizes(image_shape)
    c1, c2 = channels
    flat = c2 * h4 * w4
    layers = [
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
    ]
    if output not in ("sigmoid", "linear"):
        raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}.")
    if output_mean is not None:
        m = float(output_mean)
        if output == "sigmoid":
            m = min(max(m, 1e-3), 1.0 - 1e-3)
            m = math.log(m / (1.0 - m))
        with torch.no_grad():
            layers[-1].bias.fill_(m)
    if output == "sigmoid":
        layers.append(nn.Sigmoid())
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


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


def make_feature_extractor(channels=(16, 32, 40)):
    """The [P] Sec. 3 feature extractor for 28x28 images, untrained.

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


def load_features(path):
    """:func:`make_feature_extractor` with the trained weights at ``path``, in eval mode.

    Loaded with ``torch.load(..., weights_only=True)``; nothing is
    downloaded.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = make_feature_extractor()
    net.load_state_dict(state)
    return net.eval()


def load_letter_features():
    """The default feature extractor of :class:`DeepOneClassDetector`.

    :func:`make_feature_extractor` trained as a 26-way classifier of the
    letters rendered by ``skexplain_ad.datasets._letters.render_letters``
    (a stand-in for EMNIST "letters", [P] Sec. 3), by
    ``scripts/train_letter_features.py``; the classification layer is
    dropped.
    """
    return load_features(LETTER_FEATURES_PATH)


def load_digit_features():
    """:func:`make_feature_extractor` trained as a classifier of the 5,000 MNIST digits.

    By ``scripts/train_deep_features.py``: the default before the letter
    features, kept for comparison (its features know the inlier digits,
    which the paper's letter features do not).
    """
    return load_features(DIGIT_FEATURES_PATH)
