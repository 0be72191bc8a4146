"""
======================================================================
After training: label shift, threshold moving and calibration by group
======================================================================

A classifier fitted on long-tailed data can be adapted without retraining:

- to a **new class prior** (label shift), known or estimated from unlabelled
  deployment data (:func:`~ltsk.posthoc.estimate_target_prior`,
  :class:`~ltsk.posthoc.PriorAdjustedClassifier`);
- to a **score**, by moving one bias per class on validation data
  (:class:`~ltsk.posthoc.TunedClassBiasClassifier`);
- to **calibrated probabilities**, checked per many/medium/few-shot group
  (:func:`~ltsk.metrics.expected_calibration_error`,
  :class:`~ltsk.plotting.ReliabilityDisplay`) and repaired with
  scikit-learn's temperature scaling.
"""

# %%
# A long-tailed training set and a plain classifier
# -------------------------------------------------
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from ltsk.datasets import load_digits_lt, long_tailed_counts
from ltsk.metrics import imbalance_summary

X_train, X_held, y_train, y_held = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train, X_held = X_train / 16, X_held / 16
X_val, X_test, y_val, y_test = train_test_split(
    X_held, y_held, test_size=0.5, stratify=y_held, random_state=0
)
print(imbalance_summary(y_train))
clf = LogisticRegression(max_iter=2000).fit(X_train, y_train)
train_prior = np.bincount(y_train) / len(y_train)

# %%
# Label shift: estimate the deployment's prior
# --------------------------------------------
# The deployment sees the classes in the reverse order of frequency: the
# training tail is now the head. Its labels are unknown; EM (Saerens et al.)
# uses the probabilities alone, BBSE (Lipton et al.) also the confusion
# matrix on the labelled validation split. EM wants calibrated
# probabilities, so the classifier is temperature-scaled on the validation
# split first (scikit-learn's own calibrator, on the frozen classifier).
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from ltsk.posthoc import PriorAdjustedClassifier, estimate_target_prior

rng = np.random.default_rng(0)
per_class = long_tailed_counts(25, 10, 10)[::-1]
target = np.concatenate(
    [
        rng.choice(np.flatnonzero(y_test == c), n, replace=False)
        for c, n in enumerate(per_class)
    ]
)
X_target, y_target = X_test[target], y_test[target]
true_prior = np.bincount(y_target, minlength=10) / len(y_target)

calibrated = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")
calibrated.fit(X_val, y_val)
em = estimate_target_prior(calibrated.predict_proba(X_target), train_prior)
bbse = estimate_target_prior(
    clf.predict_proba(X_target),
    None,
    method="bbse",
    proba_val=clf.predict_proba(X_val),
    y_val=y_val,
)
for name, prior in [("train prior", train_prior), ("EM", em), ("BBSE", bbse)]:
    error = np.abs(prior - true_prior).sum()
    print(f"{name:>11}: L1 distance to the true target prior {error:.3f}")

# %%
# The Bayes decision for the estimated prior re-weights the posteriors by
# :math:`\pi^t_y / \pi^s_y`; on the shifted deployment data it is more
# accurate than the unadapted classifier.
adapted = PriorAdjustedClassifier(
    FrozenEstimator(calibrated), target_prior="em", train_prior=train_prior
).fit(X_val, y_val, X_target=X_target)
print(f"accuracy on the deployment, unadapted: {clf.score(X_target, y_target):.3f}")
print(f"accuracy on the deployment, adapted:   {adapted.score(X_target, y_target):.3f}")

# %%
# Threshold moving for balanced accuracy
# --------------------------------------
# One bias per class, tuned on the validation split by coordinate ascent,
# against the closed-form alternative: re-weighting to a uniform prior.
from sklearn.metrics import balanced_accuracy_score

from ltsk.posthoc import TunedClassBiasClassifier

tuned = TunedClassBiasClassifier(FrozenEstimator(clf)).fit(X_val, y_val)
uniform = PriorAdjustedClassifier(FrozenEstimator(clf)).fit(X_train, y_train)
for name, model in [
    ("plain", clf),
    ("uniform prior", uniform),
    ("tuned biases", tuned),
]:
    score = balanced_accuracy_score(y_test, model.predict(X_test))
    print(f"{name:>13}: balanced accuracy on the test split {score:.3f}")

# %%
# Calibration by shot group
# -------------------------
# Re-balancing moves probability mass to the tail; the expected calibration
# error per group shows where the probabilities stop matching the accuracy.
# Temperature scaling of the re-balanced classifier repairs much of it.
import matplotlib.pyplot as plt

from ltsk.metrics import expected_calibration_error
from ltsk.plotting import ReliabilityDisplay

counts = dict(enumerate(np.bincount(y_train)))
rescaled = CalibratedClassifierCV(FrozenEstimator(uniform), method="temperature")
rescaled.fit(X_val, y_val)
models = {"plain": clf, "uniform prior": uniform, "uniform + temperature": rescaled}
for name, model in models.items():
    ece = expected_calibration_error(
        y_test, model.predict_proba(X_test), train_counts=counts, many=60, few=15
    )
    print(f"{name:>21}: " + ", ".join(f"{g} {v:.3f}" for g, v in ece.items()))

fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
for ax, (name, model) in zip(axes, models.items(), strict=True):
    ReliabilityDisplay.from_estimator(
        model, X_test, y_test, name=name, ax=ax, n_bins=10
    )
fig.tight_layout()
