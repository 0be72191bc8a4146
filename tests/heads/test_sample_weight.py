"""sample_weight in the heads: integer weights repeat rows, zero weights drop them."""

import numpy as np
import pytest
from sklearn.base import clone

from ltsk.heads import CRTHead, LogitAdjustedHead, LWSHead, NCMHead, TauNormHead

HEADS = [
    CRTHead(tol=1e-8),
    CRTHead(q=0.5, gamma=2.0, tol=1e-8),
    LWSHead(tol=1e-10),
    TauNormHead(),
    LogitAdjustedHead(),
    NCMHead(),
]


def _fitted_arrays(head):
    if isinstance(head, NCMHead):
        return head.centroids_, head.mean_
    return head.coef_, head.intercept_


@pytest.fixture
def weighted(rng):
    y = np.repeat([0, 1, 2], [30, 10, 6])
    F = rng.normal(size=(46, 3)) + 2.0 * np.eye(3)[y]
    weights = rng.integers(0, 4, size=46)
    weights[[0, 30, 40]] = [0, 2, 3]  # at least one zero, every class kept
    return F, y, weights


@pytest.mark.parametrize("head", HEADS, ids=lambda h: repr(h))
def test_integer_weights_equal_repeated_rows(head, weighted):
    F, y, weights = weighted
    with_weights = clone(head).fit(F, y, sample_weight=weights)
    repeated = clone(head).fit(np.repeat(F, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_array_equal(
        with_weights.class_counts_, np.bincount(y, weights=weights)
    )
    np.testing.assert_array_equal(with_weights.class_counts_, repeated.class_counts_)
    pairs = zip(_fitted_arrays(with_weights), _fitted_arrays(repeated), strict=True)
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        with_weights.predict_proba(F), repeated.predict_proba(F), atol=1e-6
    )


@pytest.mark.parametrize("head", HEADS, ids=lambda h: repr(h))
def test_zero_weight_drops_the_row_and_a_class(head, weighted):
    F, y, _ = weighted
    # Class 1 gets weight zero throughout: it is absent, as with classes=.
    weights = np.where(y == 1, 0.0, 1.0)
    weights[3] = 0.0
    keep = weights > 0
    with_weights = clone(head).fit(F, y, sample_weight=weights)
    dropped = clone(head).fit(F[keep], y[keep], classes=[0, 1, 2])
    np.testing.assert_array_equal(with_weights.class_counts_, [29, 0, 6])
    pairs = zip(_fitted_arrays(with_weights), _fitted_arrays(dropped), strict=True)
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert 1 not in with_weights.predict(F)


def test_negative_weight_is_an_error(weighted):
    F, y, weights = weighted
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        CRTHead().fit(F, y, sample_weight=-weights)
