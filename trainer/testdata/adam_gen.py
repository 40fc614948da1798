"""Goldens for drgrade's Adam + warmup: three training steps of a tiny CNN with the script's
optimizer (Adam, lr 2e-4, weight_decay 1e-4 as L2), CrossEntropyLoss(weight=1/count) and the
epoch-0 warmup LambdaLR of upstream train_one_epoch (W = min(1000, len(loader) - 1) = 2 here).
Records the loss and every parameter and buffer after each step.

Usage: python adam_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch
from torch import nn

SEED = 11
STEPS = 3

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)

model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
for k, v in model.state_dict().items():
    np.save(os.path.join(args.out, f"init_{k}.npy"), v.numpy())

counts = [4980, 514, 3604, 188, 731]
criterion = nn.CrossEntropyLoss(weight=torch.FloatTensor([1.0 / c for c in counts]))
optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=1e-4)


def warmup(optimizer, warmup_iters, warmup_factor):  # upstream utils.lr_methods.warmup
    def f(x):
        if x >= warmup_iters:
            return 1
        alpha = float(x) / warmup_iters
        return warmup_factor * (1 - alpha) + alpha
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=f)


lr_scheduler = warmup(optimizer, min(1000, STEPS - 1), 1.0 / 1000)
model.train()
steps = []
for step in range(STEPS):
    x = torch.randn(6, 3, 8, 8)
    y = torch.randint(0, 5, (6,))
    np.save(os.path.join(args.out, f"x_{step}.npy"), x.numpy())
    np.save(os.path.join(args.out, f"y_{step}.npy"), y.numpy())
    lr = optimizer.param_groups[0]["lr"]
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    lr_scheduler.step()
    for k, v in model.state_dict().items():
        np.save(os.path.join(args.out, f"after{step}_{k}.npy"), v.numpy())
    steps.append({"lr": lr, "loss": loss.item()})

with open(os.path.join(args.out, "steps.json"), "w") as f:
    json.dump({"steps": steps, "keys": list(model.state_dict().keys())}, f, indent=1)
with open(os.path.join(args.out, "meta.json"), "w") as f:
    json.dump({"generator": "adam_gen.py", "seed": SEED, "torch": torch.__version__}, f)
