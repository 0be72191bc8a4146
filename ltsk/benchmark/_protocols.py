"""Data protocols of the benchmark: long-tailed train, balanced validation and test.

Each protocol returns a :class:`Protocol` with a long-tailed training part and a
balanced held-out part split into a validation half (for choosing tau on
:data:`TAU_GRID` and the like) and a disjoint test half (reported, never used
for choices), and names the backbone to train (:func:`backbone_class`).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ltsk import datasets

__all__ = ["DATASETS", "TAU_GRID", "Protocol", "backbone_class", "load_protocol"]

#: tau values swept for tau-norm and post-hoc logit adjustment (0 to 2, step 0.1).
TAU_GRID = tuple(np.round(np.linspace(0.0, 2.0, 21), 2).tolist())

_BACKBONES = {"mlp": "MLP", "small_cnn": "SmallCNN", "resnet32": "ResNet32"}


def backbone_class(name):
    """The ltsk backbone class of a protocol's ``backbone`` name (imports torch)."""
    from ltsk import nets

    return getattr(nets, _BACKBONES[name])


@dataclass
class Protocol:
    """One benchmark data set: splits, shot thresholds and the backbone to train.

    Built by :func:`load_protocol`; :func:`run_benchmark` trains and scores on
    it. The validation and test splits are balanced and disjoint, so every
    hyperparameter is chosen on validation and the table reports test.

    Parameters
    ----------
    name : str
        Key of the data set in :data:`DATASETS`, e.g. ``"digits-lt"``.
    X_train : ndarray of shape (n_train, ...)
        Long-tailed training inputs (rows of features, or images).
    y_train : ndarray of shape (n_train,)
        Training labels.
    X_val : ndarray of shape (n_val, ...)
        Balanced validation inputs, used to choose hyperparameters.
    y_val : ndarray of shape (n_val,)
        Validation labels.
    X_test : ndarray of shape (n_test, ...)
        Balanced test inputs, used only to report.
    y_test : ndarray of shape (n_test,)
        Test labels.
    backbone : {"mlp", "small_cnn", "resnet32"}
        Backbone of the jointly trained network.
    many : int
        Classes with more training samples are many-shot.
    few : int
        Classes with fewer training samples are few-shot.
    epochs : int
        Training epochs of the joint network.
    lr : float
        Its learning rate.
    batch_size : int, default=128
        Its batch size.
    weight_decay : float, default=5e-4
        Its SGD weight decay.
    augment : bool, default=False
        Random crop and flip of training images.
    backbone_params : dict, default={}
        Keyword arguments of the backbone (``module__*``).
    info : dict, default={}
        Free-form facts reported with the table (e.g. ``imbalance_ratio``).

    Attributes
    ----------
    train_counts : dict
        ``{label: training count}``.

    Examples
    --------
    >>> from ltsk.benchmark import load_protocol
    >>> protocol = load_protocol("digits-lt")
    >>> protocol.backbone, len(protocol.train_counts)
    ('mlp', 10)
    >>> len(protocol.y_val) + len(protocol.y_test)
    500
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    backbone: str
    many: int
    few: int
    epochs: int
    lr: float
    batch_size: int = 128
    weight_decay: float = 5e-4
    augment: bool = False
    backbone_params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def train_counts(self) -> dict:
        labels, counts = np.unique(self.y_train, return_counts=True)
        return {label: int(count) for label, count in zip(labels, counts, strict=True)}


def _split_held_out(X, y, *, val_per_class, seed):
    """Split a balanced held-out set into disjoint validation and test parts."""
    n_classes = len(np.unique(y))
    val_size = val_per_class * n_classes if val_per_class else 0.5
    X_val, X_test, y_val, y_test = train_test_split(
        X, y, train_size=val_size, stratify=y, random_state=seed
    )
    return X_val, y_val, X_test, y_test


def _digits(data_home, rho, seed):
    X_train, X_held, y_train, y_held = datasets.load_digits_lt(
        imbalance_ratio=rho, random_state=seed
    )
    X_val, y_val, X_test, y_test = _split_held_out(
        X_held, y_held, val_per_class=None, seed=seed
    )
    scale = np.float32(1 / 16)
    return dict(
        X_train=X_train.astype(np.float32) * scale,
        y_train=y_train,
        X_val=X_val.astype(np.float32) * scale,
        y_val=y_val,
        X_test=X_test.astype(np.float32) * scale,
        y_test=y_test,
        backbone="mlp",
        many=60,
        few=20,
        epochs=30,
        lr=0.05,
        batch_size=64,
    )


def _images(
    loader,
    n_max,
    *,
    val_per_class,
    many,
    few,
    epochs,
    lr,
    augment,
    backbone,
    weight_decay=5e-4,
):
    def build(data_home, rho, seed):
        X, y = loader(data_home, subset="train")
        X_test_all, y_test_all = loader(data_home, subset="test")
        X_train, y_train = datasets.make_long_tailed(
            X, y, imbalance_ratio=rho, n_max=n_max, random_state=seed
        )
        X_val, y_val, X_test, y_test = _split_held_out(
            X_test_all, y_test_all, val_per_class=val_per_class, seed=seed
        )

        def prepare(images):
            images = images.astype(np.float32) / np.float32(255)
            return images[:, None] if images.ndim == 3 else images

        return dict(
            X_train=prepare(X_train),
            y_train=y_train,
            X_val=prepare(X_val),
            y_val=y_val,
            X_test=prepare(X_test),
            y_test=y_test,
            backbone=backbone,
            many=many,
            few=few,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            augment=augment,
        )

    return build


def _tabular(X_train, y_train, X_held, y_held, seed, **settings):
    """Held-out split into validation/test; features standardised on training."""
    X_val, y_val, X_test, y_test = _split_held_out(
        X_held, y_held, val_per_class=None, seed=seed
    )
    scaler = StandardScaler().fit(X_train)
    return dict(
        X_train=scaler.transform(X_train).astype(np.float32),
        y_train=y_train,
        X_val=scaler.transform(X_val).astype(np.float32),
        y_val=y_val,
        X_test=scaler.transform(X_test).astype(np.float32),
        y_test=y_test,
        backbone="mlp",
        many=100,
        few=20,
        **settings,
    )


def _letter(data_home, rho, seed):
    X, y = datasets.load_letter(data_home)
    X_train, X_held, y_train, y_held = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_train, y_train = datasets.make_long_tailed(
        X_train, y_train, imbalance_ratio=rho, class_order="shuffle", random_state=seed
    )
    # Recipe chosen on the validation split (wider than the MLP default).
    return _tabular(
        X_train,
        y_train,
        X_held,
        y_held,
        seed,
        epochs=150,
        lr=0.1,
        backbone_params={"hidden_units": (512, 512)},
    )


def _ratio(y):
    counts = np.unique(y, return_counts=True)[1]
    return round(float(counts.max() / counts.min()), 1)


def _shuttle(data_home, rho, seed):
    X_train, y_train = datasets.load_shuttle(data_home, subset="train")
    X_held, y_held = datasets.load_shuttle(data_home, subset="test")
    return _tabular(
        X_train,
        y_train,
        X_held,
        y_held,
        seed,
        epochs=10,
        lr=0.05,
        info={
            "note": "natural imbalance; --imbalance-ratio is ignored",
            "imbalance_ratio": _ratio(y_train),
        },
    )


@dataclass(frozen=True)
class _Spec:
    build: Callable
    default_rho: float
    description: str


DATASETS: dict[str, _Spec] = {
    "digits-lt": _Spec(_digits, 20, "scikit-learn's bundled digits, offline (MLP)"),
    "fashion-mnist-lt": _Spec(
        _images(
            datasets.load_fashion_mnist,
            6000,
            val_per_class=200,
            many=1000,
            few=200,
            epochs=10,
            lr=0.05,
            augment=False,
            backbone="small_cnn",
            # Chosen on the validation split from 5e-4, 1e-3, 2e-3 by the best
            # stage-2 head (docs/benchmarks.md).
            weight_decay=2e-3,
        ),
        100,
        "Fashion-MNIST IDX files (SmallCNN)",
    ),
    "mnist-lt": _Spec(
        _images(
            datasets.load_mnist,
            5421,
            val_per_class=200,
            many=1000,
            few=200,
            epochs=5,
            lr=0.05,
            augment=False,
            backbone="small_cnn",
        ),
        100,
        "MNIST IDX files (SmallCNN)",
    ),
    "cifar10-lt": _Spec(
        _images(
            datasets.load_cifar10,
            5000,
            val_per_class=200,
            many=1000,
            few=200,
            epochs=200,
            lr=0.1,
            augment=True,
            backbone="resnet32",
            # Cao et al. (2019) and Menon et al. (2021) train ResNet-32 with 2e-4.
            weight_decay=2e-4,
        ),
        100,
        "CIFAR-10 python pickles (ResNet-32; slow on CPU)",
    ),
    "cifar100-lt": _Spec(
        _images(
            datasets.load_cifar100,
            500,
            val_per_class=20,
            many=100,
            few=20,
            epochs=200,
            lr=0.1,
            augment=True,
            backbone="resnet32",
            # Cao et al. (2019) and Menon et al. (2021) train ResNet-32 with 2e-4.
            weight_decay=2e-4,
        ),
        100,
        "CIFAR-100 python pickles (ResNet-32; slow on CPU)",
    ),
    "letter-lt": _Spec(_letter, 100, "UCI Letter, 26 classes (MLP)"),
    "shuttle": _Spec(_shuttle, 1, "UCI Statlog Shuttle, natural imbalance"),
}


def load_protocol(name, *, data_home=None, imbalance_ratio=None, seed=0) -> Protocol:
    r"""Build the named protocol's splits.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    data_home : str or None, default=None
        Directory with the data files; default the ``LTSK_DATA`` environment
        variable. Not needed for ``digits-lt``.
    imbalance_ratio : float or None, default=None
        The ratio :math:`\rho = n_{max} / n_{min}` of the training part;
        None takes the data set's default.
    seed : int, default=0
        Seed of every random split.

    Returns
    -------
    protocol : Protocol
        The training, validation and test splits and the training recipe.

    Raises
    ------
    ValueError
        When ``name`` is not a key of :data:`DATASETS`.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.benchmark import load_protocol
    >>> protocol = load_protocol("digits-lt", imbalance_ratio=10, seed=0)
    >>> counts = np.bincount(protocol.y_train)
    >>> int(counts.max() // counts.min())
    10
    """
    if name not in DATASETS:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"Unknown dataset {name!r}; known datasets: {known}.")
    spec = DATASETS[name]
    if data_home is None:
        data_home = os.environ.get("LTSK_DATA")
    rho = spec.default_rho if imbalance_ratio is None else float(imbalance_ratio)
    parts = spec.build(data_home, rho, seed)
    protocol = Protocol(name=name, **parts)
    protocol.info.setdefault("imbalance_ratio", rho)
    return protocol
