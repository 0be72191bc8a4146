"""cRT's options beyond the plain multinomial fit: label-aware smoothing and a
max-norm constraint on the classifier rows (numpy/scipy only).

Both reuse :func:`~ltsk.heads._solver.multinomial_objective`. Smoothing adds a
term linear in the logits, hence in the parameters: its gradient is computed
once. The norm constraint needs a projected method: the spectral projected
gradient of Birgin, Martinez and Raydan (2000), with a non-monotone line search.
"""

import warnings

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from ltsk.heads._dask import is_dask_array
from ltsk.heads._solver import (
    _column_scales,
    balanced_weights,
    check_focal_start,
    encode_present,
    minimize_lbfgs,
    multinomial_objective,
    original_units,
    weighted_mean,
)
from ltsk.losses._smoothing import label_aware_smoothing

# Spectral projected gradient: memory of the non-monotone line search,
# sufficient-decrease constant, and the bounds of the spectral step length.
SPG_MEMORY = 10
SPG_GAMMA = 1e-4
SPG_STEP_MIN = 1e-30
SPG_STEP_MAX = 1e30


def smoothing_gradient(F, y, n_classes, weights, eps, mu, scale):
    r"""Gradient of the label-smoothing term, constant in the parameters.

    With :math:`q_i = (1 - \epsilon_i) e_{y_i} + \epsilon_i / C`, the smoothed
    cross-entropy is :math:`-\sum_j q_{ij}\log p_{ij} = \mathrm{CE}(z_i, y_i) +
    \epsilon_i (z_{i,y_i} - \bar z_i)`, :math:`\bar z_i` the mean logit: the
    cross-entropy plus a term linear in the logits :math:`z_i = V \tilde
    x_i + c`, :math:`\tilde x_i = (x_i - \mu) / \mathrm{scale}`. Its gradient in
    :math:`(V, c)` is :math:`(A^\top \tilde X, A^\top 1)` with :math:`A_{ij} =
    s_i \epsilon_i ([j = y_i] - 1/C)`. ``eps`` holds :math:`\epsilon_i` per
    sample; returns the flat gradient, laid out as the solver's variables.
    """
    u = weights * eps
    n_samples = F.shape[0]
    one_hot = sparse.csr_array(
        (u, (y, np.arange(n_samples))), shape=(n_classes, n_samples)
    )
    per_class = one_hot @ F  # (C, d)
    if sparse.issparse(per_class):
        per_class = per_class.toarray()
    per_class = np.asarray(per_class, dtype=np.float64)
    per_class_u = np.bincount(y, weights=u, minlength=n_classes)
    grad_W = per_class - per_class.sum(axis=0) / n_classes
    grad_c = per_class_u - u.sum() / n_classes
    grad_W -= np.outer(grad_c, mu)
    return np.concatenate([(grad_W / scale).ravel(), grad_c])


def scales_smoothing_gradient(logits, y, weights, eps):
    r"""Gradient of LWS's label-smoothing term in the scales :math:`f`.

    With scaled logits :math:`f \odot z_i`, the smoothing term
    :math:`\sum_i s_i \epsilon_i (f_{y_i} z_{i,y_i} - \frac1C \sum_j f_j
    z_{ij})` is linear in :math:`f`, with gradient :math:`g_j = \sum_{i: y_i
    = j} u_i z_{ij} - \frac1C \sum_i u_i z_{ij}`, :math:`u_i = s_i
    \epsilon_i`. ``logits`` are class-major, (n_classes, n_samples).
    """
    n_classes, n_samples = logits.shape
    u = weights * eps
    own = logits[y, np.arange(n_samples)].astype(np.float64)
    return (
        np.bincount(y, weights=u * own, minlength=n_classes) - (logits @ u) / n_classes
    )


def with_linear_term(objective, gradient):
    """``objective`` plus :math:`\\langle g, x\\rangle` (value and gradient)."""

    def total(x):
        value, grad = objective(x)
        return value + float(gradient @ x), grad + gradient

    return total


