"""The shared softmax loss (CE / focal) and the L-BFGS multinomial solver."""

import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from ltsk.heads import CRTHead
from ltsk.heads._solver import (
    fit_multinomial,
    minimize_lbfgs,
    multinomial_objective,
    softmax_loss_grad,
)


def _focal_reference(logits, y, weights, gamma):
    """Straightforward weighted focal loss, for finite differences."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_pt = log_p[np.arange(len(y)), y]
    return float(np.sum(weights * -((1 - np.exp(log_pt)) ** gamma) * log_pt))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_focal_gradient_matches_finite_differences(rng, gamma):
    logits = rng.normal(scale=3.0, size=(7, 4))
    y = rng.integers(0, 4, size=7)
    weights = rng.random(7)
    weights /= weights.sum()
    loss, grad = softmax_loss_grad(logits.T.copy(), y, weights, gamma)
    grad = grad.T  # the solver works class-major
    assert loss == pytest.approx(_focal_reference(logits, y, weights, gamma))
    eps = 1e-6
    numeric = np.zeros_like(logits)
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            step = np.zeros_like(logits)
            step[i, j] = eps
            numeric[i, j] = (
                _focal_reference(logits + step, y, weights, gamma)
                - _focal_reference(logits - step, y, weights, gamma)
            ) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_gamma_zero_is_weighted_cross_entropy(rng):
    logits = rng.normal(size=(5, 3))
    y = np.array([0, 2, 1, 1, 0])
    weights = np.full(5, 0.2)
    loss, grad = softmax_loss_grad(logits.T.copy(), y, weights, 0.0)
    grad = grad.T
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(5), y])))
    np.testing.assert_allclose(grad, 0.2 * (p - onehot), rtol=1e-12)


def test_focal_finite_for_confident_and_wrong_predictions():
    logits = np.array([[100.0, -100.0], [-100.0, 100.0]])
    y = np.array([0, 0])
    for gamma in (0.5, 2.0):
        loss, grad = softmax_loss_grad(logits.T.copy(), y, np.full(2, 0.5), gamma)
        grad = grad.T
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
        # The confident correct sample contributes nothing; the wrong one
        # (p_t = e^-200, loss 200) pushes its true logit up.
        assert loss == pytest.approx(0.5 * 200.0, rel=1e-6)
        np.testing.assert_allclose(grad[0], 0.0, atol=1e-30)
        assert grad[1, 0] < 0 < grad[1, 1]


def test_absent_class_gets_zero_row_and_max_iter_warns(rng):
    F = rng.normal(size=(30, 2))
    y = np.repeat([0, 2], 15)
    counts = np.array([15, 0, 15])
    W, b, n_iter = fit_multinomial(F, y, counts)
    assert W.shape == (3, 2) and np.all(W[1] == 0) and b[1] == 0
    assert n_iter >= 1
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        fit_multinomial(F, y, counts, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit_multinomial(F, y, counts, max_iter=200)


def _quadratic(x):
    return float(np.sum((x - 1.0) ** 2)), 2.0 * (x - 1.0)


def test_abnormal_stop_warns():
    # The gradient turns uphill past x = 0.5: the line search fails there.
    def objective(x):
        value, grad = _quadratic(x)
        return value, -grad if x[0] > 0.5 else grad

    with pytest.warns(ConvergenceWarning, match="t: L-BFGS stopped abnormally"):
        x, _ = minimize_lbfgs(
            objective, np.zeros(2), max_iter=100, tol=1e-8, dtype=np.float64, owner="t"
        )
    assert not np.allclose(x, 1.0)


def test_start_returned_although_not_optimal_is_an_error():
    # A gradient of the wrong sign: no step from the start decreases the value.
    def objective(x):
        value, grad = _quadratic(x)
        return value, -grad

    with pytest.raises(RuntimeError, match="t: L-BFGS returned its starting point"):
        minimize_lbfgs(
            objective, np.zeros(2), max_iter=100, tol=1e-8, dtype=np.float64, owner="t"
        )


def test_tolerance_is_relative_to_the_starting_value():
    # The same quadratic scaled by 1e-20: its gradient at the start is far
    # below tol, yet the minimum is found, not the start returned.
    def tiny(x):
        value, grad = _quadratic(x)
        return 1e-20 * value, 1e-20 * grad

    x, n_iter = minimize_lbfgs(
        tiny, np.zeros(3), max_iter=100, tol=1e-6, dtype=np.float64, owner="t"
    )
    assert n_iter >= 1
    np.testing.assert_allclose(x, 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solution_does_not_depend_on_feature_scale(dtype):
    # Features times s and alpha times s**2 is the same problem in W / s.
    X, y = load_digits(return_X_y=True)
    X = X[:300].astype(dtype)
    y = y[:300]
    counts = np.bincount(y)
    W, b, _ = fit_multinomial(X, y, counts, alpha=0.1, tol=1e-6)
    for s in (1e-6, 1e12):
        W_s, b_s, n_iter = fit_multinomial(
            X * dtype(s), y, counts, alpha=0.1 * s**2, tol=1e-6
        )
        assert n_iter > 1
        # Compared on the logits: the solver's tolerance leaves weights along
        # nearly constant columns loose, not the class scores.
        logits = X @ W.T + b
        logits_s = (X * dtype(s)) @ W_s.T + b_s
        atol = (1e-4 if dtype == np.float64 else 1e-2) * np.abs(logits).max()
        np.testing.assert_allclose(logits_s, logits, rtol=0, atol=atol)


def test_features_scaled_by_1e12_fit_like_logistic_regression():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X[:600] * 1e12, y[:600], random_state=0, stratify=y[:600]
    )
    with warnings.catch_warnings():
        # Both are nearly unregularised at this scale and may hit max_iter.
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
        head = CRTHead(q=1.0).fit(X_train, y_train)
    assert head.n_iter_ > 1 and np.abs(head.coef_).max() > 0
    assert head.score(X_test, y_test) >= reference - 0.02


def test_large_focal_gamma_still_trains(rng):
    # The focal loss at the start is (2/3)**100 log 3, about 3e-18: with an
    # absolute tolerance the zero start looked converged (n_iter_ = 0).
    y = np.repeat([0, 1, 2], [80, 15, 5])
    F = rng.normal(size=(100, 4)) + 3.0 * np.eye(4)[y]
    head = CRTHead(gamma=100.0, alpha=0.0).fit(F, y)
    assert head.n_iter_ > 1
    assert balanced_accuracy_score(y, head.predict(F)) > 0.9


def test_focal_gamma_that_underflows_at_the_start_is_an_error(rng):
    y = np.repeat([0, 1, 2], [10, 10, 10])
    F = rng.normal(size=(30, 2))
    with pytest.raises(ValueError, match="gamma=10000 is too large"):
        CRTHead(gamma=1e4).fit(F, y)
    # float32 underflows sooner: (2/3)**300 is about 1e-53.
    with pytest.raises(ValueError, match="underflows float32"):
        CRTHead(gamma=300).fit(F.astype(np.float32), y)


def _plain_multinomial_objective(x, F, y, weights, mu, scale, alpha, gamma):
    """fit_multinomial's objective written out directly, in (V, c)."""
    n_classes = int(y.max()) + 1
    V = x[: n_classes * F.shape[1]].reshape(n_classes, -1)
    c = x[n_classes * F.shape[1] :]
    W = V / scale
    logits = (F - mu) @ W.T + c
    return _focal_reference(logits, y, weights, gamma) + 0.5 * alpha * np.sum(W**2)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_multinomial_objective_gradient_matches_finite_differences(rng, gamma):
    F = rng.normal(loc=2.0, size=(20, 3)) * [1.0, 10.0, 0.1]
    y = np.arange(20) % 3
    weights = rng.random(20)
    weights /= weights.sum()
    mu = weights @ F
    scale = np.array([1.0, 10.0, 0.1])
    args = (F, y, weights, mu, scale, 0.3, gamma)
    objective = multinomial_objective(F, y, 3, *args[2:])
    x = rng.normal(size=12)
    value, grad = objective(x)
    assert value == pytest.approx(_plain_multinomial_objective(x, *args))
    numeric = approx_fprime(x, _plain_multinomial_objective, 1e-7, *args)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
