"""Label shift: estimate the target class prior and adapt a classifier to it."""

import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import _fit_context as fit_context
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
)

from ltsk.posthoc._base import _BasePosthocClassifier, fill_samples_doc

# Above this condition number of the confusion matrix the BBSE solution is
# dominated by the noise of its estimate (Lipton et al. bound the error by
# 1 / sigma_min); warn rather than return it silently.
_BBSE_COND_WARN = 1e3


def _check_prior(prior, n_classes, name):
    """A probability vector of length ``n_classes`` (normalised), as float64."""
    prior = column_or_1d(check_array(prior, ensure_2d=False, input_name=name))
    prior = prior.astype(np.float64)
    if prior.shape[0] != n_classes:
        raise ValueError(
            f"{name} must have one entry per class ({n_classes}), got {prior.shape[0]}."
        )
    if np.any(prior < 0) or not np.any(prior > 0):
        raise ValueError(
            f"{name} must be non-negative with a positive sum, got {prior.tolist()}."
        )
    return prior / prior.sum()


def _reweight(proba, target_prior, train_prior):
    """Posteriors ``proba`` under ``train_prior`` moved to ``target_prior``."""
    seen = train_prior > 0
    ratio = np.zeros_like(train_prior)
    ratio[seen] = target_prior[seen] / train_prior[seen]
    weighted = proba * ratio
    total = weighted.sum(axis=1, keepdims=True)
    # a row whose mass lies only on classes of target prior 0 keeps its
    # posterior rather than becoming 0/0
    return np.divide(weighted, total, out=proba.copy(), where=total > 0)


