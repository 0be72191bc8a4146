"""The method table of the benchmark: what is compared, with which settings.

The stage-2 rows come from one mapping of head classes by shorthand name, the
same names as ``DecoupledClassifier(head="crt")``; the jointly trained variants
and the baseline are listed here with their reference defaults. How each method
is trained and scored is in ``_run``.
"""

# Row names of the heads, in table order; every head runs with its defaults
# (cRT and LWS with class-balanced sampling, q=0).
_HEAD_ROWS = {
    "crt": "cRT",
    "ncm": "NCM",
    "lws": "LWS",
    "tau_norm": "tau-norm",
    "logit_adjust": "LA post-hoc",
}


def _head_methods(heads):
    """The stage-2 rows: ``(row name, unfitted head)`` for every head of ``heads``.

    Parameters
    ----------
    heads : Mapping of str to type
        Head classes by shorthand name. The heads named in ``_HEAD_ROWS`` come
        first, in its order and under its row names; any other follows, in the
        mapping's order, under its shorthand name.

    Returns
    -------
    methods : list of (str, estimator)
    """
    names = [name for name in dict.fromkeys([*_HEAD_ROWS, *heads]) if name in heads]
    return [(_HEAD_ROWS.get(name, name), heads[name]()) for name in names]


def _drw_start(epochs):
    """DRW's switch epoch: at 80% of training, as Cao et al.'s 160 of 200."""
    return min(epochs - 1, int(0.8 * epochs))


def _joint_variants(epochs):
    """``(row name, net parameters)`` of the jointly trained long-tail variants."""
    from ltsk.losses import ClassBalancedLoss, FocalLoss, LDAMLoss, LogitAdjustedLoss
    from ltsk.nets import BBNClassifier, DeferredReweighting

    drw = _drw_start(epochs)
    return [
        ("Joint + focal (gamma=2)", {"criterion": FocalLoss, "criterion__gamma": 2.0}),
        (
            "Joint + class-balanced",
            {"criterion": ClassBalancedLoss, "criterion__beta": 0.9999},
        ),
        ("Joint + LA loss (tau=1)", {"criterion": LogitAdjustedLoss}),
        (
            "LDAM-DRW",
            {
                "criterion": LDAMLoss,
                "callbacks": [("drw", DeferredReweighting(start_epoch=drw))],
            },
        ),
        ("Joint, q=0 (class-balanced)", {"q": 0.0}),
        ("Joint, q=1/2 (square-root)", {"q": 0.5}),
        ("Joint, progressively balanced", {"q": "progressive"}),
        ("Joint + mixup (alpha=1)", {"mixup": "mixup"}),
        ("Joint + Remix (kappa=3, tau=0.5)", {"mixup": "remix"}),
        ("BBN", {"estimator": BBNClassifier}),
    ]


def _baseline(seed):
    """``(row name, estimator)`` of the baseline fitted on the raw features."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    forest = BalancedRandomForestClassifier(
        n_estimators=300,
        sampling_strategy="all",
        replacement=True,
        bootstrap=False,
        random_state=seed,
        n_jobs=-1,
    )
    return "BalancedRandomForest (raw)", forest
