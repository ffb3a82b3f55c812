"""Explain throughput on a Dask LocalCluster of 1 and 2 workers vs one process.

Same fitted model, one run; prints rows/s and ratios, the scheduler
overhead per chunk (a graph of trivial blocks of the same chunking) and the
peak RSS of the workers. On the cluster the rows are generated lazily on the
workers, chunk by chunk, and reduced there (as a data set read on the
workers would be): memory per worker stays at a few chunks whatever
``--rows`` is. The single-process baseline runs on at most 40,000 of them.
Run: ``python benchmarks/bench_dask.py [--rows 1000000]``.
"""

import argparse
import resource
import time

import numpy as np


def main(rows, chunk, templates):
    import dask.array as da
    from distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    from skexplain_ad import KDEDetector

    rng = np.random.RandomState(0)
    det = KDEDetector(gamma=1e-2).fit(rng.rand(templates, 784).astype(np.float32))
    n_local = min(rows, 40_000)
    X = da.random.RandomState(0).random_sample((n_local, 784), chunks=(chunk, 784)).astype(np.float32).compute()
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
    r_local, r_local1 = n_local / t_local, n_local / t_local1
    print(f"{'1 process, BLAS threads = all':34s} {r_local:10.0f} {1.0:13.2f}")
    print(f"{'1 process, 1 BLAS thread':34s} {r_local1:10.0f} {r_local1 / r_local:13.2f}")
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0", silence_logs=40) as cluster, Client(cluster) as client:
            # rows generated lazily on the workers: nothing large travels
            dX = da.random.RandomState(0).random_sample((rows, 784), chunks=(chunk, 784))
            dX = dX.astype(np.float32)
            client.compute(det.explain(dX[:chunk])).result()  # warm: numba compile, model shipped
            t = time.perf_counter()
            client.compute(det.explain(dX).sum()).result()
            t_d = time.perf_counter() - t
            t = time.perf_counter()
            client.compute(dX.map_blocks(lambda b: b[:, :1], chunks=(dX.chunks[0], (1,))).sum()).result()
            per_chunk = (time.perf_counter() - t) / len(dX.chunks[0])
            peak = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            print(f"{f'LocalCluster, {n} worker(s)':34s} {rows / t_d:10.0f} {rows / t_d / r_local:13.2f}"
                  f"   scheduler overhead {per_chunk * 1e3:.1f} ms/chunk,"
                  f" peak worker RSS {max(peak.values()) / 2**30:.2f} GiB")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=40_000)
    p.add_argument("--chunk", type=int, default=2_000)
    p.add_argument("--templates", type=int, default=2_000)
    a = p.parse_args()
    main(a.rows, a.chunk, a.templates)
