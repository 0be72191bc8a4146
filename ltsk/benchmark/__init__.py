"""The main job: ``python -m ltsk.benchmark``, paper-style tables on long-tailed data.

The command trains a network once with plain instance-balanced cross-entropy,
extracts its features once, and compares on them the joint classifier with the
re-balanced heads (every head of ``ltsk.heads.HEADS``: cRT, NCM, tau-norm,
LWS, post-hoc logit adjustment, DisAlign, MARC), plus jointly trained long-tail
variants (focal, class-balanced and logit-adjusted losses, q=0 and q=1/2
sampling) and imbalanced-learn's BalancedRandomForest.
Every hyperparameter is chosen on a balanced validation split disjoint from the
balanced test split the table reports.

Run ``python -m ltsk.benchmark --help`` for the options and data sets.
"""

from ltsk.benchmark._protocols import DATASETS, TAU_GRID, Protocol, load_protocol
from ltsk.benchmark._run import choose_tau, run_benchmark

__all__ = [
    "DATASETS",
    "TAU_GRID",
    "Protocol",
    "choose_tau",
    "load_protocol",
    "run_benchmark",
]
