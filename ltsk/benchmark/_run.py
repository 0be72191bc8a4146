"""The benchmark itself: joint training once, then every head on frozen features."""

import itertools
import sys
from time import perf_counter

import numpy as np
from sklearn.metrics import recall_score

from ltsk.benchmark._methods import (
    _VARIANT_HEADS,
    _baseline,
    _head_methods,
    _joint_variants,
)
from ltsk.benchmark._protocols import TAU_GRID, backbone_class
from ltsk.heads import HEADS, tau_path
from ltsk.metrics import imbalance_summary, shot_accuracy
from ltsk.metrics._imbalance import format_imbalance_summary

__all__ = ["choose_tau", "run_benchmark"]


class _Progress:
    """Timestamped plain lines on ``stream``; a fit's tqdm bar draws there too."""

    def __init__(self, enabled, stream=None):
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.start = perf_counter()

    def __call__(self, message):
        if self.enabled:
            elapsed = perf_counter() - self.start
            print(f"[{elapsed:7.1f}s] {message}", file=self.stream, flush=True)

    def trained(self, name, net, seconds):
        """The one line of a finished network fit."""
        loss = net.history[-1, "train_loss"]
        self(
            f"{name}: {len(net.history)} epochs in {seconds:.1f} s, final train "
            f"loss {loss:.4f}"
        )


def choose_tau(head, F_train, y_train, F_val, y_val, *, grid=TAU_GRID, **fit_params):
    """Choose a head's ``tau`` on the validation split and refit it with that value.

    Only the validation split is scored: the test split never reaches this
    function, so the choice cannot leak from it.

    Parameters
    ----------
    head : TauNormHead or LogitAdjustedHead
        Unfitted head.
    F_train : array-like of shape (n_train, n_features)
        Training features (the long-tailed part).
    y_train : array-like of shape (n_train,)
        Training labels.
    F_val : array-like of shape (n_val, n_features)
        Balanced validation features.
    y_val : array-like of shape (n_val,)
        Validation labels.
    grid : sequence of float, default=TAU_GRID
        Candidate values of ``tau``.
    **fit_params : dict
        Passed to the head's ``fit`` (``coef``, ``intercept``, ``classes``).

    Returns
    -------
    best_tau : float
        The first of the best-scoring values.
    head : estimator
        The head refitted with ``best_tau``.
    scores : ndarray of shape (len(grid),)
        Validation balanced accuracy of every candidate.

    See Also
    --------
    ltsk.heads.tau_path : Scores the whole grid with one matrix product.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.benchmark import choose_tau
    >>> from ltsk.heads import TauNormHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 12])
    >>> F = rng.normal(size=(372, 3)) + 2.0 * np.eye(3)[y]
    >>> y_val = np.repeat([0, 1, 2], 50)
    >>> F_val = rng.normal(size=(150, 3)) + 2.0 * np.eye(3)[y_val]
    >>> best_tau, head, scores = choose_tau(TauNormHead(), F, y, F_val, y_val)
    >>> head.tau == best_tau, scores.shape
    (True, (21,))
    """
    head.fit(F_train, y_train, **fit_params)
    scores = tau_path(head, F_val, y_val, grid)
    best_tau = grid[int(np.argmax(scores))]
    head.set_params(tau=best_tau).fit(F_train, y_train, **fit_params)
    return best_tau, head, scores


def _make_net(
    protocol,
    *,
    seed,
    q=1.0,
    criterion=None,
    log=None,
    name="",
    estimator=None,
    callbacks=(),
    lr_factor=None,
    **params,
):
    import torch
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR

    from ltsk.nets import LongTailNetClassifier
    from ltsk.nets._callbacks import EpochBar

    if criterion is not None:
        params["criterion"] = criterion
    for key, value in protocol.backbone_params.items():
        params.setdefault(f"module__{key}", value)
    # lr_factor(epoch) replaces the shared cosine decay (stepped per epoch).
    schedule = (
        ("cosine", LRScheduler(policy=CosineAnnealingLR, T_max=protocol.epochs))
        if lr_factor is None
        else ("lr_factor", LRScheduler(policy=LambdaLR, lr_lambda=lr_factor))
    )
    callbacks = [schedule, *callbacks]
    if log is not None and log.enabled:
        callbacks.append(("progress", EpochBar(name, stream=log.stream)))
    if estimator is None:
        # BBN fixes its own two samplers and takes no q.
        estimator, params["q"] = LongTailNetClassifier, q
    # A variant may set its own weight decay (weight balancing's first stage).
    params.setdefault("optimizer__weight_decay", protocol.weight_decay)
    return estimator(
        backbone_class(protocol.backbone),
        max_epochs=protocol.epochs,
        lr=protocol.lr,
        batch_size=protocol.batch_size,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        callbacks=callbacks,
        augment=protocol.augment,
        random_state=seed,
        **params,
    )


