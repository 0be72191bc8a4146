"""Mixup and Remix in LongTailNetClassifier: the remix label rule, the
mixed-pairs loss against independent references, the training step and
bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score
from torch import nn
from torch.testing import assert_close

import ltsk.nets._net as net_module
from ltsk.datasets import load_digits_lt
from ltsk.losses import FocalLoss, LDAMLoss, focal_loss, ldam_loss
from ltsk.nets import MLP, CropFlip, LongTailNetClassifier, SmallCNN
from ltsk.nets._mixup import mixed_pair_loss, remix_label_weights

COUNTS = np.array([60, 25, 10, 5])


def make_data(counts=COUNTS, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(counts), n_features))
    y = np.repeat(np.arange(len(counts)), counts)
    return centers[y] + rng.normal(size=(y.size, n_features)), y


def small_net(**params):
    defaults = dict(
        module__hidden_units=(16,), lr=0.02, max_epochs=3, batch_size=32, random_state=0
    )
    return LongTailNetClassifier(MLP, **{**defaults, **params})


# --------------------------------------------------------------------------- #
# remix label rule
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("lam", "n_i", "n_j", "expected"),
    [
        # majority i (10 >= 3), lambda < tau: the whole label goes to j.
        (0.3, 100, 10, 0.0),
        # ratio exactly kappa still counts as majority.
        (0.3, 30, 10, 0.0),
        # majority i but lambda = tau is not below tau: plain mixup.
        (0.5, 100, 10, 0.5),
        # majority i with a large share of the input: plain mixup.
        (0.8, 100, 10, 0.8),
        # minority i (ratio 0.1 <= 1/3) and 1 - lambda = 0.2 < tau: all to i.
        (0.8, 10, 100, 1.0),
        # minority i but 1 - lambda = 0.7 is not below tau: plain mixup.
        (0.3, 10, 100, 0.3),
        # balanced-ish pair (ratio 2 < 3): plain mixup.
        (0.1, 20, 10, 0.1),
        (0.9, 10, 20, 0.9),
    ],
)
def test_remix_rule_on_hand_made_pairs(lam, n_i, n_j, expected):
    got = remix_label_weights(lam, [n_i], [n_j], kappa=3.0, tau=0.5)
    assert got.dtype == torch.float64
    assert got.tolist() == [pytest.approx(expected)]


def test_remix_rule_vectorised_and_per_pair_lambda():
    n_i = torch.tensor([100, 10, 7, 7])
    n_j = torch.tensor([10, 100, 7, 7])
    got = remix_label_weights(torch.tensor([0.2, 0.9, 0.2, 0.9]), n_i, n_j)
    assert_close(got, torch.tensor([0.0, 1.0, 0.2, 0.9], dtype=torch.float64))
    # kappa=1: every unequal pair is imbalanced; tau=1 always applies.
    got = remix_label_weights(0.6, [2, 1, 5], [1, 2, 5], kappa=1.0, tau=1.0)
    # Equal counts satisfy both ratio tests; the first case (label to j) wins.
    assert_close(got, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    # tau=0 never applies: plain mixup.
    got = remix_label_weights(0.6, [100, 1], [1, 100], tau=0.0)
    assert_close(got, torch.tensor([0.6, 0.6], dtype=torch.float64))


# --------------------------------------------------------------------------- #
# the mixed-pairs loss
# --------------------------------------------------------------------------- #
def _batch(n=12, c=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen, dtype=torch.float64) * 2
    y_a = torch.arange(n) % c
    y_b = y_a[torch.randperm(n, generator=gen)]
    lam_y = torch.rand(n, generator=gen, dtype=torch.float64)
    return logits, y_a, y_b, lam_y


def _fitted(criterion, **params):
    X, y = make_data()
    return small_net(criterion=criterion, max_epochs=1, **params).fit(X, y)


def test_cross_entropy_mixed_pairs_equal_soft_targets():
    logits, y_a, y_b, lam_y = _batch()
    net = _fitted(nn.CrossEntropyLoss)
    got = net.get_mixup_loss(logits, y_a, y_b, lam_y)
    soft = lam_y[:, None] * F.one_hot(y_a, 4) + (1 - lam_y[:, None]) * F.one_hot(y_b, 4)
    assert_close(got, F.cross_entropy(logits, soft.double()))
    # The criterion's own reduction is restored afterwards.
    assert net.criterion_.reduction == "mean"


def test_weighted_cross_entropy_keeps_the_weighted_mean():
    logits, y_a, y_b, lam_y = _batch(seed=1)
    logits = logits.float()  # the criterion's weight is float32
    w = np.array([0.5, 1.0, 2.0, 4.0])
    net = _fitted(nn.CrossEntropyLoss, criterion__weight=w)
    got = net.get_mixup_loss(logits, y_a, y_b, lam_y)
    # By hand: the batch as 2N pairs with weights lam_y w_{y_a}, (1-lam_y) w_{y_b}.
    nll_a = -torch.log_softmax(logits, 1)[torch.arange(12), y_a]
    nll_b = -torch.log_softmax(logits, 1)[torch.arange(12), y_b]
    wt = torch.as_tensor(w)
    pair_a, pair_b = lam_y * wt[y_a], (1 - lam_y) * wt[y_b]
    expected = (pair_a * nll_a + pair_b * nll_b).sum() / (pair_a + pair_b).sum()
    assert_close(got, expected.float(), rtol=1e-5, atol=0)
    # lam_y = 1 everywhere is the criterion on y_a alone.
    ones = torch.ones(12, dtype=torch.float64)
    assert_close(
        net.get_mixup_loss(logits, y_a, y_b, ones),
        F.cross_entropy(logits, y_a, weight=wt.float()),
        rtol=1e-5,
        atol=0,
    )


def test_nll_loss_gets_log_probabilities_in_mixup():
    logits, y_a, y_b, lam_y = _batch(seed=2)
    net = _fitted(nn.NLLLoss)
    reference = _fitted(nn.CrossEntropyLoss)
    assert_close(
        net.get_mixup_loss(logits, y_a, y_b, lam_y),
        reference.get_mixup_loss(logits, y_a, y_b, lam_y),
    )


def test_focal_mean_divides_by_the_number_of_samples():
    logits, y_a, y_b, lam_y = _batch(seed=3)
    net = _fitted(FocalLoss, criterion__gamma=2.0, criterion__alpha=[1, 2, 3, 4])
    got = net.get_mixup_loss(logits, y_a, y_b, lam_y)
    kw = dict(gamma=2.0, alpha=[1.0, 2.0, 3.0, 4.0], reduction="none")
    per_a = focal_loss(logits, y_a, **kw)
    per_b = focal_loss(logits, y_b, **kw)
    assert_close(got, (lam_y * per_a + (1 - lam_y) * per_b).mean())


def test_ldam_with_weight_keeps_the_weighted_mean():
    logits, y_a, y_b, lam_y = _batch(seed=4)
    logits = torch.tanh(logits)
    net = _fitted(LDAMLoss)
    net.criterion_ = net.criterion_.double()
    w = [0.5, 1.0, 2.0, 4.0]
    net.criterion_.weight = w
    got = net.get_mixup_loss(logits, y_a, y_b, lam_y)
    per_a = ldam_loss(logits, y_a, COUNTS, reduction="none")
    per_b = ldam_loss(logits, y_b, COUNTS, reduction="none")
    wt = torch.tensor(w, dtype=torch.float64)
    pa, pb = lam_y * wt[y_a], (1 - lam_y) * wt[y_b]
    assert_close(got, (pa * per_a + pb * per_b).sum() / (pa + pb).sum())


def test_sum_and_none_reductions():
    losses_a = torch.tensor([1.0, 2.0])
    losses_b = torch.tensor([3.0, 5.0])
    lam_y = torch.tensor([0.25, 1.0], dtype=torch.float64)
    none = mixed_pair_loss(losses_a, losses_b, lam_y, "none")
    assert_close(none, torch.tensor([2.5, 2.0]))
    assert_close(mixed_pair_loss(losses_a, losses_b, lam_y, "sum"), torch.tensor(4.5))
    assert_close(mixed_pair_loss(losses_a, losses_b, lam_y, "mean"), torch.tensor(2.25))


class NoReduction(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits, targets)


class ScalarOnly(nn.Module):
    reduction = "mean"

    def forward(self, logits, targets):
        return F.cross_entropy(logits, targets)


@pytest.mark.parametrize(
    ("criterion", "match"),
    [(NoReduction, "has none"), (ScalarOnly, r"returned shape \(\) instead of")],
)
def test_criterion_without_per_sample_losses_is_a_clear_error(criterion, match):
    X, y = make_data()
    with pytest.raises(TypeError, match=f"per-sample losses.*{match}"):
        small_net(criterion=criterion, mixup="mixup").fit(X, y)
    small_net(criterion=criterion).fit(X, y)  # fine without mixup


# --------------------------------------------------------------------------- #
# the training step
# --------------------------------------------------------------------------- #
class RecordingNet(LongTailNetClassifier):
    """Records the mixed inputs and the labels of every mixup step."""

    def infer(self, x, **fit_params):
        if self.module_.training:
            self.inputs_.append(x.detach().clone())
        return super().infer(x, **fit_params)

    def get_mixup_loss(self, y_pred, y_a, y_b, lam_y, X=None):
        self.pairs_.append((y_a.clone(), y_b.clone(), lam_y.clone()))
        return super().get_mixup_loss(y_pred, y_a, y_b, lam_y, X=X)


@pytest.mark.parametrize("mixup", ["mixup", "remix"])
def test_training_step_mixes_inputs_and_labels(monkeypatch, mixup):
    monkeypatch.setattr(net_module, "sample_mixup_lambda", lambda alpha: 0.25)
    counts = np.array([30, 5, 3])
    y = np.repeat(np.arange(3), counts)
    X = np.eye(y.size) * 4.0  # row i is 4 e_i: mixing partners are readable
    net = RecordingNet(
        MLP,
        mixup=mixup,
        max_epochs=1,
        batch_size=-1,
        iterator_train__shuffle=False,
        random_state=0,
    )
    net.inputs_, net.pairs_ = [], []
    net.fit(X, y)
    (mixed,), ((y_a, y_b, lam_y),) = net.inputs_, net.pairs_
    mixed = mixed.numpy()
    # Row i = 0.25 * 4 e_i + 0.75 * 4 e_partner(i).
    partner = mixed.argmax(axis=1)
    assert sorted(partner.tolist()) == list(range(y.size))
    expected = np.zeros_like(mixed)
    expected[np.arange(y.size), np.arange(y.size)] += 1.0
    expected[np.arange(y.size), partner] += 3.0
    np.testing.assert_allclose(mixed, expected, atol=1e-6)
    np.testing.assert_array_equal(y_a.numpy(), y)
    np.testing.assert_array_equal(y_b.numpy(), y[partner])
    if mixup == "mixup":
        assert_close(lam_y, torch.full((y.size,), 0.25, dtype=torch.float64))
    else:
        reference = remix_label_weights(0.25, counts[y], counts[y[partner]])
        assert_close(lam_y, reference)
        # The rule did fire: a majority sample mixed with a minority one.
        assert (lam_y == 0).any()


def test_reproducible_and_global_rng_untouched():
    X, y = make_data()
    before = torch.get_rng_state()
    a = small_net(mixup="remix", q=0.5).fit(X, y).predict_proba(X)
    b = small_net(mixup="remix", q=0.5).fit(X, y).predict_proba(X)
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(a, b)
    c = small_net(mixup="remix", q=0.5, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(a, c)


def test_composes_with_augment_and_class_balanced_sampling():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [12, 4])
    X = rng.normal(size=(16, 1, 8, 8)).astype(np.float32)
    X[y == 1, :, :4] += 2.0
    net = LongTailNetClassifier(
        SmallCNN,
        module__channels=(4,),
        augment=CropFlip(padding=1),
        mixup="mixup",
        q=0.0,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert np.all(np.isfinite(net.history[:, "train_loss"]))
    assert net.predict_proba(X).shape == (16, 2)


class FloatCast(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)

    def forward(self, x):
        return self.linear(x.float())


class IntegerSet(torch.utils.data.Dataset):
    def __init__(self):
        self.x = torch.arange(30).reshape(10, 3)
        self.targets = [0] * 7 + [1] * 3

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return self.x[i], self.targets[i]


def test_integer_inputs_cannot_be_mixed():
    net = LongTailNetClassifier(FloatCast, mixup="mixup", max_epochs=1)
    with pytest.raises(TypeError, match="floating-point"):
        net.fit(IntegerSet())


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"mixup": "cutmix"}, "mixup"),
        ({"mixup": True}, "mixup"),
        ({"mixup_alpha": 0.0}, "mixup_alpha"),
        ({"mixup_alpha": -1.0}, "mixup_alpha"),
        ({"remix_kappa": 0.0}, "remix_kappa"),
        ({"remix_tau": 1.5}, "remix_tau"),
        ({"remix_tau": -0.1}, "remix_tau"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    X, y = make_data()
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        small_net(**{"mixup": "remix", **params}).fit(X, y)


@pytest.mark.parametrize("mixup", ["mixup", "remix"])
def test_trains_on_digits_lt_and_beats_chance(mixup):
    X_train, X_test, y_train, y_test = load_digits_lt()
    net = LongTailNetClassifier(
        MLP, module__hidden_units=(64,), mixup=mixup, max_epochs=30, random_state=0
    ).fit(X_train, y_train)
    assert balanced_accuracy_score(y_test, net.predict(X_test)) > 0.6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"kappa": 0.0}, r"kappa", id="kappa-0"),
        pytest.param({"tau": 1.5}, r"tau", id="tau-1.5"),
        pytest.param({"tau": "half"}, r"tau", id="tau-string"),
        pytest.param({"lam": 1.2}, r"lam", id="lam-1.2"),
        pytest.param({"counts_j": [3, 0]}, r"counts_j", id="zero-count"),
    ],
)
def test_remix_label_weights_bad_input(kwargs, match):
    call = {"lam": 0.3, "counts_i": [10, 3], "counts_j": [3, 10], **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        remix_label_weights(**call)
