"""ltsk's BBN against a second, plain torch implementation (issue #12).

The plain loop follows the official BBN code (Megvii-Nanjing/BBN): the
classifier reads ``2 * cat(l * f_c(x_a), (1 - l) * f_r(x_b))`` in training and
``cat(f_c(x), f_r(x))`` at test (``bbn_mix`` in ``lib/core/combiner.py``), with
``l = 1 - ((epoch - 1) / T) ** 2`` for the 1-based epoch (``T = 100`` for 90
epochs, 200 for 180) and the loss ``l * CE(z, y_a) + (1 - l) * CE(z, y_b)``;
``x_a`` come from a shuffled pass over the data, and each of them is paired
with one ``x_b`` from the reversed sampler, which draws class ``j`` with weight
``max_i n_i / n_j`` and then a sample of it uniformly (``lib/dataset``). It
uses ltsk only for the data split and the backbone (``ltsk.nets.MLP``), never
for BBN.

It prints three comparisons on a benchmark protocol (default digits-LT, with
the benchmark's settings: SGD momentum 0.9, the protocol's lr, weight decay,
batch size and epochs), each under the benchmark's cosine schedule, which its
BBN row uses, and under the official step decay (``--recipes``):

1. *replay*: the plain loop starts from the initial weights of ltsk's
   ``BBNClassifier`` and trains on exactly the batches ltsk drew (recorded by
   a skorch callback); the final weights and test predictions must agree to
   float rounding, which checks ltsk's training step, alpha schedule, scaling
   and optimiser step by step;
2. *independent*: both train with their own seeds (initialisation, samplers)
   on the same splits; per-seed balanced accuracies, mean +- std and a Welch
   t-test and Mann-Whitney U test of "same distribution";
3. *schedules*: the plain BBN and ltsk's joint (CE, q=1) network under each
   learning-rate recipe of ``RECIPES`` (the shared cosine decay; the official
   ``WarmupMultiStepLR``, linear warm-up from lr/3 over 5/200 of the epochs and
   x0.01 at 60% and 80%, with and without Nesterov momentum and the dropped
   last batch; a constant rate), and the plain BBN's best epoch on the test
   split, which is what the official script reports (``best_model.pth`` in
   ``main/train.py`` is chosen on its evaluation set).

Run ``python benchmarks/bench_bbn_reference.py`` (about 15 minutes on a busy
2-core machine) or ``--quick``; ``--dataset`` takes any benchmark protocol.
"""

import argparse
import copy
import time
from bisect import bisect_right
from dataclasses import replace

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F

from ltsk.benchmark import load_protocol
from ltsk.benchmark._protocols import backbone_class
from ltsk.benchmark._run import _make_net

# --------------------------------------------------------------------------- #
# the plain implementation
# --------------------------------------------------------------------------- #


class PlainBBN(nn.Module):
    """Shared backbone, two ``Linear(d, d) + ReLU`` branches, one linear classifier."""

    def __init__(self, backbone, n_features, n_classes):
        super().__init__()
        self.backbone = backbone
        self.cb = nn.Sequential(nn.Linear(n_features, n_features), nn.ReLU())
        self.rb = nn.Sequential(nn.Linear(n_features, n_features), nn.ReLU())
        self.fc = nn.Linear(2 * n_features, n_classes)

    def mix(self, x_a, x_b, alpha):
        f_a = self.cb(self.backbone(x_a))
        f_b = self.rb(self.backbone(x_b))
        return self.fc(2 * torch.cat((alpha * f_a, (1 - alpha) * f_b), dim=1))

    def forward(self, x):
        h = self.backbone(x)
        return self.fc(torch.cat((self.cb(h), self.rb(h)), dim=1))


