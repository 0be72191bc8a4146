"""Multi-class threshold moving: one additive bias per class, tuned for a score."""

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import _fit_context as fit_context
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import balanced_accuracy_score, check_scoring
from sklearn.metrics._scorer import _Scorer
from sklearn.model_selection import StratifiedShuffleSplit, check_cv, cross_val_predict
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, indexable

from ltsk.posthoc._base import _BasePosthocClassifier, fill_samples_doc

_TINY = np.finfo(np.float64).tiny


def _response_method(estimator, response_method):
    if response_method != "auto":
        if not hasattr(estimator, response_method):
            raise ValueError(
                f"response_method={response_method!r} but the estimator "
                f"{type(estimator).__name__} has no {response_method}."
            )
        return response_method
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            return method
    raise ValueError(
        f"the estimator {type(estimator).__name__} has neither predict_proba nor "
        "decision_function; there are no class scores to move."
    )


def _as_scores(values, method):
    """Class scores of shape (n, C): log-probabilities or decision values."""
    values = np.asarray(values, dtype=np.float64)
    if method == "predict_proba":
        return np.log(np.maximum(values, _TINY))
    if values.ndim == 1:
        # scikit-learn's binary decision_function: score of classes_[1]
        return np.column_stack([np.zeros_like(values), values])
    return values


def _prediction_score(scorer, y_true, classes):
    """``f(y_pred_indices) -> score`` from a scorer of predicted labels."""
    if not isinstance(scorer, _Scorer) or scorer._response_method != "predict":
        raise ValueError(
            "scoring must score predicted labels (a name such as "
            "'balanced_accuracy' or 'f1_macro', make_scorer(metric) of a metric "
            "on labels, or ltsk.metrics.make_shot_scorer); got "
            f"{scorer!r}, which needs probabilities or scores."
        )

    if scorer._score_func is balanced_accuracy_score and not scorer._kwargs:
        # the default scorer, computed from the encoded labels: the same number
        # without scikit-learn's per-call validation (the search calls it
        # C * n_thresholds times per sweep)
        y_code = np.searchsorted(classes, y_true)
        n_true = np.bincount(y_code, minlength=len(classes))
        present = n_true > 0

        def balanced(indices):
            hits = np.bincount(
                y_code, weights=indices == y_code, minlength=len(classes)
            )
            return float(np.mean(hits[present] / n_true[present]))

        return balanced

    def score(indices):
        return scorer._sign * scorer._score_func(
            y_true, classes[indices], **scorer._kwargs
        )

    return score


