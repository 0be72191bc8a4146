"""Score a tau-family head for a whole grid of tau with one matrix product."""

import numpy as np
from sklearn.utils._param_validation import HasMethods, validate_params
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ltsk.heads._base import _encode_labels, _host


def check_taus(taus):
    """``taus`` as a non-empty 1-D float64 array of finite values >= 0."""
    taus = np.asarray(taus, dtype=np.float64)
    if taus.ndim != 1 or taus.size == 0:
        raise ValueError(f"taus must be a non-empty 1-D array, got shape {taus.shape}.")
    if not np.all(np.isfinite(taus)) or np.any(taus < 0):
        raise ValueError(f"taus must be finite and >= 0, got {taus.tolist()}.")
    return taus


def _affine(logits, scale, shift):
    """``logits * scale + shift`` as a new array or tensor (either may be None)."""
    scores = logits * scale if scale is not None else logits + shift
    if scale is not None and shift is not None:
        scores += shift
    return scores


class TauFamilyMixin:
    """``decision_function_path`` of the heads whose scores are a transform of tau.

    A head using it stores its joint classifier as ``joint_coef_`` and
    ``joint_intercept_`` and implements ``_tau_affine(tau, dtype)``: the
    per-class ``(scale, shift)`` of the joint logits for one ``tau`` (either
    may be None), arrays of ``dtype``.
    """

    def decision_function_path(self, F, taus):
        """Class scores of the head for each value of ``tau``, logits computed once.

        The head's scores are the joint classifier's logits under a per-class
        transform of ``tau``, so the logits are computed once and each ``tau``
        costs only that transform: the scores are those of
        ``set_params(tau=t).fit(...)`` with the same fit arguments.
        :func:`~ltsk.heads.tau_path` scores a validation split with it.

        Parameters
        ----------
        F : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, as given to :meth:`fit`: a CSR matrix is multiplied
            without densifying it; with ``device`` set, a tensor (or an
            array, moved block by block) is scored on that device.
        taus : array-like of shape (n_taus,)
            Non-negative values of ``tau``.

        Returns
        -------
        path : generator of ndarray of shape (n_samples, n_classes)
            The class scores for each ``tau`` in turn (``-inf`` for classes
            absent in training), numpy arrays on the host. The arguments are
            checked at the call; a ``tau`` the head refuses in :meth:`fit`
            raises the same ``ValueError`` when its scores are reached.
        """
        check_is_fitted(self)
        taus = check_taus(taus)
        F = self._validated(F)
        if self._torch() is not None:  # device path
            logits = self._torch().joint_logits(self, F)
        else:
            logits = _joint_logits(self, F)
        absent = self.class_counts_ == 0
        return self._tau_scores(logits, taus, absent)

    def _tau_scores(self, logits, taus, absent):
        torch_ = self._torch()
        for tau in taus:
            if torch_ is None:
                scores = _affine(logits, *self._tau_affine(tau, logits.dtype))
                scores[:, absent] = -np.inf
                yield scores
            else:
                yield torch_.tau_scores(self, logits, tau, absent).cpu().numpy()

    def _path_predictions(self, F, taus):
        """``argmax`` of the scores of every ``tau``, shape (n_taus, n_samples).

        In row blocks: the logits of a block are computed once and scored for
        every ``tau``, so no (n_samples, n_classes) array is made.
        """
        if self._torch() is not None:  # device path
            return self._torch().tau_path_predictions(self, F, taus)
        dtype = np.result_type(F.dtype, self.joint_coef_.dtype)
        # Every tau's transform first: a tau the head refuses fails at once.
        affines = [self._tau_affine(tau, dtype) for tau in taus]
        absent = self.class_counts_ == 0
        predictions = np.empty((taus.shape[0], F.shape[0]), dtype=np.intp)
        for rows in self._blocks(F):
            logits = _joint_logits(self, F, rows)
            for k, affine in enumerate(affines):
                scores = _affine(logits, *affine)
                scores[:, absent] = -np.inf
                predictions[k, rows] = np.argmax(scores, axis=1)
        return predictions


