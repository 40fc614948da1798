"""Golden generator for trainer/metrics: scikit-learn's own values on many label/prediction cases.

Writes into --out:
  cases.json  - per case: y_true, y_pred, num_classes and sklearn's confusion_matrix,
                accuracy_score, the script's precision/recall/f1_score(average='weighted'),
                precision_recall_fscore_support (average=None/macro/weighted, zero_division=0)
                for labels=None and labels=range(n), balanced_accuracy_score (+ whether it
                warned) and cohen_kappa_score(weights='quadratic') for both label sets
                (NaN written as null), and the script's two DDR.txt lines for that case.
  format.json - floats (as JSON numbers, exact round trip) and Python's '%.3f' of each.
  meta.json   - versions and seed.
"""
import argparse
import json
import math
import os
import random
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score,
                             confusion_matrix, f1_score, precision_recall_fscore_support,
                             precision_score, recall_score)

SEED = 20240611


def nullable(x):
    x = float(x)
    return None if math.isnan(x) else x


def prfs(yt, yp, labels):
    out = {}
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, average=None, zero_division=0)
    used = labels if labels is not None else sorted(set(yt) | set(yp))
    out["labels"] = [int(v) for v in used]
    out["precision"] = [float(v) for v in p]
    out["recall"] = [float(v) for v in r]
    out["f1"] = [float(v) for v in f]
    out["support"] = [int(v) for v in s]
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(yt, yp, labels=labels, average=avg, zero_division=0)
        out[avg] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return out


def case(name, yt, yp, n, rng):
    yt = [int(v) for v in yt]
    yp = [int(v) for v in yp]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the script's calls warn on zero division
        precision = precision_score(yt, yp, average="weighted")
        recall = recall_score(yt, yp, average="weighted")
        f1 = f1_score(yt, yp, average="weighted")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ba = balanced_accuracy_score(yt, yp)
    ba_warn = any("y_pred contains classes not in y_true" in str(x.message) for x in w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qwk_present = cohen_kappa_score(yt, yp, weights="quadratic")
        qwk_all = cohen_kappa_score(yt, yp, weights="quadratic", labels=list(range(n)))
    # The script's two DDR.txt lines, with a made-up epoch/loss/train accuracy.
    epoch = rng.randrange(0, 200)
    mean_loss = rng.uniform(0, 3)
    train_acc = rng.random()
    val_acc = accuracy_score(yt, yp)
    lines = ('[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f\n' % (epoch + 1, mean_loss, train_acc, val_acc)
             + f'Precision: {precision:.3f}, Recall: {recall:.3f}, F1 Score: {f1:.3f}\n')
    return {
        "name": name,
        "num_classes": n,
        "y_true": yt,
        "y_pred": yp,
        "confusion_matrix": confusion_matrix(yt, yp, labels=list(range(n))).tolist(),
        "accuracy": float(val_acc),
        "script_weighted": {"precision": float(precision), "recall": float(recall), "f1": float(f1)},
        "present": prfs(yt, yp, None),
        "all": prfs(yt, yp, list(range(n))),
        "balanced_accuracy": float(ba),
        "balanced_accuracy_warning": ba_warn,
        "qwk_present": nullable(qwk_present),
        "qwk_all": nullable(qwk_all),
        "epoch": epoch,
        "train_loss": mean_loss,
        "train_acc": train_acc,
        "ddr_lines": lines,
    }


def cases(rng):
    out = []
    # DR-like imbalance (semantics.md's val split proportions), classes 0..4 (+ an empty 5th).
    dr = [1286, 116, 873, 48, 182]
    for n in (5, 6):
        for i in range(12):
            size = rng.choice([3, 10, 37, 100, 257])
            weights = dr + [0] * (n - 5) if i % 2 == 0 else [1] * n
            yt = rng.choices(range(n), weights=weights, k=size)
            # a noisy classifier: right with some probability, else a random or neighbouring grade
            acc = rng.random()
            yp = []
            for t in yt:
                u = rng.random()
                if u < acc:
                    yp.append(t)
                elif u < acc + (1 - acc) / 2:
                    yp.append(min(n - 1, max(0, t + rng.choice([-1, 1]))))
                else:
                    yp.append(rng.randrange(n))
            out.append(case(f"random_n{n}_{i}", yt, yp, n, rng))
    # Degenerate cases.
    out.append(case("never_predicted_class", [0, 1, 2, 3, 4, 1, 2, 3], [0, 1, 2, 2, 4, 1, 2, 2], 5, rng))
    out.append(case("predicted_but_absent_from_true", [0, 0, 1, 2, 2, 4], [0, 3, 1, 2, 3, 4], 5, rng))
    out.append(case("absent_from_both_n6", [0, 1, 2, 3, 4, 0, 2], [0, 1, 2, 4, 4, 1, 2], 6, rng))
    out.append(case("all_one_class_perfect", [2] * 9, [2] * 9, 5, rng))
    out.append(case("all_one_class_true", [0] * 7, [0, 1, 0, 2, 0, 4, 0], 5, rng))
    out.append(case("all_one_class_pred", [0, 1, 2, 3, 4, 0, 2], [0] * 7, 5, rng))
    out.append(case("all_wrong_two_classes", [0] * 4, [1] * 4, 5, rng))
    out.append(case("single_sample_right", [3], [3], 5, rng))
    out.append(case("single_sample_wrong", [3], [1], 5, rng))
    out.append(case("perfect", [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0], [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0], 5, rng))
    out.append(case("perfect_n6_missing_class", [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 6, rng))
    # non-uniform gaps: kappa over label indices (labels=None) differs from kappa over grades
    out.append(case("gapped_labels_0_1_4", [0, 1, 4, 0, 1, 4, 1], [0, 1, 1, 1, 4, 4, 0], 5, rng))
    out.append(case("reversed", [0, 1, 2, 3, 4, 0, 4], [4, 3, 2, 1, 0, 4, 0], 5, rng))
    return out


def format_values(rng):
    vals = [0.0, -0.0, 1.0, 0.5, 0.0625, 0.1875, 0.3125, 0.4375, 0.9375, 1.0625, 2.5625,
            0.0005, 0.0015, 0.0025, 0.9995, 1.0005, 2.675, 0.1235, 0.12345, -0.0625,
            -0.0004, -0.0005, 123456.0005, 1e-300, 5e-324, 1e20, 0.7 * 3, 1 / 3, 2 / 3]
    # every exact binary tie k/2^m at the third decimal in [0, 4]
    vals += [k / 2048 for k in range(0, 8193) if (k * 1000) % 2048 == 1024]
    vals += [k / 16 for k in range(0, 64)]
    vals += [rng.random() for _ in range(300)]
    vals += [rng.uniform(0, 5) for _ in range(100)]
    vals += [i / 1000 + 0.0005 for i in range(0, 1000, 7)]
    return [{"x": v, "s": "%.3f" % v} for v in vals]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(SEED)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(cases(rng), f, allow_nan=False, separators=(",", ":"))
    with open(os.path.join(args.out, "format.json"), "w") as f:
        json.dump(format_values(rng), f, allow_nan=False, separators=(",", ":"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "trainer/metrics/testdata/metrics_gen.py", "sklearn": sklearn.__version__,
                   "numpy": np.__version__, "seed": SEED}, f, indent=1)


if __name__ == "__main__":
    main()
