#!/usr/bin/env python3
"""Golden generator for trainer/metrics/thresholds.go: the APTOS 2019 recipe's OptimizedRounder
(scipy.optimize.minimize(-kappa, [0.5, 1.5, 2.5, 3.5], method='nelder-mead') over the
thresholds, the grades cut as pd.cut(x, [-inf] + coef + [inf], labels=range(5)), which is
right-closed: np.searchsorted(coef, x, side='left')) on a synthetic regression output, with
sklearn's quadratic kappa. Writes cases.json: x, labels, the cut of fixed thresholds (values
exactly on a threshold included), and for each case the kappa at the default thresholds and at
scipy's optimum; meta.json.
"""
import argparse
import json
import os

import numpy as np
import scipy
import scipy.optimize
import sklearn
from sklearn.metrics import cohen_kappa_score


def cut(x, coef):
    # pd.cut(x, [-inf] + coef + [inf], labels=[0..4]): bins (a, b], so x == coef[k] falls below it
    return np.searchsorted(np.asarray(coef), x, side="left")


def kappa(x, y, coef):
    return cohen_kappa_score(y, cut(x, coef), weights="quadratic", labels=list(range(5)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20261206)
    cases = []
    for name, n, noise, bias in (("calibrated", 300, 0.6, 0.0), ("shrunk", 400, 0.5, -0.4), ("noisy", 250, 1.1, 0.2)):
        y = rng.choice(5, size=n, p=[0.45, 0.12, 0.23, 0.08, 0.12])
        x = y * (0.7 if name == "shrunk" else 1.0) + bias + rng.normal(0, noise, n)
        x = np.round(x, 3)  # ties among outputs, as a float32 head gives
        start = [0.5, 1.5, 2.5, 3.5]
        res = scipy.optimize.minimize(lambda c: -kappa(x, y, c), start, method="nelder-mead")
        cases.append({"name": name, "x": x.tolist(), "labels": y.tolist(),
                      "kappa_default": kappa(x, y, start), "kappa_scipy": kappa(x, y, list(res.x)),
                      "scipy_thresholds": list(res.x)})
    fixed = [0.5, 1.5, 2.5, 3.5]
    probe = [-1.0, 0.5, 0.5000001, 1.4999999, 1.5, 2.0, 3.5, 3.6, 9.0]
    out = {"cases": cases, "cut_probe": probe, "cut_fixed": fixed, "cut_expected": cut(np.array(probe), fixed).tolist()}
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(out, f)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}, f)


if __name__ == "__main__":
    main()
