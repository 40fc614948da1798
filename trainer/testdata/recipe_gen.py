"""Goldens for the training recipe's clipping and EMA:

- torch.nn.utils.clip_grad_norm_(params, max_norm) (total 2-norm over every gradient, one
  parameter without a gradient) for a max_norm below and one above the total norm, and
  clip_grad_value_(params, v): the clipped gradients and the returned total norm;
- timm 0.9.12's ModelEmaV2(model, decay=0.9) over a small conv + BatchNorm + linear net trained
  4 SGD steps in train mode (so the BatchNorm buffers, num_batches_tracked included, move):
  the model's state_dict after each step (the EMA's input) and the EMA's after each update.

Writes recipe.json into --out.  Usage: python recipe_gen.py --out DIR
"""
import argparse
import json
import os

import timm
import torch
from timm.utils import ModelEmaV2

SEED = 31

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)
r9 = lambda t: [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]

SHAPES = [(3, 4), (5,), (2, 3), (4, 1)]
grads = [torch.randn(*s) * c for s, c in zip(SHAPES, [1.0, 0.5, 2.0, 0.1])]
grads[2] = None  # no gradient: left out of the norm, untouched
clip = []
for mode, value in [("norm", 0.5), ("norm", 100.0), ("value", 0.3)]:
    params = [torch.nn.Parameter(torch.zeros(*s)) for s in SHAPES]
    for q, g in zip(params, grads):
        q.grad = None if g is None else g.clone()
    total = None
    if mode == "norm":
        total = torch.nn.utils.clip_grad_norm_(params, value).item()
    else:
        torch.nn.utils.clip_grad_value_(params, value)
    clip.append({"mode": mode, "value": value, "total": total,
                 "grads": [None if q.grad is None else r9(q.grad) for q in params]})

net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                          torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5))
ema = ModelEmaV2(net, decay=0.9)
start = [r9(v.float()) for v in net.state_dict().values()]
opt = torch.optim.SGD(net.parameters(), lr=0.5)
names = list(net.state_dict().keys())
states, emas = [], []
for step in range(4):
    net.train()
    x = torch.randn(6, 3, 5, 5) * 2 + 1
    y = torch.randint(0, 5, (6,))
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
    opt.zero_grad()
    ema.update(net)
    states.append([r9(v.float()) for v in net.state_dict().values()])
    emas.append([r9(v.float()) for v in ema.module.state_dict().values()])
with open(os.path.join(args.out, "recipe.json"), "w") as f:
    json.dump({"shapes": SHAPES, "clip": clip, "ema_decay": 0.9, "names": names,
               "shapes_ema": [list(v.shape) for v in net.state_dict().values()],
               "dtypes_ema": [str(v.dtype) for v in net.state_dict().values()],
               "start": start, "states": states, "emas": emas, "timm": timm.__version__, "torch": torch.__version__}, f)
