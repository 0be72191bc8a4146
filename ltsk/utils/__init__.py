"""Internal helpers shared by the ltsk subpackages (not part of the public API)."""

from ltsk.utils._validation import check_class_counts

__all__ = ["check_class_counts"]
