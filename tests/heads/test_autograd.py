"""The torch-autograd L-BFGS path shared by the heads that are not linear."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.exceptions import ConvergenceWarning

from ltsk.heads import LWSHead
from ltsk.heads._autograd import autograd_objective, fit_autograd, host_block_rows
from ltsk.heads._solver import balanced_weights

torch = pytest.importorskip("torch")


def _problem(rng, counts=(120, 40, 12, 5), n_features=5):
    y = np.repeat(np.arange(len(counts)), counts)
    F = rng.normal(size=(y.size, n_features))
    F[np.arange(y.size), y % n_features] += 2.0
    coef = (
        rng.normal(size=(len(counts), n_features))
        * np.linspace(2, 0.5, len(counts))[:, None]
    )
    intercept = rng.normal(size=len(counts))
    return F, y, coef, intercept


def _lws_torch(F, y, coef, intercept, weights, alpha):
    logits = torch.from_numpy(F @ coef.T + intercept)
    target = torch.from_numpy(y)
    w = torch.from_numpy(weights)

    def block_loss(params, rows):
        scaled = logits[rows] * params["f"]
        ce = torch.nn.functional.cross_entropy(scaled, target[rows], reduction="none")
        return torch.dot(w[rows], ce)

    def penalty(params):
        return 0.5 * alpha * torch.sum(params["f"] ** 2)

    return block_loss, penalty


@pytest.mark.parametrize("working_memory", [None, 1e-4])
def test_autograd_lws_reaches_the_numpy_lws_optimum(rng, working_memory):
    import sklearn

    F, y, coef, intercept = _problem(rng)
    counts = np.bincount(y)
    alpha = 1e-3
    block_loss, penalty = _lws_torch(
        F, y, coef, intercept, balanced_weights(y, counts, 0.0), alpha
    )
    # working_memory=1e-4 MiB forces many row blocks: the sum must not change.
    with sklearn.config_context(working_memory=working_memory or 1024):
        params, n_iter = fit_autograd(
            block_loss,
            {"f": np.ones(4)},
            y.size,
            row_bytes=4 * 8,
            penalty=penalty,
            max_iter=200,
            tol=1e-9,
            owner="test",
        )
    head = LWSHead(alpha=alpha, tol=1e-9, max_iter=200).fit(
        F, y, coef=coef, intercept=intercept
    )
    assert n_iter > 0
    np.testing.assert_allclose(params["f"], head.scales_, rtol=1e-5)
    assert np.ptp(head.scales_) > 0.1  # a non-trivial optimum


def test_autograd_gradient_matches_finite_differences(rng):
    F, y, coef, intercept = _problem(rng)
    weights = balanced_weights(y, np.bincount(y), 0.5)
    logits = torch.from_numpy(F @ coef.T + intercept)
    target = torch.from_numpy(y)
    w = torch.from_numpy(weights)

    # Two parameters of different shapes, used non-linearly.
    def block_loss(params, rows):
        gate = torch.sigmoid(torch.from_numpy(F[rows]) @ params["v"])
        scores = logits[rows] * (1 + gate[:, None] * params["a"])
        ce = torch.nn.functional.cross_entropy(scores, target[rows], reduction="none")
        return torch.dot(w[rows], ce)

    fun = autograd_objective(
        block_loss,
        {"a": (4,), "v": (5,)},
        y.size,
        row_bytes=8,
        penalty=lambda p: 0.1 * torch.sum(p["v"] ** 2),
    )
    x = rng.normal(size=9) * 0.3
    value, grad = fun(x)
    numeric = approx_fprime(x, lambda z: fun(z)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)
    # The value itself, from a plain numpy evaluation.
    from scipy.special import log_softmax

    gate = 1 / (1 + np.exp(-(F @ x[4:])))
    scores = (F @ coef.T + intercept) * (1 + gate[:, None] * x[:4])
    expected = -weights @ log_softmax(scores, axis=1)[np.arange(y.size), y]
    np.testing.assert_allclose(value, expected + 0.1 * np.sum(x[4:] ** 2))


def test_autograd_abnormal_stops(rng):
    F, y, coef, intercept = _problem(rng)
    block_loss, penalty = _lws_torch(
        F, y, coef, intercept, balanced_weights(y, np.bincount(y), 0.0), 0.0
    )
    kwargs = {"row_bytes": 32, "penalty": penalty, "tol": 1e-12, "owner": "MyHead"}
    with pytest.warns(ConvergenceWarning, match="MyHead.*max_iter=1"):
        fit_autograd(block_loss, {"f": np.ones(4)}, y.size, max_iter=1, **kwargs)
    with pytest.raises(FloatingPointError, match="MyHead"):
        fit_autograd(
            block_loss, {"f": np.full(4, np.nan)}, y.size, max_iter=5, **kwargs
        )


def test_import_ltsk_heads_does_not_import_torch(run_python):
    out = run_python(
        "import sys, ltsk.heads, ltsk.heads._autograd; print('torch' in sys.modules)"
    )
    assert out.strip() == "False"


def test_host_blocks_are_a_third_of_a_gpu_block():
    assert host_block_rows(900, None) == 300
    assert host_block_rows(900, torch.device("cpu")) == 300
    assert host_block_rows(900, torch.device("cuda:0")) == 900
    # Not below 64 rows, nor above the budget's own block.
    assert host_block_rows(150, None) == 64
    assert host_block_rows(40, None) == 40
