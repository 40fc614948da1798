"""Golden generator for trainer/metrics' screening and calibration: sklearn's and NumPy's values.

For each case (5-grade probabilities and labels; a 6-class DDR case with Ungradable; a 2-class
case) and each binary view (referable = grade >= referable_grade, any DR = grade >= 1; samples
labelled Ungradable left out; P(view) = sum of p_k over the grades k >= g, Ungradable not
counted, nothing renormalised) it writes:
  - sklearn 1.9: roc_auc_score, average_precision_score, brier_score_loss(pos_label=1),
    roc_curve (drop_intermediate=True) and precision_recall_curve;
  - DeLong's AUC and standard error by the O(m*n) structural components (DeLong et al. 1988,
    psi = 1[x > y] + 0.5*1[x == y]), independent of drgrade's fast midrank algorithm;
  - the operating points: Youden = argmax(tpr - fpr) over roc_curve(drop_intermediate=False)
    without its +inf point; for each target sensitivity the threshold with the fewest false
    positives among those with tpr >= target (ties: the most true positives); each point's
    counts by NumPy (score >= threshold);
  - the stratified bootstrap: the resamples drawn by the scheme drgrade documents
    (metrics.StratifiedResamples: SplitMix64(seed), index = high 64 bits of next()*n, per
    resample all positives' draws then all negatives'), sklearn's AUC and AP on each
    resampled array, and np.percentile(..., [2.5, 97.5]) (the default linear method); for the
    small cases also the pointwise bands on np.linspace(0, 1, 101): the best TPR with
    FPR <= x (roc_curve without dropped points) and max precision with recall >= x;
and for the case's full probabilities the calibration by NumPy, as Guo et al.'s code: ECE over
15 bins np.linspace(0, 1, 16), a sample in (lo, hi] when conf > lo and conf <= hi, top-label
(max prob, argmax == label) and per class (p_k vs label == k) with the bins' counts, accuracies
and confidences; the multi-class Brier mean_i sum_k (p_ik - 1[y_i = k])^2 (checked against
sklearn's brier_score_loss(labels=range(C)) for C >= 3).

Also: thresholds chosen on one case applied to another (the counts they imply), np.percentile
on assorted arrays and np.sum on long arrays given by a formula (numpy's pairwise summation).

Writes --out/cases.json, apply.json, percentile.json, sums.json and meta.json.
"""
import argparse
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve,
                             roc_auc_score, roc_curve)

SEED = 20261207
BINS = 15
TARGETS = [0.85, 0.90, 0.95]
M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def intn(self, n):
        return (self.next() * n) >> 64


def resamples(y, n, seed):
    pos = [i for i, v in enumerate(y) if v]
    neg = [i for i, v in enumerate(y) if not v]
    rng = SplitMix64(seed)
    for _ in range(n):
        idx = [pos[rng.intn(len(pos))] for _ in pos]
        idx += [neg[rng.intn(len(neg))] for _ in neg]
        yield np.array(idx, dtype=np.int64)


def num(x):
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def nums(a):
    return [num(v) for v in a]


def view_score(p, grade, ungradable):
    s = 0.0  # in class order, as drgrade sums
    for k in range(grade, len(p)):
        if k != ungradable:
            s += float(p[k])
    return s


def delong(s, y):
    x, z = s[y], s[~y]
    m, n = len(x), len(z)
    psi = (x[:, None] > z[None, :]).astype(np.float64) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    return float(psi.mean()), float(np.sqrt(var))


