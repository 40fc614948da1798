"""Goldens for --use_amp on the CPU: three training steps of a small conv net (bias-free conv, BatchNorm,
ReLU twice, global average pool, linear) under torch.autocast('cpu', dtype=torch.bfloat16)
(forward + loss inside, backward outside, as the script's scaler.scale(loss).backward() with a
disabled GradScaler), CrossEntropyLoss(weight=1/count), Adam(lr=1e-2, weight_decay=1e-4).
The same three steps without autocast (float32) are recorded too, so a test can tell that
autocast acted. Also records what torch 2.1 does with torch.autocast('cpu', dtype=torch.float16).

Writes into --out: init_<key>.npy, x_<step>.npy, y_<step>.npy, bf16_<key>.npy and fp32_<key>.npy
(the state_dict after the three steps), steps.json (losses of both runs, keys, the float16 probe).

Usage: python amp_gen.py --out DIR
"""
import argparse
import copy
import json
import os
import warnings

import numpy as np
import torch
from torch import nn

SEED = 29
STEPS = 3

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)

init = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                     nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
for k, v in init.state_dict().items():
    np.save(os.path.join(args.out, f"init_{k}.npy"), v.numpy())
batches = []
for step in range(STEPS):
    x = torch.randn(8, 3, 16, 16)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 2, 1])[torch.randperm(8)]
    np.save(os.path.join(args.out, f"x_{step}.npy"), x.numpy())
    np.save(os.path.join(args.out, f"y_{step}.npy"), y.numpy())
    batches.append((x, y))
counts = [4980, 514, 3604, 188, 731]
criterion = nn.CrossEntropyLoss(weight=torch.FloatTensor([1.0 / c for c in counts]))


def train(amp):
    model = copy.deepcopy(init)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    losses, dtypes = [], []
    for x, y in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
            loss = criterion(out, y)
        dtypes.append([str(out.dtype), str(loss.dtype)])
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return model, losses, dtypes


res = {"keys": list(init.state_dict().keys())}
for name, amp in (("bf16", True), ("fp32", False)):
    model, losses, dtypes = train(amp)
    for k, v in model.state_dict().items():
        np.save(os.path.join(args.out, f"{name}_{k}.npy"), v.numpy())
    res[name] = {"losses": losses, "dtypes": dtypes}

# torch.autocast('cpu', dtype=torch.float16) in torch 2.1: a warning, then entering raises.
probe = {"warnings": [], "raises": False, "error": ""}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            probe["output_dtype"] = str(init[0](batches[0][0]).dtype)
    except RuntimeError as e:
        probe["raises"], probe["error"] = True, str(e).splitlines()[0]
    probe["warnings"] = [str(x.message).splitlines()[0] for x in w]
res["cpu_float16"] = probe
res.update({"seed": SEED, "torch": torch.__version__})
with open(os.path.join(args.out, "steps.json"), "w") as f:
    json.dump(res, f, indent=1)
