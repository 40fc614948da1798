"""Golden generator for vision/models/pth: PyTorch checkpoints in every format torch.load reads.

Writes into --out (every checkpoint is first loaded back with torch.load and compared with
the tensors it was made from; the script fails rather than write an unproven fixture):
  zip.pth              torch.save(sd)                                   (PyTorch >= 1.6 zip)
  zip_proto4.pth       torch.save(sd, pickle_protocol=4)                (FRAME, MEMOIZE, STACK_GLOBAL)
  legacy.pth           torch.save(sd, _use_new_zipfile_serialization=False)
  legacy_views.pth     legacy stream whose storage ids carry view_metadata (pre-1.0 layout),
                       written here following torch.serialization._legacy_load
  tar.pth              the PyTorch <= 0.3 tar layout (members sys_info, pickle, tensors,
                       storages incl. a storage view), written here following legacy_load
  module_prefix.pth    DataParallel-style 'module.' keys (zip)
  gpu_zip.pth          zip.pth as a GPU run saves it: every storage tagged 'cuda:0'
                       (read with torch.load(map_location='cpu'))
  gpu_legacy.pth       legacy.pth as torch 1.x saved it on a GPU: 'cuda:0' tags and
                       torch.cuda.FloatStorage-style classes
  ckpt_model.pth       {'model': sd, 'epoch': 3, 'best_acc': 0.875, 'arch': 'tiny'} (zip)
  ckpt_state_dict.pth  {'state_dict': sd} (legacy)
  from_bytes.pth       a zip whose data.pkl is plain pickle.dumps(OrderedDict(w=tensor)), so the
                       storage comes through torch.storage._load_from_bytes(_codecs.encode(...))
  whole_model.pth      torch.save(model): a pickled module object (zip), for the error test
  torchscript.pt       torch.jit.save(torch.jit.script(model)), for the rejection test
  values/<name>.npy    each tensor's values (contiguous; float16/bfloat16 widened to float32,
                       which is exact)
  save_golden.pth      torch.save(OrderedDict) of deterministic tensors (see formula_values),
                       written to a BytesIO (archive name 'archive'), for the writer's byte test
  save_golden.json     names/dtypes/shapes of save_golden.pth and the offset of its
                       .data/serialization_id record (the only non-deterministic record)
  resnet18_keys.json   names/dtypes/shapes of torchvision resnet18's state_dict (for the live
                       writer test)
  meta.json            versions, seed, tensors (name, dtype, shape, stride, offset), files

Also a checker for the live writer test:
  pth_gen.py --check FILE --model tiny|resnet18 [--golden-prefix]
loads FILE with torch.load (weights_only False and True), load_state_dict(strict=True) into
the reference module, compares every value with formula_values and checks that the file's
bytes equal torch.save's up to the serialization_id record; prints a JSON report.
"""
import argparse
import warnings
import collections
import io
import json
import os
import pickle
import re
import struct
import sys
import tarfile
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

SEED = 1234

warnings.filterwarnings("ignore", message="TypedStorage is deprecated")


