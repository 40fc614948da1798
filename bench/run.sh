#!/usr/bin/env bash
# bench/run.sh — `make bench`: drgrade against the researcher's PyTorch script, side by side on
# this machine, in one run: every measurement alternates drgrade and PyTorch runs (fresh
# processes, same files, same thread and worker counts) and the table gives medians (min–max)
# and the drgrade/PyTorch ratio with the issue's goal. See bench/README.md ("make bench").
#
# Items (BENCH_ITEMS, default all, in this order):
#   step   1. train step (forward + weighted CE + backward + Adam, synthetic tensors):
#             resnet50 @ batch 32 and 16, mobilenet_v3 (small) @ 8, resnet_small @ 32 (224 px)
#   data   2. data pipeline alone, images/s from JPEG, train and val transforms, 2048×1536 and 512×512
#   epoch  3. one whole epoch end to end (train + evaluation + metrics + checkpoint), resnet_small,
#             batch 32, wall time from exec to exit; 5. peak RSS/PSS of the process tree during it;
#             7. time from exec to the first finished train step
#   epochp 3. the same epoch on a prepared set: 2048×1536 JPEGs after `drgrade prepare --size 512`
#             (issue 20: the DR community's resize-once workflow), both sides reading the copy
#   start  7. again with a short step: mobilenet_v3 (small), batch 8, on a 64+64-image set, so
#             that start-up, not one long ResNet step, dominates the time to the first step
#   eval   4. evaluation throughput (val transforms from JPEG + eval forward, no grad), resnet_small
#   drift  6. RSS after train step 100 vs step 1000, resnet_small at 32 px (batch 2 QUICK, 8 FULL);
#             QUICK runs drgrade alone (the goal is on drgrade's drift), FULL both sides
#
# Environment (all optional):
#   FULL=1          the long run (more pairs, steps and images)
#   BENCH_PAIRS     interleaved drgrade/PyTorch pairs per measurement (QUICK 2, FULL 5)
#   BENCH_THREADS   libtorch threads for both sides (default 2: torch's default on 2 cores)
#   BENCH_ITEMS     which items, e.g. "step epoch" (default "step data epoch epochp start eval drift")
#   BENCH_N         images per data set for the data pipeline and eval (default 128)
#   BENCH_EPOCH_N   images in the end-to-end epoch's set (QUICK 64, FULL 256), train = val
#   BENCH_STEPS     timed train steps per run after one warm-up step (QUICK 1, FULL 3)
#   BENCH_OUT       keep the raw JSON lines here (default ~/.cache/drgrade/bench/last.jsonl)
#   DRGRADE_CACHE   data sets go to $DRGRADE_CACHE/bench-data (default ~/.cache/drgrade)
#   DRGRADE_VENV    the PyTorch venv (default $DRGRADE_CACHE/venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
venv="${DRGRADE_VENV:-$cache/venv}"
py="$venv/bin/python"
data_root="$cache/bench-data"
if [ -n "${FULL:-}" ] && [ "${FULL}" != 0 ]; then
  mode=FULL; pairs=${BENCH_PAIRS:-5}; n=${BENCH_N:-128}; epoch_n=${BENCH_EPOCH_N:-256}
  step_steps=${BENCH_STEPS:-3}; drift_batch=8; drift_pairs=2
else
  mode=QUICK; pairs=${BENCH_PAIRS:-2}; n=${BENCH_N:-128}; epoch_n=${BENCH_EPOCH_N:-64}
  step_steps=${BENCH_STEPS:-1}; drift_batch=2; drift_pairs=0
fi
step_warmup=1
threads=${BENCH_THREADS:-2}
items=${BENCH_ITEMS:-"step data epoch epochp start eval drift"}
out_file=${BENCH_OUT:-$cache/bench/last.jsonl}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
[ -x "$py" ] || die "no PyTorch venv at $venv (run make pyenv)"
has() { case " $items " in *" $1 "*) return 0 ;; esac; return 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building bench/{trainstep,epoch,evalrate,datapipe,procmon}"
(cd "$here" && go build -o "$work/" ./bench/trainstep ./bench/epoch ./bench/evalrate ./bench/datapipe ./bench/procmon)
if has epochp; then
  log "building drgrade (for drgrade prepare)"
  (cd "$here" && go build -o "$work/drgrade" ./cmd/drgrade)
fi
procmon="$work/procmon"

# Data sets (made once, reused): synthetic fundus JPEGs from bench/datapipe --make, labels
# i mod 5, val = the train files (hard links).
ensure_set() { # WxH N
  local dir="$data_root/$1-n$2"
  if [ ! -f "$dir/val.txt" ]; then
    log "writing $2 synthetic $1 JPEGs to $dir (once; later runs reuse them)"
    mkdir -p "$data_root"
    "$work/datapipe" --make "$dir" --n "$2" --width "${1%x*}" --height "${1#*x}" >&2
  fi
  printf '%s' "$dir"
}

