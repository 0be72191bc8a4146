"""Speed of LongTailNetClassifier against plain torch loops.

Prints, side by side:

1. one training epoch of the net vs a plain torch loop (same backbone and
   classifier, data, batch size and optimizer; ``DataLoader`` over a
   ``TensorDataset`` with ``shuffle=True``), target ratio <= 1.15;
2. one epoch with class-balanced sampling (q=0) vs plain shuffling (q=1),
   target ratio <= 1.05;
3. ``transform`` on 28x28 images vs a plain ``torch.no_grad()`` batched
   forward of the backbone, target ratio <= 1.1.

Each figure is the median of several repeats. Run ``python
benchmarks/bench_nets.py --quick`` for a small run.
"""

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ltsk.nets import MLP, LongTailNetClassifier, SmallCNN


def plain_epoch_times(backbone, X, y, n_classes, *, batch_size, lr, epochs):
    """Per-epoch wall times of a hand-written torch loop (Adam, shuffled batches).

    ``y`` holds integer class indices. The backbone is probed once in eval mode
    to size the final linear layer, as :class:`~ltsk.nets.LongTailNetClassifier`
    does.
    """
    with torch.no_grad():
        n_features = backbone.eval()(torch.as_tensor(X[:2])).shape[1]
    model = nn.Sequential(backbone, nn.Linear(n_features, n_classes)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(
        TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
        batch_size=batch_size,
        shuffle=True,
    )
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def net_epoch_times(module, X, y, *, batch_size, lr, epochs, q=1.0, **params):
    """Per-epoch durations of a LongTailNetClassifier fit (skorch's EpochTimer)."""
    net = LongTailNetClassifier(
        module, q=q, lr=lr, batch_size=batch_size, max_epochs=epochs, **params
    ).fit(X, y)
    return list(net.history[:, "dur"]), net


def long_tailed_labels(n_samples, n_classes, rho, rng):
    counts = np.floor(n_samples * (1 / rho) ** (np.arange(n_classes) / (n_classes - 1)))
    probs = counts / counts.sum()
    return rng.choice(n_classes, size=n_samples, p=probs)


def median_ratio(a, b):
    return statistics.median(a) / statistics.median(b)


def report(name, ours, theirs, target):
    ratio = median_ratio(ours, theirs)
    flag = "ok" if ratio <= target else "SLOW"
    print(
        f"{name:<38} {statistics.median(ours) * 1e3:9.1f} ms "
        f"{statistics.median(theirs) * 1e3:9.1f} ms   {ratio:5.2f}  "
        f"(<= {target})  {flag}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, fast run")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    quick = args.quick
    epochs = 4 if quick else 7
    n_tab = 8_000 if quick else 50_000
    n_img = 2_000 if quick else 10_000
    n_transform = 10_000 if quick else 60_000
    repeats = 3 if quick else 5

    print(f"torch threads: {torch.get_num_threads()}  (median of {epochs} epochs)")
    print(f"{'':<38} {'ltsk':>12} {'plain':>12}   ratio")

    # 1. tabular: MLP, 54 features, 7 long-tailed classes (Covertype-like)
    X = rng.normal(size=(n_tab, 54)).astype(np.float32)
    y = long_tailed_labels(n_tab, 7, 100, rng)
    mlp_params = {"module__hidden_units": (256, 128)}
    common = dict(batch_size=128, lr=1e-3, epochs=epochs)
    ours, _ = net_epoch_times(MLP, X, y, **common, **mlp_params)
    theirs = plain_epoch_times(MLP((256, 128)), X, y, 7, **common)
    report(f"MLP epoch, n={n_tab}", ours[1:], theirs[1:], 1.15)
    q0, _ = net_epoch_times(MLP, X, y, q=0.0, **common, **mlp_params)
    report("MLP epoch, q=0 vs q=1", q0[1:], ours[1:], 1.05)

    # 2. images: SmallCNN on 1x28x28
    Xi = rng.normal(size=(n_img, 1, 28, 28)).astype(np.float32)
    yi = long_tailed_labels(n_img, 10, 100, rng)
    cnn_params = {"module__channels": (16, 32, 128)}
    ours, _ = net_epoch_times(SmallCNN, Xi, yi, **common, **cnn_params)
    theirs = plain_epoch_times(SmallCNN((16, 32, 128)), Xi, yi, 10, **common)
    report(f"SmallCNN epoch, n={n_img}", ours[1:], theirs[1:], 1.15)
    q0, net = net_epoch_times(SmallCNN, Xi, yi, q=0.0, **common, **cnn_params)
    report("SmallCNN epoch, q=0 vs q=1", q0[1:], ours[1:], 1.05)

    # 3. transform vs a plain no_grad batched forward of the same backbone
    Xt = rng.normal(size=(n_transform, 1, 28, 28)).astype(np.float32)
    backbone = net.module_.backbone.eval()
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        features = net.transform(Xt)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        data = torch.as_tensor(Xt)
        with torch.no_grad():
            plain = torch.cat(
                [backbone(data[i : i + 128]) for i in range(0, n_transform, 128)]
            ).numpy()
        theirs.append(time.perf_counter() - start)
    assert np.allclose(features, plain, atol=1e-5)
    report(f"transform, {n_transform} x 28x28", ours, theirs, 1.1)


if __name__ == "__main__":
    main()
