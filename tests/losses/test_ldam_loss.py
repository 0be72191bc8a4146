import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import logsumexp
from torch.testing import assert_close

from ltsk.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    NormedLinear,
    ldam_loss,
)

COUNTS = [100, 10, 1]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(3)
    logits = torch.rand(12, 3, generator=gen, dtype=torch.float64) * 2 - 1
    targets = torch.randint(0, 3, (12,), generator=gen)
    return logits, targets


def _reference(logits, targets, counts, max_margin, scale, weight=None):
    """LDAM straight from the paper, numpy float64; returns (per-sample, mean)."""
    counts = np.asarray(counts, dtype=np.float64)
    margins = counts**-0.25
    margins *= max_margin / margins.max()
    z = np.array(logits, dtype=np.float64)
    rows = np.arange(len(targets))
    z[rows, targets] -= margins[targets]
    z *= scale
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    w = np.ones(len(targets)) if weight is None else np.asarray(weight)[targets]
    per_sample = -w * log_p[rows, targets]
    return per_sample, per_sample.sum() / w.sum()


def test_margins_by_hand():
    # 0.5 * [100^-1/4, 10^-1/4, 1^-1/4] / 1 = 0.5 * [0.316228, 0.562341, 1].
    criterion = LDAMLoss(COUNTS)
    assert_close(criterion.margins, torch.tensor([0.1581139, 0.2811707, 0.5]))
    half = LDAMLoss([16, 1], max_margin=1.0)  # 16^-1/4 = 1/2
    assert_close(half.margins, torch.tensor([0.5, 1.0]))


def test_zero_count_gets_largest_margin(batch):
    criterion = LDAMLoss([16, 0, 1])
    assert_close(criterion.margins, torch.tensor([0.25, 0.5, 0.5]))
    logits, targets = batch
    loss = criterion(logits.float(), torch.ones_like(targets))
    assert torch.isfinite(loss)


@pytest.mark.parametrize("weight", [None, [0.2, 1.0, 3.0]])
@pytest.mark.parametrize(("max_margin", "scale"), [(0.5, 30.0), (0.3, 1.0)])
def test_against_reference(batch, weight, max_margin, scale):
    logits, targets = batch
    per_sample, mean = _reference(
        logits.numpy(), targets.numpy(), COUNTS, max_margin, scale, weight
    )
    kwargs = {"max_margin": max_margin, "scale": scale, "weight": weight}
    got = ldam_loss(logits, targets, COUNTS, reduction="none", **kwargs)
    np.testing.assert_allclose(got.numpy(), per_sample, rtol=1e-10, atol=1e-12)
    got = ldam_loss(logits, targets, COUNTS, **kwargs)
    np.testing.assert_allclose(got.item(), mean, rtol=1e-10)


def test_weighted_equals_cross_entropy_with_weight(batch):
    logits, targets = batch
    weight = torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64)
    margins = 0.5 * torch.tensor(COUNTS, dtype=torch.float64) ** -0.25
    shifted = logits - F.one_hot(targets, 3) * margins[targets, None]
    ref = F.cross_entropy(30.0 * shifted, targets, weight=weight)
    assert_close(ldam_loss(logits, targets, COUNTS, weight=weight), ref)


def test_zero_margin_is_scaled_cross_entropy(batch):
    logits, targets = batch
    got = ldam_loss(logits, targets, COUNTS, max_margin=0.0, scale=7.0)
    assert_close(got, F.cross_entropy(7.0 * logits, targets))


