"""Long-tail metrics: shot-group accuracy, calibration and imbalance.

- :func:`shot_groups`: the group of each class from its training count.
- :func:`shot_accuracy`: mean per-class accuracy of each group and overall.
- :func:`make_shot_scorer`: the same as a scikit-learn scorer.
- :func:`expected_calibration_error`: calibration error, overall and per
  group; :func:`make_calibration_scorer` as a scorer.
- :func:`imbalance_summary`: how long-tailed a label vector is.
"""

from ltsk.metrics._calibration import (
    expected_calibration_error,
    make_calibration_scorer,
)
from ltsk.metrics._imbalance import imbalance_summary
from ltsk.metrics._scorer import make_shot_scorer
from ltsk.metrics._shot import shot_accuracy, shot_groups

__all__ = [
    "expected_calibration_error",
    "imbalance_summary",
    "make_calibration_scorer",
    "make_shot_scorer",
    "shot_accuracy",
    "shot_groups",
]
