"""Shared machinery of the stage-2 heads: validation, label encoding, prediction.

The base ``fit`` validates the features, encodes the labels (optionally against
a fixed class set) and checks the joint classifier's weights, then calls the
subclass's ``_fit``. The base ``decision_function`` calls the subclass's
``_scores``; ``predict_proba`` and ``predict`` derive from the same scores.
"""

import functools
from typing import ClassVar

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import gen_batches
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ltsk.heads._dask import blockwise, check_fit_input, is_dask_array
from ltsk.heads._device import DEVICE_CONSTRAINT, is_tensor
from ltsk.heads._solver import (
    JOINT_ALPHA,
    JOINT_MAX_ITER,
    JOINT_TOL,
    block_rows,
    fit_multinomial,
    weighted_mean,
)

_DTYPES = (np.float64, np.float32)
# What _class_scores keeps of a block's scores (the device path has its own).
_TRANSFORMS = {
    None: None,
    "binary": lambda s: (s[:, 1:] - s[:, :1]).ravel(),
    "softmax": functools.partial(softmax, axis=1),
    "log_softmax": functools.partial(log_softmax, axis=1),
}


def _host(values):
    """A tensor of labels or weights as a numpy array; anything else unchanged."""
    return values.detach().cpu().numpy() if is_tensor(values) else values


def _encode_small_integers(y):
    """``np.unique(y, return_inverse=True)`` plus counts, for integer labels.

    Labels spanning a range not much wider than their number are counted with
    ``bincount`` and mapped through a lookup table: O(n) instead of the sort
    behind ``np.unique``. Returns None when y is not such an array.
    """
    if y.dtype.kind not in "iu" or y.ndim != 1 or y.size == 0:
        return None
    low, high = y.min(), y.max()
    if int(high) - int(low) > max(4 * y.size, 1024):
        return None
    # Narrow types are widened first (int8 labels -128 and 127 are 255 apart);
    # 64-bit ones subtract exactly in their own type, the range being small.
    wide = y.astype(np.intp) if y.dtype.itemsize < 8 else y
    offsets = (wide - low).astype(np.intp, copy=False)
    counts = np.bincount(offsets)
    present = np.flatnonzero(counts)
    lookup = np.zeros(counts.shape[0], dtype=np.intp)
    lookup[present] = np.arange(present.shape[0])
    classes = present.astype(y.dtype) + low
    return classes, lookup[offsets], counts[present]


def _encode_labels(y, classes):
    """Return ``(classes_, y_encoded)``; ``classes`` fixes the class set if given."""
    if classes is None:
        return np.unique(y, return_inverse=True)
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.shape[0] < 2:
        raise ValueError(
            "classes must be a 1-D array of at least 2 class labels, got shape "
            f"{classes.shape}."
        )
    try:
        unique = np.unique(classes)
        same = unique.shape == classes.shape and np.all(unique == classes)
        if not same:
            raise ValueError(
                f"classes must be sorted and unique, got {classes.tolist()!r}."
            )
        position = np.searchsorted(classes, y)
        found = classes[np.minimum(position, classes.shape[0] - 1)] == y
    except TypeError:
        # Labels of a type that cannot be compared with classes (str vs int).
        found = np.zeros(y.shape[0], dtype=bool)
    if not np.all(found):
        unknown = np.unique(np.asarray(y)[~np.asarray(found, dtype=bool)])
        raise ValueError(
            f"y contains labels that are not in classes: {unknown.tolist()!r} "
            f"(classes={classes.tolist()!r})."
        )
    return classes, position


