#!/usr/bin/env bash
# scripts/cuda-variants.sh — build and check drgrade's two CUDA variants (`make cuda-variants`, CI).
#
#   cu121          torch 2.1.0's PyPI wheel (the CUDA 12.1 build) with its nvidia-*-cu12 wheels
#                  (make build CUDA=1)
#   torch-2.11.0   torch 2.11.0's PyPI wheel (CUDA 13, C++11 ABI) with the CUDA wheels it pins
#                  (make build TORCH=2.11.0)
#
# Each variant is built in its own copy of the tracked files of this checkout, kept under
# $DRGRADE_CACHE/variants/<name> (a stable path, so Go's build cache and setup-libtorch.sh's stamp
# make a rerun rebuild only what changed). Then, for each:
#   1. `drgrade version` must say "CUDA build true", the right libtorch version (headers and the
#      library loaded at run time) and, on a machine without a GPU, "no CUDA device found";
#   2. a short CPU training (shufflenet_small, 64 synthetic 64 px images, 1 epoch, 1 thread) must
#      give the same DDR.txt numbers as the default CPU build's run of the same command, and
#      `drgrade eval --out` of its checkpoint on the val split the same predictions.csv:
#      identical for cu121 (the same libtorch CPU kernels); for 2.11.0 metrics.json's numbers
#      within $TOL_211 (relative, default 1e-4; measured: train_loss 4.8e-7 apart), DDR.txt's
#      within its last digit and every probability within $PTOL_211 (absolute, default 1e-5;
#      measured 1.2e-6). The referable AUC is a rank statistic: after one epoch from scratch the
#      val images' P(referable) all lie within 1.2e-6 and several tie, while the two builds move
#      each by up to 4.4e-7, so pairs swap (measured 0.602 vs 0.653). For 2.11.0 it is compared
#      only when every positive/negative pair of scores is over 10x the largest probability
#      difference apart; otherwise the script says so and relies on the probabilities.
# Nothing here runs on a GPU. Everything is downloaded from PyPI by setup-libtorch.sh and cached
# under $DRGRADE_CACHE (wheels/, torch-2.1.0-cu121/, torch-2.11.0/; about 11 GB in all).
#
# Environment: CUDA_VARIANTS (default "cu121 torch-2.11.0"), DRGRADE_REF_BIN (the default build's
# binary; default: `make build` in this checkout), TOL_211 (default 1e-4), PTOL_211 (1e-5).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DRGRADE_CACHE="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
work="$DRGRADE_CACHE/variants"
variants="${CUDA_VARIANTS:-cu121 torch-2.11.0}"
tol211="${TOL_211:-1e-4}"
ptol211="${PTOL_211:-1e-5}"

