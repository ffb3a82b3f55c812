r"""The networks of the torch detectors.

- :func:`make_conv_autoencoder`: the LeNet-type autoencoder of [P] Sec. 3.
- :func:`make_mlp_autoencoder`: the autoencoder for other shapes.

Every network takes flat rows ``(n, n_features)``, as the estimators do, and
reshapes to images with :class:`torch.nn.Unflatten` itself.
"""

from torch import nn

__all__ = ["make_conv_autoencoder", "make_mlp_autoencoder"]


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


