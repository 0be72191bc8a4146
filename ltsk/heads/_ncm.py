"""Nearest class mean (NCM) on centred, L2-normalised features."""

from typing import ClassVar

import numpy as np
from scipy import sparse
from sklearn import get_config
from sklearn.utils import assert_all_finite, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import StrOptions

from ltsk.heads._base import BaseHead
from ltsk.heads._dask import chunk_sum, is_dask_array
from ltsk.heads._device import DEVICE_CONSTRAINT
from ltsk.heads._docstrings import fill_params
from ltsk.heads._solver import dense_rows

# Scratch memory (MiB) of a row block in fit: a block this small stays in the
# CPU cache while it is centred, its norms are taken and its rows are summed.
_FIT_BLOCK_MIB = 8


def _fit_working_memory():
    """``_FIT_BLOCK_MIB``, or scikit-learn's ``working_memory`` if smaller."""
    return min(get_config()["working_memory"], _FIT_BLOCK_MIB)


def _block_rows(F, working_memory=None):
    """Rows per block such that a copy of a block takes ``working_memory`` MiB."""
    return get_chunk_n_rows(
        F.shape[1] * F.dtype.itemsize,
        max_n_rows=F.shape[0],
        working_memory=working_memory,
    )


def _indicator(y, values, n_classes):
    """Sparse (n_classes, n_rows) matrix with ``values[i]`` at ``(y[i], i)``.

    Its product with a block of rows is their per-class weighted sums.
    """
    n_rows = y.shape[0]
    return sparse.csc_array(
        (values, y, np.arange(n_rows + 1)), shape=(n_classes, n_rows)
    )


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


def _centroids(sums, counts):
    """``sums / counts`` per class, in place (zeros for a class of count 0).

    With thousands of classes a (C, d) float64 array weighs as much as a
    sizeable part of F: no temporary of that size is made.
    """
    present = counts > 0
    np.divide(sums, counts[:, None], out=sums, where=present[:, None])
    sums[~present] = 0.0
    return sums


def _class_sums(F, y, weights, n_classes):
    """Per-class weighted sums of the rows of ``F``, in float64.

    Blocks are summed in the dtype of ``F`` and accumulated in float64; a block
    whose sums overflow that dtype is summed again in float64. Sums that are
    still not finite raise scikit-learn's NaN/inf error, or an overflow error if
    ``F`` is finite: this pass replaces the validation pass over ``F``. A dask
    ``F`` is summed chunk by chunk on its cluster, each chunk checked so.
    """
    if is_dask_array(F):
        sums = chunk_sum(_class_sums, F, y, weights, args=(n_classes,))
        if not np.all(np.isfinite(sums)):
            raise ValueError(
                "The class sums of F overflow float64; rescale the features."
            )
        return sums
    sums = np.zeros((n_classes, F.shape[1]))
    for rows in gen_batches(F.shape[0], _block_rows(F, _fit_working_memory())):
        block = dense_rows(F, rows)
        indicator = _indicator(y[rows], weights[rows], n_classes)
        block_sums = indicator @ block
        if not np.all(np.isfinite(block_sums)):
            block_sums = indicator.astype(np.float64) @ block
        sums += block_sums
    if not np.all(np.isfinite(sums)):
        assert_all_finite(F, input_name="F", estimator_name="NCMHead")
        raise ValueError("The class sums of F overflow float64; rescale the features.")
    return sums


def _unit_class_sums(F, y, weights, n_classes, mean):
    """Per-class weighted sums of ``(x - mean) / ||x - mean||``, in float64.

    Each block is centred into a scratch buffer, and its rows are scaled to unit
    norm by the entries of the indicator matrix that sums them by class. Rows
    whose squared norm overflows the dtype of ``F`` are normalised in float64.
    A dask ``F`` is summed chunk by chunk on its cluster.
    """
    if is_dask_array(F):
        return chunk_sum(_unit_class_sums, F, y, weights, args=(n_classes, mean))
    n_rows = _block_rows(F, _fit_working_memory())
    buffer = np.empty((n_rows, F.shape[1]), dtype=F.dtype)
    sums = np.zeros((n_classes, F.shape[1]))
    n_overflow = 0
    for rows in gen_batches(F.shape[0], n_rows):
        centred = np.subtract(
            dense_rows(F, rows), mean, out=buffer[: rows.stop - rows.start]
        )
        scales, wide = _unit_scales(centred)
        y_block, weights_block = y[rows], weights[rows]
        sums += _indicator(y_block, scales * weights_block, n_classes) @ centred
        if wide.size:
            unit, overflow = _unit_rows_float64(centred[wide])
            weights_wide = weights_block[wide].astype(np.float64)
            sums += _indicator(y_block[wide], weights_wide, n_classes) @ unit
            n_overflow += overflow
    if n_overflow:
        raise _overflow_error(n_overflow)
    return sums


