import numpy as np
import pytest
import sklearn
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ltsk import (
    CRTHead,
    DecoupledClassifier,
    LogitAdjustedHead,
    LWSHead,
    NCMHead,
    TauNormHead,
)
from ltsk.datasets import load_digits_lt

TRANSFORM_CALLS = []


class CountingExtractor(TransformerMixin, BaseEstimator):
    """Identity transformer that records every transform call in a global list.

    The counter lives outside the instance so that calling transform does not
    change the estimator's state (and hence its joblib hash).
    """

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        TRANSFORM_CALLS.append(len(X))
        return np.asarray(X, dtype=np.float64)


class LinearExtractor(BaseEstimator):
    """A fitted classifier whose features are its input, with coef_ in that space."""

    def fit(self, X, y):
        lr = LogisticRegression(max_iter=2000).fit(X, y)
        self.classes_ = lr.classes_
        self.coef_ = lr.coef_
        self.intercept_ = lr.intercept_
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64)


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = load_digits_lt(random_state=0)
    names = np.array(list("abcdefghij"))
    return X_train, X_test, names[y_train], names[y_test]


@pytest.fixture(scope="module")
def pca(digits):
    X_train = digits[0]
    return PCA(n_components=20, random_state=0).fit(X_train)


def test_clone_keeps_the_fitted_extractor_and_clones_the_head(pca):
    head = TauNormHead(tau=0.5)
    clf = DecoupledClassifier(pca, head)
    cloned = clone(clf)
    assert cloned.extractor is pca
    assert cloned.head is not head
    assert cloned.head.get_params() == head.get_params()


def test_grid_search_over_tau_with_pca_and_string_labels(digits, pca):
    X_train, X_test, y_train, y_test = digits
    components = pca.components_.copy()
    search = GridSearchCV(
        DecoupledClassifier(pca, TauNormHead()),
        {"head__tau": [0.0, 0.5, 1.0, 1.5]},
        cv=3,
        scoring="balanced_accuracy",
    ).fit(X_train, y_train)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.extractor is pca
    np.testing.assert_array_equal(pca.components_, components)
    pred = search.predict(X_test)
    assert set(pred) <= set(y_train)
    assert search.score(X_test, y_test) > 0.7


def test_memory_transforms_each_distinct_array_once(digits, tmp_path):
    X_train, _, y_train, _ = digits
    extractor = CountingExtractor().fit(X_train)
    grid = {"head__tau": [0.0, 0.5, 1.0]}
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

    TRANSFORM_CALLS.clear()
    GridSearchCV(DecoupledClassifier(extractor, TauNormHead()), grid, cv=cv).fit(
        X_train, y_train
    )
    uncached = len(TRANSFORM_CALLS)
    # 3 candidates x 3 folds x (fit + score) + refit.
    assert uncached == 3 * 3 * 2 + 1

    TRANSFORM_CALLS.clear()
    memory = Memory(tmp_path, verbose=0)
    GridSearchCV(
        DecoupledClassifier(extractor, TauNormHead(), memory=memory), grid, cv=cv
    ).fit(X_train, y_train)
    # 3 train folds + 3 test folds + the full set for the refit.
    assert len(TRANSFORM_CALLS) == 7


@pytest.mark.parametrize("as_str", [True, False], ids=["str", "pathlib"])
def test_memory_accepts_a_path(digits, tmp_path, as_str):
    X_train, X_test, y_train, _ = digits
    extractor = CountingExtractor().fit(X_train)
    location = str(tmp_path) if as_str else tmp_path
    clf = DecoupledClassifier(extractor, "ncm", memory=location)
    TRANSFORM_CALLS.clear()
    first = clf.fit(X_train, y_train).predict(X_test)
    second = clf.fit(X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(first, second)
    assert len(TRANSFORM_CALLS) == 2


@pytest.mark.parametrize(
    "head, expected",
    [
        ("crt", CRTHead),
        ("ncm", NCMHead),
        ("tau_norm", TauNormHead),
        ("lws", LWSHead),
        ("logit_adjust", LogitAdjustedHead),
    ],
)
def test_head_shorthands(digits, pca, head, expected):
    X_train, X_test, y_train, y_test = digits
    clf = DecoupledClassifier(pca, head).fit(X_train, y_train)
    assert type(clf.head_) is expected
    assert clf.score(X_test, y_test) > 0.6
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)


