"""Post-hoc logit adjustment by the training class priors."""

from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from ltsk.heads._base import LinearHead
from ltsk.heads._device import DEVICE_CONSTRAINT
from ltsk.heads._docstrings import fill_params
from ltsk.heads._tau_path import TauFamilyMixin


def prior_shift(intercept, log_prior, tau):
    r"""The adjustment :math:`-\tau \log \pi_j`, in the dtype of ``intercept``.

    The one rule for an extreme ``tau``, shared by :class:`LogitAdjustedHead`
    and :func:`~ltsk.heads.tau_path`: ``ValueError`` naming ``tau`` when the
    adjusted bias :math:`b_j - \tau \log \pi_j` overflows.
    """
    with np.errstate(over="ignore"):
        shift = (-tau * log_prior).astype(intercept.dtype)
        adjusted = intercept + shift
    if not np.all(np.isfinite(adjusted)):
        raise ValueError(
            f"tau={tau:g} overflows the adjusted bias b_j - tau * log(prior_j) "
            f"in {intercept.dtype.name}; use a smaller tau."
        )
    return shift


@fill_params
class LogitAdjustedHead(TauFamilyMixin, LinearHead):
    r"""Post-hoc logit adjustment: subtract ``tau * log(prior)`` from the logits.

    Turns a classifier of :math:`p(y \mid x)` under the long-tailed training
    distribution into one for a balanced test distribution (Menon et al.,
    2021). No training beyond the class counts.

    Parameters
    ----------
    tau : float >= 0, default=1.0
        Adjustment strength; 0 keeps the joint classifier.
    target_prior : array-like of shape (n_classes,) or None, default=None
        The class frequencies of the deployment, in ``classes_`` order
        (normalised to sum to 1; every entry > 0). ``log(target_prior)`` is
        added to the adjusted logits, so the decisions are Bayes-optimal for
        that prior (Hong et al., 2021). None is the uniform prior (balanced
        decisions), which adds a constant and changes nothing. An unknown
        prior can be estimated from unlabelled data with
        :func:`ltsk.posthoc.estimate_target_prior`.
    %(device)s

    Attributes
    ----------
    %(classes_)s
    %(class_counts_)s
    coef_ : ndarray of shape (n_classes, n_features)
        The joint weights, unchanged.
    intercept_ : ndarray of shape (n_classes,)
        :math:`b_j - \tau \log \pi_j` (``-inf`` for absent classes).
    joint_coef_ : ndarray of shape (n_classes, n_features)
        The joint classifier's weights (given or fitted), the same as
        ``coef_``.
    joint_intercept_ : ndarray of shape (n_classes,)
        Its bias :math:`b_j`, before the adjustment.
    %(n_features_in_)s
    %(feature_names_in_)s

    See Also
    --------
    TauNormHead : re-balance by the weight norms instead of the priors.
    tau_path : score a grid of ``tau`` with one matrix product.

    Notes
    -----
    With :math:`\pi_j = n_j / \sum_i n_i` the training class frequencies,

    .. math:: s_j(x) = w_j^\top x + b_j - \tau \log \pi_j + \log \pi^t_j ,

    with :math:`\pi^t` the ``target_prior`` (:math:`\log \pi^t_j` is a
    constant, dropped, when it is uniform).

    When ``coef`` is not passed to :meth:`fit`, an instance-balanced multinomial
    classifier is fitted on ``F`` first. With ``sample_weight``, :math:`n_j`
    are the per-class sums of the weights.

    The authors' code takes :math:`\log(\pi_j + 10^{-12})`; ltsk takes
    :math:`\log \pi_j` exactly, and a class absent from training (passed in
    ``classes``) gets the score ``-inf`` (never predicted) instead of a finite
    :math:`+27.6\tau` boost. A ``tau`` whose adjusted bias overflows is a
    ``ValueError`` naming ``tau``, in :meth:`fit` and in
    :func:`~ltsk.heads.tau_path` alike.

    References
    ----------
    .. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit and
       S. Kumar, "Long-tail learning via logit adjustment", ICLR 2021, Eq. (9).
    .. [2] Y. Hong, S. Han, K. Choi, S. Seo, B. Kim and B. Chang,
       "Disentangling Label Distribution for Long-tailed Visual Recognition",
       CVPR 2021, Eq. (4).

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import LogitAdjustedHead
    >>> F = np.zeros((4, 2))
    >>> y = [0, 0, 0, 1]
    >>> head = LogitAdjustedHead(tau=1.0).fit(F, y, coef=np.zeros((2, 2)))
    >>> head.intercept_  # -log(3/4), -log(1/4)
    array([0.2876..., 1.3862...])
    """

    _dask_fit = True
    _parameter_constraints: ClassVar[dict] = {
        **DEVICE_CONSTRAINT,
        "tau": [Interval(Real, 0, None, closed="left")],
        "target_prior": ["array-like", None],
    }

    def __init__(self, tau=1.0, *, target_prior=None, device=None):
        self.tau = tau
        self.target_prior = target_prior
        self.device = device

    def _log_target(self, n_classes):
        """``log(target_prior)`` (normalised), or None for the uniform prior."""
        if self.target_prior is None:
            return None
        prior = np.asarray(self.target_prior, dtype=np.float64)
        if prior.shape != (n_classes,):
            raise ValueError(
                f"target_prior must have one entry per class ({n_classes}, in "
                f"classes_ order), got shape {prior.shape}."
            )
        if not np.all(np.isfinite(prior)) or np.any(prior <= 0):
            raise ValueError(
                "target_prior must hold positive, finite class frequencies, got "
                f"{prior.tolist()}."
            )
        return np.log(prior / prior.sum())

    def _fit(self, F, y, counts, coef, intercept, sample_weight):
        self._log_target(counts.shape[0])  # refuse a bad prior before the joint fit
        coef, intercept, _ = self._joint(F, y, counts, coef, intercept, sample_weight)
        self.joint_coef_ = coef
        self.joint_intercept_ = intercept
        self._set_linear(coef, intercept + self._shift(self.tau, intercept.dtype))

    def _shift(self, tau, dtype):
        """Bias shift ``-tau * log(pi_train) + log(pi_target)`` for one ``tau``."""
        shift = prior_shift(self.joint_intercept_, self._log_prior(), tau)
        log_target = self._log_target(self.class_counts_.shape[0])
        if log_target is not None:
            shift = shift + log_target.astype(shift.dtype)
        return shift.astype(dtype, copy=False)

    def _log_prior(self):
        counts = self.class_counts_
        present = counts > 0
        log_prior = np.zeros(counts.shape[0])
        log_prior[present] = np.log(counts[present] / counts.sum())
        return log_prior

    def _tau_affine(self, tau, dtype):
        return None, self._shift(tau, dtype)
