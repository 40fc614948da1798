"""Golden generator for `drgrade eval` (trainer.EvalCheckpoint): torchvision scores the same
checkpoint on the same split.

Inputs: --data (a DDR-layout data set, e.g. drgrade's synthetic one), --weights (a state_dict
.pth written by drgrade, or a {'model': state_dict, ...} checkpoint written by PyTorch, such as
the committed testdata/eval_ckpt/torch_checkpoint.pth), --arch (the torchvision constructor),
--num-classes, --split.
Writes into --out:
  predictions.csv - image, label, prediction, prob_0..prob_{C-1}: the script's evaluate()
                    (model.eval(), torch.no_grad()) over Resize(round(S/0.875)), CenterCrop(S) (S = --img-size; 256 and 224 by default),
                    ToTensor, Normalize(ImageNet) with PIL decoding + convert('RGB'), and
                    softmax(dim=1) of the logits; with --tta hflip, the mean of the softmax
                    of each image and of its mirror.
  metrics.json    - sklearn on those predictions: confusion_matrix, accuracy_score,
                    precision/recall/f1 (weighted, and macro with labels=range(C),
                    zero_division=0), balanced_accuracy_score, cohen_kappa_score(quadratic,
                    labels=range(C)).
  meta.json       - versions and the SHA-256 of --weights.
With --ckpt-out DIR it also saves the same weights as {'model': state_dict, 'epoch': 3} to
DIR/torch_checkpoint.pth: a PyTorch-written checkpoint drgrade must read. That is how the
committed testdata/eval_ckpt/torch_checkpoint.pth was made, from shufflenet_small trained by
drgrade for 3 epochs (trainer's evalFixture; make goldens with the file deleted remakes it).
"""
import argparse
import csv
import hashlib
import json
import os

import numpy as np
import PIL
import sklearn
import torch
import torchvision
from PIL import Image
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score,
                             confusion_matrix, precision_recall_fscore_support)
from torchvision import transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--num-classes", type=int, default=5)
    ap.add_argument("--split", default="val")
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--tta", default="")
    ap.add_argument("--ckpt-out", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)

    model = getattr(torchvision.models, a.arch)(num_classes=a.num_classes)
    obj = torch.load(a.weights, map_location="cpu", weights_only=True)
    model.load_state_dict(obj["model"] if "model" in obj else obj)
    model.eval()
    if a.ckpt_out:
        os.makedirs(a.ckpt_out, exist_ok=True)
        torch.save({"model": model.state_dict(), "epoch": 3}, os.path.join(a.ckpt_out, "torch_checkpoint.pth"))

    tf = transforms.Compose([transforms.Resize(round(a.img_size / 0.875)), transforms.CenterCrop(a.img_size), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    names, labels = [], []
    with open(os.path.join(a.data, a.split + ".txt")) as f:
        for line in f:
            if line.strip():
                n, l = line.split()
                names.append(n)
                labels.append(int(l))
    probs = []
    with torch.no_grad():
        for i in range(0, len(names), 16):
            x = torch.stack([tf(Image.open(os.path.join(a.data, a.split, n)).convert("RGB")) for n in names[i:i + 16]])
            p = torch.softmax(model(x), dim=1)
            if a.tta == "hflip":
                p = (p + torch.softmax(model(torch.flip(x, dims=[3])), dim=1)) / 2
            probs.append(p)
    probs = torch.cat(probs).numpy()
    preds = probs.argmax(axis=1)

    with open(os.path.join(a.out, "predictions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "label", "prediction"] + [f"prob_{c}" for c in range(a.num_classes)])
        for n, l, p, pr in zip(names, labels, preds, probs):
            w.writerow([n, l, int(p)] + [repr(float(v)) for v in pr])

    C = list(range(a.num_classes))
    pw, rw, fw, _ = precision_recall_fscore_support(labels, preds, average="weighted", zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(labels, preds, labels=C, average="macro", zero_division=0)
    k = cohen_kappa_score(labels, preds, weights="quadratic", labels=C)
    out = {
        "confusion_matrix": confusion_matrix(labels, preds, labels=C).tolist(),
        "accuracy": accuracy_score(labels, preds),
        "weighted": {"precision": pw, "recall": rw, "f1": fw},
        "macro": {"precision": pm, "recall": rm, "f1": fm},
        "balanced_accuracy": balanced_accuracy_score(labels, preds),
        "kappa": None if np.isnan(k) else float(k),
    }
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "Pillow": PIL.__version__,
                   "sklearn": sklearn.__version__, "numpy": np.__version__, "arch": a.arch, "split": a.split,
                   "tta": a.tta, "img_size": a.img_size,
                   "weights_sha256": hashlib.sha256(open(a.weights, "rb").read()).hexdigest()}, f, indent=1)


if __name__ == "__main__":
    main()
