"""Adapt a fitted classifier after training: label shift and threshold moving.

- :func:`estimate_target_prior`: the class prior of unlabelled data, by EM
  (Saerens et al., 2002) or black-box shift estimation (Lipton et al., 2018).
- :class:`PriorAdjustedClassifier`: a classifier's probabilities re-weighted
  to a known or estimated target prior (Bayes' rule).
- :class:`TunedClassBiasClassifier`: one additive bias per class, tuned on
  validation data for balanced accuracy, a shot-group score or any scorer.

Calibration is scikit-learn's own:
``CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")``; see
the user guide.
"""

from ltsk.posthoc._bias import TunedClassBiasClassifier
from ltsk.posthoc._prior import PriorAdjustedClassifier, estimate_target_prior

__all__ = [
    "PriorAdjustedClassifier",
    "TunedClassBiasClassifier",
    "estimate_target_prior",
]
