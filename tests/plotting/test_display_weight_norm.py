import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from ltsk import DecoupledClassifier, NCMHead, TauNormHead
from ltsk.plotting import WeightNormDisplay


def _row_norms_by_count(coef, counts):
    """Second implementation: norms as plain Python, sorted by decreasing count."""
    norms = [math.sqrt(sum(float(w) ** 2 for w in row)) for row in coef]
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    return [norms[i] for i in order], order


def test_from_estimator_plots_norms_sorted_by_count(long_tailed):
    X_train, _, y_train, _ = long_tailed
    clf = LogisticRegression().fit(X_train, y_train)
    # dict in a scrambled order, so alignment with classes_ is exercised
    counts = {"dog": 4, "bee": 30, "ant": 80, "cat": 10}
    display = WeightNormDisplay.from_estimator(clf, train_counts=counts)

    aligned = [counts[c] for c in clf.classes_]
    expected, order = _row_norms_by_count(clf.coef_, aligned)
    np.testing.assert_allclose(display.line_.get_ydata(), expected, rtol=1e-12)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(4))
    np.testing.assert_array_equal(display.order_, order)
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks == [str(clf.classes_[i]) for i in order]
    assert display.ax_.get_legend().get_texts()[0].get_text() == "LogisticRegression"
    assert display.figure_ is display.ax_.figure


def test_class_counts_array_aligned_with_classes(long_tailed):
    X_train, _, y_train, _ = long_tailed
    clf = LogisticRegression().fit(X_train, y_train)
    display = WeightNormDisplay.from_estimator(clf, train_counts=[4, 10, 30, 80])
    expected, _ = _row_norms_by_count(clf.coef_, [4, 10, 30, 80])
    np.testing.assert_allclose(display.line_.get_ydata(), expected, rtol=1e-12)
    # the heaviest class is the last one of classes_ here
    assert display.order_.tolist() == [3, 2, 1, 0]


def test_counts_taken_from_estimator(long_tailed, counting_lr, train_counts):
    X_train, _, y_train, _ = long_tailed
    clf = counting_lr().fit(X_train, y_train)
    display = WeightNormDisplay.from_estimator(clf, name="joint")
    expected, _ = _row_norms_by_count(clf.coef_, list(train_counts.values()))
    np.testing.assert_allclose(display.line_.get_ydata(), expected, rtol=1e-12)
    np.testing.assert_array_equal(display.train_counts, [80, 30, 10, 4])
    assert display.line_.get_label() == "joint"


def test_decoupled_classifier_uses_its_head(long_tailed, counting_lr):
    X_train, _, y_train, _ = long_tailed
    joint = counting_lr().fit(X_train, y_train)
    clf = DecoupledClassifier(None, TauNormHead(tau=1.0)).fit(X_train, y_train)
    display = WeightNormDisplay.from_estimator(clf)
    # full tau-normalisation makes every weight vector a unit vector
    np.testing.assert_allclose(display.line_.get_ydata(), np.ones(4), rtol=1e-10)
    np.testing.assert_array_equal(display.train_counts, clf.head_.class_counts_)
    assert display.line_.get_label() == "TauNormHead"
    # the joint classifier's norms are not flat: Kang et al.'s observation
    joint_display = WeightNormDisplay.from_estimator(joint)
    assert np.ptp(joint_display.line_.get_ydata()) > 0.1


def test_two_displays_share_an_axes(long_tailed, counting_lr):
    X_train, _, y_train, _ = long_tailed
    joint = counting_lr().fit(X_train, y_train)
    balanced = counting_lr(class_weight="balanced").fit(X_train, y_train)
    _, ax = plt.subplots()
    first = WeightNormDisplay.from_estimator(joint, ax=ax, name="joint")
    second = WeightNormDisplay.from_estimator(balanced, ax=ax, name="balanced")
    assert first.ax_ is second.ax_ is ax
    assert len(ax.get_lines()) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["joint", "balanced"]
    expected, _ = _row_norms_by_count(balanced.coef_, [80, 30, 10, 4])
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), expected, rtol=1e-12)


