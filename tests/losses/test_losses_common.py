"""Checks every loss must pass: function == module, reductions, gradcheck,
extreme logits, pickling, devices/dtypes and input validation."""

import copy
import pickle

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ltsk.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LabelAwareSmoothingLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    balanced_softmax_loss,
    class_balanced_loss,
    focal_loss,
    label_aware_smoothing_loss,
    ldam_loss,
    logit_adjusted_loss,
)

COUNTS = [500, 120, 30, 8, 2]
WEIGHT = [0.3, 0.6, 1.0, 1.4, 1.7]

# id -> (module factory, function, needs class counts)
CASES = {
    "focal": (
        lambda **kw: FocalLoss(gamma=2.0, **kw),
        lambda z, t, **kw: focal_loss(z, t, gamma=2.0, **kw),
        False,
    ),
    "focal_alpha_gamma_half": (
        lambda **kw: FocalLoss(gamma=0.5, alpha=WEIGHT, **kw),
        lambda z, t, **kw: focal_loss(z, t, gamma=0.5, alpha=WEIGHT, **kw),
        False,
    ),
    "class_balanced": (
        lambda **kw: ClassBalancedLoss(COUNTS, beta=0.99, **kw),
        lambda z, t, **kw: class_balanced_loss(z, t, COUNTS, beta=0.99, **kw),
        True,
    ),
    "class_balanced_focal": (
        lambda **kw: ClassBalancedLoss(COUNTS, beta=0.999, gamma=1.0, **kw),
        lambda z, t, **kw: class_balanced_loss(
            z, t, COUNTS, beta=0.999, gamma=1.0, **kw
        ),
        True,
    ),
    "class_balanced_sigmoid_focal": (
        lambda **kw: ClassBalancedLoss(
            COUNTS, beta=0.99, gamma=2.0, loss_type="sigmoid", **kw
        ),
        lambda z, t, **kw: class_balanced_loss(
            z, t, COUNTS, beta=0.99, gamma=2.0, loss_type="sigmoid", **kw
        ),
        True,
    ),
    "logit_adjusted": (
        lambda **kw: LogitAdjustedLoss(COUNTS, tau=1.5, **kw),
        lambda z, t, **kw: logit_adjusted_loss(z, t, COUNTS, tau=1.5, **kw),
        True,
    ),
    "balanced_softmax": (
        lambda **kw: BalancedSoftmaxLoss(COUNTS, **kw),
        lambda z, t, **kw: balanced_softmax_loss(z, t, COUNTS, **kw),
        True,
    ),
    "ldam": (
        lambda **kw: LDAMLoss(COUNTS, **kw),
        lambda z, t, **kw: ldam_loss(z, t, COUNTS, **kw),
        True,
    ),
    "ldam_weighted": (
        lambda **kw: LDAMLoss(COUNTS, max_margin=0.4, scale=10.0, weight=WEIGHT, **kw),
        lambda z, t, **kw: ldam_loss(
            z, t, COUNTS, max_margin=0.4, scale=10.0, weight=WEIGHT, **kw
        ),
        True,
    ),
    "label_aware_smoothing": (
        lambda **kw: LabelAwareSmoothingLoss(COUNTS, smooth_tail=0.05, **kw),
        lambda z, t, **kw: label_aware_smoothing_loss(
            z, t, COUNTS, smooth_tail=0.05, **kw
        ),
        True,
    ),
}
FUNCTION_NAMES = {
    "focal": "focal_loss",
    "focal_alpha_gamma_half": "focal_loss",
    "class_balanced": "class_balanced_loss",
    "class_balanced_focal": "class_balanced_loss",
    "class_balanced_sigmoid_focal": "class_balanced_loss",
    "logit_adjusted": "logit_adjusted_loss",
    "balanced_softmax": "balanced_softmax_loss",
    "ldam": "ldam_loss",
    "ldam_weighted": "ldam_loss",
    "label_aware_smoothing": "label_aware_smoothing_loss",
}
# Losses whose "mean" is sum(w_i l_i) / sum(w_i) with per-class weights w (as
# F.cross_entropy(weight=w)); the others divide by the number of samples, the
# class-balanced loss too (Cui et al.'s code).
WEIGHTED_MEAN = {"ldam_weighted"}

