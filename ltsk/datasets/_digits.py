"""Digits-LT: a small offline long-tailed benchmark from scikit-learn's digits."""

from numbers import Integral

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ltsk.datasets._profiles import PROFILE_CONSTRAINTS, make_long_tailed


@validate_params(
    {
        "imbalance_ratio": PROFILE_CONSTRAINTS["imbalance_ratio"],
        "test_size_per_class": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_lt(*, imbalance_ratio=20, test_size_per_class=50, random_state=0):
    """Load a long-tailed split of scikit-learn's bundled handwritten digits.

    From each of the 10 classes (174 to 183 images of 8x8 pixels), a fixed
    number of images goes to a balanced test part; the remaining images are
    subsampled to the exponential profile for the training part (digit 0 is
    the head, digit 9 the tail). Everything is local, so this is the offline
    default for examples and tests.

    Parameters
    ----------
    imbalance_ratio : float, default=20
        Ratio of the largest to the smallest training class. With the
        defaults the head class keeps 124 images and the tail class 6.
    test_size_per_class : int, default=50
        Images per class in the test part.
    random_state : int, RandomState instance or None, default=0
        Seed of the test draw and of the long-tailed subsampling.

    Returns
    -------
    X_train : ndarray of shape (n_train, 64), dtype float64
        Pixel intensities in [0, 16], as :func:`sklearn.datasets.load_digits`
        returns them (not rescaled).
    X_test : ndarray of shape (10 * test_size_per_class, 64), dtype float64
        The balanced test images, same scale as ``X_train``.
    y_train : ndarray of shape (n_train,), dtype int64
        Digits 0-9.
    y_test : ndarray of shape (10 * test_size_per_class,), dtype int64
        Digits 0-9, ``test_size_per_class`` of each.

    See Also
    --------
    make_long_tailed : The subsampling applied to the training part.
    ltsk.metrics.imbalance_summary : How long-tailed the training part is.

    Notes
    -----
    Training class :math:`i` keeps
    ``long_tailed_counts(n_max, 10, imbalance_ratio)[i]`` images, where
    ``n_max`` is the smallest number of images a class has left after the
    test draw (124 with the defaults). Both parts keep the original row order
    of the digits data; train and test never share an image.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.datasets import load_digits_lt
    >>> X_train, X_test, y_train, y_test = load_digits_lt()
    >>> np.bincount(y_train)
    array([124,  88,  63,  45,  32,  23,  16,  12,   8,   6])
    >>> np.bincount(y_test)
    array([50, 50, 50, 50, 50, 50, 50, 50, 50, 50])
    >>> X_train.shape, X_test.shape
    ((417, 64), (500, 64))

    How long-tailed the training part is (the ratio is 124 / 6, the Gini
    coefficient of the counts 0.47, the two largest classes hold half of the
    images and the label entropy is that of 6.9 balanced classes):

    >>> from ltsk.metrics import imbalance_summary
    >>> summary = imbalance_summary(y_train)
    >>> {key: round(value, 2) for key, value in summary.items()}
    {'n_samples': 417, 'n_classes': 10, 'imbalance_ratio': 20.67, 'gini': 0.47, \
'head_share': 0.51, 'effective_n_classes': 6.93}
    """
    X, y = load_digits(return_X_y=True)
    y = y.astype(np.int64)
    sizes = np.bincount(y)
    if test_size_per_class >= sizes.min():
        raise ValueError(
            f"test_size_per_class={test_size_per_class} leaves no training image "
            f"for the smallest digits class ({sizes.min()} images); use fewer."
        )
    rng = check_random_state(random_state)
    in_test = np.zeros(y.shape[0], dtype=bool)
    for digit in range(sizes.shape[0]):
        members = np.flatnonzero(y == digit)
        in_test[rng.choice(members, size=test_size_per_class, replace=False)] = True
    X_train, y_train = make_long_tailed(
        X[~in_test],
        y[~in_test],
        imbalance_ratio=imbalance_ratio,
        random_state=rng,
    )
    return X_train, X[in_test], y_train, y[in_test]
