"""Goldens for --label_smoothing: nn.CrossEntropyLoss(weight=w, label_smoothing=eps) as torch
2.1 combines class weights and smoothing, and the focal loss on the label-smoothed
cross-entropy (F.cross_entropy(..., reduction='none', label_smoothing=eps), pt = exp(-ce), the
rest as the script's FocalLoss), with the gradients with respect to the logits.

Writes cases.json into --out.  Usage: python smoothing_gen.py --out DIR
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

SEED = 11

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)


def focal(alpha, gamma, eps, per_class=None):
    def f(inputs, targets):
        ce = F.cross_entropy(inputs, targets, reduction='none', label_smoothing=eps)
        pt = torch.exp(-ce)
        a = per_class[targets] if per_class is not None else alpha
        return torch.mean(a * (1 - pt) ** gamma * ce)
    return f


counts = [4980, 514, 3604, 188, 731]
weights = [1.0 / c for c in counts]
cases, inputs = [], []
for n, c, scale in [(12, 5, 3.0), (5, 5, 0.3), (9, 6, 8.0)]:
    logits = (torch.randn(n, c) * scale).float()
    labels = torch.randint(0, c, (n,))
    w = weights + [1.0 / 50] * (c - 5)
    inputs.append({"n": n, "c": c, "logits": logits.reshape(-1).tolist(), "labels": labels.tolist()})
    for eps in [0.1, 0.3]:
        crits = {
            "ce": (torch.nn.CrossEntropyLoss(label_smoothing=eps), None),
            "ce_weighted": (torch.nn.CrossEntropyLoss(weight=torch.FloatTensor(w), label_smoothing=eps), w),
            "focal": (focal(1.0, 2.0, eps), None),
            "focal_perclass": (focal(1.0, 2.0, eps, torch.tensor([0.1 * (i + 1) for i in range(c)])), None),
        }
        for name, (crit, cw) in crits.items():
            x = logits.clone().requires_grad_(True)
            loss = crit(x, labels)
            loss.backward()
            cases.append({"name": name, "eps": eps, "input": len(inputs) - 1, "weights": cw,
                          "alpha": [0.1 * (i + 1) for i in range(c)] if name == "focal_perclass" else None,
                          "loss": loss.item(), "grad": [float("%.9g" % v) for v in x.grad.reshape(-1).tolist()]})
with open(os.path.join(args.out, "cases.json"), "w") as f:
    json.dump({"inputs": inputs, "cases": cases, "seed": SEED, "torch": torch.__version__}, f)
