"""Saving and loading fitted estimators: pickle, joblib, skorch params, checkpoints."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.callbacks import Checkpoint, LoadInitState

from ltsk import (
    DecoupledClassifier,
    LongTailNetClassifier,
    TauNormHead,
)
from ltsk.losses import LDAMLoss
from ltsk.nets import MLP, BBNClassifier, DeferredReweighting
from ltsk.sampling import PowerLawSampler
from ltsk.utils._instances import head_instances

NET_PARAMS = dict(
    module__hidden_units=(8,), lr=0.05, batch_size=32, max_epochs=6, random_state=0
)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["ant", "bee", "cow", "dog"]), [60, 25, 10, 5])
    centres = {"ant": 0.0, "bee": 2.0, "cow": -2.0, "dog": 4.0}
    shift = np.array([centres[label] for label in y])
    X = rng.normal(size=(y.size, 5)) + shift[:, None] * np.array([1, -1, 0, 0.5, 0])
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def net(data):
    X, y = data
    return LongTailNetClassifier(MLP, **NET_PARAMS).fit(X, y)


def _pickle(est):
    return pickle.loads(pickle.dumps(est))


def _joblib(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


ROUND_TRIPS = pytest.mark.parametrize("round_trip", [_pickle, _joblib])


def _assert_same_predictions(est, restored, X):
    assert restored is not est
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(restored.classes_, est.classes_)


@ROUND_TRIPS
@pytest.mark.parametrize("head", head_instances(), ids=repr)
def test_head_round_trip(data, head, round_trip):
    X, y = data
    fitted = head.fit(X, y)
    restored = round_trip(fitted)
    _assert_same_predictions(fitted, restored, X)
    np.testing.assert_array_equal(restored.class_counts_, fitted.class_counts_)
    np.testing.assert_array_equal(
        restored.decision_function(X), fitted.decision_function(X)
    )
    fitted_attributes = [name for name in vars(fitted) if name.endswith("_")]
    for name in fitted_attributes:
        np.testing.assert_array_equal(getattr(restored, name), getattr(fitted, name))


@ROUND_TRIPS
@pytest.mark.parametrize("extractor", ["none", "pca", "net"])
def test_decoupled_round_trip(data, net, extractor, round_trip):
    X, y = data
    extractors = {"none": None, "pca": PCA(n_components=3).fit(X), "net": net}
    clf = DecoupledClassifier(extractors[extractor], TauNormHead(tau=0.5)).fit(X, y)
    restored = round_trip(clf)
    _assert_same_predictions(clf, restored, X)
    if extractor == "net":
        # The restored extractor is an independent copy with the same weights.
        assert restored.extractor is not net
        for key, value in net.module_.state_dict().items():
            assert torch.equal(restored.extractor.module_.state_dict()[key], value)


@ROUND_TRIPS
def test_power_law_sampler_round_trip(data, round_trip):
    X, y = data
    sampler = PowerLawSampler(q=0.5, random_state=3)
    X_res, y_res = sampler.fit_resample(X, y)
    restored = round_trip(sampler)
    assert restored.sampling_strategy_ == sampler.sampling_strategy_
    np.testing.assert_array_equal(restored.sample_indices_, sampler.sample_indices_)
    # Same random_state, so refitting the restored sampler resamples identically.
    X_again, y_again = restored.fit_resample(X, y)
    np.testing.assert_array_equal(X_again, X_res)
    np.testing.assert_array_equal(y_again, y_res)


@pytest.fixture(scope="module")
def bbn(data):
    X, y = data
    return BBNClassifier(MLP, **NET_PARAMS).fit(X, y)


@pytest.fixture(scope="module")
def remix_drw_net(data):
    X, y = data
    return LongTailNetClassifier(
        MLP,
        q="progressive",
        mixup="remix",
        criterion=LDAMLoss,
        callbacks=[DeferredReweighting(start_epoch=3, beta=0.99)],
        **NET_PARAMS,
    ).fit(X, y)


@ROUND_TRIPS
@pytest.mark.parametrize("name", ["net", "bbn", "remix_drw_net"])
def test_net_round_trip(data, request, name, round_trip):
    X, _ = data
    net = request.getfixturevalue(name)
    restored = round_trip(net)
    _assert_same_predictions(net, restored, X)
    np.testing.assert_array_equal(restored.transform(X), net.transform(X))
    np.testing.assert_array_equal(restored.coef_, net.coef_)
    np.testing.assert_array_equal(restored.class_counts_, net.class_counts_)
    assert len(restored.history) == len(net.history) == NET_PARAMS["max_epochs"]
    if name == "bbn":
        assert restored.history[:, "alpha"] == net.history[:, "alpha"]
    if name == "remix_drw_net":
        # The switched DRW weights travel with the criterion.
        assert restored.callbacks[0].switched_
        weight = net.criterion_.weight
        assert not torch.equal(weight, torch.ones_like(weight))
        assert torch.equal(restored.criterion_.weight, weight)


@ROUND_TRIPS
def test_grid_search_over_tau_round_trip(data, net, tmp_path, round_trip):
    X, y = data
    # memory takes a str or joblib.Memory, like Pipeline(memory=...).
    clf = DecoupledClassifier(net, TauNormHead(), memory=str(tmp_path))
    search = GridSearchCV(
        clf,
        {"head__tau": [0.0, 0.5, 1.0, 1.5]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="balanced_accuracy",
    ).fit(X, y)
    restored = round_trip(search)
    assert restored.best_params_ == search.best_params_
    np.testing.assert_array_equal(
        restored.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    _assert_same_predictions(search, restored, X)
    assert restored.score(X, y) == search.score(X, y)


def test_net_saved_for_cuda_unpickles_on_cpu(data, net):
    # A net whose device is "cuda" pickles its module with torch.save; skorch
    # maps it to the CPU on load when no GPU is present.
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA to exercise the CPU fallback")
    X, _ = data
    gpu_net = _pickle(net)
    gpu_net.device = "cuda"
    payload = pickle.dumps(gpu_net)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = pickle.loads(payload)
    assert any("no CUDA devices are available" in str(w.message) for w in caught)
    assert torch.device(restored.device).type == "cpu"
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    _assert_same_predictions(net, restored, X)


def test_save_params_load_params_on_cpu(data, net, tmp_path):
    X, y = data
    files = {
        "f_params": tmp_path / "params.pt",
        "f_optimizer": tmp_path / "optimizer.pt",
        "f_history": tmp_path / "history.json",
    }
    net.save_params(**files)
    # The parameter file is a plain state_dict loadable with map_location="cpu".
    state = torch.load(files["f_params"], map_location="cpu", weights_only=True)
    assert state.keys() == net.module_.state_dict().keys()

    # The classifier is sized from the data, so a new net is fitted for zero
    # epochs (which initialises it) before load_params.
    fresh = LongTailNetClassifier(MLP, **{**NET_PARAMS, "max_epochs": 0}).fit(X, y)
    assert len(fresh.history) == 0
    assert not np.array_equal(fresh.predict_proba(X), net.predict_proba(X))
    # Asking for CUDA where there is none: load_params maps to the CPU.
    if not torch.cuda.is_available():
        fresh.device = "cuda"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fresh.load_params(**files)
        assert any("no CUDA devices are available" in str(w.message) for w in caught)
        assert torch.device(fresh.device).type == "cpu"
    else:
        fresh.load_params(**files)
    _assert_same_predictions(net, fresh, X)
    assert len(fresh.history) == len(net.history)
    np.testing.assert_array_equal(fresh.coef_, net.coef_)


def test_checkpoint_resume_matches_uninterrupted_fit(data, tmp_path):
    X, y = data
    n_epochs, k = NET_PARAMS["max_epochs"], 2
    full = LongTailNetClassifier(MLP, **NET_PARAMS).fit(X, y)

    first = Checkpoint(monitor=None, dirname=str(tmp_path))
    interrupted = LongTailNetClassifier(
        MLP, **{**NET_PARAMS, "max_epochs": k}, callbacks=[first]
    ).fit(X, y)
    assert len(interrupted.history) == k
    assert (tmp_path / "params.pt").exists()

    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    resumed = LongTailNetClassifier(
        MLP,
        **{**NET_PARAMS, "max_epochs": n_epochs - k},
        callbacks=[checkpoint, LoadInitState(checkpoint)],
    ).fit(X, y)
    # LoadInitState restores history, module and optimizer after
    # initialize(); fit then adds max_epochs more epochs.
    assert len(resumed.history) == len(full.history) == n_epochs
    assert resumed.history[:, "epoch"] == list(range(1, n_epochs + 1))
    np.testing.assert_array_equal(
        resumed.history[:k, "train_loss"], interrupted.history[:, "train_loss"]
    )
    # The resumed epochs draw other batches than the uninterrupted ones (the
    # seed is reset at each fit), so the results are close, not identical.
    assert resumed.history[-1, "train_loss"] < resumed.history[0, "train_loss"]
    full_acc, resumed_acc = full.score(X, y), resumed.score(X, y)
    assert resumed_acc > 0.8
    assert abs(resumed_acc - full_acc) <= 0.1


def test_load_init_state_without_checkpoint_trains_from_scratch(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path / "empty"))
    net = LongTailNetClassifier(
        MLP, **NET_PARAMS, callbacks=[checkpoint, LoadInitState(checkpoint)]
    ).fit(X, y)
    plain = LongTailNetClassifier(MLP, **NET_PARAMS).fit(X, y)
    assert len(net.history) == NET_PARAMS["max_epochs"]
    np.testing.assert_array_equal(net.predict_proba(X), plain.predict_proba(X))
