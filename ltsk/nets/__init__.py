"""Joint training on skorch: the long-tail network classifier and its backbones.

- :class:`LongTailNetClassifier` - a skorch classifier with power-``q`` class
  sampling, automatic class counts for the losses, label encoding, softmax
  probabilities, and ``transform`` / ``coef_`` / ``intercept_`` for decoupled
  stage-2 heads.
- :class:`BBNClassifier` - the bilateral-branch network (uniform and reversed
  samplers, cumulative learning with :func:`bbn_alpha`) of Zhou et al. (2020).
- :class:`DeferredReweighting` - the DRW callback (class-balanced weights from
  a given epoch); :class:`MaxNorm` - weight balancing's per-step norm
  constraint on the classifier rows; :func:`remix_label_weights` - Remix's
  label rule, for training loops of your own.
- :class:`CropFlip` - the image augmentation behind ``augment=True``, with
  its padding and flip settable.
- :class:`TorchExtractor` - any trained ``nn.Module`` (a torchvision or timm
  model) as a frozen feature extractor, with its final layer as the joint
  classifier of the stage-2 heads.
- Backbones that infer their input size from the data: :class:`MLP` (tabular),
  :class:`SmallCNN` (28x28 and 32x32 images), :class:`ResNet32` (CIFAR-LT).
"""

from ltsk.nets._backbones import MLP, ResNet32, SmallCNN
from ltsk.nets._bbn import BBNClassifier, bbn_alpha
from ltsk.nets._callbacks import DeferredReweighting
from ltsk.nets._data import CropFlip
from ltsk.nets._extractor import TorchExtractor
from ltsk.nets._max_norm import MaxNorm
from ltsk.nets._mixup import remix_label_weights
from ltsk.nets._net import LongTailNetClassifier

__all__ = [
    "BBNClassifier",
    "CropFlip",
    "DeferredReweighting",
    "LongTailNetClassifier",
    "MLP",
    "MaxNorm",
    "ResNet32",
    "SmallCNN",
    "TorchExtractor",
    "bbn_alpha",
    "remix_label_weights",
]
