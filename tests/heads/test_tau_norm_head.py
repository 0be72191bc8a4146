"""TauNormHead against hand-computed numbers."""

import numpy as np
import pytest

from ltsk.heads import LogitAdjustedHead, TauNormHead, tau_path

W2 = np.array([[3.0, 4.0], [0.0, 2.0]])  # row norms 5 and 2
F2 = np.array([[1.0, 1.0], [2.0, -1.0]])


def test_tau_one_hand_example():
    head = TauNormHead(tau=1.0).fit(F2, [0, 1], coef=W2, intercept=[10.0, -10.0])
    np.testing.assert_allclose(head.coef_, [[0.6, 0.8], [0.0, 1.0]])
    np.testing.assert_array_equal(head.intercept_, [0.0, 0.0])
    # Scores: row 1 (1.4, 1.0), row 2 (0.4, -1.0); bias dropped.
    np.testing.assert_allclose(head.decision_function(F2), [-0.4, -1.4])
    np.testing.assert_array_equal(head.predict(F2), [0, 0])


def test_tau_half_hand_example():
    head = TauNormHead(tau=0.5).fit(F2, [0, 1], coef=W2, intercept=[1.0, 1.0])
    s5 = np.sqrt(5.0)
    np.testing.assert_allclose(head.coef_, [[3 / s5, 4 / s5], [0.0, np.sqrt(2.0)]])
    expected = np.array([np.sqrt(2.0) - 7 / s5, -np.sqrt(2.0) - 2 / s5])
    np.testing.assert_allclose(head.decision_function(F2), expected)


def test_tau_zero_keeps_weights_and_drops_bias(rng):
    F = rng.normal(size=(20, 4))
    W = rng.normal(size=(3, 4))
    y = np.arange(20) % 3
    head = TauNormHead(tau=0.0).fit(F, y, coef=W, intercept=[5.0, -1.0, 2.0])
    np.testing.assert_allclose(head.decision_function(F), F @ W.T)


def test_zero_norm_row_gives_no_nan(rng):
    F = rng.normal(size=(9, 2))
    W = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 3.0]])
    head = TauNormHead(tau=1.0).fit(F, np.arange(9) % 3, coef=W)
    assert np.all(np.isfinite(head.coef_))
    np.testing.assert_array_equal(head.coef_[1], [0.0, 0.0])
    assert np.all(np.isfinite(head.predict_proba(F)))


def test_without_coef_normalises_its_own_joint_classifier(rng):
    y = np.repeat([0, 1, 2], [60, 20, 6])
    F = rng.normal(size=(86, 3)) + 3.0 * np.eye(3)[y]
    head = TauNormHead(tau=1.0).fit(F, y)
    np.testing.assert_allclose(np.linalg.norm(head.coef_, axis=1), 1.0)


@pytest.mark.parametrize("tau", [-0.5, "1"])
def test_bad_tau_is_rejected(tau):
    with pytest.raises(ValueError, match="'tau' parameter"):
        TauNormHead(tau=tau).fit(F2, [0, 1], coef=W2)


def test_large_representable_tau_gives_finite_probabilities(rng):
    # Row norms 0.2 raised to -tau: 25 for tau=2, finite scores and probabilities.
    F = rng.normal(size=(30, 4))
    y = np.repeat([0, 1, 2], [15, 10, 5])
    head = TauNormHead(tau=2.0).fit(F, y, coef=np.full((3, 4), 0.1))
    assert np.all(np.isfinite(head.predict_proba(F)))


def test_without_coef_drops_the_bias_of_the_centred_problem(rng):
    y = np.repeat([0, 1, 2], [60, 20, 6])
    F = rng.normal(loc=5.0, size=(86, 3)) + 3.0 * np.eye(3)[y]
    weights = rng.integers(1, 3, size=86)
    head = TauNormHead(tau=1.0).fit(F, y, sample_weight=weights)
    joint = LogitAdjustedHead(tau=0.0).fit(F, y, sample_weight=weights)
    W = joint.coef_ / np.linalg.norm(joint.coef_, axis=1, keepdims=True)
    mean = np.average(F, axis=0, weights=weights)
    np.testing.assert_allclose(head.coef_, W, rtol=1e-12)
    np.testing.assert_allclose(head.intercept_, -W @ mean, rtol=1e-12)
    np.testing.assert_allclose(
        head.decision_function(F), (F - mean) @ W.T, rtol=1e-10, atol=1e-12
    )


def test_extreme_tau_is_the_same_error_in_fit_and_tau_path(rng):
    F = rng.normal(size=(40, 6))
    y = np.repeat([0, 1], 20)
    head = TauNormHead().fit(F, y, coef=np.array([[1e-3] * 6, [2e-3] * 6]))
    # Norms below 1 overflow, norms above 1 underflow to a zero row.
    for coef, tau in (([[1e-3] * 6, [2e-3] * 6], 1e4), ([[1e3] * 6, [1.0] * 6], 200)):
        coef = np.array(coef)
        with pytest.raises(ValueError, match=f"tau={tau:g} overflows or underflows"):
            TauNormHead(tau=tau).fit(F, y, coef=coef)
        head = TauNormHead().fit(F, y, coef=coef)
        with pytest.raises(ValueError, match=f"tau={tau:g} overflows or underflows"):
            tau_path(head, F, y, [1.0, tau])
