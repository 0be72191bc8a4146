"""solver="sgd" of CRTHead and LWSHead: same optimum as L-BFGS, sampling, errors."""

import dask.array as da
import numpy as np
import pytest
from scipy import sparse, stats
from scipy.special import logsumexp

from ltsk.heads import CRTHead, LWSHead
from ltsk.heads._lws import lws_objective
from ltsk.heads._sgd import (
    class_aware_batches,
    lws_batch_grad,
    multinomial_batch_grad,
)
from ltsk.heads._solver import balanced_weights, multinomial_objective

# Relative gap to the L-BFGS optimum that SGD must reach on the small problem
# below, and the share of training predictions on which the two must agree.
GAP = 1e-3
AGREEMENT = 0.99


def _problem(seed=0):
    """Five classes of 200 down to 10 rows, in shifted and scaled units."""
    rng = np.random.default_rng(seed)
    counts = np.array([200, 100, 50, 20, 10])
    y = np.repeat(np.arange(counts.size), counts)
    means = 1.5 * rng.normal(size=(counts.size, 4))
    F = 5.0 * (rng.normal(size=(y.size, 4)) + means[y]) + 3.0
    return F, y


def _class_weights(y, q):
    """Sample weights n_y^(q-1), normalised: class j gets weight ~ n_j^q."""
    counts = np.bincount(y)
    weights = counts[y] ** (q - 1.0)
    return weights / weights.sum()


def _plain_crt_objective(W, b, F, y, q, alpha):
    logits = F @ W.T + b
    log_p = logits - logsumexp(logits, axis=1, keepdims=True)
    loss = -np.dot(_class_weights(y, q), log_p[np.arange(y.size), y])
    return loss + 0.5 * alpha * np.sum(W * W)


def _plain_lws_objective(f, logits, y, q, alpha):
    scaled = logits * f
    log_p = scaled - logsumexp(scaled, axis=1, keepdims=True)
    loss = -np.dot(_class_weights(y, q), log_p[np.arange(y.size), y])
    return loss + 0.5 * alpha * np.sum(f**2)


@pytest.mark.parametrize("q", [0.0, 1.0])
def test_crt_sgd_reaches_the_lbfgs_optimum(q):
    F, y = _problem()
    alpha = 0.1
    exact = CRTHead(q=q, alpha=alpha, tol=1e-9, max_iter=5000).fit(F, y)
    sgd = CRTHead(
        q=q, alpha=alpha, solver="sgd", max_epochs=400, batch_size=128, random_state=0
    ).fit(F, y)
    optimum = _plain_crt_objective(exact.coef_, exact.intercept_, F, y, q, alpha)
    reached = _plain_crt_objective(sgd.coef_, sgd.intercept_, F, y, q, alpha)
    assert optimum <= reached < optimum * (1 + GAP)
    assert np.mean(sgd.predict(F) == exact.predict(F)) >= AGREEMENT
    assert sgd.n_iter_ == 400


def test_crt_sgd_ten_epochs_is_far_from_the_optimum():
    # The gap above is reached by the epochs, not given by the problem.
    F, y = _problem()
    exact = CRTHead(alpha=0.1, tol=1e-9, max_iter=5000).fit(F, y)
    short = CRTHead(alpha=0.1, solver="sgd", max_epochs=2, random_state=0).fit(F, y)
    optimum = _plain_crt_objective(exact.coef_, exact.intercept_, F, y, 0.0, 0.1)
    reached = _plain_crt_objective(short.coef_, short.intercept_, F, y, 0.0, 0.1)
    assert reached > optimum * (1 + 10 * GAP)