def test_identity_extractor_equals_the_head_alone(digits):
    X_train, X_test, y_train, _ = digits
    alone = CRTHead().fit(X_train, y_train)
    wrapped = DecoupledClassifier(None, CRTHead()).fit(X_train, y_train)
    np.testing.assert_allclose(
        wrapped.predict_proba(X_test), alone.predict_proba(X_test)
    )
    assert wrapped.n_features_in_ == X_train.shape[1]


def test_joint_classifier_reaches_the_head(digits):
    X_train, X_test, y_train, _ = digits
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    extractor = LinearExtractor().fit(X_train, y_train)
    clf = DecoupledClassifier(extractor, TauNormHead(tau=0.0)).fit(X_train, y_train)
    np.testing.assert_allclose(clf.head_.coef_, extractor.coef_)
    np.testing.assert_allclose(
        clf.decision_function(X_test), X_test @ extractor.coef_.T
    )
    la = DecoupledClassifier(extractor, LogitAdjustedHead(tau=0.0)).fit(
        X_train, y_train
    )
    np.testing.assert_allclose(
        la.decision_function(X_test),
        X_test @ extractor.coef_.T + extractor.intercept_,
    )


def test_extractor_coef_in_another_space_is_not_passed(digits):
    X_train, X_test, y_train, y_test = digits
    lda = LinearDiscriminantAnalysis().fit(X_train, y_train)
    assert lda.coef_.shape[1] != lda.transform(X_train).shape[1]
    clf = DecoupledClassifier(lda, TauNormHead()).fit(X_train, y_train)
    assert clf.head_.coef_.shape == (10, lda.transform(X_train[:1]).shape[1])
    assert clf.score(X_test, y_test) > 0.7


def test_classifier_extractor_fixes_the_class_set(digits):
    X_train, X_test, y_train, _ = digits
    lda = LinearDiscriminantAnalysis().fit(X_train, y_train)
    missing = lda.classes_[-1]
    keep = y_train != missing
    clf = DecoupledClassifier(lda, "ncm").fit(X_train[keep], y_train[keep])
    np.testing.assert_array_equal(clf.classes_, lda.classes_)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_array_equal(proba[:, -1], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert missing not in clf.predict(X_test)


def test_a_head_without_classes_is_expanded_to_the_extractor_classes(digits):
    X_train, X_test, y_train, _ = digits
    lda = LinearDiscriminantAnalysis().fit(X_train, y_train)
    keep = y_train != lda.classes_[0]
    clf = DecoupledClassifier(lda, LogisticRegression(max_iter=500)).fit(
        X_train[keep], y_train[keep]
    )
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_array_equal(proba[:, 0], 0.0)
    assert clf.decision_function(X_test)[:, 0].max() == -np.inf


def test_labels_unknown_to_the_extractor_are_an_error(digits):
    X_train, _, y_train, _ = digits
    lda = LinearDiscriminantAnalysis().fit(X_train, y_train)
    y_bad = y_train.copy()
    y_bad[0] = "zzz"
    with pytest.raises(ValueError, match="extractor does not know"):
        DecoupledClassifier(lda, "crt").fit(X_train, y_bad)


def test_frozen_estimator_and_pipeline_extractors(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), PCA(n_components=20, random_state=0))
    pipe.fit(X_train)
    for extractor in (pipe, FrozenEstimator(pipe)):
        clf = clone(DecoupledClassifier(extractor, "crt")).fit(X_train, y_train)
        assert clf.extractor is extractor
        assert clf.score(X_test, y_test) > 0.7


