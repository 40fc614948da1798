"""Golden generator for `drgrade calibrate` (trainer.CalibrateCheckpoint): torchvision scores a
checkpoint on a split, keeping the logits, and PyTorch fits the temperature on them.

Inputs: --data (a DDR-layout data set), --weights (a state_dict or {'model': ...} .pth), --arch
(the torchvision constructor), --num-classes, --split, --img-size. The logits are the script's
evaluate() without the softmax: model.eval(), torch.no_grad(), Resize(round(S/0.875)),
CenterCrop(S), ToTensor, Normalize(ImageNet), PIL decoding + convert('RGB'), as eval_gen.py.
The fit is the reference of trainer/calibrate (fit_converged in
../calibrate/testdata/temperature_gen.py: LBFGS on log T in float64 with a strong-Wolfe line
search, run to convergence) on the float32 logits.
Writes into --out:
  calibration.json - image names, labels, logits (float32 shortest decimals), temperature,
                     nll_before (T = 1), nll_after (at temperature).
  meta.json        - versions and the SHA-256 of --weights.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import PIL
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "calibrate", "testdata"))
from temperature_gen import fit_converged  # noqa: E402  the one reference fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--num-classes", type=int, default=5)
    ap.add_argument("--split", default="val")
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)

    model = getattr(torchvision.models, a.arch)(num_classes=a.num_classes)
    obj = torch.load(a.weights, map_location="cpu", weights_only=True)
    model.load_state_dict(obj["model"] if "model" in obj else obj)
    model.eval()
    tf = transforms.Compose([transforms.Resize(round(a.img_size / 0.875)), transforms.CenterCrop(a.img_size), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    names, labels = [], []
    with open(os.path.join(a.data, a.split + ".txt")) as f:
        for line in f:
            if line.strip():
                n, l = line.split()
                names.append(n)
                labels.append(int(l))
    logits = []
    with torch.no_grad():
        for i in range(0, len(names), 16):
            x = torch.stack([tf(Image.open(os.path.join(a.data, a.split, n)).convert("RGB")) for n in names[i:i + 16]])
            logits.append(model(x))
    z32 = torch.cat(logits)
    y = torch.tensor(labels, dtype=torch.int64)
    z = z32.double()
    t, grad, _ = fit_converged(z, y)
    out = {
        "images": names,
        "labels": labels,
        "logits": [[float(str(v)) for v in row] for row in z32.numpy()],
        "temperature": t,
        "grad": grad,
        "nll_before": F.cross_entropy(z, y).item(),
        "nll_after": F.cross_entropy(z / t, y).item(),
    }
    with open(os.path.join(a.out, "calibration.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "Pillow": PIL.__version__,
                   "numpy": np.__version__, "arch": a.arch, "split": a.split, "img_size": a.img_size,
                   "weights_sha256": hashlib.sha256(open(a.weights, "rb").read()).hexdigest()}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
