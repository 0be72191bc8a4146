"""Classifier re-training (cRT) on frozen features."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ltsk.heads._base import LinearHead
from ltsk.heads._constrained import fit_multinomial_constrained, head_smoothing
from ltsk.heads._device import DEVICE_CONSTRAINT
from ltsk.heads._docstrings import fill_params
from ltsk.heads._sgd import SGD_CONSTRAINTS, check_sgd_options, fit_multinomial_sgd
from ltsk.heads._solver import fit_multinomial, mean_column_variance

#: ``alpha="scale"``: the L2 strength per unit of mean feature variance.
#: Chosen on the offline benchmarks and the many-class synthetic shapes of
#: ``benchmarks/bench_scale.py`` (see the Notes of :class:`CRTHead`).
SCALE_ALPHA = 3e-3


@fill_params
class CRTHead(LinearHead):
    r"""Classifier re-training: a new linear classifier with class-aware sampling.

    The joint classifier is discarded and a multinomial linear classifier is
    trained from zero on the frozen features, with classes drawn with
    probability :math:`p_j \propto n_j^q` (Kang et al., 2020). The sampling is
    realised exactly in expectation by a full-batch solver on weighted samples.

    Parameters
    ----------
    q : float in [0, 1], default=0.0
        Sampling power: 0 is class-balanced, 1/2 square-root, 1
        instance-balanced.
    gamma : float >= 0, default=0.0
        Focal-loss focusing parameter; 0 is cross-entropy.
    alpha : float >= 0 or "scale", default="scale"
        L2 penalty on the weights (not the bias), added to the weighted mean
        loss, in the units of ``F``: the weight decay of an SGD stage 2 on
        class-balanced batches (Kang et al. use 5e-4), and scikit-learn's
        ``LogisticRegression(C=1 / (alpha * n_samples))`` for ``q=1``.
        ``"scale"`` uses ``3e-3`` times the mean variance of the columns of
        ``F``, so that the default means the same penalty whatever the units
        of the features (as ``SVC(gamma="scale")``); see Notes.
    max_iter : int >= 1, default=500
        Maximum number of L-BFGS iterations (``solver="lbfgs"``).
    tol : float > 0, default=1e-4
        L-BFGS stops when the largest gradient component is below
        ``tol / n_classes`` (a class's parameters carry a ``1/n_classes``
        share of a class-balanced loss, so the bound keeps its meaning as
        classes grow), in the solver's standardised problem: columns of
        ``F`` centred and divided by :math:`\sqrt{\mathrm{var} + \alpha}`,
        objective divided by its value at the start. So ``tol`` does not
        depend on the units of ``F``.
        With ``max_norm``, the bound is on the projected-gradient residual
        :math:`\lVert P(x - g) - x\rVert_\infty` (see Notes).
    max_norm : float > 0 or None, default=None
        Radius :math:`r` of the constraint :math:`\lVert w_j\rVert_2 \le r`
        on every class's weights, in the units of ``F`` (the bias is free):
        the MaxNorm of weight balancing's second stage (Alshammari et al.,
        2022). None leaves the weights unconstrained.
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
        Training samples per class (0 for a class of ``classes`` absent from y).
    coef_ : ndarray of shape (n_classes, n_features)
        Weights of the re-trained classifier.
    intercept_ : ndarray of shape (n_classes,)
        Its bias (``-inf`` for absent classes).
    alpha_ : float
        The L2 strength used, in the units of ``F`` (``alpha`` itself when it
        is a number).
    n_iter_ : int
        Number of L-BFGS (or, with ``max_norm``, projected-gradient)
        iterations run; with ``solver="sgd"``, the number of epochs run
        (``max_epochs``).
    %(smoothing_)s
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when F has string column names.

    See Also
    --------
    LWSHead : keep the joint weights and learn one scale per class.
    TauNormHead : re-balance the joint weights without training.

    Notes
    -----
    cRT minimises, over :math:`W, b` started at zero,

    .. math::

        \sum_i s_i\,\ell(W x_i + b, y_i) + \frac{\alpha}{2}\lVert W\rVert_F^2,
        \qquad s_i = \frac{n_{y_i}^{q-1}}{\sum_k n_{y_k}^{q-1}},

    so class :math:`j` carries total weight :math:`\propto n_j^q`, as under the
    sampling of Kang et al. (2020), Eq. (1).

    The loss is cross-entropy, or the softmax focal loss
    :math:`-(1 - p_t)^\gamma \log p_t` (Lin et al., 2017) when ``gamma > 0``.
    Computation stays in the dtype of ``F``.

    **The default penalty.** The loss is a mean, so ``alpha`` means the same at
    any number of rows (duplicating every row changes nothing), and it
    relates to the classes exactly as the weight decay of Kang et al.'s SGD
    stage 2 does (one penalty on all :math:`C` rows of :math:`W`, a loss
    averaged over class-balanced batches). Their 5e-4 is not the right value
    for a solver run to convergence: their ten epochs stop early, which
    regularises too, and on the network's own training features (more
    separable than unseen data) the tail classes, a handful of rows in
    hundreds of dimensions, are then over-fitted. ``alpha="scale"`` sets
    :math:`\alpha = 3\cdot10^{-3}\,\bar v`, :math:`\bar v` the mean column
    variance of ``F`` (rows weighted by ``sample_weight``), which is
    invariant to the units of the features. On the offline benchmarks and
    the synthetic ImageNet-LT- and iNaturalist-shaped sets of
    ``benchmarks/bench_scale.py`` it is at least as accurate as their SGD
    stage 2 on the same features (the user guide on heads has the table);
    1e-4, the earlier default, falls behind it with a thousand classes. Tune
    it by grid search over numbers around :attr:`alpha_`.

    The objective and its gradient are accumulated over row blocks of ``F``
    (scikit-learn's ``working_memory``, at most 16 MiB of scores per block),
    so memory grows with the features and the parameters, not with
    ``n_samples * n_classes``; ``F`` may be a memmap (read, not copied) or a
    CSR matrix (not densified). The solver standardises the problem and maps
    the solution back, so the
    optimum does not depend on the scale of ``F`` (features times 1e12 fit
    like the original ones, with ``alpha`` in their units). It warns with a
    ``ConvergenceWarning`` when L-BFGS stops short of convergence, and raises
    ``RuntimeError`` rather than return its zero start when that is not the
    optimum.

    A large ``gamma`` makes the loss tiny: at the zero start it is
    :math:`(1 - 1/C)^\gamma \log C` for :math:`C` classes (about 3e-18 for
    ``gamma=100``, ``C=3``), and the focal weight of every well classified
    sample underflows to zero. The solver's tolerance is relative to the
    starting loss, so it still trains; but the L2 penalty, the same at every
    ``gamma``, then dominates and shrinks ``coef_`` towards zero (the
    predictions keep their ranking, the probabilities tend to the bias's): use
    ``alpha=0`` or a smaller ``alpha`` with a large ``gamma``. When
    :math:`(1 - 1/C)^\gamma` underflows the dtype of ``F`` (float32 from
    ``gamma`` of about 215 for ``C=3``), loss and gradient vanish at the start
    and :meth:`fit` raises ``ValueError`` naming ``gamma``.

    **Label-aware smoothing** (``smooth_head``, ``smooth_tail``) replaces the
    cross-entropy of a sample of class :math:`y` by the cross-entropy
    against :math:`q = (1 - \epsilon_y) e_y + \epsilon_y / C`, with
    :math:`\epsilon_j` from :func:`ltsk.losses.label_aware_smoothing` of the
    (weighted) class counts, :math:`C` the number of classes present. With
    the default ``q=0`` this is the classifier re-training of MiSLAS's second
    stage [3]_ (which also shifts the batch-norm statistics of the frozen
    network; nothing here does that). Since :math:`-\sum_j q_j\log p_j =
    \mathrm{CE} + \epsilon_y (z_y - \bar z)`, the smoothing adds a term
    linear in the logits. It cannot be combined with ``gamma > 0``.

    **Max-norm** (``max_norm``) solves the problem above subject to
    :math:`\lVert w_j\rVert_2 \le r` by the spectral projected gradient
    method (Birgin, Martinez and Raydan, 2000) with a non-monotone line
    search, projecting each row onto the ball after every step; ``tol``
    bounds the projected-gradient residual, zero exactly at the points that
    satisfy the KKT conditions. The weight-balancing recipe [4]_ re-trains
    the classifier on the first stage's features with a class-balanced loss,
    a strong weight decay and MaxNorm. Here that is ``q=0`` (class weights
    :math:`\propto 1/n_j`, which the effective number of its code's
    class-balanced loss, :math:`\beta = 0.9999`, equals up to 1% while
    :math:`n_j \le 200`), a large ``alpha`` and ``max_norm``. A weight decay
    :math:`\lambda` on a softmax cross-entropy averaged over the samples with
    class weights :math:`w_{y_i}` corresponds to ``alpha`` :math:`= \lambda N
    / \sum_i w_{y_i}` here, where the loss weights sum to one. The radius is
    set, at the start of fine-tuning, at :math:`m + 0.1 (M - m)` of the
    smallest and largest row norms :math:`m, M` of the first stage's
    classifier, which ``max_norm`` takes explicitly (see
    :class:`~ltsk.nets.MaxNorm`). Differences from the authors' code: their
    stage-2 loss (``CB_loss`` with ``loss_type="softmax"``) is a binary
    cross-entropy of each class's softmax probability, averaged over the
    :math:`N C` entries, with its ``gamma=2`` unused; cRT minimises the
    weighted softmax cross-entropy. Their weight decay and MaxNorm loop also
    leave the bias to the weight decay only, whereas here it is neither
    penalised nor constrained; and the solution is the exact optimum rather
    than ten epochs of SGD from the first stage's weights.

    **Minibatch SGD** (``solver="sgd"``) minimises the same objective
    stochastically. Each step draws a batch :math:`B` of ``batch_size`` rows,
    row :math:`i` with probability :math:`s_i` (with replacement: class
    :math:`j` comes with probability :math:`\propto n_j^q`, the class-aware
    sampling of Kang et al.), so that the plain mean
    :math:`\frac{1}{|B|}\sum_{i \in B} \ell_i` is an unbiased estimate of
    :math:`\sum_i s_i \ell_i`. With :math:`g` the gradient of that mean plus
    the penalty's (the weight decay), the update is :math:`v \leftarrow 0.9 v
    + g`, :math:`x \leftarrow x - \eta_t v`, :math:`\eta_t = \eta (1 +
    \cos(\pi t / T)) / 2` over the :math:`T` steps of ``max_epochs`` epochs of
    ``n_samples`` draws. It runs in the L-BFGS solver's standardised variables
    from the same zero start, with :math:`\eta` = ``learning_rate`` divided
    by :math:`\max(1, \lambda)`, :math:`\lambda` the largest eigenvalue of
    the second moment of the standardised features (a bound on the curvature
    of the loss), estimated on 2048 sampled rows. This is the stage 2 of Kang
    et al. (their ImageNet-LT configuration: 10 epochs, batch 512, momentum
    0.9, cosine schedule), on the head's objective and in units that make one
    default step fit any ``F``. Given many epochs it approaches the L-BFGS
    optimum; the default 10 epochs stop short of it, which also acts as a
    regulariser. Each epoch costs :math:`O(n d C)`, as one L-BFGS iteration
    does, and L-BFGS needs tens to hundreds of them: pick ``"sgd"`` when
    classes and rows are both many (thousands of classes, hundreds of
    thousands of rows), the deterministic ``"lbfgs"`` otherwise. The SGD fit
    holds one batch of rows and of scores; it does not stop early and does
    not warn (there is no convergence test), but raises
    ``FloatingPointError`` when the parameters become non-finite.

    References
    ----------
    .. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng and
       Y. Kalantidis, "Decoupling Representation and Classifier for Long-Tailed
       Recognition", ICLR 2020.
    .. [2] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollar, "Focal Loss
       for Dense Object Detection", ICCV 2017.
    .. [3] Z. Zhong, J. Cui, S. Liu and J. Jia, "Improving Calibration for
       Long-Tailed Recognition", CVPR 2021 (MiSLAS).
    .. [4] S. Alshammari, Y.-X. Wang, D. Ramanan and S. Kong, "Long-Tailed
       Recognition via Weight Balancing", CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.heads import CRTHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [80, 15, 5])
    >>> F = rng.normal(size=(100, 4)) + 3.0 * np.eye(4)[y]
    >>> head = CRTHead(q=0.0).fit(F, y)
    >>> head.coef_.shape
    (3, 4)
    >>> head.predict_proba(F[:2]).sum(axis=1)
    array([1., 1.])
    >>> wb = CRTHead(alpha=1e-2, max_norm=1.0).fit(F, y)
    >>> bool(np.linalg.norm(wb.coef_, axis=1).max() <= 1.0)
    True
    >>> sgd = CRTHead(solver="sgd", max_epochs=20, random_state=0).fit(F, y)
    >>> sgd.n_iter_
    20
    """

    _dask_fit = True
    _parameter_constraints: ClassVar[dict] = {
        **DEVICE_CONSTRAINT,
        "q": [Interval(Real, 0, 1, closed="both")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"scale"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_norm": [None, Interval(Real, 0, None, closed="neither")],
        "smooth_head": [Interval(Real, 0, 1, closed="both")],
        "smooth_tail": [Interval(Real, 0, 1, closed="both")],
        "smooth_shape": [StrOptions({"concave", "linear", "convex"})],
        **SGD_CONSTRAINTS,
    }

    def __init__(
        self,
        q=0.0,
        gamma=0.0,
        alpha="scale",
        max_iter=500,
        tol=1e-4,
        max_norm=None,
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
        self.gamma = gamma
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.max_norm = max_norm
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
                self,
                F,
                {
                    "max_norm": self.max_norm is not None,
                    "smooth_head, smooth_tail": bool(np.any(smoothing > 0)),
                    "gamma": self.gamma > 0,
                },
            )
        self.alpha_ = self._resolve_alpha(F, sample_weight)
        if self.solver == "sgd":
            coef, intercept, self.n_iter_ = fit_multinomial_sgd(
                F,
                y,
                counts,
                sample_weight=sample_weight,
                q=self.q,
                alpha=self.alpha_,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                rng=check_random_state(self.random_state),
                owner=type(self).__name__,
            )
            self.smoothing_ = smoothing
            self._set_linear(coef, intercept)
            return
        common = {
            "sample_weight": sample_weight,
            "q": self.q,
            "gamma": self.gamma,
            "alpha": self.alpha_,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "owner": type(self).__name__,
        }
        if self.gamma > 0 and np.any(smoothing > 0):
            raise ValueError(
                f"gamma={self.gamma:g} cannot be combined with label-aware "
                "smoothing (smooth_head, smooth_tail): the smoothed loss is "
                "a cross-entropy; set gamma=0 or both smoothing factors to 0."
            )
        if self._torch() is not None:  # device path
            coef, intercept, self.n_iter_ = self._torch().fit_multinomial(
                F,
                y,
                counts,
                device=self._torch().resolve_device(self.device),
                smoothing=smoothing if np.any(smoothing > 0) else None,
                max_norm=self.max_norm,
                **common,
            )
        elif self.smooth_head == self.smooth_tail == 0 and self.max_norm is None:
            coef, intercept, self.n_iter_ = fit_multinomial(F, y, counts, **common)
        else:
            coef, intercept, self.n_iter_ = fit_multinomial_constrained(
                F,
                y,
                counts,
                smoothing=smoothing if np.any(smoothing > 0) else None,
                max_norm=self.max_norm,
                **common,
            )
        self.smoothing_ = smoothing
        self._set_linear(coef, intercept)

    def _resolve_alpha(self, F, sample_weight):
        """``alpha`` in the units of ``F``: ``"scale"`` times the feature variance."""
        if self.alpha != "scale":
            return float(self.alpha)
        if self._torch() is not None:
            device = self._torch().resolve_device(self.device)
            variance = self._torch().mean_column_variance(F, device, sample_weight)
        else:
            variance = mean_column_variance(F, sample_weight)
        return SCALE_ALPHA * variance
