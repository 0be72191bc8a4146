import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)

from ltsk.model_selection import LongTailStratifiedKFold

TAIL_COUNTS = [50, 20, 7, 3, 2, 1]


def _labels_from_counts(counts, *, seed=None):
    """Labels 0..C-1 with the given counts, optionally in a random order."""
    y = np.repeat(np.arange(len(counts)), counts)
    if seed is not None:
        y = np.random.default_rng(seed).permutation(y)
    return y


def _check_invariants(cv, y):
    """Assert every documented property of the folds; return the test folds."""
    y = np.asarray(y)
    n_samples, k = y.size, cv.get_n_splits()
    counts = Counter(y.tolist())
    singles = {c for c, n in counts.items() if n == 1}
    splits = list(cv.split(np.zeros((n_samples, 2)), y))
    assert len(splits) == k

    tests = []
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        both = np.sort(np.concatenate([train, test]))
        assert np.array_equal(both, np.arange(n_samples))
        # every class is present in every training fold
        assert set(y[train].tolist()) == set(counts)
        assert not singles & set(y[test].tolist())
        assert test.size > 0
        tests.append(test)

    # test folds are disjoint and cover all samples but the one-member classes
    all_tests = np.concatenate(tests)
    assert np.unique(all_tests).size == all_tests.size
    expected_cover = np.flatnonzero([label not in singles for label in y.tolist()])
    assert np.array_equal(np.sort(all_tests), expected_cover)

    sizes = [t.size for t in tests]
    assert max(sizes) - min(sizes) <= 1

    for label, n_c in counts.items():
        per_fold = np.array([np.sum(y[t] == label) for t in tests])
        if n_c >= k:
            assert set(per_fold.tolist()) <= {n_c // k, -(-n_c // k)}
            assert per_fold.sum() == n_c
        elif n_c >= 2:
            # one per fold over n_c distinct folds: no test fold takes them all
            assert per_fold.max() == 1
            assert per_fold.sum() == n_c
            assert per_fold.max() <= n_c - 1
    return tests


@pytest.mark.parametrize(
    ("shuffle", "random_state"),
    [(False, None), (True, 0), (True, 1), (True, 2), (True, 12345)],
)
@pytest.mark.parametrize("order_seed", [None, 7])
def test_every_training_fold_has_every_class(shuffle, random_state, order_seed):
    y = _labels_from_counts(TAIL_COUNTS, seed=order_seed)
    cv = LongTailStratifiedKFold(5, shuffle=shuffle, random_state=random_state)
    tests = _check_invariants(cv, y)
    # by hand: 82 samples of classes with >= 2 members over 5 folds -> 17,17,16,16,16
    assert sorted(t.size for t in tests) == [16, 16, 16, 17, 17]


def test_hand_worked_folds():
    # Classes by first appearance: 1 -> code 0 (idx 0,2,5,6,8), 0 -> code 1
    # (idx 1,4,7), 2 -> code 2 (idx 3,9), 7 is a singleton (idx 10).
    # Layout positions 0..9, fold = position mod 3, sorted within each class:
    # code 0 at 0..4 -> [0,0,1,1,2]; code 1 at 5..7 -> [0,1,2]; code 2 at 8,9 -> [0,2].
    y = np.array([1, 0, 1, 2, 0, 1, 1, 0, 1, 2, 7])
    cv = LongTailStratifiedKFold(3)
    tests = [test for _, test in cv.split(np.zeros(y.size), y)]
    assert [t.tolist() for t in tests] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    trains = [train for train, _ in cv.split(np.zeros(y.size), y)]
    assert all(10 in train for train in trains)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("order_seed", [None, 3])
def test_same_folds_as_stratified_kfold_without_singletons(shuffle, order_seed):
    y = _labels_from_counts([40, 17, 9, 5, 3, 2], seed=order_seed)
    names = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])[y]
    random_state = 11 if shuffle else None
    X = np.zeros((y.size, 1))
    ours = LongTailStratifiedKFold(4, shuffle=shuffle, random_state=random_state)
    with warnings.catch_warnings():
        # StratifiedKFold warns about the classes with fewer than 4 members
        warnings.simplefilter("ignore", UserWarning)
        theirs = list(
            StratifiedKFold(4, shuffle=shuffle, random_state=random_state).split(
                X, names
            )
        )
    for (tr_a, te_a), (tr_b, te_b) in zip(ours.split(X, names), theirs, strict=True):
        assert np.array_equal(tr_a, tr_b)
        assert np.array_equal(te_a, te_b)


