"""Stage 2 as classes grow: the heads against the reference way, side by side.

Two synthetic long-tailed feature sets with class structure, written to disk
as ``.npy`` files and read back as memmaps:

- ``imagenet-lt``: ImageNet-LT's shape, 115,846 x 2048 float32, 1000 classes
  with training counts from 1280 down to 5;
- ``inaturalist``: iNaturalist 2018's 8142 classes, counts from 1000 down to
  2 (437,513 rows in the real set; a row count this machine can run, see
  ``--rows``).

Class ``j`` draws its features from :math:`N(\\mu_j, I)`, the means
:math:`\\mu_j \\sim N(0, \\delta^2 / (2d)\\, I)`, so that two class means
lie about :math:`\\delta` apart whatever the dimension :math:`d`
(``--separation``, default 7: with a thousand classes and a few rows in the
tail, the classes overlap and the tail's means are poorly estimated). The
test split is class-balanced. Every method gets the same joint
(instance-balanced) classifier, the Gaussian plug-in rule
:math:`w_j = m_j`, :math:`b_j = \\log \\pi_j - \\lVert m_j\\rVert^2 / 2` from
the training class means :math:`m_j` and priors :math:`\\pi_j`: what a
network's jointly trained classifier approximates on such features.

For each method, in a fresh subprocess: fit time, peak memory (growth of
``VmHWM`` over the fit, mapped pages of the memmap included) and balanced
accuracy on the test split. The methods: the heads ``CRTHead``, ``LWSHead``
(with the joint classifier), ``TauNormHead``, ``LogitAdjustedHead``,
``NCMHead``, cRT and LWS with ``solver="sgd"`` (``crt_sgd``, ``lws_sgd``: 10
epochs of minibatch SGD on the heads' own objective), and the reference
stage 2 of Kang et al.'s code on the same cached features: torch minibatch
SGD, 10 epochs, batch 512, class-balanced sampling, lr 0.2, momentum 0.9,
weight decay 5e-4, cosine schedule (their ImageNet-LT stage-2
configuration), re-initialised linear classifier (cRT) or learnable
scales on the joint one (LWS).

``tau_path`` is no fit of its own: ``TauNormHead`` then
:func:`~ltsk.heads.tau_path` over 11 values of tau (0 to 2) on the training
rows; its time and peak cover both, and the table's line under it gives the
time per tau against one ``decision_function`` of the same rows (timed
after, outside the peak). Its balanced accuracy is tau-norm's at tau = 1.

Run ``python benchmarks/bench_scale.py`` for the full shapes (hours on a
laptop), ``--quick`` for a reduced run (about 12k and 30k rows, 128 and 64
features), or set ``--rows``, ``--features`` and ``--test-per-class``
yourself.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPES = {
    # name: (n_classes, max count, min count, rows, features)
    "imagenet-lt": (1000, 1280, 5, 115_846, 2048),
    "inaturalist": (8142, 1000, 2, 437_513, 2048),
}
QUICK = {"imagenet-lt": (12_000, 128), "inaturalist": (30_000, 64)}
METHODS = (
    "crt",
    "crt_sgd",
    "lws",
    "lws_sgd",
    "tau_norm",
    "logit_adjust",
    "ncm",
    "ref_crt",
    "ref_lws",
    "tau_path",
)
TAU_GRID = np.linspace(0.0, 2.0, 11)
CHUNK_ROWS = 20_000


def class_counts(n_classes, high, low, total):
    r"""Counts :math:`n_j = low + (high - low) e^{-k j / (C - 1)}` summing to ``total``.

    ``k`` is found by bisection; a ``total`` below what ``low`` per class
    allows lowers ``high`` instead (every class keeps at least ``low`` rows,
    at least 2).
    """
    low = max(2, min(low, total // n_classes))
    positions = np.arange(n_classes) / (n_classes - 1)

    def counts(k, top):
        return np.round(low + (top - low) * np.exp(-k * positions)).astype(int)

    if counts(50.0, high).sum() > total:
        # Even a very steep profile is too big: shrink the head instead.
        top_low, top_high = low, high
        for _ in range(60):
            top = 0.5 * (top_low + top_high)
            top_low, top_high = (
                (top, top_high) if counts(50.0, top).sum() < total else (top_low, top)
            )
        return counts(50.0, top_low)
    k_low, k_high = 1e-6, 50.0
    for _ in range(100):
        k = 0.5 * (k_low + k_high)
        k_low, k_high = (k, k_high) if counts(k, high).sum() > total else (k_low, k)
    return counts(k_high, high)


def write_data(
    directory, n_classes, counts, n_features, test_per_class, separation, seed
):
    """Write train/test features (``.npy``), labels and the joint classifier."""
    rng = np.random.default_rng(seed)
    scale = separation / np.sqrt(2 * n_features)
    means = rng.normal(scale=scale, size=(n_classes, n_features))
    means = means.astype(np.float32)
    y_train = rng.permutation(np.repeat(np.arange(n_classes), counts))
    y_test = np.repeat(np.arange(n_classes), test_per_class)
    sums = np.zeros((n_classes, n_features))
    for name, y in (("train", y_train), ("test", y_test)):
        F = np.lib.format.open_memmap(
            os.path.join(directory, f"F_{name}.npy"),
            mode="w+",
            dtype=np.float32,
            shape=(y.shape[0], n_features),
        )
        for start in range(0, y.shape[0], CHUNK_ROWS):
            rows = slice(start, min(start + CHUNK_ROWS, y.shape[0]))
            block = rng.standard_normal((rows.stop - rows.start, n_features))
            block = block.astype(np.float32) + means[y[rows]]
            F[rows] = block
            if name == "train":
                np.add.at(sums, y[rows], block)
        F.flush()
        del F
        np.save(os.path.join(directory, f"y_{name}.npy"), y)
    class_means = sums / counts[:, None]
    prior = counts / counts.sum()
    coef = class_means.astype(np.float32)
    intercept = (np.log(prior) - 0.5 * np.sum(class_means**2, axis=1)).astype(
        np.float32
    )
    np.save(os.path.join(directory, "coef.npy"), coef)
    np.save(os.path.join(directory, "intercept.npy"), intercept)


def _peak_rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reference_stage2(F, y, coef, intercept, kind, *, epochs=10, batch_size=512, seed=0):
    """Kang et al.'s stage 2 on cached features: minibatch SGD, balanced batches."""
    import torch
    from torch import nn

    from ltsk.sampling import ClassAwareSampler  # imported before the clock

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    weight, bias = torch.as_tensor(coef), torch.as_tensor(intercept)
    n_classes, n_features = weight.shape
    if kind == "crt":
        layer = nn.Linear(n_features, n_classes)
        params = list(layer.parameters())
        logits = layer
    else:
        scales = nn.Parameter(torch.ones(n_classes))
        params = [scales]

        def logits(f):
            return scales * (f @ weight.T + bias)

    optimizer = torch.optim.SGD(params, lr=0.2, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    sampler = ClassAwareSampler(y, 0.0, generator=generator)
    y_t = torch.as_tensor(y)
    for _ in range(epochs):
        for batch in sampler.draw().split(batch_size):
            index = np.sort(batch.numpy())  # sorted rows read the memmap faster
            f = torch.from_numpy(np.ascontiguousarray(F[index]))
            loss = nn.functional.cross_entropy(logits(f), y_t[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()

    def predict(F_test):
        with torch.no_grad():
            return logits(torch.as_tensor(np.asarray(F_test))).argmax(dim=1).numpy()

    return predict


def tau_path_child(F, y, F_test, y_test, coef, intercept):
    """``tau_path`` of tau-norm over ``TAU_GRID`` on the training rows.

    Fit (the joint classifier given), then the path over all of ``F``; the
    peak covers both. One ``decision_function`` of ``F`` is timed after it,
    outside the peak (it returns the (n, C) matrix a path never holds). The
    balanced accuracy is that of the head's default ``tau=1`` on the test
    split: a tau chosen on the training rows says nothing about the method.
    """
    from sklearn.metrics import balanced_accuracy_score

    from ltsk.heads import TauNormHead, tau_path

    before = _peak_rss()
    start = time.perf_counter()
    head = TauNormHead().fit(F, y, coef=coef, intercept=intercept)
    tau_path(head, F, y, TAU_GRID)
    seconds = time.perf_counter() - start
    peak = _peak_rss() - before
    start = time.perf_counter()
    head.decision_function(F)
    one = time.perf_counter() - start
    return {
        "method": "tau_path",
        "seconds": seconds,
        "peak": peak,
        "balanced_accuracy": balanced_accuracy_score(y_test, head.predict(F_test)),
        "n_iter": None,
        "warnings": [],
        "per_tau": seconds / TAU_GRID.size,
        "decision_function": one,
    }


def child(directory, method):
    """Fit one method on the memmapped features; print a JSON line."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from ltsk.heads import CRTHead, LogitAdjustedHead, LWSHead, NCMHead, TauNormHead

    F = np.load(os.path.join(directory, "F_train.npy"), mmap_mode="r")
    F_test = np.load(os.path.join(directory, "F_test.npy"), mmap_mode="r")
    y = np.load(os.path.join(directory, "y_train.npy"))
    y_test = np.load(os.path.join(directory, "y_test.npy"))
    coef = np.load(os.path.join(directory, "coef.npy"))
    intercept = np.load(os.path.join(directory, "intercept.npy"))
    if method == "tau_path":
        print(json.dumps(tau_path_child(F, y, F_test, y_test, coef, intercept)))
        return
    if method.startswith("ref_"):
        import torch

        import ltsk.sampling  # noqa: F401

        # Import and initialise torch and its optimiser (whose first step
        # imports torch._dynamo) before the clock starts.
        warm = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([warm], lr=0.1, momentum=0.9)
        warm.sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    before = _peak_rss()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method.startswith("ref_"):
            predict = reference_stage2(F, y, coef, intercept, method[4:])
        else:
            head = {
                "crt": CRTHead,
                "crt_sgd": lambda: CRTHead(solver="sgd", random_state=0),
                "lws": LWSHead,
                "lws_sgd": lambda: LWSHead(solver="sgd", random_state=0),
                "tau_norm": TauNormHead,
                "logit_adjust": LogitAdjustedHead,
                "ncm": NCMHead,
            }[method]()
            joint = {} if method in ("crt", "crt_sgd", "ncm") else {"coef": coef}
            if joint:
                joint["intercept"] = intercept
            head.fit(F, y, **joint)
            predict = head.predict
    seconds = time.perf_counter() - start
    peak = _peak_rss() - before
    score = balanced_accuracy_score(y_test, predict(F_test))
    result = {
        "method": method,
        "seconds": seconds,
        "peak": peak,
        "balanced_accuracy": score,
        "n_iter": getattr(locals().get("head"), "n_iter_", None),
        "warnings": sorted({type(w.message).__name__ for w in caught}),
    }
    print(json.dumps(result))


def run_shape(
    name, rows, n_features, test_per_class, separation, methods, timeout, seed
):
    n_classes, high, low, _, _ = SHAPES[name]
    counts = class_counts(n_classes, high, low, rows)
    with tempfile.TemporaryDirectory(prefix="ltsk_bench_scale_") as directory:
        write_data(
            directory, n_classes, counts, n_features, test_per_class, separation, seed
        )
        matrix = counts.sum() * n_features * 4
        print(
            f"\n{name}: {counts.sum()} x {n_features} float32 memmap "
            f"({matrix / 2**20:.0f} MiB), {n_classes} classes, counts "
            f"{counts.max()}..{counts.min()}, test {test_per_class} per class"
        )
        print(
            f"{'method':<14}{'fit s':>9}{'peak MiB':>10}{'peak/matrix':>12}"
            f"{'bal. acc':>10}{'iter':>6}  warnings"
        )
        results = {}
        for method in methods:
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", directory, method],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                print(f"{method:<14}{'> ' + str(timeout):>9}  (stopped)")
                continue
            except subprocess.CalledProcessError as error:
                print(f"{method:<14} failed: {error.stderr.strip().splitlines()[-1]}")
                continue
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[method] = result
            n_iter = "" if result["n_iter"] is None else result["n_iter"]
            print(
                f"{method:<14}{result['seconds']:>9.1f}"
                f"{result['peak'] / 2**20:>10.0f}{result['peak'] / matrix:>12.2f}"
                f"{100 * result['balanced_accuracy']:>10.2f}{n_iter!s:>6}  "
                f"{' '.join(result['warnings'])}"
            )
            if method == "tau_path":
                print(
                    f"  tau_path: {TAU_GRID.size} taus on the training rows, "
                    f"{result['per_tau']:.2f} s per tau against "
                    f"{result['decision_function']:.2f} s for one "
                    "decision_function (the path scores the imbalanced "
                    "training rows, for timing only; bal. acc: tau = 1)"
                )
        for head in ("crt", "crt_sgd", "lws", "lws_sgd"):
            ref = results.get(f"ref_{head.removesuffix('_sgd')}")
            own = results.get(head)
            if ref and own:
                gain = own["balanced_accuracy"] - ref["balanced_accuracy"]
                print(
                    f"{head}: time head / reference = "
                    f"{own['seconds'] / ref['seconds']:.2f}, balanced accuracy "
                    f"head - reference = "
                    f"{100 * gain:+.2f}"
                    " points"
                )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced shapes")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--rows", type=int, help="training rows of every shape")
    parser.add_argument("--features", type=int, help="feature dimension")
    parser.add_argument("--test-per-class", type=int, default=10)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--timeout", type=int, default=3600, help="s per method")
    parser.add_argument("--separation", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; fit time excludes data loading")
    for name in args.shapes:
        _, _, _, rows, n_features = SHAPES[name]
        if args.quick:
            rows, n_features = QUICK[name]
        rows = args.rows or rows
        n_features = args.features or n_features
        run_shape(
            name,
            rows,
            n_features,
            args.test_per_class,
            args.separation,
            args.methods,
            args.timeout,
            args.seed,
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
