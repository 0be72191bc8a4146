"""Class-aware sampling: p_j proportional to n_j^q.

- :func:`class_sampling_probabilities`, :func:`sample_weights`: the distribution
  and per-sample weights that realise it.
- :func:`progressive_sampling_probabilities`: the per-epoch schedule of
  progressively-balanced sampling, from instance- to class-balanced.
- :class:`PowerLawSampler`: an imbalanced-learn sampler that resamples a data
  set to class sizes proportional to n_j^q.
- :class:`ClassAwareSampler`: a torch ``Sampler`` drawing indices with class
  probabilities p_j (imported on first use, so this package needs no torch).
"""

from ltsk._lazy import lazy_attributes
from ltsk.sampling._power_law import PowerLawSampler
from ltsk.sampling._probabilities import (
    class_sampling_probabilities,
    progressive_sampling_probabilities,
    sample_weights,
)

__all__ = [
    "ClassAwareSampler",
    "PowerLawSampler",
    "class_sampling_probabilities",
    "progressive_sampling_probabilities",
    "sample_weights",
]


# ClassAwareSampler needs torch: imported on first use.
__getattr__, __dir__ = lazy_attributes(
    __name__, {"ClassAwareSampler": "ltsk.sampling._torch"}
)