def _em_prior(proba, train_prior, tol, max_iter):
    """Saerens et al.'s EM; returns ``(prior, n_iter)``."""
    prior = train_prior.copy()
    for n_iter in range(1, max_iter + 1):
        new = _reweight(proba, prior, train_prior).mean(axis=0)
        new /= new.sum()
        delta = np.max(np.abs(new - prior))
        prior = new
        if delta < tol:
            return prior, n_iter
    warnings.warn(
        f"estimate_target_prior(method='em') did not converge in max_iter="
        f"{max_iter} iterations (last change {delta:.2e} >= tol={tol:g}); "
        "increase max_iter.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return prior, max_iter


def _bbse_prior(proba, proba_val, y_val, n_classes):
    """Lipton et al.'s black-box shift estimate of the target prior."""
    pred_val = np.argmax(proba_val, axis=1)
    pred = np.argmax(proba, axis=1)
    # confusion[i, j] = P(y_hat = i | y = j) on the labelled validation data
    confusion = np.zeros((n_classes, n_classes))
    np.add.at(confusion, (pred_val, y_val), 1.0)
    per_class = confusion.sum(axis=0)
    if np.any(per_class == 0):
        missing = np.flatnonzero(per_class == 0).tolist()
        raise ValueError(
            f"y_val has no sample of the classes at columns {missing}; BBSE "
            "needs validation samples of every class to estimate the confusion "
            "matrix."
        )
    confusion /= per_class
    mu = np.bincount(pred, minlength=n_classes) / pred.shape[0]
    cond = np.linalg.cond(confusion)
    if not np.isfinite(cond) or cond > 1 / np.finfo(np.float64).eps:
        raise ValueError(
            "the validation confusion matrix is singular (condition number "
            f"{cond:.2e}): some classes are never told apart, so method='bbse' "
            "cannot separate their priors; use method='em'."
        )
    if cond > _BBSE_COND_WARN:
        warnings.warn(
            f"the validation confusion matrix is ill-conditioned (condition "
            f"number {cond:.2e} > {_BBSE_COND_WARN:g}); the BBSE prior may be far "
            "from the truth. Use more validation data or method='em'.",
            UserWarning,
            stacklevel=3,
        )
    prior = np.linalg.solve(confusion, mu)
    prior = np.clip(prior, 0.0, None)
    if not np.any(prior > 0):
        raise ValueError(
            "the BBSE solution has no positive entry; the target predictions "
            "are inconsistent with the validation confusion matrix."
        )
    return prior / prior.sum()


@validate_params(
    {
        "proba": ["array-like"],
        "train_prior": ["array-like", None],
        "method": [StrOptions({"em", "bbse"})],
        "proba_val": ["array-like", None],
        "y_val": ["array-like", None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def estimate_target_prior(
    proba,
    train_prior,
    *,
    method="em",
    proba_val=None,
    y_val=None,
    tol=1e-6,
    max_iter=1000,
):
    r"""Estimate the class prior of unlabelled data under label shift.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        A classifier's probabilities on the unlabelled target data.
    train_prior : array-like of shape (n_classes,) or None
        The class prior the probabilities were made for: the training class
        frequencies of a plain classifier, uniform for a balanced one (a
        re-balanced head, logit adjustment). Normalised to sum to 1. Needed
        by ``"em"``; ignored by ``"bbse"`` (pass None).
    method : {"em", "bbse"}, default="em"
        ``"em"``: Saerens et al.'s expectation-maximisation on ``proba``.
        ``"bbse"``: Lipton et al.'s black-box shift estimation, which also
        needs ``proba_val`` and ``y_val``.
    proba_val : array-like of shape (n_val, n_classes), default=None
        ``"bbse"`` only: the same classifier's probabilities on labelled
        validation data (held out from its training).
    y_val : array-like of shape (n_val,), default=None
        ``"bbse"`` only: the validation labels, as column indices
        ``0..n_classes-1`` of ``proba``.
    tol : float > 0, default=1e-6
        ``"em"`` stops when no entry of the prior changes by more than
        ``tol`` in one iteration.
    max_iter : int >= 1, default=1000
        ``"em"``: the most iterations; reaching it is a
        :class:`~sklearn.exceptions.ConvergenceWarning`.

    Returns
    -------
    prior : ndarray of shape (n_classes,)
        The estimated target class prior (non-negative, sums to 1).

    See Also
    --------
    PriorAdjustedClassifier : Adapts a classifier to a known or estimated
        prior.

    Notes
    -----
    **EM** (Saerens et al., 2002). With the source posteriors
    :math:`p_s(y \mid x_i)`, the source prior :math:`\pi^s` and
    :math:`\pi^{(0)} = \pi^s`, iterate

    .. math::

        p^{(k)}(y \mid x_i) = \frac{\pi^{(k)}_y / \pi^s_y \;
        p_s(y \mid x_i)}{\sum_{y'} \pi^{(k)}_{y'} / \pi^s_{y'} \;
        p_s(y' \mid x_i)},
        \qquad
        \pi^{(k+1)}_y = \frac{1}{n} \sum_i p^{(k)}(y \mid x_i),

    a fixed point of the target likelihood. It needs calibrated
    probabilities (Alexandari et al., 2020): calibrate first, e.g. with
    ``CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")``.

    **BBSE** (Lipton et al., 2018), with hard predictions
    :math:`\hat y = \arg\max_k p_{ik}`: the class-conditional confusion
    matrix :math:`M_{ij} = P(\hat y = i \mid y = j)`, estimated on the
    validation data, is the same under label shift, so the target prediction
    rates :math:`\mu_i = P_t(\hat y = i)` satisfy :math:`\mu = M \pi^t`.
    The paper solves :math:`C w = \mu` with the joint matrix
    :math:`C = M \operatorname{diag}(\pi^s)` and returns
    :math:`\pi^t = w \odot \pi^s`; solving with :math:`M` gives the same
    :math:`\pi^t` and does not need the validation set to follow the
    training prior (a balanced one works). Negative entries of the solution
    (estimation noise) are clipped to 0 and the rest renormalised, as
    Lipton et al. do with the weights. A singular :math:`M` is a
    ``ValueError``; a condition number above 1000 (the error bound grows with
    :math:`1/\sigma_{\min}(M)`) a ``UserWarning``.

    References
    ----------
    .. [1] M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the Outputs
       of a Classifier to New a Priori Probabilities: A Simple Procedure",
       Neural Computation 14(1), 2002.
    .. [2] Z. C. Lipton, Y.-X. Wang and A. J. Smola, "Detecting and
       Correcting for Label Shift with Black Box Predictors", ICML 2018.
    .. [3] A. Alexandari, A. Kundaje and A. Shrikumar, "Maximum Likelihood
       with Bias-Corrected Calibration is Hard-To-Beat at Label Shift
       Adaptation", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.posthoc import estimate_target_prior
    >>> # exact posteriors of two well-separated classes, target prior 0.8/0.2
    >>> proba = np.array([[0.99, 0.01]] * 80 + [[0.01, 0.99]] * 20)
    >>> estimate_target_prior(proba, [0.5, 0.5]).round(3)
    array([0.806, 0.194])
    """
    return _estimate_target_prior(
        proba, train_prior, method, proba_val, y_val, tol, max_iter
    )[0]


def _estimate_target_prior(proba, train_prior, method, proba_val, y_val, tol, max_iter):
    """:func:`estimate_target_prior`, returning ``(prior, n_iter)``."""
    proba = check_array(proba, dtype=np.float64, input_name="proba")
    n_classes = proba.shape[1]
    if np.any(proba < 0):
        raise ValueError("proba must hold non-negative probabilities.")
    if method == "em":
        if train_prior is None:
            raise ValueError(
                "method='em' needs train_prior, the class prior the probabilities "
                "were made for."
            )
        if proba_val is not None or y_val is not None:
            raise ValueError(
                "proba_val and y_val are used by method='bbse' only; method='em' "
                "needs no labelled data."
            )
        train_prior = _check_prior(train_prior, n_classes, "train_prior")
        return _em_prior(proba, train_prior, tol, max_iter)
    if proba_val is None or y_val is None:
        raise ValueError(
            "method='bbse' needs proba_val and y_val: the classifier's "
            "probabilities on labelled validation data, and their labels."
        )
    proba_val = check_array(proba_val, dtype=np.float64, input_name="proba_val")
    y_val = column_or_1d(y_val)
    if proba_val.shape[1] != n_classes:
        raise ValueError(
            f"proba_val has {proba_val.shape[1]} columns but proba has "
            f"{n_classes}; both must come from the same classifier."
        )
    if y_val.shape[0] != proba_val.shape[0]:
        raise ValueError(
            f"y_val has {y_val.shape[0]} labels for {proba_val.shape[0]} rows of "
            "proba_val."
        )
    if y_val.dtype.kind not in "iu" or np.any(y_val < 0) or np.any(y_val >= n_classes):
        raise ValueError(
            "y_val must hold column indices 0..n_classes-1 of proba (encode the "
            "labels with np.searchsorted(classes_, y))."
        )
    return _bbse_prior(proba, proba_val, y_val, n_classes), 0


def _class_counts_of(estimator):
    """``class_counts_`` of an ltsk estimator (a decoupled one's head), or None."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    part = getattr(estimator, "head_", estimator)
    return getattr(part, "class_counts_", None)


class PriorAdjustedClassifier(_BasePosthocClassifier):
    r"""Adapt a classifier's probabilities to a new class prior (label shift).

    The classifier's posteriors, made for the class prior it was trained
    under, are re-weighted by Bayes' rule to a known target prior, or to one
    estimated from unlabelled target data (:func:`estimate_target_prior`).

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The classifier to adapt. It is cloned and fitted on the data given to
        :meth:`fit`, unless wrapped in :class:`~sklearn.frozen.FrozenEstimator`
        (a fitted classifier used as is, scikit-learn's way of passing a
        prefit estimator).
    target_prior : {"uniform", "em", "bbse"}, array-like or dict, default="uniform"
        The deployment's class prior: uniform (balanced decisions); given as
        probabilities of shape (n_classes,) in ``classes_`` order or as
        ``{label: probability}`` (normalised); or estimated in :meth:`fit`
        from ``X_target`` with EM (``"em"``) or BBSE (``"bbse"``, which also
        uses ``X, y`` as the labelled validation data and so needs a frozen
        estimator).
    train_prior : array-like of shape (n_classes,), dict or None, default=None
        The prior the estimator's probabilities were made for. None takes the
        estimator's ``class_counts_`` when it has them (ltsk heads, nets and a
        :class:`~ltsk.DecoupledClassifier`'s head), else the class frequencies
        of ``y`` given to :meth:`fit`. A balanced classifier's prior is
        uniform: pass ``np.ones(n_classes)``.
    tol : float > 0, default=1e-6
        Tolerance of the EM estimate.
    max_iter : int >= 1, default=1000
        Iterations of the EM estimate.

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier (the frozen one itself when frozen).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    train_prior_ : ndarray of shape (n_classes,)
        The source prior used.
    target_prior_ : ndarray of shape (n_classes,)
        The target prior used (given or estimated).
    n_iter_ : int
        Iterations of the EM estimate (0 when the prior was not estimated by
        EM).
    n_features_in_ : int
        Number of features seen by the estimator, when it has it.

    See Also
    --------
    estimate_target_prior : The estimators of the target prior.
    TunedClassBiasClassifier : Biases tuned for a score instead of a prior.
    ltsk.LogitAdjustedHead : The same correction on a linear head's logits.

    Notes
    -----
    With source posteriors :math:`p_s(y \mid x)`, source prior
    :math:`\pi^s` and target prior :math:`\pi^t`, label shift
    (:math:`p(x \mid y)` unchanged) gives the Bayes posterior

    .. math::

        p_t(y \mid x) = \frac{\pi^t_y / \pi^s_y \; p_s(y \mid x)}
        {\sum_{y'} \pi^t_{y'} / \pi^s_{y'} \; p_s(y' \mid x)},

    whose argmax is the Bayes-optimal decision for :math:`\pi^t` (Saerens
    et al., 2002; with a uniform :math:`\pi^t` it is the post-hoc logit
    adjustment of Menon et al., 2021, and for a known :math:`\pi^t` the
    prior correction of Hong et al., 2021). A class of source prior 0 keeps
    probability 0; target mass put on it cannot be honoured and is a
    ``UserWarning``.

    References
    ----------
    .. [1] M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the Outputs
       of a Classifier to New a Priori Probabilities: A Simple Procedure",
       Neural Computation 14(1), 2002.
    .. [2] Y. Hong, S. Han, K. Choi, S. Seo, B. Kim and B. Chang,
       "Disentangling Label Distribution for Long-tailed Visual Recognition",
       CVPR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ltsk.posthoc import PriorAdjustedClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 12])
    >>> X = rng.normal(size=(372, 2)) + y[:, None]
    >>> clf = LogisticRegression().fit(X, y)
    >>> from sklearn.metrics import balanced_accuracy_score
    >>> balanced = PriorAdjustedClassifier(FrozenEstimator(clf)).fit(X, y)
    >>> balanced.target_prior_
    array([0.333..., 0.333..., 0.333...])
    >>> bool(balanced_accuracy_score(y, balanced.predict(X))
    ...      > balanced_accuracy_score(y, clf.predict(X)))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "target_prior": [StrOptions({"uniform", "em", "bbse"}), "array-like", Mapping],
        "train_prior": ["array-like", Mapping, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        *,
        target_prior="uniform",
        train_prior=None,
        tol=1e-6,
        max_iter=1000,
    ):
        self.estimator = estimator
        self.target_prior = target_prior
        self.train_prior = train_prior
        self.tol = tol
        self.max_iter = max_iter

    def _prior_param(self, value, name):
        if isinstance(value, Mapping):
            missing = [c for c in self.classes_.tolist() if c not in value]
            if missing:
                raise ValueError(f"{name} has no entry for the classes {missing}.")
            value = [value[c] for c in self.classes_.tolist()]
        return _check_prior(value, len(self.classes_), name)

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_target=None):
        """Fit the estimator (unless frozen) and set the two priors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; with a frozen estimator, labelled validation data
            (used by ``target_prior="bbse"``).
        y : array-like of shape (n_samples,)
            Their labels.
        X_target : array-like of shape (n_target, n_features), default=None
            Unlabelled data from the deployment, required when
            ``target_prior`` is ``"em"`` or ``"bbse"``.

        Returns
        -------
        self : PriorAdjustedClassifier
            The fitted meta-estimator.
        """
        named = self.target_prior if isinstance(self.target_prior, str) else None
        estimate = named in ("em", "bbse")
        if estimate and X_target is None:
            raise ValueError(
                f"target_prior={self.target_prior!r} estimates the target prior "
                "from unlabelled data: pass fit(X, y, X_target=...)."
            )
        if not estimate and X_target is not None:
            raise ValueError(
                "X_target is only used when target_prior is 'em' or 'bbse'; "
                f"target_prior={self.target_prior!r} ignores it."
            )
        frozen = isinstance(self.estimator, FrozenEstimator)
        if named == "bbse" and not frozen:
            raise ValueError(
                "target_prior='bbse' estimates the confusion matrix on the X, y "
                "given to fit, which must be held out from the estimator's "
                "training: pass a fitted estimator wrapped in FrozenEstimator and "
                "validation data."
            )
        y = self._check_y(y)
        self.estimator_ = self.estimator if frozen else clone(self.estimator)
        self.estimator_.fit(X, y)
        self._set_estimator_attributes(y)
        n_classes = len(self.classes_)

        if self.train_prior is not None:
            self.train_prior_ = self._prior_param(self.train_prior, "train_prior")
        else:
            counts = _class_counts_of(self.estimator_)
            if counts is None or len(counts) != n_classes:
                index = np.searchsorted(self.classes_, y)
                counts = np.bincount(index, minlength=n_classes)
            self.train_prior_ = _check_prior(counts, n_classes, "train_prior")

        self.n_iter_ = 0
        if named == "uniform":
            self.target_prior_ = np.full(n_classes, 1.0 / n_classes)
        elif estimate:
            proba = self.estimator_.predict_proba(X_target)
            proba_val = y_val = None
            if named == "bbse":
                proba_val = self.estimator_.predict_proba(X)
                y_val = np.searchsorted(self.classes_, y)
            self.target_prior_, self.n_iter_ = _estimate_target_prior(
                proba,
                self.train_prior_,
                self.target_prior,
                proba_val,
                y_val,
                self.tol,
                self.max_iter,
            )
        else:
            self.target_prior_ = self._prior_param(self.target_prior, "target_prior")
        lost = (self.train_prior_ == 0) & (self.target_prior_ > 0)
        if np.any(lost):
            warnings.warn(
                f"the classes {self.classes_[lost].tolist()} have target prior > 0 "
                "but train prior 0; their probability stays 0 (the estimator "
                "never predicts them), so target_prior cannot be honoured there.",
                UserWarning,
                stacklevel=2,
            )
        return self

    @fill_samples_doc
    def predict_proba(self, X):
        """Predict probabilities re-weighted to the target prior.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            :math:`p_t(y \\mid x)`, columns in ``classes_`` order.
        """
        check_is_fitted(self)
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
        return _reweight(proba, self.target_prior_, self.train_prior_)

    @fill_samples_doc
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in ``classes_`` order.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _adapted_scores(self, X):
        return self.predict_proba(X)