def point(s, y, name, thr, target=None):
    called = s >= thr
    tp = int(np.sum(called & y)); fp = int(np.sum(called & ~y))
    fn = int(np.sum(~called & y)); tn = int(np.sum(~called & ~y))
    div = lambda a, b: None if b == 0 else a / b
    return {"name": name, "target_sensitivity": target, "threshold": float(thr),
            "sensitivity": div(tp, tp + fn), "specificity": div(tn, tn + fp),
            "ppv": div(tp, tp + fp), "npv": div(tn, tn + fn), "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def operating_points(s, y):
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]
    n_neg = int(np.sum(~y))
    fps = np.rint(fpr * n_neg).astype(np.int64)
    pts = [point(s, y, "youden", thr[int(np.argmax(tpr - fpr))])]
    for t in TARGETS:
        ok = np.nonzero(tpr >= t)[0]
        fewest = fps[ok].min()
        best = ok[fps[ok] == fewest][-1]  # the last of the run: the most true positives
        pts.append(point(s, y, "sens_%.2f" % t, thr[best], t))
    return pts


def ece(conf, correct):
    edges = np.linspace(0, 1, BINS + 1)
    e = 0.0
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inb = (conf > lo) & (conf <= hi)
        prop = inb.mean()
        acc = c = None
        if prop > 0:
            acc = float(correct[inb].mean())
            c = float(conf[inb].mean())
            e += abs(c - acc) * prop
        bins.append({"lower": float(lo), "upper": float(hi), "count": int(inb.sum()), "accuracy": acc, "confidence": c})
    return {"ece": float(e), "bins": bins}


def calibration(P, labels):
    n, C = P.shape
    top = P.max(axis=1)
    right = P.argmax(axis=1) == labels
    onehot = np.zeros_like(P)
    onehot[np.arange(n), labels] = 1
    brier = float(np.mean(np.sum((P - onehot) ** 2, axis=1)))
    if C >= 3:
        sk = brier_score_loss(labels, P, labels=list(range(C)))
        assert abs(sk - brier) < 1e-12, (sk, brier)
    per = [ece(P[:, k], labels == k) for k in range(C)]
    for p in per:  # the edges are the top label's
        for b in p["bins"]:
            del b["lower"], b["upper"]
    return {"top_label": ece(top, right), "per_class": per,
            "classwise_ece": float(np.mean([p["ece"] for p in per])), "brier": brier}


def view(name, grade, P, labels, ungradable, boot, seed, keep_resamples):
    keep = labels != ungradable
    s = np.array([view_score(p, grade, ungradable) for p in P[keep]])
    y = labels[keep] >= grade
    out = {"name": name, "grade": grade, "excluded": int(np.sum(~keep)),
           "positives": int(y.sum()), "negatives": int((~y).sum()),
           "brier": float(brier_score_loss(y.astype(int), s, pos_label=1))}
    if out["positives"] == 0 or out["negatives"] == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["sklearn_auc"] = num(roc_auc_score(y, s))  # nan: undefined
        return out
    out["auc"] = float(roc_auc_score(y, s))
    out["ap"] = float(average_precision_score(y, s))
    if not keep_resamples:  # the larger cases: no curves, no per-resample values
        out["roc"] = out["pr"] = None
    fpr, tpr, thr = roc_curve(y, s)
    if keep_resamples:
        out["roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": nums(thr)}
    pr, rc, th = precision_recall_curve(y, s)
    if keep_resamples:
        out["pr"] = {"precision": pr.tolist(), "recall": rc.tolist(), "thresholds": th.tolist()}
    out["delong_auc"], se = delong(s, y)
    out["delong_se"] = num(se)
    out["points"] = operating_points(s, y)
    aucs, aps, first = [], [], None
    grid = np.linspace(0, 1, 101)
    roc_at, pr_at = [], []
    for idx in resamples(y.tolist(), boot, seed):
        if first is None:
            first = idx.tolist()
        aucs.append(float(roc_auc_score(y[idx], s[idx])))
        aps.append(float(average_precision_score(y[idx], s[idx])))
        if keep_resamples:
            f, t, _ = roc_curve(y[idx], s[idx], drop_intermediate=False)
            roc_at.append([t[f <= x].max() for x in grid])
            p, r, _ = precision_recall_curve(y[idx], s[idx])
            pr_at.append([p[r >= x].max() for x in grid])
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    alo, ahi = np.percentile(aps, [2.5, 97.5])
    out["bootstrap"] = {"n": boot, "seed": seed, "first_resample": first,
                        "auc_ci": [float(lo), float(hi)], "ap_ci": [float(alo), float(ahi)]}
    if keep_resamples:
        out["bootstrap"]["auc"] = aucs
        out["bootstrap"]["ap"] = aps
        # pointwise bands: the best TPR at FPR <= x, the interpolated precision at recall >= x
        for key, at in (("roc_band", roc_at), ("pr_band", pr_at)):
            lo, hi = np.percentile(np.array(at), [2.5, 97.5], axis=0)
            out["bootstrap"][key] = {"lo": lo.tolist(), "hi": hi.tolist()}
    return out


