"""
==========================================
A trained torch model as the extractor
==========================================

A model trained with a plain torch loop (or downloaded: a torchvision ResNet,
a timm ViT) becomes the frozen extractor of the stage-2 heads in one line:
:class:`~ltsk.nets.TorchExtractor` takes the features at the input of its
final linear layer and that layer's weights as the joint classifier.
"""

# %%
# A small CNN trained with plain torch
# ------------------------------------
# digits-LT (8x8 images, digit 0 has 20 times the training images of digit
# 9), a two-layer CNN whose classifier is ``fc``, trained with ordinary
# instance-balanced cross-entropy: stage 1 of decoupled training.
import numpy as np
import torch
from torch import nn

from ltsk.datasets import load_digits_lt

X_train, X_test, y_train, y_test = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train = (X_train / 16).reshape(-1, 1, 8, 8).astype(np.float32)
X_test = (X_test / 16).reshape(-1, 1, 8, 8).astype(np.float32)


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 4 * 4, 32),
            nn.ReLU(),
        )
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x))


torch.manual_seed(0)
model = SmallNet()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.from_numpy(X_train), torch.tensor(y_train)),
    batch_size=64,
    shuffle=True,
)
for _ in range(10):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()

# %%
# The heads on its features
# -------------------------
# ``LogitAdjustedHead(tau=0)`` leaves the joint classifier as it is, so its
# predictions are the model's own; the other heads re-balance it on the frozen
# features. The module is never trained again.
import pandas as pd

from ltsk import DecoupledClassifier, LogitAdjustedHead
from ltsk.metrics import shot_accuracy
from ltsk.nets import TorchExtractor

extractor = TorchExtractor(model, layer="fc")
with torch.no_grad():
    own = model.eval()(torch.from_numpy(X_test)).argmax(1).numpy()

joint = DecoupledClassifier(extractor, LogitAdjustedHead(tau=0)).fit(X_train, y_train)
print("same predictions as the model:", np.array_equal(joint.predict(X_test), own))

train_counts = dict(zip(*np.unique(y_train, return_counts=True), strict=True))
rows = {}
for head in ["logit_adjust", "tau_norm", "lws", "crt", "ncm"]:
    clf = DecoupledClassifier(extractor, head).fit(X_train, y_train)
    rows[head] = shot_accuracy(
        y_test, clf.predict(X_test), train_counts=train_counts, many=60, few=20
    )
rows = {"model (tau=0)": shot_accuracy(
    y_test, own, train_counts=train_counts, many=60, few=20
), **rows}  # fmt: skip
print(pd.DataFrame(rows).T.round(3).to_string())

# %%
# The same with a downloaded model
# --------------------------------
# Only the model changes (not run here: it downloads weights)::
#
#     weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
#     model = torchvision.models.resnet50(weights=weights)
#     extractor = TorchExtractor(model, layer="fc", classes=weights.meta["categories"])
#
#     vit = timm.create_model("vit_base_patch16_224", pretrained=True)
#     extractor = TorchExtractor(vit, layer="head")
