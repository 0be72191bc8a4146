"""LogitAdjustedHead against a hand-computed example."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from ltsk.heads import LogitAdjustedHead, tau_path


def test_hand_example():
    # Priors 0.6 / 0.3 / 0.1.
    y = np.repeat(["a", "b", "c"], [6, 3, 1])
    F = np.zeros((10, 2))
    F[:, 0] = 1.0
    W = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    b = np.array([0.5, 0.0, -1.0])
    head = LogitAdjustedHead(tau=1.0).fit(F, y, coef=W, intercept=b)
    expected_b = b - np.log([0.6, 0.3, 0.1])
    np.testing.assert_allclose(head.intercept_, expected_b)
    np.testing.assert_array_equal(head.coef_, W)
    # x = (1, 0): joint logits (2.5, 1, -1) -> adjusted (3.0108, 2.2040, 1.3026).
    scores = head.decision_function(F[:1])
    np.testing.assert_allclose(scores, [[3.0108256, 2.2039728, 1.3025851]], atol=1e-6)
    assert head.predict(F[:1])[0] == "a"
    # tau = 3 flips the decision to the rarest class: 2.5+1.53, 1+3.61, -1+6.91.
    head3 = LogitAdjustedHead(tau=3.0).fit(F, y, coef=W, intercept=b)
    assert head3.predict(F[:1])[0] == "c"


def test_tau_zero_is_the_joint_classifier(rng):
    F = rng.normal(size=(12, 3))
    W = rng.normal(size=(3, 3))
    b = rng.normal(size=3)
    y = np.repeat([0, 1, 2], [8, 3, 1])
    head = LogitAdjustedHead(tau=0.0).fit(F, y, coef=W, intercept=b)
    np.testing.assert_allclose(head.decision_function(F), F @ W.T + b)


def test_negative_tau_is_rejected():
    with pytest.raises(ValueError, match="tau"):
        LogitAdjustedHead(tau=-1).fit(np.eye(2), [0, 1])


def test_extreme_tau_is_the_same_error_in_fit_and_tau_path(rng):
    F = rng.normal(size=(40, 2))
    y = np.repeat([0, 1], [39, 1])  # 1e308 * log(40) overflows float64
    coef = np.eye(2)
    with pytest.raises(ValueError, match=r"tau=1e\+308 overflows the adjusted bias"):
        LogitAdjustedHead(tau=1e308).fit(F, y, coef=coef)
    head = LogitAdjustedHead().fit(F, y, coef=coef)
    with pytest.raises(ValueError, match=r"tau=1e\+308 overflows the adjusted bias"):
        tau_path(head, F, y, [1.0, 1e308])


def test_target_prior_hand_example():
    # train priors 0.6 / 0.3 / 0.1, target priors 0.2 / 0.2 / 0.6 (LADE's
    # logits - log pi_train + log pi_target)
    y = np.repeat(["a", "b", "c"], [6, 3, 1])
    F = np.zeros((10, 2))
    F[:, 0] = 1.0
    W = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    b = np.array([0.5, 0.0, -1.0])
    target = np.array([1.0, 1.0, 3.0])  # normalised to 0.2 / 0.2 / 0.6
    head = LogitAdjustedHead(target_prior=target).fit(F, y, coef=W, intercept=b)
    np.testing.assert_allclose(
        head.intercept_, b - np.log([0.6, 0.3, 0.1]) + np.log([0.2, 0.2, 0.6])
    )
    # x = (1, 0): 3.0108 + log .2 = 1.4014, 2.2040 - 1.6094 = 0.5945,
    # 1.3026 - 0.5108 = 0.7918
    np.testing.assert_allclose(
        head.decision_function(F[:1]), [[1.401388, 0.594535, 0.791760]], atol=1e-6
    )
    # a uniform target prior is the default (a constant shift of the scores)
    uniform = LogitAdjustedHead(target_prior=[1, 1, 1]).fit(F, y, coef=W, intercept=b)
    default = LogitAdjustedHead().fit(F, y, coef=W, intercept=b)
    np.testing.assert_allclose(
        uniform.predict_proba(F), default.predict_proba(F), rtol=1e-12
    )
    # tau_path scores carry the target prior too: at tau = 0 only it is added
    rng = np.random.default_rng(0)
    F_val = rng.normal(size=(30, 2))
    y_val = rng.choice(["a", "b", "c"], size=30)
    path = tau_path(head, F_val, y_val, [0.0, 1.0], metric=accuracy_score)
    tau0 = LogitAdjustedHead(tau=0.0, target_prior=target).fit(
        F, y, coef=W, intercept=b
    )
    np.testing.assert_allclose(
        tau0.decision_function(F_val), F_val @ W.T + b + np.log([0.2, 0.2, 0.6])
    )
    assert path[0] == pytest.approx(accuracy_score(y_val, tau0.predict(F_val)))
    assert path[1] == pytest.approx(accuracy_score(y_val, head.predict(F_val)))


@pytest.mark.parametrize(
    "target, match", [([0.5, 0.5], "one entry per class"), ([1, 0, 1], "positive")]
)
def test_target_prior_errors(target, match):
    with pytest.raises(ValueError, match=match):
        LogitAdjustedHead(target_prior=target).fit(np.eye(3), [0, 1, 2])
