"""CRTHead's default ``alpha="scale"``: the L2 strength per unit of feature variance."""

import numpy as np
import pytest
import scipy.sparse as sp

from ltsk.heads import CRTHead
from ltsk.heads._crt import SCALE_ALPHA


def _data(seed=0, counts=(120, 40, 10)):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    F = rng.normal(size=(y.size, 4)) + 2.0 * np.eye(len(counts), 4)[y]
    F[:, 3] *= 5.0  # columns of unequal variance
    return F, y


def test_alpha_is_scale_times_the_mean_column_variance():
    F, y = _data()
    head = CRTHead().fit(F, y)
    variances = [np.mean((F[:, k] - F[:, k].mean()) ** 2) for k in range(4)]
    assert head.alpha_ == pytest.approx(SCALE_ALPHA * np.mean(variances), rel=1e-12)
    explicit = CRTHead(alpha=head.alpha_).fit(F, y)
    np.testing.assert_array_equal(head.coef_, explicit.coef_)
    np.testing.assert_array_equal(head.intercept_, explicit.intercept_)
    assert CRTHead(alpha=0.5).fit(F, y).alpha_ == 0.5


def test_default_does_not_depend_on_the_units_of_F():
    # A fixed alpha is a different penalty once F is rescaled; "scale" is not.
    F, y = _data()
    head = CRTHead(tol=1e-8).fit(F, y)
    scaled = CRTHead(tol=1e-8).fit(1e3 * F, y)
    assert scaled.alpha_ == pytest.approx(1e6 * head.alpha_, rel=1e-10)
    np.testing.assert_allclose(1e3 * scaled.coef_, head.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(scaled.intercept_, head.intercept_, rtol=1e-5, atol=1e-8)
    fixed = CRTHead(alpha=1e-2, tol=1e-8)
    coef = fixed.fit(F, y).coef_
    assert not np.allclose(1e3 * fixed.fit(1e3 * F, y).coef_, coef, rtol=1e-2)


def test_default_does_not_depend_on_the_number_of_rows():
    # Every row twice: the same variance, the same mean loss, the same model.
    F, y = _data()
    head = CRTHead(tol=1e-8).fit(F, y)
    twice = CRTHead(tol=1e-8).fit(np.vstack([F, F]), np.concatenate([y, y]))
    assert twice.alpha_ == pytest.approx(head.alpha_, rel=1e-12)
    np.testing.assert_allclose(twice.coef_, head.coef_, rtol=1e-5, atol=1e-8)


def test_rows_count_by_sample_weight():
    F, y = _data()
    weights = np.random.default_rng(1).integers(1, 4, size=y.size)
    weighted = CRTHead().fit(F, y, sample_weight=weights)
    repeated = CRTHead().fit(np.repeat(F, weights, axis=0), np.repeat(y, weights))
    assert weighted.alpha_ == pytest.approx(repeated.alpha_, rel=1e-12)


def test_sparse_and_device_paths_measure_the_same_variance():
    F, y = _data()
    dense = CRTHead().fit(F, y)
    assert CRTHead().fit(sp.csr_matrix(F), y).alpha_ == pytest.approx(
        dense.alpha_, rel=1e-12
    )
    pytest.importorskip("torch")
    assert CRTHead(device="cpu").fit(F, y).alpha_ == pytest.approx(
        dense.alpha_, rel=1e-12
    )


def test_constant_features_give_no_penalty():
    y = np.repeat([0, 1], [5, 3])
    F = np.ones((8, 2))
    head = CRTHead().fit(F, y)
    assert head.alpha_ == 0.0
    np.testing.assert_array_equal(head.coef_, 0.0)


def test_unknown_string_is_refused():
    F, y = _data()
    with pytest.raises(ValueError, match="'alpha' parameter"):
        CRTHead(alpha="auto").fit(F, y)