def test_unfitted_extractor_is_an_error(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(NotFittedError, match=r"extractor \(PCA\) is not fitted"):
        DecoupledClassifier(PCA(), "crt").fit(X_train, y_train)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"extractor": LogisticRegression()}, "extractor"),
        ({"head": "svm"}, "head"),
        ({"head": 3}, "head"),
        ({"memory": 5}, "memory"),
    ],
)
def test_invalid_parameters(digits, params, match):
    X_train, _, y_train, _ = digits
    with pytest.raises((ValueError, TypeError), match=match):
        DecoupledClassifier(**params).fit(X_train, y_train)


def test_extractor_must_return_a_matrix(digits):
    X_train, _, y_train, _ = digits

    class Flat(CountingExtractor):
        def transform(self, X):
            return np.asarray(X).ravel()

    with pytest.raises(ValueError, match="2-D feature matrix"):
        DecoupledClassifier(Flat().fit(X_train), "crt").fit(X_train, y_train)


def test_length_mismatch_is_an_error(digits, pca):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DecoupledClassifier(pca, "crt").fit(X_train, y_train[:-1])


def test_head_hyperparameters_are_nested(pca):
    clf = DecoupledClassifier(pca, CRTHead())
    clf.set_params(head__q=0.5, head__gamma=1.0)
    assert clf.head.q == 0.5 and clf.head.gamma == 1.0


def test_extractor_parameters_are_refused_and_the_extractor_untouched(digits, pca):
    X_train, _, y_train, _ = digits
    before = pca.get_params()
    search = GridSearchCV(
        DecoupledClassifier(pca, "crt"), {"extractor__n_components": [2, 5]}, cv=3
    )
    with pytest.raises(ValueError, match=r"extractor__n_components.*frozen"):
        search.fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"extractor__n_components.*GridSearchCV"):
        DecoupledClassifier(pca).set_params(extractor__n_components=2)
    assert pca.get_params() == before
    # Replacing the whole extractor is still allowed.
    other = PCA(n_components=5).fit(X_train)
    assert DecoupledClassifier(pca).set_params(extractor=other).extractor is other


def test_fitted_net_extractor_is_never_mutated(digits):
    from ltsk import LongTailNetClassifier
    from ltsk.nets import MLP

    X_train, _, y_train, _ = digits
    net = LongTailNetClassifier(
        MLP, module__hidden_units=(4,), max_epochs=1, q=1.0, random_state=0
    ).fit(X_train[:40].astype(np.float32), y_train[:40])
    clf = DecoupledClassifier(net, "tau_norm")
    with pytest.raises(ValueError, match=r"extractor__max_epochs, extractor__q"):
        clf.set_params(extractor__q=0.0, extractor__max_epochs=50)
    assert (net.q, net.max_epochs) == (1.0, 1)


def test_deep_params_round_trip_without_the_extractor(pca):
    clf = DecoupledClassifier(pca, TauNormHead(tau=0.3))
    params = clf.get_params(deep=True)
    assert params["head__tau"] == 0.3
    assert not any(key.startswith("extractor__") for key in params)
    clf.set_params(**params)
    assert clf.head.tau == 0.3 and clf.extractor is pca


class RowDropper(CountingExtractor):
    """Returns one row less than asked for, except on the training data."""

    def fit(self, X, y=None):
        self.n_fit_ = len(X)
        return super().fit(X, y)

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X if len(X) == self.n_fit_ else X[:-1]


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_extractor_rows_are_checked_at_predict(digits, method):
    X_train, X_test, y_train, _ = digits
    clf = DecoupledClassifier(RowDropper().fit(X_train), "tau_norm")
    clf.fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"returned 59 rows of features for 60 input"):
        getattr(clf, method)(X_test[:60])


@pytest.mark.parametrize(
    "head, param, default", [("tau_norm", "tau", 1.0), ("crt", "q", 0.0)]
)
def test_shorthand_head_exposes_its_parameters(head, param, default):
    params = DecoupledClassifier(None, head).get_params(deep=True)
    assert params[f"head__{param}"] == default
    clf = DecoupledClassifier(None, head).set_params(**{f"head__{param}": 0.5})
    assert type(clf.head).__name__ == type(clf._make_head()).__name__
    assert getattr(clf.head, param) == 0.5


