"""ltsk: long-tailed classification for scikit-learn.

Learn the representation with plain training, then re-balance only the
classifier (Kang et al., ICLR 2020).

Public API map
--------------
- :class:`DecoupledClassifier` - a fitted feature extractor plus a re-balanced
  head, as one scikit-learn classifier.
- Heads (stage-2 classifiers on features): :class:`CRTHead`, :class:`NCMHead`,
  :class:`TauNormHead`, :class:`LWSHead`, :class:`LogitAdjustedHead`.
- :class:`LongTailNetClassifier` - a skorch network trained jointly with
  class-aware sampling and the long-tail losses (needs torch).
- Subpackages, in the order data flows through them: :mod:`ltsk.sampling`,
  :mod:`ltsk.losses`, :mod:`ltsk.nets`, :mod:`ltsk.heads`,
  :mod:`ltsk.posthoc`, :mod:`ltsk.metrics`, :mod:`ltsk.plotting`; around them
  :mod:`ltsk.datasets`,
  :mod:`ltsk.model_selection` (:class:`LongTailStratifiedKFold`) and
  :mod:`ltsk.benchmark` (``python -m ltsk.benchmark``).

Names are imported on first use, so ``import ltsk`` does not import torch.
"""

from ltsk._lazy import lazy_attributes

__version__ = "0.1.0.dev0"

# Top-level names and the module each comes from; every head registered in
# ltsk.heads.HEADS is exported too (see _exports).
_LAZY = {
    "DecoupledClassifier": "ltsk.decoupled",
    "LongTailNetClassifier": "ltsk.nets",
    "LongTailStratifiedKFold": "ltsk.model_selection",
}


def _exports():
    from ltsk.heads import HEADS

    heads = {head.__name__: "ltsk.heads" for head in HEADS.values()}
    return {**_LAZY, **heads}


_getattr, __dir__ = lazy_attributes(__name__, _exports)


def __getattr__(name):
    # ``__all__`` itself is computed on first use (PEP 562), so that the
    # registered heads are exported without importing them at ``import ltsk``.
    if name == "__all__":
        return [*_exports(), "__version__"]
    return _getattr(name)
