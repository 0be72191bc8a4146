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
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from ltsk.sampling import sample_weights

# Regularisation, iteration cap and tolerance of the instance-balanced joint
# classifier that tau-norm, LWS and logit adjustment fit when none is given.
JOINT_ALPHA = 1e-4
JOINT_MAX_ITER = 500
JOINT_TOL = 1e-5


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
) -> tuple[np.ndarray, int]:
    """Minimise ``fun`` (returning value and gradient) with scipy's L-BFGS-B.

    Warns with :class:`~sklearn.exceptions.ConvergenceWarning` when the
    iteration cap is hit. Returns the solution and the number of iterations.
    """
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
            fun,
            x0,
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": max_iter, "gtol": tol, "ftol": ftol},
        )
    if result.status == 1:
        warnings.warn(
            f"{owner}: L-BFGS did not converge within max_iter={max_iter} "
            "iterations; increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result.x, int(result.nit)


def fit_multinomial(
    F: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    *,
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
        \qquad s_i \propto n_{y_i}^{q-1},\ \sum_i s_i = 1,

    which is the expected loss under class sampling :math:`p_j \propto n_j^q`.
    Starts from zero (the objective is convex for ``gamma=0``); computes in the
    dtype of ``F``.

    Parameters
    ----------
    F : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,)
        Encoded targets in ``0..n_classes-1``.
    counts : ndarray of shape (n_classes,)
        Training count of every class. Classes with count 0 are left out of
        the optimisation; their rows of ``W`` and ``b`` are zero.
    q, gamma, alpha, max_iter, tol, owner
        Sampling power, focal parameter, L2 strength, iteration cap, gradient
        tolerance, and the name used in warnings.

    Returns
    -------
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,)
    n_iter : int
    """
    dtype = F.dtype
    present = np.flatnonzero(counts > 0)
    n_classes = present.size
    # Re-encode onto the present classes only: an absent class would otherwise
    # drive its unpenalised bias to -inf.
    remap = np.full(counts.shape[0], -1)
    remap[present] = np.arange(n_classes)
    y_present = remap[y]
    weights = sample_weights(y_present, q)
    weights /= weights.sum()
    n_features = F.shape[1]
    n_weights = n_classes * n_features
    # The solver works with the bias of centred features, c = b + W mu: the
    # optimum is the same (the bias is not penalised), but L-BFGS needs about
    # 40% fewer iterations on features with a large mean, such as ReLU
    # outputs. F itself is never centred, so no copy of it is made.
    mu = (weights @ F).astype(dtype)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        W = x[:n_weights].reshape(n_classes, n_features).astype(dtype)
        c = x[n_weights:].astype(dtype)
        logits = W @ F.T
        logits += (c - W @ mu)[:, None]
        loss, grad_logits = softmax_loss_grad(logits, y_present, weights, gamma)
        grad = np.empty_like(x)
        grad_W = grad[:n_weights].reshape(n_classes, n_features)
        grad_c = grad_logits.sum(axis=1)
        # F.T @ G.T, not G @ F: OpenBLAS is slower on the latter's (C, n) x
        # (n, d) shape with a long inner dimension.
        grad_W[:] = (F.T @ grad_logits.T).T
        grad_W -= np.outer(grad_c, mu)
        grad_W += alpha * x[:n_weights].reshape(n_classes, n_features)
        grad[n_weights:] = grad_c
        loss += 0.5 * alpha * float(np.dot(x[:n_weights], x[:n_weights]))
        return loss, grad

    x0 = np.zeros(n_weights + n_classes)
    x, n_iter = minimize_lbfgs(
        objective, x0, max_iter=max_iter, tol=tol, dtype=dtype, owner=owner
    )
    W = np.zeros((counts.shape[0], n_features), dtype=dtype)
    b = np.zeros(counts.shape[0], dtype=dtype)
    W[present] = x[:n_weights].reshape(n_classes, n_features)
    b[present] = x[n_weights:] - W[present] @ mu
    return W, b, n_iter
