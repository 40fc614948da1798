#!/usr/bin/env python3
"""Golden generator for vision/mixup: timm 0.9.12's Mixup (mode "batch", correct_lam) with the
random draws fixed, and SoftTargetCrossEntropy on the mixed targets.

For each case the draws that timm takes from NumPy (whether and how to mix, λ, the CutMix box
centre) are replaced by given values, then Mixup.__call__ runs unchanged on a float32 batch.
Writes into --out: x.npy (the batch, 6x3x7x9), y.npy (labels), logits.npy (6x5), and per case
<name>_x.npy (mixed batch), <name>_t.npy (soft targets), cases.json (lam given and corrected,
box, loss), meta.json.
"""
import argparse
import json
import os

import numpy as np
import timm
import timm.data.mixup as tm
import torch
from timm.loss import SoftTargetCrossEntropy

# name, mixup_alpha, cutmix_alpha, lam drawn, use_cutmix, box centre (cy, cx), smoothing
CASES = [
    ("mixup", 0.2, 0.0, 0.3125, False, None, 0.1),
    ("mixup_nosmooth", 0.8, 1.0, 0.71, False, None, 0.0),
    ("cutmix", 0.0, 1.0, 0.55, True, (3, 4), 0.1),
    ("cutmix_edge", 0.2, 1.0, 0.2, True, (0, 8), 0.1),
    ("none", 0.2, 1.0, 1.0, False, None, 0.1),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(20261206)
    x = torch.randn(6, 3, 7, 9, generator=g)
    y = torch.tensor([0, 3, 1, 4, 3, 2])
    logits = torch.randn(6, 5, generator=g) * 2
    np.save(os.path.join(args.out, "x.npy"), x.numpy())
    np.save(os.path.join(args.out, "y.npy"), y.numpy())
    np.save(os.path.join(args.out, "logits.npy"), logits.numpy())
    out = []
    for name, ma, ca, lam, cut, centre, smooth in CASES:
        m = tm.Mixup(mixup_alpha=ma, cutmix_alpha=ca, label_smoothing=smooth, num_classes=5)
        m._params_per_batch = lambda lam=lam, cut=cut: (lam, cut)
        if centre is not None:
            draws = list(centre)
            tm.np.random.randint = lambda lo, hi, size=None, d=draws: d.pop(0)
        xb = x.clone()
        xm, t = m(xb, y.clone())
        loss = SoftTargetCrossEntropy()(logits, t)
        np.save(os.path.join(args.out, f"{name}_x.npy"), xm.numpy().astype(np.float32))
        np.save(os.path.join(args.out, f"{name}_t.npy"), t.numpy().astype(np.float32))
        out.append({"name": name, "mixup_alpha": ma, "cutmix_alpha": ca, "lam": lam, "cutmix": cut,
                    "centre": centre, "smoothing": smooth, "loss": float(loss)})
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__}, f)


if __name__ == "__main__":
    main()
