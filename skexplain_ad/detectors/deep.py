r"""Deep one-class detector: whitened CNN features, explained by LRP.

[P] Sec. 2-3 and App. A.3-A.5. The outlierness is the squared norm of
whitened features,

.. math::

    z = W(\phi(x) - \mu), \qquad o(x) = \|z\|^2 = \textstyle\sum_k z_k^2,

a network ``features -> whitening (linear) -> squared distance to 0``. Its
explanation is one backward pass:

- distance layer ([P] App. A.3, root point 0): :math:`R_k = z_k^2`;
- whitening layer, z-rule ([P] App. A.4), the centring
  :math:`b = -W\mu` being the layer's bias:
  :math:`R_j = \sum_k a_j w_{jk} / (\sum_{j'} a_{j'} w_{j'k} + b_k)\,R_k`;
- feature layers (Linear / Conv), gamma-rule ([P] App. A.5):
  :math:`R_j = \sum_k a_j (w_{jk} + \gamma w_{jk}^+) /
  \sum_{j'} a_{j'} (w_{j'k} + \gamma w_{j'k}^+)\,R_k` (biases, modified
  the same way, in the denominator); ReLU passes relevance; average and
  :math:`\ell_2` pooling redistribute in proportion to their contributions
  (zennit's ``Norm``); BatchNorm after a linear layer is merged into it
  first (zennit's canonizer); max-pooling routes to the maximum.

Rules and composites are zennit's (:func:`lrp_composite`): no hand-written
hooks.
"""

import copy
from numbers import Real

import numpy as np
from sklearn.covariance import empirical_covariance, shrunk_covariance
from sklearn.utils._param_validation import Interval

from ..base import BaseDetector
from ._torch_nets import L2Pool2d, Whitening, load_letter_features
from ._torch_utils import (
    CPUStateMixin,
    check_input_width,
    import_zennit,
    on_device,
    resolve_device,
    row_batches,
    to_tensor,
    torch,
    torch_dtype,
)

__all__ = ["DeepOneClassDetector", "lrp_composite", "guard_zero"]


def guard_zero(denominator):
    """LRP denominators with exact zeros replaced by 1, others unchanged.

    The stabilizer of the rules below. A zero denominator only meets a zero
    numerator here (a neuron with zero output carries zero relevance:
    ``R_k = z_k^2`` at the top, ``R_k`` proportional to ``a_k`` below), so
    the ratio is 0 either way; zennit's default adds ``1e-6`` with the sign
    of every denominator, which moves relevance off small activations and
    costs four elementwise passes where this costs two.
    """
    return denominator.masked_fill(denominator == 0, 1.0)


def lrp_composite(gamma=0.25, stabilizer=guard_zero):
    """The zennit composite of the deep one-class explanation.

    Parameters
    ----------
    gamma : float, default=0.25
        Gamma of the gamma-rule on the feature layers ([P] App. A.5);
        ``gamma=0`` is the z-rule (LRP-0).
    stabilizer : callable or float, default=guard_zero
        zennit's ``stabilizer`` of every rule: a callable mapping the
        denominators to safe ones (:func:`guard_zero`), or a float added
        with the sign of the denominator.

    Returns
    -------
    composite : zennit.composites.LayerMapComposite
        :class:`~skexplain_ad.detectors._torch_nets.Whitening` -> ``Epsilon``
        (the z-rule, [P] App. A.4); activations -> ``Pass``; average and
        :math:`\\ell_2` pooling -> ``Norm``; unmerged BatchNorm -> ``Pass``;
        convolutions and other linear layers -> ``Gamma(gamma)``; canonizer
        ``SequentialMergeBatchNorm`` (BatchNorm after a linear layer is
        folded into it, and reset to the identity).
    """
    zennit = import_zennit()
    rules, types = zennit.rules, zennit.types
    layer_map = [
        (Whitening, rules.Epsilon(epsilon=stabilizer)),
        (types.Activation, rules.Pass()),
        (types.AvgPool, rules.Norm(stabilizer=stabilizer)),
        (L2Pool2d, rules.Norm(stabilizer=stabilizer)),
        (types.BatchNorm, rules.Pass()),
        (types.Convolution, rules.Gamma(gamma=gamma, stabilizer=stabilizer)),
        (torch.nn.Linear, rules.Gamma(gamma=gamma, stabilizer=stabilizer)),
    ]
    return zennit.composites.LayerMapComposite(layer_map, canonizers=[_merge_batch_norm(zennit)()])


