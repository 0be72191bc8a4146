"""Per-class accuracy (recall) against the class's training count, log x-axis."""

import warnings

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ltsk.metrics._shot import _per_class_recall
from ltsk.plotting._base import (
    _BaseDisplay,
    _check_labels,
    _train_counts,
    fill_plot_doc,
)
from ltsk.utils._validation import check_class_counts


class PerClassAccuracyDisplay(_BaseDisplay):
    r"""Accuracy (recall) of every class against its training count.

    Each method is a curve through its per-class accuracies, classes ordered by
    training count on a logarithmic x-axis: under plain training the accuracy
    rises with the count, and re-balancing lifts the tail. Several methods are
    overlaid on one axes. Classes with the same training count (common in a
    data set of 1000 classes) make one point of the curve, their mean, and
    each is shown as a faint dot around it, so the curve never joins two
    classes of the same count by a segment that only reflects their order.

    Build it with :meth:`from_predictions` or :meth:`from_estimator`, or from
    precomputed accuracies. The values are validated when the display is
    built; matplotlib is only needed by :meth:`plot`.

    Parameters
    ----------
    accuracies : array-like of shape (n_methods, n_classes) or (n_classes,)
        Recall of each class per method, NaN for a class without evaluation
        samples. Stored as a 2-D array.
    train_counts : array-like of shape (n_classes,)
        Training samples of each class, aligned with the columns of
        ``accuracies``.
    labels : array-like of shape (n_classes,), default=None
        Class labels aligned with ``train_counts``.
    method_names : list of str, default=None
        Legend label of each method; no legend when None.

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        One curve per method; x data are the distinct training counts in
        increasing order, y data the mean accuracy of the classes with that
        count (the class's own accuracy when its count is unique). Classes
        with NaN accuracy or a zero training count (which a log axis cannot
        show; a warning names them) are left out of the curves.
    points_ : list of matplotlib.collections.PathCollection
        For each method whose classes share training counts, one faint dot
        per class that shares its count with another (the spread around the
        mean); empty when every count is distinct.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    figure_ : matplotlib.figure.Figure
        Figure containing the curves.

    See Also
    --------
    ShotAccuracyDisplay : The same accuracies averaged by shot group.
    WeightNormDisplay : Classifier weight norms against training count.

    Notes
    -----
    The accuracy of class :math:`c` is its recall,

    .. math:: a_c = \frac{|\{i : y_i = c,\ \hat y_i = c\}|}{|\{i : y_i = c\}|},

    the per-class quantity that :func:`ltsk.metrics.shot_accuracy` averages
    over the many-, medium- and few-shot groups (Kang et al., 2020, Sec. 5.1).

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ltsk.plotting import PerClassAccuracyDisplay
    >>> display = PerClassAccuracyDisplay(
    ...     [[0.9, 0.2, 0.6]], [500, 5, 50], method_names=["joint"]
    ... )
    >>> display.plot()
    <...PerClassAccuracyDisplay object at ...>
    >>> display.lines_[0].get_xdata().tolist(), display.ax_.get_xscale()
    ([5.0, 50.0, 500.0], 'log')
    """

    def __init__(self, accuracies, train_counts, *, labels=None, method_names=None):
        counts = check_class_counts(train_counts, name="train_counts")
        try:
            acc = np.asarray(accuracies, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "accuracies must be an array-like of numbers of shape "
                "(n_methods, n_classes)."
            ) from exc
        if acc.ndim == 1:
            acc = acc[np.newaxis, :]
        if acc.ndim != 2 or acc.shape[1] != counts.shape[0]:
            raise ValueError(
                "accuracies must have shape (n_methods, n_classes) with one "
                f"column per class of train_counts ({counts.shape[0]}), got "
                f"shape {np.shape(accuracies)}."
            )
        if not np.all(np.isnan(acc) | ((acc >= 0) & (acc <= 1))):
            raise ValueError(
                f"accuracies must lie in [0, 1] (or be NaN), got {acc.tolist()}."
            )
        labels = _check_labels(labels, counts)
        if method_names is not None:
            if isinstance(method_names, str) or len(method_names) != acc.shape[0]:
                raise ValueError(
                    f"method_names must be a list with one name per method "
                    f"({acc.shape[0]}), got {method_names!r}."
                )
            method_names = [str(m) for m in method_names]
        self.accuracies = acc
        self.train_counts = counts
        self.labels = labels
        self.method_names = method_names

    @fill_plot_doc
    def plot(self, *, ax=None, **kwargs):
        """Draw one curve per method on a log-scaled training-count axis.

        Parameters
        ----------
        %(ax)s
        **kwargs : dict
            Passed to every :meth:`matplotlib.axes.Axes.plot` call.

        Returns
        -------
        display : PerClassAccuracyDisplay
            The display, with ``lines_``, ``points_``, ``ax_`` and ``figure_``
            set.
        """
        self._set_axes(ax)
        unplaceable = self.train_counts <= 0
        if np.any(unplaceable):
            which = (
                np.flatnonzero(unplaceable)
                if self.labels is None
                else self.labels[unplaceable]
            )
            warnings.warn(
                f"Classes {which.tolist()} have no training samples and cannot be "
                "placed on the log-scaled count axis; they are not drawn.",
                UserWarning,
                stacklevel=2,
            )
        names = self.method_names or [None] * self.accuracies.shape[0]
        self.lines_, self.points_ = [], []
        for name, acc in zip(names, self.accuracies, strict=True):
            keep = ~unplaceable & ~np.isnan(acc)
            counts, inverse, tied = np.unique(
                self.train_counts[keep], return_inverse=True, return_counts=True
            )
            # One point per distinct count: a segment between two classes of the
            # same count would draw a trend that is only their listing order.
            mean = np.bincount(inverse, weights=acc[keep]) / tied
            line_kwargs = {"marker": "o", "markersize": 3, "linewidth": 1, **kwargs}
            if name is not None:
                line_kwargs.setdefault("label", name)
            (line,) = self.ax_.plot(counts, mean, **line_kwargs)
            self.lines_.append(line)
            if np.any(tied > 1):
                shared = tied[inverse] > 1
                self.points_.append(
                    self.ax_.scatter(
                        self.train_counts[keep][shared],
                        acc[keep][shared],
                        s=6,
                        color=line.get_color(),
                        alpha=0.35,
                        linewidths=0,
                    )
                )
        self.ax_.set_xscale("log")
        self.ax_.set(
            xlabel="Training samples of the class (log scale)",
            ylabel="Per-class accuracy (recall)",
            ylim=(-0.02, 1.02),
        )
        if self.ax_.get_legend_handles_labels()[1]:
            self.ax_.legend()
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
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot per-class accuracy of one or several methods' predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels of the evaluation samples; each must be a label of
            ``train_counts``.
        y_pred : array-like of shape (n_samples,) or dict
            Predicted labels, or a dict ``{method name: predicted labels}`` to
            overlay several methods.
        train_counts : dict or array-like of shape (n_classes,)
            Training samples per class, ``{label: count}`` or counts with
            ``labels``.
        labels : array-like of shape (n_classes,), default=None
            Labels of ``train_counts`` when it is an array.
        name : str, default=None
            Name of the method when ``y_pred`` is one array ("Classifier" when
            None); must be None when ``y_pred`` is a dict.
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : PerClassAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from ltsk.plotting import PerClassAccuracyDisplay
        >>> display = PerClassAccuracyDisplay.from_predictions(
        ...     ["a", "a", "b", "b"],
        ...     {"joint": ["a", "a", "a", "a"], "cRT": ["a", "b", "b", "b"]},
        ...     train_counts={"a": 100, "b": 10},
        ... )
        >>> display.accuracies.tolist()
        [[1.0, 0.0], [0.5, 1.0]]
        """
        class_labels, counts = _train_counts(train_counts, labels)
        # fail before computing
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        predictions = cls._named_predictions(y_pred, name)
        accuracies = [
            _per_class_recall(y_true, pred, class_labels)
            for pred in predictions.values()
        ]
        display = cls(
            accuracies, counts, labels=class_labels, method_names=list(predictions)
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
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot per-class accuracy of one or several fitted classifiers.

        Parameters
        ----------
        estimator : estimator instance or dict
            A fitted classifier, or a dict ``{method name: fitted classifier}``
            to overlay several methods.
        X : array-like of shape (n_samples, n_features)
            Evaluation samples.
        y : array-like of shape (n_samples,)
            Their true labels.
        train_counts : dict or array-like of shape (n_classes,), default=None
            Training samples per class. When None, taken from the estimators'
            ``class_counts_``, which must then agree.
        labels : array-like of shape (n_classes,), default=None
            Labels of ``train_counts`` when it is an array.
        name : str, default=None
            Name of a single estimator (its class name when None); must be None
            when ``estimator`` is a dict.
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : PerClassAccuracyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from ltsk.plotting import PerClassAccuracyDisplay
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1, 2], [60, 25, 5])
        >>> X = rng.normal(size=(90, 2)) + 2 * y[:, None]
        >>> clf = LogisticRegression().fit(X, y)
        >>> display = PerClassAccuracyDisplay.from_estimator(
        ...     clf, X, y, train_counts={0: 60, 1: 25, 2: 5}
        ... )
        >>> display.lines_[0].get_xdata().tolist()
        [5.0, 25.0, 60.0]
        """
        predictions, train_counts, labels = cls._estimators_predictions(
            estimator, X, name=name, train_counts=train_counts, labels=labels
        )
        return cls.from_predictions(
            y,
            predictions,
            train_counts=train_counts,
            labels=labels,
            ax=ax,
            **kwargs,
        )
