import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from ltsk import DecoupledClassifier, TauNormHead
from ltsk.metrics import shot_accuracy
from ltsk.plotting import ShotAccuracyDisplay

GROUPS = ["many", "medium", "few", "all"]

# Training counts: a many (200), b medium (50), c and d few (5, 2).
COUNTS = {"a": 200, "b": 50, "c": 5, "d": 2}
Y_TRUE = ["a", "a", "a", "a", "b", "b", "c", "c", "d", "d"]
Y_JOINT = ["a", "a", "a", "b", "b", "a", "a", "a", "a", "d"]
# worked out by hand: recalls a=3/4, b=1/2, c=0, d=1/2
JOINT_BY_HAND = [0.75, 0.5, 0.25, (0.75 + 0.5 + 0 + 0.5) / 4]
Y_BALANCED = ["a", "b", "b", "a", "b", "b", "c", "c", "d", "d"]
# recalls a=2/4, b=1, c=1, d=1
BALANCED_BY_HAND = [0.5, 1.0, 1.0, 3.5 / 4]


def _heights(container):
    return [patch.get_height() for patch in container.patches]


def _centres(container):
    return [patch.get_x() + patch.get_width() / 2 for patch in container.patches]


def test_single_prediction_bar_heights_match_hand_values():
    display = ShotAccuracyDisplay.from_predictions(Y_TRUE, Y_JOINT, train_counts=COUNTS)
    assert display.method_names == ["Classifier"]
    np.testing.assert_allclose(display.scores, [JOINT_BY_HAND])
    (bars,) = display.bars_
    np.testing.assert_allclose(_heights(bars), JOINT_BY_HAND)
    np.testing.assert_allclose(_centres(bars), [0, 1, 2, 3])
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    # a many, b medium, c and d few: the classes each bar averages
    assert ticks == [
        "Many\n(1 class)",
        "Medium\n(1 class)",
        "Few\n(2 classes)",
        "All\n(4 classes)",
    ]
    np.testing.assert_array_equal(display.n_classes, [1, 1, 2, 4])
    assert display.na_texts_ == []
    assert display.figure_ is display.ax_.figure


def test_methods_sit_side_by_side():
    predictions = {"joint": Y_JOINT, "balanced": Y_BALANCED, "oracle": Y_TRUE}
    display = ShotAccuracyDisplay.from_predictions(
        Y_TRUE, predictions, train_counts=COUNTS
    )
    assert display.method_names == ["joint", "balanced", "oracle"]
    assert len(display.bars_) == 3
    expected = [JOINT_BY_HAND, BALANCED_BY_HAND, [1.0, 1.0, 1.0, 1.0]]
    for bars, values in zip(display.bars_, expected, strict=True):
        np.testing.assert_allclose(_heights(bars), values)
    centres = np.array([_centres(bars) for bars in display.bars_])  # (method, group)
    widths = np.array([[p.get_width() for p in bars] for bars in display.bars_])
    for group in range(4):
        # ordered left to right, inside the group's slot, and not overlapping
        assert np.all(np.diff(centres[:, group]) > 0)
        assert np.all(np.abs(centres[:, group] - group) < 0.5)
        assert np.all(np.diff(centres[:, group]) >= widths[:-1, group] - 1e-12)
    np.testing.assert_allclose(centres.mean(axis=0), [0, 1, 2, 3], atol=1e-12)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["joint", "balanced", "oracle"]


def test_bar_heights_equal_shot_accuracy_with_thresholds():
    rng = np.random.default_rng(1)
    labels = np.arange(6)
    counts = np.array([300, 120, 60, 30, 8, 3])
    y_true = rng.choice(labels, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.choice(labels, size=200))
    display = ShotAccuracyDisplay.from_predictions(
        y_true,
        y_pred,
        train_counts=counts,
        labels=labels,
        many=50,
        few=10,
        name="model",
    )
    scores = shot_accuracy(
        y_true, y_pred, train_counts=counts, labels=labels, many=50, few=10
    )
    np.testing.assert_allclose(_heights(display.bars_[0]), [scores[g] for g in GROUPS])
    assert display.bars_[0].get_label() == "model"