def official_alpha(epoch, n_epochs):
    """``combiner.py``: 1-based epoch; divisor 100 (T=90) or 200 (T=180), else T."""
    div = 100 * (n_epochs // 100 + 1) if n_epochs in (90, 180) else n_epochs
    return 1 - ((epoch - 1) / div) ** 2


def build_plain(protocol, seed):
    """The plain BBN network, initialised under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    backbone = backbone_class(protocol.backbone)(**protocol.backbone_params)
    with torch.no_grad():  # materialise the lazy first layer
        d = backbone(torch.as_tensor(protocol.X_train[:2])).shape[1]
    n_classes = len(np.unique(protocol.y_train))
    return PlainBBN(backbone, d, n_classes)


def lr_factor(schedule, epoch, n_epochs):
    """Learning-rate factor of the 1-based ``epoch``.

    ``cosine`` is ``CosineAnnealingLR(T_max=n_epochs)`` stepped after every
    epoch (skorch's ``LRScheduler``, as the benchmark uses it); ``official``
    is ``WarmupMultiStepLR`` of ``lib/utils/lr_scheduler.py`` stepped at the
    start of every epoch, its 5-of-200 warm-up and 120/160-of-200 milestones
    scaled to ``n_epochs``.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + np.cos(np.pi * (epoch - 1) / n_epochs))
    warm = max(1, round(5 * n_epochs / 200))
    milestones = [round(0.6 * n_epochs), round(0.8 * n_epochs)]
    factor = 1.0
    if epoch < warm:
        t = epoch / warm
        factor = (1 / 3) * (1 - t) + t
    return factor * 0.01 ** bisect_right(milestones, epoch)


def plain_epoch_batches(y, batch_size, rng, drop_last):
    """One epoch of ``(uniform indices, reversed indices)`` batches."""
    classes, counts = np.unique(y, return_counts=True)
    weight = counts.max() / counts
    members = [np.flatnonzero(y == c) for c in classes]
    order = rng.permutation(len(y))
    drawn = rng.choice(len(classes), size=len(y), p=weight / weight.sum())
    partner = np.array([members[c][rng.integers(len(members[c]))] for c in drawn])
    stop = len(y) - len(y) % batch_size if drop_last else len(y)
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size], partner[start : start + batch_size]


