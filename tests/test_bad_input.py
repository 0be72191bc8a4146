"""Catalogue of the inputs users get wrong, across every public entry point.

Each case must end in a clear ``ValueError`` / ``TypeError`` /
``NotFittedError`` (``InvalidParameterError`` is a ``ValueError``) whose
message names the offending parameter or file: never an ``IndexError``,
``KeyError``, a torch ``RuntimeError`` or a NaN result.
"""

import gzip
import pickle

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from ltsk import (
    CRTHead,
    DecoupledClassifier,
    LogitAdjustedHead,
    LongTailStratifiedKFold,
    LWSHead,
    NCMHead,
    TauNormHead,
)
from ltsk.datasets import (
    load_cifar10,
    load_idx,
    load_letter,
    long_tailed_counts,
    make_long_tailed,
)
from ltsk.heads import HEADS
from ltsk.metrics import make_shot_scorer, shot_accuracy
from ltsk.sampling import (
    PowerLawSampler,
    class_sampling_probabilities,
    sample_weights,
)

# A tiny 3-class problem used by every estimator case.
_RNG = np.random.default_rng(0)
X3 = _RNG.normal(size=(30, 4))
Y3 = np.repeat([0, 1, 2], [15, 10, 5])

_HEADS = HEADS


def _with_nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[0, 0] = np.inf
    return X


# --------------------------------------------------------------------------- #
# heads: invalid parameters and bad data
# --------------------------------------------------------------------------- #
HEAD_PARAM_CASES = [
    pytest.param(CRTHead(q=1.5), r"'q' parameter", id="crt-q-above-1"),
    pytest.param(CRTHead(q=-0.1), r"'q' parameter", id="crt-q-negative"),
    pytest.param(CRTHead(gamma=-1.0), r"'gamma' parameter", id="crt-gamma-negative"),
    pytest.param(CRTHead(max_iter=0), r"'max_iter' parameter", id="crt-max-iter-0"),
    pytest.param(LWSHead(q=2), r"'q' parameter", id="lws-q-above-1"),
    pytest.param(TauNormHead(tau=-0.5), r"'tau' parameter", id="taunorm-tau-neg"),
    pytest.param(LogitAdjustedHead(tau=-1), r"'tau' parameter", id="la-head-tau-neg"),
    pytest.param(NCMHead(metric="manhattan"), r"'metric' parameter", id="ncm-metric"),
    pytest.param(TauNormHead(tau="1"), r"'tau' parameter", id="taunorm-tau-string"),
]


def test_tau_norm_overflowing_tau_is_an_error_not_nan():
    # Row norms below 1 raised to -tau overflow to inf, and inf scores gave NaN
    # probabilities.
    coef = np.full((3, 4), 0.1)
    head = TauNormHead(tau=1e4)
    with pytest.raises(ValueError, match=r"tau=10000 overflows"):
        head.fit(X3, Y3, coef=coef, intercept=np.zeros(3))
    proba = TauNormHead(tau=2.0).fit(X3, Y3, coef=coef, intercept=np.zeros(3))
    assert np.all(np.isfinite(proba.predict_proba(X3)))


def test_tau_path_bad_head_and_taus():
    from ltsk.heads import tau_path

    with pytest.raises(NotFittedError, match="TauNormHead"):
        tau_path(TauNormHead(), X3, Y3, [0.5])
    head = TauNormHead().fit(X3, Y3)
    with pytest.raises((ValueError, TypeError), match=r"taus"):
        tau_path(head, X3, Y3, [-1.0, 0.5])
    with pytest.raises((ValueError, TypeError), match=r"taus"):
        tau_path(head, X3, Y3, [np.nan])


@pytest.mark.parametrize(("head", "match"), HEAD_PARAM_CASES)
def test_head_invalid_parameter(head, match):
    with pytest.raises(ValueError, match=match):
        head.fit(X3, Y3)


