import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def run_python():
    """Run Python code in a fresh interpreter; return its standard output.

    For what only a new process shows: which modules an import pulls in, or
    behaviour with a dependency blocked in ``sys.modules``.
    """

    def run(code):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return result.stdout

    return run


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op torch thread per test (when torch is already imported).

    The nets in the tests are tiny: with several intra-op threads on a shared
    2-core machine (or next to a second pytest-xdist worker), thread hand-offs
    cost 10-50x the arithmetic.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
