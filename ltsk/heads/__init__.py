"""Stage-2 heads: classifiers re-balanced on frozen features.

- :class:`CRTHead` - classifier re-training with class-aware sampling.
- :class:`NCMHead` - nearest class mean on centred, L2-normalised features.
- :class:`TauNormHead` - joint weights divided by their norm to the power tau.
- :class:`LWSHead` - learnable per-class scales on the joint weights.
- :class:`LogitAdjustedHead` - post-hoc logit adjustment by the class priors.
- :class:`DisAlignHead` - a learned per-class scale and shift, applied
  through a learned confidence gate.
- :class:`MARCHead` - a learned per-class scale and norm-scaled margin on
  the joint logits.
- :func:`tau_path` - score a tau-norm or logit-adjusted head for a grid of tau
  with one matrix product.
- :data:`HEADS` - the registry: shorthand name -> head class. It drives
  ``DecoupledClassifier(head="...")``, the top-level ``ltsk`` exports, the
  benchmark's head rows and the common tests, so a new head is one module plus
  one entry here (see the contributor's guide).

Every head is a scikit-learn classifier with ``fit(F, y, *, coef=None,
intercept=None, classes=None)``, where ``coef``/``intercept`` are the jointly
trained linear classifier's weights. ``import ltsk.heads`` does not import
torch; only the ``fit`` of the heads that state their objective in torch does,
and any head given a torch ``device`` (its solver and scoring then run in
torch on that device; see "Heads on a GPU" in the user guide).
"""

from ltsk.heads._crt import CRTHead
from ltsk.heads._disalign import DisAlignHead
from ltsk.heads._logit_adjusted import LogitAdjustedHead
from ltsk.heads._lws import LWSHead
from ltsk.heads._marc import MARCHead
from ltsk.heads._ncm import NCMHead
from ltsk.heads._tau_norm import TauNormHead
from ltsk.heads._tau_path import tau_path

HEADS = {
    "crt": CRTHead,
    "ncm": NCMHead,
    "tau_norm": TauNormHead,
    "lws": LWSHead,
    "logit_adjust": LogitAdjustedHead,
    "disalign": DisAlignHead,
    "marc": MARCHead,
}
"""Shorthand name of every registered head -> its class."""

__all__ = ["HEADS", *(head.__name__ for head in HEADS.values()), "tau_path"]
