"""Class-aware sampling: p_j proportional to n_j^q.

- :func:`class_sampling_probabilities`, :func:`sample_weights`: the distribution
  and per-sample weights that realise it.
- :class:`PowerLawSampler`: an imbalanced-learn sampler that resamples a data
  set to class sizes proportional to n_j^q.
"""

from ltsk.sampling._power_law import PowerLawSampler
from ltsk.sampling._probabilities import class_sampling_probabilities, sample_weights

__all__ = ["PowerLawSampler", "class_sampling_probabilities", "sample_weights"]