mkdir -p "$(dirname "$out_file")"
results="$work/results.jsonl"
: > "$results"
# record ITEM CASE PAIR IMPL JSON
record() { printf '{"item": "%s", "case": "%s", "pair": %d, "impl": "%s", "run": %s}\n' "$1" "$2" "$3" "$4" "$5" >> "$results"; }
# pairs_of ITEM CASE NPAIRS GO_CMD... -- PY_CMD...: run the two commands alternately.
pairs_of() {
  local item=$1 case=$2 np=$3; shift 3
  local go_cmd=() py_cmd=()
  while [ "$1" != -- ]; do go_cmd+=("$1"); shift; done
  shift
  py_cmd=("$@")
  local i o
  for ((i = 1; i <= np; i++)); do
    o=$(cd "$work" && "${go_cmd[@]}" 2>>"$work/stderr.log" | tail -n 1) || die "$case: drgrade run failed (see below)$(tail -n 20 "$work/stderr.log")"
    record "$item" "$case" "$i" drgrade "$o"
    o=$(cd "$work" && "${py_cmd[@]}" 2>>"$work/stderr.log" | tail -n 1) || die "$case: PyTorch run failed (see below)$(tail -n 20 "$work/stderr.log")"
    record "$item" "$case" "$i" pytorch "$o"
    log "$case: pair $i/$np done ($((SECONDS - t0)) s so far)"
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "$mode: $pairs pairs, $threads threads, items: $items; load average $load_before"
t0=$SECONDS

if has step; then
  for c in "resnet resnet50 32" "resnet resnet50 16" "mobilenet_v3 mobilenet_v3_small 8" "resnet_small resnet34 32"; do
    read -r model arch batch <<< "$c"
    args=(--batch "$batch" --size 224 --threads "$threads" --warmup "$step_warmup" --steps "$step_steps")
    pairs_of step "$model b$batch" "$pairs" "$work/trainstep" --model "$model" "${args[@]}" -- \
      "$py" "$here/bench/trainstep.py" --model "$model" --arch "$arch" "${args[@]}"
  done
fi

if has data; then
  for c in 2048x1536:train 2048x1536:val 512x512:train 512x512:val; do
    size=${c%%:*} pipe=${c#*:}
    dir=$(ensure_set "$size" "$n")
    args=(--data "$dir" --pipeline "$pipe" --epochs 1)
    pairs_of data "$size $pipe" "$pairs" "$work/datapipe" "${args[@]}" -- "$py" "$here/bench/datapipe.py" "${args[@]}"
  done
fi

if has epoch; then
  dir=$(ensure_set 512x512 "$epoch_n")
  # Each run writes its checkpoint, DDR.txt and TensorBoard files to a fresh folder.
  pairs_of epoch "resnet_small b32, $epoch_n+$epoch_n images" "$pairs" \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" --data_path "$3" --model resnet_small --batch_size 32 --threads "$4" --output "$d"' \
    "$work" "$procmon" "$work/epoch" "$dir" "$threads" -- \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" "$3" --data_path "$4" --model resnet_small --arch resnet34 --batch_size 32 --threads "$5" --output "$d"' \
    "$work" "$procmon" "$py" "$here/bench/train_ref.py" "$dir" "$threads"
fi

if has epochp; then
  orig=$(ensure_set 2048x1536 "$epoch_n")
  dir="$data_root/2048x1536-n${epoch_n}p512"
  if [ ! -f "$dir/prepare.json" ]; then
    log "drgrade prepare --size 512 of $orig (once)"
    rm -rf "$dir"
    "$work/drgrade" prepare --data_path "$orig" --out "$dir" --size 512 --quiet >&2
  fi
  pairs_of epoch "resnet_small b32, $epoch_n+$epoch_n images, prepared (2048×1536 → drgrade prepare --size 512)" "$pairs" \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" --data_path "$3" --model resnet_small --batch_size 32 --threads "$4" --output "$d"' \
    "$work" "$procmon" "$work/epoch" "$dir" "$threads" -- \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" "$3" --data_path "$4" --model resnet_small --arch resnet34 --batch_size 32 --threads "$5" --output "$d"' \
    "$work" "$procmon" "$py" "$here/bench/train_ref.py" "$dir" "$threads"
fi

if has start; then
  dir=$(ensure_set 512x512 64)
  pairs_of start "mobilenet_v3 b8, 64+64 images" "$pairs" \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" --data_path "$3" --model mobilenet_v3 --batch_size 8 --threads "$4" --output "$d"' \
    "$work" "$procmon" "$work/epoch" "$dir" "$threads" -- \
    sh -c 'd=$(mktemp -d "$0/e2e.XXXX") && exec "$1" -- "$2" "$3" --data_path "$4" --model mobilenet_v3 --arch mobilenet_v3_small --batch_size 8 --threads "$5" --output "$d"' \
    "$work" "$procmon" "$py" "$here/bench/train_ref.py" "$dir" "$threads"
fi

if has eval; then
  dir=$(ensure_set 512x512 "$n")
  args=(--data "$dir" --model resnet_small --batch 32 --threads "$threads")
  pairs_of eval "resnet_small b32, $n images 512×512" "$pairs" "$work/evalrate" "${args[@]}" -- \
    "$py" "$here/bench/eval_ref.py" --arch resnet34 "${args[@]}"
fi

if has drift; then
  args=(--batch "$drift_batch" --size 32 --threads "$threads" --warmup 0 --steps 1000 --rss_at 100,1000)
  if [ "$drift_pairs" -gt 0 ]; then
    pairs_of drift "resnet_small b$drift_batch 32px" "$drift_pairs" "$work/trainstep" --model resnet_small "${args[@]}" -- \
      "$py" "$here/bench/trainstep.py" --model resnet_small --arch resnet34 "${args[@]}"
  else # QUICK: drgrade's drift only
    o=$(cd "$work" && "$work/trainstep" --model resnet_small "${args[@]}" 2>>"$work/stderr.log" | tail -n 1) ||
      die "drift: drgrade run failed$(tail -n 20 "$work/stderr.log")"
    record drift "resnet_small b$drift_batch 32px" 1 drgrade "$o"
    log "drift: done ($((SECONDS - t0)) s so far)"
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$results" "$out_file"

"$py" "$here/bench/report.py" "$results" --mode "$mode" --pairs "$pairs" --threads "$threads" \
  --load_before "$load_before" --load_after "$load_after" --seconds "$((SECONDS - t0))"
