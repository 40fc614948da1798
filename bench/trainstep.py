"""PyTorch reference for bench/trainstep (drgrade's training step): one step, timed, no data.

The step of upstream utils.train_engin.train_one_epoch as train_imbalance.py runs it on the
CPU: model.train(); pred = model(images); loss = CrossEntropyLoss(weight=1/count)(pred, labels);
pred_class = torch.max(pred, dim=1)[1]; acc_num += torch.eq(pred_class, labels).sum();
train_loss += loss.detach(); loss.backward() (the GradScaler is disabled on the CPU);
optimizer.step() with Adam(lr=2e-4, weight_decay=1e-4); optimizer.zero_grad(); the progress
line reads the running loss (.item()). The model is torchvision's architecture named by
drgrade's Config().Arch (--arch).

One run: build the model, one torch.randn batch and labels i % 5, --warmup untimed steps, then
--steps steps each timed alone with torch.set_num_threads(--threads). Prints the same JSON keys
as bench/trainstep, including the process RSS after every step listed in --rss_at.
Run with the venv's python: ~/.cache/drgrade/venv/bin/python bench/trainstep.py --arch resnet34.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torchvision

DDR_COUNTS = [4980, 514, 3604, 188, 731]  # the DDR train counts (semantics.md)


def rss_mb():
    """VmRSS of this process in MiB (/proc/self/statm's resident pages)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / (1 << 20)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', default='resnet_small', help="drgrade's name (a label in the output)")
    p.add_argument('--arch', default='resnet34', help="torchvision architecture (drgrade's Config().Arch)")
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--rss_at', default='', help='comma-separated 1-based step numbers (warm-up included)')
    p.add_argument('--seed', type=int, default=1)
    a = p.parse_args()
    rss_steps = {int(s) for s in a.rss_at.split(',') if s.strip()}
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.arch)(num_classes=5)
    model.train()
    criterion = torch.nn.CrossEntropyLoss(weight=torch.FloatTensor([1.0 / c for c in DDR_COUNTS]))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=1e-4)
    images = torch.randn(a.batch, 3, a.size, a.size)
    labels = torch.tensor([i % 5 for i in range(a.batch)])
    train_loss = torch.zeros(1)
    acc_num = torch.zeros(1)
    optimizer.zero_grad()

    def step():
        nonlocal train_loss, acc_num
        pred = model(images)
        loss = criterion(pred, labels)
        pred_class = torch.max(pred, dim=1)[1]
        acc_num += torch.eq(pred_class, labels).sum()
        train_loss += loss.detach()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        _ = train_loss.item()

    rss, times, n = {}, [], 0
    for _ in range(a.warmup):
        step()
        n += 1
        if n in rss_steps:
            rss[str(n)] = rss_mb()
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
        n += 1
        if n in rss_steps:
            rss[str(n)] = rss_mb()
    print(json.dumps({'impl': 'pytorch', 'model': a.model, 'arch': a.arch, 'batch': a.batch, 'size': a.size,
                      'threads': a.threads, 'warmup': a.warmup, 'steps': a.steps,
                      'ms_per_step_median': statistics.median(times), 'ms_min': min(times),
                      'ms_max': max(times), 'rss_mb_at_step': rss, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