HEAD_DATA_CASES = [
    pytest.param(_with_nan(X3), Y3, r"(?i)NaN", id="nan-in-X"),
    pytest.param(_with_inf(X3), Y3, r"(?i)infinity", id="inf-in-X"),
    pytest.param(np.empty((0, 4)), np.empty(0), r"0 sample", id="empty"),
    pytest.param(X3[:, 0], Y3, r"Expected 2D array", id="1d-X"),
    pytest.param(X3, Y3[:-1], r"inconsistent numbers of samples", id="len-mismatch"),
    pytest.param(X3, np.zeros(30), r"(?i)class", id="single-class"),
    pytest.param(X3, _RNG.normal(size=30), r"(?i)continuous", id="continuous-y"),
]


@pytest.mark.parametrize("name", sorted(_HEADS))
@pytest.mark.parametrize(("X", "y", "match"), HEAD_DATA_CASES)
def test_head_bad_data(name, X, y, match):
    with pytest.raises(ValueError, match=match):
        _HEADS[name]().fit(X, y)


@pytest.mark.parametrize("name", sorted(_HEADS))
def test_head_predict_unfitted_and_feature_mismatch(name):
    head = _HEADS[name]()
    with pytest.raises(NotFittedError, match=type(head).__name__):
        head.predict(X3)
    head.fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        head.predict(X3[:, :3])
    with pytest.raises(ValueError, match=r"(?i)NaN"):
        head.predict_proba(_with_nan(X3))


HEAD_JOINT_CASES = [
    pytest.param(
        dict(coef=np.ones((2, 4)), intercept=np.zeros(3)), r"coef", id="coef-rows"
    ),
    pytest.param(
        dict(coef=np.ones((3, 5)), intercept=np.zeros(3)), r"coef", id="coef-cols"
    ),
    pytest.param(
        dict(coef=np.ones((3, 4)), intercept=np.zeros(2)),
        r"intercept",
        id="intercept-len",
    ),
    pytest.param(
        dict(coef=np.full((3, 4), np.nan), intercept=np.zeros(3)),
        r"coef",
        id="coef-nan",
    ),
]


