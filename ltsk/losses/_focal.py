"""Focal loss, softmax form (Lin et al., ICCV 2017)."""

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import validate_params
from torch import Tensor

from ltsk.losses._base import (
    LongTailLoss,
    check_inputs,
    check_per_class,
    per_class_tensor,
    reduce_loss,
)
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._params import check_params, constraints

Alpha = float | Sequence[float] | Tensor | None


def warn_if_gamma_underflows(gamma: float, dtype: torch.dtype) -> None:
    r"""Warn when ``(1 - p_t) ** gamma`` vanishes for samples still to be learnt.

    For a sample with :math:`p_t \le 1/2` the focal factor is at least
    :math:`2^{-\gamma}`; once that is below the smallest normal number of
    ``dtype`` (``gamma`` above about 126 in float32, 1022 in float64) the loss
    and the gradients of such samples round to zero and nothing trains.
    """
    if gamma * math.log(2.0) > -math.log(torch.finfo(dtype).tiny):
        warnings.warn(
            f"gamma={gamma:g} is too large for {dtype} logits: the focal factor "
            "(1 - p_t)**gamma underflows to 0 for samples with p_t >= 1/2 (and "
            "for most others), so their loss and gradients vanish and training "
            "stalls. Use a smaller gamma (Lin et al. use 0 to 5) or float64 "
            "logits.",
            RuntimeWarning,
            stacklevel=3,
        )


def focal_terms(logits: Tensor, targets: Tensor, gamma: float) -> Tensor:
    r"""Per-sample :math:`-(1 - p_t)^\gamma \log p_t`; ``gamma=0`` is cross-entropy.

    Inputs are assumed valid. Shared by every loss of the package, which are
    all (focal) cross-entropies of transformed logits.
    """
    log_probs = F.log_softmax(logits, dim=1)
    log_pt = log_probs.gather(1, targets[:, None]).squeeze(1)
    if gamma == 0.0 or logits.shape[1] == 1:
        return -log_pt
    warn_if_gamma_underflows(gamma, logits.dtype)
    # log(1 - p_t) as a log-sum-exp over the other classes: exact when p_t
    # rounds to 1 and with a bounded gradient, unlike (1 - p_t) ** gamma whose
    # derivative is infinite at 0 when gamma < 1.
    log_rest = torch.logsumexp(
        log_probs.scatter(1, targets[:, None], float("-inf")), dim=1
    )
    return -torch.exp(gamma * log_rest) * log_pt


def sigmoid_focal_terms(logits: Tensor, targets: Tensor, gamma: float) -> Tensor:
    r"""Per-sample sigmoid focal loss, summed over the classes.

    Each class is a binary problem with label :math:`[j = y]` and probability
    :math:`\sigma(z_j)`; ``gamma=0`` is the summed binary cross-entropy.
    Inputs are assumed valid.
    """
    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none")
    if gamma != 0.0:
        warn_if_gamma_underflows(gamma, logits.dtype)
        # 1 - p_t = sigmoid(z) for a negative class, sigmoid(-z) for the
        # positive one; its log by logsigmoid, as in Cui et al.'s code.
        losses = torch.exp(gamma * F.logsigmoid(logits * (1 - 2 * one_hot))) * losses
    return losses.sum(dim=1)


def _check_alpha(alpha, caller: str):
    """Return alpha as None, a float, or a float64 array of per-class values."""
    if alpha is None:
        return None
    if isinstance(alpha, Tensor):
        scalar = alpha.ndim == 0
    else:
        try:
            scalar = np.ndim(alpha) == 0
        except ValueError:  # ragged nested sequence, rejected below
            scalar = False
    if scalar:
        if hasattr(alpha, "item"):  # 0-d tensor or array
            alpha = alpha.item()
        check_params(caller, alpha=alpha)
        return float(alpha)
    return check_per_class(alpha, "alpha")


def _focal(
    logits: Tensor, targets: Tensor, gamma: float, alpha, reduction: str
) -> Tensor:
    losses = focal_terms(logits, targets, gamma)
    if isinstance(alpha, float):
        losses = alpha * losses
    elif alpha is not None:
        losses = per_class_tensor(alpha, logits)[targets] * losses
    # Plain mean over samples, whatever alpha is (Lin et al. normalise by the
    # number of samples, not by the sum of the weights).
    return reduce_loss(losses, reduction)


