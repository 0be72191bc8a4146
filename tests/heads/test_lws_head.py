"""LWSHead: identities with the joint classifier, tail re-balancing."""

import numpy as np
import pytest
from scipy.optimize import check_grad, minimize
from scipy.special import logsumexp
from sklearn.metrics import recall_score

from ltsk.heads import CRTHead, LWSHead
from ltsk.heads._lws import lws_objective


def _tail_heavy(rng, counts=(400, 80, 16)):
    y = np.repeat(np.arange(len(counts)), counts)
    F = rng.normal(size=(y.size, 3)) + 1.5 * np.eye(3)[y]
    return F, y


def test_huge_penalty_shrinks_along_the_gradient_at_zero(rng):
    """Weight decay towards 0: f -> -g(0) / alpha as alpha grows.

    At f = 0 every class has probability 1/C, so the gradient of the
    class-balanced loss is g_j = sum_i s_i (1/C - [y_i = j]) z_ij, written out
    here by hand.
    """
    F, y = _tail_heavy(rng)
    W = rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    alpha = 1e6
    head = LWSHead(alpha=alpha, tol=1e-12).fit(F, y, coef=W, intercept=b)
    z = F @ W.T + b
    s = 1.0 / np.bincount(y)[y]
    s /= s.sum()
    g = (s[:, None] * (1.0 / 3 - np.eye(3)[y]) * z).sum(axis=0)
    np.testing.assert_allclose(head.scales_, -g / alpha, rtol=1e-4)
    np.testing.assert_allclose(
        head.decision_function(F), z * head.scales_, rtol=1e-8, atol=1e-14
    )


def test_scores_are_scaled_joint_logits(rng):
    F, y = _tail_heavy(rng)
    W = rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    head = LWSHead().fit(F, y, coef=W, intercept=b)
    expected = (F @ W.T + b) * head.scales_
    np.testing.assert_allclose(head.decision_function(F), expected, rtol=1e-10)
    np.testing.assert_allclose(head.coef_, head.scales_[:, None] * W)
    np.testing.assert_allclose(head.intercept_, head.scales_ * b)
    assert head.n_iter_ >= 1


def test_learned_scales_lift_tail_recall(rng):
    F, y = _tail_heavy(rng)
    F_test, y_test = _tail_heavy(np.random.default_rng(1), counts=(300, 300, 300))
    joint = CRTHead(q=1.0, alpha=1e-4).fit(F, y)
    head = LWSHead(q=0.0).fit(F, y, coef=joint.coef_, intercept=joint.intercept_)
    joint_recall = recall_score(y_test, joint.predict(F_test), average=None)
    lws_recall = recall_score(y_test, head.predict(F_test), average=None)
    assert lws_recall[2] > joint_recall[2] + 0.1
    assert head.scales_[2] != 1.0
    # Unpenalised and instance-balanced, LWS stays close to the joint
    # classifier (itself the instance-balanced optimum, up to its small alpha).
    ib = LWSHead(q=1.0, alpha=0.0).fit(
        F, y, coef=joint.coef_, intercept=joint.intercept_
    )
    np.testing.assert_allclose(ib.scales_, 1.0, atol=0.05)


def _plain_lws_objective(f, logits, y, weights, alpha):
    """The LWS objective written out directly: logits are (n, C)."""
    scaled = logits * f
    log_p = scaled - logsumexp(scaled, axis=1, keepdims=True)
    return -np.dot(weights, log_p[np.arange(y.size), y]) + 0.5 * alpha * np.sum(f**2)


def test_scales_match_an_independent_minimiser(rng):
    F, y = _tail_heavy(rng)
    W = rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    q, alpha = 0.5, 1e-2
    head = LWSHead(q=q, alpha=alpha, tol=1e-10).fit(F, y, coef=W, intercept=b)
    counts = np.bincount(y)
    weights = counts[y] ** (q - 1.0)
    weights /= weights.sum()
    args = (F @ W.T + b, y, weights, alpha)
    reference = minimize(_plain_lws_objective, np.ones(3), args=args, method="BFGS")
    assert reference.success
    np.testing.assert_allclose(head.scales_, reference.x, rtol=1e-4)


def test_lws_gradient_matches_finite_differences(rng):
    F, y = _tail_heavy(rng, counts=(40, 12, 5))
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    logits = F @ W.T + b
    weights = rng.random(y.size)
    weights /= weights.sum()
    objective = lws_objective(F, W, b, y, weights, 0.3)
    f = rng.uniform(0.5, 2.0, size=3)
    value, _ = objective(f)
    args = (logits, y, weights, 0.3)
    assert value == pytest.approx(_plain_lws_objective(f, *args))
    assert (
        check_grad(_plain_lws_objective, lambda f, *a: objective(f)[1], f, *args) < 1e-6
    )


def test_q_above_one_is_rejected(rng):
    F, y = _tail_heavy(rng)
    with pytest.raises(ValueError, match="'q' parameter"):
        LWSHead(q=2).fit(F, y)


def test_start_scale_is_the_best_common_scale(rng):
    """On a problem small enough to be sampled whole, the start minimises the
    plain objective along f = t * 1 (found here by a grid in log t)."""
    from ltsk.heads._lws import start_scale

    F, y = _tail_heavy(rng)
    W = 3.0 * rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    weights = 1.0 / np.bincount(y)[y]
    weights /= weights.sum()
    alpha = 1e-2
    t = start_scale(F, W, b, weights, y, alpha)
    logits = F @ W.T + b
    grid = np.exp(np.linspace(np.log(1e-3), np.log(10.0), 4001))
    values = [
        _plain_lws_objective(np.full(3, s), logits, y, weights, alpha) for s in grid
    ]
    best = grid[int(np.argmin(values))]
    np.testing.assert_allclose(t, best, rtol=5e-3)
    assert t != 1.0


def test_start_scale_needs_weight_on_the_sampled_rows(rng):
    from ltsk.heads._lws import start_scale

    F, y = _tail_heavy(rng)
    W = rng.normal(size=(3, 3))
    assert start_scale(F, W, np.zeros(3), np.zeros(y.size), y, 1e-2) == 1.0


def test_start_does_not_change_the_optimum(rng):
    """L-BFGS from the common scale reaches the optimum of a solve from f = 1."""
    import ltsk.heads._lws as lws

    F, y = _tail_heavy(rng)
    W = 4.0 * rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    head = LWSHead(tol=1e-10).fit(F, y, coef=W, intercept=b)
    counts = np.bincount(y)
    weights = 1.0 / counts[y]
    weights /= weights.sum()
    objective = lws_objective(F, W, b, y, weights, head.alpha)
    assert lws.start_scale(F, W, b, weights, y, head.alpha) != 1.0
    from_one = minimize(objective, np.ones(3), jac=True, method="L-BFGS-B", tol=1e-12)
    np.testing.assert_allclose(head.scales_, from_one.x, rtol=1e-5)
