#!/usr/bin/env python3
"""Golden generator for loss/ordinal.go: coral_pytorch 1.4.0's coral_loss (on
levels_from_labelbatch) and proba_to_label, and F.mse_loss / F.smooth_l1_loss of a regression
head's single output against the grade, with the gradients, in torch 2.1.

Writes into --out: coral_logits.npy [9, 4] (a few logits at and around 0, where sigmoid is 0.5),
targets.npy [9], reg_out.npy [9, 1], ordinal.json (the losses, their gradients, the grades and
the sigmoid probabilities), meta.json.
"""
import argparse
import json
import os

import coral_pytorch
import numpy as np
import torch
import torch.nn.functional as F
from coral_pytorch.dataset import levels_from_labelbatch, proba_to_label
from coral_pytorch.losses import coral_loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(20261206)
    logits = torch.randn(9, 4, generator=g) * 3
    logits[7] = torch.tensor([1e-8, -1e-8, 0.0, 3e-7])  # sigmoid rounds to 0.5 (not above) for the first
    targets = torch.tensor([0, 1, 2, 3, 4, 4, 2, 0, 1])
    reg = (torch.randn(9, 1, generator=g) * 1.5 + 2).requires_grad_(True)
    z = logits.clone().requires_grad_(True)
    levels = levels_from_labelbatch(targets, num_classes=5)
    loss = coral_loss(z, levels)
    loss.backward()
    probas = torch.sigmoid(logits)
    grades = proba_to_label(probas)
    out = {"coral_loss": float(loss), "coral_grad": z.grad.numpy().astype(np.float64).ravel().tolist(),
           "coral_grades": grades.tolist(), "sigmoid": probas.numpy().astype(np.float64).ravel().tolist()}
    for kind, fn in (("mse", F.mse_loss), ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b, beta=1.0))):
        r = reg.detach().clone().requires_grad_(True)
        l = fn(r.squeeze(1), targets.float())
        l.backward()
        out[kind] = {"loss": float(l), "grad": r.grad.numpy().astype(np.float64).ravel().tolist()}
    np.save(os.path.join(args.out, "coral_logits.npy"), logits.numpy())
    np.save(os.path.join(args.out, "targets.npy"), targets.numpy())
    np.save(os.path.join(args.out, "reg_out.npy"), reg.detach().numpy())
    with open(os.path.join(args.out, "ordinal.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "coral_pytorch": coral_pytorch.__version__}, f)


if __name__ == "__main__":
    main()