@pytest.mark.parametrize("name", ["tau_norm", "lws", "logit_adjust"])
@pytest.mark.parametrize(("kwargs", "match"), HEAD_JOINT_CASES)
def test_head_bad_joint_classifier(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _HEADS[name]().fit(X3, Y3, **kwargs)


# --------------------------------------------------------------------------- #
# DecoupledClassifier
# --------------------------------------------------------------------------- #
class _NoTransform:
    def fit(self, X, y=None):
        return self


DECOUPLED_CASES = [
    pytest.param(
        lambda: DecoupledClassifier(head="svm"),
        X3,
        Y3,
        ValueError,
        r"'head'",
        id="unknown-head-name",
    ),
    pytest.param(
        lambda: DecoupledClassifier(_NoTransform()),
        X3,
        Y3,
        ValueError,
        r"'extractor'",
        id="extractor-without-transform",
    ),
    pytest.param(
        lambda: DecoupledClassifier(PCA(2)),
        X3,
        Y3,
        NotFittedError,
        r"extractor \(PCA\) is not fitted",
        id="unfitted-extractor",
    ),
    pytest.param(
        lambda: DecoupledClassifier(None, "ncm"),
        _with_nan(X3),
        Y3,
        ValueError,
        r"(?i)NaN",
        id="nan-in-X",
    ),
    pytest.param(
        lambda: DecoupledClassifier(None, "ncm"),
        X3,
        Y3[:-2],
        ValueError,
        r"inconsistent numbers of samples",
        id="len-mismatch",
    ),
    pytest.param(
        lambda: DecoupledClassifier(None, "ncm"),
        X3,
        None,
        ValueError,
        r"requires y",
        id="y-none",
    ),
    pytest.param(
        lambda: DecoupledClassifier(None, "crt"),
        X3,
        np.zeros(30),
        ValueError,
        r"(?i)class",
        id="single-class",
    ),
    pytest.param(
        lambda: DecoupledClassifier(memory=3),
        X3,
        Y3,
        ValueError,
        r"'memory'",
        id="memory-int",
    ),
]


@pytest.mark.parametrize(("make", "X", "y", "exc", "match"), DECOUPLED_CASES)
def test_decoupled_bad_fit(make, X, y, exc, match):
    with pytest.raises(exc, match=match):
        make().fit(X, y)


@pytest.fixture(scope="module")
def fitted_net():
    pytest.importorskip("torch")
    return _net().fit(X3.astype(np.float32), np.array(["a", "b", "c"])[Y3])


def test_decoupled_labels_unseen_by_extractor(fitted_net):
    y = np.array(["a", "b", "c"])[Y3]
    y[0] = "z"
    with pytest.raises(ValueError, match=r"labels \['z'\].*does not know"):
        DecoupledClassifier(fitted_net, "tau_norm").fit(X3.astype(np.float32), y)


def test_decoupled_net_extractor_feature_mismatch(fitted_net):
    y = np.array(["a", "b", "c"])[Y3]
    clf = DecoupledClassifier(fitted_net, "tau_norm").fit(X3.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        clf.predict(X3[:, :3].astype(np.float32))


def test_decoupled_unfitted_net_extractor():
    pytest.importorskip("torch")
    with pytest.raises(NotFittedError, match=r"extractor.*is not fitted"):
        DecoupledClassifier(_net(), "ncm").fit(X3.astype(np.float32), Y3)


def test_decoupled_predict_unfitted_and_feature_mismatch():
    clf = DecoupledClassifier(None, "ncm")
    with pytest.raises(NotFittedError, match="DecoupledClassifier"):
        clf.predict(X3)
    clf.fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 2 features.*expecting 4"):
        clf.predict(X3[:, :2])
    pca = PCA(3).fit(X3)
    clf = DecoupledClassifier(pca, "tau_norm").fit(X3, Y3)
    with pytest.raises(ValueError, match=r"X has 2 features.*expecting 4"):
        clf.predict(X3[:, :2])


# --------------------------------------------------------------------------- #
# sampling
# --------------------------------------------------------------------------- #
SAMPLING_CASES = [
    pytest.param(
        lambda: class_sampling_probabilities([5, 3], 1.5), r"\bq\b", id="probs-q-1.5"
    ),
    pytest.param(
        lambda: class_sampling_probabilities([5, 3], -0.2), r"\bq\b", id="probs-q-neg"
    ),
    pytest.param(
        lambda: class_sampling_probabilities([5, 3], np.nan), r"\bq\b", id="probs-q-nan"
    ),
    pytest.param(
        lambda: class_sampling_probabilities([5, -1], 0.5),
        r"class_counts",
        id="probs-negative-count",
    ),
    pytest.param(
        lambda: class_sampling_probabilities([0, 0], 0.5),
        r"class_counts",
        id="probs-all-zero",
    ),
    pytest.param(
        lambda: class_sampling_probabilities([], 0.5), r"class_counts", id="probs-empty"
    ),
    pytest.param(
        lambda: class_sampling_probabilities([[1, 2]], 0.5),
        r"class_counts",
        id="probs-2d",
    ),
    pytest.param(
        lambda: class_sampling_probabilities([np.inf, 2], 0.5),
        r"class_counts",
        id="probs-inf-count",
    ),
    pytest.param(lambda: sample_weights([0, 1, 1], 2.0), r"\bq\b", id="weights-q-2"),
    pytest.param(lambda: sample_weights([], 0.5), r"\by\b", id="weights-empty-y"),
    pytest.param(
        lambda: PowerLawSampler(q=1.5).fit_resample(X3, Y3),
        r"'q' parameter",
        id="powerlaw-q-1.5",
    ),
    pytest.param(
        lambda: PowerLawSampler().fit_resample(X3, _RNG.normal(size=30)),
        r"(?i)continuous",
        id="powerlaw-continuous-y",
    ),
]


@pytest.mark.parametrize(("call", "match"), SAMPLING_CASES)
def test_sampling_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --------------------------------------------------------------------------- #
# losses (torch)
# --------------------------------------------------------------------------- #
def _loss_cases():
    def build(name, *args, **kwargs):
        def make():
            from ltsk import losses

            return getattr(losses, name)(*args, **kwargs)

        return make

    return [
        pytest.param(build("FocalLoss", gamma=-1.0), r"gamma", id="focal-gamma-neg"),
        pytest.param(
            build("FocalLoss", reduction="avg"), r"reduction", id="focal-reduction"
        ),
        pytest.param(
            build("ClassBalancedLoss", [5, 3], beta=1.0), r"beta", id="cb-beta-1"
        ),
        pytest.param(
            build("ClassBalancedLoss", [5, 3], beta=-0.1), r"beta", id="cb-beta-neg"
        ),
        pytest.param(
            build("ClassBalancedLoss", [5, -3]), r"class_counts", id="cb-neg-count"
        ),
        pytest.param(
            build("LogitAdjustedLoss", [5, 3], tau=-1.0), r"tau", id="la-tau-neg"
        ),
        pytest.param(
            build("LogitAdjustedLoss", [np.nan, 3]), r"class_counts", id="la-nan-count"
        ),
        pytest.param(
            build("BalancedSoftmaxLoss", []), r"class_counts", id="bs-empty-counts"
        ),
        pytest.param(build("LDAMLoss", [5, 3], scale=0.0), r"scale", id="ldam-scale-0"),
        pytest.param(build("LDAMLoss", [[5, 3]]), r"class_counts", id="ldam-2d-counts"),
        pytest.param(
            build("class_weights", [5, 3], "log"), r"scheme", id="weights-scheme"
        ),
        pytest.param(
            build("class_weights", [5, 3], "effective_number", beta=1.5),
            r"beta",
            id="weights-beta-1.5",
        ),
        pytest.param(
            build("class_weights", [0, 0]), r"class_counts", id="weights-all-zero"
        ),
        pytest.param(
            build("ClassBalancedLoss", [5, 3], scheme="log"), r"scheme", id="cb-scheme"
        ),
    ]


@pytest.mark.parametrize(("make", "match"), _loss_cases())
def test_loss_bad_construction(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_loss_bad_forward_inputs():
    torch = pytest.importorskip("torch")
    from ltsk.losses import ClassBalancedLoss, FocalLoss

    loss = ClassBalancedLoss([5, 3, 2])
    logits = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"class_counts"):
        loss(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"target"):
        loss(logits, torch.tensor([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"target"):
        loss(logits, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"target"):
        FocalLoss()(logits, torch.tensor([0, -1, 0, 1]))


# --------------------------------------------------------------------------- #
# nets (skorch)
# --------------------------------------------------------------------------- #
def _net(**kwargs):
    from ltsk import LongTailNetClassifier
    from ltsk.nets import MLP

    kwargs.setdefault("max_epochs", 1)
    return LongTailNetClassifier(
        MLP, module__hidden_units=(4,), batch_size=16, random_state=0, **kwargs
    )


NET_CASES = [
    pytest.param({}, _with_nan(X3), Y3, r"(?i)NaN", id="nan-in-X"),
    pytest.param({}, X3, np.zeros(30), r"(?i)class", id="one-class"),
    pytest.param({"q": 1.5}, X3, Y3, r"'q' parameter", id="q-1.5"),
    pytest.param({}, X3, Y3[:-1], r"inconsistent numbers of samples", id="len"),
    pytest.param({}, np.empty((0, 4)), np.empty(0), r"0 sample", id="empty"),
    pytest.param({"lr": -1.0}, X3, Y3, r"'lr' parameter", id="lr-negative"),
    pytest.param({"q": "balanced"}, X3, Y3, r"'q' parameter", id="q-string"),
    pytest.param({"mixup": "cutmix"}, X3, Y3, r"'mixup' parameter", id="mixup-cutmix"),
    pytest.param(
        {"mixup": "mixup", "mixup_alpha": 0}, X3, Y3, r"'mixup_alpha'", id="alpha-0"
    ),
    pytest.param(
        {"mixup": "remix", "remix_kappa": 0}, X3, Y3, r"'remix_kappa'", id="kappa-0"
    ),
    pytest.param(
        {"mixup": "remix", "remix_tau": 1.5}, X3, Y3, r"'remix_tau'", id="tau-1.5"
    ),
]


@pytest.mark.parametrize(("params", "X", "y", "match"), NET_CASES)
def test_net_bad_fit(params, X, y, match):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        _net(**params).fit(X.astype(np.float32), y)


def _drw(**kwargs):
    from ltsk.nets import DeferredReweighting

    return DeferredReweighting(**kwargs)


DRW_CASES = [
    pytest.param({"start_epoch": -1}, None, r"'start_epoch' parameter", id="start-neg"),
    pytest.param({"start_epoch": 0, "beta": 1}, None, r"'beta' parameter", id="beta-1"),
    pytest.param(
        {"start_epoch": 0, "scheme": "log"}, None, r"'scheme' parameter", id="scheme"
    ),
    pytest.param({"start_epoch": 0}, "FocalLoss", r"criterion.*FocalLoss", id="focal"),
]


@pytest.mark.parametrize(("params", "criterion", "match"), DRW_CASES)
def test_deferred_reweighting_bad_parameters(params, criterion, match):
    pytest.importorskip("torch")
    from ltsk import losses

    kwargs = {"callbacks": [_drw(**params)]}
    if criterion is not None:
        kwargs["criterion"] = getattr(losses, criterion)
    # A criterion without class weights is a TypeError; the rest are invalid
    # parameter values (ValueError).
    exc = TypeError if criterion is not None else ValueError
    with pytest.raises(exc, match=match):
        _net(**kwargs).fit(X3.astype(np.float32), Y3)


def test_deferred_reweighting_start_after_training_warns():
    pytest.importorskip("torch")
    net = _net(max_epochs=2, callbacks=[_drw(start_epoch=2)])
    with pytest.warns(UserWarning, match=r"start_epoch=2 >= the 2 epochs"):
        net.fit(X3.astype(np.float32), Y3)
    assert not net.callbacks[0].switched_


REMIX_CASES = [
    pytest.param({"kappa": 0.0}, r"kappa", id="kappa-0"),
    pytest.param({"tau": 1.5}, r"tau", id="tau-1.5"),
    pytest.param({"tau": "half"}, r"tau", id="tau-string"),
    pytest.param({"lam": 1.2}, r"lam", id="lam-1.2"),
    pytest.param({"counts_j": [3, 0]}, r"counts_j", id="zero-count"),
]


@pytest.mark.parametrize(("kwargs", "match"), REMIX_CASES)
def test_remix_label_weights_bad_input(kwargs, match):
    pytest.importorskip("torch")
    from ltsk.nets import remix_label_weights

    call = {"lam": 0.3, "counts_i": [10, 3], "counts_j": [3, 10], **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        remix_label_weights(**call)


# --------------------------------------------------------------------------- #
# BBN (skorch)
# --------------------------------------------------------------------------- #
def _bbn(**kwargs):
    from ltsk.nets import MLP, BBNClassifier

    kwargs.setdefault("max_epochs", 1)
    return BBNClassifier(
        MLP, module__hidden_units=(4,), batch_size=16, random_state=0, **kwargs
    )


def _three_d_branch():
    torch = pytest.importorskip("torch")

    class Unflatten(torch.nn.Module):
        def forward(self, x):
            return x[:, None, :]

    return Unflatten()


BBN_CASES = [
    pytest.param({}, _with_nan(X3), Y3, r"(?i)NaN", id="nan-in-X"),
    pytest.param({}, X3, np.zeros(30), r"(?i)class", id="one-class"),
    pytest.param({}, X3, Y3[:-1], r"inconsistent numbers of samples", id="len"),
    pytest.param({}, X3[:, 0], Y3, r"Expected 2D array", id="1d-X"),
    pytest.param({}, np.empty((0, 4)), np.empty(0), r"0 sample", id="empty"),
    pytest.param({"branch": "mlp"}, X3, Y3, r"'branch' parameter", id="branch-str"),
    pytest.param(
        {"branch": _three_d_branch}, X3, Y3, r"branch must return a 2-D", id="3d"
    ),
    pytest.param({"max_epochs": -1}, X3, Y3, r"'max_epochs' parameter", id="epochs"),
]


@pytest.mark.parametrize(("params", "X", "y", "match"), BBN_CASES)
def test_bbn_bad_fit(params, X, y, match):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        _bbn(**params).fit(X.astype(np.float32), y)


def test_bbn_rejects_parent_only_parameters_and_non_module_branch():
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"BBNClassifier does not take q"):
        _bbn(q=0.5)
    with pytest.raises(TypeError, match=r"does not take mixup, remix_tau"):
        _bbn(mixup="remix", remix_tau=0.2)
    with pytest.raises(TypeError, match=r"branch must be an nn.Module.*got .*int"):
        _bbn(branch=lambda: 3).fit(X3.astype(np.float32), Y3)


@pytest.mark.parametrize("make", [_net, _bbn], ids=["net", "bbn"])
def test_net_predict_unfitted_and_feature_mismatch(make):
    pytest.importorskip("torch")
    net = make()
    with pytest.raises(NotFittedError):
        net.predict(X3.astype(np.float32))
    net.fit(X3.astype(np.float32), Y3)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        net.predict(X3[:, :3].astype(np.float32))
    with pytest.raises(ValueError, match=r"(?i)NaN"):
        net.predict_proba(_with_nan(X3).astype(np.float32))


# --------------------------------------------------------------------------- #
# metrics
# --------------------------------------------------------------------------- #
METRIC_CASES = [
    pytest.param(
        dict(train_counts=[5, 3]), r"labels=", id="array-counts-without-labels"
    ),
    pytest.param(
        dict(train_counts={0: 5, 1: -3}), r"train_counts", id="negative-count"
    ),
    pytest.param(
        dict(train_counts=[5, 3], labels=[0, 1, 2]), r"train_counts", id="len-labels"
    ),
    pytest.param(
        dict(train_counts={0: 5, 1: 3}, labels=[0, 1]),
        r"labels must be None",
        id="dict-and-labels",
    ),
    pytest.param(
        dict(train_counts={0: 5, 1: 3}, many=10, few=20), r"many|few", id="few>many"
    ),
    pytest.param(dict(train_counts={0: 5}), r"train_counts|label", id="missing-label"),
]


@pytest.mark.parametrize(("kwargs", "match"), METRIC_CASES)
def test_shot_accuracy_bad_train_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shot_accuracy([0, 1, 1], [0, 1, 0], **kwargs)


def test_shot_accuracy_length_mismatch_and_scorer_group():
    with pytest.raises(ValueError, match=r"(?i)inconsistent|length"):
        shot_accuracy([0, 1, 1], [0, 1], train_counts={0: 5, 1: 3})
    with pytest.raises(ValueError, match=r"group"):
        make_shot_scorer("tail", train_counts={0: 5, 1: 3})


# --------------------------------------------------------------------------- #
# model_selection
# --------------------------------------------------------------------------- #
KFOLD_CASES = [
    pytest.param(dict(n_splits=1), X3, Y3, r"n_splits", id="n-splits-1"),
    pytest.param(dict(n_splits=2.5), X3, Y3, r"n_splits", id="n-splits-float"),
    pytest.param(dict(), X3, None, r"y is required", id="y-none"),
    pytest.param(dict(), X3, Y3[:-1], r"(?i)samples|length", id="len-mismatch"),
    pytest.param(dict(), X3, _RNG.normal(size=30), r"class labels", id="continuous"),
]


@pytest.mark.parametrize(("kwargs", "X", "y", "match"), KFOLD_CASES)
def test_kfold_bad_input(kwargs, X, y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        list(LongTailStratifiedKFold(**kwargs).split(X, y))


# --------------------------------------------------------------------------- #
# datasets: profiles and malformed files
# --------------------------------------------------------------------------- #
PROFILE_CASES = [
    pytest.param(
        lambda: long_tailed_counts(100, 10, 0.5), r"imbalance_ratio", id="rho-0.5"
    ),
    pytest.param(
        lambda: long_tailed_counts(100, 10, np.inf), r"imbalance_ratio", id="rho-inf"
    ),
    pytest.param(lambda: long_tailed_counts(0, 10, 10), r"n_max", id="n-max-0"),
    pytest.param(lambda: long_tailed_counts(100, 0, 10), r"n_classes", id="n-cls-0"),
    pytest.param(
        lambda: long_tailed_counts(100, 10, 10, profile="linear"),
        r"profile",
        id="profile",
    ),
    pytest.param(
        lambda: make_long_tailed(X3, Y3[:-1], imbalance_ratio=2),
        r"(?i)inconsistent|samples",
        id="make-lt-len",
    ),
]


@pytest.mark.parametrize(("call", "match"), PROFILE_CASES)
def test_profiles_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def _idx_bad_magic(path):
    path.write_bytes(bytes([1, 2, 8, 1]) + (3).to_bytes(4, "big") + b"abc")


def _idx_truncated(path):
    path.write_bytes(bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") * 2 + b"abcd")


def _idx_bad_type(path):
    path.write_bytes(bytes([0, 0, 0x07, 1]) + (1).to_bytes(4, "big") + b"a")


def _idx_short_header(path):
    path.write_bytes(bytes([0, 0, 8, 3]) + (3).to_bytes(4, "big"))


def _idx_bad_gzip(path):
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")


def _idx_empty(path):
    with gzip.open(path, "wb"):
        pass


@pytest.mark.parametrize(
    ("write", "match"),
    [
        pytest.param(_idx_bad_magic, r"not an IDX file", id="bad-magic"),
        pytest.param(_idx_truncated, r"data bytes", id="truncated-data"),
        pytest.param(_idx_bad_type, r"type code", id="bad-type-code"),
        pytest.param(_idx_short_header, r"truncated IDX header", id="short-header"),
        pytest.param(_idx_bad_gzip, r"gzip", id="corrupt-gzip"),
        pytest.param(_idx_empty, r"empty file", id="empty-gzip"),
    ],
)
def test_load_idx_malformed(tmp_path, write, match):
    path = tmp_path / "images-idx"
    write(path)
    with pytest.raises(ValueError, match=match) as info:
        load_idx(path)
    assert "images-idx" in str(info.value)


def _write_cifar(tmp_path, batch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["data_batch_1"]:
        (folder / name).write_bytes(pickle.dumps(batch))


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        pytest.param({b"data": np.zeros((2, 3072))}, r"b'labels'", id="no-labels"),
        pytest.param({b"labels": [0, 1]}, r"b'data'", id="no-data"),
        pytest.param([1, 2, 3], r"should be a dict", id="not-a-dict"),
        pytest.param(
            {b"data": np.zeros((2, 100)), b"labels": [0, 1]},
            r"\(N, 3072\)",
            id="wrong-width",
        ),
        pytest.param(
            {b"data": np.zeros((2, 3072)), b"labels": [0]},
            r"2 labels",
            id="label-count",
        ),
    ],
)
def test_load_cifar_malformed(tmp_path, batch, match):
    _write_cifar(tmp_path, batch)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path)
    assert "data_batch_1" in str(info.value)


def test_load_cifar_not_a_pickle_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1"):
        load_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"data_batch_1.*not a CIFAR python pickle"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param("A,1,2,3\n", r"line 1.*16", id="too-few-columns"),
        pytest.param(
            "A," + ",".join(["1"] * 16) + "\nB," + ",".join(["1"] * 17) + "\n",
            r"line 2",
            id="too-many-columns",
        ),
        pytest.param("A," + ",".join(["x"] * 16) + "\n", r"line 1", id="not-numbers"),
        pytest.param("\n\n", r"no data rows", id="empty-file"),
    ],
)
def test_load_letter_malformed(tmp_path, content, match):
    (tmp_path / "letter-recognition.data").write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_letter(tmp_path)
    assert "letter-recognition.data" in str(info.value)