def case(name, P, labels, ungradable=-1, referable_grade=2, boot=100, seed=1, keep_resamples=True):
    P = np.asarray(P, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    C = P.shape[1]
    grades = ungradable if 0 <= ungradable < C else C
    views = []
    for vname, g in (("referable", referable_grade), ("any_dr", 1)):
        if 1 <= g < grades:
            views.append(view(vname, g, P, labels, ungradable, boot, seed, keep_resamples))
    return {"name": name, "num_classes": C, "ungradable": ungradable, "referable_grade": referable_grade,
            "probs": P.tolist(), "labels": labels.tolist(), "views": views, "calibration": calibration(P, labels)}


def model_probs(rng, n, C, temp, decimals, class_p=None):
    """Labels drawn from a categorical, probabilities a tempered version of it, rounded."""
    logits = rng.normal(0, 1.5, size=(n, C))
    if class_p is not None:
        logits += np.log(class_p)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(C, p=row) for row in p])
    q = p ** (1 / temp)
    q /= q.sum(axis=1, keepdims=True)
    q = np.round(q, decimals)
    rows = np.arange(n)
    top = q.argmax(axis=1)
    q[rows, top] = 0
    q[rows, top] = 1 - q.sum(axis=1)  # rows sum to 1 (to rounding)
    return q, labels


def cases(rng):
    dr = np.array([1286, 116, 873, 48, 182], dtype=float)
    dr /= dr.sum()
    out = []
    for i, (n, temp, dec) in enumerate([(40, 0.5, 4), (150, 1.0, 4), (600, 2.0, 4), (1000, 1.3, 5)]):
        P, y = model_probs(rng, n, 5, temp, dec, dr if i % 2 else None)
        out.append(case(f"random_n{n}_T{temp}", P, y, seed=100 + i, keep_resamples=n <= 150, boot=200 if n <= 150 else 50))
    # heavy ties: probabilities in tenths (scores tie, confidences on bin edges such as 0.2 = 3/15)
    counts = rng.multinomial(10, [0.3, 0.1, 0.3, 0.1, 0.2], size=200)
    labels = np.array([rng.choice(5, p=(c + 0.2) / (c + 0.2).sum()) for c in counts])
    out.append(case("ties_tenths", counts / 10, labels, seed=7))
    halves = np.array([[0.5, 0, 0.5, 0, 0], [0.5, 0, 0.5, 0, 0], [1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0.5, 0, 0.5, 0, 0], [0, 0, 0, 0, 1]])
    out.append(case("ties_all_half", halves, [0, 2, 0, 2, 3, 1], seed=8))
    # tiny sets
    out.append(case("tiny_one_each", [[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.6, 0.1, 0.1]], [0, 2], seed=9))
    out.append(case("tiny_three", [[0.2, 0.2, 0.2, 0.2, 0.2], [0.7, 0.1, 0.1, 0.05, 0.05], [0.1, 0.1, 0.2, 0.3, 0.3]], [0, 3, 1], seed=10))
    out.append(case("tiny_reversed", [[0.1, 0, 0.9, 0, 0], [0.2, 0, 0.8, 0, 0], [0.9, 0, 0.1, 0, 0], [0.8, 0.2, 0, 0, 0]], [0, 1, 2, 4], seed=11))
    out.append(case("perfect", [[0.9, 0.1, 0, 0, 0], [0.6, 0.3, 0.1, 0, 0], [0, 0.1, 0.8, 0.1, 0], [0, 0, 0.2, 0.2, 0.6]], [0, 1, 2, 4], seed=12))
    # one class in a view
    P, y = model_probs(rng, 30, 5, 1.0, 4)
    out.append(case("no_referable", P, np.minimum(y, 1), seed=13))
    out.append(case("all_referable", P, np.maximum(y, 2), seed=14))
    # DDR's six classes: Ungradable (5) left out of the views, kept in the calibration
    P, y = model_probs(rng, 300, 6, 1.2, 4, np.array([0.4, 0.05, 0.3, 0.03, 0.07, 0.15]))
    out.append(case("ddr6_ungradable", P, y, ungradable=5, seed=15))
    out.append(case("ddr6_referable_grade_3", P, y, ungradable=5, referable_grade=3, seed=16, keep_resamples=False))
    P, y = model_probs(rng, 80, 2, 0.8, 4)
    out.append(case("two_classes", P, y, seed=17))
    return out


