import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback, Checkpoint, LoadInitState, LRScheduler
from skorch.dataset import ValidSplit
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR

from ltsk import DecoupledClassifier
from ltsk.datasets import load_digits_lt
from ltsk.heads import TauNormHead
from ltsk.losses import BalancedSoftmaxLoss, LDAMLoss, NormedLinear
from ltsk.nets import MLP, BBNClassifier, CropFlip, DeferredReweighting, bbn_alpha
from ltsk.nets._modules import BilateralBranchModule

COUNTS = np.array([60, 25, 10, 5])
# p_j ∝ 1/n_j for COUNTS: 1/60 : 1/25 : 1/10 : 1/5 = 5 : 12 : 30 : 60 (x 1/300).
REVERSED_P = np.array([5, 12, 30, 60]) / 107


def make_data(labels=(0, 1, 2, 3), counts=COUNTS, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(counts), n_features))
    index = np.repeat(np.arange(len(counts)), counts)
    X = centers[index] + rng.normal(size=(index.size, n_features))
    return X.astype(np.float32), np.asarray(labels)[index]


def official_alpha(epoch: int, max_epoch: int) -> float:
    """BBN's ``bbn_mix`` schedule as the official code writes it (1-based epoch)."""
    div_epoch = 100 * (max_epoch // 100 + 1) if max_epoch in [90, 180] else max_epoch
    return 1 - ((epoch - 1) / div_epoch) ** 2


def small_net(**params):
    defaults = dict(
        module=MLP,
        module__hidden_units=(8,),
        lr=0.05,
        max_epochs=4,
        batch_size=16,
        random_state=0,
    )
    return BBNClassifier(**{**defaults, **params})


class PairSpy(Callback):
    """Collects the encoded labels of both batches of every training step."""

    def initialize(self):
        self.uniform_ = []
        self.reversed_ = []
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            (_, _), (y_c, y_r) = batch
            self.uniform_.append((len(net.history), y_c.numpy().copy()))
            self.reversed_.append(y_r.numpy().copy())


class LossCheck(Callback):
    """Recomputes each step's loss from the module's parts before the step.

    A second implementation of Zhou et al.'s Eqs. 1-3 with the official
    code's factor 2: alpha from the epoch index, the mixed logits, and the
    alpha-weighted cross-entropies.
    """

    def initialize(self):
        self.records_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        (x_c, x_r), (y_c, y_r) = batch
        m = net.module_
        t = len(net.history) - 1
        alpha = official_alpha(t + 1, net.max_epochs)
        with torch.no_grad():
            f_c = m.conventional(m.backbone(x_c))
            f_r = m.rebalancing(m.backbone(x_r))
            W, b = m.classifier.weight, m.classifier.bias
            d = f_c.shape[1]
            z = 2 * alpha * f_c @ W[:, :d].T + 2 * (1 - alpha) * f_r @ W[:, d:].T + b
            ce = nn.functional.cross_entropy
            loss = alpha * ce(z, y_c) + (1 - alpha) * ce(z, y_r)
        self.records_.append([t, alpha, loss.item()])

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if training:
            self.records_[-1].append(loss.item())


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data()
    return small_net().fit(X, y), X, y


# --------------------------------------------------------------------- #
# schedule and sampler
# --------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "epoch, n_epochs, expected",
    [
        (0, 10, 1.0),
        (5, 10, 0.75),
        (9, 10, 0.19),
        (1, 4, 0.9375),
        (3, 4, 0.4375),
        (0, 1, 1.0),
        (10, 10, 0.0),
        (25, 10, 0.0),
        # The official code divides by 100 for T = 90 and by 200 for T = 180.
        (89, 90, 1 - 0.89**2),
        (95, 90, 1 - 0.95**2),
        (100, 90, 0.0),
        (179, 180, 1 - 0.895**2),
        (89, 89, 1 - (89 / 89) ** 2),
        (88, 89, 1 - (88 / 89) ** 2),
    ],
)
def test_bbn_alpha_values(epoch, n_epochs, expected):
    assert bbn_alpha(epoch, n_epochs) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("max_epoch", [1, 4, 30, 89, 90, 91, 100, 180, 200])
