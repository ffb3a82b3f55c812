"""Time and memory of the thesis' MVTec protocol at 160 x 160 x 3, as ratios in one run.

[T] Sec. 3.3 audits MVTec AD at 160 x 160 x 3 = 76,800 features. MVTec AD is
not on these machines, so the data are the package's colour texture set at
the same size: ``make_textures("immunohistochemistry", patch_size=128,
image_size=160)`` (scikit-image's RGB photograph, crops of 128 resized to
160, defects planted before, masks resized by nearest neighbour). The
default sizes are those of an MVTec AD texture category: 240 training
images (wood has 247, leather 245, tile 230), 20 clean test images and 10
defective ones per defect type, 5 types.

Models: the six of ``audit(..., protocol="thesis-mvtec")``, built by the
audit's registry exactly as the audit builds them (C1, C2: the eq. 3.4
KDEs of the training set's halves; C1xC1, C2xC2: a half's global Times
with itself; C1+C2: their bag; C1xC2: their global Times), and the audit's
``KDE`` (likelihood-selected gamma, on all training images) and
``OC-SVM``. Each is fitted fresh (an ensemble fits its own members), so a
fit time is the model's whole cost. Per model:

- ``fit``: on its training rows (C1, C1xC1: the first half; C2, C2xC2: the
  second; the others: all);
- ``score``: ``outlier_score`` of every test image;
- ``explain``: ``explain`` of ``--n-explain`` defective images in one call
  (all 50 by default, as the audit explains them), per image;
- ``flip``: exact pixel flipping ([T] eq. 1.16,
  ``metrics.pixel_flipping_curve(method="remove")``) of ``--n-flip``
  defective images with ``--flip-steps`` steps, per curve, as the audit runs
  it (the protocol's 3 images, 10 steps);
- peak memory of each stage: Python's ``tracemalloc`` peak (numpy's
  arrays) and the sampled peak of the process' resident memory above its
  level when the stage began (everything: BLAS, numba).

The per-model part runs with ``--threads`` (default 1) BLAS and numba
threads. Ratios are against C1 (one KDE of one half), measured in the same
process;
the training set itself is printed for scale. With ``--audit`` the whole
``audit("textures", image_size=160, protocol="thesis-mvtec",
explainers=["lrp", "random"])`` is timed too (its sizes: 250 training
images, 30 + 5 x 30 test images; occlusion and KernelSHAP are left out, a
forward pass per feature or coalition at 76,800 features).

Run from the repository root::

    python benchmarks/bench_mvtec.py            # the sizes above, a few minutes
    python benchmarks/bench_mvtec.py --quick    # 40 training images, 64 x 64: a smoke test
    python benchmarks/bench_mvtec.py --audit    # and the whole audit

These machines are shared: compare ratios, not seconds.

Measured (seed 0, the default sizes, one thread, the shared 2-core machine
at a load of 3-4; 4 min in all; CPU seconds, explain and flip per image)::

    model      fit   x C1  score  x C1  explain   x C1  flip   x C1  peak MiB  x train
    C1        0.82   1.0x   0.12  1.0x    0.008   1.0x  0.063  1.0x     282     2.0x
    C1xC1     2.32   2.8x   0.24  2.0x    0.102  12.5x  0.218  3.4x     805     5.7x
    C2        0.30   0.4x   0.11  0.9x    0.004   0.5x  0.048  0.8x     282     2.0x
    C2xC2     1.53   1.9x   0.23  1.9x    0.106  12.9x  0.225  3.5x     805     5.7x
    C1+C2     1.31   1.6x   0.22  1.9x    0.007   0.8x  0.090  1.4x     635     4.5x
    C1xC2     1.70   2.1x   0.23  2.0x    0.107  13.0x  0.212  3.3x     805     5.7x
    KDE       0.54   0.7x   0.19  1.6x    0.006   0.8x  0.080  1.3x     481     3.4x
    OC-SVM    3.67   4.5x   0.19  1.6x    0.015   1.9x  0.101  1.6x     564     4.0x

(the training set is 141 MiB; the peak is the larger of tracemalloc's and
the sampled RSS increase of any stage; the process peaked at 1.8 GiB). A
global Times explain costs about 13 C1 explains per image at 76,800
features, its exact pixel flipping 3.5. With the machine's default threads
(two, the machine loaded by others) the same run took 3-10x longer and CPU
time rose with wall time: the BLAS threads spun against the other load.
The whole ``--audit`` run (default threads, LRP and random) took 90 s and
199 s in two runs (explain 47-74 s, flipping 16-72 s), resident memory up
to 3.9 GiB above its start; its C1xC1 and C2xC2 have exactly C1's and C2's
ROC on every defect (a KDE's global Times with itself ranks as the KDE).
"""

