"""CRTHead's max_norm (weight balancing's stage 2) and label-aware smoothing:
optimality against an independent constrained solver (scipy SLSQP), KKT
conditions, finite-difference gradients, and the neutral settings."""

import numpy as np
import pytest
from scipy.optimize import check_grad, minimize
from sklearn.exceptions import ConvergenceWarning

from ltsk.heads import CRTHead
from ltsk.heads._constrained import (
    fit_multinomial_constrained,
    smoothing_gradient,
    with_linear_term,
)
from ltsk.heads._solver import balanced_weights, multinomial_objective
from ltsk.losses import label_aware_smoothing


def _data(seed=0, counts=(60, 20, 8), n_features=3, shift=2.5):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    F = rng.normal(size=(y.size, n_features)) + shift * np.eye(n_features)[y % 3]
    return F, y


def _plain_objective(F, y, counts, q, alpha, eps):
    """sum_i s_i CE(W x_i + b, q_i) + alpha/2 ||W||^2 in (W, b), plain numpy."""
    n_classes, n_features = counts.size, F.shape[1]
    s = counts[y] ** (q - 1.0)
    s = s / s.sum()
    target = np.zeros((y.size, n_classes))
    target += (eps[y] / n_classes)[:, None]
    target[np.arange(y.size), y] += 1.0 - eps[y]

    def fun(theta):
        W = theta[: n_classes * n_features].reshape(n_classes, n_features)
        b = theta[n_classes * n_features :]
        z = F @ W.T + b
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -np.sum(s[:, None] * target * log_p) + 0.5 * alpha * np.sum(W * W)
        g = s[:, None] * (np.exp(log_p) - target)
        grad_W = g.T @ F + alpha * W
        return value, np.concatenate([grad_W.ravel(), g.sum(axis=0)])

    return fun


