#!/usr/bin/env python3
"""Writes the DICOM corpus and its goldens: tiny fundus-like pictures (24x16) saved with pydicom
in every transfer syntax and photometric interpretation drgrade reads, and the pixels pydicom
gives for each (`pixel_array`, then Pillow's RGB conversion: Image.fromarray(a, 'YCbCr') for
YBR_FULL and YBR_FULL_422, Image.fromarray(a) for RGB and MONOCHROME2, .convert('RGB')).
Plus files in transfer syntaxes drgrade refuses (JPEG 2000, JPEG lossless, RLE, deflate).

Every file carries a patient name and ID, which the Go tests check never reach any output.

Usage: dicom_gen.py --out DIR   (the committed copy is testdata/dicom)
"""
import argparse
import importlib.metadata
import io
import json
import os

import numpy as np
import PIL
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEGBaseline8Bit)

W, H = 24, 16
PATIENT_NAME = "Doe^Jane^Secretname"
PATIENT_ID = "PID-31415926"
OPHTHALMIC_PHOTO_8BIT = "1.2.840.10008.5.1.4.1.1.77.1.5.1"


def picture():
    rng = np.random.RandomState(0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 170 + 60 * np.sin(x / W * 5.0) * np.cos(y / H * 3.0)
    g = 90 + 50 * np.cos((x + y) / (W + H) * 9.0)
    b = 40 + 30 * (y / (H - 1))
    img = np.stack([r, g, b], -1) + rng.normal(0, 25, (H, W, 3))
    img[4:9, 10:16] = (250, 240, 30)  # a hard-edged bright patch
    img[0:3, 0:4] = (0, 0, 0)         # dark border corner
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def base(n, ts, photometric, samples, bits=8):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = OPHTHALMIC_PHOTO_8BIT
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.20.{n}"
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.20"
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    ds.SOPClassUID = OPHTHALMIC_PHOTO_8BIT
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19500101"
    ds.Modality = "OP"
    ds.Rows, ds.Columns = H, W
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits
    ds.BitsStored = 12 if bits == 16 else 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    return ds


def rgb_to_ycc(img):
    return np.asarray(Image.fromarray(img).convert("YCbCr"))


def jpeg(img, subsampling, keep_rgb=False):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=92, subsampling=subsampling, keep_rgb=keep_rgb)
    return buf.getvalue()


