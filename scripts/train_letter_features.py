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
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skexplain_ad.datasets._letters import render_letters  # noqa: E402
from skexplain_ad.detectors._torch_nets import (  # noqa: E402
    LETTER_FEATURES_PATH,
    make_feature_extractor,
)


def shift(xb, rng, max_shift=2):
    """Random translations of a batch of (n, 784) images, zero fill."""
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


def main(per_class, epochs, seed, out, threads=1, val_share=0.1, batch_size=64, lr=2e-3):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    X, y = render_letters(per_class, random_state=seed)
    X, y = X.astype(np.float32), y.astype(np.int64)
    n_val = int(round(val_share * len(X)))
    print(f"rendered {len(X)} letters in {time.perf_counter() - t0:.0f} s", flush=True)
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    X_tr, y_tr = torch.from_numpy(X[n_val:]), torch.from_numpy(y[n_val:])
    X_va, y_va = torch.from_numpy(X[:n_val]), torch.from_numpy(y[:n_val])
    features = make_feature_extractor()
    model = nn.Sequential(features, nn.Linear(640, 26))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
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
            f"val acc {accuracy(model, X_va, y_va):.3f}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    print(f"train acc {accuracy(model, X_tr, y_tr):.3f}, val acc {accuracy(model, X_va, y_va):.3f}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float().contiguous() for k, v in features.state_dict().items()}
    torch.save(state, out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(LETTER_FEATURES_PATH))
    args = parser.parse_args()
    main(args.per_class, args.epochs, args.seed, args.out, args.threads)
