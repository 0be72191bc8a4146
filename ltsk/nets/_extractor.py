"""TorchExtractor: any trained ``nn.Module`` as a frozen scikit-learn transformer."""

import copy
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["TorchExtractor"]


class _Captured(Exception):
    """Raised by the pre-hook once the layer's input is captured: ends the forward."""


def _module_dtype_device(module):
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype, tensor.device
    for tensor in (*module.parameters(), *module.buffers()):
        return torch.get_default_dtype(), tensor.device
    return torch.get_default_dtype(), torch.device("cpu")


class _eval_mode:
    """Put every submodule in eval mode; restore each one's own mode on exit."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.module.modules()]
        self.module.eval()

    def __exit__(self, *exc):
        for m, training in self.modes:
            m.training = training


class TorchExtractor(TransformerMixin, BaseEstimator):
    """A trained torch module as a frozen feature extractor.

    Wraps any ``nn.Module`` so that it can be the ``extractor`` of
    :class:`~ltsk.DecoupledClassifier` (or a step of a Pipeline): ``transform``
    runs the module in eval mode without gradients, in batches, on the device
    of its parameters, and returns float32 features. The features are the
    module's output (``layer=None``) or the input of one of its sub-modules
    (``layer="fc"``); in the second case a linear sub-module's weights are the
    joint classifier (``coef_`` / ``intercept_``) the heads start from.

    The module is used as it is: it is never trained, moved or modified
    (each sub-module's train/eval mode is restored after every call).

    Parameters
    ----------
    module : torch.nn.Module
        The trained model, e.g. a torchvision ResNet or a timm ViT. Move it to
        its device first (``model.to("cuda")``): inputs follow the module.
    layer : str or None, default=None
        ``None``: the features are the module's output. A name from
        ``module.named_modules()`` (dotted for nested ones, e.g. ``"fc"``,
        ``"head"``, ``"classifier.1"``): the features are the input of that
        sub-module, captured by a forward pre-hook, and the forward pass stops
        there (the layers after it are not computed). When the sub-module is
        an ``nn.Linear``, its weights are ``coef_`` and ``intercept_``.
    classes : array-like of shape (n_classes,) or None, default=None
        The class label of each output unit of ``layer``, in the module's
        order (e.g. the names of ImageNet's classes, in index order). ``None``
        uses ``0, ..., n_classes - 1``. Must be unique; ``classes_`` holds
        them sorted, with ``coef_`` rows in that order.
    batch_size : int >= 1, default=256
        Samples per forward pass.

    Attributes
    ----------
    n_features_in_ : int
        Size of the second axis of the array or tensor given to ``fit``.
        Defined only after ``fit`` with such an input.
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels. Defined when ``layer`` names an ``nn.Linear``, or
        when ``classes`` is given.
    coef_ : ndarray of shape (n_classes, n_features), dtype float32
        Weights of the ``nn.Linear`` named by ``layer``, rows in ``classes_``
        order. Not defined for ``layer=None`` or a layer of another type.
    intercept_ : ndarray of shape (n_classes,), dtype float32
        Its bias (zeros when it has none), in ``classes_`` order.

    See Also
    --------
    ltsk.DecoupledClassifier : re-balances a head on the extracted features.
    ltsk.nets.LongTailNetClassifier : trains a network; also an extractor.

    Notes
    -----
    There is nothing to learn: ``fit`` only validates the parameters and the
    input, and the estimator counts as fitted from construction
    (scikit-learn's ``requires_fit=False`` tag), so it can be passed unfitted
    to :class:`~ltsk.DecoupledClassifier`. ``coef_``, ``intercept_`` and
    ``classes_`` are read from the module at each access. After ``fit`` on an
    array or a tensor, ``transform`` requires inputs of the same width
    (``n_features_in_``); a torch Dataset is only read by ``transform``.
    Inputs holding NaN or infinity are an error (checked batch by batch), as
    the features of such inputs would not be finite.

    :func:`~sklearn.base.clone` shares the module instead of deep-copying it:
    the module is the frozen, pretrained state (as in
    :class:`~sklearn.frozen.FrozenEstimator`), never modified here, and a deep
    copy per clone would duplicate the weights of a large model in memory for
    every candidate of a search. Pickling stores the module (its class must
    be importable when loading).

    With ``layer`` set, ``DecoupledClassifier(TorchExtractor(model,
    layer=...), LogitAdjustedHead(tau=0))`` predicts as the model does: the
    head's scores are :math:`F W^\\top + b`, the linear layer's own output.
    Features of more than two dimensions (a layer whose input is a feature
    map or a token sequence) are flattened per sample. When the layer is
    called more than once in a forward pass, its first input is taken.
    Inputs are not normalised or resized: pass what the model expects (for a
    torchvision model, its ``weights.transforms()`` applied in a Dataset).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from ltsk.nets import TorchExtractor
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential()
    >>> model.add_module("body", nn.Sequential(nn.Linear(4, 8), nn.ReLU()))
    >>> model.add_module("fc", nn.Linear(8, 3))
    >>> extractor = TorchExtractor(model, layer="fc", classes=["a", "b", "c"])
    >>> X = torch.randn(5, 4).numpy()
    >>> extractor.transform(X).shape, extractor.coef_.shape
    ((5, 8), (3, 8))
    >>> extractor.classes_
    array(['a', 'b', 'c'], dtype='<U1')
    """

    _parameter_constraints: ClassVar[dict] = {
        "module": [nn.Module],
        "layer": [str, None],
        "classes": ["array-like", None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, module, *, layer=None, classes=None, batch_size=256):
        self.module = module
        self.layer = layer
        self.classes = classes
        self.batch_size = batch_size

    def __sklearn_clone__(self):
        # Share the frozen module (see Notes); copy the other parameters.
        params = self.get_params(deep=False)
        params["classes"] = copy.deepcopy(self.classes)
        return type(self)(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Validate the parameters and, when given, the input; nothing is trained.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...), torch.Tensor, \
                torch Dataset or None, default=None
            Model inputs. An array or a tensor is checked (finite, at least 2-D
            and 1 sample) and sets ``n_features_in_`` (its second axis), which
            ``transform`` then checks; a Dataset or ``None`` is not read.
        y : ignored
            Not used, present for API consistency.

        Returns
        -------
        self : TorchExtractor
            This extractor.
        """
        self._check_layer()
        self._class_order()
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, name):
                delattr(self, name)
        if X is not None and not isinstance(X, Dataset):
            X = self._validate_input(X, reset=True)
            if X.ndim < 2:
                raise ValueError(
                    "Expected 2D array (n_samples, n_features, ...), got an input "
                    f"of shape {tuple(X.shape)}; reshape a single feature with "
                    "X.reshape(-1, 1)."
                )
            self._check_finite(X)
        return self

    def _validate_input(self, X, reset):
        """Array-like input as a numeric array (a tensor stays a tensor)."""
        if isinstance(X, torch.Tensor):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.is_complex():
                raise ValueError("Complex data not supported.")
        else:
            X = validate_data(
                self,
                X,
                reset=reset,
                dtype="numeric",
                allow_nd=True,
                ensure_min_samples=0,
                ensure_all_finite=False,
            )
            if X.dtype.kind not in "biuf":
                raise ValueError(
                    "X must be a real numeric array, a torch tensor or a torch "
                    f"Dataset; got an array of dtype {X.dtype}."
                )
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(
                f"X must hold at least 1 sample along its first axis; got shape "
                f"{tuple(X.shape)}."
            )
        return X

    @staticmethod
    def _check_finite(batch):
        if isinstance(batch, np.ndarray):
            finite = batch.dtype.kind != "f" or np.isfinite(batch).all()
        else:
            finite = not batch.is_floating_point() or torch.isfinite(batch).all()
        if not finite:
            raise ValueError(
                "Input X contains NaN or infinity; the module's features would "
                "not be finite."
            )

    def _check_layer(self):
        """The sub-module named by ``layer`` (None for ``layer=None``)."""
        if self.layer is None:
            return None
        try:
            return self.module.get_submodule(self.layer)
        except AttributeError:
            names = [name for name, _ in self.module.named_modules() if name]
            shown = ", ".join(repr(n) for n in names[:12])
            more = f" and {len(names) - 12} more" if len(names) > 12 else ""
            raise ValueError(
                f"layer={self.layer!r} is not a sub-module of the "
                f"{type(self.module).__name__}; its sub-modules are {shown}{more}."
            ) from None

    def _linear(self):
        layer = self._check_layer()
        return layer if isinstance(layer, nn.Linear) else None

    def _class_order(self):
        """``(classes_, order)``: sorted labels and their output units."""
        linear = self._linear()
        n_out = None if linear is None else linear.out_features
        if self.classes is None:
            if n_out is None:
                return None, None
            return np.arange(n_out), np.arange(n_out)
        classes = np.asarray(self.classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be 1-D, one label per output unit; got shape "
                f"{classes.shape}."
            )
        if n_out is not None and classes.shape[0] != n_out:
            raise ValueError(
                f"classes has {classes.shape[0]} labels but layer={self.layer!r} "
                f"has {n_out} output units; give one label per unit."
            )
        order = np.argsort(classes, kind="stable")
        sorted_classes = classes[order]
        if np.any(sorted_classes[1:] == sorted_classes[:-1]):
            raise ValueError("classes must be unique; it has repeated labels.")
        return sorted_classes, order

    def _joint(self):
        self._validate_params()
        linear = self._linear()
        if linear is None:
            raise AttributeError(
                "coef_ and intercept_ are defined when layer names an nn.Linear "
                f"sub-module; layer={self.layer!r}."
            )
        _, order = self._class_order()
        with torch.no_grad():
            weight = linear.weight.detach().to("cpu", torch.float32).numpy()
            if linear.bias is None:
                bias = np.zeros(weight.shape[0], dtype=np.float32)
            else:
                bias = linear.bias.detach().to("cpu", torch.float32).numpy()
        return weight[order].copy(), bias[order].copy()

    @property
    def coef_(self):
        """Weights of the linear ``layer``, shape (n_classes, n_features)."""
        return self._joint()[0]

    @property
    def intercept_(self):
        """Bias of the linear ``layer``, shape (n_classes,)."""
        return self._joint()[1]

    @property
    def classes_(self):
        """Sorted class labels of the output units of ``layer``."""
        self._validate_params()
        classes, _ = self._class_order()
        if classes is None:
            raise AttributeError(
                "classes_ is defined when layer names an nn.Linear sub-module or "
                "classes is given."
            )
        return classes

    def _batches(self, X, dtype, device):
        if isinstance(X, Dataset):
            if len(X) == 0:
                raise ValueError("X is an empty Dataset; need at least 1 sample.")
            loader = DataLoader(X, batch_size=self.batch_size, shuffle=False)
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]  # (x, label) items
                self._check_finite(batch)
                if batch.is_floating_point():
                    batch = batch.to(dtype)
                yield batch.to(device)
            return
        # a memmap or any array-like is copied one batch at a time, so that a
        # module writing to its input in place cannot change the caller's data
        X = self._validate_input(X, reset=False)
        for start in range(0, X.shape[0], self.batch_size):
            batch = X[start : start + self.batch_size]
            if isinstance(batch, np.ndarray):
                batch = torch.from_numpy(np.array(batch))
            self._check_finite(batch)
            if batch.is_floating_point():
                batch = batch.to(dtype)
            yield batch.to(device)

    def transform(self, X):
        """Compute the features of ``X``: the module's output, or ``layer``'s input.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch.Tensor or torch Dataset
            Model inputs. Floating-point arrays are cast to the module's
            floating dtype; a Dataset's items are inputs or ``(input, label)``
            pairs.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), dtype float32
            One row per sample; features of more than one dimension are
            flattened.
        """
        return self._transform_tensor(X, keep_device=False).numpy()

    def _feature_device(self):
        """The device the features are computed on (the module's)."""
        return _module_dtype_device(self.module)[1]

    def _transform_tensor(self, X, keep_device=True):
        """:meth:`transform` as a float32 tensor, left on the module's device.

        A head with the same ``device`` takes it without a copy through host
        memory (see :class:`~ltsk.DecoupledClassifier`).
        """
        self._validate_params()
        self._class_order()
        layer = self._check_layer()
        captured = []

        def capture(module, args):
            captured.append(args[0])
            raise _Captured

        dtype, device = _module_dtype_device(self.module)
        features = []
        with _eval_mode(self.module), torch.inference_mode():
            for batch in self._batches(X, dtype, device):
                if layer is None:
                    out = self.module(batch)
                else:
                    handle = layer.register_forward_pre_hook(capture)
                    try:
                        self.module(batch)
                    except _Captured:
                        pass
                    finally:
                        handle.remove()
                    if not captured:
                        raise RuntimeError(
                            f"layer={self.layer!r} was not called in the forward "
                            "pass of the module; name a sub-module that the "
                            "forward uses."
                        )
                    out = captured.pop()
                    captured.clear()
                if not isinstance(out, torch.Tensor):
                    where = "the module" if layer is None else f"layer={self.layer!r}"
                    raise TypeError(
                        f"The output of {where} is a {type(out).__name__}, not a "
                        "tensor; set layer to a sub-module whose input is the "
                        "feature tensor."
                    )
                out = out.reshape(out.shape[0], -1).to(dtype=torch.float32)
                features.append(out if keep_device else out.to("cpu"))
        return torch.cat(features)
