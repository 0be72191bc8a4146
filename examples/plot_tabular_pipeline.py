"""
=======================================
Tabular data: pipelines and re-sampling
=======================================

ltsk's estimators are ordinary scikit-learn steps. This example builds a
long-tailed tabular problem and shows three ways to handle it:

1. a ``StandardScaler`` -> :class:`~ltsk.nets.LongTailNetClassifier`
   pipeline, then :class:`~ltsk.DecoupledClassifier` on the fitted pipeline;
2. the heads on the raw (scaled) features, without torch;
3. :class:`~ltsk.sampling.PowerLawSampler` in an imbalanced-learn pipeline,
   re-sampling the data for any classifier.
"""

# %%
# A long-tailed tabular problem
# -----------------------------
# Eight Gaussian classes from :func:`~sklearn.datasets.make_classification`,
# on features of very different scales, subsampled by
# :func:`~ltsk.datasets.make_long_tailed` to an exponential profile with
# imbalance ratio 50 (300 rows of the head class, 6 of the tail class). The
# test part stays balanced.
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from ltsk.datasets import make_long_tailed

X, y = make_classification(
    n_samples=8000,
    n_features=20,
    n_informative=10,
    n_classes=8,
    n_clusters_per_class=1,
    class_sep=1.5,
    random_state=0,
)
X *= np.logspace(0, 3, X.shape[1])  # features on different scales
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=800, stratify=y, random_state=0
)
X_train, y_train = make_long_tailed(
    X_pool, y_pool, imbalance_ratio=50, n_max=300, random_state=0
)
print("training counts:", np.bincount(y_train))

# %%
# 1. Scaler and network in a pipeline, then decoupling
# ----------------------------------------------------
# The pipeline is an ordinary classifier. Its ``transform`` runs the scaler
# and the network's backbone, so the fitted pipeline is a feature extractor
# for :class:`~ltsk.DecoupledClassifier`.
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ltsk import DecoupledClassifier, LongTailNetClassifier
from ltsk.nets import MLP

pipe = make_pipeline(
    StandardScaler(),
    LongTailNetClassifier(
        MLP, module__hidden_units=(64, 32), max_epochs=30, lr=3e-3, random_state=0
    ),
).fit(X_train, y_train)

scores = {"scaler + net (joint)": balanced_accuracy_score(y_test, pipe.predict(X_test))}
for head in ("crt", "ncm"):
    clf = DecoupledClassifier(pipe, head).fit(X_train, y_train)
    scores[f"scaler + net + {head}"] = balanced_accuracy_score(
        y_test, clf.predict(X_test)
    )

# %%
# A pipeline has no ``coef_`` of its own, so heads that start from the joint
# classifier (tau-norm, LWS, logit adjustment) would fit an instance-balanced
# linear classifier on the features themselves. To start them from the
# network's own last layer, give the network itself as extractor and the
# scaled inputs:
from ltsk import TauNormHead

scaler, net = pipe[0], pipe[-1]
tau_norm = DecoupledClassifier(net, TauNormHead(tau=1.0))
tau_norm.fit(scaler.transform(X_train), y_train)
scores["scaler + net + tau-norm"] = balanced_accuracy_score(
    y_test, tau_norm.predict(scaler.transform(X_test))
)

# %%
# 2. The heads alone, no torch
# ----------------------------
# With ``extractor=None`` the head works on the input features directly, and
# ltsk's heads import without torch: cRT is then a class-balanced multinomial
# logistic regression, NCM a nearest-centroid classifier on normalised data.
for head in ("crt", "ncm"):
    clf = make_pipeline(StandardScaler(), DecoupledClassifier(None, head))
    clf.fit(X_train, y_train)
    scores[f"scaler + {head} (no net)"] = balanced_accuracy_score(
        y_test, clf.predict(X_test)
    )

# %%
# 3. Re-sampling with PowerLawSampler
# -----------------------------------
# :class:`~ltsk.sampling.PowerLawSampler` resamples the training set so that
# class :math:`j` gets a share :math:`p_j \propto n_j^q` of the rows
# (``q=0`` balanced, ``q=1`` unchanged). As an imbalanced-learn sampler it
# acts in ``fit`` only, inside :func:`imblearn.pipeline.make_pipeline`;
# predictions see the data unchanged.
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.linear_model import LogisticRegression

from ltsk.sampling import PowerLawSampler

for q in (1.0, 0.5, 0.0):
    clf = make_imb_pipeline(
        StandardScaler(),
        PowerLawSampler(q=q, random_state=0),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    scores[f"scaler + PowerLawSampler(q={q}) + logistic"] = balanced_accuracy_score(
        y_test, clf.predict(X_test)
    )

resampled = PowerLawSampler(q=0.5, random_state=0).fit_resample(X_train, y_train)[1]
print("class sizes after q=0.5 resampling:", np.bincount(resampled))

# %%
# Balanced accuracy on the balanced test part
# -------------------------------------------
print(pd.Series(scores, name="balanced accuracy").round(3).to_string())
