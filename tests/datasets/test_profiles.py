from collections import Counter
from decimal import ROUND_FLOOR, Decimal, localcontext

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

from ltsk.datasets import load_digits_lt, long_tailed_counts, make_long_tailed
from ltsk.model_selection import LongTailStratifiedKFold


def test_exponential_cifar10_lt():
    counts = long_tailed_counts(5000, 10, 100)
    assert_array_equal(counts, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    assert counts.dtype == np.int64
    assert counts[-1] == 5000 // 100


def test_exponential_fashion_mnist_lt():
    # the Fashion-MNIST-LT profile of the project's data README, 14886 images
    counts = long_tailed_counts(6000, 10, 100)
    assert_array_equal(counts, [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60])
    assert counts.sum() == 14886


def test_exponential_exact_integers_not_floored_down():
    # 64 * 64**(-i/6) = 64 / 2**i exactly, but 64 * 64**(-5/6) evaluates to
    # 1.9999999999999996 in floating point: a plain floor would give 1.
    assert 64 * 64 ** (-5 / 6) < 2
    assert_array_equal(long_tailed_counts(64, 7, 64), [64, 32, 16, 8, 4, 2, 1])


def _exponential_decimal(n_max, n_classes, rho):
    # a second implementation in 50-digit decimal arithmetic
    with localcontext() as ctx:
        ctx.prec = 50
        return [
            int(
                (
                    Decimal(n_max) * Decimal(rho) ** (Decimal(-i) / (n_classes - 1))
                    + Decimal("1e-30")
                ).to_integral_value(rounding=ROUND_FLOOR)
            )
            for i in range(n_classes)
        ]


@pytest.mark.parametrize(
    "n_max, n_classes, rho",
    [(5000, 10, 100), (500, 100, 100), (6000, 10, 50), (64, 7, 64), (1000, 6, 7)],
)
def test_exponential_against_decimal(n_max, n_classes, rho):
    assert_array_equal(
        long_tailed_counts(n_max, n_classes, rho),
        _exponential_decimal(n_max, n_classes, rho),
    )


def test_step_profile():
    assert_array_equal(
        long_tailed_counts(100, 4, 10, profile="step"), [100, 100, 10, 10]
    )
    # odd number of classes: the middle class is on the head side
    assert_array_equal(
        long_tailed_counts(100, 5, 10, profile="step"), [100, 100, 100, 10, 10]
    )
    assert_array_equal(long_tailed_counts(50, 2, 3, profile="step"), [50, 16])


@pytest.mark.parametrize("profile", ["exponential", "step"])
def test_edge_cases(profile):
    assert_array_equal(long_tailed_counts(7, 1, 100, profile), [7])
    assert_array_equal(long_tailed_counts(7, 3, 1, profile), [7, 7, 7])
    assert_array_equal(long_tailed_counts(100, 3, 100, profile)[-1], 1)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((0, 10, 10), ValueError, r"'n_max' parameter of long_tailed_counts must be"),
        ((10.0, 10, 10), TypeError, r"'n_max' .* must be an int in the range"),
        ((10, 0, 10), ValueError, r"'n_classes' .* must be an int in the range"),
        ((10, 3, 0.5), ValueError, r"'imbalance_ratio' .* range \[1.0, inf\)"),
        ((10, 3, np.nan), ValueError, r"'imbalance_ratio' .* range \[1.0, inf\)"),
        ((10, 3, np.inf), ValueError, r"'imbalance_ratio' .* range \[1.0, inf\)"),
        ((10, 3, "10"), TypeError, r"'imbalance_ratio' parameter .* must be"),
        ((10, 3, 11), ValueError, "rarest class would get"),
        (
            (10, 3, 10, "linear"),
            ValueError,
            r"'profile' parameter .* must be a str among",
        ),
    ],
)
def test_long_tailed_counts_errors(args, error, match):
    with pytest.raises(error, match=match):
        long_tailed_counts(*args)


