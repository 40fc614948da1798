#!/usr/bin/env python3
"""Regenerate third_party/patches/*.patch: drgrade's changes to gotch v0.9.1, one per concern.

Usage: scripts/gotch-patches.py [GOTCH_DIR [OUT_DIR]]
  GOTCH_DIR  a pristine github.com/sugarme/gotch@v0.9.1 (default: the Go module cache's copy,
             from `go mod download -json`)
  OUT_DIR    where the patches go (default: third_party/patches next to this script's repo)

The patches, not this script, are what setup-libtorch.sh applies (in file-name order, with
`patch -p1 --forward`); this script only exists so the big mechanical ones can be rebuilt and
reviewed. Each transformation checks that the generated code looks as expected and stops
otherwise. The patches are cumulative: each is the diff from the tree with the previous ones
applied, so they must be applied in order.

The patches under OUT_DIR/newer-torch/ are applied only when the libtorch in use is not 2.1.x
(so the 2.1 copy stays byte-for-byte what it always was).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GOTCH = "github.com/sugarme/gotch@v0.9.1"


def fail(msg):
    sys.exit(f"gotch-patches: {msg}")


# --- the transformations ---------------------------------------------------------------------
# Each takes the file's text and returns the new text (or fails).

def output_handles(s):
    n_out = s.count("(*lib.Ctensor)(unsafe.Pointer(C.malloc(0)))")
    s = re.sub(r"^(\s*)(ptr|ctensorPtr0) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)$",
               r"\1\2 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(16 * 8)))\n\1defer C.free(unsafe.Pointer(\2))",
               s, flags=re.M)
    if n_out < 2000 or "malloc(0)" in s:
        fail(f"unexpected tensor-generated.go ({n_out} outputs)")
    return s


def inplace_free(s):
    n_inplace = len(re.findall(r"^\s*ts\.ctensor = \*ptr$", s, flags=re.M))
    s = re.sub(r"^(\s*)ts\.ctensor = \*ptr$",
               r"\1if *ptr != ts.ctensor {\n\1  lib.AtFree(ts.ctensor)\n\1}\n\1ts.ctensor = *ptr", s, flags=re.M)
    if n_inplace < 200:
        fail(f"unexpected tensor-generated.go ({n_inplace} in-place ops)")
    return s


def keep_alive(s):
    head = re.compile(r"^func ?(\((\w+) \*Tensor\))? ?(\w+)\((.*?)\)\((.*?)\) ?\{ *$", re.M)
    patched = 0

    def keep(m):
        nonlocal patched
        names = [m.group(2)] if m.group(2) else []
        for prm in filter(None, (x.strip() for x in m.group(4).split(","))):
            name, _, typ = prm.partition(" ")
            if typ in ("*Scalar", "*Tensor", "[]*Tensor"):
                names.append(name)
        if not names:
            return m.group(0)
        patched += 1
        return m.group(0) + "".join(f"\n  defer runtime.KeepAlive({n})" for n in names)

    s = head.sub(keep, s)
    if patched < 2000 or '\nimport(\n  "unsafe"\n' not in s:
        fail(f"unexpected tensor-generated.go ({patched} ops with tensor or scalar arguments)")
    return s.replace('\nimport(\n  "unsafe"\n', '\nimport(\n  "runtime"\n  "unsafe"\n', 1)


def drop_big_struct(s):
    line = "\tx.d = new(bigStruct)\n"
    if s.count(line) != 1:
        fail("unexpected ts/tensor.go (bigStruct allocation not found)")
    return s.replace(line, "")


def guard_newer_torch(s):
    # The three ops whose C++ signatures changed after libtorch 2.1 (torch 2.11's headers reject
    # their 2.1 calls). drgrade calls none of them; the Go wrappers still link and return an error.
    # TORCH_VERSION_* and TORCH_VERSION come from torch/version.h (via torch/torch.h, torch/all.h).
    for fn in ("atg__cslt_sparse_mm", "atg__scaled_mm", "atg__scaled_mm_out"):
        m = re.search(r"^void " + fn + r"\(tensor \*out__, [^)]*\) \{\n(  PROTECT\(\n.*?\n  \)\n)\}\n", s, re.M | re.S)
        if not m:
            fail(f"unexpected torch_api_generated.cpp.h ({fn} not found)")
        body = m.group(1)
        new = ("#if TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR <= 1\n" + body + "#else\n"
               f'  torch_last_err = strdup("{fn}: not available with libtorch " TORCH_VERSION\n'
               '                          " (gotch v0.9.1 is generated for libtorch 2.1)");\n'
               "#endif\n")
        s = s[:m.start(1)] + new + s[m.end(1):]
    return s


# (patch name, subdirectory, what and why, [(file, transformation)])
PATCHES = [
    ("0001-output-handles.patch", "", """\
