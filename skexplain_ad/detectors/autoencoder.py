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
import hashlib
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import FLOAT_DTYPES

from ..base import BaseDetector
from ._torch_nets import make_conv_autoencoder, make_mlp_autoencoder
from ._torch_utils import (
    CPUStateMixin,
    check_input_width,
    fit_reconstruction,
    on_device,
    resolve_device,
    row_batches,
    seed_from,
    to_tensor,
    torch,
    torch_seed,
    validation_split,
)

__all__ = ["AutoencoderDetector", "held_out_scores", "training_key", "save_shipped_weights"]

#: Where the shipped autoencoder weights lie: ``autoencoder-<key>.pt``,
#: ``<key>`` the first 16 hex digits of :func:`training_key`.
SHIPPED_WEIGHTS_DIR = Path(__file__).parent / "weights"

#: Version of :func:`training_key` (a change of what fit computes bumps it).
_KEY_FORMAT = 1


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


def held_out_scores(o, validation_rows):
    """Training scores as if held out, from the validation split.

    The validation rows were never trained on: their scores are out of
    sample and are kept. Each row the network was trained on is given the
    validation score of its own rank (quantile mapping): the ``r``-th
    smallest of ``m`` training-part scores becomes the ``(r + 1/2) / m``
    quantile of the validation scores. Their distribution is so the
    validation split's, which is what ``offset_`` needs (its percentile),
    and each row keeps its place among the others, which is what a bag
    that pools its members row by row needs. The quantiles are numpy's
    ``"weibull"`` ones (plotting position ``k / (n + 1)`` for the ``k``-th
    smallest of ``n``): a new inlier exceeds the ``k``-th smallest of
    ``n`` exchangeable scores with probability ``1 - k / (n + 1)``, so this
    threshold flags ``contamination`` of new inliers on average even from
    a small validation split (the linear quantile flags more: 0.16 instead
    of 0.14 on MNIST '0', 0.13 instead of 0.10 on breast-cancer benign,
    contamination 0.1, 35 and 25 validation rows, five splits). The
    validation split also chose the epoch (early stopping), which biases
    its scores low a little: the held-out share stays above
    ``contamination`` on small splits.

    Parameters
    ----------
    o : ndarray of shape (n,)
        In-sample outlierness of the training rows.
    validation_rows : ndarray of int
        The rows held out (:func:`~._torch_utils.validation_split`); none:
        ``o`` is returned as it is.

    Returns
    -------
    oos : ndarray of shape (n,), float64

    Examples
    --------
    >>> import numpy as np
    >>> held_out_scores(np.array([1.0, 2.0, 5.0, 7.0, 6.0]), np.array([2, 3, 4]))
    array([5., 7., 5., 7., 6.])
    """
    oos = np.asarray(o, dtype=np.float64).copy()
    validation_rows = np.asarray(validation_rows, dtype=np.int64)
    if validation_rows.size == 0:
        return oos
    seen = np.ones(oos.size, dtype=bool)
    seen[validation_rows] = False
    tr = np.flatnonzero(seen)
    if tr.size:
        rank = np.empty(tr.size)
        rank[np.argsort(oos[tr], kind="stable")] = np.arange(tr.size)
        oos[tr] = np.quantile(oos[validation_rows], (rank + 0.5) / tr.size, method="weibull")
    return oos


