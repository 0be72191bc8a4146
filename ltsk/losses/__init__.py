"""Long-tail losses for torch: each a function plus a thin ``nn.Module``.

- :class:`FocalLoss`, :func:`focal_loss` - softmax focal loss.
- :class:`ClassBalancedLoss`, :func:`class_balanced_loss` - cross-entropy or
  focal loss weighted by the inverse effective number of samples.
- :class:`LogitAdjustedLoss`, :func:`logit_adjusted_loss` - cross-entropy on
  logits shifted by ``tau * log(prior)``.
- :class:`BalancedSoftmaxLoss`, :func:`balanced_softmax_loss` - cross-entropy on
  logits shifted by ``log(count)``.
- :class:`LDAMLoss`, :func:`ldam_loss` - label-distribution-aware margins, used
  with the cosine classifier :class:`NormedLinear`.
- :class:`LabelAwareSmoothingLoss`, :func:`label_aware_smoothing_loss` -
  cross-entropy with per-class label smoothing (MiSLAS);
  :func:`label_aware_smoothing` its factors (numpy).
- :func:`class_weights` - per-class weights from counts (numpy; importing it
  alone does not import torch).
"""

from typing import TYPE_CHECKING

from ltsk._lazy import lazy_attributes
from ltsk.losses._smoothing import label_aware_smoothing
from ltsk.losses._weights import class_weights

_LAZY = {
    "FocalLoss": "ltsk.losses._focal",
    "focal_loss": "ltsk.losses._focal",
    "ClassBalancedLoss": "ltsk.losses._class_balanced",
    "class_balanced_loss": "ltsk.losses._class_balanced",
    "LogitAdjustedLoss": "ltsk.losses._logit_adjusted",
    "logit_adjusted_loss": "ltsk.losses._logit_adjusted",
    "BalancedSoftmaxLoss": "ltsk.losses._logit_adjusted",
    "balanced_softmax_loss": "ltsk.losses._logit_adjusted",
    "LDAMLoss": "ltsk.losses._ldam",
    "ldam_loss": "ltsk.losses._ldam",
    "NormedLinear": "ltsk.nets._modules",
    "LabelAwareSmoothingLoss": "ltsk.losses._label_aware",
    "label_aware_smoothing_loss": "ltsk.losses._label_aware",
}

if TYPE_CHECKING:
    from ltsk.losses._class_balanced import ClassBalancedLoss, class_balanced_loss
    from ltsk.losses._focal import FocalLoss, focal_loss
    from ltsk.losses._label_aware import (
        LabelAwareSmoothingLoss,
        label_aware_smoothing_loss,
    )
    from ltsk.losses._ldam import LDAMLoss, ldam_loss
    from ltsk.losses._logit_adjusted import (
        BalancedSoftmaxLoss,
        LogitAdjustedLoss,
        balanced_softmax_loss,
        logit_adjusted_loss,
    )
    from ltsk.nets._modules import NormedLinear

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LabelAwareSmoothingLoss",
    "LogitAdjustedLoss",
    "NormedLinear",
    "balanced_softmax_loss",
    "class_balanced_loss",
    "class_weights",
    "focal_loss",
    "label_aware_smoothing",
    "label_aware_smoothing_loss",
    "ldam_loss",
    "logit_adjusted_loss",
]


# The torch losses are imported on first use, so that class_weights and
# label_aware_smoothing work without torch installed.
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