def test_bbn_alpha_matches_the_official_schedule(max_epoch):
    ours = [bbn_alpha(t, max_epoch) for t in range(max_epoch)]
    official = [official_alpha(e, max_epoch) for e in range(1, max_epoch + 1)]
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "epoch, n_epochs, error, match",
    [
        (-1, 10, ValueError, "epoch must be >= 0"),
        (0, 0, ValueError, "n_epochs must be >= 1"),
        (1.5, 10, TypeError, "epoch must be an int"),
        (0, True, TypeError, "n_epochs must be an int"),
    ],
)
def test_bbn_alpha_bad_input(epoch, n_epochs, error, match):
    with pytest.raises(error, match=match):
        bbn_alpha(epoch, n_epochs)


def test_reversed_sampler_probabilities_and_draws():
    X, y = make_data()
    spy = PairSpy()
    net = small_net(max_epochs=25, callbacks=[("spy", spy)]).fit(X, y)
    iterator = net.get_iterator(
        net.get_dataset(X, np.searchsorted(net.classes_, y)), True
    )
    np.testing.assert_allclose(iterator.class_probabilities, REVERSED_P, rtol=1e-12)
    # 25 epochs x 100 draws: the standard error of each share is <= 0.011.
    shares = np.bincount(np.concatenate(spy.reversed_), minlength=4) / 2500
    np.testing.assert_allclose(shares, REVERSED_P, atol=0.04)
    # The conventional branch sees every sample exactly once per epoch.
    for epoch in range(1, 26):
        seen = [y_c for e, y_c in spy.uniform_ if e == epoch]
        np.testing.assert_array_equal(np.bincount(np.concatenate(seen)), COUNTS)


def test_drop_last_applies_to_both_samplers():
    X, y = make_data()  # 100 samples: 6 batches of 16 and a last one of 4
    spy = PairSpy()
    small_net(
        max_epochs=1, iterator_train__drop_last=True, callbacks=[("spy", spy)]
    ).fit(X, y)
    assert [len(y_c) for _, y_c in spy.uniform_] == [16] * 6
    assert [len(y_r) for y_r in spy.reversed_] == [16] * 6


def test_samplers_follow_the_internal_train_split():
    X, y = make_data()
    spy = PairSpy()
    split = ValidSplit(0.2, stratified=True, random_state=0)
    net = small_net(max_epochs=2, train_split=split, callbacks=[("spy", spy)])
    net.fit(X, y)
    train_counts = np.array([48, 20, 8, 4])  # 80 % of COUNTS, stratified
    seen = np.concatenate([y_c for e, y_c in spy.uniform_ if e == 1])
    np.testing.assert_array_equal(np.bincount(seen), train_counts)
    assert sum(len(y_r) for y_r in spy.reversed_) == 2 * train_counts.sum()
    history = net.history
    assert {"valid_loss", "valid_acc", "alpha"} <= set(history[-1])
    assert np.isfinite(history[:, "valid_loss"]).all()


# --------------------------------------------------------------------- #
# training step, schedule in use, inference
# --------------------------------------------------------------------- #
def test_alpha_per_epoch_is_used_in_the_loss():
    X, y = make_data()
    check = LossCheck()
    net = small_net(max_epochs=5, callbacks=[("check", check)]).fit(X, y)
    np.testing.assert_allclose(net.history[:, "alpha"], [1, 0.96, 0.84, 0.64, 0.36])
    records = np.array(check.records_)
    assert set(records[:, 0]) == {0, 1, 2, 3, 4}
    np.testing.assert_allclose(
        records[:, 1], [bbn_alpha(int(t), 5) for t in records[:, 0]]
    )
    np.testing.assert_allclose(records[:, 3], records[:, 2], rtol=1e-5, atol=1e-6)