def _row(method, protocol, y_pred, fit_seconds, *, kind, chosen=None):
    shots = shot_accuracy(
        protocol.y_test,
        y_pred,
        train_counts=protocol.train_counts,
        many=protocol.many,
        few=protocol.few,
    )
    return {
        "method": method,
        "kind": kind,
        **{key: float(shots[key]) for key in ("many", "medium", "few", "all")},
        "fit_seconds": float(fit_seconds),
        "chosen": chosen or {},
    }


def _heads(protocol, net, features, log):
    """Fit every stage-2 head on the frozen features of the joint network.

    A head with a ``tau`` parameter has it chosen on the validation split.
    """
    F_train, F_val, F_test = features
    y_train, y_val = protocol.y_train, protocol.y_val
    joint = {"coef": net.coef_, "intercept": net.intercept_, "classes": net.classes_}
    rows, fitted = [], {}
    for name, head in _head_methods(HEADS):
        tuned = "tau" in head.get_params()
        note = f" ({len(TAU_GRID)} values of tau on validation)" if tuned else ""
        log(f"stage 2: {name}{note}")
        chosen = {}
        start = perf_counter()
        if tuned:
            chosen["tau"], head, _ = choose_tau(
                head, F_train, y_train, F_val, y_val, **joint
            )
        else:
            head.fit(F_train, y_train, **joint)
        seconds = perf_counter() - start
        fitted[name] = head
        rows.append(
            _row(
                name,
                protocol,
                head.predict(F_test),
                seconds,
                kind="decoupled",
                chosen=chosen,
            )
        )
    return rows, fitted


def _variant_heads(protocol, name, net, log):
    """The second stages fitted on the frozen features of the joint variant ``name``.

    A second stage with a grid of builder parameters is fitted with every
    combination; the first of the best on the validation split (balanced
    accuracy) is kept, and only it is scored on the test split.
    """
    rows = []
    builders = _VARIANT_HEADS.get(name, [])
    if builders:
        F_train, F_val, F_test = (
            net.transform(X)
            for X in (protocol.X_train, protocol.X_val, protocol.X_test)
        )
    for row_name, build, grid in builders:
        candidates = [
            dict(zip(grid, values, strict=True))
            for values in itertools.product(*grid.values())
        ]
        tuned = len(candidates) > 1
        note = f" ({len(candidates)} candidates on validation)" if tuned else ""
        log(f"stage 2: {row_name}{note}")
        start = perf_counter()
        best_score, chosen, head = -np.inf, {}, None
        for params in candidates:
            candidate = build(net, protocol.y_train, **params).fit(
                F_train, protocol.y_train
            )
            if not tuned:
                head = candidate
                break
            score = recall_score(
                protocol.y_val, candidate.predict(F_val), average="macro"
            )
            if score > best_score:
                best_score, chosen, head = score, params, candidate
        seconds = perf_counter() - start
        rows.append(
            _row(
                row_name,
                protocol,
                head.predict(F_test),
                seconds,
                kind="decoupled",
                chosen=chosen,
            )
        )
    return rows


def _fit_baseline(protocol, seed, log):
    name, estimator = _baseline(seed)
    log(f"baseline: {name}")
    flat = [X.reshape(len(X), -1) for X in (protocol.X_train, protocol.X_test)]
    start = perf_counter()
    estimator.fit(flat[0], protocol.y_train)
    seconds = perf_counter() - start
    return _row(name, protocol, estimator.predict(flat[1]), seconds, kind="baseline")


