"""Live oracle for one (and three) whole training steps of the script on resnet_small
(torchvision resnet34, num_classes=5): train mode, CrossEntropyLoss(weight=1/count), backward,
Adam(lr=2e-4, weight_decay=1e-4) with the epoch-0 warmup LambdaLR (W = min(1000, 3 - 1)).
Writes the initial weights, the three batches, the loss of each step and the state_dict after
steps 1 and 3. Too large to commit: used by `make parity` only.

Usage: python trainstep_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision

SEED = 17
p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--size", type=int, default=64)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)

model = torchvision.models.resnet34(num_classes=5)
torch.save(model.state_dict(), os.path.join(args.out, "init.pth"))
counts = [4980, 514, 3604, 188, 731]
criterion = torch.nn.CrossEntropyLoss(weight=torch.FloatTensor([1.0 / c for c in counts]))
optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=1e-4)
W = min(1000, 3 - 1)
warm = torch.optim.lr_scheduler.LambdaLR(
    optimizer, lambda x: 1 if x >= W else (1.0 / 1000) * (1 - x / W) + x / W)
model.train()
losses = []
for step in range(3):
    x = torch.randn(4, 3, args.size, args.size)
    y = torch.tensor([0, 3, 1, 4])[torch.randperm(4)]
    np.save(os.path.join(args.out, f"x{step}.npy"), x.numpy())
    np.save(os.path.join(args.out, f"y{step}.npy"), y.numpy())
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    warm.step()
    losses.append(loss.item())
    if step in (0, 2):
        torch.save(model.state_dict(), os.path.join(args.out, f"after{step}.pth"))
with open(os.path.join(args.out, "losses.json"), "w") as f:
    json.dump({"losses": losses, "seed": SEED, "torch": torch.__version__,
               "torchvision": torchvision.__version__}, f)
