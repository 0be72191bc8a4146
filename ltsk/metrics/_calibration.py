"""Expected calibration error, overall and per many/medium/few-shot group."""

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ltsk.metrics._docstrings import fill_shot_doc
from ltsk.metrics._shot import (
    SHOT_CONSTRAINTS,
    SHOT_GROUPS,
    _check_thresholds,
    _groups_of,
)
from ltsk.utils._validation import check_class_counts

_COMMON = {
    **SHOT_CONSTRAINTS,
    "train_counts": [Mapping, "array-like", None],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
}


def _check_proba(y_true, y_proba, labels):
    """Validate and return ``(y_code, y_proba, labels)``; columns follow labels."""
    y_true = column_or_1d(y_true)
    y_proba = check_array(y_proba, dtype=np.float64, input_name="y_proba")
    check_consistent_length(y_true, y_proba)
    if y_true.shape[0] == 0:
        raise ValueError("y_true must contain at least one sample, got none.")
    if labels is None:
        labels = np.unique(y_true)
        if labels.shape[0] != y_proba.shape[1]:
            raise ValueError(
                f"y_proba has {y_proba.shape[1]} columns but y_true holds "
                f"{labels.shape[0]} classes; pass labels=..., the class of each "
                "column (the classifier's classes_)."
            )
    else:
        labels = column_or_1d(labels)
        if labels.shape[0] != y_proba.shape[1]:
            raise ValueError(
                f"labels has {labels.shape[0]} entries but y_proba has "
                f"{y_proba.shape[1]} columns; give one label per column."
            )
    if np.any(y_proba < 0) or np.any(y_proba > 1):
        raise ValueError("y_proba must hold probabilities in [0, 1].")
    index = {label: i for i, label in enumerate(labels.tolist())}
    if len(index) != labels.shape[0]:
        raise ValueError(f"labels must be unique, got {labels.tolist()}.")
    unknown = sorted(
        {label for label in y_true.tolist() if label not in index}, key=str
    )
    if unknown:
        raise ValueError(
            f"y_true contains labels {unknown} that are not among the columns "
            f"of y_proba (labels {labels.tolist()})."
        )
    y_code = np.array([index[label] for label in y_true.tolist()], dtype=np.intp)
    return y_code, y_proba, labels


def _counts_by_column(train_counts, labels):
    """Training count of each column's class."""
    if isinstance(train_counts, Mapping):
        missing = [label for label in labels.tolist() if label not in train_counts]
        if missing:
            raise ValueError(
                f"train_counts has no count for the classes {missing} of y_proba."
            )
        values = [train_counts[label] for label in labels.tolist()]
        return check_class_counts(values, name="train_counts")
    counts = check_class_counts(train_counts, name="train_counts")
    if counts.shape[0] != labels.shape[0]:
        raise ValueError(
            f"train_counts has {counts.shape[0]} counts but y_proba has "
            f"{labels.shape[0]} columns; an array of counts gives one per column "
            "(or pass a dict {label: count})."
        )
    return counts


def reliability_bins(y_code, y_proba, n_bins):
    """Per-bin statistics of the top-label confidence.

    Returns ``(confidence, accuracy, count)``, each of shape (n_bins,); empty
    bins have NaN confidence and accuracy and count 0.
    """
    confidence = y_proba.max(axis=1)
    correct = (np.argmax(y_proba, axis=1) == y_code).astype(np.float64)
    # Bins (k/M, (k+1)/M], the first one closed at 0.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return mean_conf, mean_acc, count


def _ece(y_code, y_proba, n_bins):
    confidence, accuracy, count = reliability_bins(y_code, y_proba, n_bins)
    filled = count > 0
    gaps = np.abs(accuracy[filled] - confidence[filled])
    return float(np.sum(count[filled] * gaps) / count.sum())