def test_grid_search_over_a_shorthand_head(digits, pca):
    X_train, _, y_train, _ = digits
    taus = [0.0, 1.0]
    search = GridSearchCV(
        DecoupledClassifier(pca, "tau_norm"), {"head__tau": taus}, cv=3
    ).fit(X_train, y_train)
    expected = [
        cross_val_score(
            DecoupledClassifier(pca, TauNormHead(tau=t)), X_train, y_train, cv=3
        ).mean()
        for t in taus
    ]
    assert expected[0] != expected[1]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected)
    assert search.best_estimator_.head.tau == taus[int(np.argmax(expected))]


def test_head_parameters_of_an_unknown_shorthand_are_an_error():
    with pytest.raises(ValueError, match=r"head='svm'.*shorthand"):
        DecoupledClassifier(None, "svm").set_params(head__tau=0.5)


def _weights(y):
    return np.arange(len(y)) % 3 + 1.0


@pytest.fixture(scope="module")
def scaled(digits):
    """Standardised features, on which LogisticRegression converges fast."""
    return make_pipeline(PCA(n_components=10, random_state=0), StandardScaler()).fit(
        digits[0]
    )


def test_sample_weight_reaches_the_head(digits, scaled):
    X_train, _, y_train, _ = digits
    w = _weights(y_train)
    head = LogisticRegression(max_iter=500)
    clf = DecoupledClassifier(scaled, head).fit(X_train, y_train, sample_weight=w)
    F = scaled.transform(X_train)
    weighted = clone(head).fit(F, y_train, sample_weight=w)
    plain = clone(head).fit(F, y_train)
    np.testing.assert_allclose(clf.head_.coef_, weighted.coef_)
    assert not np.allclose(clf.head_.coef_, plain.coef_)


def test_sample_weight_for_a_head_without_it_is_an_error(digits, scaled):
    X_train, _, y_train, _ = digits
    clf = DecoupledClassifier(scaled, KNeighborsClassifier())
    with pytest.raises(ValueError, match=r"KNeighborsClassifier does not support"):
        clf.fit(X_train, y_train, sample_weight=_weights(y_train))


def test_sample_weight_is_routed_through_a_grid_search(digits, scaled):
    X_train, _, y_train, _ = digits
    w = _weights(y_train)
    with sklearn.config_context(enable_metadata_routing=True):
        head = LogisticRegression(max_iter=500).set_fit_request(sample_weight=True)
        search = GridSearchCV(
            DecoupledClassifier(scaled, head), {"head__C": [0.01, 1.0]}, cv=2
        ).fit(X_train, y_train, sample_weight=w)
        best = LogisticRegression(max_iter=500, C=search.best_params_["head__C"])
        expected = best.fit(scaled.transform(X_train), y_train, sample_weight=w)
        np.testing.assert_allclose(search.best_estimator_.head_.coef_, expected.coef_)
        unrouted = DecoupledClassifier(scaled, KNeighborsClassifier())
        with pytest.raises(TypeError, match=r"\{'sample_weight'\}.* not routed"):
            unrouted.fit(X_train, y_train, sample_weight=w)


# Bad data with no extractor (features are X) and with a network as extractor.
_RNG = np.random.default_rng(0)
X3 = _RNG.normal(size=(30, 4))
Y3 = np.repeat([0, 1, 2], [15, 10, 5])
X3_NAN = np.where(np.arange(4) == 1, np.nan, X3)


@pytest.mark.parametrize(
    ("head", "X", "y", "match"),
    [
        pytest.param("ncm", X3_NAN, Y3, r"(?i)NaN", id="nan-in-X"),
        pytest.param(
            "ncm", X3, Y3[:-2], r"inconsistent numbers of samples", id="len-mismatch"
        ),
        pytest.param("ncm", X3, None, r"requires y", id="y-none"),
        pytest.param("crt", X3, np.zeros(30), r"(?i)class", id="single-class"),
    ],
)
def test_bad_data_without_extractor(head, X, y, match):
    with pytest.raises(ValueError, match=match):
        DecoupledClassifier(None, head).fit(X, y)


