"""Heads on a torch device: ``device="cpu"`` must give the numpy path's results.

No GPU here: the torch path runs on the CPU, which exercises the same code
(tensors created on ``device``, features moved there block by block or taken
as a tensor already there).
"""

import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.utils._param_validation import InvalidParameterError

from ltsk import DecoupledClassifier
from ltsk.heads import HEADS, CRTHead, DisAlignHead, LWSHead, MARCHead, NCMHead
from ltsk.heads._torch import device_rows
from ltsk.nets import TorchExtractor

ATOL = 1e-5


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [60, 25, 10, 5])
    F = rng.normal(size=(100, 5)) + 2.0 * np.eye(5)[y]
    return F, y


def _fitted_arrays(head):
    return {
        name: value
        for name, value in vars(head).items()
        if name.endswith("_") and not name.startswith("_")
    }


@pytest.mark.parametrize("name", list(HEADS))
@pytest.mark.parametrize("as_tensor", [False, True])
def test_cpu_device_equals_numpy(name, as_tensor, data):
    F, y = data
    reference = HEADS[name]().fit(F, y)
    F_in = torch.as_tensor(F) if as_tensor else F
    head = HEADS[name](device="cpu").fit(F_in, y)
    for attr, value in _fitted_arrays(head).items():
        # Fitted attributes stay numpy (pickling, scikit-learn checks).
        assert not torch.is_tensor(value), attr
    if hasattr(reference, "coef_"):
        np.testing.assert_allclose(head.coef_, reference.coef_, rtol=1e-5, atol=ATOL)
    proba = head.predict_proba(F_in)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, reference.predict_proba(F), atol=ATOL)
    np.testing.assert_allclose(
        head.predict_log_proba(F_in), reference.predict_log_proba(F), atol=1e-3
    )
    np.testing.assert_allclose(
        head.decision_function(F_in),
        reference.decision_function(F),
        rtol=1e-4,
        atol=1e-3,
    )
    np.testing.assert_array_equal(head.predict(F_in), reference.predict(F))


