#!/usr/bin/env bash
# make gpu-check without make or Go: drgrade's training steps against PyTorch's on the same
# NVIDIA GPU (scripts/gpu_check.py has the details and the bounds; docs/gpu-check.md).
#
# On a GPU machine with no Go toolchain and no network, copy this checkout with a prebuilt
# CUDA bin/drgrade (`make build CUDA=1` elsewhere) and run
#     scripts/gpu-check.sh [--out DIR]
# with a Python that has torch + torchvision + numpy: $DRGRADE_PYTHON, else
# ~/.cache/drgrade/venv/bin/python when present, else python3.
#
# Exit status: 0 every bound holds, 1 one failed (the table says which), 2 no CUDA GPU, no
# usable bin/drgrade or not a CUDA build. DRGRADE_GPU_CHECK_DEVICE=cpu runs the comparison on
# the CPU instead (testing); DRGRADE_BIN names another binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
msg="no CUDA GPU found: make gpu-check needs an NVIDIA GPU and a CUDA build of drgrade (make build CUDA=1, then scripts/gpu-check.sh with that bin/drgrade; docs/gpu-check.md)"

gpu_present() {
	[ -e /dev/nvidia0 ] && return 0
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
		return 0
	fi
	return 1
}

device="${DRGRADE_GPU_CHECK_DEVICE:-cuda}"
if [ "$device" != "cpu" ] && ! gpu_present; then
	echo "$msg" >&2
	exit 2
fi

bin="${DRGRADE_BIN:-$root/bin/drgrade}"
if [ ! -x "$bin" ]; then
	echo "gpu-check: no drgrade binary at $bin: build it with \`make build CUDA=1\` (or copy a CUDA build there, or set DRGRADE_BIN)" >&2
	exit 2
fi

py="${DRGRADE_PYTHON:-}"
if [ -z "$py" ]; then
	if [ -x "$HOME/.cache/drgrade/venv/bin/python" ]; then
		py="$HOME/.cache/drgrade/venv/bin/python"
	else
		py="python3"
	fi
fi
if ! "$py" -c 'import torch, torchvision, numpy' >/dev/null 2>&1; then
	echo "gpu-check: $py cannot import torch, torchvision and numpy: set DRGRADE_PYTHON to a Python that can" >&2
	exit 2
fi
export DRGRADE_BIN="$bin"
exec "$py" "$here/gpu_check.py" "$@"
