#!/usr/bin/env python3
"""Writes the imageio parity corpus: small images of many formats and modes, plus what Pillow
makes of each with `Image.open(p)` and, when the mode is not RGB, `.convert('RGB')` (exactly
what dataload_DR_grading.py does).

Usage: images_gen.py --out DIR [--full]

DIR/images/<name>          the image files (content-deterministic; numpy seed 0)
DIR/pil/<name>.npy         Pillow's RGB decode, uint8 HxWx3 (small images only)
DIR/pil/<name>.cropN.npy   crops of Pillow's decode for large images (with --full: whole image)
DIR/bad/<name>             broken files (zero bytes, text named .jpg, truncated, corrupt, ...)
DIR/manifest.json          per image: file, format, Pillow's mode, size, lossless, sha256 of the
                           full RGB decode, per-channel sums, golden arrays and their offsets;
                           per bad file: whether Pillow raised and its message
DIR/meta.json              versions (Pillow, libjpeg-turbo, libwebp, zlib, numpy) and seed
"""
import argparse
import hashlib
import importlib.metadata
import io
import json
import os
import re
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, features

SEED = 0
# Images with more pixels than this keep crops, not a full golden, so the goldens stay small.
FULL_GOLDEN_MAX_PIXELS = 70_000


# --------------------------------------------------------------------------------------------
# content


def smooth_rgb(w, h, rng, noise=6.0):
    """Smooth colour gradients plus mild noise and a few hard edges (so JPEG has both)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / max(w, 1) * 3.1 + 0.3) * np.cos(y / max(h, 1) * 2.3)
    g = 128 + 90 * np.cos((x + y) / max(w + h, 1) * 5.0)
    b = 60 + 150 * (y / max(h - 1, 1))
    img = np.stack([r, g, b], axis=-1)
    img += rng.normal(0, noise, img.shape)
    # hard-edged rectangle and a diagonal line
    img[h // 4 : h // 2, w // 5 : w // 3] = [250, 20, 30]
    for i in range(min(w, h)):
        img[i, i] = [0, 0, 0]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def fundus(w, h, rng):
    """A fundus-like picture: an orange disc on black with a bright optic disc and dark vessels."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy, rad = w / 2, h / 2, 0.47 * min(w, h) * 1.0
    d = np.hypot(x - cx, y - cy) / rad
    inside = d < 1.0
    shade = np.clip(1.0 - 0.45 * d**2, 0, 1)
    img = np.zeros((h, w, 3))
    img[..., 0] = 200 * shade
    img[..., 1] = 95 * shade
    img[..., 2] = 40 * shade
    od = np.hypot(x - (cx + 0.45 * rad), y - cy) < 0.13 * rad
    img[od] = [250, 220, 150]
    for k in range(6):
        ang = k * np.pi / 3 + 0.2
        t = np.linspace(0, 1.0, 4000)
        px = cx + 0.45 * rad + np.cos(ang) * t * rad * 1.1 + 40 * np.sin(t * 7 + k)
        py = cy + np.sin(ang) * t * rad * 1.1
        ix, iy = px.astype(int), py.astype(int)
        ok = (ix >= 2) & (iy >= 2) & (ix < w - 2) & (iy < h - 2)
        for dx in (-2, -1, 0, 1, 2):
            for dy in (-2, -1, 0, 1, 2):
                img[iy[ok] + dy, ix[ok] + dx] *= 0.6
    img += rng.normal(0, 2.0, img.shape)
    img[~inside] = 0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# hand-written encoders for what Pillow cannot save (16-bit colour PNG, 2/4-bit grey PNG,
# associated-alpha and 16-bit RGB TIFF)


