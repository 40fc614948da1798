#!/usr/bin/env python3
"""The Python references of vision/preprocess (OpenCV 4.11 from opencv-python-headless, NumPy),
run on the same decoded pixels (Pillow's Image.open(p).convert('RGB')).

Usage: preprocess_gen.py --out DIR [--photo retina.jpg [--other chelsea.png ...]]

Without --photo: small synthetic fundus pictures (numpy seed 0) are written as DIR/<name>.png
and used as inputs (the committed goldens). With --photo: the real photo (not committed; make
parity), darkened (×0.3) and blurred (σ = 2 px) versions of it, and --other pictures that are
not fundus photographs (quality only).

DIR/<name>.png                  the inputs made here (all but the photo and --other)
DIR/<name>.<chain>.npy          the chain's output, uint8 HxWx3 (chain: crop, graham,
                                clahe, crop+graham)
DIR/<name>.quality.json         field found and its box, mean brightness of the field, variance
                                of the Laplacian (sharpness), Graham's radius
DIR/manifest.json               inputs, chains, and which raise "no field"
DIR/meta.json                   versions
"""
import argparse
import importlib.metadata
import json
import os

import cv2
import numpy as np
from PIL import Image

THRESHOLD = 15        # crop: a pixel is bright when max(R, G) > THRESHOLD
MIN_AREA = 0.10       # crop: the largest bright region must cover 10% of the image
CLIP, TILES = 2.0, 8  # clahe: OpenCV's createCLAHE defaults as the issue names them

# sRGB D65 -> XYZ (OpenCV's cvtColor constants) and the white point.
M = np.array([[0.412453, 0.357580, 0.180423],
              [0.212671, 0.715160, 0.072169],
              [0.019334, 0.119193, 0.950227]])
WX, WZ = 0.950456, 1.088754


class NoField(Exception):
    pass


def field(img):
    """(x, y, w, h) of the largest bright region, or None: the region must cover MIN_AREA of the
    picture and leave the four corners of its box dark (a circle does; a photo of a scene
    does not)."""
    m = (np.maximum(img[..., 0], img[..., 1]) > THRESHOLD).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = (int(v) for v in stats[k])
    if area < MIN_AREA * img.shape[0] * img.shape[1]:
        return None
    c = max(1, min(w, h) // 10)
    sub = lab[y:y + h, x:x + w] == k
    for corner in (sub[:c, :c], sub[:c, -c:], sub[-c:, :c], sub[-c:, -c:]):
        if corner.mean() >= 0.5:
            return None
    return x, y, w, h


def crop(img):
    f = field(img)
    if f is None:
        raise NoField()
    x, y, w, h = f
    s = max(w, h)
    out = np.zeros((s, s, 3), np.uint8)
    oy, ox = (s - h) // 2, (s - w) // 2
    out[oy:oy + h, ox:ox + w] = img[y:y + h, x:x + w]
    return out


def radius(img):
    """Ben Graham's scaleRadius estimate: half the number of pixels of the middle row whose
    channel sum exceeds a tenth of the row's mean."""
    x = img[img.shape[0] // 2].astype(np.int64).sum(1)
    return (x > x.mean() / 10).sum() / 2


def graham(img):
    """Ben Graham's Kaggle DR 2015 preprocessing (competition report, "scaleRadius" script):
    4·I − 4·GaussianBlur(I, σ = r/30) + 128, then 128 outside 90% of the radius. Blurred in
    float32 (his script blurred uint8, whose rounding the ×4 would amplify to 4 levels)."""
    r = radius(img)
    if r < 1:
        raise NoField()
    f = img.astype(np.float32)
    blur = cv2.GaussianBlur(f, (0, 0), r / 30)  # BORDER_REFLECT_101, ksize = round(8σ+1)|1
    out = np.clip(np.rint(4 * f.astype(np.float64) - 4 * blur.astype(np.float64) + 128), 0, 255)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2 <= (0.9 * r) ** 2
    out[~inside] = 128
    return out.astype(np.uint8)


def clahe(img, clip=CLIP, tiles=TILES):
    """OpenCV's CLAHE on L of CIE Lab (L scaled to 0..255 as OpenCV's 8-bit Lab), a and b kept
    in float; the Lab conversions are NumPy's (CIE formulas, D65, OpenCV's constants)."""
    c = img.astype(np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ M.T
    X, Y, Z = xyz[..., 0] / WX, xyz[..., 1], xyz[..., 2] / WZ
    f = lambda t: np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    fx, fy, fz = f(X), f(Y), f(Z)
    L = np.where(Y > 0.008856, 116 * fy - 16, 903.3 * Y)
    a, b = 500 * (fx - fy), 200 * (fy - fz)
    L8 = np.clip(np.rint(L * 255 / 100), 0, 255).astype(np.uint8)
    L8 = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)).apply(L8)
    L = L8.astype(np.float64) * 100 / 255
    fy = (L + 16) / 116
    fx, fz = fy + a / 500, fy - b / 200
    finv = lambda t: np.where(t ** 3 > 0.008856, t ** 3, (t - 16 / 116) / 7.787)
    xyz = np.stack([finv(fx) * WX, finv(fy), finv(fz) * WZ], -1)
    lin = np.clip(xyz @ np.linalg.inv(M).T, 0, 1)
    c = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(c * 255), 0, 255).astype(np.uint8)


