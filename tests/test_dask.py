"""Grid searches scaled out on a local dask cluster give the sequential results.

Each candidate is fitted in a separate worker process, so everything a worker
receives (the fitted net, the heads, the torch backbone class) must pickle and
import there. A cluster that cannot start is a failure, never a skip: CI
installs ``dask[distributed]`` through the ``test`` extra.
"""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ltsk import DecoupledClassifier, LongTailNetClassifier, TauNormHead
from ltsk.datasets import load_digits_lt
from ltsk.nets import MLP


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.fail(
            "dask.distributed is required for tests/test_dask.py; install it with "
            f'pip install -e ".[test]" (or "dask[distributed]"): {exc}',
            pytrace=False,
        )
    return distributed


@pytest.fixture(scope="module")
def client():
    distributed = _import_distributed()
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    except Exception as exc:
        pytest.fail(
            f"could not start a 2-worker dask LocalCluster on loopback: {exc!r}",
            pytrace=False,
        )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def digits():
    X_train, _, y_train, _ = load_digits_lt(random_state=0)
    return (X_train / 16).astype(np.float32), y_train


@pytest.fixture(scope="module")
def fitted_net(digits):
    X, y = digits
    return LongTailNetClassifier(
        MLP, module__hidden_units=(32,), max_epochs=10, lr=0.01, random_state=0
    ).fit(X, y)


def _cv():
    # The digits-LT tail has 6 samples: 3 folds keep every class in every fold.
    return StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def _search_both_ways(make_search, X, y, client):
    distributed = _import_distributed()
    sequential = make_search(n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks:
        with parallel_config(backend="dask"):
            parallel = make_search(n_jobs=-1).fit(X, y)
    # joblib must really have dispatched the fits to the workers.
    workers = {task["worker"] for task in tasks.data}
    assert workers, "no task ran on the dask workers"
    return sequential, parallel


def _assert_same_search(sequential, parallel):
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"],
        sequential.cv_results_["mean_test_score"],
    )
    assert parallel.best_params_ == sequential.best_params_


def test_the_cluster_runs_ltsk_in_worker_processes(client):
    workers = client.run(lambda: __import__("os").getpid())
    assert len(workers) == 2
    assert len(set(workers.values())) == 2
    versions = client.run(lambda: __import__("ltsk").__version__)
    assert set(versions.values()) == {__import__("ltsk").__version__}


def test_tau_grid_search_on_a_fitted_net_matches_sequential(client, digits, fitted_net):
    X, y = digits
    taus = [0.0, 0.5, 1.0, 1.5, 2.0]

    def make_search(n_jobs):
        return GridSearchCV(
            DecoupledClassifier(fitted_net, TauNormHead()),
            {"head__tau": taus},
            cv=_cv(),
            scoring="balanced_accuracy",
            n_jobs=n_jobs,
        )

    sequential, parallel = _search_both_ways(make_search, X, y, client)
    _assert_same_search(sequential, parallel)
    assert parallel.cv_results_["mean_test_score"].shape == (len(taus),)
    # The search must have actually compared different heads, not constant scores.
    assert np.ptp(sequential.cv_results_["mean_test_score"]) > 0
    # The extractor was shared, never refitted, on either path.
    assert parallel.best_estimator_.extractor is fitted_net


def test_q_grid_search_of_a_net_matches_sequential(client, digits):
    X, y = digits
    qs = [0.0, 0.5, 1.0]

    def make_search(n_jobs):
        return GridSearchCV(
            LongTailNetClassifier(
                MLP, module__hidden_units=(16,), max_epochs=2, lr=0.01, random_state=0
            ),
            {"q": qs},
            cv=_cv(),
            scoring="balanced_accuracy",
            n_jobs=n_jobs,
        )

    sequential, parallel = _search_both_ways(make_search, X, y, client)
    _assert_same_search(sequential, parallel)
    assert parallel.cv_results_["mean_test_score"].shape == (len(qs),)
    assert np.ptp(sequential.cv_results_["mean_test_score"]) > 0
