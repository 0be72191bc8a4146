import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import InvalidParameterError

from ltsk.metrics import make_shot_scorer, shot_accuracy, shot_groups


def test_shot_groups_boundaries():
    groups = shot_groups([101, 100, 50, 20, 19, 0])
    assert_array_equal(groups, ["many", "medium", "medium", "medium", "few", "few"])


def test_shot_groups_dict_and_custom_thresholds():
    groups = shot_groups({"a": 11, 2: 10, "c": 5, "d": 4}, many=10, few=5)
    assert groups == {"a": "many", 2: "medium", "c": "medium", "d": "few"}
    # many == few: only n == many is medium
    assert_array_equal(shot_groups([4, 3, 2], many=3, few=3), ["many", "medium", "few"])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"many": 10, "few": 20}, ValueError, "many must be >= few"),
        ({"many": 10, "few": -1}, ValueError, r"'few' parameter of \w+ must be"),
        ({"many": np.inf}, ValueError, r"'many' .* range \[0.0, inf\)"),
        ({"many": "100"}, TypeError, r"'many' parameter of \w+ must be"),
    ],
)
def test_shot_groups_bad_thresholds(kwargs, error, match):
    with pytest.raises(error, match=match):
        shot_groups([5, 50, 500], **kwargs)
    with pytest.raises(error, match=match):
        shot_accuracy([0], [0], train_counts={0: 5}, **kwargs)


@pytest.mark.parametrize("counts", [[5, -1], [], [[1, 2]], [np.nan, 3]])
def test_shot_groups_bad_counts(counts):
    with pytest.raises(ValueError, match="train_counts"):
        shot_groups(counts)


