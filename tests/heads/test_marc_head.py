"""MARCHead: the forward of the authors' module, the balanced-softmax optimum."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax

from ltsk.heads import MARCHead

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