def training_key(det, Xs, seed):
    """SHA-256 of everything that decides what ``fit`` trains.

    The scaled float32 rows the network sees, their offset and scale, the
    default network's shape and the training parameters with the seed:
    two fits with one key train the same weights (on the CPU, one thread,
    one torch build). The key of the shipped weights
    (:func:`save_shipped_weights`).

    Parameters
    ----------
    det : AutoencoderDetector
        With ``image_shape_``, ``input_offset_``, ``input_scale_`` set.
    Xs : ndarray of shape (n, d), float32
        The rows as the network sees them.
    seed : int
        The training seed (:func:`~._torch_utils.seed_from`).

    Returns
    -------
    key : str
        64 hex digits.
    """
    head = {
        "format": _KEY_FORMAT, "shape": tuple(Xs.shape), "image_shape": det.image_shape_,
        "encoding_dim": int(det.encoding_dim), "epochs": int(det.epochs),
        "batch_size": int(det.batch_size), "learning_rate": float(det.learning_rate).hex(),
        "validation_fraction": float(det.validation_fraction).hex(),
        "patience": int(det.patience), "seed": int(seed),
        "offset": float(det.input_offset_).hex(), "scale": float(det.input_scale_).hex(),
    }
    h = hashlib.sha256(repr(sorted(head.items())).encode())
    h.update(np.ascontiguousarray(Xs, dtype=np.float32).tobytes())
    return h.hexdigest()


def _shipped_path(key, folder=None):
    return Path(folder or SHIPPED_WEIGHTS_DIR) / f"autoencoder-{key[:16]}.pt"


def save_shipped_weights(det, X, folder=None):
    """Write a fitted detector's weights where ``shipped_weights=True`` finds them.

    Parameters
    ----------
    det : AutoencoderDetector
        Fitted with the default network and an int ``random_state``.
    X : array-like of shape (n_samples, n_features)
        The rows ``det`` was fitted on.
    folder : path-like, optional
        Default: the package's ``detectors/weights``.

    Returns
    -------
    path : pathlib.Path
        ``folder / "autoencoder-<key>.pt"``: a dict with the key, the state
        dict and the training record (``n_iter``, the loss curves,
        ``best_validation_loss``, torch's version).
    """
    if det.module is not None or not isinstance(det.random_state, Integral):
        raise ValueError("Only a default network fitted with an int random_state can be shipped.")
    X = check_array(X, dtype=FLOAT_DTYPES)
    if det.data_scale_ != 1.0:
        X = X / X.dtype.type(det.data_scale_)
    Xs = det._scaled(X)
    key = training_key(det, Xs, seed_from(det.random_state))
    record = {
        "key": key,
        "state_dict": {k: v.detach().clone() for k, v in det.module_.state_dict().items()},
        "n_iter": int(det.n_iter_),
        "loss_curve": [float(v) for v in det.loss_curve_],
        "validation_loss_curve": [float(v) for v in det.validation_loss_curve_],
        "best_validation_loss": det.best_validation_loss_,
        "torch": str(torch.__version__),
    }
    path = _shipped_path(key, folder)
    torch.save(record, path)
    return path


