"""Stage-2 heads: classifiers re-balanced on frozen features (no torch needed).

- :class:`CRTHead` - classifier re-training with class-aware sampling.
- :class:`NCMHead` - nearest class mean on centred, L2-normalised features.
- :class:`TauNormHead` - joint weights divided by their norm to the power tau.
- :class:`LWSHead` - learnable per-class scales on the joint weights.
- :class:`LogitAdjustedHead` - post-hoc logit adjustment by the class priors.
- :func:`tau_path` - score a tau-norm or logit-adjusted head for a grid of tau
  with one matrix product.

Every head is a scikit-learn classifier with ``fit(F, y, *, coef=None,
intercept=None, classes=None)``, where ``coef``/``intercept`` are the jointly
trained linear classifier's weights.
"""

from ltsk.heads._crt import CRTHead
from ltsk.heads._logit_adjusted import LogitAdjustedHead
from ltsk.heads._lws import LWSHead
from ltsk.heads._ncm import NCMHead
from ltsk.heads._tau_norm import TauNormHead
from ltsk.heads._tau_path import tau_path

__all__ = [
    "CRTHead",
    "LWSHead",
    "LogitAdjustedHead",
    "NCMHead",
    "TauNormHead",
    "tau_path",
]
