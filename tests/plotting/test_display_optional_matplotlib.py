import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ltsk.plotting import (
    PerClassAccuracyDisplay,
    ReliabilityDisplay,
    ShotAccuracyDisplay,
    WeightNormDisplay,
)

HINT = r"pip install matplotlib"


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("matplotlib")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.mark.parametrize(
    "display",
    [
        WeightNormDisplay([1.0, 2.0], [10, 5]),
        ShotAccuracyDisplay([[0.5, 0.5, 0.5, 0.5]], method_names=["m"]),
        PerClassAccuracyDisplay([0.5, 0.5], [10, 5]),
        ReliabilityDisplay([0.5, 0.9], [0.4, 1.0], [3, 2], 0.1),
    ],
    ids=lambda d: type(d).__name__,
)
def test_plot_without_matplotlib_says_how_to_install(no_matplotlib, display):
    with pytest.raises(ImportError, match=HINT) as info:
        display.plot()
    assert f"{type(display).__name__}.plot requires matplotlib" in str(info.value)
    assert not hasattr(display, "ax_")


@pytest.mark.parametrize("display", [ShotAccuracyDisplay, PerClassAccuracyDisplay])
def test_from_predictions_without_matplotlib(no_matplotlib, display):
    match = f"{display.__name__}.from_predictions requires matplotlib.*{HINT}"
    with pytest.raises(ImportError, match=match):
        display.from_predictions(["a", "b"], ["a", "a"], train_counts={"a": 3, "b": 1})


@pytest.mark.parametrize(
    ("display", "args"),
    [
        (WeightNormDisplay, ()),
        (ShotAccuracyDisplay, (np.ones((2, 1)), [0, 1])),
        (PerClassAccuracyDisplay, (np.ones((2, 1)), [0, 1])),
        (ReliabilityDisplay, (np.ones((2, 1)), [0, 1])),
    ],
)
def test_from_estimator_fails_before_computing(no_matplotlib, display, args):
    # the estimator is not even fitted: the missing dependency is reported first
    match = f"{display.__name__}.from_estimator requires matplotlib.*{HINT}"
    with pytest.raises(ImportError, match=match):
        display.from_estimator(LogisticRegression(), *args)


def test_import_and_build_without_matplotlib(run_python):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from ltsk.plotting import WeightNormDisplay\n"
        "d = WeightNormDisplay([1.0, 3.0], [5, 9])\n"
        "print(d.norms.tolist(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    assert run_python(code).split() == ["[1.0,", "3.0]", "False"]


def test_values_are_kept_when_built_without_plotting():
    display = PerClassAccuracyDisplay([[0.25, np.nan]], [4, 9], method_names=["m"])
    assert display.accuracies.shape == (1, 2)
    assert np.isnan(display.accuracies[0, 1])
