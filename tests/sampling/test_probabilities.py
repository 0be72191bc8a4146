import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from ltsk import CRTHead
from ltsk.sampling import (
    class_sampling_probabilities,
    progressive_sampling_probabilities,
    sample_weights,
)

COUNTS = [400, 100, 25, 4]


@pytest.mark.parametrize(
    "q, expected",
    [
        (1.0, [400 / 529, 100 / 529, 25 / 529, 4 / 529]),
        # square roots 20, 10, 5, 2 sum to 37
        (0.5, [20 / 37, 10 / 37, 5 / 37, 2 / 37]),
        (0.0, [0.25, 0.25, 0.25, 0.25]),
    ],
)
def test_class_sampling_probabilities_literal_values(q, expected):
    np.testing.assert_allclose(class_sampling_probabilities(COUNTS, q), expected)


def test_zero_count_class_is_never_drawn_even_for_q_zero():
    np.testing.assert_allclose(
        class_sampling_probabilities([10, 0, 30], 0.0), [0.5, 0.0, 0.5]
    )


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_sample_weights_realise_the_class_distribution(q):
    y = np.repeat(["a", "b", "c", "d"], COUNTS)
    weights = sample_weights(y, q)
    assert weights.shape == y.shape
    np.testing.assert_allclose(weights.mean(), 1.0)
    per_class = np.array([weights[y == c].sum() for c in "abcd"])
    np.testing.assert_allclose(
        per_class / per_class.sum(), class_sampling_probabilities(COUNTS, q)
    )
    # uniform within a class
    for c in "abcd":
        assert np.ptp(weights[y == c]) == 0


def _q_message(caller, q):
    return (
        f"The 'q' parameter of {caller} must be a float in the range "
        rf"\[0.0, 1.0\]. Got {q!r} instead."
    )


@pytest.mark.parametrize("q", [-0.1, 1.5, 2, np.nan, "half", None])
def test_bad_q_is_worded_as_by_the_heads(q):
    # One constraint, one message on every path (issue #12).
    y = np.array([0, 0, 1, 1])
    calls = {
        "class_sampling_probabilities": lambda: class_sampling_probabilities(COUNTS, q),
        "sample_weights": lambda: sample_weights(y, q),
        "CRTHead": lambda: CRTHead(q=q).fit(np.eye(4), y),
    }
    for caller, call in calls.items():
        with pytest.raises(InvalidParameterError, match=_q_message(caller, q)):
            call()


def test_huge_counts_give_the_exact_distribution():
    # Sum and powers overflow float64: before, 1e308 / inf = 0 for every class.
    assert_allclose(class_sampling_probabilities([1e308, 1e308, 0], 1.0), [0.5, 0.5, 0])
    # (4e307)^1 : (1e308)^1 = 2 : 5.
    assert_allclose(class_sampling_probabilities([4e307, 1e308], 1.0), [2 / 7, 5 / 7])
    assert_allclose(
        progressive_sampling_probabilities([1e308, 1e308], 1, 2), [0.5, 0.5]
    )


@pytest.mark.parametrize(
    "counts, match",
    [
        ([[1, 2]], "1-D"),
        ([], "1-D"),
        ([3, -1], "non-negative"),
        ([0, 0], "at least one positive"),
        ([1, np.inf], "finite"),
        (["a", "b"], "class_counts must be"),
    ],
)
def test_bad_class_counts(counts, match):
    with pytest.raises((ValueError, TypeError), match=match):
        class_sampling_probabilities(counts, 0.5)


def test_sample_weights_bad_targets():
    with pytest.raises(ValueError, match="empty"):
        sample_weights([], 0.5)
    with pytest.raises(ValueError, match="Unknown label type"):
        sample_weights([0.5, 1.5], 0.5)


def test_progressive_schedule_endpoints_and_midpoint():
    counts = [600, 300, 100]
    # t=0: instance-balanced n_j / 1000.
    assert_allclose(progressive_sampling_probabilities(counts, 0, 20), [0.6, 0.3, 0.1])
    # t=T: class-balanced 1/3 each.
    assert_allclose(progressive_sampling_probabilities(counts, 20, 20), [1 / 3] * 3)
    # t=T/2: the average of the two.
    assert_allclose(
        progressive_sampling_probabilities(counts, 10, 20),
        [(0.6 + 1 / 3) / 2, (0.3 + 1 / 3) / 2, (0.1 + 1 / 3) / 2],
    )
    # t=1 of 4: 3/4 of [0.75, 0.25] plus 1/4 of [0.5, 0.5].
    assert_allclose(progressive_sampling_probabilities([3, 1], 1, 4), [0.6875, 0.3125])


def test_progressive_schedule_empty_class_stays_zero():
    p = progressive_sampling_probabilities([4, 0, 4], 3, 4)
    assert_allclose(p, [0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    "epoch, n_epochs, error, match",
    [
        (-1, 10, ValueError, r"'epoch' parameter .* range \[0.0, inf\)"),
        (11, 10, ValueError, r"'epoch' parameter .* range \[0, n_epochs=10\]"),
        ("1", 10, TypeError, r"'epoch' parameter .* must be a float"),
        (0, 0, ValueError, r"'n_epochs' parameter .* int in the range \[1, inf\)"),
        (0, 2.0, TypeError, r"'n_epochs' parameter .* int in the range"),
    ],
)
def test_progressive_schedule_bad_input(epoch, n_epochs, error, match):
    with pytest.raises(error, match=match):
        progressive_sampling_probabilities([3, 1], epoch, n_epochs)
