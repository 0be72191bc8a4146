"""The compiled NCM kernels against the numpy path they replace on large inputs."""

import numpy as np
import pytest

import ltsk.heads._ncm as ncm
from ltsk.heads import NCMHead

kernels = ncm._kernels()


def test_numba_is_installed_with_ltsk():
    # numba is a dependency: without it fit silently keeps the numpy path.
    assert kernels is not None


def _fit(monkeypatch, path, F, y, **params):
    threshold = 0 if path == "kernels" else np.inf
    monkeypatch.setattr(ncm, "_KERNEL_MIN_SIZE", threshold)
    classes = params.pop("classes", None)
    return NCMHead(**params).fit(F, y, classes=classes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("normalize", [True, False])
def test_kernels_match_numpy_path(monkeypatch, dtype, order, normalize):
    rng = np.random.default_rng(0)
    y = rng.choice(5, size=3000, p=[0.6, 0.25, 0.1, 0.04, 0.01])
    F = rng.normal(size=(3000, 37)) + 3.0 * np.eye(37)[y]
    F[10] = F.mean(axis=0)  # near the mean: a tiny but non-zero norm
    F = np.asarray(F, dtype=dtype, order=order)
    classes = np.arange(-1, 6)  # -1 and 5 are absent from y
    heads = [
        _fit(monkeypatch, path, F, y, normalize=normalize, classes=classes)
        for path in ("numpy", "kernels")
    ]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for name in ("mean_", "centroids_"):
        numpy_value, kernel_value = (getattr(head, name) for head in heads)
        assert kernel_value.dtype == dtype
        np.testing.assert_allclose(kernel_value, numpy_value, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(heads[1].centroids_[[0, -1]], 0.0)


def test_zero_rows_after_centring_are_skipped_by_the_kernel(monkeypatch):
    # The training mean is exactly [1, 1]: that row contributes nothing.
    F = np.array([[0.0, 2.0], [2.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]])
    y = [0, 1, 0, 1, 1]
    head = _fit(monkeypatch, "kernels", F, y)
    unit = (F - 1.0) / np.sqrt(2.0)
    np.testing.assert_allclose(head.centroids_[0], unit[0] / 2)
    np.testing.assert_allclose(head.centroids_[1], (unit[1] + unit[3] + unit[4]) / 3)


def test_row_blocks_over_threads_give_the_same_sums(monkeypatch):
    rng = np.random.default_rng(1)
    F = rng.normal(size=(1001, 8)) + 1.0
    y = rng.integers(0, 4, size=1001)
    one = _fit(monkeypatch, "kernels", F, y)
    monkeypatch.setattr(kernels, "n_threads", lambda n_rows: 3)
    three = _fit(monkeypatch, "kernels", F, y)
    np.testing.assert_allclose(three.mean_, one.mean_, rtol=1e-12)
    np.testing.assert_allclose(three.centroids_, one.centroids_, atol=1e-14)


def test_thread_count_is_bounded(monkeypatch):
    assert kernels.n_threads(10) == 1
    assert 1 <= kernels.n_threads(10**9) <= (kernels.os.cpu_count() or 1)
    monkeypatch.setattr(kernels.numba.config, "NUMBA_NUM_THREADS", 1)
    assert kernels.n_threads(10**9) == 1


def test_fit_without_numba_uses_the_numpy_path(monkeypatch):
    rng = np.random.default_rng(2)
    F = rng.normal(size=(200, 4))
    y = rng.integers(0, 3, size=200)
    reference = _fit(monkeypatch, "numpy", F, y)
    monkeypatch.setattr(ncm, "_kernels", lambda: None)
    head = _fit(monkeypatch, "kernels", F, y)
    np.testing.assert_array_equal(head.centroids_, reference.centroids_)


def test_numba_is_imported_only_by_a_large_fit(run_python):
    code = (
        "import sys, numpy as np\n"
        "from ltsk import DecoupledClassifier\n"
        "from ltsk.heads import NCMHead\n"
        "F = np.random.default_rng(0).normal(size=(300, 4))\n"
        "NCMHead().fit(F, np.arange(300) % 3)\n"
        "print('numba' in sys.modules)\n"
    )
    assert run_python(code).strip() == "False"


def test_kernels_work_without_a_writable_cache(run_python):
    # numba refuses cache=True when it finds no writable cache directory; the
    # kernels are then compiled in every process instead.
    code = (
        "from numba.core import caching\n"
        "caching.CompileResultCacheImpl._locator_classes = []\n"
        "import numpy as np\n"
        "from ltsk.heads import _ncm_kernels\n"
        "F, y, counts = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1]), [2, 2]\n"
        "sums, _ = _ncm_kernels.class_sums(F, y, np.array(counts), None)\n"
        "print(sums.tolist())\n"
    )
    assert run_python(code).strip() == "[[6.0, 8.0, 10.0], [12.0, 14.0, 16.0]]"
