"""Full-batch L-BFGS solver shared by the heads (numpy/scipy only).

One softmax loss (cross-entropy or focal) with its analytic gradient, one
L-BFGS driver, and the multinomial linear classifier built from them. cRT uses
the linear classifier with class-balanced weights; tau-norm, LWS and logit
adjustment use it with ``q=1, gamma=0`` when no joint classifier is given; LWS
reuses the loss and the driver for its per-class scales.
"""

import contextlib
import functools
import os
import warnings
from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn import get_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from threadpoolctl import ThreadpoolController

from ltsk.heads._dask import ChunkSum, chunk_sum, is_dask_array

# Regularisation, iteration cap and tolerance of the instance-balanced joint
# classifier that tau-norm, LWS and logit adjustment fit when none is given.
JOINT_ALPHA = 1e-4
JOINT_MAX_ITER = 500
JOINT_TOL = 1e-5
# Cap (MiB) on the scratch memory of one row block of the solvers' objectives
# and of the heads' scoring: with thousands of classes a row's scores outweigh
# its features, and blocks this size already make large matrix products.
BLOCK_MIB = 16


def softmax_loss_grad(
    logits: np.ndarray, y: np.ndarray, weights: np.ndarray, gamma: float = 0.0
) -> tuple[float, np.ndarray]:
    r"""Weighted softmax cross-entropy or focal loss and its gradient in the logits.

    With :math:`p = \mathrm{softmax}(z)` and :math:`p_t = p_{y}`, the focal loss
    is :math:`\ell = -(1 - p_t)^\gamma \log p_t` (``gamma=0`` is cross-entropy).
    Its gradient is the cross-entropy gradient scaled per sample:

    .. math::

        \frac{\partial \ell}{\partial z_j} = g\,(p_j - \delta_{jy}),\qquad
        g = (1 - p_t)^\gamma
            \left(1 - \gamma\,\frac{p_t \log p_t}{1 - p_t}\right),

    from :math:`\partial p_t / \partial z_j = p_t(\delta_{jy} - p_j)`.

    ``logits`` is overwritten (it becomes the gradient), so callers pass a
    scratch array: this keeps one buffer per evaluation. It is class-major,
    shape (n_classes, n_samples): numpy reduces over the classes 20-30x faster
    along axis 0 of that layout than along the short last axis of (n, C).

    Parameters
    ----------
    logits : ndarray of shape (n_classes, n_samples)
        Scratch array of logits (class-major), overwritten.
    y : ndarray of shape (n_samples,)
        Encoded targets in ``0..n_classes-1``.
    weights : ndarray of shape (n_samples,)
        Non-negative sample weights summing to one (the loss is their weighted
        sum, i.e. a weighted mean).
    gamma : float, default=0.0
        Focusing parameter.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_classes, n_samples)
        Same array as ``logits``, now holding :math:`w_i\,\partial\ell_i/\partial z`.
    """
    columns = np.arange(y.shape[0])
    logits -= logits.max(axis=0)
    target = logits[y, columns].copy()
    np.exp(logits, out=logits)
    sum_exp = logits.sum(axis=0)
    log_pt = target - np.log(sum_exp)
    logits /= sum_exp
    logits[y, columns] -= 1.0
    if gamma == 0.0:
        losses = -log_pt
        scale = weights
    else:
        p_t = np.exp(log_pt)
        one_minus = -np.expm1(log_pt)
        # log(p)/(1-p) -> -1 as p -> 1; avoids 0/0 when p_t rounds to one.
        ratio = np.divide(
            log_pt,
            one_minus,
            out=np.full_like(log_pt, -1.0),
            where=one_minus > 0,
        )
        focal = one_minus**gamma
        losses = -focal * log_pt
        scale = weights * focal * (1.0 - gamma * p_t * ratio)
    logits *= scale.astype(logits.dtype, copy=False)
    loss = float(np.dot(weights, losses.astype(np.float64, copy=False)))
    return loss, logits


@functools.cache
def _scipy_own_blas() -> ThreadpoolController | None:
    """Controller of the BLAS bundled with scipy, when it is not numpy's."""
    controller = ThreadpoolController()
    marker = f"{os.sep}scipy.libs{os.sep}"
    paths = [
        info["filepath"]
        for info in controller.info()
        if info["user_api"] == "blas" and marker in info["filepath"]
    ]
    return controller.select(filepath=paths) if paths else None