def test_constructor_and_ties_keep_original_order():
    display = WeightNormDisplay([1.0, 2.0, 3.0, 4.0], [5, 9, 5, 1]).plot(color="red")
    assert display.line_.get_ydata().tolist() == [2.0, 1.0, 3.0, 4.0]
    assert display.line_.get_color() == "red"
    assert display.ax_.get_legend() is None
    assert display.ax_.get_xlabel().startswith("Class rank")


def test_many_classes_show_ranks_not_labels():
    n = 25
    display = WeightNormDisplay(
        np.linspace(1, 2, n), np.arange(1, n + 1), labels=np.arange(n)
    ).plot()
    assert display.line_.get_ydata()[0] == 2.0
    assert display.ax_.get_xlabel().startswith("Class rank")


@pytest.mark.parametrize(
    ("norms", "counts", "match"),
    [
        ([1.0, 2.0], [3, 4, 5], "one norm per class"),
        ([1.0, np.nan], [3, 4], "finite and non-negative"),
        ([1.0, -1.0], [3, 4], "finite and non-negative"),
        ([1.0, 1.0], [3, -4], "train_counts must be non-negative"),
    ],
)
def test_constructor_rejects_bad_values(norms, counts, match):
    with pytest.raises(ValueError, match=match):
        WeightNormDisplay(norms, counts)


def test_labels_must_align():
    with pytest.raises(ValueError, match="labels must have one entry per class"):
        WeightNormDisplay([1.0, 2.0], [3, 4], labels=["a"])


def test_estimator_without_coef_is_rejected(long_tailed, train_counts):
    X_train, _, y_train, _ = long_tailed
    ncm = NCMHead().fit(X_train, y_train)
    with pytest.raises(TypeError, match="NCMHead has no coef_"):
        WeightNormDisplay.from_estimator(ncm)
    decoupled = DecoupledClassifier(None, NCMHead()).fit(X_train, y_train)
    with pytest.raises(TypeError, match="NCMHead has no coef_"):
        WeightNormDisplay.from_estimator(decoupled)
    knn = KNeighborsClassifier().fit(X_train, y_train)
    with pytest.raises(TypeError, match="needs a linear classifier with coef_"):
        WeightNormDisplay.from_estimator(knn, train_counts=train_counts)


def test_unfitted_and_non_estimators_are_rejected():
    with pytest.raises(NotFittedError):
        WeightNormDisplay.from_estimator(LogisticRegression(), train_counts=[1, 2])
    with pytest.raises(NotFittedError):
        WeightNormDisplay.from_estimator(DecoupledClassifier(None, TauNormHead()))
    with pytest.raises(TypeError, match="estimator must be a fitted scikit-learn"):
        WeightNormDisplay.from_estimator(np.ones((2, 3)), train_counts=[1, 2])


def test_binary_sklearn_model_has_one_row(long_tailed):
    X_train, _, y_train, _ = long_tailed
    keep = np.isin(y_train, ["ant", "bee"])
    clf = LogisticRegression().fit(X_train[keep], y_train[keep])
    with pytest.raises(ValueError, match="one weight vector per class"):
        WeightNormDisplay.from_estimator(clf, train_counts={"ant": 80, "bee": 30})


def test_missing_counts_are_errors(long_tailed):
    X_train, _, y_train, _ = long_tailed
    clf = LogisticRegression().fit(X_train, y_train)
    with pytest.raises(ValueError, match="has no class_counts_"):
        WeightNormDisplay.from_estimator(clf)
    with pytest.raises(ValueError, match=r"no count for the classes \['dog'\]"):
        WeightNormDisplay.from_estimator(
            clf, train_counts={"ant": 80, "bee": 30, "cat": 10}
        )
    with pytest.raises(ValueError, match="train_counts has 3 counts but the est"):
        WeightNormDisplay.from_estimator(clf, train_counts=[1, 2, 3])
