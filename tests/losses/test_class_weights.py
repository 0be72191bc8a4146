import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from ltsk.losses import class_weights

COUNTS = [100, 10, 1]
SCHEMES = ["inverse", "sqrt_inverse", "effective_number", "power"]


def test_inverse_by_hand():
    # 1/n = [0.01, 0.1, 1], sum 1.11, times 3 / 1.11.
    assert_allclose(class_weights(COUNTS, "inverse"), [3 / 111, 30 / 111, 300 / 111])


def test_sqrt_inverse_by_hand():
    # 1/sqrt(n) = [0.1, 0.316227766, 1], sum 1.416227766, times 3 / that sum.
    expected = [0.211830333, 0.669866331, 2.118303335]
    assert_allclose(class_weights(COUNTS, "sqrt_inverse"), expected, rtol=1e-8)


def test_effective_number_by_hand():
    # (1 - 0.9) / (1 - 0.9^n): 0.9^100 = 2.65614e-5, 0.9^10 = 0.3486784401, 0.9^1.
    raw = np.array([0.1 / 0.99997343860, 0.1 / 0.6513215599, 1.0])
    expected = 3 * raw / raw.sum()
    assert_allclose(expected, [0.239329236, 0.367441973, 2.393228791], rtol=1e-8)
    got = class_weights(COUNTS, "effective_number", beta=0.9)
    assert_allclose(got, expected, rtol=1e-9)


def test_power_by_hand():
    # n^-2 = [1e-4, 1e-2, 1], sum 1.0101.
    expected = np.array([1e-4, 1e-2, 1.0]) * 3 / 1.0101
    assert_allclose(class_weights(COUNTS, "power", power=2.0), expected)


@pytest.mark.parametrize(
    ("kwargs", "other"),
    [
        ({"scheme": "power", "power": 1.0}, {"scheme": "inverse"}),
        ({"scheme": "power", "power": 0.5}, {"scheme": "sqrt_inverse"}),
        # beta -> 1: (1 - beta) / (1 - beta^n) -> 1 / n.
        ({"scheme": "effective_number", "beta": 1 - 1e-12}, {"scheme": "inverse"}),
    ],
)
def test_schemes_that_coincide(kwargs, other):
    assert_allclose(class_weights(COUNTS, **kwargs), class_weights(COUNTS, **other))


@pytest.mark.parametrize(
    "kwargs",
    [{"scheme": "power", "power": 0.0}, {"scheme": "effective_number", "beta": 0}],
)
def test_uniform_limits(kwargs):
    assert_allclose(class_weights(COUNTS, **kwargs), np.ones(3))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sum_to_n_classes_and_decreasing(scheme, rng):
    counts = np.sort(rng.integers(1, 5000, size=7))
    weights = class_weights(counts, scheme, beta=0.999, power=0.7)
    assert weights.dtype == np.float64
    assert_allclose(weights.sum(), 7.0)
    assert np.all(np.diff(weights) <= 1e-12)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_zero_count_gets_zero_weight(scheme):
    weights = class_weights([10, 0, 40], scheme, beta=0.99, power=3.0)
    assert np.all(np.isfinite(weights))
    assert weights[1] == 0.0
    assert_allclose(weights.sum(), 3.0)
    # The present classes keep their ratio from the counts without the zero.
    assert_allclose(
        weights[[0, 2]] / weights[[0, 2]].sum(),
        class_weights([10, 40], scheme, beta=0.99, power=3.0) / 2,
    )


def test_inverse_zero_count_by_hand():
    # 1/10, 1/40: sum 0.125; times 3 / 0.125 = 24.
    assert_allclose(class_weights([10, 0, 40]), [2.4, 0.0, 0.6])


def test_huge_counts_and_power_stay_finite():
    weights = class_weights([1e300, 1.0], "power", power=50.0)
    assert_allclose(weights, [0.0, 2.0])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tiny_counts_stay_finite(scheme):
    # (1 - 0.5) / (1 - 0.5^1e-310) = 7e309 overflowed, and so did 1e-310^-1:
    # the weights are normalised from their logarithms now. Equal counts give
    # equal weights; 1e-310 against 4e-310 the ratio of the scheme.
    assert_allclose(class_weights([1e-310, 1e-310], scheme, beta=0.5), [1.0, 1.0])
    # Weight ratio of the two classes: power=1 by default, and for tiny n
    # 1 - beta^n ~ n log(1/beta), so the effective number is inverse too.
    r = {"inverse": 4.0, "sqrt_inverse": 2.0, "power": 4.0, "effective_number": 4.0}
    weights = class_weights([1e-310, 4e-310], scheme, beta=0.5)
    assert_allclose(weights, [2 * r[scheme] / (r[scheme] + 1), 2 / (r[scheme] + 1)])


def test_accepts_tensor_and_fractional_counts():
    assert_allclose(
        class_weights(torch.tensor([100.0, 10.0, 1.0])), class_weights(COUNTS)
    )
    assert_allclose(class_weights([0.5, 0.25]), [2 / 3, 4 / 3])


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((COUNTS, "log"), {}, ValueError, "'scheme' parameter of class_weights"),
        ((COUNTS, None), {}, ValueError, "'scheme' parameter of class_weights"),
        ((COUNTS,), {"beta": 1.0}, ValueError, r"'beta' .* range \[0.0, 1.0\)"),
        ((COUNTS,), {"beta": -0.1}, ValueError, "'beta' parameter"),
        ((COUNTS,), {"beta": float("nan")}, ValueError, "'beta' parameter"),
        ((COUNTS,), {"beta": "0.9"}, TypeError, "'beta' parameter"),
        ((COUNTS,), {"power": -1}, ValueError, "'power' parameter"),
        ((COUNTS,), {"power": "1"}, TypeError, "'power' parameter"),
        (([0, 0],), {}, ValueError, "class_counts must contain at least one positive"),
        (([1, -1],), {}, ValueError, "class_counts must be non-negative"),
        (([1, np.inf],), {}, ValueError, "class_counts must be finite"),
        (([[1, 2]],), {}, ValueError, "class_counts must be a non-empty 1-D"),
        (([],), {}, ValueError, "class_counts must be a non-empty 1-D"),
        ((["a", "b"],), {}, TypeError, "class_counts must be an array-like"),
    ],
)
def test_bad_parameters(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        class_weights(*args, **kwargs)


def test_importable_without_torch(run_python):
    # A finder that refuses torch, as an environment without it would; a None
    # entry in sys.modules instead breaks scipy's array-API probes, which
    # scikit-learn's parameter validation imports.
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from ltsk.losses import class_weights\n"
        "print(class_weights([1, 3]).tolist())\n"
    )
    assert run_python(code).strip() == "[1.5, 0.5]"
