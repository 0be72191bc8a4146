r"""Minibatch SGD for cRT and LWS: the L-BFGS solvers' objectives, sampled.

The full-batch solvers minimise :math:`\sum_i s_i \ell_i(x) + \text{penalty}`
with weights :math:`s_i` summing to one. Drawing rows with probability
:math:`s_i` (class-aware sampling, Kang et al., 2020) makes the plain mean of
a batch's losses an unbiased estimate of the weighted sum, so SGD with the
penalty as weight decay minimises the same objective. Both solvers work in
variables in which the curvature is at most about one, so one default step
size serves whatever the units of ``F``: cRT on the centred and scaled
columns of :func:`~ltsk.heads._solver.fit_multinomial` (and the step divided
by the largest eigenvalue of their second-moment matrix, estimated on a
sample), LWS on the scales' deviations from 1 multiplied per class by the
root mean square of the joint logits.
"""

import math
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval, StrOptions

from ltsk.heads._dask import is_dask_array
from ltsk.heads._solver import (
    _column_scales,
    balanced_weights,
    dense_rows,
    encode_present,
    original_units,
    weighted_mean,
)

MOMENTUM = 0.9
# Rows drawn (by the sampler) to estimate the curvature that sets the step.
CURVATURE_ROWS = 2048
POWER_ITERATIONS = 30

# The parameter constraints of the solver choice, shared by cRT and LWS.
SGD_CONSTRAINTS = {
    "solver": [StrOptions({"lbfgs", "sgd"})],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "random_state": ["random_state"],
}


def check_sgd_options(head, F, unsupported):
    """Refuse what ``solver="sgd"`` cannot honour, naming ``solver``.

    ``unsupported`` maps the name of each option the SGD solver does not
    implement to whether the head sets it.
    """
    name = type(head).__name__
    for option, is_set in unsupported.items():
        if is_set:
            raise ValueError(
                f"{name}: solver='sgd' does not support {option}; use "
                f"solver='lbfgs' or leave {option} at the default."
            )
    if head.device is not None:
        raise ValueError(
            f"{name}: solver='sgd' runs in numpy only; device={head.device!r} "
            "cannot be combined with it. Use device=None, or solver='lbfgs' on "
            "the device."
        )
    if is_dask_array(F):
        raise ValueError(
            f"{name}: solver='sgd' draws rows at random and cannot run on a "
            "dask F; compute F into memory (or a memmap), or use "
            "solver='lbfgs', which sums over the chunks on the cluster."
        )


def mean_cross_entropy_grad(logits, y):
    r"""Gradient of the batch's mean cross-entropy in the class-major ``logits``.

    :math:`(\mathrm{softmax}(z_i) - e_{y_i}) / |B|` per column, written over
    ``logits``; the loss itself is not computed (SGD does not use it), which
    saves passes over the (n_classes, batch) array compared with
    :func:`~ltsk.heads._solver.softmax_loss_grad`.
    """
    columns = np.arange(y.shape[0])
    logits -= logits.max(axis=0)
    np.exp(logits, out=logits)
    norm = logits.sum(axis=0)
    np.multiply(norm, y.shape[0], out=norm)
    np.reciprocal(norm, out=norm)
    logits *= norm
    logits[y, columns] -= logits.dtype.type(1.0 / y.shape[0])
    return logits


def class_aware_batches(weights, batch_size, n_draws, rng):
    """Sorted row indices drawn with probability ``weights``, a batch at a time.

    Rows are drawn with replacement; ``n_draws`` in all, in batches of
    ``batch_size`` (the last one may be shorter). Rows of weight zero are never
    drawn. Each batch is sorted: the batch mean does not depend on the order,
    and a memmap reads sorted rows faster.
    """
    cdf = np.cumsum(weights)
    total = cdf[-1]
    last = int(np.flatnonzero(weights > 0)[-1])
    for start in range(0, n_draws, batch_size):
        size = min(batch_size, n_draws - start)
        index = np.searchsorted(cdf, rng.random_sample(size) * total, side="right")
        # u * total may round up to total: that draw belongs to the last row
        # of positive weight.
        np.minimum(index, last, out=index)
        index.sort()
        yield index