def run_benchmark(protocol, *, seed=0, methods="all", progress=True, stream=None):
    """Run every method of the benchmark on one protocol.

    Parameters
    ----------
    protocol : Protocol
        Splits and settings, from :func:`ltsk.benchmark.load_protocol`.
    seed : int, default=0
        Seed of every network and head.
    methods : {"all", "decoupled"}, default="all"
        ``"decoupled"`` skips the extra jointly trained variants, and with them
        the second stages fitted on their features (weight balancing, MiSLAS).
    progress : bool, default=True
        Report progress on ``stream``: one line per step and per method, and
        while a network trains, a bar over its epochs when ``stream`` is a
        terminal (none in a log file, which gets plain lines only). False is
        silent.
    stream : file-like, default=None
        Where progress goes; ``sys.stderr`` when None.

    Returns
    -------
    results : dict
        ``rows`` (one dict per method), ``title``, ``protocol`` (sizes and
        settings) and ``figure`` (data for :func:`save_figure`).

    See Also
    --------
    load_protocol : Builds the protocol.

    Examples
    --------
    A two-epoch run of the decoupled methods on digits-LT:

    >>> from dataclasses import replace
    >>> from ltsk.benchmark import load_protocol, run_benchmark
    >>> protocol = replace(load_protocol("digits-lt"), epochs=2)
    >>> results = run_benchmark(protocol, methods="decoupled", progress=False)
    >>> [row["method"] for row in results["rows"]][:2]
    ['Joint (CE, q=1)', 'cRT']
    """
    log = _Progress(progress, stream)
    counts = protocol.train_counts
    imbalance = imbalance_summary(protocol.y_train)
    log(
        f"{protocol.name}: {len(protocol.y_train)} training samples in "
        f"{len(counts)} classes (largest {max(counts.values())}, smallest "
        f"{min(counts.values())}); validation {len(protocol.y_val)}, test "
        f"{len(protocol.y_test)}"
    )

    log("warming up torch (untimed)")
    # torch's first fit pays one-time set-up costs; keep them out of the table.
    few = np.concatenate([np.flatnonzero(protocol.y_train == c)[:2] for c in counts])
    _make_net(protocol, seed=seed).set_params(max_epochs=1).fit(
        protocol.X_train[few], protocol.y_train[few]
    )

    start = perf_counter()
    net = _make_net(protocol, seed=seed, log=log, name="Joint (CE, q=1)").fit(
        protocol.X_train, protocol.y_train
    )
    joint_seconds = perf_counter() - start
    log.trained(f"Joint (CE, q=1), {protocol.backbone}", net, joint_seconds)
    rows = [
        _row(
            "Joint (CE, q=1)",
            protocol,
            net.predict(protocol.X_test),
            joint_seconds,
            kind="joint",
        )
    ]

    log("extracting features once (eval mode)")
    features = [
        net.transform(X) for X in (protocol.X_train, protocol.X_val, protocol.X_test)
    ]
    head_rows, heads = _heads(protocol, net, features, log)
    rows += head_rows

    if methods == "all":
        for name, params in _joint_variants(protocol.epochs):
            start = perf_counter()
            variant = _make_net(protocol, seed=seed, log=log, name=name, **params)
            variant.fit(protocol.X_train, protocol.y_train)
            seconds = perf_counter() - start
            log.trained(name, variant, seconds)
            rows.append(
                _row(
                    name,
                    protocol,
                    variant.predict(protocol.X_test),
                    seconds,
                    kind="joint",
                )
            )
            rows += _variant_heads(protocol, name, variant, log)
        rows.append(_fit_baseline(protocol, seed, log))

    classes = net.classes_
    best_head = max(head_rows, key=lambda row: row["all"])["method"]
    per_class = {
        "Joint": recall_score(
            protocol.y_test,
            net.predict(protocol.X_test),
            labels=classes,
            average=None,
            zero_division=0.0,
        ),
        best_head: recall_score(
            protocol.y_test,
            heads[best_head].predict(features[2]),
            labels=classes,
            average=None,
            zero_division=0.0,
        ),
    }
    norms = {"Joint": np.linalg.norm(net.coef_, axis=1)}
    for name in ("cRT", "LWS"):
        norms[name] = np.linalg.norm(heads[name].coef_, axis=1)
    figure = {
        "counts": [counts[c] for c in classes],
        "norms": norms,
        "per_class": per_class,
    }

    results = {
        "title": (
            f"{protocol.name} (rho={protocol.info['imbalance_ratio']:g}, "
            f"{protocol.backbone}, {protocol.epochs} epochs, seed {seed}); balanced "
            f"accuracy % on the test split; Many > {protocol.many} >= Medium >= "
            f"{protocol.few} > Few training samples\ntraining set: "
            f"{format_imbalance_summary(imbalance)}"
        ),
        "protocol": {
            "dataset": protocol.name,
            "imbalance_ratio": protocol.info["imbalance_ratio"],
            "backbone": protocol.backbone,
            "epochs": protocol.epochs,
            "lr": protocol.lr,
            "batch_size": protocol.batch_size,
            "weight_decay": protocol.weight_decay,
            "augment": protocol.augment,
            "seed": seed,
            "n_train": len(protocol.y_train),
            "n_val": len(protocol.y_val),
            "n_test": len(protocol.y_test),
            "train_counts": {str(k): v for k, v in counts.items()},
            "imbalance": imbalance,
            "many": protocol.many,
            "few": protocol.few,
        },
        "rows": rows,
        "figure": figure,
    }
    log("done")
    return results