def test_predict_unfitted_and_feature_mismatch():
    clf = DecoupledClassifier(None, "ncm")
    with pytest.raises(NotFittedError, match="DecoupledClassifier"):
        clf.predict(X3)
    clf.fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 2 features.*expecting 4"):
        clf.predict(X3[:, :2])
    clf = DecoupledClassifier(PCA(3).fit(X3), "tau_norm").fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 2 features.*expecting 4"):
        clf.predict(X3[:, :2])


def _small_net():
    from ltsk import LongTailNetClassifier
    from ltsk.nets import MLP

    return LongTailNetClassifier(
        MLP, module__hidden_units=(4,), max_epochs=1, batch_size=16, random_state=0
    )


@pytest.fixture(scope="module")
def fitted_net():
    return _small_net().fit(X3.astype(np.float32), np.array(["a", "b", "c"])[Y3])


def test_net_extractor_labels_unseen_and_feature_mismatch(fitted_net):
    y = np.array(["a", "b", "c"])[Y3]
    clf = DecoupledClassifier(fitted_net, "tau_norm").fit(X3.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        clf.predict(X3[:, :3].astype(np.float32))
    y[0] = "z"
    with pytest.raises(ValueError, match=r"labels \['z'\].*does not know"):
        DecoupledClassifier(fitted_net, "tau_norm").fit(X3.astype(np.float32), y)


def test_unfitted_net_extractor_is_an_error():
    with pytest.raises(NotFittedError, match=r"extractor.*is not fitted"):
        DecoupledClassifier(_small_net(), "ncm").fit(X3.astype(np.float32), Y3)


class _PairSet:
    """A torch Dataset of (x, label) pairs, optionally exposing ``targets``."""

    def __new__(cls, X, y, with_targets):
        import torch
        from torch.utils.data import Dataset

        class PairSet(Dataset):
            def __len__(self):
                return len(X)

            def __getitem__(self, i):
                return torch.from_numpy(X[i]), torch.tensor(y[i])

        ds = PairSet()
        if with_targets:
            ds.targets = torch.from_numpy(y)
        return ds


@pytest.mark.parametrize("with_targets", [False, True])
def test_fit_and_predict_on_a_labelled_torch_dataset(digits, with_targets):
    from ltsk import LongTailNetClassifier
    from ltsk.nets import MLP

    X_train, X_test, y_train, _ = digits
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    codes = np.searchsorted(np.unique(y_train), y_train)
    net = LongTailNetClassifier(
        MLP, module__hidden_units=(16,), max_epochs=3, random_state=0
    ).fit(X_train, codes)
    train = _PairSet(X_train, codes, with_targets)
    test = _PairSet(X_test, np.zeros(len(X_test), dtype=np.int64), with_targets)
    on_arrays = DecoupledClassifier(net, "tau_norm").fit(X_train, codes)
    on_dataset = DecoupledClassifier(net, "tau_norm").fit(train)
    np.testing.assert_array_equal(on_dataset.classes_, on_arrays.classes_)
    np.testing.assert_allclose(on_dataset.head_.coef_, on_arrays.head_.coef_)
    np.testing.assert_array_equal(on_dataset.predict(test), on_arrays.predict(X_test))
    np.testing.assert_allclose(
        on_dataset.predict_proba(test), on_arrays.predict_proba(X_test), atol=1e-6
    )
    # explicit labels override the dataset's
    unlabelled = _PairSet(X_train, np.zeros_like(codes), with_targets)
    explicit = DecoupledClassifier(net, "tau_norm").fit(unlabelled, codes)
    np.testing.assert_allclose(explicit.head_.coef_, on_arrays.head_.coef_)


def test_torch_dataset_without_an_extractor_is_an_error(digits):
    X_train, _, y_train, _ = digits
    codes = np.searchsorted(np.unique(y_train), y_train)
    ds = _PairSet(X_train.astype(np.float32), codes, False)
    with pytest.raises(ValueError, match="extractor=None cannot read"):
        DecoupledClassifier(None, "crt").fit(ds)


def test_y_none_with_arrays_is_still_an_error(digits, pca):
    with pytest.raises(ValueError, match="requires y to be passed"):
        DecoupledClassifier(pca, "crt").fit(digits[0], None)
