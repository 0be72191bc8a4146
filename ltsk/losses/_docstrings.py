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
    # the label-aware smoothing loss's function and module
    "smooth_head": """\
smooth_head : float in [0, 1], default={default}
    Smoothing factor of the largest class.""",
    "smooth_tail": """\
smooth_tail : float in [0, 1], default={default}
    Smoothing factor of the smallest class.""",
    "smoothing_shape": """\
shape : {"concave", "linear", "convex"}, default={default}
    Curve of the factor against the class size; "concave" is the paper's.""",
    "loss": """\
loss : Tensor
    A scalar, or of shape (n_samples,) for ``reduction="none"``.""",
    # references cited by a loss function and its module
    "ref_focal": """\
.. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
   for Dense Object Detection", ICCV 2017.""",
    "ref_ldam": """\
.. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma, "Learning
   Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
   NeurIPS 2019.""",
    "ref_class_balanced": """\
.. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
   Loss Based on Effective Number of Samples", CVPR 2019.""",
    "ref_logit_adjustment": """\
.. [1] A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit and
   S. Kumar, "Long-tail learning via logit adjustment", ICLR 2021.""",
    "ref_balanced_softmax": """\
.. [1] J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi and H. Li, "Balanced
   Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.""",
}

fill_loss_doc = docstring_filler(SHARED_LOSS_DOC)
