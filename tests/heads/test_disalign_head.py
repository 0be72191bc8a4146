"""DisAlignHead: the forward of the authors' module, the GRW objective's optimum."""

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import approx_fprime, minimize
from scipy.special import expit, log_softmax, softmax
from sklearn import config_context

from ltsk.heads import DisAlignHead
from ltsk.heads._autograd import autograd_objective
from ltsk.heads._disalign import disalign_objective, disalign_torch_loss
from ltsk.heads._solver import balanced_weights

torch = pytest.importorskip("torch")


def _grw_class_weights(counts, rho):
    """The authors' GRWCrossEntropyLoss weights: 1 / ratio**rho, sum = C."""
    ratio = counts / counts.sum()
    weight = 1.0 / ratio**rho
    return weight / weight.sum() * counts.size


def _plain_objective(theta, F, y, W, b, counts, rho, alpha):
    """Class-weighted mean cross-entropy of the DisAlign scores + weight decay."""
    C, d = W.shape
    scale, shift, v, c = (
        theta[:C],
        theta[C : 2 * C],
        theta[2 * C : 2 * C + d],
        theta[-1],
    )
    gate = expit(F @ v + c)[:, None]
    scores = (1 + gate * scale) * (F @ W.T + b) + gate * shift
    r = _grw_class_weights(counts, rho)[y]
    # torch's cross_entropy(weight=r, reduction="mean"): sum r_y ce / sum r_y.
    ce = -log_softmax(scores, axis=1)[np.arange(y.size), y]
    return np.dot(r, ce) / r.sum() + 0.5 * alpha * np.sum(theta**2)


def _theta(head):
    return np.concatenate(
        [
            head.logit_scale_,
            head.logit_bias_,
            head.confidence_coef_,
            [head.confidence_intercept_],
        ]
    )


def test_scores_are_the_official_module_forward(rng, tail_heavy):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head = DisAlignHead().fit(F, y, coef=W, intercept=b)

    # The authors' DisAlignLinear, written out in torch with the fitted values.
    linear = torch.nn.Linear(3, 3).double()
    confidence = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(W))
        linear.bias.copy_(torch.from_numpy(b))
        confidence.weight.copy_(torch.from_numpy(head.confidence_coef_[None, :]))
        confidence.bias.fill_(head.confidence_intercept_)
        x = torch.from_numpy(F)
        logit_before = linear(x)
        gate = confidence(x).sigmoid()
        scale = torch.from_numpy(head.logit_scale_)[None, :]
        bias = torch.from_numpy(head.logit_bias_)[None, :]
        expected = (1 + gate * scale) * logit_before + gate * bias
    np.testing.assert_allclose(head.decision_function(F), expected.numpy(), rtol=1e-10)
    proba = torch.softmax(expected, dim=1).numpy()
    np.testing.assert_allclose(head.predict_proba(F), proba, rtol=1e-10)


@pytest.mark.parametrize("rho", [0.0, 1.2])
def test_fit_is_a_stationary_point_of_the_grw_objective(rng, tail_heavy, rho):
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    alpha = 5e-4
    head = DisAlignHead(rho=rho, alpha=alpha, tol=1e-9, max_iter=500).fit(
        F, y, coef=W, intercept=b
    )
    counts = np.bincount(y).astype(float)
    args = (F, y, W, b, counts, rho, alpha)
    theta = _theta(head)
    start = np.concatenate([np.ones(3), np.zeros(3), np.full(3, 0.1), [0.0]])
    value = _plain_objective(theta, *args)
    grad = approx_fprime(theta, _plain_objective, 1e-7, *args)
    assert np.max(np.abs(grad)) < 1e-4
    assert value < _plain_objective(start, *args) - 0.05
    # A second, independent solver from the same start finds the same minimum.
    other = minimize(_plain_objective, start, args=args, method="BFGS", tol=1e-10)
    np.testing.assert_allclose(value, other.fun, rtol=1e-5)


def test_rho_zero_huge_penalty_is_twice_the_joint_logits(rng, tail_heavy):
    # The penalty pins scale and shift at 0 and v at 0: the gate is 1/2, the
    # scores are the joint logits (1 + 0) z.
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head = DisAlignHead(rho=0.0, alpha=1e8).fit(F, y, coef=W, intercept=b)
    np.testing.assert_allclose(head.decision_function(F), F @ W.T + b, atol=1e-5)


def test_disalign_lifts_tail_recall(check_lifts_tail_recall):
    check_lifts_tail_recall(DisAlignHead())