def test_weight_can_be_reassigned(batch):
    logits, targets = batch
    criterion = LDAMLoss(COUNTS)
    assert criterion.weight is None
    unweighted = criterion(logits.float(), targets)
    criterion.weight = np.array([0.2, 1.0, 3.0])
    assert isinstance(criterion.weight, torch.Tensor)
    assert "_weight" in dict(criterion.named_buffers())
    weighted = criterion(logits.float(), targets)
    _, expected = _reference(
        logits.numpy(), targets.numpy(), COUNTS, 0.5, 30.0, [0.2, 1.0, 3.0]
    )
    np.testing.assert_allclose(weighted.item(), expected, rtol=1e-5)
    criterion.weight = None
    assert_close(criterion(logits.float(), targets), unweighted)
    criterion.weight = torch.tensor([1.0, 2.0, 3.0])
    assert criterion.double().weight.dtype == torch.float64
    restored = pickle.loads(pickle.dumps(criterion))
    assert_close(restored.weight, criterion.weight)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        ([1.0, 2.0], "weight must have one entry per class"),
        ([1.0, -2.0, 1.0], "weight must be finite and non-negative"),
        ([[1.0, 2.0, 3.0]], "weight must be a non-empty 1-D"),
    ],
)
def test_bad_weight(weight, match):
    with pytest.raises(ValueError, match=match):
        LDAMLoss(COUNTS, weight=weight)
    criterion = LDAMLoss(COUNTS)
    with pytest.raises(ValueError, match=match):
        criterion.weight = weight
    with pytest.raises(ValueError, match=match):
        ldam_loss(torch.zeros(1, 3), torch.tensor([0]), COUNTS, weight=weight)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_margin": -0.1}, ValueError, r"'max_margin' .* \[0.0, inf\)"),
        ({"scale": 0.0}, ValueError, r"'scale' .* range \(0.0, inf\)"),
        ({"scale": "30"}, TypeError, "'scale' parameter"),
        ({"reduction": "Mean"}, ValueError, "'reduction' parameter"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LDAMLoss(COUNTS, **kwargs)
    with pytest.raises(error, match=match):
        ldam_loss(torch.zeros(1, 3), torch.tensor([0]), COUNTS, **kwargs)


def test_normalized_classifier_flag():
    assert LDAMLoss.normalized_classifier is True
    assert LDAMLoss(COUNTS).normalized_classifier is True
    for other in (FocalLoss, ClassBalancedLoss, LogitAdjustedLoss, BalancedSoftmaxLoss):
        assert other.normalized_classifier is False


def test_normed_linear_is_cosine_similarity():
    torch.manual_seed(0)
    layer = NormedLinear(5, 3)
    assert layer.weight.shape == (3, 5)
    assert isinstance(layer.weight, torch.nn.Parameter)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = torch.randn(8, 5) * 10
    out = layer(x)
    w = layer.weight.detach().numpy().astype(np.float64)
    xs = x.numpy().astype(np.float64)
    cos = (xs @ w.T) / np.outer(np.linalg.norm(xs, axis=1), np.linalg.norm(w, axis=1))
    np.testing.assert_allclose(out.detach().numpy(), cos, rtol=1e-5, atol=1e-6)
    assert out.abs().max() <= 1.0 + 1e-6
    # Rescaling a class's weight row or an input row changes nothing.
    with torch.no_grad():
        layer.weight[1] *= 100.0
    assert_close(layer(3.0 * x), out)


def test_normed_linear_zero_rows_and_gradcheck():
    layer = NormedLinear(4, 2, dtype=torch.float64)
    out = layer(torch.zeros(2, 4, dtype=torch.float64))
    assert torch.equal(out, torch.zeros(2, 2, dtype=torch.float64))
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w: F.linear(F.normalize(x, dim=-1), F.normalize(w, dim=1)),
        (x, layer.weight),
    )
    assert torch.autograd.gradcheck(layer, (x,))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0, 3), ValueError, "in_features must be a positive integer"),
        ((3, 2.5), TypeError, "out_features must be a positive integer"),
        ((True, 3), TypeError, "in_features must be a positive integer"),
    ],
)
def test_normed_linear_bad_sizes(args, error, match):
    with pytest.raises(error, match=match):
        NormedLinear(*args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": 1e39}, r"scale=1e\+39 times \(logits - margins\) overflows"),
        ({"max_margin": 1e38, "scale": 30.0}, r"scale=30 times \(logits - margins\)"),
    ],
)
def test_scale_or_margin_that_overflows_is_an_error(batch, kwargs, match):
    logits, targets = batch
    logits = logits.float()
    with pytest.raises(ValueError, match=match):
        LDAMLoss(COUNTS, **kwargs)(logits, targets)
    with pytest.raises(ValueError, match=match):
        ldam_loss(logits, targets, COUNTS, **kwargs)
    # float64 holds them: the values of the plain formula.
    params = {"max_margin": 0.5, "scale": 30.0, **kwargs}
    _, expected = _reference(logits.double().numpy(), targets.numpy(), COUNTS, **params)
    got = ldam_loss(logits.double(), targets, COUNTS, **kwargs)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-9)
