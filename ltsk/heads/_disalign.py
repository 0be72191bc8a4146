"""Distribution alignment (DisAlign) of the joint classifier."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.utils._param_validation import Interval

from ltsk.heads._autograd import block_tensor, fit_head_autograd
from ltsk.heads._base import BaseHead, LinearHead
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

# Initial weight of every feature in the confidence gate, as in the authors'
# DisAlignLinear (its confidence layer's weight is set to the constant 0.1).
_GATE_INIT = 0.1


def disalign_objective(F, coef, intercept, y, weights, alpha, *, n_block_rows=None):
    r"""The DisAlign objective in :math:`\theta = (a, b, v, c)` and its gradient.

    With the frozen joint logits :math:`z = W x + b^0` (``coef`` and
    ``intercept`` of the classes in ``y``'s encoding) and the gate
    :math:`g_i = \sigma(v^\top x_i + c)`, the scores
    :math:`s_{ji} = z_{ji} + g_i (a_j z_{ji} + b_j)` enter the weighted
    softmax cross-entropy, whose gradient :math:`G` in the scores gives
    :math:`\partial/\partial a_j = \sum_i G_{ji} g_i z_{ji}`,
    :math:`\partial/\partial b_j = \sum_i G_{ji} g_i` and, through
    :math:`\partial L/\partial g_i = \sum_j G_{ji} (a_j z_{ji} + b_j)` and
    :math:`g_i (1 - g_i)`, the gradients in :math:`v` and :math:`c`; plus the
    penalty :math:`\frac{\alpha}{2}\lVert\theta\rVert^2`. Computed over
    row blocks of :class:`FrozenLogits`: the logits in the dtype of ``F``, the
    gate, the scores and their gradient in float64 (a float32 loss would stop
    L-BFGS at float32's resolution of the objective, visibly short of the
    optimum), so two (n_classes, n_block_rows) buffers, and for a dense
    float32 ``F`` one (n_block_rows, n_features) float64 copy of a block's
    rows, all within the block budget. Returns ``fun(theta) -> (value,
    gradient)``. On a dask ``F``, each evaluation sums the unpenalised
    objective of the row chunks on the cluster.
    """
    n_classes, n_features = coef.shape
    if is_dask_array(F):

        def penalty(theta):
            return 0.5 * alpha * float(theta @ theta), alpha * theta

        args = (coef, intercept)
        return summed_objective(_disalign_rows, F, y, weights, args, penalty)
    # The gate takes a block's rows in float64: a dense float32 block is
    # copied into one buffer, reused (not cast anew by every product).
    cast = not sparse.issparse(F) and F.dtype != np.float64
    blocks = FrozenLogits(
        F,
        coef,
        intercept,
        n_block_rows=n_block_rows,
        scratch_dtype=np.float64,
        extra_row_bytes=8 * n_features if cast else 0,
    )
    rows64 = np.empty((blocks.n_block_rows, n_features)) if cast else None

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        scale = theta[:n_classes]
        shift = theta[n_classes : 2 * n_classes]
        v = theta[2 * n_classes : 2 * n_classes + n_features]
        loss = 0.5 * alpha * float(theta @ theta)
        grad = alpha * theta
        grad_scale = grad[:n_classes]
        grad_shift = grad[n_classes : 2 * n_classes]
        grad_v = grad[2 * n_classes : 2 * n_classes + n_features]
        for rows, logits, scratch in blocks:
            if cast:
                X = rows64[: rows.stop - rows.start]
                np.copyto(X, F[rows])
            else:
                X = F[rows].astype(np.float64, copy=False)
            gate = expit(np.asarray(X @ v).ravel() + theta[-1])
            # s = z + g (a z + b), in place in the scratch buffer.
            np.multiply(logits, scale[:, None], out=scratch)
            scratch += shift[:, None]
            scratch *= gate
            scratch += logits
            block_loss, grad_scores = softmax_loss_grad(scratch, y[rows], weights[rows])
            loss += block_loss
            grad_shift += grad_scores @ gate
            grad_gate = shift @ grad_scores
            # G z, in place: G itself is not needed any more.
            grad_scores *= logits
            grad_scale += grad_scores @ gate
            grad_gate += scale @ grad_scores
            grad_gate *= gate * (1.0 - gate)
            grad[-1] += grad_gate.sum()
            grad_v += np.asarray(X.T @ grad_gate).ravel()
        return loss, grad

    return objective


def _disalign_rows(F, y, weights, coef, intercept):
    """The unpenalised :func:`disalign_objective` of some rows (a dask chunk)."""
    return disalign_objective(F, coef, intercept, y, weights, 0.0)


def disalign_torch_loss(F, coef, intercept, y, weights, alpha, device):
    """:func:`disalign_objective`'s terms in torch, for autograd on ``device``.

    Returns ``(block_loss, penalty, row_bytes)``, the arguments of
    :func:`~ltsk.heads._autograd.autograd_objective` for the parameters
    ``scale``, ``shift``, ``v`` and ``c``; the tensors are float64, on
    ``device``.
    """
    import torch

    weights = torch.as_tensor(weights, device=device)
    target = torch.as_tensor(y, device=device)
    W = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=device)
    b = torch.as_tensor(np.asarray(intercept, dtype=np.float64), device=device)

    def block_loss(params, rows):
        X = block_tensor(F, rows, device)
        gate = torch.sigmoid(X @ params["v"] + params["c"])[:, None]
        z = X @ W.T + b
        scores = (1.0 + gate * params["scale"]) * z + gate * params["shift"]
        losses = torch.nn.functional.cross_entropy(
            scores, target[rows], reduction="none"
        )
        return torch.dot(weights[rows], losses)

    def penalty(params):
        return 0.5 * alpha * sum(torch.sum(p * p) for p in params.values())

    return block_loss, penalty, 8 * (8 * coef.shape[0] + 2 * F.shape[1])


@fill_params
class DisAlignHead(BaseHead):
    r"""Distribution alignment: an input-dependent per-class scale and shift.

    The joint classifier stays frozen; DisAlign (Zhang et al., 2021) learns a
    magnitude :math:`\alpha_j` and a margin :math:`\beta_j` per class and a
    confidence gate :math:`\sigma(v^\top x + c)` that decides, per sample, how
    much of the adjustment to apply, trained with a class-re-weighted
    cross-entropy that aligns the predictions with a balanced distribution.
    The scores are not linear in the features; the fit is L-BFGS on the loss
    and its analytic gradient, computed in numpy over row blocks (torch only
    with ``device``, which runs the same objective through torch autograd).

    Parameters
    ----------
    rho : float >= 0, default=1.2
        Exponent of the generalised re-weighting: class :math:`j`'s loss is
        weighted by :math:`\pi_j^{-\rho}`. 0 is the plain cross-entropy, 1 a
        class-balanced loss; the paper's 1.2 over-weights the tail.
    alpha : float >= 0, default=5e-4
        Strength of the L2 penalty :math:`\frac{\alpha}{2}\lVert\theta\rVert^2`
        on all learned parameters (the authors' weight decay).
    %(max_iter)s
    %(tol)s
    %(device)s

    Attributes
    ----------
    %(classes_)s
    %(class_counts_)s
    coef_ : ndarray of shape (n_classes, n_features)
        The frozen joint classifier's weights :math:`w_j` (given or fitted).
    intercept_ : ndarray of shape (n_classes,)
        Its bias :math:`b_j`.
    logit_scale_ : ndarray of shape (n_classes,)
        Learned magnitudes :math:`\alpha_j` (0 for absent classes).
    logit_bias_ : ndarray of shape (n_classes,)
        Learned margins :math:`\beta_j` (0 for absent classes).
    confidence_coef_ : ndarray of shape (n_features,)
        Weights :math:`v` of the confidence gate.
    confidence_intercept_ : float
        Its bias :math:`c`.
    %(n_iter_)s
    %(n_features_in_)s
    %(feature_names_in_)s

    See Also
    --------
    LWSHead : one learned scale per class, no margin and no gate.
    MARCHead : a learned scale and a norm-scaled margin per class.

    Notes
    -----
    With the frozen joint logits :math:`z_j(x) = w_j^\top x + b_j` and the
    gate :math:`\sigma(x) = 1 / (1 + e^{-(v^\top x + c)})`, the scores are

    .. math:: s_j(x) = (1 + \sigma(x)\,\alpha_j)\,z_j(x) + \sigma(x)\,\beta_j,

    (Zhang et al., 2021, Eq. 3-4) and the head minimises the generalised
    re-weighted cross-entropy plus the penalty,

    .. math::

        \frac{\sum_i r_{y_i}\,\mathrm{CE}(s(x_i), y_i)}{\sum_i r_{y_i}}
        + \frac{\alpha}{2}\left(\lVert\alpha\rVert^2 + \lVert\beta\rVert^2
        + \lVert v\rVert^2 + c^2\right),
        \qquad r_j \propto \pi_j^{-\rho},

    from :math:`\alpha_j = 1`, :math:`\beta_j = 0`, :math:`v = 0.1`, which is
    the authors' ``DisAlignLinear`` (classification code) with their
    ``GRWCrossEntropyLoss`` (a class-weighted ``cross_entropy`` with mean
    reduction) and SGD weight decay 5e-4. With ``sample_weight``,
    :math:`\pi_j` are the per-class sums of the weights and each term is also
    weighted by its sample's weight.

    Differences from the official code: the objective is minimised
    full-batch by L-BFGS instead of 10 epochs of SGD with a cosine schedule;
    the gate's bias starts at 0 instead of PyTorch's random default, so the
    fit is deterministic; and only the classes present in ``y`` enter the
    softmax (an absent class of ``classes`` scores ``-inf``). The objective
    is not convex: L-BFGS returns the local optimum reached from that start.
    When ``coef`` is not passed to :meth:`fit`, an instance-balanced
    multinomial classifier is fitted on ``F`` first.

    %(frozen_host)s

    References
    ----------
    .. [1] S. Zhang, Z. Li, S. Yan, X. He and J. Sun, "Distribution Alignment:
       A Unified Framework for Long-tail Visual Recognition", CVPR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import DisAlignHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [80, 15, 5])
    >>> F = rng.normal(size=(100, 3)) + 2.0 * np.eye(3)[y]
    >>> head = DisAlignHead().fit(F, y)  # fits the joint classifier on F first
    >>> head.logit_scale_.shape, head.confidence_coef_.shape
    ((3,), (3,))
    >>> head.predict_proba(F[:2]).sum(axis=1)
    array([1., 1.])
    """

    _dask_fit = True
    _parameter_constraints: ClassVar[dict] = {
        **DEVICE_CONSTRAINT,
        "rho": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    _joint = LinearHead._joint

    def __init__(self, rho=1.2, alpha=5e-4, max_iter=1000, tol=1e-5, *, device=None):
        self.rho = rho
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.device = device

    def _fit(self, F, y, counts, coef, intercept, sample_weight):
        coef, intercept, _ = self._joint(F, y, counts, coef, intercept, sample_weight)
        present = np.flatnonzero(counts > 0)
        n_present, n_features = present.size, F.shape[1]
        # s_i = r_{y_i} w_i / sum_k r_{y_k} w_k, and r_j oc n_j^-rho: the
        # sampling weights of power q = 1 - rho.
        weights = balanced_weights(y, counts, 1.0 - self.rho, sample_weight)
        start = {
            "scale": np.ones(n_present),
            "shift": np.zeros(n_present),
            "v": np.full(n_features, _GATE_INIT),
            "c": np.zeros(1),
        }
        if self.device is not None:
            params = self._fit_autograd(F, y, counts, coef, intercept, weights, start)
        else:
            # No (C, d) copy of coef when every class is present.
            coef_present = coef if n_present == coef.shape[0] else coef[present]
            objective = disalign_objective(
                F,
                coef_present,
                intercept[present],
                encode_present(y, counts),
                weights,
                self.alpha,
            )
            theta, self.n_iter_ = minimize_lbfgs(
                objective,
                np.concatenate(list(start.values())),
                max_iter=self.max_iter,
                tol=self.tol,
                dtype=np.float64,
                owner=type(self).__name__,
                n_classes=n_present,
            )
            # The objective's logits buffers go before the fitted arrays.
            del objective, coef_present
            sizes = [value.size for value in start.values()]
            pieces = np.split(theta, np.cumsum(sizes)[:-1])
            params = dict(zip(start, pieces, strict=True))
        dtype = coef.dtype
        self.coef_ = coef
        self.intercept_ = intercept
        self.logit_scale_ = np.zeros(counts.shape[0], dtype=dtype)
        self.logit_scale_[present] = params["scale"]
        self.logit_bias_ = np.zeros(counts.shape[0], dtype=dtype)
        self.logit_bias_[present] = params["shift"]
        self.confidence_coef_ = params["v"].astype(dtype)
        self.confidence_intercept_ = float(params["c"][0])

    def _fit_autograd(self, F, y, counts, coef, intercept, weights, start):
        """The parameters of ``start`` fitted by torch autograd on ``device``."""
        present = np.flatnonzero(counts > 0)
        loss_terms = disalign_torch_loss(
            F,
            coef[present],
            intercept[present],
            encode_present(y, counts),
            weights,
            self.alpha,
            self._torch_device(),
        )
        params, self.n_iter_ = fit_head_autograd(
            self, loss_terms, start, F.shape[0], present.size
        )
        return params

    def _scores(self, F):
        gate = expit(F @ self.confidence_coef_ + self.confidence_intercept_)[:, None]
        gate = gate.astype(F.dtype, copy=False)
        scores = F @ self.coef_.T
        scores += self.intercept_
        # Two (n, C) arrays in all: the scores and one factor, reused.
        factor = np.multiply(gate, self.logit_scale_)
        factor += 1.0
        scores *= factor
        np.multiply(gate, self.logit_bias_, out=factor)
        scores += factor
        return scores
