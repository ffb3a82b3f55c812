"""Private helpers of the torch detectors: imports, seeding, training, inference.

- :func:`import_zennit`: zennit, or an ImportError naming the extra.
- :func:`seed_from`, :func:`torch_seed`: ``random_state`` -> reproducible
  torch initialisation and shuffling on the CPU.
- :func:`fit_reconstruction`: Adam with early stopping on an inlier
  validation split.
- :func:`on_device`: a copy of a fitted module in the dtype and on the
  device of a call; :func:`module_state`, :func:`row_batches`.

Importing this module imports torch; a missing torch raises an ImportError
that names the extra to install.
"""

import contextlib
import copy

import numpy as np
from sklearn.utils import check_random_state

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised without torch only
    raise ImportError(
        "The torch detectors (AutoencoderDetector, DeepOneClassDetector) and "
        "backend='torch' need the optional dependency torch: "
        f"pip install 'skexplain_ad[torch]'. ({exc})"
    ) from exc

from .._torch_threads import install_fork_guard
from ..backends._torch import _TORCH_DTYPES, resolve_device, to_tensor

# a child forked after a torch model was used runs torch on one thread
# instead of hanging (skexplain_ad._torch_threads)
install_fork_guard()
from ..base import chunk_n_rows

__all__ = [
    "CPUStateMixin",
    "check_input_width",
    "expected_input_width",
    "import_zennit",
    "seed_from",
    "torch_seed",
    "fit_reconstruction",
    "validation_split",
    "on_device",
    "row_batches",
    "resolve_device",
    "to_tensor",
    "torch_dtype",
]


def import_zennit():
    """Import zennit, the LRP library of :class:`DeepOneClassDetector`.

    A plain ``import zennit``: the ``torch`` extra installs it.

    Returns
    -------
    zennit : module

    Raises
    ------
    ImportError
        If zennit (or a package it imports, such as torchvision) is missing;
        the message names the extra to install.
    """
    try:
        import zennit
    except ImportError as exc:
        raise ImportError(
            "DeepOneClassDetector.explain needs the optional dependency zennit: "
            f"pip install 'skexplain_ad[torch]'. ({exc})"
        ) from exc
    return zennit


class CPUStateMixin:
    """Pickle every torch module of the estimator on the CPU.

    The fitted networks already live on the CPU; a module given as a
    parameter may sit on a GPU. Its pickled copy is moved to the CPU, so
    that a detector saved on a GPU machine loads anywhere (``device`` keeps
    its value: ``set_params(device="cpu")`` to compute without a GPU).
    """

    def __getstate__(self):
        state = super().__getstate__()
        for key, value in list(state.items()):
            if isinstance(value, torch.nn.Module) and any(
                t.device.type != "cpu" for t in (*value.parameters(), *value.buffers())
            ):
                state[key] = copy.deepcopy(value).cpu()
        return state


def expected_input_width(module):
    """The row width ``module`` takes, read off its first layer, or None.

    The first leaf module in registration order decides: a
    :class:`torch.nn.Linear` takes ``in_features``, a
    :class:`torch.nn.Unflatten` of dimension 1 the product of its shape
    (flat images); a :class:`torch.nn.Flatten` or :class:`torch.nn.Identity`
    is looked through. Anything else (a convolution on flat rows, a
    module computing in ``forward`` alone) says nothing: None.
    """
    for layer in module.modules():
        if list(layer.children()):
            continue  # a container: its children come next
        if isinstance(layer, (torch.nn.Flatten, torch.nn.Identity)):
            continue
        if isinstance(layer, torch.nn.Linear):
            return int(layer.in_features)
        if isinstance(layer, torch.nn.Unflatten) and layer.dim in (1, -1):
            return int(np.prod(layer.unflattened_size))
        return None
    return None


def check_input_width(module, X2, *, param, owner, dtype, device):
    """Run ``module`` on two rows; a width it cannot take is named.

    Parameters
    ----------
    module : torch.nn.Module
    X2 : ndarray of shape (2, n_features)
        Two rows of the training data (any dtype: cast to ``dtype``).
    param, owner : str
        The parameter and the estimator, for the message.
    dtype, device
        Where to run it.

    Returns
    -------
    out : torch.Tensor
        ``module`` of the two rows (no gradient).

    Raises
    ------
    ValueError
        Naming ``param``, the width the module takes (when its first layer
        says) and ``X``'s, before any training or scoring; the torch error
        that revealed it is chained.
    """
    width = X2.shape[1]
    expected = expected_input_width(module)
    if expected is not None and expected != width:
        raise ValueError(
            f"{param} of {owner} takes rows of {expected} features (its first layer), "
            f"but X has {width} features."
        )
    try:
        with torch.no_grad():
            return module.eval()(to_tensor(X2, dtype, device))
    except RuntimeError as exc:
        takes = f"takes rows of {expected} features" if expected else "fails"
        raise ValueError(
            f"{param} of {owner} {takes} on X's rows of {width} features: {exc}"
        ) from exc


