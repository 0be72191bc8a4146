"""Class-balanced loss (Cui et al., CVPR 2019)."""

from sklearn.utils._param_validation import validate_params
from torch import Tensor

from ltsk.losses._base import (
    Counts,
    LongTailLoss,
    check_inputs,
    counts_to_numpy,
    per_class_tensor,
    reduce_loss,
)
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._focal import focal_terms, sigmoid_focal_terms
from ltsk.losses._params import check_params, constraints
from ltsk.losses._weights import class_weights


def _balanced(
    logits: Tensor,
    targets: Tensor,
    weight: Tensor,
    gamma: float,
    reduction: str,
    loss_type: str,
) -> Tensor:
    # Weighted per-sample losses, then a plain mean over the N samples: the
    # reference code's convention. Normalising by the batch's total weight
    # instead (F.cross_entropy(weight=...)) lets a lone tail sample outweigh a
    # whole batch under extreme imbalance, and training collapses.
    terms = focal_terms if loss_type == "softmax" else sigmoid_focal_terms
    sample_weight = per_class_tensor(weight, logits)[targets]
    return reduce_loss(terms(logits, targets, gamma) * sample_weight, reduction)


@fill_loss_doc
@validate_params(
    constraints(
        "class_counts", "beta", "gamma", "reduction", "scheme", "power", "loss_type"
    ),
    prefer_skip_nested_validation=True,
)
def class_balanced_loss(
    logits: Tensor,
    targets: Tensor,
    class_counts: Counts,
    *,
    beta: float = 0.9999,
    gamma: float = 0.0,
    reduction: str = "mean",
    scheme: str = "effective_number",
    power: float = 1.0,
    loss_type: str = "softmax",
) -> Tensor:
    r"""Class-balanced loss of Cui et al. [1]_ (re-weighted cross-entropy or focal).

    Cross-entropy or focal loss weighted by the inverse effective number of
    samples of the true class.

    .. math:: \mathrm{CB}_i = -w_{y_i} (1 - p_{i,y_i})^\gamma \log p_{i,y_i},
              \qquad w_j \propto \frac{1 - \beta}{1 - \beta^{n_j}},
              \quad \sum_j w_j = C

    Parameters
    ----------
    %(logits)s
    %(targets)s
    %(class_counts)s
    beta : float in [0, 1), default=0.9999
        ``beta=0`` gives equal weights; ``beta -> 1`` inverse-frequency weights.
    gamma : float >= 0, default=0.0
        0 gives weighted softmax cross-entropy, > 0 weighted focal loss.
    reduction : {"mean", "sum", "none"}, default="mean"
        "none" returns :math:`w_{y_i} \ell_i`, "sum" their sum and "mean"
        their mean :math:`\frac{1}{N}\sum_i w_{y_i} \ell_i`.
    scheme : str, default="effective_number"
        The re-weighting family of :func:`class_weights`: one of
        ``"effective_number"``, ``"inverse"``, ``"sqrt_inverse"``, ``"power"``.
        The default is the class-balanced loss proper, the others give
        re-weighted cross-entropy (or focal loss) with inverse-frequency,
        square-root or power weights.
    power : float >= 0, default=1.0
        Exponent of ``scheme="power"`` (:math:`w_j \propto n_j^{-p}`).
    loss_type : {"softmax", "sigmoid"}, default="softmax"
        The loss that is weighted: softmax cross-entropy / focal loss (the
        formula above), or, as ``loss_type="sigmoid"`` / ``"focal"`` of the
        reference code of [1]_, one binary (sigmoid) cross-entropy or focal
        loss per class, summed over the classes (see Notes).

    Returns
    -------
    %(loss)s

    Notes
    -----
    The weights are ``class_weights(class_counts, scheme, beta=beta,
    power=power)``; with the default scheme, Eq. (4) of [1]_, normalised to
    sum to C. "mean" divides by
    the number of samples, as the reference code of [1]_ does; it is not the
    weighted mean of ``F.cross_entropy(weight=w)``, which divides by the
    batch's total weight. That convention makes a batch holding one rare
    sample as heavy as a batch of them, and under extreme imbalance (UCI
    shuttle: 34108 against 6 samples) training collapses.

    A class with count 0 gets weight 0 (see :func:`class_weights`).

    **Softmax versus sigmoid focal loss.** With ``gamma > 0`` the default is
    the softmax focal loss of the formula above, the multi-class form ltsk
    uses everywhere. The reference code of [1]_ (its ``focal`` loss type)
    uses the *sigmoid* focal loss of Lin et al. instead, on which the paper's
    focal results rest:

    .. math:: \mathrm{CB}_i = w_{y_i} \sum_{j=1}^{C} (1 - p_{ij})^\gamma\,
              \mathrm{BCE}(z_{ij}, [j = y_i]),
              \qquad 1 - p_{ij} = \sigma(z_{ij}) \text{ if } j \ne y_i,
              \ \sigma(-z_{ij}) \text{ if } j = y_i,

    summed over the classes and divided by :math:`N` (the number of positive
    labels); ``gamma=0`` is its ``sigmoid`` loss type. ``loss_type="sigmoid"``
    computes exactly that. Its logits are scores of independent binary
    problems: the class with the highest one is still the prediction, but a
    softmax of them is not a calibrated probability.

    References
    ----------
    %(ref_class_balanced)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import class_balanced_loss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> targets = torch.tensor([0, 1])
    >>> class_balanced_loss(logits, targets, [90, 10], beta=0.9, reduction="none")
    tensor([0.1001, 0.8395])
    >>> class_balanced_loss(logits, targets, [90, 10], scheme="inverse",
    ...                     reduction="none")  # weights [0.2, 1.8]
    tensor([0.0254, 1.2477])
    """
    counts = counts_to_numpy(class_counts)
    targets = check_inputs(logits, targets, counts.size, name="class_counts")
    weight = class_weights(counts, scheme, beta=beta, power=power)
    return _balanced(logits, targets, weight, gamma, reduction, loss_type)


