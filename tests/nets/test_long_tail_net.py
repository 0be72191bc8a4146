import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, ShuffleSplit, StratifiedKFold
from skorch.callbacks import Callback, ProgressBar
from skorch.dataset import ValidSplit
from torch import nn

from ltsk.losses import (
    BalancedSoftmaxLoss,
    FocalLoss,
    LDAMLoss,
    NormedLinear,
    class_weights,
)
from ltsk.nets import MLP, LongTailNetClassifier, SmallCNN
from ltsk.nets._data import random_crop_flip

COUNTS = np.array([60, 25, 10, 5])


class FeatureNet(nn.Module):
    """A user backbone defined at module level (importable, so picklable)."""

    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LazyLinear(width), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class NotFlat(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, None, :]


class CountingLoss(nn.Module):
    """Cross-entropy stand-in that records the class counts it was given."""

    def __init__(self, class_counts, gamma: float = 0.0) -> None:
        super().__init__()
        self.class_counts = np.asarray(class_counts)
        self.gamma = gamma

    def forward(self, logits, targets):
        return nn.functional.cross_entropy(logits, targets)


class LabelSpy(Callback):
    """Collects the (encoded) training labels of every batch."""

    def initialize(self):
        self.labels_ = []
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.labels_.append(batch[1].numpy().copy())


