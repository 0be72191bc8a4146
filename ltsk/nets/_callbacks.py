"""Training callbacks for LongTailNetClassifier: deferred re-weighting (DRW), and
progress reports that read well on a terminal and in a log file."""

import functools
import sys
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from skorch.callbacks import Callback, PrintLog, ProgressBar

from ltsk.losses._weights import _SCHEMES, class_weights

# Where the criterion keeps the weights it had before DRW first touched it, so
# that every fit (also a warm-started one, or a refit reusing the instance)
# starts from the user's weights.
_ORIGINAL = "_drw_original_weight"


def _criterion_dtype(net, criterion) -> torch.dtype:
    weight = getattr(criterion, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.is_floating_point():
        return weight.dtype
    for param in net.module_.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.get_default_dtype()


class DeferredReweighting(Callback):
    r"""Switch the criterion to class-balanced weights at a given epoch (DRW).

    Deferred re-weighting trains with the criterion's own weights (none, by
    default) for the first ``start_epoch`` epochs, then sets its class
    weights to ``class_weights(net.class_counts_, scheme, beta=beta,
    power=power)`` for the rest of training (Cao et al. [1]_, who switch at
    the first learning-rate decay and pair it with
    :class:`~ltsk.losses.LDAMLoss`).

    Parameters
    ----------
    start_epoch : int >= 0
        0-based index of the first re-weighted epoch: epochs ``0, ...,
        start_epoch - 1`` use the original weights, epochs ``start_epoch``
        onwards the class-balanced ones. The index is the epoch's position in
        ``net.history`` (``len(net.history) - 1`` while it runs, i.e. the
        history's 1-based ``"epoch"`` column minus one), the count skorch's
        ``LRScheduler`` uses, so ``start_epoch=k`` pairs with a scheduler
        milestone at ``k``. A warm-started fit or ``partial_fit`` continues
        the count. ``start_epoch=0`` re-weights from the start.
        ``start_epoch >= max_epochs`` (counting the epochs already in the
        history) is allowed but emits a ``UserWarning`` at the start of
        ``fit``: the weights would never be switched on.
    beta : float in (0, 1), default=0.9999
        Hyper-parameter of ``scheme="effective_number"``.
    scheme : str, default="effective_number"
        Re-weighting family of :func:`ltsk.losses.class_weights`:
        ``"effective_number"``, ``"inverse"``, ``"sqrt_inverse"`` or
        ``"power"``.
    power : float >= 0, default=1.0
        Exponent of ``scheme="power"``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_classes,)
        The class weights switched on (set at the start of each fit).
    switched_ : bool
        Whether the weights have been switched on in the current fit.

    Notes
    -----
    From epoch ``start_epoch`` on, a sample of class :math:`y` has its loss
    weighted by

    .. math:: w_y = C \, \frac{(1 - \beta) / (1 - \beta^{n_y})}
              {\sum_{j} (1 - \beta) / (1 - \beta^{n_j})}

    (the inverse effective number of Cui et al., normalised to sum to
    :math:`C`), with :math:`n_j` the training counts ``net.class_counts_``.

    The criterion needs an assignable ``weight`` attribute holding one weight
    per class: :class:`~ltsk.losses.LDAMLoss`,
    :class:`~ltsk.losses.ClassBalancedLoss` (whose own weights are then the
    "original" ones; with ``beta=0`` they are all 1, which makes
    ``ClassBalancedLoss(beta=0, gamma=2)`` a focal loss with DRW),
    ``nn.CrossEntropyLoss`` and ``nn.NLLLoss``. The weights are given the
    dtype and device of the criterion's weight, or else of the module's
    parameters. Other criteria (``FocalLoss``, ``LogitAdjustedLoss``, ...)
    raise a ``TypeError``.

    At the start of every fit the criterion's original weights are restored,
    so a refit, a clone or a warm start never begins from switched weights.
    Parameters are validated at the start of ``fit``.

    References
    ----------
    .. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma, "Learning
       Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
       NeurIPS 2019 (LDAM-DRW).
    .. [2] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.losses import LDAMLoss
    >>> from ltsk.nets import MLP, DeferredReweighting, LongTailNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [60, 20, 5])
    >>> X = rng.normal(size=(85, 4)) + y[:, None]
    >>> net = LongTailNetClassifier(
    ...     MLP, criterion=LDAMLoss, max_epochs=4, random_state=0,
    ...     callbacks=[DeferredReweighting(start_epoch=2, beta=0.99)],
    ... ).fit(X, y)
    >>> net.criterion_.weight
    tensor([0.2357, 0.5862, 2.1781])
    """

    _parameter_constraints: ClassVar[dict] = {
        "start_epoch": [Interval(Integral, 0, None, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="neither")],
        "scheme": [StrOptions(set(_SCHEMES))],
        "power": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, start_epoch, beta=0.9999, scheme="effective_number", power=1.0):
        self.start_epoch = start_epoch
        self.beta = beta
        self.scheme = scheme
        self.power = power

    def _validate(self, net) -> None:
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        criterion = net.criterion_
        if not hasattr(criterion, "weight"):
            raise TypeError(
                f"{type(self).__name__} needs a criterion with a `weight` "
                "attribute for class weights (LDAMLoss, ClassBalancedLoss, "
                "nn.CrossEntropyLoss, nn.NLLLoss); "
                f"{type(criterion).__name__} has none."
            )
        remaining = len(net.history) + net.max_epochs
        if self.start_epoch >= remaining:
            warnings.warn(
                f"start_epoch={self.start_epoch} >= the {remaining} epochs of this "
                f"fit (max_epochs={net.max_epochs} plus {len(net.history)} "
                "already in the history): DeferredReweighting will never switch "
                "the class weights on.",
                UserWarning,
                stacklevel=2,
            )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._validate(net)
        criterion = net.criterion_
        if _ORIGINAL in vars(criterion):
            original = vars(criterion)[_ORIGINAL]
            self._assign(net, criterion, original)
        else:
            weight = criterion.weight
            if isinstance(weight, torch.Tensor):
                weight = weight.detach().clone()
            # Plain instance attribute (not a buffer): it must not appear in
            # the criterion's state_dict.
            object.__setattr__(criterion, _ORIGINAL, weight)
        self.weights_ = class_weights(
            net.class_counts_, self.scheme, beta=self.beta, power=self.power
        )
        self.switched_ = False

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        if epoch >= self.start_epoch and not self.switched_:
            self._assign(net, net.criterion_, self.weights_)
            self.switched_ = True

    @staticmethod
    def _assign(net, criterion, weight) -> None:
        if weight is not None:
            dtype = _criterion_dtype(net, criterion)
            current = getattr(criterion, "weight", None)
            device = current.device if isinstance(current, torch.Tensor) else net.device
            if isinstance(weight, torch.Tensor):
                weight = weight.detach().to(device=device, dtype=dtype)
            else:
                weight = torch.as_tensor(np.asarray(weight), dtype=dtype, device=device)
        criterion.weight = weight


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class PlainPrintLog(PrintLog):
    """skorch's epoch table without its ANSI colour codes (for logs and files).

    skorch's :class:`~skorch.callbacks.PrintLog` colours the best value of each
    column with terminal escape codes, which a log file shows as ``[34m...``.
    """

    def format_row(self, row, key, color):
        plain = {k: v for k, v in row.items() if not k.endswith("_best")}
        return super().format_row(plain, key, color)


class EpochBar(Callback):
    """A tqdm bar over the epochs of one fit, with the last training loss.

    Draws on ``stream`` (default ``sys.stderr``) only when it is a terminal:
    redirected to a file, a bar is a line of carriage returns, so nothing is
    drawn and the caller logs one line when the fit ends. The bar is removed
    when the fit ends (``leave=False``).
    """

    def __init__(self, name="", stream=None):
        self.name = name
        self.stream = stream

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm import tqdm

        stream = sys.stderr if self.stream is None else self.stream
        self.bar_ = tqdm(
            total=net.max_epochs,
            desc=self.name,
            unit="epoch",
            file=stream,
            leave=False,
            dynamic_ncols=True,
            mininterval=0,  # an epoch is long: redraw after each one
            disable=not _is_terminal(stream),
        )

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.bar_.close()


def _print_stdout(text) -> None:
    # A module-level sink: a fitted net stays picklable, and the text goes to
    # the sys.stdout of the moment (pytest's capture, a redirected log).
    print(text, file=sys.stdout, flush=True)


def progress_callbacks(verbose, stream=None):
    """The skorch progress callbacks for a net's ``verbose`` and output stream.

    ``verbose=0``: none (silent). Otherwise, on a terminal, skorch's
    :class:`~skorch.callbacks.ProgressBar` (a tqdm bar over each epoch's
    batches) and its coloured :class:`~skorch.callbacks.PrintLog` table; when
    ``stream`` is not a terminal (a log file, a CI job), only the table, as
    :class:`PlainPrintLog` (no ANSI colour codes) and no bar.

    Returns a list of ``(name, callback)``; the nets' default callbacks use it
    in place of skorch's ``("print_log", PrintLog())``, renaming
    ``progress_log`` to ``print_log``. ``stream=None`` is ``sys.stdout``.
    """
    if not verbose:
        return []
    if stream is None:
        stream, sink = sys.stdout, _print_stdout
    else:
        sink = functools.partial(print, file=stream, flush=True)
    if not _is_terminal(stream):
        return [("progress_log", PlainPrintLog(sink=sink))]
    callbacks = [("progress_log", PrintLog(sink=sink))]
    if _is_terminal(sys.stderr):  # where skorch's ProgressBar (tqdm) draws
        callbacks.insert(0, ("progress_bar", ProgressBar()))
    return callbacks
