"""Goldens for drgrade's Adam with a weight decay large enough to see (L2 added to the
gradient): torch.optim.Adam(params, lr=1e-2, weight_decay=0.1, foreach=False) for 10 steps
on four parameters of different shapes and scales, with fixed gradients given directly (no
model). Parameter 2's gradient is None at step 0 (PyTorch creates its state later) and
parameter 3's at step 5 (its state exists and is skipped): their state['step'] lags the
others', and their bias corrections differ from then on.

Writes into --out: init_<i>.npy, grad_<step>_<i>.npy (absent where the gradient is None),
after<step>_<i>.npy (each parameter after each step) and steps.json (shapes, which gradients
are None, torch's final state['step'] of every parameter, versions).

Usage: python adam_wd_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch

SEED = 23
STEPS = 10
SHAPES = [(3, 4), (5,), (2, 3, 2, 2), (4, 1)]
SCALES = [1.0, 3.0, 0.5, 2.0]            # parameter magnitudes: weight decay's term is 0.1·p
GRAD_SCALES = [1.0, 0.02, 0.3, 1e-3]     # small gradients make 0.1·p dominate
NONE = {(0, 2), (5, 3)}                  # (step, parameter) without a gradient

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)

params = [torch.nn.Parameter(torch.randn(*s) * c) for s, c in zip(SHAPES, SCALES)]
for i, q in enumerate(params):
    np.save(os.path.join(args.out, f"init_{i}.npy"), q.detach().numpy())
opt = torch.optim.Adam(params, lr=1e-2, weight_decay=0.1, foreach=False)
for step in range(STEPS):
    for i, q in enumerate(params):
        if (step, i) in NONE:
            q.grad = None
            continue
        g = torch.randn(*q.shape) * GRAD_SCALES[i]
        np.save(os.path.join(args.out, f"grad_{step}_{i}.npy"), g.numpy())
        q.grad = g
    opt.step()
    opt.zero_grad()  # set_to_none=True
    for i, q in enumerate(params):
        np.save(os.path.join(args.out, f"after{step}_{i}.npy"), q.detach().numpy())

state = opt.state_dict()["state"]
with open(os.path.join(args.out, "steps.json"), "w") as f:
    json.dump({"shapes": SHAPES, "steps": STEPS, "none": sorted([list(x) for x in NONE]),
               "state_step": [float(state[i]["step"]) for i in range(len(params))],
               "state_step_dtype": str(state[0]["step"].dtype),
               "seed": SEED, "torch": torch.__version__}, f, indent=1)
