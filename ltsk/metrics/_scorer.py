"""A scikit-learn scorer for many-, medium-, few-shot or overall accuracy."""

from sklearn.metrics import make_scorer
from sklearn.utils._param_validation import StrOptions, validate_params

from ltsk.metrics._docstrings import fill_shot_doc
from ltsk.metrics._shot import (
    SHOT_CONSTRAINTS,
    SHOT_GROUPS,
    _check_thresholds,
    _check_train_counts,
    shot_accuracy,
)


def _shot_score(y_true, y_pred, *, group, train_counts, labels, many, few):
    scores = shot_accuracy(
        y_true, y_pred, train_counts=train_counts, labels=labels, many=many, few=few
    )
    return scores[group]


@fill_shot_doc
@validate_params(
    {"group": [StrOptions(set(SHOT_GROUPS))], **SHOT_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def make_shot_scorer(group="all", *, train_counts, labels=None, many=100, few=20):
    """Make a scorer from one group of :func:`shot_accuracy`.

    Parameters
    ----------
    group : {"all", "many", "medium", "few"}, default="all"
        Which mean per-class accuracy to return; ``"all"`` is the balanced
        accuracy over every class.
    train_counts : dict or array-like of shape (n_classes,)
        Training samples per class over the whole training set (not a
        cross-validation fold), as in :func:`shot_accuracy`.
    labels : array-like of shape (n_classes,), default=None
        The label of each count when ``train_counts`` is an array.
    %(many)s
    %(few)s

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, greater is better, usable as ``scoring``
        in :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_val_score`.

    See Also
    --------
    shot_accuracy : The metric behind the scorer.

    Notes
    -----
    The groups are fixed by ``train_counts`` once, so every fold scores the
    same classes in the same group even when a fold lacks a tail class. A
    validation fold with no sample of the chosen group scores ``nan``, which
    scikit-learn's searches report with a warning; prefer ``group="all"`` or
    folds large enough to hold every group.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from ltsk.datasets import load_digits_lt
    >>> from ltsk.metrics import make_shot_scorer
    >>> X_train, X_test, y_train, y_test = load_digits_lt()
    >>> labels, counts = np.unique(y_train, return_counts=True)
    >>> scorer = make_shot_scorer(
    ...     "few", train_counts=counts, labels=labels, many=60, few=20
    ... )
    >>> search = GridSearchCV(
    ...     KNeighborsClassifier(), {"n_neighbors": [1, 25]}, scoring=scorer, cv=3
    ... ).fit(X_train, y_train)
    >>> search.best_params_
    {'n_neighbors': 1}
    >>> 0.0 <= scorer(search, X_test, y_test) <= 1.0
    True
    """
    _check_thresholds(many, few)
    _check_train_counts(train_counts, labels)
    return make_scorer(
        _shot_score,
        group=group,
        train_counts=train_counts,
        labels=labels,
        many=many,
        few=few,
    )