def test_shot_accuracy_hand_computed():
    # training counts: 0 -> 500 (many), 1 -> 101 (many), 2 -> 100 (medium),
    # 3 -> 20 (medium), 4 -> 19 (few)
    train_counts = {0: 500, 1: 101, 2: 100, 3: 20, 4: 19}
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 4, 4]
    y_pred = [0, 0, 0, 1, 1, 0, 2, 0, 2, 0, 4, 0, 0, 0]
    # per-class recall: 0: 3/4, 1: 1/2, 2: 2/3, 3: 0, 4: 1/4
    scores = shot_accuracy(y_true, y_pred, train_counts=train_counts)
    assert scores["many"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert scores["medium"] == pytest.approx((2 / 3 + 0) / 2)
    assert scores["few"] == pytest.approx(1 / 4)
    assert scores["all"] == pytest.approx((3 / 4 + 1 / 2 + 2 / 3 + 0 + 1 / 4) / 5)
    assert scores["all"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert list(scores) == ["many", "medium", "few", "all"]


def test_counts_with_labels_equals_dict():
    y_true = np.array([3, 3, 7, 7, 9])
    y_pred = np.array([3, 7, 7, 7, 3])
    by_dict = shot_accuracy(y_true, y_pred, train_counts={3: 200, 7: 50, 9: 2})
    by_array = shot_accuracy(
        y_true, y_pred, train_counts=np.array([2, 50, 200]), labels=[9, 7, 3]
    )
    assert by_dict == by_array == {"many": 0.5, "medium": 1.0, "few": 0.0, "all": 0.5}


def test_empty_group_is_nan():
    scores = shot_accuracy([0, 1], [0, 0], train_counts={0: 500, 1: 300})
    assert scores["many"] == 0.5
    assert math.isnan(scores["medium"]) and math.isnan(scores["few"])


def test_class_without_test_samples_is_left_out():
    # class "c" (few) has training samples but none in y_true
    scores = shot_accuracy(
        ["a", "b"], ["a", "a"], train_counts={"a": 500, "b": 50, "c": 5}
    )
    assert scores == {"many": 1.0, "medium": 0.0, "few": scores["few"], "all": 0.5}
    assert math.isnan(scores["few"])


def test_string_labels_and_predictions_outside_train_counts():
    # a prediction of an unknown label is just wrong, not an error
    scores = shot_accuracy(
        np.array(["owl", "owl", "cat"], dtype=object),
        ["owl", "dog", "cat"],
        train_counts={"cat": 1000, "owl": 3},
    )
    assert scores == {"many": 1.0, "medium": scores["medium"], "few": 0.5, "all": 0.75}


def test_mixed_label_types():
    with pytest.raises(ValueError, match="different label types"):
        shot_accuracy([1, 2], ["1", "2"], train_counts={1: 5, 2: 5})
    # object arrays compare element by element
    y_pred = np.array(["1", 2], dtype=object)
    assert shot_accuracy([1, 2], y_pred, train_counts={1: 5, 2: 5})["all"] == 0.5


def test_bad_train_counts():
    with pytest.raises(ValueError, match="not in train_counts"):
        shot_accuracy(["a", "z"], ["a", "a"], train_counts={"a": 5, "b": 5})
    with pytest.raises(ValueError, match="needs labels="):
        shot_accuracy([0, 1], [0, 1], train_counts=[5, 5])
    with pytest.raises(ValueError, match="labels must be None"):
        shot_accuracy([0, 1], [0, 1], train_counts={0: 5, 1: 5}, labels=[0, 1])
    with pytest.raises(ValueError, match="match one to one"):
        shot_accuracy([0, 1], [0, 1], train_counts=[5, 5], labels=[0, 1, 2])
    with pytest.raises(ValueError, match="must be unique"):
        shot_accuracy([0, 1], [0, 1], train_counts=[5, 5], labels=[0, 0])
    with pytest.raises(ValueError, match="train_counts must be non-negative"):
        shot_accuracy([0, 1], [0, 1], train_counts={0: 5, 1: -5})


def test_bad_y():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        shot_accuracy([0, 1], [0], train_counts={0: 5, 1: 5})
    with pytest.raises(ValueError, match="at least one sample"):
        shot_accuracy([], [], train_counts={0: 5})


def test_scorer_equals_metric():
    class Constant(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0].astype(int)

    X = np.array([[0], [0], [1], [0], [2], [2]])
    y = np.array([0, 0, 1, 1, 2, 2])
    counts = {0: 200, 1: 50, 2: 5}
    est = Constant().fit(X, y)
    for group, expected in [("many", 1.0), ("medium", 0.5), ("few", 1.0)]:
        assert make_shot_scorer(group, train_counts=counts)(est, X, y) == expected
    scorer = make_shot_scorer(train_counts=[200, 50, 5], labels=[0, 1, 2])
    assert scorer(est, X, y) == pytest.approx(2.5 / 3)


def test_scorer_in_grid_search():
    # class 0 is a big blob; the tail classes sit near it, so a large k lets
    # the head swallow them.
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    n = [200, 20, 8]
    X = np.vstack(
        [rng.normal(c, 1.0, size=(m, 2)) for c, m in zip(centres, n, strict=True)]
    )
    y = np.repeat([0, 1, 2], n)
    labels, counts = np.unique(y, return_counts=True)
    scorer = make_shot_scorer("few", train_counts=counts, labels=labels, few=10)
    search = GridSearchCV(
        KNeighborsClassifier(),
        {"n_neighbors": [1, 101]},
        scoring=scorer,
        cv=KFold(4, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert scores[0] > scores[1]
    assert search.best_params_ == {"n_neighbors": 1}
    # the same number by hand on one split
    train, test = next(KFold(4, shuffle=True, random_state=0).split(X))
    pred = KNeighborsClassifier(n_neighbors=1).fit(X[train], y[train]).predict(X[test])
    few = y[test] == 2
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        np.mean(pred[few] == 2)
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"group": "tail", "train_counts": {0: 1}},
            ValueError,
            r"'group' parameter of make_shot_scorer must be a str among",
        ),
        ({"train_counts": [1, 2]}, ValueError, "needs labels="),
        ({"train_counts": {0: 1}, "many": 1, "few": 2}, ValueError, "many must be"),
    ],
)
def test_scorer_validates_eagerly(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_shot_scorer(**kwargs)


@pytest.mark.parametrize(
    "name, call",
    [
        ("shot_groups", lambda: shot_groups([5, 50], few=-1)),
        ("shot_accuracy", lambda: shot_accuracy([0], [0], train_counts={0: 5}, few=-1)),
        ("make_shot_scorer", lambda: make_shot_scorer(train_counts={0: 5}, few=-1)),
    ],
)
def test_thresholds_are_worded_alike_on_every_path(name, call):
    match = (
        rf"^The 'few' parameter of {name} must be a float in the range "
        r"\[0.0, inf\). Got -1 instead.$"
    )
    with pytest.raises(InvalidParameterError, match=match):
        call()
