"""Label-aware smoothing loss (MiSLAS, Zhong et al., CVPR 2021)."""

import torch.nn.functional as F
from sklearn.utils._param_validation import validate_params
from torch import Tensor

from ltsk.losses._base import (
    Counts,
    LongTailLoss,
    check_inputs,
    per_class_tensor,
    reduce_loss,
)
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._params import check_params, constraints
from ltsk.losses._smoothing import label_aware_smoothing


def _smoothed(logits: Tensor, targets: Tensor, smoothing, reduction: str) -> Tensor:
    eps = per_class_tensor(smoothing, logits)[targets]
    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, targets[:, None]).squeeze(1)
    uniform = -log_p.mean(dim=1)
    return reduce_loss((1.0 - eps) * nll + eps * uniform, reduction)


@fill_loss_doc
@validate_params(
    constraints("class_counts", "smooth_head", "smooth_tail", "shape", "reduction"),
    prefer_skip_nested_validation=True,
)
def label_aware_smoothing_loss(
    logits: Tensor,
    targets: Tensor,
    class_counts: Counts,
    *,
    smooth_head: float = 0.4,
    smooth_tail: float = 0.1,
    shape: str = "concave",
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy with label-aware smoothing (MiSLAS, Zhong et al. [1]_).

    Label smoothing whose factor depends on the true class: large for the
    head classes (whose predictions are over-confident), small for the tail.

    .. math::

        \ell_i = -\sum_{j=1}^{C} q_{ij} \log p_{ij},\qquad
        q_{ij} = (1 - \epsilon_{y_i})\,[j = y_i] + \frac{\epsilon_{y_i}}{C},

    i.e. :math:`(1 - \epsilon_{y_i})(-\log p_{i,y_i}) + \epsilon_{y_i}\,
    \frac{1}{C}\sum_j (-\log p_{ij})`, with :math:`\epsilon_j` from
    :func:`label_aware_smoothing`.

    Parameters
    ----------
    %(logits)s
    %(targets)s
    %(class_counts)s
    %(smooth_head)s
    %(smooth_tail)s
    %(smoothing_shape)s
    %(reduction_by_n)s

    Returns
    -------
    %(loss)s

    Notes
    -----
    The loss equals the official ``LabelAwareSmoothing`` module of [1]_ (its
    ``forward`` with the mean reduction) for the same factors; how the
    factors differ from the official ones for absent classes and equal counts
    is described in :func:`label_aware_smoothing`. ``smooth_head =
    smooth_tail = 0`` is cross-entropy. The uniform part spreads over all
    :math:`C` classes, the true one included, as in the official code. It is
    computed from ``log_softmax``, so it stays finite for extreme logits.

    In MiSLAS this loss re-trains the classifier in stage 2, with
    class-balanced sampling; see also the ``smooth_head`` option of
    :class:`~ltsk.heads.CRTHead` and :class:`~ltsk.heads.LWSHead`.

    References
    ----------
    .. [1] Z. Zhong, J. Cui, S. Liu and J. Jia, "Improving Calibration for
       Long-Tailed Recognition", CVPR 2021 (MiSLAS), Eq. (3)-(4).

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import label_aware_smoothing_loss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> targets = torch.tensor([0, 1])
    >>> label_aware_smoothing_loss(logits, targets, [90, 10], reduction="none")
    tensor([0.5269, 0.6931])
    """
    smoothing = label_aware_smoothing(
        class_counts, smooth_head=smooth_head, smooth_tail=smooth_tail, shape=shape
    )
    targets = check_inputs(logits, targets, smoothing.size, name="class_counts")
    return _smoothed(logits, targets, smoothing, reduction)


@fill_loss_doc
class LabelAwareSmoothingLoss(LongTailLoss):
    r"""Label-aware smoothing loss of MiSLAS as a module.

    See :func:`label_aware_smoothing_loss`. As the net's ``criterion``,
    :class:`~ltsk.nets.LongTailNetClassifier` passes the training class counts
    automatically.

    Parameters
    ----------
    %(class_counts_module)s
    %(smooth_head)s
    %(smooth_tail)s
    %(smoothing_shape)s
    %(reduction_by_n)s

    Attributes
    ----------
    %(class_counts_buffer)s
    smoothing : Tensor of shape (n_classes,)
        The per-class factors :math:`\epsilon_j` (a buffer, so it follows
        ``.to(device)``).

    Notes
    -----
    :math:`\ell_i = (1 - \epsilon_{y_i})(-\log p_{i,y_i}) + \epsilon_{y_i}
    \frac{1}{C}\sum_j (-\log p_{ij})`, with :math:`\epsilon_j` rising from
    ``smooth_tail`` (rarest class) to ``smooth_head`` (largest class) along
    :math:`\sin(\frac{\pi}{2}\frac{n_j - n_K}{n_1 - n_K})` for the concave
    shape, Zhong et al. [1]_; details in :func:`label_aware_smoothing`.

    References
    ----------
    .. [1] Z. Zhong, J. Cui, S. Liu and J. Jia, "Improving Calibration for
       Long-Tailed Recognition", CVPR 2021 (MiSLAS).

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import LabelAwareSmoothingLoss
    >>> criterion = LabelAwareSmoothingLoss([90, 10])
    >>> criterion.smoothing
    tensor([0.4000, 0.1000])
    >>> criterion(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    tensor(0.6100)
    """

    def __init__(
        self,
        class_counts: Counts,
        smooth_head: float = 0.4,
        smooth_tail: float = 0.1,
        shape: str = "concave",
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        check_params(
            type(self).__name__,
            class_counts=class_counts,
            smooth_head=smooth_head,
            smooth_tail=smooth_tail,
            shape=shape,
        )
        counts = self._register_counts(class_counts)
        self.smooth_head = float(smooth_head)
        self.smooth_tail = float(smooth_tail)
        self.shape = shape
        self._float_buffer(
            "smoothing",
            label_aware_smoothing(
                counts, smooth_head=smooth_head, smooth_tail=smooth_tail, shape=shape
            ),
        )

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        targets = check_inputs(
            logits, targets, self.smoothing.shape[0], name="class_counts"
        )
        return _smoothed(logits, targets, self.smoothing, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"smooth_head={self.smooth_head}, smooth_tail={self.smooth_tail}, "
            f"shape={self.shape!r}, reduction={self.reduction!r}"
        )