all_losses = pytest.mark.parametrize("case", list(CASES))
with_counts = pytest.mark.parametrize("case", [c for c in CASES if CASES[c][2]])
with_per_class = pytest.mark.parametrize("case", [c for c in CASES if c != "focal"])


def _batch(dtype=torch.float32, n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, 5, generator=gen, dtype=torch.float64) * 2).to(dtype)
    targets = torch.arange(n) % 5
    return logits, targets


@all_losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_function_equals_module(case, reduction):
    make, function, _ = CASES[case]
    logits, targets = _batch(torch.float64)
    module = make(reduction=reduction).double()
    assert_close(
        module(logits, targets), function(logits, targets, reduction=reduction)
    )
    # In float32, the module's buffers are float32 too.
    logits = logits.float()
    module = make(reduction=reduction)
    assert_close(
        module(logits, targets), function(logits, targets, reduction=reduction)
    )


@all_losses
def test_reductions_are_consistent(case):
    make, _, _ = CASES[case]
    logits, _ = _batch()
    # Skewed: with one sample per class per pass the weights of a batch sum
    # to N (they sum to C over the classes) and the two means coincide.
    targets = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    none = make(reduction="none")(logits, targets)
    assert none.shape == (10,)
    assert torch.all(none >= 0)
    total = make(reduction="sum")(logits, targets)
    mean = make()(logits, targets)
    assert total.shape == mean.shape == ()
    assert_close(total, none.sum())
    if case in WEIGHTED_MEAN:
        module = make()
        weights = module.weight[targets]
        assert_close(mean, none.sum() / weights.sum())
    else:
        assert_close(mean, none.mean())


@all_losses
def test_gradcheck(case):
    make, function, _ = CASES[case]
    logits, targets = _batch(torch.float64, n=4, seed=1)
    logits.requires_grad_()
    assert torch.autograd.gradcheck(lambda z: function(z, targets), (logits,))
    module = make(reduction="none").double()
    assert torch.autograd.gradcheck(lambda z: module(z, targets), (logits,))


@all_losses
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("size", [100.0, 1e4])
def test_finite_at_extreme_logits(case, reduction, size):
    make, _, _ = CASES[case]
    logits = torch.full((5, 5), -size)
    logits[torch.arange(5), torch.tensor([0, 2, 1, 4, 3])] = size
    logits[0, 1] = size  # a tie between two huge logits
    targets = torch.tensor([0, 1, 2, 3, 4])  # right, tied, wrong, wrong, wrong
    logits.requires_grad_()
    loss = make(reduction=reduction)(logits, targets)
    assert torch.all(torch.isfinite(loss))
    loss.sum().backward()
    assert torch.all(torch.isfinite(logits.grad))
    assert logits.grad.abs().sum() > 0


@all_losses
def test_picklable_and_deepcopyable(case):
    make, _, _ = CASES[case]
    module = make()
    logits, targets = _batch()
    expected = module(logits, targets)
    for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
        assert type(clone) is type(module)
        assert_close(clone(logits, targets), expected)
    assert repr(module).startswith(type(module).__name__)


@all_losses
def test_buffers_follow_dtype(case):
    make, _, needs_counts = CASES[case]
    module = make().to(torch.float64)
    buffers = dict(module.named_buffers())
    assert ("class_counts" in buffers) == needs_counts
    for tensor in buffers.values():
        assert tensor.dtype == torch.float64
    if needs_counts:
        assert_close(module.class_counts, torch.tensor(COUNTS, dtype=torch.float64))


@with_counts
def test_counts_as_list_array_or_tensor(case):
    make = CASES[case][0]
    module_type = type(make())
    logits, targets = _batch()
    values = [
        module_type(counts)(logits, targets)
        for counts in (COUNTS, np.array(COUNTS), torch.tensor(COUNTS))
    ]
    assert_close(values[0], values[1])
    assert_close(values[0], values[2])


@with_counts
def test_zero_count_class_stays_finite(case):
    make = CASES[case][0]
    module = type(make())([50, 0, 10, 0, 1])
    logits, targets = _batch()
    logits.requires_grad_()
    loss = module(logits, targets)  # targets include the absent classes 1 and 3
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(torch.isfinite(logits.grad))
    for tensor in module.buffers():
        assert torch.all(torch.isfinite(tensor))


