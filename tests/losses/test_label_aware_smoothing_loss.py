"""Label-aware smoothing (MiSLAS): the factors and the loss against plain
re-implementations of the formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ltsk.losses import (
    LabelAwareSmoothingLoss,
    label_aware_smoothing,
    label_aware_smoothing_loss,
)

COUNTS = np.array([500.0, 120.0, 30.0, 8.0, 2.0])


def _reference_factors(counts, head, tail, shape):
    """The three curves as written in the official MiSLAS code."""
    n_1, n_k = max(counts), min(counts)
    x = (np.asarray(counts, dtype=float) - n_k) / (n_1 - n_k)
    if shape == "concave":
        return tail + (head - tail) * np.sin(x * np.pi / 2)
    if shape == "linear":
        return tail + (head - tail) * x
    return head + (head - tail) * np.sin(1.5 * np.pi + x * np.pi / 2)


def _reference_loss(logits, targets, eps):
    """Cross-entropy against the smoothed target distribution, per sample."""
    z = np.asarray(logits, dtype=np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    n, c = z.shape
    q = np.zeros((n, c))
    for i, t in enumerate(targets):
        q[i] = eps[t] / c
        q[i, t] += 1.0 - eps[t]
    return -(q * log_p).sum(axis=1)


@pytest.mark.parametrize("shape", ["concave", "linear", "convex"])
def test_factors_match_official_formula(shape):
    got = label_aware_smoothing(COUNTS, smooth_head=0.4, smooth_tail=0.1, shape=shape)
    assert_close(
        torch.from_numpy(got),
        torch.from_numpy(_reference_factors(COUNTS, 0.4, 0.1, shape)),
    )
    assert got[0] == pytest.approx(0.4) and got[-1] == pytest.approx(0.1)


def test_factors_by_hand():
    # x = (55 - 10) / 90 = 1/2: sin(pi/4) = 0.7071, cos(pi/4) = 0.7071.
    got = label_aware_smoothing([100, 55, 10], smooth_head=0.3, smooth_tail=0.0)
    np.testing.assert_allclose(got, [0.3, 0.3 * np.sqrt(0.5), 0.0], atol=1e-15)
    got = label_aware_smoothing(
        [100, 55, 10], smooth_head=0.3, smooth_tail=0.0, shape="convex"
    )
    np.testing.assert_allclose(got, [0.3, 0.3 - 0.3 * np.sqrt(0.5), 0.0], atol=1e-15)


def test_factors_edge_cases():
    # Equal counts: every present class is "head"; absent classes get the tail.
    np.testing.assert_allclose(label_aware_smoothing([7, 7, 0]), [0.4, 0.4, 0.1])
    # The rarest *present* class defines n_K.
    np.testing.assert_allclose(
        label_aware_smoothing([100, 10, 0], smooth_tail=0.0), [0.4, 0.0, 0.0]
    )
    # Head smaller than tail is allowed (a decreasing curve).
    got = label_aware_smoothing([100, 10], smooth_head=0.0, smooth_tail=0.2)
    np.testing.assert_allclose(got, [0.0, 0.2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"smooth_head": 1.5}, "smooth_head"),
        ({"smooth_tail": -0.1}, "smooth_tail"),
        ({"shape": "exp"}, "shape"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        label_aware_smoothing(COUNTS, **kwargs)
    with pytest.raises(ValueError, match=match):
        LabelAwareSmoothingLoss(COUNTS, **kwargs)


@pytest.mark.parametrize("shape", ["concave", "linear", "convex"])
def test_loss_matches_reference(shape):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 5, generator=gen, dtype=torch.float64) * 3
    targets = torch.randint(0, 5, (40,), generator=gen)
    eps = _reference_factors(COUNTS, 0.4, 0.1, shape)
    expected = torch.from_numpy(_reference_loss(logits.numpy(), targets.numpy(), eps))
    got = label_aware_smoothing_loss(
        logits, targets, COUNTS, shape=shape, reduction="none"
    )
    assert_close(got, expected)
    module = LabelAwareSmoothingLoss(COUNTS, shape=shape).double()
    assert_close(module(logits, targets), expected.mean())


def test_zero_smoothing_is_cross_entropy():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.arange(12) % 5
    got = label_aware_smoothing_loss(
        logits, targets, COUNTS, smooth_head=0.0, smooth_tail=0.0
    )
    expected = F.cross_entropy(logits, targets)
    assert_close(got, expected)
    (g1,) = torch.autograd.grad(got, logits)
    (g2,) = torch.autograd.grad(expected, logits)
    assert_close(g1, g2)


def test_uniform_smoothing_is_torch_label_smoothing():
    # Same factor for every class: torch's own label_smoothing.
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    targets = torch.arange(12) % 5
    got = label_aware_smoothing_loss(
        logits, targets, COUNTS, smooth_head=0.2, smooth_tail=0.2
    )
    assert_close(got, F.cross_entropy(logits, targets, label_smoothing=0.2))


def test_gradient_is_p_minus_q():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = label_aware_smoothing_loss(logits, targets, COUNTS, reduction="sum")
    (grad,) = torch.autograd.grad(loss, logits)
    eps = label_aware_smoothing(COUNTS)[targets.numpy()]
    q = np.repeat(eps[:, None] / 5, 5, axis=1)
    q[np.arange(6), targets.numpy()] += 1 - eps
    p = torch.softmax(logits.detach(), dim=1).numpy()
    np.testing.assert_allclose(grad.numpy(), p - q, atol=1e-12)


def test_net_passes_class_counts():
    from ltsk.nets import MLP, LongTailNetClassifier

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [40, 12, 4])
    X = rng.normal(size=(56, 3)).astype(np.float32) + y[:, None]
    net = LongTailNetClassifier(
        MLP, criterion=LabelAwareSmoothingLoss, max_epochs=1, random_state=0
    ).fit(X, y)
    assert_close(
        net.criterion_.smoothing,
        torch.tensor(label_aware_smoothing([40, 12, 4]), dtype=torch.float32),
    )
