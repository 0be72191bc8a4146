"""Margin calibration (MARC) of the joint classifier."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from ltsk.heads._autograd import block_tensor, fit_head_autograd
from ltsk.heads._base import LinearHead
from ltsk.heads._dask import is_dask_array, summed_objective
from ltsk.heads._device import DEVICE_CONSTRAINT
from ltsk.heads._docstrings import fill_params
from ltsk.heads._frozen import FrozenLogits
from ltsk.heads._solver import (
    balanced_weights,
    encode_present,
    minimize_lbfgs,
    softmax_loss_grad,
)


def _norms(coef):
    """Euclidean norm of each row of ``coef``, in float64."""
    return np.sqrt(np.einsum("ij,ij->i", coef, coef, dtype=np.float64))


def marc_objective(
    F, coef, intercept, y, weights, log_prior, alpha, *, n_block_rows=None
):
    r"""The MARC objective in :math:`x = (\omega, \beta)` and its gradient.

    With the frozen joint logits :math:`z = W x + b` (``coef`` and
    ``intercept`` of the classes in ``y``'s encoding), the scores
    :math:`s_j = \omega_j z_j + \beta_j \lVert w_j\rVert + \log\pi_j`
    (``log_prior``) enter the weighted softmax cross-entropy, whose gradient
    :math:`G` in the scores gives
    :math:`\partial/\partial\omega_j = \sum_i G_{ji} z_{ji}` and
    :math:`\partial/\partial\beta_j = \lVert w_j\rVert \sum_i G_{ji}`, plus
    the penalty :math:`\frac{\alpha}{2}(\lVert\omega - 1\rVert^2 +
    \lVert\beta\rVert^2)`. Computed over row blocks of :class:`FrozenLogits`:
    the logits in the dtype of ``F``, the scores and their gradient in
    float64 (a float32 loss would stop L-BFGS at float32's resolution of
    the objective, visibly short of the optimum), so two (n_classes,
    n_block_rows) buffers. Returns ``fun(x) -> (value, gradient)``. On a
    dask ``F``, each evaluation sums the unpenalised objective of the row
    chunks on the cluster.
    """
    n_classes = coef.shape[0]
    if is_dask_array(F):

        def penalty(x):
            deviation = x - np.repeat([1.0, 0.0], n_classes)
            return 0.5 * alpha * float(deviation @ deviation), alpha * deviation

        args = (coef, intercept, log_prior)
        return summed_objective(_marc_rows, F, y, weights, args, penalty)
    blocks = FrozenLogits(
        F, coef, intercept, n_block_rows=n_block_rows, scratch_dtype=np.float64
    )
    norms = _norms(coef)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        omega, beta = x[:n_classes], x[n_classes:]
        shift = (beta * norms + log_prior)[:, None]
        loss = 0.5 * alpha * float(np.sum((omega - 1.0) ** 2) + np.sum(beta**2))
        grad_omega = alpha * (omega - 1.0)
        grad_shift = np.zeros(n_classes)
        for rows, logits, scratch in blocks:
            np.multiply(logits, omega[:, None], out=scratch)
            scratch += shift
            block_loss, grad_scores = softmax_loss_grad(scratch, y[rows], weights[rows])
            loss += block_loss
            grad_shift += grad_scores.sum(axis=1)
            # One pass, no (C, rows) temporary, also for float32 logits.
            grad_omega += np.einsum("ji,ji->j", grad_scores, logits)
        return loss, np.concatenate([grad_omega, norms * grad_shift + alpha * beta])

    return objective


def _marc_rows(F, y, weights, coef, intercept, log_prior):
    """The unpenalised :func:`marc_objective` of some rows (a dask chunk)."""
    return marc_objective(F, coef, intercept, y, weights, log_prior, 0.0)


def marc_torch_loss(F, coef, intercept, y, weights, log_prior, alpha, device):
    """:func:`marc_objective`'s terms in torch, for autograd on ``device``.

    Returns ``(block_loss, penalty, row_bytes)``, the arguments of
    :func:`~ltsk.heads._autograd.autograd_objective` for the parameters
    ``omega`` and ``beta``; the tensors are float64, on ``device``.
    """
    import torch

    weights = torch.as_tensor(weights, device=device)
    target = torch.as_tensor(y, device=device)
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=device)
    b = torch.as_tensor(np.asarray(intercept, dtype=np.float64), device=device)
    norms = torch.linalg.vector_norm(W, dim=1)
    log_prior = torch.as_tensor(log_prior, device=device)

    def block_loss(params, rows):
        # Fused products: two (rows, C) tensors, the logits and the
        # calibrated scores shifted by the log-prior, not five.
        z = torch.addmm(b, block_tensor(F, rows, device), W.T)
        shift = params["beta"] * norms + log_prior
        scores = torch.addcmul(shift, params["omega"], z)
        losses = torch.nn.functional.cross_entropy(
            scores, target[rows], reduction="none"
        )
        return torch.dot(weights[rows], losses)

    def penalty(params):
        omega, beta = params["omega"], params["beta"]
        return 0.5 * alpha * (torch.sum((omega - 1.0) ** 2) + torch.sum(beta**2))

    return block_loss, penalty, 8 * (6 * coef.shape[0] + F.shape[1])


@fill_params
class MARCHead(LinearHead):
    r"""Margin calibration: a learned scale and a norm-scaled margin per class.

    The joint classifier stays frozen; MARC (Wang et al., 2022) learns per
    class a scale :math:`\omega_j` of its logit and a shift :math:`\beta_j`
    in units of its weight norm, which moves the class's decision boundary,
    with the balanced softmax loss. The scores stay linear in the features.
    The fit is L-BFGS on the loss and its analytic gradient, computed in numpy
    over row blocks (torch only with ``device``, which runs the same
    objective through torch autograd).

    Parameters
    ----------
    alpha : float >= 0, default=1e-4
        Strength of the penalty
        :math:`\frac{\alpha}{2}(\lVert\omega - 1\rVert^2 + \lVert\beta\rVert^2)`,
        which pulls the calibration towards the joint classifier.
    %(max_iter)s
    %(tol)s
    %(device)s

    Attributes
    ----------
    %(classes_)s
    %(class_counts_)s
    omega_ : ndarray of shape (n_classes,)
        Learned scales :math:`\omega_j` (1 for absent classes).
    beta_ : ndarray of shape (n_classes,)
        Learned margins :math:`\beta_j` (0 for absent classes).
    coef_ : ndarray of shape (n_classes, n_features)
        :math:`\omega_j w_j`.
    intercept_ : ndarray of shape (n_classes,)
        :math:`\omega_j b_j + \beta_j \lVert w_j\rVert` (``-inf`` for absent
        classes).
    %(n_iter_)s
    %(n_features_in_)s
    %(feature_names_in_)s

    See Also
    --------
    LWSHead : a learned scale per class, no margin.
    DisAlignHead : a scale and a shift applied through a confidence gate.

    Notes
    -----
    With the frozen joint logits :math:`z_j(x) = w_j^\top x + b_j`, the
    calibrated scores are

    .. math:: s_j(x) = \omega_j\,z_j(x) + \beta_j \lVert w_j\rVert

    (Wang et al., 2022, Eq. 6), :math:`\omega_j` starting at 1 and
    :math:`\beta_j` at 0, and the head minimises the balanced softmax loss
    (Ren et al., 2020) plus the penalty,

    .. math::

        \sum_i s_i\,\mathrm{CE}(s(x_i) + \log\pi,\; y_i)
        + \frac{\alpha}{2}\left(\lVert\omega - 1\rVert^2
        + \lVert\beta\rVert^2\right),

    :math:`\pi` the training class frequencies and :math:`s_i` the sample
    weights normalised to sum to one (uniform without ``sample_weight``). The
    loss adds :math:`\log\pi_j` during training only, so the scores it
    learns are those of a balanced test distribution. It is convex in
    :math:`(\omega, \beta)`; as the scores are linear in :math:`x`, the head
    stores the calibrated ``coef_`` and ``intercept_`` and predicts like a
    linear classifier.

    The calibration is the authors' module's (``omega`` initialised to ones,
    ``beta`` to zeros, the norm taken without gradient), on top of a frozen
    classifier. Differences: their CIFAR classifier has no bias, so their
    :math:`z` has none, while ltsk keeps the joint classifier's bias in
    :math:`z` (a linear model fitted on ``F`` has one); they train
    :math:`\omega, \beta` by SGD on mini-batches, ltsk minimises the loss
    full-batch by L-BFGS, with a penalty that pulls towards the start
    (:math:`\omega = 1, \beta = 0`) rather than a weight decay towards
    zero. The paper trains MARC with a loss for balanced prediction; ltsk
    takes the balanced softmax, whose optimum is the balanced-error Bayes
    rule (Menon et al., 2021). Only the classes present in ``y`` enter the
    softmax (an absent class of ``classes`` scores ``-inf``). When ``coef``
    is not passed to :meth:`fit`, an instance-balanced multinomial
    classifier is fitted on ``F`` first.

    %(frozen_host)s

    References
    ----------
    .. [1] Y. Wang, B. Zhang, W. Hou, Z. Wu, J. Wang and T. Shinozaki, "Margin
       Calibration for Long-Tailed Visual Recognition", ACML 2022.
    .. [2] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi and H. Li, "Balanced
       Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import MARCHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [80, 15, 5])
    >>> F = rng.normal(size=(100, 3)) + 2.0 * np.eye(3)[y]
    >>> head = MARCHead().fit(F, y)  # fits the joint classifier on F first
    >>> head.omega_.shape, head.beta_.shape
    ((3,), (3,))
    >>> bool(head.omega_[2] > head.omega_[0])  # the tail class is scaled up
    True
    """

    _dask_fit = True
    _parameter_constraints: ClassVar[dict] = {
        **DEVICE_CONSTRAINT,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, alpha=1e-4, max_iter=500, tol=1e-6, *, device=None):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.device = device

    def _fit(self, F, y, counts, coef, intercept, sample_weight):
        coef, intercept, _ = self._joint(F, y, counts, coef, intercept, sample_weight)
        present = np.flatnonzero(counts > 0)
        if self.device is not None:
            omega_present, beta_present = self._fit_autograd(
                F, y, counts, coef, intercept, sample_weight
            )
        else:
            # No (C, d) copy of coef when every class is present.
            coef_present = coef if present.size == coef.shape[0] else coef[present]
            objective = marc_objective(
                F,
                coef_present,
                intercept[present],
                encode_present(y, counts),
                balanced_weights(y, counts, 1.0, sample_weight),
                np.log(counts[present] / counts.sum()),
                self.alpha,
            )
            x, self.n_iter_ = minimize_lbfgs(
                objective,
                np.concatenate([np.ones(present.size), np.zeros(present.size)]),
                max_iter=self.max_iter,
                tol=self.tol,
                dtype=np.float64,
                owner=type(self).__name__,
                n_classes=present.size,
            )
            # The objective's logits buffers go before coef_ is allocated.
            del objective, coef_present
            omega_present, beta_present = np.split(x, 2)
        omega = np.ones(counts.shape[0])
        omega[present] = omega_present
        beta = np.zeros(counts.shape[0])
        beta[present] = beta_present
        self.omega_ = omega
        self.beta_ = beta
        dtype = coef.dtype
        shift = beta * _norms(coef)
        self._set_linear(
            (coef * omega[:, None]).astype(dtype),
            (intercept * omega + shift).astype(dtype),
        )

    def _fit_autograd(self, F, y, counts, coef, intercept, sample_weight):
        """``(omega, beta)`` of the present classes by torch autograd on ``device``."""
        present = np.flatnonzero(counts > 0)
        loss_terms = marc_torch_loss(
            F,
            coef[present],
            intercept[present],
            encode_present(y, counts),
            balanced_weights(y, counts, 1.0, sample_weight),
            np.log(counts[present] / counts.sum()),
            self.alpha,
            self._torch_device(),
        )
        start = {"omega": np.ones(present.size), "beta": np.zeros(present.size)}
        params, self.n_iter_ = fit_head_autograd(
            self, loss_terms, start, F.shape[0], present.size
        )
        return params["omega"], params["beta"]
