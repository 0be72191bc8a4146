"""Resample a data set to class sizes proportional to n_j^q."""

from numbers import Integral
from typing import ClassVar

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ltsk.sampling._probabilities import Q_CONSTRAINT, class_sampling_probabilities


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer sizes proportional to ``weights``, summing to ``total``, each >= 1.

    Classes whose ideal share is below one are pinned to one and the rest of
    ``total`` is re-apportioned among the others until no share is below one;
    the remaining seats go by the largest-remainder (Hamilton) method, ties
    broken in favour of the earlier class.
    """
    sizes = np.zeros(weights.shape[0], dtype=np.int64)
    free = np.ones(weights.shape[0], dtype=bool)
    while True:
        budget = total - sizes[~free].sum()
        ideal = budget * weights[free] / weights[free].sum()
        if np.all(ideal >= 1.0):
            break
        pinned = np.flatnonzero(free)[ideal < 1.0]
        sizes[pinned] = 1
        free[pinned] = False
    floors = np.floor(ideal).astype(np.int64)
    n_left = budget - floors.sum()
    # stable sort on the negated remainder keeps the earlier class first on ties
    order = np.argsort(-(ideal - floors), kind="stable")
    floors[order[:n_left]] += 1
    sizes[free] = floors
    return sizes


class PowerLawSampler(BaseSampler):
    r"""Resample a data set so that class sizes are proportional to n_j^q.

    Class :math:`j` with :math:`n_j` samples is resampled to
    :math:`t_j \approx N p_j` rows with :math:`p_j = n_j^q / \sum_i n_i^q`,
    where :math:`N` is ``n_samples``. A class whose target exceeds its count
    keeps every original row once and is topped up by draws with replacement;
    a class whose target is smaller is under-sampled without replacement.
    This is the data-level counterpart of the class-aware sampler of Kang et
    al. (2020): one pass over the resampled set sees each class as often as
    power-``q`` sampling would.

    Parameters
    ----------
    q : float in [0, 1], default=0.0
        Sampling power: 0 is class-balanced, 1/2 square-root and 1
        instance-balanced (class sizes unchanged).
    n_samples : int, default=None
        Size of the resampled data set; ``None`` keeps the input size. It must
        be at least the number of classes, since every class keeps at least
        one row.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws. Pass an int for reproducible output. As everywhere
        in scikit-learn, a ``numpy.random.Generator`` is refused with an
        ``InvalidParameterError``.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{label: target size}`` for every class, in sorted label order.
    sample_indices_ : ndarray of shape (n_samples_resampled,)
        Indices of the input rows that make up the resampled set.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    ltsk.sampling.class_sampling_probabilities : The class distribution p_j.
    ltsk.sampling.sample_weights : The same distribution as sample weights.

    Notes
    -----
    The real-valued targets :math:`N p_j` are rounded by the largest-remainder
    method, so that they sum to :math:`N` exactly; a class whose share would
    fall below one row is given one row and the rest is shared among the
    other classes. With the default ``n_samples`` no class falls below one,
    because :math:`N p_j \ge 1` whenever :math:`0 \le q \le 1`.

    The output keeps the input row order: ``sample_indices_`` is sorted, so
    duplicated rows sit next to their original and ``q=1`` with the default
    ``n_samples`` returns the input unchanged. Shuffle before training a model
    that is sensitive to row order.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
       Y. Kalantidis, "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Eq. (1).

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.sampling import PowerLawSampler
    >>> X = np.arange(525).reshape(-1, 1)
    >>> y = np.repeat(["a", "b", "c"], [400, 100, 25])
    >>> sampler = PowerLawSampler(q=0.5, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sampler.sampling_strategy_
    {'a': 300, 'b': 150, 'c': 75}
    >>> X_res.shape
    (525, 1)
    """

    # imblearn's "bypass" type hands sampling_strategy through untouched; the
    # per-class targets are derived from q and n_samples in _fit_resample.
    _sampling_type = "bypass"
    sampling_strategy = "power-law"

    _parameter_constraints: ClassVar[dict] = {
        "q": [Q_CONSTRAINT],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, q=0.0, *, n_samples=None, random_state=None):
        self.q = q
        self.n_samples = n_samples
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        # Rows are only selected, never computed on: accept any dtype and NaN.
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self,
            X=X,
            y=y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=False,
        )
        return X, y, binarize_y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Validate the input and compute the per-class target sizes.

        Use :meth:`fit_resample` to get the resampled data.

        Parameters
        ----------
        X : {array-like, dataframe, sparse matrix} of shape (n_samples, n_features)
            Input rows.
        y : array-like of shape (n_samples,)
            Class labels (any label type).

        Returns
        -------
        self : PowerLawSampler
            The fitted sampler.
        """
        check_classification_targets(y)
        _, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = self._target_sizes(y)[0]
        return self

    def _target_sizes(self, y):
        classes, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
        if classes.shape[0] < 2:
            raise ValueError(
                "PowerLawSampler needs y with at least 2 classes, got "
                f"{classes.shape[0]} class."
            )
        total = y.shape[0] if self.n_samples is None else self.n_samples
        if total < classes.shape[0]:
            raise ValueError(
                f"n_samples={total} is smaller than the number of classes "
                f"({classes.shape[0]}); every class keeps at least one sample."
            )
        sizes = _apportion(class_sampling_probabilities(counts, self.q), total)
        labels = classes.tolist()
        targets = {lab: int(n) for lab, n in zip(labels, sizes, strict=True)}
        return targets, sizes, y_index, counts

    def _fit_resample(self, X, y):
        targets, sizes, y_index, counts = self._target_sizes(y)
        rng = check_random_state(self.random_state)
        chosen = []
        for j, (size, count) in enumerate(zip(sizes, counts, strict=True)):
            members = np.flatnonzero(y_index == j)
            if size >= count:
                extra = rng.choice(members, size=size - count, replace=True)
                chosen.extend([members, extra])
            else:
                chosen.append(rng.choice(members, size=size, replace=False))
        self.sampling_strategy_ = targets
        self.sample_indices_ = np.sort(np.concatenate(chosen))
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.sampler_tags.sample_indices = True
        return tags
