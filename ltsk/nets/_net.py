"""LongTailNetClassifier: a skorch classifier for joint long-tailed training."""

import copy
import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, column_or_1d, validate_data
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EpochScoring, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_tensor
from torch import nn
from torch.utils.data import DataLoader

from ltsk.nets._data import (
    ArrayDataset,
    EncodedDataset,
    EpochBatchSampler,
    dataset_labels,
    pass_through,
    random_crop_flip,
    read_labels,
    resolve_subsets,
)
from ltsk.nets._mixup import (
    mixed_pair_loss,
    per_sample_losses,
    remix_label_weights,
    sample_mixup_lambda,
)
from ltsk.sampling._probabilities import progressive_sampling_probabilities
from ltsk.sampling._torch import ClassAwareSampler


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


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode, then restore each one's previous mode."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _encoded_accuracy(net, X, y) -> float:
    """Accuracy against the encoded labels the net's datasets carry internally."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


def _loader_generator(training: bool) -> torch.Generator:
    """Generator of a loader's draws, seeded from torch's global one in training.

    Also handed to the DataLoader, which otherwise draws its workers' base
    seed from torch's global generator (predict would change it).
    """
    generator = torch.Generator()
    if training:
        generator.manual_seed(int(torch.randint(2**62, (1,)).item()))
    return generator


def _class_weight_tensor(weight, n_classes: int, name: str) -> torch.Tensor:
    """``weight`` as a tensor of torch's default float dtype, checked to hold one
    finite, non-negative weight per class, not all zero."""
    try:
        values = np.asarray(
            weight.detach().cpu() if isinstance(weight, torch.Tensor) else weight,
            dtype=np.float64,
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array-like of numbers, one per class, got {weight!r}."
        ) from exc
    if values.shape != (n_classes,):
        raise ValueError(
            f"{name} must hold one weight per class ({n_classes} classes), got "
            f"shape {values.shape}."
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{name} must be finite and non-negative, got {values[bad].tolist()} "
            f"at positions {np.flatnonzero(bad).tolist()} of classes_."
        )
    if not values.any():
        raise ValueError(f"{name} must not be all zero.")
    return torch.as_tensor(values, dtype=torch.get_default_dtype())


# What to pass instead of a component's name given as a string.
_COMPONENT_EXAMPLES = {
    "module": "ltsk.nets.MLP",
    "criterion": "torch.nn.CrossEntropyLoss",
}


def _refuse_instance_params(spec, prefix: str, kwargs: dict) -> None:
    """Refuse ``prefix__*`` parameters for a component given as an instance.

    skorch would rebuild the instance from its class with only those
    parameters, silently discarding its trained weights and other settings.
    """
    if isinstance(spec, nn.Module) and kwargs:
        names = ", ".join(f"{prefix}__{name}" for name in sorted(kwargs))
        raise ValueError(
            f"{prefix} is an instance of {type(spec).__name__}, so {names} cannot "
            f"be applied: rebuilding {prefix} from its class would discard the "
            f"instance's weights and settings. Pass the class as {prefix} "
            f"together with {prefix}__* parameters, or the instance alone."
        )


def _refuse_sample_weight(estimator: str, fit_params: dict) -> None:
    # Otherwise skorch passes it on to the module's forward as an input.
    if "sample_weight" in fit_params:
        raise TypeError(
            f"{estimator} does not support sample_weight. To re-balance classes, "
            "use the sampling power q (class-aware sampling) or class weights in "
            "the loss (criterion__weight, e.g. ltsk.losses.class_weights, or a "
            "class-balanced criterion such as ltsk.losses.ClassBalancedLoss)."
        )


def _takes_class_counts(criterion) -> bool:
    try:
        return "class_counts" in inspect.signature(criterion).parameters
    except (TypeError, ValueError):
        return False


class LongTailNetClassifier(NeuralNetClassifier):
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
    augment : bool, default=False
        For image inputs (N, C, H, W) or (N, H, W): random crop with 4-pixel
        zero padding and random horizontal flip, applied to each training
        batch (before mixup).
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
        0 is silent; 1 prints skorch's per-epoch table.
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
    ``class_counts_`` (:func:`ltsk.nets.remix_label_weights`). The
    per-sample losses come from calling the criterion with its ``reduction``
    attribute set to ``"none"`` for the step; they are then reduced as the
    criterion reduces: ``"sum"``, or ``"mean"`` over the samples, or, for
    criteria whose mean is normalised by class weights
    (``nn.CrossEntropyLoss`` / ``nn.NLLLoss`` with ``weight``, ``LDAMLoss``
    with ``weight``), divided by
    :math:`\sum_i \lambda_y w_{y_i} + (1 - \lambda_y) w_{y_j}`. So mixup
    works with every ltsk loss (``FocalLoss``, ``ClassBalancedLoss``,
    ``LogitAdjustedLoss``, ``BalancedSoftmaxLoss``, ``LDAMLoss``) and with
    ``nn.CrossEntropyLoss`` / ``nn.NLLLoss``; a criterion without a
    ``reduction`` attribute, or whose ``reduction="none"`` output is not one
    loss per sample, raises a ``TypeError`` at the first batch. Inputs must be
    floating point. Mixing happens after ``augment`` and on batches drawn
    with the sampling power ``q``; validation losses use the unmixed data.

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
    ``device="cuda"`` loads on the CPU where no GPU is present). Pickle
    stores the module and criterion classes by name, so classes defined in
    ``__main__`` (a script or notebook) only unpickle in that same process,
    not in joblib workers or another script; pickling such a net warns.
    ``initialize()`` without data is not supported, because the classifier
    is sized from the training data; to use skorch's ``load_params``, first
    initialise a net with the same parameters by ``fit(X, y)`` with
    ``max_epochs=0`` (no training), then call ``load_params(f_params=...)``.
    To resume an interrupted fit, train with
    ``callbacks=[Checkpoint(monitor=None, dirname=d)]`` (``monitor=None``
    saves every epoch; the default monitors ``valid_loss``, which needs a
    ``train_split``), then fit a new net with ``callbacks=[cp,
    LoadInitState(cp)]`` for ``cp = Checkpoint(monitor=None, dirname=d)``:
    ``LoadInitState`` restores the module, optimizer and history after
    ``fit`` has initialised the net, and ``max_epochs`` more epochs follow,
    so ``max_epochs = N - k`` after ``k`` saved epochs gives a history of
    ``N`` epochs. With ``q="progressive"`` the resumed epochs continue the
    schedule of the first fit (:math:`T = N`, restored with the history).
    The resumed epochs draw different batches than an uninterrupted fit with
    the same ``random_state``.

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
        "module": [callable],
        "criterion": [callable],
        "q": [Interval(Real, 0, 1, closed="both"), StrOptions({"progressive"})],
        "progressive_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Options(Integral, {-1}),
        ],
        "random_state": ["random_state"],
        "augment": ["boolean"],
        "mixup": [StrOptions({"mixup", "remix"}), None],
        "mixup_alpha": [Interval(Real, 0, None, closed="neither")],
        "remix_kappa": [Interval(Real, 0, None, closed="neither")],
        "remix_tau": [Interval(Real, 0, 1, closed="both")],
        "progress_bar": ["boolean"],
        "verbose": ["verbose"],
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
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.q = q
        self.progressive_epochs = progressive_epochs
        self.random_state = random_state
        self.augment = augment
        self.mixup = mixup
        self.mixup_alpha = mixup_alpha
        self.remix_kappa = remix_kappa
        self.remix_tau = remix_tau
        self.progress_bar = progress_bar

    # ------------------------------------------------------------------ #
    # parameters, callbacks
    # ------------------------------------------------------------------ #
    def _validate_params(self):
        # skorch uses this name for its own check of ``prefix__param`` names;
        # sklearn's @_fit_context calls it too, so run both checks here.
        for name, example in _COMPONENT_EXAMPLES.items():
            value = getattr(self, name, None)
            if isinstance(value, str):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be an "
                    f"nn.Module class or instance, or a callable returning one, "
                    f"e.g. {example}, not a name. Got {value!r} instead."
                )
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        if self.progressive_epochs is not None and self.q != "progressive":
            raise ValueError(
                f"progressive_epochs={self.progressive_epochs} only applies to "
                f'q="progressive", got q={self.q!r}.'
            )
        # skorch's check needs the component prefixes registered by the first
        # initialize(), which calls this method again.
        if "module" in self.prefixes_:
            super()._validate_params()

    @property
    def _default_callbacks(self):
        callbacks = [
            (name, cb) for name, cb in super()._default_callbacks if name != "valid_acc"
        ]
        # skorch's valid_acc compares predict() (labels) with the encoded
        # targets; score the encoded predictions instead.
        callbacks.insert(
            -1,
            (
                "valid_acc",
                EpochScoring(
                    _encoded_accuracy, name="valid_acc", lower_is_better=False
                ),
            ),
        )
        # get_params reads this property, so a bad value must not raise here.
        if getattr(self, "progress_bar", False) is True:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _get_param_names(self):
        # skorch lists its internal ``_params_to_validate`` as a parameter;
        # __init__ rebuilds it from the ``prefix__name`` arguments anyway.
        return [n for n in super()._get_param_names() if n != "_params_to_validate"]

    def __getstate__(self):
        # Pickle stores classes by name, so a module class from __main__ only
        # unpickles in a process with the same __main__; joblib workers (and
        # skorch's own pickling of module_, even under cloudpickle) fail there
        # with an error that does not say why.
        components = [getattr(self, name, None) for name in ("module_", "criterion_")]
        classes = {type(m) for c in components if c is not None for m in c.modules()}
        classes |= {c for c in (self.module, self.criterion) if isinstance(c, type)}
        in_main = sorted(c.__qualname__ for c in classes if c.__module__ == "__main__")
        if in_main:
            warnings.warn(
                f"{type(self).__name__} is pickled with classes defined in "
                f"__main__ ({', '.join(in_main)}); it will not unpickle in another "
                "process, such as a joblib worker of GridSearchCV(n_jobs>1) or a "
                "script loading a saved net. Move them to an importable module.",
                UserWarning,
                stacklevel=2,
            )
        return super().__getstate__()

    @property
    def classes_(self) -> np.ndarray:
        """Sorted class labels seen in ``fit`` (or the ``classes`` parameter)."""
        try:
            return self.classes_inferred_
        except AttributeError as exc:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet; "
                "classes_ is set by fit."
            ) from exc

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        # transform() gives features, so the net is also a transformer.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        return tags

    # ------------------------------------------------------------------ #
    # input validation
    # ------------------------------------------------------------------ #
    def _random_seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        seed = self._random_seed()
        if seed is None:
            yield
            return
        device = torch.device(self.device) if self.device is not None else None
        devices = []
        if device is not None and device.type == "cuda":
            devices = [device.index if device.index is not None else 0]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _check_labels(self, y, n_samples: int, reset: bool, classes=None) -> np.ndarray:
        """Validate raw labels, fit or check the label set; return encoded labels.

        ``classes`` is ``partial_fit``'s argument: it fixes the label set at
        the first call (y may then hold a single class) and must agree with
        ``classes_`` at later calls.
        """
        y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {n_samples}, "
                f"y has {y.shape[0]}."
            )
        check_classification_targets(y)
        given = None if classes is None else np.unique(np.asarray(classes))
        if reset:
            present = np.unique(y)
            fixed = None
            if self.classes is not None and len(self.classes):
                fixed = np.unique(np.asarray(self.classes))
            if (
                given is not None
                and fixed is not None
                and not np.array_equal(given, fixed)
            ):
                raise ValueError(
                    f"partial_fit got classes={given.tolist()}, which differs from "
                    f"the classes parameter {fixed.tolist()}."
                )
            classes = next(c for c in (given, fixed, present) if c is not None)
            if (classes.size if given is not None else present.size) < 2:
                raise ValueError(
                    "y must contain at least two classes to train a classifier, got "
                    f"1 class: {present.tolist()}."
                )
            unknown = np.setdiff1d(present, classes)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in the "
                    f"classes {classes.tolist()}."
                )
            self.classes_inferred_ = classes
            encoded = np.searchsorted(classes, y)
            self.class_counts_ = np.bincount(encoded, minlength=classes.size)
            return encoded.astype(np.int64)
        classes = self.classes_
        if given is not None and not np.array_equal(given, classes):
            raise ValueError(
                f"classes={given.tolist()} is not the same as in the first fit, "
                f"was: {classes.tolist()}."
            )
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} not seen in the first fit; "
                f"known classes: {classes.tolist()}."
            )
        return np.searchsorted(classes, y).astype(np.int64)

    def _check_array(self, X, y=None, *, reset: bool):
        kwargs = dict(dtype=np.float32, allow_nd=True, reset=reset)
        if y is None:
            return validate_data(self, X, **kwargs)
        return validate_data(self, X, y, **kwargs)

    def _prepare_fit(self, X, y, *, reset: bool, classes=None):
        """Validate training data; return (X, encoded y) ready for skorch."""
        if is_dataset(X):
            if y is not None:
                labels = y
            elif getattr(X, "targets", None) is not None:
                labels = X.targets
                labels = labels.numpy() if isinstance(labels, torch.Tensor) else labels
            else:
                labels = read_labels(X)
            encoded = self._check_labels(labels, len(X), reset, classes)
            if reset and hasattr(self, "n_features_in_"):
                del self.n_features_in_
            X = EncodedDataset(X, encoded)
            loader = DataLoader(X, batch_size=2, generator=torch.Generator())
            probe = next(iter(loader))[0]
        else:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the "
                    "target y is None."
                )
            n_samples = _num_samples(X)
            labels = np.asarray(y)
            if labels.ndim >= 1 and labels.shape[0] != n_samples:
                raise ValueError(
                    "X and y have inconsistent numbers of samples: X has "
                    f"{n_samples}, y has {labels.shape[0]}."
                )
            X, y = self._check_array(X, y, reset=reset)
            encoded = self._check_labels(y, X.shape[0], reset, classes)
            if self.augment and X.ndim not in (3, 4):
                raise ValueError(
                    "augment=True needs images of shape (n_samples, channels, "
                    "height, width) or (n_samples, height, width), got X with "
                    f"shape {X.shape}."
                )
            probe = torch.from_numpy(np.array(X[:2]))
        if reset:
            self._probe_input_ = probe
        return X, encoded

    def _check_predict_input(self, X):
        self.check_is_fitted()
        if is_dataset(X):
            return X
        return self._check_array(X, reset=False)

    # ------------------------------------------------------------------ #
    # initialisation
    # ------------------------------------------------------------------ #
    def _classifier_class(self):
        criterion = self.criterion
        criterion_type = criterion if isinstance(criterion, type) else type(criterion)
        if getattr(criterion_type, "normalized_classifier", False):
            from ltsk.losses import NormedLinear

            return NormedLinear
        return nn.Linear

    def _build_component(
        self, spec, prefix: str, inputs: torch.Tensor
    ) -> tuple[nn.Module, torch.Tensor]:
        """Build the ``prefix`` component and run it once on ``inputs``.

        ``spec`` is an nn.Module class or callable (called with the
        ``prefix__*`` parameters) or an instance (deep-copied; ``prefix__*``
        parameters are refused). Returns the module, on ``device``, and its 2-D
        output on ``inputs``.
        """
        kwargs = self.get_params_for(prefix)
        _refuse_instance_params(spec, prefix, kwargs)
        if isinstance(spec, nn.Module):
            component = copy.deepcopy(spec)
        else:
            component = spec(**kwargs)
        if not isinstance(component, nn.Module):
            raise TypeError(
                f"{prefix} must be an nn.Module, an nn.Module class or a callable "
                f"returning one, got a callable returning {type(component).__name__}."
            )
        if self.device is not None:
            component = component.to(self.device)
        # eval mode + no_grad: materialises lazy layers without touching
        # BatchNorm running statistics.
        with _eval_mode(component), torch.no_grad():
            out = component(inputs)
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            shape = tuple(out.shape) if hasattr(out, "shape") else None
            raise ValueError(
                f"{prefix} must return a 2-D tensor of features (n_samples, "
                f"n_features), got {type(out).__name__} with shape {shape}."
            )
        return component, out

    def _build_backbone(self) -> tuple[nn.Module, torch.Tensor]:
        """The backbone (``module``) and its features of the probe batch."""
        if not hasattr(self, "_probe_input_"):
            raise ValueError(
                f"{type(self).__name__} sizes its classifier from the training "
                "data: call fit(X, y) instead of initialize()."
            )
        probe = to_tensor(self._probe_input_, device=self.device)
        return self._build_component(self.module, "module", probe)

    def initialize_module(self):
        """Build the backbone, size it with a dummy forward, add the classifier."""
        backbone, features = self._build_backbone()
        classifier = self._classifier_class()(features.shape[1], len(self.classes_))
        self.module_ = JointModule(backbone, classifier)
        return self

    def initialize_criterion(self):
        """Build the criterion; pass the training class counts where accepted.

        A ``criterion__weight`` (numpy array, list or tensor) becomes a tensor
        of torch's default float dtype; it, or the ``weight`` of a criterion
        instance, must hold one finite, non-negative weight per class, not all
        zero. An instance given as ``criterion`` is deep-copied, so callbacks
        that change its weights (:class:`~ltsk.nets.DeferredReweighting`)
        never modify the user's object.
        """
        kwargs = self.get_params_for("criterion")
        _refuse_instance_params(self.criterion, "criterion", kwargs)
        if (
            isinstance(self.criterion, type)
            and "class_counts" not in kwargs
            and hasattr(self, "class_counts_")
            and _takes_class_counts(self.criterion)
        ):
            kwargs["class_counts"] = self.class_counts_.copy()
        if isinstance(kwargs.get("weight"), np.ndarray | list | tuple | torch.Tensor):
            kwargs["weight"] = _class_weight_tensor(
                kwargs["weight"], len(self.classes_), "criterion__weight"
            )
        criterion = self.criterion
        if isinstance(criterion, nn.Module):
            self.criterion_ = copy.deepcopy(criterion)
        else:
            self.criterion_ = criterion(**kwargs)
        weight = getattr(self.criterion_, "weight", None)
        if "weight" not in kwargs and isinstance(weight, torch.Tensor):
            _class_weight_tensor(
                weight, len(self.classes_), f"{type(self.criterion_).__name__}.weight"
            )
        return self

    # ------------------------------------------------------------------ #
    # fitting
    # ------------------------------------------------------------------ #
    def check_data(self, X, y=None):
        # Labels were validated and encoded before skorch sees them; skorch's
        # version would overwrite classes_ with the encoded labels.
        pass

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Validate the data, initialise the net and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or torch Dataset
            Training inputs: a 2-D feature matrix, an image array (N, C, H, W)
            or (N, H, W), or a dataset yielding ``(input, label)``.
        y : array-like of shape (n_samples,), default=None
            Labels of any type; optional when ``X`` is a dataset.
        **fit_params : dict
            Passed on to skorch's fit (forward / train_split parameters).
            ``sample_weight`` is not supported and raises a ``TypeError``.

        Returns
        -------
        self : LongTailNetClassifier
            The fitted net.
        """
        _refuse_sample_weight(type(self).__name__, fit_params)
        reset = not (self.warm_start and self.initialized_)
        X, y = self._prepare_fit(X, y, reset=reset)
        with self._seeded():
            if reset:
                self.initialize()
            NeuralNet.partial_fit(self, X, y, _routing_method="fit", **fit_params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        The first call initialises the net like :meth:`fit`; later calls keep
        ``classes_`` and ``class_counts_`` (the counts of the first call) and
        reject unknown labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or torch Dataset
            Training inputs, as for :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            Labels of any type; optional when ``X`` is a dataset.
        classes : array-like of shape (n_classes,), default=None
            All the labels, as in scikit-learn's ``partial_fit``: fixes
            ``classes_`` at the first call, so its ``y`` may lack some of them
            (or hold a single class); must agree with the ``classes``
            parameter when both are set, and with ``classes_`` at later
            calls. ``None`` takes the ``classes`` parameter, else the labels
            of the first call's ``y``.
        **fit_params : dict
            Passed on to skorch's fit (forward / train_split parameters).
            ``sample_weight`` is not supported and raises a ``TypeError``.

        Returns
        -------
        self : LongTailNetClassifier
            The net, trained further.
        """
        _refuse_sample_weight(type(self).__name__, fit_params)
        reset = not self.initialized_
        X, y = self._prepare_fit(X, y, reset=reset, classes=classes)
        with self._seeded():
            NeuralNet.partial_fit(self, X, y, **fit_params)
        return self

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
        """DataLoader whose batches follow power-``q`` class sampling in training.

        The sampler is built from the labels of ``dataset`` itself (a
        ``Subset`` under ``train_split``). In-memory arrays are fetched one
        batch at a time. A user-supplied ``iterator_*__sampler`` or
        ``__batch_sampler`` (only with ``q=1``) or a custom iterator class is
        used as is.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        if self._custom_iterator(training, kwargs):
            if training and self.q != 1.0:
                raise ValueError(
                    f"q={self.q} needs the net's own sampler; remove "
                    f"{prefix}__sampler / {prefix}__batch_sampler or the custom "
                    "iterator, or set q=1."
                )
            return super().get_iterator(dataset, training=training)

        shuffle = kwargs.pop("shuffle", training)
        generator = _loader_generator(training)
        draw = None
        if training and (self.q != 1.0 or shuffle):
            if isinstance(self.q, str):  # "progressive"
                draw = self._progressive_draw(dataset_labels(dataset), generator)
            elif self.q != 1.0:
                draw = ClassAwareSampler(
                    dataset_labels(dataset), self.q, generator=generator
                ).draw
            else:
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

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Stop with an error once a training batch's loss is not finite.

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

        Raises
        ------
        FloatingPointError
            If a training loss of the epoch is NaN or infinite.
        """
        super().on_epoch_end(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        losses = [
            batch["train_loss"]
            for batch in self.history[-1].get("batches", [])
            if "train_loss" in batch
        ]
        diverged = [loss for loss in losses if not np.isfinite(loss)]
        if diverged:
            raise FloatingPointError(
                f"Training diverged: a training loss of epoch {len(self.history) - 1} "
                f"is not finite ({diverged[0]}), so the weights are no longer finite "
                "either. The learning rate "
                f"lr={self.lr} is likely too high; lower it, or clip gradients "
                "with skorch.callbacks.GradientNormClipping, and fit again."
            )

    def train_step_single(self, batch, **fit_params):
        """One optimisation step; augments image batches when ``augment=True``
        and mixes them when ``mixup`` is set (see the class Notes)."""
        if self.augment:
            Xi, yi = unpack_data(batch)
            batch = (random_crop_flip(to_tensor(Xi, device=self.device)), yi)
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

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """Criterion on the logits (log-softmax first for ``nn.NLLLoss``)."""
        if isinstance(self.criterion_, nn.NLLLoss):
            y_pred = torch.log_softmax(y_pred, dim=-1)
        return NeuralNet.get_loss(self, y_pred, y_true, *args, **kwargs)

    # ------------------------------------------------------------------ #
    # prediction, features, final layer
    # ------------------------------------------------------------------ #
    def _get_predict_nonlinearity(self):
        if isinstance(self.predict_nonlinearity, str) and (
            self.predict_nonlinearity == "auto"
        ):
            self.check_is_fitted()
            return partial(torch.softmax, dim=-1)
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities: the softmax of the logits.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order.
        """
        return super().predict_proba(self._check_predict_input(X))

    def predict(self, X):
        """Most probable class label for each sample.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def transform(self, X):
        """Penultimate (backbone) features, computed in eval mode.

        BatchNorm statistics and parameters are left untouched and each
        submodule's train/eval mode is restored afterwards.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), dtype float32
            Output of the backbone (the input of the final classifier) for
            each sample.
        """
        features = self._transform_tensor(X, keep_device=False)
        return features.numpy().astype(np.float32, copy=False)

    def _feature_device(self):
        """The device the features are computed on (the net's ``device``)."""
        return self.device

    def _transform_tensor(self, X, keep_device=True):
        """:meth:`transform` as a tensor, left on ``device`` unless told otherwise.

        A head with the same ``device`` takes it without a copy through host
        memory (see :class:`~ltsk.DecoupledClassifier`).
        """
        X = self._check_predict_input(X)
        iterator = self.get_iterator(self.get_dataset(X), training=False)
        features = []
        with _eval_mode(self.module_), torch.no_grad():
            for batch in iterator:
                Xi, _ = unpack_data(batch)
                out = self.module_.features(to_tensor(Xi, self.device))
                features.append(out if keep_device else out.cpu())
        return torch.cat(features)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit the net, then return the features of ``X`` (see :meth:`transform`).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or torch Dataset
            Training inputs, as for :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            Labels of any type; optional when ``X`` is a dataset.
        **fit_params : dict
            Passed on to skorch's fit (forward / train_split parameters).
            ``sample_weight`` is not supported and raises a ``TypeError``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), dtype float32
            Output of the backbone (the input of the final classifier) for
            each sample of ``X``, from the fitted net.
        """
        return self.fit(X, y, **fit_params).transform(X)

    def _final_layer(self) -> tuple[np.ndarray, np.ndarray]:
        self.check_is_fitted()
        classifier = self.module_.classifier
        with torch.no_grad():
            if isinstance(classifier, nn.Linear):
                weight = classifier.weight.detach().cpu().numpy().copy()
                if classifier.bias is None:
                    bias = np.zeros(weight.shape[0], dtype=weight.dtype)
                else:
                    bias = classifier.bias.detach().cpu().numpy().copy()
                return weight, bias
            # A cosine classifier maps unit vector e_k to w_jk / ||w_j||: probing
            # with the identity reads the normalised rows whatever the layout.
            param = next(classifier.parameters())
            n_features = classifier.in_features
            eye = torch.eye(n_features, dtype=param.dtype, device=param.device)
            with _eval_mode(classifier):
                weight = classifier(eye).T.cpu().numpy().copy()
            return weight, np.zeros(weight.shape[0], dtype=weight.dtype)

    @property
    def coef_(self) -> np.ndarray:
        """Final-layer weights, shape (n_classes, n_features).

        Rows are in ``classes_`` order. For a cosine classifier (LDAM): the
        L2-normalised rows; the net's logits are then ``cos`` = normalised
        features times these rows, and ``argmax(F @ coef_.T)`` equals the net's
        prediction because normalising a feature row by a positive number
        preserves the argmax.
        """
        return self._final_layer()[0]

    @property
    def intercept_(self) -> np.ndarray:
        """Final-layer bias, shape (n_classes,) (zeros for a cosine classifier)."""
        return self._final_layer()[1]
