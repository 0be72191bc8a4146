"""Label-aware smoothing factors from class counts (numpy only, not torch)."""

import numpy as np
from sklearn.utils._param_validation import validate_params

from ltsk.losses._docstrings import fill_loss_doc
from ltsk.losses._params import constraints
from ltsk.utils._validation import check_class_counts


@fill_loss_doc
@validate_params(
    constraints("class_counts", "smooth_head", "smooth_tail", "shape"),
    prefer_skip_nested_validation=True,
)
def label_aware_smoothing(
    class_counts,
    *,
    smooth_head: float = 0.4,
    smooth_tail: float = 0.1,
    shape: str = "concave",
) -> np.ndarray:
    r"""Per-class label-smoothing factors of MiSLAS (Zhong et al. [1]_).

    The factor :math:`\epsilon_j` goes from ``smooth_tail`` for the rarest
    class to ``smooth_head`` for the largest, along a curve in the relative
    class size :math:`x_j = (n_j - n_K) / (n_1 - n_K)`.

    Parameters
    ----------
    %(class_counts_array)s
    smooth_head : float in [0, 1], default=0.4
        :math:`\epsilon_1`, the smoothing of the largest class.
    smooth_tail : float in [0, 1], default=0.1
        :math:`\epsilon_K`, the smoothing of the smallest class.
    shape : {"concave", "linear", "convex"}, default="concave"
        The curve between them (see Notes).

    Returns
    -------
    smoothing : ndarray of shape (n_classes,), dtype float64
        :math:`\epsilon_j` for each class, in [0, 1].

    Notes
    -----
    With :math:`n_1 = \max_j n_j`, :math:`n_K = \min_j n_j` and
    :math:`\theta_j = \frac{\pi}{2}\,\frac{n_j - n_K}{n_1 - n_K}`, Eq. (4) of
    [1]_ and its variants in the official code are

    .. math::

        \epsilon_j = \begin{cases}
        \epsilon_K + (\epsilon_1 - \epsilon_K) \sin\theta_j
            & \text{concave (the paper's)},\\
        \epsilon_K + (\epsilon_1 - \epsilon_K)\,\frac{2}{\pi}\theta_j
            & \text{linear},\\
        \epsilon_1 - (\epsilon_1 - \epsilon_K) \cos\theta_j
            & \text{convex}.
        \end{cases}

    The official code writes the convex case as
    :math:`\epsilon_1 + (\epsilon_1 - \epsilon_K)\sin(\frac{3\pi}{2} +
    \theta_j)`, which is the same. Its defaults for CIFAR-100-LT and
    ImageNet-LT are ``smooth_head=0.4, smooth_tail=0.1`` (CIFAR-10-LT:
    0.3 and 0.0). Differences from the official code: :math:`n_K` is the
    smallest *positive* count (a class with count 0 never is a target and
    gets ``smooth_tail``), where the official code would take 0; when all
    present classes have the same count the official formula divides 0 by 0
    (NaN), ltsk gives every class ``smooth_head``; its ``"exp"`` shape is not
    provided.

    References
    ----------
    .. [1] Z. Zhong, J. Cui, S. Liu and J. Jia, "Improving Calibration for
       Long-Tailed Recognition", CVPR 2021 (MiSLAS), Sec. 3.2.

    Examples
    --------
    >>> from ltsk.losses import label_aware_smoothing
    >>> label_aware_smoothing([100, 55, 10])
    array([0.4       , 0.31213203, 0.1       ])
    >>> label_aware_smoothing([100, 55, 10], shape="linear")
    array([0.4 , 0.25, 0.1 ])
    """
    if hasattr(class_counts, "detach"):  # a torch tensor, possibly on a GPU
        class_counts = class_counts.detach().cpu().numpy()
    counts = check_class_counts(class_counts)
    present = counts > 0
    n_max, n_min = counts.max(), counts[present].min()
    if n_max == n_min:
        relative = np.where(present, 1.0, 0.0)
    else:
        relative = np.clip((counts - n_min) / (n_max - n_min), 0.0, 1.0)
    theta = 0.5 * np.pi * relative
    span = smooth_head - smooth_tail
    if shape == "concave":
        return smooth_tail + span * np.sin(theta)
    if shape == "linear":
        return smooth_tail + span * relative
    return smooth_head - span * np.cos(theta)
