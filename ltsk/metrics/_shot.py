"""Many-, medium- and few-shot accuracy (Liu et al., 2019; Kang et al., 2020)."""

from collections.abc import Mapping
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ltsk.metrics._docstrings import fill_shot_doc
from ltsk.utils._validation import check_class_counts

SHOT_GROUPS = ("many", "medium", "few", "all")

# Shared by every function that takes these parameters, so that the same
# mistake is worded the same way on every path.
SHOT_CONSTRAINTS = {
    "train_counts": [Mapping, "array-like"],
    "labels": ["array-like", None],
    "many": [Interval(Real, 0, None, closed="left")],
    "few": [Interval(Real, 0, None, closed="left")],
}


def _check_thresholds(many, few) -> None:
    if many < few:
        raise ValueError(
            "many must be >= few (the many-shot threshold cannot lie below the "
            f"few-shot one), got many={many!r} and few={few!r}."
        )


def _groups_of(counts: np.ndarray, many, few) -> np.ndarray:
    return np.where(counts > many, "many", np.where(counts < few, "few", "medium"))


def _check_train_counts(train_counts, labels):
    """Return ``(labels, counts)`` from a dict, or from counts plus ``labels``."""
    if isinstance(train_counts, Mapping):
        if labels is not None:
            raise ValueError(
                "labels must be None when train_counts is a dict: the dict keys "
                "are the labels."
            )
        labels = list(train_counts.keys())
        counts = check_class_counts(list(train_counts.values()), name="train_counts")
    else:
        if labels is None:
            raise ValueError(
                "train_counts given as an array needs labels=..., the label of "
                "each count (e.g. labels, counts = np.unique(y_train, "
                "return_counts=True)), or pass train_counts as a dict "
                "{label: count}."
            )
        counts = check_class_counts(train_counts, name="train_counts")
        labels = column_or_1d(labels).tolist()
        if len(labels) != counts.shape[0]:
            raise ValueError(
                f"train_counts has {counts.shape[0]} counts but labels has "
                f"{len(labels)} entries; they must match one to one."
            )
    if len(set(labels)) != len(labels):
        raise ValueError(f"The labels of train_counts must be unique, got {labels}.")
    return labels, counts


@fill_shot_doc
@validate_params(
    {key: SHOT_CONSTRAINTS[key] for key in ("train_counts", "many", "few")},
    prefer_skip_nested_validation=True,
)
def shot_groups(train_counts, *, many=100, few=20):
    """Assign each class to the many-, medium- or few-shot group.

    A class with :math:`n` training samples is "many" when :math:`n >` ``many``,
    "few" when :math:`n <` ``few`` and "medium" otherwise, so both thresholds
    belong to the medium group.

    Parameters
    ----------
    train_counts : dict or array-like of shape (n_classes,)
        Training samples per class, as ``{label: count}`` or as an array of
        counts.
    %(many)s
    few : float, default=20
        Classes with fewer than ``few`` training samples are few-shot. Must
        satisfy ``0 <= few <= many``.

    Returns
    -------
    groups : dict or ndarray of shape (n_classes,)
        ``{label: group}`` when ``train_counts`` is a dict, otherwise an array
        of the group names aligned with ``train_counts``.

    See Also
    --------
    shot_accuracy : Mean per-class accuracy of each group.

    Notes
    -----
    The defaults are the split of Liu et al. (2019), used by Kang et al.
    (2020): many-shot > 100, medium-shot 20-100, few-shot < 20 training
    images. Lower them for small data sets.

    References
    ----------
    .. [1] Z. Liu, Z. Miao, X. Zhan, J. Wang, B. Gong and S. X. Yu,
       "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019.
    .. [2] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Sec. 5.1.

    Examples
    --------
    >>> from ltsk.metrics import shot_groups
    >>> shot_groups([500, 101, 100, 20, 19])
    array(['many', 'many', 'medium', 'medium', 'few'], dtype='<U6')
    >>> shot_groups({"cat": 30, "owl": 3}, many=10, few=5)
    {'cat': 'many', 'owl': 'few'}
    """
    _check_thresholds(many, few)
    if isinstance(train_counts, Mapping):
        labels, counts = _check_train_counts(train_counts, None)
        groups = _groups_of(counts, many, few)
        return dict(zip(labels, groups.tolist(), strict=True))
    return _groups_of(check_class_counts(train_counts, name="train_counts"), many, few)


