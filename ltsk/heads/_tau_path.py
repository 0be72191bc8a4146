"""Score a tau-family head for a whole grid of tau with one matrix product."""

import numpy as np
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ltsk.heads._base import _DTYPES, _encode_labels


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
    F : array-like of shape (n_samples, n_features)
        Validation features.
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
    terms = getattr(head, "_path_terms", None)
    if terms is None:
        raise TypeError(
            "tau_path needs a fitted TauNormHead or LogitAdjustedHead, got "
            f"{type(head).__name__}."
        )
    taus = np.asarray(taus, dtype=np.float64)
    if taus.ndim != 1 or taus.size == 0:
        raise ValueError(f"taus must be a non-empty 1-D array, got shape {taus.shape}.")
    if not np.all(np.isfinite(taus)) or np.any(taus < 0):
        raise ValueError(f"taus must be finite and >= 0, got {taus.tolist()}.")
    F = validate_data(head, F, reset=False, dtype=_DTYPES)
    y = column_or_1d(y, warn=True)
    if y.shape[0] != F.shape[0]:
        raise ValueError(
            f"F and y have inconsistent numbers of samples: {F.shape[0]} and "
            f"{y.shape[0]}."
        )
    _, y_encoded = _encode_labels(y, head.classes_)

    coef, intercept, scale_of, shift_of = terms
    logits = F @ coef.T
    logits += intercept
    absent = head.class_counts_ == 0
    if metric is None:
        metric = _balanced_accuracy(y_encoded, head.classes_.shape[0])
    scores = np.empty(taus.shape[0])
    buffer = np.empty_like(logits)
    for k, tau in enumerate(taus):
        # The heads' own functions of tau, so a tau the head refuses is refused
        # here with the same error.
        if scale_of is not None:
            np.multiply(logits, scale_of(tau).astype(logits.dtype), out=buffer)
        else:
            np.add(logits, shift_of(tau).astype(logits.dtype), out=buffer)
        buffer[:, absent] = -np.inf
        scores[k] = metric(y_encoded, np.argmax(buffer, axis=1))
    return scores


def _balanced_accuracy(y_true, n_classes):
    """Balanced accuracy against fixed ``y_true``, as a fast two-argument metric."""
    support = np.bincount(y_true, minlength=n_classes)
    present = support > 0

    def metric(y_true, y_pred):
        hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
        return float(np.mean(hits[present] / support[present]))

    return metric
