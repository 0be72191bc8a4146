"""CRTHead: equivalence with scikit-learn's LogisticRegression, re-balancing."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score

from ltsk.heads import CRTHead


def _long_tailed(rng, counts=(500, 100, 20), shift=1.5, n_features=2):
    y = np.repeat(np.arange(len(counts)), counts)
    means = shift * np.eye(len(counts), n_features)
    F = rng.normal(size=(y.size, n_features)) + means[y]
    return F, y


def test_instance_balanced_matches_logistic_regression(rng):
    F, y = _long_tailed(rng, n_features=3)
    alpha = 1e-3
    head = CRTHead(q=1.0, alpha=alpha, tol=1e-8, max_iter=1000).fit(F, y)
    lr = LogisticRegression(C=1 / (alpha * y.size), tol=1e-10, max_iter=1000)
    lr.fit(F, y)
    assert np.mean(head.predict(F) == lr.predict(F)) >= 0.99
    np.testing.assert_allclose(head.predict_proba(F), lr.predict_proba(F), atol=1e-4)


def test_class_balanced_matches_balanced_logistic_regression(rng):
    # q = 0 weights n_j^-1 are sklearn's class_weight="balanced", rescaled.
    F, y = _long_tailed(rng, n_features=3)
    alpha = 1e-3
    head = CRTHead(q=0.0, alpha=alpha, tol=1e-8, max_iter=1000).fit(F, y)
    lr = LogisticRegression(
        C=1 / (alpha * y.size), class_weight="balanced", tol=1e-10, max_iter=1000
    ).fit(F, y)
    np.testing.assert_allclose(head.predict_proba(F), lr.predict_proba(F), atol=1e-4)


def test_class_balanced_lifts_tail_recall(rng):
    F, y = _long_tailed(rng)
    F_test, y_test = _long_tailed(np.random.default_rng(1), counts=(300, 300, 300))
    recalls = {}
    for q in (1.0, 0.5, 0.0):
        pred = CRTHead(q=q).fit(F, y).predict(F_test)
        recalls[q] = recall_score(y_test, pred, average=None)
    assert recalls[0.0][2] > recalls[0.5][2] > recalls[1.0][2]
    assert recalls[0.0][2] - recalls[1.0][2] > 0.2


def test_focal_loss_changes_the_fit_and_gamma_zero_is_ce(rng):
    F, y = _long_tailed(rng)
    ce = CRTHead(gamma=0.0, tol=1e-8).fit(F, y)
    focal = CRTHead(gamma=2.0, tol=1e-8).fit(F, y)
    assert np.max(np.abs(ce.coef_ - focal.coef_)) > 1e-2
    # Focal down-weights easy samples; the fit still separates the classes.
    assert np.mean(focal.predict(F) == y) > 0.6


def test_float32_stays_float32_and_n_iter(rng):
    F, y = _long_tailed(rng)
    head = CRTHead().fit(F.astype(np.float32), y)
    assert head.coef_.dtype == np.float32 and head.intercept_.dtype == np.float32
    assert 1 <= head.n_iter_ <= head.max_iter
    ref = CRTHead().fit(F, y)
    np.testing.assert_allclose(head.coef_, ref.coef_, atol=2e-2)


def test_max_iter_reached_warns(rng):
    F, y = _long_tailed(rng)
    with pytest.warns(ConvergenceWarning, match="CRTHead"):
        CRTHead(max_iter=2).fit(F, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"q": 1.5}, "'q'"),
        ({"gamma": -1.0}, "'gamma'"),
        ({"alpha": -1}, "'alpha'"),
        ({"max_iter": 0}, "'max_iter'"),
    ],
)
def test_bad_parameters(params, match, rng):
    F, y = _long_tailed(rng, counts=(5, 5))
    with pytest.raises(ValueError, match=match):
        CRTHead(**params).fit(F, y)