def _balanced(n_per_class, labels):
    y = np.repeat(np.asarray(labels), n_per_class)
    X = np.arange(y.shape[0] * 2).reshape(-1, 2)
    return X, y


def test_make_long_tailed_counts_and_rows():
    X, y = _balanced(60, [0, 1, 2, 3])
    X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    # 60 * 10**(-i/3): 60, 27.8, 12.9, 6
    assert_array_equal(np.bincount(y_lt), [60, 27, 12, 6])
    rows = X_lt[:, 0] // 2
    assert np.all(np.diff(rows) > 0)  # original order, no repeats
    assert_array_equal(y_lt, y[rows])


def test_make_long_tailed_n_max_default_is_smallest_class():
    y = np.repeat([0, 1, 2], [50, 30, 40])
    X = np.zeros((120, 1))
    _, y_lt = make_long_tailed(X, y, imbalance_ratio=3, profile="step")
    assert_array_equal(np.bincount(y_lt), [30, 30, 10])


def test_make_long_tailed_class_order_and_strings():
    X, y = _balanced(40, ["a", "b", "c"])
    _, y_lt = make_long_tailed(
        X, y, imbalance_ratio=4, class_order=["c", "a", "b"], random_state=0
    )
    labels, counts = np.unique(y_lt, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == {
        "c": 40,
        "a": 20,
        "b": 10,
    }


def test_make_long_tailed_shuffle_is_seeded():
    X, y = _balanced(40, list(range(8)))

    def shuffled_counts(seed):
        _, y_lt = make_long_tailed(
            X, y, imbalance_ratio=8, class_order="shuffle", random_state=seed
        )
        return np.bincount(y_lt)

    profile = long_tailed_counts(40, 8, 8)
    first = shuffled_counts(0)
    assert_array_equal(first, shuffled_counts(0))
    assert sorted(first.tolist()) == sorted(profile.tolist())
    assert not np.array_equal(first, profile)
    assert not np.array_equal(first, shuffled_counts(1))


def test_make_long_tailed_deterministic():
    X, y = _balanced(30, [0, 1, 2])
    a = make_long_tailed(X, y, imbalance_ratio=5, random_state=7)[0]
    b = make_long_tailed(X, y, imbalance_ratio=5, random_state=7)[0]
    c = make_long_tailed(X, y, imbalance_ratio=5, random_state=8)[0]
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_make_long_tailed_keeps_container_types():
    X, y = _balanced(10, [0, 1])
    X_sp, _ = make_long_tailed(
        sparse.csr_matrix(X), y, imbalance_ratio=2, random_state=0
    )
    X_list, y_lt = make_long_tailed(X.tolist(), y.tolist(), imbalance_ratio=2)
    images = np.zeros((20, 3, 4, 4))
    X_img, _ = make_long_tailed(images, y, imbalance_ratio=2)
    assert sparse.issparse(X_sp) and X_sp.shape == (15, 2)
    assert isinstance(X_list, list) and len(X_list) == 15
    assert isinstance(y_lt, np.ndarray)
    assert X_img.shape == (15, 3, 4, 4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_max": 50}, "class 0 has 40 samples but the profile needs 50"),
        ({"class_order": ["a", "b"]}, "class_order must list every class"),
        ({"class_order": [0, 1, 1]}, "class_order must list every class"),
        ({"class_order": "random"}, r"'class_order' parameter of make_long_tailed"),
        ({"profile": "linear"}, r"'profile' parameter of make_long_tailed"),
        ({"imbalance_ratio": 0.5}, r"'imbalance_ratio' parameter of make_long_tailed"),
    ],
)
def test_make_long_tailed_errors(kwargs, match):
    X, y = _balanced(40, [0, 1, 2])
    kwargs = {"imbalance_ratio": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_long_tailed(X, y, **kwargs)


def test_make_long_tailed_too_small_class_named():
    y = np.repeat(["cat", "dog"], [50, 5])
    with pytest.raises(ValueError, match="class 'dog' has 5 samples"):
        make_long_tailed(
            np.zeros((55, 1)),
            y,
            imbalance_ratio=2,
            n_max=20,
            class_order=["cat", "dog"],
        )


def test_make_long_tailed_inconsistent_lengths():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_long_tailed(np.zeros((5, 1)), [0, 1], imbalance_ratio=2)


def test_load_digits_lt():
    X_train, X_test, y_train, y_test = load_digits_lt()
    assert_array_equal(np.bincount(y_train), long_tailed_counts(124, 10, 20))
    assert_array_equal(np.bincount(y_test), [50] * 10)
    assert X_train.shape == (y_train.shape[0], 64) and X_test.shape == (500, 64)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert 0 <= X_train.min() and X_train.max() <= 16
    assert np.bincount(y_train).min() >= 5
    # disjoint: digits holds a few duplicate images, so compare as multisets;
    # no image may be used more often than it occurs in the full data
    all_rows = Counter(row.tobytes() for row in load_digits().data)
    used = Counter(row.tobytes() for row in np.vstack([X_train, X_test]))
    assert all(used[row] <= all_rows[row] for row in used)


def test_load_digits_lt_deterministic_and_options():
    a = load_digits_lt(random_state=3)
    b = load_digits_lt(random_state=3)
    c = load_digits_lt(random_state=4)
    for left, right in zip(a, b, strict=True):
        assert_array_equal(left, right)
    assert not np.array_equal(a[1], c[1])
    _, _, y_train, y_test = load_digits_lt(imbalance_ratio=10, test_size_per_class=30)
    assert_array_equal(np.bincount(y_test), [30] * 10)
    assert_array_equal(np.bincount(y_train), long_tailed_counts(144, 10, 10))


def test_load_digits_lt_errors():
    with pytest.raises(ValueError, match="test_size_per_class=174 leaves no"):
        load_digits_lt(test_size_per_class=174)
    with pytest.raises(
        ValueError, match=r"'test_size_per_class' parameter of load_digits_lt"
    ):
        load_digits_lt(test_size_per_class=0)


RANDOM_STATE_CALLS = {
    "make_long_tailed": lambda rs: make_long_tailed(
        np.zeros((6, 1)), [0, 0, 0, 1, 1, 1], imbalance_ratio=1, random_state=rs
    ),
    "load_digits_lt": lambda rs: load_digits_lt(random_state=rs),
    "LongTailStratifiedKFold": lambda rs: LongTailStratifiedKFold(
        shuffle=True, random_state=rs
    ),
}


@pytest.mark.parametrize("name", list(RANDOM_STATE_CALLS))
@pytest.mark.parametrize(
    "random_state",
    [np.random.default_rng(0), -1, 2**32],
    ids=["Generator", "-1", "2**32"],
)
def test_random_state_is_validated_alike_everywhere(name, random_state):
    match = (
        rf"^The 'random_state' parameter of {name} must be an int in the range "
        r"\[0, 4294967295\], an instance of 'numpy.random.mtrand.RandomState' or "
        r"None. Got .* instead.$"
    )
    with pytest.raises(InvalidParameterError, match=match):
        RANDOM_STATE_CALLS[name](random_state)


@pytest.mark.parametrize(
    "name, call",
    [
        ("long_tailed_counts", lambda: long_tailed_counts(10, 3, 0.5)),
        (
            "make_long_tailed",
            lambda: make_long_tailed(
                np.zeros((4, 1)), [0, 0, 1, 1], imbalance_ratio=0.5
            ),
        ),
        ("load_digits_lt", lambda: load_digits_lt(imbalance_ratio=0.5)),
    ],
)
def test_imbalance_ratio_is_worded_alike_on_every_path(name, call):
    match = (
        rf"^The 'imbalance_ratio' parameter of {name} must be a float in the range "
        r"\[1.0, inf\). Got 0.5 instead.$"
    )
    with pytest.raises(InvalidParameterError, match=match):
        call()
