"""The audit's argument checks, all made before any data is loaded or model fitted."""

import numbers
import os
import tempfile
from pathlib import Path

__all__ = ["check_backend", "check_device", "check_n_jobs", "check_out", "check_count"]


def check_count(value, name, minimum=1):
    """An integer >= ``minimum``, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_backend(backend, device=None):
    """``backend`` is "auto" or a registered backend whose dependencies import."""
    from .. import backends

    names = ("auto", *backends.BACKEND_NAMES)
    if backend not in names:
        hint = " (a device, not a backend: use device)" if str(backend).startswith(("cuda", "cpu")) else ""
        raise ValueError(f"backend={backend!r} is not a backend{hint}; expected one of "
                         f"{', '.join(names)}.")
    if backend != "auto":
        try:
            backends.get(backend, None)
        except ImportError as exc:
            raise ValueError(f"backend={backend!r} cannot run here: {exc}") from exc
    return backend


def check_device(device):
    """``device`` is None, "cpu", or a CUDA device that exists here."""
    if device is None:
        return None
    text = str(device)
    if text == "cpu":
        return text
    if not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise ValueError(f"device={device!r} is not a device; expected None, 'cpu', 'cuda' or "
                         "'cuda:N'.")
    try:
        import torch
    except ImportError as exc:
        raise ValueError(f"device={device!r} needs torch: pip install 'skexplain_ad[torch]' "
                         f"({exc}).") from exc
    if not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: this machine has no CUDA device that torch can "
                         "use; leave device unset to run on the CPU.")
    index = int(text[5:]) if ":" in text else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA "
                         f"device(s), numbered from 0.")
    return text


def check_n_jobs(n_jobs):
    """None or a non-zero integer (joblib's convention: -1 = all cores)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero integer (-1 = every core); "
                         f"got {n_jobs!r}.")
    return int(n_jobs)


def check_out(out):
    """Create the report folder ``out`` and make sure a file can be written in it."""
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; the report needs a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".skexplain_ad_probe_")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise ValueError(f"out={str(out)!r} is not a writable folder: "
                         f"{exc.strerror or exc}.") from exc
    return path