def _merge_batch_norm(zennit):
    """zennit's ``SequentialMergeBatchNorm``, with an exact identity left behind.

    zennit folds a BatchNorm into the linear layer before it and resets the
    BatchNorm to ``running_var = 1``, which still divides by
    ``sqrt(1 + eps)``: a relative error of ``eps / 2`` (5e-6) on those
    features, which the whitening can amplify (features far from the mean
    but close to each other). Setting ``running_var = 1 - eps`` makes the
    reset layer the identity to round-off.
    """

    class MergeBatchNorm(zennit.canonizers.SequentialMergeBatchNorm):
        @staticmethod
        def merge_batch_norm(modules, batch_norm):
            zennit.canonizers.SequentialMergeBatchNorm.merge_batch_norm(modules, batch_norm)
            var = batch_norm.running_var
            var.data = torch.ones_like(var.data) - batch_norm.eps

    return MergeBatchNorm


def leave_one_out_scores(F, mean, V, shrinkage):
    r"""Each training row's outlierness under the whitening fitted without it.

    Exact, without refitting: with :math:`v_i = \phi(x_i) - \mu` and
    :math:`S = \frac1n \sum_i v_i v_i^\top` (the covariance of the
    features), the model fitted without row :math:`i` has mean
    :math:`\mu_{-i} = \mu - v_i / (n-1)` and covariance
    :math:`S_{-i} = \frac{n}{n-1} S - \frac{n}{(n-1)^2} v_i v_i^\top`, so
    that its shrunk covariance is

    .. math::

        \Sigma_{s,-i} = a S + b_i I - c\, v_i v_i^\top, \qquad
        a = \tfrac{(1-s)\,n}{n-1}, \quad c = \tfrac{(1-s)\,n}{(n-1)^2}, \quad
        b_i = \tfrac{s}{k} \operatorname{tr} S_{-i}.

    :math:`aS + b_i I` is diagonal in the eigenvectors :math:`V` of
    :math:`S` (those of :math:`\Sigma_s`), and the rank-one term is taken
    out by Sherman-Morrison: with :math:`w_i = V^\top v_i` and
    :math:`q_i = \sum_j w_{ij}^2 / (a \lambda_j + b_i)`,

    .. math::

        o^{(-i)}(x_i) = \|W_{-i}(\phi(x_i) - \mu_{-i})\|^2
            = \Big(\frac{n}{n-1}\Big)^2 \frac{q_i}{1 - c\,q_i}.

    The eigenvalues are floored as :class:`DeepOneClassDetector` floors
    them; a model left with constant features (:math:`\operatorname{tr}
    S_{-i} = 0`) whitens by the identity, as the fitted one would. This
    is the KDE's leave-one-out (:mod:`skexplain_ad._calibration`) for the
    deep one-class model: the feature extractor is fixed, so the whitening
    is all that the row changes.

    Parameters
    ----------
    F : ndarray of shape (n, k), float64
        Training features.
    mean : ndarray of shape (k,)
    V : ndarray of shape (k, k)
        Eigenvectors of the shrunk covariance.
    shrinkage : float in (0, 1]

    Returns
    -------
    o : ndarray of shape (n,)
    """
    n, k = F.shape
    eps = np.finfo(np.float64).eps
    s = float(shrinkage)
    a, c = (1.0 - s) * n / (n - 1), (1.0 - s) * n / (n - 1) ** 2
    r = n / (n - 1)
    Fc = F - mean
    sq = np.einsum("ij,ij->i", Fc, Fc)
    tr = sq.sum() / n
    chunks = [slice(i, min(i + 4096, n)) for i in range(0, n, 4096)]
    lam = np.zeros(k)  # eigenvalues of S in the basis V
    for sl in chunks:
        W = Fc[sl] @ V
        lam += np.einsum("ij,ij->j", W, W)
    lam /= n
    out = np.empty(n)
    for sl in chunks:
        W = Fc[sl] @ V
        tr_i = r * tr - r / (n - 1) * sq[sl]
        const = tr_i <= 8 * n * eps * tr  # the row is all the variance there is
        den = a * lam + s * np.where(const, 0.0, tr_i)[:, None] / k
        den = np.maximum(den, den.max(axis=1, keepdims=True) * k * eps)
        q = np.einsum("ij,ij->i", W, W / np.where(den > 0, den, 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            o = r * r * q / (1.0 - c * q)
        out[sl] = np.where(const, r * r * sq[sl], o)
    return out


class DeepOneClassDetector(CPUStateMixin, BaseDetector):
    r"""Deep one-class outlier detector on whitened CNN features, explained by LRP.

    The outlierness is the squared norm of the features of a fixed network
    :math:`\phi` after a linear whitening ([P] Sec. 2-3):

    .. math::

        o(x) = \|W(\phi(x) - \mu)\|^2, \qquad
        W = \Sigma_s^{-1/2}, \quad
        \Sigma_s = (1 - s)\,\Sigma + s\,\tfrac{\operatorname{tr}\Sigma}{k} I,

    with :math:`\mu, \Sigma` the mean and covariance of the :math:`k`
    features over the training data and :math:`s` the ``shrinkage``. The
    explanation is LRP (see Notes).

    Parameters
    ----------
    feature_extractor : torch.nn.Module or None, default=None
        :math:`\phi`, mapping flat rows ``(n, n_features)`` to features
        ``(n, ...)`` (flattened to ``(n, k)``); it is copied, not trained.
        Write it from modules (``nn.ReLU()`` rather than ``F.relu``): LRP
        rules attach to modules. None: the shipped feature extractor for 28
        x 28 images with pixels in [0, 1], trained on letters (three
        convolutions interleaved with :math:`\ell_2` pooling, 640
        features, see Notes); other widths then raise a ValueError.
    shrinkage : float in (0, 1], default=0.1
        Regularisation :math:`s` of the whitening; 1 gives :math:`W`
        proportional to the identity. The paper selects it by the ROC of a
        validation set with some outliers: ``GridSearchCV`` with
        :class:`~skexplain_ad.model_selection.InlierKFold` and
        ``scoring="roc_auc"`` does that (Examples).
    lrp_gamma : float >= 0, default=0.25
        :math:`\gamma` of the LRP gamma-rule in the feature layers ([P]
        App. A.5): higher favours positive contributions; 0 is the z-rule.
    contamination : float in (0, 0.5], default=0.1
        Expected share of outliers in the training data; sets ``offset_``.
    device : str or None, default=None
        Torch device: ``"cpu"`` (None), ``"cuda"`` or ``"cuda:N"``.

    Attributes
    ----------
    feature_extractor_ : torch.nn.Module
        :math:`\phi`, a copy on the CPU in eval mode, in the dtype it came
        in (float32 for the default); each call computes with a copy in the
        query dtype on ``device``.
    mean_ : ndarray of shape (n_features_out,)
        :math:`\mu`, the mean training feature vector.
    covariance_ : ndarray of shape (n_features_out, n_features_out)
        :math:`\Sigma_s`, the shrunk covariance of the training features.
    whitening_ : ndarray of shape (n_features_out, n_features_out)
        :math:`W = \Sigma_s^{-1/2}` (the identity where all features are
        constant on the training data).
    n_features_out_ : int
        :math:`k`, the number of features.
    offset_ : float
        Offset used to define the decision function from the raw scores,
        ``decision_function = score_samples - offset_``: the
        ``contamination`` percentile of the *in-sample* training scores.
        This is not a template model, so no training point can be left
        out without retraining the network; a network that fits its
        training data closely scores new inliers worse, and ``predict``
        then flags more than ``contamination`` of new data. Calibrate on
        held-out inliers where that matters.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    AutoencoderDetector : reconstruction error, explained per feature.
    KDEDetector : soft minimum of the distances to the training points.

    Notes
    -----
    Explanation ([P] App. A.3-A.5), computed with zennit
    (:func:`lrp_composite`): relevance :math:`z_k^2` at the whitened
    features; the z-rule through the whitening layer (its bias
    :math:`-W\mu` absorbs :math:`\sum_k (-W\mu)_k z_k`); the gamma-rule
    through Linear and convolution layers (their biases absorb their
    share); ReLU passes relevance on; :math:`\ell_2` and average pooling
    redistribute in proportion to their contributions. So
    ``explain(X).sum(1) == outlier_score(X)`` when :math:`\mu = 0` and the
    feature layers have no biases, and approximately otherwise; relevance
    can be negative.

    The shipped extractor was trained by
    ``scripts/train_letter_features.py`` as a 26-way letter classifier (a
    linear layer on the 640 features, dropped afterwards), as the paper's
    was on the EMNIST "letters" ([P] Sec. 3). EMNIST cannot be had offline:
    the letters are rendered from the fonts that matplotlib ships, with
    affine and stroke-width jitter, MNIST-like at 28 x 28. The features thus
    know strokes but not the digits they are used on. Its weights (about
    140 kB) are loaded with ``torch.load(..., weights_only=True)``; nothing
    is downloaded.

    Scoring and explaining run in the dtype of the queries (float32 in,
    float32 out; otherwise float64) on ``device``, in row chunks sized by
    ``sklearn.get_config()["working_memory"]``.

    References
    ----------
    .. [P] J. Kauffmann, L. Ruff, G. Montavon, K.-R. Müller, "The Clever Hans
       Effect in Anomaly Detection", 2020. Sec. 2-3, App. A.3-A.5.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skexplain_ad import DeepOneClassDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 4))
    >>> _ = torch.manual_seed(0)
    >>> phi = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU())
    >>> det = DeepOneClassDetector(feature_extractor=phi).fit(X)
    >>> det.predict([[0.0, 0.0, 0.0, 9.0]])
    array([-1])
    >>> det.explain([[0.0, 0.0, 0.0, 9.0]]).shape
    (1, 4)

    Selecting the shrinkage on labelled validation data (+1 inliers, -1
    outliers; the splitter trains on inliers only):

    >>> from sklearn.model_selection import GridSearchCV
    >>> from skexplain_ad.model_selection import InlierKFold
    >>> X_val = np.vstack([X, rng.normal(loc=3.0, size=(30, 4))])
    >>> y_val = np.r_[np.ones(300), -np.ones(30)]
    >>> search = GridSearchCV(det, {"shrinkage": [0.01, 0.1, 1.0]},
    ...                       cv=InlierKFold(3), scoring="roc_auc").fit(X_val, y_val)
    >>> search.best_params_["shrinkage"] in (0.01, 0.1, 1.0)
    True
    """

    _parameter_constraints = {
        **BaseDetector._parameter_constraints,
        "feature_extractor": [torch.nn.Module, None],
        "shrinkage": [Interval(Real, 0, 1, closed="right")],
        "lrp_gamma": [Interval(Real, 0, None, closed="left")],
        "device": [str, None],
    }

    def __init__(
        self,
        *,
        feature_extractor=None,
        shrinkage=0.1,
        lrp_gamma=0.25,
        contamination=0.1,
        device=None,
    ):
        self.feature_extractor = feature_extractor
        self.shrinkage = shrinkage
        self.lrp_gamma = lrp_gamma
        self.contamination = contamination
        self.device = device

    # ------------------------------------------------------------------ fit
    def _fit(self, X):
        resolve_device(self.device)
        if self.feature_extractor is None:
            if X.shape[1] != 784:
                raise ValueError(
                    "DeepOneClassDetector's default feature extractor is for 28 x 28 "
                    f"images (784 features); X has {X.shape[1]} features. Pass "
                    "feature_extractor=<torch.nn.Module> for other inputs."
                )
            fe = load_letter_features()
        else:
            fe = copy.deepcopy(self.feature_extractor)
            check_input_width(on_device(fe, X.dtype, resolve_device(self.device)), X[:2],
                              param="feature_extractor", owner="DeepOneClassDetector",
                              dtype=X.dtype, device=resolve_device(self.device))
        self.feature_extractor_ = fe.cpu().eval()
        F = self._features(X).astype(np.float64)
        k = F.shape[1]
        self.n_features_out_ = k
        self.mean_ = F.mean(axis=0)
        cov = shrunk_covariance(empirical_covariance(F), self.shrinkage)
        self.covariance_ = cov
        lam, V = np.linalg.eigh(cov)
        if not np.trace(cov) > 0:
            self.whitening_ = np.eye(k)
        else:
            lam = np.maximum(lam, lam.max() * k * np.finfo(np.float64).eps)
            self.whitening_ = (V / np.sqrt(lam)) @ V.T
        self._loo_scores = leave_one_out_scores(F, self.mean_, V, self.shrinkage)

    def _training_outlier_score(self, X, rows):
        """Training rows scored as if held out: the exact leave-one-out
        outlierness of :func:`leave_one_out_scores` (rows ``-1``: as usual)."""
        o = np.empty(X.shape[0], dtype=np.float64)
        seen = rows >= 0
        o[seen] = self._loo_scores[rows[seen]]
        if not seen.all():
            o[~seen] = self._outlier_score(X[~seen])
        return o

    # -------------------------------------------------------------- network
    def _network(self, dtype, device, private=False):
        """``x -> z``: the features, flattened, then the whitening layer.

        ``private`` copies the feature extractor even where its dtype and
        device fit: LRP registers hooks and canonizers on the network.
        """
        fe = on_device(self.feature_extractor_, dtype, device, copy_always=private)
        k = self.n_features_out_
        W = np.asarray(self.whitening_, dtype=np.float64)
        b = -W @ np.asarray(self.mean_, dtype=np.float64)
        # skip_init: no random initialisation (which would draw from the
        # user's torch generator); the weights are set right after
        white = torch.nn.utils.skip_init(Whitening, k, k, device=device, dtype=torch_dtype(dtype))
        with torch.no_grad():
            white.weight.copy_(torch.from_numpy(W))
            white.bias.copy_(torch.from_numpy(b))
        return torch.nn.Sequential(fe, torch.nn.Flatten(), white).eval()

    def _features(self, X):
        device = resolve_device(self.device)
        fe = on_device(self.feature_extractor_, X.dtype, device)
        out = []
        with torch.no_grad():
            for sl in row_batches(X.shape[0], 64 * X.shape[1] * X.dtype.itemsize):
                out.append(fe(to_tensor(X[sl], X.dtype, device)).flatten(1).cpu().numpy())
        return np.concatenate(out)

    # -------------------------------------------------------------- predict
    def _outlier_score(self, X):
        device = resolve_device(self.device)
        net = self._network(X.dtype, device)
        o = np.empty(X.shape[0], dtype=X.dtype)
        with torch.no_grad():
            for sl in row_batches(X.shape[0], 64 * X.shape[1] * X.dtype.itemsize):
                z = net(to_tensor(X[sl], X.dtype, device))
                o[sl] = (z * z).sum(dim=1).cpu().numpy()
        return o

    def _explain(self, X):
        device = resolve_device(self.device)
        net = self._network(X.dtype, device, private=True)
        composite = lrp_composite(self.lrp_gamma)
        R = np.empty_like(X)
        with composite.context(net) as lrp_net:
            for sl in row_batches(X.shape[0], 256 * X.shape[1] * X.dtype.itemsize):
                x = to_tensor(X[sl], X.dtype, device).requires_grad_(True)
                z = lrp_net(x)
                # [P] App. A.3: the distance layer gives R_k = z_k^2
                (rel,) = torch.autograd.grad(z, x, grad_outputs=(z * z).detach())
                R[sl] = rel.detach().cpu().numpy()
        return R

