"""Bad data, applied to every head of the registry ``ltsk.heads.HEADS``.

The heads are those of ``ltsk.utils._instances`` (each registered head with
its defaults and the extra settings listed there), so a head added to the
registry is checked here with no entry of its own. Each case must end in a
``ValueError`` (or ``NotFittedError``) that names the problem, never an
``IndexError``, a ``KeyError`` or a NaN result. Errors of one head's
parameters live in that head's test file.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ltsk.utils._instances import head_instances

HEADS = head_instances()

_RNG = np.random.default_rng(0)
X3 = _RNG.normal(size=(30, 4))
Y3 = np.repeat([0, 1, 2], [15, 10, 5])


def _with(X, value):
    X = X.copy()
    X[3, 1] = value
    return X


HEAD_DATA_CASES = [
    pytest.param(_with(X3, np.nan), Y3, r"(?i)NaN", id="nan-in-X"),
    pytest.param(_with(X3, np.inf), Y3, r"(?i)infinity", id="inf-in-X"),
    pytest.param(np.empty((0, 4)), np.empty(0), r"0 sample", id="empty"),
    pytest.param(X3[:, 0], Y3, r"Expected 2D array", id="1d-X"),
    pytest.param(X3, Y3[:-1], r"inconsistent numbers of samples", id="len-mismatch"),
    pytest.param(X3, np.zeros(30), r"only one class", id="single-class"),
    pytest.param(X3, _RNG.normal(size=30), r"(?i)continuous", id="continuous-y"),
]


@pytest.mark.parametrize("head", HEADS, ids=repr)
@pytest.mark.parametrize(("X", "y", "match"), HEAD_DATA_CASES)
def test_head_bad_data(head, X, y, match):
    with pytest.raises(ValueError, match=match):
        clone(head).fit(X, y)


@pytest.mark.parametrize("head", HEADS, ids=repr)
def test_head_predict_unfitted_and_feature_mismatch(head):
    head = clone(head)
    with pytest.raises(NotFittedError, match=type(head).__name__):
        head.predict(X3)
    head.fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        head.predict(X3[:, :3])
    with pytest.raises(ValueError, match=r"(?i)NaN"):
        head.predict_proba(_with(X3, np.nan))
