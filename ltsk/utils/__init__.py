"""Internal helpers shared by the ltsk subpackages (not part of the public API)."""

from ltsk.utils._validation import check_class_counts, check_sampling_power

__all__ = ["check_class_counts", "check_sampling_power"]
