import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from ltsk import DecoupledClassifier, TauNormHead
from ltsk.plotting import PerClassAccuracyDisplay

COUNTS = {"a": 200, "b": 5, "c": 50, "d": 2}
Y_TRUE = ["a", "a", "a", "a", "b", "b", "c", "c", "d", "d"]
Y_JOINT = ["a", "a", "a", "b", "b", "a", "a", "a", "a", "d"]
Y_BALANCED = ["a", "b", "b", "a", "b", "b", "c", "c", "d", "d"]


def test_lines_follow_training_count_on_log_axis():
    display = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, {"joint": Y_JOINT, "balanced": Y_BALANCED}, train_counts=COUNTS
    )
    # worked out by hand, columns in train_counts order a, b, c, d
    np.testing.assert_allclose(
        display.accuracies, [[0.75, 0.5, 0.0, 0.5], [0.5, 1.0, 1.0, 1.0]]
    )
    assert display.labels.tolist() == ["a", "b", "c", "d"]
    joint, balanced = display.lines_
    # sorted by count: d (2), b (5), c (50), a (200)
    np.testing.assert_array_equal(joint.get_xdata(), [2, 5, 50, 200])
    np.testing.assert_allclose(joint.get_ydata(), [0.5, 0.5, 0.0, 0.75])
    np.testing.assert_allclose(balanced.get_ydata(), [1.0, 1.0, 1.0, 0.5])
    assert display.ax_.get_xscale() == "log"
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["joint", "balanced"]
    assert display.figure_ is display.ax_.figure


def test_class_without_test_samples_is_nan_and_not_drawn():
    display = PerClassAccuracyDisplay.from_predictions(
        ["a", "a", "c"], ["a", "b", "c"], train_counts=COUNTS, name="m"
    )
    acc = display.accuracies[0]
    assert acc[0] == 0.5 and acc[2] == 1.0
    assert np.isnan(acc[[1, 3]]).all()
    (line,) = display.lines_
    np.testing.assert_array_equal(line.get_xdata(), [50, 200])
    np.testing.assert_allclose(line.get_ydata(), [1.0, 0.5])
    assert line.get_label() == "m"


def test_zero_training_count_warns_and_is_not_drawn():
    display = PerClassAccuracyDisplay(
        [0.2, 0.4, 0.9], [0, 10, 100], labels=["x", "y", "z"]
    )
    with pytest.warns(UserWarning, match=r"Classes \['x'\] have no training"):
        display.plot()
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), [10, 100])
    assert display.ax_.get_legend() is None


def test_from_estimator_matches_predict(long_tailed, train_counts):
    X_train, X_test, y_train, y_test = long_tailed
    clf = LogisticRegression().fit(X_train, y_train)
    display = PerClassAccuracyDisplay.from_estimator(
        clf, X_test, y_test, train_counts=train_counts
    )
    y_pred = clf.predict(X_test)
    expected = [np.mean(y_pred[y_test == c] == c) for c in train_counts]
    np.testing.assert_allclose(display.accuracies[0], expected)
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), [4, 10, 30, 80])
    np.testing.assert_allclose(display.lines_[0].get_ydata(), expected[::-1])
    assert display.lines_[0].get_label() == "LogisticRegression"


def test_from_estimator_dict_with_counts_from_estimators(long_tailed, counting_lr):
    X_train, X_test, y_train, y_test = long_tailed
    joint = counting_lr().fit(X_train, y_train)
    decoupled = DecoupledClassifier(None, TauNormHead()).fit(X_train, y_train)
    _, ax = plt.subplots()
    display = PerClassAccuracyDisplay.from_estimator(
        {"joint": joint, "tau-norm": decoupled}, X_test, y_test, ax=ax
    )
    assert display.ax_ is ax and len(ax.get_lines()) == 2
    np.testing.assert_array_equal(display.train_counts, [80, 30, 10, 4])
    for model, row in zip((joint, decoupled), display.accuracies, strict=True):
        y_pred = model.predict(X_test)
        expected = [np.mean(y_pred[y_test == c] == c) for c in joint.classes_]
        np.testing.assert_allclose(row, expected)


def test_from_estimator_errors(long_tailed):
    X_train, X_test, y_train, y_test = long_tailed
    with pytest.raises(NotFittedError):
        PerClassAccuracyDisplay.from_estimator(
            LogisticRegression(), X_test, y_test, train_counts={"ant": 1}
        )
    clf = LogisticRegression().fit(X_train, y_train)
    with pytest.raises(ValueError, match="has no class_counts_"):
        PerClassAccuracyDisplay.from_estimator(clf, X_test, y_test)


