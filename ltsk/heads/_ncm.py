"""Nearest class mean (NCM) on centred, L2-normalised features."""

import functools
from typing import ClassVar

import numpy as np
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import StrOptions

from ltsk.heads._base import BaseHead

# Rows gathered per step: small enough to stay in cache while they are
# centred, normalised and summed.
_CHUNK_ROWS = 1024
# Rows scored at a time in predict: bounds the temporaries to a slice of F.
_SCORE_ROWS = 65536
# From this many elements of F on, fit uses the compiled one-pass kernels; below
# it, the numpy path is as fast and spares the import of numba.
_KERNEL_MIN_SIZE = 1 << 22


@functools.cache
def _kernels():
    """The compiled kernels module, or None where numba is not installed."""
    try:
        from ltsk.heads import _ncm_kernels
    except ImportError:
        return None
    return _ncm_kernels


def _row_norms(F: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", F, F))


def _inverse(values: np.ndarray) -> np.ndarray:
    """1 / values, with 0 where values is 0 (a zero row stays a zero row)."""
    return np.divide(1.0, values, out=np.zeros_like(values), where=values > 0)


def _overflow_error(n_rows):
    return ValueError(
        f"F has {n_rows} row(s) whose squared distance to the training mean "
        "overflows float64; rescale the features."
    )


def _unit_scales(X):
    """Inverse row norms of ``X`` (0 for zero rows) and the rows needing float64.

    The second array lists the rows whose norm overflows the dtype of ``X``
    (their scale is 0); :func:`_unit_rows_float64` normalises those.
    """
    norms = _row_norms(X)
    return _inverse(norms), np.flatnonzero(~np.isfinite(norms))


def _unit_rows_float64(rows):
    """``rows`` scaled to unit norm in float64, and how many still overflow.

    Rows whose norm overflows float64 too are returned as zeros.
    """
    rows = rows.astype(np.float64)
    norms = _row_norms(rows)
    overflow = ~np.isfinite(norms)
    rows *= _inverse(norms)[:, None]
    rows[overflow] = 0.0
    return rows, int(np.count_nonzero(overflow))


def _check_finite(sums, F):
    """Raise scikit-learn's NaN/inf error if ``sums`` of ``F`` are not finite.

    A NaN or inf in ``F`` makes its sums non-finite, so checking these replaces
    the validation pass over ``F``; the exact check only runs to word the error.
    """
    if not np.all(np.isfinite(sums)):
        assert_all_finite(F, input_name="F", estimator_name="NCMHead")


def _column_sums(F):
    """Column sums of ``F`` in float64, block by block (numpy path)."""
    total = np.zeros(F.shape[1])
    for start in range(0, F.shape[0], 8 * _CHUNK_ROWS):
        total += F[start : start + 8 * _CHUNK_ROWS].sum(axis=0)
    return total


def _class_sums(F, y, counts, mean):
    """Per-class sums of ``(x - mean) / ||x - mean||`` (or of ``x`` if mean is None).

    The numpy path: rows are gathered class by class, chunk by chunk, into a
    small buffer and normalised there, so no full-size centred copy of ``F`` is
    made. Returns ``(sums, n_overflow)`` like the compiled kernel.
    """
    n_classes, n_features = counts.shape[0], F.shape[1]
    # Stable radix argsort on small integer keys groups the rows by class.
    key_dtype = np.int16 if n_classes <= np.iinfo(np.int16).max else np.intp
    order = np.argsort(y.astype(key_dtype), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    buffer = np.empty((min(_CHUNK_ROWS, F.shape[0]), n_features), dtype=F.dtype)
    sums = np.zeros((n_classes, n_features))
    n_overflow = 0
    for j in np.flatnonzero(counts):
        for start in range(bounds[j], bounds[j + 1], _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, bounds[j + 1])
            chunk = buffer[: stop - start]
            F.take(order[start:stop], axis=0, out=chunk, mode="clip")
            if mean is None:
                sums[j] += chunk.sum(axis=0, dtype=np.float64)
                continue
            chunk -= mean
            scales, wide = _unit_scales(chunk)
            sums[j] += scales @ chunk
            if wide.size:
                rows, overflow = _unit_rows_float64(chunk[wide])
                sums[j] += rows.sum(axis=0)
                n_overflow += overflow
    return sums, n_overflow


class NCMHead(BaseHead):
    r"""Nearest class mean classifier on centred, L2-normalised features.

    Each class is represented by the mean of its training features; a sample
    is assigned to the closest mean. Following the authors' code default
    ("cl2n"), features are first centred on the training mean and scaled to
    unit L2 norm (Kang et al., 2020).

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default="euclidean"
        Score of class :math:`j`: minus the Euclidean distance to its centroid,
        or the cosine similarity with it.
    normalize : bool, default=True
        Centre on the training mean and L2-normalise the features (train and
        test, both with the training mean). If False, raw features are used.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class (0 for a class of ``classes`` absent from y).
    centroids_ : ndarray of shape (n_classes, n_features)
        Class means of the (normalised) training features; zeros for absent
        classes.
    mean_ : ndarray of shape (n_features,)
        Training feature mean used for centring (zeros if ``normalize=False``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when F has string column names.

    See Also
    --------
    CRTHead : a re-trained linear classifier.

    Notes
    -----
    With :math:`\mu` the training mean and
    :math:`\tilde x = (x - \mu) / \lVert x - \mu\rVert` (a zero vector stays
    zero), the centroids are :math:`c_j = \frac{1}{n_j}\sum_{y_i = j}\tilde x_i`
    and the scores are

    .. math::

        s_j(x) = -\lVert \tilde x - c_j\rVert \quad\text{or}\quad
        s_j(x) = \frac{\tilde x^\top c_j}{\lVert\tilde x\rVert\,\lVert c_j\rVert}.

    ``predict_proba`` is the softmax of these scores, a monotone but
    uncalibrated map.

    From :math:`2^{22}` values of ``F`` on, ``fit`` runs compiled numba
    kernels over row blocks in parallel threads (at most ``NUMBA_NUM_THREADS``);
    the first such fit in a process spends about half a second importing numba.

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Sec. 4.
    .. [2] T. Mensink, J. Verbeek, F. Perronnin and G. Csurka, "Distance-Based
       Image Classification: Generalizing to New Classes at Near-Zero Cost",
       IEEE TPAMI 35(11), 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import NCMHead
    >>> F = np.array([[2.0, 0.0], [3.0, 0.1], [0.0, 2.0], [0.1, 3.0]])
    >>> head = NCMHead().fit(F, ["a", "a", "b", "b"])
    >>> head.predict([[5.0, 0.0], [0.0, 5.0]])
    array(['a', 'b'], dtype='<U1')
    >>> head.centroids_.shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "metric": [StrOptions({"euclidean", "cosine"})],
        "normalize": ["boolean"],
    }

    def __init__(self, metric="euclidean", normalize=True):
        self.metric = metric
        self.normalize = normalize

    _fit_checks_finite = True

    def _fit(self, F, y, counts, coef, intercept, sample_weight):
        if sample_weight is not None:
            self._fit_weighted(F, y, counts, sample_weight)
            return
        kernels = _kernels() if F.size >= _KERNEL_MIN_SIZE else None
        if kernels is not None:
            F = np.ascontiguousarray(F)
            y = y.astype(np.intp, copy=False)
            column_sums, class_sums = kernels.column_sums, kernels.class_sums
        else:
            column_sums, class_sums = _column_sums, _class_sums
        # NaN and inf in F reach the float64 sums, checked just below with a
        # clear error; inf - inf would otherwise warn first.
        with np.errstate(invalid="ignore", over="ignore"):
            if self.normalize:
                total = column_sums(F)
                _check_finite(total, F)
                self.mean_ = (total / F.shape[0]).astype(F.dtype)
                sums, n_overflow = class_sums(F, y, counts, self.mean_)
                if n_overflow:
                    raise _overflow_error(n_overflow)
            else:
                self.mean_ = np.zeros(F.shape[1], dtype=F.dtype)
                sums, _ = class_sums(F, y, counts, None)
                _check_finite(sums, F)
        centroids = np.zeros_like(sums)
        present = counts > 0
        centroids[present] = sums[present] / counts[present, None]
        self.centroids_ = centroids.astype(F.dtype)

    def _fit_weighted(self, F, y, counts, sample_weight):
        """Weighted training mean and class means, on the numpy path."""
        with np.errstate(invalid="ignore", over="ignore"):
            mean = np.zeros(F.shape[1])
            if self.normalize:
                mean = np.average(F, axis=0, weights=sample_weight)
                _check_finite(mean, F)
            X = F - mean.astype(F.dtype)
            if self.normalize:
                X *= _unit_scales(X)[0][:, None]
            sums = np.zeros((counts.shape[0], F.shape[1]))
            np.add.at(sums, y, X * sample_weight[:, None])
            _check_finite(sums, F)
        self.mean_ = mean.astype(F.dtype)
        centroids = np.zeros_like(sums)
        present = counts > 0
        centroids[present] = sums[present] / counts[present, None]
        self.centroids_ = centroids.astype(F.dtype)

    def _scores(self, F):
        # Scored in row chunks into one (n, C) output: a centred copy of the
        # whole of F and full-size distance temporaries would need several
        # times the memory of F itself.
        centroids = self.centroids_
        centroid_norms = _row_norms(centroids)
        dtype = np.result_type(F.dtype, centroids.dtype)
        centroids_t = centroids.T.astype(dtype)
        scores = np.empty((F.shape[0], centroids.shape[0]), dtype=dtype)
        for start in range(0, F.shape[0], _SCORE_ROWS):
            chunk = F[start : start + _SCORE_ROWS]
            if self.normalize:
                chunk = chunk - self.mean_
                scales, wide = _unit_scales(chunk)
                rows, n_overflow = _unit_rows_float64(chunk[wide])
                if n_overflow:
                    raise _overflow_error(n_overflow)
                chunk *= scales[:, None]
                chunk[wide] = rows
            out = scores[start : start + chunk.shape[0]]
            np.matmul(chunk.astype(dtype, copy=False), centroids_t, out=out)
            if self.metric == "cosine":
                out *= _inverse(centroid_norms)[None, :]
                out *= _inverse(_row_norms(chunk))[:, None]
            else:
                out *= -2.0
                out += _row_norms(chunk)[:, None] ** 2
                out += centroid_norms**2
                np.maximum(out, 0.0, out=out)
                np.sqrt(out, out=out)
                np.negative(out, out=out)
        return scores