def test_training_and_inference_logits_by_hand():
    # Identity backbone and branches: f_c, f_r are the inputs themselves.
    classifier = nn.Linear(4, 2)
    with torch.no_grad():
        classifier.weight.copy_(torch.tensor([[1.0, 0, 0, 1], [0, 1, 1, 0]]))
        classifier.bias.copy_(torch.tensor([0.5, -0.5]))
    m = BilateralBranchModule(nn.Identity(), nn.Identity(), nn.Identity(), classifier)
    x_c, x_r = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    # 2 * [0.75 * (1, 2), 0.25 * (3, -1)] = (1.5, 3, 1.5, -0.5);
    # z_0 = 1.5 - 0.5 + 0.5, z_1 = 3 + 1.5 - 0.5.
    torch.testing.assert_close(
        m.mixed_logits(x_c, x_r, 0.75), torch.tensor([[1.5, 4.0]])
    )
    # Inference: [f_c, f_r] = (1, 2, 1, 2); z_0 = 1 + 2 + 0.5, z_1 = 2 + 1 - 0.5.
    torch.testing.assert_close(m.features(x_c), torch.tensor([[1.0, 2, 1, 2]]))
    torch.testing.assert_close(m(x_c), torch.tensor([[3.5, 2.5]]))


def test_transform_coef_intercept_reproduce_inference_logits(fitted):
    net, X, _ = fitted
    F = net.transform(X)
    m = net.module_
    with torch.no_grad():
        h = m.backbone(torch.from_numpy(X))
        expected = torch.cat([m.conventional(h), m.rebalancing(h)], 1)
    np.testing.assert_allclose(F, expected.numpy(), rtol=1e-6, atol=1e-6)
    logits = F @ net.coef_.T + net.intercept_
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    np.testing.assert_allclose(net.predict_proba(X), proba, rtol=1e-5, atol=1e-6)
    assert net.coef_.shape == (4, 16) and net.intercept_.shape == (4,)
    assert isinstance(m, BilateralBranchModule)
    np.testing.assert_array_equal(net.class_counts_, COUNTS)


def test_trains_on_digits_lt_and_beats_chance():
    X_train, X_test, y_train, y_test = load_digits_lt()
    net = BBNClassifier(
        MLP,
        module__hidden_units=(64,),
        lr=1e-2,
        max_epochs=30,
        batch_size=64,
        random_state=0,
    ).fit(X_train / 16, y_train)
    score = balanced_accuracy_score(y_test, net.predict(X_test / 16))
    assert score > 0.7  # chance is 0.1; measured 0.86
    assert net.history[-1, "alpha"] == pytest.approx(1 - (29 / 30) ** 2)


class HalvedScaling(BilateralBranchModule):
    """ltsk's earlier parameterisation: the official logits with W halved."""

    def mixed_logits(self, x_c, x_r, alpha):
        f_c = self.conventional(self.backbone(x_c))
        f_r = self.rebalancing(self.backbone(x_r))
        return self.classifier(torch.cat([alpha * f_c, (1 - alpha) * f_r], 1))

    def features(self, x):
        return super().features(x) / 2


class HalvedBBN(BBNClassifier):
    def initialize_module(self):
        super().initialize_module()
        m = self.module_
        self.module_ = HalvedScaling(
            m.backbone, m.conventional, m.rebalancing, m.classifier
        )
        return self


def test_official_scaling_trains_better_under_sgd_with_weight_decay():
    # The benchmark's digits-LT recipe; the two parameterisations compute the
    # same function, so only the training differs.
    X_train, X_test, y_train, y_test = load_digits_lt()
    scores = {}
    for estimator in (BBNClassifier, HalvedBBN):
        net = estimator(
            MLP,
            lr=0.05,
            max_epochs=30,
            batch_size=64,
            optimizer=torch.optim.SGD,
            optimizer__momentum=0.9,
            optimizer__weight_decay=5e-4,
            callbacks=[("cosine", LRScheduler(policy=CosineAnnealingLR, T_max=30))],
            random_state=0,
        ).fit(X_train / 16, y_train)
        y_pred = net.predict(X_test / 16)
        scores[estimator] = balanced_accuracy_score(y_test, y_pred)
    # Measured: 0.80 with the official scaling, 0.46 with W halved.
    assert scores[BBNClassifier] > 0.7
    assert scores[BBNClassifier] > scores[HalvedBBN] + 0.2


def test_string_labels_and_probabilities():
    X, y = make_data(labels=("ant", "bee", "cat", "dog"))
    net = small_net().fit(X, y)
    np.testing.assert_array_equal(net.classes_, ["ant", "bee", "cat", "dog"])
    pred = net.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(net.classes_)
    proba = net.predict_proba(X)
    assert proba.shape == (100, 4)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    np.testing.assert_array_equal(pred, net.classes_[proba.argmax(1)])


