"""Scalar parameter checks shared by the losses (numpy-free and torch-free)."""

import math
import numbers


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_closed: bool = True,
    high_closed: bool = True,
) -> float:
    """Return ``value`` as a float after checking it is a finite real in range.

    The range is ``[low, high]`` with open ends where ``low_closed`` /
    ``high_closed`` is False and no bound where ``low`` / ``high`` is None.
    Booleans are rejected: ``gamma=True`` is almost certainly a mistake.
    """
    left = "(-inf" if low is None else ("[" if low_closed else "(") + f"{low:g}"
    right = "inf)" if high is None else f"{high:g}" + ("]" if high_closed else ")")
    expected = f"a finite real number in {left}, {right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {value!r}.")
    value = float(value)
    too_low = low is not None and (value < low if low_closed else value <= low)
    too_high = high is not None and (value > high if high_closed else value >= high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return value
