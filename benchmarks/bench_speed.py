"""Speed ratios of stage 2 and training on a benchmark protocol, side by side.

It trains the joint network of a ``python -m ltsk.benchmark`` protocol (the
same recipe), extracts its features once, then measures:

1. Stage 2 on cached features (``CRTHead``, ``LWSHead``) against the reference
   implementation's way: a forward pass through the frozen backbone for every
   batch of every stage-2 epoch (same epochs, same class-balanced sampling),
   with balanced accuracy on the test split for both.
2. ``GridSearchCV`` over 21 tau values x 5 folds on
   ``DecoupledClassifier(net, TauNormHead(), memory=...)`` against the 6
   ``transform`` passes it cannot avoid (5 folds + refit), and uncached.
3. One training epoch of the net against a plain torch loop, and q=0 against
   q=1.

Run ``python benchmarks/bench_speed.py --dataset fashion-mnist-lt --data-home
DIR`` (the figures of docs/benchmarks.md); the default data set, digits-lt,
is offline and small.
"""

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial

import numpy as np
import torch
from bench_nets import net_epoch_times, plain_epoch_times
from joblib import Memory
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from torch import nn

from ltsk.benchmark import DATASETS, TAU_GRID, load_protocol
from ltsk.benchmark._cli import _positive_float, _positive_int
from ltsk.benchmark._protocols import backbone_class
from ltsk.benchmark._report import write_json
from ltsk.benchmark._run import _make_net
from ltsk.decoupled import DecoupledClassifier
from ltsk.heads import CRTHead, LWSHead, TauNormHead
from ltsk.model_selection import LongTailStratifiedKFold
from ltsk.sampling._torch import ClassAwareSampler


