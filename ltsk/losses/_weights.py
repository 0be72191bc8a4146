"""Per-class loss weights from class counts (imports numpy only, not torch)."""

import numpy as np
from scipy.special import softmax
from sklearn.utils._param_validation import validate_params

# ltsk.nets._callbacks reads the scheme names from here
from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._params import _SCHEMES as _SCHEMES
from ltsk.losses._params import constraints
from ltsk.utils._validation import check_class_counts


@fill_loss_doc
@validate_params(
    constraints("class_counts", "scheme", "beta", "power"),
    prefer_skip_nested_validation=True,
)
def class_weights(
    class_counts, scheme: str = "inverse", *, beta: float = 0.9999, power: float = 1.0
) -> np.ndarray:
    r"""Per-class weights that up-weight rare classes, normalised to sum to C.

    Parameters
    ----------
    %(class_counts_array)s
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
    precision for ``beta`` close to 1, and the weights are normalised from
    their logarithms (a softmax), so that no ratio of counts, however
    extreme, overflows: the result is finite for every valid input.

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

    present = counts > 0
    n = counts[present]
    if scheme == "effective_number":
        if beta == 0.0:
            log_raw = np.zeros_like(n)
        else:
            # log((1 - beta) / (1 - beta**n)) without the constant log(1 - beta)
            log_raw = -np.log(-np.expm1(n * np.log(beta)))
    else:
        exponent = {"inverse": 1.0, "sqrt_inverse": 0.5, "power": power}[scheme]
        log_raw = -exponent * np.log(n)
    weights = np.zeros_like(counts)
    weights[present] = counts.size * softmax(log_raw)
    return weights