def test_nan_group_is_drawn_empty_with_a_note():
    # no class has fewer than 20 training samples, so "few" is empty
    counts = {"a": 200, "b": 50}
    y_true = ["a", "a", "b", "b"]
    display = ShotAccuracyDisplay.from_predictions(
        y_true, {"m1": ["a", "b", "b", "b"], "m2": y_true}, train_counts=counts
    )
    assert np.isnan(display.scores[:, 2]).all()
    assert not np.isnan(display.scores[:, [0, 1, 3]]).any()
    assert len(display.na_texts_) == 2
    for bars, text in zip(display.bars_, display.na_texts_, strict=True):
        few_bar = bars.patches[2]
        assert few_bar.get_height() == 0
        assert text.get_text() == "n/a"
        x_text, _ = text.get_position()
        assert x_text == pytest.approx(few_bar.get_x() + few_bar.get_width() / 2)
    np.testing.assert_allclose(_heights(display.bars_[0]), [0.5, 1.0, 0.0, 0.75])
    assert not any(np.isnan(_heights(bars)).any() for bars in display.bars_)


def test_from_estimator_matches_from_predictions(long_tailed, train_counts):
    X_train, X_test, y_train, y_test = long_tailed
    models = {
        "plain": LogisticRegression().fit(X_train, y_train),
        "balanced": LogisticRegression(class_weight="balanced").fit(X_train, y_train),
    }
    display = ShotAccuracyDisplay.from_estimator(
        models, X_test, y_test, train_counts=train_counts, many=50, few=8
    )
    reference = ShotAccuracyDisplay.from_predictions(
        y_test,
        {name: model.predict(X_test) for name, model in models.items()},
        train_counts=train_counts,
        many=50,
        few=8,
    )
    np.testing.assert_array_equal(display.scores, reference.scores)
    assert display.method_names == ["plain", "balanced"]
    for bars, row in zip(display.bars_, display.scores, strict=True):
        np.testing.assert_allclose(_heights(bars), row)


def test_from_estimator_takes_counts_from_estimator(long_tailed, counting_lr):
    X_train, X_test, y_train, y_test = long_tailed
    clf = counting_lr().fit(X_train, y_train)
    decoupled = DecoupledClassifier(None, TauNormHead()).fit(X_train, y_train)
    _, ax = plt.subplots()
    display = ShotAccuracyDisplay.from_estimator(
        {"joint": clf, "tau-norm": decoupled}, X_test, y_test, many=50, few=8, ax=ax
    )
    assert display.ax_ is ax
    counts = {"ant": 80, "bee": 30, "cat": 10, "dog": 4}
    for model, row in zip((clf, decoupled), display.scores, strict=True):
        expected = shot_accuracy(
            y_test, model.predict(X_test), train_counts=counts, many=50, few=8
        )
        np.testing.assert_allclose(row, [expected[g] for g in GROUPS])
    single = ShotAccuracyDisplay.from_estimator(clf, X_test, y_test)
    assert single.method_names == ["CountingLogisticRegression"]


def test_from_estimator_errors(long_tailed, counting_lr):
    X_train, X_test, y_train, y_test = long_tailed
    with pytest.raises(NotFittedError):
        ShotAccuracyDisplay.from_estimator(
            LogisticRegression(), X_test, y_test, train_counts={"ant": 1}
        )
    plain = LogisticRegression().fit(X_train, y_train)
    with pytest.raises(ValueError, match="has no class_counts_"):
        ShotAccuracyDisplay.from_estimator(plain, X_test, y_test)
    full = counting_lr().fit(X_train, y_train)
    part = counting_lr().fit(X_train[10:], y_train[10:])
    with pytest.raises(ValueError, match="have different class_counts_"):
        ShotAccuracyDisplay.from_estimator({"a": full, "b": part}, X_test, y_test)
    with pytest.raises(ValueError, match="name must be None when estimator is a dict"):
        ShotAccuracyDisplay.from_estimator({"a": full}, X_test, y_test, name="x")


