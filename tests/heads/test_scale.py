"""Heads at scale: row-block objectives, bounded memory, sparse input."""

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning

from ltsk.heads import HEADS, CRTHead, DisAlignHead, LWSHead, MARCHead, NCMHead
from ltsk.heads._lws import lws_objective
from ltsk.heads._solver import (
    _column_scales,
    minimize_lbfgs,
    multinomial_objective,
    weighted_mean,
)


def _problem(rng, n=203, d=5, n_classes=4, dtype=np.float64):
    y = rng.integers(0, n_classes, size=n)
    F = (rng.normal(size=(n, d)) + 2.0 * rng.normal(size=(n_classes, d))[y]).astype(
        dtype
    )
    weights = rng.random(n)
    return F, y, weights / weights.sum()


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("n_block_rows", [1, 7, 64, 202])
def test_multinomial_objective_is_the_same_in_row_blocks(rng, gamma, n_block_rows):
    F, y, weights = _problem(rng)
    mu = weights @ F
    scale = rng.uniform(0.5, 2.0, size=F.shape[1])
    args = (F, y, 4, weights, mu, scale, 0.1, gamma)
    x = rng.normal(size=4 * F.shape[1] + 4)
    value, grad = multinomial_objective(*args, n_block_rows=F.shape[0])(x)
    objective = multinomial_objective(*args, n_block_rows=n_block_rows)
    for _ in range(2):  # the second evaluation reuses the scratch buffer
        value_b, grad_b = objective(x)
        assert value_b == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grad_b, grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n_block_rows", [1, 7, 64, 202])
def test_lws_objective_is_the_same_in_row_blocks(rng, n_block_rows):
    F, y, weights = _problem(rng)
    W, b = rng.normal(size=(4, F.shape[1])), rng.normal(size=4)
    f = rng.uniform(0.5, 2.0, size=4)
    value, grad = lws_objective(F, W, b, y, weights, 0.3, n_block_rows=F.shape[0])(f)
    objective = lws_objective(F, W, b, y, weights, 0.3, n_block_rows=n_block_rows)
    for _ in range(2):
        value_b, grad_b = objective(f)
        assert value_b == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grad_b, grad, rtol=1e-10, atol=1e-14)


def test_lws_caches_logits_smaller_than_half_the_features(rng, monkeypatch):
    """Logits of 3 classes for 16 features, within working_memory but more than
    one block: computed once (block by block), then every evaluation reuses
    them, in column blocks, with the value and gradient of the one-block
    objective."""
    import ltsk.heads._frozen as frozen

    n, d = 100_000, 16
    F = rng.normal(size=(n, d))
    y = rng.integers(0, 3, size=n)
    weights = rng.uniform(size=n)
    weights /= weights.sum()
    W, b = rng.normal(size=(3, d)), rng.normal(size=3)
    f = rng.uniform(0.5, 2.0, size=3)
    calls = []
    block_logits = frozen.block_logits
    monkeypatch.setattr(
        frozen, "block_logits", lambda *a: calls.append(1) or block_logits(*a)
    )
    with config_context(working_memory=4):
        assert frozen.caches_logits(F, 3)
        assert not frozen.caches_logits(F[:, :8], 3)  # more than half of F
        objective = lws_objective(F, W, b, y, weights, 0.3)
    n_blocks = len(calls)
    assert n_blocks > 1
    value, grad = lws_objective(F, W, b, y, weights, 0.3, n_block_rows=n)(f)
    for _ in range(2):
        value_c, grad_c = objective(f)
        assert value_c == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grad_c, grad, rtol=1e-10, atol=1e-14)
    assert len(calls) == n_blocks + 1  # the one-block objective's own


