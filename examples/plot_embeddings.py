"""
=====================================================
Re-balanced heads on precomputed embeddings (.npy)
=====================================================

Embeddings computed once by any model (a foundation model run on a GPU
elsewhere, saved as ``.npy``) are all stage 2 needs:
``DecoupledClassifier(None, head)`` fits the heads on them directly. This
example compares a plain logistic-regression probe, the usual way such
embeddings are evaluated, with the re-balanced heads on each shot group.
"""

# %%
# Embeddings saved to disk
# ------------------------
# A stand-in for a foundation model that runs offline in a blink: a fixed
# random projection of the 8x8 digit images to 256 dimensions followed by a
# ReLU (random features). A real pipeline would write the model's embeddings
# the same way, with :func:`numpy.save`.
import tempfile
from pathlib import Path

import numpy as np

from ltsk.datasets import load_digits_lt

X_train, X_test, y_train, y_test = load_digits_lt(imbalance_ratio=50, random_state=0)
rng = np.random.default_rng(0)
projection = rng.normal(scale=1 / 8, size=(64, 256))
offset = rng.uniform(-0.5, 0.5, size=256)


def embed(X):
    return np.maximum(X / 16 @ projection + offset, 0).astype(np.float32)


folder = Path(tempfile.mkdtemp())
np.save(folder / "train.npy", embed(X_train))
np.save(folder / "test.npy", embed(X_test))

# %%
# Loaded as memory maps
# ---------------------
# ``mmap_mode="r"`` maps the file instead of reading it: a float32 matrix is
# used in place by the heads (validation does not copy it), so an embedding
# matrix larger than memory can still be fitted.
F_train = np.load(folder / "train.npy", mmap_mode="r")
F_test = np.load(folder / "test.npy", mmap_mode="r")
print(type(F_train).__name__, F_train.shape, F_train.dtype)

# %%
# A linear probe against the re-balanced heads
# --------------------------------------------
# The probe is scikit-learn's :class:`~sklearn.linear_model.LogisticRegression`
# fitted on the embeddings as they are; the heads re-balance a classifier on the
# same features. Accuracy is the mean per-class accuracy of each shot group
# (more than 60 training images, 20 to 60, fewer than 20).
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ltsk import DecoupledClassifier
from ltsk.metrics import shot_accuracy

train_counts = dict(zip(*np.unique(y_train, return_counts=True), strict=True))
print("training images per digit:", {int(k): int(v) for k, v in train_counts.items()})

probe = LogisticRegression(max_iter=2000).fit(F_train, y_train)
predictions = {"logistic probe": probe.predict(F_test)}
for head in ["logit_adjust", "tau_norm", "lws", "crt", "ncm"]:
    clf = DecoupledClassifier(None, head).fit(F_train, y_train)
    predictions[head] = clf.predict(F_test)

table = pd.DataFrame(
    {
        name: shot_accuracy(y_test, y_pred, train_counts=train_counts, many=60, few=20)
        for name, y_pred in predictions.items()
    }
).T
print(table.round(3).to_string())

# %%
# The same per shot group, as a figure.
from ltsk.plotting import ShotAccuracyDisplay

ShotAccuracyDisplay.from_predictions(
    y_test, predictions, train_counts=train_counts, many=60, few=20
)