def test_large_classes_stratified_with_singletons_present():
    y = _labels_from_counts([23, 11, 1, 1, 6], seed=5)
    cv = LongTailStratifiedKFold(5, shuffle=True, random_state=0)
    tests = _check_invariants(cv, y)
    per_fold = {c: sorted(int(np.sum(y[t] == c)) for t in tests) for c in (0, 1, 4)}
    # by hand: 23 = 3 * 5 + 2 * 4, 11 = 2 * 4 + 3, 6 = 1 * 4 + 2
    assert per_fold == {0: [4, 4, 5, 5, 5], 1: [2, 2, 2, 2, 3], 4: [1, 1, 1, 1, 2]}


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 60), min_size=2, max_size=8),
    n_splits=st.integers(2, 6),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_invariants_property(counts, n_splits, shuffle, seed):
    y = _labels_from_counts(counts, seed=seed)
    cv = LongTailStratifiedKFold(
        n_splits, shuffle=shuffle, random_state=seed if shuffle else None
    )
    n_testable = sum(n for n in counts if n >= 2)
    if n_testable < n_splits:
        with pytest.raises(ValueError, match="n_splits"):
            cv.split(np.zeros(y.size), y)
    else:
        _check_invariants(cv, y)


def _folds(cv, y):
    return [test.tolist() for _, test in cv.split(np.zeros(y.size), y)]


def test_random_state_determinism():
    y = _labels_from_counts(TAIL_COUNTS, seed=0)
    first = _folds(LongTailStratifiedKFold(5, shuffle=True, random_state=3), y)
    again = _folds(LongTailStratifiedKFold(5, shuffle=True, random_state=3), y)
    other = _folds(LongTailStratifiedKFold(5, shuffle=True, random_state=4), y)
    assert first == again
    assert first != other
    # a RandomState instance advances, like with StratifiedKFold
    cv = LongTailStratifiedKFold(5, shuffle=True, random_state=np.random.RandomState(3))
    assert _folds(cv, y) == first
    assert _folds(cv, y) != first


def test_no_shuffle_is_deterministic_and_keeps_order():
    y = _labels_from_counts(TAIL_COUNTS, seed=1)
    cv = LongTailStratifiedKFold(5)
    tests = _folds(cv, y)
    assert tests == _folds(cv, y)
    fold_of = np.full(y.size, -1)
    for fold, test in enumerate(tests):
        fold_of[test] = fold
    # within each class, earlier samples go to earlier folds (contiguous blocks)
    for label in range(len(TAIL_COUNTS)):
        seq = fold_of[y == label]
        if seq.size > 1:
            assert np.all(np.diff(seq) >= 0)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["z", "y", "x", "w", "v", "u"]),
        np.array([-3, 10, 2, 7, 0, 5]),
        np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]),
        np.array(["a", "bb", "c", "dd", "e", "ff"], dtype=object),
    ],
)
def test_folds_invariant_to_label_type_and_names(labels):
    codes = _labels_from_counts(TAIL_COUNTS, seed=2)
    cv = LongTailStratifiedKFold(5, shuffle=True, random_state=0)
    assert _folds(cv, labels[codes]) == _folds(cv, codes)
    _check_invariants(cv, labels[codes])


def test_binary_and_list_input():
    y = [True] * 7 + [False] * 3
    _check_invariants(LongTailStratifiedKFold(3), y)


def _tail_data():
    counts = [30, 12, 5, 2, 1]
    y = _labels_from_counts(counts, seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(y.size, 3)) + y[:, None]
    return X, y


@pytest.mark.filterwarnings("ignore:Scoring failed:UserWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores:UserWarning")
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_grid_search_scores_finite_where_stratified_kfold_fails():
    X, y = _tail_data()
    labels = np.unique(y)
    fixed_log_loss = make_scorer(
        log_loss,
        response_method="predict_proba",
        greater_is_better=False,
        labels=labels,
    )
    scoring = {"log_loss": fixed_log_loss, "bacc": "balanced_accuracy"}
    grid = {"C": [0.1, 10.0]}

    def search(cv, error_score):
        return GridSearchCV(
            LogisticRegression(max_iter=2000),
            grid,
            cv=cv,
            scoring=scoring,
            refit=False,
            error_score=error_score,
        ).fit(X, y)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = search(LongTailStratifiedKFold(3), "raise")
    assert not [w for w in caught if "least populated" in str(w.message)]
    for metric in scoring:
        for fold in range(3):
            scores = ours.cv_results_[f"split{fold}_test_{metric}"]
            assert scores.shape == (2,)
            assert np.all(np.isfinite(scores))
    assert np.all(ours.cv_results_["split0_test_log_loss"] < 0)

    # StratifiedKFold: it only warns, then the fold whose training part lacks
    # the one-sample class (label 4) fits a 4-class model and log-loss fails.
    skf = StratifiedKFold(3)
    with pytest.warns(UserWarning, match="least populated class in y has only 1"):
        skf_tests = [te for _, te in skf.split(X, y)]
    fold_with_single = [i for i, te in enumerate(skf_tests) if 4 in y[te]]
    assert len(fold_with_single) == 1
    with pytest.warns(UserWarning, match="least populated class in y has only 1"):
        theirs = search(skf, np.nan)
    for fold in range(3):
        scores = theirs.cv_results_[f"split{fold}_test_log_loss"]
        if fold in fold_with_single:
            assert np.all(np.isnan(scores))
        else:
            assert np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="number of classes in labels"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            search(skf, "raise")


