"""Speed of the stage-2 heads against side-by-side references.

Run ``python benchmarks/bench_heads.py`` (full size) or with ``--quick``.
Every ratio is measured in the same run, so machine load affects both sides.

- cRT on 100k x 256 float32 features, 100 classes, against scikit-learn's
  ``LogisticRegression(class_weight="balanced")`` with the same regularisation.
- NCM fit on 200k x 256 float32 (and float64) against one ``F.sum(axis=0)``
  pass.
- A 21-value tau sweep with ``TauNormHead`` on cached features: one fit and
  :func:`ltsk.heads.tau_path` (one matrix product), next to the naive loop of
  21 ``fit`` + ``predict`` calls (21 matrix products).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from ltsk.heads import CRTHead, NCMHead, TauNormHead, tau_path


def make_features(n_samples, n_features, n_classes, *, imbalance=100, seed=0):
    """Gaussian class means in ``n_features`` dims with an exponential profile."""
    rng = np.random.default_rng(seed)
    profile = imbalance ** (-np.arange(n_classes) / (n_classes - 1))
    y = rng.choice(n_classes, size=n_samples, p=profile / profile.sum())
    means = rng.normal(scale=0.25, size=(n_classes, n_features))
    F = rng.standard_normal(size=(n_samples, n_features), dtype=np.float32)
    F += means[y].astype(np.float32)
    return F, y, means


def balanced_test_set(means, n_per_class, seed=1):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(means.shape[0]), n_per_class)
    F = rng.standard_normal(size=(y.size, means.shape[1]), dtype=np.float32)
    return F + means[y].astype(np.float32), y


def best_time(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_crt(n, n_features, n_classes):
    F, y, means = make_features(n, n_features, n_classes)
    F_test, y_test = balanced_test_set(means, 50)
    alpha = 1e-4
    crt = CRTHead(q=0.0, alpha=alpha)
    lr = LogisticRegression(class_weight="balanced", C=1.0 / (alpha * n))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t_crt = best_time(lambda: crt.fit(F, y), 1)
        t_lr = best_time(lambda: lr.fit(F, y), 1)
    warned = sorted({str(w.message).split(":")[0][:40] for w in caught})
    acc_crt = balanced_accuracy_score(y_test, crt.predict(F_test))
    acc_lr = balanced_accuracy_score(y_test, lr.predict(F_test))
    print(f"cRT fit on {n} x {n_features} float32, {n_classes} classes")
    print(f"  CRTHead(q=0)                {t_crt:7.2f} s  ({crt.n_iter_} iter)")
    print(f"  LogisticRegression balanced {t_lr:7.2f} s  ({int(lr.n_iter_[0])} iter)")
    print(f"  time ratio cRT / LR         {t_crt / t_lr:7.2f}  (target <= 1)")
    print(f"  balanced accuracy  cRT {acc_crt:.4f}  LR {acc_lr:.4f}  ")
    print(f"  difference (points)         {100 * (acc_crt - acc_lr):+7.2f}  (|.| <= 1)")
    if warned:
        print(f"  convergence warnings from: {warned}")


def bench_ncm(n, n_features, n_classes, repeat, dtype=np.float32):
    F, y, _ = make_features(n, n_features, n_classes, seed=2)
    F = F.astype(dtype, copy=False)
    head = NCMHead()
    t_sum = best_time(lambda: F.sum(axis=0), repeat)
    t_ncm = best_time(lambda: head.fit(F, y), repeat)
    print(f"NCM fit on {n} x {n_features} {F.dtype}, {n_classes} classes")
    print(f"  F.sum(axis=0)               {1e3 * t_sum:7.1f} ms")
    print(f"  NCMHead.fit                 {1e3 * t_ncm:7.1f} ms")
    print(f"  ratio                       {t_ncm / t_sum:7.2f}  (target <= 4)")


def bench_tau_sweep(n, n_features, n_classes, repeat):
    F, y, _ = make_features(n, n_features, n_classes, seed=3)
    rng = np.random.default_rng(4)
    W = rng.normal(size=(n_classes, n_features)).astype(np.float32)
    b = rng.normal(size=n_classes).astype(np.float32)
    head = TauNormHead()

    taus = np.linspace(0.0, 2.0, 21)

    def naive():
        for tau in taus:
            head.set_params(tau=tau).fit(F, y, coef=W, intercept=b).predict(F)

    def path():
        head.fit(F, y, coef=W, intercept=b)
        return tau_path(head, F, y, taus)

    t_path = best_time(path, repeat)
    t_naive = best_time(naive, repeat)
    print(f"tau sweep (21 values) on {n} x {n_features} float32, {n_classes} classes")
    print(f"  fit + tau_path              {t_path:7.3f} s  (target < 1 s)")
    print(f"  21 x (fit + predict)        {t_naive:7.3f} s")
    print(f"  speed-up of tau_path        {t_naive / t_path:7.1f} x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    bench_crt(100_000 // scale, 256, 100)
    for dtype in (np.float32, np.float64):
        bench_ncm(200_000 // scale, 256, 100, 3 if args.quick else 5, dtype)
    bench_tau_sweep(100_000 // scale, 256, 100, repeat=1 if args.quick else 3)


if __name__ == "__main__":
    main()
