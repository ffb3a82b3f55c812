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

The rules are zennit's (:func:`lrp_composite`). Networks of nested
``nn.Sequential`` without BatchNorm (the shipped extractor among them) are
explained by :func:`lrp_sequential`, the same rules computed layer by layer
without hooks and without the passes that are exactly zero: on 2,048 MNIST
digits (float32, one thread) ``explain`` costs about 4x ``score`` there,
9x through the hooks (``benchmarks/bench_torch.py``); other networks go
through zennit's hooks.
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

__all__ = [
    "DeepOneClassDetector",
    "lrp_composite",
    "lrp_sequential",
    "guard_zero",
    "leave_one_out_scores",
]


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


def _leaves(module):
    """The layers of a network made of nested ``nn.Sequential``, in order; None otherwise."""
    if not isinstance(module, torch.nn.Sequential):
        return None if list(module.children()) else [module]
    out = []
    for child in module:
        sub = _leaves(child)
        if sub is None:
            return None
        out.extend(sub)
    return out


def _sequential_layers(net, types):
    """:func:`_leaves` of ``net``, None where it holds a BatchNorm (the composite's canonizer merges those)."""
    leaves = _leaves(net)
    if leaves is None or any(isinstance(m, types.BatchNorm) for m in leaves):
        return None
    return leaves


def lrp_sequential(net, x, gamma=0.25, stabilizer=guard_zero):
    r"""The relevance of :func:`lrp_composite`, computed layer by layer without hooks.

    The same rules as the composite (zennit's formulas, the same
    stabilizer) on a network of nested :class:`torch.nn.Sequential`: one
    forward pass keeps each layer's input, then each layer's rule maps the
    relevance of its outputs to its inputs, with no ordinary gradient
    computed beside it (zennit's hooks replace the gradient at each layer,
    after autograd has computed it) and no pass that is exactly zero:

    - Linear and convolution layers, generalised gamma rule ([P] App.
      A.5): zennit's four modified passes, inputs split into positive and
      negative parts, each with :math:`w + \gamma w^\pm` for positive and
      negative outputs. Where the layer's input is non-negative (pixels,
      anything after a ReLU or a pooling of one) the negative parts are
      zero, and where no relevance reaches a negative output (a ReLU
      follows) neither do those passes: one forward with
      :math:`w + \gamma w^+` and one backward are left, the paper's rule.
    - :class:`~._torch_nets.Whitening`, z-rule ([P] App. A.4):
      :math:`R_j = a_j \sum_k w_{jk} R_k / z_k`.
    - activations pass relevance on; :class:`~._torch_nets.L2Pool2d`
      :math:`R_j = a_j^2 R_k / a_k^2` in closed form; average pooling by
      the Norm rule, :math:`R_j = a_j \partial_j a_k R_k / a_k`.
    - any other layer (flattening, max-pooling, dropout) by its gradient,
      as zennit treats a layer without a rule.

    Parameters
    ----------
    net : torch.nn.Module
        ``x -> z``, in eval mode.
    x : torch.Tensor of shape (n, d)
    gamma : float, default=0.25
    stabilizer : callable or float, default=guard_zero

    Returns
    -------
    relevance : torch.Tensor of shape (n, d) or None
        None where the network is not made of nested ``nn.Sequential`` or
        holds a BatchNorm (whose merge the composite's canonizer does):
        use :func:`lrp_composite` there.
    """
    zennit = import_zennit()
    types = zennit.types
    leaves = _sequential_layers(net, types)
    if leaves is None:
        return None
    stab = zennit.core.Stabilizer.ensure(stabilizer)
    inputs = []
    with torch.no_grad():
        a = x
        for layer in leaves:
            inputs.append(a)
            a = layer(a)
    with torch.no_grad():  # the rules that need a gradient enable it themselves
        R = a * a  # [P] App. A.3: R_k = z_k^2 at the distance layer
        for layer, a_in in zip(reversed(leaves), reversed(inputs)):
            a_out = a
            a = a_in
            if isinstance(layer, Whitening):
                R = a_in * ((R / stab(a_out)) @ layer.weight)
            elif isinstance(layer, types.Activation):
                pass
            elif isinstance(layer, L2Pool2d):
                R = _l2_pool_rule(layer, a_in, a_out, R, stab)
            elif isinstance(layer, (types.Convolution, torch.nn.Linear)):
                R = _gamma_rule(layer, a_in, a_out, R, gamma, stab)
            elif isinstance(layer, (torch.nn.Flatten, torch.nn.Unflatten)):
                R = R.reshape(a_in.shape)
            elif isinstance(layer, types.AvgPool):
                R = a_in * _vjp(layer.forward, a_in, R / stab(a_out))
            else:
                R = _vjp(layer.forward, a_in, R)
    return R


def _vjp(f, x, v):
    """``v`` pulled back through ``f`` at ``x`` (its gradient, no graph kept)."""
    x = x.detach().requires_grad_()
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(x), x, grad_outputs=v)
    return g