import argparse
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skexplain_ad._audit._registry import PROTOCOLS, make_detector  # noqa: E402
from skexplain_ad.datasets import make_textures  # noqa: E402
from skexplain_ad.ensemble._base import split_indices  # noqa: E402
from skexplain_ad.metrics import pixel_flipping_curve  # noqa: E402

PROTOCOL = "thesis-mvtec"
#: The protocol's six models, then the audit's single models for comparison.
MODELS = tuple(PROTOCOLS[PROTOCOL]["detectors"]) + ("KDE", "OC-SVM")
#: Which half a model is fitted on (the audit's ``fit_half``); None: all rows.
FIT_HALF = {"C1": 0, "C1xC1": 0, "C2": 1, "C2xC2": 1}

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


class Peak:
    """Time, tracemalloc peak and sampled peak RSS increase of a block (MiB)."""

    def __enter__(self):
        self._stop = threading.Event()
        self.rss0 = self.rss_peak = _rss()

        def sample():
            while not self._stop.wait(0.005):
                self.rss_peak = max(self.rss_peak, _rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        tracemalloc.start()
        self._thread.start()
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        self._stop.set()
        self._thread.join()
        self.rss_peak = max(self.rss_peak, _rss())
        self.rss = (self.rss_peak - self.rss0) / 2**20
        return False


def measure(name, ds, halves, args):
    """Fit, score, explain and flip one model; a dict of Peak objects."""
    det = make_detector(name, random_state=args.seed, protocol=PROTOCOL)
    rows = halves[FIT_HALF[name]] if name in FIT_HALF else slice(None)
    out = {}
    with Peak() as p:
        det.fit(ds.data_train[rows])
    out["fit"] = p
    with Peak() as p:
        det.outlier_score(ds.data)
    out["score"] = p
    outliers = np.flatnonzero(ds.target == -1)
    # the same images for every model: the first of each defect type in turn
    order = np.concatenate([np.flatnonzero(ds.corruption == c) for c in ds.corruption_names])
    order = np.stack(np.split(order, len(ds.corruption_names))).T.ravel()
    assert set(order) == set(outliers)
    X = ds.data[order[:args.n_explain]]
    with Peak() as p:
        R = det.explain(X)
    p.seconds, p.cpu = p.seconds / len(X), p.cpu / len(X)  # per image
    out["explain"] = p
    n_flip = min(args.n_flip, len(X))
    with Peak() as p:
        pixel_flipping_curve(det, X[:n_flip], R[:n_flip], method="remove",
                             n_steps=args.flip_steps)
    p.seconds, p.cpu = p.seconds / n_flip, p.cpu / n_flip  # per curve
    out["flip"] = p
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=240)
    parser.add_argument("--n-test-inliers", type=int, default=20)
    parser.add_argument("--n-outliers", type=int, default=10, help="per defect type")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--n-explain", type=int, default=50,
                        help="defective images explained in one call (the audit explains all "
                             "of them at once; a global Times explain has a per-call cost)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and numba threads of the per-model part (one: steadier "
                             "figures on a shared machine; the --audit part runs with the "
                             "defaults)")
    parser.add_argument("--n-flip", type=int, default=PROTOCOLS[PROTOCOL]["n_flip"])
    parser.add_argument("--flip-steps", type=int, default=PROTOCOLS[PROTOCOL]["flip_steps"])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="40 training images, 64 x 64 x 3, 4 explained: a smoke test")
    parser.add_argument("--audit", action="store_true",
                        help="also time the whole audit('textures', image_size=160, "
                             "protocol='thesis-mvtec')")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test_inliers, args.n_outliers = 40, 6, 2
        args.image_size, args.n_explain = 64, 4

    with Peak() as p_data:
        ds = make_textures("immunohistochemistry", patch_size=min(args.image_size, 128),
                           image_size=args.image_size, n_train=args.n_train,
                           n_test_inliers=args.n_test_inliers,
                           n_outliers_per_defect=args.n_outliers, random_state=args.seed)
    d = ds.data.shape[1]
    halves = split_indices(len(ds.data_train), 2, args.seed)
    train_mib = ds.data_train.nbytes / 2**20
    print(f"data: make_textures('immunohistochemistry') at {ds.image_shape} = {d} features; "
          f"{len(ds.data_train)} training images ({train_mib:.0f} MiB float64, halves "
          f"{len(halves[0])} + {len(halves[1])}), {len(ds.data)} test images "
          f"({int((ds.target == -1).sum())} defective, {len(ds.corruption_names)} types); "
          f"made in {p_data.seconds:.1f} s")
    print(f"explain: {args.n_explain} defective images; flip: {args.n_flip} of them, "
          f"{args.flip_steps} steps (exact removal, [T] eq. 1.16); seed {args.seed}")

    print(f"threads: {args.threads} (BLAS, numba) for the per-model figures")
    # warm-up: every model once on a few rows (imports, numba's cached kernels)
    tiny = argparse.Namespace(**{**vars(args), "n_explain": 2, "n_flip": 1})
    small = {k: ds[k] for k in ("data", "target", "corruption", "corruption_names")}
    keep = np.r_[np.flatnonzero(ds.target == 1)[:2],
                 [np.flatnonzero(ds.corruption == c)[0] for c in ds.corruption_names]]
    small = type(ds)(data=ds.data[keep], target=ds.target[keep],
                     corruption=ds.corruption[keep], corruption_names=ds.corruption_names,
                     data_train=ds.data_train[:8])
    for name in args.models:
        measure(name, small, split_indices(8, 2, args.seed), tiny)

    results = {}
    with _threads(args.threads):
        for name in args.models:
            t0 = time.perf_counter()
            results[name] = measure(name, ds, halves, args)
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)

    ref = results.get("C1")
    stages = ("fit", "score", "explain", "flip")

    def ratio(a, b):
        return f"{a / b:6.1f}x" if b else "      -"

    for what, unit in (("cpu", "CPU seconds of the process (all threads)"),
                       ("seconds", "wall seconds")):
        print()
        print(f"{unit}; explain and flip per image; ratios against C1:")
        print(f"{'model':8} " + " ".join(f"{k:>8} {'x C1':>7}" for k in stages))
        for name, r in results.items():
            print(f"{name:8} " + " ".join(
                f"{getattr(r[k], what):8.3f} {ratio(getattr(r[k], what), ref and getattr(ref[k], what))}"
                for k in stages))
    print()
    print(f"peak memory per stage, MiB: tracemalloc / sampled RSS above the stage's start; "
          f"the largest against the training set ({train_mib:.0f} MiB):")
    print(f"{'model':8} " + " ".join(f"{k:>11}" for k in stages) + f" {'x train':>8}")
    for name, r in results.items():
        top = max(max(r[k].traced, r[k].rss) for k in stages)
        print(f"{name:8} " + " ".join(f"{r[k].traced:5.0f}/{r[k].rss:<5.0f}" for k in stages)
              + f" {ratio(top, train_mib)}")
    print(f"process peak RSS: {_maxrss_mib():.0f} MiB")

    if args.audit:
        from skexplain_ad import audit

        size = args.image_size
        with Peak() as p:  # LRP and the random floor: occlusion and KernelSHAP at 76,800
            # features would take hours (a forward pass per feature or coalition)
            table = audit("textures", image_size=size, protocol=PROTOCOL, seed=args.seed,
                          explainers=["lrp", "random"])
        st = table.attrs["settings"]
        print()
        print(f"audit('textures', image_size={size}, protocol={PROTOCOL!r}): {p.seconds:.1f} s "
              f"wall ({timings_stages(table)}), "
              f"RSS+ {p.rss:.0f} MiB; {st['n_train']} training images, "
              f"{st['n_test_inliers']} clean test images, shape {st['image_shape']}")
        timings = table.attrs["timings"]
        per = timings.get("detectors") if isinstance(timings, dict) else None
        if per:
            for name, stages in per.items():
                print(f"  {name:8} " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()
                                                  if isinstance(v, (int, float))))
        prim = table[table["primary"]]
        print(prim[["anomaly", "detector", "roc_auc", "cosine", "clever_hans_ratio"]]
              .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return results


class _threads:
    """BLAS (threadpoolctl) and numba limited to ``n`` threads inside the block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        from threadpoolctl import threadpool_limits

        self._blas = threadpool_limits(limits=self.n)
        try:
            import numba

            self._numba = numba.get_num_threads()
            numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        except ImportError:  # pragma: no cover - numba is optional
            self._numba = None
        return self

    def __exit__(self, *exc):
        self._blas.restore_original_limits()
        if self._numba is not None:
            import numba

            numba.set_num_threads(self._numba)
        return False


def timings_stages(table):
    """The audit's wall seconds per stage, as one line."""
    stages = table.attrs["timings"].get("stages", {})
    return ", ".join(f"{k} {v:.1f} s" for k, v in stages.items() if v)


def _maxrss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


if __name__ == "__main__":
    main()
