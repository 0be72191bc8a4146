import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

TRAIN_COUNTS = {"ant": 80, "bee": 30, "cat": 10, "dog": 4}


class CountingLogisticRegression(LogisticRegression):
    """A linear classifier that records class_counts_ as ltsk heads and nets do."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        y = np.asarray(y)
        self.class_counts_ = np.array([np.sum(y == c) for c in self.classes_])
        return self


@pytest.fixture
def counting_lr():
    """The class CountingLogisticRegression (test modules cannot import conftest)."""
    return CountingLogisticRegression


@pytest.fixture
def train_counts():
    return dict(TRAIN_COUNTS)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def long_tailed():
    """Four classes with training counts 80/30/10/4 and a balanced test set."""
    rng = np.random.default_rng(0)
    labels = np.array(list(TRAIN_COUNTS))
    centres = 1.5 * rng.normal(size=(4, 3))
    y_train = np.repeat(labels, list(TRAIN_COUNTS.values()))
    y_test = np.repeat(labels, 15)
    index = {label: i for i, label in enumerate(labels)}
    X_train = centres[[index[v] for v in y_train]] + rng.normal(size=(y_train.size, 3))
    X_test = centres[[index[v] for v in y_test]] + rng.normal(size=(y_test.size, 3))
    return X_train, X_test, y_train, y_test
