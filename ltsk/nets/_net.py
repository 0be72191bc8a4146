"""LongTailNetClassifier: a skorch classifier for joint long-tailed training."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ltsk.nets._base import BaseLongTailNet
from ltsk.nets._checks import loader_generator
from ltsk.nets._data import dataset_labels
from ltsk.nets._mixup import (
    mixed_pair_loss,
    per_sample_losses,
    remix_label_weights,
    sample_mixup_lambda,
)
from ltsk.nets._modules import JointModule
from ltsk.sampling._probabilities import progressive_sampling_probabilities
from ltsk.sampling._torch import ClassAwareSampler


class LongTailNetClassifier(BaseLongTailNet):
    r"""A skorch neural network classifier for long-tailed data.

    The network is ``module`` (a backbone mapping inputs to features) followed
    by a linear classifier that the net adds itself, sized from the data.
    Training batches are drawn with class probabilities :math:`p_j \propto
    n_j^q`; losses that need the class counts receive the counts of the whole
    training set. After fitting, :meth:`transform` returns the penultimate
    features and :attr:`coef_` / :attr:`intercept_` the final layer, so the
    fitted net can serve as the feature extractor of
    :class:`ltsk.DecoupledClassifier` (stage 2 of Kang et al., 2020).

    Every skorch parameter is available; the ones below differ from skorch's
    defaults or are added. Components are tunable the skorch way, e.g.
    ``criterion__gamma``, ``module__hidden_units``, ``optimizer__momentum``.

    Parameters
    ----------
    module : nn.Module class or instance, or callable returning one
        The backbone: maps a batch of X to a 2-D (n_samples, n_features)
        tensor, e.g. :class:`~ltsk.nets.MLP`, :class:`~ltsk.nets.SmallCNN`,
        :class:`~ltsk.nets.ResNet32` or any importable user module (see
        Notes, Saving). ``module__*`` parameters are passed to a class or
        callable. An instance (e.g. a pretrained backbone) is deep-copied at
        each initialisation, so the object you pass is never trained in place;
        ``module__*`` parameters are refused with an instance, because skorch
        would rebuild it from its class and lose its weights.
    q : float in [0, 1] or "progressive", default=1.0
        Sampling power: 1 is plain shuffled training (each sample once per
        epoch), 0 class-balanced sampling, 1/2 square-root sampling.
        ``"progressive"`` moves from instance-balanced to class-balanced
        sampling over training (see Notes). For ``q != 1`` each epoch draws
        ``len(train set)`` samples with replacement.
    progressive_epochs : int >= 1 or None, default=None
        :math:`T` of ``q="progressive"``: the number of epochs over which
        sampling moves to class-balanced. ``None`` takes ``max_epochs`` of
        the fit that starts the history and keeps it when training continues
        (warm start, ``partial_fit``, a fit resumed from a checkpoint). Only
        valid with ``q="progressive"``.
    criterion : nn.Module class, instance or callable, default=nn.CrossEntropyLoss
        Loss on ``(logits, encoded targets)``. A criterion *class* whose
        constructor has a ``class_counts`` parameter (``ltsk.losses``) gets
        the training class counts automatically unless
        ``criterion__class_counts`` is set. A criterion class with
        ``normalized_classifier = True`` (LDAM) gets a cosine classifier
        (``ltsk.losses.NormedLinear``) instead of ``nn.Linear``. A
        ``criterion__weight`` given as a numpy array, list or tensor (e.g.
        ``ltsk.losses.class_weights(counts, "inverse")``) is converted to a
        float tensor of torch's default dtype (float32), which
        ``nn.CrossEntropyLoss`` requires; it must hold one finite,
        non-negative weight per class, not all zero. An instance is
        deep-copied at each initialisation and refuses ``criterion__*``
        parameters, like ``module``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Adam is robust across the tabular and image backbones without
        tuning; for the CIFAR-LT recipe use ``torch.optim.SGD`` with
        ``optimizer__momentum=0.9``, ``optimizer__weight_decay=2e-4`` and
        ``lr=0.1``.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=20
        Number of training epochs of each ``fit`` (and of each
        ``partial_fit`` call).
    batch_size : int, default=128
        Samples per training and prediction batch; -1 uses the whole data
        set as one batch.
    train_split : callable or None, default=None
        No internal validation by default: skorch's stratified split fails on
        tail classes with a single sample. To monitor ``valid_loss`` and
        ``valid_acc`` pass e.g. ``skorch.dataset.ValidSplit(0.2)``, or
        ``ValidSplit(5, stratified=True)`` when every class has at least five
        samples. Sampling and class counts follow the training part (counts
        for the loss: the whole data given to ``fit``).
    classes : array-like or None, default=None
        Fixed label set (e.g. all classes, also in a fold that lacks some);
        ``None`` takes the labels in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, sampling, dropout and augmentation, so
        CPU fits are reproducible; torch's global random state is restored
        afterwards. ``None`` uses torch's global random state.
    augment : bool, CropFlip or callable, default=False
        Augmentation of each training batch (before mixup), never of
        prediction or validation batches. ``True`` is
        ``CropFlip(padding=4, flip=True)``: for images (N, C, H, W) or
        (N, H, W), random crop with 4-pixel zero padding and random
        horizontal flip. :class:`CropFlip` sets the padding and the flip; a
        padding of a quarter of the image side or more raises a
        ``ValueError`` at ``fit`` (``augment=True`` on 8x8 images). Any other
        callable ``augment(X_batch) -> X_batch`` receives the torch input
        batch on ``device`` and must return a tensor with as many rows.
    mixup : {None, "mixup", "remix"}, default=None
        Train on convex combinations of pairs of samples: ``"mixup"`` (Zhang
        et al., 2018) mixes the labels as the inputs, ``"remix"`` (Chou et
        al., 2020) gives the whole label to the minority sample of an
        imbalanced pair. See Notes for the loss and the criteria it supports.
    mixup_alpha : float > 0, default=1.0
        :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`, one draw per
        training batch.
    remix_kappa : float > 0, default=3.0
        Remix's :math:`\kappa`: pairs whose class counts differ by this
        factor or more count as majority/minority.
    remix_tau : float in [0, 1], default=0.5
        Remix's :math:`\tau`: the majority sample loses its label when its
        share of the mixed input is below ``remix_tau``.
    progress_bar : bool, default=False
        Add skorch's ``ProgressBar`` callback (needs ``tqdm``).
    verbose : int, default=0
        0 is silent. Otherwise skorch's per-epoch table goes to
        ``sys.stdout``: coloured, with a bar over each epoch's batches, on a
        terminal; plain lines without ANSI colour codes in a file or a pipe.
    device : str or torch.device, default="cpu"
        Device of the module and of each batch, e.g. ``"cuda"``.
    **kwargs
        Further skorch parameters (``callbacks``, ``iterator_train__*``,
        ``warm_start``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels; column ``j`` of :meth:`predict_proba` is
        ``classes_[j]``.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class in the data given to ``fit``.
    n_features_in_ : int
        ``X.shape[1]`` for array input (absent for torch datasets).
    module_ : JointModule
        The backbone (``module_.backbone``) and the final layer
        (``module_.classifier``).
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)

    Notes
    -----
    With sampling power :math:`q`, class :math:`j` is drawn with probability

    .. math:: p_j = \frac{n_j^q}{\sum_{i=1}^{C} n_i^q}

    and samples uniformly within the class (Kang et al., 2020, Eq. 1). The
    sampler is built from the labels of the data set the training iterator
    receives, so it also follows skorch's internal train/validation split.

    **Progressively-balanced sampling** (``q="progressive"``, Kang et al.,
    2020, Sec. 3) draws epoch :math:`t` with

    .. math:: p_j(t) = \left(1 - \frac{t}{T}\right) \frac{n_j}{\sum_i n_i}
              + \frac{t}{T} \frac{1}{C}

    (:func:`ltsk.sampling.progressive_sampling_probabilities`), where
    :math:`t` is the 0-based index of the epoch in ``net.history``
    (``len(net.history) - 1`` while it runs, the count skorch's
    ``LRScheduler`` uses), capped at :math:`T`, and :math:`T` is
    ``progressive_epochs``, by default ``max_epochs`` of the fit that starts
    the history. Each epoch records its :math:`T` in the history
    (``net.history[:, "progressive_epochs"]``) and the next epoch reuses it,
    so a warm-started fit, ``partial_fit`` or a fit resumed from a
    checkpoint continues the same schedule. A fresh fit runs :math:`t = 0,
    \dots, T - 1`: its first epoch is instance-balanced and its last has
    :math:`t/T = (T - 1)/T`; once :math:`T` epochs are in the history
    sampling stays class-balanced.

    **Mixup and Remix** (``mixup="mixup"`` / ``"remix"``): for each training
    batch, one :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` is drawn
    (from torch's generator, seeded by ``random_state``) and each sample
    :math:`i` is paired with sample :math:`j = \pi(i)` of a random
    permutation :math:`\pi` of the batch:
    :math:`\tilde x_i = \lambda x_i + (1 - \lambda) x_j`. The loss of a
    mixed sample is the "mixed pairs" form

    .. math:: \ell_i = \lambda_y\, L(z_i, y_i) + (1 - \lambda_y)\, L(z_i, y_j)

    with :math:`L` the criterion's per-sample loss; for cross-entropy it
    equals cross-entropy with the soft target
    :math:`\lambda_y e_{y_i} + (1 - \lambda_y) e_{y_j}`. Mixup uses
    :math:`\lambda_y = \lambda` (Zhang et al., 2018); Remix (Chou et al.,
    2020) sets :math:`\lambda_y = 0` when :math:`n_{y_i}/n_{y_j} \ge \kappa`
    and :math:`\lambda < \tau`, :math:`\lambda_y = 1` when
    :math:`n_{y_i}/n_{y_j} \le 1/\kappa` and :math:`1 - \lambda < \tau`,
    else :math:`\lambda`, with :math:`n` the training counts
    ``class_counts_`` (:func:`ltsk.nets.remix_label_weights`). How the
    per-sample losses are reduced for each criterion, and which criteria
    mixup supports, is in the user guide (:ref:`nets`, "Mixup and Remix").

    :meth:`predict_proba` is the softmax of the logits whatever the criterion
    (skorch's ``predict_nonlinearity="auto"`` only does that for
    cross-entropy); pass another ``predict_nonlinearity`` to override it.

    Array inputs are converted to float32 and must be finite; integer inputs
    (e.g. token ids for an embedding) need a torch ``Dataset``. ``X`` may be a
    torch ``Dataset`` yielding ``(input, label)``: labels for the sampler and
    the class counts then come from ``y`` when given (they also replace the
    labels the dataset yields), else from its ``targets`` attribute, else
    from one pass over it.

    Saving: pickle or joblib keep the whole fitted net (a net pickled with
    ``device="cuda"`` loads on the CPU where no GPU is present); pickling a
    net whose classes are defined in ``__main__`` warns, since it will not
    unpickle in another process. ``initialize()`` without data is not
    supported, because the classifier is sized from the training data. How
    to load parameters with skorch's ``load_params`` and resume an
    interrupted fit from a ``Checkpoint`` is in the user guide (:ref:`nets`,
    "Saving and resuming").

    References
    ----------
    .. [1] B. Kang et al., "Decoupling Representation and Classifier for
       Long-Tailed Recognition", ICLR 2020.
    .. [2] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: Beyond
       Empirical Risk Minimization", ICLR 2018.
    .. [3] H.-P. Chou, S.-C. Chang, J.-Y. Pan, W. Wei and D.-C. Juan, "Remix:
       Rebalanced Mixup", ECCV 2020 workshops.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.nets import MLP, LongTailNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["cat", "dog", "emu"], [60, 20, 5])
    >>> X = rng.normal(size=(85, 4)) + (y == "dog")[:, None] * 3.0
    >>> net = LongTailNetClassifier(MLP, module__hidden_units=(16,), q=0.0,
    ...                             max_epochs=5, random_state=0).fit(X, y)
    >>> net.classes_, net.class_counts_
    (array(['cat', 'dog', 'emu'], dtype='<U3'), array([60, 20,  5]))
    >>> net.predict(X[:3])
    array([...], dtype='<U3')
    >>> net.transform(X).shape, net.coef_.shape
    ((85, 16), (3, 16))
    >>> remix = LongTailNetClassifier(MLP, q="progressive", mixup="remix",
    ...                               max_epochs=5, random_state=0).fit(X, y)
    >>> remix.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseLongTailNet._parameter_constraints,
        "q": [Interval(Real, 0, 1, closed="both"), StrOptions({"progressive"})],
        "progressive_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "mixup": [StrOptions({"mixup", "remix"}), None],
        "mixup_alpha": [Interval(Real, 0, None, closed="neither")],
        "remix_kappa": [Interval(Real, 0, None, closed="neither")],
        "remix_tau": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        module,
        *,
        q=1.0,
        progressive_epochs=None,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        classes=None,
        random_state=None,
        augment=False,
        mixup=None,
        mixup_alpha=1.0,
        remix_kappa=3.0,
        remix_tau=0.5,
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
        self.q = q
        self.progressive_epochs = progressive_epochs
        self.mixup = mixup
        self.mixup_alpha = mixup_alpha
        self.remix_kappa = remix_kappa
        self.remix_tau = remix_tau

    def _check_params(self) -> None:
        if self.progressive_epochs is not None and self.q != "progressive":
            raise ValueError(
                f"progressive_epochs={self.progressive_epochs} only applies to "
                f'q="progressive", got q={self.q!r}.'
            )

    def _constant_loss_floor(self, label_counts):
        # Remix moves label weight between the classes of a pair, so the
        # labels' frequencies no longer bound a constant predictor's loss.
        if self.mixup == "remix":
            return None
        return super()._constant_loss_floor(label_counts)

    def initialize_module(self):
        """Build the backbone, size it with a dummy forward, add the classifier."""
        backbone, features = self._build_backbone()
        classifier = self._classifier_class()(features.shape[1], len(self.classes_))
        self.module_ = JointModule(backbone, classifier)
        return self

    # ------------------------------------------------------------------ #
    # sampling: power q and progressive balancing
    # ------------------------------------------------------------------ #
    def get_iterator(self, dataset, training=False):
        """DataLoader whose batches follow power-``q`` class sampling in training.

        The sampler is built from the labels of ``dataset`` itself (a
        ``Subset`` under ``train_split``). In-memory arrays are fetched one
        batch at a time. A user-supplied ``iterator_*__sampler`` or
        ``__batch_sampler`` (only with ``q=1``) or a custom iterator class is
        used as is.
        """
        if not training or self.q == 1.0:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_train")
        if self._custom_iterator(True, kwargs):
            raise ValueError(
                f"q={self.q} needs the net's own sampler; remove "
                "iterator_train__sampler / iterator_train__batch_sampler or the "
                "custom iterator, or set q=1."
            )
        kwargs.pop("shuffle", None)
        generator = loader_generator(True)
        labels = dataset_labels(dataset)
        if self.q == "progressive":
            draw = self._progressive_draw(labels, generator)
        else:
            draw = ClassAwareSampler(labels, self.q, generator=generator).draw
        return self._batch_loader(dataset, draw, kwargs, generator, training=True)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record T of ``q="progressive"`` in the new epoch's history row.

        Parameters
        ----------
        net : LongTailNetClassifier
            The net itself, as skorch passes it to its hooks.
        dataset_train : torch Dataset, default=None
            The training dataset.
        dataset_valid : torch Dataset, default=None
            The validation dataset, if any.
        **kwargs : dict
            Further arguments of skorch's hook, passed on to it.
        """
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        if self.q == "progressive":
            self.history.record("progressive_epochs", self._progressive_total())

    def _progressive_total(self) -> int:
        """T of the progressive schedule for the epoch that begins.

        ``progressive_epochs`` when set, else the T of the previous epoch in
        the history (warm starts, ``partial_fit`` and a history restored by
        ``LoadInitState`` continue one schedule), else ``max_epochs``.
        """
        if self.progressive_epochs is not None:
            return self.progressive_epochs
        if len(self.history) > 1 and "progressive_epochs" in self.history[-2]:
            return self.history[-2, "progressive_epochs"]
        return max(self.max_epochs, 1)

    def _progressive_draw(self, labels: np.ndarray, generator: torch.Generator):
        """Per-epoch draw of progressively-balanced sampling.

        skorch builds the training iterator once per fit, and the batch
        sampler calls ``draw`` at the start of every epoch (after the epoch's
        history row exists), so the probabilities are computed there.
        """
        _, counts = np.unique(labels, return_counts=True)

        def draw() -> torch.Tensor:
            total = self.history[-1, "progressive_epochs"]
            probabilities = progressive_sampling_probabilities(
                counts, min(len(self.history) - 1, total), total
            )
            sampler = ClassAwareSampler(
                labels, class_probabilities=probabilities, generator=generator
            )
            return sampler.draw()

        return draw

    # ------------------------------------------------------------------ #
    # training step: augmentation, mixup and Remix
    # ------------------------------------------------------------------ #
    def train_step_single(self, batch, **fit_params):
        """One optimisation step; passes the batch through ``augment`` when set
        and mixes them when ``mixup`` is set (see the class Notes)."""
        if self.augment:
            Xi, yi = unpack_data(batch)
            batch = (self._augmented(Xi), yi)
        if self.mixup is None:
            return super().train_step_single(batch, **fit_params)
        return self._mixup_step(batch, **fit_params)

    def _mixup_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        if not isinstance(Xi, torch.Tensor) or not Xi.is_floating_point():
            kind = getattr(Xi, "dtype", type(Xi).__name__)
            raise TypeError(
                f"mixup={self.mixup!r} mixes the inputs, which must be "
                f"floating-point tensors; got a batch of {kind}."
            )
        y_a = to_tensor(yi, device=self.device).long()
        lam = sample_mixup_lambda(self.mixup_alpha)
        partner = torch.randperm(len(y_a)).to(y_a.device)
        y_b = y_a[partner]
        X_mixed = lam * Xi + (1.0 - lam) * Xi[partner]
        y_pred = self.infer(X_mixed, **fit_params)
        if self.mixup == "remix":
            counts = torch.as_tensor(self.class_counts_)
            lam_y = remix_label_weights(
                lam,
                counts[y_a.cpu()],
                counts[y_b.cpu()],
                kappa=self.remix_kappa,
                tau=self.remix_tau,
            )
        else:
            lam_y = torch.full((len(y_a),), lam, dtype=torch.float64)
        loss = self.get_mixup_loss(y_pred, y_a, y_b, lam_y, X=X_mixed)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_mixup_loss(self, y_pred, y_a, y_b, lam_y, X=None):
        r"""Compute the loss of mixed pairs of samples.

        The loss is :math:`\lambda_y L(z, y_a) + (1 - \lambda_y) L(z, y_b)`: the
        criterion's per-sample losses on both labels (through
        :meth:`get_loss`, with its ``reduction`` set to ``"none"``), combined
        per sample and reduced as the criterion reduces (see the class Notes).

        Parameters
        ----------
        y_pred : Tensor of shape (n_samples, n_classes)
            Logits of the mixed inputs.
        y_a, y_b : Tensor of shape (n_samples,)
            Encoded labels of each sample and of its partner.
        lam_y : Tensor of shape (n_samples,)
            Label weight of ``y_a``.
        X : Tensor, default=None
            The mixed inputs, passed on to :meth:`get_loss`.

        Returns
        -------
        loss : Tensor
            A scalar for the criterion's "mean" or "sum" reduction.
        """
        criterion = self.criterion_
        n_samples = len(y_a)
        losses_a, reduction = per_sample_losses(
            criterion,
            lambda: self.get_loss(y_pred, y_a, X=X, training=True),
            n_samples,
        )
        losses_b, _ = per_sample_losses(
            criterion,
            lambda: self.get_loss(y_pred, y_b, X=X, training=True),
            n_samples,
        )
        weight = None
        if isinstance(criterion, nn.CrossEntropyLoss | nn.NLLLoss) or getattr(
            criterion, "weighted_mean", False
        ):
            weight = getattr(criterion, "weight", None)
        return mixed_pair_loss(losses_a, losses_b, lam_y, reduction, weight, y_a, y_b)
