"""Mixup (Zhang et al., ICLR 2018) and Remix (Chou et al., ECCV-W 2020) pieces
used by LongTailNetClassifier's training step: the mixing coefficient, the
remix label rule and the mixed-pairs loss."""

from numbers import Real

import torch
from torch import Tensor, nn

from ltsk.losses._base import reduce_loss


def remix_label_weights(
    lam: float | Tensor, counts_i, counts_j, kappa: float = 3.0, tau: float = 0.5
) -> Tensor:
    r"""Label weight of the first sample of each pair under Remix's rule.

    A pair mixes :math:`\tilde x = \lambda x_i + (1 - \lambda) x_j`; its label
    is :math:`\lambda_y e_{y_i} + (1 - \lambda_y) e_{y_j}` with

    .. math::

        \lambda_y = \begin{cases}
            0 & \text{if } n_i / n_j \ge \kappa \text{ and } \lambda < \tau, \\
            1 & \text{if } n_i / n_j \le 1 / \kappa
                \text{ and } 1 - \lambda < \tau, \\
            \lambda & \text{otherwise,}
        \end{cases}

    so when a majority sample contributes little of the mixed input, the
    whole label goes to the minority sample.

    Parameters
    ----------
    lam : float or Tensor
        :math:`\lambda`, the input mixing coefficient: one number, or one per
        pair (broadcast against the counts).
    counts_i, counts_j : array-like or Tensor of shape (n_pairs,)
        Training counts :math:`n_i`, :math:`n_j` of the two samples' classes
        (positive: each sample's class occurs in the training set).
    kappa : float > 0, default=3.0
        Imbalance ratio from which a pair counts as majority/minority.
    tau : float in [0, 1], default=0.5
        Mixing share below which the majority sample loses its label.

    Returns
    -------
    lam_y : Tensor of shape (n_pairs,), dtype float64
        :math:`\lambda_y` of each pair: the weight of the loss on the first
        sample's label; ``1 - lam_y`` weighs the second one's.

    Notes
    -----
    Chou et al. [2]_, Eq. (4)-(5). Both label cases hold at once when
    :math:`\kappa \le n_i / n_j \le 1 / \kappa` and
    :math:`1 - \tau < \lambda < \tau`: that needs ``tau > 1/2`` and either
    ``kappa < 1`` or ``kappa = 1`` with equal counts (two different classes
    of the same size). The paper lists the cases in this order without
    saying which wins; ltsk checks them in that order, so the first case
    wins and the whole label goes to the *second* sample
    (:math:`\lambda_y = 0`), as in the if/elif of the public Remix
    implementations (the paper's authors released no code). With the
    defaults (``kappa=3``, ``tau=1/2``) the cases exclude each other and the
    order does not matter; at ``kappa=1`` and ``tau <= 1/2`` a pair of
    equal-count classes still has its label go wholly to the sample with the
    larger share of the input (to the second one for :math:`\lambda < \tau`,
    to the first for :math:`1 - \lambda < \tau`), unlike mixup. Plain mixup
    (Zhang et al. [1]_) is :math:`\lambda_y = \lambda` for every pair.

    References
    ----------
    .. [1] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: Beyond
       Empirical Risk Minimization", ICLR 2018.
    .. [2] H.-P. Chou, S.-C. Chang, J.-Y. Pan, W. Wei and D.-C. Juan, "Remix:
       Rebalanced Mixup", ECCV 2020 workshops.

    Examples
    --------
    >>> from ltsk.nets import remix_label_weights
    >>> remix_label_weights(0.3, [100, 10, 10, 50], [10, 100, 10, 40])
    tensor([0.0000, 0.3000, 0.3000, 0.3000], dtype=torch.float64)
    >>> remix_label_weights(0.8, [100, 10], [10, 100])
    tensor([0.8000, 1.0000], dtype=torch.float64)
    >>> remix_label_weights(0.5, [10], [10], kappa=1.0, tau=0.7)  # both cases
    tensor([0.], dtype=torch.float64)
    """
    for name, value in (("kappa", kappa), ("tau", tau)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {value!r}.")
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa!r}.")
    if not 0 <= tau <= 1:
        raise ValueError(f"tau must be in [0, 1], got {tau!r}.")
    n_i = torch.as_tensor(counts_i, dtype=torch.float64)
    n_j = torch.as_tensor(counts_j, dtype=torch.float64, device=n_i.device)
    lam = torch.as_tensor(lam, dtype=torch.float64, device=n_i.device)
    if not bool(((lam >= 0) & (lam <= 1)).all()):
        raise ValueError("lam must be in [0, 1].")
    for name, counts in (("counts_i", n_i), ("counts_j", n_j)):
        if not bool((counts > 0).all()):
            raise ValueError(f"{name} must be positive class counts.")
    ratio = n_i / n_j
    lam_y = torch.broadcast_to(lam, ratio.shape)
    to_j = (ratio >= kappa) & (lam < tau)
    to_i = (ratio <= 1.0 / kappa) & (1.0 - lam < tau)
    lam_y = torch.where(to_i, torch.ones_like(lam_y), lam_y)
    return torch.where(to_j, torch.zeros_like(lam_y), lam_y)


