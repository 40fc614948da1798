#!/usr/bin/env python3
"""Writes the goldens of `drgrade split`: scikit-learn's stratified train_test_split on small
label vectors shaped like DR sets (a large grade 0, small grades 3 and 4), with ties in
_approximate_mode's remainders, for several seeds and fractions, and the two-call split with a
test part (test first, then val/(1-test) of the rest).

Usage: split_gen.py --out DIR   (the committed copy is testdata/split)
"""
import argparse
import importlib.metadata
import json
import os

import numpy as np
from sklearn.model_selection import train_test_split


def labels(counts):
    # Interleaved, not sorted, so the class indices are not contiguous.
    y = []
    for i in range(max(counts)):
        for c, n in enumerate(counts):
            if i < n:
                y.append(c)
    rng = np.random.RandomState(123)
    return [int(v) for v in rng.permutation(y)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    sets = {
        "ddr_like": [50, 6, 30, 4, 13],
        "ties": [9, 9, 9, 9, 9],
        "tiny": [4, 3, 3],
        "big": [180, 19, 125, 7, 21],
    }
    cases = []
    for name, counts in sets.items():
        y = labels(counts)
        for seed in (0, 1, 42):
            for val in (0.2, 0.3):
                for test in (0.0, 0.1):
                    if name == "tiny" and (test > 0 or val < 0.3):
                        continue
                    idx = list(range(len(y)))
                    test_idx = []
                    if test > 0:
                        idx, test_idx = train_test_split(idx, test_size=test, stratify=y, random_state=seed)
                        v = val / (1 - test)
                    else:
                        v = val
                    tr, va = train_test_split(idx, test_size=v, stratify=[y[i] for i in idx], random_state=seed)
                    cases.append({"set": name, "seed": seed, "val": val, "test": test,
                                  "train": [int(i) for i in tr], "val_idx": [int(i) for i in va],
                                  "test_idx": [int(i) for i in test_idx]})
    cases_y = {n: labels(c) for n, c in sets.items()}
    with open(os.path.join(out, "split.json"), "w") as f:
        json.dump({"labels": cases_y, "cases": cases}, f, separators=(",", ":"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"scikit-learn": importlib.metadata.version("scikit-learn"),
                   "numpy": np.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
