"""torch devices and host-to-device copies, shared by the torch kernels.

Below both :mod:`~skexplain_ad.backends._torch` and
:mod:`~skexplain_ad.backends._torch_times`, so that neither imports the
other. Importing it imports torch.
"""

import numpy as np
import torch

__all__ = ["resolve_device", "to_tensor", "TORCH_DTYPES"]

#: numpy dtype -> torch dtype of the query arrays
TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def resolve_device(device):
    """A :class:`torch.device` from the ``device`` parameter, checked.

    Parameters
    ----------
    device : str, torch.device or None
        ``None`` or ``"cpu"`` for the CPU, ``"cuda"`` or ``"cuda:N"`` for a GPU.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        If ``device`` is not a device string torch understands, or names a
        CUDA device that is not available.

    Examples
    --------
    >>> from skexplain_ad.backends._torch_device import resolve_device
    >>> resolve_device(None)
    device(type='cpu')
    """
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; expected None, 'cpu', "
            f"'cuda' or 'cuda:N'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} needs CUDA, but torch.cuda.is_available() is "
                f"False (torch {torch.__version__}); use device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA "
                f"device(s) are visible."
            )
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r}: expected a 'cpu' or 'cuda' device.")
    return dev


def to_tensor(X, dtype, device):
    """Host array -> tensor of numpy ``dtype`` on ``device`` (a copy if read-only)."""
    arr = np.asarray(X, dtype=dtype)
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
    return torch.from_numpy(arr).to(device)
