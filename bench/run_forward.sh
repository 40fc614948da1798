#!/usr/bin/env bash
# bench/run_forward.sh — `make bench-forward`: milliseconds per eval-mode forward of every zoo
# model, drgrade (bench/forward, vision/models on libtorch) against PyTorch (bench/forward.py,
# torchvision/timm on the same libtorch build), same architecture, input size, batch and
# thread count. See bench/README.md.
#
# Environment (all optional):
#   FULL=1              more pairs and forwards (default QUICK: 3 pairs, ~10 minutes on an idle
#                       2-core machine for all models)
#   BENCH_MODELS        which models, comma-separated, e.g. "resnet,vgg" (default: every name
#                       `bench/forward --list` prints)
#   BENCH_PAIRS         interleaved drgrade/PyTorch pairs per model (QUICK 3, FULL 7)
#   BENCH_THREADS       libtorch intra-op threads for both (default 2)
#   BENCH_BATCH         images per forward (default 1)
#   BENCH_WARMUP        untimed forwards per run      (default: per model size, see budget())
#   BENCH_ITERS         timed forwards per run        (default: per model size, see budget())
#   DRGRADE_CACHE       the last run's raw results go to $DRGRADE_CACHE/bench-forward (default
#                       ~/.cache/drgrade)
#   DRGRADE_VENV        the PyTorch venv (default $DRGRADE_CACHE/venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
venv="${DRGRADE_VENV:-$cache/venv}"
py="$venv/bin/python"
out_dir="$cache/bench-forward"
if [ -n "${FULL:-}" ] && [ "${FULL}" != 0 ]; then mode=FULL; pairs=${BENCH_PAIRS:-7}; scale=2
else mode=QUICK; pairs=${BENCH_PAIRS:-3}; scale=1; fi
threads=${BENCH_THREADS:-2}
batch=${BENCH_BATCH:-1}

log() { printf 'bench-forward: %s\n' "$*" >&2; }
die() { printf 'bench-forward: error: %s\n' "$*" >&2; exit 1; }
[ -x "$py" ] || die "no PyTorch venv at $venv (run make pyenv)"

# budget NAME prints "warmup iters" for a run: the biggest models (tens of GFLOPs or a 1.4 GB
# weight read per forward: seconds each on 2 cores) get fewer forwards, so QUICK stays short.
budget() {
  local w i
  case $1 in
    convnext_huge | vision_transformer_big | zfnet | vgg* | efficient_v2_large) w=1 i=2 ;;
    convnext_big | convnext | efficient_v2 | efficient_v2_small | resnext_big | swin_transformer | \
      vision_transformer | xception | densenet_small) w=1 i=3 ;;
    *) w=2 i=8 ;;
  esac
  printf '%s %s\n' "${BENCH_WARMUP:-$w}" "${BENCH_ITERS:-$((i * scale))}"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-forward.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin="$work/forward"
log "building bench/forward"
(cd "$here" && go build -o "$bin" ./bench/forward)