log() { printf '\ncuda-variants: %s\n' "$*" >&2; }
die() { printf '\ncuda-variants: FAILED: %s\n' "$*" >&2; exit 1; }
t0=$SECONDS
secs() { echo "$((SECONDS - $1)) s"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the default (CPU) build and its reference run ---------------------------------------------
ref="${DRGRADE_REF_BIN:-}"
if [ -z "$ref" ]; then
  log "building the default (CPU) drgrade in $here"
  make -C "$here" --no-print-directory build >&2 || die "make build (the default CPU build) failed"
  ref="$here/bin/drgrade"
fi
[ -x "$ref" ] || die "no default binary at $ref"

train_args=(--model shufflenet_small --weights "" --epochs 1 --batch_size 16 --img_size 64
  --device cpu --threads 1 --num_workers 1 --quiet)
data="$tmp/data"
"$ref" synth --out "$data" --n 64 --size 64 >/dev/null || die "drgrade synth failed"

# train BIN OUT: the short training; prints the directory of its DDR.txt and metrics.json.
train() {
  local bin=$1 out=$2
  "$bin" train --data_path "$data" "${train_args[@]}" --output "$out" >"$out.log" 2>&1 \
    || { cat "$out.log" >&2; die "$bin train failed (log above)"; }
  local f
  f=$(find "$out" -name DDR.txt | head -n1)
  [ -n "$f" ] || die "$bin train wrote no DDR.txt under $out"
  "$bin" eval --model shufflenet_small --weights "$(dirname "$f")/DDR.pth" --data_path "$data" \
    --img_size 64 --threads 1 --num_workers 1 --bootstrap 0 --quiet --out "$(dirname "$f")/eval" \
    >"$out.eval.log" 2>&1 || { cat "$out.eval.log" >&2; die "$bin eval failed (log above)"; }
  dirname "$f"
}

log "reference run with the default build ($("$ref" version | sed -n 's/^libtorch  //p'))"
t=$SECONDS
ref_dir=$(train "$ref" "$tmp/ref")
log "reference training took $(secs $t); its DDR.txt:"
cat "$ref_dir/DDR.txt" >&2

# --- each variant ----------------------------------------------------------------------------
# sync_tree DEST: DEST gets this checkout's tracked files (their working-tree content); files
# that differ are rewritten, files no longer tracked removed; setup's generated third_party/
# and bin/ stay (setup's stamp and Go's build cache then skip what did not change).
sync_tree() {
  python3 - "$here" "$1" <<'PY'
import os, shutil, subprocess, sys
src, dest = sys.argv[1], sys.argv[2]
files = [f for f in subprocess.run(["git", "ls-files", "-z"], cwd=src, check=True,
                                   capture_output=True).stdout.decode().split("\0") if f]
tracked = set()
for f in files:
    s = os.path.join(src, f)
    if not os.path.isfile(s) or os.path.islink(s):
        continue
    tracked.add(f)
    d = os.path.join(dest, f)
    if os.path.isfile(d) and open(s, "rb").read() == open(d, "rb").read():
        continue
    os.makedirs(os.path.dirname(d), exist_ok=True)
    shutil.copy2(s, d)
for root, dirs, names in os.walk(dest):
    rel = os.path.relpath(root, dest)
    if rel == "." :
        dirs[:] = [x for x in dirs if x not in ("bin",)]
    if rel == "third_party":
        dirs[:] = [x for x in dirs if x == "patches"]
    for n in names:
        f = os.path.normpath(os.path.join(rel, n))
        if f not in tracked and not (rel == "third_party"):
            os.remove(os.path.join(root, n))
PY
}

for v in $variants; do
  case "$v" in
    cu121) make_args=(CUDA=1); want_version=2.1.0; tol=0; ptol=0 ;;
    torch-2.11.0) make_args=(TORCH=2.11.0); want_version=2.11.0; tol=$tol211; ptol=$ptol211 ;;
    *) die "unknown variant $v (cu121 or torch-2.11.0)" ;;
  esac
  tree="$work/$v"
  log "[$v] syncing the tracked files into $tree"
  sync_tree "$tree"
  log "[$v] make build ${make_args[*]} (downloads and compiles only what is not cached)"
  t=$SECONDS
  make -C "$tree" --no-print-directory build "${make_args[@]}" >&2 || die "[$v] make build ${make_args[*]} failed"
  log "[$v] built in $(secs $t); binary $(du -h "$tree/bin/drgrade" | cut -f1)"

  out=$("$tree/bin/drgrade" version 2>"$tmp/$v.version.err") || { cat "$tmp/$v.version.err" >&2; die "[$v] drgrade version failed"; }
  printf '%s\n' "$out" >&2
  grep -q "^libtorch  $want_version (.*CUDA build true)" <<<"$out" \
    || die "[$v] drgrade version does not say 'libtorch  $want_version (... CUDA build true)'"
  grep -q "^runtime   libtorch $want_version " <<<"$out" \
    || die "[$v] drgrade version does not say it runs on libtorch $want_version"
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    grep -q "no CUDA device found" <<<"$out" || die "[$v] no GPU here, but drgrade version does not say 'no CUDA device found'"
  fi

  log "[$v] short CPU training"
  t=$SECONDS
  dir=$(train "$tree/bin/drgrade" "$tmp/$v")
  log "[$v] training took $(secs $t); its DDR.txt:"
  cat "$dir/DDR.txt" >&2
  python3 - "$ref_dir" "$dir" "$tol" "$v" "$ptol" <<'PY' || die "[$v] the training's numbers differ from the default CPU build's (above)"
