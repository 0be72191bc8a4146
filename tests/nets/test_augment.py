"""``augment``: CropFlip's padding and flip, callables, and the inputs it refuses."""

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit
from torch.utils.data import TensorDataset

from ltsk.nets import BBNClassifier, CropFlip, LongTailNetClassifier, SmallCNN
from ltsk.nets._data import random_crop_flip


def _images(size, n_per_class=(24, 8), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = rng.normal(size=(y.size, 1, size, size)).astype(np.float32)
    X[y == 1, :, : size // 2] += 2.0
    return X, y


def _net(cls=LongTailNetClassifier, **params):
    defaults = dict(
        module=SmallCNN,
        module__channels=(4,),
        max_epochs=2,
        batch_size=8,
        random_state=0,
    )
    return cls(**{**defaults, **params})


class Recorder:
    """An augment callable that counts the rows it sees and negates them."""

    def __init__(self):
        self.rows = 0

    def __call__(self, x):
        self.rows += len(x)
        return -x


def test_crop_flip_by_hand_on_a_tiny_tensor():
    x = torch.arange(1, 5, dtype=torch.float32).reshape(1, 1, 2, 2)  # [[1, 2], [3, 4]]
    # padding=1: shifts (dy, dx) in {0, 1, 2}^2 of the zero-padded 4x4 image
    padded = torch.tensor(
        [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]], dtype=torch.float32
    )
    crops = {
        (dy, dx): padded[dy : dy + 2, dx : dx + 2] for dy in range(3) for dx in range(3)
    }
    seen_flip, seen_plain = set(), set()
    for seed in range(60):
        g = torch.Generator().manual_seed(seed)
        out = random_crop_flip(x, padding=1, generator=g, flip=False)[0, 0]
        match = [k for k, c in crops.items() if torch.equal(out, c)]
        assert match, out
        seen_plain.add(match[0])
        g = torch.Generator().manual_seed(seed)
        out = random_crop_flip(x, padding=1, generator=g)[0, 0]
        flipped = [k for k, c in crops.items() if torch.equal(out, c.flip(-1))]
        unflipped = [k for k, c in crops.items() if torch.equal(out, c)]
        assert flipped or unflipped
        seen_flip.update(("flip", k) for k in flipped)
    assert seen_plain == set(crops)  # every offset of the 3x3 grid is drawn
    assert any(k == ("flip", (1, 1)) for k in seen_flip)  # [[2, 1], [4, 3]]
    # padding=0 with flip: the image or its mirror, nothing else
    for seed in range(10):
        g = torch.Generator().manual_seed(seed)
        out = random_crop_flip(x, padding=0, generator=g)[0, 0]
        assert torch.equal(out, x[0, 0]) or torch.equal(out, x[0, 0].flip(-1))
    # padding=0 without flip is the identity
    assert torch.equal(CropFlip(padding=0, flip=False)(x), x)


def test_crop_flip_shifts_by_the_drawn_offset():
    # With the generator's draws known, the output is the padded image at
    # rows dy.., cols dx.. (then mirrored on the coin).
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4) + 1
    g = torch.Generator().manual_seed(3)
    shifts = torch.randint(0, 3, (2, 1), generator=g)
    coin = torch.rand(1, generator=g) < 0.5
    out = random_crop_flip(x, padding=1, generator=torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    dy, dx = shifts[0, 0].item(), shifts[1, 0].item()
    expected = padded[..., dy : dy + 4, dx : dx + 4]
    if coin[0]:
        expected = expected.flip(-1)
    assert torch.equal(out, expected)


def test_true_is_crop_flip_4():
    net = _net(augment=True)
    assert net._augmenter() == CropFlip(padding=4, flip=True)
    assert _net(augment=False)._augmenter() is None


@pytest.mark.parametrize("cls", [LongTailNetClassifier, BBNClassifier])
def test_padding_of_a_quarter_side_is_refused(cls):
    X, y = _images(8)
    with pytest.raises(ValueError, match=r"augment=CropFlip\(padding=4.*8x8"):
        _net(cls, augment=True).fit(X, y)
    with pytest.raises(ValueError, match=r"padding=2.*CropFlip\(padding=1\)"):
        _net(cls, augment=CropFlip(padding=2)).fit(X, y)
    _net(cls, augment=CropFlip(padding=1, flip=False)).fit(X, y)  # 1 < 8 / 4


def test_refusal_on_a_dataset_and_on_non_images():
    X, y = _images(8)
    ds = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.raises(ValueError, match="augment=CropFlip"):
        _net(augment=True).fit(ds, None)
    flat = X.reshape(len(X), -1)
    with pytest.raises(ValueError, match=r"augment=CropFlip.*needs images"):
        _net(augment=CropFlip(padding=1)).fit(flat, y)


def test_crop_flip_parameters_are_checked():
    with pytest.raises(ValueError, match="padding must be >= 0"):
        CropFlip(padding=-1)
    with pytest.raises(TypeError, match="padding must be an int"):
        CropFlip(padding=1.5)
    with pytest.raises(TypeError, match="flip must be a bool"):
        CropFlip(flip="yes")


def test_callable_sees_training_batches_only():
    X, y = _images(16)
    rec = Recorder()
    net = _net(augment=rec, train_split=ValidSplit(4, stratified=True))
    net.fit(X, y)
    n_train = len(X) - len(X) // 4
    assert rec.rows == 2 * n_train  # two epochs of the training part, no validation
    net.predict_proba(X)
    net.transform(X)
    assert rec.rows == 2 * n_train


def test_callable_changes_what_is_learned():
    # The net trained on negated images must differ from the plain one, and
    # with an identity callable it must equal the plain one exactly.
    X, y = _images(16)
    plain = _net().fit(X, y).predict_proba(X)
    same = _net(augment=lambda x: x).fit(X, y).predict_proba(X)
    negated = _net(augment=Recorder()).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(plain, same)
    assert not np.allclose(plain, negated)


def test_bbn_augments_both_batches():
    X, y = _images(16)
    rec = Recorder()
    _net(BBNClassifier, augment=rec, max_epochs=1).fit(X, y)
    # one epoch: a uniform and a reversed batch per step
    assert rec.rows == 2 * len(X)


def test_callable_must_return_a_batch():
    X, y = _images(16)
    with pytest.raises(ValueError, match=r"augment=.* must return a torch tensor"):
        _net(augment=lambda x: x[:1]).fit(X, y)
    with pytest.raises(ValueError, match=r"augment=.* must return a torch tensor"):
        _net(augment=lambda x: x.numpy()).fit(X, y)
