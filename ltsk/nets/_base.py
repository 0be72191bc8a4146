"""BaseLongTailNet: what every ltsk network shares, on top of skorch.

A training scheme that changes the architecture or the training step
subclasses :class:`BaseLongTailNet` (see docs/contributing.rst, "A training
scheme for the networks"); one that changes the loss or the sampling does not.
"""

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    validate_parameter_constraints,
)
from sklearn.utils.validation import _num_samples, validate_data
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EpochScoring, PrintLog, ProgressBar
from skorch.utils import is_dataset, to_tensor
from torch import nn
from torch.utils.data import DataLoader

from ltsk.nets._callbacks import progress_callbacks
from ltsk.nets._checks import (
    COMPONENT_EXAMPLES,
    build_component,
    class_weight_tensor,
    encode_labels,
    encoded_accuracy,
    refuse_instance_params,
    refuse_sample_weight,
    refuse_unknown_params,
    takes_class_counts,
)
from ltsk.nets._convergence import CollapseCheckMixin
from ltsk.nets._data import (
    CropFlip,
    EncodedDataset,
    pair_labels,
)
from ltsk.nets._inference import FeatureExtractorMixin
from ltsk.nets._loaders import LoaderMixin
from ltsk.nets._modules import NormedLinear


class BaseLongTailNet(
    CollapseCheckMixin, FeatureExtractorMixin, LoaderMixin, NeuralNetClassifier
):
    """Base class of ltsk's skorch networks; not meant to be used directly.

    It holds what every ltsk net shares: parameter validation, label encoding
    (any labels, a fixed ``classes`` set, ``partial_fit(classes=...)``), the
    class counts reaching a criterion that takes ``class_counts``, the cosine
    classifier for a criterion with ``normalized_classifier = True``, seeding
    by ``random_state``, the divergence check, the warning for a fit that ends
    as a constant predictor (``_convergence.CollapseCheckMixin``), loaders
    that serve in-memory arrays a batch at a time (``_loaders.LoaderMixin``),
    and ``predict`` / ``predict_proba`` / ``transform`` / ``coef_`` /
    ``intercept_`` (``_inference.FeatureExtractorMixin``).

    A subclass adds its parameters (extending ``_parameter_constraints``),
    builds ``module_`` in ``initialize_module`` from :meth:`_build_backbone`,
    :meth:`_build_component` and :meth:`_classifier_class`, as a module with
    ``features(x)`` and a final layer ``classifier``, and overrides only the
    skorch methods its scheme changes (``get_iterator``,
    ``train_step_single``, ``on_epoch_begin``).

    Parameters
    ----------
    module : nn.Module class or instance, or callable returning one
        The backbone.
    criterion : nn.Module class, instance or callable, default=nn.CrossEntropyLoss
        Loss on ``(logits, encoded targets)``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer of all parameters.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=20
        Number of training epochs of each ``fit`` or ``partial_fit`` call.
    batch_size : int, default=128
        Samples per batch; -1 uses the whole data set as one batch.
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all the data.
    classes : array-like or None, default=None
        Fixed label set; ``None`` takes the labels in ``y``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, sampling, dropout and augmentation.
    augment : bool, CropFlip or callable, default=False
        Augmentation of each training batch: ``True`` is
        ``CropFlip(padding=4, flip=True)``; a callable maps the torch input
        batch to a batch of the same length.
    progress_bar : bool, default=False
        Add skorch's ``ProgressBar`` callback.
    verbose : int, default=0
        0 is silent. Otherwise each epoch prints a row of skorch's table to
        ``sys.stdout``: coloured, with a bar over the epoch's batches on a
        terminal; plain lines, without ANSI colour codes, when the output is
        a file or a pipe (a log).
    device : str or torch.device, default="cpu"
        Device of the module and of each batch.
    **kwargs
        Further skorch parameters; any other name raises a ``TypeError``.
    """

    _parameter_constraints: ClassVar[dict] = {
        "module": [callable],
        "criterion": [callable],
        "lr": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Options(Integral, {-1}),
        ],
        "random_state": ["random_state"],
        "augment": ["boolean", callable],
        "progress_bar": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module,
        *,
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
        refuse_unknown_params(type(self).__name__, kwargs)
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
        self.random_state = random_state
        self.augment = augment
        self.progress_bar = progress_bar

    # ------------------------------------------------------------------ #
    # parameters, callbacks, pickling, tags
    # ------------------------------------------------------------------ #
    def _validate_params(self):
        # skorch uses this name for its own check of ``prefix__param`` names;
        # sklearn's @_fit_context calls it too, so run both checks here.
        for name, example in COMPONENT_EXAMPLES.items():
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
        self._check_params()
        # skorch's check needs the component prefixes registered by the first
        # initialize(), which calls this method again.
        if "module" in self.prefixes_:
            super()._validate_params()

    def _check_params(self) -> None:
        """Checks across parameters that ``_parameter_constraints`` cannot state."""

    @property
    def _default_callbacks(self):
        callbacks = [
            (name, cb)
            for name, cb in super()._default_callbacks
            if name not in ("valid_acc", "print_log")
        ]
        # skorch's valid_acc compares predict() (labels) with the encoded
        # targets; score the encoded predictions instead.
        callbacks.append(
            (
                "valid_acc",
                EpochScoring(encoded_accuracy, name="valid_acc", lower_is_better=False),
            )
        )
        # get_params reads this property, so a bad value must not raise here.
        verbose = getattr(self, "verbose", 0)
        progress = dict(progress_callbacks(verbose if isinstance(verbose, Real) else 0))
        if getattr(self, "progress_bar", False) is True:
            progress["progress_bar"] = ProgressBar()
        if "progress_bar" in progress:
            callbacks.append(("progress_bar", progress["progress_bar"]))
        # Keep skorch's name, so that callbacks__print_log=None still works;
        # at verbose=0 skorch's own PrintLog prints nothing.
        callbacks.append(("print_log", progress.get("progress_log", PrintLog())))
        return callbacks

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_" as a parameter: its
        # internal ``_params_to_validate`` (__init__ rebuilds it from the
        # ``prefix__name`` arguments) and scikit-learn's set_output
        # configuration (which clone copies itself) are not.
        internal = {"_params_to_validate", "_sklearn_output_config"}
        return [n for n in super()._get_param_names() if n not in internal]

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        # transform() gives features, so the net is also a transformer.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        return tags

    # ------------------------------------------------------------------ #
    # seeding, input validation
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
        """Validate raw labels, fit or check the label set; return encoded labels."""
        known = None if reset else self.classes_
        classes, encoded = encode_labels(y, n_samples, known, self.classes, classes)
        if reset:
            self.classes_inferred_ = classes
            self.class_counts_ = np.bincount(encoded, minlength=classes.size)
        return encoded

    def _check_array(self, X, y=None, *, reset: bool):
        kwargs = dict(dtype=np.float32, allow_nd=True, reset=reset)
        if y is None:
            return validate_data(self, X, **kwargs)
        return validate_data(self, X, y, **kwargs)

    def _prepare_fit(self, X, y, *, reset: bool, classes=None):
        """Validate training data; return (X, encoded y) ready for skorch."""
        if is_dataset(X):
            labels = y if y is not None else pair_labels(X)
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
            probe = torch.from_numpy(np.array(X[:2]))
        augmenter = self._augmenter()
        if isinstance(augmenter, CropFlip):
            shape = (len(X), *probe.shape[1:])
            augmenter._check_shape(shape)
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
        """``NormedLinear`` for a criterion with ``normalized_classifier``, else
        ``nn.Linear``."""
        criterion = self.criterion
        criterion_type = criterion if isinstance(criterion, type) else type(criterion)
        if getattr(criterion_type, "normalized_classifier", False):
            return NormedLinear
        return nn.Linear

    def _build_component(
        self, spec, prefix: str, inputs: torch.Tensor
    ) -> tuple[nn.Module, torch.Tensor]:
        """The ``prefix`` component built from ``spec`` and its output on ``inputs``."""
        kwargs = self.get_params_for(prefix)
        return build_component(spec, prefix, kwargs, inputs, self.device)

    def _build_backbone(self) -> tuple[nn.Module, torch.Tensor]:
        """The backbone (``module``) and its features of the probe batch."""
        if not hasattr(self, "_probe_input_"):
            raise ValueError(
                f"{type(self).__name__} sizes its classifier from the training "
                "data: call fit(X, y) instead of initialize()."
            )
        probe = to_tensor(self._probe_input_, device=self.device)
        return self._build_component(self.module, "module", probe)

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
        refuse_instance_params(self.criterion, "criterion", kwargs)
        if (
            isinstance(self.criterion, type)
            and "class_counts" not in kwargs
            and hasattr(self, "class_counts_")
            and takes_class_counts(self.criterion)
        ):
            kwargs["class_counts"] = self.class_counts_.copy()
        if isinstance(kwargs.get("weight"), np.ndarray | list | tuple | torch.Tensor):
            kwargs["weight"] = class_weight_tensor(
                kwargs["weight"], len(self.classes_), "criterion__weight"
            )
        criterion = self.criterion
        if isinstance(criterion, nn.Module):
            self.criterion_ = copy.deepcopy(criterion)
        else:
            self.criterion_ = criterion(**kwargs)
        weight = getattr(self.criterion_, "weight", None)
        if "weight" not in kwargs and isinstance(weight, torch.Tensor):
            class_weight_tensor(
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
        self : object
            The fitted net.
        """
        refuse_sample_weight(type(self).__name__, fit_params)
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
        self : object
            The net, trained further.
        """
        refuse_sample_weight(type(self).__name__, fit_params)
        reset = not self.initialized_
        X, y = self._prepare_fit(X, y, reset=reset, classes=classes)
        with self._seeded():
            NeuralNet.partial_fit(self, X, y, **fit_params)
        return self

    # ------------------------------------------------------------------ #
    # training
    # ------------------------------------------------------------------ #
    def _augmenter(self):
        """The callable behind ``augment`` (None for ``augment=False``)."""
        if self.augment is True:
            return CropFlip()
        return self.augment or None

    def _augmented(self, X) -> torch.Tensor:
        """A training batch on ``device``, passed through ``augment``."""
        X = to_tensor(X, device=self.device)
        augmenter = self._augmenter()
        if augmenter is None:
            return X
        out = augmenter(X)
        if not isinstance(out, torch.Tensor) or out.shape[:1] != X.shape[:1]:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out)
            raise ValueError(
                f"augment={self.augment!r} must return a torch tensor with the "
                f"batch's {len(X)} rows, got {got}."
            )
        return out

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Stop with an error once a training batch's loss is not finite.

        Parameters
        ----------
        net : BaseLongTailNet
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

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """Criterion on the logits (log-softmax first for ``nn.NLLLoss``)."""
        if isinstance(self.criterion_, nn.NLLLoss):
            y_pred = torch.log_softmax(y_pred, dim=-1)
        return NeuralNet.get_loss(self, y_pred, y_true, *args, **kwargs)
