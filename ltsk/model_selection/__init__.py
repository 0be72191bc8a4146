"""Cross-validation for long-tailed data.

- :class:`LongTailStratifiedKFold`: stratified K-fold whose every training
  fold contains every class, so estimators fitted on a fold keep the full
  class set.
"""

from ltsk.model_selection._split import LongTailStratifiedKFold

__all__ = ["LongTailStratifiedKFold"]