@fill_loss_doc
@validate_params(
    constraints("gamma", "alpha", "reduction"), prefer_skip_nested_validation=True
)
def focal_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    gamma: float = 2.0,
    alpha: Alpha = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Softmax focal loss of Lin et al. [1]_.

    .. math:: \mathrm{FL}_i = -\alpha_{y_i} (1 - p_{i,y_i})^\gamma \log p_{i,y_i},
              \qquad p_i = \mathrm{softmax}(z_i)

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised class scores :math:`z`.
    %(targets)s
    gamma : float >= 0, default=2.0
        Focusing parameter. ``gamma=0`` with ``alpha=None`` is cross-entropy.
    alpha : None, float >= 0 or sequence/Tensor of shape (n_classes,), default=None
        Weight of each sample's loss: none, one factor for all samples, or one
        non-negative weight per class (indexed by the sample's target).
    reduction : {"mean", "sum", "none"}, default="mean"
        "mean" averages over the samples (dividing by ``n_samples``, not by the
        sum of the ``alpha`` weights, as in [1]_); "none" returns the
        per-sample losses.

    Returns
    -------
    %(loss)s

    Notes
    -----
    This is the multi-class (softmax) form of the focal loss, Eq. (5) of [1]_
    with :math:`p_t` the softmax probability of the true class. With a scalar
    ``alpha`` it simply rescales the loss (the sigmoid form's
    :math:`1 - \alpha` for negatives has no softmax counterpart).

    It is computed from ``log_softmax``, and :math:`\log(1 - p_t)` as the
    log-sum-exp of the other classes' log-probabilities, so values and
    gradients stay finite for extreme logits and for ``gamma < 1``. A
    ``gamma`` so large that :math:`2^{-\gamma}` is below the smallest normal
    number of the logits' dtype (about 126 in float32, 1022 in float64) makes
    the factor, and with it the loss and gradients of every sample with
    :math:`p_t \ge 1/2` (and of most others), round to zero: it is computed
    as asked but a ``RuntimeWarning`` says so, since nothing would train.

    **Per-class alpha versus LDAM-DRW's code.** ltsk follows Lin et al.:
    :math:`\alpha_y` multiplies the loss and :math:`p_t` is the softmax
    probability. The ``FocalLoss(weight=w)`` of Cao et al.'s LDAM-DRW code
    (used in their CIFAR-LT baselines) instead derives the modulating factor
    from the *weighted* cross-entropy, :math:`p = \exp(-w_y \ell_{CE}) =
    p_t^{w_y}`, giving :math:`w_y (1 - p_t^{w_y})^\gamma (-\log p_t)`, and
    always divides by :math:`N`. The two agree for ``alpha=None`` (and any
    ``gamma``) and for ``gamma=0``; with per-class weights and ``gamma > 0``
    the reference down-weights confident tail samples less. ltsk keeps the
    paper's form, in which the weight and the focusing term are independent.

    References
    ----------
    %(ref_focal)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import focal_loss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> targets = torch.tensor([0, 1])
    >>> focal_loss(logits, targets, gamma=2.0, reduction="none")
    tensor([0.0018, 0.1733])
    >>> focal_loss(logits, targets, gamma=0.0)  # cross-entropy
    tensor(0.4100)
    """
    alpha = _check_alpha(alpha, "focal_loss")
    n_classes = None if alpha is None or isinstance(alpha, float) else alpha.size
    targets = check_inputs(logits, targets, n_classes, name="alpha")
    return _focal(logits, targets, gamma, alpha, reduction)


@fill_loss_doc
class FocalLoss(LongTailLoss):
    r"""Softmax focal loss as a module; see :func:`focal_loss`.

    Parameters
    ----------
    gamma : float >= 0, default=2.0
        Focusing parameter; ``gamma=0`` with ``alpha=None`` is cross-entropy.
    alpha : None, float >= 0 or sequence/Tensor of shape (n_classes,), default=None
        Sample weight: none, one factor, or one weight per class.
    %(reduction_by_n)s

    Attributes
    ----------
    alpha : None, float or Tensor of shape (n_classes,)
        A per-class ``alpha`` is a buffer, so it follows ``.to(device)``.

    Notes
    -----
    :math:`\mathrm{FL} = -\alpha_y (1 - p_t)^\gamma \log p_t`, Lin et al. [1]_.
    How a per-class ``alpha`` differs from LDAM-DRW's ``FocalLoss(weight=...)``,
    and the warning for a ``gamma`` that underflows, are described in
    :func:`focal_loss`.

    References
    ----------
    %(ref_focal)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import FocalLoss
    >>> criterion = FocalLoss(gamma=2.0, alpha=[0.25, 0.75])
    >>> criterion(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    tensor(0.0652)
    """

    def __init__(
        self, gamma: float = 2.0, alpha: Alpha = None, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        check_params(type(self).__name__, gamma=gamma, alpha=alpha)
        self.gamma = float(gamma)
        alpha = _check_alpha(alpha, type(self).__name__)
        if alpha is None or isinstance(alpha, float):
            self.alpha = alpha
        else:
            self._float_buffer("alpha", alpha)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        per_class = isinstance(self.alpha, Tensor)
        n_classes = self.alpha.shape[0] if per_class else None
        targets = check_inputs(logits, targets, n_classes, name="alpha")
        return _focal(logits, targets, self.gamma, self.alpha, self.reduction)

    def extra_repr(self) -> str:
        alpha = "per-class" if isinstance(self.alpha, Tensor) else self.alpha
        return f"gamma={self.gamma}, alpha={alpha}, reduction={self.reduction!r}"
