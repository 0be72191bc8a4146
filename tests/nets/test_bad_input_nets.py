"""Bad data given to the skorch networks: LongTailNetClassifier and BBNClassifier.

Each case must end in a ``ValueError`` (or ``NotFittedError``) that names the
problem, never a torch ``RuntimeError`` or a NaN result. Bad parameters live
next to each network's own tests.
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from ltsk.nets import MLP, BBNClassifier, LongTailNetClassifier

_RNG = np.random.default_rng(0)
X3 = _RNG.normal(size=(30, 4)).astype(np.float32)
Y3 = np.repeat([0, 1, 2], [15, 10, 5])
X3_NAN = X3.copy()
X3_NAN[3, 1] = np.nan


def _net(**kwargs):
    kwargs.setdefault("max_epochs", 1)
    return LongTailNetClassifier(
        MLP, module__hidden_units=(4,), batch_size=16, random_state=0, **kwargs
    )


def _bbn(**kwargs):
    kwargs.setdefault("max_epochs", 1)
    return BBNClassifier(
        MLP, module__hidden_units=(4,), batch_size=16, random_state=0, **kwargs
    )


@pytest.mark.parametrize(
    ("make", "params", "X", "y", "match"),
    [
        pytest.param(_net, {}, X3[:0], Y3[:0], r"0 sample", id="net-empty"),
        pytest.param(_net, {"lr": -1.0}, X3, Y3, r"'lr' parameter", id="net-lr"),
        pytest.param(_bbn, {}, X3_NAN, Y3, r"(?i)NaN", id="bbn-nan-in-X"),
        pytest.param(_bbn, {}, X3, np.zeros(30), r"(?i)class", id="bbn-one-class"),
        pytest.param(
            _bbn, {}, X3, Y3[:-1], r"inconsistent numbers of samples", id="bbn-len"
        ),
        pytest.param(_bbn, {}, X3[:, 0], Y3, r"Expected 2D array", id="bbn-1d-X"),
        pytest.param(_bbn, {}, X3[:0], Y3[:0], r"0 sample", id="bbn-empty"),
    ],
)
def test_bad_fit(make, params, X, y, match):
    with pytest.raises(ValueError, match=match):
        make(**params).fit(X, y)


def test_bbn_names_every_parent_only_parameter():
    with pytest.raises(TypeError, match=r"does not take mixup, remix_tau"):
        _bbn(mixup="remix", remix_tau=0.2)


def test_net_predict_proba_rejects_nan():
    net = _net().fit(X3, Y3)
    with pytest.raises(ValueError, match=r"(?i)NaN"):
        net.predict_proba(X3_NAN)


def test_bbn_predict_unfitted_feature_mismatch_and_nan():
    net = _bbn()
    with pytest.raises(NotFittedError):
        net.predict(X3)
    net.fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        net.predict(X3[:, :3])
    with pytest.raises(ValueError, match=r"(?i)NaN"):
        net.predict_proba(X3_NAN)
