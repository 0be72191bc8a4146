import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ltsk.losses import (
    BalancedSoftmaxLoss,
    LogitAdjustedLoss,
    balanced_softmax_loss,
    logit_adjusted_loss,
)

COUNTS = [300, 60, 12, 3]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(24, 4, generator=gen, dtype=torch.float64) * 2
    targets = torch.randint(0, 4, (24,), generator=gen)
    return logits, targets


def test_by_hand():
    # Zero logits, priors [3/4, 1/4]: the adjusted softmax is the prior itself,
    # so the losses are -log 0.75 and -log 0.25. With tau=2 it is proportional
    # to [9/16, 1/16] = [0.9, 0.1].
    logits = torch.zeros(2, 2, dtype=torch.float64)
    targets = torch.tensor([0, 1])
    got = logit_adjusted_loss(logits, targets, [3, 1], reduction="none")
    assert_close(got, torch.tensor([0.2876821, 1.3862944], dtype=torch.float64))
    got = logit_adjusted_loss(logits, targets, [3, 1], tau=2.0, reduction="none")
    assert_close(got, torch.tensor([0.1053605, 2.3025851], dtype=torch.float64))


@pytest.mark.parametrize("tau", [0.5, 1.0, 1.7])
def test_against_reference(batch, tau):
    logits, targets = batch
    counts = np.asarray(COUNTS, dtype=np.float64)
    z = logits.numpy() + tau * np.log(counts / counts.sum())
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(len(targets)), targets.numpy()]
    got = logit_adjusted_loss(logits, targets, COUNTS, tau=tau, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def _assert_cross_entropy(loss_fn, logits, targets, reduction):
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    ours = loss_fn(a)
    ref = F.cross_entropy(b, targets, reduction=reduction)
    assert_close(ours, ref)
    ours.sum().backward()
    ref.sum().backward()
    assert_close(a.grad, b.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_tau_zero_is_cross_entropy(batch, reduction):
    logits, targets = batch
    criterion = LogitAdjustedLoss(COUNTS, tau=0.0, reduction=reduction).double()
    _assert_cross_entropy(
        lambda z: criterion(z, targets), logits.float(), targets, reduction
    )
    _assert_cross_entropy(
        lambda z: logit_adjusted_loss(z, targets, COUNTS, tau=0, reduction=reduction),
        logits,
        targets,
        reduction,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_balanced_softmax_with_equal_counts_is_cross_entropy(batch, reduction):
    logits, targets = batch
    _assert_cross_entropy(
        lambda z: balanced_softmax_loss(z, targets, [7, 7, 7, 7], reduction=reduction),
        logits,
        targets,
        reduction,
    )
    criterion = BalancedSoftmaxLoss([5, 5, 5, 5], reduction=reduction)
    _assert_cross_entropy(
        lambda z: criterion(z, targets), logits.float(), targets, reduction
    )


def test_balanced_softmax_equals_logit_adjusted_tau_one(batch):
    logits, targets = batch
    bs = balanced_softmax_loss(logits, targets, COUNTS, reduction="none")
    la = logit_adjusted_loss(logits, targets, COUNTS, tau=1.0, reduction="none")
    assert_close(bs, la)
    # ... and adding log n_j (not log pi_j) directly gives the same values.
    shifted = logits + torch.log(torch.tensor(COUNTS, dtype=torch.float64))
    assert_close(bs, F.cross_entropy(shifted, targets, reduction="none"))
    module = BalancedSoftmaxLoss(COUNTS)
    assert module.tau == 1.0
    assert_close(
        module(logits.float(), targets),
        LogitAdjustedLoss(COUNTS)(logits.float(), targets),
    )


def test_log_priors_buffer():
    criterion = LogitAdjustedLoss([3, 1])
    assert_close(criterion.log_priors, torch.log(torch.tensor([0.75, 0.25])))


def test_zero_count_treated_as_rarest_class(batch):
    logits, targets = batch
    targets = targets.clone()
    targets[0] = 1  # a target in the absent class must not give inf
    with_zero = logit_adjusted_loss(logits, targets, [40, 0, 10, 3], reduction="none")
    assert torch.all(torch.isfinite(with_zero))
    assert_close(
        with_zero,
        logit_adjusted_loss(logits, targets, [40, 3, 10, 3], reduction="none"),
    )
    criterion = BalancedSoftmaxLoss([40, 0, 10, 3])
    assert torch.all(torch.isfinite(criterion.log_priors))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tau": -1.0}, ValueError, r"'tau' .* range \[0.0, inf\)"),
        ({"tau": float("nan")}, ValueError, "'tau' parameter"),
        ({"tau": [1.0]}, TypeError, "'tau' parameter"),
        ({"reduction": "max"}, ValueError, "'reduction' parameter"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LogitAdjustedLoss(COUNTS, **kwargs)
    with pytest.raises(error, match=match):
        logit_adjusted_loss(torch.zeros(1, 4), torch.tensor([0]), COUNTS, **kwargs)


def test_counts_whose_sum_overflows_give_exact_priors(batch):
    # 1e308 + 1e308 overflows: the priors were log(1e308 / inf) = -inf and the
    # loss NaN. Equal counts are plain cross-entropy, and 3:1 gives log 3/4, 1/4.
    logits, targets = batch
    criterion = LogitAdjustedLoss([1e308] * 4).double()
    assert_close(criterion.log_priors, torch.full((4,), np.log(0.25)).double())
    assert_close(criterion(logits, targets), F.cross_entropy(logits, targets))
    huge = balanced_softmax_loss(logits, targets, [3e307, 1e307, 1e307, 1e307])
    assert_close(huge, balanced_softmax_loss(logits, targets, [3, 1, 1, 1]))


def test_tau_that_overflows_the_adjustment_is_an_error():
    # log(1/4) * 1e38 = -1.4e38 is a float32 number, log(1/40) * 1e38 is not.
    logits, targets = torch.zeros(2, 2), torch.tensor([0, 1])
    match = r"tau=1e\+38 times log\(prior\) overflows in torch.float32"
    with pytest.raises(ValueError, match=match):
        LogitAdjustedLoss([39, 1], tau=1e38)(logits, targets)
    with pytest.raises(ValueError, match=match):
        logit_adjusted_loss(logits, targets, [39, 1], tau=1e38)
    assert torch.isfinite(LogitAdjustedLoss([3, 1], tau=1e38)(logits, targets))
    # In float64 the same tau is honoured: the tail sample's adjusted logit
    # trails by tau log 39, its loss is tau log 39, the head sample's 0.
    got = logit_adjusted_loss(logits.double(), targets, [39, 1], tau=1e38)
    np.testing.assert_allclose(got.item(), 1e38 * np.log(39.0) / 2, rtol=1e-12)