def test_from_predictions_errors():
    with pytest.raises(ValueError, match=r"labels \['d'\] that are not in"):
        PerClassAccuracyDisplay.from_predictions(
            Y_TRUE, Y_JOINT, train_counts={"a": 1, "b": 2, "c": 3}
        )
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PerClassAccuracyDisplay.from_predictions(
            Y_TRUE, Y_JOINT[:-1], train_counts=COUNTS
        )
    with pytest.raises(ValueError, match="at least one sample"):
        PerClassAccuracyDisplay.from_predictions([], [], train_counts=COUNTS)
    with pytest.raises(ValueError, match="name must be None when y_pred is a dict"):
        PerClassAccuracyDisplay.from_predictions(
            Y_TRUE, {"m": Y_JOINT}, train_counts=COUNTS, name="m"
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"accuracies": [0.5, 0.5], "train_counts": [1, 2, 3]}, ValueError, "shape"),
        ({"accuracies": [1.5, 0.5], "train_counts": [1, 2]}, ValueError, r"\[0, 1\]"),
        ({"accuracies": [0.5, 0.5], "train_counts": [1, -2]}, ValueError, "negative"),
        (
            {"accuracies": [[0.5, 0.5]], "train_counts": [1, 2], "method_names": "m"},
            ValueError,
            "one name per method",
        ),
        (
            {"accuracies": [0.5, 0.5], "train_counts": [1, 2], "labels": ["a"]},
            ValueError,
            "one entry per class",
        ),
        ({"accuracies": ["x", 0.5], "train_counts": [1, 2]}, TypeError, "numbers"),
    ],
)
def test_constructor_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        PerClassAccuracyDisplay(**kwargs)


def test_label_types_that_never_match_are_an_error_as_in_shot_accuracy():
    # one per-class recall serves the metric and the display
    with pytest.raises(ValueError, match="different label types"):
        PerClassAccuracyDisplay.from_predictions(
            ["a", "b"], [0, 1], train_counts={"a": 3, "b": 1}
        )


def test_from_estimator_ends_in_from_predictions(long_tailed, train_counts):
    from ltsk.plotting import ShotAccuracyDisplay

    X_train, X_test, y_train, y_test = long_tailed
    clf = LogisticRegression().fit(X_train, y_train)
    calls = []
    for display in (PerClassAccuracyDisplay, ShotAccuracyDisplay):

        class Spy(display):
            @classmethod
            def from_predictions(cls, y_true, y_pred, **kwargs):
                calls.append((cls.__mro__[1], y_pred))
                return super().from_predictions(y_true, y_pred, **kwargs)

        Spy.from_estimator(clf, X_test, y_test, train_counts=train_counts)
    assert [c[0] for c in calls] == [PerClassAccuracyDisplay, ShotAccuracyDisplay]
    for _, y_pred in calls:
        np.testing.assert_array_equal(y_pred["LogisticRegression"], clf.predict(X_test))


def test_tied_counts_are_one_mean_point_and_faint_dots():
    # classes 0..5: counts 3, 3, 3, 10, 50, 50; accuracies by hand
    display = PerClassAccuracyDisplay(
        [[0.0, 1.0, 0.5, 0.4, 0.9, np.nan]], [3, 3, 3, 10, 50, 50]
    ).plot()
    (line,) = display.lines_
    # one x per distinct count, never two segments at the same x
    np.testing.assert_array_equal(line.get_xdata(), [3, 10, 50])
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.4, 0.9])
    (points,) = display.points_
    # classes 0, 1, 2 share count 3; class 5 has no accuracy, so class 4 is
    # alone at count 50 and its curve point is its own accuracy: no dot
    np.testing.assert_allclose(points.get_offsets(), [[3, 0.0], [3, 1.0], [3, 0.5]])


def test_distinct_counts_draw_no_dots():
    display = PerClassAccuracyDisplay([[0.1, 0.2]], [5, 6]).plot()
    assert display.points_ == []


def test_thousand_classes_with_ties_stay_monotone_in_x():
    rng = np.random.default_rng(0)
    counts = np.round(np.geomspace(500, 5, 1000)).astype(int)
    acc = rng.uniform(size=(2, 1000))
    display = PerClassAccuracyDisplay(acc, counts).plot()
    for line, row in zip(display.lines_, acc, strict=True):
        x = line.get_xdata()
        assert np.all(np.diff(x) > 0)
        np.testing.assert_array_equal(x, np.unique(counts))
        expected = [row[counts == c].mean() for c in x]
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert len(display.points_) == 2
