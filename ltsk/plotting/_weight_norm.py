"""Per-class norms of a linear classifier's weights (Kang et al., 2020, Fig. 2)."""

from collections.abc import Mapping

import numpy as np
from scipy import sparse

from ltsk.plotting._base import (
    _BaseDisplay,
    _check_labels,
    _classifier_part,
    _estimator_name,
    _estimator_train_counts,
    fill_plot_doc,
)
from ltsk.utils._validation import check_class_counts

# Up to this many classes the x ticks show the class labels; beyond, the rank.
_MAX_TICK_LABELS = 20


class WeightNormDisplay(_BaseDisplay):
    r"""Per-class L2 norm of classifier weights against the class's training count.

    Kang et al. (2020) observe that after joint (instance-balanced) training
    the norm of class :math:`j`'s weight vector grows with its training count,
    and that re-balancing the classifier (cRT, tau-normalisation, LWS) flattens
    the curve. This display draws the norms with the classes sorted by training
    count, largest first, as in their Figure 2. Several displays can share one
    axes to compare methods.

    Build it with :meth:`from_estimator`, or from precomputed norms. The
    values are validated when the display is built; matplotlib is only needed
    by :meth:`plot`.

    Parameters
    ----------
    norms : array-like of shape (n_classes,)
        L2 norm of each class's weight vector, :math:`\lVert w_j \rVert_2`.
    train_counts : array-like of shape (n_classes,)
        Training samples of each class, aligned with ``norms``.
    labels : array-like of shape (n_classes,), default=None
        Class labels aligned with ``norms``; shown as x tick labels when there
        are at most 20 classes.
    estimator_name : str, default=None
        Legend label of the line; no legend entry when None.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The norm curve. Its x data are the ranks 0, 1, ... of the classes in
        decreasing training count, its y data the norms in that order.
    ax_ : matplotlib.axes.Axes
        Axes with the curve.
    figure_ : matplotlib.figure.Figure
        Figure containing the curve.
    order_ : ndarray of shape (n_classes,)
        Indices that sort the classes by decreasing training count (ties keep
        their original order).

    See Also
    --------
    PerClassAccuracyDisplay : Per-class accuracy against training count.
    ShotAccuracyDisplay : Many-, medium- and few-shot accuracy.

    Notes
    -----
    For a linear classifier :math:`z_j = w_j^\top x + b_j` the plotted value is

    .. math:: \lVert w_j \rVert_2 = \Bigl(\sum_k W_{jk}^2\Bigr)^{1/2},

    one per row of ``coef_`` (Kang et al., 2020, Sec. 4 and Fig. 2). The bias is
    not part of the norm.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
       Y. Kalantidis, "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ltsk.plotting import WeightNormDisplay
    >>> display = WeightNormDisplay(
    ...     [0.5, 2.0, 1.0], [10, 300, 50], labels=["a", "b", "c"],
    ...     estimator_name="joint",
    ... )
    >>> display.plot()
    <...WeightNormDisplay object at ...>
    >>> display.line_.get_ydata().tolist()
    [2.0, 1.0, 0.5]
    """

    def __init__(self, norms, train_counts, *, labels=None, estimator_name=None):
        norms = np.asarray(norms, dtype=np.float64)
        counts = check_class_counts(train_counts, name="train_counts")
        if norms.ndim != 1 or norms.shape != counts.shape:
            raise ValueError(
                "norms must be a 1-D array with one norm per class, aligned with "
                f"train_counts of shape {counts.shape}; got shape {norms.shape}."
            )
        if not np.all(np.isfinite(norms)) or np.any(norms < 0):
            raise ValueError(
                f"norms must be finite and non-negative, got {norms.tolist()}."
            )
        labels = _check_labels(labels, counts)
        self.norms = norms
        self.train_counts = counts
        self.labels = labels
        self.estimator_name = estimator_name

    def plot(self, *, ax=None, name=None, **kwargs):
        """Draw the norms, classes sorted by decreasing training count.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on (e.g. that of another display, to compare methods).
            A new figure is made when None.
        name : str, default=None
            Legend label; ``estimator_name`` when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : WeightNormDisplay
            The display, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        self._set_axes(ax)
        name = self.estimator_name if name is None else name
        self.order_ = np.argsort(-self.train_counts, kind="stable")
        ranks = np.arange(self.order_.shape[0])
        line_kwargs = {"marker": "o", "markersize": 3, **kwargs}
        if name is not None:
            line_kwargs.setdefault("label", str(name))
        (self.line_,) = self.ax_.plot(ranks, self.norms[self.order_], **line_kwargs)

        if self.labels is not None and ranks.shape[0] <= _MAX_TICK_LABELS:
            self.ax_.set_xticks(ranks, [str(v) for v in self.labels[self.order_]])
            xlabel = "Class (sorted by training count, largest first)"
        else:
            xlabel = "Class rank by training count (0 = largest)"
        self.ax_.set(xlabel=xlabel, ylabel="Weight norm $\\|w_j\\|_2$")
        if self.ax_.get_legend_handles_labels()[1]:
            self.ax_.legend()
        return self

    @classmethod
    @fill_plot_doc
    def from_estimator(
        cls, estimator, *, train_counts=None, ax=None, name=None, **kwargs
    ):
        """Plot the per-class weight norms of a fitted linear classifier.

        Parameters
        ----------
        estimator : estimator instance
            A fitted classifier with ``coef_`` of shape (n_classes, n_features)
            and ``classes_``: a :class:`~ltsk.LongTailNetClassifier`, a linear
            head (:class:`~ltsk.CRTHead`, :class:`~ltsk.TauNormHead`, ...), a
            scikit-learn linear model, or a :class:`~ltsk.DecoupledClassifier`
            (its ``head_`` is used).
        train_counts : dict or array-like of shape (n_classes,), default=None
            Training samples per class, as ``{label: count}`` or aligned with
            the classifier's ``classes_``. Taken from the estimator's
            ``class_counts_`` when None.
        %(ax)s
        name : str, default=None
            Legend label; the estimator's class name (for a
            ``DecoupledClassifier``, its head's) when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : WeightNormDisplay
            The plotted display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If it has no ``coef_`` (e.g. :class:`~ltsk.NCMHead`).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from ltsk.plotting import WeightNormDisplay
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1, 2], [60, 25, 5])
        >>> X = rng.normal(size=(90, 4)) + y[:, None]
        >>> clf = LogisticRegression().fit(X, y)
        >>> display = WeightNormDisplay.from_estimator(
        ...     clf, train_counts={0: 60, 1: 25, 2: 5}
        ... )
        >>> display.line_.get_ydata().shape
        (3,)
        """
        cls._check_estimator(estimator)
        part = _classifier_part(estimator)
        coef = getattr(part, "coef_", None)
        if coef is None:
            raise TypeError(
                "WeightNormDisplay needs a linear classifier with coef_ of shape "
                f"(n_classes, n_features); {type(part).__name__} has no coef_ "
                "(nearest-class-mean heads have centroids_, not weights)."
            )
        coef = coef.toarray() if sparse.issparse(coef) else np.asarray(coef)
        classes = np.asarray(part.classes_)
        if coef.ndim != 2 or coef.shape[0] != classes.shape[0]:
            raise ValueError(
                "WeightNormDisplay needs one weight vector per class: coef_ must "
                f"have shape (n_classes, n_features) with n_classes = "
                f"{classes.shape[0]}, got {coef.shape}. A binary scikit-learn "
                "model stores a single row; use a head or a net, which keep one "
                "row per class."
            )
        if train_counts is None:
            labels, counts = _estimator_train_counts(estimator)
            counts = _align_counts(labels, counts, classes)
        elif isinstance(train_counts, Mapping):
            counts = check_class_counts(
                list(train_counts.values()), name="train_counts"
            )
            counts = _align_counts(list(train_counts), counts, classes)
        else:
            counts = check_class_counts(train_counts, name="train_counts")
            if counts.shape != classes.shape:
                raise ValueError(
                    f"train_counts has {counts.shape[0]} counts but the estimator "
                    f"has {classes.shape[0]} classes; give one count per entry of "
                    "its classes_, or a dict {label: count}."
                )
        name = _estimator_name(estimator) if name is None else name
        display = cls(
            np.linalg.norm(coef, axis=1),
            counts,
            labels=classes,
            estimator_name=name,
        )
        return display.plot(ax=ax, **kwargs)


def _align_counts(labels, counts, classes):
    """Reorder ``counts`` (keyed by ``labels``) to follow ``classes``."""
    index = {label: i for i, label in enumerate(labels)}
    missing = [c for c in classes.tolist() if c not in index]
    if missing:
        raise ValueError(
            f"train_counts has no count for the classes {missing} of the "
            f"estimator (its classes_ are {classes.tolist()})."
        )
    return counts[[index[c] for c in classes.tolist()]]
