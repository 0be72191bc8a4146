"""Out-of-the-box cRT and LWS against the reference stage 2, on every offline data set.

For each data set and seed: the benchmark's joint network is trained as in
``python -m ltsk.benchmark`` (plain cross-entropy, instance-balanced), its
features are extracted once, and on them are fitted ``CRTHead()`` and
``LWSHead()`` with their defaults, ``CRTHead(alpha=1e-4)`` (the default before
``alpha="scale"``), and the reference stage 2 of Kang et al.'s code
(:func:`bench_scale.reference_stage2`: torch SGD, 10 epochs, batch 512,
class-balanced sampling, lr 0.2, momentum 0.9, weight decay 5e-4, cosine),
over several SGD seeds since it is stochastic. Prints the balanced accuracy
on the balanced test split, side by side.

The many-class synthetic shapes are compared by ``bench_scale.py``.

Usage::

    python benchmarks/bench_defaults.py --data-home ../shared/data
    python benchmarks/bench_defaults.py --datasets digits-lt --seeds 0 1 2
"""

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_scale import reference_stage2

DATASETS = ("digits-lt", "letter-lt", "shuttle", "fashion-mnist-lt")


def features(name, data_home, seed):
    """The benchmark's joint net on ``name``: features, labels and classifier."""
    from ltsk.benchmark import load_protocol
    from ltsk.benchmark._run import _make_net

    protocol = load_protocol(name, data_home=data_home, seed=seed)
    net = _make_net(protocol, seed=seed).fit(protocol.X_train, protocol.y_train)
    return (
        net.transform(protocol.X_train),
        protocol.y_train,
        net.transform(protocol.X_test),
        protocol.y_test,
        net.coef_,
        net.intercept_,
    )


def compare(F, y, F_test, y_test, coef, intercept, sgd_seeds):
    """Balanced accuracy (%) of the default heads and of the reference."""
    from sklearn.metrics import balanced_accuracy_score

    from ltsk.heads import CRTHead, LWSHead

    classes, encoded = np.unique(y, return_inverse=True)

    def score(predicted):
        return 100 * balanced_accuracy_score(y_test, predicted)

    row = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        crt = CRTHead().fit(F, y)
        row["cRT"] = score(crt.predict(F_test))
        row["alpha_"] = crt.alpha_
        row["cRT 1e-4"] = score(CRTHead(alpha=1e-4).fit(F, y).predict(F_test))
        lws = LWSHead().fit(F, y, coef=coef, intercept=intercept)
        row["LWS"] = score(lws.predict(F_test))
    row["warnings"] = sorted({type(w.message).__name__ for w in caught})
    for kind in ("crt", "lws"):
        scores = []
        for sgd_seed in sgd_seeds:
            predict = reference_stage2(F, encoded, coef, intercept, kind, seed=sgd_seed)
            scores.append(score(classes[predict(F_test)]))
        row[f"ref {kind}"] = (float(np.mean(scores)), float(np.std(scores)))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--sgd-seeds", type=int, default=3)
    parser.add_argument("--data-home", default=os.environ.get("LTSK_DATA"))
    args = parser.parse_args(argv)
    print(
        f"{'data set':<18}{'seed':>5}{'cRT':>8}{'ref cRT':>15}{'cRT 1e-4':>10}"
        f"{'LWS':>8}{'ref LWS':>15}{'alpha_':>10}  warnings"
    )
    for name in args.datasets:
        for seed in args.seeds:
            row = compare(*features(name, args.data_home, seed), range(args.sgd_seeds))
            ref_crt, ref_lws = row["ref crt"], row["ref lws"]
            print(
                f"{name:<18}{seed:>5}{row['cRT']:>8.2f}"
                f"{ref_crt[0]:>9.2f} +-{ref_crt[1]:>4.2f}{row['cRT 1e-4']:>10.2f}"
                f"{row['LWS']:>8.2f}{ref_lws[0]:>9.2f} +-{ref_lws[1]:>4.2f}"
                f"{row['alpha_']:>10.2g}  {' '.join(row['warnings'])}",
                flush=True,
            )


if __name__ == "__main__":
    main()
