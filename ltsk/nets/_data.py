"""Data plumbing for LongTailNetClassifier: batched datasets, epoch batch samplers,
label look-up through ``Subset`` chains, and image augmentation.

Per-sample ``__getitem__`` plus ``default_collate`` costs more than the forward
pass of a small tabular network, so in-memory arrays are served whole batches
at a time: the batch sampler yields index tensors (or slices) and
:class:`ArrayDataset` indexes its tensors once per batch.
"""

from collections.abc import Callable, Iterator
from numbers import Integral

import numpy as np
import torch
from torch.utils.data import Dataset, Subset


class ArrayDataset(Dataset):
    """In-memory inputs and encoded labels, fetched a whole batch at a time.

    ``__getitems__`` accepts an index tensor, a list or a slice and returns
    one ``(X_batch, y_batch)`` pair; use it with a pass-through ``collate_fn``.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.X = X
        self.y = y
        self.labels = None if y is None else y.numpy()

    def __len__(self) -> int:
        return len(self.X)

    def _targets(self, index) -> torch.Tensor:
        if self.y is not None:
            return self.y[index]
        n = len(range(len(self.X))[index]) if isinstance(index, slice) else len(index)
        return torch.zeros(n, dtype=torch.int64)

    def __getitem__(self, i: int):
        return self.X[i], (self.y[i] if self.y is not None else torch.tensor(0))

    def __getitems__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.int64)
        # A slice is a view of the caller's array: copy it, so that a module
        # writing to its input in place cannot corrupt the user's data.
        X = self.X[index].clone() if isinstance(index, slice) else self.X[index]
        return X, self._targets(index)


class EncodedDataset(Dataset):
    """A user's dataset yielding ``(x, label)``, relabelled with encoded labels."""

    def __init__(self, dataset: Dataset, labels: np.ndarray) -> None:
        self.dataset = dataset
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        item = self.dataset[i]
        return item[0], int(self.labels[i])


def pass_through(batch):
    """Collate function for batches already assembled by ``__getitems__``."""
    return batch


def resolve_subsets(dataset: Dataset) -> tuple[Dataset, np.ndarray | None]:
    """Unwrap nested ``Subset``\\ s: the root dataset and the indices into it."""
    indices = None
    while isinstance(dataset, Subset):
        local = np.asarray(dataset.indices, dtype=np.int64)
        indices = local if indices is None else local[indices]
        dataset = dataset.dataset
    return dataset, indices


def dataset_labels(dataset: Dataset) -> np.ndarray:
    """Encoded labels of the samples a (possibly ``Subset``-wrapped) dataset serves."""
    root, indices = resolve_subsets(dataset)
    labels = (
        getattr(root, "labels", None)
        if isinstance(root, ArrayDataset | EncodedDataset)
        else None
    )
    if labels is not None:
        return labels if indices is None else labels[indices]
    return read_labels(dataset)


def read_labels(dataset: Dataset) -> np.ndarray:
    """Labels from one pass over a dataset yielding ``(x, label)`` pairs."""
    labels = []
    for i in range(len(dataset)):
        label = dataset[i][1]
        labels.append(label.item() if isinstance(label, torch.Tensor) else label)
    return np.asarray(labels)


def pair_labels(dataset: Dataset) -> np.ndarray:
    """Labels of a dataset of ``(x, label)`` pairs: its ``targets`` attribute
    (torchvision's data sets) when set, else one pass over it."""
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return read_labels(dataset)
    return targets.numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)