def _forward_with(module, x, modifier, bias=True):
    """``module.forward(x)`` with its parameters replaced by ``modifier(p)``.

    ``bias=False`` zeroes the bias (zennit's ``zero_params=["bias"]``).
    """
    saved = dict(module.named_parameters(recurse=False))
    try:
        with torch.no_grad():
            for name, p in saved.items():
                q = modifier(p) if bias or name != "bias" else torch.zeros_like(p)
                setattr(module, name, torch.nn.Parameter(q, requires_grad=False))
        return module.forward(x)
    finally:
        for name, p in saved.items():
            setattr(module, name, p)


def _gamma_rule(layer, x, z, R, gamma, stab):
    """zennit's generalised ``Gamma`` rule (module docstring), its zero passes skipped."""
    def plus(p):
        return p + gamma * p.clamp(min=0.0)

    def minus(p):
        return p + gamma * p.clamp(max=0.0)

    zero = torch.zeros((), dtype=R.dtype, device=R.device)
    R_neg = torch.where(z < 0.0, R, zero)
    any_neg_R = bool(R_neg.any())
    any_neg_x = bool((x < 0.0).any())
    xp = x.clamp(min=0.0) if any_neg_x else x
    xm = x.clamp(max=0.0) if any_neg_x else None
    ins, outs, grads = [], [], []
    with torch.enable_grad():
        # positive outputs: x+ (w + gamma w+) + b+ and x- (w + gamma w-)
        branches = [(xp, plus, True)] + ([(xm, minus, False)] if any_neg_x else [])
        if any_neg_R:
            # negative outputs: x+ (w + gamma w-) + b- and x- (w + gamma w+)
            branches += [(xp, minus, True)] + ([(xm, plus, False)] if any_neg_x else [])
        for inp, mod, bias in branches:
            inp = inp.detach().requires_grad_()
            ins.append(inp)
            outs.append(_forward_with(layer, inp, mod, bias=bias))
        half = len(outs) // 2 if any_neg_R else len(outs)
        d_pos = outs[0] if half == 1 else outs[0] + outs[1]
        g = torch.where(z > 0.0, R, zero) / stab(d_pos)
        grads = [g] * half
        if any_neg_R:
            d_neg = outs[half] if half == 1 else outs[half] + outs[half + 1]
            grads += [R_neg / stab(d_neg)] * half
        gs = torch.autograd.grad(outs, ins, grad_outputs=grads)
    rel = ins[0].detach() * gs[0]
    for inp, gr in zip(ins[1:], gs[1:]):
        rel += inp.detach() * gr
    return rel


def _l2_pool_rule(layer, x, a, R, stab):
    """zennit's ``Norm`` on :class:`L2Pool2d` in closed form: ``R_j = a_j^2 R_k / (stab(a_k) a_k)``.

    ``d a_k / d a_j = a_j / a_k``, zero where the window's sum of squares
    is below the clamp of :meth:`L2Pool2d.forward` (its output is then
    exactly ``sqrt(tiny)``).
    """
    k = layer.kernel_size
    floor = torch.tensor(torch.finfo(a.dtype).tiny, dtype=a.dtype, device=a.device).sqrt()
    t = (R / (stab(a) * a)).masked_fill_(a <= floor, 0.0)
    n, c, h, w = t.shape
    if (h * k, w * k) == tuple(x.shape[-2:]):
        xw = x
    else:  # the rows and columns the pooling drops get no relevance
        xw = x[..., : h * k, : w * k]
    rel = (xw * xw).reshape(n, c, h, k, w, k) * t.reshape(n, c, h, 1, w, 1)
    rel = rel.reshape(n, c, h * k, w * k)
    if xw is x:
        return rel
    out = torch.zeros_like(x)
    out[..., : h * k, : w * k] = rel
    return out


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
        ``contamination`` percentile of the training scores, each row
        scored by the whitening fitted without it (exact leave-one-out,
        :func:`leave_one_out_scores`; the feature extractor is fixed, so
        the whitening is all a row changes). In sample, 640 whitened
        features of 350 digits flag 0.39 of new inliers of the same digit
        at ``contamination=0.1``; out of sample 0.11 (MNIST '0', five
        splits).
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
        R = np.empty_like(X)
        rows = row_batches(X.shape[0], 256 * X.shape[1] * X.dtype.itemsize)
        # the hand-written pass where the network allows it, else zennit's hooks
        if _sequential_layers(net, import_zennit().types) is not None:
            for sl in rows:
                rel = lrp_sequential(net, to_tensor(X[sl], X.dtype, device), self.lrp_gamma)
                R[sl] = rel.cpu().numpy()
            return R
        composite = lrp_composite(self.lrp_gamma)
        with composite.context(net) as lrp_net:
            for sl in rows:
                x = to_tensor(X[sl], X.dtype, device).requires_grad_(True)
                z = lrp_net(x)
                # [P] App. A.3: the distance layer gives R_k = z_k^2
                (rel,) = torch.autograd.grad(z, x, grad_outputs=(z * z).detach())
                R[sl] = rel.detach().cpu().numpy()
        return R
