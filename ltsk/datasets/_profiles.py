"""Long-tailed class-size profiles and subsampling a data set to one."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

PROFILES = ("exponential", "step")

# n_max * rho**(-i / (C - 1)) lands within a few ulps of an integer for exact
# cases (5000 / 100 = 50 comes out as 49.99999999999999); anything this close
# to an integer counts as that integer before flooring.
_REL_TOL = 1e-9

# Shared by every function that takes these parameters, so that the same
# mistake is worded the same way on every path.
PROFILE_CONSTRAINTS = {
    "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
    "profile": [StrOptions(set(PROFILES))],
}


def _floor(values):
    values = np.asarray(values, dtype=np.float64)
    return np.floor(values * (1.0 + _REL_TOL)).astype(np.int64)


@validate_params(
    {
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        **PROFILE_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def long_tailed_counts(n_max, n_classes, imbalance_ratio, profile="exponential"):
    r"""Per-class sample counts of a long-tailed profile.

    Parameters
    ----------
    n_max : int
        Size of the largest (first) class, at least 1.
    n_classes : int
        Number of classes :math:`C`, at least 1.
    imbalance_ratio : float
        :math:`\rho = n_{\max} / n_{\min} \ge 1`, the ratio of the largest to
        the smallest class size. Must not exceed ``n_max``, so that the
        rarest class keeps at least one sample.
    profile : {"exponential", "step"}, default="exponential"
        Shape of the decay.

    Returns
    -------
    counts : ndarray of shape (n_classes,), dtype int64
        Non-increasing, starting at ``n_max``.

    See Also
    --------
    make_long_tailed : Subsample a data set to these counts.

    Notes
    -----
    Exponential profile (Cui et al., 2019; Cao et al., 2019), for class
    :math:`i = 0, \dots, C-1`:

    .. math:: n_i = \left\lfloor n_{\max}\, \rho^{-i/(C-1)} \right\rfloor .

    Step profile (Buda et al., 2018; Cao et al., 2019): the first
    :math:`\lceil C/2 \rceil` classes keep :math:`n_{\max}` and the others get
    :math:`\lfloor n_{\max}/\rho \rfloor`; with an odd :math:`C` the middle
    class is on the head side.

    With a single class both profiles return ``[n_max]``. Values within a
    relative 1e-9 of an integer are taken as that integer before flooring,
    so exact results such as 5000 / 100 = 50 are not turned into 49 by
    floating-point error.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie,
       "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019.
    .. [2] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma, "Learning
       Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
       NeurIPS 2019.
    .. [3] M. Buda, A. Maki and M. A. Mazurowski, "A systematic study of the
       class imbalance problem in convolutional neural networks", Neural
       Networks 106, 2018.

    Examples
    --------
    >>> from ltsk.datasets import long_tailed_counts
    >>> long_tailed_counts(5000, 10, 100)
    array([5000, 2997, 1796, 1077,  645,  387,  232,  139,   83,   50])
    >>> long_tailed_counts(100, 5, 10, profile="step")
    array([100, 100, 100,  10,  10])
    """
    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    rho = float(imbalance_ratio)
    n_min = _floor(n_max / rho)
    if n_min < 1:
        raise ValueError(
            f"imbalance_ratio={imbalance_ratio!r} is larger than n_max={n_max}: "
            "the rarest class would get floor(n_max / imbalance_ratio) = 0 samples."
        )
    if profile == "exponential":
        exponents = np.arange(n_classes) / (n_classes - 1)
        return _floor(n_max * rho**-exponents)
    n_head = (n_classes + 1) // 2
    return np.where(np.arange(n_classes) < n_head, n_max, n_min).astype(np.int64)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        **PROFILE_CONSTRAINTS,
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "class_order": ["array-like", StrOptions({"shuffle"}), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(
    X,
    y,
    *,
    imbalance_ratio,
    profile="exponential",
    n_max=None,
    class_order=None,
    random_state=None,
):
    """Subsample a data set so that its class sizes follow a long-tailed profile.

    Class ``class_order[i]`` keeps ``long_tailed_counts(n_max, C,
    imbalance_ratio, profile)[i]`` of its samples, drawn without replacement.

    Parameters
    ----------
    X : {array-like, sparse matrix, dataframe} of shape (n_samples, ...)
        Samples; rows are selected with scikit-learn's ``_safe_indexing``, so
        lists, arrays of any rank (e.g. images), sparse matrices and
        dataframes keep their type.
    y : array-like of shape (n_samples,)
        Class labels (any label type).
    imbalance_ratio : float
        Ratio of the largest to the smallest class size, at least 1.
    profile : {"exponential", "step"}, default="exponential"
        Shape of the decay, see :func:`long_tailed_counts`.
    n_max : int, default=None
        Size of the head class. Default: the size of the smallest class of
        ``y``, so that every class has enough samples.
    class_order : array-like or "shuffle", default=None
        Which class becomes the head, second, ..., tail. ``None`` uses the
        sorted labels; ``"shuffle"`` permutes them with ``random_state`` (as in
        the Letter-LT protocol); an array must list every label of ``y`` once.
    random_state : int, RandomState instance or None, default=None
        Seed for the class order and the draws.

    Returns
    -------
    X_lt : same type as ``X``
        The selected rows, in their original order.
    y_lt : same type as ``y`` (ndarray for lists)
        Their labels.

    See Also
    --------
    long_tailed_counts : The class sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.datasets import make_long_tailed
    >>> X = np.arange(300).reshape(-1, 1)
    >>> y = np.repeat(["a", "b", "c"], 100)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    >>> np.unique(y_lt, return_counts=True)
    (array(['a', 'b', 'c'], dtype='<U1'), array([100,  31,  10]))
    """
    y_array = column_or_1d(y)
    check_consistent_length(X, y_array)
    if y_array.shape[0] == 0:
        raise ValueError("y must contain at least one sample, got none.")
    classes, y_index, sizes = np.unique(
        y_array, return_inverse=True, return_counts=True
    )
    rng = check_random_state(random_state)
    if class_order is None:
        order = np.arange(classes.shape[0])
    elif isinstance(class_order, str):
        order = rng.permutation(classes.shape[0])
    else:
        given = column_or_1d(class_order).tolist()
        position = {label: j for j, label in enumerate(classes.tolist())}
        if len(given) != len(position) or set(given) != set(position):
            raise ValueError(
                f"class_order must list every class of y exactly once; y has "
                f"classes {classes.tolist()}, got {given}."
            )
        order = np.array([position[label] for label in given])
    if n_max is None:
        n_max = int(sizes.min())
    counts = long_tailed_counts(n_max, classes.shape[0], imbalance_ratio, profile)

    chosen = []
    labels = classes.tolist()
    for j, count in zip(order, counts, strict=True):
        if sizes[j] < count:
            raise ValueError(
                f"class {labels[j]!r} has {sizes[j]} samples but the profile "
                f"needs {count} of it; lower n_max or use another class_order."
            )
        members = np.flatnonzero(y_index == j)
        chosen.append(rng.choice(members, size=count, replace=False))
    indices = np.sort(np.concatenate(chosen))
    y_out = y if hasattr(y, "iloc") else y_array
    return _safe_indexing(X, indices), _safe_indexing(y_out, indices)
