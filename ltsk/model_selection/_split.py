"""Stratified K-fold that keeps every class in every training fold."""

import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples


class LongTailStratifiedKFold(BaseCrossValidator):
    r"""Stratified K-fold cross-validator whose training folds hold every class.

    A drop-in replacement for :class:`~sklearn.model_selection.StratifiedKFold`
    on long-tailed data. Classes with at least ``n_splits`` members are
    stratified exactly as ``StratifiedKFold`` does; classes with fewer members
    are placed so that every training fold still contains them, so every
    estimator fitted on a fold sees the full class set and its
    ``predict_proba`` has one column per class.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. Must be at least 2.
    shuffle : bool, default=False
        Whether to shuffle each class's samples before assigning them to
        folds. The samples within each split are not shuffled.
    random_state : int, RandomState instance or None, default=None
        When ``shuffle`` is True, seeds the order of each class's samples.
        Must be None when ``shuffle`` is False. Pass an int for reproducible
        output across calls of :meth:`split`.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : The same folds when every class
        has at least two members; only warns on the tail otherwise.

    Notes
    -----
    Classes are numbered by first appearance in ``y``. The members of every
    class with :math:`n_c \ge 2` samples are laid out class after class, and
    the sample at position :math:`p` of that layout goes to test fold
    :math:`p \bmod K` (``K = n_splits``): the round-robin allocation of
    ``StratifiedKFold``, restricted to classes that can afford a test sample.
    It follows that

    - a class with :math:`n_c \ge K` puts :math:`\lfloor n_c/K \rfloor` or
      :math:`\lceil n_c/K \rceil` samples in each test fold;
    - a class with :math:`2 \le n_c < K` puts one sample in each of
      :math:`n_c` distinct (cyclically consecutive) test folds, so each
      training fold keeps at least :math:`n_c - 1 \ge 1` of them;
    - a class with a single sample is never in a test fold: it stays in every
      training fold;
    - test folds differ in size by at most one sample.

    When every class has at least two members the folds are identical to
    those of ``StratifiedKFold`` with the same arguments (also with
    ``shuffle=True`` and the same integer ``random_state``).

    The trade-off: a class with :math:`n_c < K` members is evaluated on only
    :math:`n_c` of the :math:`K` folds, and a one-sample class never, so
    per-class scores of the tail rest on few folds. In exchange the class set
    is the same in every training fold, which is what the long-tail
    estimators (class counts, per-class heads) and scorers with fixed
    ``labels`` (log-loss, top-k) need; ``StratifiedKFold`` instead only warns,
    and the folds that miss a class give shrunken ``predict_proba`` columns
    and failed or NaN scores. Test folds may still lack tail classes, so a
    probabilistic scorer must be told the labels:
    ``make_scorer(log_loss, response_method="predict_proba",
    greater_is_better=False, labels=np.unique(y))`` rather than the string
    ``"neg_log_loss"``, which infers them from each test fold.

    Because one-sample classes are in no test fold, the test folds do not
    partition the data when such a class exists, and
    :func:`~sklearn.model_selection.cross_val_predict` raises
    ``ValueError("cross_val_predict only works for partitions")``. Use
    ``cross_val_score``, ``cross_validate`` or ``GridSearchCV`` instead, or
    drop the one-sample classes before calling ``cross_val_predict``.

    :meth:`split` raises a ValueError when fewer than ``n_splits`` samples
    belong to classes with two or more members, since some test fold would
    then be empty.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
       Y. Kalantidis, "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.model_selection import LongTailStratifiedKFold
    >>> y = np.array(["cat"] * 6 + ["dog"] * 3 + ["fox"])
    >>> X = np.zeros((y.size, 1))
    >>> cv = LongTailStratifiedKFold(n_splits=3)
    >>> cv
    LongTailStratifiedKFold(n_splits=3, random_state=None, shuffle=False)
    >>> for train, test in cv.split(X, y):
    ...     print(test, np.unique(y[train]))
    [0 1 6] ['cat' 'dog' 'fox']
    [2 3 7] ['cat' 'dog' 'fox']
    [4 5 8] ['cat' 'dog' 'fox']

    The single "fox" (index 9) stays in every training fold.
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        # Like scikit-learn's splitters, fail at construction: a splitter is
        # not cloned or fitted, so there is no later fit() to validate in.
        validate_parameter_constraints(
            self._parameter_constraints,
            {"n_splits": n_splits, "shuffle": shuffle, "random_state": random_state},
            caller_name=type(self).__name__,
        )
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. "
                "Leave random_state to its default (None), or set shuffle=True."
            )
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Always ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
            The number of folds.
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of samples is used, so
            ``np.zeros(n_samples)`` may stand in for it.
        y : array-like of shape (n_samples,)
            Class labels of any type (integers, strings, ...), 1-D.
            Stratification is done on them.
        groups : object, default=None
            Always ignored, exists for API compatibility (a warning is raised
            when it is not None).

        Returns
        -------
        splits : generator of (train, test) tuples
            One ``(train, test)`` pair of ndarrays of indices per fold:
            ``train`` holds the training set indices for that split (it
            contains every class), ``test`` the testing set indices. The input
            is validated and the folds are drawn when ``split`` is called,
            before the first iteration.

        Raises
        ------
        ValueError
            If ``y`` is missing, not 1-D, not class labels, of a length other
            than ``X``'s, or if fewer than ``n_splits`` samples belong to
            classes with at least two members.
        """
        if groups is not None:
            warnings.warn(
                f"The groups parameter is ignored by {type(self).__name__}.",
                UserWarning,
                stacklevel=2,
            )
        # Validate and draw eagerly so that bad input fails at the call, not
        # at the first iteration.
        test_folds = self._make_test_folds(X, y)
        return self._split_from_folds(test_folds)

    def _split_from_folds(self, test_folds):
        indices = np.arange(test_folds.size)
        for fold in range(self.n_splits):
            is_test = test_folds == fold
            yield indices[~is_test], indices[is_test]

    def _make_test_folds(self, X, y):
        """Test fold of every sample, -1 for samples kept in every training fold."""
        y_encoded = _encode_by_appearance(_check_labels(X, y))
        counts = np.bincount(y_encoded)
        testable = counts >= 2
        n_testable = int(counts[testable].sum())
        if n_testable < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} is greater than the {n_testable} "
                "samples of classes with at least two members; one-member "
                "classes are never tested, so some test fold would be empty. "
                "Use a smaller n_splits."
            )

        rng = check_random_state(self.random_state)
        test_folds = np.full(y_encoded.size, -1, dtype=np.intp)
        start = 0
        for label in range(counts.size):
            if not testable[label]:
                continue
            n_members = counts[label]
            # Round robin over the classes laid out one after another, as
            # StratifiedKFold does; sorting gives each fold a contiguous block
            # of the class, which keeps the data order when shuffle=False.
            folds = np.sort((start + np.arange(n_members)) % self.n_splits)
            start += n_members
            if self.shuffle:
                rng.shuffle(folds)
            test_folds[y_encoded == label] = folds
        return test_folds


