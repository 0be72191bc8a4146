"""MARCHead: the forward of the authors' module, the balanced-softmax optimum."""

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import approx_fprime, minimize
from scipy.special import log_softmax

from ltsk.heads import MARCHead
from ltsk.heads._autograd import autograd_objective
from ltsk.heads._marc import marc_objective, marc_torch_loss
from ltsk.heads._solver import balanced_weights

torch = pytest.importorskip("torch")


def _plain_objective(theta, F, y, W, b, alpha):
    """Mean balanced-softmax cross-entropy of omega z + beta ||w|| + penalty."""
    C = W.shape[0]
    omega, beta = theta[:C], theta[C:]
    counts = np.bincount(y, minlength=C)
    scores = omega * (F @ W.T + b) + beta * np.linalg.norm(W, axis=1)
    # Balanced softmax: p_j oc n_j exp(s_j).
    log_p = log_softmax(scores + np.log(counts), axis=1)
    loss = -np.mean(log_p[np.arange(y.size), y])
    return loss + 0.5 * alpha * (np.sum((omega - 1) ** 2) + np.sum(beta**2))


def test_scores_are_the_official_module_forward(rng, tail_heavy):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head = MARCHead().fit(F, y, coef=W, intercept=b)
    # The authors' forward: omega * z + beta * ||w|| (norm without gradient).
    with torch.no_grad():
        weight = torch.from_numpy(W)
        z = torch.nn.functional.linear(torch.from_numpy(F), weight, torch.from_numpy(b))
        w_norm = torch.norm(weight, dim=1)
        omega = torch.from_numpy(head.omega_)[None, :]
        beta = torch.from_numpy(head.beta_)[None, :]
        expected = omega * z + beta * w_norm
    np.testing.assert_allclose(head.decision_function(F), expected.numpy(), rtol=1e-10)
    np.testing.assert_allclose(head.coef_, head.omega_[:, None] * W)
    np.testing.assert_allclose(
        head.intercept_, head.omega_ * b + head.beta_ * np.linalg.norm(W, axis=1)
    )


@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_fit_is_the_optimum_of_the_balanced_softmax_objective(rng, tail_heavy, alpha):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head = MARCHead(alpha=alpha, tol=1e-10, max_iter=500).fit(F, y, coef=W, intercept=b)
    start = np.concatenate([np.ones(3), np.zeros(3)])
    # Convex: an independent solver on the plain objective finds the same point.
    other = minimize(
        _plain_objective, start, args=(F, y, W, b, alpha), method="BFGS", tol=1e-12
    )
    np.testing.assert_allclose(head.omega_, other.x[:3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(head.beta_, other.x[3:], rtol=1e-4, atol=1e-5)


def test_huge_penalty_is_the_joint_classifier(rng, tail_heavy):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head = MARCHead(alpha=1e8).fit(F, y, coef=W, intercept=b)
    np.testing.assert_allclose(head.omega_, 1.0, atol=1e-6)
    np.testing.assert_allclose(head.beta_, 0.0, atol=1e-6)
    np.testing.assert_allclose(head.decision_function(F), F @ W.T + b, atol=1e-5)


def test_marc_lifts_tail_recall(check_lifts_tail_recall):
    check_lifts_tail_recall(MARCHead())


def test_sample_weight_counts_like_repeated_rows(rng, tail_heavy):
    F, y = tail_heavy(rng, counts=(60, 20, 8))
    weights = rng.integers(0, 3, size=y.size)
    weighted = MARCHead(tol=1e-10).fit(F, y, sample_weight=weights)
    repeated = MARCHead(tol=1e-10).fit(
        np.repeat(F, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.omega_, repeated.omega_, rtol=1e-5)
    np.testing.assert_allclose(weighted.beta_, repeated.beta_, atol=1e-5)


def test_float32_and_absent_class(rng, tail_heavy):
    F, y = tail_heavy(rng)
    head = MARCHead().fit(F.astype(np.float32), y, classes=np.arange(4))
    assert head.coef_.dtype == np.float32
    scores = head.decision_function(F.astype(np.float32))
    assert np.all(scores[:, 3] == -np.inf)
    assert head.omega_[3] == 1.0 and head.beta_[3] == 0.0


def _objective_problem(rng, n=60, n_classes=4, n_features=5):
    y = np.arange(n) % n_classes
    F = rng.normal(size=(n, n_features)) + np.eye(n_classes, n_features)[y]
    W = rng.normal(size=(n_classes, n_features))
    b = rng.normal(size=n_classes)
    counts = np.bincount(y) * np.array([1.0, 0.5, 2.0, 1.0])
    weights = balanced_weights(y, counts, 1.0)
    log_prior = np.log(counts / counts.sum())
    x = np.concatenate(
        [1.0 + 0.3 * rng.normal(size=n_classes), 0.3 * rng.normal(size=n_classes)]
    )
    return F, y, W, b, weights, log_prior, x


def _autograd(F, y, W, b, weights, log_prior, alpha):
    """The device path's objective (torch autograd), here on the CPU."""
    block_loss, penalty, row_bytes = marc_torch_loss(
        F, W, b, y, weights, log_prior, alpha, None
    )
    shapes = {"omega": (W.shape[0],), "beta": (W.shape[0],)}
    return autograd_objective(
        block_loss, shapes, F.shape[0], row_bytes=row_bytes, penalty=penalty
    )


@pytest.mark.parametrize("n_block_rows", [None, 7])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_numpy_objective_equals_the_autograd_objective(rng, n_block_rows, layout):
    F, y, W, b, weights, log_prior, x = _objective_problem(rng)
    if layout == "csr":
        F = sparse.csr_array(np.where(np.abs(F) > 0.5, F, 0.0))
    args = (F, W, b, y, weights, log_prior, 1e-2)
    value, grad = marc_objective(*args, n_block_rows=n_block_rows)(x)
    expected_value, expected_grad = _autograd(F, y, W, b, weights, log_prior, 1e-2)(x)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)


def test_float32_objective_is_the_float64_one_to_float32_precision(rng):
    F, y, W, b, weights, log_prior, x = _objective_problem(rng)
    F, W, b = (a.astype(np.float32) for a in (F, W, b))
    args = (F, W, b, y, weights, log_prior, 1e-2)
    value, grad = marc_objective(*args, n_block_rows=7)(x)
    assert grad.dtype == np.float64
    # The same float32 inputs, evaluated in float64 by torch.
    expected_value, expected_grad = _autograd(F, y, W, b, weights, log_prior, 1e-2)(x)
    np.testing.assert_allclose(value, expected_value, rtol=1e-6)
    np.testing.assert_allclose(
        grad, expected_grad, atol=1e-6 * np.max(np.abs(expected_grad))
    )


def test_gradient_matches_finite_differences(rng):
    F, y, W, b, weights, log_prior, x = _objective_problem(rng)
    fun = marc_objective(F, W, b, y, weights, log_prior, 1e-2, n_block_rows=7)
    _, grad = fun(x)
    numeric = approx_fprime(x, lambda z: fun(z)[0], 1e-8)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_float32_fit_is_the_float64_fit(rng, tail_heavy):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head64 = MARCHead().fit(F, y, coef=W, intercept=b)
    head32 = MARCHead().fit(F.astype(np.float32), y, coef=W, intercept=b)
    np.testing.assert_allclose(head32.omega_, head64.omega_, rtol=1e-5)
    np.testing.assert_allclose(head32.beta_, head64.beta_, atol=1e-5)
