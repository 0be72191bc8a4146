"""Peak memory of the stage-2 heads on a large memory-mapped feature matrix.

Run ``python benchmarks/bench_memory.py`` (1M x 256 float32, about 1 GB) or
with ``--quick`` (100k rows). The matrix lives in a temporary ``.npy`` file
opened with :func:`numpy.lib.format.open_memmap`; labels follow an exponential
long-tailed profile over 100 classes (imbalance ratio 100).

``--rows``, ``--features`` and ``--classes`` set another shape; the
many-class one of issue #14 is ``--rows 120000 --features 128 --classes 8142``,
where a (classes x rows) score matrix would take about 4 GB. With many classes
the solver's parameter vectors are no longer small next to the matrix, so the
table also gives ``params``: the bytes of one float64 parameter vector of the
head's solver (C x (d + 1) for cRT, C for LWS, 2 C for MARC,
2 C + d + 1 for DisAlign) times the 2 x 10 + 4 vectors
that scipy's L-BFGS-B keeps, and the target becomes 1.5x the matrix plus that.
``--working-memory`` sets scikit-learn's ``working_memory`` (MiB) in the
children. To measure another version of ltsk (say, before a change), run the
script with ``PYTHONPATH`` pointing at that checkout: the children import
whatever ``ltsk`` the parent sees.

For each head, ``fit`` + ``predict`` on the whole matrix runs in a fresh
subprocess, through ``DecoupledClassifier(None, head)`` for cRT and NCM; the
heads that take the joint classifier (tau-norm, LWS, logit adjustment) are
fitted directly with ``head.fit(F, y, coef=..., intercept=...)``, because
``DecoupledClassifier`` with no extractor has no joint classifier to pass.

How memory is measured, and why two numbers:

- ``rss``: the peak resident set size (``VmHWM`` in ``/proc/self/status``) at
  the end minus the same value after imports, loading ``y`` and the joint
  weights, and mapping (not reading) the matrix. This is what the operating
  system charges the process, so it is the number compared with the target
  (<= 1.5x the matrix). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux
  that survives ``exec`` and starts from the parent's peak, which here has
  just written the whole matrix through a memmap.
  It includes the mapped file's pages as they are read: a head that streams
  through the memmap without copying it already costs about 1.0x, and every
  extra copy or buffer comes on top.
- ``heap``: the peak of :mod:`tracemalloc` over the same fit + predict, in a
  second fresh subprocess. numpy reports its array allocations to
  tracemalloc, and the heads run on numpy only, so this isolates the arrays
  the code allocates (copies, logits buffers) from the mapped pages; it misses
  BLAS scratch space, which is small next to these.

cRT, LWS, DisAlign and MARC run only a few solver iterations
(``--max-iter``): their buffers are all allocated in the first iteration, so
more iterations change the time, not the peak.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HEADS = ("crt", "ncm", "tau_norm", "lws", "logit_adjust", "disalign", "marc")
TARGET = 1.5
N_FEATURES = 256
N_CLASSES = 100
# scipy's L-BFGS-B keeps 2 m (m = 10) correction vectors plus a few more.
LBFGS_VECTORS = 2 * 10 + 4
CHUNK_ROWS = 50_000


def write_data(
    directory,
    n_samples,
    *,
    n_features=N_FEATURES,
    n_classes=N_CLASSES,
    imbalance=100,
    seed=0,
):
    """Write the memmapped features, the labels and a joint classifier."""
    rng = np.random.default_rng(seed)
    profile = imbalance ** (-np.arange(n_classes) / (n_classes - 1))
    y = rng.choice(n_classes, size=n_samples, p=profile / profile.sum())
    means = rng.normal(scale=0.25, size=(n_classes, n_features)).astype(np.float32)
    path = os.path.join(directory, "features.npy")
    F = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_samples, n_features)
    )
    for start in range(0, n_samples, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_samples)
        block = rng.standard_normal(size=(stop - start, n_features), dtype=np.float32)
        block += means[y[start:stop]]
        F[start:stop] = block
    F.flush()
    del F
    np.save(os.path.join(directory, "y.npy"), y)
    # A joint classifier in feature space: the class means as weights (what
    # an instance-balanced linear classifier on these Gaussians approaches).
    np.save(os.path.join(directory, "coef.npy"), means)
    np.save(os.path.join(directory, "intercept.npy"), np.log(profile / profile.sum()))
    return path


def _make_head(name, max_iter):
    from ltsk.heads import (
        CRTHead,
        DisAlignHead,
        LogitAdjustedHead,
        LWSHead,
        MARCHead,
        NCMHead,
        TauNormHead,
    )

    return {
        "crt": lambda: CRTHead(q=0.0, max_iter=max_iter),
        "ncm": NCMHead,
        "tau_norm": lambda: TauNormHead(tau=1.0),
        "lws": lambda: LWSHead(q=0.0, max_iter=max_iter),
        "logit_adjust": lambda: LogitAdjustedHead(tau=1.0),
        "disalign": lambda: DisAlignHead(max_iter=max_iter),
        "marc": lambda: MARCHead(max_iter=max_iter),
    }[name]()


def _memory_status():
    """Peak and current (anonymous, file-backed) resident memory in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def child(directory, name, max_iter, mode, working_memory):
    """Fit + predict one head; print a JSON line with the peak memory."""
    import tracemalloc
    import warnings

    import sklearn

    from ltsk import DecoupledClassifier

    sklearn.set_config(working_memory=working_memory)

    F = np.load(os.path.join(directory, "features.npy"), mmap_mode="r")
    y = np.load(os.path.join(directory, "y.npy"))
    coef = np.load(os.path.join(directory, "coef.npy"))
    intercept = np.load(os.path.join(directory, "intercept.npy"))
    head = _make_head(name, max_iter)
    before = _memory_status()
    if mode == "heap":
        tracemalloc.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # cRT / LWS stop after --max-iter iterations on purpose.
        warnings.simplefilter("ignore")
        if name in ("crt", "ncm"):
            model = DecoupledClassifier(None, head).fit(F, y)
        else:
            model = head.fit(
                F,
                y,
                coef=coef,
                intercept=intercept,
                classes=np.arange(coef.shape[0]),
            )
        y_pred = model.predict(F)
    seconds = time.perf_counter() - start
    result = {"head": name, "seconds": seconds, "accuracy": float(np.mean(y_pred == y))}
    if mode == "heap":
        result["heap"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        after = _memory_status()
        result.update({key: after[key] - before[key] for key in after})
    print(json.dumps(result))


def measure(directory, name, max_iter, mode, working_memory):
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            directory,
            name,
            str(max_iter),
            mode,
            str(working_memory),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, not 1M")
    parser.add_argument("--max-iter", type=int, default=3)
    parser.add_argument("--heads", nargs="+", choices=HEADS, default=list(HEADS))
    parser.add_argument("--rows", type=int, help="rows (overrides --quick)")
    parser.add_argument("--features", type=int, default=N_FEATURES)
    parser.add_argument("--classes", type=int, default=N_CLASSES)
    parser.add_argument("--working-memory", type=float, default=1024)
    parser.add_argument("--skip-heap", action="store_true", help="rss only")
    args = parser.parse_args(argv)
    n_samples = args.rows or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ltsk_bench_memory_") as directory:
        write_data(
            directory, n_samples, n_features=args.features, n_classes=args.classes
        )
        matrix = n_samples * args.features * 4
        print(
            f"{n_samples} x {args.features} float32 memmap "
            f"({matrix / 2**20:.0f} MiB), {args.classes} classes; fit + predict, "
            f"one fresh process per measurement; working_memory="
            f"{args.working_memory:g} MiB"
        )
        print(
            f"{'head':<13}{'rss MiB':>9}{'rss/matrix':>11}{'file/matrix':>12}"
            f"{'anon/matrix':>12}{'heap/matrix':>12}{'params MiB':>11}"
            f"{'time s':>8}  target <= {TARGET}x matrix + params"
        )
        for name in args.heads:
            rss = measure(directory, name, args.max_iter, "rss", args.working_memory)
            heap = (
                {"heap": float("nan")}
                if args.skip_heap
                else measure(
                    directory, name, args.max_iter, "heap", args.working_memory
                )
            )
            n_params = {
                "crt": args.classes * (args.features + 1),
                "lws": args.classes,
                "marc": 2 * args.classes,
                "disalign": 2 * args.classes + args.features + 1,
            }.get(name, 0)
            params = n_params * 8 * LBFGS_VECTORS
            ratio = rss["VmHWM"] / matrix
            verdict = "ok" if rss["VmHWM"] <= TARGET * matrix + params else "EXCEEDS"
            print(
                f"{name:<13}{rss['VmHWM'] / 2**20:>9.0f}{ratio:>11.2f}"
                f"{rss['RssFile'] / matrix:>12.2f}"
                f"{rss['RssAnon'] / matrix:>12.2f}{heap['heap'] / matrix:>12.2f}"
                f"{params / 2**20:>11.0f}{rss['seconds']:>8.1f}  {verdict}"
            )
        print(
            "rss: peak RSS growth over fit + predict (mapped pages included); "
            "file / anon: growth of resident file-backed / anonymous memory, "
            "read at the end; "
            "heap: tracemalloc peak of the arrays allocated."
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(
            sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
        )
    else:
        main()
