"""Golden generator for trainer/calibrate: PyTorch's temperature-scaling fit (Guo et al. 2017)
on sets of float32 logits and labels.

The reference fit is torch.optim.LBFGS run to convergence in float64: the parameter is log T
(so T stays positive however far a line search steps), starting at log 1 = 0, with
line_search_fn="strong_wolfe", tolerance_grad=1e-14, tolerance_change=1e-20, max_iter=1000,
history_size=50, minimising F.cross_entropy(logits / T, labels) (the mean NLL). Guo et al.'s own
settings (T a float32 parameter starting at 1.5, LBFGS(lr=0.01, max_iter=50), one step) are
run too and recorded as guo_temperature: they can stop short of the minimum, which is why they
are not the reference.

Writes into --out:
  cases.json - per case: name, num_classes, logits (float32 values as their shortest decimals: exact when
               read as float32),
               labels, temperature (the converged fit), grad (d NLL / d log T at it),
               nll_before (T = 1), nll_after (at temperature), nll_curve ([T, NLL] at a few fixed
               T), guo_temperature, lbfgs_evals.
  meta.json  - versions and seed.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20241219


def nll(logits, labels, t):
    return F.cross_entropy(logits / t, labels).item()


def fit_converged(logits, labels):
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1, max_iter=1000, history_size=50, tolerance_grad=1e-14,
                            tolerance_change=1e-20, line_search_fn="strong_wolfe")
    evals = [0]

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        evals[0] += 1
        return loss

    for _ in range(20):  # LBFGS.step stops at max_iter or a tolerance; step again until nothing moves
        before = log_t.item()
        opt.step(closure)
        if log_t.item() == before:
            break
    opt.zero_grad()
    loss = F.cross_entropy(logits / log_t.exp(), labels)
    loss.backward()
    return float(log_t.exp().item()), float(log_t.grad.item()), evals[0]


def fit_guo(logits32, labels):
    # gpleiss/temperature_scaling: nn.Parameter(torch.ones(1) * 1.5), LBFGS(lr=0.01, max_iter=50)
    t = torch.nn.Parameter(torch.ones(1) * 1.5)
    opt = torch.optim.LBFGS([t], lr=0.01, max_iter=50)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits32 / t, labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(t.item())


def case(name, logits, labels):
    logits32 = torch.tensor(np.asarray(logits, dtype=np.float32))
    labels = torch.tensor(np.asarray(labels, dtype=np.int64))
    z = logits32.double()
    t, grad, evals = fit_converged(z, labels)
    return {
        "name": name,
        "num_classes": int(z.shape[1]),
        # float32's shortest round-trip decimal: read as float32 it is the very value used here
        "logits": [[float(str(v)) for v in row] for row in logits32.numpy()],
        "labels": [int(v) for v in labels.tolist()],
        "temperature": t,
        "grad": grad,
        "nll_before": nll(z, labels, 1.0),
        "nll_after": nll(z, labels, t),
        "nll_curve": [[s, nll(z, labels, s)] for s in (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)],
        "guo_temperature": fit_guo(logits32, labels),
        "lbfgs_evals": evals,
    }


def synthetic(rng, n, c, signal, scale, priors=None, offset=0.0):
    """Labels drawn from priors; logits = scale * (noise + signal * onehot(label)), plus a row offset."""
    y = rng.choice(c, size=n, p=priors)
    z = rng.normal(size=(n, c)) + signal * np.eye(c)[y]
    return scale * z + offset * rng.normal(size=(n, 1)), y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    cases = []
    # Over-confident (T > 1): a good signal blown up by a large scale.
    cases.append(case("overconfident_5c", *synthetic(rng, 400, 5, 1.5, 6.0)))
    # Under-confident (T < 1): the same kind of logits shrunk.
    cases.append(case("underconfident_5c", *synthetic(rng, 400, 5, 2.0, 0.25)))
    # Calibrated by construction: labels drawn from softmax(logits), so T ≈ 1.
    z = rng.normal(size=(600, 5)) * 2.0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in p])
    cases.append(case("calibrated_5c", z, y))
    # DR-like imbalance (most samples grade 0), over-confident.
    cases.append(case("imbalanced_5c", *synthetic(rng, 500, 5, 1.2, 4.0, priors=[0.6, 0.1, 0.2, 0.05, 0.05])))
    cases.append(case("binary", *synthetic(rng, 300, 2, 1.0, 3.0)))
    # Large logits (|z| up to ~100) and large per-row offsets: the log-sum-exp must be shifted.
    cases.append(case("large_logits_10c", *synthetic(rng, 300, 10, 2.0, 25.0)))
    cases.append(case("row_offsets_5c", *synthetic(rng, 300, 5, 1.5, 3.0, offset=500.0)))
    # A handful of samples, one of them misclassified.
    cases.append(case("tiny", [[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [-0.5, 0.2, 2.5], [1.0, 1.2, 0.0], [3.0, -1.0, 0.5],
                               [0.0, 0.5, 0.7], [1.5, 0.5, -0.5]], [0, 1, 2, 0, 0, 2, 0]))
    with open(os.path.join(a.out, "cases.json"), "w") as f:
        json.dump(cases, f)
        f.write("\n")
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "numpy": np.__version__, "seed": SEED,
                   "reference": "LBFGS on log T in float64, strong_wolfe, tolerance_grad=1e-14, tolerance_change=1e-20, max_iter=1000"},
                  f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
