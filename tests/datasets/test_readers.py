import gzip
import pickle
import struct

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from ltsk.datasets import (
    get_data_home,
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_idx,
    load_letter,
    load_mnist,
    load_shuttle,
)

_TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
_TYPE_CODES.update({np.float32: 0x0D, np.float64: 0x0E})


def _idx_bytes(array):
    """Encode an array as IDX by hand, following the published layout."""
    array = np.asarray(array)
    header = bytes([0, 0, _TYPE_CODES[array.dtype.type], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx(path, array, compress=True):
    data = _idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("dtype", list(_TYPE_CODES))
@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    out = load_idx(_write_idx(tmp_path / "a.idx", array, compress))
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert_array_equal(out, array)


def test_idx_known_bytes(tmp_path):
    # int16 big-endian: 0x0102 = 258, 0xFFFE = -2
    raw = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    (tmp_path / "b").write_bytes(raw)
    assert_array_equal(load_idx(tmp_path / "b"), [258, -2])


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
        (b"", "empty file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "holds 1 data bytes"),
        (b"\x1f\x8b\x08garbage", "not a readable gzip file"),
        (gzip.compress(b""), "empty file"),
    ],
)
def test_idx_malformed(tmp_path, raw, match):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as info:
        load_idx(path)
    assert str(path) in str(info.value)


def _write_mnist_files(folder, n_train=6, n_test=4):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", X)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
        data[prefix] = (X, y)
    return data


@pytest.mark.parametrize("subfolder", ["fashion_mnist", ""])
def test_load_fashion_mnist(tmp_path, subfolder):
    data = _write_mnist_files(tmp_path / subfolder)
    X, y = load_fashion_mnist(tmp_path)
    assert X.shape == (6, 28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
    assert_array_equal(X, data["train"][0])
    assert_array_equal(y, data["train"][1])
    X, y = load_fashion_mnist(tmp_path, subset="test")
    assert_array_equal(X, data["t10k"][0])
    assert_array_equal(y, [0, 1, 2, 3])


def test_load_mnist_from_env_and_uncompressed(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    X = np.zeros((2, 28, 28), dtype=np.uint8)
    _write_idx(folder / "train-images-idx3-ubyte", X, compress=False)
    _write_idx(folder / "train-labels-idx1-ubyte", np.array([7, 3], np.uint8), False)
    monkeypatch.setenv("LTSK_DATA", str(tmp_path))
    X_out, y = load_mnist()
    assert X_out.shape == (2, 28, 28)
    assert_array_equal(y, [7, 3])


def test_mnist_label_count_mismatch(tmp_path):
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="should hold 3 labels"):
        load_mnist(tmp_path)


def test_missing_file_message_names_paths(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(tmp_path)
    message = str(info.value)
    expected = tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz"
    assert str(expected) in message
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "data_home" in message and "LTSK_DATA" in message


def test_no_data_home(monkeypatch):
    monkeypatch.delenv("LTSK_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="set the LTSK_DATA environment"):
        load_mnist()
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        get_data_home("/nonexistent/ltsk-data")


@pytest.mark.parametrize("subset", ["valid", None])
def test_bad_subset(tmp_path, subset):
    for loader in (load_mnist, load_fashion_mnist, load_cifar10, load_shuttle):
        match = r"'subset' parameter of load_\w+ must be a str among"
        with pytest.raises(ValueError, match=match):
            loader(tmp_path, subset=subset)


def _cifar_batch(n, label_key, offset):
    data = (np.arange(n * 3072) + offset).astype(np.uint8).reshape(n, 3072)
    return {b"data": data, label_key: list(range(offset, offset + n))}


def _dump(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


def test_load_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    for i in range(1, 6):
        _dump(folder / f"data_batch_{i}", _cifar_batch(2, b"labels", 2 * (i - 1)))
    _dump(folder / "test_batch", _cifar_batch(3, b"labels", 0))
    X, y = load_cifar10(tmp_path)
    assert X.shape == (10, 3, 32, 32) and X.dtype == np.uint8
    assert_array_equal(y, np.arange(10))
    # row-major 3072 = 3 x 1024 channels, then 32 x 32 pixels
    assert X[0, 1, 0, 0] == 1024 % 256 and X[0, 0, 1, 0] == 32
    X, y = load_cifar10(folder, subset="test")
    assert X.shape == (3, 3, 32, 32) and y.dtype == np.int64


def test_load_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    batch = _cifar_batch(4, b"fine_labels", 96)
    batch[b"coarse_labels"] = [19, 18, 17, 16]
    _dump(folder / "train", batch)
    X, y = load_cifar100(tmp_path)
    assert X.shape == (4, 3, 32, 32)
    assert_array_equal(y, [96, 97, 98, 99])
    _, y = load_cifar100(tmp_path, label_mode="coarse")
    assert_array_equal(y, [19, 18, 17, 16])
    match = r"'label_mode' parameter of load_cifar100 must be a str among"
    with pytest.raises(ValueError, match=match):
        load_cifar100(tmp_path, label_mode="super")


def test_cifar_errors(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _dump(folder / "test_batch", {b"data": np.zeros((2, 3072), np.uint8)})
    with pytest.raises(ValueError, match="keys b'data' and b'labels'"):
        load_cifar10(tmp_path, subset="test")
    _dump(folder / "test_batch", {b"data": np.zeros((2, 100)), b"labels": [0, 1]})
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        load_cifar10(tmp_path, subset="test")
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a CIFAR python pickle"):
        load_cifar10(tmp_path, subset="test")
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        pytest.param({b"labels": [0, 1]}, r"b'data'", id="no-data"),
        pytest.param([1, 2, 3], r"should be a dict", id="not-a-dict"),
        pytest.param(
            {b"data": np.zeros((2, 3072)), b"labels": [0]},
            r"2 labels",
            id="label-count",
        ),
    ],
)
def test_cifar_malformed_batch_is_named(tmp_path, batch, match):
    _dump(tmp_path / "cifar-10-batches-py" / "data_batch_1", batch)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path)
    assert "data_batch_1" in str(info.value)


_LETTER_ROWS = [
    "T,2,8,3,5,1,8,13,0,6,6,10,8,0,8,0,8",
    "I,5,12,3,7,2,10,5,5,4,13,3,9,2,8,4,10",
    "D,4,11,6,8,6,10,6,2,6,10,3,7,3,7,3,9",
]


@pytest.mark.parametrize("subfolder", ["uci/letter", "letter", ""])
def test_load_letter(tmp_path, subfolder):
    folder = tmp_path / subfolder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letter-recognition.data").write_text("\n".join(_LETTER_ROWS) + "\n")
    X, y = load_letter(tmp_path)
    assert X.dtype == np.float64 and X.shape == (3, 16)
    assert_array_equal(y, ["T", "I", "D"])
    assert_array_equal(X[1], [5, 12, 3, 7, 2, 10, 5, 5, 4, 13, 3, 9, 2, 8, 4, 10])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param(
            "\n".join([*_LETTER_ROWS[:2], "Q,1,2,3"]),
            "line 3: expected a letter and 16",
            id="too-few-columns",
        ),
        pytest.param(
            "A," + ",".join(["1"] * 16) + "\nB," + ",".join(["1"] * 17) + "\n",
            r"line 2",
            id="too-many-columns",
        ),
        pytest.param("A," + ",".join(["x"] * 16) + "\n", r"line 1", id="not-numbers"),
        pytest.param("\n\n", r"no data rows", id="empty-file"),
    ],
)
def test_load_letter_malformed(tmp_path, content, match):
    (tmp_path / "letter-recognition.data").write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_letter(tmp_path)
    assert "letter-recognition.data" in str(info.value)


def test_load_shuttle(tmp_path):
    folder = tmp_path / "uci" / "shuttle"
    folder.mkdir(parents=True)
    rows = ["50 21 77 0 28 0 27 48 22 2", "55 0 92 0 0 26 36 92 56 4"]
    rows.append("53 0 82 0 52 -5 29 30 2 1")
    (folder / "shuttle.trn").write_text("\n".join(rows) + "\n")
    (folder / "shuttle.tst").write_text("37 0 79 0 10 4 42 69 28 6\n")
    X, y = load_shuttle(tmp_path)
    assert X.shape == (3, 9) and X.dtype == np.float64
    assert_array_equal(y, [2, 4, 1])
    assert y.dtype == np.int64
    assert X[2, 5] == -5
    X, y = load_shuttle(tmp_path, subset="test")
    assert_array_equal(y, [6])


def test_load_shuttle_malformed(tmp_path):
    (tmp_path / "shuttle.trn").write_text("1 2 3 4\n1 2 3\n")
    with pytest.raises(ValueError, match="space-separated numbers"):
        load_shuttle(tmp_path)
    (tmp_path / "shuttle.trn").write_text("1 2 3 4.5\n")
    with pytest.raises(ValueError, match="integer classes"):
        load_shuttle(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"shuttle\.tst"):
        load_shuttle(tmp_path, subset="test")
