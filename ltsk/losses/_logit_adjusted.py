"""Logit-adjusted loss (Menon et al., ICLR 2021) and balanced softmax (Ren et
al., NeurIPS 2020)."""

import numpy as np
from scipy.special import log_softmax
from sklearn.utils._param_validation import validate_params
from torch import Tensor

from ltsk.losses._base import (
    Counts,
    LongTailLoss,
    check_inputs,
    check_no_overflow,
    counts_to_numpy,
    per_class_tensor,
    rarest_for_absent,
    reduce_loss,
)
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._focal import focal_terms
from ltsk.losses._params import check_params, constraints


def _log_priors(counts: np.ndarray) -> np.ndarray:
    # log(n_j / sum n) as log n_j - logsumexp(log n): finite even when the
    # sum of the counts overflows.
    return log_softmax(np.log(rarest_for_absent(counts)))


def _adjusted(
    logits: Tensor, targets: Tensor, log_priors: Tensor, tau: float, reduction: str
) -> Tensor:
    adjusted = logits + tau * per_class_tensor(log_priors, logits)
    check_no_overflow(adjusted, logits, f"tau={tau:g} times log(prior)")
    return reduce_loss(focal_terms(adjusted, targets, 0.0), reduction)


@fill_loss_doc
@validate_params(
    constraints("class_counts", "tau", "reduction"), prefer_skip_nested_validation=True
)
def logit_adjusted_loss(
    logits: Tensor,
    targets: Tensor,
    class_counts: Counts,
    *,
    tau: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Logit-adjusted cross-entropy of Menon et al. [1]_.

    .. math:: \ell_i = -\log \frac{\exp(z_{i,y_i} + \tau \log \pi_{y_i})}
                             {\sum_j \exp(z_{i,j} + \tau \log \pi_j)},
              \qquad \pi_j = n_j / \textstyle\sum_k n_k

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised class scores :math:`z` (used unadjusted at test time).
    %(targets)s
    %(class_counts)s
    tau : float >= 0, default=1.0
        Scale of the adjustment; ``tau=0`` is plain cross-entropy.
    %(reduction)s

    Returns
    -------
    %(loss)s

    Notes
    -----
    Eq. (10) of [1]_. A class with count 0 is given the smallest positive
    count, so its prior and the loss stay finite; it never appears as a
    target, so its logit is only pushed down, as with plain cross-entropy.
    The log-priors are computed as :math:`\log n_j - \log \sum_k n_k` by a
    log-sum-exp, so counts whose sum overflows still give exact priors.

    A ``tau`` so large that :math:`\tau \log \pi_j` overflows in the logits'
    dtype (about :math:`10^{38} / \log(1/\pi_j)` in float32) would give an
    infinite or NaN loss: it raises a ``ValueError`` naming ``tau`` when the
    loss is evaluated (the dtype is only known then). Checking it costs one
    reduction over the adjusted logits per call.

    References
    ----------
    %(ref_logit_adjustment)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import logit_adjusted_loss
    >>> logits = torch.zeros(2, 2)
    >>> targets = torch.tensor([0, 1])
    >>> logit_adjusted_loss(logits, targets, [3, 1], reduction="none")
    tensor([0.2877, 1.3863])
    """
    counts = counts_to_numpy(class_counts)
    targets = check_inputs(logits, targets, counts.size, name="class_counts")
    return _adjusted(logits, targets, _log_priors(counts), tau, reduction)


@fill_loss_doc
@validate_params(
    constraints("class_counts", "reduction"), prefer_skip_nested_validation=True
)
def balanced_softmax_loss(
    logits: Tensor, targets: Tensor, class_counts: Counts, *, reduction: str = "mean"
) -> Tensor:
    r"""Balanced softmax cross-entropy of Ren et al. [1]_.

    .. math:: \ell_i = -\log \frac{n_{y_i} \exp(z_{i,y_i})}
                                 {\sum_j n_j \exp(z_{i,j})}

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised class scores (used unadjusted at test time).
    %(targets)s
    %(class_counts)s
    %(reduction)s

    Returns
    -------
    %(loss)s

    Notes
    -----
    Eq. (4) of [1]_. Adding :math:`\log n_j` or :math:`\log \pi_j` to the logits
    differs by a constant per row, which the softmax ignores, so this equals
    :func:`logit_adjusted_loss` with ``tau=1``; with equal counts it is plain
    cross-entropy. Zero counts are handled as in :func:`logit_adjusted_loss`.

    References
    ----------
    %(ref_balanced_softmax)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import balanced_softmax_loss
    >>> balanced_softmax_loss(torch.zeros(2, 2), torch.tensor([0, 1]), [3, 1])
    tensor(0.8370)
    """
    return logit_adjusted_loss(
        logits, targets, class_counts, tau=1.0, reduction=reduction
    )


@fill_loss_doc
class LogitAdjustedLoss(LongTailLoss):
    r"""Logit-adjusted cross-entropy as a module; see :func:`logit_adjusted_loss`.

    Parameters
    ----------
    %(class_counts_module)s
    tau : float >= 0, default=1.0
        Scale of the adjustment; ``tau=0`` is plain cross-entropy.
    %(reduction)s

    Attributes
    ----------
    %(class_counts_buffer)s
    log_priors : Tensor of shape (n_classes,)
        Buffer with :math:`\log \pi_j` (zero counts given the smallest
        positive count).

    Notes
    -----
    Cross-entropy on :math:`z_j + \tau \log \pi_j`, Menon et al. [1]_.

    References
    ----------
    %(ref_logit_adjustment)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import LogitAdjustedLoss
    >>> criterion = LogitAdjustedLoss([3, 1], tau=1.0)
    >>> criterion(torch.zeros(2, 2), torch.tensor([0, 1]))
    tensor(0.8370)
    """

    def __init__(
        self, class_counts: Counts, tau: float = 1.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        check_params(type(self).__name__, class_counts=class_counts, tau=tau)
        self.tau = float(tau)
        counts = self._register_counts(class_counts)
        self._float_buffer("log_priors", _log_priors(counts))

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        n_classes = self.class_counts.shape[0]
        targets = check_inputs(logits, targets, n_classes, name="class_counts")
        return _adjusted(logits, targets, self.log_priors, self.tau, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"n_classes={self.class_counts.shape[0]}, tau={self.tau}, "
            f"reduction={self.reduction!r}"
        )


@fill_loss_doc
class BalancedSoftmaxLoss(LogitAdjustedLoss):
    r"""Balanced softmax cross-entropy as a module.

    The module form of :func:`balanced_softmax_loss`.

    Parameters
    ----------
    %(class_counts_module)s
    %(reduction)s

    Attributes
    ----------
    %(class_counts_buffer)s
    log_priors : Tensor of shape (n_classes,)
        Buffer with :math:`\log \pi_j`; adding it to the logits is the same,
        up to a constant per row, as adding :math:`\log n_j`.

    Notes
    -----
    Cross-entropy on :math:`z_j + \log n_j`, Ren et al. [1]_; the logit-adjusted
    loss with ``tau=1``.

    References
    ----------
    %(ref_balanced_softmax)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import BalancedSoftmaxLoss
    >>> BalancedSoftmaxLoss([3, 1])(torch.zeros(2, 2), torch.tensor([0, 1]))
    tensor(0.8370)
    """

    def __init__(self, class_counts: Counts, reduction: str = "mean") -> None:
        super().__init__(class_counts, tau=1.0, reduction=reduction)

    def extra_repr(self) -> str:
        return f"n_classes={self.class_counts.shape[0]}, reduction={self.reduction!r}"
