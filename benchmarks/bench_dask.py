"""Heads on a dask array against the same fit on numpy: time per solver step.

Run ``python benchmarks/bench_dask.py`` (200k x 64 float64, 10 classes, row
chunks of 25k, a 2-worker threaded ``LocalCluster``) or with ``--quick``
(50k rows). ``--rows``, ``--features``, ``--classes``, ``--chunk-rows`` and
``--workers`` set another case; ``--processes`` runs the workers as processes.

For cRT (one multinomial L-BFGS fit) and NCM (two passes), the table gives the
fit time on the numpy matrix and on the dask array (persisted on the workers
first, so no pass re-reads the source), their ratio, the solver's iterations,
the time per iteration, and the largest difference of the fitted parameters.
The dask fit makes one graph per solver step: its fixed cost per step (the
scheduler round trip, one task per chunk and a tree sum) is what the ratio
shows on a matrix this small; it is paid back when ``F`` does not fit one
machine's memory, which is the case dask is for.
"""

import argparse
import time

import numpy as np


def _timed(fit):
    start = time.perf_counter()
    head = fit()
    return head, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk-rows", type=int, default=25_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processes", action="store_true")
    args = parser.parse_args()
    n = args.rows or (50_000 if args.quick else 200_000)

    import dask.array as da
    from distributed import Client, LocalCluster

    from ltsk.heads import CRTHead, NCMHead

    rng = np.random.default_rng(0)
    prior = np.exp(-np.linspace(0, np.log(100), args.classes))
    y = rng.choice(args.classes, n, p=prior / prior.sum())
    means = rng.normal(size=(args.classes, args.features))
    F = rng.normal(size=(n, args.features)) + means[y]

    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=args.processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        F_dask = da.from_array(F, chunks=(args.chunk_rows, -1)).persist()
        print(
            f"F: {n} x {args.features} float64 ({F.nbytes / 2**20:.0f} MiB), "
            f"{args.classes} classes, {F_dask.numblocks[0]} row chunks, "
            f"{args.workers} workers"
        )
        header = (
            f"{'head':6} {'numpy s':>8} {'dask s':>8} {'ratio':>6} "
            f"{'iter':>5} {'dask ms/iter':>13} {'max |diff|':>11}"
        )
        print(header)
        for name, make, attr in [
            ("cRT", CRTHead, "coef_"),
            ("NCM", NCMHead, "centroids_"),
        ]:
            local, t_local = _timed(lambda make=make: make().fit(F, y))
            remote, t_dask = _timed(lambda make=make: make().fit(F_dask, y))
            n_iter = getattr(remote, "n_iter_", 1)
            diff = np.max(np.abs(getattr(local, attr) - getattr(remote, attr)))
            print(
                f"{name:6} {t_local:8.2f} {t_dask:8.2f} {t_dask / t_local:6.1f} "
                f"{n_iter:5d} {1e3 * t_dask / max(n_iter, 1):13.1f} {diff:11.2e}"
            )


if __name__ == "__main__":
    main()