def apply_case(rng):
    """Thresholds chosen on a 'val' set, applied unchanged to a 'train' set."""
    Pv, yv = model_probs(rng, 120, 5, 1.0, 4)
    Pt, yt = model_probs(rng, 300, 5, 1.0, 4)
    val = case("apply_val", Pv, yv, boot=1, seed=21, keep_resamples=False)
    train = case("apply_train", Pt, yt, boot=1, seed=22, keep_resamples=False)
    applied = []
    for v, t in zip(val["views"], train["views"]):
        s = np.array([view_score(p, t["grade"], -1) for p in Pt])
        y = yt >= t["grade"]
        applied.append({"name": v["name"], "points": [point(s, y, p["name"], p["threshold"], p["target_sensitivity"]) for p in v["points"]]})
    return {"val": val, "train": train, "applied": applied}


def percentiles(rng):
    out = []
    for n in (1, 2, 3, 10, 37, 200, 1000):
        for kind in ("normal", "ties"):
            a = rng.normal(0.8, 0.05, n) if kind == "normal" else np.round(rng.uniform(0, 1, n), 1)
            qs = [0, 2.5, 25, 50, 97.5, 100]
            out.append({"values": a.tolist(), "q": qs, "p": [float(v) for v in np.percentile(a, qs)]})
    # arrays where np.percentile's upper-neighbour form b - (b-a)*(1-g) (weight g >= 0.5)
    # differs in the last bit from a + (b-a)*g: they pin NumPy's _lerp
    found = 0
    while found < 20:
        n = int(rng.integers(2, 12))
        a = rng.normal(0.8, 0.05, n)
        s = np.sort(a)
        for q in (60, 75, 90, 97.5):
            vi = (n - 1) * (q / 100)
            lo = int(np.floor(vi))
            g = vi - lo
            if g >= 0.5 and lo + 1 < n and s[lo] + (s[lo + 1] - s[lo]) * g != np.percentile(a, q):
                out.append({"values": a.tolist(), "q": [q], "p": [float(np.percentile(a, q))]})
                found += 1
    return out


def formula(n):
    # exactly the same float operations in Go (metrics' TestParityScreening/np_sum)
    return [float((i * 7919) % 1000 - 500) / 997.0 / float(10 ** (i % 11)) for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)

    def dump(name, obj):
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(obj, f, allow_nan=False, separators=(",", ":"))

    dump("cases.json", cases(rng))
    dump("apply.json", apply_case(rng))
    dump("percentile.json", percentiles(rng))
    dump("sums.json", [{"n": n, "sum": float(np.sum(np.array(formula(n))))}
                       for n in (1, 7, 8, 9, 16, 127, 128, 129, 136, 1000, 8191, 8192, 8193, 20000, 50001)])
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "trainer/metrics/testdata/screening_gen.py", "sklearn": sklearn.__version__,
                   "numpy": np.__version__, "seed": SEED}, f, indent=1)


if __name__ == "__main__":
    main()
