#!/usr/bin/env python3
"""Golden generator for vision/transforms: torchvision 0.16 functional transforms on PIL images.

Writes into --out:
  img_<name>.png            lossless RGB inputs (synthetic, deterministic)
  cases.json                every case: image, op, parameters, output shape, sha256 of the
                            output bytes (HWC uint8, or CHW float32 for tensors), per-channel sums,
                            and the .npy file name when the full output is stored
  out_<id>.npy              full outputs: all of them with --full, otherwise only the small ones
                            (so the committed goldens stay small; sha256 covers the rest exactly)
  rrc_stats.json            RandomResizedCrop.get_params statistics over many torch draws
  meta.json                 versions and seeds

Every op is the torchvision.transforms.functional call that the Go code mirrors, applied to a
PIL image, exactly as torchvision's transforms.Compose pipeline would.
"""
import argparse
import hashlib
import json
import math
import os

import numpy as np
import PIL
from PIL import Image, ImageDraw
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

SEED = 20240611
FULL_LIMIT = 8000  # bytes: outputs up to this size are stored in full even without --full
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def smooth(rng, w, h):
    """Low-frequency cosines per channel: every pixel differs a little from its neighbours."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w, 3))
    for c in range(3):
        acc = np.zeros((h, w))
        for _ in range(3):
            fx, fy = rng.uniform(0.5, 4.0, 2)
            ph = rng.uniform(0, 2 * math.pi)
            acc += np.cos(2 * math.pi * (fx * xx / max(w, 1) + fy * yy / max(h, 1)) + ph)
        out[..., c] = 128 + 40 * acc
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def noise(rng, w, h):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def mixed(rng, w, h):
    base = smooth(rng, w, h).astype(np.int32)
    base += rng.integers(-2, 3, size=(h, w, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def sparse_noise(rng, arr, density):
    h, w, _ = arr.shape
    n = int(h * w * density)
    ys = rng.integers(0, h, n)
    xs = rng.integers(0, w, n)
    arr[ys, xs] = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
    return arr


def blocks(rng, w, h):
    """Flat shapes on a flat background plus sparse noise: compresses well, has hard edges."""
    im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(40):
        x0, x1 = sorted(rng.integers(-w // 4, w + w // 4, 2).tolist())
        y0, y1 = sorted(rng.integers(-h // 4, h + h // 4, 2).tolist())
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.rectangle([x0, y0, x1, y1], fill=col)
        else:
            d.ellipse([x0, y0, x1, y1], fill=col)
    return sparse_noise(rng, np.array(im), 0.002)


def fundus(rng, w, h):
    """A retina-like picture: black surround, a disc whose colour changes slowly with the radius
    (long runs of equal values, so the PNG stays small), dark vessels, bright spots, sparse noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    rad = 0.46 * min(w, h)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / rad
    arr = np.zeros((h, w, 3), np.uint8)
    inside = d < 1.0
    arr[..., 0] = np.where(inside, np.floor(200 - 80 * d ** 2), 0)
    arr[..., 1] = np.where(inside, np.floor(110 - 60 * d), 0)
    arr[..., 2] = np.where(inside, np.floor(40 + 20 * d), 0)
    im = Image.fromarray(arr, "RGB")
    dr = ImageDraw.Draw(im)
    for _ in range(14):
        pts = [(float(cx), float(cy))]
        ang = rng.uniform(0, 2 * math.pi)
        for _ in range(6):
            ang += rng.uniform(-0.5, 0.5)
            step = rng.uniform(0.05, 0.15) * rad
            pts.append((pts[-1][0] + step * math.cos(ang), pts[-1][1] + step * math.sin(ang)))
        dr.line(pts, fill=(110, 20, 15), width=int(rng.integers(2, 9)))
    for _ in range(25):
        px, py = rng.uniform(cx - rad * 0.6, cx + rad * 0.6), rng.uniform(cy - rad * 0.6, cy + rad * 0.6)
        r = rng.uniform(2, 0.02 * rad + 3)
        dr.ellipse([px - r, py - r, px + r, py + r], fill=(250, 230, 120))
    return sparse_noise(rng, np.array(im), 0.001)