Every generated op received its output handle(s) in C.malloc(0) memory that was never freed,
and a multi-output op (e.g. max_pool2d_with_indices, 2 handles) wrote past it: allocate room for
16 handles (the most any op returns) and free it when the op returns.""",
     [("ts/tensor-generated.go", output_handles)]),
    ("0002-inplace-free-old-handle.patch", "", """\
In-place ops (x.Fill_, x.AddScalar_, x.RequiresGrad_, ...) replaced the tensor's C handle with
the new one libtorch returned without deleting the old handle, which kept a reference to the
storage alive after Drop (a leak per in-place op): delete the old handle when it differs.""",
     [("ts/tensor-generated.go", inplace_free)]),
    ("0003-keepalive-arguments.patch", "", """\
Scalars and Tensors carry finalizers that free their C objects, and a generated op reads
x.cscalar / x.ctensor and then makes the C call with nothing keeping x reachable, so a
collection in between frees what the call is using (`b.AddScalar_(ts.IntScalar(1))` failed
"s.isIntegral(false) INTERNAL ASSERT FAILED" under load). Keep every *Scalar, *Tensor and
[]*Tensor argument and the receiver alive until the op returns (defer runtime.KeepAlive).
Checked by internal/torchext/gotch_patch_test.go.""",
     [("ts/tensor-generated.go", keep_alive)]),
    ("0004-drop-bigstruct.patch", "", """\
Not a bug but a cost: every tensor wrapper dragged a zeroed 100 KB Go block (bigStruct) so that
Go's collector runs often enough for finalizers to free forgotten tensors. drgrade drops every
tensor itself (tests count the live ones), and the block cost a 100 KB memclr per op and
hundreds of MB of Go heap between collections: leave it out.""",
     [("ts/tensor.go", drop_big_struct)]),
    ("0101-guard-ops-changed-after-2.1.patch", "newer-torch", """\
Applied only for a libtorch other than 2.1.x (e.g. torch 2.11.0). gotch v0.9.1's C++ wrappers
are generated for libtorch 2.1; against 2.11's headers all of them compile except three whose
ATen signatures changed: _cslt_sparse_mm, _scaled_mm and _scaled_mm_out. drgrade calls none of
them. Their bodies are kept for libtorch <= 2.1 and otherwise set gotch's error
("not available with libtorch X"), so the Go side still links and a call returns an error.""",
     [("libtch/torch_api_generated.cpp.h", guard_newer_torch)]),
]


def unified_diff(old, new, path):
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        open(a, "w").write(old)
        open(b, "w").write(new)
        r = subprocess.run(["diff", "-u", "--label", f"a/{path}", "--label", f"b/{path}", a, b],
                           capture_output=True, text=True)
        if r.returncode != 1:
            fail(f"diff of {path}: exit {r.returncode} {r.stderr}")
        return r.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else None
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "third_party", "patches")
    if src is None:
        info = json.loads(subprocess.run(["go", "mod", "download", "-json", GOTCH], check=True,
                                         capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout)
        src = info["Dir"]
    cur = {}  # file -> current text (after the patches so far)
    for name, sub, why, edits in PATCHES:
        text = "".join(f"# {l}".rstrip() + "\n" for l in why.splitlines())
        text = (f"# drgrade patch to {GOTCH}: {name}\n"
                f"# Generated by scripts/gotch-patches.py; applied in order by setup-libtorch.sh (patch -p1).\n#\n"
                + text + "\n")
        for path, fn in edits:
            old = cur.get(path)
            if old is None:
                old = open(os.path.join(src, path)).read()
            new = fn(old)
            text += unified_diff(old, new, path)
            cur[path] = new
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        print(f"gotch-patches: wrote {os.path.relpath(os.path.join(d, name))} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
