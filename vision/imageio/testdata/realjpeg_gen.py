#!/usr/bin/env python3
"""What Pillow makes of the real fundus photo (skimage/data/retina.jpg, fetched by
scripts/retina.sh, never committed) and, with --shapes, of the JPEG shapes a fundus camera
writes, made here with Pillow from that photo.

Usage: realjpeg_gen.py --out DIR --photo retina.jpg [--shapes]

DIR/manifest.json   per file: name, size, SHA-256 and per-channel sums of Pillow's
                    Image.open(p).convert('RGB') (what dataload_DR_grading.py does), and, for
                    the shapes, what makes the file that shape (EXIF orientation, restart
                    markers, subsampling, progressive)
DIR/meta.json       Pillow and numpy versions
with --shapes (not committed: 40 MB):
DIR/<name>.jpg      the shape
DIR/<name>.rgb      Pillow's RGB decode, raw bytes, H*W*3

The shapes: exif_orientation6 (EXIF Orientation = 6, "rotate 90° CW to display": Pillow's
convert('RGB') ignores the tag and so must drgrade), restart_blocks4 and restart_rows1 (DRI
restart markers every 4 MCUs / every MCU row), subsampling 4:2:2 and 4:4:4 (Pillow's default
is 4:2:0), progressive, and a 12-megapixel 4000×3000 frame (the photo resized to 3000 px on a
black 4:3 frame, as a camera writes a circular field; quality 92).
"""
import argparse
import hashlib
import importlib.metadata
import json
import os

import numpy as np
import PIL
from PIL import Image


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def record(path, name, extra):
    a = pil_rgb(path)
    h, w, _ = a.shape
    e = {"file": name, "width": w, "height": h,
         "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
         "channel_sums": [int(s) for s in a.reshape(-1, 3).astype(np.int64).sum(axis=0)]}
    e.update(extra)
    return e, a


def shapes(photo):
    """(name, how it is saved, the image to save, Pillow save options)."""
    src = Image.open(photo).convert("RGB")
    # Not square, so an orientation that was applied would change the size.
    wide = src.crop((0, 205, 1411, 1205))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° CW to display
    big = Image.new("RGB", (4000, 3000))
    big.paste(src.resize((3000, 3000), Image.Resampling.LANCZOS), (500, 0))
    return [
        ("exif_orientation6", {"exif_orientation": 6}, wide, {"exif": exif.tobytes(), "quality": 90}),
        ("restart_blocks4", {"restart_marker_blocks": 4}, src, {"restart_marker_blocks": 4, "quality": 90}),
        ("restart_rows1", {"restart_marker_rows": 1}, src, {"restart_marker_rows": 1, "quality": 90}),
        ("subsampling422", {"subsampling": "4:2:2"}, src, {"subsampling": 1, "quality": 90}),
        ("subsampling444", {"subsampling": "4:4:4"}, src, {"subsampling": 0, "quality": 95}),
        ("progressive", {"progressive": True}, src, {"progressive": True, "quality": 90}),
        ("camera12mp", {"megapixels": 12}, big, {"quality": 92}),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--photo", required=True)
    ap.add_argument("--shapes", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    e, _ = record(args.photo, "retina.jpg", {})
    man = {"photo": e, "shapes": []}
    if args.shapes:
        for name, what, im, opts in shapes(args.photo):
            path = os.path.join(args.out, name + ".jpg")
            im.save(path, "JPEG", **opts)
            data = open(path, "rb").read()
            what["restart_markers"] = sum(data.count(bytes([0xFF, 0xD0 + i])) for i in range(8))
            e, a = record(path, name + ".jpg", what)
            with open(os.path.join(args.out, name + ".rgb"), "wb") as f:
                f.write(a.tobytes())
            man["shapes"].append(e)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"pillow": PIL.__version__, "numpy": importlib.metadata.version("numpy")}, f, indent=1)


if __name__ == "__main__":
    main()