def momentum_sgd(batch_grad, x0, weights, *, max_epochs, batch_size, step, rng, owner):
    r"""SGD with heavy-ball momentum 0.9 and a cosine-decayed step.

    Each epoch draws ``n_samples`` rows with probability ``weights`` in
    batches of ``batch_size``; ``batch_grad(x, index, out)`` writes into
    ``out`` the gradient of the batch's mean loss plus the penalty. The update
    is :math:`v \leftarrow 0.9\,v + g`, :math:`x \leftarrow x - \eta_t v`
    with :math:`\eta_t = \eta\,(1 + \cos(\pi t / T)) / 2` over the
    :math:`T` steps of the fit, in place and in the dtype of ``x0``. Returns
    ``(x, max_epochs)``; raises ``FloatingPointError`` when ``x`` becomes
    non-finite.
    """
    n_samples = weights.shape[0]
    total = max_epochs * math.ceil(n_samples / batch_size)
    x = x0.copy()
    velocity = np.zeros_like(x)
    grad = np.empty_like(x)
    t = 0
    for epoch in range(max_epochs):
        for index in class_aware_batches(weights, batch_size, n_samples, rng):
            batch_grad(x, index, grad)
            velocity *= MOMENTUM
            velocity += grad
            np.multiply(
                velocity, 0.5 * step * (1.0 + math.cos(math.pi * t / total)), out=grad
            )
            x -= grad
            t += 1
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(
                f"{owner}: the parameters became non-finite in epoch {epoch + 1} "
                f"of solver='sgd' (step {step:.3g}); lower learning_rate."
            )
    return x, max_epochs


def _top_eigenvalue(X, rng):
    """Largest eigenvalue of ``X.T @ X / len(X)`` by power iteration."""
    v = rng.standard_normal(X.shape[1])
    value = 0.0
    for _ in range(POWER_ITERATIONS):
        w = X.T @ (X @ v) / X.shape[0]
        value = float(np.linalg.norm(w))
        if value == 0.0:
            return 0.0
        v = w / value
    return value


def multinomial_batch_grad(F, target, n_classes, mu, scale, alpha, batch_size):
    r"""``grad(x, index, out)``: gradient of cRT's objective on the rows ``index``.

    The mean cross-entropy of the rows (each counted as often as it appears in
    ``index``, at most ``batch_size`` of them) plus
    :math:`\frac{\alpha}{2}\lVert W\rVert_F^2`, in the variables
    :math:`x = (V, c)` of :func:`~ltsk.heads._solver.multinomial_objective`,
    written into ``out``. ``x`` and ``out`` are in the dtype of ``F``. A dense
    batch is standardised, :math:`\tilde x = (x - \mu) / s`, so that the
    logits are :math:`V \tilde x + c`; a sparse one is multiplied as is by
    :math:`W = V / s` (and the bias corrected by :math:`W\mu`), never
    densified.
    """
    dtype = F.dtype
    n_features = F.shape[1]
    n_weights = n_classes * n_features
    mu_dtype = mu.astype(dtype)
    scale_dtype = scale.astype(dtype)
    decay = (alpha / scale**2).astype(dtype)
    scratch = np.empty((n_classes, batch_size), dtype=dtype)
    penalty = np.empty((n_classes, n_features), dtype=dtype)

    def batch_grad(x, index, out):
        V = x[:n_weights].reshape(n_classes, n_features)
        c = x[n_weights:]
        grad_V = out[:n_weights].reshape(n_classes, n_features)
        logits = scratch[:, : index.shape[0]]
        block = F[index]
        if sparse.issparse(block):
            W = V / scale_dtype
            np.copyto(logits, (block @ W.T).T)
            logits += (c - W @ mu_dtype)[:, None]
            grad_logits = mean_cross_entropy_grad(logits, target[index])
            grad_c = grad_logits.sum(axis=1)
            grad_W = np.asarray(block.T @ grad_logits.T).T
            grad_W -= np.outer(grad_c, mu_dtype)
            np.divide(grad_W, scale_dtype, out=grad_V)
        else:
            standardised = np.asarray(block, dtype=dtype) - mu_dtype
            standardised /= scale_dtype
            np.matmul(V, standardised.T, out=logits)
            logits += c[:, None]
            grad_logits = mean_cross_entropy_grad(logits, target[index])
            grad_c = grad_logits.sum(axis=1)
            np.matmul(grad_logits, standardised, out=grad_V)
        np.multiply(V, decay, out=penalty)
        grad_V += penalty
        out[n_weights:] = grad_c

    return batch_grad


def lws_batch_grad(F, coef, intercept, y, alpha, root, batch_size):
    r"""``grad(g, index, out)``: gradient of LWS's objective on the rows ``index``.

    The mean cross-entropy of the scaled joint logits of the rows (at most
    ``batch_size`` of them) plus :math:`\frac{\alpha}{2}\lVert f\rVert^2`,
    in the variables :math:`g = r \odot (f - 1)`, written into ``out``.
    """
    dtype = F.dtype
    n_classes = coef.shape[0]
    logits = np.empty((n_classes, batch_size), dtype=dtype)
    scratch = np.empty_like(logits)
    intercept = intercept.astype(dtype)[:, None]

    def batch_grad(g, index, out):
        f = 1.0 + g / root
        z = logits[:, : index.shape[0]]
        block = F[index]
        if sparse.issparse(block):
            np.copyto(z, (block @ coef.T).T)
        else:
            np.matmul(coef, np.asarray(block).T, out=z)
        z += intercept
        scaled = np.multiply(z, f.astype(dtype)[:, None], out=scratch[:, : z.shape[1]])
        grad_scaled = mean_cross_entropy_grad(scaled, y[index])
        grad_f = np.einsum("ji,ji->j", grad_scaled, z) + alpha * f
        out[:] = grad_f / root

    return batch_grad


