"""Goldens for drgrade's loss package: the script's weighted CrossEntropyLoss and FocalLoss
(and the per-class-alpha / other-gamma variants) on fixed logits and labels, with the gradients
with respect to the logits.

Usage: python loss_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch

SEED = 5

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)


class FocalLoss(torch.nn.Module):  # verbatim semantics of train_imbalance.py
    def __init__(self, alpha=1, gamma=2, reduction='mean'):
        super().__init__()
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, inputs, targets):
        BCE_loss = torch.nn.functional.cross_entropy(inputs, targets, reduction='none')
        pt = torch.exp(-BCE_loss)
        F_loss = self.alpha * (1 - pt) ** self.gamma * BCE_loss
        return torch.mean(F_loss)


class FocalPerClass(torch.nn.Module):  # alpha looked up by target class
    def __init__(self, alpha, gamma):
        super().__init__()
        self.alpha, self.gamma = torch.tensor(alpha, dtype=torch.float32), gamma

    def forward(self, inputs, targets):
        ce = torch.nn.functional.cross_entropy(inputs, targets, reduction='none')
        pt = torch.exp(-ce)
        return torch.mean(self.alpha[targets] * (1 - pt) ** self.gamma * ce)


counts = [4980, 514, 3604, 188, 731]  # the researcher's train counts
weights = [1.0 / c for c in counts]
cases = []
for n, c, scale in [(16, 5, 3.0), (7, 5, 0.1), (32, 6, 10.0), (1, 5, 2.0)]:
    logits = (torch.randn(n, c) * scale).float()
    labels = torch.randint(0, c, (n,))
    w = weights + [1.0 / 50] * (c - 5)
    crits = {
        "ce": torch.nn.CrossEntropyLoss(),
        "ce_weighted": torch.nn.CrossEntropyLoss(weight=torch.FloatTensor(w)),
        "focal": FocalLoss(),
        "focal_g1.5_a0.25": FocalLoss(alpha=0.25, gamma=1.5),
        "focal_perclass": FocalPerClass([0.1 * (i + 1) for i in range(c)], 2.0),
    }
    for name, crit in crits.items():
        x = logits.clone().requires_grad_(True)
        loss = crit(x, labels)
        loss.backward()
        tag = f"{name}_n{n}_c{c}"
        np.save(os.path.join(args.out, f"n{n}_c{c}_logits.npy"), logits.numpy())
        np.save(os.path.join(args.out, f"n{n}_c{c}_labels.npy"), labels.numpy())
        np.save(os.path.join(args.out, tag + "_grad.npy"), x.grad.numpy())
        cases.append({"tag": tag, "inputs": f"n{n}_c{c}", "criterion": name, "n": n, "c": c, "loss": loss.item(),
                      "weights": w if name == "ce_weighted" else None})

with open(os.path.join(args.out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
with open(os.path.join(args.out, "meta.json"), "w") as f:
    json.dump({"generator": "loss_gen.py", "seed": SEED, "torch": torch.__version__}, f)
