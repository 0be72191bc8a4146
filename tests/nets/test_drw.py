"""DeferredReweighting: the switch happens exactly at start_epoch (criterion
weights inspected batch by batch), originals are restored, bad input."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback
from torch import nn

from ltsk.datasets import load_digits_lt
from ltsk.losses import ClassBalancedLoss, FocalLoss, LDAMLoss
from ltsk.nets import MLP, DeferredReweighting, LongTailNetClassifier

COUNTS = np.array([60, 25, 10, 5])


def effective_number(counts, beta):
    """Second implementation: w_j = (1 - beta) / (1 - beta^n_j), sum C."""
    raw = np.array([(1 - beta) / (1 - beta**n) for n in counts])
    return raw * len(counts) / raw.sum()


class WeightRecorder(Callback):
    """The criterion's weight at every training batch, keyed by epoch index."""

    def initialize(self):
        self.weights_ = {}
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            weight = net.criterion_.weight
            epoch = len(net.history) - 1
            value = None if weight is None else weight.detach().clone()
            self.weights_.setdefault(epoch, []).append(value)


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(COUNTS), 5))
    y = np.repeat(np.arange(len(COUNTS)), COUNTS)
    return centers[y] + rng.normal(size=(y.size, 5)), y


def drw_net(drw, criterion=LDAMLoss, max_epochs=5, **params):
    return LongTailNetClassifier(
        MLP,
        module__hidden_units=(8,),
        criterion=criterion,
        max_epochs=max_epochs,
        batch_size=32,
        random_state=0,
        callbacks=[("drw", drw), ("rec", WeightRecorder())],
        **params,
    )


def recorded(net):
    """Per epoch: the one weight used by all its batches (None if unweighted)."""
    out = {}
    for epoch, values in dict(net.callbacks_)["rec"].weights_.items():
        first = values[0]
        for v in values[1:]:
            assert (v is None) == (first is None)
            assert first is None or torch.equal(v, first)
        out[epoch] = None if first is None else first.numpy()
    return out


def test_switch_happens_exactly_at_start_epoch_for_ldam():
    net = drw_net(DeferredReweighting(start_epoch=2, beta=0.999)).fit(*make_data())
    weights = recorded(net)
    assert sorted(weights) == [0, 1, 2, 3, 4]
    assert weights[0] is None and weights[1] is None
    expected = effective_number(COUNTS, 0.999)
    # By hand: 1 - 0.999^n = 0.05826, 0.02470, 0.009955, 0.004990 for
    # n = 60, 25, 10, 5; 0.001 / that = 0.017165, 0.04048, 0.10045, 0.2004
    # (sum 0.3585), times 4 / 0.3585:
    np.testing.assert_allclose(expected, [0.1915, 0.4517, 1.1208, 2.2360], atol=2e-4)
    for epoch in (2, 3, 4):
        np.testing.assert_allclose(weights[epoch], expected, rtol=1e-6)
    np.testing.assert_allclose(dict(net.callbacks_)["drw"].weights_, expected)
    # The history's 1-based "epoch" column: the switch is at epoch 3 there.
    assert net.history[2, "epoch"] == 3


def test_start_epoch_zero_weights_from_the_first_batch():
    net = drw_net(DeferredReweighting(start_epoch=0), max_epochs=2).fit(*make_data())
    weights = recorded(net)
    expected = effective_number(COUNTS, 0.9999)
    for epoch in (0, 1):
        np.testing.assert_allclose(weights[epoch], expected, rtol=1e-6)


def test_cross_entropy_user_weights_restored_on_refit_and_warm_start():
    user = np.array([1.0, 2.0, 3.0, 4.0])
    drw = DeferredReweighting(start_epoch=7, scheme="inverse")
    net = drw_net(drw, nn.CrossEntropyLoss, criterion__weight=user, warm_start=True)
    X, y = make_data()
    with pytest.warns(UserWarning, match="start_epoch=7 >= the 5 epochs"):
        net.fit(X, y)
    assert all(np.array_equal(recorded(net)[e], user) for e in range(5))
    # Warm start: epochs 5..9 continue the count, the switch is at index 7.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.fit(X, y)
    weights = recorded(net)
    inverse = (1 / COUNTS) * 4 / (1 / COUNTS).sum()
    for epoch in range(5, 10):
        expected = user if epoch < 7 else inverse
        np.testing.assert_allclose(weights[epoch], expected, rtol=1e-6)
    assert net.criterion_.weight.dtype == torch.float32
    # The same criterion object, already switched, gets the user's weights back
    # when a later fit starts before start_epoch.
    switched = net.criterion_
    net.set_params(callbacks__drw__start_epoch=12)
    net.fit(X, y)
    assert net.criterion_ is switched
    assert all(np.array_equal(recorded(net)[e], user) for e in range(10, 12))
    np.testing.assert_allclose(recorded(net)[12], inverse, rtol=1e-6)
    # A cold refit builds a fresh criterion from criterion__weight.
    net.set_params(warm_start=False, callbacks__drw__start_epoch=3).fit(X, y)
    weights = recorded(net)
    assert [np.array_equal(weights[e], user) for e in range(5)] == [1, 1, 1, 0, 0]


def test_criterion_instance_is_never_modified():
    user = nn.CrossEntropyLoss()
    net = drw_net(DeferredReweighting(start_epoch=1), user, max_epochs=2)
    net.fit(*make_data())
    assert user.weight is None
    assert net.criterion_ is not user and net.criterion_.weight is not None
    # A clone starts clean too.
    refit = clone(net).set_params(max_epochs=1)
    with pytest.warns(UserWarning, match="never switch"):
        refit.fit(*make_data())
    assert recorded(refit)[0] is None


def test_class_balanced_loss_with_beta_zero_is_deferred_focal():
    drw = DeferredReweighting(start_epoch=1, beta=0.99)
    net = drw_net(drw, ClassBalancedLoss, max_epochs=2, criterion__beta=0.0)
    net.set_params(criterion__gamma=2.0).fit(*make_data())
    weights = recorded(net)
    np.testing.assert_array_equal(weights[0], np.ones(4))
    np.testing.assert_allclose(weights[1], effective_number(COUNTS, 0.99), rtol=1e-6)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"start_epoch": -1}, ValueError, "'start_epoch' parameter"),
        ({"start_epoch": 1.5}, TypeError, "'start_epoch' parameter"),
        ({"start_epoch": 1, "beta": 1.0}, ValueError, "'beta' parameter"),
        ({"start_epoch": 1, "beta": 0.0}, ValueError, "'beta' parameter"),
        ({"start_epoch": 1, "scheme": "log"}, ValueError, "'scheme' parameter"),
        ({"start_epoch": 1, "power": -1}, ValueError, "'power' parameter"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        drw_net(DeferredReweighting(**params)).fit(*make_data())


def test_criterion_without_weight_is_a_type_error():
    net = drw_net(DeferredReweighting(start_epoch=1), FocalLoss)
    with pytest.raises(TypeError, match=r"needs a criterion with a `weight`.*Focal"):
        net.fit(*make_data())


def test_ldam_drw_trains_on_digits_lt_and_beats_chance():
    X_train, X_test, y_train, y_test = load_digits_lt()
    net = LongTailNetClassifier(
        MLP,
        module__hidden_units=(64,),
        criterion=LDAMLoss,
        max_epochs=30,
        random_state=0,
        callbacks=[DeferredReweighting(start_epoch=20)],
    ).fit(X_train, y_train)
    assert net.criterion_.weight is not None
    assert balanced_accuracy_score(y_test, net.predict(X_test)) > 0.6
