"""Class sampling probabilities p_j proportional to n_j^q (Kang et al., 2020)."""

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    validate_params,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ltsk.utils._validation import check_class_counts

# The constraint of every ``q`` in ltsk (heads, nets, samplers), so that a
# bad value is worded the same way on every path.
Q_CONSTRAINT = Interval(Real, 0, 1, closed="both")


@validate_params(
    {"class_counts": ["array-like"], "q": [Q_CONSTRAINT]},
    prefer_skip_nested_validation=True,
)
def class_sampling_probabilities(class_counts, q: float) -> np.ndarray:
    r"""Probability of drawing each class under power-``q`` class sampling.

    .. math:: p_j = \frac{n_j^q}{\sum_{i=1}^{C} n_i^q}

    Samples are then drawn uniformly within the chosen class.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class. A class with count 0 gets probability 0
        for every ``q`` (including ``q=0``, where ``0**0`` would otherwise be 1).
    q : float in [0, 1]
        Sampling power: 1 is instance-balanced (plain shuffling), 0 is
        class-balanced, 1/2 is square-root sampling.

    Returns
    -------
    probabilities : ndarray of shape (n_classes,)
        Non-negative, summing to one.

    Notes
    -----
    The powers are normalised from their logarithms,
    :math:`p_j = \exp(q \log n_j - \operatorname{logsumexp}_i q \log n_i)`, so
    that counts whose sum or powers overflow (or underflow) still give the
    exact distribution.

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Eq. (1).

    Examples
    --------
    >>> from ltsk.sampling import class_sampling_probabilities
    >>> class_sampling_probabilities([400, 100], q=0.5)
    array([0.6666..., 0.3333...])
    >>> class_sampling_probabilities([400, 100], q=0.0)
    array([0.5, 0.5])
    """
    counts = check_class_counts(class_counts)
    probabilities = np.zeros_like(counts)
    present = counts > 0
    probabilities[present] = softmax(q * np.log(counts[present]))
    return probabilities


@validate_params(
    {
        "class_counts": ["array-like"],
        "epoch": [Interval(Real, 0, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def progressive_sampling_probabilities(class_counts, epoch, n_epochs) -> np.ndarray:
    r"""Class probabilities of progressively-balanced sampling at one epoch.

    The distribution moves linearly from instance-balanced (:math:`q=1`) to
    class-balanced (:math:`q=0`) sampling over training:

    .. math:: p_j(t) = \left(1 - \frac{t}{T}\right) \frac{n_j}{\sum_i n_i}
              + \frac{t}{T} \frac{1}{C}

    where :math:`t` is the epoch and :math:`T` the number of epochs
    (Kang et al., 2020, Sec. 3). Classes with count 0 get probability 0 and
    are left out of :math:`C`.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class.
    epoch : float
        :math:`t`, the number of epochs already completed (0 for the first
        epoch), in ``[0, n_epochs]``.
    n_epochs : int
        :math:`T`, the total number of training epochs (at least 1).

    Returns
    -------
    probabilities : ndarray of shape (n_classes,)
        Non-negative, summing to one.

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.

    Examples
    --------
    >>> from ltsk.sampling import progressive_sampling_probabilities
    >>> progressive_sampling_probabilities([300, 100], epoch=0, n_epochs=10)
    array([0.75, 0.25])
    >>> progressive_sampling_probabilities([300, 100], epoch=5, n_epochs=10)
    array([0.625, 0.375])
    >>> progressive_sampling_probabilities([300, 100], epoch=10, n_epochs=10)
    array([0.5, 0.5])
    """
    if epoch > n_epochs:
        raise InvalidParameterError(
            "The 'epoch' parameter of progressive_sampling_probabilities must be "
            f"in the range [0, n_epochs={n_epochs}]. Got {epoch!r} instead."
        )
    fraction = float(epoch) / n_epochs
    instance = class_sampling_probabilities(class_counts, 1.0)
    balanced = class_sampling_probabilities(class_counts, 0.0)
    return (1.0 - fraction) * instance + fraction * balanced


@validate_params(
    {"y": ["array-like"], "q": [Q_CONSTRAINT]}, prefer_skip_nested_validation=True
)
def sample_weights(y, q: float) -> np.ndarray:
    r"""Per-sample weights that realise power-``q`` class sampling in expectation.

    Sample :math:`i` of class :math:`j` gets :math:`w_i \propto n_j^{q-1}`, so the
    total weight of class :math:`j` is proportional to :math:`n_j^q`. Weights are
    normalised to have mean one (they sum to ``n_samples``), so they can be passed
    as ``sample_weight`` to any scikit-learn estimator; ``w / w.sum()`` are the
    per-sample draw probabilities.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (any label type).
    q : float in [0, 1]
        Sampling power, as in :func:`class_sampling_probabilities`.

    Returns
    -------
    weights : ndarray of shape (n_samples,)
        Weight of each sample, :math:`w_i \propto n_{y_i}^{q-1}`, with mean
        one.

    Examples
    --------
    >>> from ltsk.sampling import sample_weights
    >>> sample_weights(["a", "a", "a", "b"], q=0.0)
    array([0.6666..., 0.6666..., 0.6666..., 2.        ])
    """
    y = column_or_1d(y, warn=True)
    if y.shape[0] == 0:
        raise ValueError("y must contain at least one sample, got an empty array.")
    check_classification_targets(y)
    _, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
    per_class = counts.astype(np.float64) ** (q - 1.0)
    weights = per_class[y_index]
    return weights * (y.shape[0] / weights.sum())
