"""DecoupledClassifier: a frozen feature extractor plus a re-balanced head."""

import hashlib
import inspect
import os
import pickle
import sys
from collections.abc import Mapping
from typing import ClassVar

import joblib
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.base import _fit_context as fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _num_samples,
    check_is_fitted,
    check_memory,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from ltsk.heads import HEADS
from ltsk.heads._dask import is_dask_array
from ltsk.heads._device import is_tensor

__all__ = ["DecoupledClassifier"]


def _transform(extractor, X, extractor_key, X_key):
    # Cached by joblib.Memory with ``extractor`` and ``X`` ignored: the keys
    # identify them, and computing them ourselves is several times faster than
    # joblib's own hashing of a large array.
    return extractor.transform(X)


def _extractor_key(extractor):
    """Content digest of the extractor's pickled state.

    ``joblib.hash`` cannot hash a fitted torch optimizer (its state is keyed by
    parameter tensors, which it tries to sort), so hash the pickle instead.
    """
    try:
        payload = pickle.dumps(extractor, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise TypeError(
            "memory caches features by the extractor's pickled state, but the "
            f"extractor ({type(extractor).__name__}) cannot be pickled: {exc}"
        ) from exc
    return hashlib.sha1(payload, usedforsecurity=False).hexdigest()


def _fingerprint(X):
    """Content digest of the extractor's input, the cache key of its features."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        data = np.ascontiguousarray(X)
        digest = hashlib.sha1(memoryview(data).cast("B"), usedforsecurity=False)
        return f"{data.dtype.str}{data.shape}{digest.hexdigest()}"
    return joblib.hash(X)


def _num_inputs(X):
    """Number of samples in the extractor's input, or None when it has no length."""
    if isinstance(X, Mapping):
        # skorch nets take a dict of equally long arrays
        lengths = {_num_samples(value) for value in X.values()}
        return lengths.pop() if len(lengths) == 1 else None
    try:
        return _num_samples(X)
    except TypeError:
        return None


def _torch_dataset(X):
    """Whether X is a torch Dataset (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.utils.data.Dataset)


def _head_has(method):
    def check(self):
        head = self.head_ if hasattr(self, "head_") else self._make_head()
        return hasattr(head, method)

    return check


class DecoupledClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Re-balance only the classifier on top of a frozen feature extractor.

    Stage 2 of Kang et al.'s decoupled training: the representation (the
    ``extractor``) was learned with plain instance-balanced training and is kept
    frozen; only the ``head`` is fitted, on the extracted features. The
    extractor is never refitted and survives :func:`~sklearn.base.clone`, so a
    grid search over the head's parameters (``head__tau``, ``head__q``,
    ``head__gamma``) works directly on a fitted network.

    Parameters
    ----------
    extractor : estimator with ``transform`` or None, default=None
        A fitted feature extractor: a fitted
        :class:`~ltsk.nets.LongTailNetClassifier` (penultimate features), any
        trained torch module wrapped in :class:`~ltsk.nets.TorchExtractor`, any
        fitted scikit-learn transformer or Pipeline, or one wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`. ``None`` uses the raw
        features; a dask array ``X`` is then passed to the head as it is (see
        Notes). When it has ``coef_`` and ``intercept_`` of shape
        ``(n_classes, n_features_out)`` / ``(n_classes,)`` (a fitted ltsk net
        has), they are passed to the head's ``fit`` as the joint classifier.
        When it has ``classes_`` (a classifier), that is the class set.
        Being frozen, its parameters cannot be set through this estimator:
        ``set_params(extractor__<name>=...)`` raises a ValueError.
    head : estimator or {"crt", "ncm", "tau_norm", "lws", "logit_adjust"}, \
            default="crt"
        The stage-2 classifier: an ltsk head (:class:`~ltsk.CRTHead`,
        :class:`~ltsk.NCMHead`, :class:`~ltsk.TauNormHead`,
        :class:`~ltsk.LWSHead`, :class:`~ltsk.LogitAdjustedHead`), a shorthand
        string for one of them with default parameters, or any scikit-learn
        classifier. It is cloned before fitting. Its parameters are nested
        (``head__tau``); setting one on a shorthand string replaces the string
        by an instance of its class.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches ``extractor.transform`` like ``Pipeline(memory=...)``: a path to
        a cache directory or a :class:`joblib.Memory`. In a grid search over
        head parameters, each distinct input array is then transformed once
        rather than once per candidate.

    Attributes
    ----------
    head_ : estimator
        The fitted clone of ``head``.
    classes_ : ndarray of shape (n_classes,)
        Class labels: the extractor's ``classes_`` when it has one (also when
        the training data of a cross-validation fold lacks some class), else
        the labels seen in ``fit``.
    n_features_in_ : int
        Number of input features, when known (2-D array input to the
        extractor, or the extractor's own ``n_features_in_``).

    See Also
    --------
    ltsk.CRTHead : classifier re-training with class-balanced sampling.
    ltsk.TauNormHead : tau-normalised joint classifier.
    sklearn.frozen.FrozenEstimator : freezes any fitted estimator.

    Notes
    -----
    Features are computed by ``extractor.transform``; an ltsk network computes
    them in eval mode, so BatchNorm statistics of the "frozen" backbone do not
    drift during stage 2 (unlike the reference implementation, which keeps the
    backbone in train mode).

    A head given a torch ``device`` (``CRTHead(device="cuda")``) receives the
    features of an ltsk network or :class:`~ltsk.nets.TorchExtractor` on that
    same device as a tensor left there, so they never pass through host
    memory (without ``memory``, whose cache holds host arrays); any other
    extractor's features go to the head as before.

    With ``extractor=None``, a dask array ``X`` (features that live on a
    cluster) goes to the head without being computed: the heads whose fit is
    a sum over rows fit on it chunk by chunk, the others raise ``TypeError``,
    and ``predict``, ``predict_proba`` and ``decision_function`` return what
    the head returns, a lazy dask array. An extractor is not applied to a dask
    ``X`` (its ``transform`` would load all of it): that is a ``TypeError``
    naming the remedy, the features computed with ``X.map_blocks``.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
       Y. Kalantidis, "Decoupling Representation and Classifier for Long-Tailed
       Recognition", ICLR 2020.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from ltsk import DecoupledClassifier, TauNormHead
    >>> from ltsk.datasets import load_digits_lt
    >>> X_train, X_test, y_train, y_test = load_digits_lt(random_state=0)
    >>> pca = PCA(n_components=30, random_state=0).fit(X_train)
    >>> clf = DecoupledClassifier(pca, TauNormHead(tau=1.0)).fit(X_train, y_train)
    >>> clf.predict(X_test[:5]).shape
    (5,)
    >>> clf.head_.coef_.shape
    (10, 30)
    """

    _parameter_constraints: ClassVar[dict] = {
        "extractor": [HasMethods(["transform"]), None],
        "head": [HasMethods(["fit", "predict"]), StrOptions(set(HEADS))],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
    }

    def __init__(self, extractor=None, head="crt", *, memory=None):
        self.extractor = extractor
        self.head = head
        self.memory = memory

    def __sklearn_clone__(self):
        # The fitted extractor is shared, never cloned: cloning would return an
        # unfitted copy (FrozenEstimator semantics).
        params = self.get_params(deep=False)
        params["head"] = (
            params["head"] if isinstance(params["head"], str) else clone(self.head)
        )
        return type(self)(**params)

    def get_params(self, deep=True):
        """Get the parameters of this estimator.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return the head's parameters as ``head__<name>``
            (those of the default instance a shorthand string stands for). The
            extractor's parameters are not listed: it is frozen.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=False)
        head = self.head
        if deep and isinstance(head, str) and head in HEADS:
            head = HEADS[head]()
        if deep and hasattr(head, "get_params"):
            params.update(
                (f"head__{key}", value) for key, value in head.get_params().items()
            )
        return params

    def set_params(self, **params):
        """Set the parameters of this estimator.

        ``head__<name>`` sets a parameter of the head; a shorthand string head
        is first replaced by an instance of its class. The extractor is frozen:
        ``extractor=...`` replaces it, but ``extractor__<name>`` is refused.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : DecoupledClassifier
            This estimator.

        Raises
        ------
        ValueError
            For an ``extractor__<name>`` parameter.
        """
        frozen = sorted(key for key in params if key.startswith("extractor__"))
        if frozen:
            raise ValueError(
                f"Cannot set {', '.join(frozen)}: the extractor is frozen, "
                "DecoupledClassifier never refits it, so its parameters would "
                "change nothing but your fitted object. To tune the extractor (a "
                "net's q, max_epochs, ...), search over it on its own, e.g. "
                "GridSearchCV(net, {'q': [0, 1]}), and pass the fitted best "
                "estimator as extractor; or search over a Pipeline that refits it "
                "per candidate, make_pipeline(net, head)."
            )
        head = params.get("head", self.head)
        if isinstance(head, str) and any(key.startswith("head__") for key in params):
            if head not in HEADS:
                raise ValueError(
                    f"Cannot set head parameters of head={head!r}: the shorthand "
                    f"names are {list(HEADS)}; or pass a head instance."
                )
            params["head"] = HEADS[head]()
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Without an extractor, X goes to the head, which takes CSR input.
        tags.input_tags.sparse = self.extractor is None
        return tags

    def _make_head(self):
        if isinstance(self.head, str):
            return HEADS[self.head]()
        return clone(self.head)

    def get_metadata_routing(self):
        """Get the metadata routing of this estimator.

        ``fit`` routes its metadata (``sample_weight``) to ``head.fit``; the
        head states what it requests (e.g.
        ``CRTHead().set_fit_request(sample_weight=True)``).

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            The routing information.
        """
        return MetadataRouter(owner=self).add(
            head=self._make_head(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def _dask_features(self, X, *, reset):
        """A dask ``X`` passed on to the head as it is, never computed here."""
        if self.extractor is not None:
            raise TypeError(
                "X is a dask array, which DecoupledClassifier passes to the head "
                "only with extractor=None: "
                f"{type(self.extractor).__name__}.transform would load all of X "
                "into memory. Compute the features on the cluster, e.g. "
                "F = X.rechunk({1: -1}).map_blocks(extractor.transform, "
                "chunks=(X.chunks[0], (n_features_out,)), dtype=...), and fit "
                "DecoupledClassifier(None, head) on F; or pass X.compute() if it "
                "fits in memory."
            )
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2D array, got a {X.ndim}D dask array of shape {X.shape}."
            )
        if np.isnan(X.shape[0]):
            raise ValueError(
                "X is a dask array of unknown chunk sizes; call "
                "X.compute_chunk_sizes() (or pass lengths to to_dask_array) first."
            )
        _check_n_features(self, X, reset=reset)
        _check_feature_names(self, X, reset=reset)
        return X

    def _features(self, X, *, reset, device=None):
        if is_dask_array(X):
            return self._dask_features(X, reset=reset)
        if self.extractor is None:
            if _torch_dataset(X):
                raise ValueError(
                    "X is a torch Dataset, which extractor=None cannot read: pass "
                    "an extractor whose transform accepts it (a fitted ltsk net "
                    "or a TorchExtractor)."
                )
            return validate_data(
                self, X, reset=reset, accept_sparse="csr", ensure_min_samples=1
            )
        if reset and hasattr(self.extractor, "n_features_in_"):
            self.n_features_in_ = self.extractor.n_features_in_
        location = self.memory
        memory = check_memory(
            os.fspath(location) if isinstance(location, os.PathLike) else location
        )
        features = None
        if memory.location is None and device is not None:
            # device path: a net on the head's device hands over its tensor.
            from ltsk.heads._torch import extractor_features

            features = extractor_features(self.extractor, X, device)
        if features is None and memory.location is None:
            features = self.extractor.transform(X)
        elif features is None:
            cached = memory.cache(_transform, ignore=["extractor", "X"])
            features = cached(
                self.extractor, X, _extractor_key(self.extractor), _fingerprint(X)
            )
        # A sparse output (RandomTreesEmbedding, OneHotEncoder) stays sparse:
        # the heads take CSR rows without densifying them.
        if sparse.issparse(features):
            features = features.tocsr()
        elif not is_tensor(features):
            features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(
                "extractor.transform must return a 2-D feature matrix, got shape "
                f"{features.shape}."
            )
        n_inputs = _num_inputs(X)
        if n_inputs is not None and features.shape[0] != n_inputs:
            raise ValueError(
                f"extractor.transform returned {features.shape[0]} rows of features "
                f"for {n_inputs} input samples; it must return one row per sample."
            )
        return features

    def _head_device(self):
        return getattr(self.head_, "device", None)

    def _check_extractor(self):
        extractor = self.extractor
        if extractor is None:
            return
        try:
            check_is_fitted(extractor)
        except NotFittedError as exc:
            raise NotFittedError(
                f"The extractor ({type(extractor).__name__}) is not fitted. "
                "DecoupledClassifier never fits its extractor: fit it first, then "
                "pass the fitted estimator as extractor."
            ) from exc

    def _joint_classifier(self, n_features):
        """The extractor's own linear classifier, when it lives in feature space."""
        coef = getattr(self.extractor, "coef_", None)
        intercept = getattr(self.extractor, "intercept_", None)
        if coef is None or intercept is None:
            return None, None
        coef, intercept = np.asarray(coef), np.asarray(intercept)
        if coef.shape != (len(self.classes_), n_features) or intercept.shape != (
            len(self.classes_),
        ):
            # e.g. LinearDiscriminantAnalysis: its coef_ acts on the input space.
            return None, None
        return coef, intercept

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Extract features with the frozen extractor and fit the head on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or extractor input
            Training data; anything ``extractor.transform`` accepts, e.g. a
            torch ``Dataset`` for an ltsk net or a
            :class:`~ltsk.nets.TorchExtractor`. With ``extractor=None``, also
            a dask array, passed to the head without being computed.
        y : array-like of shape (n_samples,) or None, default=None
            Class labels (any label type). With a classifier extractor, every
            label must be one of its ``classes_``. ``None`` only for a torch
            ``Dataset`` of ``(x, label)`` pairs: the labels are its
            ``targets`` attribute when set, else read in one pass, as
            :class:`~ltsk.nets.LongTailNetClassifier` does.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training samples, passed to ``head.fit``. The head's
            ``fit`` must accept ``sample_weight``. With
            ``sklearn.set_config(enable_metadata_routing=True)`` it is routed
            instead: the head must request it (``set_fit_request``), which a
            shorthand string head cannot, so pass an instance.

        Returns
        -------
        self : DecoupledClassifier
            The fitted classifier.
        """
        self._check_extractor()
        if y is None and _torch_dataset(X):
            from ltsk.nets._data import pair_labels

            y = pair_labels(X)
        if y is None:
            raise ValueError(
                "DecoupledClassifier requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        extractor_classes = getattr(self.extractor, "classes_", None)
        if extractor_classes is not None:
            self.classes_ = np.asarray(extractor_classes)
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that the extractor does "
                    f"not know; its classes_ are {self.classes_.tolist()}."
                )
        else:
            self.classes_ = np.unique(y)

        head = self._make_head()
        features = self._features(X, reset=True, device=getattr(head, "device", None))
        if features.shape[0] != y.shape[0]:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {features.shape[0]} "
                f"and {y.shape[0]}."
            )
        if _routing_enabled():
            fit_params = process_routing(
                self, "fit", sample_weight=sample_weight
            ).head.fit
        elif sample_weight is None:
            fit_params = {}
        elif has_fit_parameter(head, "sample_weight"):
            fit_params = {"sample_weight": sample_weight}
        else:
            raise ValueError(
                f"sample_weight was given but the head {type(head).__name__} does "
                "not support it: its fit has no sample_weight parameter. Use a head "
                "that accepts sample weights, or fit without them."
            )
        accepted = inspect.signature(head.fit).parameters
        if extractor_classes is not None and "classes" in accepted:
            fit_params["classes"] = self.classes_
        coef, intercept = self._joint_classifier(features.shape[1])
        if coef is not None and "coef" in accepted and "intercept" in accepted:
            fit_params["coef"] = coef
            fit_params["intercept"] = intercept
        self.head_ = head.fit(features, y, **fit_params)
        return self

    def _head_columns(self):
        """Column of each ``head_.classes_`` entry in ``self.classes_``."""
        return np.searchsorted(self.classes_, self.head_.classes_)

    def _expand(self, values, fill):
        """Map the head's class columns onto ``classes_`` (a fold may lack some)."""
        if len(self.head_.classes_) == len(self.classes_):
            return values
        out = np.full((values.shape[0], len(self.classes_)), fill, dtype=values.dtype)
        out[:, self._head_columns()] = values
        return out

    def predict(self, X):
        """Predict class labels with the head on the extracted features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or extractor input
            Samples.

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,)
            Predicted labels, from ``classes_`` (a dask array for a dask
            ``X``).
        """
        check_is_fitted(self)
        return self.head_.predict(
            self._features(X, reset=False, device=self._head_device())
        )

    @available_if(_head_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or extractor input
            Samples.

        Returns
        -------
        proba : ndarray or dask array of shape (n_samples, n_classes)
            Probabilities; a class absent from the training data has column 0.
        """
        check_is_fitted(self)
        proba = self.head_.predict_proba(
            self._features(X, reset=False, device=self._head_device())
        )
        return self._expand(proba, 0.0)

    @available_if(_head_has("predict_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or extractor input
            Samples.

        Returns
        -------
        log_proba : ndarray or dask array of shape (n_samples, n_classes)
            Log-probabilities (``-inf`` for a class absent from training).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_head_has("decision_function"))
    def decision_function(self, X):
        """Class scores of the head on the extracted features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or extractor input
            Samples.

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples, n_classes) or \
                (n_samples,)
            As the head returns them (scikit-learn's convention: one column
            for two classes).
        """
        check_is_fitted(self)
        scores = self.head_.decision_function(
            self._features(X, reset=False, device=self._head_device())
        )
        if scores.ndim == 1:
            return scores
        return self._expand(scores, -np.inf)