@fill_loss_doc
class ClassBalancedLoss(LongTailLoss):
    r"""Class-balanced loss as a module; see :func:`class_balanced_loss`.

    Parameters
    ----------
    %(class_counts_module)s
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter (0.9999 for CIFAR in [1]_).
    gamma : float >= 0, default=0.0
        0 gives weighted cross-entropy, > 0 weighted focal loss.
    reduction : {"mean", "sum", "none"}, default="mean"
        "mean" is :math:`\frac{1}{N}\sum_i w_{y_i} \ell_i`, as in the
        reference code of [1]_.
    scheme : str, default="effective_number"
        Re-weighting family of :func:`class_weights`: ``"effective_number"``,
        ``"inverse"``, ``"sqrt_inverse"`` or ``"power"`` (tunable in a grid
        search as ``criterion__scheme``).
    power : float >= 0, default=1.0
        Exponent of ``scheme="power"``.
    loss_type : {"softmax", "sigmoid"}, default="softmax"
        Weighted softmax cross-entropy / focal loss, or the per-class sigmoid
        form of the reference code of [1]_ (see :func:`class_balanced_loss`).

    Attributes
    ----------
    %(class_counts_buffer)s
    weight : Tensor of shape (n_classes,)
        Buffer with the class weights, summing to ``n_classes``; 0 for a class
        with count 0. It can be reassigned (a tensor of shape (n_classes,)),
        e.g. by :class:`~ltsk.nets.DeferredReweighting`.

    Notes
    -----
    :math:`w_j \propto (1 - \beta) / (1 - \beta^{n_j})`, Cui et al. [1]_,
    or another member of the re-weighting family (``scheme``). How the
    default softmax focal loss differs from the reference code's sigmoid one
    (``loss_type="sigmoid"``) is described in :func:`class_balanced_loss`.

    References
    ----------
    %(ref_class_balanced)s

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import ClassBalancedLoss
    >>> criterion = ClassBalancedLoss([90, 10], beta=0.9)
    >>> criterion.weight
    tensor([0.7889, 1.2111])
    >>> criterion(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    tensor(0.4698)
    >>> ClassBalancedLoss([90, 10], scheme="sqrt_inverse").weight
    tensor([0.5000, 1.5000])
    """

    def __init__(
        self,
        class_counts: Counts,
        beta: float = 0.9999,
        gamma: float = 0.0,
        reduction: str = "mean",
        scheme: str = "effective_number",
        power: float = 1.0,
        loss_type: str = "softmax",
    ) -> None:
        super().__init__(reduction)
        check_params(
            type(self).__name__,
            class_counts=class_counts,
            beta=beta,
            gamma=gamma,
            scheme=scheme,
            power=power,
            loss_type=loss_type,
        )
        self.beta = float(beta)
        self.gamma = float(gamma)
        counts = self._register_counts(class_counts)
        weight = class_weights(counts, scheme, beta=self.beta, power=power)
        self.scheme = scheme
        self.power = float(power)
        self.loss_type = loss_type
        self._float_buffer("weight", weight)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        n_classes = self.class_counts.shape[0]
        targets = check_inputs(logits, targets, n_classes, name="class_counts")
        return _balanced(
            logits,
            targets,
            self.weight,
            self.gamma,
            self.reduction,
            self.loss_type,
        )

    def extra_repr(self) -> str:
        return (
            f"n_classes={self.class_counts.shape[0]}, scheme={self.scheme!r}, "
            f"beta={self.beta}, gamma={self.gamma}, loss_type={self.loss_type!r}, "
            f"reduction={self.reduction!r}"
        )
