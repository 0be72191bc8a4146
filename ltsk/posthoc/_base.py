"""What the post-hoc meta-estimators share: checking ``y`` and the fitted estimator."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ltsk.utils._docstrings import docstring_filler

# the X of the prediction methods
fill_samples_doc = docstring_filler(
    {"X": "X : array-like of shape (n_samples, n_features)\n    Samples."}
)


class _BasePosthocClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier that adapts the outputs of its wrapped ``estimator``."""

    def _check_y(self, y):
        """``y`` as a 1-d array of classification targets."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return y

    def _set_estimator_attributes(self, y):
        """``classes_`` and ``n_features_in_`` from the fitted ``estimator_``."""
        self.classes_ = np.asarray(self.estimator_.classes_)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that the estimator does "
                f"not know; its classes_ are {self.classes_.tolist()}."
            )
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_

    def _adapted_scores(self, X):
        """Class scores of shape (n_samples, n_classes) after the adaptation."""
        raise NotImplementedError

    @fill_samples_doc
    def predict(self, X):
        """Predict the class of highest adapted score.

        The adapted score is the biased score of
        :class:`~ltsk.posthoc.TunedClassBiasClassifier` and the target-prior
        posterior of :class:`~ltsk.posthoc.PriorAdjustedClassifier` (the Bayes
        decision for the target prior).

        Parameters
        ----------
        %(X)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        indices = np.argmax(self._adapted_scores(X), axis=1)
        return self.classes_[indices]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(self.estimator).input_tags.sparse
        return tags