def _load_shipped(key, folder=None):
    """The record saved under ``key``, or None."""
    path = _shipped_path(key, folder)
    if not path.is_file():
        return None, path
    record = torch.load(path, map_location="cpu", weights_only=True)
    return (record if record.get("key") == key else None), path


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
    shipped_weights : bool, default=False
        Load the weights that this very fit would train, when the package
        ships them, instead of training: only for the default network, an
        int ``random_state`` and rows whose :func:`training_key` (SHA-256
        of the scaled float32 rows, their offset and scale, every training
        parameter and the seed) is the key of a shipped file. Any other
        data or setting trains as usual, so a user's own data always
        trains its own model. The package ships the autoencoders of the
        audit's two protocols with ``seed=0``: the 1,477 training digits of
        ``load_audit_dataset("mnist-c", n_samples=30, n_digits=2000,
        random_state=0)`` (fast, the default ``skexplain-ad audit``) and
        the 3,675 of ``n_samples=100, n_digits=5000`` (paper), both with
        ``epochs=100, patience=10, random_state=0`` and float32 rows,
        trained by ``scripts/train_audit_autoencoder.py`` with torch 2.14.1
        on one CPU thread (mean MNIST-C ROC 0.857 and 0.883); a rerun of
        the script gives the same tensors bit for bit in that environment
        (another torch build may train other weights: the shipped ones are
        then what that build would approach, not equal).
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
    validation_rows_ : ndarray of int
        The training rows held out for early stopping (empty without).
    weights_source_ : str
        ``"trained"``, or the name of the shipped file loaded
        (``shipped_weights``).
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``: the
        ``contamination`` percentile of out-of-sample training scores. The
        validation rows, never trained on, keep their scores; each row the
        network was trained on gets the validation score of its own rank
        (:func:`held_out_scores`), so that ``offset_`` is in effect the
        percentile of the validation scores. A network fitting its
        training rows closely scores new inliers worse than those: their
        percentile would flag several times ``contamination`` of new
        inliers (on MNIST one-digit splits 0.32 instead of 0.1). Its
        precision is that of a percentile of ``validation_fraction * n``
        values; ``validation_fraction=0`` falls back to the in-sample
        scores.
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

    Processes: a child forked (``os.fork``, multiprocessing's default
    ``fork`` start method on Linux) after a torch model was used would hang
    in torch's thread pool; the package makes such a child run torch on one
    thread instead (``skexplain_ad._torch_threads``). To fit or score in
    worker processes with all their threads, start them with ``spawn``:
    ``multiprocessing.get_context("spawn")``, or joblib's default ``loky``
    backend.

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
        "shipped_weights": ["boolean"],
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
        shipped_weights=False,
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
        self.shipped_weights = shipped_weights
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

    def _scaled(self, X):
        """Rows as the network sees them: ``(x - input_offset_) / input_scale_``, float32."""
        return ((X - self.input_offset_) / self.input_scale_).astype(np.float32)

    def _fit(self, X):
        device = resolve_device(self.device)
        self.image_shape_ = _infer_image_shape(self.image_shape, X.shape[1])
        if self._default_is_conv():  # [0, 1] for the sigmoid output
            offset, scale = float(np.min(X)), float(np.max(X) - np.min(X))
        else:
            offset, scale = float(np.mean(X)), float(np.std(X))
        self.input_offset_, self.input_scale_ = offset, scale if scale > 0 else 1.0
        Xs = self._scaled(X)
        seed = seed_from(self.random_state)
        with torch_seed(seed):
            module = self._build_module(Xs)
        module = module.to(device)
        self._check_output_shape(module, Xs[:2], device)
        record = None
        if self.shipped_weights and self.module is None and isinstance(self.random_state, Integral):
            record, path = _load_shipped(training_key(self, Xs, seed))
        if record is not None:
            module.load_state_dict(record["state_dict"])
            info = {key: record[key] for key in
                    ("n_iter", "loss_curve", "validation_loss_curve", "best_validation_loss")}
            info["validation_rows"] = validation_split(
                Xs.shape[0], self.validation_fraction, np.random.RandomState(seed))[0]
            self.weights_source_ = path.name
        else:
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
            self.weights_source_ = "trained"
        self.module_ = module.cpu().eval()
        self.n_iter_ = info["n_iter"]
        self.loss_curve_ = info["loss_curve"]
        self.validation_loss_curve_ = info["validation_loss_curve"]
        self.best_validation_loss_ = info["best_validation_loss"]
        self.validation_rows_ = np.asarray(info["validation_rows"], dtype=np.int64)
        # out of sample ([P] Sec. 3's validation split): what offset_ and a
        # bag's standardisation see (skexplain_ad._calibration)
        self._held_out = held_out_scores(self._outlier_score(X), self.validation_rows_)

    def _training_outlier_score(self, X, rows):
        """Training rows scored as if held out (:func:`held_out_scores`);
        rows ``-1`` (not trained on) as usual."""
        o = np.empty(X.shape[0], dtype=np.float64)
        seen = rows >= 0
        o[seen] = self._held_out[rows[seen]]
        if not seen.all():
            o[~seen] = self._outlier_score(X[~seen])
        return o

    @staticmethod
    def _check_output_shape(module, X2, device):
        out = check_input_width(module, X2, param="module", owner="AutoencoderDetector",
                                dtype=np.float32, device=device)
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
