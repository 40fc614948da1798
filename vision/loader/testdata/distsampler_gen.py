"""Oracle for vision/loader's Shard: torch.utils.data.DistributedSampler itself.

Generator mode (--out DIR) writes:
  cases.json - for each (n, world, seed, epoch, shuffle): list(DistributedSampler(range(n),
               num_replicas=world, rank=r, shuffle=shuffle, seed=seed, drop_last=False))
               after set_epoch(epoch), for every rank r; and torch.randperm(n,
               generator=torch.Generator().manual_seed(seed + epoch)).tolist();
  meta.json  - versions and the seeds used.
"""
import argparse
import json
import os

import torch
from torch.utils.data import DistributedSampler

# n below, at and above multiples of the world; padding longer than the data (n < world);
# seeds with more than 32 bits (the generator keeps the low 32).
CASES = [
    (1, 2, 0, 0, True), (2, 2, 1, 0, True), (3, 2, 1, 1, True), (10, 3, 0, 0, True),
    (10, 3, 0, 0, False), (17, 4, 7, 5, True), (3, 5, 1, 2, True), (2, 7, 3, 0, False),
    (100, 2, 1, 0, True), (100, 2, 1, 1, True), (101, 2, 1, 99, True), (257, 8, 42, 3, True),
    (1000, 3, 2**32 + 5, 1, True), (64, 1, 1, 0, True), (640, 2, 1, 4, True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = []
    for n, world, seed, epoch, shuffle in CASES:
        ranks = []
        for r in range(world):
            s = DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=shuffle, seed=seed, drop_last=False)
            s.set_epoch(epoch)
            ranks.append(list(s))
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        out.append({"n": n, "world": world, "seed": seed, "epoch": epoch, "shuffle": shuffle,
                    "ranks": ranks, "randperm": perm})
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "seeds": sorted({c[2] for c in CASES})}, f, indent=1)


if __name__ == "__main__":
    main()
