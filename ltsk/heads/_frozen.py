"""The frozen joint logits of the heads that calibrate a fixed classifier.

LWS, DisAlign and MARC learn a few parameters per class on top of the joint
classifier's logits :math:`z = W x + b`, which do not change during the fit.
:class:`FrozenLogits` hands them out in row blocks of preallocated buffers,
and keeps all of them when that is cheap next to the features
(:func:`caches_logits`).
"""

import numpy as np
from scipy import sparse
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ltsk.heads._solver import block_logits, block_rows

# The scratch of a pass over cached logits: a column block of them that
# stays in the processor's cache (larger blocks are no faster).
CACHED_SCRATCH_MIB = 1


def caches_logits(F, n_classes):
    """Whether :class:`FrozenLogits` keeps the logits of all rows between passes.

    Recomputing them costs a pass over ``F`` and an :math:`O(n d C)` product
    per pass. They are kept when, with the scratch block, they take at most
    half the bytes of ``F`` (for a dense ``F``: fewer classes than half the
    features, as at ImageNet-LT's 1000 classes on 2048 features) and fit
    scikit-learn's ``working_memory``: the extra memory then stays below
    half the features and grows with :math:`n d`, not :math:`n C`.
    """
    n_samples = F.shape[0]
    itemsize = np.dtype(F.dtype).itemsize
    if sparse.issparse(F):
        feature_bytes = F.data.nbytes + F.indices.nbytes + F.indptr.nbytes
    else:
        feature_bytes = n_samples * F.shape[1] * itemsize
    cache_bytes = n_classes * n_samples * itemsize + CACHED_SCRATCH_MIB * 2**20
    budget = get_config()["working_memory"] * 2**20
    return cache_bytes <= min(feature_bytes / 2, budget)


class FrozenLogits:
    """The frozen joint logits of ``F``'s rows, class-major, one row block at a time.

    For the heads that learn a calibration of a fixed classifier ``(coef,
    intercept)`` (LWS, MARC, DisAlign): iterating yields ``(rows, logits,
    scratch)`` per row block, ``logits`` the block's
    ``coef @ F[rows].T + intercept[:, None]`` in ``F``'s dtype and ``scratch``
    a buffer of the same shape, in ``scratch_dtype`` (default ``F``'s), for
    the block's scores (:func:`softmax_loss_grad` overwrites it); blocks of
    ``n_block_rows`` rows (the attribute), allocated once, so every pass over
    ``F`` holds the same memory. The ``n_block_rows`` argument defaults to
    :func:`block_rows` of the two buffers plus ``extra_row_bytes`` per row
    (the caller's own scratch per row of a block). The logits are computed
    once, here, and reused by every pass when one block holds every row or,
    with the default ``n_block_rows``, when :func:`caches_logits` says so
    (the blocks are then ``CACHED_SCRATCH_MIB`` column blocks of the cache);
    otherwise each pass recomputes them from ``F`` (dense, a memmap, or
    sparse).
    """

    def __init__(
        self,
        F,
        coef,
        intercept,
        *,
        n_block_rows=None,
        scratch_dtype=None,
        extra_row_bytes=0,
    ):
        self.F, self.coef, self.intercept = F, coef, intercept
        n_samples, n_classes = F.shape[0], coef.shape[0]
        scratch_dtype = np.dtype(F.dtype if scratch_dtype is None else scratch_dtype)
        row_bytes = n_classes * scratch_dtype.itemsize + extra_row_bytes
        keep = False
        if n_block_rows is None:
            n_block_rows = block_rows(
                row_bytes + n_classes * F.dtype.itemsize, n_samples
            )
            keep = n_block_rows < n_samples and caches_logits(F, n_classes)
        n_block_rows = min(n_block_rows, n_samples)
        self.cached = keep or n_block_rows == n_samples
        if keep:
            self._logits = np.empty((n_classes, n_samples), dtype=F.dtype)
            for rows in gen_batches(n_samples, n_block_rows):
                block_logits(F, rows, coef, intercept, self._logits[:, rows])
            n_block_rows = get_chunk_n_rows(
                row_bytes, max_n_rows=n_samples, working_memory=CACHED_SCRATCH_MIB
            )
        else:
            self._logits = np.empty((n_classes, n_block_rows), dtype=F.dtype)
            if self.cached:
                block_logits(F, slice(0, n_samples), coef, intercept, self._logits)
        self.n_block_rows = n_block_rows
        self._scratch = np.empty((n_classes, n_block_rows), dtype=scratch_dtype)

    def __iter__(self):
        for rows in gen_batches(self.F.shape[0], self.n_block_rows):
            if self.cached:
                logits = self._logits[:, rows]
            else:
                logits = self._logits[:, : rows.stop - rows.start]
                block_logits(self.F, rows, self.coef, self.intercept, logits)
            yield rows, logits, self._scratch[:, : rows.stop - rows.start]
