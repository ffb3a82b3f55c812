"""pytest configuration: skip the torch modules' doctests where torch is missing.

``--doctest-modules`` imports every module of the package; the torch
backend and detectors import torch at the top (the package itself imports
them lazily), so without the ``torch`` extra they are not collected.
"""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += [
        "skexplain_ad/backends/_torch.py",
        "skexplain_ad/detectors/_torch_*.py",
        "skexplain_ad/detectors/autoencoder.py",
        "skexplain_ad/detectors/deep.py",
    ]
