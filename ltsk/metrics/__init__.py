"""Long-tail metrics: accuracy of the many-, medium- and few-shot classes.

- :func:`shot_groups`: the group of each class from its training count.
- :func:`shot_accuracy`: mean per-class accuracy of each group and overall.
- :func:`make_shot_scorer`: the same as a scikit-learn scorer.
"""

from ltsk.metrics._scorer import make_shot_scorer
from ltsk.metrics._shot import shot_accuracy, shot_groups

__all__ = ["make_shot_scorer", "shot_accuracy", "shot_groups"]
