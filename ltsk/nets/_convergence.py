"""The warning for a fit that ends no better than a constant predictor."""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.dataset import unpack_data
from torch import nn


def constant_predictor_loss(label_counts) -> float:
    r"""Cross-entropy of the best constant predictor on labels with these counts.

    The constant prediction :math:`q` minimising :math:`-\sum_j f_j \log q_j`
    is :math:`q = f`, the label frequencies, so the loss is their entropy
    :math:`H(f)`.
    """
    counts = np.asarray(label_counts, dtype=np.float64)
    f = counts[counts > 0] / counts.sum()
    return float(-(f * np.log(f)).sum())


class CollapseCheckMixin:
    """Warn after training when the net ends as a constant predictor.

    During the epochs, each training batch's predicted classes (the argmax of
    the logits the step already computed) and labels are counted, on the
    device, at the cost of one ``argmax`` and two ``bincount`` per batch.
    When training ends (``fit`` and ``partial_fit``), a ``ConvergenceWarning``
    names ``lr`` if the last epoch held at least two classes, the net had
    learned and lost it (an earlier epoch's training loss was at most half
    the last one's), and either

    - every training prediction of each of the last two epochs was one class
      (one epoch may be a net still at its initial weights), or
    - for a plain cross-entropy step (see :meth:`_constant_loss_floor`), the
      last epoch's training loss is not below :math:`H(f)`, the loss of the
      best constant predictor on the labels of that epoch's batches.

    A short or slow fit whose loss is still going down, or a fit on labels
    the inputs do not predict, is left alone.
    """

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        self._train_predicted_counts_ = None
        self._train_label_counts_ = None

    def _batch_labels(self, batch) -> torch.Tensor:
        """Encoded labels of a training batch (a step's batch as skorch passes it)."""
        return unpack_data(batch)[1]

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        y_pred = kwargs.get("y_pred")
        if not training or not isinstance(y_pred, torch.Tensor) or y_pred.ndim != 2:
            return
        n_classes = len(self.classes_)
        with torch.no_grad():
            predicted = torch.bincount(y_pred.argmax(1), minlength=n_classes)
            labels = torch.as_tensor(self._batch_labels(batch), device=y_pred.device)
            labels = torch.bincount(labels.long().reshape(-1), minlength=n_classes)
        if self._train_predicted_counts_ is None:
            self._train_predicted_counts_ = predicted
            self._train_label_counts_ = labels
        else:
            self._train_predicted_counts_ += predicted
            self._train_label_counts_ += labels

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        if self._train_predicted_counts_ is not None:
            n_predicted = int(torch.count_nonzero(self._train_predicted_counts_))
            self.history.record("train_predicted_classes", n_predicted)

    def _constant_loss_floor(self, label_counts) -> float | None:
        """Training loss of the best constant predictor, or None if unknown.

        Known for an unweighted cross-entropy (or ``nn.NLLLoss``, which the
        nets feed log-probabilities) with mean reduction and no label
        smoothing, on the unmixed labels of each batch: :math:`H(f)`. A
        training step that mixes labels (Remix) or losses (BBN) returns None.
        """
        criterion = getattr(self, "criterion_", None)
        if type(criterion) not in (nn.CrossEntropyLoss, nn.NLLLoss):
            return None
        if (
            criterion.weight is not None
            or criterion.reduction != "mean"
            or getattr(criterion, "label_smoothing", 0.0) != 0.0
        ):
            return None
        return constant_predictor_loss(label_counts)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Warn when training ended no better than a constant predictor.

        Parameters
        ----------
        net : BaseLongTailNet
            The net itself, as skorch passes it to its hooks.
        X : array-like or torch Dataset, default=None
            The training inputs.
        y : array-like, default=None
            The encoded training labels.
        **kwargs : dict
            Further arguments of skorch's hook, passed on to it.

        Warns
        -----
        ConvergenceWarning
            If the last epoch's training predictions are all one class, or its
            loss is no better than a constant predictor's (see the class).
        """
        super().on_train_end(net, X=X, y=y, **kwargs)
        predicted = getattr(self, "_train_predicted_counts_", None)
        if predicted is None:
            return
        predicted = predicted.cpu().numpy()
        labels = self._train_label_counts_.cpu().numpy()
        if np.count_nonzero(labels) < 2:
            return
        advice = (
            f"The learning rate lr={self.lr} is the usual cause: lower it, or "
            "clip gradients with skorch.callbacks.GradientNormClipping, and fit "
            "again."
        )
        epoch = len(self.history) - 1
        losses = [row["train_loss"] for row in self.history if "train_loss" in row]
        # The net had learned and lost it: an earlier epoch's loss was at most
        # half the last one's. Slow, short or hopeless fits are left alone.
        if len(losses) < 2 or min(losses[:-1]) > 0.5 * losses[-1]:
            return
        n_predicted = [
            row["train_predicted_classes"]
            for row in self.history
            if "train_predicted_classes" in row
        ]
        if len(n_predicted) >= 2 and n_predicted[-2:] == [1, 1]:
            label = self.classes_[int(np.flatnonzero(predicted)[0])].item()
            warnings.warn(
                f"{type(self).__name__} collapsed to a constant predictor: every "
                f"training prediction of its last two epochs ({epoch - 1} and "
                f"{epoch}) was one class, {label!r} in the last, although the "
                f"batches held {np.count_nonzero(labels)} classes. {advice}",
                ConvergenceWarning,
                stacklevel=2,
            )
            return
        floor = self._constant_loss_floor(labels)
        if floor is None:
            return
        if losses[-1] >= floor:
            warnings.warn(
                f"{type(self).__name__} ended no better than a constant "
                f"predictor: the training loss of its last epoch ({epoch}), "
                f"{losses[-1]:.4g}, is not below {floor:.4g}, the loss of "
                "predicting the label frequencies of that epoch's batches, after "
                f"an earlier epoch reached {min(losses[:-1]):.4g}. {advice}",
                ConvergenceWarning,
                stacklevel=2,
            )
