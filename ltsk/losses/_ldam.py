"""LDAM loss (Cao et al., NeurIPS 2019); its cosine classifier, ``NormedLinear``, is
in ``ltsk.nets._modules`` with the other modules the nets build."""

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.utils._param_validation import validate_params
from torch import Tensor

from ltsk.losses._base import (
    Counts,
    LongTailLoss,
    check_inputs,
    check_no_overflow,
    check_per_class,
    counts_to_numpy,
    per_class_tensor,
    rarest_for_absent,
    reduce_loss,
)
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._focal import focal_terms
from ltsk.losses._params import check_params, constraints

Weight = Sequence[float] | np.ndarray | Tensor | None


def _margins(counts: np.ndarray, max_margin: float) -> np.ndarray:
    inverse_root = rarest_for_absent(counts) ** -0.25
    return max_margin * inverse_root / inverse_root.max()


def _ldam(
    logits: Tensor,
    targets: Tensor,
    margins: Tensor | np.ndarray,
    scale: float,
    weight: Tensor | np.ndarray | None,
    reduction: str,
) -> Tensor:
    true_margin = per_class_tensor(margins, logits)[targets]
    shifted = logits.scatter_add(1, targets[:, None], -true_margin[:, None])
    sample_weight = None
    if weight is not None:
        sample_weight = per_class_tensor(weight, logits)[targets]
    scaled = scale * shifted
    check_no_overflow(scaled, logits, f"scale={scale:g} times (logits - margins)")
    losses = focal_terms(scaled, targets, 0.0)
    return reduce_loss(losses, reduction, sample_weight)