def sample_mixup_lambda(alpha: float) -> float:
    r"""Draw :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` from torch's
    global generator (seeded by the net's ``random_state``), on the CPU."""
    concentration = torch.tensor(float(alpha), dtype=torch.float64)
    return float(torch.distributions.Beta(concentration, concentration).sample())


def per_sample_losses(
    criterion: nn.Module, compute, n_samples: int
) -> tuple[Tensor, str]:
    """Per-sample losses of ``criterion`` and its own reduction.

    ``compute()`` evaluates the criterion; it runs with the criterion's
    ``reduction`` temporarily set to "none" (torch's losses and every ltsk
    loss read it in ``forward``).
    """
    reduction = getattr(criterion, "reduction", None)
    if not isinstance(reduction, str):
        raise TypeError(
            "mixup needs the criterion's per-sample losses: the criterion must "
            "have a `reduction` attribute that accepts 'none' (every ltsk loss, "
            f"nn.CrossEntropyLoss and nn.NLLLoss do); {type(criterion).__name__} "
            "has none."
        )
    criterion.reduction = "none"
    try:
        losses = compute()
    finally:
        criterion.reduction = reduction
    if not isinstance(losses, Tensor) or tuple(losses.shape) != (n_samples,):
        shape = tuple(getattr(losses, "shape", ()))
        raise TypeError(
            "mixup needs the criterion's per-sample losses, but "
            f"{type(criterion).__name__} with reduction='none' returned shape "
            f"{shape} instead of ({n_samples},)."
        )
    return losses, reduction


def mixed_pair_loss(
    losses_i: Tensor,
    losses_j: Tensor,
    lam_y: Tensor,
    reduction: str,
    class_weight: Tensor | None = None,
    targets_i: Tensor | None = None,
    targets_j: Tensor | None = None,
) -> Tensor:
    r"""Combine per-sample losses on both labels of each mixed pair.

    :math:`\ell = \lambda_y \ell(z, y_i) + (1 - \lambda_y) \ell(z, y_j)` per
    sample, reduced as the criterion would: "sum", "none", or "mean" over the
    samples, or, when ``class_weight`` is given (a criterion whose mean is
    normalised by the samples' class weights), divided by
    :math:`\sum (\lambda_y w_{y_i} + (1 - \lambda_y) w_{y_j})`: the batch is
    read as :math:`2N` weighted (logits, label) pairs.
    """
    lam_y = lam_y.to(dtype=losses_i.dtype, device=losses_i.device)
    mixed = lam_y * losses_i + (1.0 - lam_y) * losses_j
    if reduction != "mean" or class_weight is None:
        return reduce_loss(mixed, reduction)
    w = class_weight.to(dtype=losses_i.dtype, device=losses_i.device)
    total = (lam_y * w[targets_i] + (1.0 - lam_y) * w[targets_j]).sum()
    return mixed.sum() / total.clamp_min(torch.finfo(total.dtype).tiny)
