import tracemalloc

import numpy as np
import pytest
from scipy import sparse
from sklearn import config_context
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from ltsk.heads import LogitAdjustedHead, NCMHead, TauNormHead, tau_path

TAUS = np.linspace(0.0, 2.0, 21)


def _data(rng, counts, n_features=6):
    y = np.repeat(np.arange(len(counts)), counts)
    F = rng.normal(size=(len(y), n_features))
    F[np.arange(len(y)), y % n_features] += 1.5
    return F, y


@pytest.mark.parametrize("head_class", [TauNormHead, LogitAdjustedHead])
@pytest.mark.parametrize("metric", [balanced_accuracy_score, accuracy_score])
def test_tau_path_equals_refitting_for_every_tau(rng, head_class, metric):
    F, y = _data(rng, [400, 120, 40, 10])
    labels = np.array(["w", "x", "y", "z"])
    coef = rng.normal(size=(4, 6)) * np.array([[3.0], [2.0], [1.0], [0.5]])
    intercept = rng.normal(size=4)
    F_val, y_val = _data(rng, [50, 50, 50, 50])
    head = head_class().fit(F, labels[y], coef=coef, intercept=intercept)
    path = tau_path(head, F_val, labels[y_val], TAUS, metric=metric)
    expected = [
        metric(
            labels[y_val],
            head_class(tau=t)
            .fit(F, labels[y], coef=coef, intercept=intercept)
            .predict(F_val),
        )
        for t in TAUS
    ]
    np.testing.assert_allclose(path, expected)
    assert np.ptp(path) > 0  # tau matters on this problem


@pytest.mark.parametrize("head_class", [TauNormHead, LogitAdjustedHead])
def test_tau_path_never_predicts_an_absent_class(rng, head_class):
    F, y = _data(rng, [200, 50, 0, 20])
    coef = rng.normal(size=(4, 6))
    coef[2] *= 50.0  # the absent class would win every argmax
    head = head_class().fit(F, y, coef=coef, classes=np.arange(4))
    F_val, y_val = _data(rng, [30, 30, 0, 30])
    path = tau_path(head, F_val, y_val, [0.0, 1.0], metric=accuracy_score)
    expected = [
        accuracy_score(
            y_val,
            head.set_params(tau=t)
            .fit(F, y, coef=coef, classes=np.arange(4))
            .predict(F_val),
        )
        for t in (0.0, 1.0)
    ]
    np.testing.assert_allclose(path, expected)
    assert path.min() > 0.25


def test_tau_path_float32_stays_fast_path(rng):
    F, y = _data(rng, [300, 30])
    F32 = F.astype(np.float32)
    head = TauNormHead().fit(F32, y)
    assert tau_path(head, F32, y, TAUS).shape == (21,)


@pytest.mark.parametrize(
    "taus, match",
    [
        ([], "taus must be a non-empty 1-D"),
        ([[0.1]], "taus must be a non-empty 1-D"),
        ([-0.5], "taus must be finite and >= 0"),
        ([np.nan], "taus must be finite"),
    ],
)
def test_tau_path_bad_taus(rng, taus, match):
    F, y = _data(rng, [30, 10])
    head = TauNormHead().fit(F, y)
    with pytest.raises(ValueError, match=match):
        tau_path(head, F, y, taus)