# name arch input_size, for every registered model (or the BENCH_MODELS subset, in that order).
"$bin" --list > "$work/zoo.txt"
if [ -n "${BENCH_MODELS:-}" ]; then
  : > "$work/models.txt"
  for m in ${BENCH_MODELS//,/ }; do
    grep -E "^$m " "$work/zoo.txt" >> "$work/models.txt" || die "unknown model $m; registered: $(cut -d' ' -f1 "$work/zoo.txt" | paste -sd' ')"
  done
else
  cp "$work/zoo.txt" "$work/models.txt"
fi

mkdir -p "$out_dir"
results="$out_dir/last.jsonl"
: > "$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "$mode: $(wc -l < "$work/models.txt") models, $pairs pairs each, batch $batch, $threads threads, load average $load_before"
t0=$SECONDS
while read -r name arch size; do
  read -r warmup iters < <(budget "$name")
  args=(--model "$name" --batch "$batch" --size "$size" --threads "$threads" --iters "$iters" --warmup "$warmup")
  for ((i = 1; i <= pairs; i++)); do
    for impl in drgrade pytorch; do
      if [ $impl = drgrade ]; then cmd=("$bin" "${args[@]}")
      else cmd=("$py" "$here/bench/forward.py" --arch "$arch" "${args[@]}")
      fi
      # A failing run is recorded and the benchmark goes on with the next model.
      if out=$(cd "$work" && "${cmd[@]}" < /dev/null 2> "$work/stderr"); then
        printf '{"name": "%s", "pair": %d, "run": %s}\n' "$name" "$i" "$out" >> "$results"
        log "$name pair $i $impl: $(printf '%s' "$out" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("%.1f ms/forward (%.1f–%.1f over %d, built in %.1f s)" % (r["ms_per_forward_median"], r["ms_min"], r["ms_max"], r["iters"], r["build_s"]))')"
      else
        err=$(tail -n 3 "$work/stderr" | tr '\n\r\t"\\' '     ')
        printf '{"name": "%s", "pair": %d, "run": {"impl": "%s", "model": "%s", "arch": "%s", "error": "%s"}}\n' \
          "$name" "$i" "$impl" "$name" "$arch" "$err" >> "$results"
        log "$name pair $i $impl FAILED: $err"
        break 2
      fi
    done
  done
done < "$work/models.txt"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$results" "$mode" "$pairs" "$load_before" "$load_after" "$((SECONDS - t0))" <<'PY'
import json, statistics, sys
path, mode, pairs, lb, la, secs = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
names, by, errors = [], {}, {}
for r in rows:
    if r["name"] not in by:
        names.append(r["name"])
    run = r["run"]
    if "error" in run:
        errors[r["name"]] = "%s failed: %s" % (run["impl"], run["error"].strip()[:120])
        by.setdefault(r["name"], {})
        continue
    by.setdefault(r["name"], {}).setdefault(r["pair"], {})[run["impl"]] = run
def span(v, f="%.1f"):
    return (f + " (" + f + "–" + f + ")") % (statistics.median(v), min(v), max(v))
head = ["model", "arch", "input", "forwards", "drgrade ms median (min–max)",
        "PyTorch ms median (min–max)", "drgrade/PyTorch median (min–max)"]
table = [head]
info = None
for n in names:
    ps = [p for p in by[n].values() if "drgrade" in p and "pytorch" in p]
    if not ps:
        arch = next((r["run"]["arch"] for r in rows if r["name"] == n), "?")
        table.append([n, arch, "", "", errors.get(n, "no complete pair"), "", ""])
        continue
    g = [p["drgrade"]["ms_per_forward_median"] for p in ps]
    t = [p["pytorch"]["ms_per_forward_median"] for p in ps]
    ratio = [a / b for a, b in zip(g, t)]
    d = ps[0]["drgrade"]
    table.append([n, d["arch"], "%d×%d" % (d["size"], d["size"]), "%d+%d" % (d["warmup"], d["iters"]),
                  span(g), span(t), span(ratio, "%.2f").replace(" (", "× (", 1)])
    info = ps[0]
w = [max(len(r[i]) for r in table) for i in range(len(head))]
line = "+" + "+".join("-" * (x + 2) for x in w) + "+"
print()
print("bench-forward (%s): %d pairs per model, one process per run, eval mode under no-grad" % (mode, int(pairs)))
if info:
    print("batch %d, %d threads each; drgrade on libtorch %s, PyTorch torch %s, torchvision %s" % (
        info["drgrade"]["batch"], info["drgrade"]["threads"], info["drgrade"]["torch"],
        info["pytorch"]["torch"], info["pytorch"]["torchvision"]))
print("ms: each run's median forward time; median (min–max) over the runs. ratio: per pair, above 1 = drgrade slower.")
print(line)
for i, r in enumerate(table):
    print("| " + " | ".join(x.ljust(w[j]) for j, x in enumerate(r)) + " |")
    if i == 0:
        print(line)
print(line)
print("load average before %s, after %s; %s s; raw results in %s" % (lb, la, secs, path))
PY
