"""MaxNorm: the projection formula, per-step application, the official
relative radius, and errors."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from ltsk.losses import LDAMLoss
from ltsk.nets import MLP, LongTailNetClassifier, MaxNorm

rng = np.random.default_rng(0)
Y = np.repeat([0, 1, 2], [60, 20, 6])
X = (rng.normal(size=(86, 4)) + 2.0 * Y[:, None]).astype(np.float32)


class NormRecorder(Callback):
    """Largest row norm of the classifier after every batch (runs after MaxNorm)."""

    def initialize(self):
        self.train_, self.valid_ = [], []
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        norms = torch.linalg.vector_norm(net.module_.classifier.weight, dim=1)
        (self.train_ if training else self.valid_).append(norms.detach().clone())


def _net(callbacks, **kwargs):
    params = {"max_epochs": 3, "batch_size": 16, "random_state": 0, "lr": 0.5}
    params.update(kwargs)
    return LongTailNetClassifier(MLP, callbacks=callbacks, **params)


def test_every_training_step_is_projected():
    recorder = NormRecorder()
    net = _net([("maxnorm", MaxNorm(0.3, relative=False)), ("rec", recorder)])
    net.fit(X, Y)
    # ceil(86 / 16) = 6 steps per epoch, 3 epochs: every one ends inside the ball.
    assert len(recorder.train_) == 18
    for norms in recorder.train_:
        assert float(norms.max()) <= 0.3 * (1 + 1e-6)
    # and the constraint is active (without it the rows grow past 0.3)
    assert any(float(n.max()) == pytest.approx(0.3, rel=1e-5) for n in recorder.train_)
    free = NormRecorder()
    _net([("rec", free)]).fit(X, Y)
    assert float(free.train_[-1].max()) > 0.3


def test_projection_formula_by_hand():
    net = _net([("maxnorm", MaxNorm(1.0, relative=False))], max_epochs=1).fit(X, Y)
    callback = dict(net.callbacks_)["maxnorm"]
    weight = net.module_.classifier.weight
    rows = np.zeros((3, weight.shape[1]), dtype=np.float32)
    rows[0, :2] = [3.0, 4.0]  # norm 5 -> scaled to norm 1: [0.6, 0.8]
    rows[1, 0] = 0.5  # inside the ball: unchanged
    # row 2 is zero: unchanged (no division by zero)
    with torch.no_grad():
        weight.copy_(torch.from_numpy(rows))
    bias = net.module_.classifier.bias.detach().clone()
    callback.on_batch_end(net, training=False)  # validation batches: untouched
    np.testing.assert_array_equal(weight.detach().numpy(), rows)
    callback.on_batch_end(net, training=True)
    expected = rows.copy()
    expected[0, :2] = [0.6, 0.8]
    np.testing.assert_allclose(weight.detach().numpy(), expected, rtol=1e-6)
    # the bias is not constrained
    np.testing.assert_array_equal(net.module_.classifier.bias.detach(), bias)


def test_relative_radius_is_official_rule():
    # max_epochs=0 initialises the same module (same seed) without training.
    initial = _net([], max_epochs=0).fit(X, Y)
    norms = np.linalg.norm(initial.module_.classifier.weight.detach().numpy(), axis=1)
    net = _net([("maxnorm", MaxNorm(0.25))], max_epochs=1).fit(X, Y)
    radius = dict(net.callbacks_)["maxnorm"].radius_
    expected = norms.min() + 0.25 * (norms.max() - norms.min())
    assert radius == pytest.approx(expected, rel=1e-6)
    assert np.linalg.norm(net.coef_, axis=1).max() <= radius * (1 + 1e-6)


def test_continued_fit_keeps_radius():
    net = _net([("maxnorm", MaxNorm(0.5))], max_epochs=1).fit(X, Y)
    radius = dict(net.callbacks_)["maxnorm"].radius_
    net.partial_fit(X, Y)
    assert dict(net.callbacks_)["maxnorm"].radius_ == radius
    net.fit(X, Y)  # a new fit recomputes it from the new initial weights
    assert dict(net.callbacks_)["maxnorm"].radius_ == pytest.approx(radius)


def test_inactive_constraint_changes_nothing():
    plain = _net([]).fit(X, Y)
    constrained = _net([("maxnorm", MaxNorm(1e6, relative=False))]).fit(X, Y)
    np.testing.assert_array_equal(plain.coef_, constrained.coef_)


def test_grid_search_parameter():
    net = _net([("maxnorm", MaxNorm())], max_epochs=1)
    net.set_params(callbacks__maxnorm__thresh=0.7)
    net.fit(X, Y)
    assert dict(net.callbacks_)["maxnorm"].thresh == 0.7


def test_bad_thresh():
    with pytest.raises(ValueError, match="thresh"):
        _net([("maxnorm", MaxNorm(-1.0))], max_epochs=1).fit(X, Y)


def test_cosine_classifier_refused():
    with pytest.raises(TypeError, match="NormedLinear"):
        _net([("maxnorm", MaxNorm())], criterion=LDAMLoss, max_epochs=1).fit(X, Y)
