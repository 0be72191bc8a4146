"""TunedClassBiasClassifier: the search, its guarantees and its errors."""

import itertools

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV

from ltsk.datasets import load_digits_lt
from ltsk.metrics import make_shot_scorer
from ltsk.posthoc import TunedClassBiasClassifier
from ltsk.posthoc._bias import coordinate_ascent_biases


def _long_tailed(n_per_class, rng):
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    centres = np.array([[0, 0], [1.5, 0], [0, 1.5]])
    return centres[y] + rng.normal(size=(len(y), 2)), y


def test_tuned_biases_improve_balanced_accuracy_on_held_out_data():
    rng = np.random.default_rng(0)
    X, y = _long_tailed([600, 120, 24], rng)
    X_val, y_val = _long_tailed([200, 200, 200], rng)
    X_test, y_test = _long_tailed([500, 500, 500], rng)
    clf = LogisticRegression().fit(X, y)
    tuned = TunedClassBiasClassifier(FrozenEstimator(clf)).fit(X_val, y_val)
    assert tuned.best_score_ > tuned.baseline_score_
    assert tuned.best_score_ == pytest.approx(
        balanced_accuracy_score(y_val, tuned.predict(X_val))
    )
    assert tuned.baseline_score_ == pytest.approx(
        balanced_accuracy_score(y_val, clf.predict(X_val))
    )
    before = balanced_accuracy_score(y_test, clf.predict(X_test))
    after = balanced_accuracy_score(y_test, tuned.predict(X_test))
    assert after > before + 0.05
    assert tuned.bias_.mean() == pytest.approx(0.0, abs=1e-12)
    # the tail class gets the largest bias
    assert np.argmax(tuned.bias_) == 2


def test_search_finds_the_grid_optimum_on_a_small_problem():
    # exhaustive search over a grid of bias pairs (b_0 = 0) as a second solver
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(60, 3)) + np.array([1.0, 0.0, -1.0])
    y = rng.integers(0, 3, size=60)
    classes = np.arange(3)

    def score(indices):
        # balanced accuracy by hand: the mean over classes of their recall
        return np.mean([np.mean(indices[y == c] == c) for c in classes])

    bias, best, _ = coordinate_ascent_biases(
        scores, score, n_thresholds=200, max_iter=50
    )
    assert score(np.argmax(scores + bias, axis=1)) == pytest.approx(best)
    assert best == pytest.approx(
        balanced_accuracy_score(y, np.argmax(scores + bias, axis=1))
    )
    grid = np.linspace(-4, 4, 41)
    exhaustive = max(
        score(np.argmax(scores + np.array([0.0, b1, b2]), axis=1))
        for b1, b2 in itertools.product(grid, grid)
    )
    # coordinate ascent is a local search; on this problem it reaches the
    # grid optimum within a couple of samples' recall
    assert best >= exhaustive - 0.03


def test_cross_validation_and_shot_scorer():
    X_train, X_test, y_train, y_test = load_digits_lt()
    labels, counts = np.unique(y_train, return_counts=True)
    scorer = make_shot_scorer("few", train_counts=counts, labels=labels, many=60)
    tuned = TunedClassBiasClassifier(
        LogisticRegression(max_iter=500), scoring=scorer, cv=3
    ).fit(X_train / 16, y_train)
    assert tuned.best_score_ >= tuned.baseline_score_
    assert tuned.predict(X_test / 16).shape == y_test.shape
    held_out = TunedClassBiasClassifier(
        LogisticRegression(max_iter=500), cv=0.4, random_state=0
    ).fit(X_train / 16, y_train)
    assert held_out.bias_.shape == (10,)


def test_decision_function_binary_and_grid_search():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], [300, 30])
    X = rng.normal(size=(330, 2)) + 1.2 * y[:, None]
    tuned = TunedClassBiasClassifier(
        LogisticRegression(), response_method="decision_function", cv=3
    ).fit(X, y)
    raw = tuned.estimator_.decision_function(X)
    np.testing.assert_allclose(
        tuned.decision_function(X), raw + tuned.bias_[1] - tuned.bias_[0]
    )
    np.testing.assert_array_equal(
        tuned.predict(X), (tuned.decision_function(X) > 0).astype(int)
    )
    search = GridSearchCV(
        TunedClassBiasClassifier(LogisticRegression(), cv=3),
        {"estimator__C": [0.1, 1.0]},
        scoring="balanced_accuracy",
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.5


def test_errors_and_convergence_warning():
    rng = np.random.default_rng(3)
    X, y = _long_tailed([100, 40, 10], rng)
    auc = make_scorer(roc_auc_score, response_method="predict_proba")
    with pytest.raises(ValueError, match="scoring must score predicted labels"):
        TunedClassBiasClassifier(LogisticRegression(), scoring=auc).fit(X, y)
    with pytest.raises(ValueError, match="has no decision_function"):
        TunedClassBiasClassifier(
            FrozenEstimator(_NoDecision().fit(X, y)),
            response_method="decision_function",
        ).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        TunedClassBiasClassifier(
            FrozenEstimator(LogisticRegression().fit(X, y)), max_iter=1
        ).fit(X, y)


class _NoDecision(LogisticRegression):
    """A classifier with predict_proba but no decision_function."""

    def __getattribute__(self, name):
        if name == "decision_function":
            raise AttributeError(name)
        return super().__getattribute__(name)