def test_sample_weight_counts_like_repeated_rows(rng, tail_heavy):
    F, y = tail_heavy(rng, counts=(60, 20, 8))
    weights = rng.integers(0, 3, size=y.size)
    weighted = DisAlignHead(tol=1e-9).fit(F, y, sample_weight=weights)
    repeated = DisAlignHead(tol=1e-9).fit(
        np.repeat(F, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(
        weighted.predict_proba(F), repeated.predict_proba(F), atol=1e-5
    )


def test_float32_and_absent_class(rng, tail_heavy):
    F, y = tail_heavy(rng)
    head = DisAlignHead().fit(F.astype(np.float32), y, classes=np.arange(4))
    scores = head.decision_function(F.astype(np.float32))
    assert scores.dtype == np.float32
    assert np.all(scores[:, 3] == -np.inf)
    assert np.all(np.isfinite(scores[:, :3]))
    assert head.logit_scale_[3] == 0.0


def _objective_problem(rng, n=60, n_classes=4, n_features=5):
    y = np.arange(n) % n_classes
    F = rng.normal(size=(n, n_features)) + np.eye(n_classes, n_features)[y]
    W = rng.normal(size=(n_classes, n_features))
    b = rng.normal(size=n_classes)
    weights = balanced_weights(y, np.bincount(y) * [1.0, 0.5, 2.0, 1.0], -0.2)
    theta = np.concatenate(
        [
            1.0 + 0.3 * rng.normal(size=n_classes),
            0.3 * rng.normal(size=n_classes),
            0.2 * rng.normal(size=n_features),
            [0.1],
        ]
    )
    return F, y, W, b, weights, theta


def _autograd(F, y, W, b, weights, alpha):
    """The device path's objective (torch autograd), here on the CPU."""
    block_loss, penalty, row_bytes = disalign_torch_loss(
        F, W, b, y, weights, alpha, None
    )
    n_classes, n_features = W.shape
    shapes = {
        "scale": (n_classes,),
        "shift": (n_classes,),
        "v": (n_features,),
        "c": (1,),
    }
    return autograd_objective(
        block_loss, shapes, F.shape[0], row_bytes=row_bytes, penalty=penalty
    )


@pytest.mark.parametrize("n_block_rows", [None, 7])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_numpy_objective_equals_the_autograd_objective(rng, n_block_rows, layout):
    F, y, W, b, weights, theta = _objective_problem(rng)
    if layout == "csr":
        F = sparse.csr_array(np.where(np.abs(F) > 0.5, F, 0.0))
    value, grad = disalign_objective(
        F, W, b, y, weights, 1e-2, n_block_rows=n_block_rows
    )(theta)
    expected_value, expected_grad = _autograd(F, y, W, b, weights, 1e-2)(theta)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)


def test_float32_objective_is_the_float64_one_to_float32_precision(rng):
    F, y, W, b, weights, theta = _objective_problem(rng)
    F, W, b = (a.astype(np.float32) for a in (F, W, b))
    value, grad = disalign_objective(F, W, b, y, weights, 1e-2, n_block_rows=7)(theta)
    assert grad.dtype == np.float64
    # The same float32 inputs, evaluated in float64 by torch.
    expected_value, expected_grad = _autograd(F, y, W, b, weights, 1e-2)(theta)
    np.testing.assert_allclose(value, expected_value, rtol=1e-6)
    np.testing.assert_allclose(
        grad, expected_grad, atol=1e-6 * np.max(np.abs(expected_grad))
    )


def test_gradient_matches_finite_differences(rng):
    F, y, W, b, weights, theta = _objective_problem(rng)
    fun = disalign_objective(F, W, b, y, weights, 1e-2, n_block_rows=7)
    _, grad = fun(theta)
    numeric = approx_fprime(theta, lambda z: fun(z)[0], 1e-8)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_float32_fit_is_the_float64_fit(rng, tail_heavy):
    # Float32 logits, float64 scores: L-BFGS runs to the same optimum (a
    # float32 loss stopped it short, 0.02 away in probability here).
    F, y = tail_heavy(rng)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    head64 = DisAlignHead().fit(F, y, coef=W, intercept=b)
    F32 = F.astype(np.float32)
    head32 = DisAlignHead().fit(F32, y, coef=W, intercept=b)
    np.testing.assert_allclose(
        head32.predict_proba(F32), head64.predict_proba(F), atol=1e-4
    )


def test_scores_in_row_blocks_are_the_plain_scores(rng, tail_heavy):
    F, y = tail_heavy(rng)
    head = DisAlignHead().fit(F, y)
    gate = expit(F @ head.confidence_coef_ + head.confidence_intercept_)[:, None]
    z = F @ head.coef_.T + head.intercept_
    expected = (1 + gate * head.logit_scale_) * z + gate * head.logit_bias_
    # 1 KiB of working memory: blocks of 21 rows for 3 classes.
    with config_context(working_memory=2**-10):
        scores = head.decision_function(F)
        proba = head.predict_proba(F)
        predicted = head.predict(F)
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    np.testing.assert_allclose(proba, softmax(expected, axis=1), rtol=1e-10)
    np.testing.assert_array_equal(predicted, np.argmax(expected, axis=1))
