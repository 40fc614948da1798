#!/usr/bin/env python3
"""Golden generator for vision/transforms/autoaugment.go and erasing.go: torchvision 0.16's
automatic-augmentation ops (torchvision.transforms.autoaugment._apply_op, the function
TrivialAugmentWide and RandAugment call) on a PIL image, each with fixed parameters; the two
policies' magnitude tables; and F.erase on a normalised tensor.

Writes into --out:
  input.npy      the input, HWC uint8 (23x19, smooth colours plus noise, so every op changes it)
  outputs.npy    every case's output, [N, H, W, 3] uint8
  cases.json     the cases (op, magnitude) in outputs.npy's order
  spaces.json    TrivialAugmentWide(31) and RandAugment(31) magnitude tables for the input size
  erase.npy      F.erase(normalize(to_tensor(input)), 3, 5, 7, 9, 0) as CHW float32
  meta.json      versions
"""
import argparse
import json
import os

import numpy as np
import PIL
from PIL import Image
import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import RandAugment, TrivialAugmentWide, _apply_op

H, W = 19, 23

# (op, magnitude): both signs of the signed ops, magnitudes from the policies' tables and in
# between (TranslateX's 7.9 truncates to 7), and every unsigned op.
CASES = [
    ("Identity", 0.0),
    ("ShearX", 0.33), ("ShearX", -0.99), ("ShearX", 0.0297),
    ("ShearY", 0.3), ("ShearY", -0.5115),
    ("TranslateX", 7.9), ("TranslateX", -32.0), ("TranslateX", 4.0),
    ("TranslateY", 3.2), ("TranslateY", -9.0),
    ("Rotate", 17.5), ("Rotate", -135.0), ("Rotate", 90.0),
    ("Brightness", 0.33), ("Brightness", -0.99),
    ("Color", 0.9), ("Color", -0.66),
    ("Contrast", 0.5), ("Contrast", -0.99),
    ("Sharpness", 0.99), ("Sharpness", -0.99), ("Sharpness", 0.27),
    ("Posterize", 2.0), ("Posterize", 5.0), ("Posterize", 8.0),
    ("Solarize", 160.5), ("Solarize", 127.5), ("Solarize", 0.0), ("Solarize", 255.0),
    ("AutoContrast", 0.0),
    ("Equalize", 0.0),
]


def make_input():
    rng = np.random.default_rng(20261206)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    base = np.stack([
        90 + 60 * np.cos(xx / 5.0) + 30 * np.sin(yy / 3.0),
        120 + 50 * np.sin((xx + yy) / 6.0),
        70 + 40 * np.cos(yy / 4.0) + 20 * np.cos(xx / 2.0),
    ], axis=-1)
    img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).round().astype(np.uint8)
    return img


def space_table(space):
    out = {}
    for name, (mags, signed) in space.items():
        vals = [float(v) for v in mags.reshape(-1).tolist()] if mags.ndim > 0 else None
        out[name] = {"magnitudes": vals, "signed": bool(signed)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    arr = make_input()
    np.save(os.path.join(args.out, "input.npy"), arr)
    pil = Image.fromarray(arr, "RGB")
    outs = []
    for op, mag in CASES:
        o = _apply_op(pil, op, mag, interpolation=InterpolationMode.NEAREST, fill=None)
        outs.append(np.asarray(o.convert("RGB"), dtype=np.uint8))
    np.save(os.path.join(args.out, "outputs.npy"), np.stack(outs))
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump([{"op": op, "magnitude": mag} for op, mag in CASES], f, indent=1)

    spaces = {
        "trivialaugment": space_table(TrivialAugmentWide()._augmentation_space(31)),
        "randaugment": space_table(RandAugment()._augmentation_space(31, (H, W))),
        "order": list(TrivialAugmentWide()._augmentation_space(31).keys()),
    }
    with open(os.path.join(args.out, "spaces.json"), "w") as f:
        json.dump(spaces, f)

    t = F.normalize(F.to_tensor(pil), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    e = F.erase(t, 3, 5, 7, 9, torch.tensor(0.0))
    np.save(os.path.join(args.out, "erase.npy"), e.numpy().astype(np.float32))

    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
                   "pillow": PIL.__version__, "numpy": np.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
