"""TorchExtractor: a trained nn.Module as a frozen extractor for the heads."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn
from torch.utils.data import TensorDataset

from ltsk import DecoupledClassifier, LogitAdjustedHead
from ltsk.heads import HEADS
from ltsk.nets import TorchExtractor


class Tail(nn.Module):
    """A layer after ``fc`` that counts its calls (class-level: not pickled)."""

    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return x


class Head(Tail):
    """The same, placed before ``fc``, with a counter of its own."""

    calls = 0


class Net(nn.Module):
    """A ResNet-like layout: a body, then ``fc`` on the pooled features."""

    def __init__(self, n_in=6, n_hidden=12, n_classes=4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_in, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
            nn.Dropout(0.5), Head(),
        )  # fmt: skip
        self.fc = nn.Linear(n_hidden, n_classes)
        self.tail = Tail()

    def forward(self, x):
        return self.tail(self.fc(self.body(x)))


def _trained(seed=0, n=400):
    """A Net trained a few steps on 4 Gaussian blobs (all classes predicted)."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(4, 6) * 2
    y = rng.choice(4, size=n, p=[0.55, 0.25, 0.12, 0.08])
    X = centers[y] + rng.randn(n, 6)
    torch.manual_seed(seed)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(Xt), yt).backward()
        optimizer.step()
    model.train()  # left in train mode on purpose: transform must not care
    return model, X, y


@pytest.fixture(scope="module")
def trained():
    return _trained()


def _model_logits(model, X):
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(X, dtype=torch.float32)).numpy()
    model.train()
    return out


def test_reproduces_model_predictions_exactly(trained):
    model, X, y = trained
    names = np.array(["dog", "ant", "cat", "bee"])  # unsorted, in output order
    expected = names[_model_logits(model, X).argmax(1)]
    assert np.unique(expected).size == 4
    extractor = TorchExtractor(model, layer="fc", classes=names)
    clf = DecoupledClassifier(extractor, LogitAdjustedHead(tau=0)).fit(X, names[y])
    np.testing.assert_array_equal(clf.predict(X), expected)
    np.testing.assert_array_equal(clf.classes_, ["ant", "bee", "cat", "dog"])
    # the head's scores are the model's logits, columns in sorted label order
    order = np.argsort(names)
    np.testing.assert_allclose(
        clf.decision_function(X), _model_logits(model, X)[:, order], rtol=1e-5,
        atol=1e-5,
    )  # fmt: skip


def test_features_are_the_layer_input_and_the_output(trained):
    model, X, _ = trained
    model.eval()
    with torch.no_grad():
        Xt = torch.tensor(X, dtype=torch.float32)
        hidden = model.body(Xt).numpy()
        logits = model(Xt).numpy()
    model.train()
    F = TorchExtractor(model, layer="fc", batch_size=7).transform(X)
    assert F.dtype == np.float32 and F.shape == (len(X), 12)
    np.testing.assert_allclose(F, hidden, rtol=1e-6, atol=1e-6)
    out = TorchExtractor(model).transform(X)
    np.testing.assert_allclose(out, logits, rtol=1e-6, atol=1e-6)
    extractor = TorchExtractor(model, layer="fc")
    np.testing.assert_array_equal(extractor.coef_, model.fc.weight.detach().numpy())
    np.testing.assert_array_equal(extractor.intercept_, model.fc.bias.detach().numpy())
    np.testing.assert_array_equal(extractor.classes_, np.arange(4))


def test_eval_mode_no_grad_and_modes_restored(trained):
    model, X, _ = trained
    model.body[3].eval()  # a mixed state, restored as it was
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grad_enabled = []
    handle = model.body.register_forward_hook(
        lambda m, i, o: grad_enabled.append(torch.is_grad_enabled())
    )
    F1 = TorchExtractor(model, layer="fc").transform(X)
    handle.remove()
    assert grad_enabled == [False, False]
    F2 = TorchExtractor(model, layer="fc").transform(X)
    np.testing.assert_array_equal(F1, F2)  # dropout off
    assert model.training and model.body[1].training and not model.body[3].training
    for key, value in model.state_dict().items():  # BatchNorm stats untouched
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    model.body[3].train()


def test_stops_the_forward_at_the_layer(trained):
    model, X, _ = trained
    Tail.calls = 0
    TorchExtractor(model, layer="fc").transform(X)
    assert Tail.calls == 0
    TorchExtractor(model, batch_size=100).transform(X)
    assert Tail.calls == 4  # 400 samples, one full forward per batch