def minimize_lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    dtype: np.dtype,
    owner: str,
    n_classes: int = 1,
) -> tuple[np.ndarray, int]:
    r"""Minimise a non-negative ``fun`` (returning value and gradient) with L-BFGS-B.

    The objective is divided by its value at ``x0``, so ``tol`` (the bound on
    the largest gradient component) is relative to the starting loss and
    does not depend on the loss's scale (a focal loss with a large ``gamma``
    is tiny everywhere). A start where the objective is 0 is its minimum and is
    returned as is.

    The bound on the gradient is ``tol / n_classes``: in a loss averaged over
    classes (class-balanced weights), the parameters of one class carry a
    share of about :math:`1/C` of the loss, and so does their gradient. A bound
    not divided by :math:`C` would mean a looser optimum as classes grow: with
    8142 classes the zero start of cRT already met ``tol=1e-4``.

    Returns the solution and the number of iterations. Warns with
    :class:`~sklearn.exceptions.ConvergenceWarning` whenever scipy reports
    anything but convergence (iteration cap, failed line search), except a
    line search that fails where the largest gradient component is already
    below :math:`\sqrt{\epsilon}` of ``dtype``: an objective computed in
    that precision cannot locate its minimum any closer. Raises
    ``RuntimeError`` when L-BFGS returns its start although the gradient there
    is not below ``tol`` (so the start is not the optimum), and
    ``FloatingPointError`` when the objective is not finite.
    """
    f0, g0 = fun(x0)
    if not (np.isfinite(f0) and np.all(np.isfinite(g0))):
        raise FloatingPointError(
            f"{owner}: the objective is not finite at the start of L-BFGS."
        )
    if f0 == 0.0:
        return x0, 0
    gtol = tol / n_classes
    start = (x0.copy(), f0, g0)

    def scaled(x: np.ndarray) -> tuple[float, np.ndarray]:
        # scipy evaluates x0 first: reuse the evaluation made above.
        if start is not None and np.array_equal(x, start[0]):
            value, grad = start[1], start[2]
        else:
            value, grad = fun(x)
        return value / f0, grad / f0

    # Relative-decrease tolerance at the precision the objective is computed
    # in: float32 losses cannot resolve smaller decreases.
    ftol = 64 * np.finfo(dtype).eps
    # Wheels bundle one OpenBLAS in numpy and another in scipy. L-BFGS-B's
    # small BLAS calls gain nothing from threads, and two spinning thread pools
    # on few cores slow both the solver and the objective's matmuls manyfold.
    own_blas = _scipy_own_blas()
    limit = own_blas.limit(limits=1) if own_blas else contextlib.nullcontext()
    with limit:
        result = minimize(
            scaled,
            x0,
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": max_iter, "gtol": gtol, "ftol": ftol},
        )
    if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
        raise FloatingPointError(
            f"{owner}: the objective became non-finite during L-BFGS "
            f"({result.message})."
        )
    gradient_at_start = float(np.max(np.abs(g0))) / f0
    if np.array_equal(result.x, x0) and gradient_at_start > gtol:
        raise RuntimeError(
            f"{owner}: L-BFGS returned its starting point although the "
            f"gradient there is {gradient_at_start:.3g} > tol / n_classes = "
            f"{tol:g} / {n_classes} "
            f"({result.message}); the start is not the optimum."
        )
    if result.status == 1:
        warnings.warn(
            f"{owner}: L-BFGS did not converge within max_iter={max_iter} "
            "iterations; increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    elif not result.success and np.max(np.abs(result.jac)) > np.sqrt(
        np.finfo(dtype).eps
    ):
        warnings.warn(
            f"{owner}: L-BFGS stopped abnormally after {result.nit} iterations "
            f"({result.message}); the solution may not be optimal.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result.x, int(result.nit)


def encode_present(y, counts):
    """Labels re-encoded onto the classes of positive count.

    An absent class would drive its unpenalised bias to -inf, so solvers leave
    it out. Rows of an absent class (all of weight zero) are sent to class 0,
    where their zero weight makes them add nothing.
    """
    present = np.flatnonzero(counts > 0)
    remap = np.zeros(counts.shape[0], dtype=np.intp)
    remap[present] = np.arange(present.size)
    return remap[y]


def balanced_weights(y, counts, q, sample_weight=None):
    r"""Per-sample weights :math:`s_i \propto w_i\,n_{y_i}^{q-1}` summing to one.

    ``counts`` are the per-class sums of the sample weights :math:`w_i` (the
    class sizes when there are none), so class :math:`j` gets total weight
    :math:`\propto n_j^q`: power-``q`` class sampling in expectation, and an
    integer weight is the same as repeating the row.
    """
    per_class = np.zeros(counts.shape[0])
    present = counts > 0
    per_class[present] = np.asarray(counts[present], dtype=np.float64) ** (q - 1.0)
    weights = per_class[y]
    if sample_weight is not None:
        weights *= sample_weight
    return weights / weights.sum()


def block_rows(row_bytes, n_samples):
    """Rows per block whose scratch arrays of ``row_bytes`` per row fit the budget.

    The budget is scikit-learn's ``working_memory`` setting, capped at
    ``BLOCK_MIB``: the per-row scratch holds one score per class, so a block
    sized by the 1 GiB default alone would, with thousands of classes, weigh
    many times the feature matrix. Larger blocks gain no speed once a block's
    product with the weights is a large matrix product.
    """
    working_memory = min(get_config()["working_memory"], BLOCK_MIB)
    return get_chunk_n_rows(
        row_bytes, max_n_rows=n_samples, working_memory=working_memory
    )


def dense_rows(F, rows):
    """Rows ``rows`` of ``F`` as a dense array (a sparse block is densified)."""
    block = F[rows]
    return block.toarray() if sparse.issparse(block) else block


def weighted_mean(F, weights):
    """``weights @ F`` in float64, for a dense or sparse ``F``.

    In row blocks: a float32 ``F`` is cast to float64 one block at a time,
    never as a whole (a memmap is read, not copied). A dask ``F`` is summed
    chunk by chunk on its cluster.
    """
    if is_dask_array(F):
        return chunk_sum(weighted_mean, F, weights)
    mean = np.zeros(F.shape[1])
    row_bytes = 2 * F.shape[1] * np.dtype(np.float64).itemsize
    for rows in gen_batches(F.shape[0], block_rows(row_bytes, F.shape[0])):
        mean += np.asarray(F[rows].T @ weights[rows]).ravel()
    return mean


def _weighted_square_deviation(F, weights, mu):
    """``weights @ (F - mu) ** 2`` in float64, in row blocks."""
    var = np.zeros(F.shape[1])
    row_bytes = 2 * F.shape[1] * np.dtype(np.float64).itemsize
    for rows in gen_batches(F.shape[0], block_rows(row_bytes, F.shape[0])):
        centred = dense_rows(F, rows) - mu
        var += weights[rows] @ (centred * centred)
    return var


def _column_variance(F, weights, mu):
    """Weighted variance of each column about ``mu``; dask ``F`` on its cluster."""
    if is_dask_array(F):
        return chunk_sum(_weighted_square_deviation, F, weights, args=(mu,))
    return _weighted_square_deviation(F, weights, mu)


def _normalised_weights(n_samples, sample_weight):
    if sample_weight is None:
        return np.full(n_samples, 1.0 / n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    return weights / weights.sum()


def mean_column_variance(F, sample_weight=None):
    """Mean over the columns of their variance, in float64.

    Rows count by ``sample_weight`` (equally when None), not by class: the
    scale of the features that ``alpha="scale"`` measures its penalty
    against. Two passes over ``F`` in row blocks (dense, memmap, CSR or dask).
    """
    weights = _normalised_weights(F.shape[0], sample_weight)
    return float(np.mean(_column_variance(F, weights, weighted_mean(F, weights))))


def _column_scales(F, weights, mu, alpha):
    r"""Scales :math:`\sqrt{\mathrm{var}_k + \alpha}` of the columns of ``F``.

    The weighted variance about ``mu``, plus the L2 strength: the curvature
    of the objective along column :math:`k`'s weights is at most of this order
    squared, so dividing by it makes the solver's problem well conditioned
    whatever the units of ``F``. Computed in row blocks (no copy of ``F``; a
    sparse ``F`` is densified one block at a time; a dask ``F`` is summed
    chunk by chunk on its cluster).
    """
    scale = np.sqrt(_column_variance(F, weights, mu) + alpha)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return scale


def block_logits(F, rows, W, bias, out):
    """Class-major logits ``W @ F[rows].T + bias[:, None]`` written into ``out``.

    ``F`` may be dense (a ``numpy.memmap`` is read, not copied) or sparse
    (CSR rows are multiplied without densifying them).
    """
    block = F[rows]
    if sparse.issparse(block):
        np.copyto(out, (block @ W.T).T)
    else:
        np.matmul(W, block.T, out=out)
    out += bias[:, None]
    return out


def block_feature_grad(F, rows, grad_logits):
    """``F[rows].T @ grad_logits.T``, of shape (n_features, n_classes)."""
    # F.T @ G.T, not G @ F: OpenBLAS is slower on the latter's (C, n) x (n, d)
    # shape with a long inner dimension.
    return np.asarray(F[rows].T @ grad_logits.T)


def multinomial_objective(
    F, y, n_classes, weights, mu, scale, alpha, gamma, *, n_block_rows=None
):
    r"""The objective of :func:`fit_multinomial` in the solver's variables.

    The variables are :math:`x = (V, c)` with :math:`W = V\,\mathrm{diag}(1 /
    \mathrm{scale})` and :math:`b = c - W\mu`: the weights of the features
    centred on ``mu`` and divided by ``scale``. The penalty
    :math:`\frac{\alpha}{2}\lVert W\rVert_F^2` is on ``W`` in the units of
    ``F``, so the optimum in :math:`(W, b)` does not depend on ``mu`` and
    ``scale``. The centring and scaling act on the parameters, never on ``F``
    (a memmap is not copied, a sparse matrix not densified).

    Loss and gradient are sums over samples, accumulated over row blocks of
    ``n_block_rows`` rows (by default sized by :func:`block_rows`) in one
    reused (n_classes, n_block_rows) buffer: memory grows with
    ``n_classes * n_features``, not with ``n_classes * n_samples``.
    Returns ``fun(x) -> (value, gradient)``.

    On a dask ``F``, each evaluation runs this objective without the penalty
    on every row chunk on the cluster and adds the penalty to their sum.
    """
    if is_dask_array(F):
        return _dask_multinomial_objective(
            F, y, n_classes, weights, mu, scale, alpha, gamma
        )
    dtype = F.dtype
    n_samples, n_features = F.shape
    n_weights = n_classes * n_features
    mu = mu.astype(dtype)
    if n_block_rows is None:
        n_block_rows = block_rows(n_classes * dtype.itemsize, n_samples)
    scratch = np.empty((n_classes, min(n_block_rows, n_samples)), dtype=dtype)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        W = x[:n_weights].reshape(n_classes, n_features) / scale
        W_dtype = W.astype(dtype)
        bias = x[n_weights:].astype(dtype) - W_dtype @ mu
        loss = 0.0
        grad_c = np.zeros(n_classes)
        grad_FW = np.zeros((n_features, n_classes))
        for rows in gen_batches(n_samples, n_block_rows):
            logits = block_logits(
                F, rows, W_dtype, bias, scratch[:, : rows.stop - rows.start]
            )
            block_loss, grad_logits = softmax_loss_grad(
                logits, y[rows], weights[rows], gamma
            )
            loss += block_loss
            grad_c += grad_logits.sum(axis=1)
            grad_FW += block_feature_grad(F, rows, grad_logits)
        grad_W = grad_FW.T - np.outer(grad_c, mu)
        grad_W += alpha * W
        grad = np.empty_like(x)
        grad[:n_weights] = (grad_W / scale).ravel()
        grad[n_weights:] = grad_c
        loss += 0.5 * alpha * float(np.sum(W * W))
        return loss, grad

    return objective


def _chunk_multinomial(F, y, weights, x, n_classes, mu, scale, gamma):
    """Unpenalised value and gradient of :func:`multinomial_objective` on rows."""
    return multinomial_objective(F, y, n_classes, weights, mu, scale, 0.0, gamma)(x)


def _dask_multinomial_objective(F, y, n_classes, weights, mu, scale, alpha, gamma):
    """:func:`multinomial_objective` as a chunk-wise sum over a dask ``F``."""
    chunks = ChunkSum(_chunk_multinomial, F, y, weights)
    n_weights = n_classes * F.shape[1]

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = chunks(x, n_classes, mu, scale, gamma)
        W = x[:n_weights].reshape(n_classes, F.shape[1]) / scale
        # Not in place: the sum may be an object the scheduler still holds.
        penalty = np.zeros_like(grad)
        penalty[:n_weights] = (alpha * W / scale).ravel()
        return loss + 0.5 * alpha * float(np.sum(W * W)), grad + penalty

    return objective


def check_focal_start(gamma, n_classes, dtype):
    """Refuse a ``gamma`` whose focal weight underflows ``dtype`` at the zero start.

    At the start every probability is :math:`1/C`, so every sample's focal
    weight is :math:`(1 - 1/C)^\\gamma`; when it underflows, loss and
    gradient are exactly zero there and the solver would return the start as
    the optimum.
    """
    if gamma > 0 and (1.0 - 1.0 / n_classes) ** gamma < np.finfo(dtype).tiny:
        raise ValueError(
            f"gamma={gamma:g} is too large: the focal weight (1 - 1/{n_classes})"
            f"**gamma of every sample underflows {np.dtype(dtype).name} at the "
            "start, so the loss and its gradient vanish there; use a smaller "
            "gamma."
        )


def original_units(W_present, bias, mu, counts, dtype):
    """``(W, b)`` for every class from the solver's centred present-class solution.

    ``W_present`` (rows of the classes with a count, already divided by the
    column scales) and ``bias`` solve the problem on features centred on
    ``mu``; absent classes get zero rows. Cast to ``dtype``.
    """
    present = np.flatnonzero(counts > 0)
    W = np.zeros((counts.shape[0], W_present.shape[1]), dtype=dtype)
    b = np.zeros(counts.shape[0], dtype=dtype)
    W[present] = W_present
    b[present] = bias - W_present @ mu
    return W, b


def fit_multinomial(
    F: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    q: float = 1.0,
    gamma: float = 0.0,
    alpha: float = JOINT_ALPHA,
    max_iter: int = JOINT_MAX_ITER,
    tol: float = JOINT_TOL,
    owner: str = "fit_multinomial",
) -> tuple[np.ndarray, np.ndarray, int]:
    r"""Fit a multinomial linear classifier by full-batch L-BFGS.

    Minimises the weighted mean loss plus an L2 penalty on the weights (not the
    bias),

    .. math::

        \sum_i s_i\,\ell(W x_i + b, y_i) + \frac{\alpha}{2}\lVert W\rVert_F^2,
        \qquad s_i \propto w_i\,n_{y_i}^{q-1},\ \sum_i s_i = 1,

    which is the expected loss under class sampling :math:`p_j \propto n_j^q`
    (:math:`w_i` the sample weights, :math:`n_j` their per-class sums).
    ``W`` and ``alpha`` are in the units of ``F``. The solver itself works on
    the features centred on their weighted mean and divided by
    :math:`\sqrt{\mathrm{var}_k + \alpha}` per column, and on the objective
    divided by its value at the start (see :func:`minimize_lbfgs`), then maps
    the solution back: the optimum is unchanged, but L-BFGS sees a problem of
    the same conditioning whatever the scale of ``F`` (features multiplied by
    1e12 fit like the original ones), and ``tol`` bounds the gradient of that
    standardised problem. Starts from zero (the objective is convex for
    ``gamma=0``); computes in the dtype of ``F``.

    Parameters
    ----------
    F : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,)
        Encoded targets in ``0..n_classes-1``.
    counts : ndarray of shape (n_classes,)
        Per-class sums of ``sample_weight`` (training counts without weights).
        Classes with count 0 are left out of the optimisation; their rows of
        ``W`` and ``b`` are zero.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Non-negative sample weights.
    q, gamma, alpha, max_iter, tol, owner
        Sampling power, focal parameter, L2 strength, iteration cap, gradient
        tolerance, and the name used in warnings.

    Returns
    -------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,)
    n_iter : int

    Raises
    ------
    ValueError
        When ``gamma`` is so large that the focal weight
        :math:`(1 - 1/C)^\gamma` of every sample underflows the dtype of
        ``F`` at the start: loss and gradient are then exactly zero.
    """
    dtype = F.dtype
    present = np.flatnonzero(counts > 0)
    n_classes = present.size
    check_focal_start(gamma, n_classes, dtype)
    weights = balanced_weights(y, counts, q, sample_weight)
    y_present = encode_present(y, counts)
    mu = weighted_mean(F, weights)
    scale = _column_scales(F, weights, mu, alpha)
    objective = multinomial_objective(
        F, y_present, n_classes, weights, mu, scale, alpha, gamma
    )
    n_features = F.shape[1]
    n_weights = n_classes * n_features
    x0 = np.zeros(n_weights + n_classes)
    x, n_iter = minimize_lbfgs(
        objective,
        x0,
        max_iter=max_iter,
        tol=tol,
        dtype=dtype,
        owner=owner,
        n_classes=n_classes,
    )
    W_present = x[:n_weights].reshape(n_classes, n_features) / scale
    W, b = original_units(W_present, x[n_weights:], mu, counts, dtype)
    return W, b, n_iter