@fill_loss_doc
@validate_params(
    constraints("class_counts", "max_margin", "scale", "weight", "reduction"),
    prefer_skip_nested_validation=True,
)
def ldam_loss(
    logits: Tensor,
    targets: Tensor,
    class_counts: Counts,
    *,
    max_margin: float = 0.5,
    scale: float = 30.0,
    weight: Weight = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Label-distribution-aware margin (LDAM) loss of Cao et al. [1]_.

    .. math::

        \ell_i = -\log \frac{e^{s (z_{i,y_i} - m_{y_i})}}
                 {e^{s (z_{i,y_i} - m_{y_i})} + \sum_{j \ne y_i} e^{s z_{i,j}}},
        \qquad m_j = \frac{C'}{n_j^{1/4}}

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Class scores :math:`z`, normally cosine similarities in [-1, 1] from
        :class:`NormedLinear`.
    %(targets)s
    %(class_counts)s
    max_margin : float >= 0, default=0.5
        The largest margin; :math:`C'` is chosen so that :math:`\max_j m_j`
        equals it. 0 gives scaled cross-entropy.
    scale : float > 0, default=30.0
        :math:`s`, multiplies the logits after subtracting the margin.
    weight : None or array-like/Tensor of shape (n_classes,), default=None
        Optional class weights (deferred re-weighting sets them late in
        training, e.g. to ``class_weights(class_counts, "effective_number")``).
    reduction : {"mean", "sum", "none"}, default="mean"
        With ``weight``, "none" returns :math:`w_{y_i} \ell_i` and "mean"
        :math:`\sum_i w_{y_i} \ell_i / \sum_i w_{y_i}`, as
        ``F.cross_entropy(weight=...)`` does.

    Returns
    -------
    %(loss)s

    Notes
    -----
    Eq. (13) of [1]_ and its reference code: the margin is subtracted from the
    true-class logit only, then everything is scaled by :math:`s`. A class with
    count 0 gets the largest margin, ``max_margin``.

    A ``scale`` or ``max_margin`` so large that :math:`s (z - m)` overflows in
    the logits' dtype would give an infinite or NaN loss: it raises a
    ``ValueError`` naming them when the loss is evaluated (one reduction over
    the scaled logits per call). With cosine logits in :math:`[-1, 1]` that
    needs :math:`s (1 + \max_j m_j)` above about :math:`3 \cdot 10^{38}` in
    float32.

    References
    ----------
    %(ref_ldam)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import ldam_loss
    >>> logits = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    >>> targets = torch.tensor([0, 1])
    >>> ldam_loss(logits, targets, [16, 1], scale=1.0, reduction="none")
    tensor([0.8259, 0.9741])
    """
    counts = counts_to_numpy(class_counts)
    if weight is not None:
        weight = check_per_class(weight, "weight", counts.size)
    targets = check_inputs(logits, targets, counts.size, name="class_counts")
    margins = _margins(counts, max_margin)
    return _ldam(logits, targets, margins, scale, weight, reduction)


@fill_loss_doc
class LDAMLoss(LongTailLoss):
    r"""LDAM loss as a module; see :func:`ldam_loss`.

    Parameters
    ----------
    %(class_counts_module)s
    max_margin : float >= 0, default=0.5
        The margin of the rarest class.
    scale : float > 0, default=30.0
        Multiplies the margin-shifted logits.
    weight : None or array-like/Tensor of shape (n_classes,), default=None
        Optional class weights. The attribute can be reassigned later (to a
        sequence, array or tensor, or None), which is how deferred
        re-weighting (DRW) switches weights on at the first learning-rate decay.
    reduction : {"mean", "sum", "none"}, default="mean"
        With ``weight``, "mean" is :math:`\sum_i w_{y_i} \ell_i / \sum_i w_{y_i}`.

    Attributes
    ----------
    %(class_counts_buffer)s
    margins : Tensor of shape (n_classes,)
        Buffer with :math:`m_j \propto n_j^{-1/4}`, largest ``max_margin``.
    weight : Tensor of shape (n_classes,) or None
        Class weights (a buffer, so it follows ``.to(device)``).
    normalized_classifier : bool
        True: the net ends with :class:`NormedLinear` when trained with LDAM.
    weighted_mean : bool
        True: with ``weight``, "mean" divides by the sum of the samples'
        weights.

    Notes
    -----
    Cao et al. [1]_, Eq. (13); used with a normalised (cosine) classifier.

    References
    ----------
    %(ref_ldam)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import LDAMLoss
    >>> criterion = LDAMLoss([10000, 100, 1], max_margin=0.5)
    >>> criterion.margins
    tensor([0.0500, 0.1581, 0.5000])
    >>> criterion.weight = [0.5, 1.0, 1.5]  # e.g. deferred re-weighting
    >>> criterion(torch.zeros(3, 3), torch.tensor([0, 1, 2]))
    tensor(10.04...)
    """

    normalized_classifier = True
    weighted_mean = True

    def __init__(
        self,
        class_counts: Counts,
        max_margin: float = 0.5,
        scale: float = 30.0,
        weight: Weight = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        check_params(
            type(self).__name__,
            class_counts=class_counts,
            max_margin=max_margin,
            scale=scale,
            weight=weight,
        )
        self.max_margin = float(max_margin)
        self.scale = float(scale)
        counts = self._register_counts(class_counts)
        self._float_buffer("margins", _margins(counts, self.max_margin))
        self.weight = weight

    @property
    def weight(self) -> Tensor | None:
        return self._weight

    @weight.setter
    def weight(self, value: Weight) -> None:
        if value is not None:
            value = check_per_class(value, "weight", self.class_counts.shape[0])
            value = torch.as_tensor(
                value, dtype=self.class_counts.dtype, device=self.class_counts.device
            )
        self.register_buffer("_weight", value)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        n_classes = self.class_counts.shape[0]
        targets = check_inputs(logits, targets, n_classes, name="class_counts")
        return _ldam(
            logits, targets, self.margins, self.scale, self.weight, self.reduction
        )

    def extra_repr(self) -> str:
        return (
            f"n_classes={self.class_counts.shape[0]}, max_margin={self.max_margin}, "
            f"scale={self.scale}, weighted={self.weight is not None}, "
            f"reduction={self.reduction!r}"
        )