def test_decoupled_classifier_on_fitted_bbn():
    X_train, X_test, y_train, y_test = load_digits_lt()
    net = BBNClassifier(
        MLP, module__hidden_units=(32,), lr=1e-2, max_epochs=10, random_state=0
    ).fit(X_train / 16, y_train)
    crt = DecoupledClassifier(net, "crt").fit(X_train / 16, y_train)
    assert balanced_accuracy_score(y_test, crt.predict(X_test / 16)) > 0.5
    # tau = 0 keeps the joint weights BBN passes as coef_ (bias dropped).
    tau0 = DecoupledClassifier(net, TauNormHead(tau=0.0)).fit(X_train / 16, y_train)
    F = net.transform(X_test / 16)
    np.testing.assert_array_equal(
        tau0.predict(X_test / 16), net.classes_[(F @ net.coef_.T).argmax(1)]
    )
    np.testing.assert_allclose(tau0.head_.coef_, net.coef_, rtol=1e-6)


def test_random_state_reproducible():
    X, y = make_data()
    a, b = small_net().fit(X, y), small_net().fit(X, y)
    c = small_net(random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    assert a.history[:, "train_loss"] != c.history[:, "train_loss"]


def test_dataset_input_and_predict():
    X, y = make_data()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_dataset = small_net().fit(dataset)
    from_arrays = small_net().fit(X, y)
    np.testing.assert_array_equal(from_dataset.class_counts_, COUNTS)
    np.testing.assert_allclose(
        from_dataset.predict_proba(dataset), from_dataset.predict_proba(X), rtol=1e-6
    )
    assert from_dataset.transform(dataset).shape == from_arrays.transform(X).shape


def test_pickle_round_trip(fitted):
    net, X, _ = fitted
    loaded = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(loaded.coef_, net.coef_)


def test_partial_fit_continues_with_alpha_zero():
    X, y = make_data()
    net = small_net(max_epochs=2).fit(X, y)
    net.partial_fit(X, y)
    np.testing.assert_allclose(net.history[:, "alpha"], [1.0, 0.75, 0.0, 0.0])


def test_zero_epochs_initialises_without_training():
    X, y = make_data()
    net = small_net(max_epochs=0).fit(X, y)
    assert len(net.history) == 0
    assert net.transform(X).shape == (100, 16)


def test_count_based_criterion_gets_training_counts():
    X, y = make_data()
    net = small_net(criterion=BalancedSoftmaxLoss, max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(net.criterion_.class_counts.numpy(), COUNTS)


def test_augment_on_image_arrays():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [30, 12, 6])
    X = rng.normal(size=(48, 1, 8, 8)).astype(np.float32) + y[:, None, None, None]
    net = small_net(augment=CropFlip(padding=1), max_epochs=2).fit(X, y)
    assert net.predict_proba(X).shape == (48, 3)


# --------------------------------------------------------------------- #
# branches and parameters
# --------------------------------------------------------------------- #
class ScaledBranch(nn.Module):
    """A user branch defined at module level (importable, so picklable)."""

    def __init__(self, in_features: int = 8, width: int = 3) -> None:
        super().__init__()
        self.layer = nn.Linear(in_features, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layer(h))


def test_custom_branch_class_instance_and_params():
    X, y = make_data()
    net = small_net(branch=MLP, branch__hidden_units=(5,)).fit(X, y)
    assert net.coef_.shape == (4, 10)
    m = net.module_
    assert m.conventional is not m.rebalancing
    assert clone(net).get_params()["branch__hidden_units"] == (5,)

    prototype = ScaledBranch(in_features=8, width=3)
    net = small_net(branch=prototype, max_epochs=0).fit(X, y)
    w_c = net.module_.conventional.layer.weight
    w_r = net.module_.rebalancing.layer.weight
    torch.testing.assert_close(w_c, w_r)  # both copies of the prototype
    assert w_c is not w_r and net.module_.conventional is not prototype
    assert net.transform(X).shape == (100, 6)


def test_default_branch_is_linear_relu(fitted):
    net, _, _ = fitted
    for branch in (net.module_.conventional, net.module_.rebalancing):
        assert isinstance(branch[0], nn.Linear) and isinstance(branch[1], nn.ReLU)
        assert branch[0].in_features == branch[0].out_features == 8


@pytest.mark.parametrize(
    "name, value", [("q", 0.5), ("q", 1.0), ("mixup", "remix"), ("remix_tau", 0.3)]
)
def test_parent_parameters_that_do_not_apply_are_rejected(fitted, name, value):
    net, _, _ = fitted
    assert name not in net.get_params()
    assert "branch" in net.get_params()
    with pytest.raises(TypeError, match=f"does not take {name}"):
        BBNClassifier(MLP, **{name: value})


def test_ldam_with_deferred_reweighting():
    X, y = make_data()
    drw = DeferredReweighting(start_epoch=2)
    net = small_net(criterion=LDAMLoss, max_epochs=3, callbacks=[("drw", drw)])
    net.fit(X, y)
    assert isinstance(net.module_.classifier, NormedLinear)
    assert net.criterion_.weight is not None
    np.testing.assert_allclose((net.coef_**2).sum(1), 1, rtol=1e-5)
    F = net.transform(X)
    np.testing.assert_array_equal(
        (F @ net.coef_.T).argmax(1), net.predict_proba(X).argmax(1)
    )


def _not_a_module():
    return "relu"


class ThreeD(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h[:, None, :]


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"max_epochs": -1}, ValueError, "max_epochs"),
        ({"lr": -0.1}, ValueError, "lr"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"branch": "relu"}, ValueError, "branch"),
        ({"branch": _not_a_module}, TypeError, "callable returning str"),
        ({"branch": ThreeD}, ValueError, "branch must return a 2-D tensor"),
        (
            {"iterator_train__sampler": torch.utils.data.SequentialSampler(range(3))},
            ValueError,
            "draws its own uniform and reversed batches",
        ),
    ],
)
def test_bad_input(params, error, match):
    X, y = make_data()
    with pytest.raises(error, match=match):
        small_net(**params).fit(X, y)


