"""Compiled one-pass kernels for the NCM fit on large feature matrices.

``NCMHead.fit`` needs the training mean and then, per class, the sum of the
centred, L2-normalised rows. With numpy the second step groups the rows by
class (a gather of the whole of F) and runs several passes over each chunk; the
numba kernels below read each row once, centre it, take its norm and add it to
its class's sum while it is still in L1 cache. Rows are split into contiguous
blocks, one per thread; the kernels release the GIL.

This module is imported lazily, by the first fit large enough to use it:
importing numba and loading the cached kernels costs about half a second
(compiling them, the very first time, a few seconds).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

# Below this many rows per thread, a thread's start-up and its own (C, d) sum
# array cost more than the rows it would take over.
_ROWS_PER_THREAD = 32768

# "reassoc" lets the reductions vectorise. nnan/ninf are left out on purpose:
# non-finite values must propagate to the sums, where the caller detects them.
_OPTIONS = {
    "nogil": True,
    "error_model": "numpy",
    "fastmath": {"reassoc", "contract", "nsz", "arcp"},
}


def _jit(func):
    """Compile ``func`` lazily, caching the machine code on disk where possible."""
    try:
        return numba.njit(cache=True, **_OPTIONS)(func)
    except RuntimeError:
        # No writable cache directory (read-only install and home, no
        # NUMBA_CACHE_DIR): compile once per process instead.
        return numba.njit(cache=False, **_OPTIONS)(func)


@_jit
def _column_sums(F, start, stop, out):
    for i in range(start, stop):
        for k in range(F.shape[1]):
            out[k] += F[i, k]


@_jit
def _class_sums(F, y, mean, normalize, start, stop, sums):
    centred = np.empty_like(F[0])
    n_overflow = 0
    for i in range(start, stop):
        target = sums[y[i]]
        if not normalize:
            for k in range(F.shape[1]):
                target[k] += F[i, k]
            continue
        squared_norm = 0.0
        for k in range(F.shape[1]):
            value = F[i, k] - mean[k]
            centred[k] = value
            squared_norm += np.float64(value) * np.float64(value)
        if squared_norm == np.inf:
            n_overflow += 1
        elif squared_norm > 0.0:
            scale = 1.0 / np.sqrt(squared_norm)
            for k in range(F.shape[1]):
                target[k] += centred[k] * scale
    return n_overflow


def n_threads(n_rows):
    """Threads for ``n_rows`` rows: at most the usable CPUs and NUMBA_NUM_THREADS.

    joblib's process workers set NUMBA_NUM_THREADS to their share of the CPUs,
    so a fit inside a parallel grid search does not oversubscribe them.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS and Windows
        cpus = os.cpu_count() or 1
    limit = min(cpus, numba.config.NUMBA_NUM_THREADS)
    return max(1, min(limit, n_rows // _ROWS_PER_THREAD))


def _in_blocks(kernel, n_rows, out_shape, *args):
    """Run ``kernel(*args, start, stop, out)`` over row blocks, one per thread.

    Returns the sum of the per-block ``out`` arrays (float64) and of the
    kernel's return values.
    """
    threads = n_threads(n_rows)
    bounds = np.linspace(0, n_rows, threads + 1).astype(np.intp)
    outs = [np.zeros(out_shape) for _ in range(threads)]
    tasks = [
        (*args, int(start), int(stop), out)
        for start, stop, out in zip(bounds[:-1], bounds[1:], outs, strict=True)
    ]
    if threads == 1:
        returned = [kernel(*tasks[0])]
    else:
        with ThreadPoolExecutor(threads) as pool:
            returned = list(pool.map(lambda task: kernel(*task), tasks))
    total = outs[0]
    for out in outs[1:]:
        total += out
    return total, sum(value or 0 for value in returned)


def column_sums(F):
    """Column sums of ``F`` accumulated in float64."""
    return _in_blocks(_column_sums, F.shape[0], F.shape[1], F)[0]


def class_sums(F, y, counts, mean):
    """Per-class sums of ``(x - mean) / ||x - mean||``, or of ``x`` if mean is None.

    ``y`` holds class indices (intp) and ``counts`` the class sizes. Returns
    ``(sums, n_overflow)``: the float64 (n_classes, n_features) sums and the
    number of rows whose centred squared norm overflowed (not added).
    """
    normalize = mean is not None
    if mean is None:
        mean = np.zeros(F.shape[1], dtype=F.dtype)
    shape = (counts.shape[0], F.shape[1])
    return _in_blocks(_class_sums, F.shape[0], shape, F, y, mean, normalize)
