"""Grouped bars of many-, medium- and few-shot accuracy, methods side by side."""

from collections.abc import Mapping

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ltsk.metrics import shot_accuracy
from ltsk.metrics._shot import (
    SHOT_GROUPS,
    _check_train_counts,
    _groups_of,
    _per_class_recall,
)
from ltsk.plotting._base import (
    _BaseDisplay,
    fill_plot_doc,
)

_GROUP_TITLES = ("Many", "Medium", "Few", "All")
# Fraction of each group's slot taken by its bars together.
_GROUP_WIDTH = 0.8


def _check_n_classes(n_classes):
    """Return the classes per group as an int array of shape (4,)."""
    if isinstance(n_classes, Mapping):
        missing = [g for g in SHOT_GROUPS if g not in n_classes]
        if missing:
            raise ValueError(
                f"n_classes needs the keys {list(SHOT_GROUPS)}; missing {missing}."
            )
        n_classes = [n_classes[g] for g in SHOT_GROUPS]
    sizes = np.asarray(n_classes)
    if (
        sizes.shape != (len(SHOT_GROUPS),)
        or sizes.dtype.kind not in "iuf"
        or np.any(sizes < 0)
        or np.any(sizes != np.round(sizes))
    ):
        raise ValueError(
            "n_classes must hold 4 non-negative whole numbers (many, medium, few, "
            f"all), got {n_classes!r}."
        )
    return sizes.astype(np.int64)


def _evaluated_group_sizes(y_true, train_counts, labels, many, few):
    """Classes of each group that occur in ``y_true``: those its score averages."""
    class_labels, counts = _check_train_counts(train_counts, labels)
    evaluated = ~np.isnan(_per_class_recall(y_true, y_true, class_labels))
    groups = _groups_of(counts, many, few)
    return [
        int(np.count_nonzero(evaluated if g == "all" else evaluated & (groups == g)))
        for g in SHOT_GROUPS
    ]


def _check_scores(scores, n_methods):
    """Return the scores as an array of shape (n_methods, 4), groups in order."""
    if isinstance(scores, Mapping):
        scores = [scores]
    rows = []
    for row in scores:
        if isinstance(row, Mapping):
            missing = [g for g in SHOT_GROUPS if g not in row]
            if missing:
                raise ValueError(
                    f"each scores dict needs the keys {list(SHOT_GROUPS)} (as "
                    f"returned by ltsk.metrics.shot_accuracy); missing {missing}."
                )
            row = [row[g] for g in SHOT_GROUPS]
        rows.append(row)
    try:
        table = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "scores must be shot_accuracy dicts or an array of shape "
            "(n_methods, 4) of accuracies."
        ) from exc
    if table.ndim != 2 or table.shape != (n_methods, len(SHOT_GROUPS)):
        raise ValueError(
            f"scores must hold one row of {len(SHOT_GROUPS)} group accuracies "
            f"(many, medium, few, all) per method ({n_methods} method_names), got "
            f"shape {table.shape}."
        )
    valid = np.isnan(table) | ((table >= 0) & (table <= 1))
    if not np.all(valid):
        raise ValueError(
            f"scores must be accuracies in [0, 1] (or NaN for an empty group), "
            f"got {table.tolist()}."
        )
    return table