def png_bytes(raw_rows, w, h, bit_depth, color_type, extra_chunks=()):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    data = b"".join(b"\x00" + r for r in raw_rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for tag, payload in extra_chunks:
        out += chunk(tag, payload)
    return out + chunk(b"IDAT", zlib.compress(data, 9)) + chunk(b"IEND", b"")


def png16(arr, color_type, trns=None):
    """arr: HxW or HxWxC uint16; big-endian samples as PNG wants."""
    h, w = arr.shape[:2]
    rows = [arr[i].astype(">u2").tobytes() for i in range(h)]
    extra = [(b"tRNS", trns)] if trns is not None else []
    return png_bytes(rows, w, h, 16, color_type, extra)


def png_lowbit_gray(vals, bits):
    """vals: HxW ints in [0, 2**bits)."""
    h, w = vals.shape
    per = 8 // bits
    rows = []
    for i in range(h):
        row = bytearray((w + per - 1) // per)
        for j in range(w):
            row[j // per] |= int(vals[i, j]) << (8 - bits * (j % per + 1))
        rows.append(bytes(row))
    return png_bytes(rows, w, h, bits, 0)


def tiff_bytes(arr, bits, photometric, extra_samples=None):
    """Uncompressed little-endian single-strip TIFF. arr: HxWxC (uint8 or uint16)."""
    h, w, c = arr.shape
    data = arr.astype("<u2" if bits == 16 else np.uint8).tobytes()
    entries = [
        (256, 4, 1, w),  # ImageWidth
        (257, 4, 1, h),  # ImageLength
        (258, 3, c, None),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, photometric),
        (273, 4, 1, None),  # StripOffsets
        (277, 3, 1, c),  # SamplesPerPixel
        (278, 4, 1, h),  # RowsPerStrip
        (279, 4, 1, len(data)),  # StripByteCounts
        (284, 3, 1, 1),  # PlanarConfiguration: chunky
    ]
    if extra_samples is not None:
        entries.append((338, 3, 1, extra_samples))
    n = len(entries)
    ifd_off = 8
    bps_off = ifd_off + 2 + 12 * n + 4
    data_off = bps_off + 2 * c
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_off))
    out += struct.pack("<H", n)
    for tag, typ, count, val in entries:
        if tag == 258:
            val = bps_off if c > 2 else (bits | (bits << 16) if c == 2 else bits)
        if tag == 273:
            val = data_off
        if typ == 3 and count == 1:
            out += struct.pack("<HHIHH", tag, typ, count, val, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, val)
    out += struct.pack("<I", 0)
    out += struct.pack("<" + "H" * c, *([bits] * c))
    assert len(out) == data_off
    return bytes(out + data)


def as_rgb_ids(jpeg):
    """Drops JFIF APP0 and renames the components 1,2,3 to 'R','G','B' in SOF0 and SOS, so
    libjpeg reads the (subsampled) planes as RGB: the only way to get a subsampled RGB JPEG
    out of Pillow, which refuses keep_rgb with subsampling."""
    ren = {1: 82, 2: 71, 3: 66}
    i = 2
    out = bytearray(jpeg[:2])
    while i < len(jpeg):
        marker = jpeg[i + 1]
        n = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        seg = bytearray(jpeg[i : i + 2 + n])
        if marker == 0xC0:
            for k in range(seg[9]):
                seg[10 + 3 * k] = ren[seg[10 + 3 * k]]
        if marker == 0xDA:
            for k in range(seg[4]):
                seg[5 + 2 * k] = ren[seg[5 + 2 * k]]
            out += seg + jpeg[i + 2 + n :]
            break
        if marker != 0xE0:
            out += seg
        i += 2 + n
    return bytes(out)


def strip_app14(jpeg):
    """Removes the Adobe APP14 segment (a 4-component JPEG without it is plain CMYK to libjpeg)."""
    i = 2
    out = bytearray(jpeg[:2])
    while i < len(jpeg):
        marker = jpeg[i + 1]
        if marker == 0xDA:
            out += jpeg[i:]
            break
        n = struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        if marker != 0xEE:
            out += jpeg[i : i + 2 + n]
        i += 2 + n
    return bytes(out)


# --------------------------------------------------------------------------------------------


