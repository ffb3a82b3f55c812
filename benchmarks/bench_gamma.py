"""The gamma heuristics at scale: time and peak memory vs the GEMM floor.

``KDEDetector(gamma="knn_mass")`` ([T] eq. 3.1) and ``gamma="likelihood"``
([P] Sec. 3) need the n x n (held-out x training) squared distances. They
go in row blocks within scikit-learn's ``working_memory`` (1 GiB by
default): kept whole only if they fit it, else recomputed by every
sweep, several bisection points per sweep. Each case runs in a fresh
process and prints the heuristic's time, its ratio to one GEMM ``X @ X.T``
of the same data (timed in that process), and the process's peak RSS beside
the data's own size.

Run: ``python benchmarks/bench_gamma.py [--sizes 5000 10000 20000] [--features 784]``.
"""

import argparse
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import resource, sys, time
    import numpy as np
    from skexplain_ad.model_selection import knn_mass_gamma, likelihood_gamma
    m, d, which = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    X = np.random.RandomState(0).rand(m, d)
    t = time.perf_counter(); X @ X.T; gemm = time.perf_counter() - t
    t = time.perf_counter()
    g = knn_mass_gamma(X) if which == "knn_mass" else likelihood_gamma(X, random_state=0)
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"{took:.1f} {gemm:.2f} {peak:.2f} {X.nbytes / 2**30:.2f} {g!r}")
""")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000])
    p.add_argument("--features", type=int, default=784)
    args = p.parse_args()
    print(f"{'heuristic':<11}{'m':>7}{'time s':>9}{'/ GEMM':>8}{'peak GiB':>10}{'X GiB':>7}  gamma")
    for m in args.sizes:
        for which in ("knn_mass", "likelihood"):
            out = subprocess.run([sys.executable, "-c", CHILD, str(m), str(args.features), which],
                                 capture_output=True, text=True, check=True).stdout.split()
            took, gemm, peak, xg, g = out
            print(f"{which:<11}{m:>7}{float(took):>9.1f}{float(took) / float(gemm):>8.1f}"
                  f"{float(peak):>10.2f}{float(xg):>7.2f}  {g}")


if __name__ == "__main__":
    main()
