"""L-BFGS on an objective written in torch, gradients by autograd.

For heads whose scores are not linear in the features (or whose objective is
simpler to state than to differentiate by hand): the head writes the loss of a
block of rows as a torch function of its parameters, and :func:`fit_autograd`
minimises the sum over all blocks plus a penalty with the same L-BFGS driver
and the same abnormal-stop rules as the numpy heads
(:func:`~ltsk.heads._solver.minimize_lbfgs`). torch is imported when a fit
starts, so ``import ltsk.heads`` stays torch-free, and the fitted parameters
come back as numpy arrays: predicting needs no torch.
"""

from collections.abc import Callable

import numpy as np
from scipy import sparse
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ltsk.heads._device import is_tensor
from ltsk.heads._solver import minimize_lbfgs

_SMALL_PROBLEM_BYTES = 64 * 2**20
_BLOCK_MIB = 16
_MIN_HOST_ROWS = 64


def block_tensor(F, rows, device=None):
    """Rows ``rows`` of ``F`` as a float64 torch tensor (a sparse block densified).

    Only one row block is densified at a time, so sparse ``F`` is never
    densified whole. With a ``device`` (a head's ``device`` path), the block
    goes there; ``F`` may then be a tensor already on it.
    """
    import torch

    if device is not None:
        return device_rows(F, rows, device)
    block = F[rows]
    if sparse.issparse(block):
        block = block.toarray()
    return torch.as_tensor(np.asarray(block, dtype=np.float64))


def device_rows(F, rows, device, dtype=None):
    """Rows ``rows`` of ``F`` as a dense ``dtype`` tensor on ``device``.

    A tensor already there is sliced (no copy through the host); a host array
    moves one block at a time, a sparse block densified first.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    block = F[rows]
    if is_tensor(block):
        return block.to(device=device, dtype=dtype)
    if sparse.issparse(block):
        block = block.toarray()
    return on_device(block, device, dtype)


def on_device(values, device, dtype=None):
    """A host array as a ``dtype`` (default float64) tensor on ``device``."""
    import torch

    dtype = torch.float64 if dtype is None else dtype
    values = np.asarray(values)
    if not values.flags.writeable:
        # torch refuses to share read-only memory (a memmap opened "r").
        values = values.copy()
    return torch.as_tensor(values, device=device).to(dtype)


def host_block_rows(block, device):
    """Rows of a block of ``block`` rows' budget, for the objective on ``device``.

    On the CPU, glibc raises its mmap threshold to the size of the block
    tensors torch frees, so the next blocks' tensors come from its heap,
    which holds on to them: measured with ``benchmarks/bench_memory.py``,
    DisAlign and MARC (when their fit without ``device`` ran here) held two
    to three times their block budget (and the budget itself with
    ``MALLOC_MMAP_THRESHOLD_`` fixed). CPU blocks (``device`` "cpu" or None) are
    therefore a third the rows, but not below ``_MIN_HOST_ROWS`` (nor above
    ``block``): with thousands of classes, blocks of a few rows cost more in
    per-block overhead than they save. A GPU's blocks keep their size.
    """
    if device is not None and device.type != "cpu":
        return block
    return max(block // 3, min(block, _MIN_HOST_ROWS))


def autograd_objective(
    block_loss: Callable,
    shapes: dict[str, tuple[int, ...]],
    n_samples: int,
    *,
    row_bytes: int,
    penalty: Callable | None = None,
    device=None,
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The objective as ``fun(x) -> (value, gradient)`` on a flat float64 vector.

    ``x`` is the concatenation of the parameters named in ``shapes`` (in that
    order, each raveled). Each evaluation runs ``block_loss(params, rows)`` on
    row blocks of at most 16 MiB of intermediates, or scikit-learn's
    ``working_memory`` if smaller (``row_bytes`` is the memory one row of the
    block's intermediates takes) and calls
    ``backward`` per block, so autograd never holds the graph of more than one
    block: the memory does not grow with ``n_samples``.

    Parameters
    ----------
    block_loss : callable
        ``block_loss(params, rows) -> 0-d tensor``: the loss of the rows
        ``rows`` (a slice), summed, from a dict of float64 tensors.
    shapes : dict of str to tuple of int
        Name and shape of each parameter.
    n_samples : int
        Number of rows the blocks cover.
    row_bytes : int
        Bytes per row of a block's intermediates (sets the block size).
    penalty : callable or None, default=None
        ``penalty(params) -> 0-d tensor``, added once per evaluation.
    device : torch.device or None, default=None
        Where the parameters live (None: torch's default, the CPU). Each
        evaluation copies ``x`` there and the gradient back.

    Returns
    -------
    fun : callable
        ``fun(x) -> (float, ndarray of shape x.shape)``.
    """
    import torch

    sizes = [int(np.prod(shape)) for shape in shapes.values()]
    offsets = np.cumsum([0, *sizes])
    # Blocks of a few MiB, never more than working_memory: autograd keeps
    # several (rows, classes) intermediates per block, and per-block overhead
    # is negligible from a few hundred rows on.
    working_memory = min(get_config()["working_memory"], _BLOCK_MIB)
    block = get_chunk_n_rows(
        max(row_bytes, 1),
        max_n_rows=max(n_samples, 1),
        working_memory=working_memory,
    )
    block = host_block_rows(block, None if device is None else torch.device(device))

    def split(flat):
        return {
            name: flat[start:stop].view(shape)
            for (name, shape), start, stop in zip(
                shapes.items(), offsets[:-1], offsets[1:], strict=True
            )
        }

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        flat = torch.tensor(x, dtype=torch.float64, device=device, requires_grad=True)
        value = 0.0
        terms = [] if penalty is None else [lambda: penalty(split(flat))]
        terms += [
            (lambda rows=rows: block_loss(split(flat), rows))
            for rows in gen_batches(n_samples, block)
        ]
        for term in terms:
            # One graph at a time: backward frees it before the next block.
            loss = term()
            if loss.requires_grad:
                loss.backward()
            value += float(loss.detach())
        if flat.grad is None:
            return value, np.zeros_like(x)
        return value, flat.grad.cpu().numpy().copy()

    return fun