class Tiny(nn.Module):
    """The reference module: conv + batch norm + linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean((2, 3)))


def build_state_dict():
    torch.manual_seed(SEED)
    m = Tiny()
    m.train()
    m(torch.randn(2, 3, 6, 6))  # non-trivial running stats; num_batches_tracked = 1
    m.bn.num_batches_tracked.fill_(7)
    sd = m.state_dict()  # an OrderedDict with _metadata (BUILD opcode)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    sd["extra.f64"] = torch.randn(2, 3, dtype=torch.float64)
    sd["extra.base"] = base
    sd["extra.view"] = base.t()[1:4]  # shares base's storage: offset 1, stride (1, 6)
    sd["extra.expand"] = torch.randn(3).expand(2, 3)  # stride (0, 1)
    sd["extra.half"] = torch.randn(5).half()
    sd["extra.bf16"] = torch.randn(4).bfloat16()
    sd["extra.i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    sd["extra.u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.scalar"] = torch.tensor(2.5)
    sd["extra.empty"] = torch.zeros(0, 3)
    assert sd["extra.view"].storage_offset() == 1 and sd["extra.view"].stride() == (1, 6)
    return m, sd


def npy_value(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.numpy()


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def prove(path, want, **kw):
    """torch.load must give back exactly the tensors we meant to write."""
    got = torch.load(path, **kw)
    for k, v in want.items():
        if isinstance(v, torch.Tensor):
            assert same(got[k], v), (path, k)
        elif isinstance(v, dict):
            assert list(got[k].keys()) == list(v.keys()), (path, k)
            for kk, vv in v.items():
                assert same(got[k][kk], vv), (path, k, kk)
        else:
            assert got[k] == v, (path, k)
    assert list(got.keys()) == list(want.keys()), path
    return got


# ---- the tar format (PyTorch <= 0.3), as torch.serialization._legacy_load.legacy_load reads it ----

def tensor_type(storage_type):
    return getattr(torch, storage_type.__name__.replace("Storage", "Tensor"))


def write_tar(path, sd):
    """Members: sys_info, pickle (persistent ids = tensor keys), tensors, storages."""
    storages = collections.OrderedDict()  # key -> (storage type, bytes, numel)
    by_ptr = {}
    tensors = collections.OrderedDict()   # key -> (storage key, size, stride, offset, type)
    views = []
    next_key = [1000]

    def new_key():
        next_key[0] += 1
        return next_key[0]

    def storage_key(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in by_ptr:
            k = new_key()
            st = t.untyped_storage()
            styp = getattr(torch, t.storage()._pickle_storage_type())  # e.g. torch.FloatStorage
            raw = torch.tensor([], dtype=torch.uint8).set_(st).numpy().tobytes()
            storages[k] = (styp, raw, len(raw) // t.element_size())
            by_ptr[ptr] = k
        return by_ptr[ptr]

    ids = {}
    for name, t in sd.items():
        k = new_key()
        tensors[k] = (storage_key(t), tuple(t.size()), t.stride(), t.storage_offset(), t)
        ids[id(t)] = k
    # One tensor on a storage view: elements [4, 12) of extra.base's storage.
    root = storage_key(sd["extra.base"])
    view_key = new_key()
    views.append((view_key, root, 4, 8))
    sview = sd["extra.base"].flatten()[4:12].reshape(2, 4)
    k = new_key()
    tensors[k] = (view_key, (4, 2), (1, 4), 0, None)  # transposed view inside the sub-storage
    expected_sview = sview.t()

    out = collections.OrderedDict(sd)
    out["extra.sview"] = expected_sview  # pickled by persistent id -> tensor key k
    ids[id(expected_sview)] = k

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return str(ids[id(obj)]) if isinstance(obj, torch.Tensor) else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(out)
    pickle_bytes = buf.getvalue()

    tb = io.BytesIO()
    pickle.dump(len(tensors), tb, protocol=2)
    for key, (skey, size, stride, off, t) in tensors.items():
        styp = storages[skey][0] if skey in storages else storages[root][0]
        pickle.dump((key, skey, tensor_type(styp)), tb, protocol=2)
        tb.write(struct.pack("<i", len(size)) + b"\0\0\0\0")
        tb.write(struct.pack(f"<{len(size)}q", *size))
        tb.write(struct.pack(f"<{len(size)}q", *stride))
        tb.write(struct.pack("<q", off))

    sb = io.BytesIO()
    pickle.dump(len(storages), sb, protocol=2)
    for key, (styp, raw, numel) in storages.items():
        pickle.dump((key, "cpu", styp), sb, protocol=2)
        sb.write(struct.pack("<q", numel))
        sb.write(raw)
    pickle.dump(views, sb, protocol=2)

    sys_info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=8))
    si = io.BytesIO()
    pickle.dump(sys_info, si, protocol=2)

    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("sys_info", si.getvalue()), ("pickle", pickle_bytes),
                           ("tensors", tb.getvalue()), ("storages", sb.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


# ---- a legacy stream with view_metadata (torch < 1.0 wrote storage views this way) ----

class _StorageRef:
    def __init__(self, pid):
        self.pid = pid


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def write_legacy_views(path):
    root = torch.arange(24, dtype=torch.float32) / 4 - 2

    def ref(view):
        return _StorageRef(("storage", torch.FloatStorage, "7001", "cpu", 24, view))

    obj = collections.OrderedDict()
    obj["a"] = _TensorRef(ref(("7002", 2, 10)), 1, (3, 3), (3, 1))
    obj["b"] = _TensorRef(ref(("7003", 12, 12)), 0, (2, 3), (1, 2))
    obj["c"] = _TensorRef(ref(None), 0, (24,), (1,))
    want = collections.OrderedDict(
        a=root[2:12][1:10].reshape(3, 3),
        b=torch.as_strided(root[12:24], (2, 3), (1, 2)),
        c=root,
    )

    class P(pickle.Pickler):
        def persistent_id(self, o):
            return o.pid if isinstance(o, _StorageRef) else None

    sys_info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=8))
    with open(path, "wb") as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump(sys_info, f, protocol=2)
        P(f, protocol=2).dump(obj)
        pickle.dump(["7001"], f, protocol=2)
        f.write(struct.pack("<q", 24))
        f.write(root.numpy().tobytes())
    return want


# ---- deterministic values shared with the Go tests (TestParitySave*) ----

def formula_values(k, dtype, shape):
    """Entry k's values: float32 ((7i + 13k) % 2001 - 1000) / 512 (exact), int64 1000k + i."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.int64)
    if dtype == "int64":
        v = (1000 * k + i).astype(np.int64)
    else:
        v = (((7 * i + 13 * k) % 2001) - 1000).astype(np.float32) / np.float32(512)
    return v.reshape(shape)


