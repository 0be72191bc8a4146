"""The heads' ``device`` path: solvers and scoring in torch on a torch device.

Imported only when a head's ``device`` is not None, so ``import ltsk.heads``
and every ``device=None`` fit stay torch-free. The solvers state the same
objectives as the numpy path, in float64, in the same variables and from the
same start, and hand them to the same scipy drivers
(:func:`~ltsk.heads._solver.minimize_lbfgs`,
:func:`~ltsk.heads._constrained.minimize_spg`) on the host: each evaluation
moves the parameter vector to the device and its gradient back (n_classes x
n_features floats per evaluation), while the features stay on the device, or
move there one row block at a time when they are a host array. Scoring runs
in row blocks on the device; only the (n_samples, n_classes) result (or the
predicted indices) comes back. The fitted attributes are numpy arrays.
"""

import numpy as np
import torch
from sklearn.utils import gen_batches

from ltsk.heads._autograd import autograd_objective, device_rows, fit_autograd
from ltsk.heads._autograd import on_device as _on
from ltsk.heads._constrained import minimize_spg, project_rows
from ltsk.heads._device import is_tensor
from ltsk.heads._solver import (
    balanced_weights,
    block_rows,
    check_focal_start,
    encode_present,
    minimize_lbfgs,
    original_units,
)

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def resolve_device(device):
    """The ``torch.device`` named by a head's ``device``; ValueError if unusable."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device: use None, 'cpu', 'cuda' "
            f"or 'cuda:N' ({exc})."
        ) from exc
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if resolved.index is None else resolved.index
        if index >= count:
            raise ValueError(
                f"device={device!r} is not available: torch sees {count} CUDA "
                "device(s). Use device=None (numpy) or device='cpu'."
            )
    elif resolved.type == "mps":
        # Checked before availability: the answer is the same on every Mac.
        raise ValueError(
            f"device={device!r} is not supported: the heads' solvers and scores "
            "compute in float64, which torch's MPS backend does not provide. Use "
            "device=None (numpy) or device='cpu'."
        )
    elif resolved.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported by the heads: use None, 'cpu', "
            "'cuda' or 'cuda:N'."
        )
    return resolved


def numpy_dtype(F):
    """The numpy dtype of a feature matrix (tensor or array)."""
    return np.dtype(_NUMPY_DTYPES[F.dtype]) if is_tensor(F) else F.dtype


def check_tensor(head, F, *, reset):
    """Validate a feature tensor as ``validate_data`` validates an array.

    The tensor stays where it is when it is on the head's device (else it is
    moved there once); a floating tensor other than float32/float64 is cast
    to float64. Finiteness is checked on the device (one scalar comes back).
    """
    device = resolve_device(head.device)
    if F.ndim != 2:
        raise ValueError(
            f"Expected a 2-D feature tensor, got a tensor of shape {tuple(F.shape)}."
        )
    if F.dtype not in _NUMPY_DTYPES:
        if F.dtype.is_complex:
            raise ValueError(f"F must be a real tensor, got dtype {F.dtype}.")
        F = F.to(torch.float64)
    F = F.to(device)
    if F.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(F.shape)}).")
    if not bool(torch.isfinite(F).all()):
        raise ValueError(f"Input F contains NaN or infinity ({type(head).__name__}).")
    if reset:
        head.n_features_in_ = F.shape[1]
        if hasattr(head, "feature_names_in_"):
            del head.feature_names_in_
    elif F.shape[1] != head.n_features_in_:
        raise ValueError(
            f"F has {F.shape[1]} features, but {type(head).__name__} is expecting "
            f"{head.n_features_in_} features as input."
        )
    return F


def to_host(values):
    """A small 1-D array-like (labels, weights) as a numpy array."""
    if is_tensor(values):
        return values.detach().cpu().numpy()
    return values


def _blocks(F, row_bytes):
    return gen_batches(F.shape[0], block_rows(max(row_bytes, 1), F.shape[0]))


def weighted_mean(F, weights, device):
    """``weights @ F`` in float64 on ``device``, in row blocks."""
    weights = _on(weights, device)
    mean = torch.zeros(F.shape[1], dtype=torch.float64, device=device)
    for rows in _blocks(F, 16 * F.shape[1]):
        mean += weights[rows] @ device_rows(F, rows, device)
    return mean


def _column_variance(F, weights, mu, device):
    weights = _on(weights, device)
    var = torch.zeros(F.shape[1], dtype=torch.float64, device=device)
    for rows in _blocks(F, 16 * F.shape[1]):
        centred = device_rows(F, rows, device) - mu
        var += weights[rows] @ (centred * centred)
    return var


def mean_column_variance(F, device, sample_weight=None):
    """Mean column variance on ``device``, as in the numpy solver."""
    if sample_weight is None:
        weights = np.full(F.shape[0], 1.0 / F.shape[0])
    else:
        weights = np.asarray(to_host(sample_weight), dtype=np.float64)
        weights = weights / weights.sum()
    mu = weighted_mean(F, weights, device)
    return float(torch.mean(_column_variance(F, weights, mu, device)))


def column_scales(F, weights, mu, alpha, device):
    r""":math:`\sqrt{\mathrm{var}_k + \alpha}` per column, as in the numpy solver."""
    scale = torch.sqrt(_column_variance(F, weights, mu, device) + alpha)
    bad = ~(scale > 0) | ~torch.isfinite(scale)
    return torch.where(bad, torch.ones_like(scale), scale)


def softmax_losses(logits, target, gamma):
    """Per-row cross-entropy, or focal loss for ``gamma > 0``."""
    log_pt = torch.log_softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
    if gamma == 0.0:
        return -log_pt
    # Clamped away from 0 so that (1 - p_t)**gamma has a finite gradient for
    # gamma < 1 when p_t rounds to one (its value is unchanged: it is ~0).
    one_minus = torch.clamp(-torch.expm1(log_pt), min=torch.finfo(log_pt.dtype).tiny)
    return -(one_minus**gamma) * log_pt


def fit_multinomial(
    F,
    y,
    counts,
    *,
    device,
    sample_weight=None,
    q=0.0,
    gamma=0.0,
    alpha=1e-4,
    max_iter=500,
    tol=1e-4,
    owner="",
    smoothing=None,
    max_norm=None,
):
    """:func:`~ltsk.heads._constrained.fit_multinomial_constrained` on ``device``.

    Same variables (weights of the centred and scaled columns, bias), same
    zero start, same objective and drivers; the objective and its autograd
    gradient are computed on ``device`` in float64. Label-aware smoothing is
    the term :math:`\\epsilon_i (z_{i,y_i} - \\bar z_i)` added to each row's
    loss. Returns ``(W, b, n_iter)`` as numpy arrays of the dtype of ``F``.
    """
    dtype = numpy_dtype(F)
    present = np.flatnonzero(counts > 0)
    n_classes = present.size
    check_focal_start(gamma, n_classes, dtype)
    n_features = F.shape[1]
    n_weights = n_classes * n_features
    weights = balanced_weights(y, counts, q, sample_weight)
    mu = weighted_mean(F, weights, device)
    scale = column_scales(F, weights, mu, alpha, device)
    if max_norm is not None:
        scale = torch.full_like(scale, float(torch.sqrt(torch.mean(scale**2))))
    weights_t = _on(weights, device)
    target = torch.as_tensor(encode_present(y, counts), device=device)
    eps = None
    if smoothing is not None:
        eps = _on(np.asarray(smoothing, dtype=np.float64)[y], device)

    def linear(params):
        W = params["V"] / scale
        return W, params["c"] - W @ mu

    def block_loss(params, rows):
        W, bias = linear(params)
        logits = device_rows(F, rows, device) @ W.T + bias
        losses = softmax_losses(logits, target[rows], gamma)
        if eps is not None:
            z_y = logits.gather(1, target[rows][:, None])[:, 0]
            losses = losses + eps[rows] * (z_y - logits.mean(dim=1))
        return torch.dot(weights_t[rows], losses)

    def penalty(params):
        W, _ = linear(params)
        return 0.5 * alpha * torch.sum(W * W)

    fun = autograd_objective(
        block_loss,
        {"V": (n_classes, n_features), "c": (n_classes,)},
        F.shape[0],
        row_bytes=8 * (4 * n_classes + n_features),
        penalty=penalty,
        device=device,
    )
    x0 = np.zeros(n_weights + n_classes)
    driver = {"max_iter": max_iter, "tol": tol, "dtype": dtype, "owner": owner}
    scale_host = scale.cpu().numpy()
    if max_norm is None:
        x, n_iter = minimize_lbfgs(fun, x0, n_classes=n_classes, **driver)
    else:
        radius = float(max_norm) * scale_host[0]

        def project(v):
            return project_rows(v, n_classes, n_features, radius)

        x, n_iter = minimize_spg(fun, x0, project, **driver)
    W_present = x[:n_weights].reshape(n_classes, n_features) / scale_host
    if max_norm is not None:
        W_present = project_rows(
            W_present.ravel(), n_classes, n_features, float(max_norm)
        ).reshape(n_classes, n_features)
    W, b = original_units(W_present, x[n_weights:], mu.cpu().numpy(), counts, dtype)
    return W, b, n_iter


def fit_lws(F, coef, intercept, y, weights, alpha, smoothing, f0, *, device, **driver):
    """LWS's scales on ``device``: :func:`~ltsk.heads._lws.lws_objective`'s problem.

    ``smoothing`` holds :math:`\\epsilon_{y_i}` per row or is None; L-BFGS
    starts at ``f0``. Returns ``(scales, n_iter)``.
    """
    W = _on(coef, device)
    b = _on(intercept, device)
    weights_t = _on(weights, device)
    target = torch.as_tensor(y, device=device)
    eps = None if smoothing is None else _on(smoothing, device)

    def block_loss(params, rows):
        scores = params["f"] * (device_rows(F, rows, device) @ W.T + b)
        losses = softmax_losses(scores, target[rows], 0.0)
        if eps is not None:
            z_y = scores.gather(1, target[rows][:, None])[:, 0]
            losses = losses + eps[rows] * (z_y - scores.mean(dim=1))
        return torch.dot(weights_t[rows], losses)

    def penalty(params):
        return 0.5 * alpha * torch.sum(params["f"] ** 2)

    params, n_iter = fit_autograd(
        block_loss,
        {"f": f0},
        F.shape[0],
        row_bytes=8 * (4 * coef.shape[0] + F.shape[1]),
        penalty=penalty,
        n_classes=coef.shape[0],
        device=device,
        **driver,
    )
    return params["f"], n_iter


def _unit(X):
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    return X / torch.where(norms > 0, norms, torch.ones_like(norms))


def ncm_sums(F, y, weights, n_classes, mean, device):
    """Per-class weighted sums of the rows (centred on ``mean`` and scaled to
    unit norm when ``mean`` is not None), by ``index_add_`` on ``device``."""
    target = torch.as_tensor(y, device=device)
    weights_t = _on(weights, device)
    mean_t = None if mean is None else _on(mean, device)
    sums = torch.zeros((n_classes, F.shape[1]), dtype=torch.float64, device=device)
    for rows in _blocks(F, 16 * F.shape[1]):
        block = device_rows(F, rows, device)
        if mean_t is not None:
            block = _unit(block - mean_t)
        sums.index_add_(0, target[rows], block * weights_t[rows, None])
    if not bool(torch.isfinite(sums).all()):
        raise ValueError("The class sums of F overflow float64; rescale the features.")
    return sums.cpu().numpy()


def _linear_scores(head, X, p):
    return X @ p["coef_"].T + p["intercept_"]


def _ncm_scores(head, X, p):
    if head.normalize:
        X = _unit(X - p["mean_"])
    centroids = p["centroids_"]
    out = X @ centroids.T
    if head.metric == "euclidean":
        sq = torch.sum(X * X, dim=1, keepdim=True) + torch.sum(centroids**2, dim=1)
        return torch.clamp(2.0 * out - sq, max=0.0)
    if head.metric == "cosine":
        norms = torch.linalg.vector_norm(centroids, dim=1)
        out = out / torch.where(norms > 0, norms, torch.inf)
        rows = torch.linalg.vector_norm(X, dim=1, keepdim=True)
        return out / torch.where(rows > 0, rows, torch.inf)
    return out / X.shape[1]


def _disalign_scores(head, X, p):
    gate = torch.sigmoid(X @ p["confidence_coef_"] + head.confidence_intercept_)
    gate = gate[:, None]
    z = X @ p["coef_"].T + p["intercept_"]
    return (1.0 + gate * p["logit_scale_"]) * z + gate * p["logit_bias_"]


_SCORERS = {
    "NCMHead": (("centroids_", "mean_"), _ncm_scores),
    "DisAlignHead": (
        ("coef_", "intercept_", "logit_scale_", "logit_bias_", "confidence_coef_"),
        _disalign_scores,
    ),
    "LinearHead": (("coef_", "intercept_"), _linear_scores),
}

_TRANSFORMS = {
    None: lambda s: s,
    "binary": lambda s: s[:, 1] - s[:, 0],
    "softmax": lambda s: torch.softmax(s, dim=1),
    "log_softmax": lambda s: torch.log_softmax(s, dim=1),
    "argmax": lambda s: torch.argmax(s, dim=1),
}


def class_scores(head, F, transform=None):
    """The head's masked class scores of ``F``, computed on its device in row blocks.

    ``transform`` names what is kept of each block's scores (see
    ``_TRANSFORMS``); the result comes back to the host as a numpy array.
    """
    device = resolve_device(head.device)
    for cls in type(head).__mro__:
        if cls.__name__ in _SCORERS:
            names, scorer = _SCORERS[cls.__name__]
            break
    else:
        raise TypeError(f"{type(head).__name__} has no torch scoring: use device=None.")
    params = [np.asarray(getattr(head, name)) for name in names]
    dtype = np.result_type(numpy_dtype(F), *params)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    p = {
        name: _on(value, device, torch_dtype)
        for name, value in zip(names, params, strict=True)
    }
    absent = torch.as_tensor(head.class_counts_ == 0, device=device)
    any_absent = bool(np.any(head.class_counts_ == 0))
    keep = _TRANSFORMS[transform]
    out = None
    for rows in head._blocks(F):
        scores = scorer(head, device_rows(F, rows, device, torch_dtype), p)
        if any_absent:
            scores[:, absent] = -torch.inf
        result = keep(scores).cpu().numpy()
        if out is None:
            out = np.empty((F.shape[0], *result.shape[1:]), dtype=result.dtype)
        out[rows] = result
    return out


def _joint_params(head, F):
    """The joint classifier on the head's device, in the dtype of the scores."""
    device = resolve_device(head.device)
    dtype = np.result_type(numpy_dtype(F), head.joint_coef_.dtype)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    W = _on(head.joint_coef_, device, torch_dtype)
    b = _on(head.joint_intercept_, device, torch_dtype)
    return device, torch_dtype, W, b