@pytest.mark.parametrize(
    "params",
    [
        {"q": 0.5, "gamma": 2.0},
        {"gamma": 0.5},
        {"alpha": 1e-2, "max_norm": 1.0},
        {"smooth_head": 0.3, "smooth_tail": 0.1},
        {"max_norm": 1.0, "smooth_head": 0.3, "smooth_tail": 0.1},
    ],
)
def test_crt_options_on_device(params, data):
    F, y = data
    reference = CRTHead(**params).fit(F, y)
    head = CRTHead(device=torch.device("cpu"), **params).fit(F, y)
    np.testing.assert_allclose(head.coef_, reference.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(head.intercept_, reference.intercept_, atol=1e-6)
    assert head.n_iter_ == reference.n_iter_
    if params.get("max_norm"):
        assert np.linalg.norm(head.coef_, axis=1).max() <= params["max_norm"]


@pytest.mark.parametrize(
    ("Head", "params"),
    [
        (LWSHead, {"smooth_head": 0.3, "smooth_tail": 0.1}),
        (LWSHead, {"q": 1.0}),
        (NCMHead, {"metric": "cosine"}),
        (NCMHead, {"metric": "dot"}),
        (NCMHead, {"normalize": False}),
    ],
)
def test_other_options_on_device(Head, params, data):
    F, y = data
    reference = Head(**params).fit(F, y)
    head = Head(device="cpu", **params).fit(F, y)
    np.testing.assert_allclose(
        head.decision_function(F), reference.decision_function(F), atol=1e-8
    )


def test_sample_weight_classes_and_sparse_on_device(data):
    F, y = data
    weights = np.linspace(0.5, 2.0, y.size)
    S = sparse.csr_matrix(np.where(F > 1.0, F, 0.0))
    for X in (F, S):
        kwargs = {"sample_weight": weights, "classes": [0, 1, 2, 3, 4]}
        reference = CRTHead().fit(X, y, **kwargs)
        head = CRTHead(device="cpu").fit(X, y, **kwargs)
        np.testing.assert_allclose(head.coef_, reference.coef_, atol=1e-8)
        proba = head.predict_proba(X)
        np.testing.assert_allclose(proba, reference.predict_proba(X), atol=ATOL)
        # The class absent from y has probability 0 and score -inf.
        assert np.all(proba[:, 4] == 0.0)
        assert np.all(head.decision_function(X)[:, 4] == -np.inf)


@pytest.mark.parametrize("Head", [DisAlignHead, MARCHead])
def test_calibration_heads_on_device_weights_sparse_float32(Head, data):
    # Host: numpy objective, analytic gradients; device: torch autograd.
    F, y = data
    W = np.random.default_rng(1).normal(size=(5, F.shape[1]))
    kwargs = {
        "sample_weight": np.linspace(0.5, 2.0, y.size),
        "classes": [0, 1, 2, 3, 4],
        "coef": W,
        "intercept": np.linspace(-1.0, 1.0, 5),
    }
    S = sparse.csr_matrix(np.where(F > 1.0, F, 0.0))
    for X in (F, S, F.astype(np.float32)):
        reference = Head(tol=1e-9).fit(X, y, **kwargs)
        head = Head(tol=1e-9, device="cpu").fit(X, y, **kwargs)
        proba = head.predict_proba(X)
        np.testing.assert_allclose(proba, reference.predict_proba(X), atol=1e-6)
        assert np.all(proba[:, 4] == 0.0)


def test_float32_and_two_classes_on_device(data):
    F, y = data
    F32 = F.astype(np.float32)
    head = CRTHead(device="cpu").fit(F32, y)
    assert head.coef_.dtype == np.float32
    assert head.decision_function(torch.as_tensor(F32)).dtype == np.float32
    # The numpy path computes in float32, the torch path in float64.
    np.testing.assert_allclose(
        head.predict_proba(F32), CRTHead().fit(F32, y).predict_proba(F32), atol=1e-3
    )
    binary = (y > 0).astype(int)
    reference = CRTHead().fit(F, binary).decision_function(F)
    scores = CRTHead(device="cpu").fit(F, binary).decision_function(F)
    assert scores.shape == (F.shape[0],)
    np.testing.assert_allclose(scores, reference, atol=1e-6)


def test_device_rows_takes_a_tensor_without_a_copy(data):
    F, _ = data
    T = torch.as_tensor(F)
    block = device_rows(T, slice(10, 20), torch.device("cpu"))
    # A float64 tensor already on the device is a view, not a host copy.
    assert block.data_ptr() == T[10:20].data_ptr()
    np.testing.assert_array_equal(block.numpy(), F[10:20])


@pytest.mark.parametrize(
    ("device", "match"),
    [
        ("gpu", "device='gpu' is not a torch device"),
        ("cuda:99", "device='cuda:99' is not available"),
        ("meta", "device='meta' is not supported"),
        ("mps", "device='mps' is not supported.*float64"),
    ],
)
def test_bad_device_names_device(device, match, data):
    F, y = data
    with pytest.raises(ValueError, match=match):
        CRTHead(device=device).fit(F, y)


def test_bad_device_type_and_tensor_input(data):
    F, y = data
    with pytest.raises(InvalidParameterError, match="'device' parameter"):
        CRTHead(device=3).fit(F, y)
    head = NCMHead(device="cpu")
    bad = torch.as_tensor(F).clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinity"):
        head.fit(bad, y)
    with pytest.raises(ValueError, match="2-D feature tensor"):
        head.fit(torch.as_tensor(F[:, 0]), y)
    head.fit(torch.as_tensor(F), y)
    with pytest.raises(ValueError, match=r"F has 4 features.*expecting 5"):
        head.predict(torch.as_tensor(F[:, :4]))


def test_default_device_never_imports_torch():
    code = """
import sys
from typing import ClassVar
import numpy as np
from ltsk.heads import (
    CRTHead, DisAlignHead, LWSHead, LogitAdjustedHead, MARCHead, NCMHead,
    TauNormHead,
)
assert "torch" not in sys.modules
rng = np.random.default_rng(0)
y = np.repeat([0, 1, 2], [30, 10, 5])
F = rng.normal(size=(45, 3)) + np.eye(3)[y]
for Head in (
    CRTHead, DisAlignHead, LWSHead, LogitAdjustedHead, MARCHead, NCMHead,
    TauNormHead,
):
    head = Head().fit(F, y)
    head.predict_proba(F)
    head.predict(F)
assert "torch" not in sys.modules, "device=None imported torch"
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


class _SpyHead(CRTHead):
    """Records the type of the features the head receives."""

    seen: ClassVar[list] = []

    def fit(self, F, y, **kwargs):
        self.seen.append(type(F))
        return super().fit(F, y, **kwargs)

    def predict_proba(self, F):
        self.seen.append(type(F))
        return super().predict_proba(F)


def test_decoupled_hands_device_tensor_to_head(data):
    F, y = data
    X = F.astype(np.float32)
    torch.manual_seed(0)
    extractor = TorchExtractor(torch.nn.Sequential(torch.nn.Linear(5, 4)))
    _SpyHead.seen = []
    on_device = DecoupledClassifier(extractor, _SpyHead(device="cpu")).fit(X, y)
    proba = on_device.predict_proba(X)
    assert _SpyHead.seen == [torch.Tensor, torch.Tensor]
    reference = DecoupledClassifier(extractor, CRTHead()).fit(X, y)
    np.testing.assert_allclose(proba, reference.predict_proba(X), atol=1e-4)
    # Without a device the head gets the host array, as before.
    _SpyHead.seen = []
    DecoupledClassifier(extractor, _SpyHead()).fit(X, y).predict_proba(X)
    assert _SpyHead.seen == [np.ndarray, np.ndarray]


def test_decoupled_net_extractor_on_device(data):
    from ltsk import LongTailNetClassifier
    from ltsk.nets import MLP

    F, y = data
    X = F.astype(np.float32)
    net = LongTailNetClassifier(
        MLP, module__hidden_units=(4,), max_epochs=1, batch_size=32, random_state=0
    ).fit(X, y)
    _SpyHead.seen = []
    clf = DecoupledClassifier(net, _SpyHead(device="cpu")).fit(X, y)
    proba = clf.predict_proba(X)
    assert _SpyHead.seen == [torch.Tensor, torch.Tensor]
    reference = DecoupledClassifier(net, CRTHead()).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba, reference, atol=1e-4)
