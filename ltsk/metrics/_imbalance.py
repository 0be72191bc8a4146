"""How long-tailed a label vector is: one summary of its class counts."""

import math
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


def _summary_of_counts(counts, head_fraction):
    """The numbers of :func:`imbalance_summary` from positive class counts."""
    counts = np.sort(np.asarray(counts, dtype=np.float64))
    n_classes = counts.shape[0]
    total = counts.sum()
    ranks = np.arange(1, n_classes + 1)
    # Gini of the counts sorted in ascending order (ranks 1..C).
    gini = float(2 * np.sum(ranks * counts) / (n_classes * total) - 1 - 1 / n_classes)
    n_head = max(1, math.ceil(head_fraction * n_classes))
    prior = counts / total
    return {
        "n_samples": int(total) if float(total).is_integer() else float(total),
        "n_classes": n_classes,
        "imbalance_ratio": float(counts[-1] / counts[0]),
        "gini": gini,
        "head_share": float(counts[-n_head:].sum() / total),
        "effective_n_classes": float(np.exp(-np.sum(prior * np.log(prior)))),
    }


@validate_params(
    {
        "y": ["array-like"],
        "head_fraction": [Interval(Real, 0, 1, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
def imbalance_summary(y, *, head_fraction=0.2):
    r"""How long-tailed a data set is: four numbers from its class counts.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of the data set (any label type).
    head_fraction : float in (0, 1], default=0.2
        Fraction of the classes, the most frequent first, that count as the
        head for ``head_share`` (rounded up, at least one class).

    Returns
    -------
    summary : dict
        ``n_samples``, ``n_classes``, and:

        - ``imbalance_ratio``: :math:`\rho = n_{\max} / n_{\min}`;
        - ``gini``: Gini coefficient of the class counts, 0 for balanced
          classes, approaching 1 when one class holds everything;
        - ``head_share``: share of the samples in the
          :math:`\lceil` ``head_fraction`` :math:`\cdot C \rceil` largest
          classes (``head_fraction`` itself when balanced);
        - ``effective_n_classes``: :math:`\exp(H(\pi))`, the exponential of
          the entropy of the class frequencies, :math:`C` when balanced and 1
          when one class holds everything.

    See Also
    --------
    ltsk.datasets.long_tailed_counts : Class counts of a given profile.
    shot_groups : The many-, medium- and few-shot classes.

    Notes
    -----
    With the counts sorted in ascending order :math:`n_{(1)} \le \dots \le
    n_{(C)}`, :math:`N = \sum_i n_i` and :math:`\pi_i = n_i / N`,

    .. math::

        G = \frac{\sum_i \sum_j |n_i - n_j|}{2 C N}
          = \frac{2 \sum_{i=1}^{C} i\, n_{(i)}}{C N} - \frac{C + 1}{C},
        \qquad
        C_{\mathrm{eff}} = \exp\Big(-\sum_i \pi_i \log \pi_i\Big).

    The imbalance ratio is the number the long-tail benchmarks are named by
    (CIFAR-10-LT with :math:`\rho = 100`, Cui et al., 2019); the Gini
    coefficient is used as a measure of long-tailedness by Yang et al. (2022);
    :math:`C_{\mathrm{eff}}` is the Hill number of order 1 (the perplexity of
    the label distribution). Only the classes present in ``y`` are counted.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019.
    .. [2] L. Yang, H. Jiang, Q. Song and J. Guo, "A Survey on Long-Tailed
       Visual Recognition", IJCV 2022.

    Examples
    --------
    >>> from ltsk.metrics import imbalance_summary
    >>> summary = imbalance_summary([0] * 6 + [1] * 3 + [2] * 1)
    >>> summary["imbalance_ratio"], round(summary["gini"], 4)
    (6.0, 0.3333)
    >>> summary["head_share"], round(summary["effective_n_classes"], 3)
    (0.6, 2.455)
    """
    y = column_or_1d(y)
    if y.shape[0] == 0:
        raise ValueError("y must contain at least one label, got none.")
    check_classification_targets(y)
    _, counts = np.unique(y, return_counts=True)
    return _summary_of_counts(counts, head_fraction)


def format_imbalance_summary(summary):
    """One line of :func:`imbalance_summary`, for headers and logs."""
    return (
        f"{summary['n_classes']} classes, {summary['n_samples']} samples, "
        f"imbalance ratio {summary['imbalance_ratio']:.1f}, "
        f"Gini {summary['gini']:.3f}, head share {summary['head_share']:.1%}, "
        f"effective classes {summary['effective_n_classes']:.2f}"
    )
