"""End to end on digits-LT: a joint net, then every head on its frozen features."""

import pickle

import numpy as np
import pytest
import torch
from joblib import Memory
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ltsk import (
    CRTHead,
    DecoupledClassifier,
    LogitAdjustedHead,
    LongTailNetClassifier,
    LWSHead,
    NCMHead,
    TauNormHead,
)
from ltsk.datasets import load_digits_lt
from ltsk.losses import LDAMLoss
from ltsk.metrics import shot_accuracy
from ltsk.nets import MLP

NAMES = np.array(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = load_digits_lt(random_state=0)
    X_train = (X_train / 16).astype(np.float32)
    X_test = (X_test / 16).astype(np.float32)
    return X_train, X_test, NAMES[y_train], NAMES[y_test]


@pytest.fixture(scope="module")
def net(digits):
    X_train, _, y_train, _ = digits
    # batch_norm=True so that "frozen" also covers the BatchNorm statistics.
    return LongTailNetClassifier(
        MLP,
        module__hidden_units=(64, 32),
        module__batch_norm=True,
        lr=0.01,
        max_epochs=25,
        random_state=0,
    ).fit(X_train, y_train)


def _state(net):
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


def _assert_same_state(before, net):
    after = net.module_.state_dict()
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert torch.equal(value, after[name]), name


def test_joint_net_learns_digits(net, digits):
    _, X_test, _, y_test = digits
    assert net.score(X_test, y_test) > 0.8
    assert set(net.predict(X_test)) <= set(NAMES)


@pytest.mark.parametrize(
    "head",
    [CRTHead(), NCMHead(), TauNormHead(), LWSHead(), LogitAdjustedHead()],
    ids=lambda h: type(h).__name__,
)
def test_every_head_on_the_net(net, digits, head):
    X_train, X_test, y_train, y_test = digits
    before = _state(net)
    clf = DecoupledClassifier(net, head).fit(X_train, y_train)
    _assert_same_state(before, net)
    np.testing.assert_array_equal(clf.classes_, net.classes_)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    pred = clf.predict(X_test)
    assert pred.dtype == y_test.dtype and set(pred) <= set(NAMES)
    counts = dict(zip(net.classes_, net.class_counts_, strict=True))
    shots = shot_accuracy(y_test, pred, train_counts=counts, many=60, few=20)
    assert shots["all"] > 0.7


def test_heads_receive_the_joint_classifier(net, digits):
    X_train, X_test, y_train, _ = digits
    # Logit adjustment with tau=0 is the joint classifier itself.
    la = DecoupledClassifier(net, LogitAdjustedHead(tau=0.0)).fit(X_train, y_train)
    np.testing.assert_array_equal(la.predict(X_test), net.predict(X_test))
    np.testing.assert_allclose(
        la.predict_proba(X_test), net.predict_proba(X_test), rtol=1e-4, atol=1e-6
    )
    # LWS starts from the joint weights; tau-norm with tau=0 keeps them.
    tau0 = DecoupledClassifier(net, TauNormHead(tau=0.0)).fit(X_train, y_train)
    np.testing.assert_allclose(tau0.head_.coef_, net.coef_)


def test_grid_search_over_tau_leaves_the_net_bit_identical(net, digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    before = _state(net)
    search = GridSearchCV(
        DecoupledClassifier(net, TauNormHead(), memory=Memory(tmp_path, verbose=0)),
        {"head__tau": np.linspace(0.0, 2.0, 5)},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="balanced_accuracy",
        error_score="raise",
    ).fit(X_train, y_train)
    _assert_same_state(before, net)
    assert search.best_estimator_.extractor is net
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.score(X_test, y_test) > 0.7
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X_test), search.predict(X_test))


def test_rebalanced_heads_lift_the_tail(net, digits):
    X_train, X_test, y_train, y_test = digits
    counts = dict(zip(net.classes_, net.class_counts_, strict=True))
    joint = shot_accuracy(
        y_test, net.predict(X_test), train_counts=counts, many=60, few=20
    )
    crt = DecoupledClassifier(net, CRTHead()).fit(X_train, y_train)
    rebalanced = shot_accuracy(
        y_test, crt.predict(X_test), train_counts=counts, many=60, few=20
    )
    assert rebalanced["few"] >= joint["few"]


def test_ldam_net_as_extractor(digits):
    X_train, X_test, y_train, y_test = digits
    net = LongTailNetClassifier(
        MLP,
        module__hidden_units=(64,),
        criterion=LDAMLoss,
        lr=0.01,
        max_epochs=15,
        random_state=0,
    ).fit(X_train, y_train)
    # The cosine classifier's rows are unit vectors, without bias.
    np.testing.assert_allclose(np.linalg.norm(net.coef_, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(net.intercept_, 0.0)
    features = net.transform(X_test)
    np.testing.assert_array_equal(
        net.classes_[np.argmax(features @ net.coef_.T, axis=1)], net.predict(X_test)
    )
    clf = DecoupledClassifier(net, "tau_norm").fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.6
