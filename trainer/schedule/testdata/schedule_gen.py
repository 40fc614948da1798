"""Golden generator for trainer/schedule: the learning rate PyTorch really uses per iteration.

Runs the researcher's optimisation loop (train_imbalance.py's Adam + cosine LambdaLR with
scheduler.step() after each epoch, and upstream utils.train_engin.train_one_epoch's warmup
LambdaLR created in epoch 0 and stepped after every optimizer.step()) with real
torch.optim.Adam and torch.optim.lr_scheduler.LambdaLR on a dummy parameter, and records
optimizer.param_groups[0]['lr']:
  used[e][i]   - before the optimizer.step() of iteration i of epoch e (the rate it uses, and
                 what upstream's tqdm line shows after that step),
  after_train[e] - when train_one_epoch returns (before scheduler.step()),
  logged[e]    - after scheduler.step(): what the script logs as learning_rate for epoch e.
Writes runs.json and meta.json into --out.
"""
import argparse
import json
import math
import os
import warnings

import torch


def warmup(optimizer, warm_up_iters, warm_up_factor):
    # upstream utils/lr_methods.py, verbatim in behaviour
    def f(x):
        if x >= warm_up_iters:
            return 1
        alpha = float(x) / warm_up_iters
        return warm_up_factor * (1 - alpha) + alpha

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=f)


def train_one_epoch(param, optimizer, loader_len, epoch, lr_method, used):
    # upstream utils/train_engin.py's train_one_epoch, without the model and data
    optimizer.zero_grad()
    lr_scheduler = None
    if epoch == 0 and lr_method == warmup:
        warmup_factor = 1.0 / 1000
        warmup_iters = min(1000, loader_len - 1)
        lr_scheduler = warmup(optimizer, warmup_iters, warmup_factor)
    for step in range(loader_len):
        loss = ((param - 1.0) ** 2).sum()
        loss.backward()
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        optimizer.zero_grad()
        if lr_scheduler is not None:
            lr_scheduler.step()


def run(lr, lrf, epochs, loader_len, use_warmup, n_epochs):
    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.randn(3, dtype=torch.float64))
    optimizer = torch.optim.Adam([param], lr=lr, weight_decay=1e-4)
    lf = lambda x: ((1 + math.cos(x * math.pi / epochs)) / 2) * (1 - lrf) + lrf  # cosine
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
    out = {"lr": lr, "lrf": lrf, "epochs": epochs, "loader_len": loader_len, "warmup": use_warmup,
           "initial": optimizer.param_groups[0]["lr"], "used": [], "after_train": [], "logged": []}
    for epoch in range(n_epochs):
        used = []
        train_one_epoch(param, optimizer, loader_len, epoch, warmup if use_warmup else None, used)
        out["used"].append(used)
        out["after_train"].append(optimizer.param_groups[0]["lr"])
        scheduler.step()
        out["logged"].append(optimizer.param_groups[0]["lr"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    warnings.simplefilter("ignore")  # LambdaLR's "scheduler.step() before optimizer.step()" notes
    runs = []
    for loader_len in (1, 2, 5, 37, 1003):
        for epochs in (1, 3, 100):
            runs.append(run(2e-4, 1e-4, epochs, loader_len, True, min(epochs, 3)))
    # other learning rates / floors, and the loop without warmup
    runs.append(run(0.01, 0.1, 7, 37, True, 7))
    runs.append(run(0.1, 0.01, 4, 5, False, 4))
    runs.append(run(3e-4, 1e-4, 100, 1002, True, 2))
    with open(os.path.join(args.out, "runs.json"), "w") as f:
        json.dump(runs, f, allow_nan=False, separators=(",", ":"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "trainer/schedule/testdata/schedule_gen.py", "torch": torch.__version__,
                   "seed": 0}, f, indent=1)


if __name__ == "__main__":
    main()
