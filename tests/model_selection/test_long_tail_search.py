"""Grid searches over ltsk estimators on data with 1- and 2-sample classes."""

import numpy as np
import pytest
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV

from ltsk import CRTHead, DecoupledClassifier, LongTailNetClassifier, NCMHead
from ltsk.metrics import make_shot_scorer
from ltsk.model_selection import LongTailStratifiedKFold
from ltsk.nets import MLP

COUNTS = [40, 20, 8, 4, 2, 1]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), COUNTS)
    X = rng.normal(size=(len(y), 6)).astype(np.float32)
    X[np.arange(len(y)), np.searchsorted(np.unique(y), y)] += 2.5
    return X, y


def _scorers(y):
    labels, counts = np.unique(y, return_counts=True)
    train_counts = dict(zip(labels, counts.tolist(), strict=True))
    return {
        "few": make_shot_scorer("few", train_counts=train_counts, many=10, few=3),
        "all": make_shot_scorer("all", train_counts=train_counts, many=10, few=3),
        "log_loss": make_scorer(
            log_loss,
            response_method="predict_proba",
            greater_is_better=False,
            labels=labels,
        ),
    }


@pytest.mark.parametrize(
    "estimator, grid",
    [
        (DecoupledClassifier(None, CRTHead()), {"head__q": [0.0, 0.5, 1.0]}),
        (
            DecoupledClassifier(None, NCMHead()),
            {"head__metric": ["euclidean", "cosine"]},
        ),
        (
            LongTailNetClassifier(
                MLP, module__hidden_units=(16,), max_epochs=3, lr=0.05, random_state=0
            ),
            {"q": [0.0, 1.0]},
        ),
    ],
    ids=["crt", "ncm", "net"],
)
# The few-shot score is NaN, by design, in folds without a few-shot sample, and
# GridSearchCV warns about it; the test checks exactly where it is NaN.
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_every_candidate_and_fold_scores_finite(data, estimator, grid):
    X, y = data
    cv = LongTailStratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        estimator,
        grid,
        cv=cv,
        scoring=_scorers(y),
        refit="all",
        error_score="raise",
    ).fit(X, y)
    few_classes = {"e", "f"}  # fewer than 3 training samples
    for fold, (_, test) in enumerate(cv.split(X, y)):
        for name in ("all", "log_loss"):
            scores = search.cv_results_[f"split{fold}_test_{name}"]
            assert np.all(np.isfinite(scores)), (name, fold, scores)
        # The few-shot accuracy is defined where the test fold holds a few-shot
        # sample (1-sample classes never enter a test fold); NaN elsewhere.
        few_scores = search.cv_results_[f"split{fold}_test_few"]
        if few_classes & set(y[test]):
            assert np.all(np.isfinite(few_scores)), (fold, few_scores)
        else:
            assert np.all(np.isnan(few_scores))
    assert search.best_estimator_.predict_proba(X).shape == (len(y), len(COUNTS))
