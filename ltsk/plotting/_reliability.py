"""Reliability diagram of the top-label confidence, overall or per shot group."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ltsk.metrics._calibration import (
    _check_proba,
    _counts_by_column,
    expected_calibration_error,
    reliability_bins,
)
from ltsk.metrics._shot import SHOT_GROUPS, _check_thresholds, _groups_of
from ltsk.plotting._base import _BaseDisplay, _estimator_name, fill_plot_doc


class ReliabilityDisplay(_BaseDisplay):
    r"""Reliability diagram: accuracy against confidence, bin by bin.

    One bar per confidence bin with the accuracy of its samples, over the
    diagonal of perfect calibration; the expected calibration error is in the
    legend. Bars below the diagonal are over-confident bins.

    Build it with :meth:`from_predictions` or :meth:`from_estimator` (which
    can restrict it to one shot group), or from precomputed bins.

    Parameters
    ----------
    confidence : array-like of shape (n_bins,)
        Mean top-label confidence of each bin (NaN for an empty bin).
    accuracy : array-like of shape (n_bins,)
        Accuracy of each bin (NaN for an empty bin).
    count : array-like of shape (n_bins,)
        Samples in each bin.
    ece : float
        The expected calibration error of these bins.
    estimator_name : str, default=None
        Name in the legend.

    Attributes
    ----------
    bars_ : matplotlib.container.BarContainer
        The accuracy bars, one per bin (height 0 for empty bins).
    line_ : matplotlib.lines.Line2D
        The diagonal.
    ax_ : matplotlib.axes.Axes
        Axes with the diagram.
    figure_ : matplotlib.figure.Figure
        Figure containing the diagram.

    See Also
    --------
    ltsk.metrics.expected_calibration_error : The error summarised here.
    sklearn.calibration.CalibrationDisplay : The binary-case curve.

    Notes
    -----
    The bins are :math:`(\frac{m-1}{M}, \frac{m}{M}]` of the confidence
    :math:`\max_k \hat p_k`; the error is
    :math:`\sum_m \frac{|B_m|}{n} |\mathrm{acc}(B_m) - \mathrm{conf}(B_m)|`
    (Guo et al., 2017, Fig. 1).

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ltsk.plotting import ReliabilityDisplay
    >>> display = ReliabilityDisplay.from_predictions(
    ...     [0, 0, 1, 1],
    ...     [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]],
    ...     n_bins=5,
    ... )
    >>> round(display.ece, 3), display.count.tolist()
    (0.25, [0.0, 0.0, 1.0, 2.0, 1.0])
    """

    def __init__(self, confidence, accuracy, count, ece, *, estimator_name=None):
        self.confidence = np.asarray(confidence, dtype=np.float64)
        self.accuracy = np.asarray(accuracy, dtype=np.float64)
        self.count = np.asarray(count, dtype=np.float64)
        shapes = {self.confidence.shape, self.accuracy.shape, self.count.shape}
        if len(shapes) != 1 or self.count.ndim != 1:
            raise ValueError(
                "confidence, accuracy and count must be 1-D arrays of the same "
                f"length (one entry per bin), got shapes {sorted(shapes)}."
            )
        self.ece = float(ece)
        self.estimator_name = estimator_name

    @fill_plot_doc
    def plot(self, *, ax=None, name=None, **kwargs):
        """Draw the diagram.

        Parameters
        ----------
        %(ax)s
        name : str, default=None
            Legend name; ``estimator_name`` when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar`.

        Returns
        -------
        display : ReliabilityDisplay
            The display, with ``bars_``, ``line_``, ``ax_`` and ``figure_`` set.
        """
        self._set_axes(ax)
        name = self.estimator_name if name is None else name
        n_bins = self.count.shape[0]
        centres = (np.arange(n_bins) + 0.5) / n_bins
        label = (
            f"ECE = {self.ece:.3f}" if name is None else f"{name} (ECE {self.ece:.3f})"
        )
        kwargs = {"edgecolor": "black", "alpha": 0.7, **kwargs}
        self.bars_ = self.ax_.bar(
            centres,
            np.nan_to_num(self.accuracy, nan=0.0),
            1.0 / n_bins,
            label=label,
            **kwargs,
        )
        (self.line_,) = self.ax_.plot(
            [0, 1], [0, 1], linestyle="--", color="gray", label="perfectly calibrated"
        )
        self.ax_.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="Confidence (max predicted probability)",
            ylabel="Accuracy",
        )
        self.ax_.legend(loc="upper left")
        return self

    @classmethod
    @fill_plot_doc
    def from_predictions(
        cls,
        y_true,
        y_proba,
        *,
        labels=None,
        train_counts=None,
        group="all",
        many=100,
        few=20,
        n_bins=15,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the reliability diagram of predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities.
        labels : array-like of shape (n_classes,), default=None
            The class of each column of ``y_proba``; the sorted labels of
            ``y_true`` when None.
        train_counts : dict or array-like of shape (n_classes,), default=None
            Training samples per class (a dict, or one count per column),
            needed when ``group`` is not ``"all"``.
        group : {"all", "many", "medium", "few"}, default="all"
            Draw the samples whose true class is in this shot group only.
        %(many)s
        %(few)s
        %(n_bins)s
        name : str, default=None
            Legend name.
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar`.

        Returns
        -------
        display : ReliabilityDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from ltsk.plotting import ReliabilityDisplay
        >>> display = ReliabilityDisplay.from_predictions(
        ...     [0, 0, 1, 1],
        ...     [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]],
        ...     train_counts={0: 500, 1: 5},
        ...     group="few",
        ...     n_bins=5,
        ... )
        >>> display.count.tolist()
        [0.0, 0.0, 0.0, 2.0, 0.0]
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        if group not in SHOT_GROUPS:
            raise ValueError(
                f"group must be one of {list(SHOT_GROUPS)}, got {group!r}."
            )
        if group != "all" and train_counts is None:
            raise ValueError(f"group={group!r} needs train_counts.")
        # validates every argument and gives the number shown in the legend
        ece = expected_calibration_error(
            y_true,
            y_proba,
            labels=labels,
            train_counts=train_counts,
            n_bins=n_bins,
            many=many,
            few=few,
        )
        if isinstance(ece, dict):
            ece = ece[group]
        y_code, proba, labels = _check_proba(y_true, y_proba, labels)
        if group != "all":
            _check_thresholds(many, few)
            groups = _groups_of(_counts_by_column(train_counts, labels), many, few)
            members = groups[y_code] == group
            if not np.any(members):
                raise ValueError(f"no sample of y_true is in the {group!r} group.")
            y_code, proba = y_code[members], proba[members]
        confidence, accuracy, count = reliability_bins(y_code, proba, n_bins)
        display = cls(confidence, accuracy, count, ece, estimator_name=name)
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
        group="all",
        many=100,
        few=20,
        n_bins=15,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the reliability diagram of a fitted classifier.

        Parameters
        ----------
        estimator : estimator instance
            A fitted classifier with ``predict_proba``.
        X : array-like of shape (n_samples, n_features)
            Evaluation samples.
        y : array-like of shape (n_samples,)
            Their true labels.
        train_counts : dict or array-like of shape (n_classes,), default=None
            Training samples per class (a dict, or one count per entry of
            ``estimator.classes_``); needed when ``group`` is not ``"all"``.
        group : {"all", "many", "medium", "few"}, default="all"
            Draw the samples whose true class is in this shot group only.
        %(many)s
        %(few)s
        %(n_bins)s
        name : str, default=None
            Legend name (the estimator's class name when None).
        %(ax)s
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar`.

        Returns
        -------
        display : ReliabilityDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.linear_model import LogisticRegression
        >>> from ltsk.datasets import load_digits_lt
        >>> from ltsk.plotting import ReliabilityDisplay
        >>> X_train, X_test, y_train, y_test = load_digits_lt()
        >>> clf = LogisticRegression(max_iter=1000).fit(X_train / 16, y_train)
        >>> display = ReliabilityDisplay.from_estimator(clf, X_test / 16, y_test)
        >>> 0.0 <= display.ece <= 1.0
        True
        """
        cls._check_estimator(estimator)
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"estimator ({type(estimator).__name__}) has no predict_proba; a "
                "reliability diagram needs probabilities."
            )
        return cls.from_predictions(
            y,
            estimator.predict_proba(X),
            labels=estimator.classes_,
            train_counts=train_counts,
            group=group,
            many=many,
            few=few,
            n_bins=n_bins,
            name=_estimator_name(estimator) if name is None else name,
            ax=ax,
            **kwargs,
        )
