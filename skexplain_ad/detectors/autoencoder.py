r"""Autoencoder reconstruction error as an explainable outlier detector.

[P] Sec. 2 ("Reconstruction-Based Models") and App. A.3: the outlierness is
the squared distance of :math:`x` to its reconstruction, a distance layer
whose template :math:`r(x)` is treated as constant, so that the
second-order Taylor expansion at :math:`x = r(x)` gives the relevance

.. math::

    o(x) = \|x - r(x)\|^2, \qquad R_j(x) = (x_j - r_j(x))^2,
    \qquad \textstyle\sum_j R_j(x) = o(x).
"""

import copy
import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ..base import BaseDetector
from ._torch_nets import make_conv_autoencoder, make_mlp_autoencoder
from ._torch_utils import (
    CPUStateMixin,
    fit_reconstruction,
    on_device,
    resolve_device,
    row_batches,
    seed_from,
    to_tensor,
    torch,
    torch_seed,
)

__all__ = ["AutoencoderDetector"]


def _infer_image_shape(image_shape, n_features):
    if image_shape is not None:
        h, w = (int(s) for s in image_shape)
        if h * w != n_features:
            raise ValueError(
                f"image_shape={tuple(image_shape)!r} of AutoencoderDetector has "
                f"{h * w} pixels, but X has {n_features} features."
            )
        return h, w
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else None


