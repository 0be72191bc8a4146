"""Per-class loss weights from class counts (imports numpy only, not torch)."""

import numpy as np

from ltsk.losses._params import check_real
from ltsk.utils._validation import check_class_counts

_SCHEMES = ("inverse", "sqrt_inverse", "effective_number", "power")


def class_weights(
    class_counts, scheme: str = "inverse", *, beta: float = 0.9999, power: float = 1.0
) -> np.ndarray:
    r"""Per-class weights that up-weight rare classes, normalised to sum to C.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class (non-negative, at least one positive). A
        ``torch.Tensor`` on any device is accepted too.
    scheme : {"inverse", "sqrt_inverse", "effective_number", "power"}, default="inverse"
        How a weight depends on the class count :math:`n_j`:

        - ``"inverse"``: :math:`w_j \propto 1 / n_j`;
        - ``"sqrt_inverse"``: :math:`w_j \propto 1 / \sqrt{n_j}`;
        - ``"effective_number"``: :math:`w_j \propto (1 - \beta) / (1 - \beta^{n_j})`,
          the inverse effective number of samples of Cui et al. [1]_;
        - ``"power"``: :math:`w_j \propto n_j^{-p}` with ``p = power``.
    beta : float in [0, 1), default=0.9999
        Hyper-parameter of ``"effective_number"``. ``beta=0`` gives equal
        weights and ``beta -> 1`` approaches ``"inverse"``.
    power : float >= 0, default=1.0
        Exponent of ``"power"``. 0 gives equal weights, 1 is ``"inverse"``.

    Returns
    -------
    weights : ndarray of shape (n_classes,), dtype float64
        Non-negative weights summing to ``n_classes``.

    Notes
    -----
    The weights are normalised so that :math:`\sum_j w_j = C`, as in the
    class-balanced loss of Cui et al. [1]_, so that on a balanced data set
    every weight is 1.

    A class with count zero has no samples to weight: it gets weight 0 and
    the weights of the other classes are normalised to sum to ``C`` (the
    total number of classes). The result is always finite.

    ``1 - beta**n`` is computed as ``-expm1(n * log(beta))``, which keeps its
    precision for ``beta`` close to 1.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019, Eq. (4) and
       Section 4.

    Examples
    --------
    >>> from ltsk.losses import class_weights
    >>> class_weights([100, 10, 1])
    array([0.0270..., 0.2702..., 2.7027...])
    >>> class_weights([100, 10, 1], "effective_number", beta=0.0)
    array([1., 1., 1.])
    >>> class_weights([50, 0, 50], "sqrt_inverse")
    array([1.5, 0. , 1.5])
    """
    if hasattr(class_counts, "detach"):  # a torch tensor, possibly on a GPU
        class_counts = class_counts.detach().cpu().numpy()
    counts = check_class_counts(class_counts)
    if not isinstance(scheme, str) or scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}.")
    beta = check_real(beta, "beta", low=0.0, high=1.0, high_closed=False)
    power = check_real(power, "power", low=0.0)

    present = counts > 0
    n = counts[present]
    if scheme == "effective_number":
        if beta == 0.0:
            raw = np.ones_like(n)
        else:
            raw = (1.0 - beta) / -np.expm1(n * np.log(beta))
    else:
        exponent = {"inverse": 1.0, "sqrt_inverse": 0.5, "power": power}[scheme]
        # Divide by the smallest count first so that n**-exponent cannot
        # underflow to zero for huge counts or exponents.
        raw = (n / n.min()) ** -exponent
    weights = np.zeros_like(counts)
    weights[present] = raw * (counts.size / raw.sum())
    return weights