def save_golden_spec():
    spec = [("s%02d" % k, "float32", [k % 3 + 1, 2]) for k in range(40)]  # > 255 memo entries
    spec += [("scalar", "float32", []), ("count", "int64", []), ("four_d", "float32", [2, 1, 2, 3]),
             ("wide", "float32", [300]), ("bigdim", "float32", [70000, 0]),
             ("hugedim", "int64", [2 ** 31, 0]), ("ids", "int64", [5])]
    return spec


def torch_od(spec):
    od = collections.OrderedDict()
    for k, (name, dtype, shape) in enumerate(spec):
        od[name] = torch.tensor(formula_values(k, dtype, shape))  # torch's own contiguous strides
    return od


def serialization_id_offset(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    for info in z.infolist():
        if info.filename.endswith("/.data/serialization_id"):
            return info.header_offset
    return len(data)


def generate(out):
    os.makedirs(os.path.join(out, "values"), exist_ok=True)
    model, sd = build_state_dict()
    tensors = []
    for name, t in sd.items():
        np.save(os.path.join(out, "values", name + ".npy"), npy_value(t))
        tensors.append(dict(name=name, dtype=str(t.dtype).replace("torch.", ""), shape=list(t.shape),
                            stride=list(t.stride()), offset=t.storage_offset()))
    files = {}

    def record(fname, fmt, names, nested="", prefix="", metadata=None):
        files[fname] = dict(format=fmt, names=names, nested_key=nested, stripped_prefix=prefix,
                            metadata=metadata or {})

    names = list(sd.keys())
    p = os.path.join(out, "zip.pth")
    torch.save(sd, p)
    prove(p, sd)
    prove(p, sd, weights_only=True)
    record("zip.pth", "zip", names)

    p = os.path.join(out, "zip_proto4.pth")
    torch.save(sd, p, pickle_protocol=4)
    prove(p, sd)
    record("zip_proto4.pth", "zip", names)

    p = os.path.join(out, "legacy.pth")
    torch.save(sd, p, _use_new_zipfile_serialization=False)
    prove(p, sd)
    prove(p, sd, weights_only=True)
    record("legacy.pth", "legacy", names)

    p = os.path.join(out, "legacy_views.pth")
    want = write_legacy_views(p)
    prove(p, want)
    for name, t in want.items():
        np.save(os.path.join(out, "values", "legacy_views." + name + ".npy"), npy_value(t))
    record("legacy_views.pth", "legacy", list(want.keys()))

    p = os.path.join(out, "tar.pth")
    want = write_tar(p, sd)
    prove(p, want)
    np.save(os.path.join(out, "values", "extra.sview.npy"), npy_value(want["extra.sview"]))
    record("tar.pth", "tar", list(want.keys()))

    p = os.path.join(out, "module_prefix.pth")
    prefixed = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    torch.save(prefixed, p)
    prove(p, prefixed)
    record("module_prefix.pth", "zip", names, prefix="module.")

    # A checkpoint saved from a GPU run: the same zip with every storage tagged 'cuda:0' (what
    # torch.save writes for CUDA tensors). No GPU is needed to write the tag: location_tag is
    # swapped for the save. torch.load(map_location='cpu') reads it; drgrade must too.
    p = os.path.join(out, "gpu_zip.pth")
    tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(sd, p)
    finally:
        torch.serialization.location_tag = tag
    with zipfile.ZipFile(p) as z:
        assert b"cuda:0" in z.read([n for n in z.namelist() if n.endswith("data.pkl")][0])
    prove(p, sd, map_location="cpu")
    record("gpu_zip.pth", "zip", names)

    # The same from torch 1.x on a GPU, legacy format: storages tagged 'cuda:0' and pickled as
    # torch.cuda.FloatStorage (etc.). Written with the tag swapped, then the storage classes
    # renamed in the pickle's GLOBAL opcodes (newline-terminated text; protocol 2 has no
    # frames or offsets to fix).
    p = os.path.join(out, "gpu_legacy.pth")
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(sd, p, _use_new_zipfile_serialization=False)
    finally:
        torch.serialization.location_tag = tag
    with open(p, "rb") as f:
        data = f.read()
    n_storage_classes = len(re.findall(rb"ctorch\n\w+Storage\n", data))
    data = re.sub(rb"ctorch\n(\w+Storage)\n", rb"ctorch.cuda\n\1\n", data)
    assert n_storage_classes > 0 and b"ctorch.cuda\nFloatStorage\n" in data and b"cuda:0" in data
    with open(p, "wb") as f:
        f.write(data)
    prove(p, sd, map_location="cpu")
    record("gpu_legacy.pth", "legacy", names)

    p = os.path.join(out, "ckpt_model.pth")
    ck = {"model": sd, "epoch": 3, "best_acc": 0.875, "arch": "tiny"}
    torch.save(ck, p)
    prove(p, ck)
    record("ckpt_model.pth", "zip", names, nested="model",
           metadata={"epoch": 3, "best_acc": 0.875, "arch": "tiny"})

    p = os.path.join(out, "ckpt_state_dict.pth")
    ck = {"state_dict": sd}
    torch.save(ck, p, _use_new_zipfile_serialization=False)
    prove(p, ck)
    record("ckpt_state_dict.pth", "legacy", names, nested="state_dict")

    p = os.path.join(out, "from_bytes.pth")
    fb = collections.OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3) / 8)
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps(fb, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    prove(p, fb)
    np.save(os.path.join(out, "values", "from_bytes.w.npy"), npy_value(fb["w"]))
    record("from_bytes.pth", "zip", ["w"])

    p = os.path.join(out, "whole_model.pth")
    torch.save(model, p)
    assert isinstance(torch.load(p), Tiny)

    p = os.path.join(out, "torchscript.pt")
    torch.jit.save(torch.jit.script(model), p)
    assert isinstance(torch.jit.load(p), torch.jit.ScriptModule)

    # The writer's byte-level golden.
    spec = save_golden_spec()
    od = torch_od(spec)
    buf = io.BytesIO()
    torch.save(od, buf)
    data = buf.getvalue()
    with open(os.path.join(out, "save_golden.pth"), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "save_golden.json"), "w") as f:
        json.dump(dict(entries=[dict(name=n, dtype=d, shape=s) for n, d, s in spec],
                       serialization_id_offset=serialization_id_offset(data)), f, indent=1)

    r18 = torchvision.models.resnet18(weights=None).state_dict()
    with open(os.path.join(out, "resnet18_keys.json"), "w") as f:
        json.dump([dict(name=k, dtype=str(v.dtype).replace("torch.", ""), shape=list(v.shape))
                   for k, v in r18.items()], f, indent=0)

    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, torchvision=torchvision.__version__,
                       numpy=np.__version__, seed=SEED, tensors=tensors, files=files), f, indent=1)