def test_lws_sgd_reaches_the_lbfgs_optimum():
    F, y = _problem()
    joint = CRTHead(q=1.0, alpha=1.0).fit(F, y)
    W, b = joint.coef_, joint.intercept_
    q, alpha = 0.0, 0.1
    exact = LWSHead(q=q, alpha=alpha, tol=1e-10, max_iter=1000)
    exact.fit(F, y, coef=W, intercept=b)
    sgd = LWSHead(
        q=q, alpha=alpha, solver="sgd", max_epochs=400, batch_size=128, random_state=0
    ).fit(F, y, coef=W, intercept=b)
    logits = F @ W.T + b
    optimum = _plain_lws_objective(exact.scales_, logits, y, q, alpha)
    reached = _plain_lws_objective(sgd.scales_, logits, y, q, alpha)
    assert optimum <= reached < optimum * (1 + GAP)
    assert np.mean(sgd.predict(F) == exact.predict(F)) >= AGREEMENT
    # The optimum is away from the start f = 1.
    assert _plain_lws_objective(np.ones(5), logits, y, q, alpha) > optimum * 1.05
    assert sgd.n_iter_ == 400


def test_batch_gradient_over_all_rows_is_the_full_gradient():
    # With q=1 every row has weight 1/n, so the plain mean over all rows is
    # the full objective: the batch gradients must equal the L-BFGS ones.
    F, y = _problem()
    n_classes, n_features = 5, F.shape[1]
    weights = np.full(y.size, 1.0 / y.size)
    rng = np.random.default_rng(2)
    mu = rng.normal(size=n_features)
    scale = rng.uniform(0.5, 2.0, size=n_features)
    x = rng.normal(size=n_classes * (n_features + 1))
    _, full = multinomial_objective(F, y, n_classes, weights, mu, scale, 0.3, 0.0)(x)
    grad = np.empty_like(x)
    for rows in (F, sparse.csr_matrix(F)):
        batch = multinomial_batch_grad(rows, y, n_classes, mu, scale, 0.3, y.size)
        grad[:] = np.nan
        batch(x, np.arange(y.size), grad)
        np.testing.assert_allclose(grad, full, rtol=1e-10)

    W, b = rng.normal(size=(n_classes, n_features)), rng.normal(size=n_classes)
    root = rng.uniform(0.5, 2.0, size=n_classes)
    g = rng.normal(size=n_classes)
    f = 1.0 + g / root
    _, full_f = lws_objective(F, W, b, y, weights, 0.3)(f)
    batch_f = np.empty(n_classes)
    lws_batch_grad(F, W, b, y, 0.3, root, y.size)(g, np.arange(y.size), batch_f)
    # The chain rule of f = 1 + g / root.
    np.testing.assert_allclose(batch_f, full_f / root, rtol=1e-10)


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_class_aware_sampling_frequencies(q):
    counts = np.array([500, 120, 30, 8, 2])
    y = np.repeat(np.arange(counts.size), counts)
    weights = balanced_weights(y, counts, q)
    n_draws = 40_000
    drawn = np.concatenate(
        list(class_aware_batches(weights, 512, n_draws, np.random.RandomState(0)))
    )
    assert drawn.size == n_draws
    observed = np.bincount(y[drawn], minlength=counts.size)
    expected = n_draws * counts**q / np.sum(counts**q)
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # Within a class, rows are drawn uniformly.
    tail_rows = np.bincount(drawn[y[drawn] == 2] - counts[:2].sum(), minlength=30)
    assert stats.chisquare(tail_rows).pvalue > 1e-3


def test_sampling_follows_sample_weights_and_skips_zero_weights():
    weights = np.array([0.0, 0.5, 0.0, 0.25, 0.25, 0.0])
    drawn = np.concatenate(
        list(class_aware_batches(weights, 100, 20_000, np.random.RandomState(0)))
    )
    frequencies = np.bincount(drawn, minlength=6) / drawn.size
    assert frequencies[[0, 2, 5]].sum() == 0
    np.testing.assert_allclose(frequencies, weights, atol=0.015)


