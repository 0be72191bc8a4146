"""The shared softmax loss (CE / focal) and the L-BFGS multinomial solver."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from ltsk.heads._solver import fit_multinomial, softmax_loss_grad


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