def _check_labels(X, y):
    """Validate ``y`` as 1-D class labels matching ``X``; return it as an array."""
    if y is None:
        raise ValueError(
            "y is required: LongTailStratifiedKFold stratifies on the class "
            "labels, pass them as split(X, y)."
        )
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D of shape (n_samples,), got shape {y.shape}.")
    if y.size == 0:
        raise ValueError("y must contain at least one sample, got an empty array.")
    if y.dtype.kind in "fc" and np.isnan(y).any():
        raise ValueError("y must not contain NaN labels.")
    n_samples = _num_samples(X)
    if n_samples != y.size:
        raise ValueError(
            f"X and y must have the same number of samples, got {n_samples} "
            f"and {y.size}."
        )
    try:
        target_type = type_of_target(y, input_name="y")
    except TypeError as exc:
        raise TypeError(
            "y must hold labels of one comparable type (all numbers or all "
            f"strings): {exc}"
        ) from exc
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            "y must hold class labels (a binary or multiclass target), got a "
            f"{target_type!r} target."
        )
    return y


def _encode_by_appearance(y):
    """Integer codes of ``y`` numbered by first appearance, like StratifiedKFold.

    Numbering by appearance rather than sorted label makes the folds invariant
    to renaming the classes.
    """
    _, first_index, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, rank = np.unique(first_index, return_inverse=True)
    return rank[inverse.ravel()]