def test_cross_val_score_and_predict():
    X, y = _tail_data()
    cv = LongTailStratifiedKFold(3)
    scores = cross_val_score(LogisticRegression(max_iter=2000), X, y, cv=cv)
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))
    # test folds lack the one-sample class, so log-loss needs fixed labels
    # (as documented): the string scorer infers them per fold and fails
    with pytest.raises(ValueError, match="different number of classes"):
        cross_val_score(
            LogisticRegression(max_iter=2000),
            X,
            y,
            cv=cv,
            scoring="neg_log_loss",
            error_score="raise",
        )
    # the one-sample class is in no test fold: the folds are not a partition
    with pytest.raises(ValueError, match="only works for partitions"):
        cross_val_predict(LogisticRegression(max_iter=2000), X, y, cv=cv)
    keep = y != 4
    pred = cross_val_predict(LogisticRegression(max_iter=2000), X[keep], y[keep], cv=cv)
    assert pred.shape == (keep.sum(),)


def test_get_n_splits_and_repr():
    cv = LongTailStratifiedKFold(4, shuffle=True, random_state=0)
    assert cv.get_n_splits() == 4
    assert cv.get_n_splits(np.zeros(3), [0, 1, 1], None) == 4
    assert repr(cv) == (
        "LongTailStratifiedKFold(n_splits=4, random_state=0, shuffle=True)"
    )
    assert repr(LongTailStratifiedKFold()) == (
        "LongTailStratifiedKFold(n_splits=5, random_state=None, shuffle=False)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_splits": 1}, ValueError, r"'n_splits' .* int in the range \[2, inf\)"),
        ({"n_splits": 0}, ValueError, r"'n_splits' .* int in the range \[2, inf\)"),
        ({"n_splits": 2.5}, ValueError, r"'n_splits' .* Got 2.5 instead"),
        ({"n_splits": "3"}, ValueError, r"'n_splits' .* Got '3' instead"),
        ({"n_splits": True}, ValueError, r"'n_splits' .* Got True instead"),
        (
            {"shuffle": "yes"},
            TypeError,
            r"'shuffle' parameter .* must be an instance of 'bool'",
        ),
        ({"random_state": 0}, ValueError, "random_state has no effect since shuffle"),
        (
            {"shuffle": True, "random_state": "seed"},
            TypeError,
            r"'random_state' parameter of LongTailStratifiedKFold must be an int",
        ),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LongTailStratifiedKFold(**kwargs)


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        (None, ValueError, "y is required"),
        (np.zeros((9, 1)), ValueError, r"y must be 1-D .* got shape \(9, 1\)"),
        (np.linspace(0, 1, 9), ValueError, "y must hold class labels.*continuous"),
        (
            np.array([0.0] * 4 + [1.0] * 4 + [np.nan]),
            ValueError,
            "y must not contain NaN",
        ),
        (np.array(["a", 1] * 4 + ["a"], dtype=object), TypeError, "one comparable"),
        (np.arange(8) % 2, ValueError, "same number of samples, got 9 and 8"),
        (np.array([0, 0, 1, 2, 3, 4, 5, 6, 7]), ValueError, "n_splits=3 is greater"),
        (np.arange(9), ValueError, "n_splits=3 is greater than the 0 samples"),
    ],
)
def test_bad_targets(y, error, match):
    cv = LongTailStratifiedKFold(3)
    # errors come at the call, before any fold is drawn
    with pytest.raises(error, match=match):
        cv.split(np.zeros((9, 2)), y)


def test_groups_are_ignored_with_a_warning():
    y = _labels_from_counts([6, 3, 1])
    cv = LongTailStratifiedKFold(3)
    with pytest.warns(UserWarning, match="groups parameter is ignored"):
        folds = [t.tolist() for _, t in cv.split(np.zeros(10), y, groups=np.arange(10))]
    assert folds == _folds(cv, y)