def _check_joint(coef, intercept, n_classes, n_features, dtype):
    """Validate the joint classifier's weights and cast them to ``dtype``."""
    if coef is None:
        if intercept is not None:
            raise ValueError("intercept was given without coef; pass both or neither.")
        return None, None
    coef = np.asarray(coef, dtype=dtype)
    if coef.shape != (n_classes, n_features):
        raise ValueError(
            "coef must have shape (n_classes, n_features) = "
            f"({n_classes}, {n_features}), got {coef.shape}."
        )
    if not np.all(np.isfinite(coef)):
        raise ValueError("coef must be finite (no NaN or inf).")
    if intercept is None:
        intercept = np.zeros(n_classes, dtype=dtype)
    intercept = np.asarray(intercept, dtype=dtype)
    if intercept.shape != (n_classes,):
        raise ValueError(
            f"intercept must have shape (n_classes,) = ({n_classes},), got "
            f"{intercept.shape}."
        )
    if not np.all(np.isfinite(intercept)):
        raise ValueError("intercept must be finite (no NaN or inf).")
    return coef, intercept


class BaseHead(ClassifierMixin, BaseEstimator):
    """Base class of the stage-2 heads (not public; subclass it).

    Subclasses implement ``_fit(F, y, counts, coef, intercept, sample_weight)``,
    which sets their fitted attributes (``sample_weight`` is None or a float64
    array, and ``counts`` are then the per-class sums of the weights), and
    ``_scores(F)``, which returns the class scores of shape (n_samples,
    n_classes).
    """

    # Subclasses spread this into their own constraints; every head takes a
    # ``device`` (None: numpy; a torch device: see ltsk.heads._torch).
    _parameter_constraints: ClassVar[dict] = {**DEVICE_CONSTRAINT}
    # True for heads whose _fit detects NaN/inf in F from a pass it makes
    # anyway (and then raises scikit-learn's error), saving the validation pass.
    _fit_checks_finite: ClassVar[bool] = False
    # True for heads whose _fit runs on a dask F through chunk-wise sums
    # (ltsk/heads/_dask.py); the others refuse a dask F.
    _dask_fit: ClassVar[bool] = False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, F, y, *, coef=None, intercept=None, classes=None, sample_weight=None):
        """Fit the head on a feature matrix.

        Parameters
        ----------
        F : array-like or dask array of shape (n_samples, n_features)
            Features (float32 input stays float32). A dask array stays on its
            cluster: the heads whose fit is a sum over rows (cRT without
            ``max_norm`` or smoothing, LWS, NCM, tau-norm, logit adjustment)
            evaluate each solver step chunk by chunk there; the others raise
            ``TypeError``.
        y : array-like of shape (n_samples,)
            Class labels of any type (a dask array is computed on the client).
        coef : array-like of shape (n_classes, n_features), default=None
            Weights of the jointly trained linear classifier, rows in
            ``classes_`` order. Heads that need it fit an instance-balanced
            multinomial classifier on ``F`` when it is not given.
        intercept : array-like of shape (n_classes,), default=None
            Bias of the joint classifier (zeros when ``coef`` is given alone).
        classes : array-like of shape (n_classes,), default=None
            The full, sorted class set. Classes absent from ``y`` get a count of
            0 and a score of ``-inf`` (probability 0, never predicted).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples. An integer weight is the same
            as repeating the row: the class counts (``class_counts_``, the
            priors, the class-sampling weights) are the per-class sums of the
            weights, and a weight of 0 drops the row. A dask array is
            computed on the client.

        Returns
        -------
        self : object
            The fitted head.
        """
        # --- device path: a feature tensor is validated where it lives.
        if self._torch() is not None and is_tensor(F):
            F = self._torch().check_tensor(self, F, reset=True)
            y = column_or_1d(_host(y), warn=True)
            check_consistent_length(F, y)
        # --- end device path
        elif is_dask_array(F):
            if self.device is not None:
                raise ValueError(
                    f"{type(self).__name__}: a dask F runs on the cluster's CPUs; "
                    f"device={self.device!r} cannot be combined with it. Set "
                    "device=None, or compute F into a torch tensor on the device."
                )
            F, y, sample_weight = check_fit_input(
                self, F, y, sample_weight, ensure_finite=not self._fit_checks_finite
            )
        else:
            F, y = validate_data(
                self,
                F,
                y,
                accept_sparse="csr",
                dtype=_DTYPES,
                ensure_all_finite=not self._fit_checks_finite
                or self.device is not None,
            )
        encoded = _encode_small_integers(y) if classes is None else None
        if encoded is None:
            check_classification_targets(y)
            classes_, y_encoded = _encode_labels(y, classes)
            counts = np.bincount(y_encoded, minlength=classes_.shape[0])
        else:
            # 1-D integer labels are always a classification target.
            classes_, y_encoded, counts = encoded
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                _host(sample_weight), F, dtype=np.float64, ensure_non_negative=True
            )
            counts = np.bincount(
                y_encoded, weights=sample_weight, minlength=classes_.shape[0]
            )
        if np.count_nonzero(counts) < 2:
            raise ValueError(
                "Classifier can't train when only one class is present; y must "
                f"contain at least 2 classes, got {np.count_nonzero(counts)}."
            )
        dtype = F.dtype if self._torch() is None else self._torch().numpy_dtype(F)
        coef, intercept = _check_joint(
            coef, intercept, classes_.shape[0], F.shape[1], dtype
        )
        self.classes_ = classes_
        self.class_counts_ = counts
        self._fit(F, y_encoded, counts, coef, intercept, sample_weight)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _torch(self):
        """The module of the device path when ``device`` is set, else None.

        Resolving the device here makes an unusable one fail, naming
        ``device``, before any work.
        """
        if getattr(self, "device", None) is None:
            return None
        from ltsk.heads import _torch

        _torch.resolve_device(self.device)
        return _torch

    def _torch_device(self):
        """The resolved torch device when ``device`` is set, else None."""
        torch_ = self._torch()
        return None if torch_ is None else torch_.resolve_device(self.device)

    def _validated(self, F):
        check_is_fitted(self)
        if self._torch() is not None and is_tensor(F):
            return self._torch().check_tensor(self, F, reset=False)
        return validate_data(self, F, reset=False, accept_sparse="csr", dtype=_DTYPES)

    def _blocks(self, F):
        """Row blocks of ``F`` whose scores and their transform fit the budget."""
        row_bytes = 2 * self.classes_.shape[0] * np.dtype(np.float64).itemsize
        return gen_batches(F.shape[0], block_rows(row_bytes, F.shape[0]))

    def _class_scores(self, F, transform=None):
        """Masked scores of ``F``, computed and transformed in row blocks.

        Only the (n_samples, n_classes) result is allocated whole; each block's
        scores and their ``transform`` (softmax, say) are temporaries of one
        block.
        """
        F = self._validated(F)
        if self._torch() is not None:
            return self._torch().class_scores(self, F, transform)
        transform = _TRANSFORMS[transform]
        out = None
        for rows in self._blocks(F):
            scores = self._masked_scores(F[rows])
            if transform is not None:
                scores = transform(scores)
            if out is None:
                out = np.empty((F.shape[0], *scores.shape[1:]), dtype=scores.dtype)
            out[rows] = scores
        return out

    def _masked_scores(self, F):
        """Scores of validated features, ``-inf`` for classes absent in training."""
        scores = self._scores(F)
        absent = self.class_counts_ == 0
        if np.any(absent):
            scores[:, absent] = -np.inf
        return scores

    @blockwise
    def decision_function(self, F):
        """Class scores of the head.

        Parameters
        ----------
        F : array-like or dask array of shape (n_samples, n_features)
            Features, as given to :meth:`fit`. A dask array gives a dask
            array with the same row chunks, computed block by block.

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the score of ``classes_[1]`` minus that of
            ``classes_[0]``.
        """
        check_is_fitted(self)
        if self.classes_.shape[0] == 2:
            return self._class_scores(F, "binary")
        return self._class_scores(F)

    @blockwise
    def predict_proba(self, F):
        """Class probabilities: the softmax of the class scores.

        Parameters
        ----------
        F : array-like or dask array of shape (n_samples, n_features)
            Features, as given to :meth:`fit`. A dask array gives a dask
            array with the same row chunks, computed block by block.

        Returns
        -------
        proba : ndarray or dask array of shape (n_samples, n_classes)
            Probability of each class, columns in ``classes_`` order; classes
            absent in training get 0.
        """
        return self._class_scores(F, "softmax")

    @blockwise
    def predict_log_proba(self, F):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        F : array-like or dask array of shape (n_samples, n_features)
            Features, as given to :meth:`fit`. A dask array gives a dask
            array with the same row chunks, computed block by block.

        Returns
        -------
        log_proba : ndarray or dask array of shape (n_samples, n_classes)
            Log-probability of each class, columns in ``classes_`` order;
            classes absent in training get ``-inf``.
        """
        return self._class_scores(F, "log_softmax")

    @blockwise
    def predict(self, F):
        """Predict the class with the highest score.

        Parameters
        ----------
        F : array-like or dask array of shape (n_samples, n_features)
            Features, as given to :meth:`fit`. A dask array gives a dask
            array with the same row chunks, computed block by block.

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,)
            Predicted labels, taken from ``classes_``.
        """
        F = self._validated(F)
        if self._torch() is not None:
            return self.classes_[self._torch().class_scores(self, F, "argmax")]
        # Row blocks: only the argmax is kept, so predicting never holds the
        # full (n_samples, n_classes) score matrix.
        indices = np.empty(F.shape[0], dtype=np.intp)
        for rows in self._blocks(F):
            indices[rows] = np.argmax(self._masked_scores(F[rows]), axis=1)
        return self.classes_[indices]


class LinearHead(BaseHead):
    """Base class of the heads whose scores are ``F @ coef_.T + intercept_``."""

    def _joint(self, F, y, counts, coef, intercept, sample_weight):
        """The joint classifier ``(coef, intercept, mean)``.

        The given one has ``mean=None``. Without one, an instance-balanced
        classifier is fitted on ``F``, and ``mean`` is the (weighted) training
        mean: ``intercept + coef @ mean`` is then its bias on centred features,
        the bias that a rule made for a network's classifier (tau-norm drops it)
        can act on.
        """
        if coef is not None:
            return coef, intercept, None
        weights = np.ones(F.shape[0]) if sample_weight is None else sample_weight
        owner = f"{type(self).__name__} (joint classifier)"
        if self._torch() is not None:  # device path
            torch_ = self._torch()
            device = torch_.resolve_device(self.device)
            coef, intercept, _ = torch_.fit_multinomial(
                F, y, counts, device=device, sample_weight=sample_weight, q=1.0,
                alpha=JOINT_ALPHA, max_iter=JOINT_MAX_ITER, tol=JOINT_TOL,
                owner=owner,
            )  # fmt: skip
            mean = torch_.weighted_mean(F, weights, device).cpu().numpy()
            return coef, intercept, (mean / weights.sum()).astype(coef.dtype)
        coef, intercept, _ = fit_multinomial(
            F,
            y,
            counts,
            sample_weight=sample_weight,
            q=1.0,
            owner=owner,
        )
        mean = (weighted_mean(F, weights) / weights.sum()).astype(F.dtype)
        return coef, intercept, mean

    def _set_linear(self, coef, intercept):
        self.coef_ = coef
        intercept = np.array(intercept, dtype=coef.dtype)
        # -inf keeps decision_function == F @ coef_.T + intercept_ exact for
        # classes absent from the training labels.
        intercept[self.class_counts_ == 0] = -np.inf
        self.intercept_ = intercept

    def _scores(self, F):
        scores = np.asarray(F @ self.coef_.T)
        scores += self.intercept_
        return scores