def reference_stage2(
    net, X, y, F_test, *, kind, epochs, batch_size=128, lr=0.1, features=None, seed=0
):
    """Stage 2 trained with minibatch SGD, as the reference implementation does.

    Each batch is drawn with class-balanced sampling (q=0); its features come
    from a forward pass through the frozen backbone (in eval mode; the
    reference code leaves BatchNorm in train mode, a trap ltsk avoids), or,
    when ``features`` is given, from those cached features.

    Parameters
    ----------
    net : LongTailNetClassifier
        Fitted joint network.
    X : ndarray
        Training inputs.
    y : ndarray of int
        Encoded training labels (positions in ``net.classes_``).
    F_test : ndarray
        Cached test features, to score the trained classifier.
    kind : {"crt", "lws"}
        Re-initialised linear classifier, or learnable per-class scales on the
        frozen joint classifier.
    epochs : int
        Stage-2 epochs.
    features : ndarray or None
        Cached training features; None runs the backbone on every batch.

    Returns
    -------
    seconds : float
        Training time.
    y_pred : ndarray of int
        Predicted class indices on ``F_test``.
    """
    generator = torch.Generator().manual_seed(seed)
    backbone = net.module_.backbone
    weight = torch.as_tensor(net.coef_)
    bias = torch.as_tensor(net.intercept_)
    n_classes, n_features = weight.shape
    if kind == "crt":
        layer = nn.Linear(n_features, n_classes)
        params = list(layer.parameters())

        def logits(f):
            return layer(f)
    else:
        scales = nn.Parameter(torch.ones(n_classes))
        params = [scales]

        def logits(f):
            return scales * (f @ weight.T + bias)

    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    sampler = ClassAwareSampler(y, 0.0, generator=generator)
    X_t = torch.as_tensor(X)
    F_t = None if features is None else torch.as_tensor(features)
    y_t = torch.as_tensor(y)
    training_mode = backbone.training
    backbone.eval()
    start = time.perf_counter()
    try:
        for _ in range(epochs):
            order = sampler.draw()
            for batch in order.split(batch_size):
                with torch.no_grad():
                    f = backbone(X_t[batch]) if F_t is None else F_t[batch]
                loss = nn.functional.cross_entropy(logits(f), y_t[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            scheduler.step()
    finally:
        backbone.train(training_mode)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        y_pred = logits(torch.as_tensor(F_test)).argmax(dim=1).numpy()
    return seconds, y_pred


def _best_of(func, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def _stage2(protocol, net, F_train, F_test, log):
    y_train = np.searchsorted(net.classes_, protocol.y_train)
    y_test = np.searchsorted(net.classes_, protocol.y_test)
    joint = {"coef": net.coef_, "intercept": net.intercept_}
    rows = []
    for kind, epochs, head in [
        ("crt", 10, CRTHead(q=0.0)),
        ("lws", 5, LWSHead(q=0.0)),
    ]:
        log(f"speed: {kind} stage 2, reference way ({epochs} epochs of forwards)")
        t_ref, pred_ref = reference_stage2(
            net, protocol.X_train, y_train, F_test, kind=kind, epochs=epochs
        )
        t_cached_sgd, pred_cached = reference_stage2(
            net,
            protocol.X_train,
            y_train,
            F_test,
            kind=kind,
            epochs=epochs,
            features=F_train,
        )
        fit_params = joint if kind == "lws" else {}
        t_head, fitted = _best_of(
            lambda h=head, kw=fit_params: h.fit(F_train, y_train, **kw)
        )
        rows.append(
            {
                "stage": "cRT" if kind == "crt" else "LWS",
                "epochs": epochs,
                "reference_seconds": t_ref,
                "cached_sgd_seconds": t_cached_sgd,
                "head_seconds": t_head,
                "speedup_head": t_ref / t_head,
                "speedup_cached_sgd": t_ref / t_cached_sgd,
                "bacc_reference": balanced_accuracy_score(y_test, pred_ref),
                "bacc_cached_sgd": balanced_accuracy_score(y_test, pred_cached),
                "bacc_head": balanced_accuracy_score(y_test, fitted.predict(F_test)),
            }
        )
    return rows


def _grid_search(protocol, net, seed, log):
    X, y = protocol.X_train, protocol.y_train
    t_transform, _ = _best_of(lambda: net.transform(X))
    cv = LongTailStratifiedKFold(5, shuffle=True, random_state=seed)

    def search(memory):
        return GridSearchCV(
            DecoupledClassifier(net, TauNormHead(), memory=memory),
            {"head__tau": list(TAU_GRID)},
            cv=cv,
            scoring="balanced_accuracy",
        ).fit(X, y)

    with tempfile.TemporaryDirectory() as cache:
        log("speed: grid search over 21 tau x 5 folds, cached features")
        start = time.perf_counter()
        cached = search(Memory(cache, verbose=0))
        t_cached = time.perf_counter() - start
    log("speed: the same grid search without a cache")
    start = time.perf_counter()
    uncached = search(None)
    t_uncached = time.perf_counter() - start
    assert cached.best_params_ == uncached.best_params_
    return {
        "candidates": len(TAU_GRID),
        "folds": 5,
        "transform_seconds": t_transform,
        "cached_seconds": t_cached,
        "uncached_seconds": t_uncached,
        "cached_over_6_transforms": t_cached / (6 * t_transform),
        "uncached_over_6_transforms": t_uncached / (6 * t_transform),
    }


def _epochs(protocol, log, epochs=4):
    log("speed: net epoch vs a plain torch loop")
    module = backbone_class(protocol.backbone)
    X = protocol.X_train
    y = np.unique(protocol.y_train, return_inverse=True)[1]
    n_classes = int(y.max()) + 1
    common = dict(batch_size=protocol.batch_size, lr=1e-3, epochs=epochs)
    ours, _ = net_epoch_times(module, X, y, **common)
    theirs = plain_epoch_times(module(), X, y, n_classes, **common)
    q0, _ = net_epoch_times(module, X, y, q=0.0, **common)
    # the first epoch pays one-time set-up costs in both loops
    ours, theirs, q0 = ours[1:], theirs[1:], q0[1:]
    return {
        "epochs_timed": len(ours),
        "net_epoch_seconds": statistics.median(ours),
        "plain_epoch_seconds": statistics.median(theirs),
        "net_over_plain": statistics.median(ours) / statistics.median(theirs),
        "q0_epoch_seconds": statistics.median(q0),
        "q0_over_q1": statistics.median(q0) / statistics.median(ours),
    }


def measure_speed(protocol, net, features, *, seed=0, log=print):
    """All speed ratios of the benchmark on one protocol and its joint net.

    ``features`` are the net's cached training and test features, in that order.
    """
    F_train, F_test = features
    return {
        "stage2": _stage2(protocol, net, F_train, F_test, log),
        "grid_search": _grid_search(protocol, net, seed, log),
        "epochs": _epochs(protocol, log),
        "torch_threads": torch.get_num_threads(),
    }


def format_speed(speed) -> str:
    """The speed section of the printed report."""
    lines = ["Speed (measured side by side in this run)"]
    for row in speed["stage2"]:
        lines.append(
            f"  {row['stage']} stage 2, {row['epochs']} epochs: reference way "
            f"(backbone forward every batch) {row['reference_seconds']:.2f} s | "
            f"same SGD on cached features {row['cached_sgd_seconds']:.2f} s | "
            f"ltsk head on cached features {row['head_seconds']:.3f} s"
        )
        lines.append(
            f"    speed-up of the ltsk head {row['speedup_head']:.0f}x (target >= "
            f"50x); balanced accuracy reference {100 * row['bacc_reference']:.2f} "
            f"| cached SGD {100 * row['bacc_cached_sgd']:.2f} | ltsk head "
            f"{100 * row['bacc_head']:.2f}"
        )
    grid = speed["grid_search"]
    six = 6 * grid["transform_seconds"]
    lines.append(
        f"  GridSearchCV {grid['candidates']} tau x {grid['folds']} folds: cached "
        f"{grid['cached_seconds']:.2f} s = {grid['cached_over_6_transforms']:.2f}x "
        f"the 6 unavoidable transform passes ({six:.2f} s; target <= 1.3x); "
        f"uncached {grid['uncached_seconds']:.2f} s = "
        f"{grid['uncached_over_6_transforms']:.1f}x"
    )
    ep = speed["epochs"]
    lines.append(
        f"  one training epoch: net {ep['net_epoch_seconds']:.3f} s vs plain torch "
        f"{ep['plain_epoch_seconds']:.3f} s = {ep['net_over_plain']:.2f}x (target "
        f"<= 1.15); q=0 vs q=1 {ep['q0_over_q1']:.2f}x (target <= 1.05); "
        f"median of {ep['epochs_timed']} epochs, {speed['torch_threads']} torch "
        "threads"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        default="digits-lt",
        choices=sorted(DATASETS),
        help="protocol of python -m ltsk.benchmark (default: digits-lt)",
    )
    parser.add_argument("--data-home", default=None, help="default: $LTSK_DATA")
    parser.add_argument(
        "--imbalance-ratio",
        type=_positive_float,
        default=None,
        help="default per data set",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="joint training epochs (default per data set)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    protocol = load_protocol(
        args.dataset,
        data_home=args.data_home,
        imbalance_ratio=args.imbalance_ratio,
        seed=args.seed,
    )
    if args.epochs is not None:
        protocol.epochs = args.epochs
    log = partial(print, file=sys.stderr, flush=True)
    log(f"joint training: {protocol.name}, {protocol.epochs} epochs")
    net = _make_net(protocol, seed=args.seed).fit(protocol.X_train, protocol.y_train)
    features = (net.transform(protocol.X_train), net.transform(protocol.X_test))
    speed = measure_speed(protocol, net, features, seed=args.seed, log=log)
    print(format_speed(speed))
    if args.out:
        write_json(args.out, {"dataset": protocol.name, "speed": speed})


if __name__ == "__main__":
    main()