def test_dataset_tensor_and_array_inputs_agree(trained):
    model, X, y = trained
    extractor = TorchExtractor(model, layer="fc", batch_size=64)
    expected = extractor.transform(X)
    Xt = torch.tensor(X, dtype=torch.float32)
    np.testing.assert_array_equal(extractor.transform(Xt), expected)
    np.testing.assert_array_equal(
        extractor.transform(TensorDataset(Xt, torch.tensor(y))), expected
    )
    np.testing.assert_array_equal(extractor.transform(TensorDataset(Xt)), expected)
    np.testing.assert_array_equal(extractor.transform(X.tolist()), expected)


def test_inputs_follow_the_module_dtype_and_integers_stay_integers():
    torch.manual_seed(0)
    double = nn.Sequential(nn.Linear(3, 2)).double()
    X = np.random.RandomState(0).randn(5, 3)
    F = TorchExtractor(double).transform(X)
    expected = double(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(F, expected, rtol=1e-6)
    assert F.dtype == np.float32
    # a Dataset of float32 tensors reaches the float64 module as float64
    dataset = TensorDataset(torch.tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(
        TorchExtractor(double).transform(dataset), expected, rtol=1e-5
    )
    tokens = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 3))
    ids = np.array([[1, 2, 3], [4, 5, 9]])
    F = TorchExtractor(tokens, layer="2").transform(ids)
    np.testing.assert_allclose(
        F, tokens[0](torch.tensor(ids)).reshape(2, -1).detach().numpy()
    )


def test_feature_maps_are_flattened():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    X = np.random.RandomState(0).randn(3, 1, 6, 6).astype(np.float32)
    F = TorchExtractor(conv, layer="1").transform(X)
    with torch.no_grad():
        expected = conv[0](torch.tensor(X)).reshape(3, -1).numpy()
    np.testing.assert_allclose(F, expected, rtol=1e-6)


def test_dotted_layer_of_a_sequential_classifier():
    # torchvision's MobileNet/EfficientNet/VGG layout: the last linear layer is
    # "classifier.<i>", after an in-place Dropout and a second linear layer.
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Linear(5, 8), nn.Hardswish()))
    model.add_module(
        "classifier",
        nn.Sequential(
            nn.Linear(8, 6), nn.Hardswish(), nn.Dropout(0.5, inplace=True),
            nn.Linear(6, 3),
        ),
    )  # fmt: skip
    X = np.random.RandomState(0).randn(30, 5).astype(np.float32)
    extractor = TorchExtractor(model, layer="classifier.3")
    model.eval()
    with torch.no_grad():
        hidden = model.classifier[:3](model.features(torch.tensor(X))).numpy()
        logits = model(torch.tensor(X)).numpy()
    np.testing.assert_array_equal(extractor.transform(X), hidden)
    np.testing.assert_array_equal(
        extractor.coef_, model.classifier[3].weight.detach().numpy()
    )
    y = np.arange(30) % 3
    clf = DecoupledClassifier(extractor, LogitAdjustedHead(tau=0)).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), logits.argmax(1))
    np.testing.assert_allclose(clf.decision_function(X), logits, atol=1e-5)


def test_no_joint_classifier_without_a_linear_layer(trained):
    model, X, y = trained
    for extractor in (TorchExtractor(model), TorchExtractor(model, layer="body.2")):
        assert getattr(extractor, "coef_", None) is None
        assert getattr(extractor, "intercept_", None) is None
        assert getattr(extractor, "classes_", None) is None
    clf = DecoupledClassifier(TorchExtractor(model, layer="fc"), "ncm").fit(X, y)
    assert clf.score(X, y) > 0.5
    with_classes = TorchExtractor(model, classes=[3, 1, 2, 0])
    np.testing.assert_array_equal(with_classes.classes_, [0, 1, 2, 3])


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"layer": "nope"}, ValueError, "layer='nope' is not a sub-module.*'fc'"),
        ({"layer": "fc", "classes": [0, 1]}, ValueError, "classes has 2 labels"),
        ({"layer": "fc", "classes": [0, 1, 1, 2]}, ValueError, "unique"),
        ({"classes": [[0, 1]]}, ValueError, "classes must be 1-D"),
        ({"batch_size": 0}, InvalidParameterError, "batch_size"),
        ({"layer": 3}, InvalidParameterError, "layer"),
    ],
)
def test_bad_parameters_are_named(trained, params, error, match):
    model, X, _ = trained
    extractor = TorchExtractor(model, **params)
    with pytest.raises(error, match=match):
        extractor.fit()
    with pytest.raises(error, match=match):
        extractor.transform(X)