def coordinate_ascent_biases(scores, score, *, n_thresholds, max_iter):
    """Coordinate ascent over per-class biases; returns ``(bias, best, n_iter)``.

    For class ``c`` with the other biases fixed, sample ``i`` is predicted
    ``c`` exactly when ``b_c > d_i = max_{j != c}(s_ij + b_j) - s_ic``; the
    candidates for ``b_c`` are midpoints between quantiles of ``d``.
    """
    n_samples, n_classes = scores.shape
    bias = np.zeros(n_classes)
    best = score(np.argmax(scores, axis=1))
    levels = np.linspace(0.0, 1.0, n_thresholds)
    for n_iter in range(1, max_iter + 1):
        improved = False
        for c in range(n_classes):
            others = scores + bias
            others[:, c] = -np.inf
            rival = np.argmax(others, axis=1)
            rival_score = others[np.arange(n_samples), rival]
            with np.errstate(invalid="ignore"):
                gap = rival_score - scores[:, c]
            gap = gap[np.isfinite(gap)]
            if gap.size == 0:
                continue
            cuts = np.unique(np.quantile(gap, levels))
            candidates = np.concatenate(
                [[cuts[0] - 1.0], (cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + 1.0]]
            )
            values = np.empty(candidates.shape[0])
            for k, value in enumerate(candidates):
                with np.errstate(invalid="ignore"):
                    chosen = scores[:, c] + value > rival_score
                values[k] = score(np.where(chosen, c, rival))
            top = np.flatnonzero(values == values.max())
            # among equal scores, the bias nearest the current one
            pick = top[np.argmin(np.abs(candidates[top] - bias[c]))]
            if values[pick] > best + 1e-12:
                best = values[pick]
                bias[c] = candidates[pick]
                improved = True
        if not improved:
            return bias, best, n_iter
    warnings.warn(
        f"TunedClassBiasClassifier: the coordinate ascent still improved the "
        f"score after max_iter={max_iter} sweeps over the classes; increase "
        "max_iter.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return bias, best, max_iter


class TunedClassBiasClassifier(_BasePosthocClassifier):
    r"""Multi-class threshold moving: add one tuned bias per class to the scores.

    Generalises scikit-learn's
    :class:`~sklearn.model_selection.TunedThresholdClassifierCV` (two classes,
    one threshold) to any number of classes: the prediction becomes
    :math:`\arg\max_k (s_k(x) + b_k)`, with the biases :math:`b` chosen to
    maximise ``scoring`` on validation data.

    Parameters
    ----------
    estimator : classifier with ``predict_proba`` or ``decision_function``
        The classifier. Wrapped in :class:`~sklearn.frozen.FrozenEstimator`,
        it is used as fitted and every sample given to :meth:`fit` is
        validation data (``cv`` is then not used); otherwise it is cloned and
        fitted.
    scoring : str or callable, default="balanced_accuracy"
        The score to maximise, a scorer of predicted labels: a scikit-learn
        scorer name (``"balanced_accuracy"``, ``"f1_macro"``),
        ``make_scorer(metric)``, or :func:`ltsk.metrics.make_shot_scorer` for
        a shot group.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
        The scores the biases are added to: ``log(predict_proba)`` or
        ``decision_function``; ``"auto"`` takes the first available.
    cv : int, float, cross-validation generator or iterable, default=5
        Where the validation scores come from (ignored for a frozen
        estimator): an int or splitter gives out-of-fold scores of every
        sample (:func:`~sklearn.model_selection.cross_val_predict`); a float
        in (0, 1) holds out that fraction once (stratified). The estimator is
        then refitted on all the data, and the biases are applied to it.
    n_thresholds : int >= 2, default=100
        Candidate values of each bias per sweep (quantiles of the sample
        points where the prediction changes).
    max_iter : int >= 1, default=20
        Most sweeps over the classes; stopping with the score still improving
        is a :class:`~sklearn.exceptions.ConvergenceWarning`.
    random_state : int, RandomState instance or None, default=None
        Seed of the split when ``cv`` is a float.

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier (the frozen one itself when frozen).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    bias_ : ndarray of shape (n_classes,)
        The tuned biases, centred to mean 0 (adding a constant to all of them
        changes no prediction).
    best_score_ : float
        The validation score with the tuned biases.
    baseline_score_ : float
        The validation score without biases.
    n_iter_ : int
        Sweeps over the classes done.
    n_features_in_ : int
        Number of features seen by the estimator, when it has it.

    See Also
    --------
    PriorAdjustedClassifier : Biases :math:`\log \pi^t - \log \pi^s` from a
        class prior instead of a search.
    sklearn.model_selection.TunedThresholdClassifierCV : The binary case.

    Notes
    -----
    The search is coordinate ascent: starting from :math:`b = 0`, each sweep
    visits the classes in turn and sets :math:`b_c` to the candidate that
    maximises the score with the other biases fixed, until a sweep improves
    nothing. With the other biases fixed, sample :math:`i` is predicted
    :math:`c` exactly when :math:`b_c > d_i = \max_{j \ne c}(s_{ij} + b_j) -
    s_{ic}`, so the candidates are midpoints between ``n_thresholds``
    quantiles of the :math:`d_i` (and one value beyond each end). Ties keep
    the candidate nearest the current bias.

    **Cost**: each sweep computes, for each of the :math:`C` classes, the
    rival scores (:math:`O(nC)`) and ``n_thresholds`` predictions and scorer
    calls on the :math:`n` validation samples, i.e.
    :math:`O(C \cdot (nC + G \cdot n))` per sweep with :math:`G` =
    ``n_thresholds``, plus at most :math:`C \cdot G` scorer calls; at most
    ``max_iter`` sweeps. With ``cv=k``, :math:`k + 1` fits of the estimator
    come first. This is the "threshold moving" of the long-tail survey
    (Zhang et al., 2023): a few parameters fitted on validation data; use a
    validation set (or folds) large enough to hold the tail classes, or the
    biases overfit them. There is no ``predict_proba``: the biases move
    decisions, not probabilities (:class:`PriorAdjustedClassifier` re-weights
    probabilities by a prior).

    References
    ----------
    .. [1] Y. Zhang, B. Kang, B. Hooi, S. Yan and J. Feng, "Deep Long-Tailed
       Learning: A Survey", IEEE TPAMI 45(9), 2023.
    .. [2] Z.-H. Zhou and X.-Y. Liu, "Training Cost-Sensitive Neural Networks
       with Methods Addressing the Class Imbalance Problem", IEEE TKDE 18(1),
       2006.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ltsk.posthoc import TunedClassBiasClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 12])
    >>> X = rng.normal(size=(372, 2)) + y[:, None]
    >>> clf = LogisticRegression().fit(X, y)
    >>> y_val = np.repeat([0, 1, 2], 50)
    >>> X_val = rng.normal(size=(150, 2)) + y_val[:, None]
    >>> tuned = TunedClassBiasClassifier(FrozenEstimator(clf)).fit(X_val, y_val)
    >>> bool(tuned.best_score_ > tuned.baseline_score_)
    True
    >>> tuned.bias_.shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [
            HasMethods(["fit", "predict_proba"]),
            HasMethods(["fit", "decision_function"]),
        ],
        "scoring": [str, callable],
        "response_method": [StrOptions({"auto", "predict_proba", "decision_function"})],
        "cv": ["cv_object", Interval(Real, 0, 1, closed="neither")],
        "n_thresholds": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        scoring="balanced_accuracy",
        response_method="auto",
        cv=5,
        n_thresholds=100,
        max_iter=20,
        random_state=None,
    ):
        self.estimator = estimator
        self.scoring = scoring
        self.response_method = response_method
        self.cv = cv
        self.n_thresholds = n_thresholds
        self.max_iter = max_iter
        self.random_state = random_state

    def _validation_scores(self, X, y, method):
        """``(scores, y_val)``: validation class scores and their labels."""
        if isinstance(self.estimator, FrozenEstimator):
            self.estimator_ = self.estimator
            return getattr(self.estimator_, method)(X), y
        if isinstance(self.cv, Real) and not isinstance(self.cv, Integral):
            split = StratifiedShuffleSplit(
                n_splits=1, test_size=self.cv, random_state=self.random_state
            )
            train, val = next(split.split(X, y))
            part = clone(self.estimator).fit(
                _safe_indexing(X, train), _safe_indexing(y, train)
            )
            scores = getattr(part, method)(_safe_indexing(X, val))
            if len(part.classes_) != len(np.unique(y)):
                raise ValueError(
                    f"the training part of cv={self.cv} lacks some class; use a "
                    "smaller held-out fraction or an integer cv."
                )
            y_val = _safe_indexing(y, val)
        else:
            cv = check_cv(self.cv, y, classifier=True)
            scores = cross_val_predict(
                clone(self.estimator), X, y, cv=cv, method=method
            )
            y_val = y
        self.estimator_ = clone(self.estimator).fit(X, y)
        return scores, y_val

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the estimator (unless frozen) and tune the per-class biases.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; with a frozen estimator, the validation data.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : TunedClassBiasClassifier
            The fitted meta-estimator.
        """
        X, y = indexable(X, self._check_y(y))
        method = _response_method(self.estimator, self.response_method)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        raw, y_val = self._validation_scores(X, y, method)
        self._set_estimator_attributes(y)
        scores = _as_scores(raw, method)
        if scores.shape[1] != len(self.classes_):
            raise ValueError(
                f"the estimator's {method} returned {scores.shape[1]} columns for "
                f"{len(self.classes_)} classes."
            )
        score = _prediction_score(scorer, y_val, self.classes_)
        self.baseline_score_ = float(score(np.argmax(scores, axis=1)))
        bias, best, self.n_iter_ = coordinate_ascent_biases(
            scores, score, n_thresholds=self.n_thresholds, max_iter=self.max_iter
        )
        self.bias_ = bias - bias.mean()
        self.best_score_ = float(best)
        self._method = method
        return self

    def _adapted_scores(self, X):
        check_is_fitted(self)
        scores = _as_scores(getattr(self.estimator_, self._method)(X), self._method)
        return scores + self.bias_

    @fill_samples_doc
    def decision_function(self, X):
        """The estimator's class scores plus the tuned biases.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            :math:`s_k(x) + b_k` (log-probabilities when the response is
            ``predict_proba``); for two classes, the difference of the two
            columns, as in scikit-learn.
        """
        scores = self._adapted_scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores
