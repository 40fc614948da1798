#!/usr/bin/env bash
# The real fundus photograph the tests use: skimage/data/retina.jpg (1411×1411, a normal eye,
# public domain / CC0) from scikit-image's wheel on PyPI, and two pictures that are not fundus
# photographs (chelsea.png, a cat; coffee.png, a cup; both CC0) for the quality gate's tests.
# Downloaded once with pip, cached under $DRGRADE_CACHE (wheels/ for the wheel, photos/ for the
# pictures), each checked against its SHA-256. Never committed. Silent when all are there.
set -euo pipefail
cache=${DRGRADE_CACHE:-$HOME/.cache/drgrade}
venv=${DRGRADE_VENV:-$cache/venv}
version=0.22.0
# One exact wheel, whatever the host's Python: the photo is the same file in every wheel.
wheel=scikit_image-$version-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
declare -A sha=(
  [retina.jpg]=38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6
  [chelsea.png]=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
  [coffee.png]=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
)
check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "${sha[$(basename "$1")]}" ]; }
missing=()
for f in "${!sha[@]}"; do check "$cache/photos/$f" || missing+=("$f"); done
[ ${#missing[@]} = 0 ] && exit 0

mkdir -p "$cache/wheels" "$cache/photos"
if [ ! -f "$cache/wheels/$wheel" ]; then
  py=python3
  [ -x "$venv/bin/python" ] && py=$venv/bin/python
  "$py" -m pip --version >/dev/null 2>&1 || { echo "retina.sh: no pip for $py: install pip or run \`make pyenv\` first" >&2; exit 1; }
  echo "retina.sh: downloading scikit-image $version's wheel (14.7 MB) for skimage/data/retina.jpg" >&2
  if ! "$py" -m pip download --quiet --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
      --python-version 3.11 --implementation cp --abi cp311 -d "$cache/wheels" "scikit-image==$version" >&2; then
    echo "retina.sh: could not download scikit-image==$version from the package index (PyPI unreachable?)." >&2
    echo "  The tests need the real fundus photo skimage/data/retina.jpg. Either restore network access and" >&2
    echo "  re-run \`make retina\`, or copy $wheel into $cache/wheels/ by hand." >&2
    exit 1
  fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${venv}/bin/python" -c 1 2>/dev/null && py=$venv/bin/python || py=python3
"$py" - "$cache/wheels/$wheel" "$tmp" "${missing[@]}" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in sys.argv[3:]:
        with open(os.path.join(sys.argv[2], name), "wb") as f:
            f.write(z.read("skimage/data/" + name))
PY
for f in "${missing[@]}"; do
  if ! check "$tmp/$f"; then
    echo "retina.sh: skimage/data/$f in $cache/wheels/$wheel has SHA-256 $(sha256sum "$tmp/$f" | cut -d' ' -f1), want ${sha[$f]}: delete the wheel and re-run \`make retina\`" >&2
    exit 1
  fi
  mv "$tmp/$f" "$cache/photos/$f"
done
echo "retina.sh: ${missing[*]} ready in $cache/photos" >&2