@fill_params
class NCMHead(BaseHead):
    r"""Nearest class mean classifier on centred, L2-normalised features.

    Each class is represented by the mean of its training features; a sample
    is assigned to the closest mean. Following the authors' code default
    ("cl2n"), features are first centred on the training mean and scaled to
    unit L2 norm (Kang et al., 2020).

    Parameters
    ----------
    metric : {"euclidean", "cosine", "dot"}, default="euclidean"
        Score of class :math:`j`: minus the squared Euclidean distance to its
        centroid (the reference code's "l2"), the cosine similarity with it, or
        the dot product with it divided by the number of features (the
        reference code's "cos"). See Notes.
    normalize : bool, default=True
        Centre on the training mean and L2-normalise the features (train and
        test, both with the training mean). If False, raw features are used.
    %(device)s

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
    and the scores, for ``metric`` "euclidean", "cosine" and "dot", are

    .. math::

        s_j(x) = -\lVert \tilde x - c_j\rVert^2, \qquad
        s_j(x) = \frac{\tilde x^\top c_j}{\lVert\tilde x\rVert\,\lVert c_j\rVert},
        \qquad s_j(x) = \frac{\tilde x^\top c_j}{d},

    with :math:`d` the number of features (0 where a norm is 0).
    ``predict_proba`` is the softmax of these scores, a monotone but
    uncalibrated map.

    With ``sample_weight`` :math:`w`, :math:`\mu` and :math:`c_j` are the
    weighted means, :math:`\mu = \sum_i w_i x_i / \sum_i w_i` and
    :math:`c_j = \sum_{y_i = j} w_i \tilde x_i / \sum_{y_i = j} w_i`: an
    integer weight is the row repeated, a zero weight the row left out.

    Against the authors' code (``KNNClassifier`` in
    facebookresearch/classifier-balancing, ``feat_type="cl2n"``):
    "euclidean" and "dot" compute its ``dist_type`` "l2" and "cos", scores and
    so ``predict_proba`` included (squared distances are clipped at 0 against
    rounding); ``normalize=False`` is its ``feat_type="un"``; its "l2n"
    (normalised but not centred) is not offered. "cosine" is not in that code:
    its "cos" leaves the centroids unnormalised, so with unit :math:`\tilde x`
    it ranks classes by :math:`\lVert c_j\rVert \cos(\tilde x, c_j)`, which
    favours the classes whose training features agree more (a longer mean of
    unit vectors); "cosine" divides by :math:`\lVert c_j\rVert` and can
    predict another class. A row equal to the training mean is a zero vector
    here; the reference divides it by its zero norm (NaN scores).

    ``fit`` makes two passes over ``F`` in row blocks of a few MiB (at most
    scikit-learn's ``working_memory``): the first sums the rows by class (and
    detects NaN/inf, replacing the validation pass), the second centres each
    block in a scratch buffer and adds its normalised rows to their class sums.
    Sums are taken in the dtype of ``F`` within a block and in float64 across
    blocks.

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
        **DEVICE_CONSTRAINT,
        "metric": [StrOptions({"euclidean", "cosine", "dot"})],
        "normalize": ["boolean"],
    }

    def __init__(self, metric="euclidean", normalize=True, *, device=None):
        self.metric = metric
        self.normalize = normalize
        self.device = device

    _fit_checks_finite = True
    _dask_fit = True

    def _fit(self, F, y, counts, coef, intercept, sample_weight=None):
        # counts holds the per-class sums of sample_weight when it is given.
        n_classes = counts.shape[0]
        if self._torch() is not None:  # device path
            self._fit_device(F, y, counts, sample_weight)
            return
        if sample_weight is None:
            weights = np.ones(F.shape[0], dtype=F.dtype)
        else:
            weights = sample_weight.astype(F.dtype)
        sums = _class_sums(F, y, weights, n_classes)
        if self.normalize:
            self.mean_ = (sums.sum(axis=0) / counts.sum()).astype(F.dtype)
            # Freed before the second pass allocates its own (C, d) sums.
            del sums
            sums = _unit_class_sums(F, y, weights, n_classes, self.mean_)
        else:
            self.mean_ = np.zeros(F.shape[1], dtype=F.dtype)
        self.centroids_ = _centroids(sums, counts).astype(F.dtype)

    def _fit_device(self, F, y, counts, sample_weight):
        torch_ = self._torch()
        device = torch_.resolve_device(self.device)
        dtype = torch_.numpy_dtype(F)
        weights = np.ones(F.shape[0]) if sample_weight is None else sample_weight
        sums = torch_.ncm_sums(F, y, weights, counts.shape[0], None, device)
        if self.normalize:
            self.mean_ = (sums.sum(axis=0) / counts.sum()).astype(dtype)
            sums = torch_.ncm_sums(F, y, weights, counts.shape[0], self.mean_, device)
        else:
            self.mean_ = np.zeros(F.shape[1], dtype=dtype)
        self.centroids_ = _centroids(sums, counts).astype(dtype)

    def _scores(self, F):
        # Scored in row blocks into one (n, C) output: a centred copy of the
        # whole of F would double the memory of F itself.
        centroids = self.centroids_
        dtype = np.result_type(F.dtype, centroids.dtype)
        centroids_t = centroids.T.astype(dtype, copy=False)
        centroid_norms = _row_norms(centroids)
        scores = np.empty((F.shape[0], centroids.shape[0]), dtype=dtype)
        for rows in gen_batches(F.shape[0], _block_rows(F)):
            block = dense_rows(F, rows)
            if self.normalize:
                block = block - self.mean_
                scales, wide = _unit_scales(block)
                unit, n_overflow = _unit_rows_float64(block[wide])
                if n_overflow:
                    raise _overflow_error(n_overflow)
                block *= scales[:, None]
                block[wide] = unit
            out = scores[rows]
            np.matmul(block.astype(dtype, copy=False), centroids_t, out=out)
            if self.metric == "euclidean":
                # -||x - c||^2 = 2 x.c - ||x||^2 - ||c||^2
                out *= 2.0
                out -= _row_norms(block)[:, None] ** 2
                out -= centroid_norms**2
                np.minimum(out, 0.0, out=out)
            elif self.metric == "cosine":
                out *= _inverse(centroid_norms)[None, :]
                out *= _inverse(_row_norms(block))[:, None]
            else:
                out /= F.shape[1]
        return scores