# DDR.txt (3 decimals) and metrics.json (full precision) against the default build's run.
# tol 0: identical (same libtorch CPU kernels). Otherwise every metrics.json number (but the
# timing) within tol relative (1e-9 absolute for zeros), and DDR.txt's within one unit of its
# last printed digit (0.001), as a value that close to a rounding boundary may round either way.
# The eval's predictions.csv: same rows and labels, probabilities within ptol (absolute). The
# referable AUC only where its scores are far enough apart to rank the same (header above).
import csv, json, os, re, sys
ref_dir, got_dir, tol, name, ptol = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def fail(msg):
    sys.exit(f"cuda-variants: [{name}] {msg}")
pr, pg = (list(csv.DictReader(open(os.path.join(d, "eval", "predictions.csv")))) for d in (ref_dir, got_dir))
if [(r["image"], r["label"]) for r in pr] != [(r["image"], r["label"]) for r in pg]:
    fail("predictions.csv: the images or labels differ")
pcols = [c for c in pr[0] if c.startswith("prob_") or c.startswith("p_")]
pdiff = max(abs(float(a[c]) - float(b[c])) for a, b in zip(pr, pg) for c in pcols)
if (ptol == 0 and pdiff != 0) or pdiff > ptol:
    fail(f"predictions.csv: probabilities {pdiff:.3g} apart (allowed {ptol:g})")
pos = [float(r["p_referable"]) for r in pr if int(r["label"]) >= 2]
neg = [float(r["p_referable"]) for r in pr if int(r["label"]) < 2]
gap = min((abs(a - b) for a in pos for b in neg), default=float("inf"))
rank_free = tol != 0 and gap <= 10 * pdiff
print(f"cuda-variants: [{name}] predictions.csv probabilities {pdiff:.2g} apart; closest "
      f"referable/non-referable scores {gap:.2g} apart" + ("; the referable AUC is not compared "
      "(its ranking is within the builds' difference)" if rank_free else ""), file=sys.stderr)
ref, got = (open(os.path.join(d, "DDR.txt")).read() for d in (ref_dir, got_dir))
num = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
if num.sub("#", ref) != num.sub("#", got):
    fail(f"DDR.txt lines differ in form:\n--- default\n{ref}--- {name}\n{got}")
a, b = num.findall(ref), num.findall(got)
if rank_free:  # drop the DDR.txt's "Referable AUC: x" numbers
    auc = re.compile(r"Referable AUC: (\S+)")
    a, b = num.findall(auc.sub("", ref)), num.findall(auc.sub("", got))
if tol == 0 and a != b:
    fail(f"DDR.txt numbers not identical:\n--- default\n{ref}--- {name}\n{got}")
bad = [(x, y) for x, y in zip(a, b) if abs(float(x) - float(y)) > 0.0010001]
if bad:
    fail(f"DDR.txt numbers differ by more than 0.001: {bad}")
mr, mg = (json.load(open(os.path.join(d, "metrics.json"))) for d in (ref_dir, got_dir))
if len(mr) != len(mg):
    fail(f"metrics.json: {len(mr)} epochs vs {len(mg)}")
worst, where = 0.0, ""
for er, eg in zip(mr, mg):
    for k, x in er.items():
        if k == "seconds" or not isinstance(x, (int, float)) or (rank_free and k == "referable_auc"):
            continue
        y = eg.get(k)
        if not isinstance(y, (int, float)):
            fail(f"metrics.json: {k} missing")
        d = 0.0 if x == y else abs(x - y) / max(abs(x), abs(y), 1e-9)
        if d > worst:
            worst, where = d, f"{k} {x!r} vs {y!r}"
if tol == 0 and worst != 0:
    fail(f"metrics.json not identical: {where}")
if worst > tol:
    fail(f"metrics.json: {where}: relative difference {worst:.3g} > {tol:g}")
msg = "identical to" if worst == 0 else f"within {tol:g} of"
print(f"cuda-variants: [{name}] DDR.txt and metrics.json {msg} the default build's"
      + (f" (largest relative difference {worst:.2g}: {where})" if worst else ""), file=sys.stderr)
PY
done
log "all variants passed ($variants) in $(secs $t0)"