def check(path, model_name):
    """The live writer check: torch.load both ways, strict load_state_dict, values, bytes."""
    if model_name == "tiny":
        model = Tiny()
    else:
        model = getattr(torchvision.models, model_name)(weights=None)
    ref = model.state_dict()
    report = {}
    for wo in (False, True):
        sd = torch.load(path, weights_only=wo)
        assert type(sd) is collections.OrderedDict, type(sd)
        assert list(sd.keys()) == list(ref.keys()), "key order differs from the model's state_dict"
        res = model.load_state_dict(sd, strict=True)
        assert not res.missing_keys and not res.unexpected_keys, res
        for k, (name, t) in enumerate(sd.items()):
            want = formula_values(k, str(t.dtype).replace("torch.", ""), list(ref[name].shape))
            assert t.dtype == ref[name].dtype, (name, t.dtype)
            assert np.array_equal(t.numpy(), want), name
            assert torch.equal(model.state_dict()[name], t), name
        report["weights_only_%s" % wo] = len(sd)
    with open(path, "rb") as f:
        mine = f.read()
    buf = io.BytesIO()
    torch.save(collections.OrderedDict(torch.load(path)), buf)
    theirs = buf.getvalue()
    cut = serialization_id_offset(theirs)
    report["prefix_bytes"] = cut
    report["prefix_equal"] = mine[:cut] == theirs[:cut]
    print(json.dumps(report))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--check")
    ap.add_argument("--model", default="tiny")
    a = ap.parse_args()
    if a.check:
        check(a.check, a.model)
    else:
        generate(a.out)


if __name__ == "__main__":
    main()
