import numpy as np
import pytest
from sklearn.metrics import recall_score

from ltsk.heads import CRTHead


@pytest.fixture
def tail_heavy():
    """``make(rng, counts, n_features)``: features shifted towards their class.

    Class ``c`` has ``counts[c]`` samples, standard normal plus 1.5 along
    feature ``c``: separable enough that a re-balanced head gains on the tail.
    """

    def make(rng, counts=(300, 60, 12), n_features=3):
        y = np.repeat(np.arange(len(counts)), counts)
        F = rng.normal(size=(y.size, n_features)) + 1.5 * np.eye(n_features)[y]
        return F, y

    return make


@pytest.fixture
def check_lifts_tail_recall(rng, tail_heavy):
    """``check(head)``: a head fitted on a joint classifier lifts the tail recall.

    The head is fitted on the ``tail_heavy`` features with the unweighted
    :class:`~ltsk.heads.CRTHead`'s weights as its ``coef``/``intercept``; on
    balanced test data its recall of the rarest class must beat the joint
    classifier's by more than 0.1.
    """

    def check(head):
        F, y = tail_heavy(rng)
        F_test, y_test = tail_heavy(np.random.default_rng(1), counts=(300, 300, 300))
        joint = CRTHead(q=1.0).fit(F, y)
        head.fit(F, y, coef=joint.coef_, intercept=joint.intercept_)
        joint_recall = recall_score(y_test, joint.predict(F_test), average=None)
        recall = recall_score(y_test, head.predict(F_test), average=None)
        assert recall[2] > joint_recall[2] + 0.1

    return check
