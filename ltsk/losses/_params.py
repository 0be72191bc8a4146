"""Parameter constraints shared by the loss functions, modules and weights.

The functions are validated by scikit-learn's ``validate_params`` and the
modules at construction by ``validate_parameter_constraints`` with these same
constraints, so a mistake is worded the same way on every path (and the same
way as by the estimators that take the parameter).
"""

from numbers import Real

from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

_SCHEMES = ("inverse", "sqrt_inverse", "effective_number", "power")

_NON_NEGATIVE = Interval(Real, 0, None, closed="left")

CONSTRAINTS: dict[str, list] = {
    "class_counts": ["array-like"],
    "reduction": [StrOptions({"mean", "sum", "none"})],
    "gamma": [_NON_NEGATIVE],
    "alpha": [None, _NON_NEGATIVE, "array-like"],
    "beta": [Interval(Real, 0, 1, closed="left")],
    "scheme": [StrOptions(set(_SCHEMES))],
    "power": [_NON_NEGATIVE],
    "tau": [_NON_NEGATIVE],
    "max_margin": [_NON_NEGATIVE],
    "scale": [Interval(Real, 0, None, closed="neither")],
    "weight": [None, "array-like"],
    "loss_type": [StrOptions({"softmax", "sigmoid"})],
    "smooth_head": [Interval(Real, 0, 1, closed="both")],
    "smooth_tail": [Interval(Real, 0, 1, closed="both")],
    "shape": [StrOptions({"concave", "linear", "convex"})],
}


def constraints(*names: str) -> dict[str, list]:
    """The constraints of the parameters ``names``, for ``validate_params``."""
    return {name: CONSTRAINTS[name] for name in names}


def check_params(caller: str, **params) -> None:
    """Validate ``params`` of the module ``caller`` as its function does.

    Raises ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``)
    worded "The 'gamma' parameter of FocalLoss must be ...".
    """
    validate_parameter_constraints(constraints(*params), params, caller_name=caller)
