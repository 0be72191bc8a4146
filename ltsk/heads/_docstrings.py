"""Parameter and attribute text shared by several heads, written once.

A head's docstring holds a line ``%(key)s`` where the shared entry goes;
:func:`fill_params` replaces it (see :mod:`ltsk.utils._docstrings`), with the
default read from the head's ``__init__`` signature.
"""

from ltsk.utils._docstrings import docstring_filler

SHARED_PARAMS = {
    "max_iter": """\
max_iter : int >= 1, default={default}
    Maximum number of L-BFGS iterations.""",
    "tol": """\
tol : float > 0, default={default}
    L-BFGS stops when the largest gradient component of the objective
    divided by its value at the start is below ``tol / n_classes`` (each
    class's parameters carry a ``1/n_classes`` share of a class-balanced
    loss, so the bound keeps its meaning as classes grow).""",
    "smooth_head": """\
smooth_head : float in [0, 1], default={default}
    Label-aware smoothing (MiSLAS, Zhong et al., 2021) of the largest
    class: its target is :math:`(1 - \\epsilon) e_y + \\epsilon / C`.""",
    "smooth_tail": """\
smooth_tail : float in [0, 1], default={default}
    Label-aware smoothing of the smallest class. With both at 0 (the
    default) the loss is unsmoothed.""",
    "smooth_shape": """\
smooth_shape : {"concave", "linear", "convex"}, default={default}
    Curve of the smoothing between them, see
    :func:`ltsk.losses.label_aware_smoothing`.""",
    "solver": """\
solver : {"lbfgs", "sgd"}, default={default}
    ``"lbfgs"``: full-batch L-BFGS to convergence (``max_iter``, ``tol``).
    ``"sgd"``: ``max_epochs`` epochs of minibatch SGD on the same objective,
    rows drawn with class-aware sampling, momentum 0.9, a cosine-decayed
    step and the penalty as weight decay: the stage 2 of Kang et al. (2020),
    cheaper than L-BFGS when classes and rows are many (see Notes and
    "Choosing a solver" in the user guide). ``max_iter`` and ``tol`` are
    unused by ``"sgd"``; ``max_epochs``, ``batch_size``, ``learning_rate``
    and ``random_state`` by ``"lbfgs"``. ``"sgd"`` runs in numpy on an
    in-memory, memory-mapped or sparse ``F``; with ``device`` set or a dask
    ``F`` it raises ``ValueError``.""",
    "max_epochs": """\
max_epochs : int >= 1, default={default}
    Epochs of ``solver="sgd"``, each drawing ``n_samples`` rows (with
    replacement); the fit always runs them all.""",
    "batch_size": """\
batch_size : int >= 1, default={default}
    Rows per step of ``solver="sgd"`` (all rows when fewer).""",
    "learning_rate": """\
learning_rate : float > 0, default={default}
    Initial step of ``solver="sgd"``, decayed to zero by a cosine over the
    fit. It is relative: the solver works in standardised variables and
    divides the step by an estimate of the curvature of the objective, so
    the default does not depend on the units of ``F``.""",
    "random_state": """\
random_state : int, RandomState instance or None, default={default}
    Seeds the row sampling of ``solver="sgd"``; pass an int for
    reproducible fits. Unused by ``"lbfgs"``, which is deterministic.""",
    "device": """\
device : str, torch.device or None, default={default}
    Where ``fit`` and the scoring run. None uses numpy (torch is not
    imported); a torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``) evaluates
    the solver's objective and the scores in torch, in float64, on that
    device, and accepts ``F`` as a tensor already there (no copy through
    host memory). The results equal the numpy path's within float tolerance;
    the fitted attributes are numpy arrays either way. See "Heads on a GPU"
    in the user guide.""",
    # Notes
    "frozen_host": """\
On the host (``device=None``) the joint logits are computed block by block
in the dtype of ``F`` (float32 features: float32 matrix products) and the
scores, the loss and its gradient in float64: a float32 loss would end
L-BFGS at float32's resolution of the objective, short of the optimum. The
fit holds two (n_classes, rows per block) buffers, together at most
scikit-learn's ``working_memory`` capped at 16 MiB, and keeps the joint
logits of all rows only when they take at most half the bytes of ``F``
(fewer classes than half the features), so its memory never grows with
n_samples x n_classes beyond that; ``F`` may be a memmap (read, not copied)
or CSR (never densified whole).""",
    # fitted attributes
    "classes_": """\
classes_ : ndarray of shape (n_classes,)
    Class labels.""",
    "class_counts_": """\
class_counts_ : ndarray of shape (n_classes,)
    Training samples per class.""",
    "n_iter_": """\
n_iter_ : int
    Number of L-BFGS iterations run.""",
    "smoothing_": """\
smoothing_ : ndarray of shape (n_classes,)
    The label-smoothing factor :math:`\\epsilon_j` of each class (zeros
    without smoothing).""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen during fit.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Feature names, when F has string column names.""",
}

fill_params = docstring_filler(SHARED_PARAMS)
