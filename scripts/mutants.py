#!/usr/bin/env python3
"""make mutants: one-line breaks of the port, each of which `make test` must catch.

Each mutant replaces one line of a scratch copy of the checkout (the tracked files plus the
generated third_party/, under $DRGRADE_CACHE/mutants), runs the test packages of `make test`
that guard that code (`go test -count=1 -failfast`: the whole package, the tests make test
runs; for vision/models, whose package takes half an hour, only the guarding test, named
with -run), and records whether they failed, which test failed first, and how long it took.
Every mutant must be caught. The table goes to stdout and to docs/mutants.md (with --write).

    python3 scripts/mutants.py [--only NAME] [--write]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, what the break does, file, exact old text (must occur once), new text, packages)
MUTANTS = [
    ("bias", "MobileNetV3's squeeze-excitation fc2 drops its bias",
     "vision/models/mobilenetv3.go", "if scale, err = s.Track(se.fc2.ForwardT(scale, train)); err != nil {",
     "fc2 := *se.fc2\n\tfc2.Bias = nil\n\tif scale, err = s.Track(fc2.ForwardT(scale, train)); err != nil {", ["-run", "TestParityForwardGolden", "./vision/models/"]),
    ("weight_decay", "Adam's L2 weight decay set to 0",
     "trainer/optim.go", "WeightDecay: weightDecay", "WeightDecay: 0", ["./trainer/"]),
    ("warmup", "the epoch-0 warmup off (factor 1 throughout)",
     "trainer/schedule/schedule.go", "if x >= iters {", "if true {", ["./trainer/schedule/"]),
    ("focal_gamma", "focal loss with gamma 0 (plain cross-entropy)",
     "loss/loss.go", "ts.FloatScalar(f.Gamma)", "ts.FloatScalar(0)", ["./loss/"]),
    ("class_weights", "class weights off (1 for every class)",
     "loss/loss.go", "w[c] = 1 / float64(n)", "w[c] = 1", ["./loss/"]),
    ("hflip", "RandomHorizontalFlip never flips",
     "vision/transforms/transform.go", "if flip {", "if flip && false {", ["./vision/transforms/"]),
    ("cosine", "the cosine schedule replaced by a constant LR",
     "trainer/schedule/schedule.go", "c := (1 + math.Cos(float64(x)*math.Pi/e)) / 2", "c := (1 + math.Cos(0*float64(x)*math.Pi/e)) / 2", ["./trainer/schedule/"]),
    ("weighted_f1", "sklearn's weighted P/R/F1 replaced by macro",
     "trainer/metrics/metrics.go", "return Averages{a.Precision / w, a.Recall / w, a.F1 / w}", "return cs.Macro()",
     ["./trainer/metrics/"]),
    ("resize", "Resize's shorter side one pixel too long",
     "vision/transforms/resize.go", "newShort := size[0]", "newShort := size[0] + 1", ["./vision/transforms/"]),
    ("head_slice", "the classifier slice takes the last rows instead of the first",
     "vision/models/weights.go", "\t\tcase []float32:\n\t\t\tdata = v[:rows*per]",
     "\t\tcase []float32:\n\t\t\tdata = v[len(v)-rows*per:]", ["-short", "-run", "TestHeadSliceEveryModel", "./vision/models/"]),
    # issue 21's recipe
    ("adamw", "--opt adamw's decoupled weight decay replaced by Adam's L2",
     "trainer/optim.go", "a.WeightDecay, a.Kind == OptAdamW)", "a.WeightDecay, false)", ["./trainer/"]),
    ("sgd_dampening", "SGD's dampening ignored",
     "trainer/optim.go", "a.Dampening, a.WeightDecay, a.Nesterov)", "0, a.WeightDecay, a.Nesterov)", ["./trainer/"]),
    ("cosine_annealing", "CosineAnnealingLR's restart branch dropped (past T_max)",
     "trainer/schedule/torch.go", "case (s.lastEpoch-1-s.tMax)%(2*s.tMax) == 0:", "case false:", ["./trainer/schedule/"]),
    ("label_smoothing", "--label_smoothing ignored by the cross-entropy",
     "loss/loss.go", "reductionMean, -100, c.LabelSmoothing, false)", "reductionMean, -100, 0, false)", ["./loss/"]),
    ("accum", "--accum_steps: the loss not divided by the batches of an update",
     "trainer/epoch.go", "\tif div > 1 { // loss / accum_steps", "\tif false {", ["./trainer/"]),
    ("clip_unscale", "--clip_grad clips the still-scaled AMP gradients",
     "trainer/epoch.go", "\t\tif err := scaler.Unscale(optimizer); err != nil {\n\t\t\treturn false, err\n\t\t}\n\t\tif err := clipGrads",
     "\t\tif err := clipGrads", ["./trainer/"]),
    ("sharpness", "TrivialAugment/RandAugment's Sharpness: the SMOOTH kernel's centre 5 → 5.01",
     "vision/transforms/autoaugment.go", "float32(5)/float32(13)", "float32(5.01)/float32(13)", ["./vision/transforms/"]),
    ("equalize", "Equalize's lookup table starts one count late (n = step/2 + 1)",
     "vision/transforms/autoaugment.go", "n := step / 2", "n := step/2 + 1", ["./vision/transforms/"]),
    ("mixup_lambda", "--mixup weighs an image by 1−λ and its partner by λ",
     "vision/mixup/mixup.go", "a[i] = float32(va*lam) + float32(vb*rest)", "a[i] = float32(va*rest) + float32(vb*lam)", ["./vision/mixup/"]),
    ("mix_draw", "the training loop never draws a mix (λ = 1 on every batch)",
     "trainer/epoch.go", "p = a.Mixup.Draw(rng, b.H, b.W)", "p = mixup.Params{Lam: 1}; _ = rng", ["./trainer/"]),
    ("config_precedence", "--config's file overrides the command line",
     "cmd/drgrade/config.go", "if onCommandLine[name] {", "if false {", ["./cmd/drgrade/"]),
    ("coral_bias", "--head ordinal: CoralLayer's coral_bias not added to the shared logit",
     "vision/models/heads.go", "return y.Add(h.coralBias, false) // [N, 1] + [K−1] → [N, K−1]",
     "return y.Sub(h.coralBias, false)", ["-run", "TestParityHeads", "./vision/models/"]),
    ("pd_cut", "--head regression: an output on a threshold takes the upper grade (left-closed, not pd.cut's)",
     "trainer/metrics/thresholds.go", "return thresholds[k] >= v", "return thresholds[k] > v", ["./trainer/metrics/"]),
    ("stored_thresholds", "--head regression: eval ignores the thresholds stored with the checkpoint",
     "trainer/eval.go", "r.GradeThresholds, r.ThresholdsFrom = ck.thresholds, ck.from",
     "r.GradeThresholds, r.ThresholdsFrom = metrics.DefaultThresholds(c.numClasses), ck.from", ["./trainer/"]),
]


def scratch_copy(dst):
    """The tracked files of the checkout (as they are now) plus third_party's generated glue."""
    os.makedirs(dst, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=HERE, check=True, capture_output=True).stdout.split(b"\0")
    for f in files:
        f = f.decode()
        if not f or not os.path.isfile(os.path.join(HERE, f)):
            continue
        src, out = os.path.join(HERE, f), os.path.join(dst, f)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(src, "rb") as a:
            data = a.read()
        if not os.path.exists(out) or open(out, "rb").read() != data:
            with open(out, "wb") as b:
                b.write(data)
            shutil.copymode(src, out)
    # Files an earlier copy had that the checkout no longer tracks (a renamed test) would break
    # the build: remove them (third_party's generated glue is handled below).
    tracked = {f.decode() for f in files if f}
    for base, dirs, names in os.walk(dst):
        rel = os.path.relpath(base, dst)
        if rel == "third_party" or rel.startswith("third_party" + os.sep):
            dirs[:] = []
            continue
        for n in names:
            f = os.path.normpath(os.path.join(rel, n))
            if f not in tracked:
                os.remove(os.path.join(base, n))
    tp = os.path.join(HERE, "third_party")
    for name in os.listdir(tp):
        s, d = os.path.join(tp, name), os.path.join(dst, "third_party", name)
        if os.path.islink(s):
            if os.path.lexists(d):
                os.remove(d)
            os.symlink(os.readlink(s), d)
        elif os.path.isdir(s):
            if not os.path.isdir(d):
                shutil.copytree(s, d, symlinks=True)
        else:
            shutil.copy2(s, d)