def joint_logits(head, F):
    """A tau head's joint logits of ``F`` as one tensor on its device."""
    device, torch_dtype, W, b = _joint_params(head, F)
    logits = torch.empty((F.shape[0], W.shape[0]), dtype=torch_dtype, device=device)
    for rows in head._blocks(F):
        logits[rows] = device_rows(F, rows, device, torch_dtype) @ W.T + b
    return logits


def _tau_tensors(head, tau, absent, like):
    """One ``tau``'s ``(scale, shift)`` and the absent-class mask, as tensors."""
    affine = head._tau_affine(tau, _NUMPY_DTYPES[like.dtype])
    scale, shift = (
        None if value is None else _on(value, like.device, like.dtype)
        for value in affine
    )
    mask = torch.as_tensor(absent, device=like.device) if np.any(absent) else None
    return scale, shift, mask


def _masked_affine(logits, scale, shift, mask):
    # As _tau_path._affine, which this module cannot import (_tau_path imports
    # _base, which imports this module).
    scores = logits * scale if scale is not None else logits + shift
    if scale is not None and shift is not None:
        scores += shift
    if mask is not None:
        scores[:, mask] = -torch.inf
    return scores


def tau_scores(head, logits, tau, absent):
    """One ``tau``'s masked scores from the joint logits, on their device."""
    return _masked_affine(logits, *_tau_tensors(head, tau, absent, logits))


