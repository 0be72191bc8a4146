from collections import Counter

import numpy as np
import pytest
from imblearn.pipeline import make_pipeline
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from ltsk.sampling import PowerLawSampler


def _long_tailed(counts, labels=None):
    labels = np.arange(len(counts)) if labels is None else np.asarray(labels)
    y = np.repeat(labels, counts)
    X = np.arange(y.shape[0], dtype=np.float64).reshape(-1, 1)
    return X, y


@pytest.mark.parametrize(
    "q, expected",
    [
        # sqrt counts 20/10/5 -> shares 4/7, 2/7, 1/7 of 525
        (0.5, [300, 150, 75]),
        (0.0, [175, 175, 175]),
        (1.0, [400, 100, 25]),
    ],
)
def test_class_sizes_literal(q, expected):
    X, y = _long_tailed([400, 100, 25])
    sampler = PowerLawSampler(q=q, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert_array_equal(np.bincount(y_res), expected)
    assert sampler.sampling_strategy_ == dict(enumerate(expected))
    assert X_res.shape == (525, 1)


def test_largest_remainder_rounding():
    # q=0, 10 rows, 3 classes: 10/3 each -> floors 3/3/3, the one seat left
    # goes to the first class on the tie.
    X, y = _long_tailed([5, 3, 2])
    _, y_res = PowerLawSampler(q=0.0, random_state=0).fit_resample(X, y)
    assert_array_equal(np.bincount(y_res), [4, 3, 3])
    # q=1, n_samples=7: ideal 3.5/2.1/1.4 -> floors 3/2/1, remainders
    # .5/.1/.4 -> the extra seat goes to class 0.
    sampler = PowerLawSampler(q=1.0, n_samples=7, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert_array_equal(np.bincount(y_res), [4, 2, 1])


def test_every_class_keeps_one_sample():
    # ideal shares 3.988/0.004/0.004/0.004 -> tail classes pinned to one row.
    X, y = _long_tailed([1000, 1, 1, 1])
    sampler = PowerLawSampler(q=1.0, n_samples=4, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert_array_equal(np.bincount(y_res), [1, 1, 1, 1])


def test_q_one_is_identity():
    rng = np.random.default_rng(0)
    y = rng.choice(["x", "y", "z"], size=60, p=[0.7, 0.2, 0.1])
    X = rng.normal(size=(60, 3))
    sampler = PowerLawSampler(q=1.0, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert_array_equal(X_res, X)
    assert_array_equal(y_res, y)
    assert_array_equal(sampler.sample_indices_, np.arange(60))


def test_over_sampling_keeps_originals_and_under_sampling_has_no_repeats():
    X, y = _long_tailed([400, 100, 25])
    sampler = PowerLawSampler(q=0.0, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    idx = sampler.sample_indices_
    assert_array_equal(X_res[:, 0], idx)
    assert_array_equal(y_res, y[idx])
    # class 0 (400 -> 175): distinct rows only
    assert np.unique(idx[y_res == 0]).shape[0] == 175
    # classes 1 and 2 (100 -> 175, 25 -> 175): every original row present
    for label in (1, 2):
        assert set(np.flatnonzero(y == label)) <= set(idx[y_res == label])
    assert np.all(np.diff(idx) >= 0)


def test_deterministic_with_random_state():
    X, y = _long_tailed([50, 20, 5])
    a = PowerLawSampler(q=0.5, random_state=3).fit_resample(X, y)[0]
    b = PowerLawSampler(q=0.5, random_state=3).fit_resample(X, y)[0]
    c = PowerLawSampler(q=0.5, random_state=4).fit_resample(X, y)[0]
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_string_labels_and_n_samples():
    X, y = _long_tailed([30, 10], labels=["cat", "dog"])
    sampler = PowerLawSampler(q=0.0, n_samples=8, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res.tolist()) == {"cat": 4, "dog": 4}
    assert sampler.sampling_strategy_ == {"cat": 4, "dog": 4}


def test_fit_sets_targets():
    X, y = _long_tailed([400, 100, 25])
    sampler = PowerLawSampler(q=0.5).fit(X, y)
    assert sampler.sampling_strategy_ == {0: 300, 1: 150, 2: 75}
    assert sampler.n_features_in_ == 1


@pytest.mark.parametrize("q", [-0.1, 1.5, "half", None])
def test_bad_q(q):
    X, y = _long_tailed([5, 3])
    with pytest.raises((ValueError, TypeError), match="'q' parameter"):
        PowerLawSampler(q=q).fit_resample(X, y)


def test_random_state_follows_scikit_learn():
    # The team's rule: scikit-learn's "random_state" constraint, so a numpy
    # Generator is refused by name rather than half-supported.
    X, y = _long_tailed([5, 3])
    sampler = PowerLawSampler(random_state=np.random.default_rng(0))
    with pytest.raises(
        InvalidParameterError,
        match=r"'random_state' parameter of PowerLawSampler must be an int in the "
        r"range \[0, 4294967295\], an instance of 'numpy.random.mtrand.RandomState'",
    ):
        sampler.fit_resample(X, y)
    state = np.random.RandomState(0)
    by_state = PowerLawSampler(random_state=state).fit_resample(X, y)[0]
    assert_array_equal(by_state, PowerLawSampler(random_state=0).fit_resample(X, y)[0])


@pytest.mark.parametrize("n_samples", [0, -3, 2.5])
def test_bad_n_samples(n_samples):
    X, y = _long_tailed([5, 3])
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        PowerLawSampler(n_samples=n_samples).fit_resample(X, y)


def test_n_samples_below_number_of_classes():
    X, y = _long_tailed([5, 3, 2])
    with pytest.raises(ValueError, match="n_samples=2 is smaller than the number"):
        PowerLawSampler(n_samples=2).fit_resample(X, y)
    with pytest.raises(ValueError, match="n_samples=2 is smaller than the number"):
        PowerLawSampler(n_samples=2).fit(X, y)


def test_single_class_is_an_error():
    X = np.zeros((5, 1))
    with pytest.raises(ValueError, match="class"):
        PowerLawSampler().fit(X, np.zeros(5))


def test_continuous_target_is_an_error():
    X = np.zeros((30, 1))
    y = np.random.default_rng(0).normal(size=30)
    with pytest.raises(ValueError, match=r"(?i)continuous"):
        PowerLawSampler().fit_resample(X, y)


class _CountingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class and records the class sizes it was fit on."""

    def fit(self, X, y):
        self.classes_, self.seen_counts_ = np.unique(y, return_counts=True)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[np.argmax(self.seen_counts_)])


def test_pipeline_and_grid_search():
    X, y = _long_tailed([60, 30, 15])
    pipe = make_pipeline(PowerLawSampler(random_state=0), _CountingClassifier())
    search = GridSearchCV(
        pipe, {"powerlawsampler__q": [0.0, 1.0]}, cv=3, scoring="accuracy"
    )
    search.fit(X, y)
    # q=1 keeps class 0 the majority (accuracy 60/105 on every fold); q=0
    # balances, and the tie goes to the first class: same predictions, so the
    # first candidate wins ties.
    assert search.cv_results_["param_powerlawsampler__q"].tolist() == [0.0, 1.0]
    assert search.best_params_ == {"powerlawsampler__q": 0.0}
    assert_array_equal(search.best_estimator_[-1].seen_counts_, [35, 35, 35])
    pipe.set_params(powerlawsampler__q=1.0).fit(X, y)
    assert_array_equal(pipe[-1].seen_counts_, [60, 30, 15])
    # the sampler only acts in fit: predict sees every row
    assert pipe.predict(X).shape == (105,)