def build_images(rng):
    """Returns [(name, bytes)] in a fixed order."""
    out = []

    def pil(name, im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out.append((name, buf.getvalue()))

    rgb = lambda w, h: Image.fromarray(smooth_rgb(w, h, rng))  # noqa: E731

    # --- JPEG
    pil("fundus_2000x1300_q75.jpg", Image.fromarray(fundus(2000, 1300, rng)), "JPEG", quality=75)
    pil("jpeg444_q90_160x120.jpg", rgb(160, 120), "JPEG", quality=90, subsampling=0)
    pil("jpeg420_q90_161x121.jpg", rgb(161, 121), "JPEG", quality=90, subsampling=2)
    pil("jpeg422_q85_150x99.jpg", rgb(150, 99), "JPEG", quality=85, subsampling=1)
    pil("jpeg420_q95_3x5.jpg", rgb(3, 5), "JPEG", quality=95, subsampling=2)
    pil("jpeg420_q95_6x6.jpg", rgb(6, 6), "JPEG", quality=95, subsampling=2)
    pil("progressive420_q80_203x157.jpg", rgb(203, 157), "JPEG", quality=80, progressive=True)
    pil(
        "progressive444_q80_120x90.jpg",
        rgb(120, 90),
        "JPEG",
        quality=80,
        progressive=True,
        subsampling=0,
    )
    pil("portrait420_q75_300x500.jpg", Image.fromarray(fundus(300, 500, rng)), "JPEG", quality=75)
    pil("tiny420_q75_37x23.jpg", rgb(37, 23), "JPEG", quality=75)
    pil("gray_q85_130x70.jpg", rgb(130, 70).convert("L"), "JPEG", quality=85)
    cmyk = rgb(90, 60).convert("CMYK")
    # give K some content too (Pillow's RGB->CMYK leaves K at 0)
    ca = np.asarray(cmyk).copy()
    ca[..., 3] = np.linspace(0, 200, 90).astype(np.uint8)[None, :]
    cmyk = Image.fromarray(ca, "CMYK")
    pil("cmyk_adobe_q90_90x60.jpg", cmyk, "JPEG", quality=90)
    out.append(("cmyk_noadobe_q90_90x60.jpg", strip_app14(out[-1][1])))
    # RGB stored without YCbCr conversion (Adobe transform 0), full and subsampled
    pil("keep_rgb444_q90_64x48.jpg", rgb(64, 48), "JPEG", quality=90, keep_rgb=True, subsampling=0)
    pil("ycc420_q90_65x47.jpg", rgb(65, 47), "JPEG", quality=90, subsampling=2)
    out[-1] = ("rgb_ids420_65x47.jpg", as_rgb_ids(out[-1][1]))
    pil("restart_optimized_q85_100x70.jpg", rgb(100, 70), "JPEG", quality=85, optimize=True, restart_marker_rows=1)
    # EXIF orientation 6: Image.open does not rotate (the data set never calls exif_transpose)
    exif = Image.Exif()
    exif[0x0112] = 6
    pil("exif_orientation6_q85_80x60.jpg", rgb(80, 60), "JPEG", quality=85, exif=exif)
    # a PNG whose name says JPEG: the format comes from the content
    png_named_jpg = io.BytesIO()
    rgb(40, 30).save(png_named_jpg, "PNG")
    out.append(("png_named.jpg", png_named_jpg.getvalue()))

    # --- PNG
    pil("rgb_97x61.png", rgb(97, 61), "PNG")
    pil("gray_80x50.png", rgb(80, 50).convert("L"), "PNG")
    pil("bilevel_70x45.png", rgb(70, 45).convert("1"), "PNG")
    g4 = rng.randint(0, 16, (21, 33))
    out.append(("gray4bit_33x21.png", png_lowbit_gray(g4, 4)))
    g2 = rng.randint(0, 4, (13, 19))
    out.append(("gray2bit_19x13.png", png_lowbit_gray(g2, 2)))
    pal = rgb(64, 40).convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
    pil("palette_64x40.png", pal, "PNG")
    palt = pal.copy()
    palt.info["transparency"] = 5
    pil("palette_trns_64x40.png", palt, "PNG", transparency=5)
    pal16 = rgb(50, 30).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pil("palette4bit_50x30.png", pal16, "PNG", bits=4)
    rgba = np.dstack([smooth_rgb(60, 44, rng), rng.randint(0, 256, (44, 60)).astype(np.uint8)])
    rgba[:5, :5, 3] = 0  # fully transparent corner: RGB must survive (alpha is dropped, not composited)
    pil("rgba_60x44.png", Image.fromarray(rgba, "RGBA"), "PNG")
    la = np.dstack([smooth_rgb(45, 31, rng)[..., 1], rng.randint(0, 256, (31, 45)).astype(np.uint8)])
    pil("la_45x31.png", Image.fromarray(la, "LA"), "PNG")
    pil("gray_trns_40x20.png", rgb(40, 20).convert("L"), "PNG", transparency=17)
    pil("rgb_trns_40x20.png", rgb(40, 20), "PNG", transparency=(250, 20, 30))
    g16 = np.concatenate(
        [
            np.arange(0, 300, dtype=np.uint16).reshape(6, 50),  # the low range, where values survive
            rng.randint(0, 65536, (10, 50)).astype(np.uint16),
        ]
    )
    out.append(("gray16_50x16.png", png16(g16, 0)))
    out.append(("gray16_trns_50x16.png", png16(g16, 0, trns=struct.pack(">H", 7))))
    rgb16 = rng.randint(0, 65536, (17, 23, 3)).astype(np.uint16)
    rgb16[0, :3] = [[0, 255, 256], [257, 32767, 32768], [65280, 65279, 65535]]
    out.append(("rgb16_23x17.png", png16(rgb16, 2)))
    rgba16 = rng.randint(0, 65536, (11, 29, 4)).astype(np.uint16)
    out.append(("rgba16_29x11.png", png16(rgba16, 6)))
    la16 = rng.randint(0, 65536, (9, 14, 2)).astype(np.uint16)
    out.append(("la16_14x9.png", png16(la16, 4)))
    il = io.BytesIO()
    rgb(64, 48).save(il, "PNG")
    # Pillow cannot write Adam7; re-encode the same pixels interlaced by hand
    out.append(("rgb_adam7_64x48.png", adam7_png(np.asarray(Image.open(il).convert("RGB")))))

    # --- BMP
    pil("rgb24_77x51.bmp", rgb(77, 51), "BMP")
    pil("palette8_40x30.bmp", rgb(40, 30).convert("P", palette=Image.Palette.ADAPTIVE), "BMP")
    pil("bilevel_33x17.bmp", rgb(33, 17).convert("1"), "BMP")
    pil("gray_35x20.bmp", rgb(35, 20).convert("L"), "BMP")
    pil("rgba32_31x19.bmp", Image.fromarray(rgba[:19, :31], "RGBA"), "BMP")

    # --- TIFF
    pil("rgb_raw_64x40.tif", rgb(64, 40), "TIFF")
    pil("rgb_lzw_64x40.tiff", rgb(64, 40), "TIFF", compression="tiff_lzw")
    pil("rgb_deflate_48x32.tif", rgb(48, 32), "TIFF", compression="tiff_adobe_deflate")
    pil("gray_packbits_50x30.tif", rgb(50, 30).convert("L"), "TIFF", compression="packbits")
    pil("bilevel_41x23.tif", rgb(41, 23).convert("1"), "TIFF")
    pil("palette_40x30.tif", rgb(40, 30).convert("P", palette=Image.Palette.ADAPTIVE), "TIFF")
    pil("rgba_unassoc_30x20.tif", Image.fromarray(rgba[:20, :30], "RGBA"), "TIFF")
    assoc = rgba[:20, :30].astype(np.uint32)
    prem = assoc.copy()
    prem[..., :3] = (assoc[..., :3] * assoc[..., 3:4] + 127) // 255  # a valid premultiplied image
    out.append(("rgba_assoc_30x20.tif", tiff_bytes(prem.astype(np.uint8), 8, 2, extra_samples=1)))
    out.append(("gray16_50x16.tif", tiff_bytes(g16[..., None], 16, 1)))
    out.append(("rgb16_23x17.tif", tiff_bytes(rgb16, 16, 2)))

    # --- WebP
    pil("lossless_rgb_70x50.webp", rgb(70, 50), "WEBP", lossless=True)
    pil("lossless_rgba_60x44.webp", Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True, exact=True)
    pil("lossy_q80_121x81.webp", rgb(121, 81), "WEBP", quality=80)
    pil("lossy_rgba_q80_60x44.webp", Image.fromarray(rgba, "RGBA"), "WEBP", quality=80)
    pil("lossy_fundus_q75_400x260.webp", Image.fromarray(fundus(400, 260, rng)), "WEBP", quality=75)
    return out


def adam7_png(a):
    """8-bit RGB, Adam7-interlaced, filter 0 on every row."""
    h, w, _ = a.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    data = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            data += b"\x00" + row.tobytes()

    def chunk(tag, d):
        return struct.pack(">I", len(d)) + tag + d + struct.pack(">I", zlib.crc32(tag + d))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(data, 9))
        + chunk(b"IEND", b"")
    )


