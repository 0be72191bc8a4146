"""Helpers shared by the Display objects: matplotlib import, estimator access.

matplotlib is imported inside :func:`_get_axes` only, so ``import ltsk.plotting``
and building a Display from precomputed values work without it.
"""

from collections.abc import Mapping

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ltsk.metrics._docstrings import SHARED_SHOT_DOC
from ltsk.metrics._shot import _check_train_counts
from ltsk.utils._docstrings import docstring_filler


def _get_axes(ax, caller: str):
    """Return ``(ax, figure)``, making a new figure when ``ax`` is None."""
    check_matplotlib_support(caller)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax, ax.figure


def _as_named(value, *, name, default_name, param, kind):
    """Turn one ``value`` or a dict ``{method name: value}`` into a dict.

    ``name`` labels a single value; it must be None with a dict, whose keys are
    the names.
    """
    if isinstance(value, Mapping):
        if name is not None:
            raise ValueError(
                f"name must be None when {param} is a dict: the dict keys name "
                f"the methods, got name={name!r}."
            )
        if len(value) == 0:
            raise ValueError(
                f"{param} must be a {kind} or a non-empty dict {{method name: "
                f"{kind}}}, got an empty dict."
            )
        named = {str(key): item for key, item in value.items()}
        if len(named) != len(value):
            raise ValueError(
                f"the keys of {param} must stay distinct as strings (they label "
                f"the methods), got {list(value)}."
            )
        return named
    return {default_name if name is None else str(name): value}


def _check_fitted(estimator, param: str = "estimator"):
    """check_is_fitted, with a TypeError naming ``param`` for non-estimators."""
    if not hasattr(estimator, "fit"):
        raise TypeError(
            f"{param} must be a fitted scikit-learn estimator, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)


def _classifier_part(estimator):
    """The fitted object holding ``classes_``/``coef_``/``class_counts_``.

    A :class:`~ltsk.DecoupledClassifier` keeps them on its head (``head_``);
    nets and heads carry them directly.
    """
    head = getattr(estimator, "head_", None)
    return estimator if head is None else head


def _estimator_train_counts(estimator, param: str = "estimator"):
    """``(labels, counts)`` from a fitted estimator's ``class_counts_``."""
    part = _classifier_part(estimator)
    counts = getattr(part, "class_counts_", None)
    classes = getattr(part, "classes_", None)
    if counts is None or classes is None:
        raise ValueError(
            f"train_counts is None and {param} ({type(estimator).__name__}) has no "
            "class_counts_ to take it from; pass train_counts={label: count} "
            "with the training count of each class."
        )
    labels, counts = _check_train_counts(np.asarray(counts), np.asarray(classes))
    return list(labels), counts


def _shared_train_counts(estimators):
    """``(labels, counts)`` common to the fitted estimators of a ``{name: est}`` dict.

    Methods compared on one plot must share one training set; estimators whose
    ``class_counts_`` disagree are an error rather than a silent pick.
    """
    (first_name, first), *rest = estimators.items()
    labels, counts = _estimator_train_counts(first, f"estimator {first_name!r}")
    for other_name, other in rest:
        other_labels, other_counts = _estimator_train_counts(
            other, f"estimator {other_name!r}"
        )
        if other_labels != labels or not np.array_equal(other_counts, counts):
            raise ValueError(
                f"train_counts is None but the estimators {first_name!r} and "
                f"{other_name!r} have different class_counts_ (trained on "
                "different data?); pass train_counts explicitly."
            )
    return labels, counts


def _train_counts(train_counts, labels):
    """``(labels, counts)`` from a dict, or from counts plus ``labels``."""
    labels, counts = _check_train_counts(train_counts, labels)
    return list(labels), counts


def _estimator_name(estimator) -> str:
    """Legend name of an estimator; a decoupled classifier is named by its head."""
    return type(_classifier_part(estimator)).__name__


def _check_labels(labels, counts):
    """``labels`` as an array with one entry per class of ``counts`` (or None)."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != counts.shape:
        raise ValueError(
            f"labels must have one entry per class ({counts.shape[0]}), "
            f"got shape {labels.shape}."
        )
    return labels


class _BaseDisplay:
    """The plumbing of the Display classes: axes, fitted estimators, methods."""

    def _set_axes(self, ax):
        """Set ``ax_`` and ``figure_``, making a new figure when ``ax`` is None."""
        self.ax_, self.figure_ = _get_axes(ax, f"{type(self).__name__}.plot")

    @classmethod
    def _check_estimator(cls, estimator):
        """Fail before computing: matplotlib is missing or ``estimator`` unfitted."""
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_fitted(estimator)

    @staticmethod
    def _named_predictions(y_pred, name):
        """``{method name: predicted labels}`` from one array or a dict."""
        return _as_named(
            y_pred,
            name=name,
            default_name="Classifier",
            param="y_pred",
            kind="label array",
        )

    @classmethod
    def _estimators_predictions(cls, estimator, X, *, name, train_counts, labels):
        """``(predictions, train_counts, labels)`` of one or a dict of estimators.

        ``predictions`` is ``{method name: estimator.predict(X)}``; when
        ``train_counts`` is None, it and ``labels`` come from the estimators'
        ``class_counts_``, which must agree.
        """
        # fail before computing
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        estimators = _as_named(
            estimator,
            name=name,
            default_name=_estimator_name(estimator),
            param="estimator",
            kind="fitted classifier",
        )
        for est in estimators.values():
            _check_fitted(est)
        if train_counts is None:
            labels, train_counts = _shared_train_counts(estimators)
        predictions = {method: est.predict(X) for method, est in estimators.items()}
        return predictions, train_counts, labels


fill_plot_doc = docstring_filler(
    {
        **SHARED_SHOT_DOC,
        "ax": """\
ax : matplotlib.axes.Axes, default={default}
    Axes to draw on; a new figure is made when None.""",
    }
)
