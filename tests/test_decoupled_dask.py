"""DecoupledClassifier(None, head) on a dask feature matrix: passed through lazily.

Run on dask's local threaded scheduler (the heads' cluster behaviour is tested
in tests/heads/test_dask_heads.py); ``dask`` is in the ``test`` extra.
"""

import dask
import dask.array as da
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA

from ltsk import DecoupledClassifier
from ltsk.heads import CRTHead, LogitAdjustedHead, TauNormHead


def _data(n=240, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    F = rng.normal(size=(n, d)) + 2.5 * np.eye(3, d)[y]
    return F, y


class _Counting(dask.callbacks.Callback):
    """Counts the graph computations started while it is active."""

    def __init__(self):
        super().__init__()
        self.computations = 0

    def _start(self, dsk):
        self.computations += 1


class _Recorder(ClassifierMixin, BaseEstimator):
    """A head that records the type of what it is given and never computes it."""

    def fit(self, F, y):
        self.fit_type_ = type(F)
        self.classes_ = np.unique(y)
        return self

    def predict(self, F):
        return F[:, 0] > 0


@pytest.mark.parametrize(
    "head", [LogitAdjustedHead(tau=1.0), TauNormHead(tau=0.5), CRTHead()], ids=repr
)
def test_fit_and_predict_on_dask_match_numpy(head):
    F, y = _data()
    F_dask = da.from_array(F, chunks=(70, 6))
    expected = DecoupledClassifier(None, head).fit(F, y)
    clf = DecoupledClassifier(None, head).fit(F_dask, y)
    np.testing.assert_allclose(
        clf.head_.coef_, expected.head_.coef_, rtol=1e-6, atol=1e-8
    )
    assert clf.n_features_in_ == 6
    for method in ("predict", "predict_proba", "decision_function"):
        lazy = getattr(clf, method)(F_dask)
        assert isinstance(lazy, da.Array), method
        assert lazy.chunks[0] == F_dask.chunks[0]
        computed = lazy.compute()
        reference = getattr(expected, method)(F)
        if method == "predict":
            np.testing.assert_array_equal(computed, reference)
        else:
            np.testing.assert_allclose(computed, reference, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        clf.predict_log_proba(F_dask).compute(),
        np.log(expected.predict_proba(F)),
        rtol=1e-6,
    )


def test_the_dask_array_reaches_the_head_uncomputed():
    F, y = _data()
    F_dask = da.from_array(F, chunks=(70, 6))
    with _Counting() as counter:
        clf = DecoupledClassifier(None, _Recorder()).fit(F_dask, y)
        y_pred = clf.predict(F_dask)
    assert counter.computations == 0
    assert clf.head_.fit_type_ is da.Array
    assert isinstance(y_pred, da.Array)
    np.testing.assert_array_equal(y_pred.compute(), F[:, 0] > 0)


def test_dask_input_errors():
    F, y = _data()
    F_dask = da.from_array(F, chunks=(70, 6))
    # a head whose solver needs all rows keeps its own TypeError
    with pytest.raises(TypeError, match=r"CRTHead: max_norm.*F\.compute\(\)"):
        DecoupledClassifier(None, CRTHead(max_norm=1.0)).fit(F_dask, y)
    with pytest.raises(ValueError, match="2D array, got a 1D dask array"):
        DecoupledClassifier(None, "crt").fit(F_dask[:, 0], y)
    unknown = F_dask[F_dask[:, 0] > -np.inf]  # a boolean mask: unknown row counts
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        DecoupledClassifier(None, "crt").fit(unknown, y)
    clf = DecoupledClassifier(None, "crt").fit(F_dask, y)
    with pytest.raises(ValueError, match="6 features"):
        clf.predict(F_dask[:, :4])


def test_an_extractor_on_dask_input_names_the_remedy():
    F, y = _data()
    F_dask = da.from_array(F, chunks=(70, 6))
    pca = PCA(n_components=3, random_state=0).fit(F)
    with pytest.raises(TypeError, match=r"extractor=None.*PCA.*map_blocks") as info:
        DecoupledClassifier(pca, "crt").fit(F_dask, y)
    assert "X.compute()" in str(info.value)
    # the remedy the message gives works, and fits the same head
    features = F_dask.rechunk({1: -1}).map_blocks(
        pca.transform, chunks=(F_dask.chunks[0], (3,)), dtype=np.float64
    )
    lazy = DecoupledClassifier(None, LogitAdjustedHead(tau=1.0)).fit(features, y)
    eager = DecoupledClassifier(pca, LogitAdjustedHead(tau=1.0)).fit(F, y)
    np.testing.assert_allclose(
        lazy.head_.coef_, eager.head_.coef_, rtol=1e-6, atol=1e-8
    )
    np.testing.assert_array_equal(lazy.predict(features).compute(), eager.predict(F))
