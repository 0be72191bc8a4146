import numpy as np
import pytest
import torch

from ltsk.sampling._torch import ClassAwareSampler

COUNTS = np.array([400, 100, 25, 6])
LABELS = np.repeat(np.arange(4), COUNTS)


def _class_shares(indices, labels, n_classes):
    return np.bincount(labels[np.asarray(indices)], minlength=n_classes) / len(indices)


def test_q0_draws_every_class_equally_often():
    sampler = ClassAwareSampler(
        LABELS, 0.0, num_samples=40_000, generator=torch.Generator().manual_seed(0)
    )
    shares = _class_shares(sampler.draw(), LABELS, 4)
    np.testing.assert_allclose(shares, 0.25, atol=0.01)


def test_q0_one_epoch_is_close_to_uniform_over_classes():
    # One epoch = len(labels) = 531 draws; binomial sd of a share is ~0.019.
    sampler = ClassAwareSampler(LABELS, 0.0, generator=torch.Generator().manual_seed(1))
    indices = list(sampler)
    assert len(indices) == len(sampler) == LABELS.size
    np.testing.assert_allclose(_class_shares(indices, LABELS, 4), 0.25, atol=0.06)


def test_q1_matches_class_frequencies():
    sampler = ClassAwareSampler(
        LABELS, 1.0, num_samples=40_000, generator=torch.Generator().manual_seed(0)
    )
    shares = _class_shares(sampler.draw(), LABELS, 4)
    np.testing.assert_allclose(shares, COUNTS / COUNTS.sum(), atol=0.01)


def test_square_root_sampling_and_uniform_within_class():
    # Shuffled labels: the sampler must not rely on sorted input.
    rng = np.random.default_rng(0)
    labels = rng.permutation(LABELS)
    sampler = ClassAwareSampler(
        labels, 0.5, num_samples=60_000, generator=torch.Generator().manual_seed(2)
    )
    drawn = sampler.draw().numpy()
    expected = np.sqrt(COUNTS) / np.sqrt(COUNTS).sum()  # 20, 10, 5, sqrt(6)
    np.testing.assert_allclose(sampler.class_probabilities, expected)
    np.testing.assert_allclose(_class_shares(drawn, labels, 4), expected, atol=0.01)
    # Within the rarest class, each of its 6 samples gets ~1/6 of the draws.
    rare = drawn[labels[drawn] == 3]
    per_sample = np.unique(rare, return_counts=True)[1] / rare.size
    assert per_sample.size == 6
    np.testing.assert_allclose(per_sample, 1 / 6, atol=0.04)


def test_seeded_generator_is_deterministic_and_epochs_differ():
    a = ClassAwareSampler(LABELS, 0.0, generator=torch.Generator().manual_seed(5))
    b = ClassAwareSampler(LABELS, 0.0, generator=torch.Generator().manual_seed(5))
    first_a, first_b = list(a), list(b)
    assert first_a == first_b
    assert list(a) != first_a  # a new epoch is a new draw


def test_string_labels_and_global_rng():
    labels = np.array(["b", "a", "a", "a"])
    torch.manual_seed(0)
    first = ClassAwareSampler(labels, 0.0, num_samples=8).draw()
    torch.manual_seed(0)
    second = ClassAwareSampler(labels, 0.0, num_samples=8).draw()
    assert torch.equal(first, second)
    assert first.dtype == torch.int64 and first.shape == (8,)
    np.testing.assert_array_equal(
        ClassAwareSampler(labels, 0.0).class_probabilities, [0.5, 0.5]
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"labels": [0, 1], "q": 1.5}, ValueError, r"'q' parameter .* \[0.0, 1.0\]"),
        ({"labels": [0, 1], "q": "x"}, TypeError, r"'q' parameter .* \[0.0, 1.0\]"),
        ({"labels": [], "q": 0.0}, ValueError, "labels must contain"),
        ({"labels": [0.5, 1.5], "q": 0.0}, ValueError, "Unknown label type"),
        ({"labels": [0, 1], "q": 0.0, "num_samples": 0}, ValueError, "num_samples"),
        ({"labels": [0, 1], "q": 0.0, "num_samples": 2.0}, TypeError, "num_samples"),
        ({"labels": [0, 1], "q": 0.0, "generator": 3}, TypeError, "generator"),
        ({"labels": [0, 1]}, ValueError, "exactly one of q and class_prob"),
        (
            {"labels": [0, 1], "q": 0.0, "class_probabilities": [1, 1]},
            ValueError,
            "exactly one of q and class_prob",
        ),
        ({"labels": [0, 1], "class_probabilities": [1]}, ValueError, "shape"),
        ({"labels": [0, 1], "class_probabilities": [1, -1]}, ValueError, "non-neg"),
        ({"labels": [0, 1], "class_probabilities": [0, 0]}, ValueError, "all be zero"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassAwareSampler(**kwargs)


def test_explicit_class_probabilities_are_realised():
    # Reversed sampling p_j ∝ 1/n_j as BBN uses it: counts 6 and 2 give 1/4, 3/4.
    labels = np.array([0] * 6 + [1] * 2)
    sampler = ClassAwareSampler(
        labels,
        class_probabilities=[1 / 6, 1 / 2],
        num_samples=40000,
        generator=torch.Generator().manual_seed(0),
    )
    np.testing.assert_allclose(sampler.class_probabilities, [0.25, 0.75])
    drawn = labels[sampler.draw().numpy()]
    assert abs(np.mean(drawn == 1) - 0.75) < 0.01
