import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ltsk.losses import ClassBalancedLoss, class_balanced_loss, class_weights

COUNTS = [100, 10, 1]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(20, 3, generator=gen, dtype=torch.float64) * 2
    targets = torch.randint(0, 3, (20,), generator=gen)
    return logits, targets


def test_weight_buffer_by_hand():
    # See test_class_weights: effective number with beta=0.9.
    criterion = ClassBalancedLoss(COUNTS, beta=0.9)
    assert_close(
        criterion.weight,
        torch.tensor([0.2393292, 0.3674420, 2.3932288]),
        atol=1e-6,
        rtol=0,
    )
    assert_close(criterion.class_counts, torch.tensor([100.0, 10.0, 1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gamma_zero_is_weighted_cross_entropy(batch, reduction):
    logits, targets = batch
    weight = torch.as_tensor(class_weights(COUNTS, "effective_number", beta=0.999))
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    ours = class_balanced_loss(a, targets, COUNTS, beta=0.999, reduction=reduction)
    # Weighted per-sample losses; "mean" divides by N (Cui et al.'s code).
    per_sample = F.cross_entropy(b, targets, weight=weight, reduction="none")
    reduce = {"none": lambda v: v, "sum": torch.sum, "mean": torch.mean}[reduction]
    ref = reduce(per_sample)
    assert_close(ours, ref)
    ours.sum().backward()
    ref.sum().backward()
    assert_close(a.grad, b.grad)


def test_module_equals_weighted_cross_entropy_float32(batch):
    logits, targets = batch
    logits = logits.float()
    criterion = ClassBalancedLoss(COUNTS)
    ref = F.cross_entropy(logits, targets, weight=criterion.weight, reduction="sum")
    assert_close(criterion(logits, targets), ref / len(targets))


def test_mean_divides_by_the_number_of_samples_not_the_weights():
    # One rare sample among common ones: torch's weighted mean would let it
    # carry almost all of the loss; the reference convention keeps 1/N.
    criterion = ClassBalancedLoss([10_000, 5], beta=0.9999)
    logits = torch.zeros(4, 2)
    targets = torch.tensor([0, 0, 0, 1])
    w = criterion.weight
    expected = torch.log(torch.tensor(2.0)) * (3 * w[0] + w[1]) / 4
    assert_close(criterion(logits, targets), expected)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_form_against_reference(batch, gamma):
    logits, targets = batch
    z = logits.numpy()
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    pt = p[np.arange(len(targets)), targets.numpy()]
    w = class_weights(COUNTS, "effective_number", beta=0.99)[targets.numpy()]
    per_sample = -w * (1 - pt) ** gamma * np.log(pt)
    got = ClassBalancedLoss(COUNTS, beta=0.99, gamma=gamma).double()(logits, targets)
    np.testing.assert_allclose(got.item(), per_sample.mean(), rtol=1e-6)


def test_zero_count_class_has_zero_weight_and_stays_finite():
    criterion = ClassBalancedLoss([50, 0, 5], beta=0.99)
    assert criterion.weight[1] == 0.0
    logits = torch.randn(4, 3, requires_grad=True)
    loss = criterion(logits, torch.tensor([0, 1, 2, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(logits.grad))
    # A batch made only of the weightless class: mean 0.
    only = criterion(logits, torch.tensor([1, 1, 1, 1]))
    assert only.item() == 0.0


def test_beta_zero_is_plain_cross_entropy(batch):
    logits, targets = batch
    got = class_balanced_loss(logits, targets, COUNTS, beta=0.0)
    assert_close(got, F.cross_entropy(logits, targets))


# Literal weights for COUNTS = [100, 10, 1] (see test_class_weights):
# inverse 3/111 * [1, 10, 100]; power 2: 3/1.0101 * [1e-4, 1e-2, 1].
SCHEME_WEIGHTS = {
    "inverse": ({}, [3 / 111, 30 / 111, 300 / 111]),
    "sqrt_inverse": ({}, [0.211830333, 0.669866331, 2.118303335]),
    "power": ({"power": 2.0}, [3e-4 / 1.0101, 3e-2 / 1.0101, 3 / 1.0101]),
    "effective_number": ({"beta": 0.9}, [0.239329236, 0.367441973, 2.393228791]),
}


@pytest.mark.parametrize("scheme", list(SCHEME_WEIGHTS))
def test_scheme_selects_the_reweighting_family(batch, scheme):
    kwargs, expected = SCHEME_WEIGHTS[scheme]
    criterion = ClassBalancedLoss(COUNTS, scheme=scheme, **kwargs).double()
    # The buffer is built in float32 (torch's default dtype).
    assert_close(criterion.weight, torch.tensor(expected, dtype=torch.float64))
    logits, targets = batch
    w = torch.tensor(expected, dtype=torch.float64)[targets]
    ce = F.cross_entropy(logits, targets, reduction="none")
    assert_close(criterion(logits, targets), (w * ce).mean())
    function = class_balanced_loss(logits, targets, COUNTS, scheme=scheme, **kwargs)
    assert_close(function, (w * ce).mean())
    assert repr(scheme) in repr(criterion)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scheme": "log"}, ValueError, "'scheme' parameter"),
        ({"scheme": "power", "power": -1.0}, ValueError, "'power' parameter"),
        ({"beta": 1.0}, ValueError, r"'beta' .* range \[0.0, 1.0\)"),
        ({"beta": -0.5}, ValueError, "'beta' parameter"),
        ({"gamma": -0.1}, ValueError, "'gamma' parameter"),
        ({"gamma": None}, TypeError, "'gamma' parameter"),
        ({"reduction": None}, ValueError, "'reduction' parameter"),
        ({"loss_type": "focal"}, ValueError, "'loss_type' parameter"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassBalancedLoss(COUNTS, **kwargs)
    with pytest.raises(error, match=match):
        class_balanced_loss(torch.zeros(1, 3), torch.tensor([0]), COUNTS, **kwargs)


def _cui_sigmoid_reference(logits, targets, weights, gamma):
    """Cui et al.'s sigmoid / focal loss types, written from their formula:
    BCE per class times exp(-gamma y z - gamma log(1 + e^-z)), weighted by the
    sample's class weight, summed and divided by the number of positives."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.eye(z.shape[1])[targets]
    bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    modulator = np.exp(-gamma * y * z - gamma * np.log1p(np.exp(-z)))
    per_sample = weights[targets] * (modulator * bce).sum(axis=1)
    return per_sample, per_sample.sum() / y.sum()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_sigmoid_loss_type_against_reference(batch, gamma):
    logits, targets = batch
    weights = class_weights(COUNTS, "effective_number", beta=0.99)
    per_sample, mean = _cui_sigmoid_reference(
        logits.numpy(), targets.numpy(), weights, gamma
    )
    kwargs = {"beta": 0.99, "gamma": gamma, "loss_type": "sigmoid"}
    got = class_balanced_loss(logits, targets, COUNTS, reduction="none", **kwargs)
    np.testing.assert_allclose(got.numpy(), per_sample, rtol=1e-10)
    got = ClassBalancedLoss(COUNTS, **kwargs).double()(logits, targets)
    np.testing.assert_allclose(got.item(), mean, rtol=1e-6)
    assert "loss_type='sigmoid'" in repr(ClassBalancedLoss(COUNTS, **kwargs))


def test_sigmoid_loss_type_differs_from_softmax(batch):
    # The two forms are different losses (not a reparametrisation): with
    # gamma=0 and equal weights, sigmoid sums C binary cross-entropies.
    logits, targets = batch
    sigmoid = class_balanced_loss(
        logits, targets, COUNTS, beta=0.0, loss_type="sigmoid"
    )
    one_hot = F.one_hot(targets, 3).double()
    bce = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="sum")
    assert_close(sigmoid, bce / len(targets))
    assert not torch.isclose(
        sigmoid, class_balanced_loss(logits, targets, COUNTS, beta=0.0)
    )


def test_sigmoid_gamma_that_underflows_warns():
    # Zero logits: every class has 1 - p = 1/2, each sample loses
    # 3 * 2^-1000 * log 2 (weights average to 1), zero in float32.
    criterion = ClassBalancedLoss([3, 2, 1], gamma=1000.0, loss_type="sigmoid")
    logits, targets = torch.zeros(3, 3), torch.tensor([0, 1, 2])
    with pytest.warns(RuntimeWarning, match="gamma=1000 is too large"):
        assert criterion(logits, targets).item() == 0.0
    got = criterion(logits.double(), targets).item()
    np.testing.assert_allclose(got, 3 * 2.0**-1000 * np.log(2.0), rtol=1e-6)
