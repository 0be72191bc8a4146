"""Readers for MNIST-style IDX files and the CIFAR python pickles."""

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ltsk.datasets._files import DATA_HOME, SUBSET, find_file

# IDX type byte -> big-endian numpy dtype (LeCun et al., MNIST file format).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


_LOADER_CONSTRAINTS = {"data_home": DATA_HOME, "subset": SUBSET}


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def load_idx(path):
    """Read an array from an IDX file, gzip-compressed or raw.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is detected from the content, not the
        name.

    Returns
    -------
    array : ndarray
        With the shape and element type stored in the file, in native byte
        order.

    Raises
    ------
    ValueError
        When the file is not a well-formed IDX file (bad magic number, unknown
        type code, or a size that does not match its header).

    Notes
    -----
    An IDX file starts with the magic number: two zero bytes, a type byte
    (0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D
    float32, 0x0E float64) and the number of dimensions; then one big-endian
    uint32 per dimension, then the data in C order, big-endian.

    References
    ----------
    .. [1] Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
       handwritten digits", file format description.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from ltsk.datasets import load_idx
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") * 2
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + bytes([1, 2, 3, 4]))
    >>> load_idx(path)
    array([[1, 2],
           [3, 4]], dtype=uint8)
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{str(path)!r} is not a readable gzip file.") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(
            f"{str(path)!r} is not an IDX file: it must start with two zero bytes, "
            f"got magic number {raw[:4].hex() or 'none (empty file)'}."
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{str(path)!r} has unknown IDX type code 0x{type_code:02x}; expected "
            f"one of {[f'0x{code:02x}' for code in _IDX_DTYPES]}."
        )
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(
            f"{str(path)!r} has a truncated IDX header ({ndim} dimensions, "
            f"{len(raw)} bytes)."
        )
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    n_data = len(raw) - 4 - 4 * ndim
    if n_data != expected:
        raise ValueError(
            f"{str(path)!r} holds {n_data} data bytes but its header announces "
            f"shape {shape} of {dtype.name}, i.e. {expected} bytes."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def _load_idx_pair(data_home, subset, subdirs, dataset):
    arrays = []
    for stem in _IDX_FILES[subset]:
        path = find_file(data_home, [stem + ".gz", stem], subdirs, dataset)
        arrays.append((path, load_idx(path)))
    (image_path, X), (label_path, y) = arrays
    if X.ndim != 3 or X.dtype != np.uint8:
        raise ValueError(
            f"{str(image_path)!r} should hold uint8 images of shape (N, rows, "
            f"cols), got {X.dtype} of shape {X.shape}."
        )
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{str(label_path)!r} should hold {X.shape[0]} labels (one per image "
            f"in {str(image_path)!r}), got shape {y.shape}."
        )
    return X, y.astype(np.int64)


_IDX_DOC = """Load {title} from its original IDX files in a local directory.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the four files ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz`` (gzip or uncompressed without ``.gz``),
        either in a subfolder {subdirs} or directly. ``None`` reads the
        ``LTSK_DATA`` environment variable. Nothing is downloaded.
    subset : {{"train", "test"}}, default="train"
        The training files or the ``t10k`` test files.

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28), dtype uint8
        Grey-level images, 0-255.
    y : ndarray of shape (n_samples,), dtype int64
        Class labels 0-9.

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message lists every path looked for.

    See Also
    --------
    load_idx : The file reader.
    ltsk.metrics.imbalance_summary : How long-tailed labels are (these are
        balanced; :func:`make_long_tailed` makes them long-tailed).

    References
    ----------
    .. [1] {reference}

    Examples
    --------
    >>> import tempfile
    >>> from ltsk.datasets import {name}
    >>> X, y = {name}("/path/to/data")  # doctest: +SKIP
    >>> X.shape, X.dtype, y.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'), dtype('int64'))

    Without the files, the error says where they were looked for:

    >>> {name}(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: {title} file 'train-images-idx3-ubyte.gz' not found; ...
    """

_MNIST_SUBDIRS = ("mnist", "MNIST/raw")
_FASHION_SUBDIRS = ("fashion_mnist", "fashion-mnist", "FashionMNIST/raw")


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_mnist(data_home=None, *, subset="train"):
    return _load_idx_pair(data_home, subset, _MNIST_SUBDIRS, "MNIST")


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_fashion_mnist(data_home=None, *, subset="train"):
    return _load_idx_pair(data_home, subset, _FASHION_SUBDIRS, "Fashion-MNIST")


load_mnist.__doc__ = _IDX_DOC.format(
    title="MNIST",
    name="load_mnist",
    subdirs=", ".join(f"``{s}/``" for s in _MNIST_SUBDIRS),
    reference='Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based '
    'learning applied to document recognition", Proc. IEEE 86(11), 1998.',
)
load_fashion_mnist.__doc__ = _IDX_DOC.format(
    title="Fashion-MNIST",
    name="load_fashion_mnist",
    subdirs=", ".join(f"``{s}/``" for s in _FASHION_SUBDIRS),
    reference='H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image '
    'Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, '
    "2017.",
)


def _read_cifar_batch(path, label_key):
    with open(path, "rb") as f:
        try:
            # the official files are python pickles; only load trusted copies
            batch = pickle.load(f, encoding="bytes")
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{str(path)!r} is not a CIFAR python pickle.") from exc
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(
            f"{str(path)!r} should be a dict with keys b'data' and {label_key!r}, "
            f"got {keys}."
        )
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{str(path)!r}: b'data' should have shape (N, 3072), got {data.shape}."
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{str(path)!r}: {label_key!r} should hold {data.shape[0]} labels, got "
            f"shape {labels.shape}."
        )
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar(data_home, names, subdir, dataset, label_key):
    parts = [
        _read_cifar_batch(find_file(data_home, name, [subdir], dataset), label_key)
        for name in names
    ]
    X = np.concatenate([X for X, _ in parts])
    y = np.concatenate([y for _, y in parts])
    return X, y


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_cifar10(data_home=None, *, subset="train"):
    """Load CIFAR-10 from the original python pickles in a local directory.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``cifar-10-batches-py/`` (with ``data_batch_1`` ...
        ``data_batch_5`` and ``test_batch``), or those files directly.
        ``None`` reads the ``LTSK_DATA`` environment variable. Nothing is
        downloaded.
    subset : {"train", "test"}, default="train"
        The five training batches (50000 images) or the test batch (10000).

    Returns
    -------
    X : ndarray of shape (n_samples, 3, 32, 32), dtype uint8
        RGB images, channels first.
    y : ndarray of shape (n_samples,), dtype int64
        Class labels 0-9.

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message lists every path looked for.

    Notes
    -----
    The files are python pickles, which can run code when loaded: only read
    copies from a trusted source.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
       Images", technical report, 2009.

    Examples
    --------
    >>> from ltsk.datasets import load_cifar10
    >>> X, y = load_cifar10("/path/to/data")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (50000, 3, 32, 32)
    """
    names = (
        [f"data_batch_{i}" for i in range(1, 6)]
        if subset == "train"
        else ["test_batch"]
    )
    return _load_cifar(data_home, names, "cifar-10-batches-py", "CIFAR-10", b"labels")


@validate_params(
    {**_LOADER_CONSTRAINTS, "label_mode": [StrOptions({"fine", "coarse"})]},
    prefer_skip_nested_validation=True,
)
def load_cifar100(data_home=None, *, subset="train", label_mode="fine"):
    """Load CIFAR-100 from the original python pickles in a local directory.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``cifar-100-python/`` (with ``train`` and ``test``), or
        those files directly. ``None`` reads the ``LTSK_DATA`` environment
        variable. Nothing is downloaded.
    subset : {"train", "test"}, default="train"
        The training file (50000 images) or the test file (10000).
    label_mode : {"fine", "coarse"}, default="fine"
        The 100 fine classes (``b"fine_labels"``) or the 20 superclasses
        (``b"coarse_labels"``).

    Returns
    -------
    X : ndarray of shape (n_samples, 3, 32, 32), dtype uint8
        RGB images, channels first.
    y : ndarray of shape (n_samples,), dtype int64
        Class labels, 0-99 (fine) or 0-19 (coarse).

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message lists every path looked for.

    Notes
    -----
    The files are python pickles, which can run code when loaded: only read
    copies from a trusted source.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
       Images", technical report, 2009.

    Examples
    --------
    >>> from ltsk.datasets import load_cifar100
    >>> X, y = load_cifar100("/path/to/data", subset="test")  # doctest: +SKIP
    >>> X.shape, y.max()  # doctest: +SKIP
    ((10000, 3, 32, 32), 99)
    """
    label_key = f"{label_mode}_labels".encode()
    return _load_cifar(data_home, [subset], "cifar-100-python", "CIFAR-100", label_key)
