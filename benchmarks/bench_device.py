"""Heads on a torch device against the numpy path, side by side.

Synthetic long-tailed features (``--rows`` x ``--features``, ``--classes``
classes with counts falling geometrically by 100x); for each head, the fit and
``predict_proba`` time with ``device=None`` (numpy) and with ``--device``
(default ``"cuda"`` when torch sees one, else ``"cpu"``), the ratio, and the
largest difference of the probabilities. With ``--tensor`` the features are
handed to the device head as a tensor already on the device, as
:class:`~ltsk.DecoupledClassifier` does for a net there.

The device path evaluates the objective and its gradient in float64 on the
device and runs scipy's L-BFGS on the host: each evaluation moves the
parameter vector (``n_classes * n_features`` floats) there and the gradient
back. On a GPU it pays once a block's matrix products outweigh that transfer;
on the CPU it is torch's kernels against numpy's.

``python benchmarks/bench_device.py --rows 20000 --features 64 --classes 100``
"""

import argparse
import time

import numpy as np

from ltsk.heads import HEADS


def _data(rows, features, classes, seed=0):
    rng = np.random.default_rng(seed)
    weights = 100.0 ** -np.linspace(0.0, 1.0, classes)
    y = rng.choice(classes, size=rows, p=weights / weights.sum())
    means = rng.normal(scale=1.5, size=(classes, features))
    return (means[y] + rng.normal(size=(rows, features))).astype(np.float64), y


def _timed(head, F, y):
    start = time.perf_counter()
    head.fit(F, y)
    fitted = time.perf_counter()
    proba = head.predict_proba(F)
    return fitted - start, time.perf_counter() - fitted, proba


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--device", default=None)
    parser.add_argument("--tensor", action="store_true")
    parser.add_argument("--heads", nargs="*", default=list(HEADS))
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    F, y = _data(args.rows, args.features, args.classes)
    F_device = torch.as_tensor(F, device=device) if args.tensor else F
    print(
        f"{args.rows} x {args.features}, {args.classes} classes, device={device!r}"
        f"{' (tensor input)' if args.tensor else ''}"
    )
    print(
        f"{'head':<14}{'fit numpy':>11}{'fit dev':>10}{'ratio':>7}"
        f"{'proba numpy':>13}{'proba dev':>11}{'ratio':>7}{'max |dp|':>11}"
    )
    for name in args.heads:
        fit_np, proba_np_s, proba_np = _timed(HEADS[name](), F, y)
        fit_dev, proba_dev_s, proba_dev = _timed(
            HEADS[name](device=device), F_device, y
        )
        print(
            f"{name:<14}{fit_np:>10.2f}s{fit_dev:>9.2f}s{fit_np / fit_dev:>7.2f}"
            f"{proba_np_s:>12.3f}s{proba_dev_s:>10.3f}s"
            f"{proba_np_s / proba_dev_s:>7.2f}"
            f"{np.abs(proba_np - proba_dev).max():>11.1e}"
        )


if __name__ == "__main__":
    main()
