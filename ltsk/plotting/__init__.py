"""Display objects for long-tailed classification (matplotlib optional).

- :class:`WeightNormDisplay`: per-class norms of the classifier weights against
  the training count (Kang et al., 2020, Fig. 2).
- :class:`ShotAccuracyDisplay`: many-, medium-, few-shot and overall accuracy,
  methods side by side.
- :class:`PerClassAccuracyDisplay`: accuracy of every class against its
  training count on a log axis.
- :class:`ReliabilityDisplay`: reliability diagram (accuracy against
  confidence) with the expected calibration error, overall or per shot group.

Each has ``from_estimator`` / ``from_predictions`` class methods that compute
and plot, and a ``plot`` method; only ``plot`` needs matplotlib
(``pip install "ltsk[plot]"``).
"""

from ltsk.plotting._per_class import PerClassAccuracyDisplay
from ltsk.plotting._reliability import ReliabilityDisplay
from ltsk.plotting._shot_accuracy import ShotAccuracyDisplay
from ltsk.plotting._weight_norm import WeightNormDisplay

__all__ = [
    "PerClassAccuracyDisplay",
    "ReliabilityDisplay",
    "ShotAccuracyDisplay",
    "WeightNormDisplay",
]