@pytest.mark.parametrize("Head", [CRTHead, LWSHead])
def test_fit_in_small_blocks_matches_one_block(rng, Head):
    F, y, _ = _problem(rng, n=300)
    one = Head(tol=1e-10).fit(F, y)
    with config_context(working_memory=0.001):  # about 1 kB: a few rows a block
        small = Head(tol=1e-10).fit(F, y)
    np.testing.assert_allclose(small.coef_, one.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(small.intercept_, one.intercept_, rtol=1e-5, atol=1e-7)


def test_weighted_mean_and_scales_of_sparse_match_dense(rng):
    F, _, weights = _problem(rng)
    F[F < 1.0] = 0.0
    X = sparse.csr_array(F)
    np.testing.assert_allclose(weighted_mean(X, weights), weights @ F, rtol=1e-12)
    mu = weights @ F
    expected = np.sqrt(weights @ (F - mu) ** 2 + 0.1)
    np.testing.assert_allclose(_column_scales(X, weights, mu, 0.1), expected)
    np.testing.assert_allclose(_column_scales(F, weights, mu, 0.1), expected)


@pytest.mark.parametrize("name", sorted(HEADS))
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array])
def test_sparse_input_gives_the_dense_result(rng, name, container):
    F, y, _ = _problem(rng, n=120)
    F[F < 1.0] = 0.0  # sparse, and not centred: the joint fit must centre
    X = container(F)
    params = {"tol": 1e-10} if "tol" in HEADS[name]().get_params() else {}
    dense = HEADS[name](**params).fit(F, y)
    sparse_head = HEADS[name](**params).fit(X, y)
    np.testing.assert_allclose(
        sparse_head.decision_function(X),
        dense.decision_function(F),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        sparse_head.predict_proba(X), dense.predict_proba(F), atol=1e-6
    )
    np.testing.assert_array_equal(sparse_head.predict(X), dense.predict(F))


def test_sparse_input_is_never_densified_whole(rng):
    """tracemalloc: a CSR matrix with 2% non-zeros is fitted below its dense size."""
    n, d = 20_000, 200
    y = rng.integers(0, 3, size=n)
    X = sparse.random_array((n, d), density=0.02, rng=rng, format="csr")
    X = sparse.csr_array(
        X + sparse.csr_array((np.ones(n), (np.arange(n), y)), shape=(n, d))
    )
    dense_bytes = n * d * 8
    for head in (
        CRTHead(max_iter=3),
        LWSHead(max_iter=3),
        DisAlignHead(max_iter=3),
        MARCHead(max_iter=3),
    ):
        tracemalloc.start()
        with pytest.warns(ConvergenceWarning), config_context(working_memory=1):
            head.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 0.25 * dense_bytes, (type(head).__name__, peak)


@pytest.mark.parametrize("Head", [CRTHead, LWSHead, NCMHead, DisAlignHead, MARCHead])
def test_memmap_is_read_in_blocks_not_copied(tmp_path, rng, Head):
    n, d = 20_000, 256
    y = rng.integers(0, 3, size=n)
    path = tmp_path / "F.npy"
    F = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    F[:] = rng.normal(size=(n, d)).astype(np.float32) + np.eye(d, dtype=np.float32)[y]
    F.flush()
    F = np.load(path, mmap_mode="r")
    params = {"max_iter": 3} if Head is not NCMHead else {}
    tracemalloc.start()
    with config_context(working_memory=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        head = Head(**params).fit(F, y)
        head.predict(F)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # The float32 matrix is 20 MB, its float64 copy 40 MB; what remains are
    # vectors of n_samples entries and blocks of about 1 MiB.
    assert peak < 0.3 * F.nbytes, peak


def test_predict_proba_and_decision_function_in_blocks_match_one_block(rng):
    F, y, _ = _problem(rng, n=500)
    head = CRTHead().fit(F, y)
    scores = F @ head.coef_.T + head.intercept_
    with config_context(working_memory=0.001):
        np.testing.assert_allclose(head.decision_function(F), scores, rtol=1e-12)
        proba = head.predict_proba(F)
        log_proba = head.predict_log_proba(F)
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-10)
    np.testing.assert_allclose(log_proba, np.log(expected), rtol=1e-10, atol=1e-12)
    two = CRTHead().fit(F[y < 2], y[y < 2])
    s2 = F @ two.coef_.T + two.intercept_
    with config_context(working_memory=0.001):
        np.testing.assert_allclose(two.decision_function(F), s2[:, 1] - s2[:, 0])


