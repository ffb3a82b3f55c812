"""Compute kernels behind one interface.

Estimators never branch on the backend: they ask :func:`get` for an object
with the methods of :class:`~skexplain_ad.backends._numpy.NumpyBackend`
and call it:

- ``prepare(templates, log_weights, gamma, center, dtype)`` once per call;
- ``softmin(X, prep, relevance, rule, exclude)`` per row chunk: the
  outlierness and, with ``relevance``, the relevance by ``rule``
  ("conservative" or "oc-dtd"), ``exclude`` leaving one template out per row;
- ``softmin_distances(X, prep)`` per chunk for models made of several
  soft-min models (the ensembles): each member's outlierness and its
  distance block, from which they form their own pooling;
- ``times_pairs()``: the Times ensemble's pooling over template pairs
  (``global_relevance``, ``local_score``, ``local_relevance`` per row
  chunk, ``global_subset`` and ``local_subset`` for pixel flipping;
  :mod:`skexplain_ad._times`): on the host for numpy and numba
  (``_host_times`` with the pair kernels of ``_numpy_times`` or
  ``_numba_times``), on the members' device for torch (``_torch_times``).

Backends are registered by name and imported on first use, so that importing
:mod:`skexplain_ad` imports neither numba's compiler nor torch.
"""

import importlib

from ._expand import sq_from_cross, sqnorms
from ._rules import RULES, Rule, get_rule, register_rule

__all__ = ["get", "register", "available", "names", "BACKEND_NAMES", "RULES", "Rule",
           "get_rule", "register_rule", "sq_from_cross", "sqnorms"]

# name -> (module, class); the module is imported only when the backend is used.
_REGISTRY = {
    "numpy": ("skexplain_ad.backends._numpy", "NumpyBackend"),
    "numba": ("skexplain_ad.backends._numba", "NumbaBackend"),
    "torch": ("skexplain_ad.backends._torch", "TorchBackend"),
}

#: The built-in backends. The ``backend`` parameter of every estimator
#: accepts ``"auto"`` and any name in the registry at validation time
#: (:func:`register` extends it).
BACKEND_NAMES = tuple(_REGISTRY)

def register(name, module, cls):
    """Register a backend class ``cls`` of module ``module`` under ``name``.

    Parameters
    ----------
    name : str
        Name the ``backend`` parameter of every estimator then accepts.
    module : str
        Importable module path, imported on first use.
    cls : str
        Name of the backend class in ``module``.

    Examples
    --------
    >>> from skexplain_ad import backends
    >>> backends.register("numpy2", "skexplain_ad.backends._numpy", "NumpyBackend")
    >>> type(backends.get("numpy2")).__name__
    'NumpyBackend'
    >>> del backends._REGISTRY["numpy2"]
    """
    _REGISTRY[name] = (module, cls)


def names():
    """Names of the registered backends (whether importable or not).

    Returns
    -------
    names : list of str
    """
    return list(_REGISTRY)


def available():
    """Names of the backends whose dependencies are importable.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from skexplain_ad.backends import available
    >>> "numpy" in available()
    True
    """
    names = []
    for name in _REGISTRY:
        try:
            get(name)
        except ImportError:
            continue
        names.append(name)
    return names


def get(name="auto", device=None):
    """Return the kernels of backend ``name``.

    Parameters
    ----------
    name : {"auto", "numpy", "numba", "torch"}, default="auto"
        Backend name. ``"auto"`` picks torch when ``device`` names a CUDA
        device and numba otherwise (numba is never slower than numpy here,
        benchmarks/bench_softmin.py). The choice never depends on the number
        of queries, so a row gives the same bits whatever chunk it is in.
    device : str or None, default=None
        Device for the torch backend (``"cpu"``, ``"cuda"``, ``"cuda:N"``);
        ignored by the CPU backends.

    Returns
    -------
    backend : object
        An instance with ``prepare`` and ``softmin`` methods.

    Raises
    ------
    ValueError
        If ``name`` is not a registered backend.
    ImportError
        If the backend's optional dependency is missing; the message names
        the extra to install.

    Examples
    --------
    >>> from skexplain_ad import backends
    >>> type(backends.get("numpy")).__name__
    'NumpyBackend'
    """
    if name == "auto":
        name = "torch" if device is not None and str(device).startswith("cuda") else "numba"
    if name not in _REGISTRY:
        raise ValueError(
            f"backend={name!r} is not a known backend; expected 'auto' or one "
            f"of {sorted(_REGISTRY)}."
        )
    module, cls = _REGISTRY[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"backend={name!r} cannot be imported: {_INSTALL.get(name, '')}"
                          f"{'' if name in _INSTALL else _install_hint(module)} ({exc})") from exc
    return getattr(mod, cls)(device=device)


#: how to install what each built-in backend needs (numba is a core
#: dependency; torch comes with the package's ``torch`` extra)
_INSTALL = {
    "numpy": "reinstall the package: pip install --force-reinstall skexplain_ad.",
    "numba": "numba is a core dependency: pip install numba.",
    "torch": "pip install 'skexplain_ad[torch]' (torch and zennit).",
}


def _install_hint(module):
    top = module.split(".")[0]
    return f"install the package that provides the module {module!r} (pip install {top})."
