"""Parameter, attribute and return text shared by several losses, written once.

A loss's docstring holds a line ``%(key)s`` where the shared entry goes;
:func:`fill_loss_doc` replaces it (see :mod:`ltsk.utils._docstrings`), with the
default read from the signature. The keys name the wording, not only the
parameter: a function's ``class_counts`` argument, a module's and the module's
buffer are worded differently.
"""

from ltsk.utils._docstrings import docstring_filler

SHARED_LOSS_DOC = {
    "logits": """\
logits : Tensor of shape (n_samples, n_classes)
    Unnormalised class scores.""",
    "targets": """\
targets : Tensor of shape (n_samples,), int
    True class indices in ``[0, n_classes)``.""",
    # the argument of a loss function
    "class_counts": """\
class_counts : array-like or Tensor of shape (n_classes,)
    Training samples per class, from the whole training set.""",
    # the argument of a loss module, which the net fills in
    "class_counts_module": """\
class_counts : array-like or Tensor of shape (n_classes,)
    Training samples per class (passed by the net as
    ``criterion__class_counts``).""",
    # the argument of a function that turns counts into per-class factors
    "class_counts_array": """\
class_counts : array-like of shape (n_classes,)
    Training samples per class (non-negative, at least one positive). A
    ``torch.Tensor`` on any device is accepted too.""",
    # the module's attribute
    "class_counts_buffer": """\
class_counts : Tensor of shape (n_classes,)
    Buffer with the counts.""",
    "reduction_by_n": """\
reduction : {"mean", "sum", "none"}, default={default}
    "mean" divides by the number of samples.""",
    "reduction": """\
reduction : {"mean", "sum", "none"}, default={default}
    How the per-sample losses are reduced.""",
    "loss": """\
loss : Tensor
    A scalar, or of shape (n_samples,) for ``reduction="none"``.""",
}

fill_loss_doc = docstring_filler(SHARED_LOSS_DOC)
