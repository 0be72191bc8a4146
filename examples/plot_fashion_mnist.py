"""
==============================
Decoupling on Fashion-MNIST-LT
==============================

Images this time: a small convolutional network trained on a long-tailed
subset of Fashion-MNIST, then the decoupled heads on its frozen features.

ltsk downloads nothing. The Fashion-MNIST files (``train-images-idx3-ubyte.gz``
and friends, as published) are read from the folder named by the
``LTSK_DATA`` environment variable. When they are not there, this example runs
the same steps on digits-LT (8x8 images) and says so, so the documentation
builds anywhere. To keep the build fast the Fashion-MNIST run is small: a
profile from 500 down to 5 images per class (rho = 100) and 10 epochs.
"""

# %%
# Data
# ----
import os

import numpy as np

from ltsk.datasets import load_digits_lt, load_fashion_mnist, make_long_tailed

try:
    X, y = load_fashion_mnist(os.environ.get("LTSK_DATA"), subset="train")
    X_held, y_held = load_fashion_mnist(os.environ.get("LTSK_DATA"), subset="test")
except (FileNotFoundError, ValueError) as exc:
    print(f"Fashion-MNIST not found ({type(exc).__name__}); using digits-LT instead.")
    dataset = "digits-LT"
    X_train, X_held, y_train, y_held = load_digits_lt(imbalance_ratio=20)
    X_train = X_train.reshape(-1, 8, 8) / 16
    X_held = X_held.reshape(-1, 8, 8) / 16
    many, few = 60, 20
else:
    dataset = "Fashion-MNIST-LT"
    X_train, y_train = make_long_tailed(
        X, y, imbalance_ratio=100, n_max=500, random_state=0
    )
    X_train, X_held = X_train / 255, X_held / 255
    many, few = 100, 20

# %%
# The balanced held-out images are split into a validation part (choosing tau)
# and a test part (reporting), 50 or fewer per class each.
from sklearn.model_selection import train_test_split

n_classes = len(np.unique(y_train))
X_val, X_test, y_val, y_test = train_test_split(
    X_held,
    y_held,
    train_size=min(50 * n_classes, len(y_held) // 2),
    test_size=min(50 * n_classes, len(y_held) // 2),
    stratify=y_held,
    random_state=0,
)
print(dataset, "training counts:", np.bincount(y_train))

# %%
# Stage 1: a small CNN, instance-balanced cross-entropy
# -----------------------------------------------------
# :class:`~ltsk.nets.SmallCNN` takes (N, H, W) or (N, C, H, W) images and
# infers its input size from the first batch.
from ltsk import LongTailNetClassifier
from ltsk.nets import SmallCNN

net = LongTailNetClassifier(
    SmallCNN,
    module__channels=(8, 16, 64),
    max_epochs=10 if dataset == "Fashion-MNIST-LT" else 15,
    lr=3e-3,
    batch_size=64,
    random_state=0,
).fit(X_train, y_train)

# %%
# Stage 2: heads on the frozen features
# -------------------------------------
# Features are extracted once and cached in memory by the ``memory`` argument
# (a folder, as for :class:`~sklearn.pipeline.Pipeline`), so the five heads
# share one pass over the training images. tau is chosen on validation with
# :func:`~ltsk.benchmark.choose_tau`.
from tempfile import mkdtemp

import pandas as pd

from ltsk import DecoupledClassifier
from ltsk.benchmark import choose_tau
from ltsk.metrics import shot_accuracy

cache = mkdtemp()
F_train, F_val = net.transform(X_train), net.transform(X_val)
joint = {"coef": net.coef_, "intercept": net.intercept_}
tau, tau_head, _ = choose_tau(
    DecoupledClassifier(net, "tau_norm").fit(X_train, y_train).head_,
    F_train,
    y_train,
    F_val,
    y_val,
    **joint,
)
print(f"tau chosen on validation: {tau}")

methods = {"Joint": net}
for name, head in {"cRT": "crt", "NCM": "ncm", "LWS": "lws"}.items():
    methods[name] = DecoupledClassifier(net, head, memory=cache).fit(X_train, y_train)
methods[f"tau-norm (tau={tau})"] = DecoupledClassifier(net, tau_head, memory=cache).fit(
    X_train, y_train
)

counts = dict(zip(net.classes_, net.class_counts_, strict=True))
table = pd.DataFrame(
    {
        name: shot_accuracy(
            y_test, clf.predict(X_test), train_counts=counts, many=many, few=few
        )
        for name, clf in methods.items()
    }
).T
print(table.round(3))

# %%
# Per-class accuracy against the training count: the heads trade a little
# accuracy on the head classes for much more on the tail.
import matplotlib.pyplot as plt

from ltsk.plotting import PerClassAccuracyDisplay

PerClassAccuracyDisplay.from_estimator(
    {name: methods[name] for name in ("Joint", "cRT", "NCM")}, X_test, y_test
)
plt.show()
