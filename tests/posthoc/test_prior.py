"""estimate_target_prior and PriorAdjustedClassifier on synthetic label shift."""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from ltsk.posthoc import PriorAdjustedClassifier, estimate_target_prior

MEANS = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
TRAIN_PRIOR = np.array([0.7, 0.2, 0.1])
TARGET_PRIOR = np.array([0.2, 0.3, 0.5])


def _sample(prior, n, rng):
    y = rng.choice(3, size=n, p=prior)
    return MEANS[y] + rng.normal(size=(n, 2)), y


def _bayes_posterior(X, prior):
    """Exact posterior of the Gaussian classes (unit covariance) under prior."""
    like = np.column_stack([multivariate_normal(m).pdf(X) for m in MEANS])
    joint = like * prior
    return joint / joint.sum(axis=1, keepdims=True)


def _plain_em(proba, source, n_iter):
    """Saerens et al.'s EM written out step by step (a second implementation)."""
    prior = source.copy()
    for _ in range(n_iter):
        post = proba * (prior / source)
        post /= post.sum(axis=1, keepdims=True)
        prior = post.mean(axis=0)
    return prior


def test_em_recovers_the_true_prior_from_exact_posteriors():
    rng = np.random.default_rng(0)
    X_target, _ = _sample(TARGET_PRIOR, 20000, rng)
    proba = _bayes_posterior(X_target, TRAIN_PRIOR)
    prior = estimate_target_prior(proba, TRAIN_PRIOR)
    # sampling error of 20000 draws, then EM: measured max |error| ~ 0.01
    assert np.max(np.abs(prior - TARGET_PRIOR)) < 0.02
    assert prior.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(prior, _plain_em(proba, TRAIN_PRIOR, 5000), atol=1e-5)


def test_bbse_recovers_the_true_prior():
    rng = np.random.default_rng(1)
    X_target, _ = _sample(TARGET_PRIOR, 20000, rng)
    X_val, y_val = _sample(np.ones(3) / 3, 6000, rng)  # a balanced validation set
    proba = _bayes_posterior(X_target, TRAIN_PRIOR)
    proba_val = _bayes_posterior(X_val, TRAIN_PRIOR)
    prior = estimate_target_prior(
        proba, None, method="bbse", proba_val=proba_val, y_val=y_val
    )
    assert np.max(np.abs(prior - TARGET_PRIOR)) < 0.03
    # the same as Lipton et al.'s C w = mu with the joint confusion matrix
    pred_val, pred = proba_val.argmax(1), proba.argmax(1)
    joint = np.zeros((3, 3))
    for i, j in zip(pred_val, y_val, strict=True):
        joint[i, j] += 1 / len(y_val)
    mu = np.bincount(pred, minlength=3) / len(pred)
    w = np.linalg.solve(joint, mu)
    expected = np.clip(w * joint.sum(axis=0), 0, None)
    np.testing.assert_allclose(prior, expected / expected.sum(), atol=1e-10)


def test_em_convergence_warning_and_errors():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=50)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        estimate_target_prior(proba, TRAIN_PRIOR, max_iter=1, tol=1e-12)
    with pytest.raises(ValueError, match="needs train_prior"):
        estimate_target_prior(proba, None)
    with pytest.raises(ValueError, match="one entry per class"):
        estimate_target_prior(proba, [0.5, 0.5])
    with pytest.raises(ValueError, match="needs proba_val and y_val"):
        estimate_target_prior(proba, None, method="bbse")
    with pytest.raises(ValueError, match="used by method='bbse' only"):
        estimate_target_prior(proba, TRAIN_PRIOR, y_val=[0, 1])
    with pytest.raises(ValueError, match="column indices"):
        estimate_target_prior(
            proba, None, method="bbse", proba_val=proba, y_val=np.full(50, 3)
        )


def test_bbse_singular_and_ill_conditioned_confusion():
    proba_val = np.array([[0.9, 0.1, 0.0]] * 10 + [[0.8, 0.2, 0.0]] * 10)
    proba_val = np.vstack([proba_val, [[0.0, 0.1, 0.9]] * 10])
    y_val = np.repeat([0, 1, 2], 10)  # classes 0 and 1 are never told apart
    with pytest.raises(ValueError, match="singular"):
        estimate_target_prior(
            proba_val, None, method="bbse", proba_val=proba_val, y_val=y_val
        )
    # almost singular: one sample of class 1 out of 2000 predicted as 1
    y_val = np.repeat([0, 1, 2], [10, 2000, 10])
    proba_val = np.zeros((2020, 3))
    proba_val[:10, 0] = proba_val[2010:, 2] = 1
    proba_val[10:2009, 0] = proba_val[2009, 1] = 1
    with pytest.warns(UserWarning, match="ill-conditioned"):
        estimate_target_prior(
            proba_val, None, method="bbse", proba_val=proba_val, y_val=y_val
        )


