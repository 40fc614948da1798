#!/usr/bin/env bash
# bench/run_data.sh — `make bench-data`: images/s of the train and val data pipelines from JPEG,
# drgrade's loader (bench/datapipe) against PyTorch's DataLoader (bench/datapipe.py), same
# files, transforms, batch size and worker count. See bench/README.md.
#
# Environment (all optional):
#   FULL=1              more images and pairs (default QUICK: 128 images, 3 pairs, a few minutes)
#   BENCH_N             images per data set            (QUICK 128, FULL 512)
#   BENCH_PAIRS         interleaved drgrade/PyTorch pairs per case (QUICK 3, FULL 7)
#   BENCH_WORKERS       loader workers for both (default 0: the script's min(cpus, batch, 8))
#   BENCH_BATCH         batch size (default 32)
#   BENCH_CASES         which cases, e.g. "2048x1536:train 512x512:val" (default: all five);
#                       WxHpS is the WxH set after `drgrade prepare --size S` (shorter side S)
#   DRGRADE_CACHE       data sets go to $DRGRADE_CACHE/bench-data (default ~/.cache/drgrade)
#   DRGRADE_VENV        the PyTorch venv (default $DRGRADE_CACHE/venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
venv="${DRGRADE_VENV:-$cache/venv}"
py="$venv/bin/python"
data_root="$cache/bench-data"
if [ -n "${FULL:-}" ] && [ "${FULL}" != 0 ]; then mode=FULL; n=${BENCH_N:-512}; pairs=${BENCH_PAIRS:-7}
else mode=QUICK; n=${BENCH_N:-128}; pairs=${BENCH_PAIRS:-3}; fi
workers=${BENCH_WORKERS:-0}
batch=${BENCH_BATCH:-32}
cases=${BENCH_CASES:-"2048x1536:train 2048x1536:val 512x512:train 512x512:val 2048x1536p512:train"}

log() { printf 'bench-data: %s\n' "$*" >&2; }
die() { printf 'bench-data: error: %s\n' "$*" >&2; exit 1; }
[ -x "$py" ] || die "no PyTorch venv at $venv (run make pyenv)"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-data.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin="$work/datapipe"
log "building bench/datapipe"
(cd "$here" && go build -o "$bin" ./bench/datapipe)
case "$cases" in *p[0-9]*)
  log "building drgrade (for drgrade prepare)"
  (cd "$here" && go build -o "$work/drgrade" ./cmd/drgrade) ;;
esac

# Data sets: one per resolution, made once and reused (the name holds everything that shapes them).
for c in $cases; do
  size=${c%%:*}
  orig=${size%p*}
  dir="$data_root/${orig}-n$n"
  if [ ! -f "$dir/val.txt" ]; then
    log "writing $n synthetic ${orig} JPEGs to $dir (once; later runs reuse them)"
    mkdir -p "$data_root"
    "$bin" --make "$dir" --n "$n" --width "${orig%x*}" --height "${orig#*x}"
  fi
  if [ "$size" != "$orig" ] && [ ! -f "$data_root/${size}-n$n/prepare.json" ]; then
    log "drgrade prepare --size ${size#*p} of $dir (once)"
    "$work/drgrade" prepare --data_path "$dir" --out "$data_root/${size}-n$n" --size "${size#*p}" --quiet >&2
  fi
done

results="$work/results.jsonl"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "$mode: $n images per set, $pairs pairs per case, batch $batch, load average $load_before"
t0=$SECONDS
# Pairs outside, cases inside: each pair runs every case back to back, so a prepared set and its
# original are compared under the same load (per-pair ratios below).
for ((i = 1; i <= pairs; i++)); do
  for c in $cases; do
    size=${c%%:*} pipe=${c#*:}
    dir="$data_root/${size}-n$n"
    args=(--data "$dir" --pipeline "$pipe" --workers "$workers" --batch "$batch" --epochs 1)
    for impl in drgrade pytorch; do
      if [ $impl = drgrade ]; then out=$("$bin" "${args[@]}")
      else out=$(cd "$work" && "$py" "$here/bench/datapipe.py" "${args[@]}")
      fi
      printf '{"case": "%s %s", "pair": %d, "run": %s}\n' "$size" "$pipe" "$i" "$out" >> "$results"
      log "$size $pipe pair $i $impl: $(printf '%s' "$out" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("%.1f images/s (%d images in %.2f s)" % (r["images_per_s"], r["images"], r["seconds"]))')"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$results" "$mode" "$n" "$pairs" "$load_before" "$load_after" "$((SECONDS - t0))" <<'PY'
import json, statistics, sys
path, mode, n, pairs, lb, la, secs = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
cases, by = [], {}
for r in rows:
    if r["case"] not in by:
        cases.append(r["case"])
    by.setdefault(r["case"], {}).setdefault(r["pair"], {})[r["run"]["impl"]] = r["run"]
def span(v):
    return "%.1f (%.1f–%.1f)" % (statistics.median(v), min(v), max(v))
head = ["case (W×H pipeline)", "images", "drgrade img/s median (min–max)",
        "PyTorch img/s median (min–max)", "drgrade/PyTorch median (min–max)"]
table = [head]
info = None
for c in cases:
    ps = [p for p in by[c].values() if "drgrade" in p and "pytorch" in p]
    g = [p["drgrade"]["images_per_s"] for p in ps]
    t = [p["pytorch"]["images_per_s"] for p in ps]
    ratio = [a / b for a, b in zip(g, t)]
    table.append([c, str(ps[0]["drgrade"]["images"]), span(g), span(t),
                  "%.2f× (%.2f–%.2f)" % (statistics.median(ratio), min(ratio), max(ratio))])
    info = ps[0]
w = [max(len(r[i]) for r in table) for i in range(len(head))]
line = "+" + "+".join("-" * (x + 2) for x in w) + "+"
print()
print("bench-data (%s): %d pairs per case, one process per run, one timed epoch after a warm-up batch" % (mode, int(pairs)))
print("batch %d, %d workers each; drgrade JPEG decoder %s; torch %s, torchvision %s, Pillow %s" % (
    info["drgrade"]["batch"], info["drgrade"]["workers"], info["drgrade"]["jpeg_decoder"],
    info["pytorch"]["torch"], info["pytorch"]["torchvision"], info["pytorch"]["pillow"]))
print(line)
for i, r in enumerate(table):
    print("| " + " | ".join(x.ljust(w[j]) for j, x in enumerate(r)) + " |")
    if i == 0:
        print(line)
print(line)
# A prepared set (WxHpS) against its original: drgrade's images/s, the ratio of the medians and
# the median (min–max) of the ratios within each pair (the two ran back to back).
med = {c: statistics.median(p["drgrade"]["images_per_s"] for p in by[c].values() if "drgrade" in p) for c in cases}
for c in cases:
    size, pipe = c.split(" ")
    if "p" in size and "%s %s" % (size.split("p")[0], pipe) in med:
        o = "%s %s" % (size.split("p")[0], pipe)
        pr = [by[c][i]["drgrade"]["images_per_s"] / by[o][i]["drgrade"]["images_per_s"]
              for i in by[c] if i in by[o] and "drgrade" in by[c][i] and "drgrade" in by[o][i]]
        print("drgrade prepare --size %s: %s at %.2f× the images/s of %s; per pair %.2f× (%.2f–%.2f) (issue 20 asks >= 3×)" % (
            size.split("p")[1], c, med[c] / med[o], o, statistics.median(pr), min(pr), max(pr)))
print("load average before %s, after %s; %s s" % (lb, la, secs))
PY
