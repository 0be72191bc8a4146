"""The heads' ``device`` parameter, torch-free (see :mod:`ltsk.heads._torch`)."""

from sklearn.utils._param_validation import Options


class _TorchDevice(Options):
    """A ``torch.device`` instance, recognised without importing torch.

    An ``Options`` subclass only because scikit-learn's ``make_constraint``
    passes those through; the membership test is its own.
    """

    def __init__(self):
        super().__init__(object, set())

    def is_satisfied_by(self, val):
        return type(val).__name__ == "device" and type(val).__module__ == "torch"

    def __str__(self):
        return "an instance of 'torch.device'"


DEVICE_CONSTRAINT = {"device": [None, str, _TorchDevice()]}
"""The ``device`` entry of every head's ``_parameter_constraints``."""


def is_tensor(value):
    """Whether ``value`` is a torch tensor (checked without importing torch)."""
    return type(value).__module__.startswith("torch") and hasattr(value, "device")