@fill_shot_doc
@validate_params(
    {"y_true": ["array-like"], "y_proba": ["array-like"], **_COMMON},
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(
    y_true, y_proba, *, train_counts=None, labels=None, n_bins=15, many=100, few=20
):
    r"""Expected calibration error of the top-label confidence.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, one column per class (``predict_proba``).
    train_counts : dict or array-like of shape (n_classes,), default=None
        Training samples per class: a dict ``{label: count}`` or one count per
        column of ``y_proba``. When given, the error is also computed on the
        samples of the many-, medium- and few-shot classes separately.
    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_proba`` (the classifier's
        ``classes_``). When None, the sorted labels of ``y_true``, which must
        then hold every class.
    %(n_bins)s
    %(many)s
    %(few)s

    Returns
    -------
    ece : float or dict
        The error over all samples; with ``train_counts``, a dict
        ``{"many", "medium", "few", "all"}`` where each group's error is
        computed on the samples whose true class is in the group (``nan`` for
        a group without samples).

    See Also
    --------
    make_calibration_scorer : The same number as a scorer.
    ltsk.plotting.ReliabilityDisplay : The reliability diagram behind it.
    sklearn.calibration.CalibratedClassifierCV : Repairs it (temperature
        scaling with ``method="temperature"``).

    Notes
    -----
    With the confidence :math:`c_i = \max_k \hat p_{ik}`, the prediction
    :math:`\hat y_i = \arg\max_k \hat p_{ik}` and the bins
    :math:`B_m = \{i : c_i \in (\frac{m-1}{M}, \frac{m}{M}]\}` (the first bin
    also holds :math:`c_i = 0`),

    .. math::

        \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}
        \left| \frac{1}{|B_m|} \sum_{i \in B_m} [\hat y_i = y_i]
        - \frac{1}{|B_m|} \sum_{i \in B_m} c_i \right|,

    the estimator of Guo et al. (2017) with :math:`M = 15` bins, as reported
    for long-tailed recognition by Zhong et al. (2021). A group's error is the
    same sum over the samples of that group's classes alone (their own bins).
    Re-balancing (a balanced head, logit adjustment) moves probability mass
    to the tail classes, which typically makes the many-shot classes
    under-confident and the few-shot ones over-confident; the per-group
    numbers show it where the overall one averages it away.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017, Eq. (3).
    .. [2] Z. Zhong, J. Cui, S. Liu and J. Jia, "Improving Calibration for
       Long-Tailed Recognition", CVPR 2021.

    Examples
    --------
    >>> from ltsk.metrics import expected_calibration_error
    >>> y_true = [0, 0, 1, 1]
    >>> y_proba = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]]
    >>> round(expected_calibration_error(y_true, y_proba, n_bins=5), 4)
    0.25
    >>> ece = expected_calibration_error(
    ...     y_true, y_proba, train_counts={0: 200, 1: 5}, n_bins=5
    ... )
    >>> {group: round(value, 3) for group, value in ece.items()}
    {'many': 0.25, 'medium': nan, 'few': 0.25, 'all': 0.25}
    """
    _check_thresholds(many, few)
    y_code, y_proba, labels = _check_proba(y_true, y_proba, labels)
    if train_counts is None:
        return _ece(y_code, y_proba, n_bins)
    groups = _groups_of(_counts_by_column(train_counts, labels), many, few)
    sample_groups = groups[y_code]
    scores = {}
    for group in SHOT_GROUPS:
        members = slice(None) if group == "all" else sample_groups == group
        if group != "all" and not np.any(members):
            scores[group] = np.nan
            continue
        scores[group] = _ece(y_code[members], y_proba[members], n_bins)
    return scores


class _CalibrationScorer:
    """``scorer(estimator, X, y)``: minus the ECE of ``estimator.predict_proba``."""

    def __init__(self, group, train_counts, n_bins, many, few):
        self.group = group
        self.train_counts = train_counts
        self.n_bins = n_bins
        self.many = many
        self.few = few

    def __call__(self, estimator, X, y_true, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "the calibration scorer does not support sample_weight; the "
                "expected calibration error counts every sample once."
            )
        proba = estimator.predict_proba(X)
        train_counts = self.train_counts
        if self.group != "all" and train_counts is None:
            raise ValueError(f"group={self.group!r} needs train_counts.")
        ece = expected_calibration_error(
            y_true,
            proba,
            labels=estimator.classes_,
            train_counts=train_counts,
            n_bins=self.n_bins,
            many=self.many,
            few=self.few,
        )
        return -(ece[self.group] if isinstance(ece, dict) else ece)

    def __repr__(self):
        return f"make_calibration_scorer(group={self.group!r}, n_bins={self.n_bins})"


@fill_shot_doc
@validate_params(
    {
        "group": [StrOptions(set(SHOT_GROUPS))],
        "train_counts": [Mapping, None],
        "n_bins": _COMMON["n_bins"],
        "many": _COMMON["many"],
        "few": _COMMON["few"],
    },
    prefer_skip_nested_validation=True,
)
def make_calibration_scorer(
    group="all", *, train_counts=None, n_bins=15, many=100, few=20
):
    """Make a scorer of the expected calibration error (greater is better).

    Parameters
    ----------
    group : {"all", "many", "medium", "few"}, default="all"
        Which error to return; a group other than ``"all"`` needs
        ``train_counts``.
    train_counts : dict, default=None
        Training samples per class ``{label: count}``, over the whole
        training set (not a cross-validation fold).
    %(n_bins)s
    %(many)s
    %(few)s

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returning minus
        :func:`expected_calibration_error` of ``estimator.predict_proba(X)``
        (columns in ``estimator.classes_`` order), for ``scoring`` in
        :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_val_score`.

    See Also
    --------
    expected_calibration_error : The metric behind the scorer.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from ltsk.datasets import load_digits_lt
    >>> from ltsk.metrics import make_calibration_scorer
    >>> X_train, X_test, y_train, y_test = load_digits_lt()
    >>> clf = LogisticRegression(max_iter=2000).fit(X_train / 16, y_train)
    >>> scorer = make_calibration_scorer()
    >>> -1.0 <= scorer(clf, X_test / 16, y_test) <= 0.0
    True
    """
    _check_thresholds(many, few)
    if group != "all" and train_counts is None:
        raise ValueError(
            f"group={group!r} needs train_counts={{label: count}} to know the "
            "classes of the group."
        )
    return _CalibrationScorer(group, train_counts, n_bins, many, few)