def _per_class_recall(y_true, y_pred, labels):
    """Recall of each label in ``labels``, NaN for those absent from ``y_true``.

    The one per-class accuracy behind :func:`shot_accuracy` and
    :class:`~ltsk.plotting.PerClassAccuracyDisplay`.
    """
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    kinds = {y_true.dtype.kind in "US", y_pred.dtype.kind in "US"}
    if len(kinds) == 2 and y_true.dtype != object and y_pred.dtype != object:
        raise ValueError(
            "y_true and y_pred hold different label types (strings and numbers: "
            f"{y_true.dtype} and {y_pred.dtype}); predictions would never match."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true must contain at least one sample, got none.")

    index = {label: i for i, label in enumerate(labels)}
    present, y_inverse = np.unique(y_true, return_inverse=True)
    unknown = [label for label in present.tolist() if label not in index]
    if unknown:
        raise ValueError(
            f"y_true contains labels {unknown} that are not in train_counts "
            f"(its labels are {list(labels)})."
        )
    y_code = np.array([index[label] for label in present.tolist()])[y_inverse]
    # object arrays compare element by element whatever the two label types
    correct = np.asarray(y_true, dtype=object) == np.asarray(y_pred, dtype=object)
    n_test = np.bincount(y_code, minlength=len(labels))
    n_correct = np.bincount(
        y_code, weights=correct.astype(np.float64), minlength=len(labels)
    )
    recall = np.full(len(labels), np.nan)
    np.divide(n_correct, n_test, out=recall, where=n_test > 0)
    return recall


@fill_shot_doc
@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], **SHOT_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def shot_accuracy(y_true, y_pred, *, train_counts, labels=None, many=100, few=20):
    r"""Mean per-class accuracy of the many-, medium- and few-shot classes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of the evaluation samples (any label type).
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_counts : dict or array-like of shape (n_classes,)
        Training samples per class, over the whole training set. Either a dict
        ``{label: count}``, or an array of counts together with ``labels``.
        Every label in ``y_true`` must appear here.
    labels : array-like of shape (n_classes,), default=None
        The label of each entry of ``train_counts`` when it is an array; must
        be None when it is a dict. Counts are never inferred from an array of
        training labels, since the two are easy to mix up.
    %(many)s
    few : float, default=20
        Classes with fewer than ``few`` training samples are few-shot; the
        others are medium-shot.

    Returns
    -------
    scores : dict
        ``{"many": ..., "medium": ..., "few": ..., "all": ...}``, each the mean
        of the per-class accuracies of the classes in that group; ``"all"``
        averages over every class (it is the balanced accuracy). A group with
        no class that has evaluation samples is ``nan``.

    See Also
    --------
    shot_groups : The group of each class.
    make_shot_scorer : The same numbers as a scorer for model selection.

    Notes
    -----
    The accuracy of class :math:`c` is its recall,

    .. math:: a_c = \frac{|\{i : y_i = c,\ \hat y_i = c\}|}{|\{i : y_i = c\}|},

    and the score of group :math:`G` is :math:`\frac{1}{|G|}\sum_{c \in G} a_c`
    over the classes of :math:`G` that occur in ``y_true``: classes with
    training samples but no evaluation samples are left out of every mean.
    On the balanced test sets of the long-tail benchmarks this equals the
    top-1 accuracy over the group's samples, as reported by Liu et al. (2019)
    and Kang et al. (2020).

    References
    ----------
    .. [1] Z. Liu et al., "Large-Scale Long-Tailed Recognition in an Open
       World", CVPR 2019.
    .. [2] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Sec. 5.1.

    Examples
    --------
    >>> from ltsk.metrics import shot_accuracy
    >>> y_true = ["a", "a", "b", "b", "c", "c"]
    >>> y_pred = ["a", "a", "b", "a", "a", "a"]
    >>> scores = shot_accuracy(
    ...     y_true, y_pred, train_counts={"a": 500, "b": 50, "c": 5}
    ... )
    >>> {group: round(value, 3) for group, value in scores.items()}
    {'many': 1.0, 'medium': 0.5, 'few': 0.0, 'all': 0.5}
    """
    _check_thresholds(many, few)
    class_labels, counts = _check_train_counts(train_counts, labels)
    recall = _per_class_recall(y_true, y_pred, class_labels)
    evaluated = ~np.isnan(recall)

    groups = _groups_of(counts, many, few)
    scores = {}
    for group in SHOT_GROUPS:
        members = evaluated if group == "all" else evaluated & (groups == group)
        scores[group] = float(recall[members].mean()) if members.any() else np.nan
    return scores
