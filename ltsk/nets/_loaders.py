"""How the nets feed data to skorch: batched in-memory datasets, the train /
validation split, and loaders whose epochs follow a draw of sample positions."""

import warnings
from functools import partial

import numpy as np
import torch
from skorch.dataset import Dataset as SkorchDataset
from skorch.utils import is_dataset
from torch import nn
from torch.utils.data import DataLoader

from ltsk.nets._checks import loader_generator
from ltsk.nets._data import (
    ArrayDataset,
    EpochBatchSampler,
    dataset_labels,
    pass_through,
    resolve_subsets,
)


class LoaderMixin:
    """skorch's dataset, split and iterator methods for an ltsk net.

    A training scheme with its own batches overrides ``get_iterator`` for
    ``training=True`` and builds its loaders with :meth:`_batch_loader`.
    """

    def get_dataset(self, X, y=None):
        """Serve in-memory arrays a batch at a time; anything else as skorch does."""
        if not is_dataset(X) and self.dataset is SkorchDataset:
            if isinstance(X, np.ndarray | torch.Tensor):
                with warnings.catch_warnings():
                    # Read-only inputs are never written to (batches are copies).
                    warnings.filterwarnings("ignore", message=".*not writable.*")
                    X_t = torch.as_tensor(X)
                y_t = None if y is None else torch.as_tensor(np.asarray(y))
                return ArrayDataset(X_t, y_t)
        return super().get_dataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split the data into training and validation datasets with skorch.

        Warns when a class of the data is only in the validation part, where
        the net would never train on it.

        Parameters
        ----------
        X : array-like or torch Dataset
            Training inputs, as prepared by :meth:`fit` (labels encoded).
        y : array-like of shape (n_samples,), default=None
            Encoded labels, or None when ``X`` is a dataset carrying them.
        **fit_params : dict
            Passed on to skorch's ``train_split``.

        Returns
        -------
        dataset_train : torch Dataset
            The training part.
        dataset_valid : torch Dataset or None
            The validation part; None when ``train_split`` is None.
        """
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if dataset_valid is not None:
            missing = np.setdiff1d(
                dataset_labels(dataset_valid), dataset_labels(dataset_train)
            )
            if missing.size:
                warnings.warn(
                    f"train_split put every sample of the classes "
                    f"{self.classes_[missing].tolist()} in the validation part: "
                    "the net never trains on them. Use a stratified split, e.g. "
                    "skorch.dataset.ValidSplit(5, stratified=True), when every "
                    "class has enough samples, or train_split=None.",
                    UserWarning,
                    stacklevel=2,
                )
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        """DataLoader over ``dataset``: shuffled in training, in order otherwise.

        In-memory arrays are fetched one batch at a time. A user-supplied
        ``iterator_*__sampler`` or ``__batch_sampler`` or a custom iterator
        class is used as is.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        if self._custom_iterator(training, kwargs):
            return super().get_iterator(dataset, training=training)
        shuffle = kwargs.pop("shuffle", training)
        generator = loader_generator(training)
        draw = None
        if training and shuffle:
            draw = partial(torch.randperm, len(dataset), generator=generator)
        return self._batch_loader(dataset, draw, kwargs, generator, training=training)

    def _custom_iterator(self, training: bool, kwargs: dict) -> bool:
        """Whether the user replaced the iterator class or its sampler."""
        iterator = self.iterator_train if training else self.iterator_valid
        return iterator is not DataLoader or bool(
            {"sampler", "batch_sampler"} & set(kwargs)
        )

    def _batch_loader(
        self,
        dataset,
        draw,
        kwargs: dict,
        generator: torch.Generator,
        *,
        training: bool = True,
    ) -> DataLoader:
        """DataLoader over ``dataset`` whose epochs follow ``draw``.

        ``draw()`` returns the positions in ``dataset`` of one epoch (``None``:
        in order); ``kwargs`` are the iterator's parameters without
        ``shuffle`` and are not modified. Subsets are resolved to their root
        data set, and an in-memory root is fetched one batch at a time. In
        ``training``, when the module has BatchNorm layers, a last batch of
        a single sample joins the previous batch: BatchNorm cannot normalise
        one sample in train mode.
        """
        kwargs = dict(kwargs)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        drop_last = kwargs.pop("drop_last", False)
        batch_norm = training and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm)
            for m in self.module_.modules()
        )
        if batch_norm and batch_size == 1:
            raise ValueError(
                "batch_size=1 cannot train a module with BatchNorm layers, which "
                "need more than one sample per training batch; use a larger "
                "batch_size."
            )
        root, indices = resolve_subsets(dataset)
        batched = isinstance(root, ArrayDataset)
        batch_sampler = EpochBatchSampler(
            len(dataset),
            batch_size,
            draw,
            indices,
            as_list=not batched,
            drop_last=drop_last,
            merge_single=batch_norm,
        )
        if batched:
            kwargs["collate_fn"] = pass_through
        kwargs.setdefault("generator", generator)
        return DataLoader(root, batch_sampler=batch_sampler, **kwargs)
