"""set_output and get_feature_names_out of the nets, as scikit-learn transformers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from ltsk.nets import MLP, BBNClassifier, LongTailNetClassifier

pd = pytest.importorskip("pandas")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], [30, 20, 10])
    X = rng.normal(size=(60, 4)) + np.searchsorted(["a", "b", "c"], y)[:, None]
    return X.astype(np.float32), y


@pytest.mark.parametrize(
    ("cls", "n_features"), [(LongTailNetClassifier, 8), (BBNClassifier, 16)]
)
def test_pandas_output_in_a_pipeline(cls, n_features, data):
    X, y = data
    net = cls(MLP, module__hidden_units=(8,), max_epochs=2, random_state=0)
    with pytest.raises(NotFittedError):
        net.get_feature_names_out()
    pipe = make_pipeline(net, LogisticRegression()).set_output(transform="pandas")
    pipe.fit(X, y)
    features = pipe[:-1].transform(X)
    prefix = cls.__name__.lower()
    expected = [f"{prefix}{i}" for i in range(n_features)]
    assert isinstance(features, pd.DataFrame)
    assert list(features.columns) == expected
    assert list(pipe[0].get_feature_names_out()) == expected
    # the same numbers as the default (numpy) output
    fresh = cls(MLP, module__hidden_units=(8,), max_epochs=2, random_state=0)
    plain = fresh.fit(X, y).transform(X)
    np.testing.assert_array_equal(features.to_numpy(), plain)
    assert isinstance(plain, np.ndarray)
    # set_output survives clone and is not a constructor parameter
    copy = clone(pipe[0])
    assert copy._sklearn_output_config == {"transform": "pandas"}
    assert "_sklearn_output_config" not in copy.get_params()
    assert isinstance(copy.fit_transform(X, y), pd.DataFrame)
    assert pipe.predict(X[:3]).shape == (3,)
