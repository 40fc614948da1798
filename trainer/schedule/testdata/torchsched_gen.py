"""Goldens for trainer/schedule's torch schedulers: torch.optim.lr_scheduler.StepLR,
CosineAnnealingLR, ReduceLROnPlateau (mode max, a fixed metric sequence with plateaus) and
OneCycleLR (its momentum cycling on SGD's momentum and Adam's beta1) driven for 50 steps on a
real optimiser, as a training loop does (optimizer.step() then scheduler.step()). Records the
lr (and momentum/beta1) each optimizer.step() uses.

Writes runs.json into --out.  Usage: python torchsched_gen.py --out DIR
"""
import argparse
import json
import math
import os
import warnings

import torch

STEPS = 50

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
warnings.simplefilter("ignore")

# A metric that rises, plateaus, dips and rises again: ReduceLROnPlateau acts several times.
METRIC = [0.1 + 0.01 * i for i in range(10)] + [0.19] * 8 + [0.185 - 0.001 * i for i in range(7)] + \
         [0.3 + 0.00001 * i for i in range(10)] + [0.5 + 0.02 * i for i in range(15)]
assert len(METRIC) == STEPS


def run(kind, opt_name, lr, **kw):
    w = torch.nn.Parameter(torch.zeros(1))
    if opt_name == "sgd":
        opt = torch.optim.SGD([w], lr=lr, momentum=0.9)
    else:
        opt = torch.optim.Adam([w], lr=lr)
    if kind == "step":
        s = torch.optim.lr_scheduler.StepLR(opt, kw["step_size"], kw["gamma"])
    elif kind == "cosine":
        s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, kw["t_max"], kw["eta_min"])
    elif kind == "plateau":
        s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=kw["factor"], patience=kw["patience"])
    elif kind == "onecycle":
        s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=kw["total_steps"])
    lrs, moms = [], []
    for i in range(STEPS):
        g = opt.param_groups[0]
        lrs.append(g["lr"])
        moms.append(g["betas"][0] if "betas" in g else g["momentum"])
        w.grad = torch.ones(1)
        opt.step()
        if kind == "plateau":
            s.step(METRIC[i])
        else:
            s.step()
    return {"kind": kind, "opt": opt_name, "lr": lr, "params": kw, "lrs": lrs, "momentum": moms}


runs = [
    run("step", "sgd", 0.1, step_size=7, gamma=0.5),
    run("step", "adam", 2e-4, step_size=1, gamma=0.9),
    run("cosine", "adam", 2e-4, t_max=50, eta_min=2e-8),
    run("cosine", "sgd", 0.05, t_max=13, eta_min=1e-3),   # past T_max: the recursion climbs back up
    run("plateau", "adam", 1e-3, factor=0.5, patience=2),
    run("plateau", "sgd", 0.1, factor=0.1, patience=0),
    run("onecycle", "sgd", 0.1, total_steps=50),
    run("onecycle", "adam", 2e-4, total_steps=57),
]
with open(os.path.join(args.out, "runs.json"), "w") as f:
    json.dump({"metric": METRIC, "runs": runs, "torch": torch.__version__}, f, indent=0)
