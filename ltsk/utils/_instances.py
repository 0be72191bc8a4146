"""Instances of the registered heads for the common tests.

The one table of constructor parameters the common tests (scikit-learn's
estimator checks, persistence, determinism, bad input) build their heads from,
as scikit-learn's ``instance_generator`` does for its own estimators. A head
added to :data:`ltsk.heads.HEADS` is tested with its defaults without any entry
here; an entry adds non-default settings worth checking too.
"""

from ltsk.heads import HEADS

# {registry name: [constructor parameters, ...]} beyond the defaults.
HEAD_TEST_PARAMS: dict[str, list[dict]] = {
    "crt": [
        {"q": 0.5, "gamma": 2.0},
        {"max_norm": 1.0, "smooth_head": 0.3, "smooth_tail": 0.1},
        {"device": "cpu"},
        {"solver": "sgd", "random_state": 0},
    ],
    "lws": [
        {"smooth_head": 0.3, "smooth_tail": 0.1},
        {"solver": "sgd", "random_state": 0},
    ],
    "ncm": [{"metric": "cosine"}, {"metric": "cosine", "device": "cpu"}],
    "disalign": [{"rho": 0.0}],
    "marc": [{"alpha": 1e-2, "tol": 1e-4}],
}


def head_instances():
    """Every registered head with its defaults, then with each setting above.

    Returns
    -------
    heads : list of estimator
        Unfitted heads, in registry order.
    """
    heads = []
    for name, head in HEADS.items():
        heads.append(head())
        heads.extend(head(**params) for params in HEAD_TEST_PARAMS.get(name, []))
    return heads