class AutoencoderDetector(CPUStateMixin, BaseDetector):
    r"""Autoencoder outlier detector, explained by its reconstruction error.

    The outlierness is the squared reconstruction error and its explanation
    the squared error of each feature, the reconstruction being held
    constant ([P] Sec. 2, App. A.3):

    .. math::

        o(x) = \|x - r(x)\|^2, \qquad R_j(x) = (x_j - r_j(x))^2 .

    The autoencoder is trained with Adam on the mean squared error; training
    stops early when the reconstruction error of an inlier validation split
    has not improved for ``patience`` epochs, and the best weights are kept
    ([P] Sec. 3).

    Parameters
    ----------
    module : torch.nn.Module or None, default=None
        The autoencoder, mapping flat rows ``(n, n_features)`` to
        reconstructions of the same shape; it is copied, then trained. None
        builds the default: for images whose sides are multiples of 4 (at
        least 8), e.g. 28 x 28 digits, the LeNet-type network of [P] Sec. 3
        (two 5x5 convolutions with max-pooling, two fully connected layers
        to an ``encoding_dim`` code, a symmetric decoder with upsampling and
        transposed convolutions, a sigmoid output whose bias starts at the
        mean training pixel); for any other shape a fully connected network
        (see Notes).
    image_shape : (int, int) or None, default=None
        Height and width of the images that the rows flatten (row-major).
        None infers a square when ``n_features`` is a perfect square.
    encoding_dim : int, default=64
        Size of the code of the default networks (the paper's 64); the
        fully connected one uses at most ``n_features // 2``.
    epochs : int, default=100
        Maximum number of passes over the training rows.
    batch_size : int, default=64
        Rows per Adam step.
    learning_rate : float, default=1e-3
        Adam's step size.
    validation_fraction : float in [0, 1), default=0.1
        Share of the training rows held out to stop early; 0 trains for
        ``epochs`` epochs.
    patience : int, default=10
        Epochs without improvement of the validation error before stopping.
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    device : str or None, default=None
        Torch device for training and inference: ``"cpu"`` (None),
        ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the shuffling;
        an int makes fitting reproducible on the CPU.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained autoencoder, on the CPU in float32 (what is pickled),
        in eval mode. Scoring copies it to ``device`` and to the dtype of
        the queries.
    image_shape_ : (int, int) or None
        The image shape used (None for non-image rows).
    input_offset_ : float
        The network sees ``(x - input_offset_) / input_scale_``: for the
        default convolutional network the smallest training value, else the
        mean of all training values.
    input_scale_ : float
        For the default convolutional network the range (largest minus
        smallest training value), else the standard deviation of all
        training values; 1 when that is 0.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Mean training loss per epoch (on the standardised rows).
    validation_loss_curve_ : list of float
        Mean validation error per epoch (empty without validation).
    best_validation_loss_ : float or None
        The validation error of the weights kept.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    DeepOneClassDetector : distance to the centre in a learned feature space.
    KDEDetector : soft minimum of the distances to the training points.

    Notes
    -----
    The network sees the rows scaled by one offset :math:`m` and one scale
    :math:`s` over all values (relative feature scales are kept), and
    reconstructs in the original units:
    :math:`r(x) = m + s\,f((x - m)/s)`. The default convolutional network
    maps the training range to [0, 1] (pixels, as the paper's digits) and
    ends in a sigmoid, so that its reconstructions stay in that range. On
    MNIST-C it tells blurred digits from clean ones far better so: after
    10 epochs on 3,600 digits, glass-blur / motion-blur detection ROC 25 /
    37 % with the sigmoid, 10 / 17 % with a linear output on standardised
    pixels (same network otherwise); see
    ``benchmarks/bench_paper_models.py`` for the full protocol. The other
    networks see standardised values (mean 0, standard deviation 1) and
    have linear outputs.

    The fully connected network for non-image rows is
    ``d -> h -> c -> h -> d`` with ReLU, ``h = min(256, max(16, d))``,
    ``c = min(encoding_dim, max(1, d // 2))``.

    The relevance is non-negative and conserves the outlierness exactly:
    ``outlier_score`` is computed as the row sums of ``explain``.

    Training draws its mini-batches in float32 on ``device``; scoring runs
    in the dtype of the queries (float32 in, float32 out; otherwise float64)
    in row chunks sized by ``sklearn.get_config()["working_memory"]``.

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. Sec. 2-3, App. A.3.

    Examples
    --------
    >>> import numpy as np
    >>> from skexplain_ad import AutoencoderDetector
    >>> rng = np.random.RandomState(0)
    >>> t = rng.normal(size=(200, 1))
    >>> X = np.hstack([t, 2 * t, -t, 0.5 * t]) + 0.01 * rng.normal(size=(200, 4))
    >>> det = AutoencoderDetector(epochs=60, random_state=0).fit(X)
    >>> x_out = np.array([[1.0, 2.0, -1.0, 3.0]])   # breaks the last feature
    >>> det.predict(x_out)
    array([-1])
    >>> R = det.explain(x_out)
    >>> int(R.argmax())
    3
    >>> bool(np.isclose(R.sum(), det.outlier_score(x_out)[0]))
    True
    """

    _parameter_constraints = {
        **BaseDetector._parameter_constraints,
        "module": [torch.nn.Module, None],
        "image_shape": [None, tuple, list],
        "encoding_dim": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "device": [str, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        module=None,
        image_shape=None,
        encoding_dim=64,
        epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        validation_fraction=0.1,
        patience=10,
        contamination=0.1,
        device=None,
        random_state=None,
    ):
        self.module = module
        self.image_shape = image_shape
        self.encoding_dim = encoding_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _default_is_conv(self):
        shape = self.image_shape_
        return (
            self.module is None and shape is not None and min(shape) >= 8
            and shape[0] % 4 == 0 and shape[1] % 4 == 0
        )

    def _build_module(self, Xs):
        if self.module is not None:
            return copy.deepcopy(self.module).float()
        if self._default_is_conv():
            return make_conv_autoencoder(
                self.image_shape_, self.encoding_dim, output="sigmoid",
                output_mean=float(np.mean(Xs)),
            )
        return make_mlp_autoencoder(Xs.shape[1], self.encoding_dim)

    def _fit(self, X):
        device = resolve_device(self.device)
        self.image_shape_ = _infer_image_shape(self.image_shape, X.shape[1])
        if self._default_is_conv():  # [0, 1] for the sigmoid output
            offset, scale = float(np.min(X)), float(np.max(X) - np.min(X))
        else:
            offset, scale = float(np.mean(X)), float(np.std(X))
        self.input_offset_, self.input_scale_ = offset, scale if scale > 0 else 1.0
        Xs = ((X - self.input_offset_) / self.input_scale_).astype(np.float32)
        seed = seed_from(self.random_state)
        with torch_seed(seed):
            module = self._build_module(Xs)
        module = module.to(device)
        self._check_output_shape(module, Xs[:2], device)
        info = fit_reconstruction(
            module,
            Xs,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            device=device,
            seed=seed,
        )
        self.module_ = module.cpu().eval()
        self.n_iter_ = info["n_iter"]
        self.loss_curve_ = info["loss_curve"]
        self.validation_loss_curve_ = info["validation_loss_curve"]
        self.best_validation_loss_ = info["best_validation_loss"]

    @staticmethod
    def _check_output_shape(module, X2, device):
        with torch.no_grad():
            out = module.eval()(to_tensor(X2, np.float32, device))
        if tuple(out.shape) != X2.shape:
            raise ValueError(
                "module of AutoencoderDetector must map rows of shape "
                f"(n, {X2.shape[1]}) to reconstructions of the same shape; got "
                f"{tuple(out.shape)} for input {X2.shape}."
            )

    # -------------------------------------------------------------- predict
    def _reconstruct(self, X):
        """Rows of ``r(x)`` in the dtype of ``X``, on the host."""
        device = resolve_device(self.device)
        net = on_device(self.module_, X.dtype, device)
        mean = X.dtype.type(self.input_offset_)
        scale = X.dtype.type(self.input_scale_)
        out = np.empty_like(X)
        row_bytes = 64 * X.shape[1] * X.dtype.itemsize
        with torch.no_grad():
            for sl in row_batches(X.shape[0], row_bytes):
                xb = to_tensor((X[sl] - mean) / scale, X.dtype, device)
                out[sl] = net(xb).cpu().numpy()
        return out * scale + mean

    def _explain(self, X):
        diff = X - self._reconstruct(X)
        return diff * diff

    def _outlier_score(self, X):
        return self._explain(X).sum(axis=1)