def test_from_predictions_errors():
    with pytest.raises(ValueError, match="name must be None when y_pred is a dict"):
        ShotAccuracyDisplay.from_predictions(
            Y_TRUE, {"m": Y_JOINT}, train_counts=COUNTS, name="x"
        )
    with pytest.raises(ValueError, match="must stay distinct as strings"):
        ShotAccuracyDisplay.from_predictions(
            Y_TRUE, {1: Y_JOINT, "1": Y_TRUE}, train_counts=COUNTS
        )
    with pytest.raises(ValueError, match="got an empty dict"):
        ShotAccuracyDisplay.from_predictions(Y_TRUE, {}, train_counts=COUNTS)
    with pytest.raises(ValueError, match="not in train_counts"):
        ShotAccuracyDisplay.from_predictions(
            Y_TRUE, Y_JOINT, train_counts={"a": 200, "b": 50}
        )


def test_constructor_accepts_dicts_and_arrays():
    as_dicts = ShotAccuracyDisplay(
        {"many": 0.9, "medium": 0.5, "few": np.nan, "all": 0.7}, method_names=["m"]
    )
    as_array = ShotAccuracyDisplay([[0.9, 0.5, np.nan, 0.7]], method_names=("m",))
    np.testing.assert_array_equal(as_dicts.scores, as_array.scores)
    assert as_array.plot(alpha=0.5) is as_array
    assert as_array.bars_[0].patches[0].get_alpha() == 0.5
    assert len(as_array.na_texts_) == 1


@pytest.mark.parametrize(
    ("scores", "names", "error", "match"),
    [
        ([[0.5, 0.5, 0.5]], ["m"], ValueError, "shape"),
        ([[0.5, 0.5, 0.5, 0.5]], ["m", "n"], ValueError, "2 method_names"),
        ([[0.5, 1.5, 0.5, 0.5]], ["m"], ValueError, r"in \[0, 1\]"),
        ([{"many": 0.5, "all": 0.5}], ["m"], ValueError, "missing"),
        ([[0.5, 0.5, 0.5, 0.5]], "m", TypeError, "method_names must be a list"),
        ([["x", 0.5, 0.5, 0.5]], ["m"], TypeError, "scores must be"),
    ],
)
def test_constructor_rejects_bad_scores(scores, names, error, match):
    with pytest.raises(error, match=match):
        ShotAccuracyDisplay(scores, method_names=names)


def test_group_sizes_count_only_evaluated_classes():
    # b has no evaluation sample: the medium bar averages no class, few one (c)
    display = ShotAccuracyDisplay.from_predictions(
        ["a", "a", "c"], ["a", "c", "c"], train_counts=COUNTS
    )
    np.testing.assert_array_equal(display.n_classes, [1, 0, 1, 2])
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks[1] == "Medium\n(0 classes)"


def test_group_sizes_given_or_left_out():
    scores = [[0.9, 0.5, 0.1, 0.5]]
    plain = ShotAccuracyDisplay(scores, method_names=["m"]).plot()
    ticks = [t.get_text() for t in plain.ax_.get_xticklabels()]
    assert ticks == ["Many", "Medium", "Few", "All"]
    sized = ShotAccuracyDisplay(
        scores,
        method_names=["m"],
        n_classes={"many": 390, "medium": 479, "few": 136, "all": 1005},
    ).plot()
    ticks = [t.get_text() for t in sized.ax_.get_xticklabels()]
    assert ticks[2] == "Few\n(136 classes)"


@pytest.mark.parametrize(
    "n_classes, match",
    [
        ([1, 2, 3], "4 non-negative whole numbers"),
        ([1, 2, -3, 0], "4 non-negative whole numbers"),
        ([1, 2, 0.5, 3], "4 non-negative whole numbers"),
        ({"many": 1}, "missing"),
    ],
)
def test_group_sizes_rejected(n_classes, match):
    with pytest.raises(ValueError, match=match):
        ShotAccuracyDisplay([[0.1] * 4], method_names=["m"], n_classes=n_classes)