def encapsulated(ds, data):
    ds.PixelData = encapsulate([data])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    img = picture()
    gray = np.asarray(Image.fromarray(img).convert("L"))
    ycc = rgb_to_ycc(img)
    files = {}

    ds = base(1, ExplicitVRLittleEndian, "RGB", 3)
    ds.PixelData = img.tobytes()
    files["native_rgb_explicit_le.dcm"] = ds

    ds = base(2, ImplicitVRLittleEndian, "RGB", 3)
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(img.transpose(2, 0, 1)).tobytes()
    files["native_rgb_planar_implicit_le.dcm"] = ds

    ds = base(3, ExplicitVRBigEndian, "RGB", 3)
    ds.PixelData = img.tobytes()
    files["native_rgb_explicit_be.dcm"] = ds

    ds = base(4, ExplicitVRLittleEndian, "MONOCHROME2", 1)
    ds.PixelData = gray.tobytes()
    files["native_mono2.dcm"] = ds

    g16 = (gray.astype(np.uint16) * 3 + 7) % 4096  # 12-bit values, many above 255 (Pillow clips them)
    ds = base(5, ExplicitVRLittleEndian, "MONOCHROME2", 1, bits=16)
    ds.PixelData = g16.astype("<u2").tobytes()
    files["native_mono2_16bit.dcm"] = ds

    ds = base(6, ExplicitVRBigEndian, "MONOCHROME2", 1, bits=16)
    ds.PixelData = g16.astype(">u2").tobytes()
    files["native_mono2_16bit_be.dcm"] = ds

    ds = base(7, ExplicitVRLittleEndian, "YBR_FULL", 3)
    ds.PixelData = ycc.tobytes()
    files["native_ybr_full.dcm"] = ds

    # YBR_FULL_422 uncompressed: Y1 Y2 Cb Cr for each pair of pixels (Cb, Cr of the first).
    pairs = ycc.reshape(H, W // 2, 2, 3)
    packed = np.stack([pairs[:, :, 0, 0], pairs[:, :, 1, 0], pairs[:, :, 0, 1], pairs[:, :, 0, 2]], -1)
    ds = base(8, ExplicitVRLittleEndian, "YBR_FULL_422", 3)
    ds.PixelData = packed.tobytes()
    files["native_ybr_full_422.dcm"] = ds

    ds = base(9, JPEGBaseline8Bit, "YBR_FULL_422", 3)
    encapsulated(ds, jpeg(img, 1))
    files["jpeg_ybr_full_422.dcm"] = ds

    ds = base(10, JPEGBaseline8Bit, "YBR_FULL", 3)
    encapsulated(ds, jpeg(img, 0))
    files["jpeg_ybr_full.dcm"] = ds

    ds = base(11, JPEGBaseline8Bit, "YBR_FULL_422", 3)
    encapsulated(ds, jpeg(img, 2))  # 4:2:0 data under the usual label
    files["jpeg_ybr_full_422_420.dcm"] = ds

    ds = base(12, JPEGBaseline8Bit, "RGB", 3)
    encapsulated(ds, jpeg(img, 0, keep_rgb=True))  # Adobe APP14, transform 0
    files["jpeg_rgb_adobe.dcm"] = ds

    ds = base(13, JPEGBaseline8Bit, "RGB", 3)
    encapsulated(ds, jpeg(img, 0))  # JFIF YCbCr data labelled RGB: pydicom skips the colour transform
    files["jpeg_rgb_jfif.dcm"] = ds

    ds = base(14, JPEGBaseline8Bit, "MONOCHROME2", 1)
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "JPEG", quality=92)
    encapsulated(ds, buf.getvalue())
    files["jpeg_mono2.dcm"] = ds

    golden = {}
    for name, ds in files.items():
        path = os.path.join(out, name)
        ds.save_as(path, write_like_original=False)
        rd = pydicom.dcmread(path)
        pi = rd.PhotometricInterpretation
        if name == "jpeg_rgb_jfif.dcm":
            # pydicom 2.4.4's pillow_handler skips Pillow's colour transform for RGB-labelled
            # JPEGs without an Adobe marker by setting image.mode, which Pillow >= 10 no longer
            # allows (AttributeError). Its intent, done the supported way: draft('YCbCr') makes
            # libjpeg hand back the components untransformed, as the hack did.
            im = Image.open(io.BytesIO(pydicom.encaps.defragment_data(rd.PixelData)))
            im.draft("YCbCr", im.size)
            arr = np.asarray(im)
        else:
            arr = rd.pixel_array
        if pi.startswith("YBR"):
            ref = Image.fromarray(arr, "YCbCr").convert("RGB")
        else:
            ref = Image.fromarray(arr).convert("RGB")
        ref = np.asarray(ref)
        assert ref.shape == (H, W, 3), (name, ref.shape)
        np.save(os.path.join(out, name[:-4] + ".npy"), ref)
        golden[name] = {"transfer_syntax": str(rd.file_meta.TransferSyntaxUID), "photometric": pi}

    # Refused transfer syntaxes (the pixel data need not be valid: drgrade stops at the syntax).
    refused = {
        "refused_jpeg2000.dcm": "1.2.840.10008.1.2.4.90",
        "refused_jpeg_lossless.dcm": "1.2.840.10008.1.2.4.70",
        "refused_rle.dcm": "1.2.840.10008.1.2.5",
    }
    for k, (name, ts) in enumerate(refused.items()):
        ds = base(20 + k, ts, "RGB", 3)
        encapsulated(ds, b"\x00\x01\x02\x03" * 8)
        ds.save_as(os.path.join(out, name), write_like_original=False)
        golden[name] = {"transfer_syntax": ts, "refused": True}

    with open(os.path.join(out, "dicom.json"), "w") as f:
        json.dump({"files": golden, "patient_name": PATIENT_NAME, "patient_id": PATIENT_ID}, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"pydicom": pydicom.__version__, "pillow": PIL.__version__, "numpy": np.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
