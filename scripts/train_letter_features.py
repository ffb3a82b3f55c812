"""Train the letter feature extractor that DeepOneClassDetector ships with.

[P] Sec. 3 builds its deep one-class model for MNIST-C on the feature
extractor of a CNN classifier trained on the "letters" of EMNIST (26
classes, upper and lower case merged): three convolutional layers
interleaved with l2 pooling, a 640-dimensional feature space. EMNIST cannot
be had offline, so this script renders the 26 letters from the fonts that
matplotlib ships, with affine and stroke-width jitter, MNIST-like at 28 x 28
(``skexplain_ad.datasets._letters.render_letters``), and trains
:func:`skexplain_ad.detectors._torch_nets.make_feature_extractor` as a
26-way classifier with a linear layer on the 640 features, which is then
dropped. Random shifts of up to 2 pixels augment the training letters.
The training loop is the one ``scripts/_feature_training.py`` shares
between this script and ``scripts/train_deep_features.py``.

The state dict of the feature extractor alone (float32, about 140 kB) is
written to ``skexplain_ad/detectors/weights/letter_features.pt`` and loaded
with ``torch.load(..., weights_only=True)``. Nothing is downloaded. The run
is deterministic: ``--seed`` fixes the rendering, the initialisation and the
batches, and the script computes on ``--threads`` CPU threads (default 1:
the shipped file came from the default run; the same thread count gives the
same tensors bit for bit).

Run from the repository root::

    python scripts/train_letter_features.py [--per-class 500] [--epochs 12] [--seed 0] [--out PATH]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # _feature_training, skexplain_ad

from _feature_training import train_feature_extractor  # noqa: E402
from skexplain_ad.datasets._letters import render_letters  # noqa: E402
from skexplain_ad.detectors._torch_nets import LETTER_FEATURES_PATH  # noqa: E402


def main(per_class, epochs, seed, out, threads=1, val_share=0.1):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    X, y = render_letters(per_class, random_state=seed)
    X, y = X.astype(np.float32), y.astype(np.int64)
    n_val = int(round(val_share * len(X)))
    print(f"rendered {len(X)} letters in {time.perf_counter() - t0:.0f} s", flush=True)
    train_feature_extractor(X, y, n_classes=26, n_val=n_val, epochs=epochs, seed=seed, out=out, t0=t0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(LETTER_FEATURES_PATH))
    args = parser.parse_args()
    main(args.per_class, args.epochs, args.seed, args.out, args.threads)
