#!/usr/bin/env python3
"""Writes the region-decoding corpus: small colour JPEGs of every chroma subsampling the region
decoder handles (4:4:4, 4:2:2, 4:2:0, 4:4:0; baseline and progressive; odd sizes, so the last
MCU row and column are partial; restart markers), plus a 4:1:1 one it must leave to the full
decoder. The oracle of the tests that read them is our own full decode, not Python, so there
are no goldens: only the files.

Usage: region_gen.py --out DIR   (the committed copy is testdata/region)

Pillow writes what it can; 4:4:0 and 4:1:1, which Pillow cannot write, come from the system's
libjpeg-turbo TurboJPEG library (libturbojpeg.so.0, installed by setup-libtorch.sh) through
ctypes. The content is deterministic (numpy seed 0): smooth colour gradients with strong
chroma noise and hard colour edges, so that chroma upsampling differences cannot hide.
"""
import argparse
import ctypes
import ctypes.util
import importlib.metadata
import io
import json
import os

import numpy as np
import PIL
from PIL import Image, features

SEED = 0


def content(w, h, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / w * 7.1 + 0.3) * np.cos(y / h * 5.3)
    g = 128 + 90 * np.cos((x - y) / (w + h) * 11.0)
    b = 60 + 150 * (y / max(h - 1, 1))
    img = np.stack([r, g, b], axis=-1)
    img += rng.normal(0, 40, img.shape)  # strong noise: every chroma sample differs
    for k in range(6):  # hard-edged colour boxes across MCU boundaries
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        img[y0 : y0 + h // 5, x0 : x0 + w // 4] = rng.integers(0, 256, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pillow_jpeg(arr, **kw):
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "JPEG", **kw)
    return buf.getvalue()


TJSAMP = {"444": 0, "422": 1, "420": 2, "440": 4, "411": 5}
TJFLAG_PROGRESSIVE = 16384


def turbo_jpeg(arr, samp, quality, progressive=False):
    name = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
    tj = ctypes.CDLL(name)
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    tj.tjGetErrorStr2.restype = ctypes.c_char_p
    tj.tjGetErrorStr2.argtypes = [ctypes.c_void_p]
    h, w, _ = arr.shape
    handle = tj.tjInitCompress()
    out, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    flags = TJFLAG_PROGRESSIVE if progressive else 0
    src = np.ascontiguousarray(arr).tobytes()
    if tj.tjCompress2(handle, src, w, 3 * w, h, 0, ctypes.byref(out), ctypes.byref(size),  # TJPF_RGB
                      TJSAMP[samp], quality, flags) != 0:
        raise RuntimeError(tj.tjGetErrorStr2(handle).decode())
    data = ctypes.string_at(out, size.value)
    tj.tjFree(out)
    tj.tjDestroy(handle)
    return data


# name, size, writer, subsampling, keyword arguments
FILES = [
    ("b444_q90_131x97.jpg", (131, 97), "pillow", "4:4:4", {"quality": 90}),
    ("b422_q90_165x99.jpg", (165, 99), "pillow", "4:2:2", {"quality": 90}),
    ("b420_q90_197x139.jpg", (197, 139), "pillow", "4:2:0", {"quality": 90}),
    ("b420_wide_q80_517x45.jpg", (517, 45), "pillow", "4:2:0", {"quality": 80}),
    ("b420_restart_q85_149x111.jpg", (149, 111), "pillow", "4:2:0",
     {"quality": 85, "restart_marker_blocks": 5}),
    ("p444_q85_99x71.jpg", (99, 71), "pillow", "4:4:4", {"quality": 85, "progressive": True}),
    ("p422_q85_150x101.jpg", (150, 101), "pillow", "4:2:2", {"quality": 85, "progressive": True}),
    ("p420_q85_171x133.jpg", (171, 133), "pillow", "4:2:0", {"quality": 85, "progressive": True}),
    ("b440_q90_143x117.jpg", (143, 117), "turbo", "440", {"quality": 90}),
    ("p440_q85_97x131.jpg", (97, 131), "turbo", "440", {"quality": 85, "progressive": True}),
    ("b411_q90_150x61.jpg", (150, 61), "turbo", "411", {"quality": 90}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for name, (w, h), writer, samp, kw in FILES:
        arr = content(w, h, rng)
        if writer == "pillow":
            data = pillow_jpeg(arr, subsampling=samp, **kw)
        else:
            data = turbo_jpeg(arr, samp, kw["quality"], kw.get("progressive", False))
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    meta = {
        "generator": "region_gen.py",
        "seed": SEED,
        "Pillow": PIL.__version__,
        "numpy": np.__version__,
        "libjpeg_turbo_pillow": features.version("libjpeg_turbo"),
        "turbojpeg": ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0",
        "files": [f[0] for f in FILES],
        # not used here; recorded like every generator does (read from metadata, not imported)
        "torch": importlib.metadata.version("torch"),
        "torchvision": importlib.metadata.version("torchvision"),
        "scikit-learn": importlib.metadata.version("scikit-learn"),
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
