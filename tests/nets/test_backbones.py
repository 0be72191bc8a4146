import pytest
import torch
from torch import nn

from ltsk.nets import MLP, ResNet32, SmallCNN


def test_mlp_layers_and_lazy_input():
    mlp = MLP(hidden_units=(8, 4), dropout=0.2, batch_norm=True)
    out = mlp(torch.randn(5, 7))
    assert out.shape == (5, 4) and mlp.out_features == 4
    kinds = [type(m).__name__ for m in mlp.layers]
    assert kinds == [
        "Linear",  # the lazy layer becomes nn.Linear once it has seen data
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
    ]
    assert mlp.layers[0].in_features == 7
    assert (out >= 0).all()  # features are ReLU activations
    assert MLP(hidden_units=3)(torch.randn(2, 4, 2, 2)).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hidden_units": ()}, TypeError, "hidden_units"),
        ({"hidden_units": (4, 0)}, ValueError, "hidden_units"),
        ({"hidden_units": "64"}, ValueError, "hidden_units"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": None}, TypeError, "dropout"),
    ],
)
def test_mlp_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        MLP(**kwargs)


@pytest.mark.parametrize("shape", [(2, 28, 28), (2, 1, 28, 28), (2, 3, 32, 32)])
def test_small_cnn_shapes(shape):
    cnn = SmallCNN(channels=(4, 8, 16))
    assert cnn(torch.randn(*shape)).shape == (2, 16)
    assert cnn.out_features == 16


def test_small_cnn_rejects_flat_input():
    with pytest.raises(ValueError, match="SmallCNN expects images"):
        SmallCNN()(torch.randn(2, 10))


def test_resnet32_layout():
    net = ResNet32()
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 64)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 3 * 5 * 2  # 31 convolutions + the classifier = 32
    assert [c.out_channels for c in convs[1::10]] == [16, 32, 64]
    assert [c.stride for c in convs[1::10]] == [(1, 1), (2, 2), (2, 2)]
    # Kaiming normal (fan_out): std = sqrt(2 / (out_channels * 9)).
    w = convs[-1].weight
    assert w.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)
    w0 = convs[0].weight  # the lazy stem, initialised once materialised
    assert type(convs[0]) is nn.Conv2d and w0.shape == (16, 3, 3, 3)
    assert w0.std().item() == pytest.approx((2 / (16 * 9)) ** 0.5, rel=0.25)


def test_resnet_shortcut_pads_channels_with_zeros():
    from ltsk.nets._backbones import _DownsampleShortcut

    x = torch.randn(1, 16, 8, 8)
    out = _DownsampleShortcut(16)(x)
    assert out.shape == (1, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0


def test_resnet_grayscale_and_bad_depth():
    assert ResNet32(num_blocks=1)(torch.randn(2, 28, 28)).shape == (2, 64)
    with pytest.raises(ValueError, match="num_blocks"):
        ResNet32(num_blocks=0)
