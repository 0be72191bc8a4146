"""
=========================================
Post-hoc logit adjustment versus tau-norm
=========================================

Two heads change a jointly trained classifier without any training:

- tau-normalisation (Kang et al., 2020) divides each class's weight vector by
  its norm to the power :math:`\\tau` and drops the bias,
  :math:`s_j = w_j^\\top x / \\lVert w_j \\rVert^\\tau`;
- post-hoc logit adjustment (Menon et al., 2021) subtracts the log prior of
  each class, :math:`s_j = z_j - \\tau \\log \\pi_j`, the Bayes-optimal
  correction for a balanced test distribution when the logits estimate the
  training posterior.

Both have one parameter, :math:`\\tau`. :func:`~ltsk.heads.tau_path` scores a
whole grid of it with one matrix product; here it traces both heads' curves on
a validation split.
"""

# %%
# A jointly trained network
# -------------------------
import numpy as np
from sklearn.model_selection import train_test_split

from ltsk import LongTailNetClassifier
from ltsk.datasets import load_digits_lt
from ltsk.nets import MLP

X_train, X_held, y_train, y_held = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train, X_held = X_train / 16, X_held / 16
X_val, X_test, y_val, y_test = train_test_split(
    X_held, y_held, test_size=0.5, stratify=y_held, random_state=0
)
net = LongTailNetClassifier(
    MLP, module__hidden_units=(128, 64), max_epochs=30, lr=3e-3, random_state=0
).fit(X_train, y_train)
F_train, F_val, F_test = (net.transform(X) for X in (X_train, X_val, X_test))

# %%
# Both heads, every tau
# ---------------------
# The heads are fitted on the training features with the network's own last
# layer (``coef``, ``intercept``); their ``tau`` does not matter to
# :func:`~ltsk.heads.tau_path`, which rescores the grid. At ``tau=0`` both are
# the joint classifier (tau-norm without its bias).
import matplotlib.pyplot as plt

from ltsk.heads import LogitAdjustedHead, TauNormHead, tau_path

joint = {"coef": net.coef_, "intercept": net.intercept_}
heads = {
    "tau-norm": TauNormHead().fit(F_train, y_train, **joint),
    "logit adjustment": LogitAdjustedHead().fit(F_train, y_train, **joint),
}
taus = np.round(np.linspace(0.0, 2.0, 21), 2)
fig, ax = plt.subplots()
chosen = {}
for name, head in heads.items():
    scores = tau_path(head, F_val, y_val, taus)
    chosen[name] = taus[np.argmax(scores)]
    ax.plot(taus, scores, marker="o", label=name)
ax.set(xlabel="tau", ylabel="validation balanced accuracy")
ax.legend()
plt.show()

# %%
# Test accuracy at the tau chosen on validation
# ---------------------------------------------
# The test split is used once, to report; choosing tau on it would be a leak.
from sklearn.metrics import balanced_accuracy_score

print(f"joint: {balanced_accuracy_score(y_test, net.predict(X_test)):.3f}")
for name, head in heads.items():
    head.set_params(tau=chosen[name]).fit(F_train, y_train, **joint)
    score = balanced_accuracy_score(y_test, head.predict(F_test))
    print(f"{name} (tau={chosen[name]}): {score:.3f}")

# %%
# The weight norms explain the difference: logit adjustment leaves the weights
# alone and moves the biases, tau-norm equalises the norms that joint training
# let grow with the class size.
from ltsk.plotting import WeightNormDisplay

display = WeightNormDisplay.from_estimator(net, name="joint")
WeightNormDisplay.from_estimator(
    heads["tau-norm"], ax=display.ax_, name=f"tau-norm (tau={chosen['tau-norm']})"
)
display.ax_.legend()
plt.show()