def fit_multinomial_sgd(
    F,
    y,
    counts,
    *,
    sample_weight,
    q,
    alpha,
    max_epochs,
    batch_size,
    learning_rate,
    rng,
    owner,
):
    r"""cRT's objective of :func:`~ltsk.heads._solver.fit_multinomial` by SGD.

    Same variables :math:`(V, c)` (weights of the columns centred on their
    weighted mean and divided by :math:`\sqrt{\mathrm{var} + \alpha}`, bias),
    same zero start. The step is ``learning_rate`` divided by
    :math:`\max(1, \lambda)`, :math:`\lambda` the largest eigenvalue of the
    second moment of the standardised rows, estimated on rows drawn by the
    sampler: the curvature of the loss in :math:`V` is at most
    :math:`\lambda`. Computes in the dtype of ``F``; holds one batch of rows
    and of scores. Returns ``(W, b, n_epochs)``.
    """
    dtype = F.dtype
    present = np.flatnonzero(counts > 0)
    n_classes = present.size
    n_features = F.shape[1]
    weights = balanced_weights(y, counts, q, sample_weight)
    target = encode_present(y, counts)
    mu = weighted_mean(F, weights)
    scale = _column_scales(F, weights, mu, alpha)
    sample = next(class_aware_batches(weights, CURVATURE_ROWS, CURVATURE_ROWS, rng))
    standardised = dense_rows(F, sample) - mu.astype(dtype)
    standardised /= scale.astype(dtype)
    step = learning_rate / max(1.0, _top_eigenvalue(standardised, rng))
    del standardised
    n_weights = n_classes * n_features
    batch_size = min(batch_size, F.shape[0])
    batch_grad = multinomial_batch_grad(
        F, target, n_classes, mu, scale, alpha, batch_size
    )

    x, n_epochs = momentum_sgd(
        batch_grad,
        np.zeros(n_weights + n_classes, dtype=dtype),
        weights,
        max_epochs=max_epochs,
        batch_size=batch_size,
        step=step,
        rng=rng,
        owner=owner,
    )
    x = x.astype(np.float64)
    W_present = x[:n_weights].reshape(n_classes, n_features) / scale
    W, b = original_units(W_present, x[n_weights:], mu, counts, dtype)
    return W, b, n_epochs


def fit_lws_sgd(
    F,
    coef,
    intercept,
    y,
    weights,
    alpha,
    *,
    max_epochs,
    batch_size,
    learning_rate,
    rng,
    owner,
):
    r"""LWS's scales of :func:`~ltsk.heads._lws.lws_objective` by SGD.

    ``coef`` and ``intercept`` are the joint classifier's rows of the classes
    in ``y``'s encoding. The variables are :math:`g_j = r_j (f_j - 1)` with
    :math:`r_j = \sqrt{\overline{z_j^2} + \alpha}`, the root mean square of
    class :math:`j`'s joint logit over rows drawn by the sampler (plus the
    penalty): the curvature of the objective in :math:`g` is then at most
    about one, and the step is ``learning_rate``. Starts at :math:`f = 1` (the
    joint classifier). Returns ``(scales, n_epochs)``.
    """
    sample = next(class_aware_batches(weights, CURVATURE_ROWS, CURVATURE_ROWS, rng))
    square_sum = np.zeros(coef.shape[0])
    for start in range(0, sample.shape[0], batch_size):
        rows = sample[start : start + batch_size]
        logits = np.asarray(F[rows] @ coef.T)
        logits += intercept
        square_sum += np.einsum("ij,ij->j", logits, logits)
        del logits
    root = np.sqrt(square_sum / sample.shape[0] + alpha)
    root[~(root > 0) | ~np.isfinite(root)] = 1.0
    batch_size = min(batch_size, F.shape[0])
    batch_grad = lws_batch_grad(F, coef, intercept, y, alpha, root, batch_size)

    g, n_epochs = momentum_sgd(
        batch_grad,
        np.zeros(coef.shape[0]),
        weights,
        max_epochs=max_epochs,
        batch_size=batch_size,
        step=learning_rate,
        rng=rng,
        owner=owner,
    )
    return 1.0 + g / root, n_epochs
