"""BBNClassifier: the bilateral-branch network with cumulative learning."""

from collections.abc import Iterator
from functools import partial
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ltsk.nets._base import BaseLongTailNet
from ltsk.nets._checks import loader_generator
from ltsk.nets._data import dataset_labels
from ltsk.nets._modules import BilateralBranchModule
from ltsk.sampling._torch import ClassAwareSampler


def bbn_alpha(epoch: int, n_epochs: int) -> float:
    r"""Weight of the conventional branch in BBN's cumulative learning.

    Parameters
    ----------
    epoch : int
        0-based index of the training epoch, ``epoch >= 0``.
    n_epochs : int
        Length :math:`T` of training (the number of epochs),
        ``n_epochs >= 1``.

    Returns
    -------
    alpha : float
        :math:`\alpha = \max(0, 1 - (t / D)^2)` with :math:`D = T`, except
        :math:`D = 100` for :math:`T = 90` and :math:`D = 200` for
        :math:`T = 180` (see Notes). Epochs past the end of training (e.g.
        when ``partial_fit`` continues) follow the same parabola down to 0.

    Notes
    -----
    The parabolic decay of Zhou et al. (2020), Eq. (3): training starts on
    the conventional (uniform sampler) branch alone, :math:`\alpha = 1`, and
    moves its attention to the re-balancing (reversed sampler) branch. The
    official code (``lib/core/combiner.py``) writes
    :math:`1 - ((e - 1) / D)^2` for the 1-based epoch :math:`e`, which is
    :math:`t = e - 1` here, and divides by :math:`D = 100\,(\lfloor T / 100
    \rfloor + 1)` instead of :math:`T` when :math:`T` is 90 or 180, the
    schedules of its iNaturalist runs; the paper's iNaturalist figures come
    from that schedule, so it is kept here. With those two lengths :math:`\alpha` ends
    near 0.21 (:math:`T = 90`) or 0.19 (:math:`T = 180`) instead of near 0.

    References
    ----------
    .. [1] B. Zhou, Q. Cui, X.-S. Wei and Z.-M. Chen, "BBN: Bilateral-Branch
       Network with Cumulative Learning for Long-Tailed Visual Recognition",
       CVPR 2020.

    Examples
    --------
    >>> from ltsk.nets import bbn_alpha
    >>> [bbn_alpha(t, 4) for t in range(4)]
    [1.0, 0.9375, 0.75, 0.4375]
    >>> round(bbn_alpha(89, 90), 4)  # divided by 100, not 90
    0.2079
    """
    for name, value, low in (("epoch", epoch, 0), ("n_epochs", n_epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int, got {value!r}.")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}.")
    divisor = 100 * (n_epochs // 100 + 1) if n_epochs in (90, 180) else n_epochs
    return max(0.0, 1.0 - (epoch / divisor) ** 2)


def _reversed_class_probabilities(class_counts) -> np.ndarray:
    """Class probabilities of BBN's reversed sampler, :math:`p_j ∝ 1/n_j`."""
    inverse = 1.0 / np.asarray(class_counts, dtype=np.float64)
    return inverse / inverse.sum()


def _default_branch(n_features: int) -> nn.Module:
    """BBN's default branch: ``Linear(d, d)`` and ``ReLU`` on d backbone features."""
    return nn.Sequential(nn.Linear(n_features, n_features), nn.ReLU())


class _PairedBatches:
    """One step = one uniform and one reversed batch: ``((X_c, X_r), (y_c, y_r))``.

    Both loaders serve ``len(dataset)`` samples per epoch in batches of the
    same size, so they have the same number of batches.
    """

    def __init__(
        self,
        uniform: DataLoader,
        reversed_: DataLoader,
        class_probabilities: np.ndarray,
    ) -> None:
        self.uniform = uniform
        self.reversed = reversed_
        self.class_probabilities = class_probabilities

    def __len__(self) -> int:
        return len(self.uniform)

    def __iter__(self) -> Iterator:
        for (x_c, y_c), (x_r, y_r) in zip(self.uniform, self.reversed, strict=True):
            yield (x_c, x_r), (y_c, y_r)


class BBNClassifier(BaseLongTailNet):
    r"""Bilateral-Branch Network (BBN) with cumulative learning.

    A shared backbone (``module``) feeds two branches: the *conventional*
    branch learns from instance-balanced batches (a plain shuffle), the
    *re-balancing* branch from batches of a *reversed* sampler that draws
    class :math:`j` with probability :math:`\propto 1/n_j`. One linear
    classifier reads the concatenated branch features, weighted by
    :math:`2\alpha` and :math:`2(1 - \alpha)`; :math:`\alpha` decays from 1
    towards 0 over training (cumulative learning), so the net first learns a
    universal representation and then focuses on the tail classes. At
    inference both branches weigh 1.

    Same estimator surface as :class:`LongTailNetClassifier`: any labels,
    ``predict_proba`` (softmax), class counts for ``ltsk.losses`` criteria,
    and :meth:`transform` / :attr:`coef_` / :attr:`intercept_` for the
    combined features and classifier, so a fitted BBN is also a feature
    extractor for :class:`ltsk.DecoupledClassifier`.

    Parameters
    ----------
    module : nn.Module class or instance
        The shared backbone, mapping a batch of X to 2-D features, e.g.
        :class:`~ltsk.nets.MLP`; ``module__*`` parameters are passed to it.
    branch : nn.Module class or instance, callable or None, default=None
        Architecture of each branch, applied to the backbone features.
        ``None`` is ``Linear(d, d)`` followed by ``ReLU`` with ``d`` the
        backbone's feature size. A class or callable is called once per
        branch with the ``branch__*`` parameters (e.g. ``branch=MLP,
        branch__hidden_units=(32,)``), so the branches start from
        independent initialisations; an instance is deep-copied for each
        branch (both start from its weights; lazy layers are materialised
        separately). Must map (n, d) features to
        (n, d_b).
    criterion : nn.Module class or instance, default=nn.CrossEntropyLoss
        Loss on ``(logits, encoded targets)``; a criterion class with a
        ``class_counts`` parameter gets the training class counts, one with
        ``normalized_classifier = True`` a cosine classifier.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer of all parameters (backbone, branches, classifier);
        ``optimizer__*`` parameters are passed to it.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=20
        Also the length :math:`T` of the cumulative-learning schedule.
        ``max_epochs=0`` initialises the net without training (for
        ``load_params``).
    batch_size : int, default=128
        Size of each of the two batches of a training step.
    train_split : callable or None, default=None
        As for :class:`LongTailNetClassifier`; both samplers follow the
        training part, and ``valid_loss`` / ``valid_acc`` score the inference
        logits.
    classes : array-like or None, default=None
        Fixed label set; ``None`` takes the labels in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, both samplers, dropout and augmentation.
    augment : bool, CropFlip or callable, default=False
        Applied to both training batches of each step, as for
        :class:`LongTailNetClassifier` (``True`` is ``CropFlip(padding=4)``).
    progress_bar : bool, default=False
        Add skorch's ``ProgressBar`` callback (needs ``tqdm``).
    verbose : int, default=0
        0 is silent. Otherwise skorch's per-epoch table goes to
        ``sys.stdout``: coloured, with a bar over each epoch's batches, on a
        terminal; plain lines without ANSI colour codes in a file or a pipe.
    device : str or torch.device, default="cpu"
        Device of the module and of each batch, e.g. ``"cuda"``.
    **kwargs
        Further skorch parameters (``callbacks``, ``iterator_train__*``, ...).
        Parameters of :class:`LongTailNetClassifier` not listed here, such
        as the sampling power ``q``, do not apply (BBN's two samplers and its
        training step are fixed by the method) and raise a ``TypeError``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels, in the order of the :meth:`predict_proba` columns.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class in the data given to ``fit``.
    n_features_in_ : int
        ``X.shape[1]`` for array input (absent for torch datasets).
    module_ : BilateralBranchModule
        ``backbone``, ``conventional``, ``rebalancing`` and ``classifier``.
    history_ : skorch History
        Besides skorch's entries, ``alpha`` per epoch:
        ``net.history[:, "alpha"]``.
    coef_ : ndarray of shape (n_classes, 2 * n_branch_features)
        The classifier ``[W_c, W_r]``.
    intercept_ : ndarray of shape (n_classes,)

    See Also
    --------
    LongTailNetClassifier : joint training with one sampler of power ``q``.
    bbn_alpha : the cumulative-learning schedule.

    Notes
    -----
    *Samplers.* Each training step takes a batch :math:`(x_c, y_c)` from a
    uniform sampler (every sample once per epoch, shuffled) and a batch
    :math:`(x_r, y_r)` from the reversed sampler, which draws a class with

    .. math:: p_j = \frac{1/n_j}{\sum_{i=1}^{C} 1/n_i}

    then a sample uniformly within it, with replacement, ``len(train set)``
    draws per epoch; :math:`n_j` are the counts of the training part. The
    official code weighs class :math:`j` by :math:`\max_i n_i / n_j` and
    draws in proportion, the same :math:`p_j`.

    *Cumulative learning.* With :math:`f_c, f_r` the branch features and
    :math:`t` the 0-based epoch of :math:`T` = ``max_epochs``,

    .. math::

        \alpha = 1 - (t / T)^2, \qquad
        z = 2\alpha W_c f_c(x_c) + 2(1 - \alpha) W_r f_r(x_r) + b, \\
        L = \alpha\, \ell(z, y_c) + (1 - \alpha)\, \ell(z, y_r)

    (Zhou et al., 2020, Eqs. 1-3; :func:`bbn_alpha`, which also keeps the
    official code's longer divisor for :math:`T` = 90 and 180). Epochs past
    :math:`T` (``partial_fit``, ``warm_start``) continue on the same
    parabola, down to :math:`\alpha = 0`.

    *Inference.* :math:`z = W_c f_c(x) + W_r f_r(x) + b`: :meth:`transform`
    returns :math:`[f_c(x), f_r(x)]` (eval mode), so
    ``transform(X) @ coef_.T + intercept_`` are the logits.

    The factor 2 in training and the unweighted inference are the official
    code's (``bbn_mix`` in ``lib/core/combiner.py``); the paper writes the
    mixture without it. Feeding :math:`[\alpha f_c, (1 - \alpha) f_r]` in
    training and :math:`[f_c, f_r] / 2` at inference would compute the same
    logits with :math:`W` halved, but not train the same way: under SGD with
    weight decay the classifier would learn as with a quarter of the
    learning rate and four times the weight decay, from half the initial
    scale (on the benchmark's digits-LT, 30 epochs, 44% balanced accuracy
    instead of 76%, mean of three seeds).

    *Branches.* In the paper each branch is a copy of the backbone's last
    residual block on top of the shared earlier layers. With an arbitrary
    backbone, the branches here are small modules on its output features
    (``branch``); to follow the paper with a ResNet, pass the backbone
    without its last block as ``module`` and that block (plus pooling and
    flattening) as ``branch``. The classifier is linear with a bias, as in
    the official configurations.

    Each training step runs the backbone on the two batches one after the
    other, as the official code does: BatchNorm normalises each batch with
    its own statistics and updates its running statistics with both. The
    official loader drops the last incomplete batch;
    ``iterator_train__drop_last=True`` does the same here (both samplers).
    Other skorch callbacks receive the paired batch
    ``((X_c, X_r), (y_c, y_r))`` during training.

    References
    ----------
    .. [1] B. Zhou, Q. Cui, X.-S. Wei and Z.-M. Chen, "BBN: Bilateral-Branch
       Network with Cumulative Learning for Long-Tailed Visual Recognition",
       CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.nets import MLP, BBNClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["cat", "dog", "emu"], [60, 20, 5])
    >>> X = rng.normal(size=(85, 4)) + (y == "dog")[:, None] * 3.0
    >>> net = BBNClassifier(MLP, module__hidden_units=(16,), max_epochs=4,
    ...                     batch_size=32, random_state=0).fit(X, y)
    >>> net.history[:, "alpha"]
    [1.0, 0.9375, 0.75, 0.4375]
    >>> net.predict(X[:3])
    array([...], dtype='<U3')
    >>> net.transform(X).shape, net.coef_.shape
    ((85, 32), (3, 32))
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseLongTailNet._parameter_constraints,
        "branch": [None, callable],
    }
    prefixes_: ClassVar[list[str]] = [*BaseLongTailNet.prefixes_, "branch"]

    def __init__(
        self,
        module,
        *,
        branch=None,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        classes=None,
        random_state=None,
        augment=False,
        progress_bar=False,
        verbose=0,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            classes=classes,
            random_state=random_state,
            augment=augment,
            progress_bar=progress_bar,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.branch = branch

    # ------------------------------------------------------------------ #
    # initialisation
    # ------------------------------------------------------------------ #
    def initialize_module(self):
        """Build the backbone, both branches on its features, the classifier."""
        backbone, hidden = self._build_backbone()
        spec = self.branch
        if spec is None:
            spec = partial(_default_branch, hidden.shape[1])
        conventional, out = self._build_component(spec, "branch", hidden)
        rebalancing, _ = self._build_component(spec, "branch", hidden)
        classifier = self._classifier_class()(2 * out.shape[1], len(self.classes_))
        self.module_ = BilateralBranchModule(
            backbone, conventional, rebalancing, classifier
        )
        return self

    # ------------------------------------------------------------------ #
    # training
    # ------------------------------------------------------------------ #
    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        # T is the schedule's length at its first epoch, kept in the history,
        # so that a fit resumed from a checkpoint (``max_epochs = N - k``), a
        # warm start or partial_fit continue the same schedule.
        previous = self.history[-2] if len(self.history) > 1 else {}
        total = previous.get("bbn_epochs", self.max_epochs)
        self.history.record("bbn_epochs", total)
        self.history.record("alpha", bbn_alpha(len(self.history) - 1, total))

    def get_iterator(self, dataset: Dataset, training: bool = False):
        """Paired uniform / reversed batches in training; the parent's otherwise.

        Both samplers are built from the labels of ``dataset`` itself (the
        training part under ``train_split``). ``iterator_train__shuffle=False``
        makes the uniform branch iterate in order.
        """
        if not training:
            return super().get_iterator(dataset, training=False)
        kwargs = self.get_params_for("iterator_train")
        if self._custom_iterator(True, kwargs):
            raise ValueError(
                "BBNClassifier draws its own uniform and reversed batches; remove "
                "iterator_train__sampler / iterator_train__batch_sampler or the "
                "custom iterator_train."
            )
        shuffle = kwargs.pop("shuffle", True)
        generator = loader_generator(True)
        labels = dataset_labels(dataset)
        probabilities = _reversed_class_probabilities(
            np.unique(labels, return_counts=True)[1]
        )
        reversed_draw = ClassAwareSampler(
            labels, class_probabilities=probabilities, generator=generator
        ).draw
        uniform_draw = (
            partial(torch.randperm, len(dataset), generator=generator)
            if shuffle
            else None
        )
        return _PairedBatches(
            self._batch_loader(dataset, uniform_draw, kwargs, generator),
            self._batch_loader(dataset, reversed_draw, kwargs, generator),
            probabilities,
        )

    def _batch_labels(self, batch):
        (_, _), (y_c, _) = batch
        return y_c

    def _constant_loss_floor(self, label_counts):
        # The loss mixes the uniform and the reversed batch's labels.
        return None

    def train_step_single(self, batch, **fit_params):
        """One step on a uniform and a reversed batch, mixed with this epoch's alpha."""
        self._set_training(True)
        (x_c, x_r), (y_c, y_r) = batch
        x_c, x_r = self._augmented(x_c), self._augmented(x_r)
        alpha = self.history[-1, "alpha"]
        logits = self.module_.mixed_logits(x_c, x_r, alpha, **fit_params)
        loss = alpha * self.get_loss(logits, y_c, X=x_c, training=True) + (
            1 - alpha
        ) * self.get_loss(logits, y_r, X=x_r, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": logits}
