"""Validation shared by samplers, losses, heads and nets."""

import numpy as np


def check_class_counts(class_counts, *, name: str = "class_counts") -> np.ndarray:
    """Validate per-class training counts and return them as a float64 array.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Number of training samples of each class. Zeros are allowed (a class
        absent from a cross-validation fold) but at least one count must be
        positive.
    name : str, default="class_counts"
        Parameter name used in error messages.

    Returns
    -------
    counts : ndarray of shape (n_classes,), dtype float64
        The counts, validated.

    Raises
    ------
    TypeError
        When the counts are not numbers.
    ValueError
        When they are not a non-empty 1-D array of finite, non-negative
        numbers with at least one positive.

    Examples
    --------
    >>> from ltsk.utils import check_class_counts
    >>> check_class_counts([5, 0, 2])
    array([5., 0., 2.])
    >>> check_class_counts([0, 0], name="train_counts")
    Traceback (most recent call last):
    ...
    ValueError: train_counts must contain at least one positive count.
    """
    try:
        counts = np.asarray(class_counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array-like of non-negative numbers, got "
            f"{type(class_counts).__name__}."
        ) from exc
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of per-class counts, got shape "
            f"{counts.shape}."
        )
    if not np.all(np.isfinite(counts)):
        raise ValueError(f"{name} must be finite, got {counts.tolist()}.")
    if np.any(counts < 0):
        raise ValueError(f"{name} must be non-negative, got {counts.tolist()}.")
    if not np.any(counts > 0):
        raise ValueError(f"{name} must contain at least one positive count.")
    return counts
