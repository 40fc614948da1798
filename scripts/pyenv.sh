#!/usr/bin/env bash
# scripts/pyenv.sh — the PyTorch reference venv (make pyenv), cached outside the repo.
# torch's nvidia-* dependencies make `import torch` work (~3 GB, once per machine).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
venv="${DRGRADE_VENV:-$cache/venv}"
req="$here/python/requirements.txt"
want=$(cksum < "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.drgrade-req" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "pyenv: installing the PyTorch reference venv in $venv (several GB on first run)" >&2
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
"$venv/bin/python" -c 'import torch, torchvision, timm, sklearn, PIL, tensorboard, cv2, pytorch_grad_cam; print("pyenv: torch", torch.__version__, "torchvision", torchvision.__version__)' >&2
echo "$want" > "$venv/.drgrade-req"
