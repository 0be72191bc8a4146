"""NCMHead against a direct numpy computation of cl2n nearest class means."""

import numpy as np
import pytest
from sklearn import config_context

from ltsk.heads import NCMHead


def _cl2n(F, mean):
    centred = F - mean
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def _reference_scores(F_test, mean, centroids, dist_type):
    """``KNNClassifier.forward`` of facebookresearch/classifier-balancing.

    Written out in numpy from that code: test features centred on the training
    mean and scaled to unit norm ("cl2n"), centroids as given.
    """
    A = _cl2n(F_test, mean)
    AB = A @ centroids.T
    if dist_type == "l2":
        AA = (A**2).sum(axis=1, keepdims=True)
        BB = (centroids**2).sum(axis=1, keepdims=True)
        return -(AA + BB.T - 2 * AB)
    return AB / A.shape[1]


def _softmax(scores):
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture
def data(rng):
    y = rng.permutation(np.repeat([3, 7, 11], [40, 12, 5]))
    F = rng.normal(size=(y.size, 4)) + 2.0 + np.eye(4)[y % 4]
    F_test = rng.normal(size=(15, 4)) + 2.0
    return F, y, F_test


def test_euclidean_against_numpy(data):
    F, y, F_test = data
    head = NCMHead(metric="euclidean").fit(F, y)
    mean = F.mean(axis=0)
    Fn = _cl2n(F, mean)
    centroids = np.stack([Fn[y == c].mean(axis=0) for c in (3, 7, 11)])
    np.testing.assert_allclose(head.mean_, mean)
    np.testing.assert_allclose(head.centroids_, centroids, atol=1e-12)
    # Test features are centred with the *training* mean.
    Tn = _cl2n(F_test, mean)
    dist = np.linalg.norm(Tn[:, None, :] - centroids[None], axis=2)
    np.testing.assert_allclose(head.decision_function(F_test), -(dist**2), atol=1e-12)
    np.testing.assert_array_equal(
        head.predict(F_test), np.array([3, 7, 11])[dist.argmin(1)]
    )


@pytest.mark.parametrize(("metric", "dist_type"), [("euclidean", "l2"), ("dot", "cos")])
def test_scores_and_probabilities_match_the_reference_code(data, metric, dist_type):
    F, y, F_test = data
    head = NCMHead(metric=metric).fit(F, y)
    mean = F.mean(axis=0)
    Fn = _cl2n(F, mean)
    centroids = np.stack([Fn[y == c].mean(axis=0) for c in (3, 7, 11)])
    reference = _reference_scores(F_test, mean, centroids, dist_type)
    np.testing.assert_allclose(head.decision_function(F_test), reference, atol=1e-12)
    np.testing.assert_allclose(
        head.predict_proba(F_test), _softmax(reference), atol=1e-12
    )


def test_cosine_normalises_the_centroids_unlike_the_reference_cos():
    # Class 1's two rows point apart (a short centroid), class 0's agree (a
    # unit one): the test row is closer in angle to class 1's centroid, but
    # its dot product with class 0's is the largest.
    F = np.array([[2, 0], [2, 0], [-2, 2], [1, 2], [-1.5, -2], [-1.5, -2]]) + 5.0
    y = [0, 0, 1, 1, 2, 2]
    x = np.array([[1.0, 1.25]]) + 5.0
    head = NCMHead(metric="cosine").fit(F, y)
    np.testing.assert_allclose(head.mean_, [5.0, 5.0])
    unit, c = _cl2n(x, head.mean_)[0], head.centroids_
    dot, cos = unit @ c.T, unit @ c.T / np.linalg.norm(c, axis=1)
    assert dot.argmax() == 0 and cos.argmax() == 1
    assert head.predict(x)[0] == 1
    assert NCMHead(metric="dot").fit(F, y).predict(x)[0] == 0


def test_cosine_against_numpy(data):
    F, y, F_test = data
    head = NCMHead(metric="cosine").fit(F, y)
    mean = F.mean(axis=0)
    Fn = _cl2n(F, mean)
    centroids = np.stack([Fn[y == c].mean(axis=0) for c in (3, 7, 11)])
    Tn = _cl2n(F_test, mean)
    cos = (Tn @ centroids.T) / np.linalg.norm(centroids, axis=1)
    np.testing.assert_allclose(head.decision_function(F_test), cos, atol=1e-12)


