"""The torch modules the nets build: joint, bilateral-branch, cosine classifier.

:class:`JointModule` (backbone + final layer) is what
:class:`~ltsk.nets.LongTailNetClassifier` trains, :class:`BilateralBranchModule`
what :class:`~ltsk.nets.BBNClassifier` trains; either ends with ``nn.Linear`` or,
for a criterion with ``normalized_classifier = True`` (LDAM), with the cosine
classifier :class:`NormedLinear` (also exported as ``ltsk.losses.NormedLinear``).
This module imports torch only.
"""

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class JointModule(nn.Module):
    """A backbone followed by the final classifier; ``features`` exposes the former.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch of inputs to (n_samples, n_features) features.
    classifier : nn.Module
        Maps features to (n_samples, n_classes) logits.
    """

    def __init__(self, backbone: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x))


class BilateralBranchModule(nn.Module):
    """Shared backbone, conventional and re-balancing branches, one classifier.

    The classifier, with weight ``[W_c, W_r]``, reads
    ``2 * [alpha * f_c, (1 - alpha) * f_r]`` in training and ``[f_c, f_r]``
    at inference, as in the official code.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch of inputs to (n_samples, n_features) features.
    conventional, rebalancing : nn.Module
        The two branches, each mapping backbone features to
        (n_samples, n_branch_features).
    classifier : nn.Module
        Maps (n_samples, 2 * n_branch_features) to logits.
    """

    def __init__(
        self,
        backbone: nn.Module,
        conventional: nn.Module,
        rebalancing: nn.Module,
        classifier: nn.Module,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.conventional = conventional
        self.rebalancing = rebalancing
        self.classifier = classifier

    def mixed_logits(
        self, x_c: torch.Tensor, x_r: torch.Tensor, alpha: float, **kwargs
    ) -> torch.Tensor:
        """Training logits: ``x_c`` through the conventional branch, ``x_r``
        through the re-balancing one, mixed with weight ``alpha``."""
        f_c = self.conventional(self.backbone(x_c, **kwargs))
        f_r = self.rebalancing(self.backbone(x_r, **kwargs))
        return self.classifier(2 * torch.cat([alpha * f_c, (1 - alpha) * f_r], 1))

    def features(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Inference features ``[f_c(x), f_r(x)]``: both branches, unweighted."""
        h = self.backbone(x, **kwargs)
        return torch.cat([self.conventional(h), self.rebalancing(h)], 1)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.classifier(self.features(x, **kwargs))


class NormedLinear(nn.Module):
    r"""Bias-free cosine classifier: logits are cosine similarities.

    .. math:: z_j = \frac{x \cdot w_j}{\lVert x \rVert \, \lVert w_j \rVert}
              \in [-1, 1]

    Parameters
    ----------
    in_features : int
        Size of each input sample.
    out_features : int
        Number of classes.
    device, dtype : optional
        Passed to the weight tensor, as for ``nn.Linear``.

    Attributes
    ----------
    weight : Parameter of shape (out_features, in_features)
        One row per class, like ``nn.Linear.weight``; only its direction
        matters.

    Notes
    -----
    Cao et al. [1]_ train LDAM with this normalised last layer, so that the
    margins and the scale act on logits of a fixed range. A zero input row or
    weight row gives zero logits (``F.normalize`` clamps the norm).

    References
    ----------
    .. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma, "Learning
       Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
       NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from ltsk.losses import NormedLinear
    >>> layer = NormedLinear(2, 2)
    >>> with torch.no_grad():
    ...     layer.weight.copy_(torch.tensor([[3.0, 0.0], [1.0, 1.0]]))
    Parameter...
    >>> layer(torch.tensor([[5.0, 0.0]]))
    tensor([[1.0000, 0.7071]], grad_fn=...)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        sizes = {"in_features": in_features, "out_features": out_features}
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be a positive integer, got {value!r}.")
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = nn.Parameter(
            torch.empty(self.out_features, self.in_features, device=device, dtype=dtype)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's initialisation; the scale is irrelevant after normalising.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(F.normalize(x, dim=-1), F.normalize(self.weight, dim=1))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
