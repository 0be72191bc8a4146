"""A torch sampler drawing training indices with class probabilities p_j ∝ n_j^q."""

from collections.abc import Iterator
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ltsk.sampling._probabilities import Q_CONSTRAINT, class_sampling_probabilities


def _check_probabilities(probabilities, n_classes: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (n_classes,):
        raise ValueError(
            "class_probabilities must have one entry per distinct label, shape "
            f"({n_classes},), got shape {probabilities.shape}."
        )
    if not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0):
        raise ValueError(
            "class_probabilities must be finite and non-negative, got "
            f"{probabilities.tolist()}."
        )
    total = probabilities.sum()
    if total <= 0:
        raise ValueError("class_probabilities must not all be zero.")
    return probabilities / total


class ClassAwareSampler(torch.utils.data.Sampler[int]):
    r"""Draw sample indices with power-``q`` class sampling, with replacement.

    Each draw first picks a class :math:`j` with probability
    :math:`p_j = n_j^q / \sum_i n_i^q`, then a sample uniformly within that
    class, so sample :math:`i` is drawn with probability proportional to
    :math:`n_{y_i}^{q-1}`.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class label of every sample of the data set the sampler indexes (any
        label type).
    q : float in [0, 1], default=None
        Sampling power: 1 is instance-balanced, 0 class-balanced, 1/2
        square-root sampling. Give either ``q`` or ``class_probabilities``.
    class_probabilities : array-like of shape (n_classes,), default=None
        Explicit :math:`p_j` for the sorted unique labels, for distributions
        that are not a power of the counts (the progressive schedule, BBN's
        reversed sampler :math:`p_j \propto 1/n_j`). Non-negative, not all
        zero; normalised to sum to one.
    num_samples : int, default=None
        Indices drawn per epoch (per call to ``iter``); ``None`` means
        ``len(labels)``.
    generator : torch.Generator, default=None
        Source of randomness; ``None`` uses torch's global generator. A torch
        sampler takes torch's generator, not scikit-learn's ``random_state``
        (an int or a ``numpy.random.RandomState``, which would not drive
        ``torch.multinomial``); seed it with
        ``torch.Generator().manual_seed(seed)``.

    Attributes
    ----------
    class_probabilities : ndarray of shape (n_classes,)
        :math:`p_j` for the sorted unique labels.

    Notes
    -----
    Drawing the class first and then the position inside the class realises
    :math:`p_j` exactly and avoids ``torch.multinomial``'s limit of
    :math:`2^{24}` categories on large data sets. Every call to ``iter``
    draws a fresh epoch.

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Eq. (1).

    Examples
    --------
    >>> import torch
    >>> from ltsk.sampling import ClassAwareSampler
    >>> sampler = ClassAwareSampler([0, 0, 0, 1], q=0.0,
    ...                             generator=torch.Generator().manual_seed(0))
    >>> sampler.class_probabilities
    array([0.5, 0.5])
    >>> len(list(sampler))
    4
    >>> ClassAwareSampler([0, 0, 0, 1], class_probabilities=[1, 3]).class_probabilities
    array([0.25, 0.75])
    """

    def __init__(
        self,
        labels,
        q: float | None = None,
        *,
        class_probabilities=None,
        num_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        validate_parameter_constraints(
            {
                "q": [Q_CONSTRAINT, None],
                "num_samples": [Interval(Integral, 1, None, closed="left"), None],
                "generator": [torch.Generator, None],
            },
            {"q": q, "num_samples": num_samples, "generator": generator},
            caller_name=type(self).__name__,
        )
        labels = column_or_1d(np.asarray(labels), warn=True)
        if labels.shape[0] == 0:
            raise ValueError("labels must contain at least one sample, got none.")
        check_classification_targets(labels)
        if (q is None) == (class_probabilities is None):
            raise ValueError(
                "Give exactly one of q and class_probabilities, got "
                f"q={q!r} and class_probabilities={class_probabilities!r}."
            )
        self.q = None if q is None else float(q)
        if num_samples is None:
            num_samples = labels.shape[0]
        self.num_samples = int(num_samples)
        self.generator = generator

        _, encoded, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if class_probabilities is None:
            self.class_probabilities = class_sampling_probabilities(counts, self.q)
        else:
            self.class_probabilities = _check_probabilities(
                class_probabilities, counts.size
            )
        order = np.argsort(encoded, kind="stable")
        self._order = torch.from_numpy(order.astype(np.int64))
        self._counts = torch.from_numpy(counts.astype(np.int64))
        self._starts = torch.cumsum(self._counts, 0) - self._counts
        self._class_probs = torch.from_numpy(self.class_probabilities)

    def draw(self) -> torch.Tensor:
        """Draw one epoch of indices.

        Returns
        -------
        indices : Tensor of shape (num_samples,), dtype int64
            Positions of the drawn samples in ``labels``, with replacement.
        """
        classes = torch.multinomial(
            self._class_probs,
            self.num_samples,
            replacement=True,
            generator=self.generator,
        )
        counts = self._counts[classes]
        uniform = torch.rand(
            self.num_samples, dtype=torch.float64, generator=self.generator
        )
        offset = torch.minimum((uniform * counts).long(), counts - 1)
        return self._order[self._starts[classes] + offset]

    def __iter__(self) -> Iterator[int]:
        return iter(self.draw().tolist())

    def __len__(self) -> int:
        return self.num_samples