def test_prior_adjusted_equals_bayes_formula_with_the_true_prior():
    rng = np.random.default_rng(2)
    X_train, y_train = _sample(TRAIN_PRIOR, 3000, rng)
    X_test, _ = _sample(TARGET_PRIOR, 500, rng)
    clf = LogisticRegression().fit(X_train, y_train)
    adjusted = PriorAdjustedClassifier(
        FrozenEstimator(clf), target_prior=TARGET_PRIOR
    ).fit(X_train, y_train)
    source = np.bincount(y_train) / len(y_train)
    np.testing.assert_allclose(adjusted.train_prior_, source)
    p = clf.predict_proba(X_test)
    hand = p * TARGET_PRIOR / source
    hand /= hand.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(adjusted.predict_proba(X_test), hand, rtol=1e-12)
    np.testing.assert_array_equal(adjusted.predict(X_test), hand.argmax(axis=1))
    # with exact posteriors, the adjusted ones are the target posteriors
    exact = PriorAdjustedClassifier(
        FrozenEstimator(clf), target_prior=TARGET_PRIOR, train_prior=TRAIN_PRIOR
    ).fit(X_train, y_train)
    assert exact.target_prior_ == pytest.approx(TARGET_PRIOR)


def test_prior_adjusted_estimates_and_improves_target_accuracy():
    rng = np.random.default_rng(3)
    X_train, y_train = _sample(TRAIN_PRIOR, 4000, rng)
    X_target, y_target = _sample(TARGET_PRIOR, 4000, rng)
    X_val, y_val = _sample(np.ones(3) / 3, 3000, rng)
    clf = LogisticRegression().fit(X_train, y_train)
    em = PriorAdjustedClassifier(clf.__class__(), target_prior="em").fit(
        X_train, y_train, X_target=X_target
    )
    assert np.max(np.abs(em.target_prior_ - TARGET_PRIOR)) < 0.03
    assert em.n_iter_ >= 1
    bbse = PriorAdjustedClassifier(FrozenEstimator(clf), target_prior="bbse").fit(
        X_val, y_val, X_target=X_target
    )
    # a frozen estimator's source prior is its training prior, not y_val's
    bbse.set_params(train_prior=np.bincount(y_train)).fit(
        X_val, y_val, X_target=X_target
    )
    assert np.max(np.abs(bbse.target_prior_ - TARGET_PRIOR)) < 0.04
    assert np.mean(em.predict(X_target) == y_target) > np.mean(
        clf.predict(X_target) == y_target
    )


def test_prior_adjusted_takes_class_counts_of_ltsk_heads():
    from ltsk import DecoupledClassifier, TauNormHead

    rng = np.random.default_rng(4)
    X, y = _sample(TRAIN_PRIOR, 600, rng)
    clf = DecoupledClassifier(head=TauNormHead(tau=0.0)).fit(X, y)
    X_val, y_val = _sample(np.ones(3) / 3, 90, rng)
    adjusted = PriorAdjustedClassifier(FrozenEstimator(clf)).fit(X_val, y_val)
    np.testing.assert_allclose(adjusted.train_prior_, np.bincount(y) / len(y))


def test_prior_adjusted_errors_and_grid_search():
    rng = np.random.default_rng(5)
    X, y = _sample(TRAIN_PRIOR, 300, rng)
    with pytest.raises(ValueError, match="X_target"):
        PriorAdjustedClassifier(LogisticRegression(), target_prior="em").fit(X, y)
    with pytest.raises(ValueError, match="ignores it"):
        PriorAdjustedClassifier(LogisticRegression()).fit(X, y, X_target=X)
    with pytest.raises(ValueError, match="FrozenEstimator"):
        PriorAdjustedClassifier(LogisticRegression(), target_prior="bbse").fit(
            X, y, X_target=X
        )
    with pytest.raises(ValueError, match="one entry per class"):
        PriorAdjustedClassifier(LogisticRegression(), target_prior=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="no entry for the classes"):
        PriorAdjustedClassifier(LogisticRegression(), target_prior={0: 1.0}).fit(X, y)
    with pytest.warns(UserWarning, match="cannot be honoured"):
        PriorAdjustedClassifier(
            LogisticRegression(), train_prior=[1, 1, 0], target_prior=[1, 1, 1]
        ).fit(X, y)
    search = GridSearchCV(
        PriorAdjustedClassifier(LogisticRegression()),
        {"target_prior": ["uniform", [0.7, 0.2, 0.1]], "estimator__C": [0.1, 1.0]},
        scoring="balanced_accuracy",
        cv=3,
    ).fit(X, y)
    assert search.best_params_["target_prior"] == "uniform"


def test_prior_adjusted_uniform_is_logit_adjustment():
    from ltsk.heads import LogitAdjustedHead

    rng = np.random.default_rng(6)
    X, y = _sample(TRAIN_PRIOR, 400, rng)
    coef = rng.normal(size=(3, 2))
    head = LogitAdjustedHead(tau=0.0).fit(X, y, coef=coef)
    adjusted = PriorAdjustedClassifier(FrozenEstimator(head)).fit(X, y)
    la = LogitAdjustedHead(tau=1.0).fit(X, y, coef=coef)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(
            adjusted.predict_proba(X), la.predict_proba(X), rtol=1e-10
        )


def test_unknown_labels_for_a_frozen_estimator():
    from ltsk.posthoc import TunedClassBiasClassifier

    rng = np.random.default_rng(7)
    X, y = _sample(TRAIN_PRIOR, 200, rng)
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    for meta in (PriorAdjustedClassifier(frozen), TunedClassBiasClassifier(frozen)):
        with pytest.raises(ValueError, match=r"labels \[7\] that the estimator"):
            meta.fit(X, np.where(y == 2, 7, y))