def test_without_normalisation_uses_raw_class_means(data):
    F, y, F_test = data
    head = NCMHead(normalize=False).fit(F, y)
    centroids = np.stack([F[y == c].mean(axis=0) for c in (3, 7, 11)])
    np.testing.assert_allclose(head.centroids_, centroids)
    dist = np.linalg.norm(F_test[:, None, :] - centroids[None], axis=2)
    np.testing.assert_allclose(head.decision_function(F_test), -(dist**2), atol=1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
def test_zero_row_after_centring_gives_no_nan(metric):
    F = np.array([[0.0, 2.0], [2.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]])
    y = [0, 1, 0, 1, 1]
    head = NCMHead(metric=metric).fit(F, y)  # row [1, 1] is the training mean
    assert np.all(np.isfinite(head.centroids_))
    proba = head.predict_proba(F)
    assert np.all(np.isfinite(proba))
    # The mean itself is equidistant from every centroid only if their norms
    # match; it must at least get a finite, valid probability row.
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_float32_input_matches_float64(data):
    F, y, _ = data
    head32 = NCMHead().fit(F.astype(np.float32), y)
    head64 = NCMHead().fit(F, y)
    assert head32.centroids_.dtype == np.float32
    np.testing.assert_allclose(head32.centroids_, head64.centroids_, atol=1e-5)


def test_many_rows_span_several_chunks(rng):
    y = rng.integers(0, 3, size=2500)
    F = rng.normal(size=(2500, 3)) + y[:, None]
    head = NCMHead().fit(F, y)
    Fn = _cl2n(F, F.mean(axis=0))
    centroids = np.stack([Fn[y == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(head.centroids_, centroids, atol=1e-12)


def test_bad_metric():
    with pytest.raises(ValueError, match="'metric'"):
        NCMHead(metric="manhattan").fit(np.eye(2), [0, 1])


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "dot"])
@pytest.mark.parametrize("normalize", [True, False])
def test_row_blocks_give_the_same_fit_and_scores(metric, normalize):
    rng = np.random.default_rng(3)
    F = rng.normal(size=(5000, 40)) + 1.0
    y = rng.integers(0, 3, size=5000)
    head = NCMHead(metric=metric, normalize=normalize).fit(F, y)
    whole = head.decision_function(F)
    # 1000 rows of 320 bytes per block: 5 blocks in fit and in scoring.
    with config_context(working_memory=1000 * 320 / 2**20):
        blocked = NCMHead(metric=metric, normalize=normalize).fit(F, y)
        np.testing.assert_allclose(blocked.centroids_, head.centroids_, atol=1e-15)
        np.testing.assert_allclose(blocked.decision_function(F), whole, atol=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_raise_sklearn_error(normalize, bad):
    # NCM detects NaN/inf from its own sums instead of a separate validation
    # pass; the error must be scikit-learn's usual one all the same.
    F = np.arange(40, dtype=np.float32).reshape(20, 2)
    F[7, 1] = bad
    y = np.repeat([0, 1], 10)
    word = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=f"Input F contains {word}"):
        NCMHead(normalize=normalize).fit(F, y)


# scikit-learn's own finiteness check sums F first and warns on inf - inf.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning:numpy")
def test_opposite_infinities_in_one_column_raise():
    F = np.ones((6, 2))
    F[0, 0], F[1, 0] = np.inf, -np.inf
    with pytest.raises(ValueError, match="Input F contains infinity"):
        NCMHead().fit(F, [0, 0, 0, 1, 1, 1])


def test_float64_overflow_of_the_centred_norm_raises():
    F = np.ones((6, 3))
    F[0] = 1e200  # the mean moves too: every squared distance overflows float64
    with pytest.raises(ValueError, match=r"F has 6 row.*overflows float64"):
        NCMHead().fit(F, [0, 0, 0, 1, 1, 1])


def test_float64_overflow_at_predict_raises(data):
    F, y, _ = data
    head = NCMHead().fit(F, y)
    with pytest.raises(ValueError, match=r"F has 1 row.*overflows float64"):
        head.predict(np.full((1, F.shape[1]), 1e200))


def test_float32_norms_beyond_float32_range_are_taken_in_float64(data):
    # Squared norms of 1e20-sized rows overflow float32, not float64: the rows
    # are kept and normalised like any other.
    F, y, F_test = data
    F = F.copy()
    F[:3] *= 1e20
    head32 = NCMHead().fit(F.astype(np.float32), y)
    head64 = NCMHead().fit(F, y)
    np.testing.assert_allclose(head32.centroids_, head64.centroids_, atol=1e-5)
    big = F_test[:2] * 1e20
    np.testing.assert_allclose(
        head32.decision_function(big.astype(np.float32)),
        head64.decision_function(big),
        atol=1e-5,
    )


def test_float32_class_sums_beyond_float32_range_are_taken_in_float64():
    # Each class sum (2e38 + 2e38) overflows float32; the centroids do not.
    F = np.array([[2e38, 1.0], [2e38, 3.0], [1.0, 2e38], [3.0, 2e38]])
    y = [0, 0, 1, 1]
    head = NCMHead(normalize=False).fit(F.astype(np.float32), y)
    np.testing.assert_allclose(head.centroids_, [[2e38, 2.0], [2.0, 2e38]])


def test_float64_overflow_of_the_class_sums_raises():
    F = np.array([[1e308, 1.0], [1e308, 3.0], [1.0, 1.0], [3.0, 1.0]])
    with pytest.raises(ValueError, match="class sums of F overflow float64"):
        NCMHead(normalize=False).fit(F, [0, 0, 1, 1])


def test_large_fit_needs_no_compiled_kernels(run_python):
    # 2**22 values: the size from which fit used to import numba.
    code = (
        "import sys, numpy as np\n"
        "from ltsk.heads import NCMHead\n"
        "F = np.random.default_rng(0).normal(size=(16384, 256)).astype(np.float32)\n"
        "NCMHead().fit(F, np.arange(16384) % 3)\n"
        "print(sorted({'numba', 'llvmlite'} & set(sys.modules)))\n"
    )
    assert run_python(code).strip() == "[]"


def _weighted_fit(head, F, y, weights):
    """``head._fit`` with sample weights, as ``BaseHead.fit`` calls it."""
    counts = np.bincount(y, weights=weights, minlength=3)
    head._fit(F, y, counts, None, None, sample_weight=weights)
    return head


@pytest.mark.parametrize("normalize", [True, False])
def test_sample_weight_gives_the_weighted_means(rng, normalize):
    y = np.repeat([0, 1, 2], [30, 10, 5])
    F = rng.normal(size=(y.size, 4)) + 2.0 + np.eye(4)[y]
    w = rng.uniform(0.1, 3.0, size=y.size)
    head = _weighted_fit(NCMHead(normalize=normalize), F, y, w)
    mean = (w @ F) / w.sum() if normalize else np.zeros(4)
    rows = _cl2n(F, mean) if normalize else F
    centroids = np.stack([w[y == c] @ rows[y == c] / w[y == c].sum() for c in range(3)])
    np.testing.assert_allclose(head.mean_, mean, atol=1e-12)
    np.testing.assert_allclose(head.centroids_, centroids, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_sample_weight_equals_repeated_rows(rng, dtype):
    y = np.repeat([0, 1, 2], [30, 10, 5])
    F = (rng.normal(size=(y.size, 4)) + 2.0 + np.eye(4)[y]).astype(dtype)
    w = rng.integers(0, 4, size=y.size)  # 0: the row is left out
    w[[0, 30, 40]] = 1  # every class keeps a row
    head = _weighted_fit(NCMHead(), F, y, w.astype(np.float64))
    repeated = NCMHead().fit(np.repeat(F, w, axis=0), np.repeat(y, w))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(head.mean_, repeated.mean_, atol=tol)
    np.testing.assert_allclose(head.centroids_, repeated.centroids_, atol=tol)
    assert head.centroids_.dtype == dtype
    np.testing.assert_allclose(
        head._scores(F), repeated.decision_function(F), atol=10 * tol
    )


def test_fit_sample_weight_equals_repeated_rows(rng):
    # Through the public fit: needs BaseHead.fit(..., sample_weight=...).
    y = np.repeat([0, 1, 2], [30, 10, 5])
    F = rng.normal(size=(y.size, 4)) + 2.0 + np.eye(4)[y]
    w = rng.integers(0, 4, size=y.size)
    w[[0, 30, 40]] = 1
    head = NCMHead().fit(F, y, sample_weight=w)
    repeated = NCMHead().fit(np.repeat(F, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(head.centroids_, repeated.centroids_, atol=1e-12)
    np.testing.assert_allclose(
        head.predict_proba(F), repeated.predict_proba(F), atol=1e-12
    )