def train_plain(
    protocol,
    seed,
    *,
    schedule="cosine",
    nesterov=False,
    drop_last=False,
    init_state=None,
    batches=None,
):
    """Train the plain BBN; returns ``(model, per-epoch test balanced accuracy)``.

    ``batches`` (one list of ``((x_a, x_b), (y_a, y_b))`` per epoch) and
    ``init_state`` replay a recorded run instead of drawing.
    """
    model = build_plain(protocol, seed)
    if init_state is not None:
        model.load_state_dict(init_state)
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(protocol.X_train)
    y = torch.as_tensor(protocol.y_train)
    X_test = torch.as_tensor(protocol.X_test)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=protocol.lr,
        momentum=0.9,
        weight_decay=protocol.weight_decay,
        nesterov=nesterov,
    )
    T = protocol.epochs
    curve = []
    for epoch in range(1, T + 1):
        for group in optimizer.param_groups:
            group["lr"] = protocol.lr * lr_factor(schedule, epoch, T)
        alpha = official_alpha(epoch, T)
        if batches is None:
            epoch_batches = [
                ((X[a], X[b]), (y[a], y[b]))
                for a, b in plain_epoch_batches(
                    protocol.y_train, protocol.batch_size, rng, drop_last
                )
            ]
        else:
            epoch_batches = batches[epoch - 1]
        model.train()
        for (x_a, x_b), (y_a, y_b) in epoch_batches:
            out = model.mix(x_a, x_b, alpha)
            loss = alpha * F.cross_entropy(out, y_a) + (1 - alpha) * F.cross_entropy(
                out, y_b
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = model(X_test).argmax(1).numpy()
        curve.append(100 * balanced_accuracy_score(protocol.y_test, pred))
    return model, np.array(curve)


# --------------------------------------------------------------------------- #
# ltsk's BBN, as the benchmark trains it
# --------------------------------------------------------------------------- #


class _Recorder(Callback):
    """Initial weights and every training batch of a fit."""

    def on_train_begin(self, net, **kwargs):
        self.init_state = copy.deepcopy(net.module_.state_dict())
        self.epochs = []

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            (x_a, x_b), (y_a, y_b) = batch
            self.epochs[-1].append(
                tuple(
                    tuple(torch.as_tensor(t).clone() for t in pair)
                    for pair in ((x_a, x_b), (y_a, y_b))
                )
            )


_LTSK_TO_PLAIN = {
    "backbone.": "backbone.",
    "conventional.": "cb.",
    "rebalancing.": "rb.",
    "classifier.": "fc.",
}


def _to_plain(state):
    out = {}
    for key, value in state.items():
        prefix = next(p for p in _LTSK_TO_PLAIN if key.startswith(p))
        out[_LTSK_TO_PLAIN[prefix] + key[len(prefix) :]] = value
    return out


SHARED = "benchmark: cosine"
STEPS = "official steps: warm-up, x0.01 at 60%/80%"
OFFICIAL = STEPS + ", Nesterov, drop_last"
RECIPES = {
    SHARED: {},
    STEPS: {"schedule": "official"},
    OFFICIAL: {"schedule": "official", "nesterov": True, "drop_last": True},
    "constant lr": {"schedule": "constant"},
}


def fit_ltsk(protocol, seed, recipe=SHARED, *, joint=False, record=False):
    """ltsk's BBN (or joint net) from the benchmark's ``_make_net``.

    ``SHARED`` is the benchmark's recipe of every joint variant (its BBN row
    included); the other recipes replace its cosine decay.
    """
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import LambdaLR

    from ltsk.nets import BBNClassifier

    settings = RECIPES[recipe]
    recorder = _Recorder()
    params = {} if joint else {"estimator": BBNClassifier}
    callbacks = [("record", recorder)] if record else []
    if recipe != SHARED:
        T, schedule = protocol.epochs, settings["schedule"]
        # skorch steps after each epoch: epoch e (1-based) runs at lr_lambda(e - 1).
        policy = LRScheduler(
            policy=LambdaLR, lr_lambda=lambda k: lr_factor(schedule, k + 1, T)
        )
        callbacks.append(("recipe", policy))
    net = _make_net(
        protocol,
        seed=seed,
        callbacks=callbacks,
        optimizer__nesterov=settings.get("nesterov", False),
        iterator_train__drop_last=settings.get("drop_last", False),
        **params,
    )
    if recipe != SHARED:
        net.set_params(callbacks__cosine=None)
    net.fit(protocol.X_train, protocol.y_train)
    acc = 100 * balanced_accuracy_score(protocol.y_test, net.predict(protocol.X_test))
    return net, acc, recorder


# --------------------------------------------------------------------------- #
# the three comparisons
# --------------------------------------------------------------------------- #


def _summary(values):
    values = np.asarray(values)
    return f"{values.mean():6.2f} +- {values.std(ddof=1):5.2f} (n={len(values)})"


def replay(protocol, seeds, recipe):
    print(f"\n1. replay ({recipe}): same initial weights and batches as ltsk")
    print(" seed   ltsk    plain   same predictions   max |weight difference|")
    for seed in seeds:
        net, acc, rec = fit_ltsk(protocol, seed, recipe, record=True)
        model, curve = train_plain(
            protocol,
            seed,
            init_state=_to_plain(rec.init_state),
            batches=rec.epochs,
            **RECIPES[recipe],
        )
        final = _to_plain(net.module_.state_dict())
        plain = model.state_dict()
        diff = max((final[k] - plain[k]).abs().max().item() for k in final)
        with torch.no_grad():
            same = np.mean(
                model.eval()(torch.as_tensor(protocol.X_test)).argmax(1).numpy()
                == net.predict(protocol.X_test)
            )
        print(
            f" {seed:4d}  {acc:6.2f}  {curve[-1]:6.2f}   {100 * same:6.1f} %"
            f"           {diff:.2e}"
        )


def independent(protocols, seeds, recipe):
    print(f"\n2. independent ({recipe}): each implementation with its own seeds")
    print(" split  seed   ltsk    plain")
    ours, theirs = [], []
    for split, protocol in protocols.items():
        for seed in seeds:
            acc = fit_ltsk(protocol, seed, recipe)[1]
            plain = train_plain(protocol, seed, **RECIPES[recipe])[1][-1]
            ours.append(acc)
            theirs.append(plain)
            print(f" {split:5d}  {seed:4d}  {acc:6.2f}  {plain:6.2f}")
    print(f" ltsk  {_summary(ours)}")
    print(f" plain {_summary(theirs)}")
    t = stats.ttest_ind(ours, theirs, equal_var=False)
    u = stats.mannwhitneyu(ours, theirs)
    print(
        f" difference of means {np.mean(ours) - np.mean(theirs):+.2f} points; "
        f"Welch t-test p = {t.pvalue:.2f}, Mann-Whitney U p = {u.pvalue:.2f}"
    )
    for split in protocols:
        block = slice(
            list(protocols).index(split) * len(seeds),
            (list(protocols).index(split) + 1) * len(seeds),
        )
        print(
            f" split {split}: ltsk {_summary(ours[block])}, "
            f"plain {_summary(theirs[block])}"
        )


def schedules(protocols, seeds):
    print("\n3. learning-rate recipe: test balanced accuracy at the last epoch")
    print("   (plain BBN also at its best epoch on test, as the official code reports)")
    final = {name: [] for name in RECIPES}
    best = {name: [] for name in RECIPES}
    joint = {name: [] for name in RECIPES}
    for protocol in protocols.values():
        for seed in seeds:
            for name, kwargs in RECIPES.items():
                curve = train_plain(protocol, seed, **kwargs)[1]
                final[name].append(curve[-1])
                best[name].append(curve.max())
                joint[name].append(fit_ltsk(protocol, seed, name, joint=True)[1])
    width = max(map(len, RECIPES)) + 2
    print(
        f" {'recipe':<{width}} {'plain BBN':>22}   {'plain BBN, best epoch':>22}"
        f"   {'ltsk Joint (CE, q=1)':>22}"
    )
    for name in RECIPES:
        print(
            f" {name:<{width}} {_summary(final[name])}   {_summary(best[name])}"
            f"   {_summary(joint[name])}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits-lt")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seeds", type=int, default=10, help="net seeds per split")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--parts", nargs="+", default=["replay", "independent", "schedules"]
    )
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=[SHARED, STEPS],
        choices=list(RECIPES),
        help="learning-rate recipes of the replay and independent comparisons",
    )
    parser.add_argument("--quick", action="store_true", help="1 split, 3 seeds")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (1: these small nets gain nothing from more)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.splits, args.seeds = args.splits[:1], 3
    protocols = {}
    for split in args.splits:
        protocol = load_protocol(args.dataset, data_home=args.data_home, seed=split)
        if args.epochs is not None:
            protocol = replace(protocol, epochs=args.epochs)
        protocols[split] = protocol
    first = protocols[args.splits[0]]
    print(
        f"{args.dataset}: {len(first.y_train)} training samples, {first.epochs} "
        f"epochs, SGD lr {first.lr}, batch {first.batch_size}, weight decay "
        f"{first.weight_decay}; splits {args.splits}, net seeds 0-{args.seeds - 1}"
    )
    start = time.perf_counter()
    seeds = list(range(args.seeds))
    for recipe in args.recipes:
        if "replay" in args.parts:
            replay(first, seeds[: min(5, len(seeds))], recipe)
        if "independent" in args.parts:
            independent(protocols, seeds, recipe)
    if "schedules" in args.parts:
        schedules(protocols, seeds)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
