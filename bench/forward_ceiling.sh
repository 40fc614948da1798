#!/usr/bin/env bash
# bench/forward_ceiling.sh — the serving ceiling: PyTorch's bare eval-mode forward (bench/forward.py:
# torchvision's architecture, torch.no_grad(), one random input, no HTTP, no decoding) in images/s
# at the batch sizes a loaded server forms, at 1 and 2 libtorch threads. drgrade serve runs the
# same forward (its numbers equal drgrade predict's, which equal PyTorch's eval, bit for bit), so
# no server of either kind can grade faster than this on the machine: it bounds what the ratio
# at 8 clients can be (BENCHMARKS.md, "Serving"). The fastest forward of each cell is the
# ceiling's best estimate on a shared machine. bench/run_serve.sh runs it after its table.
#
# Environment (all optional):
#   BENCH_MODELS    "drgrade_name:torchvision_arch ..." (default: shufflenet_small and resnet)
#   CEILING_BATCHES batch sizes (default "8 16")
#   CEILING_THREADS thread counts (default "1 2")
#   CEILING_ITERS   timed forwards per cell (default 5; 2 untimed before)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
py="${DRGRADE_VENV:-$cache/venv}/bin/python"
models=${BENCH_MODELS:-"shufflenet_small:shufflenet_v2_x0_5 resnet:resnet50"}

echo "| model | batch | threads | ms per forward, median (fastest) | images/s, median (fastest) |"
echo "|---|---|---|---|---|"
for pair in $models; do
  name=${pair%%:*} arch=${pair##*:}
  for b in ${CEILING_BATCHES:-8 16}; do
    for t in ${CEILING_THREADS:-1 2}; do
      "$py" "$here/bench/forward.py" --model "$name" --arch "$arch" --batch "$b" --threads "$t" \
        --iters "${CEILING_ITERS:-5}" --warmup 2 | "$py" -c '
import json, sys
r = json.load(sys.stdin)
ms, lo, b = r["ms_per_forward_median"], r["ms_min"], r["batch"]
print("| %s | %d | %d | %.0f (%.0f) | %.1f (%.1f) |" % (r["model"], b, r["threads"], ms, lo, 1000 * b / ms, 1000 * b / lo))'
    done
  done
done