@pytest.mark.parametrize("head", [CRTHead, LWSHead])
def test_random_state_makes_the_fit_reproducible(head):
    F, y = _problem()
    fits = [head(solver="sgd", random_state=seed).fit(F, y) for seed in (3, 3, 4)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert not np.array_equal(fits[0].coef_, fits[2].coef_)
    rng = np.random.RandomState(3)
    from_instance = head(solver="sgd", random_state=rng).fit(F, y)
    np.testing.assert_array_equal(from_instance.coef_, fits[0].coef_)


def test_sgd_keeps_float32_and_accepts_sparse_input():
    F, y = _problem()
    F32 = F.astype(np.float32)
    head = CRTHead(solver="sgd", random_state=0).fit(F32, y)
    assert head.coef_.dtype == np.float32
    dense = CRTHead(solver="sgd", random_state=0).fit(F, y)
    csr = CRTHead(solver="sgd", random_state=0).fit(sparse.csr_matrix(F), y)
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    lws = LWSHead(solver="sgd", random_state=0).fit(F32, y)
    assert lws.coef_.dtype == np.float32


def test_sgd_fits_a_memmap_like_the_array_in_memory(tmp_path):
    F, y = _problem()
    path = tmp_path / "F.npy"
    np.save(path, F.astype(np.float32))
    mapped = np.load(path, mmap_mode="r")
    for head in (CRTHead, LWSHead):
        from_map = head(solver="sgd", random_state=0).fit(mapped, y)
        in_memory = head(solver="sgd", random_state=0).fit(np.load(path), y)
        np.testing.assert_array_equal(from_map.coef_, in_memory.coef_)


def test_sgd_uses_sample_weights_as_repeated_rows():
    # Integer weights are repeated rows: same class totals, same objective.
    F, y = _problem()
    repeats = np.random.default_rng(5).integers(1, 4, size=y.size)
    alpha = 0.1
    weighted = CRTHead(
        alpha=alpha, solver="sgd", max_epochs=200, batch_size=128, random_state=0
    ).fit(F, y, sample_weight=repeats)
    F_rep, y_rep = np.repeat(F, repeats, axis=0), np.repeat(y, repeats)
    exact = CRTHead(alpha=alpha, tol=1e-9, max_iter=5000).fit(F_rep, y_rep)
    optimum = _plain_crt_objective(
        exact.coef_, exact.intercept_, F_rep, y_rep, 0, alpha
    )
    reached = _plain_crt_objective(
        weighted.coef_, weighted.intercept_, F_rep, y_rep, 0, alpha
    )
    assert optimum <= reached < optimum * (1 + 2 * GAP)


@pytest.mark.parametrize(
    ("head", "params", "match"),
    [
        (CRTHead, {"max_norm": 1.0}, "solver='sgd' does not support max_norm"),
        (CRTHead, {"gamma": 2.0}, "solver='sgd' does not support gamma"),
        (CRTHead, {"smooth_head": 0.3}, "solver='sgd' does not support smooth"),
        (LWSHead, {"smooth_tail": 0.2}, "solver='sgd' does not support smooth"),
        (CRTHead, {"device": "cpu"}, "solver='sgd' runs in numpy only"),
        (LWSHead, {"device": "cpu"}, "solver='sgd' runs in numpy only"),
    ],
)
def test_unsupported_combinations_raise(head, params, match):
    F, y = _problem()
    with pytest.raises(ValueError, match=match):
        head(solver="sgd", **params).fit(F, y)
    # The same options fit with the default solver.
    head(**params).fit(F, y)


@pytest.mark.parametrize("head", [CRTHead, LWSHead])
def test_dask_input_raises_with_sgd(head):
    F, y = _problem()
    with pytest.raises(ValueError, match=r"solver='sgd'.*dask"):
        head(solver="sgd").fit(da.from_array(F, chunks=(200, 4)), y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"solver": "adam"}, "'solver' parameter"),
        ({"solver": "sgd", "max_epochs": 0}, "'max_epochs' parameter"),
        ({"solver": "sgd", "batch_size": 0}, "'batch_size' parameter"),
        ({"solver": "sgd", "learning_rate": 0.0}, "'learning_rate' parameter"),
    ],
)
def test_invalid_sgd_parameters_raise(params, match):
    F, y = _problem()
    with pytest.raises(ValueError, match=match):
        CRTHead(**params).fit(F, y)


def test_lbfgs_path_ignores_the_sgd_parameters():
    F, y = _problem()
    default = CRTHead().fit(F, y)
    other = CRTHead(max_epochs=3, batch_size=7, learning_rate=9.0, random_state=1)
    np.testing.assert_array_equal(other.fit(F, y).coef_, default.coef_)
