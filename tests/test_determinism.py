"""Same random_state, same model; properties of the count-based helpers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ltsk import (
    LongTailNetClassifier,
)
from ltsk.datasets import long_tailed_counts
from ltsk.losses import LDAMLoss, class_weights
from ltsk.metrics import shot_groups
from ltsk.nets import MLP, BBNClassifier, DeferredReweighting
from ltsk.sampling import PowerLawSampler, class_sampling_probabilities
from ltsk.utils._instances import head_instances

PROPERTY = settings(max_examples=50, deadline=None)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2, 3], [50, 20, 8, 3])
    X = rng.normal(size=(y.size, 4)) + y[:, None] * np.array([1.0, -0.5, 0.0, 0.25])
    return X.astype(np.float32), y


def _fit_net(X, y, variant, random_state):
    common = dict(
        module__hidden_units=(8,),
        module__dropout=0.2,
        lr=0.05,
        batch_size=16,
        max_epochs=3,
        random_state=random_state,
    )
    if variant == "bbn":
        return BBNClassifier(MLP, **common).fit(X, y)
    if variant == "progressive-remix-drw":
        # Every random step of these training paths: per-epoch progressive
        # draws, Beta(alpha, alpha) and the pairing permutation, DRW switch.
        return LongTailNetClassifier(
            MLP,
            q="progressive",
            mixup="remix",
            criterion=LDAMLoss,
            callbacks=[DeferredReweighting(start_epoch=2, beta=0.99)],
            **common,
        ).fit(X, y)
    return LongTailNetClassifier(MLP, q=variant, **common).fit(X, y)


def _state(net):
    return net.module_.state_dict()


@pytest.mark.parametrize("variant", [0.0, 1.0, "bbn", "progressive-remix-drw"])
def test_net_same_seed_bit_identical(data, variant):
    X, y = data
    global_state = torch.get_rng_state()
    first, second = _fit_net(X, y, variant, 7), _fit_net(X, y, variant, 7)
    # The seeded fits leave torch's global generator where it was.
    assert torch.equal(torch.get_rng_state(), global_state)
    assert _state(first).keys() == _state(second).keys()
    for key, value in _state(first).items():
        assert torch.equal(value, _state(second)[key]), key
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    np.testing.assert_array_equal(
        first.history[:, "train_loss"], second.history[:, "train_loss"]
    )
    # The seed matters: another one gives other weights.
    other = _fit_net(X, y, variant, 8)
    assert not torch.equal(
        _state(first)["classifier.weight"], _state(other)["classifier.weight"]
    )


@pytest.mark.parametrize("q", [0.0, 0.5])
def test_power_law_sampler_same_seed_same_indices(data, q):
    X, y = data
    first = PowerLawSampler(q=q, random_state=11).fit_resample(X, y)
    sampler = PowerLawSampler(q=q, random_state=11)
    second = sampler.fit_resample(X, y)
    indices = sampler.sample_indices_
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    again = PowerLawSampler(q=q, random_state=11)
    again.fit_resample(X, y)
    np.testing.assert_array_equal(again.sample_indices_, indices)
    other = PowerLawSampler(q=q, random_state=12)
    other.fit_resample(X, y)
    assert not np.array_equal(other.sample_indices_, indices)


@pytest.mark.parametrize("head", head_instances(), ids=repr)
def test_heads_are_deterministic(data, head):
    X, y = data
    first = head.fit(X, y).decision_function(X)
    proba = head.predict_proba(X)
    second = head.fit(X, y).decision_function(X)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(head.predict_proba(X), proba)


# ---------------------------------------------------------------------- #
# properties
# ---------------------------------------------------------------------- #
counts_lists = st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(
    lambda c: any(c)
)
powers = st.floats(0.0, 1.0)


@PROPERTY
@given(counts=counts_lists, q=powers)
def test_sampling_probabilities_are_a_distribution(counts, q):
    p = class_sampling_probabilities(counts, q)
    counts = np.asarray(counts)
    assert p.shape == counts.shape
    assert np.all(p >= 0)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    np.testing.assert_array_equal(p[counts == 0], 0.0)
    assert np.all(p[counts > 0] > 0)
    # Monotone: more samples never means a smaller probability.
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-15)


@PROPERTY
@given(counts=counts_lists)
def test_sampling_probabilities_q1_and_q0(counts):
    counts = np.asarray(counts, dtype=float)
    np.testing.assert_allclose(
        class_sampling_probabilities(counts, 1.0), counts / counts.sum(), rtol=1e-12
    )
    present = counts > 0
    np.testing.assert_allclose(
        class_sampling_probabilities(counts, 0.0), present / present.sum(), rtol=1e-12
    )


def _floor(value):
    """floor, except that a value within 1e-9 (relative) of an integer is it."""
    nearest = round(value)
    return nearest if abs(value - nearest) <= 1e-9 * value else math.floor(value)


@PROPERTY
@given(
    n_max=st.integers(1, 5000),
    n_classes=st.integers(1, 30),
    fraction=st.floats(0.0, 1.0),
    profile=st.sampled_from(["exponential", "step"]),
)
def test_long_tailed_counts_shape(n_max, n_classes, fraction, profile):
    rho = 1.0 + fraction * (n_max - 1)  # 1 <= rho <= n_max
    counts = long_tailed_counts(n_max, n_classes, rho, profile=profile)
    assert counts.shape == (n_classes,)
    assert counts[0] == n_max
    assert np.all(np.diff(counts) <= 0)
    assert np.all(counts >= 1)
    if n_classes > 1:
        assert counts[-1] == _floor(n_max / rho)
    if profile == "exponential" and n_classes > 2:
        # n_i = floor(n_max * rho^(-i/(C-1))), checked at the middle class
        i = n_classes // 2
        assert counts[i] == _floor(n_max * rho ** (-i / (n_classes - 1)))


@PROPERTY
@given(
    counts=counts_lists,
    scheme=st.sampled_from(["inverse", "sqrt_inverse", "effective_number", "power"]),
    beta=st.floats(0.0, 0.99999),
    power=st.floats(0.0, 3.0),
)
def test_class_weights_properties(counts, scheme, beta, power):
    w = class_weights(counts, scheme, beta=beta, power=power)
    counts = np.asarray(counts)
    assert w.shape == counts.shape
    assert np.all(np.isfinite(w))
    assert np.all(w >= 0)
    np.testing.assert_array_equal(w[counts == 0], 0.0)
    assert math.isclose(w.sum(), counts.size, rel_tol=1e-9)
    # Non-increasing in the count among present classes.
    present = np.flatnonzero(counts > 0)
    order = present[np.argsort(counts[present], kind="stable")]
    assert np.all(np.diff(w[order]) <= 1e-12 * counts.size)


@PROPERTY
@given(
    counts=st.lists(st.integers(0, 500), min_size=1, max_size=15),
    few=st.integers(0, 200),
    extra=st.integers(0, 200),
)
def test_shot_groups_partition(counts, few, extra):
    many = few + extra
    if not any(counts):
        counts = [*counts, 1]
    groups = shot_groups(counts, many=many, few=few)
    assert groups.shape == (len(counts),)
    assert set(groups) <= {"many", "medium", "few"}
    for n, group in zip(counts, groups, strict=True):
        expected = "many" if n > many else "few" if n < few else "medium"
        assert group == expected
    named = {f"c{i}": n for i, n in enumerate(counts)}
    labelled = shot_groups(named, many=many, few=few)
    assert list(labelled.values()) == groups.tolist()
    assert list(labelled) == [f"c{i}" for i in range(len(counts))]
