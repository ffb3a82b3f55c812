"""Torch's intra-op threads: sized to the free cores, and safe across ``fork``.

A leaf module (it imports nothing of the package, and torch only when
torch is installed and asked for):

- :func:`free_cores`: the cores of this process's affinity set that the
  load average leaves free, at least one.
- :func:`torch_threads`: a context manager that sets torch's intra-op
  threads (``torch.set_num_threads``) for the block, to the free cores by
  default (BLAS's threads too), and restores the previous counts
  afterwards. Torch sizes its pool
  to every core of the machine: on a machine busy with other work, its
  threads then wait for each other at every barrier, and a 2-core machine
  with a load of 6 ran the default audit's 5 autoencoder epochs 33 times
  slower than one thread did (86 s instead of 2.6 s). The audit runs in it.
- :func:`install_fork_guard`: after ``os.fork()`` a child inherits torch's
  thread-pool object but not its threads (only the forking thread survives
  a fork), and its first parallel operation then waits forever for
  threads that do not exist (plain torch does: a ``(2000, 2000)`` matmul
  in a child forked after one in the parent hangs). The guard registers an
  ``os.register_at_fork`` handler that sets the child's torch to one
  thread, so that a child forked after a torch model was used works, on
  one thread (``torch.set_num_threads`` in the child gives it more). To
  run torch in worker processes with all their threads, start them with
  the ``spawn`` (or ``forkserver``) method:
  ``multiprocessing.get_context("spawn")``, or joblib's default ``loky``
  backend, which never forks a process that has run torch.

numba's pool is made fork-safe the same way in
:mod:`skexplain_ad.backends._numba`.
"""

import contextlib
import math
import os
import sys

__all__ = ["free_cores", "torch_threads", "install_fork_guard"]

_GUARD = {"installed": False}


def _n_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def free_cores(load=None):
    """Cores of this process's CPU set that the current load leaves free.

    Parameters
    ----------
    load : float, optional
        The load to subtract; default: the one-minute load average
        (``os.getloadavg()``; 0 where the platform has none).

    Returns
    -------
    n : int
        ``n_cpus - round(load)``, at least 1 and at most ``n_cpus``.

    Examples
    --------
    >>> from skexplain_ad._torch_threads import free_cores, _n_cpus
    >>> free_cores(load=0.0) == _n_cpus()
    True
    >>> free_cores(load=1e6)
    1
    """
    n = _n_cpus()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    if not math.isfinite(load) or load < 0:
        load = 0.0
    return int(min(n, max(1, n - math.floor(load + 0.5))))


@contextlib.contextmanager
def torch_threads(n=None, *, blas=True):
    """Torch's intra-op threads (and BLAS's) set to ``n`` inside the block, restored after.

    Parameters
    ----------
    n : int or None, default=None
        Threads for the block; None: :func:`free_cores`, capped at torch's
        current count (the block never asks for more than torch had).
    blas : bool, default=True
        Also limit the BLAS libraries' threads (OpenBLAS, MKL: numpy's and
        scipy's, through ``threadpoolctl``) to the same count. On a loaded
        machine their idle threads spin beside torch's: a 640 x 640
        ``numpy.linalg.eigh`` (the deep model's whitening) took 2.6 s after
        a torch forward in the audit, 0.1 s with BLAS on one thread.

    Yields
    ------
    n : int
        The count in force inside the block (torch's, where torch is
        installed; without torch only BLAS is limited).

    Raises
    ------
    ValueError
        If ``n`` is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from skexplain_ad._torch_threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1) as n:
    ...     (n, torch.get_num_threads())
    (1, 1)
    >>> torch.get_num_threads() == before
    True
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None; got {n!r}.")
    # torch's threads are set where torch is imported already: a caller that is about to use
    # it imports it first (the audit does, for its torch models); no import for nothing
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if n is not None:
        want = n
    else:
        want = free_cores() if before is None else min(before, free_cores())
    with contextlib.ExitStack() as stack:
        if blas:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=want, user_api="blas"))
        if torch is not None:
            torch.set_num_threads(want)
            stack.callback(torch.set_num_threads, before)
        yield want


def _one_thread_in_child():
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def install_fork_guard():
    """Register (once) the ``os.register_at_fork`` handler of the module docstring.

    Called by the package's modules that import torch; does nothing on a
    platform without ``fork``.

    Returns
    -------
    installed : bool
        True where the handler is (now) registered.
    """
    if not _GUARD["installed"] and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_one_thread_in_child)
        _GUARD["installed"] = True
    return _GUARD["installed"]