class _Interrupt(Callback):
    """Interrupts training after ``after`` epochs, as Ctrl-C would."""

    def __init__(self, after):
        self.after = after

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.after:
            raise KeyboardInterrupt


def test_alpha_resumed_from_a_checkpoint_continues_the_schedule(tmp_path):
    # The documented resume recipe: max_epochs = N - k with LoadInitState.
    X, y = make_data()
    straight = small_net(max_epochs=5).fit(X, y).history[:, "alpha"]
    assert straight == [bbn_alpha(t, 5) for t in range(5)]
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    small_net(max_epochs=5, callbacks=[checkpoint, _Interrupt(after=2)]).fit(X, y)
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    resumed = small_net(
        max_epochs=3, callbacks=[checkpoint, LoadInitState(checkpoint)]
    ).fit(X, y)
    assert resumed.history[:, "alpha"] == straight
    assert resumed.history[:, "bbn_epochs"] == [5] * 5


def test_bbn_shares_the_base_class_and_carries_no_joint_only_attributes():
    from ltsk.nets import LongTailNetClassifier
    from ltsk.nets._base import BaseLongTailNet

    assert issubclass(BBNClassifier, BaseLongTailNet)
    assert issubclass(LongTailNetClassifier, BaseLongTailNet)
    assert not issubclass(BBNClassifier, LongTailNetClassifier)
    net = BBNClassifier(MLP)
    joint_only = ["q", "progressive_epochs", "mixup", "mixup_alpha"]
    joint_only += ["remix_kappa", "remix_tau"]
    for name in joint_only:
        assert hasattr(LongTailNetClassifier(MLP), name)
        assert not hasattr(net, name)
    assert set(net.get_params(deep=False)) >= {"branch", "augment", "random_state"}


def test_unknown_keyword_is_refused_at_construction_by_both_nets():
    from ltsk.nets import LongTailNetClassifier

    for cls in (LongTailNetClassifier, BBNClassifier):
        with pytest.raises(TypeError, match=rf"{cls.__name__} does not take lrate"):
            cls(MLP, lrate=0.1)
        # skorch's own parameters and prefixed ones still pass through
        cls(MLP, warm_start=True, module__hidden_units=(4,), callbacks__print_log=None)
