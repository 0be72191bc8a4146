import numpy as np
import pytest

from ltsk.metrics import expected_calibration_error
from ltsk.plotting import ReliabilityDisplay


def test_bins_match_a_hand_computation():
    y = [0, 0, 1, 1]
    proba = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]]
    display = ReliabilityDisplay.from_predictions(y, proba, n_bins=5, name="m")
    np.testing.assert_array_equal(display.count, [0, 0, 1, 2, 1])
    np.testing.assert_allclose(display.confidence[2:], [0.6, 0.75, 0.9])
    np.testing.assert_allclose(display.accuracy[2:], [1.0, 0.5, 1.0])
    assert np.isnan(display.accuracy[0])
    assert display.ece == pytest.approx(0.25)
    heights = [bar.get_height() for bar in display.bars_]
    np.testing.assert_allclose(heights, [0, 0, 1.0, 0.5, 1.0])
    texts = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert "m (ECE 0.250)" in texts


def test_from_estimator_group_is_the_group_ece(counting_lr):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [200, 40, 8])
    X = rng.normal(size=(248, 2)) + y[:, None]
    clf = counting_lr().fit(X, y)
    counts = dict(zip(clf.classes_.tolist(), clf.class_counts_.tolist(), strict=True))
    display = ReliabilityDisplay.from_estimator(
        clf, X, y, train_counts=counts, group="few", many=100, few=10
    )
    expected = expected_calibration_error(
        y, clf.predict_proba(X), train_counts=counts, many=100, few=10
    )["few"]
    assert display.ece == pytest.approx(expected)
    assert display.count.sum() == 8
    assert display.estimator_name == "CountingLogisticRegression"


def test_errors():
    with pytest.raises(ValueError, match="same length"):
        ReliabilityDisplay([0.5], [0.5, 0.5], [1], 0.0)
    with pytest.raises(ValueError, match="needs train_counts"):
        ReliabilityDisplay.from_predictions([0, 1], [[1, 0], [0, 1]], group="few")
    with pytest.raises(ValueError, match="group must be"):
        ReliabilityDisplay.from_predictions([0, 1], [[1, 0], [0, 1]], group="tail")
    with pytest.raises(ValueError, match="no sample"):
        ReliabilityDisplay.from_predictions(
            [0, 1], [[1, 0], [0, 1]], train_counts=[500, 50], group="few"
        )
    with pytest.raises(TypeError, match="predict_proba"):
        from sklearn.svm import LinearSVC

        ReliabilityDisplay.from_estimator(
            LinearSVC().fit([[0], [1]], [0, 1]), [[0]], [0]
        )
