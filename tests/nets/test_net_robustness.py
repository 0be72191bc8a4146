"""LongTailNetClassifier off the happy path (issue #12): bad criterion weights,
divergence, pretrained instances, BatchNorm with a one-row last batch, resumed
progressive schedules, partial_fit's classes, sample_weight, component
validation, pickling with classes from __main__, and train splits that hide a
class."""

import pickle
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback, Checkpoint, LoadInitState
from skorch.dataset import ValidSplit
from torch import nn

from ltsk.losses import FocalLoss
from ltsk.nets import MLP, BBNClassifier, LongTailNetClassifier
from ltsk.nets._data import EpochBatchSampler

COUNTS = np.array([20, 8, 5])


def make_data(counts=COUNTS, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(counts), n_features))
    y = np.repeat(np.arange(len(counts)), counts)
    return centers[y] + rng.normal(size=(y.size, n_features)), y


def small_net(**params):
    defaults = dict(
        module__hidden_units=(8,), max_epochs=2, batch_size=16, random_state=0
    )
    return LongTailNetClassifier(MLP, **{**defaults, **params})


class BatchSizes(Callback):
    """Sizes of the training batches of every epoch."""

    def initialize(self):
        self.sizes_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.sizes_.append([])

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.sizes_[-1].append(len(batch[1]))


# ---------------------------------------------------------------------- #
# criterion weights and divergence
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (np.array([1.0, np.nan, 1.0]), r"finite and non-negative, got \[nan\]"),
        ([1.0, 2.0], r"one weight per class \(3 classes\), got shape \(2,\)"),
        (torch.tensor([1.0, 1.0, 1.0, 1.0]), r"one weight per class"),
        (torch.tensor([1.0, -0.5, 1.0]), r"non-negative, got \[-0.5\] at positions"),
        ([0, 0, 0], "not be all zero"),
        ([[1.0, 1.0, 1.0]], r"got shape \(1, 3\)"),
    ],
)
def test_bad_criterion_weight_is_an_error_naming_it(weight, match):
    with pytest.raises(ValueError, match="criterion__weight must .*" + match):
        small_net(criterion__weight=weight).fit(*make_data())


def test_weight_of_a_criterion_instance_is_checked():
    instance = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.weight must hold one"):
        small_net(criterion=instance).fit(*make_data())


def test_tensor_criterion_weight_becomes_default_float():
    weight = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    net = small_net(criterion__weight=weight, max_epochs=1).fit(*make_data())
    assert net.criterion_.weight.dtype == torch.float32
    np.testing.assert_array_equal(net.criterion_.weight.numpy(), [1.0, 2.0, 4.0])


def test_diverging_training_stops_with_an_error_naming_lr():
    X, y = make_data()
    net = small_net(optimizer=torch.optim.SGD, lr=1e6, max_epochs=10)
    with pytest.raises(FloatingPointError, match=r"lr=1000000.0 is likely too high"):
        net.fit(X * 1e3, y)
    # It stops at the first epoch with a non-finite batch loss.
    losses = net.history[:, "batches", :, "train_loss"]
    assert len(net.history) < 10
    assert np.isfinite(losses[:-1]).all()
    assert not np.isfinite(losses[-1]).all()


# ---------------------------------------------------------------------- #
# components given as instances or as names
# ---------------------------------------------------------------------- #
def test_pretrained_instance_keeps_its_weights_and_refuses_module_params():
    X, y = make_data()
    backbone = MLP(hidden_units=(8,))
    backbone(torch.zeros(1, 3))  # materialise the lazy layer: "pretrained"
    with pytest.raises(ValueError, match=r"module__hidden_units cannot be applied"):
        LongTailNetClassifier(backbone, module__hidden_units=(8,)).fit(X, y)
    net = LongTailNetClassifier(backbone, max_epochs=0).fit(X, y)
    for theirs, ours in zip(
        backbone.state_dict().values(),
        net.module_.backbone.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(ours, theirs)


def test_criterion_instance_refuses_criterion_params():
    with pytest.raises(ValueError, match=r"criterion__weight cannot be applied"):
        small_net(criterion=FocalLoss(gamma=3.0), criterion__weight=[1, 1, 1]).fit(
            *make_data()
        )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"module": "MLP"}, r"'module' parameter .* e\.g\. ltsk\.nets\.MLP"),
        ({"module": 3}, r"'module' parameter .* must be a callable"),
        ({"criterion": "CrossEntropyLoss"}, r"'criterion' parameter .*CrossEntropy"),
    ],
)
def test_component_given_by_name_is_an_invalid_parameter(params, match):
    module = params.pop("module", MLP)
    with pytest.raises(InvalidParameterError, match=match):
        LongTailNetClassifier(module, max_epochs=1, **params).fit(*make_data())