@all_losses
@pytest.mark.parametrize(
    ("logits", "targets", "error", "match"),
    [
        (
            torch.zeros(4),
            torch.zeros(4, dtype=torch.long),
            ValueError,
            "logits must be 2-D",
        ),
        (
            torch.zeros(2, 5, 1),
            torch.zeros(2, dtype=torch.long),
            ValueError,
            "logits must be 2-D",
        ),
        (
            torch.zeros(3, 5),
            torch.zeros(3, 1, dtype=torch.long),
            ValueError,
            "targets must be 1-D with one entry per row of logits",
        ),
        (
            torch.zeros(3, 5),
            torch.zeros(2, dtype=torch.long),
            ValueError,
            r"one entry per row of logits \(3\)",
        ),
        (
            torch.zeros(2, 5),
            torch.tensor([0, 5]),
            ValueError,
            r"targets must be class indices in \[0, 5\), got values in \[0, 5\]",
        ),
        (
            torch.zeros(2, 5),
            torch.tensor([-1, 2]),
            ValueError,
            r"class indices in \[0, 5\)",
        ),
        (
            torch.zeros(0, 5),
            torch.zeros(0, dtype=torch.long),
            ValueError,
            "at least one sample",
        ),
        (
            torch.zeros(2, 5),
            torch.tensor([0.0, 1.0]),
            TypeError,
            "targets must be an integer torch.Tensor",
        ),
        (torch.zeros(2, 5), [0, 1], TypeError, "targets must be an integer"),
        (
            torch.tensor([[True] * 5]),
            torch.tensor([0]),
            TypeError,
            "logits must be a floating point",
        ),
        (
            np.zeros((2, 5)),
            torch.tensor([0, 1]),
            TypeError,
            "logits must be a floating point torch.Tensor",
        ),
        (
            torch.zeros(2, 5),
            torch.tensor([True, False]),
            TypeError,
            "targets must hold integer class indices",
        ),
    ],
)
def test_bad_inputs(case, logits, targets, error, match):
    make, function, _ = CASES[case]
    with pytest.raises(error, match=match):
        make()(logits, targets)
    with pytest.raises(error, match=match):
        function(logits, targets)


@with_per_class
def test_number_of_classes_must_match(case):
    make, function, needs_counts = CASES[case]
    logits, targets = torch.zeros(2, 4), torch.tensor([0, 1])
    name = "class_counts" if needs_counts else "alpha"
    with pytest.raises(ValueError, match=f"4 columns but {name} describes 5 classes"):
        make()(logits, targets)
    with pytest.raises(ValueError, match=f"4 columns but {name} describes 5 classes"):
        function(logits, targets)


@all_losses
def test_int32_targets_accepted(case):
    make, _, _ = CASES[case]
    logits, targets = _batch()
    module = make()
    assert_close(module(logits, targets.int()), module(logits, targets))


@with_counts
@pytest.mark.parametrize(
    ("counts", "error", "match"),
    [
        ([[1, 2, 3, 4, 5]], ValueError, "class_counts must be a non-empty 1-D"),
        ([], ValueError, "class_counts must be a non-empty 1-D"),
        ([1, -2, 3, 4, 5], ValueError, "class_counts must be non-negative"),
        ([1, np.nan, 3, 4, 5], ValueError, "class_counts must be finite"),
        ([0, 0, 0, 0, 0], ValueError, "at least one positive count"),
        (["a"], TypeError, "class_counts must be an array-like"),
    ],
)
def test_bad_class_counts(case, counts, error, match):
    make = CASES[case][0]
    with pytest.raises(error, match=match):
        type(make())(counts)


@all_losses
def test_bad_reduction(case):
    make, function, _ = CASES[case]
    module_type = type(make()).__name__
    message = (
        r"The 'reduction' parameter of {} must be a str among \{{.*\}}. "
        "Got 'batchmean' instead."
    )
    with pytest.raises(ValueError, match=message.format(module_type)):
        make(reduction="batchmean")
    with pytest.raises(ValueError, match=message.format(FUNCTION_NAMES[case])):
        function(*_batch(), reduction="batchmean")
