"""Single-model detectors: KDE and OC-SVM (soft-min models); autoencoder and
deep one-class (torch, imported on first use)."""

from .kde import KDEDetector
from .ocsvm import OCSVMDetector

__all__ = ["KDEDetector", "OCSVMDetector"]

# The torch detectors: imported on first access, so that importing the
# package never imports torch (DESIGN.md §3). They stay out of __all__: a
# star import must not need torch.
_TORCH_DETECTORS = {
    "AutoencoderDetector": ".autoencoder",
    "DeepOneClassDetector": ".deep",
}


def __getattr__(name):
    if name in _TORCH_DETECTORS:
        import importlib

        try:
            module = importlib.import_module(_TORCH_DETECTORS[name], __name__)
        except ImportError as exc:
            raise ImportError(
                f"{name} needs the optional dependency torch: "
                f"pip install 'skexplain_ad[torch]'. ({exc})"
            ) from exc
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_TORCH_DETECTORS])