def _slsqp(F, y, counts, q, alpha, eps, radius):
    n_classes, n_features = counts.size, F.shape[1]
    fun = _plain_objective(F, y, counts, q, alpha, eps)
    constraints = []
    for j in range(n_classes):
        rows = slice(j * n_features, (j + 1) * n_features)

        def c(theta, rows=rows):
            return radius**2 - theta[rows] @ theta[rows]

        def jac(theta, rows=rows):
            out = np.zeros_like(theta)
            out[rows] = -2.0 * theta[rows]
            return out

        constraints.append({"type": "ineq", "fun": c, "jac": jac})
    theta0 = np.zeros(n_classes * (n_features + 1))
    result = minimize(
        fun,
        theta0,
        jac=True,
        method="SLSQP",
        constraints=constraints if radius is not None else (),
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    assert result.success, result.message
    W = result.x[: n_classes * n_features].reshape(n_classes, n_features)
    return W, result.x[n_classes * n_features :], fun


@pytest.mark.parametrize("q", [0.0, 1.0])
@pytest.mark.parametrize("smooth", [0.0, 0.3])
def test_max_norm_matches_slsqp(q, smooth):
    F, y = _data()
    counts = np.bincount(y).astype(float)
    eps = (
        label_aware_smoothing(counts, smooth_head=smooth, smooth_tail=0.05)
        if smooth
        else np.zeros(3)
    )
    radius, alpha = 0.8, 1e-3
    head = CRTHead(
        q=q,
        alpha=alpha,
        max_norm=radius,
        smooth_head=smooth,
        smooth_tail=0.05 if smooth else 0.0,
        tol=1e-9,
        max_iter=5000,
    ).fit(F, y)
    W_ref, b_ref, fun = _slsqp(F, y, counts, q, alpha, eps, radius)
    norms = np.linalg.norm(head.coef_, axis=1)
    assert norms.max() <= radius * (1 + 1e-12)
    assert np.isclose(norms, radius).any()  # the constraint is active
    np.testing.assert_allclose(head.coef_, W_ref, atol=2e-5)
    # the bias is defined up to a common constant (softmax is shift-invariant)
    np.testing.assert_allclose(
        head.intercept_ - head.intercept_.mean(), b_ref - b_ref.mean(), atol=2e-5
    )
    # KKT: grad_b = 0; grad_w_j + lambda_j w_j = 0 with lambda_j >= 0 on the
    # active rows, grad_w_j = 0 on the others.
    _, grad = fun(np.concatenate([head.coef_.ravel(), head.intercept_]))
    grad_W, grad_b = grad[:9].reshape(3, 3), grad[9:]
    np.testing.assert_allclose(grad_b, 0.0, atol=1e-6)
    for w, g, norm in zip(head.coef_, grad_W, norms, strict=True):
        if np.isclose(norm, radius):
            lam = -(g @ w) / radius**2
            assert lam >= -1e-8
            np.testing.assert_allclose(g + lam * w, 0.0, atol=1e-6)
        else:
            np.testing.assert_allclose(g, 0.0, atol=1e-6)


def test_inactive_max_norm_is_unconstrained_optimum():
    F, y = _data(1)
    free = CRTHead(alpha=1e-2, tol=1e-8).fit(F, y)
    radius = 10 * np.linalg.norm(free.coef_, axis=1).max()
    bound = CRTHead(alpha=1e-2, tol=1e-8, max_norm=radius, max_iter=5000).fit(F, y)
    np.testing.assert_allclose(bound.coef_, free.coef_, atol=1e-5)
    np.testing.assert_allclose(bound.intercept_, free.intercept_, atol=1e-5)


def test_smoothing_matches_independent_optimum():
    F, y = _data(2)
    counts = np.bincount(y).astype(float)
    head = CRTHead(q=0.0, alpha=1e-3, smooth_head=0.4, smooth_tail=0.1, tol=1e-9).fit(
        F, y
    )
    eps = label_aware_smoothing(counts)
    np.testing.assert_allclose(head.smoothing_, eps)
    fun = _plain_objective(F, y, counts, 0.0, 1e-3, eps)
    ref = minimize(fun, np.zeros(12), jac=True, method="BFGS", options={"gtol": 1e-11})
    np.testing.assert_allclose(head.coef_, ref.x[:9].reshape(3, 3), atol=1e-5)
    b_ref = ref.x[9:]
    np.testing.assert_allclose(
        head.intercept_ - head.intercept_.mean(), b_ref - b_ref.mean(), atol=1e-5
    )
    # Smoothing shrinks the confidence on the training data.
    plain = CRTHead(q=0.0, alpha=1e-3, tol=1e-9).fit(F, y)
    assert (
        head.predict_proba(F).max(axis=1).mean()
        < plain.predict_proba(F).max(axis=1).mean()
    )


def test_smoothed_objective_gradient_finite_differences():
    F, y = _data(3, counts=(30, 12, 5), n_features=4)
    counts = np.bincount(y).astype(float)
    weights = balanced_weights(y, counts, 0.5)
    mu = weights @ F
    scale = np.array([1.3, 0.7, 2.0, 1.1])
    eps = label_aware_smoothing(counts)[y]
    objective = with_linear_term(
        multinomial_objective(F, y, 3, weights, mu, scale, 0.1, 0.0),
        smoothing_gradient(F, y, 3, weights, eps, mu, scale),
    )
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(size=15)
        error = check_grad(
            lambda v: objective(v)[0], lambda v: objective(v)[1], x, epsilon=1e-7
        )
        assert error < 1e-5 * max(1.0, np.linalg.norm(objective(x)[1]))


def test_neutral_settings_are_identical():
    F, y = _data(4)
    base = CRTHead().fit(F, y)
    same = CRTHead(max_norm=None, smooth_head=0.0, smooth_tail=0.0).fit(F, y)
    np.testing.assert_array_equal(base.coef_, same.coef_)
    np.testing.assert_array_equal(base.intercept_, same.intercept_)
    np.testing.assert_array_equal(same.smoothing_, 0.0)
    # the constrained solver's L-BFGS path without smoothing: same optimum
    counts = np.bincount(y)
    W, b, _ = fit_multinomial_constrained(
        F, y, counts, q=0.0, alpha=base.alpha_, tol=1e-4
    )
    np.testing.assert_allclose(W, base.coef_, rtol=1e-10)
    np.testing.assert_allclose(b, base.intercept_, rtol=1e-10)


def test_float32_and_absent_class():
    F, y = _data(5)
    y = np.where(y == 1, 2, y)  # class 1 absent from y
    head = CRTHead(alpha=1e-2, max_norm=0.5, smooth_head=0.3, smooth_tail=0.1).fit(
        F.astype(np.float32), y, classes=[0, 1, 2]
    )
    assert head.coef_.dtype == np.float32
    assert np.linalg.norm(head.coef_, axis=1).max() <= 0.5 * (1 + 1e-6)
    assert head.intercept_[1] == -np.inf and head.smoothing_[1] == 0.0


def test_errors_and_warnings():
    F, y = _data(6)
    with pytest.raises(ValueError, match="gamma"):
        CRTHead(gamma=2.0, smooth_head=0.2).fit(F, y)
    with pytest.raises(ValueError, match="gamma=5000 is too large"):
        CRTHead(gamma=5000.0, max_norm=0.5).fit(F, y)
    with pytest.raises(ValueError, match="max_norm"):
        CRTHead(max_norm=0.0).fit(F, y)
    with pytest.raises(ValueError, match="smooth_shape"):
        CRTHead(smooth_shape="exp").fit(F, y)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        CRTHead(max_norm=0.5, max_iter=2, tol=1e-10).fit(F, y)
    # focal loss with max-norm (the paper's class-balanced focal stage 2) runs
    head = CRTHead(gamma=2.0, alpha=1e-2, max_norm=0.5).fit(F, y)
    assert np.linalg.norm(head.coef_, axis=1).max() <= 0.5 * (1 + 1e-12)