def test_random_state_generator_is_scikit_learns_invalid_parameter():
    net = small_net(random_state=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        net.fit(*make_data())


class MainBackbone(nn.Module):
    """Stands in for a backbone defined in a script or notebook (``__main__``)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.LazyLinear(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def test_pickling_a_net_with_a_class_from_main_warns(monkeypatch):
    monkeypatch.setattr(MainBackbone, "__module__", "__main__")
    monkeypatch.setattr(
        sys.modules["__main__"], "MainBackbone", MainBackbone, raising=False
    )
    net = LongTailNetClassifier(MainBackbone, max_epochs=1).fit(*make_data())
    with pytest.warns(UserWarning, match=r"__main__ \(MainBackbone\).*importable"):
        data = pickle.dumps(net)
    assert isinstance(pickle.loads(data), LongTailNetClassifier)


def test_pickling_a_net_with_importable_classes_is_silent():
    net = small_net(max_epochs=1).fit(*make_data())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.dumps(net)


# ---------------------------------------------------------------------- #
# BatchNorm and a last training batch of one row
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("q", [1.0, 0.0, "progressive"])
def test_batch_norm_trains_when_the_last_batch_has_one_row(q):
    X, y = make_data()  # 33 = 2 * 16 + 1 samples
    spy = BatchSizes()
    net = small_net(q=q, module__batch_norm=True, callbacks=[spy]).fit(X, y)
    assert spy.sizes_ == [[16, 17], [16, 17]]
    assert net.predict(X[:1]).shape == (1,)  # one row at predict time is fine


def test_batch_norm_merges_the_one_row_batch_of_the_training_part():
    X, y = make_data((40, 12, 5))  # 57 samples, 45 in training
    spy = BatchSizes()
    small_net(
        module__batch_norm=True,
        batch_size=11,
        train_split=ValidSplit(0.2, stratified=True, random_state=0),
        callbacks=[spy],
    ).fit(X, y)
    assert spy.sizes_[0] == [11, 11, 11, 12]


def test_without_batch_norm_the_last_batch_keeps_one_row():
    spy = BatchSizes()
    small_net(callbacks=[spy]).fit(*make_data())
    assert spy.sizes_[0] == [16, 16, 1]


def test_batch_size_one_with_batch_norm_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_size=1 cannot train a module with"):
        small_net(module__batch_norm=True, batch_size=1).fit(*make_data())


@pytest.mark.parametrize("mode", ["slices", "draw", "list"])
@pytest.mark.parametrize(("n", "batch_size"), [(33, 8), (32, 8), (9, 8), (1, 8)])
def test_epoch_batch_sampler_merges_a_single_last_sample(mode, n, batch_size):
    kwargs = {
        "slices": {},
        "draw": {"draw": lambda: torch.arange(n)},
        "list": {"as_list": True},
    }[mode]
    sampler = EpochBatchSampler(n, batch_size, merge_single=True, **kwargs)
    batches = [
        list(range(n))[b] if isinstance(b, slice) else list(map(int, b))
        for b in sampler
    ]
    # Reference: plain consecutive batches, the last two joined if the last
    # holds one sample and is not the only one.
    expected = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    if len(expected) > 1 and len(expected[-1]) == 1:
        expected[-2:] = [expected[-2] + expected[-1]]
    assert batches == expected
    assert len(sampler) == len(expected)


def test_bbn_with_batch_norm_and_a_one_row_last_batch():
    X, y = make_data()
    net = BBNClassifier(
        MLP,
        module__hidden_units=(8,),
        module__batch_norm=True,
        max_epochs=1,
        batch_size=16,
        random_state=0,
    ).fit(X, y)
    assert net.predict_proba(X).shape == (33, 3)


# ---------------------------------------------------------------------- #
# progressive schedule across interruptions
# ---------------------------------------------------------------------- #
class Interrupt(Callback):
    """Interrupts training after ``after`` epochs, as Ctrl-C would."""

    def __init__(self, after):
        self.after = after

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.after:
            raise KeyboardInterrupt


def _assert_same_schedule(got, expected):
    assert [(t, T) for _, t, T, _ in got] == [(t, T) for _, t, T, _ in expected]
    for (*_, p), (*_, q) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(p, q)


def test_progressive_resumed_from_a_checkpoint_continues_the_schedule(
    schedule, tmp_path
):
    X, y = make_data()
    small_net(q="progressive", max_epochs=5).fit(X, y)
    straight = list(schedule)
    assert [(t, T) for _, t, T, _ in straight] == [(t, 5) for t in range(5)]

    schedule.clear()
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    interrupted = small_net(
        q="progressive", max_epochs=5, callbacks=[checkpoint, Interrupt(after=2)]
    ).fit(X, y)
    assert len(interrupted.history) == 2
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    resumed = small_net(
        q="progressive",
        max_epochs=3,
        callbacks=[checkpoint, LoadInitState(checkpoint)],
    ).fit(X, y)
    assert len(resumed.history) == 5
    _assert_same_schedule(schedule, straight)


def test_progressive_warm_start_in_pieces_matches_one_fit(schedule):
    X, y = make_data()
    small_net(q="progressive", max_epochs=4).fit(X, y)
    straight = list(schedule)
    schedule.clear()
    net = small_net(q="progressive", max_epochs=1, progressive_epochs=4)
    for _ in range(4):
        net.partial_fit(X, y)
    _assert_same_schedule(schedule, straight)
    assert net.history[:, "progressive_epochs"] == [4, 4, 4, 4]


def test_progressive_epochs_needs_progressive_q():
    with pytest.raises(ValueError, match='progressive_epochs=4 only applies to q="'):
        small_net(q=0.5, progressive_epochs=4).fit(*make_data())


# ---------------------------------------------------------------------- #
# partial_fit(classes=...), sample_weight
# ---------------------------------------------------------------------- #
def test_partial_fit_classes_fix_the_label_set_at_the_first_call():
    X, y = make_data()
    labels = np.array(["a", "b", "c"])[y]
    first = labels != "c"
    net = small_net(max_epochs=1)
    net.partial_fit(X[first], labels[first], classes=["c", "a", "b"])
    np.testing.assert_array_equal(net.classes_, ["a", "b", "c"])
    np.testing.assert_array_equal(net.class_counts_, [20, 8, 0])
    assert net.predict_proba(X).shape == (33, 3)
    net.partial_fit(X, labels, classes=["a", "b", "c"])  # the same set again
    with pytest.raises(ValueError, match=r"classes=\['a', 'b'\] is not the same"):
        net.partial_fit(X[first], labels[first], classes=["a", "b"])
    with pytest.raises(ValueError, match=r"labels \['z'\] not seen in the first"):
        net.partial_fit(X, np.where(labels == "a", "z", labels))


def test_partial_fit_classes_may_start_with_one_class_but_must_match_param():
    X, y = make_data()
    net = small_net(max_epochs=1).partial_fit(X[:20], y[:20], classes=[0, 1, 2])
    np.testing.assert_array_equal(net.class_counts_, [20, 0, 0])
    with pytest.raises(ValueError, match=r"differs from the classes parameter"):
        small_net(classes=[0, 1, 2, 3]).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in the classes"):
        small_net().partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_sample_weight_is_a_clear_error(method):
    X, y = make_data()
    with pytest.raises(TypeError, match=r"does not support sample_weight.*q "):
        getattr(small_net(), method)(X, y, sample_weight=np.ones(len(y)))


# ---------------------------------------------------------------------- #
# a class hidden from training by train_split
# ---------------------------------------------------------------------- #
def test_train_split_hiding_a_class_warns():
    X, y = make_data()
    order = np.argsort(-y, kind="stable")  # the 5 samples of class 2 first
    # ValidSplit(5) is unstratified: the first 7 samples are the validation part.
    with pytest.warns(UserWarning, match=r"classes \[2\] in the validation part"):
        small_net(train_split=ValidSplit(5), max_epochs=1).fit(X[order], y[order])