CHAINS = {"crop": [crop], "graham": [graham], "clahe": [clahe], "crop+graham": [crop, graham]}


def quality(img):
    """What `drgrade summary --quality` measures: the field, its mean brightness (mean of the
    grey value inside the field's box where the pixel is bright), and sharpness: the variance of
    cv2.Laplacian(gray, CV_64F) over the whole picture (gray: cv2.COLOR_RGB2GRAY)."""
    gray = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    q = {"laplacian_var": float(cv2.Laplacian(gray, cv2.CV_64F).var()), "radius": float(radius(img))}
    f = field(img)
    q["field"] = f is not None
    if f is not None:
        x, y, w, h = f
        m = np.maximum(img[y:y + h, x:x + w, 0], img[y:y + h, x:x + w, 1]) > THRESHOLD
        q["box"] = [x, y, w, h]
        q["brightness"] = float(gray[y:y + h, x:x + w][m].astype(np.float64).mean())
    return q


def synthetic():
    rng = np.random.default_rng(0)
    out = {}
    # An off-centre field cut at the top on a landscape frame, with an optic disc and vessels.
    h, w = 70, 96  # 70: not a multiple of the 8 CLAHE tiles, 96 is (OpenCV pads both then)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy, r = 52.3, 40.0, 38.0
    d = np.hypot(xx - cx, yy - cy) / r
    img = np.zeros((h, w, 3))
    shade = np.clip(1 - 0.5 * d ** 2, 0, 1)
    img[..., 0], img[..., 1], img[..., 2] = 190 * shade, 90 * shade, 35 * shade
    img[np.hypot(xx - cx - 15, yy - cy + 4) < 6] = [245, 215, 140]
    img[(np.abs(yy - cy - 0.4 * (xx - cx)) < 1.2) & (d < 0.9)] *= 0.55
    img += rng.normal(0, 3, img.shape)
    img[d >= 1] = rng.integers(0, 6, (int((d >= 1).sum()), 3))
    out["field"] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    # A scene without a dark border (no field).
    out["scene"] = np.clip(np.rint(np.stack([80 + 1.5 * xx, 60 + yy, 120 + 0 * xx], -1)
                                   + rng.normal(0, 8, (h, w, 3))), 0, 255).astype(np.uint8)
    # A dark, blurred field (the quality gate's dark and blurry cases).
    out["dark"] = (out["field"] * 0.25).astype(np.uint8)
    out["blurred"] = cv2.GaussianBlur(out["field"], (0, 0), 2.5)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--photo")
    ap.add_argument("--other", nargs="*", default=[])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rgb = lambda p: np.asarray(Image.open(p).convert("RGB"))
    if args.photo:
        ph = rgb(args.photo)
        made = {"retina_dark": (ph * 0.3).astype(np.uint8), "retina_blurred": cv2.GaussianBlur(ph, (0, 0), 2)}
        inputs = {"retina": ph, **made}
        inputs.update({os.path.splitext(os.path.basename(o))[0]: rgb(o) for o in args.other})
    else:
        made = inputs = synthetic()
    for name, img in made.items():
        Image.fromarray(img).save(os.path.join(args.out, name + ".png"))
    man = {"inputs": sorted(inputs), "chains": sorted(CHAINS), "no_field": []}
    for name, img in inputs.items():
        with open(os.path.join(args.out, name + ".quality.json"), "w") as f:
            json.dump(quality(img), f, indent=1)
        for cname, steps in CHAINS.items():
            if name not in ("field", "scene", "retina"):  # quality only
                continue
            out = img
            try:
                for s in steps:
                    out = s(out)
            except NoField:
                man["no_field"].append(name + "." + cname)
                continue
            np.save(os.path.join(args.out, f"{name}.{cname}.npy"), out)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"opencv": cv2.__version__, "numpy": importlib.metadata.version("numpy"),
                   "pillow": importlib.metadata.version("Pillow"), "seed": 0}, f, indent=1)


if __name__ == "__main__":
    main()
