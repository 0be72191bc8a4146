"""
========================================
Tuning tau, gamma and q with grid search
========================================

Every ltsk estimator is a scikit-learn estimator, so its hyperparameters are
tuned with :class:`~sklearn.model_selection.GridSearchCV`. Long-tailed data
needs two precautions: folds whose every training part holds every class
(:class:`~ltsk.model_selection.LongTailStratifiedKFold`) and a scorer with a
fixed class set (:func:`~ltsk.metrics.make_shot_scorer`). And ``tau`` must be
chosen on a validation split, never on the test set.
"""

# %%
# Data: training, validation and test
# -----------------------------------
# The balanced held-out part of digits-LT is split into a validation half, on
# which hyperparameters are chosen, and a test half, which only reports.
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ltsk.datasets import load_digits_lt

X_train, X_held, y_train, y_held = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train, X_held = X_train / 16, X_held / 16
X_val, X_test, y_val, y_test = train_test_split(
    X_held, y_held, test_size=0.5, stratify=y_held, random_state=0
)
train_counts = dict(zip(*np.unique(y_train, return_counts=True), strict=True))
print("smallest training class:", min(train_counts.values()), "images")

# %%
# Sampling power q and focal gamma of the joint network
# -----------------------------------------------------
# The tail digit has 6 training images. With scikit-learn's
# ``StratifiedKFold(5)`` some training folds could still lack a class with
# fewer images than folds; :class:`~ltsk.model_selection.LongTailStratifiedKFold`
# puts every class in every training fold. The scorer is the mean per-class
# accuracy (``group="all"``) with the groups fixed by the whole training set,
# so every fold is scored on the same classes.
from sklearn.model_selection import GridSearchCV

from ltsk import LongTailNetClassifier
from ltsk.losses import FocalLoss
from ltsk.metrics import make_shot_scorer
from ltsk.model_selection import LongTailStratifiedKFold
from ltsk.nets import MLP

scorer = make_shot_scorer("all", train_counts=train_counts, many=60, few=20)
net = LongTailNetClassifier(
    MLP,
    criterion=FocalLoss,
    module__hidden_units=(64,),
    max_epochs=20,
    lr=3e-3,
    random_state=0,
)
search = GridSearchCV(
    net,
    {"q": [0.0, 0.5, 1.0], "criterion__gamma": [0.0, 2.0]},
    cv=LongTailStratifiedKFold(3, shuffle=True, random_state=0),
    scoring=scorer,
)
search.fit(X_train, y_train)
results = pd.DataFrame(search.cv_results_)
print(
    results[["param_q", "param_criterion__gamma", "mean_test_score"]]
    .sort_values("mean_test_score", ascending=False)
    .round(3)
    .to_string(index=False)
)
print("best:", search.best_params_)

# %%
# tau of the tau-normalised head
# ------------------------------
# The network is trained once; :class:`~ltsk.DecoupledClassifier` keeps it
# frozen through ``clone``, so the search refits only the head; ``memory``
# (a folder) would also cache each fold's features across the candidates.
from ltsk import DecoupledClassifier, TauNormHead

net = LongTailNetClassifier(
    MLP, module__hidden_units=(128, 64), max_epochs=30, lr=3e-3, random_state=0
).fit(X_train, y_train)
taus = np.round(np.linspace(0.0, 2.0, 11), 1)
tau_search = GridSearchCV(
    DecoupledClassifier(net, TauNormHead()),
    {"head__tau": taus},
    cv=LongTailStratifiedKFold(3, shuffle=True, random_state=0),
    scoring=scorer,
).fit(X_train, y_train)
cv_tau = float(tau_search.best_params_["head__tau"])
print(f"tau chosen by cross-validation on the training set: {cv_tau}")

# %%
# The cross-validated choice has a weakness here: the network has seen every
# training image, so its features fit the training folds better than new data,
# and the folds are as long-tailed as the training set. A balanced validation
# split the network never saw is the better judge.
# :func:`~ltsk.heads.tau_path` scores the whole grid with one matrix product.
import matplotlib.pyplot as plt

from ltsk.heads import tau_path

head = DecoupledClassifier(net, TauNormHead()).fit(X_train, y_train).head_
val_scores = tau_path(head, net.transform(X_val), y_val, taus)
test_scores = tau_path(head, net.transform(X_test), y_test, taus)
tau_val = taus[np.argmax(val_scores)]
print(f"tau chosen on validation: {tau_val}")
print(f"test balanced accuracy at that tau: {test_scores[np.argmax(val_scores)]:.3f}")

# %%
# Why not choose on test?
# -----------------------
# Picking the tau with the best *test* score (as the reference code's sweep
# does) reports the maximum of a noisy curve: an optimistic number that a new
# data set will not reproduce. The gap between the two curves' maxima is the
# size of that leak.
print(f"best test score over the grid (leaky): {test_scores.max():.3f}")
fig, ax = plt.subplots()
ax.plot(taus, val_scores, marker="o", label="validation (choose here)")
ax.plot(taus, test_scores, marker="s", label="test (report only)")
ax.axvline(tau_val, color="grey", linestyle=":")
ax.set(xlabel="tau", ylabel="balanced accuracy", title="tau-norm on digits-LT")
ax.legend()
plt.show()
