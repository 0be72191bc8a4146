"""TorchExtractor on real torchvision and timm architectures (random weights).

Needs ``torchvision`` and ``timm``, which are not dependencies of ltsk: run it
in an environment that has them, e.g. ``PYTHONPATH=. python
benchmarks/check_pretrained_models.py``. No weights are downloaded: each model
is built with random weights and its classifier replaced by a fresh linear
layer of ``--n-classes`` outputs, then put in eval mode, which is what
``TorchExtractor`` sees of a pretrained model.

For each model (a torchvision ResNet-18 with ``layer="fc"``, a torchvision
MobileNetV3-Small with the dotted ``layer="classifier.3"``, a timm ViT-Tiny
with ``layer="head"``), on random images, it checks that

1. ``DecoupledClassifier(TorchExtractor(model, layer=...),
   LogitAdjustedHead(tau=0))`` predicts the model's own argmax exactly and its
   ``decision_function`` is the model's logits (columns in sorted label order,
   the labels being given to ``classes`` unsorted), to ``--atol``;
2. the extractor's ``coef_`` / ``intercept_`` are the layer's weights;
3. ``TauNormHead`` and ``CRTHead`` fit on the features;
4. the module's weights and train/eval modes are unchanged.

It prints one row per model and exits with status 1 if a check fails.
"""

import argparse
import sys
import time

import numpy as np
import timm
import torch
import torchvision
from torch import nn

from ltsk import CRTHead, DecoupledClassifier, LogitAdjustedHead, TauNormHead
from ltsk.nets import TorchExtractor


def _layer_inputs(model, layer, X):
    """The inputs of ``layer`` in an eval-mode forward, read by a plain hook."""
    seen = []
    handle = model.get_submodule(layer).register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach().clone())
    )
    try:
        with torch.no_grad():
            model(torch.from_numpy(X))
    finally:
        handle.remove()
    return seen[0].reshape(len(X), -1)


def _fit_layer(model, layer, X, y_index, n_classes):
    """Least-squares fit of the replaced layer to one-hot labels.

    With random backbone weights, a random classifier predicts one or two
    classes; fitted to the labels it predicts all of them, so the argmax
    check compares non-trivial predictions.
    """
    features = _layer_inputs(model, layer, X).double()
    mean, scale = features.mean(0), features.std(0) + 1e-6
    design = torch.cat([(features - mean) / scale, torch.ones(len(X), 1)], 1)
    targets = 4.0 * torch.eye(n_classes, dtype=torch.float64)[y_index] - 2.0
    solution = torch.linalg.pinv(design) @ targets
    weight = (solution[:-1] / scale[:, None]).T
    bias = solution[-1] - weight @ mean
    linear = model.get_submodule(layer)
    with torch.no_grad():
        linear.weight.copy_(weight.float())
        linear.bias.copy_(bias.float())


def build_models(n_classes):
    """``(name, model, layer, image_size)`` for each architecture checked."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None)
    resnet.fc = nn.Linear(resnet.fc.in_features, n_classes)

    mobilenet = torchvision.models.mobilenet_v3_small(weights=None)
    last = mobilenet.classifier[-1]
    mobilenet.classifier[-1] = nn.Linear(last.in_features, n_classes)

    vit = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=n_classes
    )
    return [
        ("resnet18 (torchvision)", resnet, "fc", 64),
        ("mobilenet_v3_small (torchvision)", mobilenet, "classifier.3", 64),
        ("vit_tiny_patch16_224 (timm)", vit, "head", 224),
    ]


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def check(name, model, layer, size, *, n_images, n_classes, atol, seed):
    """Run the checks on one model; return the row of the table."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_images, 3, size, size)).astype(np.float32)
    # every class in y, as LogitAdjustedHead(tau=0) needs to keep every column
    y_index = np.concatenate(
        [np.arange(n_classes), rng.integers(0, n_classes, n_images - n_classes)]
    )
    names = np.array([f"class_{chr(ord('z') - i)}" for i in range(n_classes)])
    order = np.argsort(names)  # output unit of each sorted label

    model.eval()
    _fit_layer(model, layer, X, y_index, n_classes)
    with torch.no_grad():
        logits = model(torch.from_numpy(X)).numpy()
    expected = names[logits.argmax(1)]
    before = _state(model)
    modes = [m.training for m in model.modules()]

    extractor = TorchExtractor(model, layer=layer, classes=names, batch_size=16)
    start = time.perf_counter()
    clf = DecoupledClassifier(extractor, LogitAdjustedHead(tau=0)).fit(
        X, names[y_index]
    )
    predicted = clf.predict(X)
    scores = clf.decision_function(X)
    seconds = time.perf_counter() - start
    logit_error = float(np.max(np.abs(scores - logits[:, order])))

    linear = model.get_submodule(layer)
    weight = linear.weight.detach().numpy()[order]
    bias = linear.bias.detach().numpy()[order]
    coef_equal = np.array_equal(extractor.coef_, weight) and np.array_equal(
        extractor.intercept_, bias
    )

    heads = {}
    for head in (TauNormHead(tau=1.0), CRTHead()):
        fitted = DecoupledClassifier(extractor, head).fit(X, names[y_index])
        accuracy = float(np.mean(fitted.predict(X) == names[y_index]))
        heads[type(head).__name__] = accuracy

    after = _state(model)
    unchanged = all(torch.equal(before[k], after[k]) for k in before) and modes == [
        m.training for m in model.modules()
    ]
    row = {
        "model": name,
        "layer": layer,
        "input": f"{n_images}x3x{size}x{size}",
        "features": extractor.coef_.shape[1],
        "classes predicted": len(np.unique(expected)),
        "argmax equal": bool(np.array_equal(predicted, expected)),
        "max |logit diff|": logit_error,
        "coef_ = weights": coef_equal,
        "TauNorm acc": heads["TauNormHead"],
        "cRT acc": heads["CRTHead"],
        "unchanged": unchanged,
        "fit+predict s": seconds,
    }
    row["ok"] = row["argmax equal"] and logit_error <= atol and coef_equal and unchanged
    return row


def _format(value):
    if isinstance(value, float):
        return f"{value:.2e}" if value < 1e-2 else f"{value:.2f}"
    return str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=40)
    parser.add_argument("--n-classes", type=int, default=5)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"timm {timm.__version__}; random weights, {args.n_classes} classes"
    )
    rows = [
        check(
            name,
            model,
            layer,
            size,
            n_images=args.n_images,
            n_classes=args.n_classes,
            atol=args.atol,
            seed=args.seed,
        )
        for name, model, layer, size in build_models(args.n_classes)
    ]
    columns = list(rows[0])
    table = [columns] + [[_format(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
