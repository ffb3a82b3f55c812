"""Explain throughput on a Dask LocalCluster of 1 and 2 workers vs one process.

Same data, same fitted model, one run; prints rows/s and ratios, and the
scheduler overhead per chunk (a graph of trivial blocks of the same
chunking). Run: ``python benchmarks/bench_dask.py [--rows 40000]``.
"""

import argparse
import time

import numpy as np


def main(rows, chunk, templates):
    import dask.array as da
    from distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    from skexplain_ad import KDEDetector

    rng = np.random.RandomState(0)
    det = KDEDetector(gamma=1e-2).fit(rng.rand(templates, 784).astype(np.float32))
    X = da.random.RandomState(0).random_sample((rows, 784), chunks=(chunk, 784)).astype(np.float32).compute()
    det.explain(X[:10])
    t = time.perf_counter()
    det.explain(X)
    t_local = time.perf_counter() - t
    with threadpool_limits(limits=1, user_api="blas"):
        t = time.perf_counter()
        det.explain(X)
        t_local1 = time.perf_counter() - t
    print(f"{rows} x 784 float32 rows, {templates} templates, chunks of {chunk} rows")
    print(f"{'setting':34s} {'rows/s':>10s} {'vs 1 process':>13s}")
    print(f"{'1 process, BLAS threads = all':34s} {rows / t_local:10.0f} {1.0:13.2f}")
    print(f"{'1 process, 1 BLAS thread':34s} {rows / t_local1:10.0f} {t_local / t_local1:13.2f}")
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0", silence_logs=40) as cluster, Client(cluster) as client:
            # rows generated on the workers (same values), as a real data set
            # would be read there: nothing large travels in the graph
            dX = da.random.RandomState(0).random_sample((rows, 784), chunks=(chunk, 784))
            dX = client.persist(dX.astype(np.float32))
            client.compute(det.explain(dX[:chunk])).result()  # warm: numba compile, model shipped
            t = time.perf_counter()
            client.compute(det.explain(dX).sum()).result()
            t_d = time.perf_counter() - t
            t = time.perf_counter()
            client.compute(dX.map_blocks(lambda b: b[:, :1], chunks=(dX.chunks[0], (1,))).sum()).result()
            per_chunk = (time.perf_counter() - t) / len(dX.chunks[0])
            print(f"{f'LocalCluster, {n} worker(s)':34s} {rows / t_d:10.0f} {t_local / t_d:13.2f}"
                  f"   scheduler overhead {per_chunk * 1e3:.1f} ms/chunk")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=40_000)
    p.add_argument("--chunk", type=int, default=2_000)
    p.add_argument("--templates", type=int, default=2_000)
    a = p.parse_args()
    main(a.rows, a.chunk, a.templates)
