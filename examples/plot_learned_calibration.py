"""
=================================================
Learned calibration heads: DisAlign and MARC
=================================================

LWS learns one scale per class on top of a frozen classifier. Two later
methods learn a little more, still without touching the classifier's weights:

- DisAlign (Zhang et al., 2021) learns a scale and a shift per class and a
  confidence gate :math:`\\sigma(v^\\top x + c)` that decides, sample by
  sample, how much of them to apply,
  :math:`s_j = (1 + \\sigma\\alpha_j) z_j + \\sigma\\beta_j`, under a
  cross-entropy that over-weights the tail classes;
- MARC (Wang et al., 2022) learns a scale and a margin in units of each
  class's weight norm, :math:`s_j = \\omega_j z_j + \\beta_j \\lVert w_j
  \\rVert`, under the balanced softmax loss.

Reach for them when a fixed rule (tau-norm, logit adjustment) or a single scale
(LWS) leaves the tail classes behind and retraining the classifier (cRT) is not
wanted. Here all four learned heads start from the same instance-balanced
classifier of the digits-LT pixels.
"""

# %%
# The joint classifier and the heads
# ----------------------------------
import numpy as np
from sklearn.metrics import balanced_accuracy_score, recall_score

from ltsk.datasets import load_digits_lt
from ltsk.heads import CRTHead, DisAlignHead, LWSHead, MARCHead

F_train, F_test, y_train, y_test = load_digits_lt(imbalance_ratio=50, random_state=0)
F_train, F_test = F_train / 16, F_test / 16
counts = np.bincount(y_train)
print("training samples per class:", counts)

joint = CRTHead(q=1.0).fit(F_train, y_train)  # instance-balanced
frozen = {"coef": joint.coef_, "intercept": joint.intercept_}
heads = {
    "joint": joint,
    "cRT": CRTHead().fit(F_train, y_train),
    "LWS": LWSHead().fit(F_train, y_train, **frozen),
    "DisAlign": DisAlignHead().fit(F_train, y_train, **frozen),
    "MARC": MARCHead().fit(F_train, y_train, **frozen),
}
for name, head in heads.items():
    score = balanced_accuracy_score(y_test, head.predict(F_test))
    print(f"{name:>8}: balanced accuracy {score:.3f}")

# %%
# Where the gain comes from
# -------------------------
# Recall per class, classes sorted from the largest to the smallest: the
# learned heads trade a little head-class recall for the tail.
import matplotlib.pyplot as plt

order = np.argsort(-counts)
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, head in heads.items():
    recall = recall_score(y_test, head.predict(F_test), average=None)
    ax.plot(np.arange(counts.size), recall[order], marker="o", label=name)
ax.set_xticks(np.arange(counts.size), [f"{c}\n({counts[c]})" for c in order])
ax.set(xlabel="class (training samples)", ylabel="test recall")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# What they learned
# -----------------
# MARC's margins :math:`\beta_j` and DisAlign's shifts :math:`\beta_j` both
# rise towards the tail; DisAlign's gate is on for most samples.
disalign, marc = heads["DisAlign"], heads["MARC"]
print("MARC omega:", np.round(marc.omega_[order], 2))
print("MARC beta: ", np.round(marc.beta_[order], 2))
print("DisAlign shift:", np.round(disalign.logit_bias_[order], 2))
gate = 1 / (
    1 + np.exp(-(F_test @ disalign.confidence_coef_ + disalign.confidence_intercept_))
)
print(f"DisAlign gate on the test samples: mean {gate.mean():.2f}")
