"""LWSHead with label-aware smoothing: optimum against an independent solver
of the smoothed objective, finite-difference gradient, neutral setting."""

import numpy as np
import pytest
from scipy.optimize import check_grad, minimize
from sklearn import config_context, get_config

from ltsk.heads import LWSHead
from ltsk.heads._constrained import with_linear_term
from ltsk.heads._lws import _smoothing_gradient, lws_objective
from ltsk.heads._solver import balanced_weights
from ltsk.losses import label_aware_smoothing


def _data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [70, 20, 6])
    F = rng.normal(size=(y.size, 3)) + 2.0 * np.eye(3)[y]
    coef = rng.normal(size=(3, 3)) + 2.0 * np.eye(3)
    intercept = np.array([0.5, 0.0, -0.5])
    return F, y, coef, intercept


def _plain(F, y, coef, intercept, q, alpha, eps):
    """The smoothed LWS objective in f, straight from the formula."""
    counts = np.bincount(y).astype(float)
    s = counts[y] ** (q - 1.0)
    s /= s.sum()
    z = F @ coef.T + intercept
    target = np.zeros_like(z) + (eps[y] / 3)[:, None]
    target[np.arange(y.size), y] += 1 - eps[y]

    def fun(f):
        a = z * f
        a = a - a.max(axis=1, keepdims=True)
        log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
        return -np.sum(s[:, None] * target * log_p) + 0.5 * alpha * np.sum(f**2)

    return fun


@pytest.mark.parametrize("shape", ["concave", "convex"])
def test_matches_independent_optimum(shape):
    F, y, coef, intercept = _data()
    head = LWSHead(
        alpha=1e-2, smooth_head=0.4, smooth_tail=0.1, smooth_shape=shape, tol=1e-10
    ).fit(F, y, coef=coef, intercept=intercept)
    eps = label_aware_smoothing(np.bincount(y), shape=shape)
    np.testing.assert_allclose(head.smoothing_, eps)
    fun = _plain(F, y, coef, intercept, 0.0, 1e-2, eps)
    ref = minimize(
        fun,
        np.ones(3),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000},
    )
    np.testing.assert_allclose(head.scales_, ref.x, atol=1e-5)
    # and it differs from the unsmoothed scales
    plain = LWSHead(alpha=1e-2, tol=1e-10).fit(F, y, coef=coef, intercept=intercept)
    assert np.max(np.abs(plain.scales_ - head.scales_)) > 1e-3


@pytest.mark.parametrize("working_memory", [None, 1e-4])
def test_gradient_finite_differences(working_memory):
    # working_memory=1e-4 MiB puts a few rows in each block, so the smoothing
    # gradient and the objective are summed over many row blocks.
    F, y, coef, intercept = _data(1)
    weights = balanced_weights(y, np.bincount(y), 0.5)
    eps = label_aware_smoothing(np.bincount(y))[y]
    with config_context(
        working_memory=working_memory or get_config()["working_memory"]
    ):
        objective = with_linear_term(
            lws_objective(F, coef, intercept, y, weights, 0.1),
            _smoothing_gradient(F, coef, intercept, y, weights * eps),
        )
    fun = _plain(F, y, coef, intercept, 0.5, 0.1, label_aware_smoothing(np.bincount(y)))
    rng = np.random.default_rng(0)
    for _ in range(3):
        f = 1 + 0.3 * rng.normal(size=3)
        assert objective(f)[0] == pytest.approx(fun(f), rel=1e-12)
        error = check_grad(lambda v: objective(v)[0], lambda v: objective(v)[1], f)
        assert error < 1e-6


def test_zero_smoothing_is_identical():
    F, y, coef, intercept = _data(2)
    base = LWSHead().fit(F, y, coef=coef, intercept=intercept)
    same = LWSHead(smooth_head=0.0, smooth_tail=0.0).fit(
        F, y, coef=coef, intercept=intercept
    )
    np.testing.assert_array_equal(base.scales_, same.scales_)
    np.testing.assert_array_equal(same.smoothing_, 0.0)


def test_bad_parameters():
    F, y, _, _ = _data(3)
    with pytest.raises(ValueError, match="smooth_tail"):
        LWSHead(smooth_tail=2.0).fit(F, y)
    with pytest.raises(ValueError, match="smooth_shape"):
        LWSHead(smooth_shape="sine").fit(F, y)
