"""Heads on dask arrays, fitted on a 2-worker LocalCluster, match the numpy fit.

The cluster is threaded (``processes=False``), so the tests can record from
inside the chunk tasks what the workers see. A cluster that cannot start is a
failure, never a skip: ``dask[distributed]`` is in the ``test`` extra.
"""

import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster

from ltsk.heads import (
    HEADS,
    CRTHead,
    DisAlignHead,
    LogitAdjustedHead,
    LWSHead,
    MARCHead,
    NCMHead,
    TauNormHead,
    _solver,
)

CHUNK_ROWS = 70


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _data(n=300, d=5, n_classes=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    prior = np.array([0.55, 0.25, 0.12, 0.08])[:n_classes]
    y = rng.choice(n_classes, n, p=prior / prior.sum())
    F = rng.normal(size=(n, d)) + 2.0 * np.eye(n_classes, d)[y]
    return F.astype(dtype), y


def _fitted_attributes(head):
    names = ["coef_", "intercept_", "centroids_", "mean_", "scales_", "omega_"]
    names += ["beta_", "logit_scale_", "logit_bias_", "confidence_coef_"]
    return {name: getattr(head, name) for name in names if hasattr(head, name)}


HEAD_CASES = [
    CRTHead(),
    CRTHead(q=0.5, gamma=1.0),
    LWSHead(),
    LWSHead(smooth_head=0.3, smooth_tail=0.0),
    NCMHead(),
    NCMHead(metric="cosine", normalize=False),
    TauNormHead(tau=0.7),
    LogitAdjustedHead(tau=1.0),
    MARCHead(),
    DisAlignHead(),
]


@pytest.mark.parametrize("head", HEAD_CASES, ids=repr)
def test_dask_fit_matches_numpy_fit(client, head):
    F, y = _data()
    # Row chunks of 70 (the last one shorter) and two column chunks.
    F_dask = da.from_array(F, chunks=(CHUNK_ROWS, 3))
    expected = head.__class__(**head.get_params()).fit(F, y)
    fitted = head.__class__(**head.get_params()).fit(F_dask, y)
    for name, value in _fitted_attributes(expected).items():
        np.testing.assert_allclose(
            getattr(fitted, name), value, rtol=1e-6, atol=1e-8, err_msg=name
        )
    np.testing.assert_array_equal(fitted.classes_, expected.classes_)
    np.testing.assert_array_equal(fitted.class_counts_, expected.class_counts_)
    assert fitted.n_features_in_ == F.shape[1]

    proba = fitted.predict_proba(F_dask)
    assert isinstance(proba, da.Array)
    assert proba.chunks[0] == F_dask.chunks[0]
    np.testing.assert_allclose(
        proba.compute(), expected.predict_proba(F), rtol=1e-6, atol=1e-9
    )
    predicted = fitted.predict(F_dask)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), expected.predict(F))