def run_mutant(root, m):
    name, what, path, old, new, pkgs = m
    p = os.path.join(root, path)
    orig = open(p).read()
    if orig.count(old) != 1:
        return dict(name=name, what=what, caught=False, first="(the line to break was not found once: update scripts/mutants.py)", secs=0, pkgs=pkgs)
    open(p, "w").write(orig.replace(old, new))
    t0 = time.time()
    try:
        r = subprocess.run(["go", "test", "-count=1", "-failfast", "-timeout", "30m"] + pkgs, cwd=root,
                           capture_output=True, text=True)
    finally:
        open(p, "w").write(orig)
    secs = time.time() - t0
    out = r.stdout + r.stderr
    fails = re.findall(r"^\s*--- FAIL: (\S+)", out, re.M)
    build = "[build failed]" in out or "[setup failed]" in out
    first = fails[0] if fails else ("build failed: " + out.strip().splitlines()[-1] if build else "")
    return dict(name=name, what=what, caught=r.returncode != 0 and not build and bool(fails), first=first, secs=secs, pkgs=pkgs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", help="run only this mutant (repeatable)")
    ap.add_argument("--write", action="store_true", help="write the table to docs/mutants.md")
    a = ap.parse_args()
    cache = os.environ.get("DRGRADE_CACHE", os.path.expanduser("~/.cache/drgrade"))
    root = os.path.join(cache, "mutants", "src")
    scratch_copy(root)
    rows = []
    for m in MUTANTS:
        if a.only and m[0] not in a.only:
            continue
        res = run_mutant(root, m)
        rows.append(res)
        print(f"{res['name']}: {'caught' if res['caught'] else 'NOT CAUGHT'} by {res['first'] or '-'} ({res['secs']:.0f} s)", flush=True)
    table = ["| mutant | the break | packages tested | first failing test | verdict | time |", "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| `{r['name']}` | {r['what']} | `{' '.join(r['pkgs'])}` | `{r['first'] or '-'}` | "
                     f"{'caught' if r['caught'] else '**not caught**'} | {r['secs']:.0f} s |")
    print("\n".join(table))
    if a.write:
        with open(os.path.join(HERE, "docs", "mutants.md"), "w") as f:
            f.write("# Mutants: breaks `make test` must catch\n\n"
                    "`make mutants` (`scripts/mutants.py`) applies each one-line break below to a scratch copy of the\n"
                    "checkout, runs the `make test` packages that guard it (`go test -count=1 -failfast`: every test of\n"
                    "the package; for `vision/models`, whose whole package takes half an hour, the guarding test named\n"
                    "with `-run`) and records the first test that failed. Every mutant must be caught.\n"
                    "It is not part of CI: 3 min 38 s for its first ten mutants on this project's idle 2-core machine once its\nscratch copy is built (`time python3 scripts/mutants.py --write`, what `make mutants` runs after set-up,\n2026-12-06; the first run also compiles gotch there, about 5 min). The times below, 24 mutants, add up to\n22 min: they ran 2026-12-06 20:04–20:30 UTC beside other jobs (load average 4–10).\n\n"
                    + "\n".join(table) + "\n")
    sys.exit(0 if rows and all(r["caught"] for r in rows) else 1)


if __name__ == "__main__":
    main()
