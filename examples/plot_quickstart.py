"""
===================================
Quickstart: decoupling on digits-LT
===================================

Train a small network once with plain instance-balanced cross-entropy, then
re-balance only its classifier with the four heads of Kang et al. (ICLR 2020):
classifier re-training (cRT), nearest class mean (NCM), tau-normalisation and
learnable weight scaling (LWS). Compare them per shot group, and look at the
paper's central figure: the norms of the classifier weights per class.
"""

# %%
# A long-tailed split of scikit-learn's digits
# --------------------------------------------
# :func:`~ltsk.datasets.load_digits_lt` keeps a balanced test part (50 images
# per digit) and subsamples the rest to an exponential profile: 124 training
# images of digit 0, down to 6 of digit 9.
import numpy as np
import pandas as pd

from ltsk.datasets import load_digits_lt

X_train, X_test, y_train, y_test = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train, X_test = X_train / 16, X_test / 16
print("training counts:", np.bincount(y_train))
print("test counts:    ", np.bincount(y_test))

# %%
# Stage 1: joint training
# -----------------------
# :class:`~ltsk.nets.LongTailNetClassifier` is a skorch classifier: a backbone
# (here an :class:`~ltsk.nets.MLP`) followed by a linear classifier that the
# net adds itself. ``q=1`` is plain shuffled training.
from ltsk import LongTailNetClassifier
from ltsk.nets import MLP

net = LongTailNetClassifier(
    MLP, module__hidden_units=(128, 64), max_epochs=30, lr=3e-3, random_state=0
)
net.fit(X_train, y_train)
print("features:", net.transform(X_test).shape, "classifier:", net.coef_.shape)

# %%
# Stage 2: four heads on the frozen features
# ------------------------------------------
# :class:`~ltsk.DecoupledClassifier` never refits the network: it extracts the
# features (in eval mode) and fits only the head. The heads that start from the
# joint classifier (tau-norm, LWS) receive ``net.coef_`` / ``net.intercept_``.
from ltsk import DecoupledClassifier, TauNormHead

methods = {
    "Joint": net,
    "cRT": DecoupledClassifier(net, "crt").fit(X_train, y_train),
    "NCM": DecoupledClassifier(net, "ncm").fit(X_train, y_train),
    "tau-norm": DecoupledClassifier(net, TauNormHead(tau=1.0)).fit(X_train, y_train),
    "LWS": DecoupledClassifier(net, "lws").fit(X_train, y_train),
}

# %%
# Accuracy per shot group
# -----------------------
# The paper's groups are many (> 100 training images), medium and few (< 20);
# digits-LT is small, so the many-shot threshold is lowered to 60.
from ltsk.metrics import shot_accuracy

train_counts = dict(zip(net.classes_, net.class_counts_, strict=True))
table = pd.DataFrame(
    {
        name: shot_accuracy(
            y_test, clf.predict(X_test), train_counts=train_counts, many=60, few=20
        )
        for name, clf in methods.items()
    }
).T
print(table.round(3))

# %%
# The same numbers as grouped bars:
import matplotlib.pyplot as plt

from ltsk.plotting import ShotAccuracyDisplay

ShotAccuracyDisplay.from_estimator(methods, X_test, y_test, many=60, few=20)
plt.show()

# %%
# Weight norms per class
# ----------------------
# Joint training lets the weight vectors of the head classes grow larger than
# those of the tail classes, so head-class logits win close calls. On this small
# problem the effect is mild (the two rarest digits have the smallest norms);
# on ImageNet-LT it is the paper's Fig. 2. tau-normalisation with ``tau=1``
# divides every row by its norm, which flattens the curve.
from ltsk.plotting import WeightNormDisplay

display = WeightNormDisplay.from_estimator(net, name="Joint")
WeightNormDisplay.from_estimator(methods["tau-norm"], ax=display.ax_, name="tau-norm")
display.ax_.legend()
plt.show()