class EpochBatchSampler(torch.utils.data.Sampler):
    """Yield one epoch of index batches: drawn by ``draw`` or in order.

    Parameters
    ----------
    n_samples : int
        Samples in the (sub)set being iterated.
    batch_size : int
    draw : callable or None
        Returns a fresh int64 tensor of positions in ``range(n_samples)`` for
        each epoch (a permutation or class-aware draws); ``None`` iterates in
        order.
    indices : ndarray or None
        Maps positions to indices of the root dataset (``Subset`` chains).
    as_list : bool
        Yield lists of ints (for datasets fetched per sample) instead of index
        tensors or slices.
    drop_last : bool
    merge_single : bool
        Without ``drop_last``, a last batch of a single sample joins the
        previous batch (BatchNorm cannot train on one sample).
    """

    def __init__(
        self,
        n_samples: int,
        batch_size: int,
        draw: Callable[[], torch.Tensor] | None = None,
        indices: np.ndarray | None = None,
        *,
        as_list: bool = False,
        drop_last: bool = False,
        merge_single: bool = False,
    ) -> None:
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.draw = draw
        self.indices = None if indices is None else torch.from_numpy(indices)
        self.as_list = as_list
        self.drop_last = drop_last
        self.merge_single = merge_single

    def _merges(self) -> bool:
        return (
            self.merge_single
            and not self.drop_last
            and self.n_samples > self.batch_size
            and self.n_samples % self.batch_size == 1
        )

    def __len__(self) -> int:
        if self.drop_last:
            return self.n_samples // self.batch_size
        return -(-self.n_samples // self.batch_size) - self._merges()

    def __iter__(self) -> Iterator:
        n_batches = len(self)
        if self.draw is None and self.indices is None and not self.as_list:
            for b in range(n_batches):
                last = b == n_batches - 1 and not self.drop_last
                stop = self.n_samples if last else (b + 1) * self.batch_size
                yield slice(b * self.batch_size, stop)
            return
        order = self.draw() if self.draw is not None else torch.arange(self.n_samples)
        if self.indices is not None:
            order = self.indices[order]
        batches = list(order.split(self.batch_size))
        if self._merges():
            batches[-2:] = [torch.cat(batches[-2:])]
        for batch in batches[:n_batches]:
            yield batch.tolist() if self.as_list else batch


def random_crop_flip(
    x: torch.Tensor,
    padding: int = 4,
    generator: torch.Generator | None = None,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip, per image.

    The standard CIFAR augmentation (He et al., 2016), vectorised over the
    batch. Works on (N, H, W) and (N, C, H, W) tensors; returns a new tensor of
    the same shape. ``flip=False`` only crops.
    """
    if x.dim() not in (3, 4):
        raise ValueError(
            "augment needs image batches of shape (n_samples, channels, "
            f"height, width) or (n_samples, height, width), got {tuple(x.shape)}."
        )
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    shifts = torch.randint(
        0, 2 * padding + 1, (2, n), generator=generator, device="cpu"
    ).to(x.device)
    rows = (shifts[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (shifts[1, :, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = padded[batch, channel, rows, cols]
    if flip:
        flips = torch.rand(n, generator=generator, device="cpu").to(x.device) < 0.5
        out = torch.where(flips[:, None, None, None], out.flip(-1), out)
    return out.squeeze(1) if squeeze else out


class CropFlip:
    r"""Random crop with zero padding and random horizontal flip of image batches.

    The ``augment`` of :class:`LongTailNetClassifier` and
    :class:`BBNClassifier`: each training batch of images (N, C, H, W) or
    (N, H, W) is zero-padded by ``padding`` pixels on every side, cropped back
    to (H, W) at a uniformly drawn offset, and mirrored left-right with
    probability 1/2 when ``flip=True``. ``augment=True`` means
    ``CropFlip(padding=4, flip=True)``, the standard CIFAR augmentation
    (He et al., 2016).

    Parameters
    ----------
    padding : int, default=4
        Zero padding on each side, i.e. the largest shift in pixels. The nets
        refuse a ``padding`` of a quarter of the image's shorter side or more
        (e.g. 2 or more for the 8x8 digits): such crops leave whole strokes
        outside the image and destroy small images rather than augment them.
        ``padding=0`` only flips.
    flip : bool, default=True
        Mirror each image left-right with probability 1/2. Use ``False`` for
        images whose meaning changes when mirrored (digits, letters).

    See Also
    --------
    LongTailNetClassifier : ``augment`` also accepts any callable
        ``augment(X_batch) -> X_batch`` on the torch batch.

    Notes
    -----
    With shifts :math:`d_y, d_x \sim \mathcal{U}\{0, \dots, 2p\}`, the output is
    :math:`x'_{c,i,j} = \tilde x_{c,\,i + d_y,\, j + d_x}` where :math:`\tilde x`
    is :math:`x` zero-padded by :math:`p` pixels, then flipped as
    :math:`x'_{c,i,j} \leftarrow x'_{c,i,W-1-j}` on a fair coin.

    References
    ----------
    .. [1] He, K., Zhang, X., Ren, S. and Sun, J. "Deep residual learning for
       image recognition", CVPR 2016.

    Examples
    --------
    >>> import torch
    >>> from ltsk.nets import CropFlip
    >>> x = torch.ones(2, 1, 8, 8)
    >>> CropFlip(padding=1, flip=False)(x).shape
    torch.Size([2, 1, 8, 8])
    """

    def __init__(self, padding: int = 4, flip: bool = True) -> None:
        if isinstance(padding, bool) or not isinstance(padding, Integral):
            raise TypeError(f"CropFlip's padding must be an int >= 0, got {padding!r}.")
        if padding < 0:
            raise ValueError(f"CropFlip's padding must be >= 0, got {padding}.")
        if not isinstance(flip, bool | np.bool_):
            raise TypeError(f"CropFlip's flip must be a bool, got {flip!r}.")
        self.padding = int(padding)
        self.flip = bool(flip)

    def __repr__(self) -> str:
        return f"CropFlip(padding={self.padding}, flip={self.flip})"

    def __eq__(self, other) -> bool:
        return isinstance(other, CropFlip) and (self.padding, self.flip) == (
            other.padding,
            other.flip,
        )

    def __hash__(self) -> int:
        return hash((self.padding, self.flip))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Crop and flip a batch (N, C, H, W) or (N, H, W); returns a new tensor."""
        return random_crop_flip(x, self.padding, flip=self.flip)

    def _check_shape(self, shape, name: str = "augment") -> None:
        """Raise a ValueError naming ``name`` unless ``shape`` is an image batch
        whose shorter side exceeds four times the padding."""
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{name}={self!r} needs images of shape (n_samples, channels, "
                "height, width) or (n_samples, height, width), got X with "
                f"shape {tuple(shape)}."
            )
        side = min(shape[-2:])
        if 4 * self.padding >= side:
            raise ValueError(
                f"{name}={self!r} would shift {shape[-2]}x{shape[-1]}-pixel "
                "images by up "
                f"to {self.padding} pixels: padding must be smaller than a "
                f"quarter of the image side (< {side / 4:g} here). Pass e.g. "
                f"{name}=CropFlip(padding={max((side - 1) // 4, 0)}) or "
                f"{name}=False."
            )
