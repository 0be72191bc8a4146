import numpy as np
import pytest
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