IMAGES = [
    ("fundus_2000x1300", fundus, 2000, 1300),
    ("fundus_1100x1500", fundus, 1100, 1500),
    ("fundus_800x600", fundus, 800, 600),
    ("blocks_1024x768", blocks, 1024, 768),
    ("blocks_512x512", blocks, 512, 512),
    ("blocks_400x1000", blocks, 400, 1000),
    ("blocks_256x256", blocks, 256, 256),
    ("blocks_301x199", blocks, 301, 199),
    ("smooth_320x240", smooth, 320, 240),
    ("smooth_211x331", smooth, 211, 331),
    ("smooth_224x224", smooth, 224, 224),
    ("smooth_100x80", smooth, 100, 80),
    ("smooth_7x5", smooth, 7, 5),
    ("mixed_250x187", mixed, 250, 187),
    ("mixed_257x255", mixed, 257, 255),
    ("smooth_223x223", smooth, 223, 223),
    ("mixed_64x300", mixed, 64, 300),
    ("mixed_1x1", mixed, 1, 1),
    ("noise_160x120", noise, 160, 120),
    ("noise_96x160", noise, 96, 160),
    ("noise_300x64", noise, 300, 64),
    ("noise_3x2", noise, 3, 2),
]


def functional_cases(w, h, rng):
    """(op, params) with fixed parameters, chosen from the image size so every image gets
    downscales, upscales, in- and out-of-bounds crops and the angles the brief names."""
    cases = []
    for s in ([256], [224], [100], [37], [512], [150, 333], [300, 200]):
        cases.append(("resize", {"size": s}))
    for s in ([224, 224], [181, 120]):
        cases.append(("center_crop", {"size": s}))
    cases.append(("crop", {"top": h // 5, "left": w // 7, "height": max(1, h // 2), "width": max(1, w // 3)}))
    cases.append(("crop", {"top": -3, "left": w - 5, "height": 20, "width": 30}))
    rc = {"top": h // 6, "left": w // 5, "height": max(1, 2 * h // 3), "width": max(1, w // 2)}
    cases.append(("resized_crop", dict(rc, size=[224, 224])))
    cases.append(("resized_crop", dict(rc, size=[64, 96])))
    cases.append(("hflip", {}))
    for a in (30.0, -17.5, 90.0, -90.0, 180.0, 45.7, 0.3):
        cases.append(("rotate", {"angle": a}))
    for f in (0.8, 1.2):
        cases.append(("brightness", {"factor": f}))
        cases.append(("contrast", {"factor": f}))
        cases.append(("saturation", {"factor": f}))
    for f in (-0.2, 0.1, 0.2, -0.5, 0.5):
        cases.append(("hue", {"factor": f}))
    cases.append(("val", {"resize": 256, "crop": 224}))
    # A small configuration, stored in full, so committed goldens measure the pipeline's diff too.
    cases.append(("val", {"resize": 24, "crop": 20}))
    cases.append(("val_tensor", {"resize": 256, "crop": 224, "mean": MEAN, "std": STD}))
    cases.append(("val_tensor", {"resize": 14, "crop": 12, "mean": MEAN, "std": STD}))
    # Train pipelines with parameters drawn once here (any values in the train ranges do).
    for size in ([224, 224], [24, 24]):
        cases.append(("train", train_params(w, h, size, rng)))
    return cases


def train_params(w, h, size, rng):
    i, j, ch, cw = T.RandomResizedCrop.get_params(Image.new("RGB", (w, h)), [0.08, 1.0], [3 / 4, 4 / 3])
    return {
        "top": i, "left": j, "height": ch, "width": cw, "size": size,
        "flip": bool(rng.random() < 0.5), "angle": float(rng.uniform(-30, 30)),
        "order": rng.permutation(4).tolist(),
        "brightness": float(rng.uniform(0.8, 1.2)), "contrast": float(rng.uniform(0.8, 1.2)),
        "saturation": float(rng.uniform(0.8, 1.2)), "hue": float(rng.uniform(-0.2, 0.2)),
        "mean": MEAN, "std": STD,
    }


def apply(op, p, img):
    """Returns a PIL image, or a CHW float32 numpy array for the *_tensor ops."""
    if op == "resize":
        return F.resize(img, p["size"], antialias=True)
    if op == "center_crop":
        return F.center_crop(img, p["size"])
    if op == "crop":
        return F.crop(img, p["top"], p["left"], p["height"], p["width"])
    if op == "resized_crop":
        return F.resized_crop(img, p["top"], p["left"], p["height"], p["width"], p["size"], antialias=True)
    if op == "hflip":
        return F.hflip(img)
    if op == "rotate":
        return F.rotate(img, p["angle"])
    if op == "brightness":
        return F.adjust_brightness(img, p["factor"])
    if op == "contrast":
        return F.adjust_contrast(img, p["factor"])
    if op == "saturation":
        return F.adjust_saturation(img, p["factor"])
    if op == "hue":
        return F.adjust_hue(img, p["factor"])
    if op in ("val", "val_tensor"):
        t = T.Compose([T.Resize(p["resize"], antialias=True), T.CenterCrop(p["crop"])])
        out = t(img)
        if op == "val":
            return out
        return T.Normalize(p["mean"], p["std"])(T.ToTensor()(out)).numpy()
    if op == "train":
        out = F.resized_crop(img, p["top"], p["left"], p["height"], p["width"], p["size"], antialias=True)
        if p["flip"]:
            out = F.hflip(out)
        out = F.rotate(out, p["angle"], fill=0)
        fns = {0: lambda x: F.adjust_brightness(x, p["brightness"]),
               1: lambda x: F.adjust_contrast(x, p["contrast"]),
               2: lambda x: F.adjust_saturation(x, p["saturation"]),
               3: lambda x: F.adjust_hue(x, p["hue"])}
        for k in p["order"]:
            out = fns[k](out)
        return out
    raise ValueError(op)


def rrc_stats(seed):
    """Moments of RandomResizedCrop.get_params (torch's own RNG) for a few image shapes."""
    torch.manual_seed(seed)
    res = []
    n = 20000
    for w, h in ((2000, 1300), (1300, 2000), (224, 224), (1000, 100), (30, 400)):
        img = Image.new("RGB", (w, h))
        draws = np.array([T.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(n)],
                         dtype=np.float64)
        res.append({"width": w, "height": h, "n": n,
                    "mean": draws.mean(axis=0).tolist(), "std": draws.std(axis=0).tolist(),
                    "full_frac": float(np.mean((draws[:, 2] == h) & (draws[:, 3] == w)))})
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true", help="store every output in full")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    images, cases = [], []
    for name, fn, w, h in IMAGES:
        arr = fn(rng, w, h)
        Image.fromarray(arr, "RGB").save(os.path.join(args.out, f"img_{name}.png"), optimize=True)
        # Re-read so the input is exactly what the Go side decodes.
        img = Image.open(os.path.join(args.out, f"img_{name}.png")).convert("RGB")
        images.append({"name": name, "file": f"img_{name}.png", "width": w, "height": h})
        for op, p in functional_cases(w, h, rng):
            out = apply(op, p, img)
            if isinstance(out, np.ndarray):
                arr_out = np.ascontiguousarray(out, dtype=np.float32)
                sums = arr_out.reshape(arr_out.shape[0], -1).astype(np.float64).sum(axis=1).tolist()
            else:
                assert out.mode == "RGB"
                arr_out = np.ascontiguousarray(np.array(out, dtype=np.uint8))
                sums = arr_out.reshape(-1, 3).astype(np.int64).sum(axis=0).tolist()
            cid = len(cases)
            entry = {"id": cid, "image": name, "op": op, "params": p, "shape": list(arr_out.shape),
                     "dtype": str(arr_out.dtype), "sha256": hashlib.sha256(arr_out.tobytes()).hexdigest(),
                     "sums": sums, "file": None}
            if args.full or arr_out.nbytes <= FULL_LIMIT:
                entry["file"] = f"out_{cid:04d}.npy"
                np.save(os.path.join(args.out, entry["file"]), arr_out)
                del entry["sums"]  # only digest-only cases need the hint
            cases.append(entry)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"images": images, "cases": cases}, f, separators=(",", ":"))
    with open(os.path.join(args.out, "rrc_stats.json"), "w") as f:
        json.dump(rrc_stats(SEED + 1), f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "transforms_gen.py", "seeds": {"numpy": SEED, "torch": SEED, "rrc_stats": SEED + 1},
                   "full": args.full, "full_limit_bytes": FULL_LIMIT,
                   "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                                "Pillow": PIL.__version__, "numpy": np.__version__}}, f, indent=1)


if __name__ == "__main__":
    main()