class ShotAccuracyDisplay(_BaseDisplay):
    r"""Grouped bars of many-, medium-, few-shot and overall accuracy.

    One group of bars per shot group (Many, Medium, Few, All) and one bar per
    method within each group, so methods sit side by side as in the tables of
    Kang et al. (2020). A group without any evaluated class (NaN score) is
    drawn as an empty slot marked "n/a".

    Build it with :meth:`from_predictions` or :meth:`from_estimator`, or from
    precomputed scores. The values are validated when the display is built;
    matplotlib is only needed by :meth:`plot`.

    Parameters
    ----------
    scores : list of dict or array-like of shape (n_methods, 4)
        Per method, the ``{"many", "medium", "few", "all"}`` dict returned by
        :func:`ltsk.metrics.shot_accuracy`, or the four accuracies in that
        order. A single dict is one method. Stored as an array of shape
        (n_methods, 4).
    method_names : list of str
        Name of each method (legend labels), aligned with ``scores``.
    n_classes : dict or array-like of shape (4,), default=None
        How many classes each group's score averages, as ``{"many": ...,
        "medium": ..., "few": ..., "all": ...}`` or in that order; written
        under each group's name (``"Few\n(3 classes)"``). ``from_predictions``
        and ``from_estimator`` fill it in: the classes of the group that occur
        in ``y_true``. None writes the names alone. Stored as an int array.

    Attributes
    ----------
    bars_ : list of matplotlib.container.BarContainer
        One container per method, with one bar per group (Many, Medium, Few,
        All). The bar of a NaN group has height 0.
    na_texts_ : list of matplotlib.text.Text
        The "n/a" notes drawn over the NaN groups.
    ax_ : matplotlib.axes.Axes
        Axes with the bars.
    figure_ : matplotlib.figure.Figure
        Figure containing the bars.

    See Also
    --------
    ltsk.metrics.shot_accuracy : The plotted scores.
    PerClassAccuracyDisplay : Accuracy of every class against its count.

    Notes
    -----
    The score of group :math:`G` is the mean recall of its classes,
    :math:`\frac{1}{|G|}\sum_{c \in G} a_c`, with many-shot classes having more
    than ``many`` and few-shot classes fewer than ``few`` training samples
    (Liu et al., 2019; Kang et al., 2020, Sec. 5.1). "All" is the mean over every
    class, i.e. the balanced accuracy.

    References
    ----------
    .. [1] Z. Liu et al., "Large-Scale Long-Tailed Recognition in an Open
       World", CVPR 2019.
    .. [2] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ltsk.plotting import ShotAccuracyDisplay
    >>> display = ShotAccuracyDisplay(
    ...     [[0.66, 0.38, 0.08, 0.44], [0.62, 0.46, 0.27, 0.50]],
    ...     method_names=["joint", "cRT"],
    ... )
    >>> display.plot()
    <...ShotAccuracyDisplay object at ...>
    >>> [float(bar.get_height()) for bar in display.bars_[1]]
    [0.62, 0.46, 0.27, 0.5]
    """

    def __init__(self, scores, *, method_names, n_classes=None):
        if isinstance(method_names, str) or not hasattr(method_names, "__len__"):
            raise TypeError(
                "method_names must be a list of names, one per method, got "
                f"{method_names!r}."
            )
        method_names = [str(m) for m in method_names]
        self.scores = _check_scores(scores, len(method_names))
        self.method_names = method_names
        self.n_classes = None if n_classes is None else _check_n_classes(n_classes)

    @fill_plot_doc
    def plot(self, *, ax=None, **kwargs):
        """Draw the grouped bars.

        Parameters
        ----------
        %(ax)s
        **kwargs : dict
            Passed to every :meth:`matplotlib.axes.Axes.bar` call.

        Returns
        -------
        display : ShotAccuracyDisplay
            The display, with ``bars_``, ``na_texts_``, ``ax_`` and ``figure_``
            set.
        """
        self._set_axes(ax)
        n_methods = len(self.method_names)
        width = _GROUP_WIDTH / n_methods
        groups = np.arange(len(SHOT_GROUPS), dtype=np.float64)
        self.bars_, self.na_texts_ = [], []
        for m, (method, row) in enumerate(
            zip(self.method_names, self.scores, strict=True)
        ):
            x = groups + (m - (n_methods - 1) / 2) * width
            missing = np.isnan(row)
            bars = self.ax_.bar(
                x, np.where(missing, 0.0, row), width, label=method, **kwargs
            )
            self.bars_.append(bars)
            for position in x[missing]:
                text = self.ax_.text(
                    position,
                    0.02,
                    "n/a",
                    ha="center",
                    va="bottom",
                    rotation=90 if n_methods > 3 else 0,
                    fontsize="small",
                )
                self.na_texts_.append(text)
        titles = list(_GROUP_TITLES)
        if self.n_classes is not None:
            titles = [
                f"{title}\n({n} {'class' if n == 1 else 'classes'})"
                for title, n in zip(titles, self.n_classes, strict=True)
            ]
        self.ax_.set_xticks(groups, titles)
        self.ax_.set(ylim=(0, 1.05), ylabel="Accuracy (mean per-class recall)")
        # above the axes: bars of high accuracy would hide under an inner legend
        self.ax_.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=min(n_methods, 4),
            frameon=False,
        )
        return self

    @classmethod
    @fill_plot_doc
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        train_counts,
        labels=None,
        many=100,
        few=20,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the shot accuracy of one or several methods' predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels of the evaluation samples.
        y_pred : array-like of shape (n_samples,) or dict
            Predicted labels, or a dict ``{method name: predicted labels}`` to
            put several methods side by side.
        train_counts : dict or array-like of shape (n_classes,)
            Training samples per class, ``{label: count}`` or counts with
            ``labels`` (see :func:`ltsk.metrics.shot_accuracy`).
        labels : array-like of shape (n_classes,), default=None
            Labels of ``train_counts`` when it is an array.
        %(many)s
        %(few)s
        name : str, default=None
            Name of the method when ``y_pred`` is one array ("Classifier" when
            None); must be None when ``y_pred`` is a dict.
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar`.

        Returns
        -------
        display : ShotAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from ltsk.plotting import ShotAccuracyDisplay
        >>> y_true = ["a", "a", "b", "b", "c", "c"]
        >>> display = ShotAccuracyDisplay.from_predictions(
        ...     y_true,
        ...     {"joint": ["a", "a", "a", "a", "a", "a"],
        ...      "balanced": ["a", "b", "b", "b", "c", "a"]},
        ...     train_counts={"a": 500, "b": 50, "c": 5},
        ... )
        >>> display.scores.tolist()
        [[1.0, 0.0, 0.0, 0.333...], [0.5, 1.0, 0.5, 0.666...]]
        """
        # fail before computing
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        predictions = cls._named_predictions(y_pred, name)
        scores = [
            shot_accuracy(
                y_true,
                pred,
                train_counts=train_counts,
                labels=labels,
                many=many,
                few=few,
            )
            for pred in predictions.values()
        ]
        display = cls(
            scores,
            method_names=list(predictions),
            n_classes=_evaluated_group_sizes(y_true, train_counts, labels, many, few),
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    @fill_plot_doc
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        train_counts=None,
        labels=None,
        many=100,
        few=20,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the shot accuracy of one or several fitted classifiers.

        Parameters
        ----------
        estimator : estimator instance or dict
            A fitted classifier, or a dict ``{method name: fitted classifier}``
            to put several methods side by side.
        X : array-like of shape (n_samples, n_features)
            Evaluation samples.
        y : array-like of shape (n_samples,)
            Their true labels.
        train_counts : dict or array-like of shape (n_classes,), default=None
            Training samples per class (see :meth:`from_predictions`). When
            None, taken from the estimators' ``class_counts_`` (ltsk heads and
            nets, and a ``DecoupledClassifier``'s head, have it), which must
            then agree.
        labels : array-like of shape (n_classes,), default=None
            Labels of ``train_counts`` when it is an array.
        %(many)s
        %(few)s
        name : str, default=None
            Name of a single estimator (its class name when None); must be None
            when ``estimator`` is a dict.
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar`.

        Returns
        -------
        display : ShotAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from ltsk.plotting import ShotAccuracyDisplay
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1, 2], [60, 25, 5])
        >>> X = rng.normal(size=(90, 2)) + 2 * y[:, None]
        >>> models = {
        ...     "plain": LogisticRegression().fit(X, y),
        ...     "balanced": LogisticRegression(class_weight="balanced").fit(X, y),
        ... }
        >>> display = ShotAccuracyDisplay.from_estimator(
        ...     models, X, y, train_counts={0: 60, 1: 25, 2: 5}, many=50, few=10
        ... )
        >>> display.method_names
        ['plain', 'balanced']
        """
        predictions, train_counts, labels = cls._estimators_predictions(
            estimator, X, name=name, train_counts=train_counts, labels=labels
        )
        return cls.from_predictions(
            y,
            predictions,
            train_counts=train_counts,
            labels=labels,
            many=many,
            few=few,
            ax=ax,
            **kwargs,
        )
