"""Heads on dask arrays: validation, chunk-wise sums and block-wise prediction.

dask is never imported here unless the caller passes a dask array (it is then
already imported): :func:`is_dask_array` duck-types through ``sys.modules``.

A fit on a dask ``F`` keeps the features where they are. Every quantity the
solvers need from ``F`` is a sum over its rows (weighted means, variances,
class sums, the losses and their gradients), so each pass is one graph: the
numpy routine of the in-memory fit runs on every row chunk on the workers, and
the partial results are added pairwise (a tree sum). The client holds the
labels and sample weights (one number per row), the parameters and the sums,
never a chunk of ``F``.
"""

import functools
import itertools
import operator
import sys

import numpy as np
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
)

_DTYPES = (np.float64, np.float32)


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def _on_client(a):
    """A label or weight vector, computed when it is a dask array (n numbers)."""
    return a.compute() if is_dask_array(a) else a


def _check_finite_chunk(block, estimator_name):
    assert_all_finite(block, input_name="F", estimator_name=estimator_name)
    return block


def _checked_features(head, F, *, reset, ensure_finite):
    """``F`` as a float dask array of one column chunk, validated lazily.

    Shape, chunk sizes and dtype are checked from the metadata; NaN/inf are
    detected chunk by chunk when a pass computes them (the error is
    scikit-learn's, raised on the worker and re-raised on the client).
    """
    name = type(head).__name__
    if F.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {F.ndim}D dask array of shape {F.shape}."
        )
    if any(np.isnan(size) for size in F.shape):
        raise ValueError(
            "F is a dask array of unknown chunk sizes; call "
            "F.compute_chunk_sizes() (or pass lengths to to_dask_array) first."
        )
    if F.shape[0] < 1 or F.shape[1] < 1:
        raise ValueError(
            f"Found array with shape {F.shape}: {name} requires at least one "
            "sample and one feature."
        )
    if F.dtype not in _DTYPES:
        if F.dtype.kind not in "biuf":
            raise ValueError(
                f"F must hold real numbers, got a dask array of dtype {F.dtype}."
            )
        F = F.astype(np.float64)
    _check_n_features(head, F, reset=reset)
    _check_feature_names(head, F, reset=reset)
    if F.numblocks[1] > 1:
        F = F.rechunk({1: -1})
    if ensure_finite:
        F = F.map_blocks(_check_finite_chunk, name, dtype=F.dtype)
    return F


def check_fit_input(head, F, y, sample_weight, *, ensure_finite):
    """Validate a dask ``F`` for ``fit`` without computing it.

    Returns ``(F, y, sample_weight)``: ``F`` a lazily checked dask array of one
    column chunk, ``y`` and ``sample_weight`` numpy arrays (computed on the
    client when given as dask arrays).
    """
    if not head._dask_fit:
        raise TypeError(
            f"{type(head).__name__} cannot fit on a dask array block-wise (its "
            "solver needs all rows at once); pass a numpy array instead, "
            "F.compute() or a numpy.memmap of F."
        )
    F = _checked_features(head, F, reset=True, ensure_finite=ensure_finite)
    y = column_or_1d(np.asarray(_on_client(y)), warn=True)
    if y.shape[0] != F.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{F.shape[0]}, {y.shape[0]}]"
        )
    return F, y, _on_client(sample_weight)


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(map(operator.add, a, b))
    return a + b


def _tree_sum(parts):
    from dask import delayed

    add = delayed(_add, pure=True)
    while len(parts) > 1:
        pairs = [add(a, b) for a, b in zip(parts[::2], parts[1::2], strict=False)]
        parts = pairs + parts[len(pairs) * 2 :]
    return parts[0]


def _distributed_client():
    """The active ``distributed`` client, or None (not importing distributed)."""
    if sys.modules.get("distributed") is None:
        return None
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        return None


class ChunkSum:
    """``sum over row chunks of fn(F_chunk, *row_chunks, *args)``, on the cluster.

    ``fn`` is a numpy routine returning an array, a float or a tuple of them
    (summed element-wise). ``row_arrays`` (numpy, one entry per row of ``F``)
    are cut into ``F``'s row chunks and, on a ``distributed`` cluster,
    scattered to the workers once, so each call sends the cluster only
    ``args`` (the current parameters) and one small graph.
    """

    def __init__(self, fn, F, *row_arrays):
        from dask import delayed

        self.fn = fn
        self.F_chunks = list(F.to_delayed().ravel())
        bounds = np.cumsum((0, *F.chunks[0]))
        pieces = [
            [a[start:stop] for start, stop in itertools.pairwise(bounds)]
            for a in row_arrays
        ]
        client = _distributed_client()
        if client is not None:
            # Sent to the workers once; the futures stay alive with self.
            self.row_chunks = [client.scatter(p, hash=False) for p in pieces]
        else:
            self.row_chunks = [[delayed(c, traverse=False) for c in p] for p in pieces]

    def __call__(self, *args):
        import dask
        from dask import delayed

        args = [delayed(a, traverse=False) for a in args]
        fn = delayed(self.fn, pure=True)
        parts = [
            fn(F_chunk, *(rows[i] for rows in self.row_chunks), *args)
            for i, F_chunk in enumerate(self.F_chunks)
        ]
        (total,) = dask.compute(_tree_sum(parts))
        return total


def _chunk_objective(F, y, weights, x, make, args):
    return make(F, y, weights, *args)(x)


def summed_objective(make, F, y, weights, args, penalty):
    """A solver objective on a dask ``F``: chunk sums plus a penalty.

    ``make(F_chunk, y_chunk, weights_chunk, *args)`` (a module-level
    function, so that it pickles) returns the unpenalised numpy objective
    ``fun(x) -> (value, gradient)`` of some rows; each evaluation sums it over
    ``F``'s row chunks on the cluster (:class:`ChunkSum`) and adds
    ``penalty(x) -> (value, gradient)`` on the client.
    """
    chunks = ChunkSum(_chunk_objective, F, y, weights)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = chunks(x, make, args)
        extra, extra_grad = penalty(x)
        return loss + extra, grad + extra_grad

    return objective


def chunk_sum(fn, F, *row_arrays, args=()):
    """One pass of :class:`ChunkSum`: the sum over chunks of ``fn(F_chunk, ...)``."""
    return ChunkSum(fn, F, *row_arrays)(*args)


def blockwise(method):
    """Make a prediction method map a dask ``F`` chunk by chunk (lazily).

    A dask array in gives a dask array out, with ``F``'s row chunks, as
    dask-ml does; a numpy ``F`` goes to ``method`` unchanged.
    """

    @functools.wraps(method)
    def wrapper(self, F):
        if not is_dask_array(F):
            return method(self, F)
        check_is_fitted(self)
        F = _checked_features(self, F, reset=False, ensure_finite=False)
        # The output's shape and dtype, from one row of zeros.
        probe = method(self, np.zeros((1, F.shape[1]), dtype=F.dtype))
        meta = np.empty((0,) * probe.ndim, dtype=probe.dtype)
        if probe.ndim == 1:
            return F.map_blocks(
                functools.partial(method, self),
                drop_axis=1,
                chunks=(F.chunks[0],),
                dtype=probe.dtype,
                meta=meta,
            )
        return F.map_blocks(
            functools.partial(method, self),
            chunks=(F.chunks[0], (probe.shape[1],)),
            dtype=probe.dtype,
            meta=meta,
        )

    return wrapper