@pytest.mark.parametrize("head", sorted(HEADS))
def test_decoupled_classifier_takes_sparse_extractor_output(rng, head):
    from sklearn.ensemble import RandomTreesEmbedding
    from sklearn.preprocessing import OneHotEncoder

    from ltsk import DecoupledClassifier

    y = np.repeat([0, 1, 2], [120, 40, 10])
    X = rng.normal(size=(170, 4)) + 2.0 * np.eye(4)[y]
    trees = RandomTreesEmbedding(n_estimators=5, random_state=0).fit(X)
    onehot = OneHotEncoder(handle_unknown="ignore").fit(np.round(X))
    # DisAlign's objective is not convex: L-BFGS stops at its tolerance from
    # two float paths (sparse and dense products) a little apart.
    atol = 1e-4 if head == "disalign" else 1e-5
    for extractor, inputs in ((trees, X), (onehot, np.round(X))):
        features = extractor.transform(inputs)
        assert sparse.issparse(features)
        model = DecoupledClassifier(extractor, head).fit(inputs, y)
        direct = HEADS[head]().fit(features.toarray(), y)
        np.testing.assert_allclose(
            model.predict_proba(inputs),
            direct.predict_proba(features.toarray()),
            atol=atol,
        )
    # No extractor: CSR features go straight to the head.
    model = DecoupledClassifier(None, head).fit(sparse.csr_array(X), y)
    np.testing.assert_allclose(
        model.predict_proba(sparse.csr_array(X)),
        HEADS[head]().fit(X, y).predict_proba(X),
        atol=atol,
    )


def test_tolerance_is_per_class_share():
    """A loss averaged over C classes has gradient components of order 1/C.

    Here f(x) = mean_j (x_j - 1)^2 / 2: at the zero start the largest scaled
    gradient component is 2 / C = 2e-5 < tol = 1e-4, so a bound not divided
    by C returned the start as the optimum (cRT with 8142 classes returned its
    zero classifier this way, at chance accuracy, without a warning).
    """
    n_classes = 100_000

    def fun(x):
        return 0.5 * np.mean((x - 1.0) ** 2), (x - 1.0) / n_classes

    x, n_iter = minimize_lbfgs(
        fun,
        np.zeros(n_classes),
        max_iter=50,
        tol=1e-4,
        dtype=np.float64,
        owner="test",
        n_classes=n_classes,
    )
    assert n_iter >= 1
    np.testing.assert_allclose(x, 1.0, atol=1e-3)


@pytest.mark.parametrize("Head", [LWSHead, NCMHead])
def test_many_classes_never_allocate_n_by_classes(rng, Head):
    """tracemalloc: fit + predict with n x C far above n x d and C x d."""
    n, d, n_classes = 20_000, 16, 400
    y = np.arange(n) % n_classes
    means = rng.normal(size=(n_classes, d)).astype(np.float32)
    F = rng.normal(size=(n, d)).astype(np.float32) + means[y]
    joint = {"coef": means} if Head is LWSHead else {}
    params = {"max_iter": 3} if Head is LWSHead else {}
    tracemalloc.start()
    with config_context(working_memory=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Head(**params).fit(F, y, **joint).predict(F)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n_by_classes = n * n_classes * 4  # 32 MB in float32
    # Blocks of about 1 MiB, vectors of n entries, arrays of C x d.
    bound = 2 * 2**20 + 10 * n * 8 + 6 * n_classes * d * 8
    assert bound < n_by_classes / 4
    assert peak < bound, (peak, bound)
