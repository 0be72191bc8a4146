"""Checks and builders shared by the nets: labels, class weights, components,
constructor arguments, and the loaders' random generators."""

import copy
import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from skorch import NeuralNet
from torch import nn

# What to pass instead of a component's name given as a string.
COMPONENT_EXAMPLES = {
    "module": "ltsk.nets.MLP",
    "criterion": "torch.nn.CrossEntropyLoss",
}

# skorch's own constructor parameters, which reach the nets through **kwargs.
# "kwargs" itself stays: scikit-learn's checks pass it for a **kwargs signature
# and expect __init__ not to raise; skorch refuses it at fit.
_SKORCH_PARAMS = frozenset(inspect.signature(NeuralNet.__init__).parameters)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode, then restore each one's previous mode."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def encoded_accuracy(net, X, y) -> float:
    """Accuracy against the encoded labels the net's datasets carry internally."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


def loader_generator(training: bool) -> torch.Generator:
    """Generator of a loader's draws, seeded from torch's global one in training.

    Also handed to the DataLoader, which otherwise draws its workers' base
    seed from torch's global generator (predict would change it).
    """
    generator = torch.Generator()
    if training:
        generator.manual_seed(int(torch.randint(2**62, (1,)).item()))
    return generator


def refuse_unknown_params(estimator: str, kwargs: dict) -> None:
    """Refuse a keyword that is neither the net's nor skorch's nor ``prefix__*``.

    skorch would store it and only complain at the first ``fit``; a parameter
    of another ltsk net (``q`` given to BBN) would read as accepted until then.
    """
    unknown = sorted(
        name
        for name in kwargs
        if "__" not in name and not name.endswith("_") and name not in _SKORCH_PARAMS
    )
    if unknown:
        raise TypeError(
            f"{estimator} does not take {', '.join(unknown)}: not one of its "
            "parameters nor skorch's. Components take theirs as prefix__name "
            "(module__*, criterion__*, optimizer__*, iterator_train__*, ...)."
        )


def class_weight_tensor(weight, n_classes: int, name: str) -> torch.Tensor:
    """``weight`` as a tensor of torch's default float dtype, checked to hold one
    finite, non-negative weight per class, not all zero."""
    try:
        values = np.asarray(
            weight.detach().cpu() if isinstance(weight, torch.Tensor) else weight,
            dtype=np.float64,
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array-like of numbers, one per class, got {weight!r}."
        ) from exc
    if values.shape != (n_classes,):
        raise ValueError(
            f"{name} must hold one weight per class ({n_classes} classes), got "
            f"shape {values.shape}."
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{name} must be finite and non-negative, got {values[bad].tolist()} "
            f"at positions {np.flatnonzero(bad).tolist()} of classes_."
        )
    if not values.any():
        raise ValueError(f"{name} must not be all zero.")
    return torch.as_tensor(values, dtype=torch.get_default_dtype())


def refuse_instance_params(spec, prefix: str, kwargs: dict) -> None:
    """Refuse ``prefix__*`` parameters for a component given as an instance.

    skorch would rebuild the instance from its class with only those
    parameters, silently discarding its trained weights and other settings.
    """
    if isinstance(spec, nn.Module) and kwargs:
        names = ", ".join(f"{prefix}__{name}" for name in sorted(kwargs))
        raise ValueError(
            f"{prefix} is an instance of {type(spec).__name__}, so {names} cannot "
            f"be applied: rebuilding {prefix} from its class would discard the "
            f"instance's weights and settings. Pass the class as {prefix} "
            f"together with {prefix}__* parameters, or the instance alone."
        )


def refuse_sample_weight(estimator: str, fit_params: dict) -> None:
    # Otherwise skorch passes it on to the module's forward as an input.
    if "sample_weight" in fit_params:
        raise TypeError(
            f"{estimator} does not support sample_weight. To re-balance classes, "
            "use the sampling power q (class-aware sampling) or class weights in "
            "the loss (criterion__weight, e.g. ltsk.losses.class_weights, or a "
            "class-balanced criterion such as ltsk.losses.ClassBalancedLoss)."
        )


def takes_class_counts(criterion) -> bool:
    try:
        return "class_counts" in inspect.signature(criterion).parameters
    except (TypeError, ValueError):
        return False


def encode_labels(y, n_samples: int, known=None, fixed=None, given=None):
    """Validate raw labels and encode them against the label set.

    ``known`` is ``classes_`` of a net already fitted (None at a first fit),
    ``fixed`` the ``classes`` parameter, ``given`` ``partial_fit``'s
    ``classes`` argument: it fixes the label set at the first call (``y`` may
    then hold a single class) and must agree with ``classes_`` later. Returns
    the sorted classes and the encoded labels (int64).
    """
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples}, "
            f"y has {y.shape[0]}."
        )
    check_classification_targets(y)
    given = None if given is None else np.unique(np.asarray(given))
    if known is not None:
        if given is not None and not np.array_equal(given, known):
            raise ValueError(
                f"classes={given.tolist()} is not the same as in the first fit, "
                f"was: {known.tolist()}."
            )
        unknown = np.setdiff1d(np.unique(y), known)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} not seen in the first fit; "
                f"known classes: {known.tolist()}."
            )
        return known, np.searchsorted(known, y).astype(np.int64)
    present = np.unique(y)
    if fixed is not None and len(fixed):
        fixed = np.unique(np.asarray(fixed))
    else:
        fixed = None
    if given is not None and fixed is not None and not np.array_equal(given, fixed):
        raise ValueError(
            f"partial_fit got classes={given.tolist()}, which differs from "
            f"the classes parameter {fixed.tolist()}."
        )
    classes = next(c for c in (given, fixed, present) if c is not None)
    if (classes.size if given is not None else present.size) < 2:
        raise ValueError(
            "y must contain at least two classes to train a classifier, got "
            f"1 class: {present.tolist()}."
        )
    unknown = np.setdiff1d(present, classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} that are not in the "
            f"classes {classes.tolist()}."
        )
    return classes, np.searchsorted(classes, y).astype(np.int64)


def build_component(
    spec, prefix: str, kwargs: dict, inputs: torch.Tensor, device
) -> tuple[nn.Module, torch.Tensor]:
    """Build the ``prefix`` component and run it once on ``inputs``.

    ``spec`` is an nn.Module class or callable (called with the ``prefix__*``
    parameters ``kwargs``) or an instance (deep-copied; ``prefix__*``
    parameters are refused). Returns the module, on ``device``, and its 2-D
    output on ``inputs``.
    """
    refuse_instance_params(spec, prefix, kwargs)
    if isinstance(spec, nn.Module):
        component = copy.deepcopy(spec)
    else:
        component = spec(**kwargs)
    if not isinstance(component, nn.Module):
        raise TypeError(
            f"{prefix} must be an nn.Module, an nn.Module class or a callable "
            f"returning one, got a callable returning {type(component).__name__}."
        )
    if device is not None:
        component = component.to(device)
    # eval mode + no_grad: materialises lazy layers without touching
    # BatchNorm running statistics.
    with eval_mode(component), torch.no_grad():
        out = component(inputs)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if hasattr(out, "shape") else None
        raise ValueError(
            f"{prefix} must return a 2-D tensor of features (n_samples, "
            f"n_features), got {type(out).__name__} with shape {shape}."
        )
    return component, out