def _joint_logits(head, F, rows=None):
    """``F[rows] @ joint_coef_.T + joint_intercept_`` (CSR rows stay sparse)."""
    block = F if rows is None else F[rows]
    logits = np.asarray(block @ head.joint_coef_.T)
    logits += head.joint_intercept_
    return logits


@validate_params(
    {
        "head": [HasMethods(["fit", "predict"])],
        "F": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "taus": ["array-like"],
        "metric": [callable, None],
    },
    prefer_skip_nested_validation=True,
)
def tau_path(head, F, y, taus, *, metric=None):
    r"""Score a fitted tau-norm or logit-adjusted head for every value of ``tau``.

    Both heads' class scores are the joint classifier's logits under a
    per-class transform of ``tau``: tau-normalisation scales the logits
    (bias dropped), :math:`z_j \lVert w_j\rVert^{-\tau}`, and post-hoc logit
    adjustment shifts them, :math:`z_j - \tau\log\pi_j`. So the logits are
    computed once and each ``tau`` costs only a rescaling and an ``argmax``,
    instead of a full ``fit`` + ``predict`` per value as in
    :class:`~sklearn.model_selection.GridSearchCV`. Use it on a balanced
    validation split, never on the test split.

    Parameters
    ----------
    head : TauNormHead or LogitAdjustedHead
        A fitted head; its own ``tau`` does not matter.
    F : {array-like, sparse matrix} of shape (n_samples, n_features)
        Validation features. A CSR matrix is multiplied without densifying
        it; when the head has a ``device``, a tensor (or an array, moved
        block by block) is scored on that device and only the predictions
        come back to the host.
    y : array-like of shape (n_samples,)
        Validation labels, all in ``head.classes_``.
    taus : array-like of shape (n_taus,)
        Non-negative values of ``tau`` to score.
    metric : callable or None, default=None
        ``metric(y_true, y_pred) -> float``, higher is better. It receives the
        labels encoded as integer positions in ``head.classes_``. None is
        balanced accuracy (the mean recall over the classes present in ``y``,
        as :func:`~sklearn.metrics.balanced_accuracy_score`), computed directly
        from counts.

    Returns
    -------
    scores : ndarray of shape (n_taus,)
        ``metric`` of the head's predictions for each ``tau``: the same numbers
        as ``head.set_params(tau=t).fit(...)`` then ``predict(F)``.

    See Also
    --------
    TauNormHead, LogitAdjustedHead

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import TauNormHead, tau_path
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 12])
    >>> F = rng.normal(size=(372, 3)) + 2.0 * np.eye(3)[y]
    >>> head = TauNormHead().fit(F, y)
    >>> y_val = np.repeat([0, 1, 2], 50)
    >>> F_val = rng.normal(size=(150, 3)) + 2.0 * np.eye(3)[y_val]
    >>> taus = np.linspace(0.0, 2.0, 21)
    >>> scores = tau_path(head, F_val, y_val, taus)
    >>> scores.shape
    (21,)
    >>> best_tau = taus[np.argmax(scores)]
    """
    check_is_fitted(head)
    if not isinstance(head, TauFamilyMixin):
        raise TypeError(
            "tau_path needs a fitted TauNormHead or LogitAdjustedHead, got "
            f"{type(head).__name__}."
        )
    taus = check_taus(taus)
    F = head._validated(F)
    y = column_or_1d(_host(y), warn=True)
    if y.shape[0] != F.shape[0]:
        raise ValueError(
            f"F and y have inconsistent numbers of samples: {F.shape[0]} and "
            f"{y.shape[0]}."
        )
    _, y_encoded = _encode_labels(y, head.classes_)
    if metric is None:
        metric = _balanced_accuracy(y_encoded, head.classes_.shape[0])
    predictions = head._path_predictions(F, taus)
    scores = [metric(y_encoded, y_pred) for y_pred in predictions]
    return np.asarray(scores, dtype=np.float64)


def _balanced_accuracy(y_true, n_classes):
    """Balanced accuracy against fixed ``y_true``, as a fast two-argument metric."""
    support = np.bincount(y_true, minlength=n_classes)
    present = support > 0

    def metric(y_true, y_pred):
        hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
        return float(np.mean(hits[present] / support[present]))

    return metric
