#!/usr/bin/env bash
# scripts/serve-screenshot.sh — docs/img/serve-page.png: the page at / of drgrade serve after
# grading skimage's retina.jpg and a synthetic photo, with a trained model (TestPage in headless
# Chromium, with DRGRADE_SERVE_WEIGHTS). Without an argument it first trains shufflenet_small
# for 5 epochs on the synthetic set at 128 px (`make demo`'s recipe, shorter: ~10 minutes on 2
# cores); with one, it uses that shufflenet_small checkpoint (trained at 128 px).
#   scripts/serve-screenshot.sh [DDR.pth]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
weights=${1:-}
if [ -z "$weights" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  [ -x bin/drgrade ] || make build
  test -f data/synth/train.txt || bin/drgrade synth --out data/synth --n 1200 --size 256 --overwrite
  bin/drgrade train --data_path data/synth --num_classes 5 --model shufflenet_small --weights "" \
    --epochs 5 --batch_size 32 --img_size 128 --lr 0.002 --best_metric kappa \
    --threads 1 --num_workers 1 --output "$out" >&2
  weights=$out/weights/shufflenet_small/DDR.pth
fi
weights=$(cd "$(dirname "$weights")" && pwd)/$(basename "$weights")
DRGRADE_SERVE_WEIGHTS=$weights DRGRADE_SERVE_IMG_SIZE=128 DRGRADE_SERVE_SCREENSHOT="$here/docs/img/serve-page.png" \
  go test -count=1 -run '^TestPage$' ./serve/
echo "wrote docs/img/serve-page.png: look at it before committing" >&2