def test_tau_path_bad_heads_and_data(rng):
    F, y = _data(rng, [30, 10])
    with pytest.raises(TypeError, match="TauNormHead or LogitAdjustedHead"):
        tau_path(NCMHead().fit(F, y), F, y, TAUS)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="TauNormHead"):
        tau_path(TauNormHead(), F, y, TAUS)
    head = TauNormHead().fit(F, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        tau_path(head, F, y[:-1], TAUS)
    with pytest.raises(ValueError, match="not in classes"):
        tau_path(head, F, y + 5, TAUS)
    with pytest.raises(ValueError, match="features"):
        tau_path(head, F[:, :3], y, TAUS)


# scikit-learn warns when a class absent from y_val is predicted: the case tested.
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_default_metric_is_sklearn_balanced_accuracy(rng):
    F, y = _data(rng, [400, 120, 40, 10, 3])
    head = LogitAdjustedHead().fit(F, y)
    # a validation set that lacks class 4 and is unbalanced
    F_val, y_val = _data(rng, [80, 20, 50, 7, 0])
    np.testing.assert_allclose(
        tau_path(head, F_val, y_val, TAUS),
        tau_path(head, F_val, y_val, TAUS, metric=balanced_accuracy_score),
    )


def test_tau_path_overflowing_tau_is_an_error_not_nan(rng):
    F, y = _data(rng, [30, 10])
    coef = np.array([[1e-3] * 6, [2e-3] * 6])
    head = TauNormHead().fit(F, y, coef=coef)
    with pytest.raises(ValueError, match="tau=10000 overflows"):
        tau_path(head, F, y, [0.5, 1e4])


@pytest.mark.parametrize("head_class", [TauNormHead, LogitAdjustedHead])
def test_decision_function_path_equals_refitted_scores(rng, head_class):
    F, y = _data(rng, [200, 60, 0, 15])
    coef = rng.normal(size=(4, 6))
    intercept = rng.normal(size=4)
    kwargs = {"coef": coef, "intercept": intercept, "classes": np.arange(4)}
    head = head_class().fit(F, y, **kwargs)
    taus = [0.0, 0.7, 1.5]
    path = head.decision_function_path(F[:50], taus)
    for tau, scores in zip(taus, path, strict=True):
        refit = head_class(tau=tau).fit(F, y, **kwargs)
        expected = refit._class_scores(F[:50])
        np.testing.assert_allclose(scores, expected, rtol=1e-12)
        assert np.all(scores[:, 2] == -np.inf)
    with pytest.raises(ValueError, match="taus"):
        head.decision_function_path(F, [-1.0])  # checked at the call


def test_tau_path_validates_its_arguments(rng):
    F, y = _data(rng, [30, 10])
    head = TauNormHead().fit(F, y)
    with pytest.raises(ValueError, match="'metric' parameter"):
        tau_path(head, F, y, TAUS, metric="balanced_accuracy")
    with pytest.raises(ValueError, match="'head' parameter"):
        tau_path("TauNormHead", F, y, TAUS)


def _fitted_pair(rng, head_class, **params):
    F, y = _data(rng, [200, 60, 0, 15])
    coef = rng.normal(size=(4, 6)) * np.array([[3.0], [2.0], [1.0], [0.5]])
    kwargs = {"coef": coef, "intercept": rng.normal(size=4), "classes": np.arange(4)}
    F_val, y_val = _data(rng, [40, 40, 0, 40])
    F_val[np.abs(F_val) < 0.8] = 0.0  # about half the entries: a sparse matrix
    return head_class(**params).fit(F, y, **kwargs), F_val, y_val


@pytest.mark.parametrize("head_class", [TauNormHead, LogitAdjustedHead])
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array])
def test_tau_path_on_sparse_equals_dense(rng, head_class, container):
    head, F_val, y_val = _fitted_pair(rng, head_class)
    X = container(F_val)
    np.testing.assert_array_equal(
        tau_path(head, X, y_val, TAUS), tau_path(head, F_val, y_val, TAUS)
    )
    for sparse_scores, dense_scores in zip(
        head.decision_function_path(X, TAUS),
        head.decision_function_path(F_val, TAUS),
        strict=True,
    ):
        np.testing.assert_allclose(sparse_scores, dense_scores, rtol=1e-12)


@pytest.mark.parametrize("head_class", [TauNormHead, LogitAdjustedHead])
@pytest.mark.parametrize("container", ["ndarray", "Tensor", "csr_array"])
def test_tau_path_on_device_equals_numpy(rng, head_class, container, monkeypatch):
    torch = pytest.importorskip("torch")
    from ltsk.heads import _torch

    calls = []
    on_device = _torch.tau_path_predictions

    def spy(*args):
        calls.append(args[1].__class__.__name__)
        return on_device(*args)

    monkeypatch.setattr(_torch, "tau_path_predictions", spy)
    reference, F_val, y_val = _fitted_pair(np.random.default_rng(1), head_class)
    head, _, _ = _fitted_pair(np.random.default_rng(1), head_class, device="cpu")
    F_in = {
        "ndarray": F_val,
        "Tensor": torch.as_tensor(F_val),
        "csr_array": sparse.csr_array(F_val),
    }[container]
    expected = tau_path(reference, F_val, y_val, TAUS)
    np.testing.assert_allclose(tau_path(head, F_in, y_val, TAUS), expected)
    assert calls == [container]  # scored by torch
    # Labels may be a tensor too; the absent class 2 is never predicted.
    y_t = torch.as_tensor(y_val)
    np.testing.assert_allclose(
        tau_path(head, F_in, y_t, [0.0, 1.0], metric=accuracy_score),
        tau_path(reference, F_val, y_val, [0.0, 1.0], metric=accuracy_score),
    )
    for scores, dense_scores in zip(
        head.decision_function_path(F_in, TAUS),
        reference.decision_function_path(F_val, TAUS),
        strict=True,
    ):
        assert isinstance(scores, np.ndarray)
        np.testing.assert_allclose(scores, dense_scores, rtol=1e-12)
        assert np.all(scores[:, 2] == -np.inf)


def test_tau_path_in_row_blocks_never_holds_n_by_classes(rng):
    """tracemalloc: the path of many classes is scored block by block."""
    n, d, n_classes = 20_000, 8, 500
    y = np.arange(n) % n_classes
    coef = rng.normal(size=(n_classes, d))
    F = rng.normal(size=(n, d)) + coef[y]
    head = LogitAdjustedHead().fit(F, y, coef=coef)
    taus = np.linspace(0.0, 2.0, 11)
    expected = tau_path(head, F, y, taus)
    tracemalloc.start()
    with config_context(working_memory=1):
        blocked = tau_path(head, F, y, taus)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(blocked, expected)
    n_by_classes = n * n_classes * 8  # 80 MB
    # Blocks of about 1 MiB, the (n_taus, n) predictions, vectors of n entries.
    bound = 3 * 2**20 + taus.size * n * 8 + 10 * n * 8
    assert bound < n_by_classes / 10
    assert peak < bound, (peak, bound)