def fit_autograd(
    block_loss: Callable,
    params0: dict[str, np.ndarray],
    n_samples: int,
    *,
    row_bytes: int,
    penalty: Callable | None = None,
    max_iter: int,
    tol: float,
    owner: str,
    n_classes: int = 1,
    device=None,
) -> tuple[dict[str, np.ndarray], int]:
    """Minimise ``sum of block_loss over row blocks + penalty`` with L-BFGS-B.

    The objective is evaluated in float64 by torch (see
    :func:`autograd_objective`) and minimised by scipy's L-BFGS-B through
    :func:`~ltsk.heads._solver.minimize_lbfgs`: the objective is divided by
    its value at the start, ``tol`` bounds the largest component of that
    scaled gradient divided by ``n_classes`` (the number of classes in the
    fit; see :func:`~ltsk.heads._solver.minimize_lbfgs`), an abnormal stop warns with
    :class:`~sklearn.exceptions.ConvergenceWarning` and a non-finite objective
    raises ``FloatingPointError`` naming ``owner``. The objective must be
    non-negative (a loss plus a penalty).

    Parameters
    ----------
    block_loss, n_samples, row_bytes, penalty
        As in :func:`autograd_objective`.
    params0 : dict of str to ndarray
        Starting value of each parameter.
    max_iter : int
        Maximum number of L-BFGS iterations.
    tol : float
        Gradient tolerance of the scaled objective.
    owner : str
        Name used in warnings and errors.
    n_classes : int, default=1
        Number of classes in the fit (divides ``tol``).
    device : torch.device or None, default=None
        As in :func:`autograd_objective`.

    Returns
    -------
    params : dict of str to ndarray
        The fitted parameters, float64, shapes as in ``params0``.
    n_iter : int
        Number of L-BFGS iterations run.
    """
    shapes = {name: np.shape(value) for name, value in params0.items()}
    x0 = np.concatenate(
        [np.asarray(value, dtype=np.float64).ravel() for value in params0.values()]
    )
    fun = autograd_objective(
        block_loss,
        shapes,
        n_samples,
        row_bytes=row_bytes,
        penalty=penalty,
        device=device,
    )
    import torch

    # Below this work per evaluation torch's thread pool costs more than it
    # gains: a 100 x 3 cross-entropy takes 10 us on one thread and 25 ms on
    # two busy cores, where the pool's threads wait for each other.
    threads = torch.get_num_threads()
    if n_samples * row_bytes < _SMALL_PROBLEM_BYTES:
        torch.set_num_threads(1)
    try:
        x, n_iter = minimize_lbfgs(
            fun,
            x0,
            max_iter=max_iter,
            tol=tol,
            dtype=np.float64,
            owner=owner,
            n_classes=n_classes,
        )
    finally:
        torch.set_num_threads(threads)
    params = {}
    start = 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        params[name] = x[start : start + size].reshape(shape)
        start += size
    return params, n_iter


def fit_head_autograd(head, loss_terms, params0, n_samples, n_classes):
    """:func:`fit_autograd` with ``head``'s ``max_iter``, ``tol`` and device.

    ``loss_terms`` is ``(block_loss, penalty, row_bytes)``, as the heads'
    torch losses return them; the head's name goes into warnings and errors.
    """
    block_loss, penalty, row_bytes = loss_terms
    return fit_autograd(
        block_loss,
        params0,
        n_samples,
        row_bytes=row_bytes,
        penalty=penalty,
        max_iter=head.max_iter,
        tol=head.tol,
        n_classes=n_classes,
        owner=type(head).__name__,
        device=head._torch_device(),
    )