def torch_dtype(dtype):
    """torch dtype of a numpy float dtype."""
    return _TORCH_DTYPES[np.dtype(dtype)]


def seed_from(random_state):
    """An int seed drawn from ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seed(seed):
    """Seed torch's CPU generator inside the block, restoring it afterwards.

    Weight initialisation draws from the global generator; forking it keeps
    ``random_state`` from changing the user's own torch random stream.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def on_device(module, dtype, device, *, copy_always=False):
    """``module`` in eval mode, in ``dtype`` on ``device``: a copy when either differs.

    Fitted modules live on the CPU (what gets pickled); each call computes
    in the query dtype on the estimator's device. ``copy_always`` returns a
    private copy even when nothing differs, for callers that attach hooks or
    canonizers (LRP), so that concurrent calls on one fitted estimator
    (threads, dask) never see each other's changes.
    """
    tdtype = torch_dtype(dtype)
    params = list(module.parameters()) + list(module.buffers())
    same = all(p.dtype == tdtype and p.device == device for p in params if p.is_floating_point())
    if copy_always or not same:
        module = copy.deepcopy(module).to(device=device, dtype=tdtype)
    return module.eval()


def row_batches(n_rows, row_bytes, batch_size=None):
    """Slices of at most ``batch_size`` rows, or what fits ``working_memory``
    (the package's one chunking policy, :func:`skexplain_ad.base.chunk_n_rows`)."""
    if batch_size is None:
        batch_size = chunk_n_rows(row_bytes, n_rows)
    return [slice(i, min(i + batch_size, n_rows)) for i in range(0, n_rows, batch_size)]


def validation_split(n, validation_fraction, rng):
    """The rows :func:`fit_reconstruction` holds out, and the rows it trains on.

    ``floor(validation_fraction * n)`` rows drawn first from ``rng`` (a
    ``RandomState`` seeded with the training seed), none when that leaves
    no row on either side.

    Returns
    -------
    validation_rows, training_rows : ndarray of int
    """
    n_val = int(np.floor(validation_fraction * n))
    if n_val < 1 or n - n_val < 1:
        n_val = 0
    perm = rng.permutation(n)
    return perm[:n_val], perm[n_val:]


def fit_reconstruction(
    module,
    X,
    *,
    epochs,
    batch_size,
    learning_rate,
    validation_fraction,
    patience,
    device,
    seed,
):
    """Train ``module`` (x -> r(x)) with Adam on the mean squared error, in place.

    Early stopping on an inlier validation split ([P] Sec. 3: the
    autoencoders are trained "such that the reconstruction error of an
    inlier validation set is minimized"): after each epoch the validation
    error is measured; training stops when it has not improved for
    ``patience`` epochs and the best weights are restored.

    Parameters
    ----------
    module : torch.nn.Module
        On ``device``, float32; trained in place.
    X : ndarray of shape (n, d), float32
        Training rows (already scaled).
    epochs, batch_size, learning_rate, validation_fraction, patience
        As the estimator's parameters.
    device : torch.device
    seed : int
        Seeds the split and the shuffling.

    Returns
    -------
    info : dict
        ``n_iter`` (epochs run), ``loss_curve``, ``validation_loss_curve``,
        ``best_validation_loss`` (None without a validation split),
        ``validation_rows`` (the rows held out, :func:`validation_split`).
    """
    rng = np.random.RandomState(seed)
    n = X.shape[0]
    val_rows, tr_rows = validation_split(n, validation_fraction, rng)
    n_val = val_rows.size
    X_val, X_tr = X[val_rows], X[tr_rows]
    X_tr_t = to_tensor(X_tr, np.float32, device)
    X_val_t = to_tensor(X_val, np.float32, device) if n_val else None
    opt = torch.optim.Adam(module.parameters(), lr=learning_rate)
    loss_curve, val_curve = [], []
    best, best_state, bad = np.inf, None, 0
    n_tr = X_tr.shape[0]
    for _ in range(epochs):
        module.train()
        order = torch.from_numpy(rng.permutation(n_tr)).to(device)
        total = 0.0
        for start in range(0, n_tr, batch_size):
            xb = X_tr_t[order[start:start + batch_size]]
            opt.zero_grad(set_to_none=True)
            loss = torch.mean((module(xb) - xb) ** 2)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        loss_curve.append(total / n_tr)
        if not n_val:
            continue
        module.eval()
        with torch.no_grad():
            val = sum(
                float(torch.sum((module(X_val_t[s]) - X_val_t[s]) ** 2))
                for s in row_batches(n_val, 0, batch_size)
            ) / X_val_t.numel()
        val_curve.append(val)
        if val < best:
            best, bad = val, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return {
        "n_iter": len(loss_curve),
        "loss_curve": loss_curve,
        "validation_loss_curve": val_curve,
        "best_validation_loss": float(best) if n_val else None,
        "validation_rows": val_rows,
    }
