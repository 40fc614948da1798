#!/usr/bin/env python3
"""make gpu-check: drgrade's training steps against PyTorch's on the same NVIDIA GPU.

Run by scripts/gpu-check.sh (which finds the Python and refuses early on a machine without a
GPU). Standard library + torch + torchvision + numpy only; works with torch 2.1 and 2.11.

What it does, in a work folder (--out DIR, default a temporary one):

  1. initial weights: torch.manual_seed(0), torchvision.models.resnet34(num_classes=5)
     (drgrade's resnet_small), every parameter and buffer perturbed a little (BatchNorm
     weights away from 1, biases and running means away from 0, running variances scaled,
     num_batches_tracked = 3) so that no tensor is constant -> init.pth;
  2. STEPS training batches of BATCH images at SIZE x SIZE (a smooth random pattern per
     class plus normal noise, labels 0..4 drawn at random, seeded) and EVAL held-out images,
     as .npy (batches/x<i>.npy float32 [B,3,H,W], y<i>.npy int64 [B]);
  3. for each mode, fp32 and amp:
       drgrade: bin/drgrade steps --weights init.pth --batches batches --device cuda:0
                --deterministic [--use_amp]  (the trainer's own TrainStep);
       PyTorch: the same loop - resnet34(num_classes=5) loaded from init.pth, model.train(),
                CrossEntropyLoss(weight=1/counts), Adam(lr=2e-4, weight_decay=1e-4,
                foreach=False) at a constant LR; amp: autocast(float16) around forward +
                loss, GradScaler() with default parameters, scaler.scale(loss).backward(),
                scaler.step(opt), scaler.update(), opt.zero_grad(set_to_none=True).
     Both sides: torch.backends.cudnn.deterministic = True, benchmark = False; every batch on
     the GPU before the loop; loss.item() every step; the steps after the first WARMUP are
     timed, with torch.cuda.synchronize (drgrade: a device-to-host copy) at both ends.
  4. one table, printed and written as gpu_check.json and gpu_check.md in the work folder.

Columns and bounds (a mode passes when every bound holds; exit 0 when both pass, 1 when
one fails, naming the failed bounds, 2 when there is no CUDA GPU or bin/drgrade is not a
CUDA build):

  max |dloss|, max rel dloss  over the STEPS steps: |l_drgrade - l_torch| and that divided by
                              |l_torch|. Reported, not bounded (the weights and predictions
                              are what the bounds are about), but every loss must be finite.
  weight rel diff             per floating-point tensor of the final state_dict (parameters,
                              BatchNorm running statistics):
                                  rel(t) = ||w_drgrade - w_torch||_2 / ||w_torch||_2
                              then the maximum over tensors (the table names the tensor).
                              Bound: fp32 <= 1e-3, amp <= 1e-2. Integer buffers
                              (num_batches_tracked) must be equal.
  stepped                     which steps the GradScaler skipped (inf/NaN gradients) must be the
                              same on both sides.
  eval agreement              both final checkpoints loaded into torchvision resnet34 in PyTorch,
                              eval mode, fp32, no autocast, on the EVAL held-out images: the
                              fraction of images whose argmax agrees. Bound: >= 99.5%.
  torch.load ok               torch.load(drgrade's final.pth, weights_only=True) and
                              resnet34(num_classes=5).load_state_dict(strict=True) succeed.
  img/s                       images per second of the timed steps, each side (not bounded).

Environment:
  DRGRADE_GPU_CHECK_DEVICE  "cuda" (default, cuda:0) or "cpu": the whole comparison on the CPU,
                            for testing this script without a GPU. On the CPU drgrade's
                            --use_amp is bfloat16 autocast without a GradScaler (PyTorch's CPU
                            autocast default), so the PyTorch side then uses
                            torch.autocast('cpu', dtype=torch.bfloat16) and no scaler, and the
                            CUDA-build check of bin/drgrade is skipped.
  DRGRADE_GPU_CHECK_STEPS   training steps (30)
  DRGRADE_GPU_CHECK_BATCH   batch size (16)
  DRGRADE_GPU_CHECK_SIZE    image size (224)
  DRGRADE_GPU_CHECK_EVAL    held-out images (1024; agreement is counted per image)
  DRGRADE_GPU_CHECK_WARMUP  untimed first steps (min(5, STEPS // 3))
  DRGRADE_GPU_CHECK_THREADS CPU threads of both sides (0: each library's default)
  DRGRADE_BIN               the drgrade binary (default bin/drgrade next to scripts/)
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

EXIT_OK, EXIT_FAIL, EXIT_NO_GPU = 0, 1, 2
NO_GPU = ("no CUDA GPU found: make gpu-check needs an NVIDIA GPU and a CUDA build of drgrade "
          "(make build CUDA=1, then scripts/gpu-check.sh with that bin/drgrade; docs/gpu-check.md)")
NOT_CUDA_BUILD = ("{bin} is not a CUDA build (`drgrade version` does not say \"CUDA build true\"): "
                  "build it with `make build CUDA=1` (docs/gpu-check.md) and copy it to bin/drgrade")

COUNTS = [4980, 514, 3604, 188, 731]  # the script's DDR class counts -> weight 1/count
NUM_CLASSES = 5
LR, WEIGHT_DECAY = 2e-4, 1e-4
BOUND_WEIGHT = {"fp32": 1e-3, "amp": 1e-2}
BOUND_AGREE = 0.995


def env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v.strip() else default
    except ValueError:
        sys.exit(f"gpu_check: {name}={v!r} is not an integer")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="", help="work folder (default: a temporary one, kept)")
    ap.add_argument("--drgrade", default=os.environ.get("DRGRADE_BIN") or os.path.join(here, "..", "bin", "drgrade"))
    args = ap.parse_args()

    dev_kind = os.environ.get("DRGRADE_GPU_CHECK_DEVICE", "cuda").strip().lower() or "cuda"
    if dev_kind not in ("cuda", "cpu"):
        print(f"gpu_check: DRGRADE_GPU_CHECK_DEVICE={dev_kind!r}: want cuda or cpu", file=sys.stderr)
        return EXIT_NO_GPU
    on_cpu = dev_kind == "cpu"
    # Deterministic cuBLAS needs this before CUDA starts, in both processes.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    import warnings

    import numpy as np
    import torch
    import torchvision

    # torch 2.1's weights_only loader touches TypedStorage; the warning is not ours to fix.
    warnings.filterwarnings("ignore", message="TypedStorage is deprecated")

    if not on_cpu and not torch.cuda.is_available():
        print(NO_GPU, file=sys.stderr)
        return EXIT_NO_GPU
    drgrade = os.path.abspath(args.drgrade)
    if not os.access(drgrade, os.X_OK):
        print(f"gpu_check: no drgrade binary at {drgrade} (build it with `make build CUDA=1`, or set DRGRADE_BIN)",
              file=sys.stderr)
        return EXIT_NO_GPU
    ver = subprocess.run([drgrade, "version"], capture_output=True, text=True)
    if ver.returncode != 0:
        print(f"gpu_check: `{drgrade} version` failed (exit {ver.returncode}):\n{ver.stderr}", file=sys.stderr)
        return EXIT_FAIL
    if not on_cpu and "CUDA build true" not in ver.stdout:
        print(NOT_CUDA_BUILD.format(bin=drgrade), file=sys.stderr)
        return EXIT_NO_GPU

    steps = env_int("DRGRADE_GPU_CHECK_STEPS", 30)
    batch = env_int("DRGRADE_GPU_CHECK_BATCH", 16)
    size = env_int("DRGRADE_GPU_CHECK_SIZE", 224)
    n_eval = env_int("DRGRADE_GPU_CHECK_EVAL", 1024)
    warmup = env_int("DRGRADE_GPU_CHECK_WARMUP", min(5, steps // 3))
    threads = env_int("DRGRADE_GPU_CHECK_THREADS", 0)
    if steps < 1 or batch < 1 or size < 32 or n_eval < 1 or not 0 <= warmup < steps:
        print("gpu_check: want STEPS >= 1, BATCH >= 1, SIZE >= 32, EVAL >= 1, 0 <= WARMUP < STEPS", file=sys.stderr)
        return EXIT_NO_GPU
    if threads > 0:
        torch.set_num_threads(threads)

    out = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="drgrade-gpu-check-")
    os.makedirs(out, exist_ok=True)
    device = torch.device("cpu" if on_cpu else "cuda:0")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False

    print(f"gpu-check: {steps} steps of resnet_small (resnet34, 5 classes), batch {batch}, {size}x{size}, "
          f"on {device} ({torch.cuda.get_device_name(0) if not on_cpu else 'CPU mode'}); work folder {out}")
    print(f"  PyTorch {torch.__version__}, torchvision {torchvision.__version__}; drgrade: "
          + " | ".join(l.strip() for l in ver.stdout.splitlines() if l.startswith(("drgrade", "libtorch"))))

    # 1. initial weights
    init_path = os.path.join(out, "init.pth")
    torch.manual_seed(0)
    ref = torchvision.models.resnet34(num_classes=NUM_CLASSES)
    with torch.no_grad():
        for name, t in ref.state_dict().items():
            if not t.is_floating_point():
                t.fill_(3)  # num_batches_tracked
            elif name.endswith("running_var"):
                t.mul_(torch.empty_like(t).uniform_(0.5, 1.5))
            elif name.endswith("running_mean"):
                t.add_(0.1 * torch.randn_like(t))
            elif name.endswith("bias"):
                t.add_(0.05 * torch.randn_like(t))
            elif t.dim() == 1:  # BatchNorm weight
                t.add_(0.1 * torch.randn_like(t))
            else:
                t.add_(0.1 * t.std() * torch.randn_like(t))
    torch.save(ref.state_dict(), init_path)

    # 2. batches: a smooth pattern per class plus noise
    rng = np.random.RandomState(1)
    patterns = torch.nn.functional.interpolate(
        torch.from_numpy(rng.standard_normal((NUM_CLASSES, 3, 8, 8)).astype(np.float32)),
        size=(size, size), mode="bilinear", align_corners=False).numpy()

    def make_batch(n):
        y = rng.randint(0, NUM_CLASSES, size=n).astype(np.int64)
        x = (0.8 * rng.standard_normal((n, 3, size, size)) + patterns[y]).astype(np.float32)
        return x, y

    bdir = os.path.join(out, "batches")
    os.makedirs(bdir, exist_ok=True)
    train = []
    for i in range(steps):
        x, y = make_batch(batch)
        np.save(os.path.join(bdir, f"x{i}.npy"), x)
        np.save(os.path.join(bdir, f"y{i}.npy"), y)
        train.append((torch.from_numpy(x), torch.from_numpy(y)))
    eval_x = [torch.from_numpy(make_batch(min(64, n_eval - s))[0]) for s in range(0, n_eval, 64)]

    # 3. both sides, both modes
    rows, failed = [], []
    for mode in ("fp32", "amp"):
        use_amp = mode == "amp"
        tag = f"drgrade_{mode}"
        cmd = [drgrade, "steps", "--model", "resnet_small", "--num_classes", str(NUM_CLASSES),
               "--weights", init_path, "--batches", bdir, "--steps", str(steps), "--warmup", str(warmup),
               "--device", "cpu" if on_cpu else "cuda:0", "--lr", repr(LR), "--weight_decay", repr(WEIGHT_DECAY),
               "--class_counts", ",".join(map(str, COUNTS)), "--deterministic",
               "--threads", str(threads), "--out", os.path.join(out, tag + ".pth"),
               "--json", os.path.join(out, tag + ".json")]
        if use_amp:
            cmd.append("--use_amp")
        print(f"\n[{mode}] drgrade: {' '.join(cmd)}", flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True)
        with open(os.path.join(out, tag + ".log"), "w") as f:
            f.write(p.stdout + p.stderr)
        if p.returncode != 0:
            print(p.stdout[-4000:] + p.stderr[-4000:], file=sys.stderr)
            rows.append({"mode": mode, "steps": steps, "verdict": "FAIL",
                         "failed": [f"drgrade steps exited {p.returncode}: {p.stderr.strip()[-300:]}"]})
            failed.append(mode)
            continue
        with open(os.path.join(out, tag + ".json")) as f:
            dg = json.load(f)

        print(f"[{mode}] PyTorch", flush=True)
        tr = torch_steps(torch, torchvision, init_path, train, device, use_amp, on_cpu, warmup, out, mode)
        row = compare(torch, torchvision, mode, steps, dg, tr, os.path.join(out, tag + ".pth"),
                      os.path.join(out, f"torch_{mode}.pth"), eval_x, device, on_cpu)
        rows.append(row)
        if row["verdict"] != "ok":
            failed.append(mode)

    # 4. the table
    result = {"device": "cpu" if on_cpu else torch.cuda.get_device_name(0), "torch": torch.__version__,
              "torchvision": torchvision.__version__, "drgrade_version": ver.stdout,
              "steps": steps, "batch": batch, "size": size, "eval_images": n_eval, "warmup": warmup,
              "threads": threads, "bounds": {"weight_rel": BOUND_WEIGHT, "eval_agreement": BOUND_AGREE},
              "rows": rows, "ok": not failed}
    md = table(rows, result)
    print("\n" + md)
    with open(os.path.join(out, "gpu_check.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(out, "gpu_check.md"), "w") as f:
        f.write(md + "\n")
    if failed:
        for r in rows:
            for why in r.get("failed", []):
                print(f"FAIL {r['mode']}: {why}", file=sys.stderr)
        return EXIT_FAIL
    print("gpu-check: every bound holds")
    return EXIT_OK


def torch_steps(torch, torchvision, init_path, train, device, use_amp, on_cpu, warmup, out, mode):
    """The PyTorch side: the same steps as drgrade steps, returning losses, stepped, seconds."""
    model = torchvision.models.resnet34(num_classes=NUM_CLASSES)
    model.load_state_dict(torch.load(init_path, map_location="cpu"), strict=True)
    model.to(device)
    model.train()
    criterion = torch.nn.CrossEntropyLoss(weight=torch.FloatTensor([1.0 / c for c in COUNTS])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, foreach=False)
    scaler = None
    if use_amp and not on_cpu:
        # torch.amp.GradScaler("cuda") from 2.3 on; torch.cuda.amp.GradScaler (deprecated later) before.
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    amp_dtype = torch.bfloat16 if on_cpu else torch.float16
    batches = [(x.to(device), y.to(device)) for x, y in train]

    def sync():
        if not on_cpu:
            torch.cuda.synchronize()

    losses, stepped = [], []
    sync()
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            pred = model(x)
            loss = criterion(pred, y)
        losses.append(loss.item())
        if scaler is not None:
            before = scaler.get_scale()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            stepped.append(scaler.get_scale() >= before)
        else:
            loss.backward()
            opt.step()
            stepped.append(True)
        opt.zero_grad(set_to_none=True)
    sync()
    seconds = time.perf_counter() - t0
    images = sum(len(y) for _, y in batches[warmup:])
    path = os.path.join(out, f"torch_{mode}.pth")
    torch.save(model.state_dict(), path)
    return {"losses": losses, "stepped": stepped, "seconds": seconds,
            "images_per_s": images / seconds if seconds > 0 else float("nan"),
            "state": {k: v.detach().to("cpu") for k, v in model.state_dict().items()}}


def compare(torch, torchvision, mode, steps, dg, tr, dg_path, tr_path, eval_x, device, on_cpu):
    failed = []
    row = {"mode": mode, "steps": steps}
    dl, tl = dg["losses"], tr["losses"]
    if len(dl) != len(tl):
        failed.append(f"drgrade ran {len(dl)} steps, PyTorch {len(tl)}")
    finite = all(math.isfinite(v) for v in dl + tl)
    if not finite:
        failed.append("a non-finite loss")
    dabs = [abs(a - b) for a, b in zip(dl, tl)]
    drel = [abs(a - b) / abs(b) if b != 0 else math.inf for a, b in zip(dl, tl)]
    row["max_abs_dloss"] = max(dabs) if dabs else math.nan
    row["max_rel_dloss"] = max(drel) if drel else math.nan
    row["step_of_max_rel_dloss"] = drel.index(row["max_rel_dloss"]) if drel else -1
    row["losses_drgrade"], row["losses_torch"] = dl, tl
    if list(dg["stepped"]) != list(tr["stepped"]):
        failed.append(f"skipped steps differ: drgrade {dg['stepped']} PyTorch {tr['stepped']}")
    row["skipped_steps"] = {"drgrade": [i for i, s in enumerate(dg["stepped"]) if not s],
                            "torch": [i for i, s in enumerate(tr["stepped"]) if not s]}
    expect_device = "cpu" if on_cpu else "cuda:0"
    if dg.get("device") != expect_device:
        failed.append(f"drgrade ran on {dg.get('device')}, not {expect_device}")

    # torch.load of drgrade's checkpoint, strict load
    row["torch_load_ok"] = False
    dg_model = torchvision.models.resnet34(num_classes=NUM_CLASSES)
    try:
        sd = torch.load(dg_path, map_location="cpu", weights_only=True)
        dg_model.load_state_dict(sd, strict=True)
        row["torch_load_ok"] = True
    except Exception as e:  # noqa: BLE001 - reported in the table
        row["torch_load_error"] = f"{type(e).__name__}: {e}"[:500]
        failed.append(f"torch.load/load_state_dict(strict=True) of drgrade's final.pth: {row['torch_load_error']}")

    # final weights
    bound = BOUND_WEIGHT[mode]
    worst, worst_name = 0.0, ""
    if row["torch_load_ok"]:
        for name, w in tr["state"].items():
            d = sd[name].to(torch.float64) if w.is_floating_point() else sd[name]
            if not w.is_floating_point():
                if not torch.equal(d, w):
                    failed.append(f"{name}: drgrade {d.tolist()} PyTorch {w.tolist()}")
                continue
            w64 = w.to(torch.float64)
            rel = (d - w64).norm().item() / max(w64.norm().item(), 1e-12)
            if not math.isfinite(rel) or rel > worst:
                worst, worst_name = rel if math.isfinite(rel) else math.inf, name
        row["weight_rel_diff"], row["weight_rel_diff_tensor"] = worst, worst_name
        if worst > bound:
            failed.append(f"final weights: rel diff {worst:.3g} ({worst_name}) > bound {bound:g}")
    row["weight_bound"] = bound

    # eval agreement, both checkpoints in PyTorch eval mode, fp32
    if row["torch_load_ok"]:
        tr_model = torchvision.models.resnet34(num_classes=NUM_CLASSES)
        tr_model.load_state_dict(tr["state"], strict=True)
        agree = total = 0
        dg_model.to(device).eval()
        tr_model.to(device).eval()
        with torch.no_grad():
            for x in eval_x:
                x = x.to(device)
                a, b = dg_model(x).argmax(1), tr_model(x).argmax(1)
                agree += int((a == b).sum().item())
                total += len(x)
        row["eval_agreement"] = agree / total
        row["eval_images"] = total
        if row["eval_agreement"] < BOUND_AGREE:
            failed.append(f"eval agreement {agree}/{total} = {100 * agree / total:.2f}% < {100 * BOUND_AGREE:.1f}%")

    row["drgrade_img_s"] = dg.get("images_per_s")
    row["torch_img_s"] = tr["images_per_s"]
    row["drgrade_libtorch"] = dg.get("libtorch")
    row["failed"] = failed
    row["verdict"] = "ok" if not failed else "FAIL"
    return row


def fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def table(rows, result):
    head = ("| mode | steps | max \\|Δloss\\| | max rel Δloss | final-weight rel diff (bound) | eval agreement "
            "(≥ 99.5%) | torch.load ok | drgrade img/s | PyTorch img/s | verdict |")
    lines = [f"gpu-check on {result['device']}: PyTorch {result['torch']}, batch {result['batch']}, "
             f"{result['size']}x{result['size']}, {result['eval_images']} eval images, "
             f"timed steps {result['warmup']}..{result['steps'] - 1}", "",
             head, "|" + "---|" * 10]
    for r in rows:
        wr = r.get("weight_rel_diff")
        wcell = "-" if wr is None else f"{wr:.2e} (≤ {r['weight_bound']:g})"
        ag = r.get("eval_agreement")
        lines.append("| " + " | ".join([
            r["mode"], str(r["steps"]), fmt(r.get("max_abs_dloss"), ".2e"), fmt(r.get("max_rel_dloss"), ".2e"),
            wcell, "-" if ag is None else f"{100 * ag:.2f}% ({r['eval_images']})",
            {True: "yes", False: "NO"}.get(r.get("torch_load_ok"), "-"),
            fmt(r.get("drgrade_img_s"), ".1f"), fmt(r.get("torch_img_s"), ".1f"), r["verdict"]]) + " |")
    for r in rows:
        if r.get("weight_rel_diff") == 0:
            lines.append(f"\n{r['mode']}: final weights bit-identical; skipped steps "
                         f"drgrade {r['skipped_steps']['drgrade']}, PyTorch {r['skipped_steps']['torch']}")
        elif r.get("weight_rel_diff_tensor"):
            lines.append(f"\n{r['mode']}: largest weight difference in {r['weight_rel_diff_tensor']}; "
                         f"largest rel Δloss at step {r['step_of_max_rel_dloss']}; skipped steps "
                         f"drgrade {r['skipped_steps']['drgrade']}, PyTorch {r['skipped_steps']['torch']}")
        for why in r.get("failed", []):
            lines.append(f"\n{r['mode']} FAILED: {why}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
