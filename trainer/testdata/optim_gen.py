"""Goldens for drgrade's optimisers beyond the script's Adam: torch.optim.AdamW, SGD (plain,
momentum with dampening, nesterov) and Adam/AdamW/SGD with two param groups at different
learning rates (--head_lr_mult), each for 50 steps (foreach=False, torch 2.1's single-tensor
path) on four parameters of different shapes and scales with fixed gradients given directly.
Weight decays are large enough to move the parameters visibly; parameter 2's gradient is None at
step 0 and parameter 3's at step 5 (PyTorch skips them: no state, no momentum update).

Writes into --out: init.npy (the parameters flattened and concatenated, [27]), grads.npy
([50, 27], zeros where None), after_<name>.npy ([len(RECORD), 27], the parameters after the
recorded steps) and optim.json (configs, shapes, None gradients, recorded steps).

Usage: python optim_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch

SEED = 29
STEPS = 50
SHAPES = [(3, 4), (5,), (2, 3), (4, 1)]
SCALES = [1.0, 3.0, 0.5, 2.0]
GRAD_SCALES = [1.0, 0.02, 0.3, 1e-3]
NONE = {(0, 2), (5, 3)}
RECORD = [0, 1, 2, 5, 6, 9, 24, 49]
CONFIGS = [
    {"name": "adamw", "kind": "adamw", "lr": 1e-2, "weight_decay": 0.1},
    {"name": "sgd", "kind": "sgd", "lr": 0.05, "weight_decay": 0.05},
    {"name": "sgd_momentum", "kind": "sgd", "lr": 0.05, "weight_decay": 0.05, "momentum": 0.9, "dampening": 0.1},
    {"name": "sgd_nesterov", "kind": "sgd", "lr": 0.03, "weight_decay": 0.02, "momentum": 0.8, "nesterov": True},
    {"name": "adam_groups", "kind": "adam", "lr": 1e-2, "weight_decay": 0.1, "mult": [1, 1, 10, 10]},
    {"name": "adamw_groups", "kind": "adamw", "lr": 1e-2, "weight_decay": 0.1, "mult": [1, 3, 1, 3]},
    {"name": "sgd_groups", "kind": "sgd", "lr": 0.02, "weight_decay": 0.05, "momentum": 0.9, "nesterov": True, "mult": [1, 1, 10, 10]},
]

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)

init = [torch.randn(*s) * c for s, c in zip(SHAPES, SCALES)]
grads = [[None if (step, i) in NONE else torch.randn(*s) * GRAD_SCALES[i] for i, s in enumerate(SHAPES)]
         for step in range(STEPS)]
flat = lambda ts: np.concatenate([t.detach().reshape(-1).numpy() for t in ts])
np.save(os.path.join(args.out, "init.npy"), flat(init))
np.save(os.path.join(args.out, "grads.npy"),
        np.stack([flat([g if g is not None else torch.zeros(s) for g, s in zip(gs, SHAPES)]) for gs in grads]))


def build(cfg, params):
    mult = cfg.get("mult")
    groups = [{"params": [q], "lr": cfg["lr"] * (mult[i] if mult else 1)} for i, q in enumerate(params)]
    if cfg["kind"] == "adam":
        return torch.optim.Adam(groups, lr=cfg["lr"], weight_decay=cfg["weight_decay"], foreach=False)
    if cfg["kind"] == "adamw":
        return torch.optim.AdamW(groups, lr=cfg["lr"], weight_decay=cfg["weight_decay"], foreach=False)
    return torch.optim.SGD(groups, lr=cfg["lr"], weight_decay=cfg["weight_decay"], momentum=cfg.get("momentum", 0),
                           dampening=cfg.get("dampening", 0), nesterov=cfg.get("nesterov", False), foreach=False)


for cfg in CONFIGS:
    params = [torch.nn.Parameter(t.clone()) for t in init]
    opt = build(cfg, params)
    rec = []
    for step in range(STEPS):
        for q, g in zip(params, grads[step]):
            q.grad = None if g is None else g.clone()
        opt.step()
        opt.zero_grad()
        if step in RECORD:
            rec.append(flat(params))
    np.save(os.path.join(args.out, f"after_{cfg['name']}.npy"), np.stack(rec))

with open(os.path.join(args.out, "optim.json"), "w") as f:
    json.dump({"shapes": SHAPES, "steps": STEPS, "none": sorted([list(x) for x in NONE]), "record": RECORD,
               "configs": CONFIGS, "seed": SEED, "torch": torch.__version__}, f, indent=1)