def tau_path_predictions(head, F, taus):
    """``argmax`` of every ``tau``'s scores, (n_taus, n_samples), in row blocks.

    Each block's logits are computed once on the device and scored for every
    ``tau`` there; only the predicted indices come back to the host.
    """
    device, torch_dtype, W, b = _joint_params(head, F)
    absent = head.class_counts_ == 0
    # Every tau's transform first: a tau the head refuses fails at once.
    transforms = [_tau_tensors(head, tau, absent, b) for tau in taus]
    predictions = np.empty((len(transforms), F.shape[0]), dtype=np.intp)
    for rows in head._blocks(F):
        logits = device_rows(F, rows, device, torch_dtype) @ W.T + b
        for k, transform in enumerate(transforms):
            scores = _masked_affine(logits, *transform)
            predictions[k, rows] = torch.argmax(scores, dim=1).cpu().numpy()
    return predictions


def extractor_features(extractor, X, device):
    """The extractor's features of ``X`` as a tensor on ``device``, or None.

    Only for an extractor that computes them on that device (an ltsk network
    or a :class:`~ltsk.nets.TorchExtractor` there): the features then never
    pass through host memory.
    """
    method = getattr(extractor, "_transform_tensor", None)
    if method is None:
        return None
    target = resolve_device(device)
    source = extractor._feature_device()
    if source is None or torch.device(source).type != target.type:
        return None
    if target.type != "cpu" and (torch.device(source).index or 0) != (
        target.index or 0
    ):
        return None
    return method(X)
