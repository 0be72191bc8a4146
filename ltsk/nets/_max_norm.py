"""MaxNorm: per-step projection of the classifier's rows onto a norm ball."""

from numbers import Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from skorch.callbacks import Callback
from torch import nn


def _classifier_weight(net) -> torch.Tensor:
    classifier = getattr(net.module_, "classifier", None)
    if not isinstance(classifier, nn.Linear):
        raise TypeError(
            "MaxNorm constrains the rows of the net's final nn.Linear classifier "
            f"(module_.classifier); got {type(classifier).__name__}. A cosine "
            "classifier (NormedLinear, used with LDAMLoss) only reads the "
            "direction of its rows, so a norm constraint has no effect on it."
        )
    return classifier.weight


class MaxNorm(Callback):
    r"""Keep each class's classifier weights within an L2 ball, after every step.

    After each optimizer step (``on_batch_end`` of every training batch), the
    row :math:`w_j` of the final linear classifier is projected onto the ball
    of radius :math:`r`: :math:`w_j \leftarrow w_j \min(1, r / \lVert w_j
    \rVert_2)`. With a tuned weight decay (the net's
    ``optimizer__weight_decay``) this is the weight balancing of Alshammari et
    al. [1]_; the bias is not constrained.

    Parameters
    ----------
    thresh : float >= 0, default=0.1
        With ``relative=True``, the position of the radius between the
        smallest and the largest row norm of the classifier at the start of
        training, :math:`r = m + \mathrm{thresh}\,(M - m)` (the official
        code's rule; its default 0.1). With ``relative=False``, the radius
        itself, in the units of the weights.
    relative : bool, default=True
        Whether ``thresh`` is relative to the row norms at the start of
        training (as in the official code) or an absolute radius.

    Attributes
    ----------
    radius_ : float
        The radius :math:`r` in use, set at the start of a fit.

    Notes
    -----
    Projected (stochastic) gradient descent on

    .. math:: \min_{W, b}\ \mathcal{L}(W, b) + \frac{\lambda}{2}\lVert
              \Theta\rVert^2 \quad\text{s.t.}\quad \lVert w_j\rVert_2 \le r,
              \ j = 1..C,

    Eq. (4)-(5) of [1]_, with :math:`\lambda` the optimizer's weight decay.
    The radius is fixed when a fit starts: with ``relative=True`` from the
    row norms at that time, :math:`m = \min_j \lVert w_j\rVert`, :math:`M =
    \max_j \lVert w_j\rVert` (the official ``MaxNorm_via_PGD.
    setPerLayerThresh``, which the authors call once before training); a
    ``partial_fit`` or warm-started fit that continues a history keeps the
    radius of the fit it continues.

    The relative radius is meant for a trained classifier, whose row norms
    differ by class. The paper's recipe and the official demos use MaxNorm in
    the second stage only, with the radius set from the row norms of the
    first-stage classifier; their first stage is cross-entropy with weight
    decay alone. On a freshly initialised classifier the row norms are nearly
    equal, so ``relative=True`` holds every row at about its initial norm for
    the whole fit: to constrain a network trained from scratch, give an
    absolute radius (``relative=False``).

    Differences from the official code: the projection runs after every
    optimizer step, as the paper prescribes (page 4) and the authors confirm
    (issue #5 of their repository); their demo ``train_model`` projects once
    per epoch, which is reported to score markedly worse. The official class
    also has an exponent ``tau`` (it compares :math:`\lVert w_j\rVert^\tau`
    with the radius and divides by :math:`\lVert w_j\rVert^{\tau^2}`); only
    its default ``tau=1``, the plain Euclidean projection, is provided.

    For the second stage of weight balancing on frozen features, see the
    ``max_norm`` option of :class:`~ltsk.heads.CRTHead`.

    References
    ----------
    .. [1] S. Alshammari, Y.-X. Wang, D. Ramanan and S. Kong, "Long-Tailed
       Recognition via Weight Balancing", CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.nets import MLP, LongTailNetClassifier, MaxNorm
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [60, 20, 5])
    >>> X = rng.normal(size=(85, 4)) + y[:, None]
    >>> net = LongTailNetClassifier(
    ...     MLP, max_epochs=3, random_state=0, optimizer__weight_decay=5e-3,
    ...     callbacks=[("maxnorm", MaxNorm(thresh=0.5, relative=False))],
    ... ).fit(X, y)
    >>> bool(np.all(np.linalg.norm(net.coef_, axis=1) <= 0.5 + 1e-6))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "thresh": [Interval(Real, 0, None, closed="left")],
        "relative": ["boolean"],
    }

    def __init__(self, thresh=0.1, relative=True):
        self.thresh = thresh
        self.relative = relative

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        weight = _classifier_weight(net)
        if len(net.history) > 0 and hasattr(self, "radius_"):
            return  # a continued fit keeps its radius
        if self.relative:
            with torch.no_grad():
                norms = torch.linalg.vector_norm(weight, dim=1)
            low, high = float(norms.min()), float(norms.max())
            self.radius_ = low + float(self.thresh) * (high - low)
        else:
            self.radius_ = float(self.thresh)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            weight = _classifier_weight(net)
            with torch.no_grad():
                norms = torch.linalg.vector_norm(weight, dim=1, keepdim=True)
                # r / 0 = inf: a zero row is left as it is.
                weight.mul_((self.radius_ / norms).clamp(max=1.0))
