"""q="progressive": the per-epoch schedule (t, T and the probabilities the
sampler uses), the drawn batches, warm starts, and bad input."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from ltsk.datasets import load_digits_lt
from ltsk.nets import MLP, LongTailNetClassifier

COUNTS = np.array([60, 25, 10, 5])


class LabelSpy(Callback):
    """Training labels of every epoch, by epoch index."""

    def initialize(self):
        self.labels_ = {}
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            epoch = len(net.history) - 1
            self.labels_.setdefault(epoch, []).append(batch[1].numpy().copy())


def make_data(counts=COUNTS, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(counts), 3))
    y = np.repeat(np.arange(len(counts)), counts)
    return centers[y] + rng.normal(size=(y.size, 3)), y


def net(**params):
    defaults = dict(
        q="progressive",
        module__hidden_units=(8,),
        max_epochs=4,
        batch_size=32,
        random_state=0,
    )
    return LongTailNetClassifier(MLP, **{**defaults, **params})


def test_schedule_runs_t_from_0_to_T_minus_1_with_literal_probabilities(schedule):
    net().fit(*make_data())
    assert [(t, T) for _, t, T, _ in schedule] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    for counts, *_ in schedule:
        np.testing.assert_array_equal(counts, COUNTS)
    p = [call[3] for call in schedule]
    # t = 0: instance-balanced, n_j / 100.
    np.testing.assert_allclose(p[0], [0.6, 0.25, 0.1, 0.05])
    # t/T = 1/2: halfway to 1/4 each, e.g. 0.5 * 0.6 + 0.5 * 0.25 = 0.425.
    np.testing.assert_allclose(p[2], [0.425, 0.25, 0.175, 0.15])
    # t/T = 3/4: 0.25 * 0.6 + 0.75 * 0.25 = 0.3375.
    np.testing.assert_allclose(p[3], [0.3375, 0.25, 0.2125, 0.2])


def test_warm_start_and_partial_fit_continue_then_stay_balanced(schedule):
    model = net(max_epochs=2, warm_start=True)
    X, y = make_data()
    model.fit(X, y)
    model.fit(X, y)
    model.partial_fit(X, y)
    assert [t for _, t, _, _ in schedule] == [0, 1, 2, 2, 2, 2]
    # t = T: class-balanced.
    np.testing.assert_allclose(schedule[-1][3], [0.25] * 4)
    assert len(model.history) == 6
    # A cold refit starts the schedule again.
    schedule.clear()
    model.set_params(warm_start=False).fit(X, y)
    assert [t for _, t, _, _ in schedule] == [0, 1]


def test_schedule_follows_the_internal_train_split(schedule):
    X, y = make_data()
    model = net(train_split=ValidSplit(0.25, random_state=0))
    model.fit(X, y)
    counts = schedule[0][0]
    assert counts.sum() == 75  # the training part, not the 100 samples
    # Class counts for the loss still come from the whole data.
    np.testing.assert_array_equal(model.class_counts_, COUNTS)


def test_drawn_batches_move_from_instance_to_class_balanced():
    counts = np.array([900, 100])
    X, y = make_data(counts)
    model = net(max_epochs=2, lr=0.0, batch_size=256, callbacks=[("spy", LabelSpy())])
    model.fit(X, y)
    labels = dict(model.callbacks_)["spy"].labels_
    share = {e: np.mean(np.concatenate(v) == 1) for e, v in labels.items()}
    assert all(np.concatenate(v).size == 1000 for v in labels.values())
    # p_1 = 0.1 at t = 0 and 0.5 * 0.1 + 0.5 * 0.5 = 0.3 at t = 1 (std < 0.015).
    assert share[0] == pytest.approx(0.1, abs=0.045)
    assert share[1] == pytest.approx(0.3, abs=0.06)


def test_reproducible():
    X, y = make_data()
    a = net().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, net().fit(X, y).predict_proba(X))


@pytest.mark.parametrize("q", ["balanced", "Progressive", None])
def test_bad_q_names_progressive(q):
    with pytest.raises(ValueError, match=r"'q' parameter.*'progressive'"):
        net(q=q).fit(*make_data())


def test_user_sampler_conflicts_with_progressive():
    model = net(iterator_train__sampler=range(100))
    with pytest.raises(ValueError, match="q=progressive needs the net's own sampler"):
        model.fit(*make_data())


def test_trains_on_digits_lt_and_beats_chance():
    X_train, X_test, y_train, y_test = load_digits_lt()
    model = LongTailNetClassifier(
        MLP, module__hidden_units=(64,), q="progressive", max_epochs=30, random_state=0
    ).fit(X_train, y_train)
    assert balanced_accuracy_score(y_test, model.predict(X_test)) > 0.6


def test_grid_search_over_q_includes_progressive():
    X, y = make_data()
    grid = GridSearchCV(
        net(max_epochs=2), {"q": [1.0, "progressive"]}, cv=2, error_score="raise"
    ).fit(X, y)
    assert grid.cv_results_["param_q"].tolist() == [1.0, "progressive"]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
