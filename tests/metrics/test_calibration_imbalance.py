"""expected_calibration_error, its scorer, and imbalance_summary vs hand numbers."""

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from ltsk.metrics import (
    expected_calibration_error,
    imbalance_summary,
    make_calibration_scorer,
)


def _plain_ece(y_true, proba, n_bins):
    """Guo et al.'s loop over the bins (lower, upper], written independently."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    ece = 0.0
    for m in range(n_bins):
        lower, upper = m / n_bins, (m + 1) / n_bins
        inside = (conf > lower) & (conf <= upper)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return ece


def test_ece_hand_example():
    # bins of width 0.2: {0.9} -> gap 0.1, {0.6} -> 0.4, {0.7, 0.8 wrong} -> 0.25
    y = [0, 0, 1, 1]
    proba = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]]
    expected = (0.1 + 0.4 + 2 * abs(0.5 - 0.75)) / 4
    assert expected_calibration_error(y, proba, n_bins=5) == pytest.approx(expected)


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_matches_plain_loop(n_bins):
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4) * 0.5, size=300)
    y = rng.integers(0, 4, size=300)
    assert expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(
        _plain_ece(y, proba, n_bins)
    )


def test_ece_per_group_is_ece_of_the_group_samples():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=200)
    y = rng.integers(0, 3, size=200)
    counts = {0: 500, 1: 50, 2: 5}
    ece = expected_calibration_error(y, proba, train_counts=counts)
    for group, cls in (("many", 0), ("medium", 1), ("few", 2)):
        mask = y == cls
        assert ece[group] == pytest.approx(_plain_ece(y[mask], proba[mask], 15))
    assert ece["all"] == pytest.approx(_plain_ece(y, proba, 15))
    # counts as an array aligned with the columns give the same numbers
    same = expected_calibration_error(y, proba, train_counts=[500, 50, 5])
    assert same == ece


def test_ece_perfectly_calibrated_is_zero_and_labels_order_columns():
    y = np.array(["b", "a", "a", "b"])
    proba = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(y, proba) == 0.0
    # reversed column labels: every prediction is wrong with confidence 1
    assert expected_calibration_error(y, proba, labels=["b", "a"]) == 1.0


@pytest.mark.parametrize(
    "kwargs, proba, match",
    [
        ({}, [[0.5, 0.3, 0.2]] * 4, "pass labels"),
        ({"labels": [0, 1, 2]}, [[0.5, 0.5]] * 4, "one label per column"),
        ({}, [[1.5, -0.5]] * 4, r"\[0, 1\]"),
        ({"train_counts": {0: 5}}, [[0.5, 0.5]] * 4, "no count for the classes"),
        ({"train_counts": [5, 6, 7]}, [[0.5, 0.5]] * 4, "one per column"),
        ({"labels": [0, 2]}, [[0.5, 0.5]] * 4, "not among the columns"),
    ],
)
def test_ece_errors(kwargs, proba, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error([0, 1, 0, 1], proba, **kwargs)


def test_calibration_scorer_in_grid_search():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    scorer = make_calibration_scorer(n_bins=10)
    assert scorer(clf, X, y) == pytest.approx(-_plain_ece(y, clf.predict_proba(X), 10))
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, scoring=scorer)
    assert search.fit(X, y).best_score_ <= 0
    few = make_calibration_scorer("few", train_counts={0: 100, 1: 3})
    proba = clf.predict_proba(X)
    assert few(clf, X, y) == pytest.approx(-_plain_ece(y[y == 1], proba[y == 1], 15))
    with pytest.raises(ValueError, match="needs train_counts"):
        make_calibration_scorer("few")


def test_imbalance_summary_hand_numbers():
    y = np.repeat(["x", "y", "z", "w"], [40, 20, 10, 10])
    s = imbalance_summary(y, head_fraction=0.5)
    assert s["n_samples"] == 80 and s["n_classes"] == 4
    assert s["imbalance_ratio"] == 4.0
    # Gini: sum_ij |n_i - n_j| / (2 C N) = 2 * (20+30+30+10+10+0) / (2*4*80)
    assert s["gini"] == pytest.approx(200 / 640)
    assert s["head_share"] == pytest.approx(60 / 80)
    pi = np.array([0.5, 0.25, 0.125, 0.125])
    assert s["effective_n_classes"] == pytest.approx(
        math.exp(-sum(p * math.log(p) for p in pi))
    )


def test_imbalance_summary_balanced_and_degenerate():
    s = imbalance_summary(np.repeat(np.arange(5), 7))
    assert s["imbalance_ratio"] == 1.0
    assert s["gini"] == pytest.approx(0.0, abs=1e-12)
    assert s["head_share"] == pytest.approx(0.2)
    assert s["effective_n_classes"] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least one label"):
        imbalance_summary([])
    with pytest.raises(ValueError, match="head_fraction"):
        imbalance_summary([0, 1], head_fraction=0)