def test_dask_fit_weights_float32_dask_labels_and_absent_class(client):
    F, y = _data(dtype=np.float32)
    weights = np.random.default_rng(1).integers(0, 3, size=y.shape[0]).astype(float)
    classes = np.arange(5)  # class 4 has no sample
    expected = CRTHead().fit(F, y, classes=classes, sample_weight=weights)
    fitted = CRTHead().fit(
        da.from_array(F, chunks=(CHUNK_ROWS, -1)),
        da.from_array(y, chunks=CHUNK_ROWS),
        classes=classes,
        sample_weight=da.from_array(weights, chunks=CHUNK_ROWS),
    )
    assert fitted.coef_.dtype == np.float32
    np.testing.assert_allclose(fitted.coef_, expected.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(fitted.intercept_[4], -np.inf)
    np.testing.assert_array_equal(fitted.class_counts_, expected.class_counts_)


def test_dask_joint_classifier_given(client):
    F, y = _data()
    rng = np.random.default_rng(2)
    coef, intercept = rng.normal(size=(4, 5)), rng.normal(size=4)
    F_dask = da.from_array(F, chunks=(CHUNK_ROWS, -1))
    expected = LWSHead().fit(F, y, coef=coef, intercept=intercept)
    fitted = LWSHead().fit(F_dask, y, coef=coef, intercept=intercept)
    np.testing.assert_allclose(fitted.scales_, expected.scales_, rtol=1e-6)


def test_dask_integer_features_are_cast_to_float64(client):
    F, y = _data()
    F_int = np.round(F * 10).astype(np.int64)
    fitted = NCMHead().fit(da.from_array(F_int, chunks=(CHUNK_ROWS, -1)), y)
    expected = NCMHead().fit(F_int, y)
    assert fitted.centroids_.dtype == np.float64
    np.testing.assert_allclose(fitted.centroids_, expected.centroids_, rtol=1e-12)


# Filled from inside the chunk tasks. The recorders are module-level functions:
# distributed serialises tasks even on a threaded cluster, and a module-level
# function travels by reference, so it appends to these very lists.
_PRODUCED = []
_SEEN_ROWS = []
_F_PIECES = _data(n=280)[0]


def _piece(i):
    _PRODUCED.append(i)
    return _F_PIECES[i * CHUNK_ROWS : (i + 1) * CHUNK_ROWS]


def _recording_chunk_multinomial(F_chunk, *args):
    _SEEN_ROWS.append(F_chunk.shape[0])
    return _CHUNK_MULTINOMIAL(F_chunk, *args)


_CHUNK_MULTINOMIAL = _solver._chunk_multinomial


def test_objective_is_evaluated_chunk_by_chunk(client, monkeypatch):
    """The solver's sums run per chunk, and the client never computes ``F``.

    ``F`` is built from delayed pieces that count how often they are
    produced; computing ``F`` (or converting it to numpy) on the client would
    raise.
    """
    n_chunks = 4
    y = _data(n=280)[1]
    F = da.concatenate(
        [
            da.from_delayed(
                dask.delayed(_piece)(i), (CHUNK_ROWS, 5), dtype=_F_PIECES.dtype
            )
            for i in range(n_chunks)
        ]
    )

    def refuse(*args, **kwargs):
        raise AssertionError("F was computed on the client")

    _PRODUCED.clear()
    _SEEN_ROWS.clear()
    monkeypatch.setattr(_solver, "_chunk_multinomial", _recording_chunk_multinomial)
    monkeypatch.setattr(da.Array, "__array__", refuse)
    monkeypatch.setattr(da.Array, "compute", refuse)
    head = CRTHead().fit(F, y)
    monkeypatch.undo()

    assert _SEEN_ROWS, "the objective did not go through the chunk tasks"
    assert set(_SEEN_ROWS) == {CHUNK_ROWS}
    n_evaluations = len(_SEEN_ROWS) // n_chunks
    assert len(_SEEN_ROWS) == n_evaluations * n_chunks
    # Each evaluation, plus the mean and the column scales, plus the mean and
    # the variance of alpha="scale", reads every piece once (nothing was
    # persisted).
    expected_pieces = sorted(list(range(n_chunks)) * (n_evaluations + 4))
    assert sorted(_PRODUCED) == expected_pieces
    np.testing.assert_allclose(
        head.coef_, CRTHead().fit(_F_PIECES, y).coef_, rtol=1e-6, atol=1e-8
    )


def test_binary_decision_function_and_predict_of_numpy_fit(client):
    F, y = _data(n_classes=2)
    head = CRTHead().fit(F, y)
    F_dask = da.from_array(F, chunks=(CHUNK_ROWS, -1))
    scores = head.decision_function(F_dask)
    assert scores.shape == (F.shape[0],)
    np.testing.assert_allclose(scores.compute(), head.decision_function(F))
    log_proba = head.predict_log_proba(F_dask)
    np.testing.assert_allclose(log_proba.compute(), head.predict_log_proba(F))


def test_nan_in_one_chunk_is_reported(client):
    F, y = _data()
    F[200, 1] = np.nan
    F_dask = da.from_array(F, chunks=(CHUNK_ROWS, -1))
    for head in (CRTHead(), NCMHead()):
        with pytest.raises(ValueError, match="Input F contains NaN"):
            head.fit(F_dask, y)


def test_every_registered_head_fits_block_wise():
    assert [name for name, cls in HEADS.items() if not cls._dask_fit] == []


def test_a_head_without_block_wise_fit_refuses_dask(monkeypatch):
    """A head (say a third party's) that does not declare ``_dask_fit``."""
    monkeypatch.setattr(TauNormHead, "_dask_fit", False)
    F, y = _data()
    with pytest.raises(TypeError, match=r"TauNormHead cannot fit.*F\.compute\(\)"):
        TauNormHead().fit(da.from_array(F, chunks=(CHUNK_ROWS, -1)), y)


@pytest.mark.parametrize(
    "head", [CRTHead(max_norm=1.0), CRTHead(smooth_head=0.2)], ids=repr
)
def test_constrained_crt_refuses_dask(head):
    F, y = _data()
    with pytest.raises(TypeError, match=r"max_norm.*F\.compute\(\)"):
        head.fit(da.from_array(F, chunks=(CHUNK_ROWS, -1)), y)


def test_bad_dask_shapes():
    F, y = _data()
    with pytest.raises(ValueError, match="Expected a 2D array"):
        CRTHead().fit(da.from_array(F[:, 0], chunks=CHUNK_ROWS), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CRTHead().fit(da.from_array(F, chunks=(CHUNK_ROWS, -1)), y[:-1])
    unknown = da.from_array(F, chunks=(CHUNK_ROWS, -1))
    unknown = unknown[unknown[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        CRTHead().fit(unknown, y)
    with pytest.raises(ValueError, match="real numbers"):
        CRTHead().fit(da.from_array(F.astype(complex), chunks=(CHUNK_ROWS, -1)), y)
    head = CRTHead().fit(F, y)
    with pytest.raises(ValueError, match="expecting 5 features"):
        head.predict(da.from_array(F[:, :3], chunks=(CHUNK_ROWS, -1)))


def test_importing_ltsk_does_not_import_dask():
    code = "import sys, ltsk, ltsk.heads; print('dask' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_dask_fit_without_distributed_uses_the_local_scheduler(monkeypatch):
    """Without a ``distributed`` client the labels go into the graph as is."""
    from ltsk.heads import _dask

    monkeypatch.setattr(_dask, "_distributed_client", lambda: None)
    F, y = _data()
    F_dask = da.from_array(F, chunks=(CHUNK_ROWS, -1))
    with dask.config.set(scheduler="threads"):
        fitted = LWSHead().fit(F_dask, y)
    expected = LWSHead().fit(F, y)
    np.testing.assert_allclose(fitted.coef_, expected.coef_, rtol=1e-6, atol=1e-8)