def test_module_must_be_a_module():
    with pytest.raises(InvalidParameterError, match="module"):
        TorchExtractor(lambda x: x).transform(np.zeros((2, 2)))


def test_layer_never_called_and_non_tensor_output():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(2, 2)
            self.unused = nn.Linear(2, 2)

        def forward(self, x):
            return {"logits": self.used(x)}

    X = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(RuntimeError, match="layer='unused' was not called"):
        TorchExtractor(Unused(), layer="unused").transform(X)
    with pytest.raises(TypeError, match="output of the module is a dict"):
        TorchExtractor(Unused()).transform(X)
    with pytest.raises(ValueError, match="at least 1 sample"):
        TorchExtractor(Unused(), layer="used").transform(X[:0])


def test_clone_shares_the_module_and_pickle_round_trips(trained):
    model, X, _ = trained
    extractor = TorchExtractor(model, layer="fc", classes=["a", "b", "c", "d"])
    cloned = clone(extractor)
    assert cloned.module is model
    assert cloned.get_params()["classes"] == ["a", "b", "c", "d"]
    assert cloned.get_params()["classes"] is not extractor.classes
    loaded = pickle.loads(pickle.dumps(extractor))
    assert loaded.module is not model
    np.testing.assert_array_equal(loaded.transform(X), extractor.transform(X))
    np.testing.assert_array_equal(loaded.coef_, extractor.coef_)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_fits_on_it_and_the_module_is_not_trained(trained, head):
    model, X, y = trained
    state = {k: v.clone() for k, v in model.state_dict().items()}
    clf = DecoupledClassifier(TorchExtractor(model, layer="fc"), head).fit(X, y)
    assert clf.score(X, y) > 0.6
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_memory_caches_features_and_grid_search(trained, tmp_path):
    model, X, y = trained
    clf = DecoupledClassifier(
        TorchExtractor(model, layer="fc"), LogitAdjustedHead(), memory=tmp_path
    )
    Head.calls = 0
    clf.fit(X, y)
    assert Head.calls == 2  # 400 samples in batches of 256
    clf.set_params(head__tau=0.5).fit(X, y)
    assert Head.calls == 2  # features read back from the cache
    search = GridSearchCV(
        DecoupledClassifier(TorchExtractor(model, layer="fc"), LogitAdjustedHead()),
        {"head__tau": [0.0, 1.0]},
        cv=3,
    ).fit(X, y)
    assert search.best_estimator_.extractor.module is model
    with pytest.raises(ValueError, match="extractor__layer"):
        DecoupledClassifier(TorchExtractor(model)).set_params(extractor__layer="fc")


def test_fit_checks_array_input_and_transform_checks_its_width():
    X = np.random.RandomState(0).randn(6, 4).astype(np.float32)
    for fitted_on in (X, torch.tensor(X), X.reshape(6, 4, 1)):
        extractor = TorchExtractor(nn.Flatten()).fit(fitted_on)
        assert extractor.n_features_in_ == 4
        with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
            extractor.transform(X[:, :3])
        with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
            extractor.transform(torch.tensor(X[:, :3]))
    # a Dataset is not read by fit and forgets the width of an earlier fit
    extractor.fit(TensorDataset(torch.tensor(X)))
    assert not hasattr(extractor, "n_features_in_")
    assert extractor.transform(X[:, :3]).shape == (6, 3)
    for bad, match in [
        (X[:, 0], "2D array"),
        (torch.tensor(X[:, 0]), "2D array"),
        (X[:0], "at least 1 sample"),
        (X.astype(np.complex64), "Complex data"),
        (np.array([["a", "b"]]), "numeric|convert"),
    ]:
        with pytest.raises(ValueError, match=match):
            TorchExtractor(nn.Identity()).fit(bad)


@pytest.mark.parametrize("kind", ["array", "tensor", "dataset", "list"])
def test_non_finite_input_is_an_error_in_fit_and_transform(kind):
    X = np.random.RandomState(0).randn(5, 3)
    X[2, 1] = np.nan
    wrap = {
        "array": lambda a: a,
        "tensor": torch.tensor,
        "dataset": lambda a: TensorDataset(torch.tensor(a)),
        "list": lambda a: a.tolist(),
    }[kind]
    extractor = TorchExtractor(nn.Identity())
    with pytest.raises(ValueError, match="NaN or infinity"):
        extractor.transform(wrap(X))
    X[2, 1] = -np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        extractor.transform(wrap(X))
    if kind != "dataset":
        with pytest.raises(ValueError, match="NaN or infinity"):
            extractor.fit(wrap(X))
