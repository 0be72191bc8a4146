"""The ConvergenceWarning of a net that ends as a constant predictor."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from skorch.history import History
from torch import nn

from ltsk.nets import MLP, BBNClassifier, LongTailNetClassifier
from ltsk.nets._convergence import constant_predictor_loss

COLLAPSE = r"(LongTailNetClassifier|BBNClassifier) (collapsed|ended no better)"


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], [60, 30, 10])
    X = rng.normal(size=(100, 4)) + (np.searchsorted(["a", "b", "c"], y))[:, None]
    return X.astype(np.float32), y


class KillFeatures(Callback):
    """At ``epoch``, zero and freeze the backbone: the dead-ReLU state a
    too-large step leaves behind, where no gradient reaches the backbone."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) - 1 == self.epoch:
            with torch.no_grad():
                for p in net.module_.backbone.parameters():
                    p.zero_()
                    p.requires_grad_(False)


def test_constant_predictor_loss_is_the_entropy_and_the_best_constant():
    counts = np.array([60, 30, 10])
    by_hand = -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1))
    assert constant_predictor_loss(counts) == pytest.approx(by_hand, rel=1e-12)
    assert constant_predictor_loss([5, 0, 5]) == pytest.approx(np.log(2))
    # Independent: cross-entropy of constant logits, minimised by gradient descent.
    targets = torch.as_tensor(np.repeat([0, 1, 2], counts))
    logits = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([logits], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(logits.expand(len(targets), 3), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert closure().item() == pytest.approx(by_hand, rel=1e-6)


def test_a_net_that_learned_then_collapsed_warns_naming_lr(data):
    X, y = data
    X = X * 3.0  # well separated: the net learns fast before the collapse
    net = LongTailNetClassifier(
        MLP,
        lr=0.02,
        max_epochs=20,
        batch_size=16,
        random_state=0,
        callbacks=[KillFeatures(epoch=10)],
    )
    with pytest.warns(ConvergenceWarning, match=r"collapsed.*last two.*lr=0.02"):
        net.fit(X, y)
    assert np.unique(net.predict(X)).size == 1
    assert net.history[-1, "train_predicted_classes"] == 1
    assert min(net.history[:10, "train_loss"]) <= 0.5 * net.history[-1, "train_loss"]
    with pytest.warns(ConvergenceWarning, match="collapsed"):
        net.set_params(max_epochs=2).partial_fit(X, y)


def _history_net(data, losses, n_predicted, label_counts, cls=LongTailNetClassifier):
    """A fitted net whose history and last-epoch counts are the given ones."""
    X, y = data
    net = cls(MLP, max_epochs=1, random_state=0).fit(X, y)
    net.history = History()
    for loss, k in zip(losses, n_predicted, strict=True):
        net.history.new_epoch()
        net.history.record("train_loss", loss)
        net.history.record("train_predicted_classes", k)
    net._train_label_counts_ = torch.as_tensor(label_counts)
    net._train_predicted_counts_ = torch.as_tensor([5, 3, 2])
    return net


def test_the_loss_rule_against_the_constant_predictor(data):
    counts = [60, 30, 10]
    H = constant_predictor_loss(counts)  # 0.898
    # learned (0.3), then lost it: the last loss is above H -> warns
    net = _history_net(data, [1.0, 0.3, 0.95], [3, 3, 3], counts)
    with pytest.warns(ConvergenceWarning, match=r"ended no better.*0\.95.*0\.8979"):
        net.on_train_end(net)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=COLLAPSE)
        # still below the constant predictor
        _history_net(data, [1.0, 0.3, 0.85], [3, 3, 3], counts).on_train_end(None)
        # never learned: above H, but no earlier epoch at half the last loss
        _history_net(data, [1.2, 1.0, 0.95], [3, 3, 3], counts).on_train_end(None)
        # a single class in the last epoch only
        _history_net(data, [1.0, 0.3, 0.85], [3, 3, 1], counts).on_train_end(None)
    assert H == pytest.approx(0.8979, abs=1e-4)


@pytest.mark.parametrize("cls", [LongTailNetClassifier, BBNClassifier])
def test_the_collapse_rule_of_both_nets(cls, data):
    counts = [60, 30, 10]
    net = _history_net(data, [1.0, 0.3, 0.7, 0.8], [3, 3, 1, 1], counts, cls)
    net._train_predicted_counts_ = torch.as_tensor([0, 10, 0])
    with pytest.warns(ConvergenceWarning, match=r"last two epochs \(2 and 3\).*'b'"):
        net.on_train_end(net)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=COLLAPSE)
        # collapsed, but never learned (no earlier loss at half the last one)
        _history_net(data, [1.0, 0.9, 0.8], [3, 1, 1], counts, cls).on_train_end(None)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LongTailNetClassifier(MLP, max_epochs=15, random_state=0),
        lambda: LongTailNetClassifier(MLP, q=0.0, max_epochs=15, random_state=0),
        lambda: LongTailNetClassifier(MLP, mixup="mixup", max_epochs=2, random_state=0),
        lambda: BBNClassifier(MLP, max_epochs=15, random_state=0),
        # short and slow fits still on their way down
        lambda: LongTailNetClassifier(MLP, max_epochs=1, random_state=0),
        lambda: BBNClassifier(MLP, max_epochs=1, random_state=0),
        lambda: LongTailNetClassifier(
            MLP, lr=1e-4, optimizer=torch.optim.SGD, max_epochs=3, random_state=0
        ),
    ],
    ids=["joint", "q0", "mixup", "bbn", "one-epoch", "bbn-one-epoch", "slow"],
)
def test_normal_fits_do_not_warn(make, data):
    X, y = data
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=COLLAPSE)
        make().fit(X, y)


def test_the_loss_floor_applies_only_to_plain_cross_entropy_steps(data):
    X, y = data
    kwargs = dict(max_epochs=1, random_state=0)
    counts = [6, 3, 1]
    H = constant_predictor_loss(counts)
    assert LongTailNetClassifier(MLP, **kwargs).fit(X, y)._constant_loss_floor(
        counts
    ) == pytest.approx(H)
    nll = LongTailNetClassifier(MLP, criterion=nn.NLLLoss, **kwargs).fit(X, y)
    assert nll._constant_loss_floor(counts) == pytest.approx(H)
    for net in (
        LongTailNetClassifier(MLP, mixup="remix", **kwargs),
        LongTailNetClassifier(MLP, criterion__weight=[1.0, 2.0, 3.0], **kwargs),
        LongTailNetClassifier(MLP, criterion__label_smoothing=0.1, **kwargs),
        BBNClassifier(MLP, **kwargs),
    ):
        assert net.fit(X, y)._constant_loss_floor(counts) is None