def build_bad(images):
    by = dict(images)
    jpg = by["jpeg420_q90_161x121.jpg"]
    png = by["rgb_97x61.png"]
    bad = [
        ("zero_bytes.jpg", b""),
        ("text_named.jpg", b"this is not an image, just a text file\n"),
        ("unknown_format.img", b"\x00\x01\x02\x03" * 64),
        ("gif_unsupported.gif", b"GIF89a" + b"\x00" * 40),
        ("truncated_half.jpg", jpg[: len(jpg) // 2]),
        ("truncated_header.jpg", jpg[:300]),
        ("truncated_no_eoi.jpg", jpg[:-2]),
        ("truncated_half.png", png[: len(png) // 2]),
        ("truncated_no_iend.png", png[:-12]),
        ("truncated.webp", by["lossy_q80_121x81.webp"][:200]),
        ("truncated.bmp", by["rgb24_77x51.bmp"][:3000]),
        ("truncated.tif", by["rgb_raw_64x40.tif"][:1000]),
        ("corrupt_sof.jpg", corrupt_sof(jpg)),
        ("corrupt_entropy.jpg", corrupt_entropy(jpg)),
        ("corrupt_png_crc.png", png[:40] + bytes([png[40] ^ 0xFF]) + png[41:]),
        ("header_only.png", png[:33]),
    ]
    return bad


def corrupt_sof(jpg):
    """Sets the component count in SOF0 to 0: libjpeg rejects the frame header."""
    i = jpg.index(b"\xff\xc0")
    b = bytearray(jpg)
    b[i + 9] = 0
    return bytes(b)


def corrupt_entropy(jpg):
    """Overwrites 64 bytes in the middle of the entropy-coded data with 0xFF 0xD9 pairs (EOI
    markers inside the scan): libjpeg warns and pads the rest with zeros."""
    sos = jpg.index(b"\xff\xda")
    mid = sos + (len(jpg) - sos) // 2
    b = bytearray(jpg)
    b[mid : mid + 64] = b"\xff\xd9" * 32
    return bytes(b)


def pil_rgb(data):
    im = Image.open(io.BytesIO(data))
    mode, fmt = im.mode, im.format
    if im.mode != "RGB":
        im = im.convert("RGB")
    return mode, fmt, np.asarray(im, dtype=np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true", help="write full goldens for large images too")
    args = ap.parse_args()
    rng = np.random.RandomState(SEED)
    out = args.out
    for sub in ("images", "pil", "bad"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    images = build_images(rng)
    manifest = {"images": [], "bad": []}
    for name, data in images:
        with open(os.path.join(out, "images", name), "wb") as f:
            f.write(data)
        mode, fmt, a = pil_rgb(data)
        h, w, _ = a.shape
        entry = {
            "file": name,
            "format": fmt,
            "pil_mode": mode,
            "width": w,
            "height": h,
            "lossless": fmt not in ("JPEG",) and not (fmt == "WEBP" and "lossy" in name),
            "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
            "channel_sums": [int(a[..., c].sum()) for c in range(3)],
            "goldens": [],
        }
        if w * h <= FULL_GOLDEN_MAX_PIXELS or args.full:
            regions = [(0, 0, w, h)]
        else:
            # corners (edge handling of upsampling), centre, and a vessel/optic-disc region
            cw, ch = 64, 64
            regions = [
                (0, 0, cw, ch),
                (w - cw, h - ch, cw, ch),
                (w // 2 - cw // 2, h // 2 - ch // 2, cw, ch),
                (int(w * 0.7) - cw // 2, h // 2 - ch // 2, cw, ch),
            ]
        for k, (x, y, cw, ch) in enumerate(regions):
            gname = f"{name}.npy" if (cw, ch) == (w, h) else f"{name}.crop{k}.npy"
            np.save(os.path.join(out, "pil", gname), np.ascontiguousarray(a[y : y + ch, x : x + cw]))
            entry["goldens"].append({"file": gname, "x": x, "y": y, "w": cw, "h": ch})
        manifest["images"].append(entry)
    for name, data in build_bad(images):
        with open(os.path.join(out, "bad", name), "wb") as f:
            f.write(data)
        try:
            pil_rgb(data)
            err = ""
        except Exception as e:  # noqa: BLE001 - we record whatever Pillow raises
            err = re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")
        manifest["bad"].append({"file": name, "pil_error": err})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    meta = {
        "generator": "vision/imageio/testdata/images_gen.py",
        "seed": SEED,
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "libwebp": features.version("webp"),
        "zlib": features.version("zlib"),
        "libtiff": features.version("libtiff"),
        "numpy": np.__version__,
        # not used here; recorded like every generator does (read from metadata, not imported)
        "torch": importlib.metadata.version("torch"),
        "torchvision": importlib.metadata.version("torchvision"),
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