def project_rows(x, n_rows, n_cols, radius):
    """Project rows ``0..n_rows-1`` of the leading block of ``x`` onto the ball."""
    rows = x[: n_rows * n_cols].reshape(n_rows, n_cols)
    norms = np.linalg.norm(rows, axis=1)
    factor = np.minimum(1.0, radius / np.where(norms > 0, norms, 1.0))
    out = x.copy()
    out[: n_rows * n_cols] = (rows * factor[:, None]).ravel()
    return out


def minimize_spg(fun, x0, project, *, max_iter, tol, dtype, owner):
    r"""Minimise ``fun`` over a convex set by spectral projected gradient (SPG2).

    Iterates :math:`x_{k+1} = x_k + \alpha_k d_k`, :math:`d_k =
    P(x_k - \lambda_k g_k) - x_k`, with the Barzilai-Borwein step
    :math:`\lambda_k = s^\top s / s^\top y` (clipped to
    ``[SPG_STEP_MIN, SPG_STEP_MAX]``) and a non-monotone Armijo line search
    against the largest of the last ``SPG_MEMORY`` values, backtracking by
    safeguarded quadratic interpolation (Birgin, Martinez and Raydan, 2000,
    Algorithm SPG2). The objective is divided by its value at the start, as
    in :func:`~ltsk.heads._solver.minimize_lbfgs`; the iterations stop when
    the projected-gradient residual :math:`\lVert P(x - g) - x\rVert_\infty`,
    the first-order optimality measure of the constrained problem, is below
    ``tol``. Warns with :class:`~sklearn.exceptions.ConvergenceWarning` after
    ``max_iter`` iterations, raises ``FloatingPointError`` on non-finite
    values. A line search that fails where the residual is already below
    :math:`\sqrt{\epsilon}` of ``dtype`` ends the iterations silently: an
    objective computed in that precision cannot locate its minimum any closer.
    Returns the solution and the number of iterations.
    """
    x = project(x0)
    f0, g = fun(x)
    if not (np.isfinite(f0) and np.all(np.isfinite(g))):
        raise FloatingPointError(f"{owner}: the objective is not finite at the start.")
    if f0 <= 0.0:
        return x, 0
    f, g = 1.0, g / f0
    history = [f]
    residual = np.max(np.abs(project(x - g) - x))
    step = 1.0 / max(residual, np.finfo(float).tiny)
    for n_iter in range(1, max_iter + 1):
        if residual <= tol:
            return x, n_iter - 1
        d = project(x - step * g) - x
        slope = float(g @ d)
        reference = max(history[-SPG_MEMORY:])
        alpha = 1.0
        while True:
            x_new = x + alpha * d
            f_new, g_new = fun(x_new)
            f_new, g_new = f_new / f0, g_new / f0
            if not np.isfinite(f_new):
                raise FloatingPointError(
                    f"{owner}: the objective became non-finite during the "
                    "projected-gradient iterations."
                )
            if f_new <= reference + SPG_GAMMA * alpha * slope:
                break
            if alpha < 1e-12:
                if residual <= np.sqrt(np.finfo(dtype).eps):
                    # the objective, computed in dtype, cannot locate the
                    # minimum any closer
                    return x, n_iter
                warnings.warn(
                    f"{owner}: the projected-gradient line search failed after "
                    f"{n_iter} iterations (optimality residual {residual:.3g} > "
                    f"tol={tol:g}); the solution may not be optimal.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                return x, n_iter
            trial = -0.5 * alpha**2 * slope / (f_new - f - alpha * slope)
            alpha = trial if 0.1 * alpha <= trial <= 0.9 * alpha else 0.5 * alpha
        s, yk = x_new - x, g_new - g
        x, f, g = x_new, f_new, g_new
        history.append(f)
        sy = float(s @ yk)
        step = (
            SPG_STEP_MAX
            if sy <= 0
            else float(np.clip(float(s @ s) / sy, SPG_STEP_MIN, SPG_STEP_MAX))
        )
        residual = np.max(np.abs(project(x - g) - x))
    if residual <= tol:
        return x, max_iter
    warnings.warn(
        f"{owner}: the projected-gradient solver did not converge within "
        f"max_iter={max_iter} iterations (optimality residual {residual:.3g} > "
        f"tol={tol:g}); increase max_iter or tol.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return x, max_iter


def fit_multinomial_constrained(
    F,
    y,
    counts,
    *,
    sample_weight=None,
    q=0.0,
    gamma=0.0,
    alpha=1e-4,
    smoothing=None,
    max_norm=None,
    max_iter=500,
    tol=1e-4,
    owner="fit_multinomial_constrained",
):
    r""":func:`~ltsk.heads._solver.fit_multinomial` with smoothing and max-norm.

    Minimises

    .. math::

        \sum_i s_i\,\ell_{\epsilon}(W x_i + b, y_i)
        + \frac{\alpha}{2}\lVert W\rVert_F^2
        \quad\text{s.t.}\quad \lVert w_j\rVert_2 \le r\ \ (r = \text{max\_norm}),

    with :math:`\ell_\epsilon` the cross-entropy against :math:`(1 -
    \epsilon_{y}) e_y + \epsilon_y / C` (``smoothing`` holds
    :math:`\epsilon_j` per class, ``None`` for none; :math:`C` counts the
    present classes) or the focal loss (``gamma``, without smoothing). Without
    ``max_norm`` it is solved by L-BFGS as ``fit_multinomial``; with it, by
    :func:`minimize_spg` on the features centred on their weighted mean and
    divided by one common scale (a per-column scale would turn the balls into
    ellipsoids). Returns ``W``, ``b`` and the number of iterations.
    """
    if is_dask_array(F):
        raise TypeError(
            f"{owner}: max_norm and label-aware smoothing (smooth_head, "
            "smooth_tail) do not fit block-wise on a dask array; pass a numpy "
            "array instead, F.compute() or a numpy.memmap of F."
        )
    dtype = F.dtype
    present = np.flatnonzero(counts > 0)
    n_classes = present.size
    check_focal_start(gamma, n_classes, dtype)
    n_features = F.shape[1]
    n_weights = n_classes * n_features
    weights = balanced_weights(y, counts, q, sample_weight)
    y_present = encode_present(y, counts)
    mu = weighted_mean(F, weights)
    scale = _column_scales(F, weights, mu, alpha)
    if max_norm is not None:
        scale = np.full(n_features, np.sqrt(np.mean(scale**2)))
    objective = multinomial_objective(
        F, y_present, n_classes, weights, mu, scale, alpha, gamma
    )
    if smoothing is not None:
        eps = np.asarray(smoothing, dtype=np.float64)[y]
        objective = with_linear_term(
            objective,
            smoothing_gradient(F, y_present, n_classes, weights, eps, mu, scale),
        )
    x0 = np.zeros(n_weights + n_classes)
    if max_norm is None:
        x, n_iter = minimize_lbfgs(
            objective,
            x0,
            max_iter=max_iter,
            tol=tol,
            dtype=dtype,
            owner=owner,
            n_classes=n_classes,
        )
    else:
        radius = float(max_norm) * scale[0]

        def project(v):
            return project_rows(v, n_classes, n_features, radius)

        x, n_iter = minimize_spg(
            objective,
            x0,
            project,
            max_iter=max_iter,
            tol=tol,
            dtype=dtype,
            owner=owner,
        )
    W_present = x[:n_weights].reshape(n_classes, n_features) / scale
    if max_norm is not None:
        # Undo the rounding of the division: the rows stay inside the ball.
        W_present = project_rows(
            W_present.ravel(), n_classes, n_features, float(max_norm)
        ).reshape(n_classes, n_features)
    W, b = original_units(W_present, x[n_weights:], mu, counts, dtype)
    return W, b, n_iter


def head_smoothing(head, counts):
    """Per-class label-aware smoothing factors of a head (0 for absent classes)."""
    if head.smooth_head == head.smooth_tail == 0:
        return np.zeros(counts.shape[0])
    smoothing = label_aware_smoothing(
        counts,
        smooth_head=head.smooth_head,
        smooth_tail=head.smooth_tail,
        shape=head.smooth_shape,
    )
    smoothing[counts == 0] = 0.0
    return smoothing
