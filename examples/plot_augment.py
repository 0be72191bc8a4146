"""
===========================================
Image augmentation that fits the image size
===========================================

``augment=True`` gives the nets the standard CIFAR augmentation: each training
image is zero-padded by 4 pixels, cropped back at a random offset and mirrored
with probability 1/2. On 32x32 images a shift of up to 4 pixels keeps the
object; on the 8x8 digits it pushes half of the strokes out of the picture,
and mirroring turns a 2 into something else. :class:`~ltsk.nets.CropFlip`
sets the padding and the flip, and the nets refuse a padding of a quarter of
the image side or more.
"""

# %%
# What the crops do to an 8x8 digit
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch

from ltsk.datasets import load_digits_lt
from ltsk.nets import CropFlip, LongTailNetClassifier, SmallCNN

X_train, _, y_train, _ = load_digits_lt(imbalance_ratio=20, random_state=0)
X_train = (X_train / 16).reshape(-1, 1, 8, 8).astype(np.float32)

torch.manual_seed(0)
two = torch.from_numpy(X_train[y_train == 2][:1]).repeat(6, 1, 1, 1)
rows = {
    "CropFlip(padding=4)\n(augment=True)": CropFlip(padding=4)(two),
    "CropFlip(padding=1,\nflip=False)": CropFlip(padding=1, flip=False)(two),
}
fig, axes = plt.subplots(2, 6, figsize=(7, 2.8))
for ax_row, (name, images) in zip(axes, rows.items(), strict=True):
    ax_row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    for ax, image in zip(ax_row, images, strict=True):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
fig.tight_layout()

# %%
# The nets refuse the destructive setting
# ---------------------------------------
# The error names ``augment`` and the largest padding the images allow.
# ``augment=CropFlip(padding=1, flip=False)`` trains as usual.
try:
    LongTailNetClassifier(SmallCNN, augment=True).fit(X_train, y_train)
except ValueError as exc:
    print(exc)
