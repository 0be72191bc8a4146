"""Learnable weight scaling (LWS) of the joint classifier."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn import get_config
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions

from ltsk.heads._base import LinearHead, _host
from ltsk.heads._constrained import (
    head_smoothing,
    scales_smoothing_gradient,
    with_linear_term,
)
from ltsk.heads._dask import chunk_sum, is_dask_array, summed_objective
from ltsk.heads._device import DEVICE_CONSTRAINT
from ltsk.heads._docstrings import fill_params
from ltsk.heads._frozen import FrozenLogits
from ltsk.heads._sgd import SGD_CONSTRAINTS, check_sgd_options, fit_lws_sgd
from ltsk.heads._solver import (
    balanced_weights,
    block_logits,
    block_rows,
    dense_rows,
    encode_present,
    minimize_lbfgs,
    softmax_loss_grad,
)


def lws_objective(F, coef, intercept, y, weights, alpha, *, n_block_rows=None):
    r"""The LWS objective in the scales :math:`f` and its gradient.

    The frozen joint logits :math:`z = W x + b` (``coef`` and ``intercept``
    of the classes in ``y``'s encoding) enter the loss as :math:`f \odot z`.
    Loss and gradient are accumulated over row blocks of ``n_block_rows`` rows
    (by default sized by scikit-learn's ``working_memory``, see
    :func:`~ltsk.heads._solver.block_rows`), class-major, the layout
    :func:`softmax_loss_grad` is fast on, by
    :class:`~ltsk.heads._frozen.FrozenLogits`: computed once and reused by
    every evaluation when one block holds every row or, with the default
    ``n_block_rows``, when they are small next to ``F``
    (:func:`~ltsk.heads._frozen.caches_logits`); otherwise each evaluation
    recomputes a block's logits from ``F`` (dense, a memmap, or sparse), so
    the fit holds two (n_classes, n_block_rows) buffers and never an
    (n_classes, n_samples) array. Returns
    ``fun(f) -> (value, gradient)``. On a dask ``F``, each evaluation sums
    the unpenalised objective of the row chunks on the cluster.
    """
    if is_dask_array(F):

        def penalty(f):
            return 0.5 * alpha * float(f @ f), alpha * f

        return summed_objective(_lws_rows, F, y, weights, (coef, intercept), penalty)
    blocks = FrozenLogits(F, coef, intercept, n_block_rows=n_block_rows)

    def objective(f: np.ndarray) -> tuple[float, np.ndarray]:
        scale = f.astype(F.dtype)[:, None]
        loss = 0.5 * alpha * float(np.sum(f**2))
        grad = alpha * f
        for rows, logits, scratch in blocks:
            np.multiply(logits, scale, out=scratch)
            block_loss, grad_scaled = softmax_loss_grad(scratch, y[rows], weights[rows])
            loss += block_loss
            # Summed in the dtype of F within a block (a float64 einsum of
            # float32 operands would cast both into block-sized temporaries),
            # accumulated in float64 across blocks.
            grad += np.einsum("ji,ji->j", grad_scaled, logits)
        return loss, grad

    return objective


# Range of the common scale searched for L-BFGS's start, and the budget of
# its sample of rows (see start_scale).
START_SCALE_BOUNDS = (1e-3, 1e1)
START_SAMPLE_MIB = 2


def _sample_rows(F, rows):
    """Rows ``rows`` of ``F`` (dense, memmap, sparse, dask or tensor) as an ndarray."""
    block = dense_rows(F, rows)
    if is_dask_array(block):
        block = block.compute()
    return np.asarray(_host(block))


def start_scale(F, coef, intercept, weights, y, alpha):
    r"""The common scale :math:`t` that makes :math:`f = t\,\mathbf 1` the best start.

    Minimises LWS's objective along :math:`f = t\,\mathbf 1` (a temperature
    of the joint logits) on an evenly strided sample of rows that fits
    ``START_SAMPLE_MIB`` (or ``working_memory`` if smaller), their
    weights renormalised to sum to one, over ``START_SCALE_BOUNDS`` by
    Brent's method in :math:`\log t`: one small matrix product, no pass over
    ``F``. On the training features a joint classifier is over-confident, so
    the optimum's scales are mostly a common temperature well below 1;
    L-BFGS started at 1 spends its first iterations overshooting towards it
    (each a pass over ``F`` when the logits are not cached). Returns 1.0 when
    the sample carries no weight or the search finds nothing better.
    """
    n_samples, n_classes = F.shape[0], coef.shape[0]
    # The sampled rows, densified (8 bytes a value at most), and two float64
    # buffers of their logits: a few MiB, freed before the fit's own buffers
    # (the C library's allocator may keep them, so they count in its peak).
    row_bytes = 8 * (F.shape[1] + 2 * n_classes)
    n_rows = get_chunk_n_rows(
        row_bytes,
        max_n_rows=n_samples,
        working_memory=min(get_config()["working_memory"], START_SAMPLE_MIB),
    )
    rows = np.unique(np.linspace(0, n_samples - 1, n_rows).round().astype(np.intp))
    sample_weights = weights[rows]
    total = sample_weights.sum()
    if not total > 0:
        return 1.0
    sample_weights = sample_weights / total
    logits = np.asarray(_sample_rows(F, rows) @ coef.T, dtype=np.float64).T
    logits += intercept[:, None]
    scratch = np.empty_like(logits)

    def objective(log_t):
        t = np.exp(log_t)
        np.multiply(logits, t, out=scratch)
        loss, _ = softmax_loss_grad(scratch, y[rows], sample_weights)
        return loss + 0.5 * alpha * n_classes * t * t

    low, high = np.log(START_SCALE_BOUNDS)
    result = minimize_scalar(objective, bounds=(low, high), method="bounded")
    if not (np.isfinite(result.fun) and result.fun < objective(0.0)):
        return 1.0
    return float(np.exp(result.x))


def _lws_rows(F, y, weights, coef, intercept):
    """The unpenalised :func:`lws_objective` of some rows (a dask chunk)."""
    return lws_objective(F, coef, intercept, y, weights, 0.0)


def _chunk_smoothing_gradient(F, y, u, coef, intercept):
    return _smoothing_gradient(F, coef, intercept, y, u)


def _smoothing_gradient(F, coef, intercept, y, u):
    """:func:`scales_smoothing_gradient` summed over row blocks of ``F``."""
    if is_dask_array(F):
        return chunk_sum(_chunk_smoothing_gradient, F, y, u, args=(coef, intercept))
    n_samples, n_classes = F.shape[0], coef.shape[0]
    n_block_rows = block_rows(n_classes * F.dtype.itemsize, n_samples)
    logits = np.empty((n_classes, n_block_rows), dtype=F.dtype)
    grad = np.zeros(n_classes)
    for rows in gen_batches(n_samples, n_block_rows):
        part = block_logits(
            F, rows, coef, intercept, logits[:, : rows.stop - rows.start]
        )
        grad += scales_smoothing_gradient(part, y[rows], u[rows], 1.0)
    return grad


@fill_params
class LWSHead(LinearHead):
    r"""Learnable weight scaling: one learned scale per class on frozen weights.

    The joint classifier's weights and bias stay fixed; a scale :math:`f_j`
    per class, initialised to 1, is learned with class-aware sampling
    :math:`p_j \propto n_j^q` (Kang et al., 2020). Since the scores are linear in
    the scales, the fit has only ``n_classes`` parameters; the joint logits are
    computed once when they are small next to ``F`` (see Notes), else
    recomputed block by block at every solver step.

    Parameters
    ----------
    q : float in [0, 1], default=0.0
        Sampling power: 0 is class-balanced, 1 instance-balanced.
    alpha : float >= 0, default=5e-3
        Strength of the penalty :math:`\frac{\alpha}{2}\lVert f\rVert^2`,
        the weight decay of Kang et al.'s scales (see Notes). Dimensionless:
        the scales multiply logits, whatever the units of the features.
    %(max_iter)s
    %(tol)s
    %(smooth_head)s
    %(smooth_tail)s
    %(smooth_shape)s
    %(solver)s
    %(max_epochs)s
    %(batch_size)s
    %(learning_rate)s
    %(random_state)s
    %(device)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class.
    scales_ : ndarray of shape (n_classes,)
        Learned scales :math:`f_j` (1 for absent classes).
    coef_ : ndarray of shape (n_classes, n_features)
        :math:`f_j w_j`.
    intercept_ : ndarray of shape (n_classes,)
        :math:`f_j b_j` (``-inf`` for absent classes).
    n_iter_ : int
        Number of L-BFGS iterations run; with ``solver="sgd"``, the number of
        epochs run (``max_epochs``).
    %(smoothing_)s
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when F has string column names.

    See Also
    --------
    TauNormHead : fixed scales :math:`\lVert w_j\rVert^{-\tau}`.
    CRTHead : re-train the whole classifier.

    Notes
    -----
    With frozen logits :math:`z_{ij} = w_j^\top x_i + b_j`, LWS minimises

    .. math::

        \sum_i s_i\,\mathrm{CE}(f \odot z_i, y_i)
        + \frac{\alpha}{2}\lVert f\rVert^2,
        \qquad s_i \propto n_{y_i}^{q-1},

    a convex problem in :math:`f`. Kang et al. train the scales from
    :math:`f = 1` (the joint classifier) with SGD on class-balanced
    batches and weight decay 5e-4, for 10 epochs; here the class sampling is
    realised by the equivalent weighting in a full-batch L-BFGS solver, solved
    to convergence, and the penalty is the same weight decay (towards 0, not
    towards the joint classifier's 1: on the user guide's benchmarks, shrinking
    towards 0 is more accurate on most sets, by up to 7 points at a thousand
    classes, and 0.2 points less on Fashion-MNIST-LT). The default
    ``alpha=5e-3`` is larger than their 5e-4 because the fit runs to
    convergence, where their ten epochs stop early: on the frozen training
    features (fitted by the network, so more separable than unseen data) the
    unregularised optimum over-sharpens the scales. It was chosen from
    ``3e-4`` to ``1e-2`` on the offline benchmarks and the many-class
    synthetic shapes against their SGD stage 2 on the same features (the
    user guide has the table): no single value reaches the reference on
    every set (Fashion-MNIST-LT asks for at most ``1e-3``, digits-LT for at
    least ``5e-3``), and ``5e-3`` keeps the largest shortfall smallest
    (0.17 points). Tune it with a grid search on validation data, for
    instance over ``np.logspace(-3, -1, 5)``. When ``coef`` is not passed to
    :meth:`fit`, an instance-balanced multinomial classifier is fitted on
    ``F`` first.

    L-BFGS starts from the common scale :math:`f = t\,\mathbf 1` that
    minimises the objective on a strided sample of rows (one small matrix
    product). On training features the joint classifier is over-confident:
    the optimum is mostly a common temperature :math:`t < 1`, and from
    :math:`f = 1` L-BFGS overshot towards it for several iterations, each a
    pass over ``F`` when the logits are not cached (on ImageNet-LT-shaped
    synthetic features, 1000 classes and 2048 features, 26 evaluations
    against 16 at 40,000 rows, 22 against 19 at 115,846). The problem
    being convex, the start changes the path, not the solution. The joint
    logits are kept between evaluations when all rows fit one block, or when
    they take at most half the bytes of ``F`` (fewer classes than half the
    features) and fit scikit-learn's ``working_memory``; else every
    evaluation recomputes them block by block, one pass over ``F``.

    With label-aware smoothing, CE is the cross-entropy against
    :math:`(1 - \epsilon_y) e_y + \epsilon_y / C`, :math:`\epsilon_j` from
    :func:`ltsk.losses.label_aware_smoothing` of the (weighted) class counts
    and :math:`C` the number of classes present: it adds
    :math:`\sum_i s_i \epsilon_{y_i} (f_{y_i} z_{i,y_i} - \frac1C \sum_j
    f_j z_{ij})`, linear in :math:`f`. MiSLAS (Zhong et al., 2021) pairs the
    smoothing with its own learnable scaling and shift of the classifier;
    here only the scales of LWS are learned.

    ``solver="sgd"`` minimises the same objective by minibatch SGD, as
    Kang et al. train the scales: rows drawn with probability :math:`s_i`
    (class-aware sampling), so the plain batch mean of the loss estimates the
    weighted one without bias; momentum 0.9, a cosine-decayed step,
    :math:`\alpha f` as weight decay, from :math:`f = 1`. It steps in
    :math:`g_j = r_j (f_j - 1)`, :math:`r_j^2` the mean square of class
    :math:`j`'s joint logit over 2048 sampled rows plus :math:`\alpha`: the
    Hessian in :math:`f` is at most :math:`\mathrm{diag}(\sum_i s_i z_{ij}^2
    p_{ij})`, so at most about one in :math:`g`, and ``learning_rate`` does not
    depend on the units of the logits. The bound ignores that a confident
    joint classifier puts little probability on most classes, so the steps
    are cautious and ten epochs move the scales little: in
    ``benchmarks/bench_scale.py --quick`` (1000 and 8142 classes) they ended
    0.2 to 0.6 balanced-accuracy points below Kang et al.'s SGD and 1.8 to
    7.8 below the L-BFGS optimum, which was faster there. An epoch costs one
    pass over ``F`` (:math:`O(n d C)`, the joint logits), as one L-BFGS
    iteration does only when the logits are not kept; L-BFGS, started at the
    common scale, needs about ten. ``"lbfgs"`` is the better choice for
    LWS at every shape measured. Without ``coef``, the joint classifier is
    fitted by L-BFGS either way. See :class:`CRTHead` for the update.

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020, Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import LWSHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [80, 15, 5])
    >>> F = rng.normal(size=(100, 3)) + 2.0 * np.eye(3)[y]
    >>> head = LWSHead().fit(F, y)  # fits the joint classifier on F first
    >>> head.scales_.shape
    (3,)
    >>> bool(head.scales_[2] > head.scales_[0])  # the tail class is scaled up
    True
    >>> sgd = LWSHead(solver="sgd", random_state=0).fit(F, y)
    >>> bool(sgd.scales_[2] > sgd.scales_[0])
    True
    """

    _dask_fit = True
    _parameter_constraints: ClassVar[dict] = {
        **DEVICE_CONSTRAINT,
        "q": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "smooth_head": [Interval(Real, 0, 1, closed="both")],
        "smooth_tail": [Interval(Real, 0, 1, closed="both")],
        "smooth_shape": [StrOptions({"concave", "linear", "convex"})],
        **SGD_CONSTRAINTS,
    }

    def __init__(
        self,
        q=0.0,
        alpha=5e-3,
        max_iter=100,
        tol=1e-6,
        smooth_head=0.0,
        smooth_tail=0.0,
        smooth_shape="concave",
        *,
        solver="lbfgs",
        max_epochs=10,
        batch_size=512,
        learning_rate=1.0,
        random_state=None,
        device=None,
    ):
        self.q = q
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.smooth_head = smooth_head
        self.smooth_tail = smooth_tail
        self.smooth_shape = smooth_shape
        self.solver = solver
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.device = device

    def _fit(self, F, y, counts, coef, intercept, sample_weight):
        smoothing = head_smoothing(self, counts)
        if self.solver == "sgd":
            check_sgd_options(
                self, F, {"smooth_head, smooth_tail": bool(np.any(smoothing > 0))}
            )
        coef, intercept, _ = self._joint(F, y, counts, coef, intercept, sample_weight)
        present = np.flatnonzero(counts > 0)
        y_present = encode_present(y, counts)
        weights = balanced_weights(y, counts, self.q, sample_weight)
        self.smoothing_ = smoothing
        if self.solver == "sgd":
            f, self.n_iter_ = fit_lws_sgd(
                F,
                coef[present],
                intercept[present],
                y_present,
                weights,
                self.alpha,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                rng=check_random_state(self.random_state),
                owner=type(self).__name__,
            )
            self._set_scales(coef, intercept, present, f)
            return
        # No (C, d) copy of coef when every class is present.
        coef_present = coef if present.size == coef.shape[0] else coef[present]
        f0 = np.full(
            present.size,
            start_scale(
                F, coef_present, intercept[present], weights, y_present, self.alpha
            ),
        )
        if self._torch() is not None:  # device path
            eps = self.smoothing_[y] if np.any(self.smoothing_ > 0) else None
            f, self.n_iter_ = self._torch().fit_lws(
                F,
                coef_present,
                intercept[present],
                y_present,
                weights,
                self.alpha,
                eps,
                f0,
                device=self._torch().resolve_device(self.device),
                max_iter=self.max_iter,
                tol=self.tol,
                owner=type(self).__name__,
            )
            self._set_scales(coef, intercept, present, f)
            return
        objective = lws_objective(
            F, coef_present, intercept[present], y_present, weights, self.alpha
        )
        if np.any(self.smoothing_ > 0):
            objective = with_linear_term(
                objective,
                _smoothing_gradient(
                    F,
                    coef_present,
                    intercept[present],
                    y_present,
                    weights * self.smoothing_[y],
                ),
            )
        f, self.n_iter_ = minimize_lbfgs(
            objective,
            f0,
            max_iter=self.max_iter,
            tol=self.tol,
            dtype=F.dtype,
            owner=type(self).__name__,
            n_classes=present.size,
        )
        # The objective's logits buffers go before coef_ is allocated.
        del objective, coef_present
        self._set_scales(coef, intercept, present, f)

    def _set_scales(self, coef, intercept, present, f):
        scales = np.ones(coef.shape[0])
        scales[present] = f
        self.scales_ = scales
        self._set_linear(
            coef * scales.astype(coef.dtype)[:, None],
            intercept * scales.astype(coef.dtype),
        )