class ImageSet(torch.utils.data.Dataset):
    def __init__(self, images, labels, with_targets=True):
        self.images = torch.as_tensor(images)
        self.labels = list(labels)
        if with_targets:
            self.targets = list(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def make_data(labels=(0, 1, 2, 3), counts=COUNTS, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(len(counts), n_features))
    index = np.repeat(np.arange(len(counts)), counts)
    X = centers[index] + rng.normal(size=(index.size, n_features))
    return X, np.asarray(labels)[index]


def small_net(module=MLP, **params):
    defaults = dict(lr=0.02, max_epochs=8, batch_size=32, random_state=0)
    if module is MLP:
        defaults["module__hidden_units"] = (16,)
    defaults.update(params)
    return LongTailNetClassifier(module, **defaults)


@pytest.mark.parametrize(
    "labels", [("ant", "bee", "cat", "dog"), (3, 10, 42, -7)], ids=["str", "int"]
)
def test_labels_round_trip(labels):
    X, y = make_data(labels)
    net = small_net().fit(X, y)
    np.testing.assert_array_equal(net.classes_, np.sort(labels))
    sorted_counts = COUNTS[np.argsort(labels)]
    np.testing.assert_array_equal(net.class_counts_, sorted_counts)
    pred = net.predict(X)
    assert pred.dtype == np.asarray(labels).dtype
    assert set(pred) <= set(labels)
    assert np.mean(pred == y) > 0.8
    np.testing.assert_array_equal(
        pred, net.classes_[net.predict_proba(X).argmax(axis=1)]
    )
    assert net.n_features_in_ == 5


def test_predict_proba_is_softmax_for_any_criterion():
    X, y = make_data()
    net = small_net(criterion=FocalLoss, criterion__gamma=2.0).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (len(y), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (proba >= 0).all()
    net.module_.eval()
    with torch.no_grad():
        logits = net.module_(torch.as_tensor(X, dtype=torch.float32)).double()
    np.testing.assert_allclose(proba, torch.softmax(logits, 1).numpy(), atol=1e-6)


def test_nll_loss_gets_log_probabilities():
    X, y = make_data()
    net = small_net(criterion=nn.NLLLoss).fit(X, y)
    losses = net.history[:, "train_loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("train_split", [None, ValidSplit(0.25)])
def test_class_counts_of_whole_training_set_reach_criterion(train_split):
    X, y = make_data(("a", "b", "c", "d"))
    net = small_net(criterion=CountingLoss, train_split=train_split, max_epochs=1)
    net.fit(X, y)
    np.testing.assert_array_equal(net.criterion_.class_counts, COUNTS)
    assert net.get_params()["criterion"] is CountingLoss
    assert "criterion__class_counts" not in net.get_params()
    # An explicit value wins over the automatic one.
    net.set_params(criterion__class_counts=[1, 1, 1, 1]).fit(X, y)
    np.testing.assert_array_equal(net.criterion_.class_counts, [1, 1, 1, 1])


def test_real_count_based_loss_gets_counts():
    X, y = make_data()
    net = small_net(criterion=BalancedSoftmaxLoss, max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(net.criterion_.class_counts.numpy(), COUNTS)
    assert np.isfinite(net.history[-1, "train_loss"])


def _seen_labels(net):
    spy = dict(net.callbacks_)["spy"]
    return np.concatenate(spy.labels_)


def test_sampling_power_shapes_training_batches():
    X, y = make_data()
    q1 = small_net(callbacks=[("spy", LabelSpy())], max_epochs=3).fit(X, y)
    # q=1 is a plain shuffle: every sample exactly once per epoch.
    np.testing.assert_array_equal(np.bincount(_seen_labels(q1)), 3 * COUNTS)

    q0 = small_net(callbacks=[("spy", LabelSpy())], q=0.0, max_epochs=20).fit(X, y)
    seen = _seen_labels(q0)
    assert seen.size == 20 * COUNTS.sum()  # epoch length = len(dataset)
    np.testing.assert_allclose(np.bincount(seen) / seen.size, 0.25, atol=0.03)


def test_sampler_follows_the_internal_train_split():
    X, y = make_data()
    split = ValidSplit(0.25, random_state=0)
    net = small_net(
        callbacks=[("spy", LabelSpy())], train_split=split, max_epochs=2
    ).fit(X, y)
    train_idx, valid_idx = next(
        ShuffleSplit(test_size=0.25, random_state=0).split(np.arange(len(y)))
    )
    # q=1: each epoch visits exactly the training part.
    np.testing.assert_array_equal(
        np.bincount(_seen_labels(net), minlength=4),
        2 * np.bincount(y[train_idx], minlength=4),
    )
    # valid_acc compares predictions with the true labels of the valid part.
    expected = np.mean(net.predict(X[valid_idx]) == y[valid_idx])
    assert net.history[-1, "valid_acc"] == pytest.approx(expected)
    assert np.isfinite(net.history[-1, "valid_loss"])


def test_grid_search_over_q_and_gamma():
    X, y = make_data(("a", "b", "c", "d"))
    grid = GridSearchCV(
        small_net(criterion=FocalLoss, max_epochs=2),
        {"q": [0.0, 1.0], "criterion__gamma": [0.0, 2.0]},
        scoring="balanced_accuracy",
        cv=StratifiedKFold(3),
        error_score="raise",
    ).fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    assert (
        grid.best_estimator_.criterion_.gamma == grid.best_params_["criterion__gamma"]
    )


def test_grid_search_over_module_params_and_lr():
    X, y = make_data()
    grid = GridSearchCV(
        small_net(max_epochs=1),
        {"module__hidden_units": [(4,), (8, 4)], "lr": [0.01, 0.1]},
        cv=2,
        error_score="raise",
    ).fit(X, y)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.transform(X).shape[1] == 4


def test_transform_is_eval_mode_and_leaves_state_alone():
    X, y = make_data()
    net = small_net(module__batch_norm=True, max_epochs=2).fit(X, y)
    bn = net.module_.backbone.layers[1]
    assert isinstance(bn, nn.BatchNorm1d)
    state = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.module_.train()
    features = net.transform(X)
    assert features.shape == (len(y), 16) and features.dtype == np.float32
    for key, value in net.module_.state_dict().items():
        assert torch.equal(value, state[key]), key  # running_mean bit-identical
    assert all(m.training for m in net.module_.modules())  # mode restored
    net.module_.eval()
    net.transform(X[:3])
    assert not any(m.training for m in net.module_.modules())
    # Eval mode means BN uses running statistics: rows do not depend on the batch.
    np.testing.assert_allclose(net.transform(X[:3]), features[:3], rtol=1e-5)


def test_coef_and_intercept_reproduce_logits():
    X, y = make_data(("a", "b", "c", "d"))
    net = small_net().fit(X, y)
    features = net.transform(X)
    assert net.coef_.shape == (4, 16) and net.intercept_.shape == (4,)
    logits = features @ net.coef_.T + net.intercept_
    net.module_.eval()
    with torch.no_grad():
        expected = net.module_(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(net.classes_[logits.argmax(1)], net.predict(X))
    net.coef_[0, 0] = 1e6  # a copy: the net is unchanged
    assert net.module_.classifier.weight[0, 0].item() != 1e6


def test_cosine_classifier_for_ldam():
    X, y = make_data()
    net = small_net(criterion=LDAMLoss, max_epochs=3).fit(X, y)
    assert isinstance(net.module_.classifier, NormedLinear)
    np.testing.assert_array_equal(net.criterion_.class_counts.numpy(), COUNTS)
    coef = net.coef_
    w = net.module_.classifier.weight.detach().numpy()
    np.testing.assert_allclose(
        coef, w / np.linalg.norm(w, axis=1, keepdims=True), rtol=1e-5
    )
    np.testing.assert_array_equal(net.intercept_, np.zeros(4))
    features = net.transform(X)
    np.testing.assert_array_equal(
        (features @ coef.T).argmax(1), net.predict_proba(X).argmax(1)
    )


def test_user_module_and_bad_module_output():
    X, y = make_data()
    net = small_net(FeatureNet, module__width=3).fit(X, y)
    assert net.transform(X).shape == (len(y), 3)
    instance = FeatureNet(width=5)
    net = small_net(instance).fit(X, y)
    assert net.module_.backbone is not instance  # deep-copied, never trained in place
    assert net.transform(X).shape == (len(y), 5)
    with pytest.raises(ValueError, match="2-D tensor of features"):
        small_net(NotFlat).fit(X, y)


def _images(n_per_class=(12, 4), size=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = rng.normal(size=(y.size, 1, size, size)).astype(np.float32)
    X[y == 1, :, :4] += 2.0
    return X, y


@pytest.mark.parametrize("with_targets", [True, False])
def test_dataset_input(with_targets):
    X, y = _images()
    labels = np.where(y == 0, 5, 7)
    ds = ImageSet(X, labels, with_targets=with_targets)
    net = small_net(SmallCNN, module__channels=(4, 8), q=0.0, max_epochs=2)
    net.fit(ds)
    np.testing.assert_array_equal(net.classes_, [5, 7])
    np.testing.assert_array_equal(net.class_counts_, [12, 4])
    assert not hasattr(net, "n_features_in_")
    assert set(net.predict(ds)) <= {5, 7}
    assert net.transform(ds).shape == (16, 8)
    np.testing.assert_allclose(net.predict_proba(ds), net.predict_proba(X), atol=1e-6)


def test_dataset_with_explicit_labels():
    X, y = _images()
    ds = ImageSet(X, y, with_targets=False)
    net = small_net(SmallCNN, module__channels=(4,), max_epochs=1)
    net.fit(ds, np.where(y == 0, "no", "yes"))
    np.testing.assert_array_equal(net.classes_, ["no", "yes"])


def test_random_crop_flip_matches_a_per_image_reference():
    x = torch.arange(2 * 2 * 4 * 4, dtype=torch.float32).reshape(2, 2, 4, 4) + 1
    out = random_crop_flip(x, padding=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(2):
        candidates = [
            c
            for dy in range(9)
            for dx in range(9)
            for c in (
                padded[i, :, dy : dy + 4, dx : dx + 4],
                padded[i, :, dy : dy + 4, dx : dx + 4].flip(-1),
            )
        ]
        assert any(torch.equal(out[i], c) for c in candidates)
    assert random_crop_flip(x[:, 0]).shape == (2, 4, 4)


def test_augment_on_image_arrays_and_its_errors():
    X, y = _images(size=20)
    net = small_net(SmallCNN, module__channels=(4,), augment=True, max_epochs=2)
    net.fit(X[:, 0], y)  # (N, H, W) images
    assert net.predict_proba(X[:, 0]).shape == (16, 2)
    with pytest.raises(ValueError, match=r"augment=CropFlip\(padding=4.*needs images"):
        small_net(augment=True).fit(*make_data())


def test_random_state_reproducible_and_global_rng_untouched():
    X, y = make_data()
    before = torch.get_rng_state()
    net = small_net(q=0.5, module__dropout=0.2).fit(X, y)
    assert torch.equal(before, torch.get_rng_state())
    a = net.predict_proba(X)
    b = small_net(q=0.5, module__dropout=0.2).fit(X, y).predict_proba(X)
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(a, b)
    c = small_net(q=0.5, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip(dump):
    X, y = make_data(("a", "b", "c", "d"))
    net = small_net(FeatureNet).fit(X, y)
    if dump == "pickle":
        clone = pickle.loads(pickle.dumps(net))
    else:
        buffer = io.BytesIO()
        joblib.dump(net, buffer)
        buffer.seek(0)
        clone = joblib.load(buffer)
    np.testing.assert_array_equal(clone.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(clone.predict(X), net.predict(X))
    np.testing.assert_array_equal(clone.transform(X), net.transform(X))
    np.testing.assert_array_equal(clone.class_counts_, net.class_counts_)


@pytest.mark.parametrize(
    ("params", "X_fn", "y_fn", "error", "match"),
    [
        ({}, lambda X: np.where(X > 3, np.nan, X), None, ValueError, "NaN"),
        ({}, lambda X: np.where(X > 3, np.inf, X), None, ValueError, "infinity"),
        ({}, None, lambda y: np.zeros_like(y), ValueError, "at least two classes"),
        ({}, None, lambda y: y[:-1], ValueError, "inconsistent numbers of samples"),
        ({}, None, lambda y: y + 0.5, ValueError, "Unknown label type"),
        ({"q": 1.5}, None, None, ValueError, "'q' parameter"),
        ({"q": "0"}, None, None, TypeError, "'q' parameter"),
        ({"q": "balanced"}, None, None, ValueError, "'q' parameter.*progressive"),
        ({"augment": 1}, None, None, TypeError, "'augment' parameter"),
        ({"max_epochs": -1}, None, None, ValueError, "'max_epochs' parameter"),
        ({"classes": [0, 1]}, None, None, ValueError, "not in the classes"),
    ],
)
def test_bad_input(params, X_fn, y_fn, error, match):
    X, y = make_data()
    X = X_fn(X) if X_fn else X
    y = y_fn(y) if y_fn else y
    with pytest.raises(error, match=match):
        small_net(**params).fit(X, y)


@pytest.mark.parametrize("as_list", [False, True])
def test_numpy_class_weights_work_as_criterion_weight(as_list):
    X, y = make_data()
    w = class_weights(COUNTS, "sqrt_inverse")
    weight = w.tolist() if as_list else w
    net = small_net(
        criterion=nn.CrossEntropyLoss, criterion__weight=weight, max_epochs=1
    ).fit(X, y)
    assert net.get_params()["criterion__weight"] is weight  # parameter untouched
    assert net.criterion_.weight.dtype == torch.float32
    np.testing.assert_allclose(net.criterion_.weight.numpy(), w, rtol=1e-6)
    logits = torch.randn(6, 4)
    targets = torch.tensor([0, 1, 2, 3, 3, 3])
    expected = nn.functional.cross_entropy(
        logits, targets, weight=torch.tensor(w, dtype=torch.float32)
    )
    torch.testing.assert_close(net.criterion_(logits, targets), expected)
    with pytest.raises(TypeError, match="criterion__weight must be an array-like"):
        small_net(criterion=nn.CrossEntropyLoss, criterion__weight=["a"] * 4).fit(X, y)


def test_requires_y_and_fit_before_predict():
    X, y = make_data()
    with pytest.raises(ValueError, match="requires y"):
        small_net().fit(X)
    net = small_net()
    with pytest.raises(NotFittedError):
        net.predict(X)
    with pytest.raises(AttributeError):
        net.coef_  # noqa: B018
    assert not hasattr(net, "classes_")
    net.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        net.predict(X[:, :3])


def test_fixed_class_set_keeps_every_column():
    X, y = make_data()
    keep = y != 3
    net = small_net(classes=[0, 1, 2, 3], max_epochs=1).fit(X[keep], y[keep])
    np.testing.assert_array_equal(net.class_counts_, [60, 25, 10, 0])
    assert net.predict_proba(X).shape == (len(y), 4)


def test_verbose_and_progress_bar(capsys):
    X, y = make_data()
    small_net(max_epochs=1).fit(X, y)
    assert capsys.readouterr().out == ""
    net = small_net(max_epochs=1, progress_bar=True).fit(X, y)
    assert isinstance(dict(net.callbacks_)["progress_bar"], ProgressBar)


def test_warm_start_and_partial_fit_continue_training():
    X, y = make_data(("a", "b", "c", "d"))
    net = small_net(max_epochs=2, warm_start=True).fit(X, y)
    net.fit(X, y)
    assert len(net.history) == 4
    net.partial_fit(X[:20], y[:20])
    assert len(net.history) == 6
    with pytest.raises(ValueError, match="not seen in the first fit"):
        net.partial_fit(X, np.where(y == "a", "z", y))


def test_decoupled_classifier_on_fitted_net():
    from ltsk import DecoupledClassifier

    X, y = make_data(("a", "b", "c", "d"))
    net = small_net().fit(X, y)
    model = DecoupledClassifier(net, "tau_norm").fit(X, y)
    np.testing.assert_array_equal(model.classes_, net.classes_)
    assert set(model.predict(X)) <= set(net.classes_)
