"""Input checks, reductions and the module base class shared by the losses."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ltsk.losses._params import check_params
from ltsk.utils._validation import check_class_counts

Counts = Sequence[float] | np.ndarray | Tensor


def counts_to_numpy(class_counts, name: str = "class_counts") -> np.ndarray:
    """Validate class counts given as array-like or tensor; float64 numpy out."""
    if isinstance(class_counts, Tensor):
        class_counts = class_counts.detach().cpu().numpy()
    return check_class_counts(class_counts, name=name)


def rarest_for_absent(counts: np.ndarray) -> np.ndarray:
    """Give zero-count classes the smallest positive count.

    An absent class is treated as the rarest observed class, which keeps
    ``log n_j`` and ``n_j ** -1/4`` finite. It never appears as a target, so
    training still only pushes its logit down, as plain cross-entropy does.
    """
    return np.where(counts > 0, counts, counts[counts > 0].min())


def check_per_class(values, name: str, n_classes: int | None = None) -> np.ndarray:
    """Validate a 1-D array of non-negative finite per-class values."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array-like of non-negative numbers, got "
            f"{type(values).__name__}."
        ) from exc
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array, got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(
            f"{name} must be finite and non-negative, got {array.tolist()}."
        )
    if n_classes is not None and array.size != n_classes:
        raise ValueError(
            f"{name} must have one entry per class ({n_classes}), got {array.size}."
        )
    return array


def check_inputs(
    logits: Tensor, targets: Tensor, n_classes: int | None = None, name: str = ""
) -> Tensor:
    """Check a (logits, targets) pair and return the targets as int64.

    ``n_classes`` is the number of classes the loss was built for (the length
    of its class counts); ``name`` names that parameter in the error message.
    """
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(
            f"logits must be a floating point torch.Tensor, got "
            f"{getattr(logits, 'dtype', type(logits).__name__)}."
        )
    if not isinstance(targets, Tensor) or targets.is_floating_point():
        # Soft (probability) targets are not supported yet.
        raise TypeError(
            f"targets must be an integer torch.Tensor of class indices, got "
            f"{getattr(targets, 'dtype', type(targets).__name__)}."
        )
    if targets.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise TypeError(
            f"targets must hold integer class indices, got {targets.dtype}."
        )
    if logits.ndim != 2:
        raise ValueError(
            "logits must be 2-D (n_samples, n_classes), got shape "
            f"{tuple(logits.shape)}."
        )
    if targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
        raise ValueError(
            f"targets must be 1-D with one entry per row of logits "
            f"({logits.shape[0]}), got shape {tuple(targets.shape)}."
        )
    n_samples, n_columns = logits.shape
    if n_samples == 0:
        raise ValueError("logits and targets must contain at least one sample.")
    if n_classes is not None and n_columns != n_classes:
        raise ValueError(
            f"logits have {n_columns} columns but {name} describes {n_classes} classes."
        )
    low, high = int(targets.min()), int(targets.max())
    if low < 0 or high >= n_columns:
        raise ValueError(
            f"targets must be class indices in [0, {n_columns}), got values in "
            f"[{low}, {high}]."
        )
    return targets.long()


def check_no_overflow(scores: Tensor, logits: Tensor, cause: str) -> None:
    """Raise when finite ``logits`` gave non-finite ``scores``.

    ``scores`` are the logits transformed by a loss's parameters (shifted,
    scaled); ``cause`` names the parameters and the operation that overflowed.
    Non-finite logits are the caller's and propagate as in torch's losses.
    """
    if not bool(torch.isfinite(scores).all()) and bool(torch.isfinite(logits).all()):
        raise ValueError(
            f"{cause} overflows in {logits.dtype} for these logits, which would "
            "make the loss and its gradients inf or NaN; use a smaller value."
        )


def per_class_tensor(values, like: Tensor) -> Tensor:
    """Per-class values as a tensor with the dtype and device of ``like``."""
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def reduce_loss(
    losses: Tensor, reduction: str, sample_weight: Tensor | None = None
) -> Tensor:
    """Reduce per-sample losses, optionally weighted.

    Weighted "none" returns ``w_i * l_i``, "sum" their sum and "mean"
    ``sum(w_i l_i) / sum(w_i)``: the convention of ``F.cross_entropy`` with
    ``weight``. A batch whose weights are all zero has mean loss 0, not NaN.
    """
    if sample_weight is not None:
        losses = losses * sample_weight
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if sample_weight is None:
        return losses.mean()
    total = sample_weight.sum()
    return losses.sum() / total.clamp_min(torch.finfo(total.dtype).tiny)


class LongTailLoss(nn.Module):
    """Base class: stores the validated ``reduction``.

    Attributes
    ----------
    normalized_classifier : bool
        Class attribute read by :class:`~ltsk.LongTailNetClassifier`: when True
        the net ends with a :class:`~ltsk.losses.NormedLinear` cosine
        classifier instead of ``nn.Linear``.
    weighted_mean : bool
        Class attribute: True when ``reduction="mean"`` divides by the sum of
        the samples' class weights (torch's convention for
        ``CrossEntropyLoss(weight=...)``), False when it divides by the number
        of samples. The net's mixup keeps the same convention for mixed pairs.
    """

    normalized_classifier: bool = False
    weighted_mean: bool = False

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_params(type(self).__name__, reduction=reduction)
        self.reduction = reduction

    def _register_counts(self, class_counts) -> np.ndarray:
        counts = counts_to_numpy(class_counts)
        self.register_buffer(
            "class_counts", torch.as_tensor(counts, dtype=torch.get_default_dtype())
        )
        return counts

    def _float_buffer(self, name: str, values: np.ndarray | None) -> None:
        tensor = None
        if values is not None:
            tensor = torch.as_tensor(values, dtype=torch.get_default_dtype())
        self.register_buffer(name, tensor)
