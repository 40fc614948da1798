#!/usr/bin/env bash
# bench/run_serve.sh — `make bench-serve`: drgrade serve against a PyTorch HTTP baseline
# (bench/serve_ref.py: a plain Python handler, torchvision transforms, the same batching rule,
# one model per process) on loopback, same weights, same image (skimage's retina.jpg, 1411×1411
# JPEG), same --max_batch/--max_wait and thread count. For each model and each client count:
# images/s, p50/p95/p99 latency and the server's RSS before/after, from bench/serveload (a
# closed-loop Go client). "Before" is after the server's own warm-up (readyz: drgrade serve runs
# a forward at every batch size up to --max_batch) and serveload's short warm-up at the run's
# client count (4 requests per client, at least 20); the runs of one model share one server
# process, one client count after another. Prints a Markdown table, then the forward ceiling
# (bench/forward_ceiling.sh: PyTorch's bare forward at batch 8 and 16, 1 and 2 threads).
#
# Environment (all optional):
#   FULL=1            10,000 requests per run (default QUICK: BENCH_REQUESTS per model below)
#   BENCH_MODELS      "drgrade_name:torchvision_arch ..." (default: shufflenet_small and resnet)
#   BENCH_CLIENTS     client counts (default "1 8 32")
#   BENCH_SERVERS     which servers (default "drgrade pytorch")
#   BENCH_THREADS     libtorch threads of both servers (default 2)
#   BENCH_REQUESTS    requests per run in QUICK (default 300 for shufflenet_small, 60 for resnet)
#   BENCH_CEILING=0   skip the forward ceiling table
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
py="${DRGRADE_VENV:-$cache/venv}/bin/python"
models=${BENCH_MODELS:-"shufflenet_small:shufflenet_v2_x0_5 resnet:resnet50"}
clients=${BENCH_CLIENTS:-"1 8 32"}
threads=${BENCH_THREADS:-2}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
log() { printf 'bench-serve: %s\n' "$*" >&2; }

"$here/scripts/retina.sh"
photo="$cache/photos/retina.jpg"
[ -x "$here/bin/drgrade" ] || (cd "$here" && make build >&2)
go build -o "$work/serveload" "$here/bench/serveload"

wait_ready() { # url
  for _ in $(seq 600); do curl -sf "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "no answer from $1/readyz"; return 1
}

echo "| model | server | clients | requests | images/s | p50 ms | p95 ms | p99 ms | RSS before → after MiB | growth |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for pair in $models; do
  name=${pair%%:*} arch=${pair##*:}
  if [ -n "${FULL:-}" ] && [ "$FULL" != 0 ]; then n=10000
  else case $name in shufflenet_small) n=${BENCH_REQUESTS:-300};; *) n=${BENCH_REQUESTS:-60};; esac; fi
  weights="$work/$name.pth" # random weights, torchvision's layout: both servers load them
  "$py" -c "import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.$arch(num_classes=5).state_dict(), '$weights')"
  for server in ${BENCH_SERVERS:-drgrade pytorch}; do
    if [ $server = drgrade ]; then
      "$here/bin/drgrade" serve --model "$name" --weights "$weights" --addr 127.0.0.1:8091 --threads "$threads" \
        --max_batch 16 --max_wait 10ms --access_log=false 2>"$work/serve.log" &
      url=http://127.0.0.1:8091
    else
      "$py" "$here/bench/serve_ref.py" --arch "$arch" --weights "$weights" --port 8092 --threads "$threads" \
        --max_batch 16 --max_wait 0.010 >"$work/ref.log" 2>&1 &
      url=http://127.0.0.1:8092
    fi
    pid=$!
    pids+=("$pid")
    wait_ready "$url"
    for c in $clients; do
      log "$name $server $c clients, $n requests"
      line=$("$work/serveload" -url "$url" -image "$photo" -clients "$c" -requests "$n" -pid "$pid" -label "$name/$server")
      echo "$line" >>"$cache/bench-serve.jsonl"
      "$py" - "$line" "$name" "$server" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['clients']} | {r['requests']} | {r['images_per_s']:.1f} | {r['p50_ms']:.0f} | "
      f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['rss_before_mib']:.0f} → {r['rss_after_mib']:.0f} | {r['rss_growth_pct']:+.1f}% |"
      + (f" {r['errors']} errors" if r['errors'] else ""))
PY
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
if [ "${BENCH_CEILING:-1}" != 0 ]; then
  echo
  BENCH_MODELS="$models" "$here/bench/forward_ceiling.sh"
fi
