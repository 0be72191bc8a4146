import functools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ltsk.losses import ClassBalancedLoss, FocalLoss, focal_loss


def _reference(logits, targets, gamma, alpha=None):
    """Per-sample focal loss straight from the formula, in numpy float64."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    pt = p[np.arange(len(targets)), targets]
    loss = -((1 - pt) ** gamma) * np.log(pt)
    if alpha is not None:
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), z.shape[1])
        loss = alpha[targets] * loss
    return loss


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=gen, dtype=torch.float64) * 3
    targets = torch.randint(0, 5, (16,), generator=gen)
    return logits, targets


def test_by_hand():
    # p_t = e^2 / (1 + e^2) = 0.880797, (1 - p_t)^2 = 0.0142093, -log p_t = 0.126928;
    # second row p_t = 1/2: 0.25 * log 2 = 0.173287.
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    got = focal_loss(logits, torch.tensor([0, 1]), gamma=2.0, reduction="none")
    assert_close(got, torch.tensor([0.00180357, 0.17328680], dtype=torch.float64))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, [0.1, 0.2, 0.3, 0.9, 2.0]])
def test_against_reference(batch, gamma, alpha):
    logits, targets = batch
    got = focal_loss(logits, targets, gamma=gamma, alpha=alpha, reduction="none")
    expected = _reference(logits.numpy(), targets.numpy(), gamma, alpha)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-14)
    # "mean" divides by the number of samples, not by the sum of alpha.
    mean = focal_loss(logits, targets, gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(mean.item(), expected.mean(), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_zero_is_cross_entropy(batch, reduction, dtype):
    logits, targets = batch
    logits = logits.to(dtype)
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    ours = FocalLoss(gamma=0.0, reduction=reduction)(a, targets)
    ref = F.cross_entropy(b, targets, reduction=reduction)
    # Bitwise per sample; the sum may be accumulated in another order.
    exact = {"rtol": 0, "atol": 0} if reduction == "none" else {}
    assert_close(ours, ref, **exact)
    ours.sum().backward()
    ref.sum().backward()
    assert_close(a.grad, b.grad)


@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_gradient_matches_naive_formula(batch, gamma):
    # The stable form (log(1 - p_t) as a log-sum-exp) against autograd of the
    # textbook expression, where the latter is well behaved.
    logits, targets = batch
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    focal_loss(a, targets, gamma=gamma, reduction="sum").backward()
    pt = F.softmax(b, dim=1).gather(1, targets[:, None]).squeeze(1)
    (-((1 - pt) ** gamma) * torch.log(pt)).sum().backward()
    assert_close(a.grad, b.grad)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 2.0])
def test_confident_sample_has_zero_finite_gradient(gamma):
    # p_t rounds to 1: (1 - p)^gamma has an infinite slope at 0 for gamma < 1,
    # the true gradient of the loss is 0.
    logits = torch.tensor([[60.0, 0.0, -5.0]], requires_grad=True)
    loss = focal_loss(logits, torch.tensor([0]), gamma=gamma)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.all(torch.isfinite(logits.grad))
    assert_close(logits.grad, torch.zeros_like(logits), atol=1e-20, rtol=0)


def test_single_class_is_zero_and_finite():
    logits = torch.tensor([[3.0], [-2.0]], requires_grad=True)
    loss = focal_loss(logits, torch.tensor([0, 0]), gamma=0.5)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_module_alpha_is_a_buffer():
    criterion = FocalLoss(alpha=np.array([1.0, 3.0]))
    assert "alpha" in dict(criterion.named_buffers())
    assert criterion.double().alpha.dtype == torch.float64
    assert FocalLoss(alpha=torch.tensor(0.5)).alpha == 0.5
    assert FocalLoss().alpha is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gamma": -1.0}, ValueError, r"'gamma' .* range \[0.0, inf\)"),
        ({"gamma": float("inf")}, ValueError, "'gamma' parameter"),
        ({"gamma": "2"}, TypeError, "'gamma' parameter"),
        ({"alpha": -0.5}, ValueError, "'alpha' parameter"),
        ({"alpha": [1.0, -1.0]}, ValueError, "alpha must be finite and non-negative"),
        ({"alpha": [[1.0, 1.0]]}, ValueError, "alpha must be a non-empty 1-D"),
        ({"alpha": "abc"}, TypeError, "'alpha' parameter"),
        ({"reduction": "avg"}, ValueError, "'reduction' parameter"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        FocalLoss(**kwargs)
    with pytest.raises(error, match=match):
        focal_loss(torch.zeros(2, 2), torch.tensor([0, 1]), **kwargs)


def test_alpha_length_checked_at_call_time():
    criterion = FocalLoss(alpha=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="4 columns but alpha describes 3"):
        criterion(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="4 columns but alpha describes 3"):
        focal_loss(torch.zeros(2, 4), torch.tensor([0, 1]), alpha=[1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda gamma: FocalLoss(gamma=gamma),
        lambda gamma: functools.partial(focal_loss, gamma=gamma),
        lambda gamma: ClassBalancedLoss([3, 2, 1], gamma=gamma),
    ],
    ids=["module", "function", "class_balanced"],
)
def test_gamma_that_underflows_the_focal_factor_warns(make):
    # Zero logits, 3 classes: p_t = 1/3 and every loss is (2/3)^1000 log 3
    # = 7.6e-177 (the class-balanced weights average to 1 over one sample per
    # class): zero in float32, where nothing would train; float64 holds it.
    logits = torch.zeros(3, 3)
    targets = torch.tensor([0, 1, 2])
    expected = (2 / 3) ** 1000 * np.log(3.0)
    with pytest.warns(
        RuntimeWarning, match=r"gamma=1000 is too large for torch.float32"
    ):
        assert make(1000.0)(logits, targets).item() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = make(1000.0)(logits.double(), targets)
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
        make(100.0)(logits, targets)  # 0.5^100 is a normal float32: no warning
